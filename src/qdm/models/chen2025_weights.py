"""Load a state_dict saved by Chen et al.'s own training script into qdm's ``chen2025`` U-Net [chen2025quantum].

The authors' ``ImprovedUNet`` (``quantum_difussion_mnist_v7.py``) names its parts differently from
:class:`qdm.models.unet.TinyUNet`; the tensors are the same (same shapes, same layout: PyTorch's Conv2d,
ConvTranspose2d and Linear weights; the TorchLayer's circuit weights ``(n_layers, n_qubits)``).
:data:`AUTHORS_PREFIXES` maps the authors' module prefixes to qdm's:

=============================  =================================
authors' prefix                qdm prefix
=============================  =================================
``time_embed_proj``            ``time_proj``
``res_block.block.0``          ``res_block.conv1``
``res_block.block.2``          ``res_block.conv2``
``q_attn.input_proj``          ``bottleneck.proj_in``
``q_attn.qlayer.weights``      ``bottleneck.core.weights``
``q_attn.output_proj``         ``bottleneck.proj_out``
=============================  =================================

``res_block.block`` is an ``nn.Sequential(conv, ReLU, conv)``, so its second convolution is entry 2.
The encoder and decoder layers keep qdm's names (``enc1`` … ``out``) unless ``extra_prefixes`` says
otherwise.  The loader checks every key and shape: unknown keys, missing keys and shape mismatches raise
one-line errors naming the key.  Tensors are cast to the model's dtype (the authors train in float32;
qdm's circuit weights are float64).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["AUTHORS_PREFIXES", "authors_to_qdm", "load_authors_state_dict", "qdm_to_authors"]

#: The authors' module prefixes → qdm's (see the module docstring).
AUTHORS_PREFIXES: dict[str, str] = {
    "time_embed_proj": "time_proj",
    "res_block.block.0": "res_block.conv1",
    "res_block.block.2": "res_block.conv2",
    "q_attn.input_proj": "bottleneck.proj_in",
    "q_attn.qlayer.weights": "bottleneck.core.weights",
    "q_attn.output_proj": "bottleneck.proj_out",
}


def _rename(key: str, prefixes: Mapping[str, str]) -> str:
    """key with its longest matching prefix (a whole dotted component sequence) replaced."""
    for src in sorted(prefixes, key=len, reverse=True):
        if key == src or key.startswith(src + "."):
            return prefixes[src] + key[len(src):]
    return key


def authors_to_qdm(
    state_dict: Mapping[str, torch.Tensor], extra_prefixes: Mapping[str, str] | None = None
) -> dict[str, torch.Tensor]:
    """The authors' state_dict renamed to qdm's parameter names (tensors untouched)."""
    prefixes = {**AUTHORS_PREFIXES, **(extra_prefixes or {})}
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new = _rename(key, prefixes)
        if new in out:
            raise ValueError(f"state_dict keys map twice onto {new!r} (second: {key!r})")
        out[new] = value
    return out


def qdm_to_authors(
    state_dict: Mapping[str, torch.Tensor], extra_prefixes: Mapping[str, str] | None = None
) -> dict[str, torch.Tensor]:
    """qdm's state_dict under the authors' names (the inverse of :func:`authors_to_qdm`)."""
    inverse = {v: k for k, v in {**AUTHORS_PREFIXES, **(extra_prefixes or {})}.items()}
    return {_rename(key, inverse): value for key, value in state_dict.items()}


def load_authors_state_dict(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], extra_prefixes: Mapping[str, str] | None = None
) -> nn.Module:
    """Copy an authors'-layout state_dict into qdm's chen2025 ``model`` (every key and shape checked); returns the model."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module (qdm's chen2025 TinyUNet), got {type(model).__name__}")
    renamed = authors_to_qdm(state_dict, extra_prefixes)
    own = model.state_dict()
    unknown = sorted(set(renamed) - set(own))
    if unknown:
        raise ValueError(
            f"state_dict has keys the chen2025 model lacks: {unknown[:4]} (known authors' prefixes: {sorted(AUTHORS_PREFIXES)})"
        )
    missing = sorted(set(own) - set(renamed))
    if missing:
        raise ValueError(f"state_dict lacks the chen2025 model's keys {missing[:4]} (or their authors' names)")
    converted = {}
    for key, value in renamed.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise ValueError(f"state_dict[{key!r}] has shape {tuple(value.shape)}, the model expects {tuple(own[key].shape)}")
        converted[key] = value.to(dtype=own[key].dtype)
    model.load_state_dict(converted, strict=True)
    return model
