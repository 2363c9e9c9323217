"""The "pqc_denoiser" family: a parametrised quantum circuit as the denoiser of a quantum diffusion model.

cacioppo2023qdm (arXiv:2311.15444), its authors' follow-up code and koelle2024qddm; the model, its options
and the maths are in :mod:`qdm.models.pqc_denoiser`.  This module wires it to the one trainer and
the runner:

* ``prepare_data``: real MNIST images of ``data.classes`` (``data.images_per_class`` each, seeded), as
  amplitude vectors: downscaled bilinearly to ``model.image_size``² and L2-normalised (full variant), or the
  positive unit latents of the A1 autoencoder (latent variant), with the digit labels when the model has
  label qubits;
* latent variant: the autoencoder is trained on the same training images by the one trainer
  (:func:`train_autoencoder`; cacioppo2023qdm trains it on all 70k MNIST images, here the experiment's
  subset), once per process (cached), and frozen inside the model so that checkpoints carry it;
* ``loss``: :func:`qdm.models.pqc_denoiser.denoiser_loss`; the "snapshot" mode of A1 runs through the same
  single trainer call: each optimisation step is one phase step on its t, and the snapshots are buffers of
  the model recorded after each t's phase (so they are checkpointed and resumed exactly);
* ``sample``: images in [0, 1]; the full variant's image_size² images are upscaled bilinearly
  (align_corners=False) to 28×28 for the metrics, latent samples are decoded to 28×28 directly; label-
  conditioned models sample the experiment's classes in turn (sample i has label classes[i mod C]);
* ``prepare_eval_reference``: real test images of the experiment's classes; for the full variant they
  go through the same downscale → |x|/max → upscale pipeline as the samples, so FID/KID/SSIM compare the
  generative model and not the resolution loss.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from qdm import protocols
from qdm.config import DataConfig, ExperimentConfig, TrainConfig, training_subset
from qdm.families.base import Family, ProfileSpec, profile_spec, profile_steps, register_family, scaled
from qdm.models.autoencoder import Autoencoder, AutoencoderConfig, autoencoder_loss
from qdm.models.pqc_denoiser import (
    PQCDenoiser,
    PQCDenoiserConfig,
    circuit_parameter_count,
    decode_images,
    denoiser_loss,
    encode_images,
    sample_states,
)

from qdm.train import TrainResult, seed_everything, train

__all__ = [
    "FAMILY",
    "METRIC_SIZE",
    "PQC_PROFILES",
    "autoencoder_train_config",
    "build_pqc",
    "pqc_describe",
    "pqc_eval_reference",
    "pqc_evaluate",
    "pqc_loss",
    "pqc_parameter_counts",
    "pqc_prepare_data",
    "pqc_profile",
    "pqc_sample",
    "pqc_validate",
    "sample_labels",
    "train_autoencoder",
    "trained_autoencoder",
    "training_images",
]

#: Side of the images handed to the metrics (MNIST's).
METRIC_SIZE = 28


def training_images(data: DataConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The experiment's real images (N, 1, 28, 28) float32 in [0, 1] and their labels (N,) int64 (seeded subset)."""
    subset = training_subset(data)
    return subset.to_tensor("unit"), torch.from_numpy(subset.labels.copy())


def autoencoder_train_config(ae: AutoencoderConfig) -> TrainConfig:
    """The one trainer's settings for the autoencoder ``ae`` (its ``train_*`` fields; no checkpoints, deterministic)."""
    return TrainConfig(
        steps=ae.train_steps,
        batch_size=ae.train_batch_size,
        lr=ae.train_lr,
        lr_step_size=ae.train_lr_step_size,
        lr_gamma=ae.train_lr_gamma,
        seed=ae.train_seed,
        checkpoint_every=None,
        deterministic=True,
    )


def train_autoencoder(
    images: torch.Tensor, cfg: AutoencoderConfig, progress: bool = False
) -> tuple[Autoencoder, TrainResult]:
    """cacioppo2023qdm: build the autoencoder (seeded with ``cfg.train_seed``) and minimise the Huber loss with the one trainer.

    ``images``: float (N, 1, 28, 28) in [0, 1].  Deterministic: the same images and config give the same
    weights.  Returns the model in eval mode and the trainer's result.
    """
    if not isinstance(cfg, AutoencoderConfig):
        raise ValueError(f"cfg must be an AutoencoderConfig, got {type(cfg).__name__}")
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or tuple(images.shape[1:]) != (1, METRIC_SIZE, METRIC_SIZE):
        raise ValueError(f"images must be a tensor of shape (N, 1, 28, 28), got {getattr(images, 'shape', type(images))}")
    if not images.is_floating_point() or float(images.min()) < 0 or float(images.max()) > 1:
        raise ValueError("images must be floating point in [0, 1]")
    seed_everything(cfg.train_seed)
    model = Autoencoder(cfg)
    result = train(
        model,
        images.float(),
        lambda m, batch, generator: autoencoder_loss(m, batch, cfg.huber_delta),
        autoencoder_train_config(cfg),
        checkpoint_dir=None,
        progress=progress,
    )
    model.eval()
    return model, result


@functools.lru_cache(maxsize=4)
def trained_autoencoder(ae: AutoencoderConfig, data: DataConfig) -> Autoencoder:
    """cacioppo2023qdm: the autoencoder trained (one trainer, deterministic) on the experiment's images; cached per process."""
    images, _ = training_images(data)
    model, _ = train_autoencoder(images, ae)
    return model


def build_pqc(cfg: ExperimentConfig) -> PQCDenoiser:
    """The PQC denoiser (angles from torch's global RNG, seeded by the runner); latent: with the trained, frozen autoencoder."""
    model = PQCDenoiser(cfg.model)
    if cfg.model.latent:
        model.autoencoder.load_state_dict(trained_autoencoder(cfg.model.autoencoder, cfg.data).state_dict())
    return model


def pqc_prepare_data(cfg: ExperimentConfig) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Unit amplitude vectors (N, 2**n) float64: resized images or autoencoder latents; with labels (N,) when conditioned."""
    m = cfg.model
    images, labels = training_images(cfg.data)
    if m.latent:
        autoencoder = trained_autoencoder(m.autoencoder, cfg.data)  # trained with gradients when not cached yet
        with torch.no_grad():
            states = autoencoder.encode(images).double()
        states = states / torch.linalg.vector_norm(states, dim=1, keepdim=True)
    else:
        states = encode_images(images, m.image_size, m.resize_antialias)
    return (states, labels) if m.n_label_qubits else states


def pqc_loss(
    model: nn.Module, batch: torch.Tensor | tuple[torch.Tensor, ...], cfg: ExperimentConfig, generator: torch.Generator
) -> torch.Tensor:
    """cacioppo2023qdm / koelle2024qddm: the denoiser loss of one batch (infidelity or probability MSE),
    noise from ``generator``."""
    if isinstance(batch, tuple):
        states, labels = batch if len(batch) == 2 else (batch[0], None)
    else:
        states, labels = batch, None
    return denoiser_loss(model, states, generator, labels)


def sample_labels(n: int, classes: tuple[int, ...]) -> torch.Tensor:
    """Labels for n conditioned samples: classes[i mod C] for sample i."""
    return torch.tensor([classes[i % len(classes)] for i in range(n)], dtype=torch.long)


def _to_metric_size(images: torch.Tensor) -> torch.Tensor:
    """Bilinear upscaling (align_corners=False) of (N, 1, s, s) images in [0, 1] to 28×28, clamped to [0, 1]."""
    if images.shape[-1] == METRIC_SIZE:
        return images
    up = F.interpolate(images, size=(METRIC_SIZE, METRIC_SIZE), mode="bilinear", align_corners=False)
    return up.clamp(0.0, 1.0)


def pqc_sample(model: nn.Module, n: int, cfg: ExperimentConfig, generator: torch.Generator) -> torch.Tensor:
    """cacioppo2023qdm: noise → P(θ, t), t = T … 1 → |amplitudes| → images (n, 1, 28, 28): |ψ|/max upscaled, or the decoder."""
    m = cfg.model
    labels = sample_labels(n, cfg.data.classes) if m.n_label_qubits else None
    states = sample_states(model, n, generator, labels)
    if m.latent:
        with torch.no_grad():
            images = model.autoencoder.decode(states.abs().float())
    else:
        images = decode_images(states, m.image_size)
    return _to_metric_size(images.float()).clamp(0.0, 1.0)


def pqc_evaluate(model: nn.Module, samples: torch.Tensor, cfg: ExperimentConfig) -> dict[str, float]:
    """Provenance numbers: the trainable circuit parameters (A1's conditioned latent model: 1110)."""
    return {"circuit_parameters": float(circuit_parameter_count(model))}


def pqc_eval_reference(cfg: ExperimentConfig) -> torch.Tensor:
    """Real images of the classes picked as by the runner; full variant: downscale → |x|/max → upscale, like the samples.

    The images of ``eval.protocol`` (:func:`qdm.protocols.reference_images`, the one definition shared with the
    runner and the audits), then passed through the samples' pipeline.
    """
    d, m = cfg.data, cfg.model
    images = protocols.to_unit(protocols.reference_images(d, cfg.eval.protocol, cfg.eval.fid_real_images))
    if not m.latent:
        images = _to_metric_size(decode_images(encode_images(images, m.image_size, m.resize_antialias), m.image_size))
    return images.float().contiguous()


def pqc_validate(cfg: ExperimentConfig) -> None:
    """Cross-field checks: MNIST (one channel); label qubits must hold every class (max class < 2**n_label_qubits)."""
    if cfg.data.dataset != "mnist":
        raise ValueError(
            f"DataConfig.dataset must be 'mnist' for the pqc_denoiser family (grey images), got {cfg.data.dataset!r}"
        )
    k = cfg.model.n_label_qubits
    if k and max(cfg.data.classes) >= 1 << k:
        raise ValueError(
            f"PQCDenoiserConfig.n_label_qubits={k} holds labels 0..{(1 << k) - 1}, "
            f"but DataConfig.classes has {max(cfg.data.classes)}"
        )


def pqc_describe(cfg: ExperimentConfig) -> str:
    """One paragraph: register, circuit, time conditioning, diffusion and loss of an experiment."""
    m = cfg.model
    what = f"a {m.autoencoder.latent_dim}-dim autoencoder latent" if m.latent else f"{m.image_size}×{m.image_size} images"
    label = f" + {m.n_label_qubits} label qubits" if m.n_label_qubits else ""
    anc = {
        "none": "no ancilla",
        "measure": "an ancilla measured at random",
        "postselect": "an ancilla post-selected on 0",
    }[m.ancilla]
    return (
        f"PQC denoiser (Cacioppo et al.): {what} on {m.n_qubits} qubits{label}; {m.ansatz} blocks {m.layer_blocks} with {anc}; "
        f"{m.time_conditioning} time conditioning ({circuit_parameter_count(m)} circuit parameters); "
        f"{m.schedule} schedule, T={m.T}, "
        f"{m.noising} noising with {m.noise} noise, target {m.target}, {m.loss} loss; data {cfg.data.dataset} classes "
        f"{cfg.data.classes}, {cfg.data.images_per_class or 'all'} images per class."
    )


def pqc_parameter_counts(cfg: ExperimentConfig) -> dict[str, int]:
    """Trainable parameters of a fresh build: all of them are circuit angles ('quantum' = 'total', 'classical' = 0;
    the latent model's autoencoder is frozen and not counted; cacioppo2023qdm's conditioned latent model: 1110)."""
    with torch.random.fork_rng(devices=[]):
        n = circuit_parameter_count(build_pqc(cfg))
    return {"quantum": int(n), "classical": 0, "total": int(n)}


#: The book profile's most training steps per run.
BOOK_STEPS = 6400
#: Images per class the book profile allows: every preset's own count (the largest, the 2025 follow-up's 4,048).
A2_IMAGES = 4048

#: PQC denoiser profiles (the circuits have ≤ 9 qubits: the budget, not the simulator, is the limit).  ``book``: the
#: preset's own batch size, data and autoencoder, at most :data:`BOOK_STEPS` steps (chosen by the measured
#: classifier-accuracy-against-steps curves of ``ledger/measurements/budget-*-paper.csv``), 1,000 samples.
PQC_PROFILES: dict[str, ProfileSpec] = {
    "book": ProfileSpec(steps=BOOK_STEPS, batch_size=None, images_per_class=A2_IMAGES, n_samples=1000,
                        fid_real_images=1000, checkpoint_every=1600, steps_cap=True),
    "cpu": ProfileSpec(steps=800, batch_size=32, images_per_class=50, n_samples=100, fid_real_images=1000,
                       autoencoder_steps=400, checkpoint_every=200),
    "smoke": ProfileSpec(steps=16, batch_size=16, images_per_class=8, n_samples=20, fid_real_images=64,
                         autoencoder_steps=20),
}


def pqc_profile(cfg: ExperimentConfig, profile: str) -> ExperimentConfig:
    """The preset at a CPU profile (:data:`PQC_PROFILES`): budget (whole rounds of the T phases for snapshot training)
    and the latent model's autoencoder budget; the EMA and the sampler of the preset are kept."""
    spec = profile_spec(PQC_PROFILES, cfg.family, profile)
    model = cfg.model
    steps = profile_steps(spec, cfg.train)
    if model.time_conditioning == "snapshot":
        # every t needs at least one phase: round up to whole rounds of T phases
        per_round = model.T * model.snapshot_phase_steps
        steps = per_round * math.ceil(steps / per_round)
    if model.latent and spec.autoencoder_steps is not None:
        model = dataclasses.replace(model, autoencoder=dataclasses.replace(model.autoencoder, train_steps=spec.autoencoder_steps))
    return scaled(cfg, spec, model=model, steps=steps, ema=False, ddim=False)


FAMILY = register_family(
    Family(
        name="pqc_denoiser",
        model_config_cls=PQCDenoiserConfig,
        build=build_pqc,
        loss=pqc_loss,
        sample=pqc_sample,
        prepare_data=pqc_prepare_data,
        evaluate=pqc_evaluate,
        describe=pqc_describe,
        prepare_eval_reference=pqc_eval_reference,
        validate=pqc_validate,
        profile=pqc_profile,
        parameter_counts=pqc_parameter_counts,
    )
)
