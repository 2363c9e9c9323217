"""The "hybrid_ddpm" family: a DDPM whose tiny U-Net carries a quantum (or twin classical) bottleneck gate.

Chen, Hou, Hu, Cai (arXiv:2504.00034, 2025; papers.md C, C1). The model is :class:`qdm.models.TinyUNet`
with the gate of :mod:`qdm.models.bottleneck`; training minimises L_simple (seed eq. 6) and sampling
runs the ancestral DDPM sampler (Ho et al. Algorithm 2) or deterministic DDIM (Song et al. eq. 12).

Two "noise strategies" of the paper are options, both qdm reconstructions (papers.md C, E: no
formula is published and the authors' code uses neither):

* ``schedule="tailored"``: :func:`qdm.schedules.tailored_schedule`;
* ``noise="quantum"``: ε (training) and z, x_T (sampling) come from
  :func:`qdm.circuits.quantum_noise` instead of ``torch.randn``.

Registered experiments (small, CPU-friendly; paper-scale values in the comments):
``hybrid-mnist`` (MNIST digit 0, 64 images) and ``hybrid-pathmnist`` (PathMNIST class 1, 64 images).
The classical twins are the same experiments with ``model.bottleneck=none|classical|matched``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from qdm.circuits import quantum_noise
from qdm.config import (
    DataConfig,
    EvalConfig,
    ExperimentConfig,
    TrainConfig,
    register_experiment,
    validate_fields,
)
from qdm.data import load_dataset
from qdm.diffusion import (
    ddim_sample_loop,
    gaussian_noise,
    p_mean_variance,
    p_sample_loop,
    q_sample,
)
from qdm.families import Family, register_family
from qdm.models import GateConfig, TinyUNet, UNetConfig, build_unet, count_parameters
from qdm.schedules import NoiseSchedule, make_schedule

__all__ = [
    "FAMILY",
    "HybridModelConfig",
    "NoiseFn",
    "ancestral_sample",
    "build_hybrid",
    "gate_config",
    "hybrid_describe",
    "hybrid_evaluate",
    "hybrid_loss",
    "hybrid_prepare_data",
    "hybrid_sample",
    "hybrid_validate",
    "l_simple_with_noise",
    "make_noise_fn",
    "schedule_for",
    "unet_config",
]

NoiseFn = Callable[[Sequence[int], torch.Generator | None, torch.dtype, torch.device], torch.Tensor]
"""``noise_fn(shape, generator, dtype, device)`` → a standard-normal-like tensor (Gaussian or quantum-generated)."""

#: The Chen et al. code clips the cosine schedule's betas to [1e-4, 0.999] (papers.md C1).
COSINE_MIN_BETA = 1e-4


@dataclass(frozen=True)
class HybridModelConfig:
    """The hybrid DDPM's model, schedule, noise and sampler (papers.md C1 values unless noted).

    n_qubits: 16 in the paper; 8 by default here, since a 16-qubit state vector per image makes every
    U-Net call cost ~a second on 2 CPU cores (performance.md). 16 stays available.
    ansatz "rz_cnot" and detach_input=True are the published circuit and its two properties
    (papers.md C1): the RZ weights do not change ⟨Z⟩ and Linear(128, n) gets no gradient.
    time_input: "t" (qdm's convention, the embedding sees t = 1…T) or "index" (the authors' code: the
    embedding sees the schedule position t − 1; on in the chen2025* presets).  backend: "statevector" runs
    the full 2**n state with no shortcuts (for audits).
    """

    bottleneck: Literal["none", "quantum", "classical", "matched"] = "quantum"
    n_qubits: int = 8
    n_layers: int = 3
    ansatz: Literal["rz_cnot", "strongly_entangling", "ry_rz_chain", "ry_cnot"] = "rz_cnot"
    detach_input: bool = True
    angle_scaling: Literal["none", "pi_tanh"] = "none"
    schedule: Literal["linear", "cosine", "tailored"] = "cosine"
    T: int = 1000
    noise: Literal["gaussian", "quantum"] = "gaussian"
    backend: Literal["torch", "statevector", "pennylane"] = "torch"
    clip_x0: bool = True
    sampler: Literal["ddpm", "ddim"] = "ddpm"
    sample_steps: int | None = None
    in_channels: int = 1
    widths: tuple[int, int, int] = (32, 64, 128)
    time_dim: int = 128
    time_input: Literal["t", "index"] = "t"

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.T < 1:
            raise ValueError(f"HybridModelConfig.T must be >= 1, got {self.T}")
        if self.sample_steps is not None and not 1 <= self.sample_steps <= self.T:
            raise ValueError(f"HybridModelConfig.sample_steps must be None (all T steps) or in 1..T={self.T}, got {self.sample_steps}")
        if self.sampler == "ddpm" and self.sample_steps not in (None, self.T):
            raise ValueError("HybridModelConfig.sample_steps must be None or T for sampler='ddpm' (use sampler='ddim' to skip steps)")
        for name, build in (("unet", unet_config), ("gate", gate_config)):
            try:
                build(self)
            except ValueError as err:
                raise ValueError(f"HybridModelConfig: invalid {name} settings: {err}") from None


def unet_config(m: HybridModelConfig) -> UNetConfig:
    """papers.md C1: the U-Net widths of a hybrid model config."""
    return UNetConfig(in_channels=m.in_channels, widths=m.widths, time_dim=m.time_dim, time_input=m.time_input)


def gate_config(m: HybridModelConfig) -> GateConfig:
    """papers.md C1: the bottleneck gate of a hybrid model config."""
    return GateConfig(kind=m.bottleneck, n_qubits=m.n_qubits, n_layers=m.n_layers, ansatz=m.ansatz,
                      detach_input=m.detach_input, angle_scaling=m.angle_scaling, backend=m.backend)


def schedule_for(m: HybridModelConfig) -> NoiseSchedule:
    """papers.md C1 (cosine, s = 0.008, betas in [1e-4, 0.999]) or the linear / tailored schedule with T steps."""
    if m.schedule == "cosine":
        return make_schedule("cosine", m.T, min_beta=COSINE_MIN_BETA)
    return make_schedule(m.schedule, m.T)


def make_noise_fn(kind: str) -> NoiseFn:
    """papers.md C: standard Gaussian noise ('gaussian', torch.randn) or quantum-generated noise ('quantum')."""
    if kind == "gaussian":
        return lambda shape, g, dtype, device: gaussian_noise(tuple(shape), g, dtype=dtype, device=device)
    if kind == "quantum":
        return lambda shape, g, dtype, device: quantum_noise(tuple(shape), g, dtype=dtype, device=device)
    raise ValueError(f"noise must be 'gaussian' or 'quantum', got {kind!r}")


def l_simple_with_noise(
    eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    schedule: NoiseSchedule,
    generator: torch.Generator | None,
    noise_fn: NoiseFn,
) -> torch.Tensor:
    """Seed eq. 6 with ε from `noise_fn`: mean |ε − ε_θ(√ᾱ_t x₀ + √(1−ᾱ_t) ε, t)|², t ~ U{1..T} (draws t, then ε)."""
    if not isinstance(x0, torch.Tensor) or x0.ndim < 2 or x0.shape[0] < 1:
        raise ValueError(f"x0 must be a tensor (B, ...) with B >= 1, got {getattr(x0, 'shape', type(x0))}")
    draw_device = generator.device if generator is not None else x0.device
    t = torch.randint(1, schedule.T + 1, (x0.shape[0],), generator=generator, device=draw_device).to(x0.device)
    eps = noise_fn(tuple(x0.shape), generator, x0.dtype, x0.device)
    x_t = q_sample(x0, t, eps, schedule)
    return (eps - eps_fn(x_t, t)).pow(2).mean()


def ancestral_sample(
    eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x_T: torch.Tensor,
    schedule: NoiseSchedule,
    generator: torch.Generator | None,
    noise_fn: NoiseFn,
    clip_x0: bool = True,
) -> torch.Tensor:
    """Ho et al. Algorithm 2 with z from `noise_fn`: x_{t−1} = μ_θ(x_t, t) + σ_t z (z drawn every step, unused at t = 1)."""
    if not isinstance(x_T, torch.Tensor) or x_T.ndim < 2:
        raise ValueError(f"x_T must be a tensor (B, ...), got {getattr(x_T, 'shape', type(x_T))}")
    x = x_T
    with torch.no_grad():
        for t in range(schedule.T, 0, -1):
            t_batch = torch.full((x.shape[0],), t, dtype=torch.int64, device=x.device)
            mean, variance, _ = p_mean_variance(eps_fn(x, t_batch), x, t_batch, schedule, clip_x0)
            z = noise_fn(tuple(x.shape), generator, x.dtype, x.device)
            x = mean + variance.sqrt() * z if t > 1 else mean
    return x


# ---------------------------------------------------------------------------------------------
# The Family functions
# ---------------------------------------------------------------------------------------------


def build_hybrid(cfg: ExperimentConfig) -> TinyUNet:
    """papers.md C1: the tiny U-Net with the configured bottleneck gate."""
    return build_unet(unet_config(cfg.model), gate_config(cfg.model))


def hybrid_prepare_data(cfg: ExperimentConfig) -> torch.Tensor:
    """papers.md C1: the chosen real images (classes, N per class, seeded), float32 (N, C, 28, 28) in [−1, 1]."""
    d = cfg.data
    ds = load_dataset(d.dataset, d.split, data_dir=d.data_dir)
    return ds.subset(d.classes, d.images_per_class, d.subset_seed).to_tensor("minus_one_one")


def hybrid_loss(model: nn.Module, batch: torch.Tensor, cfg: ExperimentConfig, generator: torch.Generator) -> torch.Tensor:
    """Seed eq. 6 (L_simple) with the configured noise source and schedule."""
    return l_simple_with_noise(model, batch, schedule_for(cfg.model), generator, make_noise_fn(cfg.model.noise))


def _sampler_settings(cfg: ExperimentConfig) -> tuple[str, int]:
    """(sampler, steps): eval.sampler / eval.sample_steps when set, else the model config's, else all T steps."""
    m = cfg.model
    sampler = cfg.eval.sampler or m.sampler
    if cfg.eval.sample_steps is not None:
        steps = cfg.eval.sample_steps
    else:
        steps = m.T if sampler == "ddpm" else (m.sample_steps or m.T)
    if not 1 <= steps <= m.T:
        raise ValueError(f"sample_steps must be in 1..T={m.T}, got {steps}")
    if sampler == "ddpm" and steps != m.T:
        raise ValueError(f"the DDPM sampler runs all T={m.T} steps; got sample_steps={steps} (use sampler='ddim')")
    return sampler, steps


def hybrid_sample(model: nn.Module, n: int, cfg: ExperimentConfig, generator: torch.Generator) -> torch.Tensor:
    """Ho et al. Algorithm 2 or DDIM (η = 0) from x_T, with the configured noise; images mapped from [−1, 1] to [0, 1]."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    m = cfg.model
    sampler, steps = _sampler_settings(cfg)
    schedule = schedule_for(m)
    device = next(model.parameters()).device
    shape = (n, m.in_channels, 28, 28)
    noise_fn = make_noise_fn(m.noise)
    with torch.no_grad():
        if sampler == "ddim":
            x_T = noise_fn(shape, generator, torch.float32, device)
            x = ddim_sample_loop(model, shape, schedule, steps, generator, eta=0.0, clip_x0=m.clip_x0, x_T=x_T)
        elif m.noise == "gaussian":
            x = p_sample_loop(model, shape, schedule, generator, clip_x0=m.clip_x0, device=device)
        else:
            x_T = noise_fn(shape, generator, torch.float32, device)
            x = ancestral_sample(model, x_T, schedule, generator, noise_fn, clip_x0=m.clip_x0)
    return ((x.clamp(-1.0, 1.0) + 1.0) / 2.0).float()


def hybrid_evaluate(model: nn.Module, samples: torch.Tensor, cfg: ExperimentConfig) -> dict[str, float]:
    """Trainable parameters per part of the configured architecture (count_parameters), as metrics 'params_<part>'.

    Counted on a fresh build of ``cfg`` (global RNG state restored), not on ``model``: the sampled model is
    usually the frozen EMA copy, whose parameters no longer require gradients.
    """
    with torch.random.fork_rng(devices=[]):
        counts = count_parameters(build_hybrid(cfg))
    return {f"params_{k}": float(v) for k, v in counts.items()}


def hybrid_validate(cfg: ExperimentConfig) -> None:
    """Cross-field check: model.in_channels must be the dataset's channels (1 MNIST, 3 PathMNIST); sampler settings valid."""
    want = {"mnist": 1, "pathmnist": 3}[cfg.data.dataset]
    if cfg.model.in_channels != want:
        raise ValueError(f"HybridModelConfig.in_channels must be {want} for dataset {cfg.data.dataset!r}, got {cfg.model.in_channels}")
    _sampler_settings(cfg)


def hybrid_describe(cfg: ExperimentConfig) -> str:
    """One paragraph: which gate, circuit, schedule, noise and sampler an experiment uses."""
    m = cfg.model
    gate = {
        "none": "no bottleneck gate (the published classical baseline)",
        "quantum": f"a {m.n_qubits}-qubit, {m.n_layers}-layer '{m.ansatz}' circuit gate ({m.backend} backend)",
        "classical": f"a classical tanh(Wx+b) gate of width {m.n_qubits} (identical-architecture twin)",
        "matched": f"a classical gate with exactly the parameter count of the {m.n_qubits}-qubit '{m.ansatz}' circuit",
    }[m.bottleneck]
    sampler, steps = _sampler_settings(cfg)
    return (
        f"Hybrid DDPM (Chen et al. 2025): tiny U-Net {m.widths} with {gate}; "
        f"{m.schedule} schedule, T={m.T}, {m.noise} noise, {sampler.upper()} sampling in {steps} steps"
        f"{', x0 clipped' if m.clip_x0 else ''}; data {cfg.data.dataset} classes {cfg.data.classes}, "
        f"{cfg.data.images_per_class or 'all'} images per class."
    )


FAMILY = register_family(
    Family(
        name="hybrid_ddpm",
        model_config_cls=HybridModelConfig,
        build=build_hybrid,
        loss=hybrid_loss,
        sample=hybrid_sample,
        prepare_data=hybrid_prepare_data,
        evaluate=hybrid_evaluate,
        describe=hybrid_describe,
        validate=hybrid_validate,
    )
)


# ---------------------------------------------------------------------------------------------
# Experiments. Paper scale (papers.md C1): n_qubits=16, T=1000 cosine, DDPM sampling of all 1000
# steps, Adam 3e-4, batch 64, EMA 0.999, 30 epochs over all ~6k images of one digit (~2,800 steps);
# the paper's own claim is about < 100 training images. The defaults below keep the published
# model and schedule but shrink the run: 8 qubits, 64 images, 800 steps, DDIM in 50 steps.
# ---------------------------------------------------------------------------------------------

_SMALL_TRAIN = TrainConfig(steps=800, batch_size=32, lr=1e-3, ema_decay=0.995, checkpoint_every=200, seed=0)
_SMALL_EVAL = EvalConfig(n_samples=32, sampler="ddim", sample_steps=50, fid_real_images=1000)


def hybrid_mnist() -> ExperimentConfig:
    """papers.md C: MNIST digit 0, 64 (< 100) training images, 8-qubit published gate, CPU-sized training."""
    return ExperimentConfig(
        experiment="hybrid-mnist",
        family="hybrid_ddpm",
        data=DataConfig(dataset="mnist", classes=(0,), images_per_class=64, split="train"),
        model=HybridModelConfig(in_channels=1),
        train=_SMALL_TRAIN,
        eval=_SMALL_EVAL,
    )


def hybrid_pathmnist() -> ExperimentConfig:
    """papers.md C: PathMNIST class 1 (BACK), 64 training images, 3 channels, 8-qubit published gate, CPU-sized."""
    return dataclasses.replace(
        hybrid_mnist(),
        experiment="hybrid-pathmnist",
        data=DataConfig(dataset="pathmnist", classes=(1,), images_per_class=64, split="train"),
        model=HybridModelConfig(in_channels=3),
    )


register_experiment("hybrid-mnist", hybrid_mnist)
register_experiment("hybrid-pathmnist", hybrid_pathmnist)
