"""Compatibility alias of :mod:`qdm.families.hybrid` (the family moved into the families package; remove once no caller imports it)."""

from qdm.families.hybrid import *  # noqa: F401,F403
from qdm.families.hybrid import __all__  # noqa: F401
