"""Tests of qdm.circuits: the torch backend against the PennyLane reference, C1's closed form, the layer, the noise."""

from __future__ import annotations

import math

import pytest
import torch

from qdm import circuits as C
from qdm.quantum import sim

F64 = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make_inputs(embedding, n: int, batch: int, seed: int) -> torch.Tensor:
    g = gen(seed)
    if isinstance(embedding, C.AngleEmbedding):
        return torch.rand(batch, n, generator=g, dtype=F64) * 2 * math.pi - math.pi
    return torch.rand(batch, (1 << n) - 1, generator=g, dtype=F64) - 0.3  # padded with one zero


# (ansatz, embedding, n_qubits, batch): every ansatz, both embeddings, n 2..8, depth 1..4, batch 1/3/5
CASES = [
    (C.StronglyEntangling(1), C.AngleEmbedding("X"), 2, 1),
    (C.StronglyEntangling(4), C.AngleEmbedding("X"), 8, 5),
    (C.StronglyEntangling(2, ranges=(1, 1)), C.AmplitudeEmbedding(), 3, 3),
    (C.StronglyEntangling(3), C.AngleEmbedding("Y"), 5, 3),
    (C.RZCNOTChain(3), C.AngleEmbedding("Y"), 6, 5),
    (C.RZCNOTChain(1), C.AmplitudeEmbedding(), 2, 1),
    (C.RotCNOTLadder(2), C.AmplitudeEmbedding(), 4, 3),
    (C.RotCNOTLadder(4, closed=True), C.AngleEmbedding("X"), 7, 1),
    (C.TrainableRYRZChain(1), C.AngleEmbedding("Y"), 3, 5),
    (C.TrainableRYRZChain(4), C.AmplitudeEmbedding(), 8, 3),
    (C.TrainableRYRZChain(2), C.AngleEmbedding("Z"), 4, 3),
    # RY embedding + RY layers: the engine's real-arithmetic path; the other embeddings stay complex
    (C.RYCNOTChain(3), C.AngleEmbedding("Y"), 6, 5),
    (C.RYCNOTChain(1), C.AngleEmbedding("Y"), 2, 1),
    (C.RYCNOTChain(2), C.AngleEmbedding("X"), 5, 3),
    (C.RYCNOTChain(2), C.AmplitudeEmbedding(), 4, 3),
    # the chain ansätze contracted as an exact matrix product state (qdm.quantum.chain_mps)
    (C.RYCNOTChain(3, contraction="mps"), C.AngleEmbedding("Y"), 6, 5),
    (C.RYCNOTChain(2, contraction="mps"), C.AngleEmbedding("X"), 5, 3),
    (C.TrainableRYRZChain(3, contraction="mps"), C.AngleEmbedding("Z"), 4, 3),
    (C.RotCNOTLadder(3, contraction="mps"), C.AngleEmbedding("X"), 5, 3),
]


def _expval_and_grads(ansatz, embedding, x, w, n, backend, dtype, coef):
    x = x.detach().clone().requires_grad_()
    w = w.detach().clone().requires_grad_()
    out = C.run_expval(embedding, ansatz, x, w, n, backend=backend, dtype=dtype)
    gx, gw = torch.autograd.grad((out * coef.to(out.dtype)).sum(), (x, w))
    return out.detach().double(), gx.double(), gw.double()


@pytest.mark.parametrize(
    "ansatz,embedding,n,batch", CASES, ids=lambda c: getattr(c, "__class__").__name__ if not isinstance(c, int) else str(c)
)
def test_torch_backend_equals_pennylane_outputs_and_gradients(ansatz, embedding, n: int, batch: int) -> None:
    x = make_inputs(embedding, n, batch, seed=n * 10 + batch)
    w = torch.rand(ansatz.weight_shape(n), generator=gen(n), dtype=F64) * 2 * math.pi
    coef = torch.randn(batch, n, generator=gen(99), dtype=F64)
    ref = _expval_and_grads(ansatz, embedding, x, w, n, "pennylane", torch.complex128, coef)
    for dtype, tol in ((torch.complex128, 1e-6), (torch.complex64, 1e-4)):
        got = _expval_and_grads(
            ansatz, embedding, x.to(sim.real_dtype_of(dtype)), w.to(sim.real_dtype_of(dtype)), n, "torch", dtype, coef
        )
        assert got[0].shape == (batch, n)
        for a, b in zip(got, ref):
            torch.testing.assert_close(a, b, atol=tol, rtol=0)


@pytest.mark.parametrize(
    "ansatz,n", [(C.StronglyEntangling(2), 3), (C.RotCNOTLadder(3), 5), (C.RZCNOTChain(2), 4), (C.RYCNOTChain(3), 4)]
)
def test_run_state_equals_pennylane_statevector(ansatz, n: int) -> None:
    g = gen(n)
    v = torch.complex(torch.randn(3, 1 << n, generator=g, dtype=F64), torch.randn(3, 1 << n, generator=g, dtype=F64))
    w = torch.rand(ansatz.weight_shape(n), generator=g, dtype=F64) * 6
    emb = C.AmplitudeEmbedding()
    torch.testing.assert_close(
        C.run_state(emb, ansatz, v, w, n, "torch"), C.run_state(emb, ansatz, v, w, n, "pennylane"), atol=1e-12, rtol=0
    )
    x = torch.rand(2, n, generator=g, dtype=F64)
    for rotation in ("X", "Y"):
        emb = C.AngleEmbedding(rotation)
        got = C.run_state(emb, ansatz, x, w, n, "torch")
        assert got.dtype == torch.complex128
        torch.testing.assert_close(got, C.run_state(emb, ansatz, x, w, n, "pennylane"), atol=1e-12, rtol=0)


def test_real_path_state_gradient_matches_finite_differences() -> None:
    """RY embedding + RYCNOTChain runs in real arithmetic and is cast to complex: d Re(c·ψ)/dθ against central differences."""
    n, ansatz = 4, C.RYCNOTChain(2)
    g = gen(5)
    x = torch.rand(3, n, generator=g, dtype=F64) * 3
    w = torch.rand(ansatz.weight_shape(n), generator=g, dtype=F64) * 6
    c = torch.complex(torch.randn(3, 1 << n, generator=g, dtype=F64), torch.randn(3, 1 << n, generator=g, dtype=F64))

    def loss(xx: torch.Tensor, ww: torch.Tensor) -> torch.Tensor:
        psi = C.run_state(C.AngleEmbedding("Y"), ansatz, xx, ww, n, "torch")
        return (c * psi).real.sum() + psi.abs().square()[:, :3].sum()

    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
    gx, gw = torch.autograd.grad(loss(xg, wg), (xg, wg))
    eps = 1e-6
    for value, grad, other in ((x, gx, "w"), (w, gw, "x")):
        fd = torch.zeros_like(value)
        for i in range(value.numel()):
            step = torch.zeros_like(value).view(-1)
            step[i] = eps
            step = step.view_as(value)
            plus = loss(value + step, w) if other == "w" else loss(x, value + step)
            minus = loss(value - step, w) if other == "w" else loss(x, value - step)
            fd.view(-1)[i] = (plus - minus) / (2 * eps)
        torch.testing.assert_close(grad, fd, atol=1e-7, rtol=0)


def test_ansatz_unitary_is_unitary_and_acts_like_the_circuit() -> None:
    n = 3
    ansatz = C.TrainableRYRZChain(2)
    w = torch.rand(ansatz.weight_shape(n), generator=gen(1), dtype=F64) * 6
    u = C.ansatz_unitary(ansatz, w, n)
    torch.testing.assert_close(u @ u.mH, torch.eye(8, dtype=torch.complex128), atol=1e-13, rtol=0)
    v = torch.randn(4, 8, generator=gen(2), dtype=F64)
    state = C.run_state(C.AmplitudeEmbedding(), ansatz, v, w, n)
    torch.testing.assert_close(state, (v / v.norm(dim=1, keepdim=True)).to(torch.complex128) @ u.T, atol=1e-13, rtol=0)
    wb = torch.rand((2, *ansatz.weight_shape(n)), generator=gen(3), dtype=F64)
    ub = C.ansatz_unitary(ansatz, wb, n)
    torch.testing.assert_close(ub[1], C.ansatz_unitary(ansatz, wb[1], n), atol=1e-13, rtol=0)


# ------------------------------------------------------------------------------------------------
# chen2025quantum's code: the RZ + CNOT-chain ansatz has weight-independent <Z>
# ------------------------------------------------------------------------------------------------
def test_zexpval_wire_sets_by_hand() -> None:
    # one layer, chain (0->1), (1->2): Z0 -> Z0, Z1 -> Z0 Z1, Z2 -> Z0 Z1 Z2
    assert C.zexpval_wire_sets(C.RZCNOTChain(1), 3) == (frozenset({0}), frozenset({0, 1}), frozenset({0, 1, 2}))
    # two layers: Z1 -> Z1, Z2 -> Z0 Z2 (the chain squared)
    assert C.zexpval_wire_sets(C.RZCNOTChain(2), 3) == (frozenset({0}), frozenset({1}), frozenset({0, 2}))
    with pytest.raises(ValueError, match="diagonal gates and CNOTs"):
        C.zexpval_wire_sets(C.StronglyEntangling(1), 3)


@pytest.mark.parametrize("n,n_layers", [(2, 1), (5, 3), (8, 3)])
def test_rz_cnot_chain_expval_is_product_of_cosines_and_weight_free(n: int, n_layers: int) -> None:
    ansatz = C.RZCNOTChain(n_layers)
    x = torch.rand(3, n, generator=gen(n), dtype=F64, requires_grad=True) * 3
    w = (torch.rand(ansatz.weight_shape(n), generator=gen(n + 1), dtype=F64) * 6).requires_grad_()
    emb = C.AngleEmbedding("Y")
    out = C.run_expval(emb, ansatz, x, w, n)
    closed = C.zexpval_product_of_cos(x, C.zexpval_wire_sets(ansatz, n))
    torch.testing.assert_close(out, closed, atol=1e-13, rtol=0)
    (grad_w,) = torch.autograd.grad(out.sum(), w)
    assert float(grad_w.abs().max()) < 1e-12
    other = C.run_expval(emb, ansatz, x, torch.zeros_like(w), n)
    torch.testing.assert_close(out, other, atol=1e-13, rtol=0)
    if n <= 5:  # the reference agrees with the closed form too
        torch.testing.assert_close(C.run_expval(emb, ansatz, x, w, n, "pennylane"), closed, atol=1e-12, rtol=0)


def test_trainable_ryrz_chain_weights_do_change_expval() -> None:
    n = 3
    ansatz = C.TrainableRYRZChain(2)
    x = torch.rand(2, n, generator=gen(5), dtype=F64)
    w = (torch.rand(ansatz.weight_shape(n), generator=gen(6), dtype=F64) * 6).requires_grad_()
    out = C.run_expval(C.AngleEmbedding("Y"), ansatz, x, w, n)
    (grad_w,) = torch.autograd.grad(out.sum(), w)
    assert float(grad_w[..., 0].abs().max()) > 1e-3


# ------------------------------------------------------------------------------------------------
# QuantumLayer
# ------------------------------------------------------------------------------------------------
def test_quantum_layer_dtype_shapes_and_backends() -> None:
    n = 4
    layer = C.QuantumLayer(n, C.StronglyEntangling(2), embedding=C.AngleEmbedding("Y"), generator=gen(7))
    assert layer.weights.shape == (2, n, 3)
    assert float(layer.weights.detach().min()) >= 0 and float(layer.weights.detach().max()) < 2 * math.pi
    x = torch.rand(2, 3, n, generator=gen(8)) * 2 - 1  # float32 with leading dims
    out = layer(x)
    assert out.shape == (2, 3, n) and out.dtype == torch.float32
    ref = C.run_expval(C.AngleEmbedding("Y"), layer.ansatz, x.reshape(-1, n).double(), layer.weights.detach(), n)
    torch.testing.assert_close(out.reshape(-1, n).double(), ref, atol=1e-6, rtol=0)
    pl = C.QuantumLayer(n, C.StronglyEntangling(2), backend="pennylane")
    pl.load_state_dict(layer.state_dict())
    torch.testing.assert_close(pl(x), out, atol=1e-6, rtol=0)
    out.square().sum().backward()
    assert layer.weights.grad is not None and float(layer.weights.grad.abs().max()) > 0


def test_quantum_layer_normal_init_and_c1_bottleneck_is_weight_free() -> None:
    n = 6
    layer = C.QuantumLayer(n, C.RZCNOTChain(3), init="normal", init_scale=0.5, generator=gen(9))
    assert 0.25 < float(layer.weights.detach().std()) < 0.8
    x = torch.rand(5, n, generator=gen(10), requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert float(layer.weights.grad.abs().max()) < 1e-12
    assert float(x.grad.abs().max()) > 1e-3  # the inputs still matter
    with torch.no_grad():
        layer.weights.add_(1.0)
    torch.testing.assert_close(layer(x), out, atol=1e-6, rtol=0)


def test_run_expval_rejects_bad_arguments() -> None:
    emb, ans = C.AngleEmbedding("Y"), C.StronglyEntangling(1)
    w = torch.zeros(ans.weight_shape(3), dtype=F64)
    with pytest.raises(ValueError, match="backend"):
        C.run_expval(emb, ans, torch.zeros(2, 3), w, 3, backend="qiskit")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="features"):
        C.run_expval(emb, ans, torch.zeros(2, 4), w, 3)
    with pytest.raises(ValueError, match="weights"):
        C.run_expval(emb, ans, torch.zeros(2, 3), torch.zeros(1, 4, 3), 3)
    with pytest.raises(ValueError, match="n_layers"):
        C.RZCNOTChain(0)
    with pytest.raises(ValueError, match="rotation"):
        C.AngleEmbedding("Q")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="init"):
        C.QuantumLayer(3, ans, init="zeros")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# quantum-generated noise
# ------------------------------------------------------------------------------------------------
def _moments(z: torch.Tensor) -> tuple[float, float, float]:
    z = z.double().flatten()
    mean, var = float(z.mean()), float(z.var())
    kurt = float(((z - z.mean()) ** 4).mean() / z.var(unbiased=False) ** 2)
    return mean, var, kurt


def test_clt_noise_from_plus_states_is_the_stated_binomial() -> None:
    n, shots, count = 2, 3, 60_000
    sampler = C.ExpvalSampler(n_qubits=n, shots=shots)
    z = sampler.sample((count,), gen(11), dtype=F64)
    m = n * shots
    k = (z * math.sqrt(m) + m) / 2  # (2·Binomial(nK, 1/2) − nK)/√(nK) -> the binomial count
    torch.testing.assert_close(k, k.round(), atol=1e-9, rtol=0)
    counts = torch.bincount(k.round().long(), minlength=m + 1).double()
    pmf = torch.tensor([math.comb(m, j) for j in range(m + 1)], dtype=F64) / 2**m
    chi2 = float(((counts - count * pmf) ** 2 / (count * pmf)).sum())
    assert chi2 < 22.5  # 6 dof, P(> 22.5) ≈ 0.001
    assert sampler.clt_moments() == pytest.approx((0.0, n, 3 - 2 / m))


def test_clt_noise_moments_and_kurtosis_approach_gaussian() -> None:
    count = 100_000
    kurtoses = []
    for shots in (1, 4, 64):
        sampler = C.ExpvalSampler(n_qubits=2, shots=shots)
        mean, var, kurt = _moments(sampler.sample((count,), gen(shots)))
        expected_kurt = sampler.clt_moments()[2]
        assert abs(mean) < 5 / math.sqrt(count)
        assert abs(var - 1) < 0.02
        assert abs(kurt - expected_kurt) < 0.05
        kurtoses.append(kurt)
    assert kurtoses[0] < kurtoses[1] < kurtoses[2] and abs(kurtoses[2] - 3) < 0.05


def test_clt_noise_from_a_random_circuit_is_standardised() -> None:
    sampler = C.ExpvalSampler(n_qubits=3, shots=8, circuit="random", circuit_seed=3)
    probs = sampler.born_probabilities()
    assert abs(float(probs.sum()) - 1) < 1e-12 and float(probs.std()) > 1e-3  # not uniform
    mu, var, kurt = sampler.clt_moments()
    assert abs(mu) > 1e-3  # biased bits: the exact mean is subtracted
    mean, v, k = _moments(sampler.sample((100_000,), gen(12)))
    assert abs(mean) < 5 / math.sqrt(100_000) and abs(v - 1) < 0.02 and abs(k - kurt) < 0.06


def test_box_muller_noise_is_standard_normal() -> None:
    sampler = C.ExpvalSampler(n_qubits=4, method="box_muller", bits_per_uniform=12)
    z = sampler.sample((50_000,), gen(13))
    mean, var, kurt = _moments(z)
    assert abs(mean) < 5 / math.sqrt(50_000) and abs(var - 1) < 0.03 and abs(kurt - 3) < 0.12
    # Kolmogorov-Smirnov distance to N(0, 1) (the grid has 4096 points per uniform)
    s = torch.sort(z.double()).values
    cdf = 0.5 * (1 + torch.erf(s / math.sqrt(2)))
    ecdf = torch.arange(1, s.numel() + 1, dtype=F64) / s.numel()
    assert float((cdf - ecdf).abs().max()) < 1.63 / math.sqrt(s.numel()) + 2e-3
    # exact variance of the discretised construction: the standardisation uses the grid's E[-2 ln u]
    grid = (torch.arange(2**12, dtype=F64) + 0.5) / 2**12
    assert sampler.box_muller_std() == pytest.approx(math.sqrt(float((-2 * torch.log(grid)).mean()) / 2), rel=1e-12)


def test_quantum_noise_is_reproducible_and_validated() -> None:
    a = C.quantum_noise((4, 5), gen(14))
    b = C.quantum_noise((4, 5), gen(14))
    assert a.shape == (4, 5) and a.dtype == torch.float32 and torch.equal(a, b)
    assert not torch.equal(a, C.quantum_noise((4, 5), gen(15)))
    with pytest.raises(ValueError, match="box_muller"):
        C.ExpvalSampler(method="box_muller", circuit="random")
    with pytest.raises(ValueError, match="shots"):
        C.ExpvalSampler(shots=0)


@pytest.mark.parametrize("rotation", ["X", "Y"])
def test_rz_cnot_fast_path_equals_dense_simulation_with_gradients(rotation: str) -> None:
    # the product-state shortcut of RZCNOTChain.torch_expval against the full state-vector run
    n, ansatz = 6, C.RZCNOTChain(3)
    x = (torch.rand(4, n, generator=gen(21), dtype=F64) * 6 - 3).requires_grad_()
    w = (torch.rand(ansatz.weight_shape(n), generator=gen(22), dtype=F64) * 6).requires_grad_()
    state = C.AngleEmbedding(rotation).torch(x, n)
    assert isinstance(state, (sim.AngleState, sim.ProductState))
    fast = ansatz.torch_expval(state, w)
    dense = sim.expval_z(ansatz.torch(sim.as_dense(state), w))
    torch.testing.assert_close(fast, dense, atol=1e-13, rtol=0)
    coef = torch.linspace(-1, 2, n, dtype=F64)
    gx_fast, gw_fast = torch.autograd.grad((fast * coef).sum(), (x, w), retain_graph=True)
    gx_dense, gw_dense = torch.autograd.grad((dense * coef).sum(), (x, w))
    torch.testing.assert_close(gx_fast, gx_dense, atol=1e-12, rtol=0)
    assert torch.equal(gw_fast, torch.zeros_like(w)) and float(gw_dense.abs().max()) < 1e-12


@pytest.mark.parametrize("ansatz", [C.RZCNOTChain(2), C.StronglyEntangling(2), C.TrainableRYRZChain(2)])
def test_statevector_backend_is_the_full_simulation_and_agrees_with_both_others(ansatz):
    # "statevector" never takes a structural shortcut: audits of the RZCNOTChain closed form rely on it.
    g = torch.Generator().manual_seed(11)
    n = 5
    x = torch.rand(3, n, generator=g, dtype=torch.float64) * math.pi
    w = torch.rand(tuple(ansatz.weight_shape(n)), generator=g, dtype=torch.float64) * 2 * math.pi
    emb = C.AngleEmbedding("Y")
    outs = {b: C.run_expval(emb, ansatz, x, w, n, backend=b) for b in C.BACKENDS}
    for b in ("torch", "pennylane"):
        torch.testing.assert_close(outs["statevector"], outs[b], atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="backend must be one of torch, statevector, pennylane"):
        C.run_expval(emb, ansatz, x, w, n, backend="qiskit")
