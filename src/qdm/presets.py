"""The published models as named presets: typed config values, reproduced exactly, with CPU profiles.

A preset is an :class:`~qdm.config.ExperimentConfig` *value* ("a preset is a typed config
value, not a subclass"), built by a factory registered in :data:`PRESETS` (the same dict as
``qdm.config.PRESETS``, so ``qdm run <preset>`` and ``get_experiment`` find them).

=============================  ====================================================================
``chen2025``                   chen2025quantum exactly: 16-qubit RY-embedding + 3×(RZ, CNOT chain) gate,
                               input detached (both published properties ON), T = 1000 cosine
``chen2025-trainable``         both switches OFF: gradients reach Linear(128, 16); ``ry_cnot`` ansatz
                               (the published circuit with RZ → RY: same 48 weights, all effective)
``chen2025-classical``         the published classical baseline: the same U-Net with no gate at all
``chen2025-matched``           the gate's circuit replaced by a classical map with exactly the
                               trainable circuit's parameter count (48)
``*-pathmnist``                the four above on PathMNIST class 1 (3 channels)
``cacioppo2023-cond-latent``   cacioppo2023qdm: 1110-parameter conditioned latent model (switch
                               ``noising="as_coded" | "ddpm"``, factory argument or ``model.noising=``)
``cacioppo2025-full``          the cacioppo2023qdm follow-up (IJCNN 2025): full-quantum 16×16 digits 0/1, per-timestep blocks
``koelle2024``                 koelle2024qddm: 8×8 digits, 55 StronglyEntangling layers, MSE on probabilities
=============================  ====================================================================

**Profiles** (:func:`apply_profile`): ``paper`` is the preset itself; ``cpu`` and ``smoke`` shrink the
training budget (steps, batch, images), the evaluation (samples, reference images) and, for the hybrid
DDPM, sample with deterministic DDIM (η = 0, song2021ddim eq. 12) in few steps instead of the 1000
ancestral steps, while the architecture, the circuit, the schedule and T stay exactly the published ones.
On the command line ``profile=cpu`` and ``preset=<name>`` are resolved first, then every other
``key=value`` override (:func:`resolve_config`); the resolved config records ``preset="<name>@<profile>"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Literal

from qdm.config import (
    PRESETS,
    DataConfig,
    EvalConfig,
    ExperimentConfig,
    TrainConfig,
    apply_overrides,
    get_experiment,
    register_experiment,
    register_preset,
)
from qdm.families import FAMILIES, PROFILE_NAMES, ProfileSpec, ano, get_family
from qdm.families.depolarizing import DepolarizingQDMConfig
from qdm.families.hybrid import HYBRID_PROFILES, HybridModelConfig
from qdm.families.pqc import PQC_PROFILES
from qdm.models.autoencoder import AutoencoderConfig
from qdm.models.pqc_denoiser import PQCDenoiserConfig

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
    "depolarizing_qdm",
    "depolarizing_qdm_unitary",
    "get_preset",
    "hybrid_mnist",
    "hybrid_pathmnist",
    "koelle2024",
    "pqc_cond_latent_mnist",
    "pqc_latent_mnist",
    "pqc_mnist",
    "preset_label",
    "resolve_config",
    "split_pseudo_overrides",
]

HybridDataset = Literal["mnist", "pathmnist"]
Noising = Literal["as_coded", "ddpm"]
#: The four hybrid variants of the Chen et al. comparison, in table order.
CHEN2025_VARIANTS: tuple[str, ...] = ("chen2025", "chen2025-trainable", "chen2025-classical", "chen2025-matched")
_PROFILE_SEP = "@"

# ---------------------------------------------------------------------------------------------
# Chen et al. 2025 (chen2025quantum)
# ---------------------------------------------------------------------------------------------

#: chen2025quantum: 30 epochs over all 5,923 training images of digit 0 at batch 64 in the authors' loop
#: (DataLoader keeps the last partial batch): 30 × ⌈5923 / 64⌉ = 30 × 93 = 2,790 optimiser steps.
#: qdm's trainer draws full batches only; the step count is what is kept. PathMNIST uses the same
#: budget (the shared subset holds 119 class-1 training images, the authors used the full class).
CHEN2025_STEPS = 2790
#: Image count of the qdm evaluation protocol (≥ 1000 generated vs held-out real, same class).
QDM_PROTOCOL_SAMPLES = 1000


def _chen_data(dataset: HybridDataset) -> DataConfig:
    """chen2025quantum: all training images of one class (MNIST digit 0, or PathMNIST class 1 'BACK')."""
    if dataset not in ("mnist", "pathmnist"):
        raise ValueError(f"dataset must be 'mnist' or 'pathmnist', got {dataset!r}")
    return DataConfig(dataset=dataset, classes=(0,) if dataset == "mnist" else (1,), images_per_class=None)


def _chen_config(name: str, dataset: HybridDataset, **model: Any) -> ExperimentConfig:
    """chen2025quantum shared settings; ``model`` holds the variant's gate fields."""
    suffix = "" if dataset == "mnist" else "-pathmnist"
    return ExperimentConfig(
        experiment=f"{name}{suffix}",
        family="hybrid_ddpm",
        data=_chen_data(dataset),
        model=HybridModelConfig(
            n_qubits=16,  # chen2025quantum: Linear(128, 16) → 16 qubits
            n_layers=3,
            angle_scaling="none",  # raw Linear outputs are the RY angles
            schedule="cosine",  # s = 0.008, betas clipped to [1e-4, 0.999]: the published code's clip
            cosine_min_beta=1e-4,
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
        # The paper's own protocol (5 samples) is computed by qdm.protocols.chen2025_protocol from the same samples.
        eval=EvalConfig(
            n_samples=QDM_PROTOCOL_SAMPLES,
            fid_real_images=None,  # every held-out image of the class (MNIST digit 0: 980), not a cap silently lowered
            ssim_pairing="nearest",
            ssim_convention="torchmetrics",
            protocol="qdm",
        ),
        preset=f"{name}{suffix}",
    )


def chen2025(dataset: HybridDataset = "mnist") -> ExperimentConfig:
    """chen2025quantum exactly: RY embedding, 3×(RZ on every wire, CNOT chain), ⟨Z⟩ on 16 wires, detached input."""
    return _chen_config("chen2025", dataset, bottleneck="quantum", ansatz="rz_cnot", detach_input=True)


def chen2025_trainable(dataset: HybridDataset = "mnist") -> ExperimentConfig:
    """chen2025quantum with both switches off: no detach, and RZ → RY so that the 48 circuit weights act on ⟨Z⟩.

    ``ry_rz_chain`` and ``strongly_entangling`` were not chosen: their last layer ends in an RZ that
    commutes with the CNOT chain and the Z read-out, so 16 of their weights have zero gradient
    (:func:`qdm.audits.circuits.dead_weight_mask`).
    """
    return _chen_config("chen2025-trainable", dataset, bottleneck="quantum", ansatz="ry_cnot", detach_input=False)


def chen2025_classical(dataset: HybridDataset = "mnist") -> ExperimentConfig:
    """chen2025quantum's classical baseline: the identical U-Net with no gate (not parameter-matched)."""
    return _chen_config("chen2025-classical", dataset, bottleneck="none", ansatz="rz_cnot", detach_input=True)


def chen2025_matched(dataset: HybridDataset = "mnist") -> ExperimentConfig:
    """The gate with its circuit replaced by a classical map of exactly the trainable circuit's 48 parameters."""
    return _chen_config("chen2025-matched", dataset, bottleneck="matched", ansatz="ry_cnot", detach_input=False)


# ---------------------------------------------------------------------------------------------
# Cacioppo et al. 2023 / 2025 and Kölle et al. 2024 (cacioppo2023qdm, its follow-up, koelle2024qddm)
# ---------------------------------------------------------------------------------------------

#: cacioppo2023qdm: DATA_LENGTH = 2048 latents of all ten digits; per-class draws need a multiple of 10,
#: so 205 per digit (2,050). One A1 epoch = ⌊2050/64⌋ = 32 batches × 8 t = 256 optimiser steps
#: (one step per batch and t, snapshot after each t).
A1_IMAGES_PER_CLASS = 205
A1_STEPS_PER_EPOCH = 32 * 8


def cacioppo2023_cond_latent(noising: Noising = "as_coded") -> ExperimentConfig:
    """cacioppo2023qdm exactly: 3 latent + 4 label qubits, SEL blocks 15/20/15 (ranges 1) with a randomly measured ancilla,
    1110 parameters."""
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


#: the cacioppo2023qdm follow-up (IJCNN 2025) gives no data count or block depths; the public forks' trainer.py uses
#: DATA_LENGTH = 8096
#: (4,048 per digit) and pqc_layers [4, 4, 4]: qdm takes those. One epoch = ⌊8096/64⌋ = 126 steps.
A2_IMAGES_PER_CLASS = 4048
A2_STEPS_PER_EPOCH = 8096 // 64


def cacioppo2025_full() -> ExperimentConfig:
    """the cacioppo2023qdm follow-up (IJCNN 2025): 16×16 digits 0/1 on 8 qubits, Rot + CNOT-ladder blocks, post-selected ancilla,
    per-timestep θ_t, μ̃ targets."""
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
    """koelle2024qddm mapped onto the PQC denoiser: 8×8 digits 0/1 amplitude-embedded on 6 qubits, 55 SEL layers,
    MSE on probabilities.

    Kölle et al.'s code (``QDenseUndirected(55, 8)``, ``--ds-size 100``, 80 % train, batch 10, 10,000 epochs,
    Adam 1e-4, weights randn·0.4) differs from this mapping in ways the family cannot express, stated
    here: their 8×8 images are scikit-learn's digits (qdm: MNIST bilinearly downscaled), their noise is
    a blend with N(0.5, 0.2) pixels (qdm: real Gaussian DDPM noising, cosine schedule, T = 10), the
    weights pass through tanh, and probabilities are clamped to [0, 1] after ×64.
    """
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
            cosine_min_beta=0.0,  # Nichol & Dhariwal's cosine, unclipped below
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


def apply_profile(cfg: ExperimentConfig, profile: str) -> ExperimentConfig:
    """Scale a preset to a profile: 'paper' = unchanged; 'cpu', 'smoke': the family's ``profile`` hook
    (:data:`~qdm.families.hybrid.HYBRID_PROFILES`, :data:`~qdm.families.pqc.PQC_PROFILES`);
    records ``preset="<name>@<profile>"``."""
    if not isinstance(cfg, ExperimentConfig):
        raise ValueError(f"cfg must be an ExperimentConfig, got {type(cfg).__name__}")
    if profile not in PROFILE_NAMES:
        raise ValueError(f"profile must be one of {', '.join(PROFILE_NAMES)}, got {profile!r}")
    if profile == "paper":
        return cfg
    family = get_family(cfg.family)
    if family.profile is None:
        having = sorted(name for name, fam in FAMILIES.items() if fam.profile is not None)
        raise ValueError(f"profile={profile!r} is defined for the families {having}, not {cfg.family!r}")
    scaled = family.profile(cfg, profile)
    return dataclasses.replace(scaled, preset=preset_label(_base_name(cfg.preset or cfg.experiment), profile))


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
    """``qdm run``'s config: experiment or preset ``name``, then ``preset=`` (same family), then ``profile=``,
    then the other overrides.

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
# Named CPU experiments of the book's chapters: each is a preset at a profile plus the stated changes
# (no second hand-written copy of a preset), and the depolarizing QDM, which has no published scale
# ---------------------------------------------------------------------------------------------


def _from_preset(
    name: str, profile: str, experiment: str, **sections: dict[str, Any]
) -> ExperimentConfig:
    """Preset ``name`` at ``profile``, renamed ``experiment`` (no preset label), with per-section field changes."""
    cfg = get_preset(name, profile)
    changes = {
        section: dataclasses.replace(getattr(cfg, section), **fields) for section, fields in sections.items()
    }
    return dataclasses.replace(cfg, experiment=experiment, preset=None, **changes)


#: hybrid-mnist = chen2025@cpu with 8 qubits (a 16-qubit state per image costs ~1 s per U-Net call on 2 CPU
#: cores), qdm's time convention (the embedding sees t = 1…T; the chen2025* presets feed the authors' t − 1),
#: 800 steps of batch 32 at lr 1e-3, 32 samples and skimage's SSIM convention.
_HYBRID_CHANGES: dict[str, dict[str, Any]] = {
    "model": {"n_qubits": 8, "time_input": "t"},
    "train": {"steps": 800, "batch_size": 32, "lr": 1e-3, "checkpoint_every": 200},
    "eval": {"n_samples": 32, "ssim_convention": "skimage"},
}


def hybrid_mnist() -> ExperimentConfig:
    """chen2025@cpu (MNIST digit 0, 64 training images, DDIM in 50 steps) with :data:`_HYBRID_CHANGES`."""
    return _from_preset("chen2025", "cpu", "hybrid-mnist", **_HYBRID_CHANGES)


def hybrid_pathmnist() -> ExperimentConfig:
    """chen2025-pathmnist@cpu (PathMNIST class 1 'BACK', 64 images, 3 channels) with :data:`_HYBRID_CHANGES`."""
    return _from_preset("chen2025-pathmnist", "cpu", "hybrid-pathmnist", **_HYBRID_CHANGES)


def pqc_mnist() -> ExperimentConfig:
    """cacioppo2025-full@cpu on 8×8 digits 0/1 (6 qubits): blocks (3, 3, 3), 64 images per digit, 400 steps of batch 8.

    Adam 5e-2 without weight decay or StepLR, angles initialised N(0, 0.1²) (qdm's choice: from uniform
    [0, 2π) angles the infidelity falls more slowly on this budget; the public follow-up forks' PQC also
    takes an ``init_variance`` argument), 64 samples, skimage's SSIM convention.
    """
    return _from_preset(
        "cacioppo2025-full",
        "cpu",
        "pqc-mnist",
        data={"images_per_class": 64},
        model={"n_qubits": 6, "image_size": 8, "n_layers": 9, "blocks": (3, 3, 3), "init": "normal", "init_scale": 0.1},
        train={"steps": 400, "batch_size": 8, "lr": 5e-2, "weight_decay": 0.0, "lr_step_size": None, "lr_gamma": 0.1,
               "checkpoint_every": 100},
        eval={"n_samples": 64, "ssim_convention": "skimage"},
    )


def pqc_cond_latent_mnist() -> ExperimentConfig:
    """cacioppo2023-cond-latent@cpu: its exact 1110-parameter circuit (3 + 4 label qubits, blocks 15/20/15).

    A small autoencoder (widths (8, 16, 32), hidden 32, 400 steps at batch 32), 50 images per digit, Adam
    5e-3 without StepLR, 800 steps of batch 32 (100 rounds of the 8 t), 64 samples, skimage's SSIM convention.
    """
    return _from_preset(
        "cacioppo2023-cond-latent",
        "cpu",
        "pqc-cond-latent-mnist",
        model={"autoencoder": AutoencoderConfig(latent_dim=8, train_steps=400)},
        train={"lr": 5e-3, "lr_step_size": None, "lr_gamma": 0.1},
        eval={"n_samples": 64, "ssim_convention": "skimage"},
    )


def pqc_latent_mnist() -> ExperimentConfig:
    """pqc-cond-latent-mnist without labels on digits 0 and 1: blocks (4, 6, 4), 128 images per digit, 1,600 steps."""
    base = pqc_cond_latent_mnist()
    return dataclasses.replace(
        base,
        experiment="pqc-latent-mnist",
        data=dataclasses.replace(base.data, classes=(0, 1), images_per_class=128),
        model=dataclasses.replace(base.model, n_label_qubits=0, n_layers=14, blocks=(4, 6, 4)),
        train=dataclasses.replace(base.train, steps=1600, checkpoint_every=400),
    )


def depolarizing_qdm() -> ExperimentConfig:
    """jo2025qamp §1.3.5–1.3.8 (no paper gives a scale): 2 system qubits + 1 ancilla, T = 10 cosine steps,
    per-step 2-layer StronglyEntangling circuits, final loss; 64 target states clustered (spread 0.3) around a
    Haar-random 2-qubit state; 400 Adam steps of batch 16, lr 0.05."""
    return ExperimentConfig(
        experiment="depolarizing-qdm",
        family="depolarizing_qdm",
        model=DepolarizingQDMConfig(n_qubits=2, n_ancilla=1, T=10),
        train=TrainConfig(steps=400, batch_size=16, lr=0.05, checkpoint_every=100, seed=0),
        eval=EvalConfig(n_samples=16, metrics=()),
    )


def depolarizing_qdm_unitary() -> ExperimentConfig:
    """The same experiment with a unitary-only reverse process (no ancilla): the control that cannot leave I/d."""
    base = depolarizing_qdm()
    return dataclasses.replace(
        base,
        experiment="depolarizing-qdm-unitary",
        model=dataclasses.replace(base.model, reverse="unitary", n_ancilla=0),
    )


for _name, _factory in {
    "hybrid-mnist": hybrid_mnist,
    "hybrid-pathmnist": hybrid_pathmnist,
    "pqc-mnist": pqc_mnist,
    "pqc-latent-mnist": pqc_latent_mnist,
    "pqc-cond-latent-mnist": pqc_cond_latent_mnist,
    "depolarizing-qdm": depolarizing_qdm,
    "depolarizing-qdm-unitary": depolarizing_qdm_unitary,
}.items():
    register_experiment(_name, _factory)


register_preset(ano.PRESET_NAME, ano.jo2025_ano)
