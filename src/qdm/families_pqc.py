"""The "pqc_denoiser" family: a parametrised quantum circuit as the denoiser of a quantum diffusion model.

Cacioppo et al. (arXiv:2311.15444; papers.md A, A1, A2) and Kölle et al. (papers.md D); the model, its
options and the maths are in :mod:`qdm.models.pqc_denoiser`.  This module wires it to the one trainer and
the runner:

* ``prepare_data``: real MNIST images of ``data.classes`` (``data.images_per_class`` each, seeded), as
  amplitude vectors: downscaled bilinearly to ``model.image_size``² and L2-normalised (full variant), or the
  positive unit latents of the A1 autoencoder (latent variant), with the digit labels when the model has
  label qubits;
* latent variant: the autoencoder is trained on the same training images by the one trainer (A1 trains it
  on all 70k MNIST images; here the experiment's subset), once per process (cached), and frozen inside the
  model so that checkpoints carry it;
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

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from qdm.config import DataConfig, EvalConfig, ExperimentConfig, TrainConfig, register_experiment
from qdm.data import load_dataset
from qdm.families import Family, register_family
from qdm.models.autoencoder import Autoencoder, AutoencoderConfig, train_autoencoder
from qdm.models.pqc_denoiser import (
    PQCDenoiser,
    PQCDenoiserConfig,
    circuit_parameter_count,
    decode_images,
    denoiser_loss,
    encode_images,
    sample_states,
)

__all__ = [
    "FAMILY",
    "METRIC_SIZE",
    "build_pqc",
    "pqc_cond_latent_mnist",
    "pqc_describe",
    "pqc_eval_reference",
    "pqc_evaluate",
    "pqc_latent_mnist",
    "pqc_loss",
    "pqc_mnist",
    "pqc_prepare_data",
    "pqc_sample",
    "pqc_validate",
    "sample_labels",
    "trained_autoencoder",
    "training_images",
]

#: Side of the images handed to the metrics (MNIST's).
METRIC_SIZE = 28


def training_images(data: DataConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The experiment's real images (N, 1, 28, 28) float32 in [0, 1] and their labels (N,) int64 (seeded subset)."""
    ds = load_dataset(data.dataset, data.split, data_dir=data.data_dir)
    subset = ds.subset(data.classes, data.images_per_class, data.subset_seed)
    return subset.to_tensor("unit"), torch.from_numpy(subset.labels.copy())


@functools.lru_cache(maxsize=4)
def trained_autoencoder(ae: AutoencoderConfig, data: DataConfig) -> Autoencoder:
    """papers.md A1: the autoencoder trained (one trainer, deterministic) on the experiment's images; cached per process."""
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
        with torch.no_grad():
            states = trained_autoencoder(m.autoencoder, cfg.data).encode(images).double()
        states = states / torch.linalg.vector_norm(states, dim=1, keepdim=True)
    else:
        states = encode_images(images, m.image_size, m.resize_antialias)
    return (states, labels) if m.n_label_qubits else states


def pqc_loss(
    model: nn.Module, batch: torch.Tensor | tuple[torch.Tensor, ...], cfg: ExperimentConfig, generator: torch.Generator
) -> torch.Tensor:
    """papers.md A1/A2/D: the denoiser loss of one batch (infidelity or probability MSE), noise from ``generator``."""
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
    """papers.md A1: noise → P(θ, t), t = T … 1 → |amplitudes| → images (n, 1, 28, 28): |ψ|/max upscaled, or the decoder."""
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

    Protocol "qdm": a seeded draw of test images; "chen2025": the first training images in file order.
    """
    d, m = cfg.data, cfg.model
    split = "test" if cfg.eval.protocol == "qdm" else "train"
    ds = load_dataset(d.dataset, split, data_dir=d.data_dir)
    keep = torch.from_numpy(np.isin(np.asarray(ds.labels), d.classes))
    images = ds.to_tensor("unit")[keep]
    if cfg.eval.protocol == "qdm":
        g = torch.Generator().manual_seed(d.subset_seed)
        images = images[torch.randperm(images.shape[0], generator=g)]
    images = images[: cfg.eval.fid_real_images]
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
    )
)


# ---------------------------------------------------------------------------------------------
# Experiments: CPU-friendly defaults; the paper-scale values are in the comments.
# ---------------------------------------------------------------------------------------------

_EVAL = EvalConfig(n_samples=64, fid_real_images=1000)


def pqc_mnist() -> ExperimentConfig:
    """papers.md A2 on 8×8 MNIST digits 0/1 (6 qubits): per-timestep Rot+CNOT-ladder blocks, post-selected ancilla, μ̃.

    Paper scale (A2): 16×16 on 8 qubits, all images of digits 0/1, blocks of Rot layers + CNOT ladder,
    T = 10, constant β = 1e-2, Adam 5e-5 (weight decay 1e-5), StepLR(10 epochs, 0.97), batch 64, 2000 epochs.
    Here: 8×8, 64 images per digit, blocks (3, 3, 3), 400 steps of batch 8 (all 10 t per image: 80 pairs),
    Adam 5e-2, angles initialised N(0, 0.1²) (qdm's choice: from uniform [0, 2π) angles the infidelity falls
    more slowly on this budget; the public A2 forks' PQC also takes an ``init_variance`` argument).
    """
    return ExperimentConfig(
        experiment="pqc-mnist",
        family="pqc_denoiser",
        data=DataConfig(dataset="mnist", classes=(0, 1), images_per_class=64, split="train"),
        model=PQCDenoiserConfig(
            n_qubits=6,
            image_size=8,
            n_layers=9,
            blocks=(3, 3, 3),
            ansatz="rot_cnot_ladder",
            time_conditioning="per_timestep",
            t_sampling="all",
            noise="complex",
            noising="ddpm",
            target="posterior_mean",
            schedule="constant",
            beta=1e-2,
            T=10,
            ancilla="postselect",
            init="normal",
            init_scale=0.1,
        ),
        train=TrainConfig(steps=400, batch_size=8, lr=5e-2, checkpoint_every=100, seed=0),
        eval=_EVAL,
    )


def pqc_latent_mnist() -> ExperimentConfig:
    """papers.md A1 latent model (no labels) on digits 0 and 1: 3 latent qubits, snapshot training, ancilla measured at random.

    Paper scale (A1 code, with labels): blocks (15, 20, 15), T = 8, betas linspace(4e-3, 0.4, T+1), complex noise,
    Adam 5e-4, StepLR(20 epochs, 0.7), batch 64, 100 epochs × 32 batches × 8 t = 25,600 steps, 2048 latents;
    autoencoder widths (64, 128, 256), 100 epochs on 70k images.  Here: blocks (4, 6, 4), 1,600 steps
    (200 rounds of the 8 t), Adam 5e-3, a small autoencoder trained 400 steps on the 256 training images.
    """
    return ExperimentConfig(
        experiment="pqc-latent-mnist",
        family="pqc_denoiser",
        data=DataConfig(dataset="mnist", classes=(0, 1), images_per_class=128, split="train"),
        model=PQCDenoiserConfig(
            n_qubits=3,
            image_size=28,
            latent=True,
            n_layers=14,
            blocks=(4, 6, 4),
            ansatz="strongly_entangling",
            sel_ranges="one",
            time_conditioning="snapshot",
            snapshot_phase_steps=1,
            noise="complex",
            noising="as_coded",
            target="previous",
            schedule="cacioppo_linspace",
            beta_start=4e-3,
            beta_end=0.4,
            T=8,
            ancilla="measure",
            autoencoder=AutoencoderConfig(latent_dim=8, train_steps=400),
        ),
        train=TrainConfig(steps=1600, batch_size=32, lr=5e-3, checkpoint_every=400, seed=0),
        eval=_EVAL,
    )


def pqc_cond_latent_mnist() -> ExperimentConfig:
    """papers.md A1 conditioned latent model: its exact 1110-parameter circuit (3 + 4 label qubits, blocks 15/20/15).

    Paper scale: 2048 latents, batch 64, Adam 5e-4, StepLR(20 epochs = 5,120 steps, γ 0.7), 25,600 steps,
    autoencoder (64, 128, 256) on 70k images.  Here: 50 images per digit, batch 32, Adam 5e-3, 800 steps
    (100 rounds of the 8 t), a small autoencoder trained 400 steps.
    """
    base = pqc_latent_mnist()
    return dataclasses.replace(
        base,
        experiment="pqc-cond-latent-mnist",
        data=DataConfig(dataset="mnist", classes=tuple(range(10)), images_per_class=50, split="train"),
        model=dataclasses.replace(base.model, n_label_qubits=4, n_layers=50, blocks=(15, 20, 15)),
        train=TrainConfig(steps=800, batch_size=32, lr=5e-3, checkpoint_every=200, seed=0),
    )


register_experiment("pqc-mnist", pqc_mnist)
register_experiment("pqc-latent-mnist", pqc_latent_mnist)
register_experiment("pqc-cond-latent-mnist", pqc_cond_latent_mnist)
