"""Tables, figures and small checks on model results for the book's model chapters (notebooks 02-04).

Three groups of small functions, none of which trains anything:

* **chapter parameters and configs**: typed, validated parameters of each chapter
  (:class:`DepolChapterParams`, :class:`PQCChapterParams`, :class:`HybridChapterParams`; a bad value
  raises ``ValueError`` naming the parameter, before any work) and the experiment configs they select
  (registered experiments of :mod:`qdm.config` with the chapter's values);
* **runs → tidy frames**: loss curves, metrics per run and per variant, fidelity/purity along t,
  parameter counts per part, FID tables with their image counts, and a plain-words verdict;
* **checks of the published models**: weight (in)dependence of the hybrid gate's ⟨Z⟩ (papers.md C1),
  which parts of a trained U-Net moved, per-step infidelity of a trained PQC, forward noising of
  amplitude-encoded states with real or complex noise;

plus ``plot_*`` functions that turn those frames into :class:`matplotlib.figure.Figure` objects in
the style of :mod:`qdm.plotting`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from qdm import provenance
from qdm.circuits import zexpval_product_of_cos, zexpval_wire_sets
import qdm.presets  # noqa: F401 - registers the families, experiments and presets it looks up
from qdm.config import DataConfig, EvalConfig, ExperimentConfig, get_experiment, list_presets
from qdm.families import get_family
from qdm.models.bottleneck import ANSATZ_NAMES, GATE_KINDS, GateConfig, make_ansatz, make_quantum_layer
from qdm.models.params import PART_NAMES, count_parameters
from qdm.models.pqc_denoiser import (
    PQCDenoiser,
    PQCDenoiserConfig,
    block_ansatz,
    block_wires,
    circuit_parameter_count,
    diffusion_schedule,
    draw_noise,
    forward_marginal,
    normalise,
    training_pair,
)
from qdm.models.unet import TinyUNet
from qdm.runner import SAMPLING_SEED_OFFSET, JobOutcome, RunRecord, load_run
from qdm.train import CHECKPOINT_NAME, load_checkpoint, seed_everything

__all__ = [
    "DepolChapterParams",
    "HybridChapterParams",
    "PQCChapterParams",
    "along_t_frame",
    "depol_experiments",
    "fid_table",
    "formula_count",
    "hybrid_experiments",
    "image_metrics_table",
    "initial_model",
    "load_trained_model",
    "loss_frame",
    "metrics_frame",
    "noised_fidelity_approx",
    "noised_images",
    "noising_fidelity_frame",
    "outcome_records",
    "parameter_table",
    "part_drift",
    "per_step_infidelity",
    "plot_along_t",
    "plot_image_rows",
    "plot_loss_curves",
    "plot_noising_fidelity",
    "plot_per_step_infidelity",
    "pqc_experiment",
    "pqc_parameter_table",
    "preset_configs",
    "results_root",
    "run_samples",
    "sample_untrained",
    "seed_summary",
    "ssim_table",
    "variant_models",
    "verdict",
    "weight_independence",
    "with_zero_angles",
]


# ---------------------------------------------------------------------------------------------
# validation helpers (messages name the notebook parameter)
# ---------------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """An int (not a bool) in [low, high]."""
    allowed = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be {allowed}, got {value!r} ({type(value).__name__})")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return value


def _check_float(name: str, value: Any, low: float, high: float | None = None, low_open: bool = False) -> float:
    """A finite real number in [low, high] (or (low, high] with low_open)."""
    bracket = "(" if low_open else "["
    allowed = f"a number in {bracket}{low}, {high}]" if high is not None else f"a number {'>' if low_open else '>='} {low}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if value < low or (low_open and value == low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return float(value)


def _check_choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    """One of the allowed strings."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def _check_results_dir(value: Any) -> None:
    """A path string; "" means the default results folder."""
    if not isinstance(value, str):
        raise ValueError(f"results_dir must be a path string ('' for $QDM_RESULTS_DIR or <repo>/results), got {value!r}")


def _parse_list(name: str, value: Any) -> tuple[str, ...]:
    """Comma-separated, non-empty, non-repeating items of a string parameter."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a comma-separated string, got {value!r}")
    items = tuple(s.strip() for s in value.split(",") if s.strip())
    if not items:
        raise ValueError(f"{name} must name at least one item, got {value!r}")
    if len(set(items)) != len(items):
        raise ValueError(f"{name} must not repeat an item, got {value!r}")
    return items


def results_root(results_dir: str) -> Path:
    """Where a chapter writes its runs and figures: ``results_dir``, or :func:`qdm.provenance.results_dir` when it is ""."""
    _check_results_dir(results_dir)
    return Path(results_dir).expanduser().resolve() if results_dir.strip() else provenance.results_dir()


# ---------------------------------------------------------------------------------------------
# chapter parameters
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepolChapterParams:
    """Parameters of notebooks/02_depolarizing_qdm (seed §1.3.5-1.3.8, papers.md B), validated on construction."""

    n_qubits: int = 2
    n_ancilla: int = 1
    T: int = 10
    n_layers: int = 2
    target: str = "cluster"
    loss: str = "final"
    spread: float = 0.3
    n_states: int = 64
    steps: int = 400
    lr: float = 0.05
    seed: int = 0
    n_trajectories: int = 512
    results_dir: str = ""

    def __post_init__(self) -> None:
        """Check every field; the message names the parameter and its allowed values."""
        _check_int("n_qubits", self.n_qubits, 1, 4)
        _check_int("n_ancilla", self.n_ancilla, 1, 3)
        _check_int("T", self.T, 1, 1000)
        _check_int("n_layers", self.n_layers, 1, 50)
        _check_choice("target", self.target, ("cluster", "line"))
        _check_choice("loss", self.loss, ("final", "stepwise"))
        _check_float("spread", self.spread, 0.0, 10.0)
        _check_int("n_states", self.n_states, 1, 100_000)
        _check_int("steps", self.steps, 1, 10_000_000)
        _check_float("lr", self.lr, 0.0, 10.0, low_open=True)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_int("n_trajectories", self.n_trajectories, 1, 1_000_000)
        _check_results_dir(self.results_dir)

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (for provenance records)."""
        return asdict(self)


@dataclass(frozen=True)
class PQCChapterParams:
    """Parameters of notebooks/03_pqc_denoiser (papers.md A, A1, A2), validated on construction."""

    digits: str = "0,1"
    images_per_class: int = 64
    image_size: int = 8
    noise: str = "complex"
    T: int = 10
    layers_per_block: int = 3
    ancilla: str = "postselect"
    steps: int = 300
    batch_size: int = 8
    lr: float = 0.05
    seed: int = 0
    n_samples: int = 32
    reference_images: int = 200
    n_draws: int = 200
    results_dir: str = ""

    def __post_init__(self) -> None:
        """Check every field; the message names the parameter and its allowed values."""
        items = _parse_list("digits", self.digits)
        if not all(s.isdigit() and 0 <= int(s) <= 9 for s in items):
            raise ValueError(f"digits must be comma-separated MNIST classes 0..9, got {self.digits!r}")
        _check_int("images_per_class", self.images_per_class, 1, 5000)
        if self.image_size not in (8, 16) or isinstance(self.image_size, bool):
            raise ValueError(f"image_size must be 8 or 16 (64 or 256 amplitudes on 6 or 8 qubits), got {self.image_size!r}")
        _check_choice("noise", self.noise, ("complex", "real"))
        _check_int("T", self.T, 1, 1000)
        _check_int("layers_per_block", self.layers_per_block, 1, 100)
        _check_choice("ancilla", self.ancilla, ("postselect", "measure", "none"))
        _check_int("steps", self.steps, 1, 10_000_000)
        _check_int("batch_size", self.batch_size, 1, 10_000)
        _check_float("lr", self.lr, 0.0, 10.0, low_open=True)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_int("n_samples", self.n_samples, 1, 100_000)
        _check_int("reference_images", self.reference_images, 2, 10_000)
        _check_int("n_draws", self.n_draws, 2, 1_000_000)
        _check_results_dir(self.results_dir)

    @property
    def classes(self) -> tuple[int, ...]:
        """The digits as a tuple of ints."""
        return tuple(int(s) for s in _parse_list("digits", self.digits))

    @property
    def n_qubits(self) -> int:
        """Data qubits of the amplitude encoding: log2(image_size²)."""
        return 2 * int(math.log2(self.image_size))

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (for provenance records)."""
        return asdict(self)


@dataclass(frozen=True)
class HybridChapterParams:
    """Parameters of notebooks/04_hybrid_ddpm (papers.md C, C1), validated on construction."""

    digit: int = 0
    images_per_class: int = 32
    variants: str = "quantum,classical,matched"
    n_seeds: int = 2
    n_qubits: int = 8
    n_layers: int = 3
    ansatz: str = "rz_cnot"
    detach_input: bool = True
    T: int = 1000
    steps: int = 100
    batch_size: int = 16
    lr: float = 1e-3
    ema_decay: float = 0.0
    sampler: str = "ddim"
    sample_steps: int = 25
    n_samples: int = 8
    fid_real_images: int = 32
    protocol: str = "qdm"
    ssim_convention: str = "skimage"
    ssim_pairing: str = "index"
    workers: int = 1
    results_dir: str = ""

    def __post_init__(self) -> None:
        """Check every field; the message names the parameter and its allowed values."""
        _check_int("digit", self.digit, 0, 9)
        _check_int("images_per_class", self.images_per_class, 1, 5000)
        kinds = _parse_list("variants", self.variants)
        bad = [k for k in kinds if k not in GATE_KINDS]
        if bad:
            raise ValueError(f"variants must be comma-separated gate kinds from {list(GATE_KINDS)}, got {self.variants!r}")
        _check_int("n_seeds", self.n_seeds, 1, 20)
        _check_int("n_qubits", self.n_qubits, 1, 16)
        _check_int("n_layers", self.n_layers, 1, 20)
        _check_choice("ansatz", self.ansatz, tuple(ANSATZ_NAMES))
        if not isinstance(self.detach_input, bool):
            raise ValueError(f"detach_input must be True (published) or False, got {self.detach_input!r}")
        _check_int("T", self.T, 2, 4000)
        _check_int("steps", self.steps, 1, 10_000_000)
        _check_int("batch_size", self.batch_size, 1, 10_000)
        _check_float("lr", self.lr, 0.0, 10.0, low_open=True)
        _check_float("ema_decay", self.ema_decay, 0.0, 1.0)
        if self.ema_decay >= 1.0:
            raise ValueError(f"ema_decay must be 0 (no EMA) or a number in (0, 1), got {self.ema_decay!r}")
        _check_choice("sampler", self.sampler, ("ddim", "ddpm"))
        _check_int("sample_steps", self.sample_steps, 1, self.T)
        if self.sampler == "ddpm" and self.sample_steps != self.T:
            raise ValueError(
                f"sample_steps must equal T={self.T} for sampler='ddpm' (use 'ddim' to skip steps), got {self.sample_steps}"
            )
        _check_int("n_samples", self.n_samples, 2, 100_000)
        _check_int("fid_real_images", self.fid_real_images, 2, 100_000)
        _check_choice("protocol", self.protocol, ("qdm", "chen2025"))
        _check_choice("ssim_convention", self.ssim_convention, ("skimage", "torchmetrics"))
        _check_choice("ssim_pairing", self.ssim_pairing, ("index", "nearest"))
        if self.ssim_pairing == "index" and self.fid_real_images < self.n_samples:
            raise ValueError(
                f"fid_real_images must be >= n_samples={self.n_samples} for ssim_pairing='index', got {self.fid_real_images}"
            )
        _check_int("workers", self.workers, 1, 64)
        _check_results_dir(self.results_dir)

    @property
    def variant_list(self) -> tuple[str, ...]:
        """The gate kinds to train, in the given order."""
        return _parse_list("variants", self.variants)

    @property
    def seeds(self) -> tuple[int, ...]:
        """Training seeds 0..n_seeds-1."""
        return tuple(range(self.n_seeds))

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (for provenance records)."""
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# chapter experiments: registered experiments with the chapter's values
# ---------------------------------------------------------------------------------------------


def depol_experiments(p: DepolChapterParams) -> dict[str, ExperimentConfig]:
    """papers.md B: the registered depolarizing QDM (ancilla reverse) and its unitary-only control, with ``p``'s values."""
    if not isinstance(p, DepolChapterParams):
        raise ValueError(f"p must be DepolChapterParams, got {type(p).__name__}")
    out = {}
    for label, name in (("ancilla", "depolarizing-qdm"), ("unitary", "depolarizing-qdm-unitary")):
        base = get_experiment(name)
        model = dataclasses.replace(
            base.model, n_qubits=p.n_qubits, T=p.T, n_layers=p.n_layers, target=p.target, loss=p.loss, spread=p.spread,
            n_states=p.n_states, target_seed=p.seed, n_ancilla=p.n_ancilla if label == "ancilla" else 0,
        )
        train = dataclasses.replace(base.train, steps=p.steps, lr=p.lr, seed=p.seed)
        out[label] = dataclasses.replace(base, model=model, train=train)
    return out


def pqc_experiment(p: PQCChapterParams) -> ExperimentConfig:
    """papers.md A2: the registered ``pqc-mnist`` experiment (per-timestep blocks, μ̃ target) with ``p``'s values."""
    if not isinstance(p, PQCChapterParams):
        raise ValueError(f"p must be PQCChapterParams, got {type(p).__name__}")
    base = get_experiment("pqc-mnist")
    k = p.layers_per_block
    model = dataclasses.replace(
        base.model, n_qubits=p.n_qubits, image_size=p.image_size, n_layers=3 * k, blocks=(k, k, k),
        noise=p.noise, T=p.T, ancilla=p.ancilla,
    )
    return dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, classes=p.classes, images_per_class=p.images_per_class),
        model=model,
        train=dataclasses.replace(base.train, steps=p.steps, batch_size=p.batch_size, lr=p.lr, seed=p.seed),
        eval=EvalConfig(n_samples=p.n_samples, metrics=("ssim",), fid_real_images=p.reference_images),
    )


def hybrid_experiments(p: HybridChapterParams) -> list[tuple[str, int, ExperimentConfig]]:
    """papers.md C1: the registered ``hybrid-mnist`` experiment for every (variant, seed) with ``p``'s values."""
    if not isinstance(p, HybridChapterParams):
        raise ValueError(f"p must be HybridChapterParams, got {type(p).__name__}")
    base = get_experiment("hybrid-mnist")
    data = DataConfig(dataset="mnist", classes=(p.digit,), images_per_class=p.images_per_class, split="train")
    ev = EvalConfig(
        n_samples=p.n_samples, metrics=("ssim",), sampler=p.sampler, sample_steps=p.sample_steps,
        fid_real_images=p.fid_real_images, ssim_convention=p.ssim_convention, ssim_pairing=p.ssim_pairing,
        protocol=p.protocol,
    )
    out = []
    for variant in p.variant_list:
        model = dataclasses.replace(
            base.model, bottleneck=variant, n_qubits=p.n_qubits, n_layers=p.n_layers, ansatz=p.ansatz,
            detach_input=p.detach_input, T=p.T,
        )
        for seed in p.seeds:
            train = dataclasses.replace(
                base.train, steps=p.steps, batch_size=p.batch_size, lr=p.lr, ema_decay=p.ema_decay or None, seed=seed
            )
            cfg = dataclasses.replace(base, data=data, model=model, train=train, eval=ev)
            out.append((variant, seed, cfg))
    return out


# ---------------------------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------------------------


def preset_configs(family: str) -> dict[str, ExperimentConfig]:
    """The registered presets (qdm.presets, papers.md A-D) of one model family, by name; empty when there are none."""
    if not isinstance(family, str) or not family:
        raise ValueError(f"family must be a family name, got {family!r}")
    get_family(family)
    configs = {name: get_experiment(name) for name in list_presets()}
    return {name: cfg for name, cfg in configs.items() if cfg.family == family}


def outcome_records(outcomes: Sequence[JobOutcome]) -> list[RunRecord]:
    """The finished runs behind :func:`qdm.runner.run_many` outcomes; RuntimeError naming the first failed job."""
    failed = [o for o in outcomes if not o.ok]
    if failed:
        first = failed[0]
        raise RuntimeError(f"{len(failed)} run(s) failed; first: {first.experiment} {first.config_hash}: {first.error}")
    return [load_run(o.run_dir) for o in outcomes]


def initial_model(cfg: ExperimentConfig) -> nn.Module:
    """The model exactly as the runner built it before training (global RNG seeded with train.seed, then build)."""
    if not isinstance(cfg, ExperimentConfig):
        raise ValueError(f"cfg must be an ExperimentConfig, got {type(cfg).__name__}")
    with torch.random.fork_rng(devices=[]):
        seed_everything(cfg.train.seed)
        return get_family(cfg.family).build(cfg)


def sample_untrained(cfg: ExperimentConfig, n: int) -> Tensor:
    """Images (n, C, H, W) in [0, 1] from the untrained model of ``cfg``, sampled as the runner samples (same seeds)."""
    _check_int("n", n, 1)
    model = initial_model(cfg).eval()
    generator = torch.Generator().manual_seed(cfg.train.seed + SAMPLING_SEED_OFFSET)
    with torch.no_grad():
        return get_family(cfg.family).sample(model, n, cfg, generator)


def load_trained_model(record: RunRecord, ema: bool = True) -> nn.Module:
    """The trained model of a finished run (EMA weights when the run kept them and ``ema``), in eval mode."""
    if not isinstance(record, RunRecord):
        raise ValueError(f"record must be a qdm.runner.RunRecord, got {type(record).__name__}")
    model = initial_model(record.config)
    state = load_checkpoint(Path(record.run_dir) / CHECKPOINT_NAME)
    weights = state["ema"] if ema and state.get("ema") is not None else state["model"]
    model.load_state_dict(weights)
    return model.eval()


def run_samples(record: RunRecord) -> Tensor:
    """The images a run generated (n, C, H, W) in [0, 1], from its samples.pt."""
    if not isinstance(record, RunRecord):
        raise ValueError(f"record must be a qdm.runner.RunRecord, got {type(record).__name__}")
    return torch.load(Path(record.run_dir) / "samples.pt", weights_only=True)


def _check_runs(runs: Mapping[str, Sequence[RunRecord]]) -> None:
    """A non-empty mapping label -> non-empty list of RunRecords."""
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty mapping label -> list of RunRecord")
    for label, records in runs.items():
        if isinstance(records, RunRecord) or not records or not all(isinstance(r, RunRecord) for r in records):
            raise ValueError(f"runs[{label!r}] must be a non-empty list of RunRecord")


def loss_frame(runs: Mapping[str, Sequence[RunRecord]], window: int = 1) -> pd.DataFrame:
    """Training loss per step of every run (long form: label, seed, step, loss, trailing mean over ``window`` steps)."""
    _check_runs(runs)
    _check_int("window", window, 1)
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
    _check_runs(runs)
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


# ---------------------------------------------------------------------------------------------
# depolarizing QDM
# ---------------------------------------------------------------------------------------------

_ALONG_T = (("fidelity", "forward_fidelity", "fidelity to target"), ("purity", "forward_purity", "purity"))


def along_t_frame(reports: Mapping[str, Mapping[str, Tensor]]) -> pd.DataFrame:
    """Seed eqs. 8-10 along t: fidelity to the targets and purity, forward and reverse, from ``report_along_t`` outputs.

    Long form: model, process ("forward" or "reverse"), measure, t, value. The forward curves depend only
    on the schedule; when every model shares them they appear once, with model "all".
    """
    if not isinstance(reports, Mapping) or not reports:
        raise ValueError("reports must be a non-empty mapping label -> report_along_t output")
    for label, rep in reports.items():
        missing = [k for k in ("t", "fidelity", "purity", "forward_fidelity", "forward_purity") if k not in rep]
        if missing:
            raise ValueError(f"reports[{label!r}] is missing {missing}; use qdm.models.depolarizing.report_along_t")
    first = next(iter(reports.values()))
    shared = all(
        rep["t"].shape == first["t"].shape
        and all(torch.allclose(rep[k].double(), first[k].double(), atol=1e-12) for k in ("forward_fidelity", "forward_purity"))
        for rep in reports.values()
    )
    parts = []
    for label, rep in reports.items():
        t = rep["t"].numpy()
        for reverse_key, forward_key, measure in _ALONG_T:
            parts.append(pd.DataFrame({"model": label, "process": "reverse", "measure": measure, "t": t,
                                       "value": rep[reverse_key].double().numpy()}))
            if not shared or rep is first:
                parts.append(pd.DataFrame({"model": "all" if shared else label, "process": "forward", "measure": measure,
                                           "t": t, "value": rep[forward_key].double().numpy()}))
    return pd.concat(parts, ignore_index=True)


def plot_along_t(frame: pd.DataFrame, bound: float, d: int) -> Figure:
    """Two panels (fidelity to target, purity) against t: forward dashed, reverse solid; λ_max(ρ̄) and 1/d as guides."""
    _require(frame, ("model", "process", "measure", "t", "value"))
    measures = [m for _, _, m in _ALONG_T if m in set(frame["measure"])]
    fig, axes = plt.subplots(1, len(measures), figsize=(5.2 * len(measures), 3.6), squeeze=False)
    colours = dict(zip(dict.fromkeys(frame["model"]), sns.color_palette()))
    for ax, measure in zip(axes[0], measures):
        sub = frame[frame["measure"] == measure]
        for (model, process), curve in sub.groupby(["model", "process"], sort=False):
            style = "--" if process == "forward" else "-"
            ax.plot(curve["t"], curve["value"], style, marker="o", markersize=3, color=colours[model],
                    label=f"{process}" + ("" if model == "all" else f", {model}"))
        if measure == "fidelity to target":
            ax.axhline(bound, color="0.3", linestyle=":", label=r"bound $\lambda_{\max}(\bar\rho)$")
        ax.axhline(1.0 / d, color="0.6", linestyle="-.", label=r"$1/d$ (state $I/d$)")
        ax.set_title(measure)
        ax.set_xlabel(r"level $t$ (reverse runs from $t=T$ to $0$)")
    handles: dict[str, Any] = {}
    for ax in axes[0]:
        for handle, text in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(text, handle)
    axes[0][-1].legend(handles.values(), handles.keys(), loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# PQC denoiser
# ---------------------------------------------------------------------------------------------


def formula_count(cfg: PQCDenoiserConfig) -> tuple[str, int]:
    """papers.md A1: the parameter count written out, e.g. "15·7·3 + 20·8·3 + 15·7·3" = 1110, from the block shapes."""
    if not isinstance(cfg, PQCDenoiserConfig):
        raise ValueError(f"cfg must be a PQCDenoiserConfig, got {type(cfg).__name__}")
    terms, total = [], 0
    for layers, wires in zip(cfg.layer_blocks, block_wires(cfg)):
        per_site = math.prod(block_ansatz(cfg, layers).weight_shape(wires)) // (layers * wires)
        terms.append(f"{layers}·{wires}·{per_site}")
        total += layers * wires * per_site
    text = " + ".join(terms)
    if cfg.time_conditioning == "angle":
        text, total = f"2 × ({text})", 2 * total
    if cfg.time_conditioning == "per_timestep":
        text, total = f"{cfg.T} × ({text})", cfg.T * total
    return text, total


def pqc_parameter_table(configs: Mapping[str, PQCDenoiserConfig]) -> pd.DataFrame:
    """papers.md A/A1/D: one row per model: wires, layers per block, time conditioning, the count formula and the count."""
    if not isinstance(configs, Mapping) or not configs:
        raise ValueError("configs must be a non-empty mapping label -> PQCDenoiserConfig")
    rows = []
    for label, cfg in configs.items():
        text, value = formula_count(cfg)
        rows.append(
            {
                "model": label,
                "data qubits": cfg.n_qubits,
                "label qubits": cfg.n_label_qubits,
                "wires per block": "/".join(map(str, block_wires(cfg))),
                "layers per block": "/".join(map(str, cfg.layer_blocks)),
                "ansatz": cfg.ansatz,
                "time conditioning": cfg.time_conditioning,
                "formula": text,
                "formula value": value,
                "parameters (package)": circuit_parameter_count(cfg),
            }
        )
    return pd.DataFrame(rows)


def noised_fidelity_approx(alpha_bar: Tensor, d: int, noise: str, noising: str = "ddpm", std: float = 1.0) -> Tensor:
    """Seed eq. 2 in state space: E|⟨x0|x_t⟩|² ≈ (a² + κσ²b²)/(a² + κσ²b²d), κ = 1 real, 2 complex noise.

    a = √ᾱ and b = √(1−ᾱ) ("ddpm") or 1−ᾱ ("as_coded", papers.md A1).

    Ratio of the expectations of numerator and squared norm (exact as d → ∞): E|⟨x0|ε⟩|² = κσ², E‖ε‖² = κσ²d.
    """
    _check_choice("noise", noise, ("real", "complex"))
    _check_choice("noising", noising, ("ddpm", "as_coded"))
    _check_int("d", d, 1)
    _check_float("std", std, 0.0, low_open=True)
    alpha_bar = torch.as_tensor(alpha_bar, dtype=torch.float64)
    a2 = alpha_bar
    b2 = (1.0 - alpha_bar) if noising == "ddpm" else (1.0 - alpha_bar) ** 2
    k = (1.0 if noise == "real" else 2.0) * std**2
    return (a2 + k * b2) / (a2 + k * b2 * d)


def noising_fidelity_frame(
    x0: Tensor,
    cfg: PQCDenoiserConfig,
    n_draws: int,
    generator: torch.Generator | None,
    noises: Sequence[str] = ("real", "complex"),
) -> pd.DataFrame:
    """Seed eq. 2 on amplitude-encoded states: Monte-Carlo E|⟨x0|x̂_t⟩|² (x̂ normalised) per level t and noise kind.

    Columns: noise, t, alpha_bar (at schedule time t + offset), fidelity (mean over images × draws), stderr,
    approx (:func:`noised_fidelity_approx`) and imag_weight, the mean Σ_j (Im x̂_j)² (0 for real noise).
    """
    if not isinstance(cfg, PQCDenoiserConfig):
        raise ValueError(f"cfg must be a PQCDenoiserConfig, got {type(cfg).__name__}")
    if not isinstance(x0, Tensor) or x0.ndim != 2 or x0.shape[1] != cfg.state_dim:
        raise ValueError(f"x0 must be unit amplitude vectors (B, {cfg.state_dim}), got {getattr(x0, 'shape', x0)!r}")
    _check_int("n_draws", n_draws, 2)
    schedule, offset = diffusion_schedule(cfg)
    x = x0.double().repeat(n_draws, 1)
    rows = []
    for noise in noises:
        _check_choice("noise", noise, ("real", "complex"))
        for t in range(cfg.T + 1):
            eps = draw_noise(x.shape, generator, noise, cfg.noise_std)
            level = torch.full((x.shape[0],), t, dtype=torch.long)
            x_t = normalise(forward_marginal(x.to(eps.dtype), level, eps, schedule, offset, cfg.noising))
            fid = ((x.to(eps.dtype).conj() * x_t).sum(-1).abs() ** 2).double()
            abar = float(schedule.alpha_bar_at(torch.tensor(t + offset), allow_zero=True))
            rows.append(
                {
                    "noise": noise,
                    "t": t,
                    "alpha_bar": abar,
                    "fidelity": float(fid.mean()),
                    "stderr": float(fid.std() / math.sqrt(fid.numel())),
                    "approx": float(noised_fidelity_approx(torch.tensor(abar), cfg.state_dim, noise, cfg.noising, cfg.noise_std)),
                    "imag_weight": float(x_t.imag.square().sum(-1).mean()) if x_t.is_complex() else 0.0,
                }
            )
    return pd.DataFrame(rows)


def noised_images(
    x0: Tensor, cfg: PQCDenoiserConfig, levels: Sequence[int], noise: str, generator: torch.Generator | None
) -> dict[int, Tensor]:
    """Seed eq. 2 at the given levels with one ε per image shared by all levels, decoded as |x̂_t|/max (N, 1, s, s)."""
    from qdm.models.pqc_denoiser import decode_images  # noqa: PLC0415 - keep the import list short

    if not isinstance(x0, Tensor) or x0.ndim != 2 or x0.shape[1] != cfg.state_dim:
        raise ValueError(f"x0 must be unit amplitude vectors (B, {cfg.state_dim}), got {getattr(x0, 'shape', x0)!r}")
    if not levels or any(isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= cfg.T for t in levels):
        raise ValueError(f"levels must be integers in 0..T={cfg.T}, got {levels!r}")
    schedule, offset = diffusion_schedule(cfg)
    eps = draw_noise(x0.shape, generator, noise, cfg.noise_std)
    out = {}
    for t in levels:
        level = torch.full((x0.shape[0],), t, dtype=torch.long)
        x_t = normalise(forward_marginal(x0.double().to(eps.dtype), level, eps, schedule, offset, cfg.noising))
        out[t] = decode_images(x_t, cfg.image_size)
    return out


@torch.no_grad()
def per_step_infidelity(
    model: PQCDenoiser, x0: Tensor, generator: torch.Generator | None, labels: Tensor | None = None
) -> pd.DataFrame:
    """papers.md A1/A2: per step t, mean 1 − |⟨out|target⟩|² of the trained circuit and of doing nothing (out = x_t).

    Pairs (x_t, target) are drawn as in training (:func:`qdm.models.pqc_denoiser.training_pair`).
    """
    if not isinstance(model, PQCDenoiser):
        raise ValueError(f"model must be a PQCDenoiser, got {type(model).__name__}")
    cfg = model.cfg
    if not isinstance(x0, Tensor) or x0.ndim != 2 or x0.shape[1] != cfg.state_dim:
        raise ValueError(f"x0 must be unit amplitude vectors (B, {cfg.state_dim}), got {getattr(x0, 'shape', x0)!r}")
    was_training = model.training
    model.eval()
    rows = []
    try:
        for t in range(1, cfg.T + 1):
            t_batch = torch.full((x0.shape[0],), t, dtype=torch.long)
            x_t, target = training_pair(x0, t_batch, generator, cfg)
            out = model(x_t, t_batch, labels, generator)
            for name, state in (("trained circuit", out), ("identity (no denoising)", x_t)):
                overlap = (state.conj() * target.to(state.dtype)).sum(-1).abs() ** 2
                rows.append({"t": t, "map": name, "infidelity": float(1.0 - overlap.mean())})
    finally:
        model.train(was_training)
    return pd.DataFrame(rows)


def with_zero_angles(model: PQCDenoiser) -> PQCDenoiser:
    """A copy of a PQC denoiser with every trainable angle set to 0: only the fixed gates (CNOT ladders) remain."""
    if not isinstance(model, PQCDenoiser):
        raise ValueError(f"model must be a PQCDenoiser, got {type(model).__name__}")
    zero = copy.deepcopy(model)
    with torch.no_grad():
        for p in zero.parameters():
            if p.requires_grad:
                p.zero_()
    return zero


def plot_noising_fidelity(frame: pd.DataFrame) -> Figure:
    """Mean fidelity |⟨x0|x̂_t⟩|² against t per noise kind (markers with ±2 s.e.) and its approximation (dashed)."""
    _require(frame, ("noise", "t", "fidelity", "stderr", "approx"))
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    for colour, (noise, sub) in zip(sns.color_palette(), frame.groupby("noise", sort=False)):
        ax.errorbar(sub["t"], sub["fidelity"], yerr=2 * sub["stderr"], fmt="o", color=colour, markersize=4,
                    capsize=2, label=f"{noise} noise (Monte Carlo)")
        ax.plot(sub["t"], sub["approx"], "--", color=colour, label=f"{noise} noise (approximation)")
    ax.set_xlabel(r"level $t$")
    ax.set_ylabel(r"$\mathbb{E}\,|\langle x_0|\hat x_t\rangle|^2$")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_per_step_infidelity(frame: pd.DataFrame) -> Figure:
    """Infidelity to the training target per step t, trained circuit against the identity map."""
    _require(frame, ("t", "map", "infidelity"))
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    sns.barplot(data=frame, x="t", y="infidelity", hue="map", ax=ax, errorbar=None)
    ax.set_xlabel(r"denoising step $t$ (level $t \to t-1$)")
    ax.set_ylabel(r"$1 - |\langle \mathrm{out}|\mathrm{target}\rangle|^2$")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# hybrid DDPM
# ---------------------------------------------------------------------------------------------

#: parameter-name prefixes of TinyUNet -> the parts of qdm.models.params.count_parameters
_PART_PREFIXES: tuple[tuple[str, str], ...] = (
    ("enc1", "encoder"), ("enc2", "encoder"), ("enc3", "encoder"), ("time_proj", "time_embedding"),
    ("res_block", "res_block"), ("bottleneck.proj_in", "proj_in"), ("bottleneck.core", "circuit"),
    ("bottleneck.proj_out", "proj_out"), ("bottleneck", "circuit"), ("dec1", "decoder"), ("dec2", "decoder"),
    ("out", "decoder"),
)


def _part_of(name: str) -> str:
    """The count_parameters part a TinyUNet parameter belongs to."""
    for prefix, part in _PART_PREFIXES:
        if name == prefix or name.startswith(prefix + "."):
            return part
    raise ValueError(f"parameter {name!r} belongs to no known TinyUNet part")


def variant_models(cfg: ExperimentConfig, kinds: Sequence[str]) -> dict[str, nn.Module]:
    """papers.md C1: the U-Net of a hybrid config with each bottleneck kind, built (seeded) as the runner builds it."""
    if not isinstance(cfg, ExperimentConfig) or cfg.family != "hybrid_ddpm":
        raise ValueError("cfg must be an ExperimentConfig of the hybrid_ddpm family")
    bad = [k for k in kinds if k not in GATE_KINDS]
    if isinstance(kinds, str) or not kinds or bad:
        raise ValueError(f"kinds must be a non-empty list of gate kinds from {list(GATE_KINDS)}, got {kinds!r}")
    return {k: initial_model(dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, bottleneck=k))) for k in kinds}


def parameter_table(models: Mapping[str, TinyUNet]) -> pd.DataFrame:
    """papers.md C1: trainable parameters per part (rows, network order, then total) for each model (columns)."""
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty mapping label -> TinyUNet")
    counts = {label: count_parameters(model) for label, model in models.items()}
    table = pd.DataFrame(counts).reindex([*PART_NAMES, "total"])
    table.index.name = "part"
    return table.reset_index()


def part_drift(initial: nn.Module, trained: nn.Module) -> dict[str, float]:
    """Largest |θ_trained − θ_initial| over the parameters of each U-Net part (papers.md C1: frozen parts stay at 0)."""
    if not isinstance(initial, TinyUNet) or not isinstance(trained, TinyUNet):
        raise ValueError("initial and trained must both be TinyUNet models")
    a, b = dict(initial.named_parameters()), dict(trained.named_parameters())
    if a.keys() != b.keys():
        raise ValueError("initial and trained must have the same parameters (the same architecture)")
    drift: dict[str, float] = {}
    for name, p in a.items():
        part = _part_of(name)
        change = float((b[name].detach().double() - p.detach().double()).abs().max()) if p.numel() else 0.0
        drift[part] = max(drift.get(part, 0.0), change)
    return {part: drift[part] for part in PART_NAMES if part in drift}


def weight_independence(cfg: GateConfig, n_inputs: int, n_draws: int, generator: torch.Generator) -> dict[str, float]:
    """papers.md C1 property 2: how much ⟨Z_k⟩ of the gate's circuit changes over ``n_draws`` random weight sets.

    Returns the largest output change between weight draws, the largest |∂⟨Z⟩/∂w|, the number of weights
    and, for diagonal+CNOT ansätze, the largest deviation from the closed form ⟨Z_k⟩ = Π_{j∈S_k} cos x_j
    (NaN otherwise). Inputs are uniform in [−π, π].
    """
    if not isinstance(cfg, GateConfig):
        raise ValueError(f"cfg must be a GateConfig, got {type(cfg).__name__}")
    _check_int("n_inputs", n_inputs, 1)
    _check_int("n_draws", n_draws, 2)
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    layer = make_quantum_layer(cfg)
    x = (torch.rand(n_inputs, cfg.n_qubits, generator=generator, dtype=torch.float64) * 2 - 1) * math.pi
    outputs, grad_max = [], 0.0
    for _ in range(n_draws):
        with torch.no_grad():
            layer.weights.copy_(torch.rand(layer.weights.shape, generator=generator, dtype=torch.float64) * 2 * math.pi)
        layer.weights.grad = None
        out = layer(x)
        out.sum().backward()
        grad_max = max(grad_max, float(layer.weights.grad.abs().max()))
        outputs.append(out.detach())
    stacked = torch.stack(outputs)
    ansatz = make_ansatz(cfg.ansatz, cfg.n_layers)
    closed = math.nan
    if getattr(ansatz, "diagonal_and_cnot_only", False):
        closed = float((stacked[0] - zexpval_product_of_cos(x, zexpval_wire_sets(ansatz, cfg.n_qubits))).abs().max())
    return {
        "max_output_change": float((stacked - stacked[0]).abs().max()),
        "max_weight_gradient": grad_max,
        "closed_form_error": closed,
        "n_weights": float(layer.weights.numel()),
    }


def ssim_table(samples: Mapping[str, Tensor], reference: Tensor, convention: str, pairing: str) -> pd.DataFrame:
    """SSIM (Wang et al. 2004) of each labelled image set against ``reference``, convention and pairing named (papers.md C1)."""
    from qdm import metrics  # noqa: PLC0415

    if not isinstance(samples, Mapping) or not samples:
        raise ValueError("samples must be a non-empty mapping label -> images (n, C, H, W) in [0, 1]")
    rows = []
    for label, x in samples.items():
        result = metrics.ssim_paired(x, reference, pairing=pairing, convention=convention, data_range=1.0)
        rows.append({"label": label, "ssim": result.mean, "ssim std": result.std, "n_generated": result.n,
                     "n_real": int(reference.shape[0]), "convention": result.convention, "pairing": result.pairing})
    return pd.DataFrame(rows)


def image_metrics_table(
    runs: Mapping[str, Sequence[RunRecord]],
    reference: Tensor,
    baselines: Mapping[str, Tensor],
    convention: str,
    pairing: str,
) -> pd.DataFrame:
    """One row per run and per baseline image set: FID (one shared reference) and SSIM, with image counts and SSIM convention.

    Runs keep the SSIM stored in their metrics (their config names convention and pairing); baselines
    (e.g. samples of an untrained model, seed shown as -1) are scored here with ``convention``/``pairing``.
    """
    frame = metrics_frame(runs, ["ssim", "ssim_n", "ssim_convention", "ssim_pairing"])
    frame["seed"] = frame["seed"].astype(int)
    rows = [frame]
    if baselines:
        base = ssim_table(baselines, reference, convention, pairing)
        rows.append(pd.DataFrame({
            "label": base["label"], "seed": -1, "run": "-", "ssim": base["ssim"], "ssim_n": base["n_generated"],
            "ssim_convention": base["convention"], "ssim_pairing": base["pairing"], "train_wall_s": 0.0,
        }))
    table = pd.concat(rows, ignore_index=True)
    sets = [run_samples(r) for records in runs.values() for r in records] + list(baselines.values())
    fids = fid_table({str(i): x for i, x in enumerate(sets)}, reference)
    table["fid"] = fids["fid"].to_numpy()
    table["fid n_generated"] = fids["n_generated"].to_numpy()
    table["fid n_real"] = fids["n_real"].to_numpy()
    return table[["label", "seed", "fid", "fid n_generated", "fid n_real", "ssim", "ssim_n", "ssim_convention",
                  "ssim_pairing", "train_wall_s"]]


def fid_table(samples: Mapping[str, Tensor], reference: Tensor, device: str = "cpu") -> pd.DataFrame:
    """FID (Heusel et al. 2017, qdm.metrics protocol) of each labelled image set against one reference set, with both counts.

    The reference features are computed once. Columns: label, fid, n_generated, n_real.
    """
    from qdm import metrics  # noqa: PLC0415 - loads the Inception network only when asked

    if not isinstance(samples, Mapping) or not samples:
        raise ValueError("samples must be a non-empty mapping label -> images (n, C, H, W) in [0, 1]")
    for label, x in samples.items():
        if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[0] < 2:
            raise ValueError(f"samples[{label!r}] must be images (n >= 2, C, H, W), got {getattr(x, 'shape', x)!r}")
    if not isinstance(reference, Tensor) or reference.ndim != 4 or reference.shape[0] < 2:
        raise ValueError(f"reference must be images (n >= 2, C, H, W), got {getattr(reference, 'shape', reference)!r}")
    f_real = metrics.inception_features(reference, device=device)
    rows = []
    for label, x in samples.items():
        f_fake = metrics.inception_features(x, device=device)
        rows.append({"label": label, "fid": metrics.fid_from_features(f_real, f_fake),
                     "n_generated": int(x.shape[0]), "n_real": int(reference.shape[0])})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# generic figures
# ---------------------------------------------------------------------------------------------


def _require(frame: Any, columns: Sequence[str]) -> None:
    """A non-empty DataFrame with the given columns."""
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise ValueError("frame must be a non-empty pandas DataFrame")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame is missing columns {missing}")


def plot_loss_curves(frame: pd.DataFrame, ylabel: str = "training loss", logy: bool = False) -> Figure:
    """Smoothed training loss against step from :func:`loss_frame`: colour per label, line style per seed."""
    _require(frame, ("label", "seed", "step", "loss (smoothed)"))
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
    _check_int("n_cols", cols, 1)
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
