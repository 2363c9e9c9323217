"""Compatibility alias of :mod:`qdm.families.depolarizing` (the family moved into the families package; remove once no caller imports it)."""

from qdm.families.depolarizing import *  # noqa: F401,F403
from qdm.families.depolarizing import __all__  # noqa: F401
