"""A batched statevector simulator in pure torch for qdm's circuits.

Conventions (PennyLane's): a state is a tensor of shape ``(B, 2**n)``, complex128 by default
(complex64 supported), wire 0 is the most significant bit of the basis index, gate matrices
act as ``|psi> -> U |psi>``.  Everything runs on CPU or CUDA and is differentiable by autograd.

Structure that is exploited (``benchmarks/`` times each path):

* product-state embeddings are Kronecker products of per-qubit 2-vectors (no gates applied);
  :class:`ProductState` / :class:`AngleState` keep them factored, so single-qubit layers act on
  the factors before the ``2**n`` amplitudes are ever built;
* a layer of ``n`` single-qubit gates is applied as a few grouped contractions: the wires are
  cut into groups of at most ``group_size`` consecutive qubits and each group's gates are
  fused into one ``2**k x 2**k`` Kronecker matrix (one GEMM per group);
* a diagonal layer (``RZ`` on every wire) is one elementwise product with a phase vector;
* a sequence of CNOTs is a permutation of basis states, computed once per pattern (cached)
  and applied as one gather with a hand-written backward (the inverse gather);
* :func:`fused_layers` (used by :func:`strongly_entangling_layers` and the Rot/RY-RZ ansätze of
  :mod:`qdm.circuits`) runs a whole layered circuit as one autograd node with a batched
  adjoint backward: gates and their angle derivatives in closed form, GEMMs that rotate the
  buffer's axes instead of copying transposes, the last CNOT layer folded into the Z signs.
  Its small per-step algebra runs where call overhead is lowest: the weights-only part (gate
  matrices, Kronecker group matrices, their adjoint) host-side in NumPy and compiled loops
  (:mod:`.gate_algebra`, :mod:`.kernels`), the product-state start as compiled loops on the CPU
  (:mod:`.product_start`; torch on other devices); a plan cached per (circuit, batch, dtype,
  device) holds the state-sized buffers and the views each GEMM and gather reads and writes, so
  a step allocates no state-sized memory (no page faults) and its forward and backward are fixed
  lists of ``torch.mm(..., out=)`` and ``index_select(..., out=)`` calls.

Op-by-op functions (:func:`apply_single_qubit_layer`, :func:`apply_cnots`,
:func:`rotation_cnot_layers`, ...) stay available for circuits the engine does not cover
(per-sample gates, measurement in the middle) and as the reference the engine is tested against.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from . import gate_algebra
from .gate_algebra import GATE_PARAMS, GateFamily
from . import product_start

__all__ = [
    "ProductState",
    "AngleState",
    "State",
    "state_shape",
    "product_z_strings",
    "angle_state",
    "GATE_PARAMS",
    "gate_matrices",
    "fused_layers",
    "clear_plans",
    "default_ranges",
    "default_group_size",
    "bits_of",
    "real_dtype_of",
    "n_qubits_of",
    "rx",
    "ry",
    "rz",
    "rot",
    "rz_phases",
    "hadamard",
    "kron_vectors",
    "kron_matrices",
    "angle_factors",
    "product_state",
    "angle_embedding",
    "amplitude_embedding",
    "as_dense",
    "zero_state",
    "append_zero_wire",
    "apply_single_qubit",
    "apply_single_qubit_layer",
    "apply_diagonal_layer",
    "cnot_permutation",
    "cnot_chain_pairs",
    "cnot_ring_pairs",
    "apply_permutation",
    "apply_cnots",
    "rotation_cnot_layers",
    "phase_cnot_layers",
    "strongly_entangling_layers",
    "probabilities",
    "expval_z",
    "sample_outcomes",
    "sample_bits",
    "measure_wire",
    "postselect",
    "project_block",
    "circuit_unitary",
    "repeat_for_columns",
    "apply_unitary_density",
]

Rotation = Literal["X", "Y", "Z"]
_COMPLEX = (torch.complex64, torch.complex128)


# ----------------------------------------------------------------------------------------------
# dtypes and shapes
# ----------------------------------------------------------------------------------------------
def real_dtype_of(dtype: torch.dtype) -> torch.dtype:
    """The real dtype paired with a complex dtype (complex128 -> float64, complex64 -> float32; a real one is its own)."""
    if dtype in (torch.float64, torch.float32):
        return dtype
    if dtype not in _COMPLEX:
        raise ValueError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")
    return torch.float64 if dtype == torch.complex128 else torch.float32


def _check_complex_dtype(dtype: torch.dtype) -> None:
    if dtype not in _COMPLEX:
        raise ValueError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")


def n_qubits_of(state: Tensor) -> int:
    """Number of qubits n of a batched state of shape (B, 2**n); raises on any other shape."""
    if state.ndim != 2:
        raise ValueError(f"state must have shape (B, 2**n), got {tuple(state.shape)}")
    dim = state.shape[1]
    n = dim.bit_length() - 1
    if dim < 2 or (1 << n) != dim:
        raise ValueError(f"state dimension must be a power of two >= 2, got {dim}")
    return n


def _check_wire(wire: int, n: int, name: str = "wire") -> None:
    if not 0 <= wire < n:
        raise ValueError(f"{name} must be in [0, {n}), got {wire}")


# ----------------------------------------------------------------------------------------------
# gate matrices (broadcast over any leading shape of the angles)
# ----------------------------------------------------------------------------------------------
def _as_real(theta: Tensor | float, dtype: torch.dtype) -> Tensor:
    rdt = real_dtype_of(dtype)
    if isinstance(theta, Tensor):
        if theta.is_complex():
            raise ValueError("rotation angles must be real")
        return theta.to(rdt)
    return torch.tensor(float(theta), dtype=rdt)


def _mat(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Tensor:
    return torch.stack((a, b, c, d), dim=-1).unflatten(-1, (2, 2))


def rx(theta: Tensor | float, dtype: torch.dtype = torch.complex128) -> Tensor:
    """PennyLane RX(θ) = exp(-iθX/2) = [[cos θ/2, -i sin θ/2], [-i sin θ/2, cos θ/2]], shape (..., 2, 2)."""
    t = _as_real(theta, dtype) / 2
    c, s = torch.cos(t), torch.sin(t)
    zero = torch.zeros_like(c)
    cc, ms = torch.complex(c, zero), torch.complex(zero, -s)
    return _mat(cc, ms, ms, cc)


def ry(theta: Tensor | float, dtype: torch.dtype = torch.complex128) -> Tensor:
    """PennyLane RY(θ) = exp(-iθY/2) = [[cos θ/2, -sin θ/2], [sin θ/2, cos θ/2]], shape (..., 2, 2)."""
    t = _as_real(theta, dtype) / 2
    c, s = torch.cos(t), torch.sin(t)
    return _mat(c, -s, s, c).to(dtype)


def rz_phases(theta: Tensor | float, dtype: torch.dtype = torch.complex128) -> Tensor:
    """Diagonal of PennyLane RZ(θ) = diag(e^{-iθ/2}, e^{iθ/2}), shape (..., 2)."""
    t = _as_real(theta, dtype) / 2
    angles = torch.stack((-t, t), dim=-1)
    return torch.polar(torch.ones_like(angles), angles)


def rz(theta: Tensor | float, dtype: torch.dtype = torch.complex128) -> Tensor:
    """PennyLane RZ(θ) = exp(-iθZ/2) = diag(e^{-iθ/2}, e^{iθ/2}), shape (..., 2, 2)."""
    p = rz_phases(theta, dtype)
    zero = torch.zeros_like(p[..., 0])
    return _mat(p[..., 0], zero, zero, p[..., 1])


def rot(
    phi: Tensor | float,
    theta: Tensor | float,
    omega: Tensor | float,
    dtype: torch.dtype = torch.complex128,
) -> Tensor:
    """PennyLane Rot(φ,θ,ω) = RZ(ω) RY(θ) RZ(φ), closed form, shape (..., 2, 2)."""
    phi, theta, omega = (_as_real(v, dtype) for v in (phi, theta, omega))
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    # phases as unit-modulus polar numbers (torch.polar's backward assumes abs >= 0, c and s may be < 0)
    angles = torch.stack(((phi + omega) / 2, (phi - omega) / 2), dim=-1)
    e = torch.polar(torch.ones_like(angles), angles)
    e_plus, e_minus = e[..., 0], e[..., 1]
    return _mat(e_plus.conj() * c, -e_minus * s, e_minus.conj() * s, e_plus * c)


def hadamard(dtype: torch.dtype = torch.complex128, device: torch.device | str | None = None) -> Tensor:
    """The Hadamard matrix (1/√2)[[1, 1], [1, -1]]."""
    _check_complex_dtype(dtype)
    return torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=dtype, device=device) / math.sqrt(2.0)


# ----------------------------------------------------------------------------------------------
# Kronecker products (wire 0 = most significant = leftmost factor)
# ----------------------------------------------------------------------------------------------
def kron_vectors(vecs: Tensor) -> Tensor:
    """Kronecker product v_0 ⊗ v_1 ⊗ … of vectors stacked as (..., k, d) -> (..., d**k), by pairwise halving."""
    if vecs.ndim < 2:
        raise ValueError(f"vecs must have shape (..., k, d), got {tuple(vecs.shape)}")
    tail: Tensor | None = None
    while vecs.shape[-2] > 1:
        if vecs.shape[-2] % 2 == 1:
            last = vecs[..., -1, :]
            tail = last if tail is None else (last[..., :, None] * tail[..., None, :]).flatten(-2)
            vecs = vecs[..., :-1, :]
            continue
        vecs = (vecs[..., 0::2, :, None] * vecs[..., 1::2, None, :]).flatten(-2)
    out = vecs[..., 0, :]
    if tail is not None:
        out = (out[..., :, None] * tail[..., None, :]).flatten(-2)
    return out


def kron_matrices(mats: Tensor) -> Tensor:
    """Kronecker product M_0 ⊗ M_1 ⊗ … of square matrices stacked as (..., k, d, d) -> (..., d**k, d**k)."""
    if mats.ndim < 3 or mats.shape[-1] != mats.shape[-2]:
        raise ValueError(f"mats must have shape (..., k, d, d), got {tuple(mats.shape)}")
    tail: Tensor | None = None
    while mats.shape[-3] > 1:
        if mats.shape[-3] % 2 == 1:
            last = mats[..., -1, :, :]
            tail = last if tail is None else _kron2(last, tail)
            mats = mats[..., :-1, :, :]
            continue
        mats = _kron2(mats[..., 0::2, :, :], mats[..., 1::2, :, :])
    out = mats[..., 0, :, :]
    return out if tail is None else _kron2(out, tail)


def _kron2(a: Tensor, b: Tensor) -> Tensor:
    """Batched a ⊗ b for (..., p, p) and (..., q, q)."""
    p, q = a.shape[-1], b.shape[-1]
    out = a[..., :, None, :, None] * b[..., None, :, None, :]
    return out.reshape(*out.shape[:-4], p * q, p * q)


# ----------------------------------------------------------------------------------------------
# states and embeddings
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProductState:
    """A batch of product states kept as per-qubit 2-vectors ``factors`` of shape (B, n, 2).

    Single-qubit layers act on it without materialising the ``2**n`` amplitudes;
    :func:`as_dense` returns the Kronecker product (wire 0 = most significant).
    """

    factors: Tensor

    def __post_init__(self) -> None:
        if self.factors.ndim != 3 or self.factors.shape[-1] != 2:
            raise ValueError(f"factors must have shape (B, n, 2), got {tuple(self.factors.shape)}")
        if not self.factors.is_complex():
            raise ValueError("factors must be complex")

    @property
    def n_qubits(self) -> int:
        """Number of qubits n."""
        return self.factors.shape[1]


@dataclass(frozen=True)
class AngleState:
    """PennyLane AngleEmbedding(x, rotation) on |0…0> kept as its angles x (B, k) on n ≥ k wires.

    Behaves like a :class:`ProductState` (``factors`` is built on first use, with autograd);
    the fused engine reads the angles directly and differentiates the embedding analytically.
    """

    angles: Tensor
    rotation: Rotation
    n_wires: int
    dtype: torch.dtype = torch.complex128

    def __post_init__(self) -> None:
        _check_angles(self.angles, self.rotation, self.n_wires, self.dtype)

    @property
    def n_qubits(self) -> int:
        """Number of qubits n."""
        return self.n_wires

    @functools.cached_property
    def factors(self) -> Tensor:
        """Per-qubit vectors R(x_i)|0> (B, n, 2), differentiable."""
        return angle_factors(self.angles, self.rotation, self.n_wires, self.dtype)


State = Tensor | ProductState | AngleState
_PRODUCT_TYPES = (ProductState, AngleState)


def state_shape(state: State) -> tuple[int, int, torch.dtype]:
    """(n_qubits, batch, complex dtype) of a dense, product or angle state."""
    if isinstance(state, AngleState):
        return state.n_wires, state.angles.shape[0], state.dtype
    if isinstance(state, ProductState):
        return state.factors.shape[1], state.factors.shape[0], state.factors.dtype
    return n_qubits_of(state), state.shape[0], state.dtype


def as_dense(state: State) -> Tensor:
    """Statevector (B, 2**n) of a dense state or of a product state (Kronecker product)."""
    return product_state(state.factors) if isinstance(state, _PRODUCT_TYPES) else state


def product_state(factors: Tensor) -> Tensor:
    """|ψ> = ⊗_i |φ_i> from per-qubit vectors (B, n, 2) -> (B, 2**n), wire 0 most significant."""
    if factors.ndim != 3 or factors.shape[-1] != 2:
        raise ValueError(f"factors must have shape (B, n, 2), got {tuple(factors.shape)}")
    return kron_vectors(factors)


def zero_state(
    batch_size: int,
    n_qubits: int,
    dtype: torch.dtype = torch.complex128,
    device: torch.device | str | None = None,
) -> Tensor:
    """|0…0> for a batch: shape (batch_size, 2**n_qubits)."""
    _check_complex_dtype(dtype)
    if batch_size < 1 or n_qubits < 1:
        raise ValueError(f"batch_size and n_qubits must be >= 1, got {batch_size}, {n_qubits}")
    state = torch.zeros(batch_size, 1 << n_qubits, dtype=dtype, device=device)
    state[:, 0] = 1
    return state


def angle_factors(
    x: Tensor,
    rotation: Rotation = "X",
    n_qubits: int | None = None,
    dtype: torch.dtype = torch.complex128,
) -> Tensor:
    """PennyLane AngleEmbedding on |0>: per-qubit vectors R_rotation(x_i)|0>, shape (B, n, 2).

    RX(x)|0> = (cos x/2, -i sin x/2), RY(x)|0> = (cos x/2, sin x/2), RZ(x)|0> = (e^{-ix/2}, 0).
    Features fill wires 0..k-1; wires k..n-1 (when ``n_qubits > k``) stay |0>.
    """
    k = x.shape[-1] if x.ndim == 2 else 0
    n = k if n_qubits is None else n_qubits
    _check_angles(x, rotation, n, dtype)
    half = x.to(real_dtype_of(dtype)) / 2
    c, s = torch.cos(half), torch.sin(half)
    zero = torch.zeros_like(c)
    if rotation == "X":
        f0, f1 = torch.complex(c, zero), torch.complex(zero, -s)
    elif rotation == "Y":
        f0, f1 = torch.complex(c, zero), torch.complex(s, zero)
    else:
        f0, f1 = torch.complex(c, -s), torch.complex(zero, zero)
    factors = torch.stack((f0, f1), dim=-1)
    if n > k:
        pad = torch.zeros(x.shape[0], n - k, 2, dtype=dtype, device=x.device)
        pad[..., 0] = 1
        factors = torch.cat((factors, pad), dim=1)
    return factors


def _check_angles(x: Tensor, rotation: str, n_qubits: int, dtype: torch.dtype) -> None:
    _check_complex_dtype(dtype)
    if rotation not in ("X", "Y", "Z"):
        raise ValueError(f"rotation must be 'X', 'Y' or 'Z', got {rotation!r}")
    if x.ndim != 2:
        raise ValueError(f"x must have shape (B, n_features), got {tuple(x.shape)}")
    if x.is_complex():
        raise ValueError("x must be real angles")
    if not 1 <= x.shape[1] <= n_qubits:
        raise ValueError(f"need 1 <= n_features <= n_qubits, got n_features={x.shape[1]}, n_qubits={n_qubits}")


def angle_state(
    x: Tensor, rotation: Rotation = "X", n_qubits: int | None = None, dtype: torch.dtype = torch.complex128
) -> AngleState:
    """PennyLane AngleEmbedding(x, rotation) on |0…0> as an :class:`AngleState` (no amplitudes built)."""
    return AngleState(x, rotation, x.shape[-1] if n_qubits is None else n_qubits, dtype)


def angle_embedding(
    x: Tensor,
    rotation: Rotation = "X",
    n_qubits: int | None = None,
    dtype: torch.dtype = torch.complex128,
) -> Tensor:
    """PennyLane AngleEmbedding(x, rotation) applied to |0…0>, built as a Kronecker product: (B, 2**n)."""
    return product_state(angle_factors(x, rotation, n_qubits, dtype))


def amplitude_embedding(
    v: Tensor,
    n_qubits: int | None = None,
    normalize: bool = True,
    pad_with: float | None = 0.0,
    dtype: torch.dtype = torch.complex128,
) -> Tensor:
    """PennyLane AmplitudeEmbedding: pad v (B, m) with ``pad_with`` to 2**n entries and L2-normalise.

    With ``normalize=False`` the (padded) input must already have unit norm.
    """
    _check_complex_dtype(dtype)
    if v.ndim != 2:
        raise ValueError(f"v must have shape (B, m), got {tuple(v.shape)}")
    m = v.shape[1]
    n = max(1, (m - 1).bit_length()) if n_qubits is None else n_qubits
    dim = 1 << n
    if m > dim:
        raise ValueError(f"v has {m} features, more than 2**n_qubits = {dim}")
    if m < dim and pad_with is None:
        raise ValueError(f"v has {m} features < 2**n_qubits = {dim} and pad_with is None")
    state = v.to(dtype)
    if m < dim:
        pad = torch.full((v.shape[0], dim - m), complex(pad_with), dtype=dtype, device=v.device)
        state = torch.cat((state, pad), dim=1)
    norm = torch.linalg.vector_norm(state, dim=1, keepdim=True)
    if normalize:
        return state / norm
    if not torch.allclose(norm, torch.ones_like(norm), atol=1e-6 if dtype == torch.complex128 else 1e-4):
        raise ValueError("normalize=False requires inputs of unit L2 norm")
    return state


def append_zero_wire(state: Tensor) -> Tensor:
    """|ψ> ⊗ |0>: add an ancilla as the new last (least significant) wire, (B, 2**n) -> (B, 2**(n+1))."""
    n_qubits_of(state)
    return torch.stack((state, torch.zeros_like(state)), dim=-1).flatten(1)


# ----------------------------------------------------------------------------------------------
# single-qubit gates and grouped layers
# ----------------------------------------------------------------------------------------------
def _batched_matrix(mat: Tensor, batch: int, k: int, name: str) -> Tensor:
    """Check a (d, d) shared or (B, d, d) per-sample matrix; return it with a broadcastable batch axis."""
    d = 1 << k
    if mat.shape[-2:] != (d, d) or mat.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape ({d}, {d}) or (B, {d}, {d}), got {tuple(mat.shape)}")
    if mat.ndim == 3 and mat.shape[0] not in (1, batch):
        raise ValueError(f"{name} batch size {mat.shape[0]} does not match state batch {batch}")
    return mat


def _apply_block(state: Tensor, mat: Tensor, first_wire: int, k: int, n: int) -> Tensor:
    """Apply a 2**k x 2**k matrix (shared or per sample) to the k consecutive wires from first_wire."""
    batch = state.shape[0]
    pre, d, post = 1 << first_wire, 1 << k, 1 << (n - first_wire - k)
    if post == 1:  # (B, pre, d) @ M^T: with a shared M this is one large GEMM
        out = state.view(batch, pre, d) @ mat.transpose(-1, -2)
    else:
        m = mat if mat.ndim == 2 else mat[:, None]
        out = m @ state.view(batch, pre, d, post)
    return out.reshape(batch, -1)


def apply_single_qubit(state: Tensor, mat: Tensor, wire: int) -> Tensor:
    """U on one wire: |ψ> -> (I ⊗ … ⊗ U ⊗ … ⊗ I)|ψ>, U shared (2, 2) or per sample (B, 2, 2)."""
    n = n_qubits_of(state)
    _check_wire(wire, n)
    mat = _batched_matrix(mat, state.shape[0], 1, "mat").to(state.dtype)
    return _apply_block(state, mat, wire, 1, n)


def _group_sizes(n: int, group_size: int) -> list[int]:
    """Cut n wires into ceil(n/group_size) consecutive groups of near-equal size."""
    n_groups = -(-n // group_size)
    base, extra = divmod(n, n_groups)
    return [base + 1 if g < extra else base for g in range(n_groups)]


def default_group_size(n_qubits: int) -> int:
    """Wires fused per grouped matmul: all of them up to 5 qubits, else 4 (measured best on CPU)."""
    return n_qubits if n_qubits <= 5 else 4


def _layer_group_matrices(mats: Tensor, n: int, group_size: int) -> list[Tensor]:
    """Kronecker-fuse (..., n, 2, 2) per-wire matrices into one matrix per consecutive wire group."""
    out, start = [], 0
    for k in _group_sizes(n, group_size):
        out.append(kron_matrices(mats[..., start : start + k, :, :]))
        start += k
    return out


def apply_single_qubit_layer(state: State, mats: Tensor, group_size: int | None = None) -> State:
    """⊗_i U_i on all n wires, U_i shared (n, 2, 2) or per sample (B, n, 2, 2), fused into grouped matmuls.

    A :class:`ProductState` stays a product state (each factor is multiplied by its U_i).
    """
    n, batch, _ = state_shape(state)
    if mats.ndim not in (3, 4) or mats.shape[-3:] != (n, 2, 2):
        raise ValueError(f"mats must have shape ({n}, 2, 2) or (B, {n}, 2, 2), got {tuple(mats.shape)}")
    if mats.ndim == 4 and mats.shape[0] not in (1, batch):
        raise ValueError(f"mats batch size {mats.shape[0]} does not match state batch {batch}")
    if isinstance(state, _PRODUCT_TYPES):
        mats = mats.to(state.factors.dtype)
        return ProductState((mats @ state.factors[..., None])[..., 0])
    mats = mats.to(state.dtype)
    group_size = default_group_size(n) if group_size is None else group_size
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    start = 0
    for mat, k in zip(_layer_group_matrices(mats, n, group_size), _group_sizes(n, group_size)):
        state = _apply_block(state, mat, start, k, n)
        start += k
    return state


def apply_diagonal_layer(state: State, phases: Tensor) -> State:
    """⊗_i diag(p_i) on all wires (e.g. an RZ layer), phases shared (n, 2) or per sample (B, n, 2):
    one elementwise product with the Kronecker phase vector."""
    n, batch, _ = state_shape(state)
    if phases.ndim not in (2, 3) or phases.shape[-2:] != (n, 2):
        raise ValueError(f"phases must have shape ({n}, 2) or (B, {n}, 2), got {tuple(phases.shape)}")
    if phases.ndim == 3 and phases.shape[0] not in (1, batch):
        raise ValueError(f"phases batch size {phases.shape[0]} does not match state batch {batch}")
    if isinstance(state, _PRODUCT_TYPES):
        return ProductState(state.factors * phases.to(state.factors.dtype))
    return state * kron_vectors(phases.to(state.dtype))


# ----------------------------------------------------------------------------------------------
# CNOT patterns as permutations
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def cnot_chain_pairs(n_qubits: int) -> tuple[tuple[int, int], ...]:
    """CNOT chain (0→1), (1→2), …, (n-2→n-1), in application order."""
    return tuple((i, i + 1) for i in range(n_qubits - 1))


@functools.lru_cache(maxsize=256)
def cnot_ring_pairs(n_qubits: int, r: int = 1) -> tuple[tuple[int, int], ...]:
    """StronglyEntanglingLayers entangler: CNOT(i → (i+r) mod n) for i = 0..n-1 (none when n = 1)."""
    if n_qubits == 1:
        return ()
    if r % n_qubits == 0:
        raise ValueError(f"range r must not be divisible by n_qubits={n_qubits}, got {r}")
    return tuple((i, (i + r) % n_qubits) for i in range(n_qubits))


@functools.lru_cache(maxsize=256)
def _cnot_source_index(n_qubits: int, pairs: tuple[tuple[int, int], ...]) -> tuple[Tensor, Tensor]:
    """(src, inv) on CPU with ψ'[j] = ψ[src[j]] for the CNOT sequence, and inv = src^{-1}."""
    idx = torch.arange(1 << n_qubits, dtype=torch.long)
    # ψ' = ψ ∘ f^{-1}; every CNOT is an involution, so f^{-1} applies the gates in reverse order.
    for control, target in reversed(pairs):
        cbit = (idx >> (n_qubits - 1 - control)) & 1
        idx = idx ^ (cbit << (n_qubits - 1 - target))
    inv = torch.empty_like(idx)
    inv[idx] = torch.arange(1 << n_qubits, dtype=torch.long)
    return idx, inv


@functools.lru_cache(maxsize=256)
def _cnot_source_index_on(
    n_qubits: int, pairs: tuple[tuple[int, int], ...], device: torch.device
) -> tuple[Tensor, Tensor]:
    src, inv = _cnot_source_index(n_qubits, pairs)
    return src.to(device), inv.to(device)


def cnot_permutation(
    n_qubits: int, pairs: Sequence[tuple[int, int]], device: torch.device | str | None = None
) -> Tensor:
    """Index src (2**n,) with (CNOT_m ⋯ CNOT_1 ψ)[j] = ψ[src[j]]; cached per (n, pattern, device)."""
    pairs = tuple((int(c), int(t)) for c, t in pairs)
    for c, t in pairs:
        _check_wire(c, n_qubits, "control")
        _check_wire(t, n_qubits, "target")
        if c == t:
            raise ValueError(f"CNOT control and target must differ, got ({c}, {t})")
    return _cnot_source_index_on(n_qubits, pairs, torch.device(device or "cpu"))[0]


class _Permute(torch.autograd.Function):
    """ψ' = ψ[:, src]; the adjoint of a permutation is the inverse permutation."""

    @staticmethod
    def forward(ctx, state: Tensor, src: Tensor, inv: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(src, inv)
        return state.index_select(1, src)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        src, inv = ctx.saved_tensors
        return _Permute.apply(grad, inv, src), None, None


def apply_permutation(state: State, src: Tensor, inv: Tensor | None = None) -> Tensor:
    """Basis permutation ψ'[j] = ψ[src[j]] (one gather, backward = inverse gather)."""
    dense = as_dense(state)
    if src.shape != (dense.shape[1],):
        raise ValueError(f"src must have shape ({dense.shape[1]},), got {tuple(src.shape)}")
    if inv is None:
        inv = torch.empty_like(src)
        inv[src] = torch.arange(src.numel(), device=src.device)
    return _Permute.apply(dense, src, inv)


def apply_cnots(state: State, pairs: Sequence[tuple[int, int]]) -> Tensor:
    """CNOT(c_1,t_1), then CNOT(c_2,t_2), … applied as a single cached basis permutation."""
    dense = as_dense(state)
    n = n_qubits_of(dense)
    pairs = tuple((int(c), int(t)) for c, t in pairs)
    if not pairs:
        return dense
    cnot_permutation(n, pairs)  # validates
    src, inv = _cnot_source_index_on(n, pairs, dense.device)
    return _Permute.apply(dense, src, inv)


# ----------------------------------------------------------------------------------------------
# layered ansätze
# ----------------------------------------------------------------------------------------------
def _check_layer_tensor(t: Tensor, trailing: tuple[int, ...], name: str) -> int:
    """Return L for a (L, *trailing) or (B, L, *trailing) tensor, raising otherwise."""
    nt = len(trailing)
    if t.ndim not in (nt + 1, nt + 2) or tuple(t.shape[-nt:]) != trailing:
        raise ValueError(f"{name} must have shape (L, {', '.join(map(str, trailing))}) or (B, L, …), got {tuple(t.shape)}")
    return t.shape[-nt - 1]


def rotation_cnot_layers(
    state: State,
    mats: Tensor,
    cnots: Sequence[Sequence[tuple[int, int]]],
    group_size: int | None = None,
) -> Tensor:
    """Layers l = 1..L of [⊗_i U_{l,i}, then the CNOT sequence cnots[l]], op by op with plain autograd;
    mats shared (L, n, 2, 2) or per sample (B, L, n, 2, 2).  (:func:`fused_layers` is the fast path.)"""
    n = state_shape(state)[0]
    n_layers = _check_layer_tensor(mats, (n, 2, 2), "mats")
    if len(cnots) != n_layers:
        raise ValueError(f"cnots must list one CNOT sequence per layer ({n_layers}), got {len(cnots)}")
    for layer in range(n_layers):
        state = apply_single_qubit_layer(state, mats[..., layer, :, :, :], group_size)
        state = apply_cnots(state, cnots[layer])
    return as_dense(state)


def phase_cnot_layers(state: State, phases: Tensor, cnots: Sequence[Sequence[tuple[int, int]]]) -> Tensor:
    """Layers of [⊗_i diag(p_{l,i}) (e.g. RZ on every wire), then CNOTs cnots[l]]; phases (L, n, 2) or (B, L, n, 2).

    Each diagonal layer is one elementwise product with a Kronecker phase vector (a product state
    just multiplies its factors), each CNOT layer one cached permutation: two memory passes per layer.
    """
    n = state_shape(state)[0]
    n_layers = _check_layer_tensor(phases, (n, 2), "phases")
    if len(cnots) != n_layers:
        raise ValueError(f"cnots must list one CNOT sequence per layer ({n_layers}), got {len(cnots)}")
    for layer in range(n_layers):
        state = apply_diagonal_layer(state, phases[..., layer, :, :])
        state = apply_cnots(state, cnots[layer])
    return as_dense(state)


# ----------------------------------------------------------------------------------------------
# the fused engine: layers of parametrised single-qubit gates + CNOT permutations, adjoint backward
# ----------------------------------------------------------------------------------------------
def _host(t: Tensor) -> np.ndarray:
    """A detached CPU NumPy view (or copy, from another device) of ``t``."""
    return t.detach().cpu().numpy()


def _to_torch(a: np.ndarray, dtype: torch.dtype, device: torch.device) -> Tensor:
    """A host array as a tensor of ``dtype`` on ``device`` (no copy when nothing changes)."""
    return torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=dtype)


def gate_matrices(
    weights: Tensor, gate: GateFamily, dtype: torch.dtype = torch.complex128, derivatives: bool = True
) -> tuple[Tensor, Tensor | None]:
    """Per-wire matrices R (..., 2, 2) and their angle derivatives dR (..., P, 2, 2) (None when
    ``derivatives=False``), without autograd (:func:`qdm.quantum.gate_algebra.gate_matrices`).

    ``"rot"``: weights (..., 3) = (φ, θ, ω), R = Rot(φ,θ,ω) = RZ(ω)RY(θ)RZ(φ) (PennyLane);
    ``"ryrz"``: weights (..., 2) = (a, b), R = RZ(b)·RY(a); ``"ry"``: weights (..., 1), R = RY(a), real
    when ``dtype`` is real (the engine's real-arithmetic path).
    """
    if gate not in GATE_PARAMS:
        raise ValueError(f"gate must be one of {sorted(GATE_PARAMS)}, got {gate!r}")
    if weights.shape[-1] != GATE_PARAMS[gate]:
        raise ValueError(f"{gate} weights need a last axis of {GATE_PARAMS[gate]}, got {tuple(weights.shape)}")
    mats, dmats = gate_algebra.gate_matrices(_host(weights), gate, derivatives, not dtype.is_complex)
    return _to_torch(mats, dtype, weights.device), (None if dmats is None else _to_torch(dmats, dtype, weights.device))


@dataclass(frozen=True)
class _EngineSpec:
    """Static description of a fused circuit (hashable, passed to the autograd Function)."""

    n: int
    gate: str
    sizes: tuple[int, ...]
    cnots: tuple[tuple[tuple[int, int], ...], ...]
    start: str  # "dense", "factors" or "angles" + rotation
    output: str

    @property
    def product(self) -> bool:
        """Whether the start is a product state (layer 1 is applied factor-wise)."""
        return self.start != "dense"


def _size_classes(sizes: Sequence[int]) -> list[tuple[int, int, int]]:
    """Runs of equal group sizes as (first wire, number of groups, group size k)."""
    runs: list[tuple[int, int, int]] = []
    wire = 0
    for k in sizes:
        if runs and runs[-1][2] == k:
            start, count, _ = runs[-1]
            runs[-1] = (start, count + 1, k)
        else:
            runs.append((wire, 1, k))
        wire += k
    return runs


@functools.lru_cache(maxsize=32)
def _flat_perm(
    n_qubits: int, pairs: tuple[tuple[int, int], ...], batch: int, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Flat gather indices of the CNOT permutation for a (B, 2**n) buffer (forward, inverse)."""
    src, inv = _cnot_source_index(n_qubits, pairs)
    base = torch.arange(batch)[:, None] * (1 << n_qubits)
    return (base + src).reshape(-1).to(device), (base + inv).reshape(-1).to(device)


@functools.lru_cache(maxsize=64)
def _z_signs_real_view(
    n_qubits: int, pairs: tuple[tuple[int, int], ...], dtype: torch.dtype, device: torch.device
) -> Tensor:
    """:func:`_z_signs_after_cnots` with every row doubled (2·2**n, n), for the (B, 2·2**n) real view of ψ (cached)."""
    return _z_signs_after_cnots(n_qubits, pairs, dtype, device).repeat_interleave(2, dim=0)


_USE_COUNT = getattr(torch._C, "_storage_Use_Count", None)
_MM, _MM_T, _GATHER = 0, 1, 2  # plan steps: mm(a, b, out=c); mm(a, b, out=tmp) then c.copy_(tmp.T); index_select


def _run_steps(steps: list[tuple]) -> None:
    """Run a plan's step list (every operand a ready tensor or view)."""
    mm, select = torch.mm, torch.index_select
    for op, a, b, c in steps:
        if op == _MM:
            mm(a, b, out=c)
        elif op == _GATHER:
            select(a, 0, b, out=c)
        else:  # (d < 16) u @ x then one transposing copy (see _Plan)
            c[1].copy_(mm(a, b, out=c[0]).T)


class _Plan:
    """Everything one fused circuit call needs at fixed (spec, batch, dtype, device), built once.

    Holds the state-sized buffers (the forward's saved GEMM inputs and result, a scratch; off the
    CPU also the backward's two adjoint buffers, on the CPU the sweep reuses the forward's, see
    below), one tensor per group-size class for the Kronecker group matrices K and one
    for their gradients (host-side NumPy views on the CPU, so the compiled Kronecker loop writes
    straight into them), and forward/backward as fixed step lists of ``torch.mm(a, b, out=c)`` and
    ``index_select(..., out=c)`` on views made here, so a call allocates, views and converts
    almost nothing.  Each GEMM consumes the group axis at one end of the buffer and puts it back at
    the other (a layer started with axes (B, g_1, …, g_G), "BD", ends in (g_1, …, g_G, B), "DB"),
    so no transpose is copied, except for groups narrower than 16 amplitudes: there the rotating
    GEMM, x^T u^T, is one of MKL's slow narrow-output complex products (4-5x slower per flop,
    measured at d = 4, 8), so u @ x is followed by one transposing copy.

    On the CPU (:attr:`inplace`) the ⟨Z⟩ readout and its adjoint seed are compiled passes over the
    final state (:func:`.kernels.expval_z_signs`, :func:`.kernels.expval_z_seed`), and the adjoint
    sweep runs in place: the seed overwrites the final state and each λ ← K† λ is written over the
    saved input of that GEMM once its ∂L/∂K̄ GEMM has read it, so a call touches only the forward's
    buffers (fewer bytes per call, which is what costs when other work has evicted the caches).
    A retained graph's next backward therefore first reruns the forward steps.

    A plan is in use from its forward until the saved tensors of that call are released (after
    backward, or when the graph is dropped): the forward saves an alias of :attr:`token`, and
    :meth:`free` reads the token storage's use count.  A busy plan is
    never handed out again, so nested or overlapping calls get plans of their own.
    """

    def __init__(self, spec: _EngineSpec, batch: int, dtype: torch.dtype, device: torch.device) -> None:
        n, dim, sizes = spec.n, 1 << spec.n, spec.sizes
        n_layers = len(spec.cnots)
        first = 1 if spec.product else 0
        n_dense = n_layers - first
        self.spec, self.batch, self.dim, self.first, self.dtype, self.device = spec, batch, dim, first, dtype, device
        self.classes = classes = _size_classes(sizes) if n_dense else []
        self.kmats = [torch.empty((n_dense, cnt, 1 << k, 1 << k), dtype=dtype, device=device) for _, cnt, k in classes]
        self.gks = [torch.empty_like(t) for t in self.kmats]
        cpu = device.type == "cpu"
        # K is built host-side in complex128 (float64 on the real path): straight into the buffer when it has that dtype
        self.kmats_host = [t.numpy() for t in self.kmats] if cpu and dtype in (torch.complex128, torch.float64) else None
        self.gks_host = [t.numpy() for t in self.gks] if cpu else None
        slot = [(ci, j) for ci, (_, cnt, _) in enumerate(classes) for j in range(cnt)]
        mats = [[self.kmats[ci][layer, j] for ci, j in slot] for layer in range(n_dense)]
        grads = [[self.gks[ci][layer, j] for ci, j in slot] for layer in range(n_dense)]
        self.buffers: list[Tensor] = []
        free: list[Tensor] = []

        def new() -> Tensor:
            if free:
                return free.pop()
            self.buffers.append(torch.empty(batch * dim, dtype=dtype, device=device))
            return self.buffers[-1]

        scratch: list[Tensor] = []

        def tmp() -> Tensor:
            if not scratch:
                scratch.append(new())
            return scratch[0]

        # forward: a buffer is kept when a GEMM reads it (saved for backward) or it is the result;
        # a permutation's input is dead after it and its buffer is reused
        self.start_src = self.start_inv = None
        x = self.x0 = new()
        self.x0_2d = x.view(batch, dim)
        self.x0_host = x.view(batch, dim).numpy() if cpu else None
        layout, steps, records = "BD", [], []
        for layer in range(n_layers):
            if layer >= first:
                u, inputs = mats[layer - first], []
                if layout == "BD":  # consume the last axis, put it first: Y = U X^T
                    for g in range(len(sizes) - 1, -1, -1):
                        d = 1 << sizes[g]
                        xin, out = x.view(-1, d), new()
                        steps.append((_MM, u[g], xin.T, out.view(d, -1)))
                        inputs.append((g, xin, x))
                        x = out
                    layout = "DB"
                else:  # consume the first axis, put it last: Y = X^T U^T
                    for g in range(len(sizes)):
                        d = 1 << sizes[g]
                        xin, out = x.view(d, -1), new()
                        if d >= 16:
                            steps.append((_MM, xin.T, u[g].T, out.view(-1, d)))
                        else:
                            steps.append((_MM_T, u[g], xin, (tmp().view(d, -1), out.view(-1, d))))
                        inputs.append((g, xin, x))
                        x = out
                    layout = "BD"
                records.append(("layer", layer - first, layout, inputs))
            pairs = spec.cnots[layer]
            if pairs and not (spec.output == "expval_z" and layer == n_layers - 1):
                if layer == 0 and spec.product and cpu:  # the compiled product start writes ψ[:, src] itself
                    self.start_src, self.start_inv = (t.numpy() for t in _cnot_source_index(n, pairs))
                    continue
                out = new()
                # int32 indices: half the index bytes a call reads (the flat ones are B·2**n long)
                if layout == "DB":
                    src, inv = (t.to(torch.int32) for t in _cnot_source_index_on(n, pairs, device))
                    steps.append((_GATHER, x.view(dim, batch), src, out.view(dim, batch)))
                else:
                    src, inv = (t.to(torch.int32) for t in _flat_perm(n, pairs, batch, device))
                    steps.append((_GATHER, x, src, out))
                records.append(("perm", layout, inv))
                free.append(x)
                x = out
        self.forward_steps, self.layout = steps, layout
        self.x = x.view(dim, batch) if layout == "DB" else x.view(batch, dim)
        self.real_dtype = real_dtype = real_dtype_of(dtype)
        self.zs_host = self.zs2_host = None
        if spec.output == "expval_z":
            last = spec.cnots[-1]
            self.zs = _z_signs_after_cnots(n, last, real_dtype, device)
            zs2 = _z_signs_after_cnots(n, last, real_dtype, device, 2.0)
            self.zs2 = zs2 if layout == "DB" else zs2.T
            if cpu:  # one compiled pass each way (no |ψ|² buffer, no weight buffer): host views
                self.zs_host, self.zs2_host = self.zs.numpy(), zs2.numpy()
            else:
                sq = new()
                self.sq = (torch.view_as_real(sq) if dtype.is_complex else sq).view(-1)
                self.zs_real = _z_signs_real_view(n, last, real_dtype, device) if dtype.is_complex else None
                free.append(sq)
        # backward.  On the CPU the adjoint sweep runs in place: the seed overwrites the final state and
        # each λ ← K† λ lands in the buffer of that GEMM's saved input (read just before, by the ∂L/∂K̄
        # GEMM, and dead after), so backward needs no state buffers of its own beyond one spare for
        # permutations; a second backward of a retained graph first reruns the forward steps
        # (:attr:`inplace`).  Elsewhere it alternates between two buffers of its own and the saved
        # inputs stay intact.
        self.inplace = cpu
        if cpu:
            cur, other = x, None
        else:
            cur, other = new(), new()
        self.g0 = cur.view(self.x.shape)
        self.x_host, self.g0_host = (self.x.numpy(), self.g0.numpy()) if cpu else (None, None)
        if spec.output == "expval_z" and not cpu:  # ∂L/∂|ψ|² lives in the second buffer until the first step overwrites it
            self.weight = (torch.view_as_real(other) if dtype.is_complex else other).view(-1)[: batch * dim].view(self.x.shape)
        bsteps = []
        self.transposed = np.zeros(n_dense, dtype=bool)
        for record in reversed(records):
            if record[0] == "perm":
                _, layout_p, inv = record
                shape = (dim, batch) if layout_p == "DB" else (-1,)
                if other is None:
                    other = new()
                bsteps.append((_GATHER, cur.view(shape), inv, other.view(shape)))
                cur, other = other, cur
                continue
            _, layer, layout_after, inputs = record
            u = mats[layer]
            for g, xin, xbuf in reversed(inputs):
                if self.inplace:  # λ_in goes where the GEMM's input was; the λ read here becomes the spare
                    other = xbuf
                d = 1 << sizes[g]
                if layout_after == "DB":  # forward was last_to_first: Y (d, R) = U X^T with X (R, d)
                    self.transposed[layer] = True  # the GEMM below gives ∂L/∂K̄ transposed (no conjugate copy)
                    gy = cur.view(d, -1)
                    bsteps.append((_MM, xin.mH, gy.T, grads[layer][g]))
                    if d >= 16:
                        bsteps.append((_MM, gy.T, u[g].mH.T, other.view(-1, d)))
                    else:
                        bsteps.append((_MM_T, u[g].mH, gy, (tmp().view(d, -1), other.view(-1, d))))
                else:  # forward was first_to_last: Y (R, d) = X^T U^T with X (d, R)
                    gy = cur.view(-1, d)
                    bsteps.append((_MM, gy.T, xin.mH, grads[layer][g]))
                    bsteps.append((_MM, u[g].mH, gy.T, other.view(d, -1)))
                cur, other = other, cur
        self.backward_steps = bsteps
        self.grad_state = cur.view(batch, dim)  # layout "BD" (the start's)
        self.grad_state_host = self.grad_state.numpy() if cpu else None
        self.nbytes = sum(b.numel() * b.element_size() for b in self.buffers) + 2 * sum(
            t.numel() * t.element_size() for t in self.kmats
        )
        self.token = torch.empty(0)
        self._token_storage = self.token.untyped_storage()._cdata
        self._token_count = _USE_COUNT(self._token_storage) if _USE_COUNT is not None else None

    def free(self) -> bool:
        """Whether no call's saved tensors hold this plan (its buffers may be overwritten)."""
        return self._token_count is not None and _USE_COUNT(self._token_storage) == self._token_count

    def set_group_matrices(self, mats: np.ndarray) -> list[np.ndarray]:
        """Write the Kronecker group matrices of dense layers from per-wire gates ``mats`` (L, n, 2, 2)
        (host-side) into :attr:`kmats`; returns them host-side (complex128, float64 on the real path)."""
        first, n_dense = self.first, mats.shape[0] - self.first
        out = []
        for ci, (s, cnt, k) in enumerate(self.classes):
            factors = mats[first:, s : s + cnt * k].reshape(n_dense, cnt, k, 2, 2)
            if self.kmats_host is not None:
                out.append(gate_algebra.kron(factors, self.kmats_host[ci]))
            else:
                km = gate_algebra.kron(factors)
                self.kmats[ci].copy_(torch.from_numpy(km))
                out.append(km)
        return out


class _PlanCache:
    """This thread's plans by (spec, batch, dtype, device), most recently used last; plans
    together above ``max_bytes`` are dropped oldest first (a larger one is never kept)."""

    def __init__(self, max_bytes: int = 256 << 20, per_key: int = 4) -> None:
        self.max_bytes, self.per_key = max_bytes, per_key
        self.plans: dict[tuple, list[_Plan]] = {}
        self.bytes = 0

    def acquire(self, spec: _EngineSpec, batch: int, dtype: torch.dtype, device: torch.device) -> _Plan:
        key = (spec, batch, dtype, device)
        plans = self.plans.pop(key, None)
        if plans is None:
            plans = []
        self.plans[key] = plans  # most recently used last
        for plan in plans:
            if plan.free():
                return plan
        plan = _Plan(spec, batch, dtype, device)
        if len(plans) < self.per_key and plan.nbytes <= self.max_bytes and plan.free():
            plans.append(plan)
            self.bytes += plan.nbytes
            while self.bytes > self.max_bytes:
                oldest = next(iter(self.plans))
                dropped = self.plans.pop(oldest)
                self.bytes -= sum(p.nbytes for p in dropped)
        return plan

    def clear(self) -> None:
        """Drop every cached plan (plans in use stay valid for their calls)."""
        self.plans.clear()
        self.bytes = 0


_PLAN_LOCAL = threading.local()


def _plans() -> _PlanCache:
    cache = getattr(_PLAN_LOCAL, "cache", None)
    if cache is None:
        cache = _PLAN_LOCAL.cache = _PlanCache()
    return cache


def clear_plans() -> None:
    """Release this thread's cached fused-engine plans and their buffers (e.g. after a large circuit)."""
    _plans().clear()


class _FusedCircuit(torch.autograd.Function):
    """[optional product-state start] → L × (grouped single-qubit layer, CNOT permutation) → state or ⟨Z⟩.

    Runs the step lists of a cached :class:`_Plan`.  Backward is the adjoint sweep with the inputs
    saved in forward: λ ← K† λ, ∂L/∂K̄ = λ ψ_in^H (one GEMM each), then ∂L/∂K → per-wire 2x2
    gradients → angles with the analytic dR, host-side.  On the CPU the sweep overwrites the saved
    states (:attr:`_Plan.inplace`); a second backward of a retained graph remakes them first from the
    saved start (the product-start coefficients, or the dense start tensor) and the plan's gate
    matrices, which no backward writes.
    """

    @staticmethod
    def forward(ctx, start: Tensor, weights: Tensor, spec: _EngineSpec, dtype: torch.dtype) -> Tensor:  # type: ignore[override]
        from . import kernels

        needs_grad = any(ctx.needs_input_grad[:2])
        plan = _plans().acquire(spec, start.shape[0], dtype, start.device)
        # host-side gate algebra (complex128): R (L,n,2,2), dR (L,n,P,2,2), group Kronecker matrices
        mats, dmats = gate_algebra.gate_matrices(_host(weights), spec.gate, needs_grad, not dtype.is_complex)
        n, device = spec.n, start.device
        if spec.product:  # layer 1 acts on the factors: f_q = R_q e_q, then ψ = ⊗_q f_q (product_start)
            xp, kind = product_start.namespace(device), spec.start[-1] if spec.start.startswith("angles") else "factors"
            a = product_start.coefficients(start.to(real_dtype_of(dtype)) if kind != "factors" else start.clone(), kind, n, xp)
            m0 = product_start.layer_matrices(mats[0], kind, real=not dtype.is_complex)
            m0 = m0.astype(plan.x0_host.dtype, copy=False) if xp is np else _to_torch(m0, dtype, device)
            ctx.product = (xp, kind, a, m0, product_start.forward(a, m0, plan.x0_2d, xp, plan.start_src))
        else:
            plan.x0_2d.copy_(start)
        kmats = plan.set_group_matrices(mats)
        _run_steps(plan.forward_steps)
        x, layout, batch = plan.x, plan.layout, plan.batch
        if spec.output == "expval_z":
            if plan.zs_host is not None:  # CPU: Σ_j |ψ_j|² Z_j in one compiled pass
                out = torch.empty((batch, spec.n), dtype=plan.real_dtype)
                kernels.expval_z_signs(plan.x_host, plan.zs_host, out.numpy(), layout == "DB")
            elif not x.is_complex():  # real path: |ψ|² = ψ²
                sq = torch.mul(x, x, out=plan.sq.view(x.shape))
                out = sq @ plan.zs if layout == "BD" else (plan.zs.T @ sq).T
            else:
                xr = torch.view_as_real(x)
                sq = torch.mul(xr, xr, out=plan.sq.view(xr.shape))
                if layout == "BD":  # sq (B, D, 2): |ψ|² = re² + im² after the sum
                    out = sq.view(batch, -1) @ plan.zs_real
                else:  # sq (D, B, 2)
                    out = (plan.zs.T @ sq.view(plan.dim, -1)).view(-1, batch, 2).sum(-1).T
        else:  # a copy: the plan's buffers are overwritten by its next call
            out = x.clone() if layout == "BD" else x.T.clone(memory_format=torch.contiguous_format)  # (B = 1: x.T is contiguous)
        if needs_grad:
            ctx.plan, ctx.mats, ctx.dmats, ctx.kmats = plan, mats, dmats, kmats
            ctx.weights_dtype, ctx.weights_device = weights.dtype, weights.device
            ctx.start_dtype, ctx.n_features = start.dtype, start.shape[-1]
            # the token holds the plan until backward is done; a dense start is kept for a rerun (plan.inplace)
            ctx.save_for_backward(plan.token.detach(), *((start,) if plan.inplace and not spec.product else ()))
            ctx.swept = False
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        from . import kernels

        saved = ctx.saved_tensors  # raises if this call's saved tensors were freed (a second backward)
        plan, mats, dmats = ctx.plan, ctx.mats, ctx.dmats
        spec, first, x = plan.spec, plan.first, plan.x
        if plan.inplace:  # the sweep overwrites the saved states: a retained graph's next backward remakes them
            if ctx.swept:
                if spec.product:
                    xp, _, a, m0, _ = ctx.product
                    product_start.forward(a, m0, plan.x0_2d, xp, plan.start_src)
                else:
                    plan.x0_2d.copy_(saved[1])
                _run_steps(plan.forward_steps)
            ctx.swept = True
        if spec.output == "expval_z":
            gz = grad_out.to(plan.real_dtype).contiguous()  # (a ones-like grad_out is often an expanded view)
            if plan.zs2_host is not None:  # CPU: g0 = ψ · (2 Z gz) in one compiled pass
                kernels.expval_z_seed(plan.x_host, plan.zs2_host, gz.numpy(), plan.g0_host, plan.layout == "DB")
            elif plan.layout == "BD":
                torch.mm(gz, plan.zs2, out=plan.weight)
            else:
                torch.mm(plan.zs2, gz.T, out=plan.weight)
            if plan.zs2_host is None:
                torch.mul(x, plan.weight, out=plan.g0)  # real weight scales ψ part-wise
        else:
            if grad_out.is_complex() and not x.is_complex():  # real state cast to complex outside: d/dψ = Re
                grad_out = grad_out.real
            plan.g0.copy_(grad_out if plan.layout == "BD" else grad_out.T)
        _run_steps(plan.backward_steps)
        # ∂L/∂K̄ of every group matrix, per size class (L', cnt, d, d; a layer that ran "BD" -> "DB" in forward
        # got the transpose), pulled back to the per-wire gates by one compiled loop per class
        n_dense = mats.shape[0] - first
        grad_mats = np.empty(mats.shape, dtype=np.complex128)  # every row is written: the classes cover the wires
        for ci, ((s, cnt, k), kmat) in enumerate(zip(plan.classes, ctx.kmats)):
            gk = plan.gks_host[ci] if plan.gks_host is not None else _host(plan.gks[ci])
            fac = mats[first:, s : s + cnt * k].reshape(n_dense, cnt, k, 2, 2)
            out = grad_mats[first:, s : s + cnt * k].reshape(fac.shape)  # a view (one axis split)
            kernels.kron_factor_grads(gk, plan.transposed, kmat, fac, out)
        g = plan.grad_state
        if spec.product:
            xp, kind, a, m0, saved_product = ctx.product
            grad_start, grad_mats[0] = product_start.backward(
                g, saved_product, a, m0, kind, ctx.n_features, xp, plan.start_inv
            )
            grad_start = torch.from_numpy(np.ascontiguousarray(grad_start)) if xp is np else grad_start
            grad_start = grad_start.to(device=x.device, dtype=ctx.start_dtype)
        else:
            grad_start = g.clone()
        grad_w = np.empty(dmats.shape[:3])
        kernels.angle_grads(grad_mats, dmats, grad_w)  # Re Σ ∂L/∂R̄ conj(dR) per angle
        return grad_start, _to_torch(grad_w, ctx.weights_dtype, ctx.weights_device), None, None


def _as_cnot_layers(cnots: Sequence[Sequence[tuple[int, int]]]) -> tuple[tuple[tuple[int, int], ...], ...]:
    """``cnots`` as nested tuples of ints (cached for hashable input, e.g. :func:`cnot_ring_pairs`)."""
    try:
        return _cnot_layers_cached(tuple(cnots))
    except TypeError:  # unhashable layers (lists)
        return tuple(tuple((int(c), int(t)) for c, t in layer) for layer in cnots)


@functools.lru_cache(maxsize=256)
def _cnot_layers_cached(cnots: tuple) -> tuple[tuple[tuple[int, int], ...], ...]:
    return tuple(tuple((int(c), int(t)) for c, t in layer) for layer in cnots)


@functools.lru_cache(maxsize=256)
def _engine_spec(n: int, gate: str, cnots: tuple, start: str, output: str, group_size: int | None) -> _EngineSpec:
    """Validated, cached static description of a fused circuit."""
    for layer in cnots:
        if layer:
            cnot_permutation(n, layer)  # validates wires
    group_size = default_group_size(n) if group_size is None else group_size
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    return _EngineSpec(n, gate, tuple(_group_sizes(n, group_size)), cnots, start, output)


def fused_layers(
    state: State,
    weights: Tensor,
    gate: GateFamily,
    cnots: Sequence[Sequence[tuple[int, int]]],
    output: Literal["state", "expval_z"] = "state",
    group_size: int | None = None,
) -> Tensor:
    """Fast path of layers [gate(w_{l,i}) on every wire, then CNOTs cnots[l]], shared weights (L, n, P).

    One autograd node (:class:`_FusedCircuit`): a product-state start (:class:`ProductState` or
    :class:`AngleState`) absorbs layer 1, the other layers are grouped GEMMs, CNOT layers are
    cached permutations, ``output="expval_z"`` returns ⟨Z_i⟩ (B, n) directly (the last permutation
    folded into the Z signs).  Per-sample weights (B, L, n, P) fall back to
    :func:`rotation_cnot_layers`.  Not twice differentiable.
    """
    if gate not in GATE_PARAMS:
        raise ValueError(f"gate must be one of {sorted(GATE_PARAMS)}, got {gate!r}")
    if output not in ("state", "expval_z"):
        raise ValueError(f"output must be 'state' or 'expval_z', got {output!r}")
    n, batch, cdtype = state_shape(state)
    n_layers = _check_layer_tensor(weights, (n, GATE_PARAMS[gate]), "weights")
    if weights.is_complex():
        raise ValueError("weights must be real angles")
    if len(cnots) != n_layers:
        raise ValueError(f"cnots must list one CNOT sequence per layer ({n_layers}), got {len(cnots)}")
    cnots = _as_cnot_layers(cnots)
    if weights.ndim == 4:
        if weights.shape[0] not in (1, batch):
            raise ValueError(f"per-sample weights have batch {weights.shape[0]}, state has {batch}")
        if gate == "rot":
            mats = rot(weights[..., 0], weights[..., 1], weights[..., 2], cdtype)
        elif gate == "ry":
            mats = ry(weights[..., 0], cdtype)
        else:
            mats = rz(weights[..., 1], cdtype) @ ry(weights[..., 0], cdtype)
        out = rotation_cnot_layers(state, mats, cnots, group_size)
        return expval_z(out) if output == "expval_z" else out
    if isinstance(state, AngleState):
        kind, start = f"angles{state.rotation}", state.angles
    elif isinstance(state, ProductState):
        kind, start = "factors", state.factors
    else:
        kind, start = "dense", state
    spec = _engine_spec(n, gate, cnots, kind, output, group_size)
    if gate == "ry" and kind == "anglesY":
        # RY embedding + RY layers + CNOTs keep every amplitude real: run in real arithmetic
        # (a quarter of the complex GEMM flops, half the memory), cast the state back at the end.
        out = _FusedCircuit.apply(start, weights, spec, real_dtype_of(cdtype))
        return out if output == "expval_z" else out.to(cdtype)
    return _FusedCircuit.apply(start, weights, spec, cdtype)


@functools.lru_cache(maxsize=256)
def default_ranges(n_layers: int, n_qubits: int) -> tuple[int, ...]:
    """PennyLane StronglyEntanglingLayers default ranges: r_l = (l mod (n-1)) + 1 (0 when n = 1)."""
    if n_qubits == 1:
        return (0,) * n_layers
    return tuple((layer % (n_qubits - 1)) + 1 for layer in range(n_layers))


def strongly_entangling_layers(
    state: State,
    weights: Tensor,
    ranges: Sequence[int] | None = None,
    group_size: int | None = None,
    method: Literal["auto", "grouped", "unitary"] = "auto",
    output: Literal["state", "expval_z"] = "state",
) -> Tensor:
    """PennyLane StronglyEntanglingLayers (imprimitive CNOT): per layer Rot(w_{l,i}) on every wire,
    then CNOT(i → i+r_l mod n); weights shared (L, n, 3) or per sample (B, L, n, 3).

    ``method="grouped"`` runs the fused engine on the batch (:func:`fused_layers`); ``"unitary"``
    runs it once on the 2**n basis states to build the circuit unitary U (shared weights) and
    applies ψ U^T; ``"auto"`` picks the cheaper by a flop estimate (the unitary only pays for small
    n and batches well above 2**n).
    """
    n = state_shape(state)[0]
    n_layers = _check_layer_tensor(weights, (n, 3), "weights")
    ranges = default_ranges(n_layers, n) if ranges is None else tuple(int(r) for r in ranges)
    if len(ranges) != n_layers:
        raise ValueError(f"ranges must have length n_layers={n_layers}, got {len(ranges)}")
    if method not in ("auto", "grouped", "unitary"):
        raise ValueError(f"method must be 'auto', 'grouped' or 'unitary', got {method!r}")
    cnots = [cnot_ring_pairs(n, r) for r in ranges]
    batch = state_shape(state)[1]
    if method == "auto":
        method = _choose_method(n, n_layers, batch, weights.ndim == 3, group_size)
    if method == "grouped":
        return fused_layers(state, weights, "rot", cnots, output, group_size)
    if weights.ndim != 3:
        raise ValueError("method='unitary' needs shared weights of shape (L, n, 3)")
    dense = as_dense(state)
    eye = torch.eye(1 << n, dtype=dense.dtype, device=dense.device)
    columns = fused_layers(eye, weights, "rot", cnots, "state", group_size)  # row j = (U e_j)^T
    out = dense @ columns
    return expval_z(out) if output == "expval_z" else out


def _choose_method(n: int, n_layers: int, batch: int, shared: bool, group_size: int | None) -> str:
    """Cheaper by flop count: grouped ≈ B·2**n·Σ_g 2**k_g per layer; unitary ≈ the same on 2**n columns + B·4**n."""
    if not shared:
        return "grouped"
    g = default_group_size(n) if group_size is None else group_size
    per_state = sum(1 << k for k in _group_sizes(n, g)) * n_layers
    grouped = batch * per_state
    unitary = (1 << n) * per_state + batch * (1 << n)
    return "unitary" if unitary < grouped else "grouped"


# ----------------------------------------------------------------------------------------------
# measurement
# ----------------------------------------------------------------------------------------------
class _Born(torch.autograd.Function):
    """p_j = Re(ψ_j)² + Im(ψ_j)² in one node; backward (torch's conjugate convention) ∂L/∂ψ̄ = 2 g ψ."""

    @staticmethod
    def forward(ctx, state: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(state)
        return state.real.square() + state.imag.square()

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (state,) = ctx.saved_tensors
        return state * (2 * grad)


def probabilities(state: State) -> Tensor:
    """Born probabilities |ψ_j|², shape (B, 2**n), real dtype of the state."""
    dense = as_dense(state)
    n_qubits_of(dense)
    return _Born.apply(dense)


@functools.lru_cache(maxsize=64)
def _z_signs(n_qubits: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """(2**n, n) matrix of Z eigenvalues 1 - 2·bit_i(j), wire 0 = most significant bit."""
    j = torch.arange(1 << n_qubits)
    shifts = torch.arange(n_qubits - 1, -1, -1)
    bits = (j[:, None] >> shifts[None, :]) & 1
    return (1 - 2 * bits).to(dtype=dtype, device=device)


@functools.lru_cache(maxsize=64)
@functools.lru_cache(maxsize=64)
def _z_signs_after_cnots(
    n_qubits: int, pairs: tuple[tuple[int, int], ...], dtype: torch.dtype, device: torch.device, scale: float = 1.0
) -> Tensor:
    """scale x Z signs of the state before a CNOT sequence: ⟨Z⟩ of ψ' = ψ[src] is Σ_k |ψ_k|² Z[src^{-1}[k]]
    (cached, read-only)."""
    zs = _z_signs(n_qubits, dtype, device) * scale
    if not pairs:
        return zs
    return zs.index_select(0, _cnot_source_index_on(n_qubits, pairs, device)[1])


def expval_z(state: State) -> Tensor:
    """⟨Z_i⟩ = Σ_j |ψ_j|² (1 - 2·bit_i(j)) for every wire: (B, n), one matmul on the probabilities."""
    if isinstance(state, _PRODUCT_TYPES):
        p = _Born.apply(state.factors)
        return p[..., 0] - p[..., 1]
    probs = probabilities(state)
    n = n_qubits_of(state)
    return probs @ _z_signs(n, probs.dtype, probs.device)


def product_z_strings(state: ProductState | AngleState, wire_sets: Sequence[Sequence[int]]) -> Tensor:
    """⟨Π_{j∈S_k} Z_j⟩ = Π_{j∈S_k} ⟨Z_j⟩ on a product state, one column per set S_k: (B, len(wire_sets)).

    With the Heisenberg sets of a diagonal + CNOT circuit (``circuits.zexpval_wire_sets``) this is
    its exact ⟨Z_k⟩ without touching the 2**n amplitudes (the RZ weights of chen2025quantum's published circuit
    drop out: RZ is diagonal and a CNOT permutes basis states).
    """
    if not isinstance(state, _PRODUCT_TYPES):
        raise ValueError(f"state must be a ProductState or AngleState, got {type(state).__name__}")
    n = state.n_qubits
    sets = [tuple(int(j) for j in s) for s in wire_sets]
    if not sets:
        raise ValueError("wire_sets must name at least one set of wires")
    for s in sets:
        for j in s:
            _check_wire(j, n, "wire_sets entry")
    z = expval_z(state)  # (B, n)
    mask = _wire_set_mask(n, tuple(sets), z.device)
    return torch.where(mask, z[:, None, :], torch.ones((), dtype=z.dtype, device=z.device)).prod(-1)


@functools.lru_cache(maxsize=64)
def _wire_set_mask(n: int, sets: tuple[tuple[int, ...], ...], device: torch.device) -> Tensor:
    """Boolean (len(sets), n) membership matrix of wire sets (cached)."""
    mask = torch.zeros(len(sets), n, dtype=torch.bool, device=device)
    for k, s in enumerate(sets):
        mask[k, list(s)] = True
    return mask


def sample_outcomes(state: State, shots: int, generator: torch.Generator | None = None) -> Tensor:
    """Computational-basis measurement: ``shots`` basis indices per batch element drawn from |ψ_j|², (B, shots)."""
    if shots < 1:
        raise ValueError(f"shots must be >= 1, got {shots}")
    probs = probabilities(state).detach()
    return torch.multinomial(probs, shots, replacement=True, generator=generator)


def bits_of(indices: Tensor, n_qubits: int) -> Tensor:
    """Bits of basis indices, wire 0 = most significant: (...,) -> (..., n) uint8."""
    shifts = torch.arange(n_qubits - 1, -1, -1, device=indices.device)
    return ((indices[..., None] >> shifts) & 1).to(torch.uint8)


def sample_bits(state: State, shots: int, generator: torch.Generator | None = None) -> Tensor:
    """Measured bitstrings, (B, shots, n) uint8, wire 0 first; Born rule on the computational basis."""
    dense = as_dense(state)
    return bits_of(sample_outcomes(dense, shots, generator), n_qubits_of(dense))


def _wire_view(state: Tensor, wire: int, n: int) -> Tensor:
    return state.view(state.shape[0], 1 << wire, 2, 1 << (n - wire - 1))


def _project(state: Tensor, wire: int, outcome: Tensor, remove: bool) -> tuple[Tensor, Tensor]:
    """Keep the outcome[b] half of wire ``wire``; return (renormalised state, probability of outcome)."""
    n = n_qubits_of(state)
    view = _wire_view(state, wire, n)
    index = outcome.to(torch.long).view(-1, 1, 1, 1).expand(-1, view.shape[1], 1, view.shape[3])
    kept = torch.gather(view, 2, index)  # (B, pre, 1, post)
    prob = (kept.real.square() + kept.imag.square()).sum(dim=(1, 2, 3))
    scale = torch.rsqrt(prob.clamp_min(torch.finfo(prob.dtype).tiny)).to(state.dtype).view(-1, 1, 1, 1)
    kept = kept * scale
    if remove:
        return kept.reshape(state.shape[0], -1), prob
    onehot = torch.nn.functional.one_hot(outcome.to(torch.long), 2).to(state.dtype).view(-1, 1, 2, 1)
    return (kept * onehot).reshape(state.shape[0], -1), prob


def measure_wire(
    state: Tensor,
    wire: int,
    generator: torch.Generator | None = None,
    remove: bool = False,
) -> tuple[Tensor, Tensor]:
    """Projective Z measurement of one wire per batch element: outcome m ~ Born, ψ -> P_m ψ/√p_m.

    Returns (post-measurement state, outcomes (B,) long); with ``remove=True`` the measured wire is
    traced out (it is in |m>), giving (B, 2**(n-1)).
    """
    n = n_qubits_of(state)
    _check_wire(wire, n)
    if remove and n == 1:
        raise ValueError("remove=True needs at least 2 qubits")
    with torch.no_grad():
        p1 = probabilities(_wire_view(state, wire, n)[:, :, 1, :].reshape(state.shape[0], -1)).sum(1)
        u = torch.rand(state.shape[0], generator=generator, dtype=p1.dtype, device=p1.device)
        outcome = (u < p1).to(torch.long)
    new_state, _ = _project(state, wire, outcome, remove)
    return new_state, outcome


def postselect(state: Tensor, wire: int, outcome: int, remove: bool = False) -> tuple[Tensor, Tensor]:
    """Post-selection on wire = outcome: (P ψ / √p, p) with p = ||P ψ||² the success probability (B,).

    A zero-probability branch returns the zero vector and p = 0 (no NaN).
    """
    n = n_qubits_of(state)
    _check_wire(wire, n)
    if outcome not in (0, 1):
        raise ValueError(f"outcome must be 0 or 1, got {outcome}")
    if remove and n == 1:
        raise ValueError("remove=True needs at least 2 qubits")
    out = torch.full((state.shape[0],), outcome, dtype=torch.long, device=state.device)
    return _project(state, wire, out, remove)


def project_block(state: Tensor, block_index: int | Tensor, block_size: int) -> tuple[Tensor, Tensor]:
    """Projection on the basis block [k·s, (k+1)·s) (e.g. a label register): (renormalised block (B, s), probability (B,))."""
    if state.ndim != 2:
        raise ValueError(f"state must have shape (B, D), got {tuple(state.shape)}")
    batch, dim = state.shape
    if block_size < 1 or dim % block_size:
        raise ValueError(f"block_size must divide the state dimension {dim}, got {block_size}")
    n_blocks = dim // block_size
    idx = torch.as_tensor(block_index, device=state.device, dtype=torch.long)
    idx = idx.expand(batch) if idx.ndim == 0 else idx
    if idx.shape != (batch,):
        raise ValueError(f"block_index must be an int or shape ({batch},), got {tuple(idx.shape)}")
    if bool(((idx < 0) | (idx >= n_blocks)).any()):
        raise ValueError(f"block_index must be in [0, {n_blocks})")
    blocks = state.view(batch, n_blocks, block_size)
    block = torch.gather(blocks, 1, idx.view(batch, 1, 1).expand(batch, 1, block_size))[:, 0]
    prob = (block.real.square() + block.imag.square()).sum(dim=-1)
    scale = torch.rsqrt(prob.clamp_min(torch.finfo(prob.dtype).tiny)).to(state.dtype)
    return block * scale[:, None], prob


# ----------------------------------------------------------------------------------------------
# unitaries and density matrices
# ----------------------------------------------------------------------------------------------
def repeat_for_columns(params: Tensor, n_qubits: int) -> Tensor:
    """Repeat per-circuit parameters (B, …) 2**n times along dim 0, matching :func:`circuit_unitary`'s batch layout."""
    return params.repeat_interleave(1 << n_qubits, dim=0)


def circuit_unitary(
    circuit: Callable[[Tensor], Tensor],
    n_qubits: int,
    batch_size: int | None = None,
    dtype: torch.dtype = torch.complex128,
    device: torch.device | str | None = None,
) -> Tensor:
    """Full unitary U of a linear circuit, columns U e_j, by running the 2**n basis states as one batch.

    ``circuit`` maps states (M, 2**n) -> (M, 2**n).  Shared parameters: M = 2**n, returns (2**n, 2**n).
    With ``batch_size=B`` it is called on M = B·2**n rows, rows b·2**n … (b+1)·2**n - 1 belonging to
    parameter set b (use :func:`repeat_for_columns`), and returns (B, 2**n, 2**n).
    """
    _check_complex_dtype(dtype)
    if n_qubits < 1:
        raise ValueError(f"n_qubits must be >= 1, got {n_qubits}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    dim = 1 << n_qubits
    eye = torch.eye(dim, dtype=dtype, device=device)
    if batch_size is None:
        out = circuit(eye)
        if out.shape != (dim, dim):
            raise ValueError(f"circuit returned shape {tuple(out.shape)}, expected ({dim}, {dim})")
        return out.transpose(0, 1)
    out = circuit(eye.repeat(batch_size, 1))
    if out.shape != (batch_size * dim, dim):
        raise ValueError(f"circuit returned shape {tuple(out.shape)}, expected ({batch_size * dim}, {dim})")
    return out.view(batch_size, dim, dim).transpose(1, 2)


def apply_unitary_density(rho: Tensor, unitary: Tensor) -> Tensor:
    """ρ -> U ρ U† for ρ (…, d, d) and U (…, d, d), batched with broadcasting."""
    if rho.ndim < 2 or rho.shape[-1] != rho.shape[-2]:
        raise ValueError(f"rho must have shape (..., d, d), got {tuple(rho.shape)}")
    if unitary.ndim < 2 or unitary.shape[-2:] != rho.shape[-2:]:
        raise ValueError(f"unitary must have shape (..., {rho.shape[-1]}, {rho.shape[-1]}), got {tuple(unitary.shape)}")
    dtype = torch.promote_types(rho.dtype, unitary.dtype)
    u = unitary.to(dtype)
    return u @ rho.to(dtype) @ u.conj().transpose(-1, -2)
