"""The four hybrid variants of [chen2025quantum] read from a chapter's runs (chapter 04 on MNIST at the book profile,
chapter 05 on PathMNIST): the runs' tidy frame, seed intervals, the seed-paired test of a claimed direction of
quantum − classical, the sample grids, and the published numbers beside qdm's.

A claim is a tuple of :class:`ClaimMetric` (the metric and the direction the paper claims for the quantum model);
it is tested on the two comparisons of the low-data study (:data:`qdm.audits.lowdata.COMPARISONS`: the published
circuit against the identical classical architecture, the trainable circuit against its parameter-matched twin),
seed-paired, with 95 % t-intervals, paired t-tests and Holm's correction over the claim's metrics per comparison
(:func:`qdm.audits.lowdata.compare_paired`, :func:`qdm.audits.lowdata.holm_adjust`).

Nothing here trains or looks anything up: the runs come from :func:`qdm.chapters.runs.chapter_runs`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from qdm.audits import lowdata as ld
from qdm.audits.chen2025 import PUBLISHED_CHEN2025
from qdm.chapters.common import (
    empty_figure,
    paired_difference_text,
    plot_image_rows,
    plot_seed_points,
    seed_interval_table,
    values_by_seed,
)
from qdm.chapters.runs import ChapterRuns
from qdm.presets import CHEN2025_VARIANTS
from qdm.runner import RunRecord, run_samples
from qdm.validation import check_int

__all__ = [
    "DATASET_SUFFIXES",
    "METRICS",
    "ClaimMetric",
    "by_class",
    "claim_table",
    "first_records",
    "plot_class_sample_grids",
    "plot_metric_points",
    "plot_sample_grids",
    "published_table",
    "run_frame",
    "summary_table",
    "variant_of",
    "verdict_by_class",
    "verdict_text",
]

#: The preset-name suffix of each dataset (``chen2025-pathmnist`` is ``chen2025`` on PathMNIST).
DATASET_SUFFIXES: dict[str, str] = {"mnist": "", "pathmnist": "-pathmnist"}


@dataclass(frozen=True)
class ClaimMetric:
    """A metric a claim is about: the direction it claims for quantum − classical."""

    key: str
    label: str
    lower_is_better: bool
    claimed: str  # "better" or "worse" for the quantum model


#: Every metric reported per variant: (metrics.json key, label, key of the image count behind it).
METRICS: tuple[tuple[str, str, str], ...] = (
    ("fid", "FID", "fid_n_generated"),
    ("kid", "KID", "kid_n_generated"),
    ("ssim", "SSIM", "ssim_n"),
    ("classifier_accuracy", "classified as the intended class", "classifier_n_generated"),
    ("classifier_fid", "classifier FID", "classifier_n_generated"),
    ("memorisation_copy_rate", "copy rate", "memorisation_n_generated"),
    ("pr_inception_precision", "precision", "pr_inception_n_generated"),
    ("pr_inception_recall", "recall", "pr_inception_n_generated"),
)
_COUNTS = tuple(dict.fromkeys((*(count for _, _, count in METRICS), "fid_n_reference", "kid_se", "ssim_std",
                                "classifier_test_accuracy", "memorisation_n_train")))


def variant_of(preset: str, dataset: str = "mnist") -> str:
    """The hybrid variant of a preset name on ``dataset`` (``chen2025-trainable-pathmnist`` -> ``chen2025-trainable``)."""
    if dataset not in DATASET_SUFFIXES:
        raise ValueError(f"dataset must be one of {sorted(DATASET_SUFFIXES)}, got {dataset!r}")
    suffix = DATASET_SUFFIXES[dataset]
    names = [v + suffix for v in CHEN2025_VARIANTS]
    if preset not in names:
        raise ValueError(f"preset must be one of {names}, got {preset!r}")
    return preset[: len(preset) - len(suffix)]


def run_frame(runs: ChapterRuns, dataset: str = "mnist") -> pd.DataFrame:
    """One row per finished run: variant, class, seed, source, config hash, every metric of :data:`METRICS` and the
    counts behind them (NaN where a run lacks one), the training images and the training wall time."""
    rows = []
    for run in runs.found:
        m = run.record.metrics
        row: dict[str, Any] = {"variant": variant_of(run.job.preset, dataset), "class": int(run.config.data.classes[0]),
                               "seed": run.seed, "source": run.source, "run": run.record.config_hash,
                               "images": run.config.data.images_per_class,
                               "train_wall_s": float(run.record.timing.get("train_total_wall_s", math.nan))}
        for key in (*(k for k, _, _ in METRICS), *_COUNTS):
            value = m.get(key, math.nan)
            row[key] = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
        rows.append(row)
    columns = ["variant", "class", "seed", "source", "run", "images", *(k for k, _, _ in METRICS), *_COUNTS,
               "train_wall_s"]
    frame = pd.DataFrame(rows, columns=columns)
    order = {v: i for i, v in enumerate(CHEN2025_VARIANTS)}
    return frame.sort_values(["class", "variant", "seed"], key=lambda s: s.map(order) if s.name == "variant" else s,
                             kind="stable").reset_index(drop=True)


def _require(frame: Any) -> None:
    if not isinstance(frame, pd.DataFrame) or not {"variant", "seed"} <= set(frame.columns):
        raise ValueError("frame must be the DataFrame of run_frame(...)")


def _one_class(frame: pd.DataFrame) -> None:
    if "class" in frame.columns and frame["class"].nunique() > 1:
        raise ValueError(f"frame must hold the runs of one class, got classes {sorted(frame['class'].unique())}")


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per variant and metric (one class): seeds, mean and 95 % t-interval over seeds (NaN with one seed), images."""
    _require(frame)
    _one_class(frame)
    return seed_interval_table(frame, "variant", METRICS)


def _result(mean: float, p_holm: float, metric: ClaimMetric, alpha: float) -> str:
    """What a tested difference quantum − twin says about the claimed direction."""
    if not math.isfinite(p_holm):
        return "not tested (fewer than two seed pairs)"
    if p_holm > alpha:
        return "no difference shown"
    better = mean < 0 if metric.lower_is_better else mean > 0
    return "as claimed" if (better and metric.claimed == "better") or (not better and metric.claimed == "worse") \
        else "opposite to the claim"


def claim_table(frame: pd.DataFrame, claim: Sequence[ClaimMetric], alpha: float = ld.ALPHA) -> pd.DataFrame:
    """Per comparison of :data:`qdm.audits.lowdata.COMPARISONS` and metric of ``claim`` (one class): the seed-paired
    difference quantum − twin, its 95 % t-interval, p-value, Holm-corrected p-value (over the claim's metrics of that
    comparison), d_z, and whether it goes the claimed way (Holm p <= ``alpha``)."""
    _require(frame)
    _one_class(frame)
    if not claim or not all(isinstance(m, ClaimMetric) for m in claim):
        raise ValueError("claim must be a non-empty sequence of ClaimMetric")
    rows = []
    for comp in ld.COMPARISONS:
        block = []
        for metric in claim:
            r = ld.compare_paired(values_by_seed(frame, "variant", comp.quantum, metric.key),
                                  values_by_seed(frame, "variant", comp.twin, metric.key))
            block.append({"comparison": f"{comp.quantum} − {comp.twin}", "label": comp.label, "metric": metric.label,
                          "claimed": f"quantum {metric.claimed}", "pairs": r.n, "mean_diff": r.mean,
                          "ci_low": r.ci_low, "ci_high": r.ci_high, "p": r.p, "d_z": r.d_z})
        for row, metric, p_holm in zip(block, claim, ld.holm_adjust([row["p"] for row in block]), strict=True):
            row["p_holm"] = p_holm
            row["result"] = _result(row["mean_diff"], p_holm, metric, alpha)
        rows += block
    return pd.DataFrame(rows, columns=["comparison", "label", "metric", "claimed", "pairs", "mean_diff", "ci_low",
                                       "ci_high", "p", "p_holm", "d_z", "result"])


def verdict_text(table: pd.DataFrame, alpha: float = ld.ALPHA) -> str:
    """The verdict on a claim in plain words, from :func:`claim_table`'s rows (computed, never written in advance)."""
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


def published_table(frame: pd.DataFrame, dataset: str = "mnist") -> pd.DataFrame:
    """The README's numbers on ``dataset`` (5 samples per model) beside qdm's seed means (fair protocol) for the
    published model and the identical classical architecture; the other two variants have no published numbers."""
    _require(frame)
    _one_class(frame)
    if dataset not in DATASET_SUFFIXES:
        raise ValueError(f"dataset must be one of {sorted(DATASET_SUFFIXES)}, got {dataset!r}")
    rows = []
    for variant in ("chen2025", "chen2025-classical"):
        fid, ssim = PUBLISHED_CHEN2025[(variant, dataset)]
        group = frame[frame["variant"] == variant]
        rows.append({"variant": variant, "published FID (5 samples)": fid,
                     "qdm FID (mean over seeds)": float(group["fid"].mean()) if len(group) else math.nan,
                     "published SSIM (5 samples)": ssim,
                     "qdm SSIM (mean over seeds)": float(group["ssim"].mean()) if len(group) else math.nan,
                     "seeds": int(len(group))})
    return pd.DataFrame(rows)


def plot_metric_points(frame: pd.DataFrame, keys: Sequence[str] = ("fid", "kid", "ssim", "classifier_accuracy")) -> Figure:
    """One panel per metric: each seed's value per variant (points) and the seed mean (bar); with runs of several
    classes, one group per class and variant ("0 · chen2025")."""
    _require(frame)
    labels = {k: label for k, label, _ in METRICS}
    unknown = [k for k in keys if k not in labels]
    if unknown:
        raise ValueError(f"keys must be metrics of METRICS {list(labels)}, got {unknown}")
    variants = [v for v in CHEN2025_VARIANTS if v in set(frame["variant"])]
    if "class" not in frame.columns or frame["class"].nunique() <= 1:
        return plot_seed_points(frame, "variant", variants, keys, labels)
    grouped = frame.assign(group=[f"{c} · {v}" for c, v in zip(frame["class"], frame["variant"], strict=True)])
    order = [f"{c} · {v}" for c in sorted(frame["class"].unique()) for v in variants
             if ((frame["class"] == c) & (frame["variant"] == v)).any()]
    return plot_seed_points(grouped, "group", order, keys, labels)


def by_class(frame: pd.DataFrame, table: Any, *args: Any) -> pd.DataFrame:
    """``table(rows of one class, *args)`` for every class of ``frame`` (ascending), stacked under a ``class`` column
    (e.g. ``by_class(frame, summary_table)``, ``by_class(frame, claim_table, claim)``)."""
    _require(frame)
    if "class" not in frame.columns:
        raise ValueError("frame must be the DataFrame of run_frame(...) (it has no 'class' column)")
    parts = [table(frame[frame["class"] == c], *args).assign(**{"class": int(c)}) for c in sorted(frame["class"].unique())]
    out = pd.concat(parts, ignore_index=True) if parts else table(frame, *args).assign(**{"class": math.nan})
    return out[["class", *(c for c in out.columns if c != "class")]]


def verdict_by_class(table: pd.DataFrame, alpha: float = ld.ALPHA) -> str:
    """:func:`verdict_text` per class of a :func:`by_class` claim table ("Class 0: ..."); "" when it holds no class."""
    if not isinstance(table, pd.DataFrame) or "class" not in table.columns:
        raise ValueError("table must be the DataFrame of by_class(frame, claim_table, claim)")
    return " ".join(f"Class {int(c)}: {verdict_text(table[table['class'] == c].drop(columns='class'), alpha)}"
                    for c in sorted(table["class"].dropna().unique()))


def first_records(runs: ChapterRuns, dataset: str = "mnist", klass: int | None = None) -> dict[str, RunRecord | None]:
    """Each variant's finished run with the lowest seed (None when it has none), in :data:`CHEN2025_VARIANTS` order;
    ``klass``: only the runs of that class (None: any)."""
    out: dict[str, RunRecord | None] = {}
    for variant in CHEN2025_VARIANTS:
        found = [r for r in runs.found if variant_of(r.job.preset, dataset) == variant
                 and (klass is None or int(r.config.data.classes[0]) == klass)]
        out[variant] = min(found, key=lambda r: r.seed).record if found else None
    return out


def plot_class_sample_grids(
    runs: ChapterRuns, reals: Mapping[int, Any], dataset: str = "mnist", n: int = 12
) -> Figure:
    """Per class of ``reals`` (class -> held-out real images): ``n`` real images, then the first ``n`` samples of each
    variant's lowest-seed run of that class (rows labelled "0: real (held out)", "0: chen2025", ...)."""
    check_int(n, "n", 1)
    rows: dict[str, Any] = {}
    for klass, real in reals.items():
        records = first_records(runs, dataset, int(klass))
        if all(r is None for r in records.values()):
            continue
        rows[f"{klass}: real (held out)"] = real[:n]
        rows.update({f"{klass}: {v}": run_samples(r)[:n] for v, r in records.items() if r is not None})
    if not rows:
        return empty_figure("no finished run to show")
    return plot_image_rows(rows, n_cols=n)


def plot_sample_grids(records: Mapping[str, RunRecord | None], real: Any, n: int = 12) -> Figure:
    """The first ``n`` samples of each variant's run (one labelled row each) under ``n`` real held-out images."""
    check_int(n, "n", 1)
    rows = {"real (held out)": real[:n]}
    for variant, record in records.items():
        if record is not None:
            rows[variant] = run_samples(record)[:n]
    if len(rows) == 1:
        return empty_figure("no finished run to show")
    return plot_image_rows(rows, n_cols=n)
