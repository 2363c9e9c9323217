"""qdm: the executable companion to quantum diffusion models.

Layers (each imports only those above it in this list):
data -> schedules/diffusion -> quantum -> circuits -> models -> metrics -> experiments (config, families, train)
-> protocols (the metric protocols and their reference images) -> runner (the run store)
-> audits, chapters (one module per audited paper / per notebook) -> cli, nb.
"""

__version__ = "0.1.0"
