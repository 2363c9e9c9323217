"""Exact ⟨Z⟩ of CNOT-chain circuits on a product-state start, as a matrix product state of bond 2**(L-1).

The circuits: a product state (e.g. an angle embedding) followed by L layers of
[one single-qubit gate R_{l,q} on every wire, then the CNOT chain (0→1), (1→2), …, (n-2→n-1)],
⟨Z_k⟩ read on every wire (the ansätze ``RYCNOTChain``, ``TrainableRYRZChain`` and the open
``RotCNOTLadder`` of :mod:`qdm.circuits`).

Why it is exact and cheap (qdm's construction): a CNOT maps basis states |c, t⟩ → |c, t ⊕ c⟩
(nielsen2010qcqi), so the chain, each CNOT acting on the updated control, maps |b⟩ → |c⟩ with
c_q = b_0 ⊕ … ⊕ b_q, i.e. ψ'(c) = ψ(b) with b_q = c_q ⊕ c_{q-1}.  As an operator on a matrix
product state (MPS) this carries one bit, the running parity c_{q-1}, from site to site: an MPS
site tensor A_q[l, b, r] becomes A'_q[(l, a), c, (r, a')] = A_q[l, c ⊕ a, r] δ(a', c) (:func:`apply_chain`),
which doubles every bond and is exact.  Single-qubit gates act on each site and keep the bonds.  A
product state has bond 1, so before the last chain the bond is 2**(L-1) (4 for the three layers of
the chen2025quantum gate), whatever n.  The last chain is folded into the read-out: after it
⟨Z_k⟩ = ⟨Π_{j≤k} Z_j⟩ of the state before it (:func:`z_prefix_strings`), a contraction of the MPS with
Z on sites 0..k and the identity after, by a left and a right sweep.

Cost per sample: about 8·n·χ**3 multiply-adds (χ = 2**(L-1)) against L·2**n·Σ_g 2**k_g for the
state vector, so at 16 qubits and L = 3 about 10**4 against 10**7.  Everything is torch and
differentiable by autograd; it runs in real arithmetic when the start and the gates are real (an RY
embedding and RY gates) and in complex otherwise.  Wire 0 is the most significant bit, as
everywhere in :mod:`qdm.quantum`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .gate_algebra import GATE_PARAMS, GateFamily
from .sim import AngleState, ProductState, cnot_chain_pairs, real_dtype_of, rot, ry, rz

__all__ = [
    "is_chain_circuit",
    "chain_bond_dimension",
    "prefers_chain_mps",
    "apply_chain",
    "z_prefix_strings",
    "chain_expval_z",
    "start_factors",
    "layer_gates",
    "chain_circuit_expval_z",
]


def is_chain_circuit(n_qubits: int, cnots: Sequence[Sequence[tuple[int, int]]]) -> bool:
    """Whether every layer's CNOT sequence is exactly the chain (0→1), …, (n-2→n-1), in that order."""
    chain = cnot_chain_pairs(n_qubits)
    return all(tuple((int(c), int(t)) for c, t in layer) == chain for layer in cnots)


def chain_bond_dimension(n_layers: int) -> int:
    """χ = 2**(L-1): the MPS bond before the last chain (each of the first L-1 chains doubles it)."""
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")
    return 1 << (n_layers - 1)


def prefers_chain_mps(n_qubits: int, n_layers: int) -> bool:
    """Whether the MPS contraction is cheaper than the state vector, by multiply-adds per sample:
    about 8·n·χ**4 (the chains, gates and sweeps, counted generously) against L·2**n·32 (grouped
    layers of 4 wires), with a factor 4 of margin for the MPS's many small tensor calls."""
    chi = chain_bond_dimension(n_layers)
    return 4 * 8 * n_qubits * chi**4 < n_layers * 32 * (1 << n_qubits)


def apply_chain(sites: Tensor, left: Tensor, right: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The CNOT chain on an MPS: sites (B, n, χ, 2, χ) -> (B, n, 2χ, 2, 2χ), boundary vectors
    left, right (χ,) -> (2χ,).

    A'_q[(l, a), c, (r, a')] = A_q[l, c ⊕ a, r] δ(a', c): a is the parity c_{q-1} of the wires before
    q, fixed to 0 left of wire 0 (``left`` ⊗ e_0) and summed right of wire n-1 (``right`` ⊗ (1, 1)).
    """
    batch, n, chi, _, _ = sites.shape
    flipped = torch.stack((sites, sites.flip(3)), dim=3)  # (B, n, l, a, c, r): a = 1 reads c ⊕ 1
    eye = torch.eye(2, dtype=sites.dtype, device=sites.device).view(1, 1, 1, 1, 2, 1, 2)
    out = (flipped[..., None] * eye).reshape(batch, n, 2 * chi, 2, 2 * chi)  # (l, a) and (r, a') flattened
    e0 = torch.tensor([1.0, 0.0], dtype=left.dtype, device=left.device)
    return out, torch.kron(left, e0), torch.kron(right, torch.ones_like(e0))


def z_prefix_strings(sites: Tensor, left: Tensor, right: Tensor) -> Tensor:
    """⟨Π_{j≤k} Z_j⟩ for k = 0..n-1 of a normalised MPS (B, n, χ, 2, χ): (B, n), real.

    With the transfer maps E^O_q(M) = Σ_{c,c'} O[c, c'] A_q[c]^T M conj(A_q[c']) (O = Z or I),
    ⟨Π_{j≤k} Z_j⟩ = ⟨E^Z_k ∘ ⋯ ∘ E^Z_0(left left^H), E^I_{k+1} ∘ ⋯ ∘ E^I_{n-1}(right right^H)⟩: a left sweep
    with Z and a right sweep with the identity, each site two small contractions (about 4χ³ per
    sample, never forming the χ² x χ² transfer matrices).
    """
    batch, n, chi = sites.shape[:3]
    signs = torch.tensor([1.0, -1.0], dtype=sites.dtype, device=sites.device).view(1, 1, 2, 1)
    conj = sites.conj()
    env = (left[:, None] * left.conj()[None, :]).expand(batch, chi, chi)
    lefts = []
    for q in range(n):  # env[r, s] = Σ_{l,m,c} env[l, m] z_c A_q[l, c, r] conj(A_q[m, c, s])
        half = torch.einsum("blm,blcr->bmcr", env, sites[:, q]) * signs
        env = torch.einsum("bmcr,bmcs->brs", half, conj[:, q])
        lefts.append(env)
    env = (right[:, None] * right.conj()[None, :]).expand(batch, chi, chi)
    rights = [env]
    for q in range(n - 1, 0, -1):  # env[l, m] = Σ_{r,s,c} A_q[l, c, r] env[r, s] conj(A_q[m, c, s])
        half = torch.einsum("blcr,brs->blcs", sites[:, q], env)
        env = torch.einsum("blcs,bmcs->blm", half, conj[:, q])
        rights.append(env)
    rights.reverse()  # rights[k] is the environment of the wires after k
    out = (torch.stack(lefts, dim=1) * torch.stack(rights, dim=1)).sum((-1, -2))
    return out.real if out.is_complex() else out


def chain_expval_z(factors: Tensor, mats: Tensor) -> Tensor:
    """⟨Z_k⟩ (B, n) after the product state ⊗_q factors[:, q] (B, n, 2) and L layers of
    [R_{l,q} (mats (L, n, 2, 2)) on every wire, then the CNOT chain], exactly, by the MPS of bond
    2**(L-1) (module docstring).  Real when ``factors`` and ``mats`` are real."""
    if factors.ndim != 3 or factors.shape[-1] != 2:
        raise ValueError(f"factors must have shape (B, n, 2), got {tuple(factors.shape)}")
    batch, n = factors.shape[:2]
    if mats.ndim != 4 or mats.shape[1:] != (n, 2, 2):
        raise ValueError(f"mats must have shape (L, {n}, 2, 2), got {tuple(mats.shape)}")
    dtype = torch.promote_types(factors.dtype, mats.dtype)
    factors, mats = factors.to(dtype), mats.to(dtype)
    first = torch.einsum("qij,bqj->bqi", mats[0], factors)  # layer 1 on the factors: bond 1
    sites = first.reshape(batch, n, 1, 2, 1)
    left = torch.ones(1, dtype=dtype, device=factors.device)
    right = torch.ones(1, dtype=dtype, device=factors.device)
    for layer in range(1, mats.shape[0]):
        sites, left, right = apply_chain(sites, left, right)
        sites = torch.einsum("qij,bqljr->bqlir", mats[layer], sites)
    return z_prefix_strings(sites, left, right)


def start_factors(state: AngleState | ProductState, real: bool) -> Tensor:
    """The start's per-wire vectors (B, n, 2): real (cos x/2, sin x/2) for an RY embedding when
    ``real`` (wires past the features padded with |0⟩), else the complex :attr:`factors`."""
    if not real:
        return state.factors
    if not (isinstance(state, AngleState) and state.rotation == "Y"):
        raise ValueError("real=True needs an RY angle embedding (AngleState with rotation 'Y')")
    half = state.angles.to(real_dtype_of(state.dtype)) / 2
    factors = torch.stack((torch.cos(half), torch.sin(half)), dim=-1)
    pad = state.n_wires - half.shape[1]
    if pad:
        zero = torch.zeros(half.shape[0], pad, 2, dtype=half.dtype, device=half.device)
        zero[..., 0] = 1
        factors = torch.cat((factors, zero), dim=1)
    return factors


def layer_gates(weights: Tensor, gate: GateFamily, dtype: torch.dtype) -> Tensor:
    """R_{l,q} (L, n, 2, 2) of shared weights (L, n, P), differentiable: ``"ry"`` RY(a) (real when
    ``dtype`` is real), ``"ryrz"`` RZ(b)·RY(a), ``"rot"`` Rot(φ, θ, ω) (PennyLane's conventions)."""
    if gate not in GATE_PARAMS:
        raise ValueError(f"gate must be one of {sorted(GATE_PARAMS)}, got {gate!r}")
    if weights.ndim != 3 or weights.shape[-1] != GATE_PARAMS[gate]:
        raise ValueError(f"weights must have shape (L, n, {GATE_PARAMS[gate]}), got {tuple(weights.shape)}")
    if gate == "ry":
        return ry(weights[..., 0], dtype)
    if not dtype.is_complex:
        raise ValueError(f"gate {gate!r} needs a complex dtype, got {dtype}")
    if gate == "ryrz":
        return rz(weights[..., 1], dtype) @ ry(weights[..., 0], dtype)
    return rot(weights[..., 0], weights[..., 1], weights[..., 2], dtype)


def chain_circuit_expval_z(state: AngleState | ProductState, weights: Tensor, gate: GateFamily) -> Tensor:
    """⟨Z_k⟩ (B, n) of a product-state start, then L layers of [``gate`` on every wire, CNOT chain],
    by :func:`chain_expval_z`; in real arithmetic for an RY embedding with RY gates, complex otherwise.
    Shared weights (L, n, P); the result has the state's real dtype."""
    if not isinstance(state, (AngleState, ProductState)):
        raise ValueError(f"state must be an AngleState or ProductState, got {type(state).__name__}")
    cdtype = state.dtype if isinstance(state, AngleState) else state.factors.dtype
    real = gate == "ry" and isinstance(state, AngleState) and state.rotation == "Y"
    dtype = real_dtype_of(cdtype) if real else cdtype
    return chain_expval_z(start_factors(state, real), layer_gates(weights, gate, dtype)).to(real_dtype_of(cdtype))
