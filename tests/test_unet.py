"""The hybrid DDPM's tiny U-Net and its bottleneck gates (chen2025quantum's public code): maths, gradients, parameter counts."""

from __future__ import annotations

import math

import pytest
import torch

from qdm.models import (
    ClassicalGate,
    GateConfig,
    MatchedClassicalGate,
    ParameterMatchedMap,
    QuantumGate,
    TinyUNet,
    UNetConfig,
    build_unet,
    circuit_parameter_count,
    count_parameters,
    make_quantum_layer,
    timestep_embedding,
)
from qdm.models.bottleneck import matched_fill_order, scale_angles
from qdm.models.counting import PART_NAMES

SMALL = UNetConfig(in_channels=1, widths=(8, 16, 32), time_dim=16)


def _net(kind: str, *, n_qubits: int = 3, n_layers: int = 2, ansatz: str = "strongly_entangling",
         detach: bool = False, unet: UNetConfig = SMALL, seed: int = 0, **kw) -> TinyUNet:
    torch.manual_seed(seed)
    gate = GateConfig(kind=kind, n_qubits=n_qubits, n_layers=n_layers, ansatz=ansatz, detach_input=detach, **kw)
    return build_unet(unet, gate)


def _batch(b: int = 3, c: int = 1, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, 28, 28, generator=g), torch.randint(1, 50, (b,), generator=g)


def _grads(net: TinyUNet, x: torch.Tensor, t: torch.Tensor) -> dict[str, torch.Tensor | None]:
    net.zero_grad(set_to_none=True)
    target = torch.randn(x.shape, generator=torch.Generator().manual_seed(7), dtype=x.dtype)
    (net(x, t) - target).pow(2).mean().backward()
    return {name: p.grad for name, p in net.named_parameters()}


# --- time embedding --------------------------------------------------------------------------


def test_timestep_embedding_matches_closed_form():
    t = torch.tensor([0, 1, 7, 999])
    emb = timestep_embedding(t, 8)
    half = 4
    for row, tv in zip(emb, t.tolist()):
        for k in range(half):
            w = math.exp(-math.log(10000.0) * k / (half - 1))
            assert row[k].item() == pytest.approx(math.sin(tv * w), abs=1e-6)
            assert row[half + k].item() == pytest.approx(math.cos(tv * w), abs=1e-6)
    # sin² + cos² = 1 per frequency
    torch.testing.assert_close(emb[:, :half] ** 2 + emb[:, half:] ** 2, torch.ones(4, half))


def test_time_embedding_changes_output_and_gets_gradient():
    net = _net("quantum")
    x, _ = _batch(2)
    out_a = net(x, torch.tensor([1, 1]))
    out_b = net(x, torch.tensor([40, 40]))
    assert (out_a - out_b).abs().max() > 1e-4
    grads = _grads(net, x, torch.tensor([3, 30]))
    assert grads["time_proj.weight"].abs().sum() > 0


# --- forward / backward for every bottleneck ---------------------------------------------------


@pytest.mark.parametrize("kind", ["none", "quantum", "classical", "matched"])
def test_forward_backward_reaches_every_parameter(kind):
    net = _net(kind, detach=False)
    x, t = _batch(3)
    out = net(x, t)
    assert out.shape == x.shape and out.dtype == torch.float32 and torch.isfinite(out).all()
    grads = _grads(net, x, t)
    for name, g in grads.items():
        assert g is not None, f"{kind}: {name} received no gradient"
        assert torch.isfinite(g).all() and g.abs().sum() > 0, f"{kind}: {name} has a zero gradient"


def test_no_gate_is_the_published_baseline():
    net = _net("none")
    assert not net.has_gate and isinstance(net.bottleneck, torch.nn.Identity)
    counts = count_parameters(net)
    assert counts["proj_in"] == counts["circuit"] == counts["proj_out"] == 0


def test_gate_is_a_channelwise_multiplier():
    torch.manual_seed(0)
    gate = ClassicalGate(6, 3, detach_input=False)
    h = torch.randn(2, 6, 7, 7)
    m = gate.multiplier(h)
    torch.testing.assert_close(gate(h), h * m[:, :, None, None])
    # m = Linear_out(tanh(W Linear_in(mean_hw h) + b)) by hand
    pooled = h.mean(dim=(2, 3))
    z = torch.tanh(gate.core[0](gate.proj_in(pooled)))
    torch.testing.assert_close(m, gate.proj_out(z))
    # with proj_out = (0, 1) the gate is the identity
    with torch.no_grad():
        gate.proj_out.weight.zero_()
        gate.proj_out.bias.fill_(1.0)
    torch.testing.assert_close(gate(h), h)


# --- the published gate's two properties (chen2025quantum's public code) ---------------------------------------


def test_published_gate_detach_and_rz_weights_get_exactly_zero_gradient():
    net = _net("quantum", n_qubits=4, n_layers=3, ansatz="rz_cnot", detach=True).double()
    x, t = _batch(3)
    grads = _grads(net, x.double(), t)
    # property 1: the projected input is detached, so Linear(C, n) gets no gradient at all
    assert grads["bottleneck.proj_in.weight"] is None and grads["bottleneck.proj_in.bias"] is None
    # property 2: RZ + CNOT after an RY embedding cannot change <Z>, so the circuit weights get zero gradient
    circuit = [n for n in grads if n.startswith("bottleneck.core.")]
    assert circuit, "the circuit has no trainable weights"
    for name in circuit:
        assert grads[name] is not None and grads[name].abs().max() < 1e-12, name
    # every other parameter does learn
    for name, g in grads.items():
        if not name.startswith(("bottleneck.proj_in.", "bottleneck.core.")):
            assert g is not None and g.abs().sum() > 0, name


def test_published_gate_output_ignores_rz_weights():
    net = _net("quantum", n_qubits=4, n_layers=3, ansatz="rz_cnot", detach=True).double()
    x, t = _batch(2)
    before = net(x.double(), t)
    with torch.no_grad():
        for p in net.bottleneck.core.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(3), dtype=p.dtype) * 2.0)
    torch.testing.assert_close(net(x.double(), t), before, atol=1e-12, rtol=0)


def test_published_gate_is_a_fixed_product_of_cosines():
    from qdm.circuits import RZCNOTChain, zexpval_product_of_cos, zexpval_wire_sets

    net = _net("quantum", n_qubits=5, n_layers=3, ansatz="rz_cnot", detach=True).double()
    gate = net.bottleneck
    h = torch.randn(4, 32, 7, 7, dtype=torch.float64)
    z = gate.proj_in(h.mean(dim=(2, 3)))
    expval = zexpval_product_of_cos(z, zexpval_wire_sets(RZCNOTChain(3), 5))
    torch.testing.assert_close(gate.multiplier(h), gate.proj_out(expval), atol=1e-12, rtol=0)


def test_detach_changes_only_the_projection_gradient():
    x, t = _batch(2)
    g_on = _grads(_net("classical", detach=True).double(), x.double(), t)
    g_off = _grads(_net("classical", detach=False).double(), x.double(), t)
    assert g_on["bottleneck.proj_in.weight"] is None and g_off["bottleneck.proj_in.weight"].abs().sum() > 0
    # the gate's core and projection-out see the same upstream signal either way
    torch.testing.assert_close(g_on["bottleneck.core.0.weight"], g_off["bottleneck.core.0.weight"])
    torch.testing.assert_close(g_on["bottleneck.proj_out.weight"], g_off["bottleneck.proj_out.weight"])


# --- the circuit inside the U-Net vs finite differences -------------------------------------


@pytest.mark.parametrize("ansatz", ["strongly_entangling", "ry_rz_chain"])
def test_pqc_weight_gradient_matches_finite_differences(ansatz):
    net = _net("quantum", n_qubits=3, n_layers=2, ansatz=ansatz, detach=True, angle_scaling="pi_tanh").double()
    x, t = _batch(2)
    x = x.double()
    target = torch.randn(x.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    weight = next(p for n, p in net.named_parameters() if n.startswith("bottleneck.core."))
    idx = (0,) * weight.ndim

    def loss() -> torch.Tensor:
        return (net(x, t) - target).pow(2).mean()

    net.zero_grad(set_to_none=True)
    loss().backward()
    analytic = weight.grad[idx].item()
    h = 1e-5
    with torch.no_grad():
        w0 = weight[idx].item()
        weight[idx] = w0 + h
        up = loss().item()
        weight[idx] = w0 - h
        down = loss().item()
        weight[idx] = w0
    numeric = (up - down) / (2 * h)
    assert abs(analytic) > 1e-8
    assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-11)


def test_pennylane_and_torch_backends_agree_inside_the_unet():
    x, t = _batch(2)
    a = _net("quantum", n_qubits=3, n_layers=1, backend="torch", seed=4).double()
    b = _net("quantum", n_qubits=3, n_layers=1, backend="pennylane", seed=4).double()
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(a(x.double(), t), b(x.double(), t), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("ansatz", ["strongly_entangling", "ry_cnot", "ry_rz_chain"])
@pytest.mark.parametrize("backend", ["torch", "statevector"])
def test_single_precision_circuit_agrees_with_double_to_float32_accuracy(ansatz, backend):
    """circuit_dtype='complex64' simulates the same gate: the U-Net's output and every gradient agree with the
    complex128 gate's to float32 accuracy, and the circuit really ran in single precision (its weights are float32)."""
    x, t = _batch(2)
    nets = {dt: _net("quantum", n_qubits=5, n_layers=2, ansatz=ansatz, backend=backend, seed=3, circuit_dtype=dt)
            for dt in ("complex128", "complex64")}
    nets["complex64"].load_state_dict(nets["complex128"].state_dict())
    circuits = {dt: next(m for m in net.modules() if hasattr(m, "weights")) for dt, net in nets.items()}
    assert circuits["complex128"].weights.dtype == torch.float64 and circuits["complex64"].weights.dtype == torch.float32
    grads = {}
    for dt, net in nets.items():
        out = net(x, t)
        (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        grads[dt] = (out.detach(), circuits[dt].weights.grad.double())
    torch.testing.assert_close(grads["complex64"][0], grads["complex128"][0], atol=2e-6, rtol=1e-5)
    assert grads["complex128"][1].abs().max() > 1e-4  # the circuit gradient is not trivially zero
    torch.testing.assert_close(grads["complex64"][1], grads["complex128"][1], atol=1e-5, rtol=1e-4)


# --- parameter-matched twin and parameter counts ----------------------------------------------


@pytest.mark.parametrize(
    ("n_qubits", "n_layers", "ansatz"),
    [(8, 3, "rz_cnot"), (16, 3, "rz_cnot"), (4, 2, "strongly_entangling"), (2, 3, "strongly_entangling"),
     (5, 2, "ry_rz_chain")],
)
def test_matched_twin_has_exactly_the_circuit_parameter_count(n_qubits, n_layers, ansatz):
    cfg = GateConfig(kind="matched", n_qubits=n_qubits, n_layers=n_layers, ansatz=ansatz)
    n_circuit = sum(p.numel() for p in make_quantum_layer(cfg).parameters() if p.requires_grad)
    assert n_circuit == circuit_parameter_count(cfg) > 0
    matched = build_unet(SMALL, cfg)
    quantum = build_unet(SMALL, GateConfig(kind="quantum", n_qubits=n_qubits, n_layers=n_layers, ansatz=ansatz))
    assert isinstance(matched.bottleneck, MatchedClassicalGate) and isinstance(quantum.bottleneck, QuantumGate)
    cm, cq = count_parameters(matched), count_parameters(quantum)
    assert cm["circuit"] == cq["circuit"] == n_circuit
    assert cm["total"] == cq["total"]


def test_parameter_matched_map_fill_order_and_layers():
    for n in (1, 3, 6):
        order = matched_fill_order(n)
        assert sorted(order) == list(range(n * n + n))
    m = ParameterMatchedMap(2, 18)  # capacity 6 per layer → 3 full layers
    assert m.layer_sizes == (6, 6, 6) and sum(p.numel() for p in m.parameters()) == 18
    m = ParameterMatchedMap(4, 5)  # diagonal (4) + one bias entry
    w, b = m.layer_weights(0)
    free = m.free[0].detach()
    torch.testing.assert_close(torch.diagonal(w), 1.0 + free[:4])
    assert b[0].item() == pytest.approx(free[4].item()) and torch.all(b[1:] == 0)
    assert torch.all(w - torch.diag(torch.diagonal(w)) == 0)
    x = torch.randn(3, 4)
    torch.testing.assert_close(m(x), torch.tanh(x @ w.T + b))


def test_zero_parameter_matched_map_is_fixed_tanh():
    m = ParameterMatchedMap(3, 0)
    assert sum(p.numel() for p in m.parameters()) == 0
    x = torch.randn(4, 3)
    torch.testing.assert_close(m(x), torch.tanh(x))


@pytest.mark.parametrize("kind", ["none", "quantum", "classical", "matched"])
def test_count_parameters_parts_sum_to_total(kind):
    net = _net(kind, unet=UNetConfig(in_channels=3))
    counts = count_parameters(net)
    assert set(counts) == set(PART_NAMES) | {"total"}
    assert sum(counts[p] for p in PART_NAMES) == counts["total"]
    assert counts["total"] == sum(p.numel() for p in net.parameters())
    # published widths: conv 3→32→64→128, Linear(128,128), ResBlock(128), ConvT 128→64→32, conv 64→3
    assert counts["encoder"] == (3 * 9 + 1) * 32 + (32 * 9 + 1) * 64 + (64 * 9 + 1) * 128
    assert counts["time_embedding"] == 128 * 128 + 128
    assert counts["res_block"] == 2 * (128 * 128 * 9 + 128)
    assert counts["decoder"] == (128 * 4 * 64 + 64) + (64 * 4 * 32 + 32) + (64 * 9 * 3 + 3)
    if kind != "none":
        assert counts["proj_in"] == 128 * 3 + 3 and counts["proj_out"] == 3 * 128 + 128
    if kind == "classical":
        assert counts["circuit"] == 3 * 3 + 3


def test_frozen_parameters_are_not_counted():
    net = _net("classical")
    before = count_parameters(net)
    net.bottleneck.core.requires_grad_(False)
    after = count_parameters(net)
    assert after["circuit"] == 0 and after["total"] == before["total"] - before["circuit"]


# --- bad input --------------------------------------------------------------------------------


def test_angle_scaling_is_bounded():
    z = torch.linspace(-50, 50, 11, dtype=torch.float64)
    scaled = scale_angles(z, "pi_tanh")
    assert scaled.abs().max() <= math.pi
    torch.testing.assert_close(scaled, math.pi * torch.tanh(z))
    assert scale_angles(torch.tensor([3.0], dtype=torch.float64), "pi_tanh").item() < math.pi
    torch.testing.assert_close(scale_angles(z, "none"), z)


@pytest.mark.parametrize(
    "make",
    [
        lambda: UNetConfig(in_channels=2),
        lambda: UNetConfig(widths=(8, 16)),
        lambda: UNetConfig(time_dim=7),
        lambda: GateConfig(kind="attention"),
        lambda: GateConfig(n_qubits=0),
        lambda: GateConfig(ansatz="qaoa"),
        lambda: GateConfig(backend="qiskit"),
        lambda: GateConfig(angle_scaling="sigmoid"),
        lambda: ParameterMatchedMap(3, -1),
        lambda: scale_angles(torch.zeros(2), "pi"),
        lambda: timestep_embedding(torch.zeros(2, 2), 8),
    ],
)
def test_bad_configs_raise_value_error(make):
    with pytest.raises(ValueError):
        make()


def test_bad_forward_inputs_raise_value_error():
    net = _net("classical")
    with pytest.raises(ValueError, match="x must have shape"):
        net(torch.zeros(2, 3, 28, 28), torch.ones(2, dtype=torch.long))
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.zeros(2, 1, 30, 30), torch.ones(2, dtype=torch.long))
    with pytest.raises(ValueError, match="t must have shape"):
        net(torch.zeros(2, 1, 28, 28), torch.ones(3, dtype=torch.long))
