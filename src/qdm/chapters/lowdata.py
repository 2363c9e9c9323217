"""The low-data chapter (``notebooks/08_lowdata.py``): the study of :mod:`qdm.audits.lowdata`, shown from the ledger.

The notebook's parameters pick a part of the grid (:class:`LowDataKnobs`; the defaults are the whole study at the
``book`` profile), :func:`study_runs` serves its runs from the local results store or the ledger
(:func:`qdm.chapters.runs.chapter_runs`: nothing is trained unless ``train_missing``), and the rest turns those
runs into the page: a tidy frame (:func:`runs_frame`), the metrics against N (:func:`plot_metrics`), the copy rate
(:func:`plot_copy_rate`), the tables of the tests and of the ablations as shown (:func:`test_view`,
:func:`ablation_view`), the missing cells (:func:`missing_cells`, :func:`missing_text`) and the verdict
(:func:`verdict`).  When the profile does not resolve (the hybrid presets have no ``book`` profile yet) or the
ledger is empty, every cell is missing and the page says so and names the command that makes them.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from qdm.audits import lowdata as ld
from qdm.chapters.common import check_results_dir, knobs_from, parse_list, results_root
from qdm.chapters.jobs import lowdata_jobs
from qdm.chapters.runs import ChapterRuns, chapter_runs, missing_note
from qdm.data import load_dataset
from qdm.families import PROFILE_NAMES
from qdm.validation import check_choice, check_int

__all__ = [
    "FIGURE_METRICS",
    "LowDataKnobs",
    "ablation_view",
    "budget",
    "design_numbers",
    "figure_frame",
    "from_namespace",
    "ledger_numbers",
    "missing_cells",
    "missing_text",
    "n_all_images",
    "plot_copy_rate",
    "plot_metrics",
    "runs_frame",
    "study_runs",
    "summary_view",
    "test_numbers",
    "test_view",
    "verdict",
]

CHAPTER = "lowdata"
#: The metrics of the figure against N, in panel order (the copy rate has its own figure).
FIGURE_METRICS: tuple[str, ...] = ("kid", "fid", "classifier_fid", "classifier_accuracy", "pr_inception_precision",
                                   "pr_inception_recall")
_LABELS = {m.key: m.label for m in ld.METRICS}


def _parse_sizes(value: str) -> tuple[int | None, ...]:
    items = parse_list("sizes", value)
    out: list[int | None] = []
    for item in items:
        if item == "all":
            out.append(None)
        elif item.isdigit():
            out.append(int(item))
        else:
            raise ValueError(f"sizes must be comma-separated image counts or 'all', got {value!r}")
    return tuple(out)


def _parse_ints(name: str, value: str) -> tuple[int, ...]:
    items = parse_list(name, value)
    if not all(item.isdigit() for item in items):
        raise ValueError(f"{name} must be comma-separated integers >= 0, got {value!r}")
    return tuple(int(item) for item in items)


def _parse_overrides(value: Any) -> tuple[str, ...]:
    if not isinstance(value, str):
        raise ValueError(f"overrides must be a string of ';'-separated key=value overrides ('' for none), got {value!r}")
    items = tuple(s.strip() for s in value.split(";") if s.strip())
    bad = [s for s in items if "=" not in s or not s.split("=", 1)[0].strip()]
    if bad:
        raise ValueError(f"overrides must be ';'-separated key=value overrides, got {bad[0]!r}")
    return items


def _reraise(name: str, err: ValueError) -> ValueError:
    """A design error named by the notebook parameter it came from."""
    text = str(err)
    return ValueError(text if text.startswith(f"{name} must") else f"{name} must be valid: {text}")


@dataclass(frozen=True)
class LowDataKnobs:
    """The chapter's parameters, as the notebook's ``parameters`` cell names them (strings as papermill passes them).

    ``sizes``, ``digits``, ``variants``, ``ablation_arms``: parts of :data:`qdm.audits.lowdata.DESIGN` (comma-separated;
    a size is a count or ``all``); ``seeds``: the seed pool (each N takes the first 5 or 3); ``overrides``:
    ``;``-separated ``key=value`` overrides for every run (``qdm reproduce --set``; the test suite's tiny budget).
    """

    profile: str = "book"
    sizes: str = "8,16,32,64,128,512,all"
    digits: str = "0,6"
    variants: str = ",".join(ld.DESIGN.variants)
    seeds: str = ",".join(str(s) for s in ld.DESIGN.seeds)
    ablation_arms: str = ",".join(ld.DESIGN.ablation_arms)
    overrides: str = ""
    train_missing: bool = False
    workers: int = 1
    results_dir: str = ""

    def __post_init__(self) -> None:
        for name in ("sizes", "digits", "seeds"):  # papermill passes "-p digits 0" as the int 0
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, str(value))
        check_choice(self.profile, "profile", PROFILE_NAMES)
        if not isinstance(self.train_missing, bool):
            raise ValueError(f"train_missing must be True or False, got {self.train_missing!r}")
        check_int(self.workers, "workers", 1)
        check_results_dir(self.results_dir)
        _ = (self.design, self.extra)  # validates sizes, digits, variants, seeds, ablation_arms and overrides

    @property
    def design(self) -> ld.LowDataDesign:
        """The part of :data:`~qdm.audits.lowdata.DESIGN` these parameters select."""
        values: dict[str, Any] = {}
        for name, parse in (("sizes", _parse_sizes), ("digits", lambda v: _parse_ints("digits", v)),
                            ("variants", lambda v: parse_list("variants", v)),
                            ("seeds", lambda v: _parse_ints("seeds", v))):
            try:
                values[name] = parse(getattr(self, name))
                ld.DESIGN.restrict(**{name: values[name]})
            except ValueError as err:
                raise _reraise(name, err) from None
        design = ld.DESIGN.restrict(**values)
        try:
            arms = parse_list("ablation_arms", self.ablation_arms)
            return ld.LowDataDesign(**{**design.__dict__, "ablation_arms": arms})
        except ValueError as err:
            raise _reraise("ablation_arms", err) from None

    @property
    def extra(self) -> tuple[str, ...]:
        """The overrides for every run."""
        return _parse_overrides(self.overrides)

    def as_dict(self) -> dict[str, Any]:
        """Every parameter and its value (for provenance records and glue)."""
        return dict(self.__dict__)


def from_namespace(namespace: Mapping[str, Any]) -> LowDataKnobs:
    """The knobs from a notebook's namespace (its parameters cell plus papermill's injected values)."""
    return knobs_from(LowDataKnobs, namespace)


def study_runs(knobs: LowDataKnobs) -> ChapterRuns:
    """The runs of the selected grid at the profile: from the local store or the ledger; trained only with
    ``train_missing``; every run missing (with the reason) when the profile does not resolve."""
    return chapter_runs(
        CHAPTER, knobs.profile, knobs.design.seeds, train_missing=knobs.train_missing, workers=knobs.workers,
        results_root=results_root(knobs.results_dir), jobs=lowdata_jobs(knobs.design), extra=knobs.extra,
        allow_unresolved=True,
    )


_ERRORS = tuple(m.error for m in ld.METRICS if m.error)


def runs_frame(runs: ChapterRuns) -> pd.DataFrame:
    """One row per run found: its cell (variant, digit, size: NaN = all, arm), seed, where it came from, every metric
    of :data:`qdm.audits.lowdata.METRICS` (NaN where the run has none), the samples and reference images behind the
    FID, and the config hash."""
    rows = []
    for run in runs.found:
        cell, seed = ld.cell_of(run.config)
        m = run.record.metrics
        row = {"variant": cell.variant, "digit": cell.digit, "size": math.nan if cell.size is None else cell.size,
               "arm": cell.arm, "seed": seed, "source": run.source, "config_hash": run.record.config_hash}
        for key in (*(metric.key for metric in ld.METRICS), *_ERRORS, "fid_n_generated", "fid_n_reference"):
            value = m.get(key, math.nan)
            row[key] = float(value) if isinstance(value, (int, float)) else math.nan
        rows.append(row)
    columns = ["variant", "digit", "size", "arm", "seed", "source", "config_hash", *(m.key for m in ld.METRICS),
               *_ERRORS, "fid_n_generated", "fid_n_reference"]
    return pd.DataFrame(rows, columns=columns).astype({"size": "float64"})


def n_all_images(digits: Sequence[int], data_dir: str | None = None) -> dict[int, int]:
    """How many MNIST training images each digit has (the N of "all")."""
    counts = load_dataset("mnist", "train", data_dir=data_dir).class_counts()
    return {int(d): int(counts[d]) for d in digits}


def _x(size: Any, n_all: int) -> float:
    return float(n_all) if size is None or (isinstance(size, float) and math.isnan(size)) else float(size)


def _style_axis(ax: Any, sizes: Sequence[int | None], n_all: int) -> None:
    ticks = [_x(s, n_all) for s in sizes]
    ax.set_xscale("log")
    ax.set_xticks(ticks)
    ax.set_xticklabels([ld.size_label(s) if s is not None else f"all\n({n_all})" for s in sizes], fontsize="x-small")
    ax.minorticks_off()
    ax.margins(x=0.06)
    ax.axvline(ld.HYPOTHESIS_BELOW, color="0.6", lw=0.8, ls=":")


def _panel(ax: Any, summary: pd.DataFrame, design: ld.LowDataDesign, metric: str, digit: int, n_all: int,
           colours: Mapping[str, Any], arm: str = "baseline") -> bool:
    """One metric of one digit against N, a line and a 95 % band per variant; False when no run is there."""
    drawn = False
    for variant in design.variants:
        rows = summary[(summary.metric == metric) & (summary.digit == digit) & (summary.variant == variant)
                       & (summary.arm == arm)]
        if rows.empty:
            continue
        x = np.array([_x(s, n_all) for s in rows["size"]])
        order = np.argsort(x)
        x, mean = x[order], rows["mean"].to_numpy(float)[order]
        low, high = rows["ci_low"].to_numpy(float)[order], rows["ci_high"].to_numpy(float)[order]
        ax.plot(x, mean, "o-", ms=3, color=colours[variant], label=variant)
        ok = np.isfinite(low) & np.isfinite(high)
        if ok.any():
            ax.fill_between(x[ok], low[ok], high[ok], color=colours[variant], alpha=0.2, lw=0)
        drawn = True
    if not drawn:
        ax.text(0.5, 0.5, "no runs", transform=ax.transAxes, ha="center", va="center", color="0.5")
    return drawn


def plot_metrics(summary: pd.DataFrame, design: ld.LowDataDesign, n_all: Mapping[int, int],
                 published: pd.DataFrame | None = None) -> Figure:
    """Each metric of :data:`FIGURE_METRICS` (rows) against N on a log axis, per digit (columns): one line per variant
    (mean over seeds) with its 95 % t-band; published points marked (at N = all); a dotted line at N = 100."""
    colours = dict(zip(ld.CHEN2025_VARIANTS, sns.color_palette(n_colors=len(ld.CHEN2025_VARIANTS)), strict=True))
    fig, axes = plt.subplots(len(FIGURE_METRICS), len(design.digits), figsize=(3.6 * len(design.digits) + 1.5, 11.0),
                             squeeze=False, sharex="col")
    for i, metric in enumerate(FIGURE_METRICS):
        for j, digit in enumerate(design.digits):
            ax = axes[i][j]
            _panel(ax, summary, design, metric, digit, n_all[digit], colours)
            if published is not None and None in design.sizes:  # the published points are at N = all
                pts = published[(published.metric == metric) & published.variant.isin(design.variants)]
                for p in pts.itertuples():
                    ax.plot([_x(p.size, n_all[digit])], [p.value], marker="*", ms=11, ls="none",
                            color=colours[p.variant], markeredgecolor="black", label=f"{p.variant}, published")
            _style_axis(ax, design.sizes, n_all[digit])
            if i == 0:
                ax.set_title(f"digit {digit}")
            if j == 0:
                ax.set_ylabel(_LABELS[metric], fontsize="small")
            if i == len(FIGURE_METRICS) - 1:
                ax.set_xlabel("training images N")
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    if handles:
        fig.legend(handles.values(), handles.keys(), loc="upper center", ncol=3, fontsize="small",
                   bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def plot_copy_rate(summary: pd.DataFrame, design: ld.LowDataDesign, n_all: Mapping[int, int]) -> Figure:
    """The copy rate (samples closer to a training image than held-out images are) against N, per digit."""
    colours = dict(zip(ld.CHEN2025_VARIANTS, sns.color_palette(n_colors=len(ld.CHEN2025_VARIANTS)), strict=True))
    fig, axes = plt.subplots(1, len(design.digits), figsize=(3.6 * len(design.digits) + 1.5, 3.2), squeeze=False)
    for j, digit in enumerate(design.digits):
        ax = axes[0][j]
        _panel(ax, summary, design, "memorisation_copy_rate", digit, n_all[digit], colours)
        _style_axis(ax, design.sizes, n_all[digit])
        ax.set_title(f"digit {digit}")
        ax.set_xlabel("training images N")
        if j == 0:
            ax.set_ylabel("copy rate")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        axes[0][-1].legend(handles, labels, fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


def _ci(low: float, high: float) -> str:
    return "n/a" if not (math.isfinite(low) and math.isfinite(high)) else f"[{low:.4g}, {high:.4g}]"


def _g(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.3g}"


def summary_view(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`qdm.audits.lowdata.summary_table` as the page shows it: one row per cell (variant, digit, N, strategy,
    seeds) and per metric its mean over seeds with the 95 % t-interval; KID also with the mean jackknife SE of its runs.
    """
    columns = ["variant", "digit", "N", "strategy", "seeds", *(_LABELS[m.key] for m in ld.METRICS)]
    if summary.empty:
        return pd.DataFrame(columns=columns)
    rows: dict[tuple, dict[str, Any]] = {}
    for r in summary.itertuples():
        row = rows.setdefault((r.variant, r.digit, r.N, r.arm), {
            "variant": r.variant, "digit": r.digit, "N": r.N, "strategy": ld.ARMS[r.arm].label, "seeds": r.seeds})
        text = f"{r.mean:.4g} {_ci(r.ci_low, r.ci_high)}"
        if isinstance(r.mean_se, float) and math.isfinite(r.mean_se):
            text += f" (SE {r.mean_se:.2g})"
        row[_LABELS[r.metric]] = text
    order = {v: i for i, v in enumerate(ld.CHEN2025_VARIANTS)}
    ranked = sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][3] != "baseline", kv[0][3],
                                                  math.inf if kv[0][2] == "all" else int(kv[0][2]), order[kv[0][0]]))
    return pd.DataFrame([row for _, row in ranked]).reindex(columns=columns).fillna("n/a")


def test_view(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`qdm.audits.lowdata.hypothesis_table` as the page shows it (numbers as text, "n/a" where untested)."""
    return pd.DataFrame({
        "comparison": table.comparison, "metric": [_LABELS[m] for m in table.metric], "digit": table.digit,
        "N": table.N, "seed pairs": table.pairs, "mean difference": [_g(v) for v in table.mean_diff],
        "95 % interval": [_ci(a, b) for a, b in zip(table.ci_low, table.ci_high, strict=True)],
        "p": [_g(v) for v in table.p], "Holm p": [_g(v) for v in table.p_holm], "d_z": [_g(v) for v in table.d_z],
        "result": table.result,
    })


def ablation_view(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`qdm.audits.lowdata.ablation_table` as the page shows it."""
    return pd.DataFrame({
        "metric": [_LABELS[m] for m in table.metric], "digit": table.digit, "N": table.N, "variant": table.variant,
        "strategy": [ld.ARMS[a].label for a in table.arm], "mean": [_g(v) for v in table.arm_mean],
        "baseline mean": [_g(v) for v in table.baseline_mean], "seed pairs": table.pairs,
        "difference": [_g(v) for v in table.mean_diff],
        "95 % interval": [_ci(a, b) for a, b in zip(table.ci_low, table.ci_high, strict=True)],
        "p": [_g(v) for v in table.p], "Holm p": [_g(v) for v in table.p_holm], "d_z": [_g(v) for v in table.d_z],
    })


def missing_cells(runs: ChapterRuns, design: ld.LowDataDesign) -> pd.DataFrame:
    """Per cell of the grid: the seeds it asks for, those found and those missing (every seed when the profile does
    not resolve)."""
    found: dict[ld.Cell, set[int]] = {}
    for run in runs.found:
        cell, seed = ld.cell_of(run.config)
        found.setdefault(cell, set()).add(seed)
    rows = []
    for cell in design.cells():
        want = design.seeds_for(cell.size)
        have = found.get(cell, set())
        rows.append({"variant": cell.variant, "digit": cell.digit, "N": ld.size_label(cell.size),
                     "strategy": ld.ARMS[cell.arm].label, "seeds": len(want), "found": len([s for s in want if s in have]),
                     "missing seeds": ", ".join(str(s) for s in want if s not in have) or "none"})
    return pd.DataFrame(rows)


def missing_text(runs: ChapterRuns, cells: pd.DataFrame, limit: int = 8) -> str:
    """Markdown: how many cells and runs are missing, the runs by name (:func:`qdm.chapters.runs.missing_note`,
    at most ``limit``) and the command that makes them; a sentence saying nothing is missing otherwise."""
    incomplete = int((cells["found"] < cells["seeds"]).sum())
    head = (f"{incomplete} of the {len(cells)} cells of this grid lack at least one of their runs "
            f"({int(cells['found'].sum())} of {int(cells['seeds'].sum())} runs found)." if incomplete else
            f"Every one of the {len(cells)} cells of this grid has all its runs ({int(cells['seeds'].sum())}).")
    note = missing_note(runs, limit=limit)
    return head + ("\n\n" + note if note else "")


def budget(runs: ChapterRuns) -> dict[str, Any]:
    """What every resolved run of the grid trains and draws: steps, batch, samples, sampler; and whether every run
    shares one budget (it must: only the data change with N).  Empty values when the profile does not resolve."""
    if not runs.runs:
        undefined = f"not defined at the {runs.profile} profile"
        return {"steps": undefined, "batch": undefined, "samples": undefined, "sampler": undefined,
                "one-budget": "not known", "meets-samples": "no"}
    cfgs = [r.config for r in runs.runs]
    trains = {json.dumps({k: v for k, v in dataclasses.asdict(c.train).items() if k != "seed"}) for c in cfgs}
    first = cfgs[0]
    sampler = first.eval.sampler or first.model.sampler
    steps = first.eval.sample_steps or first.model.T
    return {"steps": first.train.steps, "batch": first.train.batch_size, "samples": first.eval.n_samples,
            "sampler": f"{sampler.upper()} in {steps} steps", "one-budget": "yes" if len(trains) == 1 else "no",
            "meets-samples": "yes" if all(c.eval.n_samples >= ld.MIN_SAMPLES for c in cfgs) else "no"}


def design_numbers(design: ld.LowDataDesign, runs: ChapterRuns, n_all: Mapping[int, int]) -> dict[str, Any]:
    """What the page says about the grid (glue key -> value): sizes, digits, variants, seeds per N, cells, runs, what
    it lacks against the issue, the budget (:func:`budget`) and the number of images of each digit."""
    out: dict[str, Any] = {
        "hypothesis": ld.HYPOTHESIS,
        "grid-sizes": ", ".join(ld.size_label(n) for n in design.sizes),
        "grid-digits": ", ".join(str(d) for d in design.digits),
        "grid-variants": ", ".join(design.variants),
        "grid-cells": len(design.cells()),
        "grid-runs": design.n_runs(),
        "small-seeds": len(design.seeds[: design.small_seeds]),
        "large-seeds": len(design.seeds[: design.large_seeds]),
        "grid-problems": "; ".join(ld.grid_problems(design)) or "nothing",
        "min-samples": ld.MIN_SAMPLES,
    }
    out.update({f"budget-{k}": v for k, v in budget(runs).items()})
    out.update({f"n-all-{d}": n for d, n in n_all.items()})
    return out


def ledger_numbers(runs: ChapterRuns, cells: pd.DataFrame) -> dict[str, int]:
    """Runs found (by source) and expected, and the cells that lack a run (glue key -> count)."""
    out = {"n-found": len(runs.found), "n-expected": runs.expected,
           "n-cells-incomplete": int((cells["found"] < cells["seeds"]).sum())}
    out.update({f"n-from-{s}": sum(r.source == s for r in runs.found) for s in ("ledger", "results", "trained")})
    return out


def test_numbers(tests: pd.DataFrame) -> dict[str, float | int]:
    """The tests in numbers (glue key -> value): cells of the hypothesis, tested, supporting, reversing, and per row
    ``test-<metric>-<quantum variant>-<digit>-<N>-diff`` / ``-holm``."""
    out: dict[str, float | int] = {
        "n-hypothesis-cells": int(tests["hypothesis"].sum()), "n-tested": int(tests["tested"].sum()),
        "n-support": int(tests["result"].str.contains("supports", regex=False).sum()),
        "n-reverse": int(tests["result"].str.contains("reverses", regex=False).sum()),
    }
    for row in tests.itertuples():
        key = f"test-{row.metric}-{row.comparison.split(' ')[0]}-{row.digit}-{row.N}"
        out[f"{key}-diff"] = float(row.mean_diff)
        out[f"{key}-holm"] = float(row.p_holm)
    return out


def figure_frame(summary: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """The data of the metrics figure: the measured summary rows and the published points, marked by ``kind``."""
    return pd.concat([summary.assign(kind="measured"), published.assign(kind="published")], ignore_index=True)


def verdict(table: pd.DataFrame, runs: ChapterRuns) -> str:
    """The verdict in plain words from the tests (:func:`qdm.audits.lowdata.verdict_text`), or why there is none."""
    if runs.unresolved:
        return (f"There is no verdict yet: the study's runs do not exist at the `{runs.profile}` profile, so no cell "
                "could be tested.")
    if not len(table) or not table["tested"].any():
        return "There is no verdict yet: no cell below N = 100 has two seed pairs of both variants of a comparison."
    return ld.verdict_text(table)
