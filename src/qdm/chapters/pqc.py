"""Chapter 03 (the PQC denoiser of [cacioppo2023qdm]): its knobs and experiment, parameter-count formulas,
forward noising of amplitude-encoded states, and per-step infidelity of a trained circuit."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure
from torch import Tensor

from qdm.chapters.common import (
    Chapter,
    chapter_from,
    check_results_dir,
    parse_flag,
    parse_seeds,
    pick_parameters,
    require,
)
from qdm.families.pqc import PQC_PROFILES
from qdm.models.pqc_denoiser import (
    PQCDenoiser,
    PQCDenoiserConfig,
    block_ansatz,
    block_wires,
    circuit_parameter_count,
    decode_images,
    diffusion_schedule,
    draw_noise,
    forward_marginal,
    normalise,
    training_pair,
)
from qdm.validation import check_choice, check_float, check_int

__all__ = [
    "BASE_EXPERIMENT",
    "CONFIG_KEYS",
    "PQCChapterKnobs",
    "from_namespace",
    "formula_count",
    "noised_fidelity_approx",
    "noised_images",
    "noising_fidelity_frame",
    "per_step_infidelity",
    "plot_noising_fidelity",
    "plot_per_step_infidelity",
    "pqc_chapter",
    "pqc_parameter_table",
    "with_zero_angles",
]


#: The registered experiment chapter 03 trains.
BASE_EXPERIMENT = "pqc-mnist"


def _register(image_size: Any) -> dict[str, Any]:
    """An image size s → the amplitude register: image_size = s and n_qubits = log2(s²) (set together)."""
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 2 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two >= 2 (s² amplitudes on log2(s²) qubits), got {image_size!r}")
    return {"model.image_size": image_size, "model.n_qubits": 2 * int(math.log2(image_size))}


def _blocks(layers_per_block: Any) -> dict[str, Any]:
    """k layers per block → blocks (k, k, k) and n_layers = 3k (set together)."""
    if isinstance(layers_per_block, bool) or not isinstance(layers_per_block, int) or layers_per_block < 1:
        raise ValueError(f"layers_per_block must be an integer >= 1, got {layers_per_block!r}")
    k = layers_per_block
    return {"model.n_layers": 3 * k, "model.blocks": (k, k, k)}


#: Chapter 03's notebook parameters that are config values: parameter -> keys of :data:`BASE_EXPERIMENT`'s config
#: (validated there), or a function giving coupled fields set together.
CONFIG_KEYS: dict[str, tuple[str, ...] | Callable[[Any], dict[str, Any]]] = {
    "digits": ("data.classes",),
    "images_per_class": ("data.images_per_class",),
    "image_size": _register,
    "noise": ("model.noise",),
    "T": ("model.T",),
    "layers_per_block": _blocks,
    "ancilla": ("model.ancilla",),
    "steps": ("train.steps",),
    "batch_size": ("train.batch_size",),
    "lr": ("train.lr",),
    "seed": ("train.seed",),
    "n_samples": ("eval.n_samples",),
    "reference_images": ("eval.fid_real_images",),
}
#: Set by the chapter itself: the run stores SSIM only.
_CHAPTER_OVERRIDES = ("eval.metrics=ssim",)


@dataclass(frozen=True)
class PQCChapterKnobs:
    """Chapter 03's own knobs: Monte-Carlo draws of the noising check, the results folder, and the profile and seeds
    of the papers' runs shown from the ledger (:mod:`qdm.chapters.pqc_book`), whether missing ones are trained and by
    how many workers (``book_seeds``: one int or a comma-separated string; ``train_missing``: also papermill's
    'true' / 'false')."""

    n_draws: int = 200
    results_dir: str = ""
    profile: str = "book"
    book_seeds: Any = "0,1,2"
    train_missing: Any = False
    workers: int = 1

    def __post_init__(self) -> None:
        """Check every field; the message names the parameter and its allowed values."""
        check_int(self.n_draws, "n_draws", 2, 1_000_000)
        check_results_dir(self.results_dir)
        check_choice(self.profile, "profile", ("paper", *PQC_PROFILES))
        seeds = parse_seeds(self.book_seeds, "book_seeds")
        object.__setattr__(self, "book_seeds", ",".join(str(s) for s in seeds))
        object.__setattr__(self, "train_missing", parse_flag(self.train_missing, "train_missing"))
        check_int(self.workers, "workers", 1, 64)

    @property
    def book_seed_list(self) -> tuple[int, ...]:
        """The training seeds of the papers' runs, in the given order."""
        return tuple(int(s) for s in self.book_seeds.split(","))


def pqc_chapter(**values: Any) -> Chapter:
    """Chapter 03 from notebook parameters: :data:`CONFIG_KEYS` set :data:`BASE_EXPERIMENT`'s config, the rest
    :class:`PQCChapterKnobs` (:func:`qdm.chapters.common.chapter_from`)."""
    return chapter_from(values, PQCChapterKnobs, {"pqc": BASE_EXPERIMENT}, CONFIG_KEYS, fixed=_CHAPTER_OVERRIDES)


def from_namespace(namespace: Mapping[str, Any]) -> Chapter:
    """:func:`pqc_chapter` from a notebook's namespace (its parameters cell and papermill's overrides)."""
    return pqc_chapter(**pick_parameters(namespace, [*CONFIG_KEYS, *(f.name for f in dataclasses.fields(PQCChapterKnobs))]))


def formula_count(cfg: PQCDenoiserConfig) -> tuple[str, int]:
    """[cacioppo2023qdm]: the parameter count written out, e.g. "15·7·3 + 20·8·3 + 15·7·3" = 1110, from the block shapes."""
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
    """[cacioppo2023qdm]: one row per model: wires, layers per block, time conditioning, the count formula and the count."""
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
    """Forward noising (eq. 4 of [ho2020ddpm]) in state space: E|⟨x0|x_t⟩|² ≈ (a² + κσ²b²)/(a² + κσ²b²d), κ = 1 real,
    2 complex noise.

    a = √ᾱ and b = √(1−ᾱ) ("ddpm") or 1−ᾱ ("as_coded", the authors' code of [cacioppo2023qdm]).

    Ratio of the expectations of numerator and squared norm (exact as d → ∞): E|⟨x0|ε⟩|² = κσ², E‖ε‖² = κσ²d.
    """
    check_choice(noise, "noise", ("real", "complex"))
    check_choice(noising, "noising", ("ddpm", "as_coded"))
    check_int(d, "d", 1)
    check_float(std, "std", 0.0, low_open=True)
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
    """Forward noising (eq. 4 of [ho2020ddpm]) on amplitude-encoded states: Monte-Carlo E|⟨x0|x̂_t⟩|²
    (x̂ normalised) per level t and noise kind.

    Columns: noise, t, alpha_bar (at schedule time t + offset), fidelity (mean over images × draws), stderr,
    approx (:func:`noised_fidelity_approx`) and imag_weight, the mean Σ_j (Im x̂_j)² (0 for real noise).
    """
    if not isinstance(cfg, PQCDenoiserConfig):
        raise ValueError(f"cfg must be a PQCDenoiserConfig, got {type(cfg).__name__}")
    if not isinstance(x0, Tensor) or x0.ndim != 2 or x0.shape[1] != cfg.state_dim:
        raise ValueError(f"x0 must be unit amplitude vectors (B, {cfg.state_dim}), got {getattr(x0, 'shape', x0)!r}")
    check_int(n_draws, "n_draws", 2)
    schedule, offset = diffusion_schedule(cfg)
    x = x0.double().repeat(n_draws, 1)
    rows = []
    for noise in noises:
        check_choice(noise, "noise", ("real", "complex"))
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
    """Forward noising (eq. 4 of [ho2020ddpm]) at the given levels with one ε per image shared by all levels,
    decoded as |x̂_t|/max (N, 1, s, s)."""
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
    """[cacioppo2023qdm]: per step t, mean 1 − |⟨out|target⟩|² of the trained circuit and of doing nothing (out = x_t).

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
    require(frame, ("noise", "t", "fidelity", "stderr", "approx"))
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
    require(frame, ("t", "map", "infidelity"))
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    sns.barplot(data=frame, x="t", y="infidelity", hue="map", ax=ax, errorbar=None)
    ax.set_xlabel(r"denoising step $t$ (level $t \to t-1$)")
    ax.set_ylabel(r"$1 - |\langle \mathrm{out}|\mathrm{target}\rangle|^2$")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
