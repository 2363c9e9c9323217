"""The published models as named presets: typed config values, reproduced exactly, with CPU profiles.

A preset is an :class:`~qdm.config.ExperimentConfig` *value* (design.md: "a preset is a typed config
value, not a subclass"), built by a factory registered in :data:`PRESETS` (the same dict as
``qdm.config.PRESETS``, so ``qdm run <preset>`` and ``get_experiment`` find them).

=============================  ====================================================================
``chen2025``                   papers.md C1 exactly: 16-qubit RY-embedding + 3×(RZ, CNOT chain) gate,
                               input detached (both published properties ON), T = 1000 cosine
``chen2025-trainable``         both switches OFF: gradients reach Linear(128, 16); ``ry_cnot`` ansatz
                               (the published circuit with RZ → RY: same 48 weights, all effective)
``chen2025-classical``         the published classical baseline: the same U-Net with no gate at all
``chen2025-matched``           the gate's circuit replaced by a classical map with exactly the
                               trainable circuit's parameter count (48)
``*-pathmnist``                the four above on PathMNIST class 1 (3 channels)
``cacioppo2023-cond-latent``   papers.md A1: 1110-parameter conditioned latent model (switch
                               ``noising="as_coded" | "ddpm"``, factory argument or ``model.noising=``)
``cacioppo2025-full``          papers.md A2: full-quantum 16×16 digits 0/1, per-timestep blocks
``koelle2024``                 papers.md D: 8×8 digits, 55 StronglyEntangling layers, MSE on probabilities
=============================  ====================================================================

**Profiles** (:func:`apply_profile`): ``paper`` is the preset itself; ``cpu`` and ``smoke`` shrink the
training budget (steps, batch, images), the evaluation (samples, reference images) and, for the hybrid
DDPM, sample with deterministic DDIM (η = 0, Song et al. 2021 eq. 12) in few steps instead of the 1000
ancestral steps, while the architecture, the circuit, the schedule and T stay exactly the published ones.
On the command line ``profile=cpu`` and ``preset=<name>`` are resolved first, then every other
``key=value`` override (:func:`resolve_config`); the resolved config records ``preset="<name>@<profile>"``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from qdm.config import (
    PRESETS,
    DataConfig,
    EvalConfig,
    ExperimentConfig,
    TrainConfig,
    apply_overrides,
    get_experiment,
    register_preset,
)
from qdm.families import load_plugins

__all__ = [
    "CHEN2025_VARIANTS",
    "HYBRID_PROFILES",
    "PQC_PROFILES",
    "PRESETS",
    "PROFILE_NAMES",
    "ProfileSpec",
    "apply_profile",
    "cacioppo2023_cond_latent",
    "cacioppo2025_full",
    "chen2025",
    "chen2025_classical",
    "chen2025_matched",
    "chen2025_trainable",
    "get_preset",
    "koelle2024",
    "preset_label",
    "resolve_config",
    "split_pseudo_overrides",
]

HybridDataset = Literal["mnist", "pathmnist"]
Noising = Literal["as_coded", "ddpm"]
PROFILE_NAMES: tuple[str, ...] = ("paper", "cpu", "smoke")
_OPTIONAL = ("sample_steps", "autoencoder_steps", "checkpoint_every")
#: The four hybrid variants of the Chen et al. comparison, in table order.
CHEN2025_VARIANTS: tuple[str, ...] = ("chen2025", "chen2025-trainable", "chen2025-classical", "chen2025-matched")
_PROFILE_SEP = "@"

# ---------------------------------------------------------------------------------------------
# Chen et al. 2025 (papers.md C1)
# ---------------------------------------------------------------------------------------------

#: papers.md C1: 30 epochs over all 5,923 training images of digit 0 at batch 64 in the authors' loop
#: (DataLoader keeps the last partial batch): 30 × ⌈5923 / 64⌉ = 30 × 93 = 2,790 optimiser steps.
#: qdm's trainer draws full batches only; the step count is what is kept. PathMNIST uses the same
#: budget (the shared subset holds 119 class-1 training images, the authors used the full class).
CHEN2025_STEPS = 2790
#: Image count of the qdm evaluation protocol (≥ 1000 generated vs held-out real, same class).
QDM_PROTOCOL_SAMPLES = 1000


def _chen_data(dataset: HybridDataset) -> DataConfig:
    """papers.md C1: all training images of one class (MNIST digit 0, or PathMNIST class 1 'BACK')."""
    if dataset not in ("mnist", "pathmnist"):
        raise ValueError(f"dataset must be 'mnist' or 'pathmnist', got {dataset!r}")
    return DataConfig(dataset=dataset, classes=(0,) if dataset == "mnist" else (1,), images_per_class=None)


def _chen_config(name: str, dataset: HybridDataset, **model: Any) -> ExperimentConfig:
    """papers.md C1 shared settings; ``model`` holds the variant's gate fields."""
    from qdm.families_hybrid import HybridModelConfig

    suffix = "" if dataset == "mnist" else "-pathmnist"
    return ExperimentConfig(
        experiment=f"{name}{suffix}",
        family="hybrid_ddpm",
        data=_chen_data(dataset),
        model=HybridModelConfig(
            n_qubits=16,  # papers.md C1: Linear(128, 16) → 16 qubits
            n_layers=3,
            angle_scaling="none",  # raw Linear outputs are the RY angles
            schedule="cosine",  # s = 0.008, betas clipped to [1e-4, 0.999] (families_hybrid.schedule_for)
            T=1000,
            noise="gaussian",  # the public code uses torch.randn, no quantum noise
            backend="torch",  # same circuit as the PennyLane QNode (tests hold one against the other)
            clip_x0=True,  # sampling clamps the predicted x0 to [-1, 1]
            sampler="ddpm",  # ancestral sampling over all T steps
            in_channels=1 if dataset == "mnist" else 3,
            widths=(32, 64, 128),
            time_dim=128,
            time_input="index",  # the authors' network embeds the schedule position k = t - 1
            **model,
        ),
        train=TrainConfig(
            steps=CHEN2025_STEPS, batch_size=64, lr=3e-4, optimizer="adam", ema_decay=0.999, checkpoint_every=250
        ),
        # The paper's own protocol (5 samples) is computed by qdm.audit.chen2025_protocol from the same samples.
        eval=EvalConfig(
            n_samples=QDM_PROTOCOL_SAMPLES,
            fid_real_images=1000,
            ssim_pairing="nearest",
            ssim_convention="torchmetrics",
            protocol="qdm",
        ),
        preset=f"{name}{suffix}",
    )


def chen2025(dataset: HybridDataset = "mnist") -> ExperimentConfig:
    """papers.md C1 exactly: RY embedding, 3×(RZ on every wire, CNOT chain), ⟨Z⟩ on 16 wires, detached input."""
    return _chen_config("chen2025", dataset, bottleneck="quantum", ansatz="rz_cnot", detach_input=True)


def chen2025_trainable(dataset: HybridDataset = "mnist") -> ExperimentConfig:
    """papers.md C1 with both switches off: no detach, and RZ → RY so that the 48 circuit weights act on ⟨Z⟩.

    ``ry_rz_chain`` and ``strongly_entangling`` were not chosen: their last layer ends in an RZ that
    commutes with the CNOT chain and the Z read-out, so 16 of their weights have zero gradient
    (:func:`qdm.audit.dead_weight_mask`).
    """
    return _chen_config("chen2025-trainable", dataset, bottleneck="quantum", ansatz="ry_cnot", detach_input=False)


def chen2025_classical(dataset: HybridDataset = "mnist") -> ExperimentConfig:
    """papers.md C1's classical baseline: the identical U-Net with no gate (not parameter-matched)."""
    return _chen_config("chen2025-classical", dataset, bottleneck="none", ansatz="rz_cnot", detach_input=True)


def chen2025_matched(dataset: HybridDataset = "mnist") -> ExperimentConfig:
    """The gate with its circuit replaced by a classical map of exactly the trainable circuit's 48 parameters."""
    return _chen_config("chen2025-matched", dataset, bottleneck="matched", ansatz="ry_cnot", detach_input=False)


# ---------------------------------------------------------------------------------------------
# Cacioppo et al. 2023 / 2025 and Kölle et al. 2024 (papers.md A1, A2, D)
# ---------------------------------------------------------------------------------------------

#: papers.md A1: DATA_LENGTH = 2048 latents of all ten digits; per-class draws need a multiple of 10,
#: so 205 per digit (2,050). One A1 epoch = ⌊2050/64⌋ = 32 batches × 8 t = 256 optimiser steps
#: (one step per batch and t, snapshot after each t).
A1_IMAGES_PER_CLASS = 205
A1_STEPS_PER_EPOCH = 32 * 8


def cacioppo2023_cond_latent(noising: Noising = "as_coded") -> ExperimentConfig:
    """papers.md A1 exactly: 3 latent + 4 label qubits, SEL blocks 15/20/15 (ranges 1) with a randomly measured ancilla, 1110 parameters."""
    from qdm.models.autoencoder import AutoencoderConfig
    from qdm.models.pqc_denoiser import PQCDenoiserConfig

    n_images = 10 * A1_IMAGES_PER_CLASS
    ae_epoch = n_images // 32  # autoencoder batch 32
    return ExperimentConfig(
        experiment="cacioppo2023-cond-latent",
        family="pqc_denoiser",
        data=DataConfig(dataset="mnist", classes=tuple(range(10)), images_per_class=A1_IMAGES_PER_CLASS),
        model=PQCDenoiserConfig(
            n_qubits=3,
            image_size=28,
            latent=True,
            n_label_qubits=4,
            n_layers=50,
            blocks=(15, 20, 15),
            ansatz="strongly_entangling",
            sel_ranges="one",
            ancilla="measure",
            time_conditioning="snapshot",
            snapshot_phase_steps=1,
            noise="complex",
            noising=noising,
            target="previous",
            schedule="cacioppo_linspace",
            beta_start=4e-3,
            beta_end=0.4,
            T=8,
            loss="infidelity",
            init="uniform_2pi",
            # A1 autoencoder: widths (64, 128, 256), hidden 128, latent 8, Huber, Adam 1e-3, batch 32,
            # 100 epochs on all 70k MNIST images (80/20 split); here 100 epochs over the experiment's images.
            autoencoder=AutoencoderConfig(
                latent_dim=8,
                widths=(64, 128, 256),
                hidden=128,
                train_steps=100 * ae_epoch,
                train_batch_size=32,
                train_lr=1e-3,
            ),
        ),
        # Adam 5e-4, StepLR(20 epochs, γ 0.7), batch 64, 100 epochs.
        train=TrainConfig(
            steps=100 * A1_STEPS_PER_EPOCH,
            batch_size=64,
            lr=5e-4,
            lr_step_size=20 * A1_STEPS_PER_EPOCH,
            lr_gamma=0.7,
            checkpoint_every=A1_STEPS_PER_EPOCH * 10,
        ),
        eval=EvalConfig(
            n_samples=QDM_PROTOCOL_SAMPLES, ssim_pairing="nearest", ssim_convention="torchmetrics", protocol="qdm"
        ),
        preset="cacioppo2023-cond-latent",
    )


#: papers.md A2 gives no data count or block depths; the public forks' trainer.py uses DATA_LENGTH = 8096
#: (4,048 per digit) and pqc_layers [4, 4, 4]: qdm takes those. One epoch = ⌊8096/64⌋ = 126 steps.
A2_IMAGES_PER_CLASS = 4048
A2_STEPS_PER_EPOCH = 8096 // 64


def cacioppo2025_full() -> ExperimentConfig:
    """papers.md A2: 16×16 digits 0/1 on 8 qubits, Rot + CNOT-ladder blocks, post-selected ancilla, per-timestep θ_t, μ̃ targets."""
    from qdm.models.pqc_denoiser import PQCDenoiserConfig

    return ExperimentConfig(
        experiment="cacioppo2025-full",
        family="pqc_denoiser",
        data=DataConfig(dataset="mnist", classes=(0, 1), images_per_class=A2_IMAGES_PER_CLASS),
        model=PQCDenoiserConfig(
            n_qubits=8,
            image_size=16,
            n_layers=12,
            blocks=(4, 4, 4),
            ansatz="rot_cnot_ladder",
            ancilla="postselect",
            time_conditioning="per_timestep",
            t_sampling="all",
            noise="complex",
            noising="ddpm",
            target="posterior_mean",
            schedule="constant",
            beta=1e-2,
            T=10,
            loss="infidelity",
        ),
        # Adam 5e-5 (weight decay 1e-5), StepLR(10 epochs, γ 0.97), batch 64, 2000 epochs.
        train=TrainConfig(
            steps=2000 * A2_STEPS_PER_EPOCH,
            batch_size=64,
            lr=5e-5,
            weight_decay=1e-5,
            lr_step_size=10 * A2_STEPS_PER_EPOCH,
            lr_gamma=0.97,
            checkpoint_every=100 * A2_STEPS_PER_EPOCH,
        ),
        eval=EvalConfig(
            n_samples=QDM_PROTOCOL_SAMPLES, ssim_pairing="nearest", ssim_convention="torchmetrics", protocol="qdm"
        ),
        preset="cacioppo2025-full",
    )


def koelle2024() -> ExperimentConfig:
    """papers.md D mapped onto the PQC denoiser: 8×8 digits 0/1 amplitude-embedded on 6 qubits, 55 SEL layers, MSE on probabilities.

    Kölle et al.'s code (``QDenseUndirected(55, 8)``, ``--ds-size 100``, 80 % train, batch 10, 10,000 epochs,
    Adam 1e-4, weights randn·0.4) differs from this mapping in ways the family cannot express, stated
    here: their 8×8 images are scikit-learn's digits (qdm: MNIST bilinearly downscaled), their noise is
    a blend with N(0.5, 0.2) pixels (qdm: real Gaussian DDPM noising, cosine schedule, T = 10), the
    weights pass through tanh, and probabilities are clamped to [0, 1] after ×64.
    """
    from qdm.models.pqc_denoiser import PQCDenoiserConfig

    return ExperimentConfig(
        experiment="koelle2024",
        family="pqc_denoiser",
        data=DataConfig(dataset="mnist", classes=(0, 1), images_per_class=40),  # 80 training images
        model=PQCDenoiserConfig(
            n_qubits=6,
            image_size=8,
            n_layers=55,
            ansatz="strongly_entangling",
            sel_ranges="pennylane_default",
            time_conditioning="shared",
            t_sampling="all",
            noise="real",
            noising="ddpm",
            target="previous",
            schedule="cosine",
            T=10,
            loss="mse_probabilities",
            init="normal",
            init_scale=0.4,
        ),
        # 10,000 epochs of 80 images at batch 10 = 80,000 steps.
        train=TrainConfig(steps=80_000, batch_size=10, lr=1e-4, checkpoint_every=5000),
        eval=EvalConfig(
            n_samples=QDM_PROTOCOL_SAMPLES, ssim_pairing="nearest", ssim_convention="torchmetrics", protocol="qdm"
        ),
        preset="koelle2024",
    )


# ---------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileSpec:
    """What a CPU profile changes: budget and evaluation only (never the architecture, circuit, schedule or T).

    ``images_per_class`` caps the preset's count; ``ema_decay`` applies to the hybrid DDPM (an EMA of
    horizon ≫ steps would sample the initial weights); ``sample_steps``: DDIM steps of the hybrid DDPM;
    ``autoencoder_steps``: the PQC latent model's autoencoder budget.
    """

    steps: int
    batch_size: int
    images_per_class: int
    n_samples: int
    fid_real_images: int
    ema_decay: float | None = None
    sample_steps: int | None = None
    autoencoder_steps: int | None = None
    checkpoint_every: int | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "images_per_class", "sample_steps", "autoencoder_steps", "checkpoint_every"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"ProfileSpec.{name} must be an int >= 1{' or None' if name in _OPTIONAL else ''}, got {value!r}")
        if self.n_samples < 5:
            raise ValueError(f"ProfileSpec.n_samples must be >= 5 (the chen2025 protocol uses 5), got {self.n_samples}")
        if self.fid_real_images < 2:
            raise ValueError(f"ProfileSpec.fid_real_images must be >= 2, got {self.fid_real_images}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"ProfileSpec.ema_decay must be None or in (0, 1), got {self.ema_decay}")


#: Hybrid DDPM profiles: < 100 training images (the paper's key regime), ``cpu`` draws the qdm protocol's
#: 1000 samples (the ``smoke`` profile only checks the pipeline; at 300 steps the loss was still 0.24 and
#: every variant drew noise, so ``cpu`` trains 1000 of the published 2790), DDIM sampling (η = 0) in
#: ``sample_steps`` steps of the T = 1000 schedule; EMA shortened to the run (0.999 has a ~1000-step horizon).
HYBRID_PROFILES: dict[str, ProfileSpec] = {
    "cpu": ProfileSpec(steps=1000, batch_size=64, images_per_class=64, n_samples=1000, fid_real_images=1000,
                       ema_decay=0.995, sample_steps=50, checkpoint_every=250),
    "smoke": ProfileSpec(steps=30, batch_size=16, images_per_class=64, n_samples=16, fid_real_images=64,
                         ema_decay=None, sample_steps=10),
}
#: PQC denoiser profiles (the circuits have ≤ 9 qubits: the budget, not the simulator, is the limit).
PQC_PROFILES: dict[str, ProfileSpec] = {
    "cpu": ProfileSpec(steps=800, batch_size=32, images_per_class=50, n_samples=100, fid_real_images=1000,
                       autoencoder_steps=400, checkpoint_every=200),
    "smoke": ProfileSpec(steps=16, batch_size=16, images_per_class=8, n_samples=20, fid_real_images=64,
                         autoencoder_steps=20),
}


def _profile_spec(family: str, profile: str) -> ProfileSpec | None:
    """The ProfileSpec of a family and profile name (None for 'paper')."""
    if profile not in PROFILE_NAMES:
        raise ValueError(f"profile must be one of {', '.join(PROFILE_NAMES)}, got {profile!r}")
    if profile == "paper":
        return None
    tables = {"hybrid_ddpm": HYBRID_PROFILES, "pqc_denoiser": PQC_PROFILES}
    if family not in tables:
        raise ValueError(f"profile={profile!r} is defined for the families {sorted(tables)}, not {family!r}")
    return tables[family][profile]


def _capped(value: int | None, cap: int) -> int:
    """min(value, cap), where None means 'all images'."""
    return cap if value is None else min(value, cap)


def _profile_train(train: TrainConfig, spec: ProfileSpec, steps: int, ema: bool) -> TrainConfig:
    """The preset's TrainConfig with the profile's budget (lr, optimiser and schedule of the preset kept)."""
    return dataclasses.replace(
        train,
        steps=steps,
        batch_size=spec.batch_size,
        ema_decay=spec.ema_decay if ema else train.ema_decay,
        checkpoint_every=spec.checkpoint_every,
    )


def _profile_eval(ecfg: EvalConfig, spec: ProfileSpec, ddim: bool) -> EvalConfig:
    """The preset's EvalConfig with fewer samples / reference images (and DDIM sampling for the hybrid DDPM)."""
    extra = {"sampler": "ddim", "sample_steps": spec.sample_steps} if ddim and spec.sample_steps else {}
    return dataclasses.replace(ecfg, n_samples=spec.n_samples, fid_real_images=spec.fid_real_images, **extra)


def apply_profile(cfg: ExperimentConfig, profile: str) -> ExperimentConfig:
    """Scale a preset to a profile ('paper' = unchanged; 'cpu', 'smoke': :data:`HYBRID_PROFILES` / :data:`PQC_PROFILES`)."""
    if not isinstance(cfg, ExperimentConfig):
        raise ValueError(f"cfg must be an ExperimentConfig, got {type(cfg).__name__}")
    if cfg.family in FAMILY_PROFILES:
        return FAMILY_PROFILES[cfg.family](cfg, profile)
    spec = _profile_spec(cfg.family, profile)
    if spec is None:
        return cfg
    data = dataclasses.replace(cfg.data, images_per_class=_capped(cfg.data.images_per_class, spec.images_per_class))
    model = cfg.model
    steps = spec.steps
    if cfg.family == "pqc_denoiser":
        if model.time_conditioning == "snapshot":
            # every t needs at least one phase: round up to whole rounds of T phases
            per_round = model.T * model.snapshot_phase_steps
            steps = per_round * math.ceil(steps / per_round)
        if model.latent and spec.autoencoder_steps is not None:
            ae = dataclasses.replace(model.autoencoder, train_steps=spec.autoencoder_steps)
            model = dataclasses.replace(model, autoencoder=ae)
    hybrid = cfg.family == "hybrid_ddpm"
    return dataclasses.replace(
        cfg,
        data=data,
        model=model,
        train=_profile_train(cfg.train, spec, steps, ema=hybrid),
        eval=_profile_eval(cfg.eval, spec, ddim=hybrid),
        preset=preset_label(_base_name(cfg.preset or cfg.experiment), profile),
    )


# ---------------------------------------------------------------------------------------------
# Registry, lookup and command-line resolution
# ---------------------------------------------------------------------------------------------


def preset_label(name: str, profile: str) -> str:
    """What ``ExperimentConfig.preset`` records: ``name`` for the paper profile, else ``name@profile``."""
    return name if profile == "paper" else f"{name}{_PROFILE_SEP}{profile}"


def _base_name(label: str) -> str:
    """The preset name of a recorded label (``chen2025@cpu`` → ``chen2025``)."""
    return label.split(_PROFILE_SEP, 1)[0]


def _named(factory: Callable[..., ExperimentConfig], name: str, **kwargs: Any) -> Callable[[], ExperimentConfig]:
    """A zero-argument factory calling ``factory(**kwargs)`` (registered under ``name``)."""

    def make() -> ExperimentConfig:
        return factory(**kwargs)

    make.__qualname__ = f"preset[{name}]"
    make.__doc__ = factory.__doc__
    return make


_REGISTRY: dict[str, Callable[[], ExperimentConfig]] = {
    "chen2025": chen2025,
    "chen2025-trainable": chen2025_trainable,
    "chen2025-classical": chen2025_classical,
    "chen2025-matched": chen2025_matched,
    "chen2025-pathmnist": _named(chen2025, "chen2025-pathmnist", dataset="pathmnist"),
    "chen2025-trainable-pathmnist": _named(chen2025_trainable, "chen2025-trainable-pathmnist", dataset="pathmnist"),
    "chen2025-classical-pathmnist": _named(chen2025_classical, "chen2025-classical-pathmnist", dataset="pathmnist"),
    "chen2025-matched-pathmnist": _named(chen2025_matched, "chen2025-matched-pathmnist", dataset="pathmnist"),
    "cacioppo2023-cond-latent": cacioppo2023_cond_latent,
    "cacioppo2025-full": cacioppo2025_full,
    "koelle2024": koelle2024,
}
for _name, _factory in _REGISTRY.items():
    register_preset(_name, _factory)


def get_preset(name: str, profile: str = "paper", **kwargs: Any) -> ExperimentConfig:
    """The preset ``name`` (a registered factory, called with ``kwargs``) scaled to ``profile``."""
    load_plugins(strict=False)
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(sorted(PRESETS))}, got {name!r}")
    try:
        cfg = PRESETS[name](**kwargs)
    except TypeError as err:
        raise ValueError(f"preset {name!r} does not take the arguments {sorted(kwargs)}: {err}") from None
    return apply_profile(cfg, profile)


def split_pseudo_overrides(overrides: Sequence[str]) -> tuple[str | None, str | None, list[str]]:
    """(preset, profile, remaining overrides): pull ``preset=`` and ``profile=`` out of ``key=value`` strings (last wins)."""
    if isinstance(overrides, str):
        raise ValueError("overrides must be a sequence of 'key=value' strings, not one string")
    preset: str | None = None
    profile: str | None = None
    rest: list[str] = []
    for item in overrides:
        key, sep, value = item.partition("=") if isinstance(item, str) else ("", "", "")
        key, value = key.strip(), value.strip()
        if sep and key == "preset":
            preset = value
        elif sep and key == "profile":
            profile = value
        else:
            rest.append(item)
    return preset, profile, rest


def resolve_config(name: str, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """``qdm run``'s config: experiment or preset ``name``, then ``preset=`` (same family), then ``profile=``, then the other overrides.

    With ``preset=P`` the preset's config replaces the experiment's (keeping the experiment's name, so
    results go to ``results/<name>/``); ``profile=`` applies to the preset given, or to ``name`` itself.
    """
    preset, profile, rest = split_pseudo_overrides(overrides)
    cfg = get_experiment(name)
    if preset is not None:
        base = get_preset(_base_name(preset))
        if base.family != cfg.family:
            raise ValueError(
                f"preset={preset!r} is a {base.family!r} config but experiment {name!r} is {cfg.family!r}; "
                f"run the preset directly: qdm run {_base_name(preset)}"
            )
        cfg = dataclasses.replace(base, experiment=cfg.experiment)
        if _PROFILE_SEP in preset and profile is None:
            profile = preset.split(_PROFILE_SEP, 1)[1]
    if profile is not None:
        if cfg.preset is None:
            raise ValueError(f"profile={profile!r} applies to presets only; {name!r} is a plain experiment")
        cfg = apply_profile(cfg, profile)
    return apply_overrides(cfg, rest)


# ---------------------------------------------------------------------------------------------
# Families that scale their own presets: family name -> profile(cfg, name) (checked first by apply_profile)
# ---------------------------------------------------------------------------------------------

from qdm import families_ano as _families_ano  # noqa: E402  (registers the ano_hybrid family)

FAMILY_PROFILES: dict[str, Callable[[ExperimentConfig, str], ExperimentConfig]] = {"ano_hybrid": _families_ano.profile}
register_preset(_families_ano.PRESET_NAME, _families_ano.jo2025_ano)
