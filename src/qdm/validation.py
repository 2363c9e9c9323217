"""Ground floor: the argument checks every module shares (one-line ``ValueError`` naming the parameter).

Each check returns the value it accepted (normalised: ``operator.index`` for ints, ``float`` for
reals) so callers write ``n = check_int(n, "n", 1)``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

__all__ = ["check_choice", "check_float", "check_int"]


def _interval(low: float | None, high: float | None, low_open: bool = False, high_open: bool = False) -> str:
    """A readable range: '>= 1', 'in [0, 1)', ..."""
    if high is None:
        return f"{'>' if low_open else '>='} {low}" if low is not None else "any value"
    if low is None:
        return f"{'<' if high_open else '<='} {high}"
    return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def check_int(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """An integer (not a bool) with ``low <= value <= high`` (bounds optional)."""
    want = f"{name} must be an int {_interval(low, high)}".rstrip()
    if isinstance(value, bool):
        raise ValueError(f"{want}, got {value!r}")
    try:
        as_int = operator.index(value)
    except TypeError:
        raise ValueError(f"{want}, got {value!r}") from None
    if (low is not None and as_int < low) or (high is not None and as_int > high):
        raise ValueError(f"{want}, got {as_int}")
    return as_int


def check_float(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number (not a bool) in the stated interval (bounds optional, closed unless ``*_open``)."""
    want = f"{name} must be a finite float {_interval(low, high, low_open, high_open)}".rstrip()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{want}, got {value!r}")
    x = float(value)
    if low is not None and (x <= low if low_open else x < low):
        raise ValueError(f"{want}, got {value!r}")
    if high is not None and (x >= high if high_open else x > high):
        raise ValueError(f"{want}, got {value!r}")
    return x


def check_choice(value: Any, name: str, allowed: Sequence[str]) -> str:
    """One of the strings ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
    return value
