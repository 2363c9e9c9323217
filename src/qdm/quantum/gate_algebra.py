"""Host-side algebra of the fused engine's per-wire gates, in NumPy.

Everything here depends on the circuit weights only (a few hundred numbers per step): the gate
matrices R and their angle derivatives from closed-form trigonometric tables, the Kronecker
matrices of wire groups, and the adjoint map from a group matrix's gradient back to its wires.
At this size a step is all call overhead, and NumPy's (about 1 µs a call) is a fraction of
torch's; the two loops that would take several NumPy calls (the trigonometric tables and the
Kronecker products of 2x2 gates) are compiled (:mod:`.kernels`).  :mod:`qdm.quantum.sim` moves the
results to the state's device and dtype once per step.

Conventions as in :mod:`qdm.quantum.sim`: wire 0 is the most significant bit, complex128 results.
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np

__all__ = ["GateFamily", "GATE_PARAMS", "gate_matrices", "kron", "partial_trace_index", "unitary_kron_factor_grads"]

GateFamily = Literal["rot", "ryrz", "ry"]
GATE_PARAMS: dict[str, int] = {"rot": 3, "ryrz": 2, "ry": 1}


# Every entry of R and of ∂R/∂(angle) is ± 2^-k · T_i · T_j with T = (cos t, sin t) and t linear in
# the angles.  A table row (i, j, scale) gives the real or imaginary part of one entry; the blocks are
# [R, ∂R/∂w_0, ∂R/∂w_1, …], each 4 entries (00, 01, 10, 11) x (re, im).
_TRIG_TABLES: dict[str, tuple[list[list[float]], list[tuple[int, int, float]]]] = {
    # t = (a0, a1, h) = (-(φ+ω)/2, (φ-ω)/2, θ/2); T = (c0, c1, ch, s0, s1, sh)
    # R = [[e^{i a0} ch, -e^{i a1} sh], [e^{-i a1} sh, e^{-i a0} ch]]
    "rot": (
        [[-0.5, 0.0, -0.5], [0.5, 0.0, -0.5], [0.0, 0.5, 0.0]],
        [
            (0, 2, 1.0), (3, 2, 1.0), (1, 5, -1.0), (4, 5, -1.0), (1, 5, 1.0), (4, 5, -1.0), (0, 2, 1.0), (3, 2, -1.0),
            # ∂/∂φ
            (3, 2, 0.5), (0, 2, -0.5), (4, 5, 0.5), (1, 5, -0.5), (4, 5, -0.5), (1, 5, -0.5), (3, 2, 0.5), (0, 2, 0.5),
            # ∂/∂θ
            (0, 5, -0.5), (3, 5, -0.5), (1, 2, -0.5), (4, 2, -0.5), (1, 2, 0.5), (4, 2, -0.5), (0, 5, -0.5), (3, 5, 0.5),
            # ∂/∂ω
            (3, 2, 0.5), (0, 2, -0.5), (4, 5, -0.5), (1, 5, 0.5), (4, 5, 0.5), (1, 5, 0.5), (3, 2, 0.5), (0, 2, 0.5),
        ],
    ),
    # t = (h, p) = (a/2, -b/2); T = (ch, cp, sh, sp); R = RZ(b) RY(a) = [[e ch, -e sh], [ē sh, ē ch]], e = e^{ip}
    "ryrz": (
        [[0.5, 0.0], [0.0, -0.5]],
        [
            (1, 0, 1.0), (3, 0, 1.0), (1, 2, -1.0), (3, 2, -1.0), (1, 2, 1.0), (3, 2, -1.0), (1, 0, 1.0), (3, 0, -1.0),
            # ∂/∂a
            (1, 2, -0.5), (3, 2, -0.5), (1, 0, -0.5), (3, 0, -0.5), (1, 0, 0.5), (3, 0, -0.5), (1, 2, -0.5), (3, 2, 0.5),
            # ∂/∂b
            (3, 0, 0.5), (1, 0, -0.5), (3, 2, -0.5), (1, 2, 0.5), (3, 2, 0.5), (1, 2, 0.5), (3, 0, 0.5), (1, 0, 0.5),
        ],
    ),
}


@functools.lru_cache(maxsize=8)
def _trig_table(gate: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(angle map M, index i, index j, scale) of :data:`_TRIG_TABLES` as arrays (cached)."""
    lin, rows = _TRIG_TABLES[gate]
    i, j, scale = zip(*rows)
    return np.array(lin, dtype=np.float64), np.array(i), np.array(j), np.array(scale, dtype=np.float64)


def gate_matrices(
    weights: np.ndarray, gate: GateFamily, derivatives: bool = True, real: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-wire R (..., 2, 2) and dR (..., P, 2, 2) (None when ``derivatives=False``) of float64 angles (..., P).

    ``"rot"``: (φ, θ, ω), R = Rot(φ,θ,ω) = RZ(ω)RY(θ)RZ(φ) (PennyLane); ``"ryrz"``: (a, b),
    R = RZ(b)·RY(a); ``"ry"``: (a,), R = RY(a), real float64 when ``real``.  Each real and imaginary
    part is a signed product of two of cos t, sin t with t linear in the angles (tables above).
    """
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    if gate == "ry":
        half = weights[..., 0] / 2
        c, s = np.cos(half), np.sin(half)
        mats = np.stack((c, -s, s, c), axis=-1).reshape(*c.shape, 2, 2)
        dmats = np.stack((-s, -c, c, -s), axis=-1).reshape(*c.shape, 1, 2, 2) / 2 if derivatives else None
        if real:
            return mats, dmats
        return mats.astype(np.complex128), (None if dmats is None else dmats.astype(np.complex128))
    from . import kernels

    lin, i, j, scale = _trig_table(gate)
    if not derivatives:  # the first 8 rows are R itself
        i, j, scale = i[:8], j[:8], scale[:8]
    flat = weights.reshape(-1, weights.shape[-1])
    parts = np.empty((flat.shape[0], i.shape[0]))
    kernels.trig_products(flat, lin, i, j, scale, parts)
    entries = parts.view(np.complex128).reshape(*weights.shape[:-1], -1, 2, 2)  # (..., 1 + P, 2, 2)
    return entries[..., 0, :, :], (entries[..., 1:, :, :] if derivatives else None)


def kron(mats: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """R_0 ⊗ R_1 ⊗ … of 2x2 gates stacked as (..., k, 2, 2) -> (..., 2**k, 2**k), one compiled loop
    (written into ``out``, a C-contiguous array of that shape and of ``mats``' dtype, when given)."""
    from . import kernels

    k = mats.shape[-3]
    flat = np.ascontiguousarray(mats).reshape(-1, k, 2, 2)
    shape = (*mats.shape[:-3], 1 << k, 1 << k)
    if out is None:
        out = np.empty(shape, dtype=mats.dtype)
    elif out.shape != shape or out.dtype != mats.dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {mats.dtype} array of shape {shape}, got {out.dtype} {out.shape}")
    kernels.kron_2x2(flat, out.reshape(flat.shape[0], 1 << k, 1 << k))
    return out


@functools.lru_cache(maxsize=16)
def partial_trace_index(k: int) -> np.ndarray:
    """Flat indices (k·4·2**(k-1),) into a row-major (2**k, 2**k) matrix: block (q, i, j) lists the
    entries (x, y) whose wire-q bits are (i, j) and whose other bits agree (wire 0 most significant)."""
    d, rest = 1 << k, np.arange(1 << (k - 1))
    blocks = []
    for q in range(k):
        shift = k - 1 - q
        base = ((rest >> shift) << (shift + 1)) | (rest & ((1 << shift) - 1))
        blocks += [((base | (i << shift)) * d + (base | (j << shift))) for i in range(2) for j in range(2)]
    return np.concatenate(blocks)


def unitary_kron_factor_grads(grad_k: np.ndarray, factors: np.ndarray, kron_k: np.ndarray) -> np.ndarray:
    """Backward of K = R_0 ⊗ … ⊗ R_{k-1} for unitary R_q: ∂L/∂R̄_q = Tr_{¬q}(G K^H) R_q, G = ∂L/∂K̄.

    From ∂L/∂R̄_q[i,j] = Tr((A ⊗ |i⟩⟨j| ⊗ B)^H G) with A^H = A^{-1}, B^H = B^{-1}: one product, one
    gather of the k partial traces and one batch of 2x2 products, whatever k (``kron_k`` is K).
    """
    k = factors.shape[-3]
    w = (grad_k @ kron_k.conj().swapaxes(-1, -2)).reshape(*grad_k.shape[:-2], -1)  # (..., d*d)
    traces = np.take(w, partial_trace_index(k), axis=-1).reshape(*w.shape[:-1], k, 2, 2, -1).sum(-1)
    return traces @ factors
