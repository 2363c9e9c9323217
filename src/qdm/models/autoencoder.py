"""The classical autoencoder of Cacioppo et al.'s latent QDM (cacioppo2023qdm, ``Autoencoder/`` of the authors' code).

It maps a 28×28 MNIST image to a *positive unit vector* of ``latent_dim`` = 2**k entries, which is a
valid real amplitude vector of k qubits: the PQC denoiser then works on those k qubits and the decoder
turns generated |amplitudes| back into images.

Architecture (A1, the authors' code: widths (64, 128, 256), hidden 128, latent 8; the defaults here are small for CPU):

* encoder: Conv(1→w0, 3, stride 2, pad 1) ReLU → Conv(w0→w1, 3, s 2, p 1) BatchNorm ReLU →
  Conv(w1→w2, 3, s 2, p 0) ReLU → flatten (w2·3·3, 2304 in A1) → Linear(→hidden) ReLU → Linear(→latent),
  then L2-normalise and take the absolute value;
* decoder (mirrored): Linear(latent→hidden) ReLU → Linear(→w2·3·3) ReLU → ConvT(w2→w1, 3, s 2)
  BatchNorm ReLU → ConvT(w1→w0, 3, s 2, p 1, op 1) BatchNorm ReLU → ConvT(w0→1, 3, s 2, p 1, op 1) → sigmoid.

Loss: Huber (``nn.HuberLoss`` with δ = 1 in cacioppo2023qdm's code) between the reconstruction and the
image in [0, 1].  The pqc family trains it with the one trainer (:func:`qdm.families.pqc.train_autoencoder`;
models import no trainer): the code's Adam 1e-3, batch 32, 100 epochs over all 70k MNIST images, here a
step budget over the experiment's images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from qdm.annotations import validate_fields

__all__ = [
    "Autoencoder",
    "AutoencoderConfig",
    "autoencoder_loss",
    "reconstruction_error",
]

_IMAGE_SIZE = 28
_FEATURE_SIDE = 3  # 28 → 14 → 7 → 3 with the A1 strides and paddings


@dataclass(frozen=True)
class AutoencoderConfig:
    """Architecture and training budget of the A1 autoencoder (A1: widths (64, 128, 256), hidden 128, latent 8).

    ``latent_dim`` must be a power of two (it becomes the amplitudes of log2(latent_dim) qubits).
    Training (``train_*``, prefixed so that they never clash with TrainConfig's keys in overrides): Adam with
    ``train_lr`` for ``train_steps`` steps of ``train_batch_size`` images, StepLR(``train_lr_step_size``,
    ``train_lr_gamma``) counted in steps (A1: Adam 1e-3, batch 32, StepLR(20 epochs, 0.7)), seed ``train_seed``.
    """

    latent_dim: int = 8
    widths: tuple[int, int, int] = (8, 16, 32)
    hidden: int = 32
    huber_delta: float = 1.0
    train_steps: int = 300
    train_batch_size: int = 32
    train_lr: float = 1e-3
    train_lr_step_size: int | None = None
    train_lr_gamma: float = 0.7
    train_seed: int = 0

    def __post_init__(self) -> None:
        """Check every field against its annotation, then its range; the message names the field."""
        validate_fields(self)
        if self.latent_dim < 2 or self.latent_dim & (self.latent_dim - 1):
            raise ValueError(
                f"AutoencoderConfig.latent_dim must be a power of two >= 2 (2**k amplitudes), got {self.latent_dim}"
            )
        if min(self.widths) < 1:
            raise ValueError(f"AutoencoderConfig.widths must be positive, got {self.widths}")
        for name, low in (("hidden", 1), ("train_steps", 0), ("train_batch_size", 1)):
            if getattr(self, name) < low:
                raise ValueError(f"AutoencoderConfig.{name} must be >= {low}, got {getattr(self, name)}")
        for name in ("huber_delta", "train_lr"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"AutoencoderConfig.{name} must be a finite number > 0, got {getattr(self, name)}")
        if self.train_lr_step_size is not None and self.train_lr_step_size < 1:
            raise ValueError(f"AutoencoderConfig.train_lr_step_size must be None or >= 1, got {self.train_lr_step_size}")
        if not 0 < self.train_lr_gamma <= 1:
            raise ValueError(f"AutoencoderConfig.train_lr_gamma must be in (0, 1], got {self.train_lr_gamma}")
        if not 0 <= self.train_seed < 2**31:
            raise ValueError(f"AutoencoderConfig.train_seed must be in 0..2**31-1, got {self.train_seed}")

    @property
    def n_latent_qubits(self) -> int:
        """k = log2(latent_dim): the qubits that carry the latent amplitudes."""
        return self.latent_dim.bit_length() - 1


class Autoencoder(nn.Module):
    """cacioppo2023qdm: conv encoder → positive unit latent (normalise, then abs) → mirrored conv decoder with sigmoid."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        if not isinstance(cfg, AutoencoderConfig):
            raise ValueError(f"cfg must be an AutoencoderConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        w0, w1, w2 = cfg.widths
        flat = w2 * _FEATURE_SIDE * _FEATURE_SIDE
        self.encoder_cnn = nn.Sequential(
            nn.Conv2d(1, w0, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(w0, w1, 3, stride=2, padding=1),
            nn.BatchNorm2d(w1),
            nn.ReLU(),
            nn.Conv2d(w1, w2, 3, stride=2, padding=0),
            nn.ReLU(),
        )
        self.encoder_lin = nn.Sequential(nn.Linear(flat, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, cfg.latent_dim))
        self.decoder_lin = nn.Sequential(
            nn.Linear(cfg.latent_dim, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, flat), nn.ReLU()
        )
        self.decoder_conv = nn.Sequential(
            nn.ConvTranspose2d(w2, w1, 3, stride=2, output_padding=0),
            nn.BatchNorm2d(w1),
            nn.ReLU(),
            nn.ConvTranspose2d(w1, w0, 3, stride=2, padding=1, output_padding=1),
            nn.BatchNorm2d(w0),
            nn.ReLU(),
            nn.ConvTranspose2d(w0, 1, 3, stride=2, padding=1, output_padding=1),
        )

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """cacioppo2023qdm: (B, 1, 28, 28) in [0, 1] → |z / ‖z‖₂|, a positive unit vector (B, latent_dim)."""
        if images.ndim != 4 or tuple(images.shape[1:]) != (1, _IMAGE_SIZE, _IMAGE_SIZE):
            raise ValueError(f"images must have shape (B, 1, 28, 28), got {tuple(images.shape)}")
        z = self.encoder_lin(self.encoder_cnn(images).flatten(1))
        return F.normalize(z, dim=1).abs()

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """cacioppo2023qdm: (B, latent_dim) → images (B, 1, 28, 28) in (0, 1) (sigmoid output)."""
        if latent.ndim != 2 or latent.shape[1] != self.cfg.latent_dim:
            raise ValueError(f"latent must have shape (B, {self.cfg.latent_dim}), got {tuple(latent.shape)}")
        w2 = self.cfg.widths[2]
        h = self.decoder_lin(latent).view(-1, w2, _FEATURE_SIDE, _FEATURE_SIDE)
        return torch.sigmoid(self.decoder_conv(h))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstruction decode(encode(x))."""
        return self.decode(self.encode(images))


def autoencoder_loss(model: Autoencoder, images: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """cacioppo2023qdm: Huber loss (nn.HuberLoss, mean over pixels) between decode(encode(x)) and x."""
    return F.huber_loss(model(images), images, delta=delta)


@torch.no_grad()
def reconstruction_error(model: Autoencoder, images: torch.Tensor, batch_size: int = 256) -> float:
    """Mean Huber reconstruction loss of ``images`` in eval mode (BatchNorm running statistics)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, images.shape[0], batch_size):
        chunk = images[start : start + batch_size]
        total += float(autoencoder_loss(model, chunk, model.cfg.huber_delta)) * chunk.shape[0]
        count += chunk.shape[0]
    model.train(was_training)
    return total / max(count, 1)
