"""qdm.quantum.chain_mps: the exact matrix-product-state contraction of CNOT-chain circuits.

Held to the fused state-vector engine (outputs and gradients), to dense linear algebra built
independently (the chain as a permutation, Z strings as diagonal operators), to finite differences,
and its bond dimension to the closed form 2**(L-1).
"""

from __future__ import annotations


import pytest
import torch

from qdm import circuits as C
from qdm.quantum import chain_mps, sim

F64, C128 = torch.float64, torch.complex128


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def mps_dense(sites: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """ψ(c) = left · A_0[c_0] ⋯ A_{n-1}[c_{n-1}] · right, (B, 2**n), wire 0 most significant."""
    batch, n = sites.shape[:2]
    vec = left.expand(batch, 1, -1)  # (B, 2**q, χ)
    for q in range(n):
        vec = torch.einsum("bpl,blcr->bpcr", vec, sites[:, q]).reshape(batch, -1, sites.shape[-1])
    return (vec @ right)


def random_sites(batch: int, n: int, chi: int, seed: int, dtype=C128) -> torch.Tensor:
    g = gen(seed)
    re = torch.randn(batch, n, chi, 2, chi, generator=g, dtype=F64)
    im = torch.randn(batch, n, chi, 2, chi, generator=g, dtype=F64)
    return torch.complex(re, im).to(dtype) if dtype.is_complex else re.to(dtype)


@pytest.mark.parametrize("n,chi", [(1, 1), (2, 2), (4, 1), (5, 2)])
def test_apply_chain_is_the_cnot_chain_permutation(n: int, chi: int) -> None:
    sites = random_sites(3, n, chi, seed=n)
    left = torch.randn(chi, generator=gen(1), dtype=F64).to(C128)
    right = torch.randn(chi, generator=gen(2), dtype=F64).to(C128)
    new_sites, new_left, new_right = chain_mps.apply_chain(sites, left, right)
    assert new_sites.shape == (3, n, 2 * chi, 2, 2 * chi)
    want = sim.apply_cnots(mps_dense(sites, left, right), sim.cnot_chain_pairs(n))
    torch.testing.assert_close(mps_dense(new_sites, new_left, new_right), want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype", [F64, C128])
def test_z_prefix_strings_equal_dense_expectations(dtype) -> None:
    n, chi = 5, 2
    sites = random_sites(2, n, chi, seed=7, dtype=dtype)
    left, right = torch.ones(chi, dtype=dtype), torch.ones(chi, dtype=dtype)
    psi = mps_dense(sites, left, right)
    norm = torch.linalg.vector_norm(psi, dim=1)
    sites = sites / norm.view(2, 1, 1, 1, 1) ** (1 / n)  # normalise the state through its sites
    psi = psi / norm[:, None]
    zs = sim._z_signs(n, F64, torch.device("cpu"))  # (2**n, n): 1 - 2 bit_q
    prefix = torch.cumprod(zs, dim=1)  # Π_{j<=k} Z_j eigenvalues
    want = (psi.abs().square().to(F64)) @ prefix
    got = chain_mps.z_prefix_strings(sites, left, right)
    assert got.dtype == F64
    torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


def test_bond_dimension_is_two_to_the_layers_minus_one() -> None:
    assert [chain_mps.chain_bond_dimension(L) for L in (1, 2, 3, 5)] == [1, 2, 4, 16]
    seen = []
    original = chain_mps.z_prefix_strings

    def spy(sites, left, right):
        seen.append(sites.shape[2])
        return original(sites, left, right)

    import unittest.mock as mock

    for L in (1, 2, 3, 4):
        with mock.patch.object(chain_mps, "z_prefix_strings", spy):
            chain_mps.chain_expval_z(torch.rand(2, 6, 2, dtype=F64), torch.eye(2, dtype=F64).expand(L, 6, 2, 2))
    assert seen == [1, 2, 4, 8]
    with pytest.raises(ValueError, match="n_layers must be >= 1"):
        chain_mps.chain_bond_dimension(0)


CASES = [  # (n, L, gate, rotation, features): padded wires, every embedding, real and complex
    (1, 3, "ry", "Y", 1),
    (2, 1, "ry", "Y", 2),
    (5, 4, "ry", "Y", 3),
    (7, 3, "ry", "X", 7),
    (6, 2, "ryrz", "Z", 6),
    (9, 3, "rot", "X", 9),
    (16, 3, "ry", "Y", 16),
    (12, 3, "rot", "Y", 10),
]


@pytest.mark.parametrize("n,n_layers,gate,rotation,features", CASES)
def test_mps_equals_fused_state_vector_outputs_and_gradients(n, n_layers, gate, rotation, features) -> None:
    g = gen(n * 10 + n_layers)
    batch = 3
    x = torch.rand(batch, features, generator=g, dtype=F64) * 6 - 3
    w = torch.rand(n_layers, n, sim.GATE_PARAMS[gate], generator=g, dtype=F64) * 6
    coef = torch.randn(batch, n, generator=g, dtype=F64)
    results = []
    for mps in (True, False):
        xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
        state = sim.angle_state(xg, rotation, n)
        if mps:
            out = chain_mps.chain_circuit_expval_z(state, wg, gate)
        else:
            out = sim.fused_layers(state, wg, gate, [sim.cnot_chain_pairs(n)] * n_layers, "expval_z")
        assert out.dtype == F64
        results.append((out.detach(), *torch.autograd.grad((out * coef).sum(), (xg, wg))))
    for got, ref in zip(*results):
        torch.testing.assert_close(got, ref, atol=1e-12, rtol=0)


def test_mps_on_a_given_product_state_equals_the_engine() -> None:
    n, g = 6, gen(4)
    f = torch.complex(torch.randn(2, n, 2, generator=g, dtype=F64), torch.randn(2, n, 2, generator=g, dtype=F64))
    f = f / torch.linalg.vector_norm(f, dim=-1, keepdim=True)
    w = torch.rand(3, n, 3, generator=g, dtype=F64) * 6
    state = sim.ProductState(f)
    want = sim.fused_layers(state, w, "rot", [sim.cnot_chain_pairs(n)] * 3, "expval_z")
    torch.testing.assert_close(chain_mps.chain_circuit_expval_z(state, w, "rot"), want, atol=1e-12, rtol=0)


def test_mps_gradient_matches_finite_differences() -> None:
    n, n_layers, g = 6, 3, gen(11)
    x = torch.rand(2, n, generator=g, dtype=F64) * 3
    w = torch.rand(n_layers, n, 1, generator=g, dtype=F64) * 6
    coef = torch.randn(2, n, generator=g, dtype=F64)

    def loss(xx, ww):
        return (chain_mps.chain_circuit_expval_z(sim.angle_state(xx, "Y", n), ww, "ry") * coef).sum()

    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
    grads = torch.autograd.grad(loss(xg, wg), (xg, wg))
    eps = 1e-6
    for k, (value, grad) in enumerate(zip((x, w), grads)):
        fd = torch.zeros(value.numel(), dtype=F64)
        for i in range(value.numel()):
            step = torch.zeros(value.numel(), dtype=F64)
            step[i] = eps
            step = step.view_as(value)
            args_p = (x + step, w) if k == 0 else (x, w + step)
            args_m = (x - step, w) if k == 0 else (x, w - step)
            fd[i] = (loss(*args_p) - loss(*args_m)) / (2 * eps)
        torch.testing.assert_close(grad, fd.view_as(value), atol=1e-8, rtol=0)


def test_mps_is_real_only_for_an_ry_embedding_with_ry_gates(monkeypatch) -> None:
    seen = []
    original = chain_mps.chain_expval_z

    def spy(factors, mats):
        seen.append(torch.promote_types(factors.dtype, mats.dtype))
        return original(factors, mats)

    monkeypatch.setattr(chain_mps, "chain_expval_z", spy)
    n, x = 4, torch.rand(2, 4, dtype=F64)
    chain_mps.chain_circuit_expval_z(sim.angle_state(x, "Y", n), torch.rand(2, n, 1, dtype=F64), "ry")
    chain_mps.chain_circuit_expval_z(sim.angle_state(x, "X", n), torch.rand(2, n, 1, dtype=F64), "ry")
    chain_mps.chain_circuit_expval_z(sim.angle_state(x, "Y", n), torch.rand(2, n, 2, dtype=F64), "ryrz")
    assert seen == [F64, C128, C128]


def test_auto_contraction_picks_the_mps_from_ten_qubits_at_three_layers(monkeypatch) -> None:
    assert not chain_mps.prefers_chain_mps(8, 3) and chain_mps.prefers_chain_mps(10, 3)
    assert chain_mps.prefers_chain_mps(16, 3) and not chain_mps.prefers_chain_mps(16, 8)
    calls = []
    original = chain_mps.chain_circuit_expval_z
    monkeypatch.setattr(chain_mps, "chain_circuit_expval_z", lambda *a: calls.append(1) or original(*a))
    emb = C.AngleEmbedding("Y")
    for n, ansatz, used in [
        (12, C.RYCNOTChain(3), True),
        (8, C.RYCNOTChain(3), False),
        (12, C.RYCNOTChain(3, contraction="statevector"), False),
        (12, C.RotCNOTLadder(3, closed=True), False),  # not a chain
        (4, C.RYCNOTChain(3, contraction="mps"), True),
    ]:
        calls.clear()
        x = torch.rand(2, n, generator=gen(n), dtype=F64)
        w = torch.rand(ansatz.weight_shape(n), generator=gen(1), dtype=F64)
        out = C.run_expval(emb, ansatz, x, w, n, "torch")
        assert bool(calls) == used, (n, ansatz)
        ref = C.run_expval(emb, ansatz, x, w, n, "statevector")
        torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="contraction must be one of"):
        C.RYCNOTChain(3, contraction="tn")
    with pytest.raises(ValueError, match="contraction='mps' needs a product-state start"):
        C.run_expval(
            C.AmplitudeEmbedding(), C.RYCNOTChain(2, contraction="mps"), torch.rand(2, 3, dtype=F64),
            torch.rand(2, 2, dtype=F64), 2,
        )
    with pytest.raises(ValueError, match="factors must have shape"):
        chain_mps.chain_expval_z(torch.rand(2, 3, dtype=F64), torch.rand(1, 3, 2, 2, dtype=F64))
    with pytest.raises(ValueError, match="mats must have shape"):
        chain_mps.chain_expval_z(torch.rand(2, 3, 2, dtype=F64), torch.rand(1, 4, 2, 2, dtype=F64))
    with pytest.raises(ValueError, match="needs a complex dtype"):
        chain_mps.layer_gates(torch.rand(1, 3, 3, dtype=F64), "rot", F64)
    with pytest.raises(ValueError, match="real=True needs an RY angle embedding"):
        chain_mps.start_factors(sim.angle_state(torch.rand(2, 3, dtype=F64), "X"), True)


@pytest.mark.parametrize("gate,rotation", [("ry", "Y"), ("rot", "X")])
def test_mps_single_precision_matches_double(gate: str, rotation: str) -> None:
    n, g = 12, gen(21)
    x = torch.rand(3, n, generator=g, dtype=F64) * 6
    w = torch.rand(3, n, sim.GATE_PARAMS[gate], generator=g, dtype=F64) * 6
    ref = chain_mps.chain_circuit_expval_z(sim.angle_state(x, rotation, n), w, gate)
    out = chain_mps.chain_circuit_expval_z(sim.angle_state(x.float(), rotation, n, torch.complex64), w.float(), gate)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), ref, atol=2e-5, rtol=0)
