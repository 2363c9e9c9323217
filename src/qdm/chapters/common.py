"""What every model chapter shares: validation of chapter knobs, where results go, tidy frames of runs,
seed summaries, plain-words verdicts and generic figures (loss curves, image grids, FID tables).

Nothing here trains anything; the run-store readers (initial model, trained model, samples, outcome
records) are in :mod:`qdm.runner`, the metric protocols in :mod:`qdm.protocols`.
"""

from __future__ import annotations

import math
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure
from torch import Tensor

from qdm import metrics, protocols, provenance
from qdm.annotations import parse_value
from qdm.config import ExperimentConfig, apply_overrides, get_experiment, list_presets
from qdm.families import PROFILE_NAMES, get_family
from qdm.presets import resolve_config
from qdm.runner import SAMPLING_SEED_OFFSET, RunRecord, initial_model
from qdm.validation import check_choice, check_int

__all__ = [
    "Chapter",
    "chapter_from",
    "empty_figure",
    "paired_difference_text",
    "plot_seed_points",
    "seed_interval_table",
    "values_by_seed",
    "fid_table",
    "knobs_from",
    "override_text",
    "parse_flag",
    "parse_seeds",
    "pick_parameters",
    "replace_together",
    "RunChapterKnobs",
    "loss_frame",
    "metrics_frame",
    "plot_image_rows",
    "plot_loss_curves",
    "preset_configs",
    "results_root",
    "sample_untrained",
    "seed_summary",
    "ssim_table",
    "verdict",
]


def check_results_dir(value: Any) -> None:
    """A path string; "" means the default results folder."""
    if not isinstance(value, str):
        raise ValueError(f"results_dir must be a path string ('' for $QDM_RESULTS_DIR or <repo>/results), got {value!r}")


def parse_list(name: str, value: Any) -> tuple[str, ...]:
    """Comma-separated, non-empty, non-repeating items of a string parameter."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a comma-separated string, got {value!r}")
    items = tuple(s.strip() for s in value.split(",") if s.strip())
    if not items:
        raise ValueError(f"{name} must name at least one item, got {value!r}")
    if len(set(items)) != len(items):
        raise ValueError(f"{name} must not repeat an item, got {value!r}")
    return items


def parse_seeds(value: Any, name: str = "seeds") -> tuple[int, ...]:
    """One seed (an int, as papermill passes ``-p seeds 0``) or comma-separated seeds ('0,1,2'), each >= 0; errors
    name the parameter ``name``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (check_int(value, name, 0),)
    items = parse_list(name, value)
    try:
        seeds = tuple(int(s) for s in items)
    except ValueError:
        raise ValueError(f"{name} must be one int or comma-separated ints >= 0 (e.g. '0,1,2'), got {value!r}") from None
    if any(s < 0 for s in seeds) or len(seeds) > 20:
        raise ValueError(f"{name} must be 1 to 20 comma-separated ints >= 0, got {value!r}")
    return seeds


def parse_flag(value: Any, name: str) -> bool:
    """A notebook's boolean parameter: True / False, or papermill's strings 'true' / 'false' (ValueError naming it)."""
    flag = value
    if isinstance(flag, str):
        try:
            flag = parse_value(bool, flag, name)
        except ValueError:
            flag = None
    if not isinstance(flag, bool):
        raise ValueError(f"{name} must be True or False (or 'true' / 'false'), got {value!r}")
    return flag


@dataclass(frozen=True)
class RunChapterKnobs:
    """The parameters of a chapter that shows runs: profile and seeds of its runs, whether missing ones are trained,
    workers, results folder.  ``train_missing`` also takes papermill's strings 'true' / 'false'; ``seeds`` one int
    or a comma-separated string.  A chapter's knobs extend it (new fields, another default profile, its own
    :attr:`PROFILES`)."""

    PROFILES: ClassVar[tuple[str, ...]] = PROFILE_NAMES

    profile: str = "book"
    seeds: Any = "0,1,2"
    train_missing: Any = False
    workers: int = 1
    results_dir: str = ""

    def __post_init__(self) -> None:
        """Check every field (one-line ValueError naming it) and normalise seeds and train_missing."""
        check_choice(self.profile, "profile", self.PROFILES)
        seeds = parse_seeds(self.seeds)
        train = parse_flag(self.train_missing, "train_missing")
        check_int(self.workers, "workers", 1, 64)
        check_results_dir(self.results_dir)
        object.__setattr__(self, "seeds", ",".join(str(s) for s in seeds))
        object.__setattr__(self, "train_missing", train)

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The training seeds, in the given order."""
        return tuple(int(s) for s in self.seeds.split(","))

    def as_dict(self) -> dict[str, Any]:
        """Every parameter (normalised), for provenance records and glue."""
        return dataclasses.asdict(self)


def knobs_from(cls: type, namespace: Mapping[str, Any]) -> Any:
    """A chapter's knob dataclass ``cls`` built from a notebook's namespace (its ``parameters`` cell plus papermill's
    injected overrides), so the names are written once, in the parameters cell; ``cls`` validates them."""
    if not dataclasses.is_dataclass(cls) or not isinstance(cls, type):
        raise ValueError(f"cls must be a dataclass type, got {cls!r}")
    return cls(**pick_parameters(namespace, [f.name for f in dataclasses.fields(cls)]))


def pick_parameters(namespace: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The values of ``names`` in a notebook's namespace; ValueError naming those the parameters cell lacks."""
    missing = [n for n in names if n not in namespace]
    if missing:
        raise ValueError(f"the notebook's parameters cell must define {missing}")
    return {n: namespace[n] for n in names}


@dataclass(frozen=True)
class Chapter:
    """A chapter's own knobs (a small dataclass), the configs its notebook parameters select, and those parameters."""

    knobs: Any
    configs: dict[str, ExperimentConfig]
    values: dict[str, Any]

    @property
    def config(self) -> ExperimentConfig:
        """The first (for one-experiment chapters: the) config."""
        return next(iter(self.configs.values()))

    def as_dict(self) -> dict[str, Any]:
        """Every notebook parameter and its value (for provenance records and glue)."""
        return dict(self.values)


def override_text(value: Any) -> str:
    """A notebook value as the right-hand side of a ``key=value`` config override."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def replace_together(cfg: ExperimentConfig, fields: Mapping[str, Any]) -> ExperimentConfig:
    """``cfg`` with several ``section.field`` values replaced at once (one validated config per section, then the whole)."""
    sections: dict[str, dict[str, Any]] = {}
    for key, value in fields.items():
        section, _, name = key.partition(".")
        if not name or not hasattr(cfg, section) or not hasattr(getattr(cfg, section), name):
            raise ValueError(f"unknown config key {key!r}")
        sections.setdefault(section, {})[name] = value
    parts = {section: dataclasses.replace(getattr(cfg, section), **changes) for section, changes in sections.items()}
    return dataclasses.replace(cfg, **parts)


def chapter_from(
    values: Mapping[str, Any],
    knobs_cls: type,
    experiments: Mapping[str, str],
    keys: Mapping[str, tuple[str, ...] | Callable[[Any], dict[str, Any]]],
    only: Mapping[str, tuple[str, ...]] | None = None,
    fixed: Sequence[str] = (),
) -> Chapter:
    """Notebook parameters → a :class:`Chapter`: the parameters named in ``keys`` become ``key=value`` overrides of the
    registered ``experiments`` (label → name, :func:`qdm.presets.resolve_config`, in the order of ``keys``), the rest
    build ``knobs_cls``. ``only[param]`` limits a parameter to some labels; ``fixed`` overrides come first.
    A parameter that sets coupled fields (e.g. an image size and its qubit count) maps to a function returning
    {dotted key: value}; those fields are replaced together (:func:`replace_together`), so no half-set config exists.

    A parameter not given keeps the experiment's value (or the knob's default); a bad value raises ``ValueError``
    naming the parameter, with the config's own message (the config classes hold every rule, not the chapter).
    """
    knob_names = {f.name for f in dataclasses.fields(knobs_cls)}
    unknown = sorted(set(values) - set(keys) - knob_names)
    if unknown:
        raise ValueError(f"unknown parameters {unknown}; allowed: {sorted(set(keys) | knob_names)}")
    knobs = knobs_cls(**{k: v for k, v in values.items() if k in knob_names})
    configs = {}
    for label, name in experiments.items():
        cfg = resolve_config(name, list(fixed))
        for param, targets in keys.items():
            if param not in values or (only and param in only and label not in only[param]):
                continue
            if callable(targets):
                fields = targets(values[param])  # raises ValueError("<param> must ...") on a value it cannot map
                try:
                    cfg = replace_together(cfg, fields)
                except ValueError as err:
                    raise ValueError(f"{param} must be a valid {', '.join(fields)}: {err}") from None
                continue
            try:
                cfg = apply_overrides(cfg, [f"{key}={override_text(values[param])}" for key in targets])
            except ValueError as err:
                raise ValueError(f"{param} must be a valid {', '.join(targets)}: {err}") from None
        configs[label] = cfg
    return Chapter(knobs=knobs, configs=configs, values=dict(values))


def results_root(results_dir: str) -> Path:
    """Where a chapter writes its runs and figures: ``results_dir``, or :func:`qdm.provenance.results_dir` when it is ""."""
    check_results_dir(results_dir)
    return Path(results_dir).expanduser().resolve() if results_dir.strip() else provenance.results_dir()


def preset_configs(family: str) -> dict[str, ExperimentConfig]:
    """The registered presets (qdm.presets) of one model family, by name; empty when there are none."""
    if not isinstance(family, str) or not family:
        raise ValueError(f"family must be a family name, got {family!r}")
    get_family(family)
    configs = {name: get_experiment(name) for name in list_presets()}
    return {name: cfg for name, cfg in configs.items() if cfg.family == family}


def sample_untrained(cfg: ExperimentConfig, n: int) -> Tensor:
    """Images (n, C, H, W) in [0, 1] from the untrained model of ``cfg``, sampled as the runner samples (same seeds)."""
    check_int(n, "n", 1)
    model = initial_model(cfg).eval()
    generator = torch.Generator().manual_seed(cfg.train.seed + SAMPLING_SEED_OFFSET)
    with torch.no_grad():
        return get_family(cfg.family).sample(model, n, cfg, generator)


def check_runs(runs: Mapping[str, Sequence[RunRecord]]) -> None:
    """A non-empty mapping label -> non-empty list of RunRecords."""
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty mapping label -> list of RunRecord")
    for label, records in runs.items():
        if isinstance(records, RunRecord) or not records or not all(isinstance(r, RunRecord) for r in records):
            raise ValueError(f"runs[{label!r}] must be a non-empty list of RunRecord")


def loss_frame(runs: Mapping[str, Sequence[RunRecord]], window: int = 1) -> pd.DataFrame:
    """Training loss per step of every run (long form: label, seed, step, loss, trailing mean over ``window`` steps)."""
    check_runs(runs)
    check_int(window, "window", 1)
    parts = []
    for label, records in runs.items():
        for r in records:
            loss = pd.Series(r.losses, dtype=float)
            parts.append(
                pd.DataFrame(
                    {
                        "label": label,
                        "seed": r.config.train.seed,
                        "step": np.arange(1, len(loss) + 1),
                        "loss": loss.to_numpy(),
                        "loss (smoothed)": loss.rolling(window, min_periods=1).mean().to_numpy(),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def metrics_frame(runs: Mapping[str, Sequence[RunRecord]], keys: Sequence[str]) -> pd.DataFrame:
    """One row per run: label, seed, config hash, the scalar metrics ``keys`` (NaN where absent), training seconds."""
    check_runs(runs)
    rows = []
    for label, records in runs.items():
        for r in records:
            row: dict[str, Any] = {"label": label, "seed": r.config.train.seed, "run": r.config_hash}
            for key in keys:
                value = r.metrics.get(key, math.nan)
                row[key] = value if isinstance(value, (int, float, str, bool)) else math.nan
            row["train_wall_s"] = float(r.timing.get("train_total_wall_s", math.nan))
            rows.append(row)
    return pd.DataFrame(rows)


def seed_summary(frame: pd.DataFrame, values: Sequence[str], by: str = "label") -> pd.DataFrame:
    """Per ``by`` group: mean, min and max over seeds of each column in ``values``, and the number of seeds."""
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise ValueError("frame must be a non-empty pandas DataFrame")
    missing = [c for c in (by, *values) if c not in frame.columns]
    if missing:
        raise ValueError(f"frame is missing columns {missing}")
    grouped = frame.groupby(by, sort=False)
    out = pd.DataFrame({"n_seeds": grouped.size()})
    for col in values:
        out[f"{col} mean"] = grouped[col].mean()
        out[f"{col} min"] = grouped[col].min()
        out[f"{col} max"] = grouped[col].max()
    return out.reset_index()


def verdict(
    summary: pd.DataFrame, metric: str, lower_is_better: bool, focus: str = "quantum", by: str = "label",
    name: str | None = None,
) -> str:
    """A plain sentence from :func:`seed_summary` output: which variant is best on ``metric``, and whether ``focus`` wins."""
    for col in (by, f"{metric} mean", f"{metric} min", f"{metric} max"):
        if col not in summary.columns:
            raise ValueError(f"summary is missing column {col!r}; build it with seed_summary(frame, [{metric!r}])")
    rows = summary.set_index(by)
    means = rows[f"{metric} mean"].astype(float)
    best = str(means.idxmin() if lower_is_better else means.idxmax())
    direction = "lower" if lower_is_better else "higher"

    def describe(name: str) -> str:
        r = rows.loc[name]
        n = int(r["n_seeds"]) if "n_seeds" in rows.columns else 1
        spread = f"; seeds {r[f'{metric} min']:.4g} to {r[f'{metric} max']:.4g}" if n > 1 else ""
        return f"{r[f'{metric} mean']:.4g}{spread}"

    text = f"On {name or metric} ({direction} is better) the best mean is the {best} variant's ({describe(best)})."
    if focus not in rows.index:
        return text + f" No {focus} variant was run."
    if len(rows) == 1:
        return text + " It was the only variant run, so nothing was compared."
    if best == focus:
        others = [name for name in rows.index if name != focus]
        runner_up = min(others, key=lambda k: means[k]) if lower_is_better else max(others, key=lambda k: means[k])
        overlap = _ranges_overlap(rows, metric, focus, runner_up)
        text += f" The {focus} variant wins on the mean; the runner-up is {runner_up} ({describe(runner_up)})."
    else:
        overlap = _ranges_overlap(rows, metric, focus, best)
        text += f" The {focus} variant does not win: its mean is {describe(focus)}."
    if overlap:
        text += " The seed ranges overlap, so the difference is within seed-to-seed variation."
    else:
        text += " The seed ranges do not overlap."
    return text


def _ranges_overlap(rows: pd.DataFrame, metric: str, a: str, b: str) -> bool:
    """Whether the [min, max] seed ranges of two variants overlap."""
    lo_a, hi_a = rows.loc[a, f"{metric} min"], rows.loc[a, f"{metric} max"]
    lo_b, hi_b = rows.loc[b, f"{metric} min"], rows.loc[b, f"{metric} max"]
    return bool(lo_a <= hi_b and lo_b <= hi_a)


def ssim_table(samples: Mapping[str, Tensor], reference: Tensor, convention: str, pairing: str) -> pd.DataFrame:
    """SSIM (Wang et al. 2004) of each labelled image set against ``reference``, convention and pairing named
    ([chen2025quantum])."""
    if not isinstance(samples, Mapping) or not samples:
        raise ValueError("samples must be a non-empty mapping label -> images (n, C, H, W) in [0, 1]")
    rows = []
    for label, x in samples.items():
        result = metrics.ssim_paired(x, reference, pairing=pairing, convention=convention, data_range=1.0)
        rows.append({"label": label, "ssim": result.mean, "ssim std": result.std, "n_generated": result.n,
                     "n_real": int(reference.shape[0]), "convention": result.convention, "pairing": result.pairing})
    return pd.DataFrame(rows)


def fid_table(samples: Mapping[str, Tensor], reference: Tensor, device: str = "cpu") -> pd.DataFrame:
    """FID (Heusel et al. 2017, qdm.metrics protocol) of each labelled image set against one reference set, with both counts.

    The reference features are computed once. Columns: label, fid, n_generated, n_real.
    """
    if not isinstance(samples, Mapping) or not samples:
        raise ValueError("samples must be a non-empty mapping label -> images (n, C, H, W) in [0, 1]")
    for label, x in samples.items():
        if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[0] < 2:
            raise ValueError(f"samples[{label!r}] must be images (n >= 2, C, H, W), got {getattr(x, 'shape', x)!r}")
    if not isinstance(reference, Tensor) or reference.ndim != 4 or reference.shape[0] < 2:
        raise ValueError(f"reference must be images (n >= 2, C, H, W), got {getattr(reference, 'shape', reference)!r}")
    f_real = protocols.cached_features(reference, None, device=device)
    rows = []
    for label, x in samples.items():
        f_fake = protocols.cached_features(x, None, device=device)
        rows.append({"label": label, "fid": metrics.fid_from_features(f_real, f_fake),
                     "n_generated": int(x.shape[0]), "n_real": int(reference.shape[0])})
    return pd.DataFrame(rows)


def require(frame: Any, columns: Sequence[str]) -> None:
    """A non-empty DataFrame with the given columns."""
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise ValueError("frame must be a non-empty pandas DataFrame")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame is missing columns {missing}")


def plot_loss_curves(frame: pd.DataFrame, ylabel: str = "training loss", logy: bool = False) -> Figure:
    """Smoothed training loss against step from :func:`loss_frame`: colour per label, line style per seed."""
    require(frame, ("label", "seed", "step", "loss (smoothed)"))
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    styles = ["-", "--", ":", "-."]
    colours = dict(zip(dict.fromkeys(frame["label"]), sns.color_palette()))
    for (label, seed), curve in frame.groupby(["label", "seed"], sort=False):
        seeds = sorted(frame.loc[frame["label"] == label, "seed"].unique())
        ax.plot(curve["step"], curve["loss (smoothed)"], styles[seeds.index(seed) % len(styles)],
                color=colours[label], label=f"{label}, seed {seed}")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("optimisation step")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


def seed_interval_table(
    frame: pd.DataFrame,
    group: str,
    metrics: Sequence[tuple[str, str, str]],
    label_of: Callable[[str, str, pd.DataFrame], str] | None = None,
) -> pd.DataFrame:
    """Per value of column ``group`` and metric (key, label, count key): seeds, mean and 95 % t-interval over seeds
    (NaN with one seed) and the image counts behind it; ``label_of(key, label, rows)`` may rename a metric."""
    rows = []
    for name, block in frame.groupby(group, sort=False):
        for key, label, count in metrics:
            values = [float(v) for v in block[key] if math.isfinite(float(v))]
            if not values:
                continue
            s = protocols.summarize_seeds(values)
            counts = sorted({int(v) for v in block[count].dropna()})
            rows.append({group: name, "metric": label_of(key, label, block) if label_of else label, "key": key,
                         "seeds": s.n, "mean": s.mean, "ci_low": s.ci_low, "ci_high": s.ci_high,
                         "images": "/".join(map(str, counts)) or "-"})
    return pd.DataFrame(rows, columns=[group, "metric", "key", "seeds", "mean", "ci_low", "ci_high", "images"])


def values_by_seed(frame: pd.DataFrame, group: str, name: str, key: str) -> dict[int, float]:
    """seed -> finite ``key`` value of the rows whose column ``group`` is ``name``."""
    rows = frame[frame[group] == name]
    return {int(s): float(v) for s, v in zip(rows["seed"], rows[key], strict=True) if math.isfinite(float(v))}


def paired_difference_text(row: Any, digits: int, prefix: str = "") -> str:
    """One row of a seed-paired comparison table (metric, pairs, mean_diff, ci_low, ci_high, p_holm, result) in
    words: "<metric> <prefix><diff> [low, high], Holm p = ...: <result>", or why it was not tested."""
    if row.result.startswith("not tested"):
        return f"{row.metric}: not testable ({row.pairs} seed pair{'s' if row.pairs != 1 else ''})"
    g = f".{digits}g"
    return (f"{row.metric} {prefix}{row.mean_diff:+{g}} [{row.ci_low:{g}}, {row.ci_high:{g}}], "
            f"Holm p = {row.p_holm:.2g}: {row.result}")


def plot_seed_points(frame: pd.DataFrame, group: str, order: Sequence[str], keys: Sequence[str],
                     labels: Mapping[str, str]) -> Figure:
    """One panel per metric key: each seed's value per ``group`` value (points, in ``order``) and the seed mean (bar)."""
    if frame.empty:
        return empty_figure("no finished run to show")
    fig, axes = plt.subplots(1, len(keys), figsize=(3.1 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        sns.barplot(data=frame, x=group, y=key, order=list(order), errorbar=None, ax=ax, color="0.85")
        sns.stripplot(data=frame, x=group, y=key, order=list(order), hue="seed", ax=ax, size=6, jitter=0.15,
                      palette="dark", legend=ax is axes[0][-1])
        ax.set_xlabel("")
        ax.set_ylabel(labels[key])
        ax.tick_params(axis="x", rotation=40)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
    fig.tight_layout()
    return fig


def empty_figure(message: str) -> Figure:
    """A small figure that says what is not there (the page still builds when runs are missing)."""
    fig, ax = plt.subplots(figsize=(6.4, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return fig


def plot_image_rows(
    rows: Mapping[str, Tensor],
    n_cols: int | None = None,
    value_range: tuple[float, float] = (0.0, 1.0),
    col_titles: Sequence[str] | None = None,
) -> Figure:
    """A grid of images, one labelled row per entry of ``rows`` ((n, 1|3, H, W) or (n, H, W)), ``n_cols`` per row."""
    if not isinstance(rows, Mapping) or not rows:
        raise ValueError("rows must be a non-empty mapping label -> images")
    lo, hi = value_range
    if not lo < hi:
        raise ValueError(f"value_range must be (low, high) with low < high, got {value_range!r}")
    arrays = {}
    for label, x in rows.items():
        a = x.detach().cpu().float().numpy() if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)
        if a.ndim == 3:
            a = a[:, None]
        if a.ndim != 4 or a.shape[1] not in (1, 3) or a.shape[0] < 1:
            raise ValueError(f"rows[{label!r}] must be images (n, 1|3, H, W) or (n, H, W), got {a.shape}")
        arrays[label] = a
    cols = n_cols if n_cols is not None else max(a.shape[0] for a in arrays.values())
    check_int(cols, "n_cols", 1)
    if col_titles is not None and (isinstance(col_titles, str) or len(col_titles) != cols):
        raise ValueError(f"col_titles must hold one title per column ({cols}), got {col_titles!r}")
    fig, axes = plt.subplots(len(arrays), cols, figsize=(1.1 * cols + 1.6, 1.15 * len(arrays) + 0.2), squeeze=False)
    for j, title in enumerate(col_titles or []):
        axes[0][j].set_title(title, fontsize="small")
    for i, (label, a) in enumerate(arrays.items()):
        for j in range(cols):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < a.shape[0]:
                img = np.clip(a[j], lo, hi)
                img = img[0] if img.shape[0] == 1 else np.transpose((img - lo) / (hi - lo), (1, 2, 0))
                ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        axes[i][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize="small")
    fig.tight_layout()
    return fig
