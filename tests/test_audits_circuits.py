"""Circuit audits of the published hybrid gate [chen2025quantum] (qdm.audits.circuits); each check can fail."""

from __future__ import annotations


import pytest
import torch

from qdm.audits.circuits import (
    circuit_weight_gradient,
    closed_form_deviation,
    dead_weight_mask,
    proj_in_gradient_norm,
    weight_effect,
)
from qdm.circuits import AngleEmbedding, QuantumLayer, StronglyEntangling, TrainableRYRZChain, zexpval_wire_sets
from qdm.config import apply_overrides
from qdm.families.hybrid import build_hybrid
from qdm.circuits import RYCNOTChain
from qdm.presets import get_preset


@pytest.fixture(scope="module")
def chen_models():
    """The chen2025 and chen2025-trainable U-Nets with their real 16-qubit gates (torch backend)."""
    torch.manual_seed(0)
    return build_hybrid(get_preset("chen2025")), build_hybrid(get_preset("chen2025-trainable"))


@pytest.fixture(scope="module")
def angles():
    return torch.randn(3, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def test_chen2025_circuit_weights_have_no_effect(chen_models, angles):
    published, trainable = (m.bottleneck.circuit for m in chen_models)
    assert published.n_qubits == 16 and published.backend == "torch"
    g = torch.Generator().manual_seed(2)
    assert weight_effect(published, angles, n_draws=3, generator=g) < 1e-12
    assert circuit_weight_gradient(published, angles, g).abs().max() < 1e-12
    # control: the same audit sees the trainable circuit's weights act
    assert weight_effect(trainable, angles, n_draws=1, generator=g) > 1e-2
    assert circuit_weight_gradient(trainable, angles, g).abs().max() > 1e-3


def test_chen2025_expvals_are_products_of_cosines_over_cnot_wire_sets(chen_models, angles):
    layer = chen_models[0].bottleneck.circuit
    sets = zexpval_wire_sets(layer.ansatz, 16)
    assert max(len(s) for s in sets) > 2  # three CNOT chains spread Z over many wires: not a trivial identity
    assert closed_form_deviation(layer, angles) < 1e-12
    assert closed_form_deviation(layer, angles + 0.3) < 1e-12
    with pytest.raises(ValueError, match="diagonal gates and CNOTs"):
        closed_form_deviation(chen_models[1].bottleneck.circuit, angles)


def test_detach_switch_controls_the_gradient_into_the_projection(chen_models):
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([7, 700])
    published, trainable = chen_models
    g = torch.Generator().manual_seed(4)
    assert published.bottleneck.detach_input and proj_in_gradient_norm(published, x, t, g) == 0.0
    assert not trainable.bottleneck.detach_input and proj_in_gradient_norm(trainable, x, t, g) > 1e-6
    flipped = build_hybrid(apply_overrides(get_preset("chen2025"), ["model.detach_input=false"]))
    assert proj_in_gradient_norm(flipped, x, t, g) > 1e-6
    with pytest.raises(ValueError, match="bottleneck gate"):
        proj_in_gradient_norm(build_hybrid(get_preset("chen2025-classical")), x, t, g)


def test_chen2025_trainable_every_circuit_weight_gets_a_gradient(chen_models, angles):
    layer = chen_models[1].bottleneck.circuit
    assert isinstance(layer.ansatz, RYCNOTChain) and layer.weights.numel() == 48
    grad = circuit_weight_gradient(layer, angles, torch.Generator().manual_seed(5))
    assert grad.abs().min() > 1e-8
    assert not dead_weight_mask(layer.ansatz, 16).any()


@pytest.mark.parametrize("ansatz", [TrainableRYRZChain(3), StronglyEntangling(3, (1, 1, 1))])
def test_final_diagonal_rotations_are_exactly_the_dead_weights(ansatz):
    """Why chen2025-trainable is not ry_rz_chain / StronglyEntangling: their last RZ commutes with CNOTs + Z read-out."""
    torch.manual_seed(6)
    layer = QuantumLayer(5, ansatz, AngleEmbedding("Y"))
    x = torch.randn(4, 5, dtype=torch.float64)
    grad = circuit_weight_gradient(layer, x, torch.Generator().manual_seed(7)).abs()
    dead = dead_weight_mask(ansatz, 5)
    assert dead.sum() == 5
    assert grad[dead].max() < 1e-12 and grad[~dead].min() > 1e-8


def test_ry_cnot_chain_torch_matches_pennylane_with_gradients():
    torch.manual_seed(8)
    x = torch.randn(3, 4, dtype=torch.float64)
    layers = {b: QuantumLayer(4, RYCNOTChain(2), AngleEmbedding("Y"), backend=b) for b in ("torch", "pennylane")}
    layers["pennylane"].load_state_dict(layers["torch"].state_dict())
    outs, grads = {}, {}
    for backend, layer in layers.items():
        out = layer(x)
        (out * torch.arange(1.0, 5.0, dtype=torch.float64)).sum().backward()
        outs[backend], grads[backend] = out.detach(), layer.weights.grad.clone()
    assert torch.allclose(outs["torch"], outs["pennylane"], atol=1e-12)
    assert torch.allclose(grads["torch"], grads["pennylane"], atol=1e-12)
    # finite differences on one weight
    w = layers["torch"].weights
    eps = 1e-6
    with torch.no_grad():
        w[1, 2] += eps
        plus = (layers["torch"](x) * torch.arange(1.0, 5.0, dtype=torch.float64)).sum()
        w[1, 2] -= 2 * eps
        minus = (layers["torch"](x) * torch.arange(1.0, 5.0, dtype=torch.float64)).sum()
    assert abs((plus - minus).item() / (2 * eps) - grads["torch"][1, 2].item()) < 1e-6
