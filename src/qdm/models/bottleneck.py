"""Bottleneck gates for the tiny U-Net: the quantum gate of Chen et al. (2025) and its two classical twins.

Every gate has the same shape (chen2025quantum, "quantum attention"):

    h (B,C,7,7) ─ global avg pool ─ Linear(C, n) ─ [angle scaling] ─ [detach] ─ core (n → n) ─ Linear(n, C) ─ m
    output = h · m  (channel-wise)

and the three gates differ only in the core:

* :class:`QuantumGate`: the core is a parametrised quantum circuit (:class:`qdm.circuits.QuantumLayer`,
  RY angle embedding, ⟨Z_i⟩ read-out), as in the authors' code.
* :class:`ClassicalGate`: the "identical architecture" twin; the circuit is replaced by a classical
  layer of the same input/output width, ``tanh(W x + b)`` (n² + n parameters).
* :class:`MatchedClassicalGate`: the circuit is replaced by :class:`ParameterMatchedMap`, a
  tanh-bounded map with *exactly* as many trainable parameters as the circuit.

Two properties of the published gate (chen2025quantum) are reproduced, not hidden, and are options here:
``detach_input=True`` cuts the gradient into Linear(C, n), and the published ansatz (RZ + CNOT chain
after an RY embedding) has circuit weights that do not change ⟨Z⟩ at all. The published classical
baseline has no gate (``kind="none"``): it is not parameter-matched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from qdm.circuits import (
    AngleEmbedding,
    QuantumLayer,
    RYCNOTChain,
    RZCNOTChain,
    StronglyEntangling,
    TrainableRYRZChain,
)

__all__ = [
    "GateConfig",
    "ANSATZ_NAMES",
    "CIRCUIT_DTYPES",
    "ChannelGate",
    "QuantumGate",
    "ClassicalGate",
    "MatchedClassicalGate",
    "ParameterMatchedMap",
    "RYCNOTChain",
    "matched_fill_order",
    "make_ansatz",
    "make_quantum_layer",
    "circuit_parameter_count",
    "make_bottleneck",
    "scale_angles",
]

GateKind = Literal["none", "quantum", "classical", "matched"]
AngleScaling = Literal["none", "pi_tanh"]
Backend = Literal["torch", "statevector", "pennylane"]

GATE_KINDS: tuple[str, ...] = ("none", "quantum", "classical", "matched")
ANGLE_SCALINGS: tuple[str, ...] = ("none", "pi_tanh")
BACKENDS: tuple[str, ...] = ("torch", "statevector", "pennylane")
CircuitDtype = Literal["complex128", "complex64"]
#: the circuit's state-vector precision: complex128 (PennyLane default.qubit's, the published code's) or complex64
#: (the U-Net around it is float32; on the 16-qubit state vector single precision halves memory and time)
CIRCUIT_DTYPES: dict[str, torch.dtype] = {"complex128": torch.complex128, "complex64": torch.complex64}


#: ansatz names → ansatz classes. "rz_cnot" is the published one (chen2025quantum); "ry_cnot" its trainable twin.
ANSATZ_NAMES: dict[str, type] = {
    "rz_cnot": RZCNOTChain,
    "strongly_entangling": StronglyEntangling,
    "ry_rz_chain": TrainableRYRZChain,
    "ry_cnot": RYCNOTChain,
}


@dataclass(frozen=True)
class GateConfig:
    """A bottleneck gate (chen2025quantum); defaults are the published gate except n_qubits (16 published, 8 on 2 CPU cores)."""

    kind: GateKind = "quantum"
    n_qubits: int = 8
    n_layers: int = 3
    ansatz: str = "rz_cnot"
    detach_input: bool = True
    angle_scaling: AngleScaling = "none"
    backend: Backend = "torch"
    circuit_dtype: CircuitDtype = "complex128"

    def __post_init__(self) -> None:
        if self.kind not in GATE_KINDS:
            raise ValueError(f"kind must be one of {GATE_KINDS}, got {self.kind!r}")
        if not isinstance(self.n_qubits, int) or not 1 <= self.n_qubits <= 20:
            raise ValueError(f"n_qubits must be an int in [1, 20], got {self.n_qubits!r}")
        if not isinstance(self.n_layers, int) or self.n_layers < 1:
            raise ValueError(f"n_layers must be a positive int, got {self.n_layers!r}")
        if self.ansatz not in ANSATZ_NAMES:
            raise ValueError(f"ansatz must be one of {tuple(ANSATZ_NAMES)}, got {self.ansatz!r}")
        if self.angle_scaling not in ANGLE_SCALINGS:
            raise ValueError(f"angle_scaling must be one of {ANGLE_SCALINGS}, got {self.angle_scaling!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.circuit_dtype not in CIRCUIT_DTYPES:
            raise ValueError(f"circuit_dtype must be one of {tuple(CIRCUIT_DTYPES)}, got {self.circuit_dtype!r}")
        if self.circuit_dtype != "complex128" and self.backend == "pennylane":
            raise ValueError("circuit_dtype 'complex64' needs backend 'torch' or 'statevector' (default.qubit runs complex128)")


def scale_angles(z: torch.Tensor, scaling: str) -> torch.Tensor:
    """Optional input-angle scaling before the circuit: 'none' (published, raw Linear output) or
    'pi_tanh' (π·tanh z ∈ (−π, π))."""
    if scaling not in ANGLE_SCALINGS:
        raise ValueError(f"scaling must be one of {ANGLE_SCALINGS}, got {scaling!r}")
    return math.pi * torch.tanh(z) if scaling == "pi_tanh" else z


def make_ansatz(name: str, n_layers: int):
    """chen2025quantum: ansatz dataclass by name ('rz_cnot' published; 'strongly_entangling', 'ry_rz_chain' trainable)."""
    if name not in ANSATZ_NAMES:
        raise ValueError(f"ansatz must be one of {tuple(ANSATZ_NAMES)}, got {name!r}")
    return ANSATZ_NAMES[name](n_layers)


def make_quantum_layer(cfg: GateConfig) -> QuantumLayer:
    """chen2025quantum: RY angle embedding → ansatz → ⟨Z_i⟩ on every wire, on the chosen simulator backend."""
    return QuantumLayer(
        cfg.n_qubits,
        make_ansatz(cfg.ansatz, cfg.n_layers),
        AngleEmbedding("Y"),
        backend=cfg.backend,
        dtype=CIRCUIT_DTYPES[cfg.circuit_dtype],
    )


def circuit_parameter_count(cfg: GateConfig) -> int:
    """Trainable parameters of the gate's circuit (nominal; the published 'rz_cnot' weights have no effect, chen2025quantum)."""
    return sum(p.numel() for p in make_quantum_layer(cfg).parameters() if p.requires_grad)


class ChannelGate(nn.Module):
    """chen2025quantum: h ↦ h · Linear_out(core(scale(Linear_in(avgpool h)))), a per-channel multiplier on (B,C,H,W) features."""

    def __init__(
        self,
        channels: int,
        n: int,
        core: nn.Module,
        *,
        detach_input: bool = True,
        angle_scaling: str = "none",
    ) -> None:
        super().__init__()
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive int, got {channels!r}")
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        if angle_scaling not in ANGLE_SCALINGS:
            raise ValueError(f"angle_scaling must be one of {ANGLE_SCALINGS}, got {angle_scaling!r}")
        self.channels, self.n = channels, n
        self.detach_input, self.angle_scaling = bool(detach_input), angle_scaling
        self.proj_in = nn.Linear(channels, n)
        self.core = core
        self.proj_out = nn.Linear(n, channels)

    def multiplier(self, h: torch.Tensor) -> torch.Tensor:
        """chen2025quantum: the per-channel multiplier m (B, C) computed from the pooled features."""
        pooled = F.adaptive_avg_pool2d(h, 1).flatten(1)
        z = scale_angles(self.proj_in(pooled), self.angle_scaling)
        if self.detach_input:  # chen2025quantum property 1: Linear(C, n) receives no gradient
            z = z.detach()
        q = self.core(z).to(dtype=h.dtype)
        return self.proj_out(q)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """chen2025quantum: gate the features channel-wise, h · m[:, :, None, None]."""
        if h.ndim != 4 or h.shape[1] != self.channels:
            raise ValueError(f"features must have shape (B, {self.channels}, H, W), got {tuple(h.shape)}")
        return h * self.multiplier(h)[:, :, None, None]


class QuantumGate(ChannelGate):
    """chen2025quantum: the quantum 'attention' gate; `circuit` maps real (B, n) angles to ⟨Z⟩ ∈ [−1, 1]^n."""

    def __init__(self, channels: int, circuit: nn.Module, n_qubits: int, *, detach_input: bool = True,
                 angle_scaling: str = "none") -> None:
        if not isinstance(circuit, nn.Module):
            raise ValueError(f"circuit must be an nn.Module mapping (B, n) -> (B, n), got {type(circuit).__name__}")
        super().__init__(channels, n_qubits, circuit, detach_input=detach_input, angle_scaling=angle_scaling)

    @property
    def circuit(self) -> nn.Module:
        """The parametrised quantum circuit (the gate's core)."""
        return self.core


class ClassicalGate(ChannelGate):
    """chen2025quantum (identical-architecture twin): the circuit replaced by tanh(W x + b), W ∈ R^{n×n}, same widths."""

    def __init__(self, channels: int, n: int, *, detach_input: bool = True, angle_scaling: str = "none") -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        super().__init__(channels, n, nn.Sequential(nn.Linear(n, n), nn.Tanh()),
                         detach_input=detach_input, angle_scaling=angle_scaling)


def matched_fill_order(n: int) -> list[int]:
    """Positions, in the flat [vec(W) (n²), b (n)] vector of one layer, that ParameterMatchedMap frees, in order."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    order = [i * n + i for i in range(n)]  # diagonal of W: elementwise gains
    order += [n * n + i for i in range(n)]  # bias
    for d in range(1, n):  # off-diagonal bands of W, nearest neighbours first (like a CNOT chain)
        order += [i * n + i + d for i in range(n - d)]
        order += [(i + d) * n + i for i in range(n - d)]
    return order


class ParameterMatchedMap(nn.Module):
    """A tanh-bounded map R^n → [−1,1]^n with exactly `n_params` trainable parameters (stacked h ↦ tanh((I+Δ)h + b)).

    Each layer has capacity n² + n; a layer's free entries are taken, in order, from the diagonal of Δ
    (elementwise gains), then the bias b, then off-diagonal bands of Δ by distance. Entries not freed
    stay fixed (Δ = 0, b = 0), so the base map is tanh(h). Layers = max(1, ⌈n_params / (n² + n)⌉), all but
    the last full. n_params = 0 gives the fixed map tanh(x) with no parameters.
    """

    def __init__(self, n: int, n_params: int, *, init_scale: float | None = None) -> None:
        super().__init__()
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        if not isinstance(n_params, int) or n_params < 0:
            raise ValueError(f"n_params must be a non-negative int, got {n_params!r}")
        self.n, self.n_params = n, n_params
        capacity = n * n + n
        n_layers = max(1, math.ceil(n_params / capacity))
        scale = 1.0 / math.sqrt(n) if init_scale is None else float(init_scale)
        order = torch.tensor(matched_fill_order(n), dtype=torch.long)
        self.register_buffer("eye", torch.eye(n), persistent=False)
        self.free = nn.ParameterList()
        sizes = [min(capacity, n_params - k * capacity) for k in range(n_layers)]
        for k, size in enumerate(sizes):
            self.register_buffer(f"index_{k}", order[:size].clone(), persistent=False)
            if size:
                self.free.append(nn.Parameter(torch.empty(size).uniform_(-scale, scale)))
        self.layer_sizes = tuple(sizes)

    def layer_weights(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(W_k, b_k) of layer k: W_k = I + Δ_k with Δ_k, b_k zero outside the freed entries."""
        n, size = self.n, self.layer_sizes[k]
        flat = self.eye.new_zeros(n * n + n)
        if size:
            flat = flat.index_put((getattr(self, f"index_{k}"),), self.free[k].to(flat.dtype))
        return self.eye + flat[: n * n].view(n, n), flat[n * n:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """h_0 = x, h_k = tanh(h_{k−1} W_kᵀ + b_k); returns h_K ∈ [−1, 1]^n like the circuit's ⟨Z⟩."""
        if x.ndim != 2 or x.shape[1] != self.n:
            raise ValueError(f"x must have shape (B, {self.n}), got {tuple(x.shape)}")
        h = x
        for k in range(len(self.layer_sizes)):
            w, b = self.layer_weights(k)
            h = torch.tanh(h @ w.to(h.dtype).T + b.to(h.dtype))
        return h


class MatchedClassicalGate(ChannelGate):
    """Parameter-matched twin: the circuit replaced by ParameterMatchedMap with exactly `n_params` (the circuit's count)."""

    def __init__(self, channels: int, n: int, n_params: int, *, detach_input: bool = True,
                 angle_scaling: str = "none") -> None:
        super().__init__(channels, n, ParameterMatchedMap(n, n_params),
                         detach_input=detach_input, angle_scaling=angle_scaling)
        got = sum(p.numel() for p in self.core.parameters() if p.requires_grad)
        assert got == n_params, f"matched core has {got} parameters, expected {n_params}"


def make_bottleneck(cfg: GateConfig, channels: int) -> ChannelGate | None:
    """chen2025quantum/C1: the gate for `cfg.kind` ('none' → None, the published classical baseline with no gate)."""
    if not isinstance(cfg, GateConfig):
        raise ValueError(f"cfg must be a GateConfig, got {type(cfg).__name__}")
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be a positive int, got {channels!r}")
    common = {"detach_input": cfg.detach_input, "angle_scaling": cfg.angle_scaling}
    if cfg.kind == "none":
        return None
    if cfg.kind == "quantum":
        return QuantumGate(channels, make_quantum_layer(cfg), cfg.n_qubits, **common)
    if cfg.kind == "classical":
        return ClassicalGate(channels, cfg.n_qubits, **common)
    return MatchedClassicalGate(channels, cfg.n_qubits, circuit_parameter_count(cfg), **common)
