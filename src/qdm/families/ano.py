"""The "ano_hybrid" family: the QAMP 2025 hybrid denoiser with adaptive non-local observables [jo2026ano].

The model and its maths are in :mod:`qdm.models.ano`; this module wires it to the one trainer and the
runner, as the project's training code does (jo2026ano, ``trainer.py``, ``utils/circuit_training.py``):

* ``prepare_data``: real MNIST training images of ``data.classes`` (``data.images_per_class`` each, seeded;
  the project draws one unseeded subset of 8,096 images of all ten digits), each L2-normalised at 28×28
  and then resized to 16×16 (:func:`qdm.models.ano.images_to_states`), with the digit labels;
* ``loss``: :func:`qdm.models.ano.ano_loss`: every batch at all T = 10 times (32 images → 320 pairs),
  complex noise, normalised posterior-mean targets, infidelity;
* ``sample``: the deterministic sampler; sample i has digit classes[i mod C]; images are |amplitudes|
  divided by their maximum and upscaled bilinearly to 28×28 (qdm's protocol, brightness matched);
* ``prepare_eval_reference``: real test images (protocol "qdm") of the same digits through the same
  encode → |x|/max → upscale pipeline, so the metrics compare the generative model, not the resolution.

Optimiser (jo2026ano, circuit_training.py 103–121): Adam lr 1e-3, StepLR(10 epochs, γ 0.97), batch 32,
100 epochs of 253 steps, no clipping, no EMA.  The project keeps the checkpoint of lowest training loss;
qdm evaluates the last one.  The preset is ``jo2025-ano`` (registered by :mod:`qdm.presets`), scaled by
:func:`profile` to ``smoke`` / ``cpu`` / ``book`` / ``paper``.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from qdm import metrics, protocols
from qdm.config import DataConfig, EvalConfig, ExperimentConfig, TrainConfig, training_subset
from qdm.families.base import Family, register_family
from qdm.models.ano import AnoConfig, AnoDenoiser, ano_loss, images_to_states, parameter_counts, sample_states, states_to_images

__all__ = [
    "ANO_PROFILES",
    "FAMILY",
    "METRIC_SIZE",
    "PAPER_EPOCH_STEPS",
    "ano_describe",
    "ano_eval_reference",
    "ano_evaluate",
    "ano_loss_fn",
    "ano_prepare_data",
    "ano_sample",
    "ano_validate",
    "build_ano",
    "published_protocol",
    "unscaled_images",
    "jo2025_ano",
    "profile",
]

#: Side of the images handed to the metrics (MNIST's).
METRIC_SIZE = 28
#: jo2026ano, trainer.py 47: 8,096 images at batch 32 with drop_last = 253 steps an epoch; qdm draws 810
#: per digit (8,100 images, the same 253 full batches).
PAPER_IMAGES_PER_CLASS = 810
PAPER_EPOCH_STEPS = 253
PAPER_EPOCHS = 100


def _training_images(data: DataConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The experiment's real images (N, 1, 28, 28) in [0, 1] and labels (N,) int64 (seeded subset)."""
    subset = training_subset(data)
    return subset.to_tensor("unit"), torch.from_numpy(subset.labels.copy()).long()


def build_ano(cfg: ExperimentConfig) -> AnoDenoiser:
    """The ANO denoiser (weights from torch's global RNG, seeded by the runner)."""
    return AnoDenoiser(cfg.model)


def ano_prepare_data(cfg: ExperimentConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(states (N, 256) complex128, labels (N,)): images normalised at 28×28, then resized to 16×16."""
    images, labels = _training_images(cfg.data)
    return images_to_states(images, cfg.model.image_size), labels


def ano_loss_fn(
    model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], cfg: ExperimentConfig, generator: torch.Generator
) -> torch.Tensor:
    """The infidelity of one batch at all T times (:func:`qdm.models.ano.ano_loss`), noise from ``generator``."""
    states, labels = batch
    return ano_loss(model, states, labels, generator)


def _to_metric_size(images: torch.Tensor) -> torch.Tensor:
    """Bilinear upscaling (align_corners=False) of (N, 1, s, s) images in [0, 1] to 28×28, clamped to [0, 1]."""
    up = F.interpolate(images, size=(METRIC_SIZE, METRIC_SIZE), mode="bilinear", align_corners=False)
    return up.clamp(0.0, 1.0)


def ano_sample(model: nn.Module, n: int, cfg: ExperimentConfig, generator: torch.Generator) -> torch.Tensor:
    """n samples (n, 1, 28, 28) in [0, 1]; sample i is digit classes[i mod C]."""
    classes = cfg.data.classes
    labels = torch.tensor([classes[i % len(classes)] for i in range(n)], dtype=torch.long)
    states = sample_states(model, labels, generator)
    return _to_metric_size(states_to_images(states, cfg.model.image_size)).float()


#: Offset of the published-protocol sampler's seed from the run's seed (its own stream, so the main
#: samples do not change when the published protocol is switched on or off).
PUBLISHED_SEED_OFFSET = 7919


def unscaled_images(states: torch.Tensor, size: int = 16) -> torch.Tensor:
    """(N, size²) amplitudes → (N, 1, size, size) float32 |amplitudes| clamped to [0, 1], *not* brightness matched.

    jo2026ano, evaluation.py 105: both image sets reach the FID as they are (a unit-norm sample peaks at
    ≈ 0.2, a resized real image at ≈ 0.1), so the two sets differ in brightness before they differ in shape.
    """
    return states.abs().reshape(-1, 1, size, size).clamp(0.0, 1.0).float()


def published_protocol(model: nn.Module, cfg: ExperimentConfig) -> dict[str, float]:
    """FID and KID as the project measures them (jo2026ano, circuit_training.py 215–252; evaluation.py 92–125).

    ``n = model.published_protocol_images`` samples drawn *without labels*, i.e. from the label-0 rows of
    the angle table (circuit_training.py 234), against the first ``n`` training images (the stand-in of
    :func:`qdm.protocols.chen2025_images`: the first ``n`` official MNIST test images, any digit), both as
    unscaled 16×16 magnitudes (:func:`unscaled_images`), upscaled by the Inception pipeline of
    :mod:`qdm.metrics` (TF-2015 Inception, the network behind torchmetrics' FID).  Empty when ``n`` = 0.
    """
    n = cfg.model.published_protocol_images
    if n == 0:
        return {}
    size = cfg.model.image_size
    generator = torch.Generator().manual_seed(cfg.train.seed + PUBLISHED_SEED_OFFSET)
    with torch.no_grad():
        fake_states = sample_states(model, torch.zeros(n, dtype=torch.long), generator)
    real_states = images_to_states(protocols.to_unit(protocols.chen2025_images(cfg.data, n)), size)
    f_fake = metrics.inception_features(unscaled_images(fake_states, size), device=cfg.train.device)
    f_real = metrics.inception_features(unscaled_images(real_states, size), device=cfg.train.device)
    kid, kid_se = protocols.kid_with_se(f_real, f_fake)
    return {
        "published_fid": metrics.fid_from_features(f_real, f_fake),
        "published_kid": kid,
        "published_kid_se": kid_se,
        "published_n_samples": float(n),
        "published_n_reference": float(real_states.shape[0]),
    }


def ano_evaluate(model: nn.Module, samples: torch.Tensor, cfg: ExperimentConfig) -> dict[str, float]:
    """The trainable parameters (total, quantum, classical) and the project's own FID (:func:`published_protocol`)."""
    counts = parameter_counts(model)
    out = {f"parameters_{k}": float(counts[k]) for k in ("total", "quantum", "classical")}
    if "fid" in cfg.eval.metrics:
        out.update(published_protocol(model, cfg))
    return out


def ano_parameter_counts(cfg: ExperimentConfig) -> dict[str, int]:
    """Family hook: trainable parameters of a fresh build (total, quantum = angle table + observables, classical)."""
    with torch.random.fork_rng(devices=[]):
        model = build_ano(cfg)
    return {k: int(v) for k, v in parameter_counts(model).items()}


def ano_eval_reference(cfg: ExperimentConfig) -> torch.Tensor:
    """Real images of the experiment's digits through the samples' pipeline (16×16 → |x|/max → 28×28).

    The images of ``eval.protocol`` (:func:`qdm.protocols.reference_images`, the one definition shared with the
    runner and the audits), then passed through the samples' pipeline.
    """
    d = cfg.data
    images = protocols.to_unit(protocols.reference_images(d, cfg.eval.protocol, cfg.eval.fid_real_images))
    states = images_to_states(images, cfg.model.image_size)
    return _to_metric_size(states_to_images(states, cfg.model.image_size)).float().contiguous()


def ano_validate(cfg: ExperimentConfig) -> None:
    """Cross-field checks: MNIST; labels index the angle table directly (max class < model.n_labels)."""
    if cfg.data.dataset != "mnist":
        raise ValueError(f"DataConfig.dataset must be 'mnist' for the ano_hybrid family, got {cfg.data.dataset!r}")
    if max(cfg.data.classes) >= cfg.model.n_labels:
        raise ValueError(
            f"AnoConfig.n_labels={cfg.model.n_labels} holds digits 0..{cfg.model.n_labels - 1}, "
            f"but DataConfig.classes has {max(cfg.data.classes)}"
        )


def ano_describe(cfg: ExperimentConfig) -> str:
    """One paragraph: the network, its features and the diffusion of an experiment."""
    m = cfg.model
    feats = {
        "circuit": f"{m.n_features} circuit features (ANO{' + Hadamard test' if m.hadamard_test else ''})",
        "zeros": f"{m.n_features} zero features (no quantum part)",
        "classical": f"{m.n_features} features of a parameter-matched classical (t, label) block",
    }[m.features]
    return (
        f"ANO hybrid (QAMP 2025, jo2026ano): 16×16 images as 256 complex amplitudes; MLP encoder to a real unit "
        f"16-vector on 4 qubits; {m.n_blocks} circuit blocks of {m.layers} layers; {feats}; decoder fed the features and the "
        f"whole noisy input; angle table per (t, label); T={m.T}, linear β {m.beta_start}…{m.beta_end}, complex "
        f"noise, posterior-mean targets, infidelity, deterministic sampler; {m.backend} backend; data "
        f"{cfg.data.dataset} classes {cfg.data.classes}, {cfg.data.images_per_class or 'all'} images per class."
    )


# ---------------------------------------------------------------------------------------------
# The preset and its profiles
# ---------------------------------------------------------------------------------------------

PRESET_NAME = "jo2025-ano"


def jo2025_ano() -> ExperimentConfig:
    """jo2026ano as coded at the commit of the final report: ANO hybrid, all ten digits, T = 10, Adam 1e-3 + StepLR.

    100 epochs × 253 steps of batch 32 (each image at all ten t), StepLR every 10 epochs (γ 0.97);
    evaluated under qdm's protocol (1,000 samples across the digits vs held-out test images).
    """
    return ExperimentConfig(
        experiment=PRESET_NAME,
        family="ano_hybrid",
        data=DataConfig(dataset="mnist", classes=tuple(range(10)), images_per_class=PAPER_IMAGES_PER_CLASS),
        model=AnoConfig(),
        train=TrainConfig(
            steps=PAPER_EPOCHS * PAPER_EPOCH_STEPS,
            batch_size=32,
            lr=1e-3,
            optimizer="adam",
            lr_step_size=10 * PAPER_EPOCH_STEPS,
            lr_gamma=0.97,
            checkpoint_every=10 * PAPER_EPOCH_STEPS,
        ),
        eval=EvalConfig(
            n_samples=1000, fid_real_images=1000, ssim_pairing="nearest", ssim_convention="torchmetrics", protocol="qdm"
        ),
        preset=PRESET_NAME,
    )


@dataclasses.dataclass(frozen=True)
class _AnoProfile:
    """Budget of a profile: steps, batch, images per digit, samples, reference images, checkpoint interval."""

    steps: int
    batch_size: int
    images_per_class: int
    n_samples: int
    fid_real_images: int
    checkpoint_every: int | None
    published_protocol_images: int = 256


#: Profiles (architecture, circuit, schedule, T and optimiser as coded; budget and evaluation scaled).
#: StepLR keeps its 10-epoch period in epochs of the profile's data (⌊N / batch⌋ steps).
ANO_PROFILES: dict[str, _AnoProfile] = {
    "smoke": _AnoProfile(
        steps=3, batch_size=4, images_per_class=2, n_samples=10, fid_real_images=20, checkpoint_every=None,
        published_protocol_images=4,
    ),
    "cpu": _AnoProfile(steps=400, batch_size=32, images_per_class=64, n_samples=200, fid_real_images=500, checkpoint_every=100),
    "book": _AnoProfile(
        steps=1000, batch_size=32, images_per_class=128, n_samples=1000, fid_real_images=1000, checkpoint_every=250
    ),
}


def profile(cfg: ExperimentConfig, name: str) -> ExperimentConfig:
    """The ``jo2025-ano`` config scaled to profile ``name`` ('paper' = unchanged; 'book', 'cpu', 'smoke')."""
    if name == "paper":
        return cfg
    if name not in ANO_PROFILES:
        raise ValueError(f"profile must be one of paper, {', '.join(ANO_PROFILES)} for the ano_hybrid family, got {name!r}")
    spec = ANO_PROFILES[name]
    per_class = (
        spec.images_per_class if cfg.data.images_per_class is None else min(cfg.data.images_per_class, spec.images_per_class)
    )
    epoch = max(1, (per_class * len(cfg.data.classes)) // spec.batch_size)
    base = (cfg.preset or cfg.experiment).split("@", 1)[0]
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, images_per_class=per_class),
        model=dataclasses.replace(cfg.model, published_protocol_images=spec.published_protocol_images),
        train=dataclasses.replace(
            cfg.train,
            steps=spec.steps,
            batch_size=spec.batch_size,
            lr_step_size=10 * epoch if cfg.train.lr_step_size is not None else None,
            checkpoint_every=spec.checkpoint_every,
        ),
        eval=dataclasses.replace(cfg.eval, n_samples=spec.n_samples, fid_real_images=spec.fid_real_images),
        preset=f"{base}@{name}",
    )


FAMILY = register_family(
    Family(
        name="ano_hybrid",
        model_config_cls=AnoConfig,
        build=build_ano,
        loss=ano_loss_fn,
        sample=ano_sample,
        prepare_data=ano_prepare_data,
        evaluate=ano_evaluate,
        describe=ano_describe,
        prepare_eval_reference=ano_eval_reference,
        validate=ano_validate,
        profile=profile,
        parameter_counts=ano_parameter_counts,
    )
)
