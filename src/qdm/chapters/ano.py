"""Chapter 06 (the QAMP 2025 ANO hybrid [jo2026ano]): knobs, tidy frames of its runs, seed intervals, seed-paired
differences of each ablation against the model as coded, verdicts in plain words computed from those intervals,
the report's own FID statements as cited data, and the chapter's figures (per-label accuracy, samples by digit).

Nothing here trains or looks anything up: the runs come from :func:`qdm.chapters.runs.chapter_runs` (the
ledger or the local store), the circuit checks from :mod:`qdm.audits.ano`; the per-digit classifier scores
are the runner's (:func:`qdm.run_metrics.classifier_metrics`), read from each run's metrics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from torch import Tensor

from qdm.chapters.common import RunChapterKnobs, empty_figure, knobs_from, plot_image_rows
from qdm.chapters.jobs import chapter_jobs
from qdm.chapters.runs import ChapterRun, ChapterRuns, missing_admonition, source_text
from qdm.config import ExperimentConfig
from qdm.families import get_family
from qdm.families.ano import ANO_PROFILES, PAPER_EPOCH_STEPS
from qdm.protocols import summarize_seeds
from qdm.runner import RunRecord, run_samples
from qdm.validation import check_int

__all__ = [
    "AnoChapterKnobs",
    "CONFIDENCE",
    "METRICS",
    "REFERENCE",
    "REPORT_FIG7",
    "REPORT_FIG7_READ_ERROR",
    "REPORT_STATEMENTS",
    "VARIANTS",
    "VARIANT_SLUGS",
    "comparison_table",
    "contribution_verdict",
    "difference_verdict",
    "digit_rows",
    "first_record",
    "from_namespace",
    "missing_admonition",
    "paired_differences",
    "parameter_table",
    "per_label_frame",
    "plot_per_label_accuracy",
    "plot_report_beside",
    "plot_variant_samples",
    "project_epochs",
    "report_frame",
    "report_beside_table",
    "run_frame",
    "run_scores",
    "source_text",
    "summary_glue",
    "variant_of",
    "variant_configs",
    "variant_summary",
    "verdict_glue",
]


# ---------------------------------------------------------------------------------------------
# Variants and metrics
# ---------------------------------------------------------------------------------------------

#: The model as coded, which every ablation is compared with.
REFERENCE = "as coded"


@dataclass(frozen=True)
class Variant:
    """How the chapter names a variant in prose: subject, verb and what it is compared with."""

    subject: str
    verb: str
    comparand: str


#: The chapter's variants (:data:`qdm.chapters.jobs.CHAPTER_JOBS` ``["ano"]``), in table order.
VARIANTS: dict[str, Variant] = {
    REFERENCE: Variant("the model as coded", "is", "itself"),
    "zeros": Variant("the zeroed features", "are", "the circuit's"),
    "classical": Variant("the parameter-matched classical (t, label) block", "is", "the circuit's"),
    "no Hadamard test": Variant("the model without the Hadamard-test block", "is", "the model as coded"),
}


@dataclass(frozen=True)
class Metric:
    """A metric of the comparison: its name in prose, whether lower is better, and the image-count columns behind it."""

    name: str
    lower_is_better: bool
    n_generated: str
    n_reference: str | None


#: The metrics the chapter compares (columns of :func:`run_frame`).
METRICS: dict[str, Metric] = {
    "fid": Metric("FID (qdm protocol)", True, "fid_n_generated", "fid_n_reference"),
    "kid": Metric("KID (qdm protocol)", True, "kid_n_generated", "kid_n_reference"),
    "published_fid": Metric("FID (the project's protocol)", True, "published_n_samples", "published_n_reference"),
    "published_kid": Metric("KID (the project's protocol)", True, "published_n_samples", "published_n_reference"),
    "classifier_accuracy": Metric("classifier accuracy", False, "classifier n", None),
}

#: Confidence level of every interval over seeds.
CONFIDENCE = 0.95

#: The metrics the plain-words verdict on the quantum part reads.
VERDICT_METRICS: tuple[str, ...] = ("fid", "published_fid", "classifier_accuracy")


def variant_of(cfg: ExperimentConfig) -> str:
    """The chapter's name for a run's model: from its ``model.features`` and ``model.hadamard_test``."""
    if not isinstance(cfg, ExperimentConfig) or cfg.family != "ano_hybrid":
        raise ValueError("cfg must be an ExperimentConfig of the ano_hybrid family")
    m = cfg.model
    if m.features == "zeros":
        return "zeros"
    name = REFERENCE if m.features == "circuit" else m.features
    if not m.hadamard_test:
        name = "no Hadamard test" if m.features == "circuit" else f"{name}, no Hadamard test"
    return name


#: Short names of the variants for glue keys and figure names.
VARIANT_SLUGS: dict[str, str] = {REFERENCE: "coded", "zeros": "zeros", "classical": "classical", "no Hadamard test": "noht"}


def variant_configs(profile: str, seed: int) -> dict[str, ExperimentConfig]:
    """The resolved config of every job of the chapter (:data:`qdm.chapters.jobs.CHAPTER_JOBS` ``["ano"]``) at one seed."""
    return {variant_of(cfg): cfg for _, _, cfg in chapter_jobs("ano", profile, [seed])}


def first_record(runs: ChapterRuns, variant: str) -> RunRecord | None:
    """The finished run of ``variant`` with the lowest seed, or None."""
    found = sorted((r for r in runs.found if variant_of(r.config) == variant), key=lambda r: r.seed)
    return found[0].record if found else None


# ---------------------------------------------------------------------------------------------
# Knobs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnoChapterKnobs(RunChapterKnobs):
    """Chapter 06's parameters (:class:`~qdm.chapters.common.RunChapterKnobs`) and the seed of the circuit checks'
    random inputs.

    The book is built from the ledger at ``profile="book"``, seeds 0, 1, 2, and trains nothing; the test suite
    runs it at ``profile="smoke"``, seed 0, ``train_missing=True``.
    """

    PROFILES: ClassVar[tuple[str, ...]] = ("paper", *ANO_PROFILES)

    check_seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int(self.check_seed, "check_seed", 0, 2**31 - 1)


def from_namespace(namespace: Mapping[str, Any]) -> AnoChapterKnobs:
    """:class:`AnoChapterKnobs` from a notebook's namespace (its parameters cell and papermill's overrides)."""
    return knobs_from(AnoChapterKnobs, namespace)


def run_scores(record: RunRecord) -> dict[str, Any]:
    """A run's classifier accuracy and per-digit accuracy, from its metrics (ValueError naming the run if it lacks them)."""
    m = record.metrics
    keys = ("classifier_accuracy", "classifier_labels", "classifier_per_label_accuracy", "classifier_per_label_n")
    lacking = [k for k in keys if k not in m]
    if lacking:
        raise ValueError(
            f"run {record.config_hash} lacks the per-digit classifier scores {lacking} (made before the runner scored "
            "the ANO family per digit); re-make it with `qdm run ... --force`"
        )
    return {
        "accuracy": float(m["classifier_accuracy"]),
        "n": int(m.get("classifier_n_generated", sum(m["classifier_per_label_n"]))),
        "labels": list(m["classifier_labels"]), "per_label_accuracy": list(m["classifier_per_label_accuracy"]),
    }


# ---------------------------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------------------------

#: Scalar metrics copied from each run's metrics.json (NaN where absent).
RUN_KEYS: tuple[str, ...] = (
    "fid", "fid_n_generated", "fid_n_reference", "kid", "kid_se", "kid_n_generated", "kid_n_reference",
    "published_fid", "published_kid", "published_kid_se", "published_n_samples", "published_n_reference",
)


def _records(runs: ChapterRuns | Iterable[ChapterRun | RunRecord]) -> list[tuple[RunRecord, str]]:
    """(record, source) of every finished run; missing ones (record None) are skipped."""
    items = runs.runs if isinstance(runs, ChapterRuns) else list(runs)
    out = []
    for item in items:
        if isinstance(item, ChapterRun):
            if item.record is not None:
                out.append((item.record, item.source))
        elif isinstance(item, RunRecord):
            out.append((item, "record"))
        else:
            raise ValueError(f"runs must hold ChapterRun or RunRecord values, got {type(item).__name__}")
    return out


def _digit_column(digit: int) -> str:
    return f"digit {digit}"


def run_frame(runs: ChapterRuns | Iterable[ChapterRun | RunRecord]) -> pd.DataFrame:
    """One row per finished run: variant, seed, run hash, source, both protocols, classifier accuracy, per-digit accuracy.

    Columns: ``variant, seed, run, source`` (ledger / results / trained), :data:`RUN_KEYS`, ``classifier_accuracy``,
    ``classifier n`` (images scored, :func:`run_scores`), ``digit d`` for each digit
    (accuracy on the samples drawn for d), ``train steps``, ``train_wall_s``.  Rows in :data:`VARIANTS` order,
    then by seed; an empty frame (with these columns) when no run is finished.
    """
    rows = []
    digits: list[int] = []
    for record, source in _records(runs):
        scores = run_scores(record)
        row: dict[str, Any] = {
            "variant": variant_of(record.config), "seed": int(record.config.train.seed), "run": record.config_hash,
            "source": source,
        }
        for key in RUN_KEYS:
            value = record.metrics.get(key, math.nan)
            row[key] = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
        row["classifier_accuracy"] = float(scores["accuracy"])
        row["classifier n"] = int(scores["n"])
        for digit, acc in zip(scores["labels"], scores["per_label_accuracy"], strict=True):
            row[_digit_column(int(digit))] = float(acc)
            if int(digit) not in digits:
                digits.append(int(digit))
        row["train steps"] = int(record.config.train.steps)
        row["train_wall_s"] = float(record.timing.get("train_total_wall_s", math.nan))
        rows.append(row)
    columns = ["variant", "seed", "run", "source", *RUN_KEYS, "classifier_accuracy", "classifier n",
               *(_digit_column(d) for d in sorted(digits)), "train steps", "train_wall_s"]
    frame = pd.DataFrame(rows, columns=columns)
    order = {name: i for i, name in enumerate(VARIANTS)}
    frame["_order"] = frame["variant"].map(lambda v: order.get(v, len(order)))
    return frame.sort_values(["_order", "seed"], kind="stable").drop(columns="_order").reset_index(drop=True)


def _require(frame: Any, columns: Sequence[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a pandas DataFrame from run_frame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame is missing columns {missing}; build it with run_frame(...)")


def _counts(values: pd.Series) -> str:
    """The image counts behind a metric: one number, or the distinct ones."""
    vals = sorted({int(v) for v in values.dropna()})
    return "/".join(str(v) for v in vals) if vals else "-"


def variant_summary(frame: pd.DataFrame, metrics: Sequence[str] = tuple(METRICS)) -> pd.DataFrame:
    """Per variant and metric: seeds, mean, sample std and the 95 % Student-t interval over seeds (:func:`summarize_seeds`).

    Also the image counts behind the metric (``n_generated``, ``n_reference``).  Seeds where the metric is NaN
    are left out; a variant with no value gives a row with n_seeds 0.  With one seed std and interval are NaN.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"metrics must be keys of METRICS {list(METRICS)}, got {unknown}")
    _require(frame, ["variant", "seed", *metrics])
    rows = []
    for variant, group in frame.groupby("variant", sort=False):
        for key in metrics:
            spec = METRICS[key]
            values = group[key].dropna()
            row: dict[str, Any] = {"variant": variant, "metric": key, "n_seeds": int(len(values))}
            if len(values):
                s = summarize_seeds(values.tolist(), CONFIDENCE)
                row.update(mean=s.mean, std=s.std, ci_low=s.ci_low, ci_high=s.ci_high)
            else:
                row.update(mean=math.nan, std=math.nan, ci_low=math.nan, ci_high=math.nan)
            row["n_generated"] = _counts(group[spec.n_generated]) if spec.n_generated in group else "-"
            row["n_reference"] = _counts(group[spec.n_reference]) if spec.n_reference and spec.n_reference in group else "-"
            rows.append(row)
    return pd.DataFrame(rows, columns=["variant", "metric", "n_seeds", "mean", "std", "ci_low", "ci_high",
                                       "n_generated", "n_reference"])


def paired_differences(
    frame: pd.DataFrame, metrics: Sequence[str] = tuple(METRICS), reference: str = REFERENCE
) -> pd.DataFrame:
    """Seed-paired differences (variant − ``reference``) of each metric for every other variant, with 95 % t-intervals.

    Only seeds that both runs have (and where both values are finite) are paired; ``n_pairs`` says how many.
    With one pair the interval is NaN; with none, the mean too.  Columns: variant, metric, n_pairs, difference,
    ci_low, ci_high, seeds.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"metrics must be keys of METRICS {list(METRICS)}, got {unknown}")
    _require(frame, ["variant", "seed", *metrics])
    ref = frame[frame["variant"] == reference].set_index("seed")
    rows = []
    for variant in dict.fromkeys(frame["variant"]):
        if variant == reference:
            continue
        other = frame[frame["variant"] == variant].set_index("seed")
        for key in metrics:
            both = pd.concat([other[key].rename("v"), ref[key].rename("r")], axis=1, join="inner").dropna()
            diffs = (both["v"] - both["r"]).tolist()
            row: dict[str, Any] = {"variant": variant, "metric": key, "n_pairs": len(diffs)}
            if diffs:
                s = summarize_seeds(diffs, CONFIDENCE)
                row.update(difference=s.mean, ci_low=s.ci_low, ci_high=s.ci_high)
            else:
                row.update(difference=math.nan, ci_low=math.nan, ci_high=math.nan)
            row["seeds"] = ",".join(str(int(seed)) for seed in both.index)
            rows.append(row)
    return pd.DataFrame(rows, columns=["variant", "metric", "n_pairs", "difference", "ci_low", "ci_high", "seeds"])


# ---------------------------------------------------------------------------------------------
# Verdicts: computed from the intervals, never written in advance
# ---------------------------------------------------------------------------------------------


def _status(row: Mapping[str, Any], lower_is_better: bool) -> str:
    """'no claim' (fewer than 2 pairs), 'indistinguishable' (the interval holds 0), else 'better' / 'worse' (the ablation)."""
    if int(row["n_pairs"]) < 2 or not (math.isfinite(row["ci_low"]) and math.isfinite(row["ci_high"])):
        return "no claim"
    if row["ci_low"] <= 0.0 <= row["ci_high"]:
        return "indistinguishable"
    lower = row["ci_high"] < 0.0
    return "better" if lower == lower_is_better else "worse"


_PHRASES = {"indistinguishable": "indistinguishable from", "better": "better than", "worse": "worse than"}


def difference_verdict(row: Mapping[str, Any]) -> str:
    """One sentence on one row of :func:`paired_differences`: the ablation against the model as coded on that metric."""
    for col in ("variant", "metric", "n_pairs", "difference", "ci_low", "ci_high"):
        if col not in row:
            raise ValueError(f"row is missing {col!r}; pass a row of paired_differences(...)")
    metric = METRICS[row["metric"]]
    v = VARIANTS.get(row["variant"], Variant(f"the {row['variant']} variant", "is", "the model as coded"))
    direction = "lower" if metric.lower_is_better else "higher"
    head = f"{metric.name[0].upper()}{metric.name[1:]}, {direction} is better:"
    n = int(row["n_pairs"])
    if n == 0:
        return f"{head} no seed was run for both {v.subject} and the model as coded: no claim."
    status = _status(row, metric.lower_is_better)
    if status == "no claim":
        return (f"{head} one seed: no claim for {v.subject} against {v.comparand} "
                f"(single paired difference {row['difference']:+.3g}).")
    return (
        f"{head} {v.subject} {v.verb} {_PHRASES[status]} {v.comparand} (difference {row['difference']:+.3g}, "
        f"{row['variant']} − as coded; {100 * CONFIDENCE:.0f} % interval "
        f"[{row['ci_low']:.3g}, {row['ci_high']:.3g}] over {n} seeds)."
    )


def _statuses(diffs: pd.DataFrame, variant: str, metrics: Sequence[str]) -> dict[str, str]:
    """The status of ``variant`` against the model as coded on each metric ('not run' when it has no row)."""
    out = {}
    for key in metrics:
        rows = diffs[(diffs["variant"] == variant) & (diffs["metric"] == key)]
        out[key] = "not run" if rows.empty else _status(rows.iloc[0], METRICS[key].lower_is_better)
    return out


def _names(keys: Sequence[str]) -> str:
    names = [METRICS[k].name for k in keys]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def contribution_verdict(diffs: pd.DataFrame, metrics: Sequence[str] = VERDICT_METRICS) -> str:
    """What the quantum part contributes, in plain words, from :func:`paired_differences` (zeros and classical rows).

    The circuit's features help on a metric when the zeroed features are worse there (interval away from 0),
    hurt when they are better, and make no detectable difference when the interval holds 0; the classical
    block says whether a classical (t, label) path of the same size does as well.  Fewer than two paired seeds
    on every metric: no claim.
    """
    _require(diffs, ["variant", "metric", "n_pairs", "difference", "ci_low", "ci_high"])
    zeros = _statuses(diffs, "zeros", metrics)
    classical = _statuses(diffs, "classical", metrics)
    decided = [k for k, s in zeros.items() if s in ("better", "worse", "indistinguishable")]
    if not decided:
        pairs = diffs.loc[diffs["variant"] == "zeros", "n_pairs"]
        n = int(pairs.max()) if len(pairs) else 0
        if n == 0:
            return ("No run of the zeroed features is paired by seed with one of the model as coded, so this page "
                    "makes no claim about what the quantum part contributes.")
        seeds = "one seed" if n == 1 else f"{n} paired seeds"
        return (f"With {seeds} of the model as coded and of the zeroed features, this page makes no claim about what "
                "the quantum part contributes: an interval over seeds needs at least two.")
    helped = [k for k in decided if zeros[k] == "worse"]
    hurt = [k for k in decided if zeros[k] == "better"]
    same = [k for k in decided if zeros[k] == "indistinguishable"]
    parts = []
    if helped:
        parts.append(f"makes the model measurably worse on {_names(helped)}")
    if same:
        parts.append(f"makes no difference the seeds can detect on {_names(same)}")
    if hurt:
        parts.append(f"makes the model measurably better on {_names(hurt)}")
    text = "Measured here, replacing the circuit's features by zeros " + "; it ".join(parts) + "."
    if helped:
        matched = [k for k in helped if classical[k] in ("indistinguishable", "better")]
        short = [k for k in helped if classical[k] == "worse"]
        if matched:
            text += f" A classical (t, label) block of the same size does as well or better on {_names(matched)}."
        if short:
            text += f" A classical (t, label) block of the same size does not match the circuit on {_names(short)}."
        if not matched and not short:
            text += " Whether a classical block of the same size would do as well is not decided by these runs."
    elif not hurt:
        text += (" The network without them, whose decoder sees neither t nor the digit, does as well on these metrics:"
                 " the circuit's contribution is not detectable at this budget.")
    else:
        text += " The network does better without its quantum part on those metrics."
    return text


def summary_glue(summary: pd.DataFrame) -> dict[str, Any]:
    """Glue values of :func:`variant_summary` for every variant and metric, present or not (the page must build either way).

    Keys ``<slug>-<metric>-mean`` (NaN when the variant has no run), ``-seeds`` (0) and ``-images`` ("- vs -").
    """
    _require(summary, ["variant", "metric", "n_seeds", "mean", "n_generated", "n_reference"])
    rows = summary.set_index(["variant", "metric"])
    out: dict[str, Any] = {}
    for variant, slug in VARIANT_SLUGS.items():
        for key in METRICS:
            r = rows.loc[(variant, key)] if (variant, key) in rows.index else None
            out[f"{slug}-{key}-mean"] = float(r["mean"]) if r is not None else math.nan
            out[f"{slug}-{key}-seeds"] = int(r["n_seeds"]) if r is not None else 0
            out[f"{slug}-{key}-images"] = f"{r['n_generated']} vs {r['n_reference']}" if r is not None else "- vs -"
    return out


def verdict_glue(diffs: pd.DataFrame) -> dict[str, str]:
    """:func:`difference_verdict` for every ablation and metric as ``verdict-<slug>-<metric>``; a variant without a
    paired run gets the no-claim sentence (so the page builds whichever runs exist)."""
    _require(diffs, ["variant", "metric", "n_pairs", "difference", "ci_low", "ci_high"])
    rows = diffs.set_index(["variant", "metric"])
    out = {}
    for variant, slug in VARIANT_SLUGS.items():
        if variant == REFERENCE:
            continue
        for key in METRICS:
            if (variant, key) in rows.index:
                row = {"variant": variant, "metric": key, **rows.loc[(variant, key)].to_dict()}
            else:
                row = {"variant": variant, "metric": key, "n_pairs": 0, "difference": math.nan, "ci_low": math.nan,
                       "ci_high": math.nan}
            out[f"verdict-{slug}-{key}"] = difference_verdict(row)
    return out


def comparison_table(summary: pd.DataFrame, metrics: Sequence[str] = tuple(METRICS)) -> pd.DataFrame:
    """The page's table: one row per variant, per metric "mean [ci_low, ci_high]" (one seed: the value), seeds and images."""
    _require(summary, ["variant", "metric", "n_seeds", "mean", "ci_low", "ci_high", "n_generated", "n_reference"])
    rows = []
    for variant, group in summary.groupby("variant", sort=False):
        g = group.set_index("metric")
        row: dict[str, Any] = {"variant": variant}
        for key in metrics:
            if key not in g.index:
                continue
            r = g.loc[key]
            digits = 3 if key in ("kid", "published_kid", "classifier_accuracy") else 1
            if r["n_seeds"] == 0:
                cell = "-"
            elif r["n_seeds"] == 1:
                cell = f"{r['mean']:.{digits}f}"
            else:
                cell = f"{r['mean']:.{digits}f} [{r['ci_low']:.{digits}f}, {r['ci_high']:.{digits}f}]"
            row[METRICS[key].name] = cell
            images = r["n_generated"] if r["n_reference"] == "-" else f"{r['n_generated']} vs {r['n_reference']}"
            row[f"images, {METRICS[key].name}"] = images
        row["seeds"] = int(g["n_seeds"].max())
        rows.append(row)
    return pd.DataFrame(rows)


def per_label_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Long form of the per-digit accuracy: variant, seed, digit, accuracy (from the ``digit d`` columns of :func:`run_frame`)."""
    _require(frame, ["variant", "seed"])
    cols = [c for c in frame.columns if c.startswith("digit ")]
    long = frame.melt(id_vars=["variant", "seed"], value_vars=cols, var_name="digit", value_name="accuracy")
    long["digit"] = long["digit"].str.removeprefix("digit ").astype(int)
    return long.dropna(subset=["accuracy"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# The report's own statements (cited data), beside the re-measured values
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportStatement:
    """One FID statement of jo2026ano's final report: where, the words, the number(s), what it measures."""

    where: str
    words: str
    low: float
    high: float
    what: str


#: jo2026ano, final report (5 Feb 2026): every FID it states, all for the one hybrid model (no baseline model).
REPORT_STATEMENTS: tuple[ReportStatement, ...] = (
    ReportStatement("§8.3, p. 15", "an FID of approximately 150", 150.0, 150.0, "the hybrid model, in training"),
    ReportStatement("§8.3, p. 15", "a score of 110", 110.0, 110.0, "the hybrid model, same paragraph"),
    ReportStatement("Fig. 7 caption, p. 18", "stabilizing around 110", 110.0, 110.0, "the hybrid model, epochs 10-100"),
    ReportStatement("§9, p. 19", "oscillations ranging between 110 and 160", 110.0, 160.0, "the hybrid model, in training"),
    ReportStatement("§8.3, p. 15", "baseline 8.79", 8.79, 8.79,
                    "real vs real: 2,000 training vs 2,000 test images at full contrast (another protocol)"),
)

#: jo2026ano, report Fig. 7 (p. 18), read off the plot (±2): FID every 10 epochs, 256 label-0 samples vs the
#: first 256 training images (circuit_training.py 215–252).
REPORT_FIG7: dict[int, float] = {10: 146.0, 20: 175.0, 30: 162.0, 40: 157.0, 50: 115.0, 60: 161.0, 70: 165.0,
                                 80: 168.0, 90: 157.0, 100: 153.0}

#: How far off a value read off report Fig. 7 may be (FID units).
REPORT_FIG7_READ_ERROR = 2.0

#: jo2026ano, trainer.py 47 and circuit_training.py 113–119: one epoch = 253 batches of 32 (8,096 images).
PAPER_BATCH_SIZE = 32


def project_epochs(cfg: ExperimentConfig) -> float:
    """A run's training length in the project's epochs: steps × batch / (253 × 32) images (jo2026ano, trainer.py 47)."""
    return cfg.train.steps * cfg.train.batch_size / (PAPER_EPOCH_STEPS * PAPER_BATCH_SIZE)


def report_frame() -> pd.DataFrame:
    """:data:`REPORT_STATEMENTS` and the Fig. 7 curve's summary (range, last point) as rows: source, statement, FID, what."""
    rows = [{"source": f"jo2026ano {s.where}", "statement": f'"{s.words}"',
             "FID": f"{s.low:g}" if s.low == s.high else f"{s.low:g}-{s.high:g}", "what": s.what}
            for s in REPORT_STATEMENTS]
    values = list(REPORT_FIG7.values())
    rows.append({"source": "jo2026ano Fig. 7, p. 18 (read off the plot)",
                 "statement": f"epochs {min(REPORT_FIG7)}-{max(REPORT_FIG7)}: " + ", ".join(f"{v:g}" for v in values),
                 "FID": f"{min(values):g}-{max(values):g} (last {values[-1]:g})",
                 "what": "the hybrid model, every 10 epochs, 256 label-0 samples vs the first 256 training images"})
    return pd.DataFrame(rows)


def report_beside_table(frame: pd.DataFrame, configs: Mapping[str, ExperimentConfig]) -> pd.DataFrame:
    """:func:`report_frame` with, below it, the project's-protocol FID re-measured here for every variant run.

    One row per variant with a value: mean and 95 % interval over seeds (one seed: the value), the image counts
    and the training length in project epochs (:func:`project_epochs` of ``configs[variant]``).
    """
    _require(frame, ["variant", "seed", "published_fid", "published_n_samples", "published_n_reference"])
    rows = report_frame().to_dict("records")
    for variant, group in frame.groupby("variant", sort=False):
        values = group["published_fid"].dropna()
        if values.empty:
            continue
        s = summarize_seeds(values.tolist(), CONFIDENCE)
        fid = f"{s.mean:.1f}" if s.n == 1 else f"{s.mean:.1f} [{s.ci_low:.1f}, {s.ci_high:.1f}]"
        cfg = configs.get(variant)
        epochs = f", {project_epochs(cfg):.2f} project epochs" if cfg is not None else ""
        rows.append({
            "source": f"re-measured here ({variant})",
            "statement": f"{s.n} seed(s), {_counts(group['published_n_samples'])} label-0 samples vs "
                         f"{_counts(group['published_n_reference'])} reference images, unscaled{epochs}",
            "FID": fid, "what": "the project's protocol (as coded: 256 vs 256)",
        })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Parameter counts
# ---------------------------------------------------------------------------------------------


#: The network's parts in forward order (qdm.models.ano.AnoDenoiser's parameters).
PART_ORDER: tuple[str, ...] = ("enc1", "enc2", "norm", "angle_table", "ano_raw", "classical_block", "dec1", "dec2")


def parameter_table(configs: Mapping[str, ExperimentConfig]) -> pd.DataFrame:
    """Trainable parameters by part (rows) of each variant's network (columns), from the family's parameter_counts hook."""
    if not isinstance(configs, Mapping) or not configs:
        raise ValueError("configs must be a non-empty mapping variant -> ExperimentConfig")
    counts = {}
    for variant, cfg in configs.items():
        hook = get_family(cfg.family).parameter_counts
        if hook is None:
            raise ValueError(f"the {cfg.family} family has no parameter_counts hook")
        counts[variant] = hook(cfg)
    found = {k for c in counts.values() for k in c if k not in ("quantum", "classical", "total")}
    parts = [p for p in PART_ORDER if p in found] + sorted(found - set(PART_ORDER))
    table = pd.DataFrame(counts).reindex([*parts, "quantum", "classical", "total"]).fillna(0).astype(int)
    table.index.name = "part"
    return table.reset_index()


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------



def plot_per_label_accuracy(frame: pd.DataFrame, variants: Sequence[str] = tuple(VARIANTS)) -> Figure:
    """Heat map of the classifier accuracy per variant (rows) and digit (columns), mean over seeds, annotated."""
    long = per_label_frame(frame)
    if long.empty:
        return empty_figure("no finished run: no per-digit accuracy")
    table = long.groupby(["variant", "digit"])["accuracy"].mean().unstack("digit")
    rows = [v for v in variants if v in table.index] + [v for v in table.index if v not in variants]
    table = table.reindex(rows)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * table.shape[1], 0.9 + 0.45 * table.shape[0]))
    sns.heatmap(table, vmin=0.0, vmax=1.0, annot=True, fmt=".2f", cmap="viridis", cbar_kws={"label": "accuracy"}, ax=ax)
    ax.set_xlabel("requested digit")
    ax.set_ylabel("")
    fig.tight_layout()
    return fig


def digit_rows(samples: Tensor, classes: Sequence[int], max_rows: int | None = None) -> dict[str, Tensor]:
    """Samples by digit: row r holds the r-th sample drawn for each digit of ``classes`` (sample i is digit classes[i mod C]).

    Rows are ``max_rows`` at most and only complete ones (each digit has an r-th sample) are kept.
    """
    if not isinstance(samples, Tensor) or samples.ndim != 4:
        raise ValueError(f"samples must be images (n, C, H, W), got {getattr(samples, 'shape', type(samples).__name__)}")
    classes = [int(c) for c in classes]
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct digits, got {classes!r}")
    by_digit = {c: [i for i in range(samples.shape[0]) if classes[i % len(classes)] == c] for c in classes}
    n_rows = min(len(v) for v in by_digit.values())
    if max_rows is not None:
        n_rows = min(n_rows, check_int(max_rows, "max_rows", 1))
    return {f"draw {r + 1}": samples[[by_digit[c][r] for c in classes]] for r in range(n_rows)}


def plot_variant_samples(record: RunRecord | None, max_rows: int = 6) -> Figure:
    """A run's samples (:func:`qdm.runner.run_samples`; a ledger entry keeps the first 64) in rows, one column per digit."""
    if record is None:
        return empty_figure("this variant has no finished run at this profile")
    classes = record.config.data.classes
    rows = digit_rows(run_samples(record), classes, max_rows)
    if not rows:
        return empty_figure("fewer samples than digits: no complete row")
    return plot_image_rows(rows, col_titles=[str(c) for c in classes])


def plot_report_beside(frame: pd.DataFrame, configs: Mapping[str, ExperimentConfig], variant: str = REFERENCE) -> Figure:
    """The report's Fig. 7 FID curve (read off the plot) and stated values, beside the project's-protocol FID re-measured here.

    x: training length in the project's epochs (:func:`project_epochs`); one marker per seed of ``variant``.
    """
    _require(frame, ["variant", "seed", "published_fid"])
    fig, ax = plt.subplots(figsize=(8.4, 3.6))
    epochs = list(REPORT_FIG7)
    ax.plot(epochs, list(REPORT_FIG7.values()), "o-", color="C0", label="report Fig. 7 (read off the plot)")
    ax.axhspan(110, 160, color="C0", alpha=0.08, label='report §9: "between 110 and 160"')
    ax.axhline(150, color="C0", ls="--", lw=1, label='report §8.3: "approximately 150"')
    mine = frame[(frame["variant"] == variant)].dropna(subset=["published_fid"])
    if not mine.empty and variant in configs:
        x = project_epochs(configs[variant])
        ax.scatter([x] * len(mine), mine["published_fid"], marker="s", color="C1", zorder=3,
                   label=f"re-measured here, {variant} ({len(mine)} seed{'s' if len(mine) > 1 else ''})")
    ax.set_xlabel(f"training length (project epochs of {PAPER_EPOCH_STEPS * PAPER_BATCH_SIZE:,} images)")
    ax.set_ylabel("FID (the project's protocol)")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig

