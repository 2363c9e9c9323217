"""qdm: the executable companion to quantum diffusion models.

Layers (each imports only those above it in this list):
data -> schedules/diffusion -> quantum -> circuits -> models -> metrics -> experiments.
"""

__version__ = "0.1.0"
