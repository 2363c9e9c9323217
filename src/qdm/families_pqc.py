"""Compatibility alias of :mod:`qdm.families.pqc` (the family moved into the families package; remove once no caller imports it)."""

from qdm.families.pqc import *  # noqa: F401,F403
from qdm.families.pqc import __all__  # noqa: F401
