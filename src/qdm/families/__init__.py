"""Model families: the protocol (:mod:`qdm.families.base`) and the built-in families, registered on import.

Each built-in family module is imported explicitly below; importing it registers its :class:`Family`
value in :data:`FAMILIES` (the registry of :mod:`qdm.registry`).  To add a family: write a module with
its model config (ClassVar ``family``), its functions and one ``register_family(Family(...))``, and
import it here.
"""

from qdm.families.base import (
    FAMILIES,
    PROFILE_NAMES,
    Family,
    ProfileSpec,
    get_family,
    load_plugins,
    plugin_failure_note,
    register_family,
)
from qdm.families import ano, depolarizing, hybrid, pqc  # registers the built-in families

__all__ = [
    "FAMILIES",
    "PROFILE_NAMES",
    "Family",
    "ProfileSpec",
    "ano",
    "depolarizing",
    "get_family",
    "hybrid",
    "load_plugins",
    "plugin_failure_note",
    "pqc",
    "register_family",
]
