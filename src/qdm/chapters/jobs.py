"""The book's job list: for each chapter, the preset runs whose results it shows (``qdm reproduce``).

A job is a preset, a profile, config overrides and a seed; :func:`chapter_jobs` resolves them to configs
(:func:`qdm.presets.resolve_config`, which validates every override). The hybrid chapter audits digits 0, 1,
6 and 9: 0, 1 and 6 are the paper's figures, 9 is the digit the authors' metric script scores (their
training script's default covers digits 1 to 9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qdm.config import ExperimentConfig
from qdm.presets import CHEN2025_VARIANTS, resolve_config

__all__ = ["CHAPTER_JOBS", "HYBRID_DIGITS", "Job", "chapter_jobs", "chapters"]

#: MNIST digits of the hybrid chapter and audit.
HYBRID_DIGITS: tuple[int, ...] = (0, 1, 6, 9)


@dataclass(frozen=True)
class Job:
    """One run of a chapter: preset, config overrides (profile and seed are added by :func:`chapter_jobs`)."""

    preset: str
    overrides: tuple[str, ...] = ()


CHAPTER_JOBS: dict[str, tuple[Job, ...]] = {
    "pqc": (Job("cacioppo2023-cond-latent"), Job("cacioppo2025-full"), Job("koelle2024")),
    "hybrid": tuple(Job(v, (f"data.classes={d}",)) for d in HYBRID_DIGITS for v in CHEN2025_VARIANTS),
    "pathmnist": tuple(Job(f"{v}-pathmnist") for v in CHEN2025_VARIANTS),
    "ano": (
        Job("jo2025-ano"),
        Job("jo2025-ano", ("model.features=zeros",)),
        Job("jo2025-ano", ("model.features=classical",)),
        Job("jo2025-ano", ("model.hadamard_test=false",)),
    ),
}


def chapters() -> list[str]:
    """The chapter names ``qdm reproduce`` accepts (plus ``all``)."""
    return sorted(CHAPTER_JOBS)


def chapter_jobs(chapter: str, profile: str, seeds: Sequence[int]) -> list[tuple[Job, int, ExperimentConfig]]:
    """(job, seed, resolved config) for every job of ``chapter`` (or ``all``) at ``profile`` and each seed."""
    names = chapters() if chapter == "all" else [chapter]
    unknown = [n for n in names if n not in CHAPTER_JOBS]
    if unknown:
        raise ValueError(f"chapter must be one of {', '.join(chapters())} or all, got {chapter!r}")
    out = []
    for name in names:
        for job in CHAPTER_JOBS[name]:
            for seed in seeds:
                cfg = resolve_config(job.preset, [f"profile={profile}", *job.overrides, f"train.seed={seed}"])
                out.append((job, seed, cfg))
    return out
