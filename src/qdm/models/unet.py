"""The lightweight U-Net ε-predictor of the hybrid DDPM (Chen et al. 2025), with a pluggable bottleneck.

Architecture (chen2025quantum, `quantum_difussion_mnist_v7.py` of ChiShengChen/Quantum_MNIST_Diffusion):

    x (C×28×28) ─ conv3×3 C→32 ─ ReLU ─────────────────────────────────────── e1 (32×28×28)
    e1 ─ conv3×3 32→64 stride 2 ─ ReLU ────────────────────────────────────── e2 (64×14×14)
    e2 ─ conv3×3 64→128 stride 2 ─ ReLU, + Linear(sinusoidal(t)) ──────────── e3 (128×7×7)
    e3 ─ ResBlock ─ bottleneck (a channel-wise gate, or nothing) ──────────── h  (128×7×7)
    h ─ ConvT 128→64 ─ ReLU ─ ConvT 64→32 ─ ReLU ─ concat e1 ─ conv3×3 64→C ── ε̂ (C×28×28)

The bottleneck is any module mapping the (B, 128, 7, 7) features to features of the same
shape; :mod:`qdm.models.bottleneck` holds the quantum gate and its classical twins. With no
bottleneck (``None``) this is the published classical baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["TIME_INPUTS", "UNetConfig", "ResBlock", "TinyUNet", "embedded_time", "timestep_embedding"]

#: What the time embedding sees: "t" = qdm's step t = 1…T; "index" = the schedule position k = t − 1 = 0…T−1
#: that Chen et al.'s network embeds (their ᾱ[k] is the noise level of qdm's step t = k + 1).
TIME_INPUTS: tuple[str, ...] = ("t", "index")


@dataclass(frozen=True)
class UNetConfig:
    """Widths of the tiny U-Net (chen2025quantum: in_channels 1 for MNIST, 3 for PathMNIST; widths 32/64/128; 128-d time).

    ``time_input``: "t" embeds qdm's step t = 1…T, "index" the authors' schedule position t − 1 (:func:`embedded_time`).
    """

    in_channels: int = 1
    widths: tuple[int, int, int] = (32, 64, 128)
    time_dim: int = 128
    time_input: Literal["t", "index"] = "t"

    def __post_init__(self) -> None:
        if self.in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3, got {self.in_channels!r}")
        if len(self.widths) != 3 or any(int(w) != w or w < 1 for w in self.widths):
            raise ValueError(f"widths must be three positive ints (enc1, enc2, enc3), got {self.widths!r}")
        if self.time_dim < 4 or self.time_dim % 2:
            raise ValueError(f"time_dim must be an even int >= 4, got {self.time_dim!r}")
        if self.time_input not in TIME_INPUTS:
            raise ValueError(f"time_input must be one of {TIME_INPUTS}, got {self.time_input!r}")
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))

    @property
    def bottleneck_channels(self) -> int:
        """Channels of the deepest features, the width a bottleneck gate acts on."""
        return self.widths[2]


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """chen2025quantum (Transformer sinusoids): [sin(t·ω_k), cos(t·ω_k)], ω_k = 10000^(−k/(dim/2−1)), k < dim/2."""
    if dim < 4 or dim % 2:
        raise ValueError(f"dim must be an even int >= 4, got {dim!r}")
    if t.ndim != 1:
        raise ValueError(f"t must be a 1-D tensor of time steps, got shape {tuple(t.shape)}")
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) / (half - 1) * torch.arange(half, device=t.device, dtype=torch.float64))
    angles = t.to(torch.float64)[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1).to(torch.get_default_dtype())


def embedded_time(t: torch.Tensor, time_input: str) -> torch.Tensor:
    """The number the sinusoidal embedding receives at qdm's step t: t itself ("t"), or k = t − 1 ("index").

    chen2025's code noises with ᾱ[k], k = 0…T−1, and embeds that k; qdm's step t = k + 1 has the same noise level.
    """
    if time_input not in TIME_INPUTS:
        raise ValueError(f"time_input must be one of {TIME_INPUTS}, got {time_input!r}")
    return t - 1 if time_input == "index" else t


class ResBlock(nn.Module):
    """chen2025quantum: relu(x + conv3×3(relu(conv3×3(x)))), channels preserved."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """chen2025quantum: residual block of two 3×3 convolutions."""
        return F.relu(x + self.conv2(F.relu(self.conv1(x))))


class TinyUNet(nn.Module):
    """chen2025quantum: ε_θ(x_t, t) for 28×28 images; `bottleneck` gates the deepest features (None = classical baseline)."""

    def __init__(self, cfg: UNetConfig, bottleneck: nn.Module | None = None) -> None:
        super().__init__()
        if not isinstance(cfg, UNetConfig):
            raise ValueError(f"cfg must be a UNetConfig, got {type(cfg).__name__}")
        if bottleneck is not None and not isinstance(bottleneck, nn.Module):
            raise ValueError(f"bottleneck must be an nn.Module or None, got {type(bottleneck).__name__}")
        self.cfg = cfg
        c, (w1, w2, w3) = cfg.in_channels, cfg.widths
        self.enc1 = nn.Conv2d(c, w1, 3, padding=1)
        self.enc2 = nn.Conv2d(w1, w2, 3, stride=2, padding=1)
        self.enc3 = nn.Conv2d(w2, w3, 3, stride=2, padding=1)
        self.time_proj = nn.Linear(cfg.time_dim, w3)
        self.res_block = ResBlock(w3)
        self.bottleneck = bottleneck if bottleneck is not None else nn.Identity()
        self.dec1 = nn.ConvTranspose2d(w3, w2, 2, stride=2)
        self.dec2 = nn.ConvTranspose2d(w2, w1, 2, stride=2)
        self.out = nn.Conv2d(2 * w1, c, 3, padding=1)

    @property
    def has_gate(self) -> bool:
        """True when a bottleneck gate is plugged in (False for the published classical baseline)."""
        return not isinstance(self.bottleneck, nn.Identity)

    def _check_inputs(self, x: torch.Tensor, t: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.cfg.in_channels:
            raise ValueError(f"x must have shape (B, {self.cfg.in_channels}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(f"x height and width must be multiples of 4 (two stride-2 stages), got {tuple(x.shape[2:])}")
        if t.ndim != 1 or t.shape[0] != x.shape[0]:
            raise ValueError(f"t must have shape ({x.shape[0]},), got {tuple(t.shape)}")

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """chen2025quantum: predict the noise ε in x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (jo2025qamp eq. 2) at integer steps t."""
        self._check_inputs(x, t)
        t_emb = timestep_embedding(embedded_time(t, self.cfg.time_input), self.cfg.time_dim).to(device=x.device, dtype=x.dtype)
        e1 = F.relu(self.enc1(x))
        e2 = F.relu(self.enc2(e1))
        e3 = F.relu(self.enc3(e2)) + self.time_proj(t_emb)[:, :, None, None]
        h = self.bottleneck(self.res_block(e3))
        d1 = F.relu(self.dec1(h))
        d2 = F.relu(self.dec2(d1))
        return self.out(torch.cat([d2, e1], dim=1))
