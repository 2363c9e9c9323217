"""The fused engine's real-arithmetic path: RY embedding + RY layers + CNOTs keep every amplitude real.

It must equal the complex state-vector path (outputs and gradients, float64 against complex128), match
finite differences, and circuits that need complex amplitudes must not be routed to it.
"""

from __future__ import annotations

import pytest
import torch

from qdm import circuits as C
from qdm.quantum import sim

F64 = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _chain(n: int, n_layers: int):
    return [sim.cnot_chain_pairs(n)] * n_layers


def _run(x, w, n, cnots, output, real: bool, dtype=torch.complex128):
    """The engine on an RY angle start (real path) or on the same state given densely (complex path)."""
    start = sim.angle_state(x, "Y", n, dtype)
    if not real:
        start = sim.as_dense(start)  # a dense start is complex: the engine's complex path
    return sim.fused_layers(start, w, "ry", cnots, output)


@pytest.mark.parametrize("n,n_layers,batch", [(1, 2, 3), (3, 3, 4), (8, 3, 5), (11, 2, 3), (16, 3, 2)])
def test_real_path_equals_complex_path_outputs_and_gradients(n: int, n_layers: int, batch: int) -> None:
    g = gen(n)
    x = torch.rand(batch, n, generator=g, dtype=F64) * 6 - 3
    w = torch.rand(n_layers, n, 1, generator=g, dtype=F64) * 6
    cnots = [sim.cnot_ring_pairs(n, 1) if layer % 2 and n > 1 else sim.cnot_chain_pairs(n) for layer in range(n_layers)]
    coef = torch.randn(batch, n, generator=g, dtype=F64)
    cpsi = torch.randn(batch, 1 << n, generator=g, dtype=F64)
    results = []
    for real in (True, False):
        xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
        ev = _run(xg, wg, n, cnots, "expval_z", real)
        psi = _run(xg, wg, n, cnots, "state", real)
        assert psi.dtype == torch.complex128 and ev.dtype == F64
        if real:
            assert psi.imag.abs().max() == 0  # every amplitude real
        gx, gw = torch.autograd.grad((ev * coef).sum() + (psi.real * cpsi).sum(), (xg, wg))
        results.append((ev.detach(), psi.detach(), gx, gw))
    for got, ref in zip(*results):
        torch.testing.assert_close(got, ref, atol=1e-12, rtol=0)


def test_real_path_float32_matches_complex64() -> None:
    n, g = 9, gen(3)
    x = torch.rand(4, n, generator=g, dtype=F64) * 6
    w = torch.rand(3, n, 1, generator=g, dtype=F64) * 6
    ref = _run(x, w, n, _chain(n, 3), "expval_z", real=True)
    for real in (True, False):
        out = _run(x.float(), w.float(), n, _chain(n, 3), "expval_z", real, torch.complex64)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), ref, atol=2e-5, rtol=0)


def test_real_path_expval_gradient_matches_finite_differences() -> None:
    n, n_layers, g = 5, 3, gen(8)
    x = torch.rand(2, n, generator=g, dtype=F64) * 3
    w = torch.rand(n_layers, n, 1, generator=g, dtype=F64) * 6
    coef = torch.randn(2, n, generator=g, dtype=F64)

    def loss(xx, ww):
        return (_run(xx, ww, n, _chain(n, n_layers), "expval_z", True) * coef).sum()

    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
    gx, gw = torch.autograd.grad(loss(xg, wg), (xg, wg))
    eps = 1e-6
    for value, grad, is_x in ((x, gx, True), (w, gw, False)):
        fd = torch.zeros_like(value).view(-1)
        for i in range(value.numel()):
            step = torch.zeros(value.numel(), dtype=F64)
            step[i] = eps
            step = step.view_as(value)
            plus = loss(x + step, w) if is_x else loss(x, w + step)
            minus = loss(x - step, w) if is_x else loss(x, w - step)
            fd[i] = (plus - minus) / (2 * eps)
        torch.testing.assert_close(grad, fd.view_as(value), atol=1e-8, rtol=0)


def _engine_dtypes(monkeypatch) -> list[torch.dtype]:
    """Record the arithmetic dtype of every fused-engine call."""
    seen: list[torch.dtype] = []
    apply = sim._FusedCircuit.apply

    def spy(start, weights, spec, dtype):
        seen.append(dtype)
        return apply(start, weights, spec, dtype)

    monkeypatch.setattr(sim._FusedCircuit, "apply", spy)
    return seen


@pytest.mark.parametrize(
    "ansatz,rotation,real",
    [
        (C.RYCNOTChain(2, contraction="statevector"), "Y", True),
        (C.RYCNOTChain(2, contraction="statevector"), "X", False),  # RX(x)|0> has an imaginary part
        (C.RYCNOTChain(2, contraction="statevector"), "Z", False),  # RZ(x)|0> is a complex phase
        (C.TrainableRYRZChain(2, contraction="statevector"), "Y", False),  # RZ gates
        (C.StronglyEntangling(2), "Y", False),  # Rot gates
    ],
)
def test_only_real_circuits_take_the_real_path(monkeypatch, ansatz, rotation: str, real: bool) -> None:
    n = 4
    seen = _engine_dtypes(monkeypatch)
    x = torch.rand(3, n, generator=gen(1), dtype=F64) * 6
    w = torch.rand(ansatz.weight_shape(n), generator=gen(2), dtype=F64) * 6
    out = C.run_expval(C.AngleEmbedding(rotation), ansatz, x, w, n, "torch")
    assert seen == [F64 if real else torch.complex128]
    # and the result is the reference definition's
    torch.testing.assert_close(out, C.run_expval(C.AngleEmbedding(rotation), ansatz, x, w, n, "pennylane"), atol=1e-12, rtol=0)
