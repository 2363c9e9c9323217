"""Tests of qdm.quantum.sim: gates, embeddings, fused layers, measurement, unitaries (maths, not shapes)."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

from qdm.quantum import gate_algebra, sim

C128 = torch.complex128
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

I2 = torch.eye(2, dtype=C128)
X = torch.tensor([[0, 1], [1, 0]], dtype=C128)
Y = torch.tensor([[0, -1j], [1j, 0]], dtype=C128)
Z = torch.tensor([[1, 0], [0, -1]], dtype=C128)
P0 = torch.tensor([[1, 0], [0, 0]], dtype=C128)
P1 = torch.tensor([[0, 0], [0, 1]], dtype=C128)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_state(batch: int, n: int, seed: int = 0, dtype: torch.dtype = C128) -> torch.Tensor:
    g = gen(seed)
    re = torch.randn(batch, 1 << n, generator=g, dtype=torch.float64)
    im = torch.randn(batch, 1 << n, generator=g, dtype=torch.float64)
    psi = torch.complex(re, im)
    return (psi / torch.linalg.vector_norm(psi, dim=1, keepdim=True)).to(dtype)


def kron_all(mats: list[torch.Tensor]) -> torch.Tensor:
    return functools.reduce(torch.kron, mats)


def embed(op: torch.Tensor, wire: int, n: int) -> torch.Tensor:
    """Dense 2**n matrix of a one-wire operator (wire 0 = most significant)."""
    return kron_all([op if w == wire else I2 for w in range(n)])


def cnot_dense(control: int, target: int, n: int) -> torch.Tensor:
    """CNOT = |0><0|_c ⊗ I + |1><1|_c ⊗ X_t, built from Kronecker products (independent of sim)."""
    a = kron_all([P0 if w == control else I2 for w in range(n)])
    b = kron_all([P1 if w == control else (X if w == target else I2) for w in range(n)])
    return a + b


def assert_unitary(u: torch.Tensor, atol: float = 1e-12) -> None:
    eye = torch.eye(u.shape[-1], dtype=u.dtype).expand_as(u)
    torch.testing.assert_close(u @ u.mH, eye, atol=atol, rtol=0)


# ------------------------------------------------------------------------------------------------
# gates
# ------------------------------------------------------------------------------------------------
def test_rotation_gates_are_exponentials_of_paulis() -> None:
    theta = torch.tensor([-2.1, 0.0, 0.37, 5.9], dtype=torch.float64)
    for gate, pauli in ((sim.rx, X), (sim.ry, Y), (sim.rz, Z)):
        # exp(-iθP/2) = cos(θ/2) I - i sin(θ/2) P for a Pauli P (P² = I)
        expected = torch.cos(theta / 2)[:, None, None] * I2 - 1j * torch.sin(theta / 2)[:, None, None] * pauli
        torch.testing.assert_close(gate(theta), expected, atol=1e-14, rtol=0)
        assert_unitary(gate(theta))


def test_rot_is_rz_ry_rz_and_unitary() -> None:
    w = torch.rand(5, 3, generator=gen(1), dtype=torch.float64) * 8 - 4
    r = sim.rot(w[:, 0], w[:, 1], w[:, 2])
    expected = sim.rz(w[:, 2]) @ sim.ry(w[:, 1]) @ sim.rz(w[:, 0])
    torch.testing.assert_close(r, expected, atol=1e-14, rtol=0)
    assert_unitary(r)


@pytest.mark.parametrize("gate", ["rot", "ryrz"])
def test_gate_matrices_and_derivatives_match_finite_differences(gate: str) -> None:
    p = sim.GATE_PARAMS[gate]
    w = torch.rand(4, p, generator=gen(2), dtype=torch.float64) * 6 - 3
    mats, dmats = sim.gate_matrices(w, gate)
    ref = sim.rot(w[:, 0], w[:, 1], w[:, 2]) if gate == "rot" else sim.rz(w[:, 1]) @ sim.ry(w[:, 0])
    torch.testing.assert_close(mats, ref, atol=1e-14, rtol=0)
    h = 1e-6
    for k in range(p):
        e = torch.zeros(p, dtype=torch.float64)
        e[k] = h
        fd = (sim.gate_matrices(w + e, gate)[0] - sim.gate_matrices(w - e, gate)[0]) / (2 * h)
        torch.testing.assert_close(dmats[:, k], fd, atol=1e-9, rtol=0)


def test_kron_helpers_match_torch_kron() -> None:
    g = gen(3)
    vecs = torch.randn(2, 5, 2, generator=g, dtype=C128)
    for b in range(2):
        torch.testing.assert_close(sim.kron_vectors(vecs)[b], kron_all(list(vecs[b])), atol=1e-14, rtol=0)
    mats = torch.randn(7, 2, 2, generator=g, dtype=C128)
    for k in (1, 2, 3, 7):
        torch.testing.assert_close(sim.kron_matrices(mats[:k]), kron_all(list(mats[:k])), atol=1e-13, rtol=0)
        # the host-side (compiled) Kronecker product of 2x2 gates, batched, complex and real
        batch = torch.stack((mats[:k], mats[:k].flip(0))).numpy()
        got = gate_algebra.kron(batch)
        for i in range(2):
            torch.testing.assert_close(torch.from_numpy(got[i]), kron_all(list(torch.from_numpy(batch[i]))), atol=1e-13, rtol=0)
        real = np.ascontiguousarray(batch.real)
        np.testing.assert_allclose(gate_algebra.kron(real), gate_algebra.kron(real.astype(complex)).real, atol=1e-13, rtol=0)


@pytest.mark.parametrize("k", [1, 2, 4, 6])
@pytest.mark.parametrize("gate", ["rot", "ry"])
def test_unitary_kron_factor_grads_equal_autograd(k: int, gate: str) -> None:
    """∂L/∂R̄_q = Tr_{¬q}(G K^H) R_q (unitary factors, host-side) against autograd through kron_matrices."""
    g = gen(30 + k)
    angles = torch.rand(3, k, sim.GATE_PARAMS[gate], generator=g, dtype=torch.float64) * 6
    dtype = C128 if gate == "rot" else torch.float64  # "ry" also runs in real arithmetic
    mats = sim.gate_matrices(angles, gate, dtype, derivatives=False)[0].requires_grad_()
    kron = sim.kron_matrices(mats)
    grad = torch.randn(kron.shape, generator=g, dtype=dtype)
    (kron * grad.conj()).real.sum().backward()  # ∂L/∂K̄ = grad
    got = gate_algebra.unitary_kron_factor_grads(grad.numpy(), mats.detach().numpy(), gate_algebra.kron(mats.detach().numpy()))
    torch.testing.assert_close(torch.from_numpy(got), mats.grad, atol=1e-12, rtol=0)
    # the identity needs unitary factors: a non-unitary one must break it (the test can fail)
    bent = mats.detach().clone()
    bent[0, 0] *= 1.5
    bent_kron = sim.kron_matrices(bent.requires_grad_())
    (bent_kron * grad.conj()).real.sum().backward()
    bent_got = gate_algebra.unitary_kron_factor_grads(grad.numpy(), bent.detach().numpy(), bent_kron.detach().numpy())
    assert not torch.allclose(torch.from_numpy(bent_got), bent.grad, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# embeddings and gate application
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rotation", ["X", "Y", "Z"])
def test_angle_embedding_equals_gates_applied_to_zero_state(rotation: str) -> None:
    n, batch = 4, 3
    x = torch.rand(batch, n, generator=gen(4), dtype=torch.float64) * 6
    gate = {"X": sim.rx, "Y": sim.ry, "Z": sim.rz}[rotation]
    state = sim.zero_state(batch, n)
    for wire in range(n):
        state = sim.apply_single_qubit(state, gate(x[:, wire]), wire)
    torch.testing.assert_close(sim.angle_embedding(x, rotation), state, atol=1e-14, rtol=0)
    # fewer features than wires: the remaining wires stay |0>
    padded = sim.angle_embedding(x[:, :2], rotation, n_qubits=n)
    torch.testing.assert_close(
        padded, sim.angle_embedding(torch.cat([x[:, :2], torch.zeros(batch, 2, dtype=torch.float64)], 1), rotation)
    )


def test_apply_single_qubit_matches_dense_kron() -> None:
    n = 4
    psi = random_state(3, n, seed=5)
    u = sim.rot(0.3, -1.2, 2.0)
    for wire in range(n):
        expected = psi @ embed(u, wire, n).T
        torch.testing.assert_close(sim.apply_single_qubit(psi, u, wire), expected, atol=1e-13, rtol=0)


def test_amplitude_embedding_pads_and_normalises() -> None:
    v = torch.tensor([[3.0, 4.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    state = sim.amplitude_embedding(v, n_qubits=2, pad_with=0.0)
    torch.testing.assert_close(state[0], torch.tensor([0.6, 0.8, 0, 0], dtype=C128))
    torch.testing.assert_close(torch.linalg.vector_norm(state, dim=1), torch.ones(2, dtype=torch.float64))
    padded = torch.tensor([[3, 4, 0, 1]], dtype=C128) / math.sqrt(26)
    torch.testing.assert_close(sim.amplitude_embedding(v[:1], pad_with=1.0), padded)
    with pytest.raises(ValueError, match="unit L2 norm"):
        sim.amplitude_embedding(v, n_qubits=2, normalize=False)
    with pytest.raises(ValueError, match="more than"):
        sim.amplitude_embedding(torch.ones(1, 5), n_qubits=2)


@pytest.mark.parametrize("group_size", [1, 2, 3, 4, 5])
def test_grouped_layer_equals_one_gate_at_a_time(group_size: int) -> None:
    n, batch = 5, 3
    psi = random_state(batch, n, seed=6)
    w = torch.rand(batch, n, 3, generator=gen(7), dtype=torch.float64) * 6
    shared = sim.rot(w[0, :, 0], w[0, :, 1], w[0, :, 2])
    per_sample = sim.rot(w[..., 0], w[..., 1], w[..., 2])
    for mats in (shared, per_sample):
        expected = psi
        for wire in range(n):
            expected = sim.apply_single_qubit(expected, mats[..., wire, :, :], wire)
        got = sim.apply_single_qubit_layer(psi, mats, group_size=group_size)
        torch.testing.assert_close(got, expected, atol=1e-13, rtol=0)
    # on a product state the layer stays a product state with the same dense vector
    factors = sim.angle_factors(w[:, :, 0], "Y")
    prod = sim.apply_single_qubit_layer(sim.ProductState(factors), per_sample)
    assert isinstance(prod, sim.ProductState)
    dense = sim.apply_single_qubit_layer(sim.product_state(factors), per_sample, group_size=group_size)
    torch.testing.assert_close(sim.as_dense(prod), dense, atol=1e-13, rtol=0)


def test_diagonal_layer_equals_rz_gates() -> None:
    n = 4
    psi = random_state(2, n, seed=8)
    theta = torch.rand(n, generator=gen(9), dtype=torch.float64) * 6
    expected = psi
    for wire in range(n):
        expected = sim.apply_single_qubit(expected, sim.rz(theta[wire]), wire)
    torch.testing.assert_close(sim.apply_diagonal_layer(psi, sim.rz_phases(theta)), expected, atol=1e-13, rtol=0)


@pytest.mark.parametrize("pairs", [((0, 1),), ((2, 0),), ((0, 3), (3, 1), (1, 2)), sim.cnot_ring_pairs(4, 3)])
def test_cnot_permutation_equals_dense_cnot_product(pairs: tuple) -> None:
    n = 4
    psi = random_state(3, n, seed=10)
    dense = torch.eye(1 << n, dtype=C128)
    for c, t in pairs:
        dense = cnot_dense(c, t, n) @ dense
    torch.testing.assert_close(sim.apply_cnots(psi, pairs), psi @ dense.T, atol=0, rtol=0)


def test_permutation_backward_is_inverse_gather() -> None:
    psi = random_state(2, 3, seed=11).requires_grad_()
    assert torch.autograd.gradcheck(lambda s: sim.apply_cnots(s, sim.cnot_ring_pairs(3, 1)), (psi,))


# ------------------------------------------------------------------------------------------------
# the fused engine
# ------------------------------------------------------------------------------------------------
def _reference_layers(state: sim.State, weights: torch.Tensor, gate: str, cnots) -> torch.Tensor:
    mats = sim.gate_matrices(weights, gate)[0]
    if weights.requires_grad:  # rebuild with autograd for the reference gradient
        mats = (
            sim.rot(weights[..., 0], weights[..., 1], weights[..., 2])
            if gate == "rot"
            else sim.rz(weights[..., 1]) @ sim.ry(weights[..., 0])
        )
    return sim.rotation_cnot_layers(state, mats, cnots, group_size=1)


@pytest.mark.parametrize("gate", ["rot", "ryrz"])
@pytest.mark.parametrize(
    "n,n_layers,batch,group_size", [(1, 2, 3, None), (3, 3, 1, 2), (6, 2, 5, None), (7, 3, 4, 3), (8, 4, 3, None)]
)
@pytest.mark.parametrize("start", ["product", "dense"])
def test_fused_layers_equal_op_by_op_autograd(gate: str, n: int, n_layers: int, batch: int, group_size, start: str) -> None:
    g = gen(12 + n)
    x = torch.rand(batch, n, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.rand(n_layers, n, sim.GATE_PARAMS[gate], generator=g, dtype=torch.float64, requires_grad=True)
    cnots = [sim.cnot_ring_pairs(n, 1 + layer % max(1, n - 1)) if n > 1 else () for layer in range(n_layers)]
    coef = torch.randn(batch, n, generator=g, dtype=torch.float64)
    results = []
    for fused in (True, False):
        factors = sim.angle_factors(x, "X")
        state = sim.ProductState(factors) if start == "product" else sim.product_state(factors)
        if fused:
            psi = sim.fused_layers(state, w, gate, cnots, "state", group_size)
            ev = sim.fused_layers(state, w, gate, cnots, "expval_z", group_size)
        else:
            psi = _reference_layers(state, w, gate, cnots)
            ev = sim.expval_z(psi)
        torch.testing.assert_close(torch.linalg.vector_norm(psi, dim=1), torch.ones(batch, dtype=torch.float64))
        gx, gw = torch.autograd.grad((ev * coef).sum() + psi.real.sum() - 2 * psi.imag.sum(), (x, w))
        results.append((psi.detach(), ev.detach(), gx, gw))
    for got, ref in zip(*results):
        torch.testing.assert_close(got, ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("rotation", ["X", "Y", "Z"])
def test_angle_state_engine_path_equals_factor_path(rotation: str) -> None:
    """The engine differentiates the angle embedding analytically; it must match autograd through angle_factors."""
    n, k, batch = 5, 4, 3  # one wire beyond the features stays |0>
    g = gen(30 + ord(rotation))
    x = torch.rand(batch, k, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.rand(3, n, 3, generator=g, dtype=torch.float64, requires_grad=True)
    cnots = [sim.cnot_ring_pairs(n, 1), sim.cnot_chain_pairs(n), sim.cnot_ring_pairs(n, 2)]
    coef = torch.randn(batch, n, generator=g, dtype=torch.float64)
    angle = sim.angle_state(x, rotation, n_qubits=n)
    torch.testing.assert_close(sim.as_dense(angle), sim.angle_embedding(x, rotation, n_qubits=n))
    results = []
    for state in (angle, sim.ProductState(sim.angle_factors(x, rotation, n_qubits=n))):
        ev = sim.fused_layers(state, w, "rot", cnots, "expval_z", group_size=3)
        results.append((ev.detach(), *torch.autograd.grad((ev * coef).sum(), (x, w))))
    for got, ref in zip(*results):
        torch.testing.assert_close(got, ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("start", ["angles", "product", "dense"])
def test_fused_engine_plans_reused_across_calls_equal_op_by_op(start: str) -> None:
    """The engine's cached per-(circuit, batch) plans: calls alternating between two batch sizes (each
    reusing its own plan) match the op-by-op path (rotation_cnot_layers + expval_z) and its autograd."""
    n, n_layers = 8, 4
    cnots = [sim.cnot_ring_pairs(n, r) for r in sim.default_ranges(n_layers, n)]
    sim.clear_plans()
    for call, batch in enumerate((5, 3, 5, 3)):
        g = gen(40 + call)
        x = torch.rand(batch, n, generator=g, dtype=torch.float64, requires_grad=True)
        w = torch.rand(n_layers, n, 3, generator=g, dtype=torch.float64, requires_grad=True)
        coef = torch.randn(batch, n, generator=g, dtype=torch.float64)
        results = []
        for fused in (True, False):
            if start == "angles":
                state = sim.angle_state(x, "X") if fused else sim.angle_factors(x, "X")
                state = state if fused else sim.ProductState(state)
            else:
                factors = sim.angle_factors(x, "X")
                state = sim.ProductState(factors) if start == "product" else sim.product_state(factors)
            if fused:
                ev = sim.fused_layers(state, w, "rot", cnots, "expval_z")
                psi = sim.fused_layers(state, w, "rot", cnots, "state")
            else:
                psi = sim.rotation_cnot_layers(state, sim.rot(w[..., 0], w[..., 1], w[..., 2]), cnots)
                ev = sim.expval_z(psi)
            grads = torch.autograd.grad((ev * coef).sum() + psi.real.sum() - 2 * psi.imag.sum(), (x, w))
            results.append((ev.detach(), psi.detach(), *grads))
        for got, ref in zip(*results):
            torch.testing.assert_close(got, ref, atol=1e-12, rtol=0)


def test_fused_engine_overlapping_calls_and_retained_graph() -> None:
    """Two forwards before either backward, a retained graph run backward twice, and a no-grad call in
    between must not overwrite one another's buffers; a second backward on a freed graph raises."""
    n, batch = 6, 4
    cnots = [sim.cnot_ring_pairs(n, 1), sim.cnot_ring_pairs(n, 2), sim.cnot_ring_pairs(n, 3)]
    g = gen(50)
    xs = [torch.rand(batch, n, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    w = torch.rand(3, n, 3, generator=g, dtype=torch.float64, requires_grad=True)

    def reference(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ev = sim.expval_z(sim.rotation_cnot_layers(sim.ProductState(sim.angle_factors(x, "X")), sim.rot(*w.unbind(-1)), cnots))
        return (ev.detach(), *torch.autograd.grad(ev.square().sum(), (x, w)))

    refs = [reference(x) for x in xs]
    evs = [sim.fused_layers(sim.angle_state(x, "X"), w, "rot", cnots, "expval_z") for x in xs]
    with torch.no_grad():
        sim.fused_layers(sim.angle_state(xs[0] + 1, "X"), w, "rot", cnots, "expval_z")
    for ev, x, ref in zip(reversed(evs), reversed(xs), reversed(refs)):
        loss = ev.square().sum()
        for _ in range(2):  # a retained graph: the second backward reads the same saved buffers
            got = torch.autograd.grad(loss, (x, w), retain_graph=True)
            torch.testing.assert_close((ev.detach(), *got), ref, atol=1e-12, rtol=0)
        torch.autograd.grad(loss, (x, w))
        sim.fused_layers(sim.angle_state(x + 1, "X"), w, "rot", cnots, "expval_z").sum().backward()  # may reuse the plan
        with pytest.raises(RuntimeError):
            torch.autograd.grad(loss, (x, w))


def test_fused_layers_gradcheck_finite_differences() -> None:
    g = gen(20)
    w = torch.rand(2, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    f = torch.randn(2, 3, 2, generator=g, dtype=C128, requires_grad=True)
    cnots = [sim.cnot_ring_pairs(3, 1), sim.cnot_ring_pairs(3, 2)]
    for output in ("state", "expval_z"):
        assert torch.autograd.gradcheck(
            lambda f, w: sim.fused_layers(sim.ProductState(f), w, "rot", cnots, output, group_size=2), (f, w)
        )


def test_per_sample_weights_equal_one_circuit_per_sample() -> None:
    n, batch = 4, 3
    g = gen(21)
    psi = random_state(batch, n, seed=22)
    w = torch.rand(batch, 2, n, 3, generator=g, dtype=torch.float64)
    cnots = [sim.cnot_chain_pairs(n)] * 2
    out = sim.fused_layers(psi, w, "rot", cnots)
    for b in range(batch):
        torch.testing.assert_close(out[b : b + 1], sim.fused_layers(psi[b : b + 1], w[b], "rot", cnots), atol=1e-13, rtol=0)


def test_unitary_method_equals_grouped_and_complex64_is_close() -> None:
    n, batch = 4, 70
    g = gen(23)
    x = torch.rand(batch, n, generator=g, dtype=torch.float64)
    w = torch.rand(3, n, 3, generator=g, dtype=torch.float64)
    state = sim.ProductState(sim.angle_factors(x, "Y"))
    grouped = sim.strongly_entangling_layers(state, w, method="grouped")
    unitary = sim.strongly_entangling_layers(state, w, method="unitary")
    torch.testing.assert_close(unitary, grouped, atol=1e-13, rtol=0)
    low = sim.strongly_entangling_layers(sim.ProductState(sim.angle_factors(x, "Y", dtype=torch.complex64)), w)
    assert low.dtype == torch.complex64
    torch.testing.assert_close(low.to(C128), grouped, atol=1e-5, rtol=0)


def test_phase_cnot_layers_equal_dense_circuit() -> None:
    n = 3
    psi = random_state(2, n, seed=24)
    theta = torch.rand(2, n, generator=gen(25), dtype=torch.float64) * 6
    dense = torch.eye(1 << n, dtype=C128)
    for layer in range(2):
        dense = kron_all([sim.rz(t) for t in theta[layer]]) @ dense
        for c, t in sim.cnot_chain_pairs(n):
            dense = cnot_dense(c, t, n) @ dense
    got = sim.phase_cnot_layers(psi, sim.rz_phases(theta), [sim.cnot_chain_pairs(n)] * 2)
    torch.testing.assert_close(got, psi @ dense.T, atol=1e-13, rtol=0)


# ------------------------------------------------------------------------------------------------
# measurement
# ------------------------------------------------------------------------------------------------
def test_probabilities_and_expval_z_match_dense_observables() -> None:
    n = 3
    psi = random_state(4, n, seed=26)
    probs = sim.probabilities(psi)
    torch.testing.assert_close(probs.sum(1), torch.ones(4, dtype=torch.float64))
    ev = sim.expval_z(psi)
    for wire in range(n):
        obs = embed(Z, wire, n)
        expected = torch.einsum("bi,ij,bj->b", psi.conj(), obs, psi).real
        torch.testing.assert_close(ev[:, wire], expected, atol=1e-14, rtol=0)
    factors = sim.angle_factors(torch.rand(4, n, generator=gen(27), dtype=torch.float64), "X")
    torch.testing.assert_close(sim.expval_z(sim.ProductState(factors)), sim.expval_z(sim.product_state(factors)))


def test_sample_bits_follow_born_rule_chi2() -> None:
    n, shots = 3, 40_000
    psi = random_state(1, n, seed=28)
    bits = sim.sample_bits(psi, shots, gen(29))
    assert bits.shape == (1, shots, n)
    index = (bits[0].long() * (2 ** torch.arange(n - 1, -1, -1))).sum(1)
    counts = torch.bincount(index, minlength=1 << n).double()
    expected = sim.probabilities(psi)[0] * shots
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 24.3  # chi2 with 7 dof: P(> 24.3) ≈ 0.001


def test_measure_wire_frequencies_and_collapse() -> None:
    n, batch = 3, 20_000
    psi = random_state(1, n, seed=30).expand(batch, -1).contiguous()
    wire = 1
    p1 = float(sim.probabilities(psi)[0].view(2, 2, 2)[:, 1, :].sum())
    post, outcome = sim.measure_wire(psi, wire, gen(31))
    freq = outcome.double().mean().item()
    assert abs(freq - p1) < 4 * math.sqrt(p1 * (1 - p1) / batch)
    torch.testing.assert_close(torch.linalg.vector_norm(post, dim=1), torch.ones(batch, dtype=torch.float64))
    # the measured wire is now definite and equals the outcome
    torch.testing.assert_close(sim.expval_z(post)[:, wire], 1 - 2 * outcome.double())
    # the kept branch is the projected input, renormalised
    b = int(torch.nonzero(outcome == 1)[0])
    projected = psi[b] @ embed(P1, wire, n).T
    torch.testing.assert_close(post[b], projected / torch.linalg.vector_norm(projected))
    reduced, out2 = sim.measure_wire(psi[:5], wire, gen(31), remove=True)
    assert reduced.shape == (5, 1 << (n - 1))
    torch.testing.assert_close(torch.linalg.vector_norm(reduced, dim=1), torch.ones(5, dtype=torch.float64))


def test_measure_wire_is_certain_for_basis_states() -> None:
    state = sim.angle_embedding(torch.tensor([[math.pi, 0.0]], dtype=torch.float64), "X")  # |1>|0> up to phase
    for seed in range(5):
        _, outcome = sim.measure_wire(state, 0, gen(seed))
        assert int(outcome) == 1
        _, outcome = sim.measure_wire(state, 1, gen(seed))
        assert int(outcome) == 0


def test_postselect_probability_and_state() -> None:
    n = 3
    psi = random_state(3, n, seed=32)
    for outcome, proj in ((0, P0), (1, P1)):
        post, prob = sim.postselect(psi, 2, outcome)
        projected = psi @ embed(proj, 2, n).T
        torch.testing.assert_close(prob, (projected.abs() ** 2).sum(1))
        torch.testing.assert_close(post, projected / prob.sqrt()[:, None].to(C128))
        reduced, prob_r = sim.postselect(psi, 2, outcome, remove=True)
        torch.testing.assert_close(reduced, post.view(3, 4, 2)[:, :, outcome])
    p0 = sim.postselect(psi, 0, 0)[1]
    p1 = sim.postselect(psi, 0, 1)[1]
    torch.testing.assert_close(p0 + p1, torch.ones(3, dtype=torch.float64))
    zero_branch, p = sim.postselect(sim.zero_state(1, 2), 0, 1)
    assert float(p) == 0.0 and not torch.isnan(zero_branch).any() and float(zero_branch.abs().sum()) == 0.0


def test_project_block_label_register() -> None:
    psi = random_state(4, 4, seed=33)  # 16 amplitudes = 4 blocks of 4
    labels = torch.tensor([0, 3, 1, 3])
    block, prob = sim.project_block(psi, labels, 4)
    for b in range(4):
        raw = psi[b, 4 * labels[b] : 4 * labels[b] + 4]
        torch.testing.assert_close(prob[b], (raw.abs() ** 2).sum())
        torch.testing.assert_close(block[b], raw / raw.norm())
    with pytest.raises(ValueError, match="block_size"):
        sim.project_block(psi, 0, 3)


def test_append_zero_wire_is_tensor_with_zero() -> None:
    psi = random_state(2, 2, seed=34)
    out = sim.append_zero_wire(psi)
    torch.testing.assert_close(out, torch.stack([torch.kron(p, torch.tensor([1, 0], dtype=C128)) for p in psi]))


# ------------------------------------------------------------------------------------------------
# unitaries and density matrices
# ------------------------------------------------------------------------------------------------
def test_circuit_unitary_is_unitary_and_reproduces_the_circuit() -> None:
    n = 3
    w = torch.rand(2, n, 3, generator=gen(35), dtype=torch.float64)

    def circuit(s: torch.Tensor) -> torch.Tensor:
        return sim.strongly_entangling_layers(s, w)

    u = sim.circuit_unitary(circuit, n)
    assert_unitary(u)
    psi = random_state(4, n, seed=36)
    torch.testing.assert_close(psi @ u.T, circuit(psi), atol=1e-13, rtol=0)
    # batched: one parameter set per unitary
    wb = torch.rand(3, 2, n, 3, generator=gen(37), dtype=torch.float64)
    per_col = sim.repeat_for_columns(wb, n)
    ub = sim.circuit_unitary(lambda s: sim.strongly_entangling_layers(s, per_col), n, batch_size=3)
    assert_unitary(ub)
    torch.testing.assert_close(
        ub[1], sim.circuit_unitary(lambda s: sim.strongly_entangling_layers(s, wb[1]), n), atol=1e-13, rtol=0
    )


def test_apply_unitary_density_preserves_state_properties() -> None:
    n = 2
    psi = random_state(3, n, seed=38)
    rho_pure = psi[:, :, None] * psi.conj()[:, None, :]
    mixed = 0.6 * rho_pure + 0.4 * torch.eye(4, dtype=C128) / 4
    u = sim.circuit_unitary(lambda s: sim.strongly_entangling_layers(s, torch.ones(1, n, 3, dtype=torch.float64)), n)
    out = sim.apply_unitary_density(mixed, u)
    torch.testing.assert_close(torch.diagonal(out, dim1=-2, dim2=-1).sum(-1).real, torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(out, out.mH)
    assert float(torch.linalg.eigvalsh(out).min()) > -1e-12
    upsi = psi @ u.T
    torch.testing.assert_close(sim.apply_unitary_density(rho_pure, u), upsi[:, :, None] * upsi.conj()[:, None, :])


# ------------------------------------------------------------------------------------------------
# devices, dtypes, errors
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_device_and_preserves_norm(device: str) -> None:
    x = torch.rand(5, 6, generator=gen(39), dtype=torch.float64).to(device)
    w = torch.rand(2, 6, 3, generator=gen(40), dtype=torch.float64).to(device).requires_grad_()
    psi = sim.strongly_entangling_layers(sim.ProductState(sim.angle_factors(x, "X")), w)
    assert psi.device.type == device
    torch.testing.assert_close(torch.linalg.vector_norm(psi, dim=1), torch.ones(5, dtype=torch.float64, device=device))
    (grad,) = torch.autograd.grad(sim.expval_z(psi).sum(), w)
    assert grad.device.type == device and torch.isfinite(grad).all()


def test_bad_inputs_raise_value_errors() -> None:
    with pytest.raises(ValueError, match="rotation"):
        sim.angle_factors(torch.zeros(1, 2), "W")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dtype"):
        sim.zero_state(1, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="power of two"):
        sim.expval_z(torch.zeros(1, 6, dtype=C128))
    with pytest.raises(ValueError, match="wire"):
        sim.measure_wire(sim.zero_state(1, 2), 2)
    with pytest.raises(ValueError, match="outcome"):
        sim.postselect(sim.zero_state(1, 2), 0, 2)
    with pytest.raises(ValueError, match="control and target"):
        sim.apply_cnots(sim.zero_state(1, 2), [(1, 1)])
    with pytest.raises(ValueError, match="weights"):
        sim.strongly_entangling_layers(sim.zero_state(1, 2), torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="range"):
        sim.cnot_ring_pairs(4, 4)
    with pytest.raises(ValueError, match="shots"):
        sim.sample_bits(sim.zero_state(1, 2), 0)


# ------------------------------------------------------------------------------------------------
# Z strings on product states (the exact form behind diagonal + CNOT circuits)
# ------------------------------------------------------------------------------------------------
def test_product_z_strings_equal_dense_z_string_expectations() -> None:
    n, batch = 4, 3
    g = gen(11)
    f = torch.complex(
        torch.randn(batch, n, 2, generator=g, dtype=torch.float64), torch.randn(batch, n, 2, generator=g, dtype=torch.float64)
    )
    f = f / torch.linalg.vector_norm(f, dim=-1, keepdim=True)
    state = sim.ProductState(f)
    sets = [(0,), (1, 3), (0, 1, 2, 3), (0, 2)]
    got = sim.product_z_strings(state, sets)
    dense = sim.as_dense(state)
    for k, s in enumerate(sets):
        op = kron_all([Z if w in s else I2 for w in range(n)])
        want = torch.einsum("bi,ij,bj->b", dense.conj(), op, dense).real
        torch.testing.assert_close(got[:, k], want, atol=1e-13, rtol=0)


def test_product_z_strings_gradient_matches_finite_differences() -> None:
    x = torch.tensor([[0.3, -1.1, 2.0]], dtype=torch.float64, requires_grad=True)
    sets = [(0, 2), (1,)]
    out = sim.product_z_strings(sim.angle_state(x, "Y"), sets)
    (grad,) = torch.autograd.grad(out.sum(), x)
    eps = 1e-6
    for j in range(3):
        dx = torch.zeros_like(x)
        dx[0, j] = eps
        plus = sim.product_z_strings(sim.angle_state(x.detach() + dx, "Y"), sets).sum()
        minus = sim.product_z_strings(sim.angle_state(x.detach() - dx, "Y"), sets).sum()
        assert abs(float(grad[0, j]) - float((plus - minus) / (2 * eps))) < 1e-8


def test_product_z_strings_rejects_dense_state_and_bad_wire() -> None:
    with pytest.raises(ValueError, match="state must be a ProductState"):
        sim.product_z_strings(random_state(1, 2), [(0,)])
    x = torch.zeros(1, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="wire_sets entry"):
        sim.product_z_strings(sim.angle_state(x, "X"), [(0, 2)])
    with pytest.raises(ValueError, match="wire_sets must name"):
        sim.product_z_strings(sim.angle_state(x, "X"), [])


@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64, torch.float64])
@pytest.mark.parametrize("rows_first", [True, False])
def test_expval_z_kernels_equal_torch_and_autograd(dtype: torch.dtype, rows_first: bool) -> None:
    """The engine's compiled CPU ⟨Z⟩ readout and its adjoint seed equal |ψ|² @ Z and autograd's ∂/∂ψ̄."""
    from qdm.quantum import kernels

    n, batch = 5, 6
    g = gen(77)
    psi = torch.randn(batch, 1 << n, generator=g, dtype=torch.complex128 if dtype.is_complex else dtype).to(dtype)
    real = sim.real_dtype_of(dtype) if dtype.is_complex else dtype
    zs = sim._z_signs_after_cnots(n, sim.cnot_ring_pairs(n, 2), real, torch.device("cpu"))
    gz = torch.randn(batch, n, generator=g, dtype=torch.float64).to(real)
    leaf = psi.clone().requires_grad_()
    ref = ((leaf.abs() ** 2) @ zs) if dtype.is_complex else (leaf**2) @ zs
    (ref_seed,) = torch.autograd.grad((ref * gz).sum(), leaf)
    x = (psi.T if rows_first else psi).contiguous()
    out = torch.empty(batch, n, dtype=real)
    kernels.expval_z_signs(x.numpy(), zs.numpy(), out.numpy(), rows_first)
    seed = torch.empty_like(x)
    kernels.expval_z_seed(x.numpy(), (2 * zs).numpy(), gz.numpy(), seed.numpy(), rows_first)
    tol = 1e-12 if real == torch.float64 else 1e-5
    torch.testing.assert_close(out, ref.detach(), atol=tol, rtol=0)
    torch.testing.assert_close(seed.T if rows_first else seed, ref_seed, atol=tol, rtol=0)


@pytest.mark.parametrize("output", ["state", "expval_z"])
@pytest.mark.parametrize("batch", [1, 3])
def test_fused_engine_in_place_sweep_retained_graph_dense_start(output: str, batch: int) -> None:
    """The CPU backward overwrites the plan's saved states in place: a retained graph's second backward
    (dense start, both outputs, both final layouts) must remake them, and a returned state (B = 1
    included, where the final buffer's transpose is contiguous) must not alias the plan's buffers."""
    n = 4
    g = gen(90 + batch)
    for n_layers in (2, 3):  # the final layout alternates with the number of dense layers
        cnots = [sim.cnot_ring_pairs(n, 1 + layer % (n - 1)) for layer in range(n_layers)]
        x = torch.rand(batch, n, generator=g, dtype=torch.float64, requires_grad=True)
        w = torch.rand(n_layers, n, 3, generator=g, dtype=torch.float64, requires_grad=True)
        coef = torch.randn(batch, n if output == "expval_z" else 1 << n, generator=g, dtype=torch.float64)

        def loss_of(out: torch.Tensor) -> torch.Tensor:
            return (out.real * coef).sum() + (out.imag * coef).sum() if out.is_complex() else (out * coef).sum()

        ref_state = sim.rotation_cnot_layers(sim.angle_embedding(x, "X"), sim.rot(*w.unbind(-1)), cnots)
        ref = ref_state if output == "state" else sim.expval_z(ref_state)
        ref_grads = torch.autograd.grad(loss_of(ref), (x, w))
        out = sim.fused_layers(sim.angle_embedding(x, "X"), w, "rot", cnots, output)
        kept = out.detach().clone()
        loss = loss_of(out)
        for _ in range(3):
            got = torch.autograd.grad(loss, (x, w), retain_graph=True)
            torch.testing.assert_close(got, ref_grads, atol=1e-12, rtol=0)
        sim.fused_layers(sim.angle_embedding(x + 1, "X"), w, "rot", cnots, output)  # another call, another plan
        torch.testing.assert_close(out.detach(), kept, atol=0, rtol=0)
        torch.testing.assert_close(out.detach(), ref.detach(), atol=1e-12, rtol=0)
        with torch.no_grad():  # no graph holds the plan: the second call reuses it
            first = sim.fused_layers(sim.angle_embedding(x, "X"), w, "rot", cnots, output)
            sim.fused_layers(sim.angle_embedding(x + 1, "X"), w, "rot", cnots, output)
        torch.testing.assert_close(first, ref.detach(), atol=1e-12, rtol=0)


@pytest.mark.parametrize("gate", ["rot", "ryrz", "ry"])
def test_angle_grads_kernel_equals_numpy(gate: str) -> None:
    """kernels.angle_grads (the engine's last backward step) equals Re Σ ∂L/∂R̄ conj(dR) in NumPy, on the
    strided dR views gate_algebra returns (and the real RY path's real dR)."""
    from qdm.quantum import kernels

    rng = np.random.default_rng(3)
    w = rng.uniform(0, 2 * np.pi, (3, 4, sim.GATE_PARAMS[gate]))
    for real in (False, True) if gate == "ry" else (False,):
        _, dmats = gate_algebra.gate_matrices(w, gate, True, real)
        gm = rng.standard_normal((3, 4, 2, 2)) + 1j * rng.standard_normal((3, 4, 2, 2))
        out = np.empty(dmats.shape[:3])
        kernels.angle_grads(gm, dmats, out)
        np.testing.assert_allclose(out, (gm[:, :, None] * dmats.conj()).real.sum(axis=(-1, -2)), atol=1e-14)
