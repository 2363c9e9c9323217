"""Compiled CPU kernels (Numba) for the engine's small per-step algebra.

Mostly the per-sample product-state start, plus the gate matrices and Kronecker group matrices of
:mod:`.gate_algebra`.  A product state ψ = ⊗_q f_q of a batch is built and differentiated by a few thousand scalar
operations per sample; as array operations that is dozens of calls whose overhead dominates, as
one loop nest it is tens of microseconds.  Each kernel is compiled on first use for the dtypes it
meets (complex64/128, or float32/64 on the engine's real-arithmetic path) and cached on disk.
Wire 0 is the most significant bit of the basis index, as everywhere in :mod:`qdm.quantum`.
The torch functions of :mod:`qdm.quantum.product_start` compute the same on other devices, and
the tests hold the two to each other and to autograd.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "angle_coefficients",
    "product_forward",
    "product_backward",
    "trig_products",
    "kron_2x2",
    "kron_factor_grads",
    "expval_z_signs",
    "expval_z_seed",
    "basis_rows",
    "basis_grads",
    "angle_grads",
]


@numba.njit(cache=True)
def product_forward(
    a: np.ndarray, m: np.ndarray, out: np.ndarray, f: np.ndarray, src: np.ndarray
) -> None:  # pragma: no cover - compiled
    """f[b, q] = Σ_k a[b, q, k] m[q, k] (= R_q e_q) and out[b, j] = ψ_b[src[j]] with ψ_b = ⊗_q f[b, q]
    (B, 2**n), in place: ``src`` a basis permutation (a CNOT layer; the identity for ψ itself).

    The Kronecker product grows by doubling: after wire q the first 2**(q+1) entries hold
    ⊗_{p≤q} f_p, each new wire becoming the least significant bit.
    """
    batch, n = a.shape[0], a.shape[1]
    dim = 1 << n
    row = np.empty(dim, dtype=out.dtype)
    for b in range(batch):
        for q in range(n):
            for j in range(2):
                f[b, q, j] = a[b, q, 0] * m[q, 0, j] + a[b, q, 1] * m[q, 1, j]
        row[0] = 1
        size = 1
        for q in range(n):
            f0, f1 = f[b, q, 0], f[b, q, 1]
            for x in range(size - 1, -1, -1):
                v = row[x]
                row[2 * x] = v * f0
                row[2 * x + 1] = v * f1
            size *= 2
        for j in range(dim):
            out[b, j] = row[src[j]]


@numba.njit(cache=True)
def angle_coefficients(x: np.ndarray, a: np.ndarray) -> None:  # pragma: no cover - compiled
    """a[b, q] = (cos x[b, q]/2, sin x[b, q]/2) for the k features, (1, 0) (wire left in |0⟩) after."""
    batch, k = x.shape
    for b in range(batch):
        for q in range(a.shape[1]):
            if q < k:
                a[b, q, 0] = np.cos(0.5 * x[b, q])
                a[b, q, 1] = np.sin(0.5 * x[b, q])
            else:
                a[b, q, 0] = 1
                a[b, q, 1] = 0


@numba.njit(cache=True)
def product_backward(
    g: np.ndarray,
    f: np.ndarray,
    a: np.ndarray,
    m: np.ndarray,
    grad_a: np.ndarray,
    h: np.ndarray,
    grad_x: np.ndarray,
    angles: bool,
    inv: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """From ∂L/∂ψ̄ (g[b, inv[x]] for ψ_b[x]: g is the gradient of the permuted state that
    :func:`product_forward` wrote with src = inv^{-1}) to the coefficients of f_q = Σ_k a_qk m_qk, in place:

    * g_q[i] = ∂L/∂f̄_q[i] = Σ_{x: x_q = i} g[x] Π_{p≠q} conj(f_p[x_p]): suffix contractions G_k (the
      first k wires left, every later wire contracted with conj f) from the right, prefix products
      P_q = ⊗_{p<q} f_p from the left, g_q[i] = Σ_a G_{q+1}[2a + i] conj(P_q[a]) (about 5·2**n
      operations per sample);
    * grad_a[b, q, k] = Σ_j g_q[j] conj(m[q, k, j]) (= ∂L/∂ā) and h[q, k, j] = Σ_b conj(a[b, q, k]) g_q[j];
    * when ``angles``, grad_x[b, q] = Σ_k (da_k/dx) Re grad_a[b, q, k] with a = (cos, sin)(x/2).
    """
    batch, n = f.shape[0], f.shape[1]
    dim = 1 << n
    suffix = np.empty(dim, dtype=g.dtype)  # G_k at [2**k, 2**(k+1)) for k = 1 … n-1; G_n is g[b]
    prefix = np.empty(dim, dtype=f.dtype)
    gr = np.empty(dim, dtype=g.dtype)
    h[:] = 0
    for b in range(batch):
        for x in range(dim):
            gr[x] = g[b, inv[x]]
        for k in range(n - 1, 0, -1):
            c0, c1 = np.conj(f[b, k, 0]), np.conj(f[b, k, 1])
            dst = 1 << k
            if k == n - 1:
                for x in range(dst):
                    suffix[dst + x] = gr[2 * x] * c0 + gr[2 * x + 1] * c1
            else:
                src = dst << 1
                for x in range(dst):
                    suffix[dst + x] = suffix[src + 2 * x] * c0 + suffix[src + 2 * x + 1] * c1
        prefix[0] = 1
        for q in range(n):
            size = 1 << q
            s0 = gr[0] * 0
            s1 = gr[0] * 0
            if q == n - 1:
                for i in range(size):
                    p = np.conj(prefix[i])
                    s0 += gr[2 * i] * p
                    s1 += gr[2 * i + 1] * p
            else:
                src = size << 1
                for i in range(size):
                    p = np.conj(prefix[i])
                    s0 += suffix[src + 2 * i] * p
                    s1 += suffix[src + 2 * i + 1] * p
            for kk in range(2):
                grad_a[b, q, kk] = s0 * np.conj(m[q, kk, 0]) + s1 * np.conj(m[q, kk, 1])
                ca = np.conj(a[b, q, kk])
                h[q, kk, 0] += ca * s0
                h[q, kk, 1] += ca * s1
            if angles and q < grad_x.shape[1]:
                grad_x[b, q] = 0.5 * (a[b, q, 0].real * grad_a[b, q, 1].real - a[b, q, 1].real * grad_a[b, q, 0].real)
            if q < n - 1:
                f0, f1 = f[b, q, 0], f[b, q, 1]
                for x in range(size - 1, -1, -1):
                    v = prefix[x]
                    prefix[2 * x] = v * f0
                    prefix[2 * x + 1] = v * f1


@numba.njit(cache=True)
def trig_products(
    w: np.ndarray, lin: np.ndarray, ii: np.ndarray, jj: np.ndarray, scale: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """out[r, row] = T[ii[row]] T[jj[row]] scale[row] with T = (cos t, sin t), t = lin @ w[r]: the real
    and imaginary parts of a gate matrix and its angle derivatives (:mod:`.gate_algebra` tables)."""
    n_terms = lin.shape[0]
    trig = np.empty(2 * n_terms)
    for r in range(w.shape[0]):
        for t in range(n_terms):
            acc = 0.0
            for p in range(w.shape[1]):
                acc += w[r, p] * lin[t, p]
            trig[t] = np.cos(acc)
            trig[n_terms + t] = np.sin(acc)
        for row in range(ii.shape[0]):
            out[r, row] = trig[ii[row]] * trig[jj[row]] * scale[row]


@numba.njit(cache=True)
def kron_2x2(mats: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out[g, x, y] = Π_q mats[g, q, x_q, y_q]: the Kronecker product of k 2x2 matrices per group g
    (wire 0 the most significant bit of x and y)."""
    k = mats.shape[1]
    dim = 1 << k
    for g in range(mats.shape[0]):
        for x in range(dim):
            for y in range(dim):
                v = mats[g, 0, (x >> (k - 1)) & 1, (y >> (k - 1)) & 1]
                for q in range(1, k):
                    shift = k - 1 - q
                    v *= mats[g, q, (x >> shift) & 1, (y >> shift) & 1]
                out[g, x, y] = v


@numba.njit(cache=True)
def kron_factor_grads(
    gk: np.ndarray, transposed: np.ndarray, kmat: np.ndarray, factors: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """out[l, g, q] = Tr_{¬q}(G K^H) R_q: the gradient of K = R_0 ⊗ … ⊗ R_{k-1} pulled back to each
    2x2 factor (``gate_algebra.unitary_kron_factor_grads``), for G = gk[l, g] (its transpose where
    ``transposed[l]``), K = kmat[l, g], R_q = factors[l, g, q]; shapes (L, G, d, d) and (L, G, k, 2, 2).

    Only the entries of W = G K^H whose indices agree off wire q enter the partial trace: for each
    (x, bit) the row x of G against the row y = x with wire q's bit set to ``bit`` of conj(K)."""
    n_l, n_g, d = gk.shape[0], gk.shape[1], gk.shape[2]
    k = factors.shape[2]
    trace = np.empty((2, 2), dtype=out.dtype)
    for layer in range(n_l):
        tr = transposed[layer]
        for g in range(n_g):
            for q in range(k):
                shift = k - 1 - q
                trace[:] = 0
                for x in range(d):
                    i = (x >> shift) & 1
                    for j in range(2):
                        y = (x & ~(1 << shift)) | (j << shift)
                        acc = trace[0, 0] * 0
                        for z in range(d):
                            gxz = gk[layer, g, z, x] if tr else gk[layer, g, x, z]
                            acc += gxz * np.conj(kmat[layer, g, y, z])
                        trace[i, j] += acc
                for i in range(2):
                    for j in range(2):
                        r = factors[layer, g, q]
                        out[layer, g, q, i, j] = trace[i, 0] * r[0, j] + trace[i, 1] * r[1, j]


@numba.njit(cache=True)
def expval_z_signs(x: np.ndarray, zs: np.ndarray, out: np.ndarray, rows_first: bool) -> None:  # pragma: no cover - compiled
    """out[b, i] = Σ_j |ψ_b[j]|² zs[j, i] in one pass over ψ, no |ψ|² buffer: ``x`` is ψ as (D, B)
    when ``rows_first`` (the engine's "DB" layout), else (B, D); real or complex.  The inner loops
    run along contiguous axes (the batch for "DB"), so they vectorise."""
    n = zs.shape[1]
    if rows_first:
        batch = x.shape[1]
        acc = np.zeros((n, batch), dtype=out.dtype)
        p = np.empty(batch, dtype=out.dtype)
        for j in range(x.shape[0]):
            for b in range(batch):
                v = x[j, b]
                p[b] = v.real * v.real + v.imag * v.imag
            for i in range(n):
                z = zs[j, i]
                for b in range(batch):
                    acc[i, b] += z * p[b]
        for b in range(batch):
            for i in range(n):
                out[b, i] = acc[i, b]
    else:
        for b in range(x.shape[0]):
            for i in range(n):
                out[b, i] = 0
            for j in range(x.shape[1]):
                v = x[b, j]
                p = v.real * v.real + v.imag * v.imag
                for i in range(n):
                    out[b, i] += zs[j, i] * p


@numba.njit(cache=True)
def expval_z_seed(
    x: np.ndarray, zs2: np.ndarray, gz: np.ndarray, g0: np.ndarray, rows_first: bool
) -> None:  # pragma: no cover - compiled
    """The adjoint seed of :func:`expval_z_signs`: g0 = ψ · Σ_i zs2[j, i] gz[b, i] (zs2 = 2·zs, the real
    weight ∂L/∂|ψ_j|² scaling ψ part-wise), same layouts, written into ``g0`` (which may be ``x``)."""
    n = zs2.shape[1]
    if rows_first:
        batch = x.shape[1]
        gzt = np.empty((n, batch), dtype=gz.dtype)
        for b in range(batch):
            for i in range(n):
                gzt[i, b] = gz[b, i]
        w = np.empty(batch, dtype=gz.dtype)
        for j in range(x.shape[0]):
            z = zs2[j, 0]
            for b in range(batch):
                w[b] = z * gzt[0, b]
            for i in range(1, n):
                z = zs2[j, i]
                for b in range(batch):
                    w[b] += z * gzt[i, b]
            for b in range(batch):
                g0[j, b] = x[j, b] * w[b]
    else:
        for b in range(x.shape[0]):
            for j in range(x.shape[1]):
                w = zs2[j, 0] * gz[b, 0]
                for i in range(1, n):
                    w += zs2[j, i] * gz[b, i]
                g0[b, j] = x[b, j] * w


@numba.njit(cache=True)
def basis_rows(r: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out[q, k, j] = Σ_l r[q, j, l] w[k, l]: the rows R_q w_k of the product start's first layer
    (``product_start.layer_matrices``, complex), a few dozen products with no NumPy call overhead."""
    for q in range(r.shape[0]):
        for k in range(w.shape[0]):
            for j in range(r.shape[1]):
                acc = r[q, j, 0] * w[k, 0]
                for c in range(1, w.shape[1]):
                    acc += r[q, j, c] * w[k, c]
                out[q, k, j] = acc


@numba.njit(cache=True)
def basis_grads(h: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out[q, i, j] = Σ_k h[q, k, i] conj(w[k, j]): ∂L/∂R̄_0 from H (``product_start._grad_r0``)."""
    for q in range(h.shape[0]):
        for i in range(h.shape[2]):
            for j in range(w.shape[1]):
                acc = h[q, 0, i] * np.conj(w[0, j])
                for k in range(1, h.shape[1]):
                    acc += h[q, k, i] * np.conj(w[k, j])
                out[q, i, j] = acc


@numba.njit(cache=True)
def angle_grads(gm: np.ndarray, dm: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out[l, q, p] = Re Σ_ij gm[l, q, i, j] conj(dm[l, q, p, i, j]): per-wire gate gradients ∂L/∂R̄
    (L, n, 2, 2) to angle gradients through the analytic derivatives dR (L, n, P, 2, 2)."""
    for layer in range(gm.shape[0]):
        for q in range(gm.shape[1]):
            for p in range(dm.shape[2]):
                acc = 0.0
                for i in range(2):
                    for j in range(2):
                        acc += (gm[layer, q, i, j] * np.conj(dm[layer, q, p, i, j])).real
                out[layer, q, p] = acc
