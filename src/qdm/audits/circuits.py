"""Audits of variational circuits: weight effect, dead weights, closed-form deviation, gradient reach.

Small pure functions that ``tests/test_audits_circuits.py`` asserts, for the published circuit of
[chen2025quantum] (its RZ + CNOT-chain ansatz): outputs identical for random weight draws
(:func:`weight_effect`), weight gradients zero (:func:`circuit_weight_gradient`), every ⟨Z_k⟩ equal
to Π_{j∈S_k} cos(x_j) with S_k from the CNOT pattern (:func:`closed_form_deviation`, via
``circuits.zexpval_wire_sets``); which weights of an ansatz can never change ⟨Z⟩
(:func:`dead_weight_mask`), and the gradient that reaches the gate's Linear(128, n)
(:func:`proj_in_gradient_norm`). :func:`weight_independence` bundles the first three for a gate
config (chapter 04 glues its numbers).

Every output is computed by a **full 2**n state-vector simulation** (:func:`full_simulation`): the
torch backend's RZCNOTChain returns the closed form itself, which would make these checks circular.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn

from qdm import circuits
from qdm.circuits import RotCNOTLadder, RYCNOTChain, RZCNOTChain, StronglyEntangling, TrainableRYRZChain
from qdm.models.bottleneck import GateConfig, make_quantum_layer

__all__ = [
    "circuit_weight_gradient",
    "closed_form_deviation",
    "dead_weight_mask",
    "full_simulation",
    "proj_in_gradient_norm",
    "weight_effect",
    "weight_independence",
]


def _check_layer(layer: nn.Module) -> None:
    """A QuantumLayer-like module: ``weights``, ``ansatz``, ``n_qubits``."""
    if not all(hasattr(layer, a) for a in ("weights", "ansatz", "n_qubits")):
        raise ValueError(f"layer must be a qdm.circuits.QuantumLayer, got {type(layer).__name__}")


def _check_inputs(inputs: Tensor, n: int) -> None:
    """Real angles (B, n)."""
    if not isinstance(inputs, Tensor) or inputs.ndim != 2 or inputs.shape[1] != n or inputs.is_complex():
        raise ValueError(f"inputs must be a real tensor (B, {n}), got {getattr(inputs, 'shape', type(inputs))}")


def full_simulation(layer: nn.Module) -> nn.Module:
    """A copy of ``layer`` that simulates the full 2**n statevector: the torch backend's closed-form shortcut
    for RZCNOTChain would make an audit of that very closed form circular (PennyLane stays as it is)."""
    probe = copy.deepcopy(layer)
    if probe.backend == "torch":
        probe.backend = "statevector"
    return probe


def weight_effect(layer: nn.Module, inputs: Tensor, n_draws: int = 3, generator: torch.Generator | None = None) -> float:
    """[chen2025quantum], the published circuit: max |⟨Z⟩(w') − ⟨Z⟩(w)| over ``n_draws`` fresh weight draws w' ~ U[0, 2π)
    (0 ⇒ weights inert)."""
    _check_layer(layer)
    _check_inputs(inputs, layer.n_qubits)
    if not isinstance(n_draws, int) or n_draws < 1:
        raise ValueError(f"n_draws must be an int >= 1, got {n_draws!r}")
    probe = full_simulation(layer)
    with torch.no_grad():
        reference = probe(inputs)
        worst = 0.0
        for _ in range(n_draws):
            probe.weights.copy_(torch.rand(probe.weights.shape, generator=generator, dtype=probe.weights.dtype) * 2 * math.pi)
            worst = max(worst, float((probe(inputs) - reference).abs().max()))
    return worst


def circuit_weight_gradient(layer: nn.Module, inputs: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """∂/∂w of Σ_{b,k} c_{bk} ⟨Z_k⟩(x_b; w) for a random cotangent c ~ N(0, 1): the weight gradient a generic loss sees."""
    _check_layer(layer)
    _check_inputs(inputs, layer.n_qubits)
    probe = full_simulation(layer)
    probe.zero_grad(set_to_none=True)
    out = probe(inputs)
    cotangent = torch.randn(out.shape, generator=generator, dtype=out.dtype)
    (out * cotangent).sum().backward()
    grad = probe.weights.grad
    return torch.zeros_like(probe.weights) if grad is None else grad.detach()


def closed_form_deviation(layer: nn.Module, inputs: Tensor) -> float:
    """[chen2025quantum]: max_k |⟨Z_k⟩ − Π_{j∈S_k} cos(x_j)|, S_k from the ansatz's CNOT pattern (circuits.zexpval_wire_sets)."""
    _check_layer(layer)
    _check_inputs(inputs, layer.n_qubits)
    sets = circuits.zexpval_wire_sets(layer.ansatz, layer.n_qubits)
    with torch.no_grad():
        out = full_simulation(layer)(inputs).to(torch.float64)
    return float((out - circuits.zexpval_product_of_cos(inputs.to(torch.float64), sets)).abs().max())


def dead_weight_mask(ansatz: Any, n_qubits: int) -> Tensor:
    """Weights that provably never change ⟨Z⟩: a diagonal rotation followed only by CNOTs and the Z read-out commutes with it.

    RZCNOTChain: every weight (all gates diagonal or permutations). TrainableRYRZChain: the last layer's RZ
    angles (index 1). StronglyEntangling / RotCNOTLadder: the last layer's ω, Rot = RZ(ω)RY(θ)RZ(φ) (index 2).
    RYCNOTChain: none. Shape = ``ansatz.weight_shape(n_qubits)``, dtype bool.
    """
    if not isinstance(n_qubits, int) or n_qubits < 1:
        raise ValueError(f"n_qubits must be an int >= 1, got {n_qubits!r}")
    trailing_diagonal = {TrainableRYRZChain: 1, StronglyEntangling: 2, RotCNOTLadder: 2}
    mask = torch.zeros(tuple(ansatz.weight_shape(n_qubits)), dtype=torch.bool)
    if isinstance(ansatz, RZCNOTChain):
        mask[...] = True
    elif type(ansatz) in trailing_diagonal:
        mask[-1, :, trailing_diagonal[type(ansatz)]] = True
    elif not isinstance(ansatz, RYCNOTChain):
        raise ValueError(
            "dead_weight_mask knows RZCNOTChain, RYCNOTChain, TrainableRYRZChain, StronglyEntangling, RotCNOTLadder; "
            f"got {type(ansatz).__name__}"
        )
    return mask


def proj_in_gradient_norm(model: nn.Module, x: Tensor, t: Tensor, generator: torch.Generator | None = None) -> float:
    """[chen2025quantum], the published gate's detached input: ‖∂L/∂W‖ of the gate's Linear(C, n) for L = Σ c·ε_θ(x, t),
    c ~ N(0, 1) (0 when detached)."""
    gate = getattr(model, "bottleneck", None)
    if gate is None or not hasattr(gate, "proj_in"):
        raise ValueError("model must be a TinyUNet with a bottleneck gate (kind quantum, classical or matched)")
    probe = copy.deepcopy(model)
    probe.zero_grad(set_to_none=True)
    out = probe(x, t)
    cotangent = torch.randn(out.shape, generator=generator, dtype=out.dtype)
    (out * cotangent).sum().backward()
    grad = probe.bottleneck.proj_in.weight.grad
    return 0.0 if grad is None else float(grad.norm())


def weight_independence(cfg: GateConfig, n_inputs: int, n_draws: int, generator: torch.Generator) -> dict[str, float]:
    """[chen2025quantum]: how much ⟨Z_k⟩ of a gate's circuit changes over ``n_draws`` random weight sets, full simulation.

    Inputs x are uniform in [−π, π] (``n_inputs`` rows), weights w ~ U[0, 2π). Returns the largest output
    change between the first draw and the others, the largest |∂⟨Z⟩/∂w| (cotangent 1), the number of
    weights and, for diagonal+CNOT ansätze, the largest deviation of the simulated ⟨Z_k⟩ from the
    closed form Π_{j∈S_k} cos x_j (NaN otherwise). Every ⟨Z⟩ is a 2**n state-vector simulation
    (:func:`full_simulation`), never the closed form it is compared with.
    """
    if not isinstance(cfg, GateConfig):
        raise ValueError(f"cfg must be a GateConfig, got {type(cfg).__name__}")
    for name, value, low in (("n_inputs", n_inputs, 1), ("n_draws", n_draws, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    layer = full_simulation(make_quantum_layer(cfg))
    x = (torch.rand(n_inputs, cfg.n_qubits, generator=generator, dtype=torch.float64) * 2 - 1) * math.pi
    outputs, grad_max = [], 0.0
    for _ in range(n_draws):
        with torch.no_grad():
            layer.weights.copy_(torch.rand(layer.weights.shape, generator=generator, dtype=torch.float64) * 2 * math.pi)
        layer.weights.grad = None
        out = layer(x)
        out.sum().backward()
        grad = layer.weights.grad
        grad_max = max(grad_max, 0.0 if grad is None else float(grad.abs().max()))
        outputs.append(out.detach().to(torch.float64))
    stacked = torch.stack(outputs)
    closed = math.nan
    if getattr(layer.ansatz, "diagonal_and_cnot_only", False):
        sets = circuits.zexpval_wire_sets(layer.ansatz, cfg.n_qubits)
        closed = float((stacked - circuits.zexpval_product_of_cos(x, sets)).abs().max())
    return {
        "max_output_change": float((stacked - stacked[0]).abs().max()),
        "max_weight_gradient": grad_max,
        "closed_form_error": closed,
        "n_weights": float(layer.weights.numel()),
    }
