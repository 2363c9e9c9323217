"""Audits of the PQC denoiser of [cacioppo2023qdm]'s conditioned latent model: label-block norms, ancilla statistics.

Pure functions asserted by ``tests/test_audits_pqc.py``: the label-block projection keeps states
normalised (:func:`label_block_norms`) and the randomly measured ancilla obeys the Born rule
(:func:`ancilla_measurement_check`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from qdm.models.pqc_denoiser import PQCDenoiser, apply_denoiser_circuit, normalise, sample_states

__all__ = ["AncillaCheck", "ancilla_measurement_check", "label_block_norms"]


@dataclass(frozen=True)
class AncillaCheck:
    """The random ancilla measurement of cacioppo2023qdm's code on one state, repeated ``shots`` times:
    Born probability vs frequency, norms."""

    p0: float
    frequency0: float
    z_score: float
    shots: int
    max_norm_error: float


def _random_states(n: int, dim: int, generator: torch.Generator | None) -> Tensor:
    """n normalised complex Gaussian states of dimension dim (complex128)."""
    z = torch.complex(torch.randn(n, dim, generator=generator, dtype=torch.float64),
                      torch.randn(n, dim, generator=generator, dtype=torch.float64))
    return normalise(z)


def label_block_norms(model: nn.Module, n: int = 8, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """(‖ψ‖ of n generated states after every label projection, label-block probabilities of one circuit pass)."""
    if not isinstance(model, PQCDenoiser) or not model.cfg.n_label_qubits:
        raise ValueError("model must be a PQCDenoiser with label qubits (n_label_qubits > 0)")
    labels = torch.arange(n) % min(10, 1 << model.cfg.n_label_qubits)
    states = sample_states(model, n, generator, labels)
    with torch.no_grad():
        probe = model.circuit(_random_states(n, model.cfg.state_dim, generator), 1, labels, generator)
    return torch.linalg.vector_norm(states, dim=1), probe.label_probability


def ancilla_measurement_check(
    model: nn.Module, shots: int = 4000, t: int = 1, label: int = 0, generator: torch.Generator | None = None
) -> AncillaCheck:
    """one random state through the circuit ``shots`` times; frequency of ancilla outcome 0 vs its Born probability p0.

    p0 comes from the same circuit with the ancilla post-selected (``sim.postselect`` returns ‖P₀ψ‖²); each
    measured shot reports the probability of its own outcome (p0 or 1 − p0), which identifies the outcome.
    z = (f0 − p0)/√(p0(1−p0)/shots) is ~N(0, 1) under the Born rule. Norms: max |‖ψ_out‖ − 1| over shots.
    """
    if not isinstance(model, PQCDenoiser) or model.cfg.ancilla != "measure":
        raise ValueError("model must be a PQCDenoiser with ancilla='measure' (the conditioned latent model)")
    if not isinstance(shots, int) or shots < 2:
        raise ValueError(f"shots must be an int >= 2, got {shots!r}")
    cfg = model.cfg
    state = _random_states(1, cfg.state_dim, generator)
    labels = torch.full((1,), label, dtype=torch.long) if cfg.n_label_qubits else None
    weights = [w.detach() for w in model.weights_for(t)]
    with torch.no_grad():
        p0 = float(
            apply_denoiser_circuit(state, weights, dataclasses.replace(cfg, ancilla="postselect"), labels).ancilla_probability[0]
        )
        many = state.expand(shots, -1).contiguous()
        many_labels = None if labels is None else labels.expand(shots).contiguous()
        out = apply_denoiser_circuit(many, weights, cfg, many_labels, generator)
    if abs(p0 - 0.5) < 1e-9:
        raise ValueError("p0 = 1/2 exactly: outcomes cannot be told apart by their probabilities; use another state")
    outcome0 = (out.ancilla_probability - p0).abs() < (out.ancilla_probability - (1 - p0)).abs()
    f0 = float(outcome0.double().mean())
    z = (f0 - p0) / math.sqrt(max(p0 * (1 - p0), 1e-300) / shots)
    norm_err = float((torch.linalg.vector_norm(out.state, dim=1) - 1).abs().max())
    return AncillaCheck(p0=p0, frequency0=f0, z_score=z, shots=shots, max_norm_error=norm_err)
