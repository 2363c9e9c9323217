"""Compatibility alias of :mod:`qdm.models.counting` (the module was renamed; remove once no caller imports it)."""

from qdm.models.counting import PART_NAMES, count_parameters

__all__ = ["PART_NAMES", "count_parameters"]
