"""Chapter 01 (diffusion theory): its typed, validated notebook knobs.

papermill injects overrides as plain Python literals after a notebook's ``parameters`` cell. The
next cell builds :class:`TheoryParams` from them, so a bad value stops the notebook at once with a
``ValueError`` naming the parameter and what is allowed (nothing derived may live in the parameters
cell). The chapter's depolarizing closed forms are in :mod:`qdm.quantum.depolarizing_closed_forms`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from qdm.validation import check_int
from qdm.schedules import SCHEDULES

__all__ = ["THEORY_SCHEDULES", "TheoryParams"]


THEORY_SCHEDULES: tuple[str, ...] = ("linear", "cosine", "tailored")

"""Schedules the theory notebook can noise with: those of qdm.schedules.SCHEDULES that need only T."""

if not set(THEORY_SCHEDULES) <= set(SCHEDULES):  # pragma: no cover - guards a rename in qdm.schedules
    raise ImportError(f"qdm.schedules.SCHEDULES lacks one of {THEORY_SCHEDULES}")


@dataclass(frozen=True)
class TheoryParams:
    """Parameters of notebooks/01_diffusion_theory ([jo2025qamp] §1.3.1-1.3.8), validated on construction."""

    T: int = 1000
    schedule: str = "linear"
    n_qubits: int = 2
    seed: int = 0
    n_images: int = 4
    digit: int = 3
    n_samples: int = 1000

    def __post_init__(self) -> None:
        """Check every field; the message names the parameter and its allowed values."""
        check_int(self.T, "T", 2)
        if not isinstance(self.schedule, str) or self.schedule not in THEORY_SCHEDULES:
            raise ValueError(f"schedule must be one of {list(THEORY_SCHEDULES)}, got {self.schedule!r}")
        check_int(self.n_qubits, "n_qubits", 1, 6)
        check_int(self.seed, "seed", 0)
        check_int(self.n_images, "n_images", 1, 16)
        check_int(self.digit, "digit", 0, 9)
        check_int(self.n_samples, "n_samples", 100, 100_000)

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (for provenance records)."""
        return asdict(self)
