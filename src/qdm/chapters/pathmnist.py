"""Chapter 05 (the hybrid DDPM on PathMNIST [chen2025quantum]): knobs, the runs' tidy frame, seed intervals, the
seed-paired tests of the paper's PathMNIST claim, the verdict computed from them, and the chapter's figures.

The paper's claim on PathMNIST (class 1), as its repository's README tabulates it: the quantum model has the better
FID (84.40 against 95.72) and the worse SSIM (0.0931 against 0.4107), from a strip of 5 samples per model.  The
chapter tests both directions on qdm's fair protocol: the two comparisons of the low-data study
(:data:`qdm.audits.lowdata.COMPARISONS`: the published circuit against the identical classical architecture, the
trainable circuit against its parameter-matched twin), seed-paired, with 95 % t-intervals, paired t-tests and
Holm's correction over the claim's two metrics per comparison (:func:`qdm.audits.lowdata.compare_paired`,
:func:`qdm.audits.lowdata.holm_adjust`).

Nothing here trains or looks anything up: the runs come from :func:`qdm.chapters.runs.chapter_runs`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd
from matplotlib.figure import Figure

from qdm.audits import lowdata as ld
from qdm.audits.chen2025 import PUBLISHED_CHEN2025
from qdm.chapters.common import (
    RunChapterKnobs,
    empty_figure,
    knobs_from,
    paired_difference_text,
    plot_image_rows,
    plot_seed_points,
    seed_interval_table,
    values_by_seed,
)
from qdm.chapters.runs import ChapterRuns
from qdm.families.hybrid import HYBRID_PROFILES
from qdm.presets import CHEN2025_VARIANTS
from qdm.runner import RunRecord, run_samples
from qdm.validation import check_int

__all__ = [
    "CHAPTER",
    "CLAIM",
    "CLAIM_METRICS",
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
#: The dataset suffix of the chapter's presets (``chen2025-pathmnist`` is ``chen2025`` on PathMNIST).
SUFFIX = "-pathmnist"


@dataclass(frozen=True)
class ClaimMetric:
    """A metric the paper's PathMNIST claim is about: the direction it claims for quantum − classical."""

    key: str
    label: str
    lower_is_better: bool
    claimed: str  # "better" or "worse" for the quantum model


#: The paper's PathMNIST claim: the quantum model's FID is better (lower) and its SSIM worse (lower).
CLAIM_METRICS: tuple[ClaimMetric, ...] = (
    ClaimMetric("fid", "FID", True, "better"),
    ClaimMetric("ssim", "SSIM", False, "worse"),
)
CLAIM = "on PathMNIST the quantum model has a better (lower) FID and a worse (lower) SSIM than the classical one"

#: Every metric the chapter reports per variant: (metrics.json key, label, key of the image count behind it).
METRICS: tuple[tuple[str, str, str], ...] = (
    ("fid", "FID", "fid_n_generated"),
    ("kid", "KID", "kid_n_generated"),
    ("ssim", "SSIM", "ssim_n"),
    ("classifier_accuracy", "classified as class 1", "classifier_n_generated"),
    ("classifier_fid", "classifier FID", "classifier_n_generated"),
    ("memorisation_copy_rate", "copy rate", "memorisation_n_generated"),
    ("pr_inception_precision", "precision", "pr_inception_n_generated"),
    ("pr_inception_recall", "recall", "pr_inception_n_generated"),
)
_COUNTS = tuple(dict.fromkeys((*(count for _, _, count in METRICS), "fid_n_reference", "kid_se", "ssim_std",
                                "classifier_test_accuracy", "memorisation_n_train")))


@dataclass(frozen=True)
class PathChapterKnobs(RunChapterKnobs):
    """Chapter 05's parameters (:class:`~qdm.chapters.common.RunChapterKnobs`); the book shows the ``cpu`` profile until
    the hybrid presets have a ``book`` one, so only the profiles they define are accepted."""

    PROFILES: ClassVar[tuple[str, ...]] = ("paper", *HYBRID_PROFILES)

    profile: str = "cpu"


def from_namespace(namespace: Mapping[str, Any]) -> PathChapterKnobs:
    """The knobs from a notebook's globals (its parameters cell)."""
    return knobs_from(PathChapterKnobs, namespace)


def variant_of(preset: str) -> str:
    """The hybrid variant of a PathMNIST preset name (``chen2025-trainable-pathmnist`` -> ``chen2025-trainable``)."""
    if not isinstance(preset, str) or not preset.endswith(SUFFIX) or preset[: -len(SUFFIX)] not in CHEN2025_VARIANTS:
        raise ValueError(f"preset must be one of {[v + SUFFIX for v in CHEN2025_VARIANTS]}, got {preset!r}")
    return preset[: -len(SUFFIX)]


def run_frame(runs: ChapterRuns) -> pd.DataFrame:
    """One row per finished run: variant, seed, source, config hash, every metric of :data:`METRICS` and the counts
    behind them (NaN where a run lacks one), the training images and the training wall time."""
    rows = []
    for run in runs.found:
        m = run.record.metrics
        row: dict[str, Any] = {"variant": variant_of(run.job.preset), "seed": run.seed, "source": run.source,
                               "run": run.record.config_hash, "images": run.config.data.images_per_class,
                               "train_wall_s": float(run.record.timing.get("train_total_wall_s", math.nan))}
        for key in (*(k for k, _, _ in METRICS), *_COUNTS):
            value = m.get(key, math.nan)
            row[key] = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
        rows.append(row)
    columns = ["variant", "seed", "source", "run", "images", *(k for k, _, _ in METRICS), *_COUNTS, "train_wall_s"]
    frame = pd.DataFrame(rows, columns=columns)
    order = {v: i for i, v in enumerate(CHEN2025_VARIANTS)}
    return frame.sort_values(["variant", "seed"], key=lambda s: s.map(order) if s.name == "variant" else s,
                             kind="stable").reset_index(drop=True)


def _require(frame: Any) -> None:
    if not isinstance(frame, pd.DataFrame) or not {"variant", "seed"} <= set(frame.columns):
        raise ValueError("frame must be the DataFrame of run_frame(...)")


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per variant and metric: seeds, mean and 95 % t-interval over seeds (NaN with one seed), images behind it."""
    _require(frame)
    return seed_interval_table(frame, "variant", METRICS)


def _by_seed(frame: pd.DataFrame, variant: str, key: str) -> dict[int, float]:
    return values_by_seed(frame, "variant", variant, key)


def _result(mean: float, p_holm: float, metric: ClaimMetric, alpha: float) -> str:
    """What a tested difference quantum − twin says about the claimed direction."""
    if not math.isfinite(p_holm):
        return "not tested (fewer than two seed pairs)"
    if p_holm > alpha:
        return "no difference shown"
    better = mean < 0 if metric.lower_is_better else mean > 0
    return "as claimed" if (better and metric.claimed == "better") or (not better and metric.claimed == "worse") \
        else "opposite to the claim"


def claim_table(frame: pd.DataFrame, alpha: float = ld.ALPHA) -> pd.DataFrame:
    """Per comparison of :data:`qdm.audits.lowdata.COMPARISONS` and claimed metric: the seed-paired difference
    quantum − twin, its 95 % t-interval, p-value, Holm-corrected p-value (over the claim's metrics of that
    comparison), d_z, and whether it goes the claimed way (Holm p <= ``alpha``)."""
    _require(frame)
    rows = []
    for comp in ld.COMPARISONS:
        block = []
        for metric in CLAIM_METRICS:
            r = ld.compare_paired(_by_seed(frame, comp.quantum, metric.key), _by_seed(frame, comp.twin, metric.key))
            block.append({"comparison": f"{comp.quantum} − {comp.twin}", "label": comp.label, "metric": metric.label,
                          "claimed": f"quantum {metric.claimed}", "pairs": r.n, "mean_diff": r.mean,
                          "ci_low": r.ci_low, "ci_high": r.ci_high, "p": r.p, "d_z": r.d_z})
        for row, metric, p_holm in zip(block, CLAIM_METRICS, ld.holm_adjust([row["p"] for row in block]), strict=True):
            row["p_holm"] = p_holm
            row["result"] = _result(row["mean_diff"], p_holm, metric, alpha)
        rows += block
    return pd.DataFrame(rows, columns=["comparison", "label", "metric", "claimed", "pairs", "mean_diff", "ci_low",
                                       "ci_high", "p", "p_holm", "d_z", "result"])


def verdict_text(table: pd.DataFrame, alpha: float = ld.ALPHA) -> str:
    """The verdict on the claim in plain words, from :func:`claim_table`'s rows (computed, never written in advance)."""
    if not isinstance(table, pd.DataFrame) or "result" not in table.columns:
        raise ValueError("table must be the DataFrame of claim_table(...)")
    if table.empty or not (table["pairs"] >= 2).any():
        return "Too few seed pairs are shown to test the claim; nothing can be said about it here."
    sentences = []
    for comparison, group in table.groupby("comparison", sort=False):
        parts = [paired_difference_text(row, 4, "difference ") for row in group.itertuples()]
        n_claimed = int((group["result"] == "as claimed").sum())
        sentences.append(f"{comparison} ({group['label'].iloc[0]}): {'; '.join(parts)} "
                         f"({n_claimed} of {len(group)} claimed directions shown at Holm p <= {alpha:g}).")
    return " ".join(sentences)


def published_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The README's PathMNIST numbers (5 samples per model) beside qdm's seed means (fair protocol) for the published
    model and the identical classical architecture; the other two variants have no published numbers."""
    _require(frame)
    rows = []
    for variant in ("chen2025", "chen2025-classical"):
        fid, ssim = PUBLISHED_CHEN2025[(variant, "pathmnist")]
        group = frame[frame["variant"] == variant]
        rows.append({"variant": variant, "published FID (5 samples)": fid,
                     "qdm FID (mean over seeds)": float(group["fid"].mean()) if len(group) else math.nan,
                     "published SSIM (5 samples)": ssim,
                     "qdm SSIM (mean over seeds)": float(group["ssim"].mean()) if len(group) else math.nan,
                     "seeds": int(len(group))})
    return pd.DataFrame(rows)



def plot_metric_points(frame: pd.DataFrame, keys: Sequence[str] = ("fid", "kid", "ssim", "classifier_accuracy")) -> Figure:
    """One panel per metric: each seed's value per variant (points) and the seed mean (bar)."""
    _require(frame)
    labels = {k: label for k, label, _ in METRICS}
    unknown = [k for k in keys if k not in labels]
    if unknown:
        raise ValueError(f"keys must be metrics of METRICS {list(labels)}, got {unknown}")
    order = [v for v in CHEN2025_VARIANTS if v in set(frame["variant"])]
    return plot_seed_points(frame, "variant", order, keys, labels)


def first_records(runs: ChapterRuns) -> dict[str, RunRecord | None]:
    """Each variant's finished run with the lowest seed (None when it has none), in :data:`CHEN2025_VARIANTS` order."""
    out: dict[str, RunRecord | None] = {}
    for variant in CHEN2025_VARIANTS:
        found = [r for r in runs.found if variant_of(r.job.preset) == variant]
        out[variant] = min(found, key=lambda r: r.seed).record if found else None
    return out


def plot_sample_grids(records: Mapping[str, RunRecord | None], real: Any, n: int = 12) -> Figure:
    """The first ``n`` samples of each variant's run (one labelled row each) under ``n`` real class-1 images."""
    check_int(n, "n", 1)
    rows = {"real (held out)": real[:n]}
    for variant, record in records.items():
        if record is not None:
            rows[variant] = run_samples(record)[:n]
    if len(rows) == 1:
        return empty_figure("no finished run to show")
    return plot_image_rows(rows, n_cols=n)
