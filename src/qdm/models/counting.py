"""Trainable-parameter counting of the hybrid U-Net, part by part (for the book's comparison tables)."""

from __future__ import annotations

from torch import nn

from qdm.models.bottleneck import ChannelGate
from qdm.models.unet import TinyUNet

__all__ = ["PART_NAMES", "count_parameters"]

#: parts reported by count_parameters, in network order; "circuit" is the gate's core (the PQC, or
#: the classical block that replaces it in a twin). They sum to "total".
PART_NAMES: tuple[str, ...] = (
    "encoder", "time_embedding", "res_block", "proj_in", "circuit", "proj_out", "decoder",
)


def _trainable(module: nn.Module | None) -> int:
    """Number of trainable (requires_grad) scalars in `module` (0 for None)."""
    if module is None:
        return 0
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_parameters(model: TinyUNet) -> dict[str, int]:
    """chen2025quantum: trainable parameters per part of the U-Net and the total
    (a gate-less baseline has 0 in the gate parts)."""
    if not isinstance(model, TinyUNet):
        raise ValueError(f"model must be a TinyUNet, got {type(model).__name__}")
    gate = model.bottleneck if isinstance(model.bottleneck, ChannelGate) else None
    counts = {
        "encoder": sum(_trainable(m) for m in (model.enc1, model.enc2, model.enc3)),
        "time_embedding": _trainable(model.time_proj),
        "res_block": _trainable(model.res_block),
        "proj_in": _trainable(gate.proj_in) if gate else 0,
        "circuit": _trainable(gate.core) if gate else _trainable(model.bottleneck),
        "proj_out": _trainable(gate.proj_out) if gate else 0,
        "decoder": sum(_trainable(m) for m in (model.dec1, model.dec2, model.out)),
    }
    counts["total"] = _trainable(model)
    return counts
