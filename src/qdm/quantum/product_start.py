"""The fused engine's product-state start: embedding, first gate layer, Kronecker product, adjoint.

A circuit that begins with an angle embedding (or any product state) and a layer of single-qubit
gates R_q starts from ψ = ⊗_q f_q with f_q = R_q e_q.  Write the embedded factor as
e_q = Σ_k a_qk w_k in a fixed basis w (the rows of :data:`BASIS`): for an angle embedding
a_q = (cos x_q/2, sin x_q/2) is real, e.g. RX(x)|0⟩ = cos(x/2)·(1, 0) + sin(x/2)·(0, -i); for a given
product state a_q = e_q and w = I.  Then f_q = Σ_k a_qk M_qk with M_qk = R_q w_k (host-side,
per step), and the backward needs three batched contractions:

* ∂L/∂f̄_q from ∂L/∂ψ̄ through the Kronecker product (:func:`kron_grad`, or the compiled loop);
* ∂L/∂ā_qk = Σ_j ∂L/∂f̄_qj conj(M_qkj), so ∂L/∂x_q = Σ_k (da_qk/dx_q) Re ∂L/∂ā_qk for angles;
* ∂L/∂R̄_q[i, j] = Σ_k H_qki conj(w_kj) with H_qk = Σ_b conj(a_bqk) ∂L/∂f̄_bq.

As array operations these are dozens of small per-sample calls whose cost is call overhead, so
on the CPU :func:`forward` and :func:`backward` run the compiled loops of :mod:`.kernels` on NumPy
views (the 2**n-amplitude state is written straight into a buffer of the engine's plan), and the small
coefficient algebra runs in NumPy; on other devices the same maths runs on torch tensors (``xp``
is the array namespace, NumPy or torch).
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import numpy as np
import torch


__all__ = [
    "BASIS",
    "namespace",
    "coefficients",
    "layer_matrices",
    "first_factors",
    "forward",
    "backward",
    "kron_forward",
    "kron_grad",
    "start_grads",
]

# e = Σ_k a_k w_k: rows w_0, w_1 per embedding rotation; "factors" = a given product state (w = I)
BASIS: dict[str, np.ndarray] = {
    "X": np.array([[1, 0], [0, -1j]]),
    "Y": np.array([[1, 0], [0, 1]], dtype=np.complex128),
    "Z": np.array([[1, 0], [-1j, 0]]),
    "factors": np.eye(2, dtype=np.complex128),
}

Array = Any  # a NumPy array or a torch tensor


def namespace(device: torch.device) -> ModuleType:
    """NumPy (and the compiled kernels) for CPU tensors, torch elsewhere."""
    return np if device.type == "cpu" else torch


def _as_xp(t: torch.Tensor, xp: ModuleType) -> Array:
    return t.detach().numpy() if xp is np else t.detach()


def coefficients(start: torch.Tensor, kind: str, n_qubits: int, xp: ModuleType) -> Array:
    """a (B, n, 2) of an angle start ``kind`` = X/Y/Z, a = (cos x/2, sin x/2) real (angles (B, k),
    wires k..n-1 padded with |0⟩ = (1, 0)), or of a product state ``kind="factors"`` (B, n, 2)."""
    s0 = _as_xp(start, xp)
    if kind == "factors":
        return s0
    if xp is np:
        from . import kernels

        a = np.empty((s0.shape[0], n_qubits, 2), dtype=s0.dtype)
        kernels.angle_coefficients(s0, a)
        return a
    half = s0 * 0.5
    a = xp.stack((xp.cos(half), xp.sin(half)), axis=-1)
    batch, k = half.shape
    if n_qubits > k:
        pad = xp.zeros((batch, n_qubits - k, 2), dtype=a.dtype, device=a.device)
        pad[..., 0] = 1
        a = xp.concatenate((a, pad), axis=1)
    return a


def layer_matrices(r0: np.ndarray, kind: str, real: bool) -> np.ndarray:
    """M (n, 2, 2) with M[q, k] = R_q w_k (host-side, complex128; float64 on the real path)."""
    if real:
        return np.matmul(r0, BASIS[kind].T).swapaxes(-1, -2).real.copy()  # (R_q W^T)^T: rows R_q w_k
    from . import kernels

    r0 = np.ascontiguousarray(r0, dtype=np.complex128)
    m = np.empty((r0.shape[0], 2, 2), dtype=np.complex128)
    kernels.basis_rows(r0, BASIS[kind], m)  # one compiled loop: NumPy's stacked 2x2 matmul is ~10 µs of overhead
    return m


def first_factors(a: Array, m: Array) -> Array:
    """f_q = Σ_k a_qk M_qk = R_q e_q, (B, n, 2) (a real a promotes to M's complex dtype)."""
    return a[..., :1] * m[:, 0] + a[..., 1:] * m[:, 1]


def _tree_levels(chunk: Array, out: Array | None, xp: ModuleType) -> list[Array]:
    """Pairwise Kronecker levels of (B, 2**p, d) vectors (level l+1 item j = item 2j ⊗ item 2j+1); the
    top level is written into ``out`` when given."""
    levels = [chunk]
    while levels[-1].shape[1] > 1:
        y = levels[-1]
        b, m, d = y.shape
        top = m == 2 and out is not None
        prod = xp.multiply(y[:, 0::2, :, None], y[:, 1::2, None, :], out=out.reshape(b, 1, d, d) if top else None)
        levels.append(prod.reshape(b, m // 2, d * d))
    return levels


def kron_forward(f: Array, out: torch.Tensor, xp: ModuleType) -> tuple[torch.Tensor, tuple]:
    """ψ = ⊗_q f_q written into ``out`` (B, 2**n, torch): power-of-two chunks (binary digits of n) by
    pairwise trees, then the chunk products left to right.  Returns (``out``, saved for :func:`kron_grad`)."""
    batch, n = f.shape[:2]
    view = out.numpy() if xp is np else out
    sizes = [1 << p for p in reversed(range(n.bit_length())) if n >> p & 1]
    chunks, first = [], 0
    for size in sizes:
        chunks.append(_tree_levels(f[:, first : first + size], view if len(sizes) == 1 else None, xp))
        first += size
    tops = [c[-1][:, 0] for c in chunks]
    partial = [tops[0]]
    for j, top in enumerate(tops[1:], start=1):
        target = view.reshape(batch, -1, top.shape[1]) if j == len(tops) - 1 else None
        partial.append(xp.multiply(partial[-1][:, :, None], top[:, None, :], out=target).reshape(batch, -1))
    if n == 1:  # no product was formed
        view[...] = partial[0]
    return out, (chunks, tops, partial)


def _tree_grad(grad: Array, levels: list[Array], xp: ModuleType) -> Array:
    """Backward of :func:`_tree_levels`: ∂L/∂(chunk)̄ (B, 2**p, d) from ∂L/∂(top)̄ (B, D)."""
    g = grad[:, None, :]
    for y in reversed(levels[:-1]):
        b, m, d = y.shape
        g4 = g.reshape(b, m // 2, d, d)
        g_even = xp.matmul(g4, y[:, 1::2, :, None].conj())[..., 0]  # Σ_c g[a, c] conj(odd[c])
        g_odd = xp.matmul(y[:, 0::2, None, :].conj(), g4)[..., 0, :]  # Σ_a conj(even[a]) g[a, c]
        g = xp.stack((g_even, g_odd), axis=2).reshape(b, m, d)
    return g


def kron_grad(grad: torch.Tensor, saved: tuple, xp: ModuleType) -> Array:
    """Backward of :func:`kron_forward`: ∂L/∂f̄ (B, n, 2) from ∂L/∂ψ̄ (B, 2**n) (a torch tensor)."""
    chunks, tops, partial = saved
    g = _as_xp(grad, xp)
    grad_tops = [g] * len(tops)
    for i in range(len(tops) - 1, 0, -1):
        gq = g.reshape(g.shape[0], -1, tops[i].shape[1])
        grad_tops[i] = xp.matmul(partial[i - 1][:, None, :].conj(), gq)[:, 0]
        g = xp.matmul(gq, tops[i][:, :, None].conj())[..., 0]
    grad_tops[0] = g
    parts = [_tree_grad(gt, c, xp) for gt, c in zip(grad_tops, chunks)]
    return parts[0] if len(parts) == 1 else xp.concatenate(parts, axis=1)


@functools.lru_cache(maxsize=16)
def _identity(dim: int) -> np.ndarray:
    """0, 1, …, dim - 1 (cached, read-only)."""
    idx = np.arange(dim)
    idx.setflags(write=False)
    return idx


def forward(a: Array, m: Array, out: torch.Tensor, xp: ModuleType, src: np.ndarray | None = None) -> Array:
    """ψ = ⊗_q (Σ_k a_qk M_qk) written into ``out`` (B, 2**n), or on the CPU ψ[:, src] (a basis
    permutation, e.g. the CNOT layer that follows, applied in the same loop) when ``src`` is given;
    returns what :func:`backward` needs (the factors f on the CPU, the Kronecker tree elsewhere)."""
    if xp is np:
        from . import kernels

        f = np.empty((*a.shape[:2], 2), dtype=np.result_type(a.dtype, m.dtype))
        kernels.product_forward(a, m, out.numpy(), f, _identity(out.shape[1]) if src is None else src)
        return f
    if src is not None:
        raise ValueError("a permuted product start is computed on the CPU only")
    return kron_forward(first_factors(a, m), out, xp)[1]


def backward(
    grad: torch.Tensor,
    saved: Array,
    a: Array,
    m: Array,
    kind: str,
    n_features: int,
    xp: ModuleType,
    inv: np.ndarray | None = None,
) -> tuple[Array, np.ndarray]:
    """(∂L/∂start, ∂L/∂R̄_0) from ∂L/∂ψ̄ (B, 2**n): :func:`kron_grad` (compiled on the CPU), then
    :func:`start_grads`; with ``inv`` (the inverse of :func:`forward`'s ``src``) ``grad`` is the
    gradient of the permuted state."""
    if xp is not np:
        if inv is not None:
            raise ValueError("a permuted product start is computed on the CPU only")
        return start_grads(kron_grad(grad, saved, xp), a, m, kind, n_features, xp)
    from . import kernels

    g = _as_xp(grad, np)
    dtype = np.result_type(g.dtype, m.dtype)
    grad_a, h = np.empty(a.shape, dtype=dtype), np.empty(m.shape, dtype=dtype)
    angles = kind != "factors"
    grad_x = np.empty((a.shape[0], n_features if angles else 0), dtype=a.real.dtype)
    kernels.product_backward(g, saved, a, m, grad_a, h, grad_x, angles, _identity(g.shape[1]) if inv is None else inv)
    return (grad_x if angles else grad_a), _grad_r0(h, kind)


def _grad_r0(h: np.ndarray, kind: str) -> np.ndarray:
    """∂L/∂R̄_q[i, j] = Σ_k H_qki conj(w_kj) (host-side, complex128; one compiled loop for H (n, 2, 2))."""
    if h.ndim != 3:
        return np.matmul(h.swapaxes(-1, -2), BASIS[kind].conj())
    from . import kernels

    out = np.empty(h.shape, dtype=np.complex128)
    kernels.basis_grads(np.ascontiguousarray(h), BASIS[kind], out)
    return out


def start_grads(grad_f: Array, a: Array, m: Array, kind: str, n_features: int, xp: ModuleType) -> tuple[Array, np.ndarray]:
    """(∂L/∂start, ∂L/∂R̄_0 (n, 2, 2) host-side) from ∂L/∂f̄ (B, n, 2): angles (B, k) get
    Σ_k (da_k/dx) Re ∂L/∂ā_k with da/dx = (-sin, cos)/2, a product state ∂L/∂ā = R^H ∂L/∂f̄ (B, n, 2)."""
    mc = m.conj()
    grad_a = grad_f[..., :1] * mc[:, :, 0] + grad_f[..., 1:] * mc[:, :, 1]  # Σ_j g_qj conj(M_qkj)
    if xp is np:  # H_qkj = Σ_b conj(a_bqk) g_bqj, (n, 2, 2)
        h_host = np.matmul(a.conj().transpose(1, 2, 0), grad_f.transpose(1, 0, 2))
    else:  # torch's matmul wants one dtype
        h_host = (a.conj()[..., :, None] * grad_f[..., None, :]).sum(axis=0).cpu().numpy()
    grad_r0 = _grad_r0(h_host, kind)
    if kind == "factors":
        return grad_a, grad_r0
    k, ga = n_features, grad_a.real
    return (a[:, :k, 0] * ga[:, :k, 1] - a[:, :k, 1] * ga[:, :k, 0]) * 0.5, grad_r0
