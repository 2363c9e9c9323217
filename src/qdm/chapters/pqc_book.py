"""Chapter 03's runs at the book profile (the PQC denoisers of [cacioppo2023qdm], its 2025 follow-up and
[koelle2024qddm]): the runs' tidy frame, seed intervals, the noise ablations tested seed-paired, the conditioned
model's per-label accuracy and its 10×10 grid, and the published numbers beside qdm's.

The ablations are the two choices of [cacioppo2023qdm]'s conditioned latent model that its papers and code differ on
or single out: complex against real Gaussian noise (the paper reports complex noise "significantly" better,
jo2025qamp §1.2) and the noising its code writes (``as_coded``: no square roots on the noise terms) against the
DDPM closed form.  Each is one override of the preset, trained at the same seeds, and compared with the preset
seed by seed (:func:`qdm.audits.lowdata.compare_paired`, Holm's correction over the metrics of one ablation).

Nothing here trains or looks anything up: the runs come from :func:`qdm.chapters.runs.chapter_runs`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure

from qdm.audits import lowdata as ld
from qdm.chapters.common import (
    empty_figure,
    paired_difference_text,
    plot_image_rows,
    plot_seed_points,
    seed_interval_table,
    values_by_seed,
)
from qdm.chapters.jobs import CHAPTER_JOBS, Job
from qdm.chapters.runs import ChapterRuns
from qdm.protocols import summarize_seeds
from qdm.run_metrics import intended_labels
from qdm.runner import RunRecord, run_samples

__all__ = [
    "ABLATIONS",
    "ABLATION_METRICS",
    "BASE",
    "BUDGET_PRESETS",
    "BUDGET_TOLERANCE",
    "CHAPTER",
    "METRICS",
    "MODELS",
    "PUBLISHED_FID",
    "ablation_table",
    "ablation_text",
    "budget_frame",
    "budget_points",
    "first_record",
    "label_grid",
    "model_of",
    "per_label_frame",
    "per_label_table",
    "plot_label_grid",
    "plot_budget",
    "plot_metric_points",
    "published_table",
    "run_frame",
    "summary_table",
]

#: The key of :data:`qdm.chapters.jobs.CHAPTER_JOBS` whose runs this part of chapter 03 shows.
CHAPTER = "pqc"

#: Each job of the chapter -> its label in tables and figures (every job of CHAPTER_JOBS["pqc"] has one).
MODELS: dict[Job, str] = {
    Job("cacioppo2023-cond-latent"): "conditioned latent (A1)",
    Job("cacioppo2023-cond-latent", ("model.noise=real",)): "conditioned latent, real noise",
    Job("cacioppo2023-cond-latent", ("model.noising=ddpm",)): "conditioned latent, DDPM noising",
    Job("cacioppo2025-full"): "full quantum 16×16 (A2)",
    Job("koelle2024"): "Kölle et al. 8×8",
}
#: The model the ablations change one thing of.
BASE = MODELS[Job("cacioppo2023-cond-latent")]


@dataclass(frozen=True)
class Ablation:
    """One override of :data:`BASE`: its label, what it changes, and what the paper says of it."""

    model: str
    change: str
    claim: str


ABLATIONS: tuple[Ablation, ...] = (
    Ablation(MODELS[Job("cacioppo2023-cond-latent", ("model.noise=real",))], "real instead of complex noise",
             "complex noise is significantly better than real noise (jo2025qamp §1.2)"),
    Ablation(MODELS[Job("cacioppo2023-cond-latent", ("model.noising=ddpm",))], "DDPM noising instead of the code's",
             "none: the paper states the DDPM forward process, its code noises without the square roots"),
)

#: Every metric the chapter reports per model: (metrics.json key, label, key of the image count behind it).
#: ``recognised``: classified as the requested digit (conditioned) or as one of the trained digits (unconditioned).
METRICS: tuple[tuple[str, str, str], ...] = (
    ("recognised", "recognised by the classifier", "classifier_n_generated"),
    ("fid", "FID", "fid_n_generated"),
    ("kid", "KID", "kid_n_generated"),
    ("ssim", "SSIM", "ssim_n"),
    ("classifier_fid", "classifier FID", "classifier_n_generated"),
    ("memorisation_copy_rate", "copy rate", "memorisation_n_generated"),
    ("pr_inception_precision", "precision", "pr_inception_n_generated"),
    ("pr_inception_recall", "recall", "pr_inception_n_generated"),
)
#: The metrics an ablation is tested on (lower_is_better per key).
ABLATION_METRICS: tuple[tuple[str, bool], ...] = (("recognised", False), ("fid", True), ("ssim", False))
_COUNTS = tuple(dict.fromkeys((*(count for _, _, count in METRICS), "fid_n_reference", "kid_se", "ssim_std",
                                "classifier_test_accuracy", "memorisation_n_train", "circuit_parameters")))

#: [cacioppo2023qdm]'s one published number for the latent model (protocol not published; jo2025qamp §1.1).
PUBLISHED_FID = 38.2


def model_of(job: Job) -> str:
    """The label of one of the chapter's jobs (:data:`MODELS`)."""
    if job not in MODELS:
        raise ValueError(f"job must be one of chapter {CHAPTER!r}'s jobs {list(MODELS)}, got {job!r}")
    return MODELS[job]


def _recognised(metrics: dict[str, Any]) -> tuple[float, str]:
    """The fraction the classifier recognises and as what: the requested digit, or any trained digit."""
    if "classifier_accuracy" in metrics:
        return float(metrics["classifier_accuracy"]), "the requested digit"
    if "classifier_in_classes" in metrics:
        return float(metrics["classifier_in_classes"]), "a trained digit"
    return math.nan, "-"


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def run_frame(runs: ChapterRuns) -> pd.DataFrame:
    """One row per finished run: model, seed, source, config hash, training steps and images, every metric of
    :data:`METRICS` and the counts behind them (NaN where a run lacks one), what ``recognised`` counts, and the
    training wall time."""
    rows = []
    for run in runs.found:
        m = run.record.metrics
        recognised, what = _recognised(m)
        row: dict[str, Any] = {"model": model_of(run.job), "seed": run.seed, "source": run.source,
                               "run": run.record.config_hash, "steps": run.config.train.steps,
                               "train_images": run.config.data.images_per_class * len(run.config.data.classes),
                               "recognised": recognised, "recognised_as": what,
                               "train_wall_s": _number(run.record.timing.get("train_total_wall_s"))}
        for key in (*(k for k, _, _ in METRICS if k != "recognised"), *_COUNTS):
            row[key] = _number(m.get(key))
        rows.append(row)
    columns = ["model", "seed", "source", "run", "steps", "train_images", *(k for k, _, _ in METRICS), "recognised_as",
               *_COUNTS, "train_wall_s"]
    frame = pd.DataFrame(rows, columns=columns)
    order = {label: i for i, label in enumerate(MODELS.values())}
    return frame.sort_values(["model", "seed"], key=lambda s: s.map(order) if s.name == "model" else s,
                             kind="stable").reset_index(drop=True)


def _require(frame: Any) -> None:
    if not isinstance(frame, pd.DataFrame) or not {"model", "seed"} <= set(frame.columns):
        raise ValueError("frame must be the DataFrame of run_frame(...)")


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model and metric: seeds, mean and 95 % t-interval over seeds (NaN with one seed), images behind it."""
    _require(frame)

    def label_of(key: str, label: str, rows: pd.DataFrame) -> str:
        return f"{label} (as {rows['recognised_as'].iloc[0]})" if key == "recognised" else label

    return seed_interval_table(frame, "model", METRICS, label_of)


def _by_seed(frame: pd.DataFrame, model: str, key: str) -> dict[int, float]:
    return values_by_seed(frame, "model", model, key)


def ablation_table(frame: pd.DataFrame, alpha: float = ld.ALPHA) -> pd.DataFrame:
    """Per ablation of :data:`ABLATIONS` and metric of :data:`ABLATION_METRICS`: the seed-paired difference
    ablation − :data:`BASE`, its 95 % t-interval, p-value, Holm-corrected p-value (over the metrics of that
    ablation), d_z, and what it shows at Holm p <= ``alpha`` (the ablation better, worse, or no difference)."""
    _require(frame)
    labels = {k: label for k, label, _ in METRICS}
    rows = []
    for ablation in ABLATIONS:
        block = []
        for key, lower in ABLATION_METRICS:
            r = ld.compare_paired(_by_seed(frame, ablation.model, key), _by_seed(frame, BASE, key))
            block.append({"ablation": ablation.change, "model": ablation.model, "metric": labels[key], "key": key,
                          "pairs": r.n, "mean_diff": r.mean, "ci_low": r.ci_low, "ci_high": r.ci_high, "p": r.p,
                          "d_z": r.d_z, "lower_is_better": lower})
        for row, p_holm in zip(block, ld.holm_adjust([row["p"] for row in block]), strict=True):
            row["p_holm"] = p_holm
            if not math.isfinite(p_holm):
                row["result"] = "not tested (fewer than two seed pairs)"
            elif p_holm > alpha:
                row["result"] = "no difference shown"
            else:
                better = row["mean_diff"] < 0 if row["lower_is_better"] else row["mean_diff"] > 0
                row["result"] = f"{ablation.change.split(' instead')[0]} better" if better else \
                    f"{ablation.change.split(' instead')[0]} worse"
        rows += block
    return pd.DataFrame(rows, columns=["ablation", "model", "metric", "key", "pairs", "mean_diff", "ci_low", "ci_high",
                                       "p", "p_holm", "d_z", "lower_is_better", "result"])


def first_record(runs: ChapterRuns, model: str) -> RunRecord | None:
    """``model``'s finished run with the lowest seed (None when it has none)."""
    found = [r for r in runs.found if model_of(r.job) == model]
    return min(found, key=lambda r: r.seed).record if found else None


def label_grid(record: RunRecord, per_label: int = 10) -> dict[int, torch.Tensor]:
    """A label-conditioned run's first samples grouped by requested label: label -> (up to ``per_label``, C, H, W).

    Sample i requests label ``classes[i mod k]`` (:func:`qdm.run_metrics.intended_labels`); a ledger entry keeps
    ten of each (:func:`qdm.ledger.kept_count`)."""
    samples = run_samples(record)
    labels = intended_labels(record.config, int(samples.shape[0]))
    if labels is None or len(record.config.data.classes) < 2:
        raise ValueError(f"record must be a label-conditioned run, got {record.config.experiment}/{record.config_hash}")
    return {int(c): samples[labels == c][:per_label] for c in record.config.data.classes}


def plot_label_grid(grid: dict[int, torch.Tensor]) -> Figure:
    """One row per requested digit (its samples in columns)."""
    if not grid:
        return empty_figure("no finished run to show")
    return plot_image_rows({f"digit {c}": x for c, x in grid.items()})


def per_label_frame(runs: ChapterRuns, models: Sequence[str] | None = None) -> pd.DataFrame:
    """Per conditioned run and requested label: model, seed, label, samples, the fraction classified as that label,
    and the label the classifier gives most often (from the run's confusion matrix)."""
    rows = []
    for run in runs.found:
        model = model_of(run.job)
        m = run.record.metrics
        if (models is not None and model not in models) or "classifier_per_label_accuracy" not in m:
            continue
        for i, (label, acc, n) in enumerate(zip(m["classifier_labels"], m["classifier_per_label_accuracy"],
                                                m["classifier_per_label_n"], strict=True)):
            row = m["classifier_confusion"][i]
            rows.append({"model": model, "seed": run.seed, "label": int(label), "n": int(n), "accuracy": float(acc),
                         "most_often": int(max(range(len(row)), key=row.__getitem__))})
    return pd.DataFrame(rows, columns=["model", "seed", "label", "n", "accuracy", "most_often"])


def per_label_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model and requested label: seeds, mean accuracy over seeds, its lowest and highest, samples per seed."""
    if not isinstance(frame, pd.DataFrame) or not {"model", "label", "accuracy"} <= set(frame.columns):
        raise ValueError("frame must be the DataFrame of per_label_frame(...)")
    out = frame.groupby(["model", "label"], sort=False).agg(
        seeds=("seed", "nunique"), mean=("accuracy", "mean"), lowest=("accuracy", "min"), highest=("accuracy", "max"),
        samples=("n", "first")).reset_index()
    return out


def published_table(frame: pd.DataFrame) -> pd.DataFrame:
    """[cacioppo2023qdm]'s published FID 38.2 (protocol not published) beside qdm's FID of the conditioned latent
    model: seed mean, 95 % interval and the image counts of qdm's protocol."""
    _require(frame)
    group = frame[frame["model"] == BASE]
    values = [float(v) for v in group["fid"] if math.isfinite(float(v))]
    s = summarize_seeds(values) if values else None
    return pd.DataFrame([{
        "model": BASE, "published FID": PUBLISHED_FID, "published protocol": "not stated; the code has no FID",
        "qdm FID (mean over seeds)": s.mean if s else math.nan, "ci_low": s.ci_low if s else math.nan,
        "ci_high": s.ci_high if s else math.nan, "seeds": s.n if s else 0,
        "qdm protocol": (f"{int(group['fid_n_generated'].iloc[0])} samples vs {int(group['fid_n_reference'].iloc[0])} "
                         "held-out test images, TF-Inception") if len(group) else "-",
    }])



def plot_metric_points(frame: pd.DataFrame, keys: Sequence[str] = ("recognised", "fid", "ssim", "classifier_fid")) -> Figure:
    """One panel per metric: each seed's value per model (points) and the seed mean (bar)."""
    _require(frame)
    labels = {k: label for k, label, _ in METRICS}
    unknown = [k for k in keys if k not in labels]
    if unknown:
        raise ValueError(f"keys must be metrics of METRICS {list(labels)}, got {unknown}")
    order = [label for label in MODELS.values() if label in set(frame["model"])]
    return plot_seed_points(frame, "model", order, keys, labels)


def ablation_text(table: pd.DataFrame, alpha: float = ld.ALPHA) -> str:
    """What the ablations show, in plain words, from :func:`ablation_table`'s rows (computed, never written in advance)."""
    if not isinstance(table, pd.DataFrame) or "result" not in table.columns:
        raise ValueError("table must be the DataFrame of ablation_table(...)")
    if table.empty or not (table["pairs"] >= 2).any():
        return "Too few seed pairs are shown to test the ablations; nothing can be said about them here."
    sentences = []
    for change, group in table.groupby("ablation", sort=False):
        parts = [paired_difference_text(row, 3) for row in group.itertuples()]
        sentences.append(f"{change[0].upper()}{change[1:]} ({int(group['pairs'].max())} seed pairs): {'; '.join(parts)}.")
    return " ".join(sentences) + f" (Differences are the ablation minus {BASE}; shown means Holm p <= {alpha:g}.)"


#: The presets whose budget curves chose the book profile's step cap (``ledger/measurements/budget-<preset>-paper``).
BUDGET_PRESETS: tuple[str, ...] = ("cacioppo2023-cond-latent", "cacioppo2025-full", "koelle2024")


def budget_frame(measurements_dir: str | Path) -> pd.DataFrame:
    """The measured budget curves of :data:`BUDGET_PRESETS` (:func:`qdm.audits.budget.budget_curve` at the paper
    settings, one seed, written by ``scripts/measure_budget.py``): preset, steps, score, accuracy, classifier_fid,
    n_samples; presets without a measurement are left out."""
    frames = []
    for preset in BUDGET_PRESETS:
        path = Path(measurements_dir) / f"budget-{preset}-paper.csv"
        if path.is_file():
            frames.append(pd.read_csv(path).assign(preset=preset))
    columns = ["preset", "steps", "score", "accuracy", "classifier_fid", "n_samples"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def plot_budget(frame: pd.DataFrame, cap: int) -> Figure:
    """Accuracy and classifier FID against training steps per preset, the book profile's cap ``cap`` marked."""
    if not isinstance(frame, pd.DataFrame) or not {"preset", "steps", "accuracy", "classifier_fid"} <= set(frame.columns):
        raise ValueError("frame must be the DataFrame of budget_frame(...)")
    if frame.empty:
        return empty_figure("no budget measurement to show")
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4))
    for ax, key, label in ((axes[0], "accuracy", "recognised by the classifier"),
                           (axes[1], "classifier_fid", "classifier FID")):
        sns.lineplot(data=frame, x="steps", y=key, hue="preset", marker="o", ax=ax, legend=ax is axes[1])
        ax.axvline(cap, color="0.4", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("training steps (paper settings, seed 0)")
        ax.set_ylabel(label)
    fig.tight_layout()
    return fig



#: A change of the recognised fraction between two stages within this many binomial standard errors of the
#: difference (independent samples of each stage) is read as no change.
BUDGET_TOLERANCE = 2.0


def budget_points(frame: pd.DataFrame, preset: str, cap: int) -> dict[str, Any]:
    """One preset's measured curve at the cap and at its last stage: ``acc-cap``, ``cfid-cap``, ``acc-last``,
    ``cfid-last``, ``last-steps`` (NaN / 0 where not measured) and ``reading``: what the steps past the cap bought,
    computed (recognised fraction up, down, or within :data:`BUDGET_TOLERANCE` binomial standard errors)."""
    curve = frame[frame["preset"] == preset].set_index("steps") if len(frame) else frame
    nan = float("nan")
    out: dict[str, Any] = {"acc-cap": nan, "cfid-cap": nan, "acc-last": nan, "cfid-last": nan, "last-steps": 0,
                           "reading": f"{preset} was not measured"}
    if not len(curve):
        return out
    last = int(curve.index.max())
    out["last-steps"] = last
    out["acc-last"], out["cfid-last"] = float(curve.loc[last, "accuracy"]), float(curve.loc[last, "classifier_fid"])
    if cap not in curve.index:
        out["reading"] = f"the cap of {cap} steps is not a measured stage"
        return out
    out["acc-cap"], out["cfid-cap"] = float(curve.loc[cap, "accuracy"]), float(curve.loc[cap, "classifier_fid"])
    gain = out["acc-last"] - out["acc-cap"]
    n_cap, n_last = float(curve.loc[cap, "n_samples"]), float(curve.loc[last, "n_samples"])
    se = math.sqrt(out["acc-cap"] * (1 - out["acc-cap"]) / n_cap + out["acc-last"] * (1 - out["acc-last"]) / n_last)
    if last <= cap:
        out["reading"] = "the curve was not measured past the cap"
    elif abs(gain) <= BUDGET_TOLERANCE * se:
        out["reading"] = (f"the {last - cap:,} steps past the cap change the recognised fraction by {gain:+.3f}, within "
                          f"{BUDGET_TOLERANCE:g} binomial standard errors ({se:.3f}) of the two stages' samples")
    else:
        out["reading"] = (f"the {last - cap:,} steps past the cap {'raise' if gain > 0 else 'lower'} the recognised "
                          f"fraction by {abs(gain):.3f}")
    return out


def _check_jobs() -> None:
    """Every job of the chapter has a label (import-time check of :data:`MODELS` against the job list)."""
    missing = [job for job in CHAPTER_JOBS[CHAPTER] if job not in MODELS]
    if missing:
        raise RuntimeError(f"qdm.chapters.pqc_book.MODELS lacks the chapter's jobs {missing}")


_check_jobs()
