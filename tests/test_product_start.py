"""Tests of qdm.quantum.product_start: R_q e_q and ⊗ f_q, and their adjoint, in NumPy and in torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qdm.quantum import gate_algebra, product_start, sim


def _run(xp, start: torch.Tensor, r0: np.ndarray, kind: str, n: int, grad_psi: torch.Tensor):
    """ψ and (∂L/∂start, ∂L/∂R̄_0) for L = Re⟨grad_psi, ψ⟩ through the module's functions."""
    a = product_start.coefficients(start, kind, n, xp)
    m = product_start.layer_matrices(r0, kind, real=False)
    m = m if xp is np else torch.from_numpy(m)
    psi = torch.empty((start.shape[0], 1 << n), dtype=torch.complex128)
    saved = product_start.forward(a, m, psi, xp)
    grad_start, grad_r0 = product_start.backward(grad_psi, saved, a, m, kind, start.shape[1], xp)
    grad_start = torch.from_numpy(np.asarray(grad_start)) if xp is np else grad_start
    return psi.clone(), grad_start, torch.from_numpy(grad_r0)


@pytest.mark.parametrize("n,k", [(1, 1), (3, 3), (5, 3), (8, 8)])
@pytest.mark.parametrize("kind", ["X", "Y", "Z", "factors"])
def test_numpy_and_torch_paths_equal_autograd(n: int, k: int, kind: str) -> None:
    """The compiled CPU kernels (NumPy) and the torch path both reproduce ⊗_q R_q e_q and autograd's
    gradients to the inputs and to R_0."""
    g = torch.Generator().manual_seed(n * 10 + k)
    batch = 3
    r0 = gate_algebra.gate_matrices(np.random.default_rng(n).uniform(0, 6, (n, 3)), "rot", derivatives=False)[0]
    if kind == "factors":
        start = torch.randn(batch, n, 2, generator=g, dtype=torch.complex128)
        start = start / torch.linalg.vector_norm(start, dim=-1, keepdim=True)
    else:
        start = torch.rand(batch, k, generator=g, dtype=torch.float64) * 6
    grad_psi = torch.randn(batch, 1 << n, generator=g, dtype=torch.complex128)
    # reference: autograd through sim's op-by-op definitions
    leaf = start.clone().requires_grad_()
    r0_t = torch.from_numpy(r0).clone().requires_grad_()
    e = leaf if kind == "factors" else sim.angle_factors(leaf, kind, n)
    psi_ref = sim.product_state((r0_t * e[..., None, :]).sum(-1))
    (psi_ref * grad_psi.conj()).real.sum().backward()
    for xp in (np, torch):
        psi, grad_start, grad_r0 = _run(xp, start, r0, kind, n, grad_psi)
        torch.testing.assert_close(psi, psi_ref.detach(), atol=1e-13, rtol=0)
        torch.testing.assert_close(grad_start, leaf.grad, atol=1e-12, rtol=0)
        torch.testing.assert_close(grad_r0, r0_t.grad, atol=1e-12, rtol=0)
    # the array-generic Kronecker tree also runs on NumPy arrays and matches the compiled loops
    a = product_start.coefficients(start, kind, n, np)
    m = product_start.layer_matrices(r0, kind, real=False)
    out = torch.empty((batch, 1 << n), dtype=torch.complex128)
    factors = product_start.forward(a, m, out, np)
    tree_out = torch.empty_like(out)
    _, saved = product_start.kron_forward(product_start.first_factors(a, m), tree_out, np)
    torch.testing.assert_close(tree_out, out, atol=1e-13, rtol=0)
    np.testing.assert_allclose(product_start.first_factors(a, m), factors, atol=1e-13)
    grad_f = product_start.kron_grad(grad_psi, saved, np)
    tree_start, tree_r0 = product_start.start_grads(grad_f, a, m, kind, start.shape[1], np)
    torch.testing.assert_close(torch.from_numpy(np.asarray(tree_start)), leaf.grad, atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.from_numpy(tree_r0), r0_t.grad, atol=1e-12, rtol=0)


def test_namespace_is_numpy_on_cpu_only() -> None:
    assert product_start.namespace(torch.device("cpu")) is np
    assert product_start.namespace(torch.device("meta")) is torch


@pytest.mark.parametrize("kind", ["X", "Y", "Z", "factors"])
def test_layer_matrices_and_grad_r0_compiled_equal_numpy(kind: str) -> None:
    """The compiled basis loops (layer_matrices, _grad_r0) equal the stacked NumPy matmuls they replace."""
    rng = np.random.default_rng(5)
    r0 = rng.standard_normal((6, 2, 2)) + 1j * rng.standard_normal((6, 2, 2))
    w = product_start.BASIS[kind]
    ref = np.matmul(r0, w.T).swapaxes(-1, -2)
    np.testing.assert_allclose(product_start.layer_matrices(r0, kind, real=False), ref, atol=1e-15)
    for h in (r0, r0.astype(np.complex64), r0.real.copy()):
        got = product_start._grad_r0(h, kind)
        assert got.dtype == np.complex128
        np.testing.assert_allclose(got, np.matmul(h.swapaxes(-1, -2), w.conj()), atol=1e-15)
