"""Typed, validated parameters of the book's notebooks.

papermill injects overrides as plain Python literals after a notebook's ``parameters`` cell.
The next cell builds one of these frozen dataclasses from them, so a bad value stops the
notebook at once with a ``ValueError`` naming the parameter and what is allowed (papermill's
documented pitfall: nothing derived may live in the parameters cell, docs/style.md §3).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from qdm.schedules import SCHEDULES

__all__ = ["THEORY_SCHEDULES", "TheoryParams"]

THEORY_SCHEDULES: tuple[str, ...] = ("linear", "cosine", "tailored")
"""Schedules the theory notebook can noise with: those of qdm.schedules.SCHEDULES that need only T."""

if not set(THEORY_SCHEDULES) <= set(SCHEDULES):  # pragma: no cover - guards a rename in qdm.schedules
    raise ImportError(f"qdm.schedules.SCHEDULES lacks one of {THEORY_SCHEDULES}")


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """An int (not a bool) in [low, high]; ValueError naming the parameter otherwise."""
    allowed = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be {allowed}, got {value!r} ({type(value).__name__})")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return value


@dataclass(frozen=True)
class TheoryParams:
    """Parameters of notebooks/01_diffusion_theory (seed §1.3.1-1.3.8), validated on construction."""

    T: int = 1000
    schedule: str = "linear"
    n_qubits: int = 2
    seed: int = 0
    n_images: int = 4
    digit: int = 3
    n_samples: int = 1000

    def __post_init__(self) -> None:
        """Check every field; the message names the parameter and its allowed values."""
        _check_int("T", self.T, 2)
        if not isinstance(self.schedule, str) or self.schedule not in THEORY_SCHEDULES:
            raise ValueError(f"schedule must be one of {list(THEORY_SCHEDULES)}, got {self.schedule!r}")
        _check_int("n_qubits", self.n_qubits, 1, 6)
        _check_int("seed", self.seed, 0)
        _check_int("n_images", self.n_images, 1, 16)
        _check_int("digit", self.digit, 0, 9)
        _check_int("n_samples", self.n_samples, 100, 100_000)

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (for provenance records)."""
        return asdict(self)
