"""Density matrices, the depolarizing channel and quantum distances in torch (jo2025qamp §1.3.5-1.3.8).

Conventions
-----------
* n qubits live in dimension d = 2**n. Density matrices have shape ``(..., d, d)``, state vectors
  ``(..., d)``; every leading dimension is a batch dimension and broadcasts between arguments.
* Qubit 0 is the most significant bit of a basis index (PennyLane's wire order): the basis state
  |q_0 q_1 ... q_{n-1}> has index sum_k q_k 2**(n-1-k), so ``kron(rho_A, rho_B)`` puts A on the first
  qubits, and ancillas appended by :func:`embed_ancilla` are the last (least significant) qubits.
* complex128 by default, complex64 accepted everywhere (mixed inputs promote as in torch). Real
  results (fidelities, distances, entropies) come back in the matching real dtype.
* Arguments are checked for type, shape and range before any work (``ValueError`` naming the
  parameter). The costlier density-matrix properties (Hermitian, unit trace, PSD) are checked only
  by :func:`check_density` / :func:`is_density`.
* Gradients: spectral functions (fidelity, entropy, trace distance) differentiate through Hermitian
  eigenvalues. In the fidelity, eigenvalues below 2 d eps times the largest are round-off and are set to exactly zero
  (their square roots would add ~sqrt(eps) noise and infinite derivatives), which keeps values
  accurate to ~1e-12 and gradients through pure states finite and correct.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from qdm.schedules import constant_betas, cosine_betas, linear_betas
from qdm.validation import check_int

__all__ = [
    "DEFAULT_DTYPE",
    "apply_unitary",
    "check_density",
    "depolarize",
    "depolarize_closed_form",
    "depolarize_trajectory",
    "depolarizing_alpha",
    "depolarizing_schedule",
    "embed_ancilla",
    "fidelity",
    "hilbert_schmidt_distance",
    "is_density",
    "is_unitary",
    "kraus_apply",
    "maximally_mixed",
    "measure_reset_ancilla",
    "partial_trace",
    "postselect_ancilla",
    "pure_density",
    "pure_overlap",
    "purity",
    "random_density",
    "random_pure_state",
    "random_unitary",
    "state_fidelity",
    "trace_distance",
    "von_neumann_entropy",
]

DEFAULT_DTYPE: torch.dtype = torch.complex128
_COMPLEX_DTYPES = (torch.complex64, torch.complex128)
_REAL_OF = {torch.complex64: torch.float32, torch.complex128: torch.float64}
# Default validation tolerances (|error| allowed in checks) per dtype.
_ATOL = {torch.complex64: 1e-4, torch.complex128: 1e-8}

ScheduleKind = Literal["linear", "cosine", "constant"]


# --------------------------------------------------------------------------------------------
# argument checks (private)
# --------------------------------------------------------------------------------------------


def _check_dtype(dtype: object) -> torch.dtype:
    """A supported complex dtype, or a ValueError."""
    if dtype not in _COMPLEX_DTYPES:
        raise ValueError(f"dtype must be torch.complex64 or torch.complex128, got {dtype!r}")
    return dtype  # type: ignore[return-value]


def _check_batch(batch: object) -> tuple[int, ...]:
    """A batch shape: a tuple of non-negative ints (an int is read as a 1-d batch)."""
    if isinstance(batch, int) and not isinstance(batch, bool):
        batch = (batch,)
    if not isinstance(batch, (tuple, list, torch.Size)):
        raise ValueError(f"batch must be a tuple of non-negative ints, got {batch!r}")
    return tuple(check_int(b, "batch entries", 0) for b in batch)


def _check_generator(generator: object) -> torch.Generator | None:
    """None or a torch.Generator."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def _check_tensor(x: object, name: str) -> Tensor:
    """A complex64/complex128 tensor, or a ValueError naming the parameter."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in _COMPLEX_DTYPES:
        raise ValueError(f"{name} must have dtype torch.complex64 or torch.complex128, got {x.dtype}")
    return x


def _check_matrix(x: object, name: str) -> Tensor:
    """A complex tensor of shape (..., d, d) with d >= 1."""
    t = _check_tensor(x, name)
    if t.ndim < 2 or t.shape[-1] != t.shape[-2] or t.shape[-1] == 0:
        raise ValueError(f"{name} must have shape (..., d, d) with d >= 1, got {tuple(t.shape)}")
    return t


def _check_vector(x: object, name: str) -> Tensor:
    """A complex tensor of shape (..., d) with d >= 1."""
    t = _check_tensor(x, name)
    if t.ndim < 1 or t.shape[-1] == 0:
        raise ValueError(f"{name} must have shape (..., d) with d >= 1, got {tuple(t.shape)}")
    return t


def _broadcast_batch(a: Sequence[int], b: Sequence[int], names: str) -> torch.Size:
    """Broadcast two batch shapes, or a ValueError naming both parameters."""
    try:
        return torch.broadcast_shapes(tuple(a), tuple(b))
    except RuntimeError:
        raise ValueError(f"{names}: batch shapes {tuple(a)} and {tuple(b)} do not broadcast") from None


def _check_pair(x: object, y: object, name_x: str, name_y: str, kind: str = "matrix") -> tuple[Tensor, Tensor]:
    """Two matrices (or vectors) of the same dimension with broadcastable batches, promoted to one dtype."""
    check = _check_matrix if kind == "matrix" else _check_vector
    a, b = check(x, name_x), check(y, name_y)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"{name_x} and {name_y} must have the same dimension d, got {a.shape[-1]} and {b.shape[-1]}")
    core = 2 if kind == "matrix" else 1
    _broadcast_batch(a.shape[:-core], b.shape[:-core], f"{name_x} and {name_y}")
    dtype = torch.promote_types(a.dtype, b.dtype)
    return a.to(dtype), b.to(dtype)


def _n_qubits_of(d: int, name: str) -> int:
    """n with d = 2**n, or a ValueError."""
    n = d.bit_length() - 1
    if d != 1 << n:
        raise ValueError(f"{name} must have a dimension d = 2**n (qubits), got d = {d}")
    return n


def _atol(atol: float | None, dtype: torch.dtype) -> float:
    """The given tolerance, or the default one for dtype."""
    if atol is None:
        return _ATOL[dtype]
    if not isinstance(atol, (int, float)) or isinstance(atol, bool) or not atol >= 0:
        raise ValueError(f"atol must be a non-negative float or None, got {atol!r}")
    return float(atol)


def _probabilities(p: object, name: str, dtype: torch.dtype, device: torch.device) -> Tensor:
    """A real tensor with every entry in [0, 1] (float, sequence or tensor), or a ValueError."""
    if isinstance(p, Tensor):
        if p.is_complex():
            raise ValueError(f"{name} must be real, got dtype {p.dtype}")
        t = p.to(dtype=dtype, device=device)
    else:
        try:
            t = torch.as_tensor(p, dtype=dtype, device=device)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"{name} must be a real number or a real tensor, got {p!r}") from None
    with torch.no_grad():
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} must be finite, got {t}")
        if t.numel() and (bool((t < 0).any()) or bool((t > 1).any())):
            raise ValueError(
                f"{name} must lie in [0, 1], got values in [{float(t.min()):.6g}, {float(t.max()):.6g}]"
            )
    return t


def _hermitize(a: Tensor) -> Tensor:
    """(A + A^dagger) / 2."""
    return 0.5 * (a + a.mH)


def _sqrt_eigenvalues(values: Tensor) -> Tensor:
    """sqrt(lambda) of Hermitian eigenvalues (..., d); those <= 2 d eps max(lambda) are round-off and give exactly 0.

    The square root of round-off would add ~sqrt(eps) noise to the value and an infinite derivative.
    """
    d = values.shape[-1]
    rel = 2.0 * d * torch.finfo(values.dtype).eps
    tol = rel * values.detach().amax(-1, keepdim=True).clamp_min(0)
    live = values > tol
    safe = torch.where(live, values, torch.ones_like(values))
    return torch.where(live, safe.sqrt(), torch.zeros_like(values))


def _trace(a: Tensor) -> Tensor:
    """Batched trace of (..., d, d)."""
    return torch.diagonal(a, dim1=-2, dim2=-1).sum(-1)


# --------------------------------------------------------------------------------------------
# constructors and validity
# --------------------------------------------------------------------------------------------


def pure_density(psi: Tensor, normalize: bool = True, atol: float | None = None) -> Tensor:
    """Seed eq. 10 target: rho = |psi><psi| (normalises psi, or with normalize=False checks ||psi|| = 1)."""
    psi = _check_vector(psi, "psi")
    tol = _atol(atol, psi.dtype)
    norm = torch.linalg.vector_norm(psi, dim=-1, keepdim=True)
    with torch.no_grad():
        if bool((norm == 0).any()):
            raise ValueError("psi must be non-zero (a zero vector cannot be normalised)")
        if not normalize and bool(((norm - 1).abs() > tol).any()):
            raise ValueError(f"psi must have unit norm when normalize=False, got norms up to {float(norm.max()):.6g}")
    if normalize:
        psi = psi / norm
    return psi[..., :, None] * psi.conj()[..., None, :]


def random_pure_state(
    n_qubits: int,
    generator: torch.Generator | None = None,
    batch: Sequence[int] = (),
    dtype: torch.dtype = DEFAULT_DTYPE,
    device: torch.device | str | None = None,
) -> Tensor:
    """Haar-random pure state |psi> of shape (*batch, 2**n): a normalised complex Gaussian vector (Mezzadri 2007)."""
    n = check_int(n_qubits, "n_qubits", 1)
    shape = _check_batch(batch)
    dtype = _check_dtype(dtype)
    z = torch.randn(*shape, 2**n, dtype=dtype, generator=_check_generator(generator), device=device)
    return z / torch.linalg.vector_norm(z, dim=-1, keepdim=True)


def random_density(
    n_qubits: int,
    generator: torch.Generator | None = None,
    rank: int | None = None,
    batch: Sequence[int] = (),
    dtype: torch.dtype = DEFAULT_DTYPE,
    device: torch.device | str | None = None,
) -> Tensor:
    """Random state G G^dagger / tr(G G^dagger), G a d x rank Ginibre matrix (Hilbert-Schmidt measure at rank = d)."""
    n = check_int(n_qubits, "n_qubits", 1)
    d = 2**n
    r = d if rank is None else check_int(rank, "rank", 1)
    if r > d:
        raise ValueError(f"rank must be in [1, 2**n_qubits = {d}], got {r}")
    shape = _check_batch(batch)
    dtype = _check_dtype(dtype)
    g = torch.randn(*shape, d, r, dtype=dtype, generator=_check_generator(generator), device=device)
    w = g @ g.mH
    return w / _trace(w)[..., None, None]


def random_unitary(
    n_qubits: int,
    generator: torch.Generator | None = None,
    batch: Sequence[int] = (),
    dtype: torch.dtype = DEFAULT_DTYPE,
    device: torch.device | str | None = None,
) -> Tensor:
    """Haar-random unitary: QR of a Ginibre matrix with the phases of diag(R) divided out (Mezzadri 2007, §5)."""
    n = check_int(n_qubits, "n_qubits", 1)
    shape = _check_batch(batch)
    dtype = _check_dtype(dtype)
    z = torch.randn(*shape, 2**n, 2**n, dtype=dtype, generator=_check_generator(generator), device=device)
    q, r = torch.linalg.qr(z)
    diag = torch.diagonal(r, dim1=-2, dim2=-1)
    return (q * (diag / diag.abs())[..., None, :]).contiguous()


def maximally_mixed(
    n_qubits: int, dtype: torch.dtype = DEFAULT_DTYPE, device: torch.device | str | None = None
) -> Tensor:
    """Seed §1.3.6: the maximally mixed state I/d, the fixed point of the depolarizing channel."""
    n = check_int(n_qubits, "n_qubits", 0)
    dtype = _check_dtype(dtype)
    d = 2**n
    return torch.eye(d, dtype=dtype, device=device) / d


def check_density(rho: Tensor, atol: float | None = None) -> None:
    """Raise ValueError naming the failed property unless every rho in the batch is Hermitian, trace 1 and PSD."""
    rho = _check_matrix(rho, "rho")
    tol = _atol(atol, rho.dtype)
    if rho.numel() == 0:
        return
    with torch.no_grad():
        if not bool(torch.isfinite(torch.view_as_real(rho)).all()):
            raise ValueError("rho is not a density matrix: it contains NaN or inf")
        herm_err = float((rho - rho.mH).abs().amax())
        if herm_err > tol:
            raise ValueError(f"rho is not Hermitian: max |rho - rho^dagger| = {herm_err:.3g} > atol = {tol:.3g}")
        trace_err = float((_trace(rho) - 1).abs().amax())
        if trace_err > tol:
            raise ValueError(f"rho does not have trace 1: max |tr(rho) - 1| = {trace_err:.3g} > atol = {tol:.3g}")
        min_eig = float(torch.linalg.eigvalsh(_hermitize(rho)).amin())
        if min_eig < -tol:
            raise ValueError(
                f"rho is not positive semidefinite: smallest eigenvalue {min_eig:.3g} < -atol = {-tol:.3g}"
            )


def is_density(rho: Tensor, atol: float | None = None) -> bool:
    """True when check_density(rho, atol) passes: Hermitian, unit trace, PSD (every batch element)."""
    try:
        check_density(rho, atol)
    except ValueError:
        return False
    return True


def is_unitary(U: Tensor, atol: float | None = None) -> bool:
    """True when U is square and U^dagger U = I within atol (every batch element)."""
    if not isinstance(U, Tensor) or U.dtype not in _COMPLEX_DTYPES:
        return False
    if U.ndim < 2 or U.shape[-1] != U.shape[-2] or U.shape[-1] == 0:
        return False
    tol = _atol(atol, U.dtype)
    with torch.no_grad():
        eye = torch.eye(U.shape[-1], dtype=U.dtype, device=U.device)
        return bool(((U.mH @ U - eye).abs() <= tol).all())


# --------------------------------------------------------------------------------------------
# depolarizing channel
# --------------------------------------------------------------------------------------------


def _mix_with_identity(rho: Tensor, weight: Tensor, name: str) -> Tensor:
    """weight * rho + (1 - weight) * I/d with weight broadcast over the batch of rho."""
    _broadcast_batch(weight.shape, rho.shape[:-2], f"{name} and rho")
    d = rho.shape[-1]
    eye = torch.eye(d, dtype=rho.dtype, device=rho.device) / d
    w = weight[..., None, None]
    return w * rho + (1 - w) * eye


def depolarize(rho: Tensor, p: float | Tensor) -> Tensor:
    """Seed eq. 7: one depolarizing step (1 - p) rho + p I/d, p in [0, 1] (a tensor p broadcasts over the batch)."""
    rho = _check_matrix(rho, "rho")
    p_t = _probabilities(p, "p", _REAL_OF[rho.dtype], rho.device)
    return _mix_with_identity(rho, 1 - p_t, "p")


def depolarizing_alpha(p_schedule: Sequence[float] | Tensor) -> Tensor:
    """Seed eq. 8: alpha_t = prod_{s<=t} (1 - p_s) along the last axis; entry t-1 is alpha_t (t = 1..T)."""
    dtype = p_schedule.dtype if isinstance(p_schedule, Tensor) and p_schedule.is_floating_point() else torch.float64
    device = p_schedule.device if isinstance(p_schedule, Tensor) else None
    p = _probabilities(p_schedule, "p_schedule", dtype, device)
    if p.ndim < 1 or p.shape[-1] == 0:
        raise ValueError(f"p_schedule must have shape (..., T) with T >= 1, got {tuple(p.shape)}")
    return torch.cumprod(1 - p, dim=-1)


def depolarize_closed_form(rho0: Tensor, alpha: float | Tensor) -> Tensor:
    """Seed eq. 8: rho_t = alpha_t rho_0 + (1 - alpha_t) I/d, alpha in [0, 1] broadcast over the batch."""
    rho0 = _check_matrix(rho0, "rho0")
    a = _probabilities(alpha, "alpha", _REAL_OF[rho0.dtype], rho0.device)
    return _mix_with_identity(rho0, a, "alpha")


def depolarize_trajectory(rho0: Tensor, p_schedule: Sequence[float] | Tensor) -> Tensor:
    """Seed eq. 7 applied step by step: returns rho_0, rho_1, ..., rho_T stacked on a new leading axis (length T + 1).

    ``p_schedule`` has shape (T,) or (T, *batch) with its trailing shape broadcasting over rho0's batch.
    """
    rho0 = _check_matrix(rho0, "rho0")
    p = _probabilities(p_schedule, "p_schedule", _REAL_OF[rho0.dtype], rho0.device)
    if p.ndim < 1 or p.shape[0] == 0:
        raise ValueError(f"p_schedule must have shape (T, ...) with T >= 1, got {tuple(p.shape)}")
    batch = _broadcast_batch(p.shape[1:], rho0.shape[:-2], "p_schedule and rho0")
    d = rho0.shape[-1]
    states = [rho0.expand(*batch, d, d)]
    for p_t in p:
        states.append(_mix_with_identity(states[-1], 1 - p_t, "p_schedule"))
    return torch.stack(states)


def depolarizing_schedule(
    T: int,
    kind: ScheduleKind = "linear",
    *,
    p_start: float = 1e-4,
    p_end: float = 0.02,
    p: float = 0.1,
    s: float = 0.008,
    max_p: float = 0.999,
) -> Tensor:
    """Depolarizing probabilities p_1..p_T (float64, shape (T,)) for jo2025qamp eq. 7.

    * ``linear``: p_t evenly spaced from ``p_start`` to ``p_end`` (Ho et al. 2020's beta range by default).
    * ``cosine``: p_t = 1 - abar_t / abar_{t-1}, abar_t = f(t)/f(0), f(t) = cos^2(((t/T + s)/(1 + s)) pi/2),
      clipped to ``max_p`` (Nichol & Dhariwal 2021, eq. 17); then alpha_t of jo2025qamp eq. 8 equals abar_t.
    * ``constant``: p_t = ``p`` (so alpha_t = (1 - p)^t).
    """
    steps = check_int(T, "T", 1)
    for name, value in (("p_start", p_start), ("p_end", p_end), ("p", p), ("max_p", max_p)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a float in [0, 1], got {value!r}")
    if not isinstance(s, (int, float)) or isinstance(s, bool) or not 0 <= s < math.inf:
        raise ValueError(f"s must be a finite float >= 0, got {s!r}")
    if kind == "linear":
        return linear_betas(steps, p_start, p_end)
    if kind == "constant":
        return constant_betas(steps, p)
    if kind == "cosine":
        return cosine_betas(steps, s, max_p, 0.0)
    raise ValueError(f"kind must be 'linear', 'cosine' or 'constant', got {kind!r}")


# --------------------------------------------------------------------------------------------
# measures
# --------------------------------------------------------------------------------------------


def fidelity(rho: Tensor, sigma: Tensor) -> Tensor:
    """Seed §1.3.8: Uhlmann fidelity F = (tr sqrt(sqrt(rho) sigma sqrt(rho)))^2, in [0, 1], symmetric.

    Computed as (sum_k sqrt(mu_k))^2 with mu the eigenvalues of D V^dagger sigma V D, where
    rho = V diag(lambda) V^dagger and D = diag(sqrt(lambda)); tiny negative eigenvalues are clamped.
    The eigenvectors of only one argument are used: sigma's when only rho needs a gradient, else
    rho's. Gradients are exact (also through pure states) when that argument needs no gradient;
    when both do, the decomposed one must have a non-degenerate spectrum. Accuracy: ~1e-13 in
    complex128; in complex64 ~1e-6 when one state is pure, but only ~sqrt(eps) ~ 1e-3 for two
    close full-rank states (square roots of eigenvalues near round-off).
    """
    rho, sigma = _check_pair(rho, sigma, "rho", "sigma")
    if rho.requires_grad and not sigma.requires_grad:
        rho, sigma = sigma, rho
    lam, vecs = torch.linalg.eigh(_hermitize(rho))
    sqrt_lam = _sqrt_eigenvalues(lam).to(rho.dtype)
    s = vecs.mH @ sigma @ vecs
    m = sqrt_lam[..., :, None] * s * sqrt_lam[..., None, :]
    mu = torch.linalg.eigvalsh(_hermitize(m))
    return _sqrt_eigenvalues(mu).sum(-1) ** 2


def pure_overlap(psi: Tensor, rho: Tensor, atol: float | None = None) -> Tensor:
    """Seed eq. 10: <psi|rho|psi> (= F(|psi><psi|, rho)) for a unit vector psi."""
    psi = _check_vector(psi, "psi")
    rho = _check_matrix(rho, "rho")
    if psi.shape[-1] != rho.shape[-1]:
        raise ValueError(f"psi and rho must have the same dimension d, got {psi.shape[-1]} and {rho.shape[-1]}")
    _broadcast_batch(psi.shape[:-1], rho.shape[:-2], "psi and rho")
    dtype = torch.promote_types(psi.dtype, rho.dtype)
    psi, rho = psi.to(dtype), rho.to(dtype)
    _check_unit_norm(psi, "psi", _atol(atol, dtype))
    return torch.einsum("...i,...ij,...j->...", psi.conj(), rho, psi).real


def _check_unit_norm(psi: Tensor, name: str, tol: float) -> None:
    """ValueError unless every vector has norm 1 within tol."""
    with torch.no_grad():
        err = (torch.linalg.vector_norm(psi, dim=-1) - 1).abs()
        if err.numel() and float(err.amax()) > tol:
            worst = float(err.amax())
            raise ValueError(f"{name} must have unit norm, got |norm - 1| up to {worst:.3g} > atol = {tol:.3g}")


def state_fidelity(psi: Tensor, phi: Tensor, atol: float | None = None) -> Tensor:
    """Pure-state fidelity |<psi|phi>|^2 for unit vectors (the infidelity loss of Cacioppo et al., cacioppo2023qdm)."""
    psi, phi = _check_pair(psi, phi, "psi", "phi", kind="vector")
    tol = _atol(atol, psi.dtype)
    _check_unit_norm(psi, "psi", tol)
    _check_unit_norm(phi, "phi", tol)
    return (psi.conj() * phi).sum(-1).abs() ** 2


def trace_distance(rho: Tensor, sigma: Tensor) -> Tensor:
    """T(rho, sigma) = 1/2 ||rho - sigma||_1 = 1/2 sum_k |eigenvalue_k(rho - sigma)|."""
    rho, sigma = _check_pair(rho, sigma, "rho", "sigma")
    return 0.5 * torch.linalg.eigvalsh(_hermitize(rho - sigma)).abs().sum(-1)


def hilbert_schmidt_distance(rho: Tensor, sigma: Tensor, squared: bool = False) -> Tensor:
    """Seed §1.3.8: ||rho - sigma||_2 = sqrt(tr (rho - sigma)^2) (Frobenius); squared=True gives tr (rho - sigma)^2."""
    rho, sigma = _check_pair(rho, sigma, "rho", "sigma")
    if squared:
        return ((rho - sigma).abs() ** 2).sum((-2, -1))
    return torch.linalg.matrix_norm(rho - sigma, ord="fro")


def purity(rho: Tensor) -> Tensor:
    """Purity tr(rho^2): 1 for pure states, 1/d for I/d."""
    rho = _check_matrix(rho, "rho")
    return torch.einsum("...ij,...ji->...", rho, rho).real


def von_neumann_entropy(rho: Tensor) -> Tensor:
    """S(rho) = -tr(rho log2 rho) in bits, from the eigenvalues (0 log 0 = 0; tiny negative eigenvalues clamped)."""
    rho = _check_matrix(rho, "rho")
    lam = torch.linalg.eigvalsh(_hermitize(rho))
    live = lam > 0
    safe = torch.where(live, lam, torch.ones_like(lam))
    return -torch.where(live, lam * torch.log2(safe), torch.zeros_like(lam)).sum(-1)


# --------------------------------------------------------------------------------------------
# operations
# --------------------------------------------------------------------------------------------


def apply_unitary(rho: Tensor, U: Tensor, validate: bool = True, atol: float | None = None) -> Tensor:
    """Seed eq. 9: U rho U^dagger, batched (U and rho broadcast); validate=True checks U^dagger U = I first."""
    rho, U = _check_pair(rho, U, "rho", "U")
    if validate and not is_unitary(U, atol):
        with torch.no_grad():
            eye = torch.eye(U.shape[-1], dtype=U.dtype, device=U.device)
            err = float((U.mH @ U - eye).abs().amax())
        raise ValueError(f"U must be unitary: max |U^dagger U - I| = {err:.3g}")
    return U @ rho @ U.mH


def partial_trace(rho: Tensor, keep: Sequence[int], n_qubits: int) -> Tensor:
    """Reduced state tr_{not keep}(rho) on the qubits ``keep`` (output in that order); qubit 0 = most significant bit."""
    rho = _check_matrix(rho, "rho")
    n = check_int(n_qubits, "n_qubits", 1)
    if rho.shape[-1] != 2**n:
        raise ValueError(f"rho must have dimension 2**n_qubits = {2**n}, got {rho.shape[-1]}")
    if isinstance(keep, (str, bytes)) or not isinstance(keep, Sequence):
        raise ValueError(f"keep must be a sequence of qubit indices, got {keep!r}")
    kept = tuple(check_int(q, "keep entries", 0) for q in keep)
    if any(q >= n for q in kept) or len(set(kept)) != len(kept):
        raise ValueError(f"keep must hold distinct qubit indices in [0, {n - 1}], got {list(keep)}")
    traced = tuple(q for q in range(n) if q not in kept)
    batch = rho.shape[:-2]
    nb = len(batch)
    x = rho.reshape(*batch, *([2] * (2 * n)))
    order = kept + traced
    perm = list(range(nb)) + [nb + q for q in order] + [nb + n + q for q in order]
    dk, dt = 2 ** len(kept), 2 ** len(traced)
    x = x.permute(perm).reshape(*batch, dk, dt, dk, dt)
    return torch.einsum("...atbt->...ab", x)


def embed_ancilla(rho: Tensor, n_ancilla: int) -> Tensor:
    """Seed §1.3.7 (ancillas for non-unitary maps): rho ⊗ |0..0><0..0|, the ancillas being the last qubits."""
    rho = _check_matrix(rho, "rho")
    k = check_int(n_ancilla, "n_ancilla", 0)
    da = 2**k
    ground = torch.zeros(da, da, dtype=rho.dtype, device=rho.device)
    ground[0, 0] = 1
    d = rho.shape[-1]
    joint = rho[..., :, None, :, None] * ground[:, None, :]
    return joint.reshape(*rho.shape[:-2], d * da, d * da)


def _system_ancilla_blocks(rho: Tensor, n_system: int, n_ancilla: int) -> Tensor:
    """rho on n_system + n_ancilla qubits (ancillas last) viewed as (..., d_s, d_a, d_s, d_a)."""
    rho = _check_matrix(rho, "rho")
    ns = check_int(n_system, "n_system", 1)
    na = check_int(n_ancilla, "n_ancilla", 0)
    if rho.shape[-1] != 2 ** (ns + na):
        raise ValueError(
            f"rho must have dimension 2**(n_system + n_ancilla) = {2 ** (ns + na)}, got {rho.shape[-1]}"
        )
    return rho.reshape(*rho.shape[:-2], 2**ns, 2**na, 2**ns, 2**na)


def measure_reset_ancilla(rho: Tensor, n_system: int, n_ancilla: int) -> Tensor:
    """Seed §1.3.7: measure the last n_ancilla qubits in the computational basis and discard them.

    Averaged over outcomes this CPTP map, sum_k (I ⊗ <k|) rho (I ⊗ |k>), is the partial trace over the ancillas.
    """
    blocks = _system_ancilla_blocks(rho, n_system, n_ancilla)
    return torch.einsum("...iaja->...ij", blocks)


def postselect_ancilla(rho: Tensor, n_system: int, n_ancilla: int, outcome: int = 0) -> tuple[Tensor, Tensor]:
    """cacioppo2023qdm's follow-up code (post-select the ancilla): system state given ancilla outcome |k>,
    and the probability of k.

    Returns ((I ⊗ <k|) rho (I ⊗ |k>) / p_k, p_k); a non-linear, trace-decreasing-then-renormalised map.
    """
    blocks = _system_ancilla_blocks(rho, n_system, n_ancilla)
    k = check_int(outcome, "outcome", 0)
    if k >= blocks.shape[-1]:
        raise ValueError(f"outcome must be in [0, 2**n_ancilla - 1 = {blocks.shape[-1] - 1}], got {k}")
    block = blocks[..., :, k, :, k]
    prob = _trace(block).real
    with torch.no_grad():
        if bool((prob <= 0).any()):
            raise ValueError(f"outcome {k} has probability 0 for some state in rho; cannot post-select on it")
    return block / prob[..., None, None], prob


def kraus_apply(
    rho: Tensor, kraus_ops: Tensor | Sequence[Tensor], validate: bool = True, atol: float | None = None
) -> Tensor:
    """Kraus form sum_k K_k rho K_k^dagger, K_k of shape (d_out, d_in); validate checks sum_k K_k^dagger K_k = I."""
    rho = _check_matrix(rho, "rho")
    if isinstance(kraus_ops, Tensor):
        ops = kraus_ops
    elif isinstance(kraus_ops, Sequence) and len(kraus_ops) > 0 and all(isinstance(k, Tensor) for k in kraus_ops):
        if len({tuple(k.shape) for k in kraus_ops}) != 1:
            raise ValueError("kraus_ops must all have the same shape (d_out, d_in)")
        ops = torch.stack(list(kraus_ops))
    else:
        raise ValueError("kraus_ops must be a tensor of shape (k, d_out, d_in) or a non-empty sequence of tensors")
    ops = _check_tensor(ops, "kraus_ops")
    if ops.ndim != 3 or ops.shape[0] == 0 or ops.shape[-1] != rho.shape[-1]:
        raise ValueError(
            f"kraus_ops must have shape (k >= 1, d_out, d_in = {rho.shape[-1]}), got {tuple(ops.shape)}"
        )
    dtype = torch.promote_types(rho.dtype, ops.dtype)
    rho, ops = rho.to(dtype), ops.to(dtype)
    if validate:
        tol = _atol(atol, dtype)
        with torch.no_grad():
            eye = torch.eye(ops.shape[-1], dtype=dtype, device=ops.device)
            err = float((torch.einsum("kai,kaj->ij", ops.conj(), ops) - eye).abs().amax())
        if err > tol:
            raise ValueError(
                "kraus_ops must be trace preserving, sum_k K_k^dagger K_k = I: "
                f"max deviation {err:.3g} > atol = {tol:.3g}"
            )
    return torch.einsum("kab,...bc,kdc->...ad", ops, rho, ops.conj())
