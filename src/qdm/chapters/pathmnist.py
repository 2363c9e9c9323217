"""Chapter 05 (the hybrid DDPM on PathMNIST [chen2025quantum]): knobs, the runs' tidy frame, seed intervals, the
seed-paired tests of the paper's PathMNIST claim, the verdict computed from them, and the chapter's figures.

The paper's claim on PathMNIST (class 1), as its repository's README tabulates it: the quantum model has the better
FID (84.40 against 95.72) and the worse SSIM (0.0931 against 0.4107), from a strip of 5 samples per model.  The
chapter tests both directions on qdm's fair protocol: the two comparisons of the low-data study
(:data:`qdm.audits.lowdata.COMPARISONS`: the published circuit against the identical classical architecture, the
trainable circuit against its parameter-matched twin), seed-paired, with 95 % t-intervals, paired t-tests and
Holm's correction over the claim's two metrics per comparison (:mod:`qdm.chapters.hybrid_runs`, shared with chapter
04's book-profile runs on MNIST).

Nothing here trains or looks anything up: the runs come from :func:`qdm.chapters.runs.chapter_runs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from qdm.audits import lowdata as ld
from qdm.chapters import hybrid_runs as hr
from qdm.chapters.common import RunChapterKnobs, knobs_from
from qdm.chapters.hybrid_runs import METRICS, ClaimMetric, plot_metric_points, plot_sample_grids, summary_table, verdict_text
from qdm.chapters.runs import ChapterRuns
from qdm.families.hybrid import HYBRID_PROFILES
from qdm.runner import RunRecord

__all__ = [
    "CHAPTER",
    "CLAIM",
    "CLAIM_METRICS",
    "DATASET",
    "METRICS",
    "PathChapterKnobs",
    "claim_table",
    "first_records",
    "from_namespace",
    "plot_metric_points",
    "plot_sample_grids",
    "published_table",
    "run_frame",
    "summary_table",
    "variant_of",
    "verdict_text",
]

#: The key of :data:`qdm.chapters.jobs.CHAPTER_JOBS` whose runs this chapter shows.
CHAPTER = "pathmnist"
#: The dataset of the chapter's presets (``chen2025-pathmnist`` is ``chen2025`` on PathMNIST).
DATASET = "pathmnist"

#: The paper's PathMNIST claim: the quantum model's FID is better (lower) and its SSIM worse (lower).
CLAIM_METRICS: tuple[ClaimMetric, ...] = (
    ClaimMetric("fid", "FID", True, "better"),
    ClaimMetric("ssim", "SSIM", False, "worse"),
)
CLAIM = "on PathMNIST the quantum model has a better (lower) FID and a worse (lower) SSIM than the classical one"


@dataclass(frozen=True)
class PathChapterKnobs(RunChapterKnobs):
    """Chapter 05's parameters (:class:`~qdm.chapters.common.RunChapterKnobs`); only the profiles the hybrid presets
    define are accepted."""

    PROFILES: ClassVar[tuple[str, ...]] = ("paper", *HYBRID_PROFILES)

    profile: str = "book"


def from_namespace(namespace: Mapping[str, Any]) -> PathChapterKnobs:
    """The knobs from a notebook's globals (its parameters cell)."""
    return knobs_from(PathChapterKnobs, namespace)


def variant_of(preset: str) -> str:
    """The hybrid variant of a PathMNIST preset name (``chen2025-trainable-pathmnist`` -> ``chen2025-trainable``)."""
    return hr.variant_of(preset, DATASET)


def run_frame(runs: ChapterRuns) -> pd.DataFrame:
    """:func:`qdm.chapters.hybrid_runs.run_frame` of the PathMNIST presets."""
    return hr.run_frame(runs, DATASET)


def claim_table(frame: pd.DataFrame, alpha: float = ld.ALPHA) -> pd.DataFrame:
    """:func:`qdm.chapters.hybrid_runs.claim_table` of :data:`CLAIM_METRICS`."""
    return hr.claim_table(frame, CLAIM_METRICS, alpha)


def published_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The README's PathMNIST numbers beside qdm's seed means (:func:`qdm.chapters.hybrid_runs.published_table`)."""
    return hr.published_table(frame, DATASET)


def first_records(runs: ChapterRuns) -> dict[str, RunRecord | None]:
    """Each variant's finished run with the lowest seed (None when it has none)."""
    return hr.first_records(runs, DATASET)
