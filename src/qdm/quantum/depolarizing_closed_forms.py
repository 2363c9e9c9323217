"""Closed forms along a depolarizing trajectory, and the swap that moves a state's entropy into ancillas.

The depolarizing channel ρ ↦ (1 − p)ρ + p I/d ([nielsen2010qcqi] §8.3.4, the channel of the forward
process in [jo2025qamp] §1.3.5) composes to ρ_t = α_t ρ_0 + (1 − α_t) I/d with α_t = Π_{s≤t}(1 − p_s)
(:func:`qdm.quantum.density.depolarize_closed_form`). Because I/d commutes with everything and
tr ρ = 1, the measures of chapter 01 follow in closed form:

* purity tr ρ_t² = α_t² (tr ρ_0² − 1/d) + 1/d (:func:`depolarized_purity`);
* trace distance ½‖ρ_t − I/d‖₁ = α_t · ½‖ρ_0 − I/d‖₁ (:func:`depolarized_trace_distance_to_mixed`);
* fidelity of a pure ρ_0 = |ψ⟩⟨ψ| with ρ_t: ⟨ψ|ρ_t|ψ⟩ = α_t + (1 − α_t)/d (:func:`depolarized_pure_fidelity`).

:func:`fuchs_van_de_graaf_margins` gives the two slacks of 1 − √F ≤ T ≤ √(1 − F)
([nielsen2010qcqi] §9.2.3, with F the squared fidelity used here), and :func:`swap_to_ancilla` the
simplest entropy-removing dilation: append n ancillas in |0⟩, swap each system qubit with its
ancilla (three CNOTs), and look at both halves.
"""

from __future__ import annotations

import torch
from torch import Tensor

from qdm.quantum.density import embed_ancilla, partial_trace
from qdm.quantum.sim import cnot_permutation

__all__ = [
    "depolarized_pure_fidelity",
    "depolarized_purity",
    "depolarized_trace_distance_to_mixed",
    "fuchs_van_de_graaf_margins",
    "swap_to_ancilla",
]


def _alpha(alpha: float | Tensor) -> Tensor:
    """α as a float64 tensor with entries in [0, 1]."""
    a = torch.as_tensor(alpha, dtype=torch.float64)
    if not torch.isfinite(a).all() or bool((a < 0).any()) or bool((a > 1).any()):
        raise ValueError("alpha must hold numbers in [0, 1] (α_t = Π(1 − p_s))")
    return a


def _dimension(d: int) -> int:
    """A Hilbert-space dimension d >= 2."""
    if isinstance(d, bool) or not isinstance(d, int) or d < 2:
        raise ValueError(f"d must be an integer >= 2 (2**n_qubits), got {d!r}")
    return d


def depolarized_purity(purity0: float | Tensor, alpha: float | Tensor, d: int) -> Tensor:
    """tr ρ_t² = α² (tr ρ_0² − 1/d) + 1/d for ρ_t = αρ_0 + (1 − α)I/d ([nielsen2010qcqi] §8.3.4); broadcasts."""
    d = _dimension(d)
    p0 = torch.as_tensor(purity0, dtype=torch.float64)
    if bool((p0 < 1 / d - 1e-12).any()) or bool((p0 > 1 + 1e-12).any()):
        raise ValueError(f"purity0 must lie in [1/d, 1] = [{1 / d:.4g}, 1]")
    a = _alpha(alpha)
    return a**2 * (p0 - 1 / d) + 1 / d


def depolarized_trace_distance_to_mixed(distance0: float | Tensor, alpha: float | Tensor) -> Tensor:
    """½‖ρ_t − I/d‖₁ = α · ½‖ρ_0 − I/d‖₁, since ρ_t − I/d = α(ρ_0 − I/d) ([nielsen2010qcqi] §9.2.1); broadcasts."""
    t0 = torch.as_tensor(distance0, dtype=torch.float64)
    if bool((t0 < 0).any()) or bool((t0 > 1).any()):
        raise ValueError("distance0 must lie in [0, 1]")
    return _alpha(alpha) * t0


def depolarized_pure_fidelity(alpha: float | Tensor, d: int) -> Tensor:
    """⟨ψ|ρ_t|ψ⟩ = α + (1 − α)/d for ρ_0 = |ψ⟩⟨ψ| ([nielsen2010qcqi] §8.3.4); broadcasts over α."""
    d = _dimension(d)
    a = _alpha(alpha)
    return a + (1 - a) / d


def fuchs_van_de_graaf_margins(fidelity: Tensor, distance: Tensor) -> tuple[Tensor, Tensor]:
    """The slacks (T − (1 − √F), √(1 − F) − T) of 1 − √F ≤ T ≤ √(1 − F) ([nielsen2010qcqi] §9.2.3); both ≥ 0.

    ``fidelity`` is F(ρ, σ) = (tr√(√ρ σ √ρ))² and ``distance`` T(ρ, σ) = ½‖ρ − σ‖₁, same shape.
    """
    f = torch.as_tensor(fidelity, dtype=torch.float64)
    t = torch.as_tensor(distance, dtype=torch.float64)
    if f.shape != t.shape:
        raise ValueError(f"fidelity and distance must have the same shape, got {tuple(f.shape)} and {tuple(t.shape)}")
    if bool((f < -1e-12).any()) or bool((f > 1 + 1e-9).any()):
        raise ValueError("fidelity must lie in [0, 1]")
    f = f.clamp(0, 1)
    return t - (1 - f.sqrt()), (1 - f).sqrt() - t


def swap_to_ancilla(rho: Tensor, n_qubits: int) -> tuple[Tensor, Tensor]:
    """(system, ancillas) after ρ ⊗ |0…0⟩⟨0…0| and a SWAP of system qubit q with ancilla q (CNOTs q→a, a→q, q→a).

    Exactly: the system ends in |0…0⟩⟨0…0| (purity 1, entropy 0) and the ancillas hold ρ, so its entropy
    has moved out of the system ([nielsen2010qcqi] §8.2.3, a unitary on system + environment, then a
    partial trace). Qubit 0 is the most significant bit; the ancillas are qubits n … 2n − 1.
    """
    if isinstance(n_qubits, bool) or not isinstance(n_qubits, int) or n_qubits < 1:
        raise ValueError(f"n_qubits must be an integer >= 1, got {n_qubits!r}")
    if not isinstance(rho, Tensor) or rho.shape[-2:] != (2**n_qubits, 2**n_qubits):
        raise ValueError(f"rho must be a ({2**n_qubits}, {2**n_qubits}) density matrix, got {getattr(rho, 'shape', rho)!r}")
    n, n_joint = n_qubits, 2 * n_qubits
    swap_cnots = [pair for q in range(n) for pair in ((q, n + q), (n + q, q), (q, n + q))]
    src = cnot_permutation(n_joint, swap_cnots)
    joint = embed_ancilla(rho, n)[..., src, :][..., :, src]
    return partial_trace(joint, list(range(n)), n_joint), partial_trace(joint, list(range(n, n_joint)), n_joint)
