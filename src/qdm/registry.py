"""Ground floor: the registry of model families (name -> family value), filled by :mod:`qdm.families`.

The registry holds the values; it imports nothing of qdm.  :mod:`qdm.config` looks families up here to
resolve a model config by the ``family`` name of an experiment, and ``qdm.families`` fills it when it is
imported (its ``__init__`` imports each built-in family explicitly).  So a config can be parsed as soon
as ``qdm.families`` (or anything above it: presets, runner, cli) has been imported.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FAMILIES", "get_family"]

#: The registry: family name -> :class:`qdm.families.Family`.
FAMILIES: dict[str, Any] = {}


def get_family(name: str) -> Any:
    """The registered family called ``name`` (ValueError listing the known families otherwise)."""
    if name not in FAMILIES:
        known = ", ".join(sorted(FAMILIES)) or "none registered: import qdm.families first"
        raise ValueError(f"family must be one of the registered families ({known}), got {name!r}")
    return FAMILIES[name]
