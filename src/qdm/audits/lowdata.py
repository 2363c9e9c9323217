"""The low-data study (issue 19): does the quantum bottleneck of [chen2025quantum] help with fewer than 100 images?

The paper's central claim is that its hybrid DDPM beats "the identical classical architecture" when fewer than
100 training images are available, but the authors' code trains on every image of a digit (about 6,000) and
scores 5 samples.  This module fixes the study *before* it is run, as typed values:

* the hypothesis, stated once (:data:`HYPOTHESIS`), and the two seed-paired comparisons it is tested on
  (:data:`COMPARISONS`);
* the grid (:class:`LowDataDesign`, :data:`DESIGN`): training-set sizes N, digits, the four variants of the hybrid
  audit, seeds per N (5 for N <= 64, 3 above), nested training subsets (``data.subset_draw=nested``, subset seed =
  training seed, so for one seed the N images are among the M > N images), and the same optimisation budget for
  every N (the profile's, untouched: only the data change);
* the noise-strategy ablation cells (:data:`ARMS`): quantum-generated noise (``model.noise=quantum``,
  :func:`qdm.circuits.quantum_noise`) and the tailored schedule (``model.schedule=tailored``,
  :func:`qdm.schedules.tailored_schedule`), both qdm's stated reconstructions (the paper gives no formula and the
  public code uses neither), against Gaussian noise and the cosine schedule, for the quantum and the classical
  model at N = 64 and N = all;
* the statistics, one named function each: seed-paired differences (:func:`paired_differences`), their 95 %
  t-interval (:func:`paired_t_interval`), the paired t-test (:func:`paired_t_pvalue`), Holm's correction over the
  N < 100 tested (:func:`holm_adjust`) and the effect size d_z (:func:`effect_size_dz`); then the table of tests
  (:func:`hypothesis_table`), the ablation table (:func:`ablation_table`) and the verdict in words
  (:func:`verdict_text`), computed from the numbers.

The jobs ``qdm reproduce lowdata`` runs are made from :data:`DESIGN` by :func:`qdm.chapters.jobs.lowdata_jobs`;
the chapter is ``notebooks/08_lowdata.py`` (:mod:`qdm.chapters.lowdata`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from qdm.audits.chen2025 import PUBLISHED_CHEN2025
from qdm.config import ExperimentConfig
from qdm.presets import CHEN2025_VARIANTS
from qdm.protocols import summarize_seeds

__all__ = [
    "ABLATION_METRICS",
    "ALPHA",
    "ARMS",
    "Arm",
    "COMPARISONS",
    "Cell",
    "Comparison",
    "DESIGN",
    "DIGITS",
    "HYPOTHESIS",
    "HYPOTHESIS_BELOW",
    "LowDataDesign",
    "METRICS",
    "MIN_SAMPLES",
    "Metric",
    "PairedResult",
    "SEEDS",
    "SIZES",
    "ablation_table",
    "cell_of",
    "compare_paired",
    "effect_size_dz",
    "grid_problems",
    "holm_adjust",
    "hypothesis_table",
    "paired_differences",
    "paired_t_interval",
    "paired_t_pvalue",
    "published_points",
    "size_label",
    "summary_table",
    "verdict_text",
]

#: The hypothesis, written before any run of the study: tested per N < 100, per digit, on each of :data:`COMPARISONS`.
HYPOTHESIS = (
    "for N < 100 training images the quantum variant's KID (and FID) is lower than the identical classical "
    "twin's, paired by seed"
)
#: The hypothesis covers the training-set sizes below this.
HYPOTHESIS_BELOW = 100
#: Significance level of the Holm-corrected tests.
ALPHA = 0.05
#: The evaluation the study asks for: at least this many samples against the digit's held-out images (the profile
#: decides what a run draws; the chapter says when a profile draws fewer).
MIN_SAMPLES = 1000


@dataclass(frozen=True)
class Comparison:
    """One seed-paired test of the hypothesis: ``quantum`` against its classical ``twin`` (preset names)."""

    quantum: str
    twin: str
    label: str


#: The two comparisons: the published circuit against the identical classical architecture (the authors' baseline),
#: and the trainable circuit against the classical gate with exactly its parameter count.
COMPARISONS: tuple[Comparison, ...] = (
    Comparison("chen2025", "chen2025-classical", "published circuit vs identical classical architecture"),
    Comparison("chen2025-trainable", "chen2025-matched", "trainable circuit vs parameter-matched twin"),
)


@dataclass(frozen=True)
class Metric:
    """A metric of a run's ``metrics.json``: its key, a label, and whether lower is better (``error``: its SE key)."""

    key: str
    label: str
    lower_is_better: bool
    error: str | None = None


#: What every run reports (the runner's metrics): FID and KID against held-out images of the digit (KID with its
#: jackknife SE), the classifier FID and the fraction classified as the digit, the copy rate against the run's own
#: training images, and precision and recall on Inception features.
METRICS: tuple[Metric, ...] = (
    Metric("kid", "KID", True, "kid_se"),
    Metric("fid", "FID", True),
    Metric("classifier_fid", "classifier FID", True),
    Metric("classifier_accuracy", "fraction classified as the digit", False),
    Metric("memorisation_copy_rate", "copy rate", True),
    Metric("pr_inception_precision", "precision", False),
    Metric("pr_inception_recall", "recall", False),
)
#: The hypothesis' metrics (KID first: it is unbiased at small sample counts, FID is not, chong2020unbiased).
TESTED_METRICS: tuple[str, ...] = ("kid", "fid")
#: The metrics of the noise-strategy ablation table.
ABLATION_METRICS: tuple[str, ...] = ("kid", "fid", "classifier_accuracy", "memorisation_copy_rate")

#: Training-set sizes per digit; None = every training image of the digit.
SIZES: tuple[int | None, ...] = (8, 16, 32, 64, 128, 512, None)
#: Digit 0 (the hybrid audit's) and 6 (a digit of the paper's figures that, unlike 1, is not one stroke).
DIGITS: tuple[int, ...] = (0, 6)
#: The seed pool; each N takes the first :meth:`LowDataDesign.n_seeds` of the seeds it is given.
SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class Arm:
    """A noise strategy: its name, a label and the model overrides that select it (none: the published code's)."""

    name: str
    label: str
    overrides: tuple[str, ...] = ()


#: The noise strategies of [chen2025quantum], as qdm reconstructs them, and the published code's baseline.
ARMS: dict[str, Arm] = {
    "baseline": Arm("baseline", "Gaussian noise, cosine schedule (the published code)"),
    "quantum-noise": Arm("quantum-noise", "quantum-generated noise (qdm's reconstruction)", ("model.noise=quantum",)),
    "tailored": Arm("tailored", "tailored schedule (qdm's reconstruction)", ("model.schedule=tailored",)),
}


def size_label(size: int | None) -> str:
    """A training-set size as the book writes it: the number, or "all"."""
    return "all" if size is None else str(size)


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: a variant (preset) trained on ``size`` images of ``digit`` with noise strategy ``arm``."""

    variant: str
    digit: int
    size: int | None
    arm: str = "baseline"

    def overrides(self) -> tuple[str, ...]:
        """The cell's config overrides; ``{seed}`` stands for the run's seed (the subset seed is the training seed)."""
        return (
            f"data.classes={self.digit}",
            f"data.images_per_class={'null' if self.size is None else self.size}",
            "data.subset_draw=nested",
            "data.subset_seed={seed}",
            *ARMS[self.arm].overrides,
        )


def _check_sizes(sizes: Sequence[int | None], name: str) -> tuple[int | None, ...]:
    """Distinct sizes (ints >= 1 or None = all), smallest first, None last."""
    out = tuple(sizes)
    for s in out:
        if s is not None and (isinstance(s, bool) or not isinstance(s, int) or s < 1):
            raise ValueError(f"{name} must hold ints >= 1 or None (all images), got {s!r}")
    if not out or len(set(out)) != len(out):
        raise ValueError(f"{name} must name at least one size, none twice, got {out!r}")
    return tuple(sorted(out, key=lambda s: math.inf if s is None else s))


def _check_subset(values: Sequence, allowed: Sequence, name: str) -> tuple:
    """Distinct values, each one of ``allowed``, in the given order."""
    out = tuple(values)
    bad = [v for v in out if v not in allowed]
    if not out or bad or len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct values of {list(allowed)}, got {list(out)}")
    return out


@dataclass(frozen=True)
class LowDataDesign:
    """The grid of the study: sizes × digits × variants (baseline arm), plus the ablation cells, and the seed rule.

    ``small_size`` and the seed counts: N <= ``small_size`` takes the first ``small_seeds`` of the given seeds,
    larger N (and "all") the first ``large_seeds``.  Every run keeps the profile's optimisation budget (steps,
    batch, learning rate), so across N only the data change.
    """

    sizes: tuple[int | None, ...] = SIZES
    digits: tuple[int, ...] = DIGITS
    variants: tuple[str, ...] = CHEN2025_VARIANTS
    seeds: tuple[int, ...] = SEEDS
    small_size: int = 64
    small_seeds: int = 5
    large_seeds: int = 3
    ablation_sizes: tuple[int | None, ...] = (64, None)
    ablation_digits: tuple[int, ...] = (0,)
    ablation_variants: tuple[str, ...] = ("chen2025", "chen2025-classical")
    ablation_arms: tuple[str, ...] = ("quantum-noise", "tailored")
    comparisons: tuple[Comparison, ...] = COMPARISONS

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", _check_sizes(self.sizes, "sizes"))
        object.__setattr__(self, "digits", _check_subset(self.digits, range(10), "digits"))
        object.__setattr__(self, "variants", _check_subset(self.variants, CHEN2025_VARIANTS, "variants"))
        seeds = tuple(self.seeds)
        if not seeds or len(set(seeds)) != len(seeds) or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds
        ):
            raise ValueError(f"seeds must be distinct ints >= 0, at least one, got {list(seeds)}")
        object.__setattr__(self, "seeds", seeds)
        for name in ("small_size", "small_seeds", "large_seeds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        object.__setattr__(self, "ablation_sizes", _check_sizes(self.ablation_sizes, "ablation_sizes"))
        object.__setattr__(self, "ablation_digits", _check_subset(self.ablation_digits, range(10), "ablation_digits"))
        object.__setattr__(
            self, "ablation_variants", _check_subset(self.ablation_variants, CHEN2025_VARIANTS, "ablation_variants")
        )
        arms = [a for a in ARMS if a != "baseline"]
        object.__setattr__(self, "ablation_arms", _check_subset(self.ablation_arms, arms, "ablation_arms"))

    def n_seeds(self, size: int | None) -> int:
        """How many seeds a cell of ``size`` runs: ``small_seeds`` for N <= ``small_size``, else ``large_seeds``."""
        return self.small_seeds if size is not None and size <= self.small_size else self.large_seeds

    def seeds_for(self, size: int | None) -> tuple[int, ...]:
        """The seeds of a cell of ``size``: the first :meth:`n_seeds` of :attr:`seeds`."""
        return self.seeds[: self.n_seeds(size)]

    def main_cells(self) -> tuple[Cell, ...]:
        """Every variant × digit × size, Gaussian noise and the cosine schedule (the published code's)."""
        return tuple(Cell(v, d, n) for d in self.digits for n in self.sizes for v in self.variants)

    def ablation_cells(self) -> tuple[Cell, ...]:
        """The noise-strategy cells: ablation digits × sizes × variants × arms that this grid holds."""
        return tuple(
            Cell(v, d, n, arm)
            for d in self.ablation_digits if d in self.digits
            for n in self.ablation_sizes if n in self.sizes
            for v in self.ablation_variants if v in self.variants
            for arm in self.ablation_arms
        )

    def cells(self) -> tuple[Cell, ...]:
        """The main cells, then the ablation cells (their baselines are main cells)."""
        return self.main_cells() + self.ablation_cells()

    def n_runs(self) -> int:
        """Runs of the whole grid: each cell times its seeds."""
        return sum(len(self.seeds_for(c.size)) for c in self.cells())

    def restrict(
        self,
        sizes: Sequence[int | None] | None = None,
        digits: Sequence[int] | None = None,
        variants: Sequence[str] | None = None,
        seeds: Sequence[int] | None = None,
    ) -> LowDataDesign:
        """A smaller grid of this one (each value one of this design's, so its jobs are among this design's);
        ``seeds`` may be any seeds (the seed rule takes the first ones)."""
        kwargs: dict = {}
        if sizes is not None:
            kwargs["sizes"] = _check_subset(_check_sizes(sizes, "sizes"), self.sizes, "sizes")
        if digits is not None:
            kwargs["digits"] = _check_subset(digits, self.digits, "digits")
        if variants is not None:
            kwargs["variants"] = _check_subset(variants, self.variants, "variants")
        if seeds is not None:
            kwargs["seeds"] = tuple(seeds)
        return LowDataDesign(**{**self.__dict__, **kwargs})


#: The study as the issue asks for it.
DESIGN = LowDataDesign()


def grid_problems(design: LowDataDesign) -> list[str]:
    """What a design lacks against the issue's minimum (empty when it meets it): at least three sizes below 100 and
    two at or above (all images counts), digit 0 and one more, the four variants, at least 3 seeds per cell and 5 for
    N <= 64, nested subsets (always: :meth:`Cell.overrides`), ablations at N = 64 and N = all for the quantum and the
    classical model."""
    problems = []
    small = [n for n in design.sizes if n is not None and n < HYPOTHESIS_BELOW]
    if len(small) < 3:
        problems.append(f"only {len(small)} sizes below {HYPOTHESIS_BELOW} (at least 3)")
    if len(design.sizes) - len(small) < 2:
        problems.append(f"only {len(design.sizes) - len(small)} sizes at or above {HYPOTHESIS_BELOW} (at least 2)")
    if 0 not in design.digits or len(design.digits) < 2:
        problems.append(f"digits {design.digits}: digit 0 and at least one more")
    if set(design.variants) != set(CHEN2025_VARIANTS):
        problems.append(f"variants {design.variants}: all four of {CHEN2025_VARIANTS}")
    for n in design.sizes:
        want = 5 if n is not None and n <= 64 else 3
        if design.n_seeds(n) < want or len(design.seeds) < want:
            problems.append(f"N = {size_label(n)} runs {min(design.n_seeds(n), len(design.seeds))} seeds (at least {want})")
    if not {64, None} <= set(design.ablation_sizes) or not {"chen2025", "chen2025-classical"} <= set(design.ablation_variants):
        problems.append("the ablations need N = 64 and N = all, for chen2025 and chen2025-classical")
    return problems


def published_points() -> pd.DataFrame:
    """[chen2025quantum]'s published MNIST FIDs (:data:`qdm.audits.chen2025.PUBLISHED_CHEN2025`, the authors' README)
    as points of the study: variant, metric, size (None: the authors' code trains on every image of a digit), value.

    They are one run each, 5 generated images against the first training images of any digit (the README does not
    name the digit; the authors' metric script scores digit 9), so they mark where the paper stands, not a value
    comparable with FIDs of 1000 samples (chong2020unbiased).  No KID or other metric is published.
    """
    rows = [{"variant": variant, "metric": "fid", "size": None, "value": fid,
             "source": "chen2025quantum (authors' README): one run, 5 samples"}
            for (variant, dataset), (fid, _ssim) in PUBLISHED_CHEN2025.items() if dataset == "mnist"]
    return pd.DataFrame(rows, columns=["variant", "metric", "size", "value", "source"])


def cell_of(cfg: ExperimentConfig) -> tuple[Cell, int]:
    """The cell and seed a resolved config of the grid belongs to (read from the config, not from a job list)."""
    variant = (cfg.preset or cfg.experiment).split("@", 1)[0]
    if variant not in CHEN2025_VARIANTS or len(cfg.data.classes) != 1:
        raise ValueError(f"config {cfg.experiment!r} ({cfg.preset}) is not a run of the low-data grid")
    m = cfg.model
    arm = "quantum-noise" if m.noise == "quantum" else "tailored" if m.schedule == "tailored" else "baseline"
    return Cell(variant, cfg.data.classes[0], cfg.data.images_per_class, arm), cfg.train.seed


# ---------------------------------------------------------------------------------------------
# Statistics: seed-paired differences, t-interval, t-test, Holm, effect size
# ---------------------------------------------------------------------------------------------


def paired_differences(a: Mapping[int, float], b: Mapping[int, float]) -> tuple[tuple[int, ...], np.ndarray]:
    """(seeds, a[s] − b[s]) over the seeds both hold with finite values: the pairing of a seed-paired design.

    Two runs of the same seed share their training images (nested subset of that seed) and training seed, so
    their difference removes what the seed does to both.
    """
    seeds = tuple(sorted(s for s in a if s in b and math.isfinite(a[s]) and math.isfinite(b[s])))
    return seeds, np.array([float(a[s]) - float(b[s]) for s in seeds], dtype=np.float64)


def paired_t_interval(diffs: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """student1908probable: the t-interval of the mean of n paired differences, mean ± t_{(1+c)/2, n−1} · s/√n
    (:func:`qdm.protocols.summarize_seeds`; NaN with fewer than two pairs)."""
    values = [float(d) for d in diffs]
    if len(values) < 2:
        return math.nan, math.nan
    s = summarize_seeds(values, confidence)
    return s.ci_low, s.ci_high


def paired_t_pvalue(diffs: Sequence[float]) -> float:
    """student1908probable: two-sided p-value of the paired t-test of mean difference 0,
    t = mean / (s/√n) on n − 1 degrees of freedom (NaN with fewer than two pairs; 1 or 0 when every difference
    is the same: 0 if that common difference is not 0)."""
    values = [float(d) for d in diffs]
    if len(values) < 2:
        return math.nan
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    if sd == 0:
        return 1.0 if mean == 0 else 0.0
    t = mean / (sd / math.sqrt(len(values)))
    return float(2 * student_t.sf(abs(t), len(values) - 1))


def holm_adjust(pvalues: Sequence[float]) -> list[float]:
    """holm1979simple §1 (the sequentially rejective Bonferroni test): Holm-adjusted p-values.

    With the m finite p-values ordered p_(1) <= ... <= p_(m), the adjusted value of p_(i) is
    max_{j <= i} min(1, (m − j + 1) p_(j)); rejecting the hypotheses whose adjusted p is <= α is Holm's test at
    familywise level α.  NaN entries (untested) stay NaN and do not count in m.
    """
    values = [float(p) for p in pvalues]
    if any(math.isfinite(p) and not 0 <= p <= 1 for p in values):
        raise ValueError(f"pvalues must lie in [0, 1] (or be NaN), got {values}")
    order = sorted((p, i) for i, p in enumerate(values) if math.isfinite(p))
    m = len(order)
    out = [math.nan] * len(values)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def effect_size_dz(diffs: Sequence[float]) -> float:
    """lakens2013effect ("Cohen's d_z", the within-subjects standardised mean difference): mean of the differences
    over their standard deviation (ddof 1); NaN with fewer than two pairs, ±inf when they do not vary."""
    values = [float(d) for d in diffs]
    if len(values) < 2:
        return math.nan
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    if sd == 0:
        return math.nan if mean == 0 else math.copysign(math.inf, mean)
    return mean / sd


@dataclass(frozen=True)
class PairedResult:
    """A seed-paired comparison a − b: the seeds, mean difference, 95 % t-interval, p-value and d_z."""

    seeds: tuple[int, ...]
    mean: float
    ci_low: float
    ci_high: float
    p: float
    d_z: float

    @property
    def n(self) -> int:
        return len(self.seeds)


def compare_paired(a: Mapping[int, float], b: Mapping[int, float], confidence: float = 0.95) -> PairedResult:
    """The paired differences of ``a`` and ``b`` (by seed), their interval, p-value and effect size."""
    seeds, diffs = paired_differences(a, b)
    mean = float(diffs.mean()) if len(diffs) else math.nan
    low, high = paired_t_interval(diffs, confidence)
    return PairedResult(seeds, mean, low, high, paired_t_pvalue(diffs), effect_size_dz(diffs))


# ---------------------------------------------------------------------------------------------
# Tables and the verdict
# ---------------------------------------------------------------------------------------------

_RUN_COLUMNS = ("variant", "digit", "size", "arm", "seed")


def _by_seed(runs: pd.DataFrame, variant: str, digit: int, size: int | None, arm: str, metric: str) -> dict[int, float]:
    """{seed: value} of one cell's runs (an empty dict when the cell has none)."""
    if metric not in runs.columns:
        return {}
    rows = runs[(runs.variant == variant) & (runs.digit == digit) & (runs.arm == arm)]
    rows = rows[rows["size"].isna()] if size is None else rows[rows["size"] == size]
    return {int(s): float(v) for s, v in zip(rows.seed, rows[metric], strict=True)}


def _check_runs(runs: pd.DataFrame) -> None:
    missing = [c for c in _RUN_COLUMNS if c not in runs.columns]
    if missing:
        raise ValueError(f"runs must have the columns {list(_RUN_COLUMNS)} (one row per run), missing {missing}")


def _word(mean: float, p_holm: float, lower_is_better: bool, alpha: float) -> str:
    """Direction of a tested difference quantum − twin in words."""
    if not math.isfinite(p_holm):
        return "not tested (fewer than two seed pairs)"
    if p_holm > alpha:
        return "no difference shown"
    better = mean < 0 if lower_is_better else mean > 0
    return "quantum better (supports)" if better else "quantum worse (reverses)"


def hypothesis_table(
    runs: pd.DataFrame,
    design: LowDataDesign = DESIGN,
    metrics: Sequence[str] = TESTED_METRICS,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Per comparison, metric, digit and N: the seed-paired difference quantum − twin, its 95 % t-interval, p-value,
    Holm-corrected p-value (over the N < 100 of that comparison, metric and digit: the hypothesis' family) and d_z.

    ``runs``: one row per run (columns variant, digit, size (NaN = all), arm, seed and the metrics).  N >= 100 rows
    are reported with their p-value but are not part of the test (``tested`` False, no Holm value).  Cells with
    fewer than two seed pairs have NaN statistics and count as untested.
    """
    _check_runs(runs)
    by_key = {m.key: m for m in METRICS}
    rows = []
    for comp in design.comparisons:
        if comp.quantum not in design.variants or comp.twin not in design.variants:
            continue
        for metric in metrics:
            for digit in design.digits:
                block = []
                for size in design.sizes:
                    r = compare_paired(
                        _by_seed(runs, comp.quantum, digit, size, "baseline", metric),
                        _by_seed(runs, comp.twin, digit, size, "baseline", metric),
                    )
                    small = size is not None and size < HYPOTHESIS_BELOW
                    block.append({
                        "comparison": f"{comp.quantum} − {comp.twin}", "metric": metric, "digit": digit,
                        "N": size_label(size), "size": size, "pairs": r.n, "mean_diff": r.mean, "ci_low": r.ci_low,
                        "ci_high": r.ci_high, "p": r.p, "d_z": r.d_z, "hypothesis": small,
                        "tested": small and math.isfinite(r.p),
                    })
                adjusted = holm_adjust([row["p"] if row["tested"] else math.nan for row in block])
                for row, p_holm in zip(block, adjusted, strict=True):
                    row["p_holm"] = p_holm
                    if row["tested"]:
                        row["result"] = _word(row["mean_diff"], p_holm, by_key[metric].lower_is_better, alpha)
                    elif math.isfinite(row["p"]):
                        row["result"] = "descriptive (N >= 100, not in the test)"
                    else:
                        row["result"] = "not tested (fewer than two seed pairs)"
                rows += block
    columns = ["comparison", "metric", "digit", "N", "size", "pairs", "mean_diff", "ci_low", "ci_high", "p", "p_holm",
               "d_z", "hypothesis", "tested", "result"]
    return pd.DataFrame(rows, columns=columns)


def summary_table(runs: pd.DataFrame, metrics: Iterable[Metric] = METRICS) -> pd.DataFrame:
    """Per cell (variant, digit, size, arm) and metric: seeds, mean and 95 % t-interval over seeds (NaN with one seed),
    and for KID the mean jackknife SE of the runs."""
    _check_runs(runs)
    rows = []
    keys = ["variant", "digit", "size", "arm"]
    frame = runs.assign(size=runs["size"].astype("float64"))
    for (variant, digit, size, arm), group in frame.groupby(keys, dropna=False, sort=True):
        for m in metrics:
            if m.key not in group.columns:
                continue
            values = [float(v) for v in group[m.key] if math.isfinite(float(v))]
            if not values:
                continue
            s = summarize_seeds(values)
            row = {"variant": variant, "digit": int(digit), "size": None if math.isnan(size) else int(size),
                   "N": size_label(None if math.isnan(size) else int(size)), "arm": arm, "metric": m.key,
                   "seeds": s.n, "mean": s.mean, "ci_low": s.ci_low, "ci_high": s.ci_high}
            if m.error and m.error in group.columns:
                row["mean_se"] = float(np.nanmean(group[m.error].astype(float)))
            rows.append(row)
    columns = ["variant", "digit", "N", "size", "arm", "metric", "seeds", "mean", "ci_low", "ci_high", "mean_se"]
    return pd.DataFrame(rows).reindex(columns=columns)


def ablation_table(
    runs: pd.DataFrame, design: LowDataDesign = DESIGN, metrics: Sequence[str] = ABLATION_METRICS, alpha: float = ALPHA
) -> pd.DataFrame:
    """Per ablation digit, N, variant, arm and metric: the arm's mean over seeds, the baseline's, and the seed-paired
    difference arm − baseline with its 95 % t-interval, p-value, Holm-corrected p-value (over every row of the same
    metric) and d_z."""
    _check_runs(runs)
    rows = []
    for metric in metrics:
        block = []
        for digit in design.ablation_digits:
            for size in design.ablation_sizes:
                for variant in design.ablation_variants:
                    base = _by_seed(runs, variant, digit, size, "baseline", metric)
                    for arm in design.ablation_arms:
                        other = _by_seed(runs, variant, digit, size, arm, metric)
                        r = compare_paired(other, base)
                        block.append({
                            "metric": metric, "digit": digit, "N": size_label(size), "variant": variant, "arm": arm,
                            "arm_mean": float(np.mean(list(other.values()))) if other else math.nan,
                            "baseline_mean": float(np.mean(list(base.values()))) if base else math.nan,
                            "pairs": r.n, "mean_diff": r.mean, "ci_low": r.ci_low, "ci_high": r.ci_high, "p": r.p,
                            "d_z": r.d_z,
                        })
        for row, p_holm in zip(block, holm_adjust([row["p"] for row in block]), strict=True):
            row["p_holm"] = p_holm
        rows += block
    columns = ["metric", "digit", "N", "variant", "arm", "arm_mean", "baseline_mean", "pairs", "mean_diff", "ci_low",
               "ci_high", "p", "p_holm", "d_z"]
    return pd.DataFrame(rows, columns=columns)


def verdict_text(table: pd.DataFrame, alpha: float = ALPHA) -> str:
    """The verdict in plain words, from :func:`hypothesis_table`'s rows: per comparison and metric, at which digits
    and N < 100 the quantum variant was better or worse (Holm-corrected p <= alpha), where no difference was shown,
    and which cells could not be tested."""
    tested = table[table["hypothesis"].astype(bool)] if len(table) else table
    if tested.empty:
        return "No comparison of the hypothesis is in this grid, so nothing can be said about it."
    sentences = []
    for (comparison, metric), group in tested.groupby(["comparison", "metric"], sort=False):
        label = next(m.label for m in METRICS if m.key == metric)
        parts = []
        for word, phrase in (("supports", "lower (better) for the quantum variant"),
                             ("reverses", "higher (worse) for the quantum variant"),
                             ("no difference", "not distinguishable"),
                             ("not tested", "not testable (fewer than two seed pairs)")):
            hits = group[group["result"].str.contains(word, regex=False)]
            if len(hits):
                where = ", ".join(f"digit {int(r.digit)} N = {r.N}" for r in hits.itertuples())
                parts.append(f"{phrase} at {where}")
        n_support = int(group["result"].str.contains("supports", regex=False).sum())
        n_tested = int(group["tested"].sum())
        sentences.append(
            f"{comparison}, {label}: {'; '.join(parts)} "
            f"({n_support} of {n_tested} tested cells support the hypothesis at Holm-corrected p <= {alpha:g})."
        )
    return " ".join(sentences)
