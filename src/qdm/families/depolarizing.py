"""The "depolarizing_qdm" family: the depolarizing-channel quantum diffusion model on density matrices.

jo2025qamp §1.3.5–1.3.8; the model, its options and the maths are in
:mod:`qdm.models.depolarizing`.  This module wires it to the one trainer and the runner:

* ``prepare_data``: the seeded target ensemble of pure states (``model.n_states``, d) complex128
  ("cluster" or "line"); ``cfg.data`` (image data) is not used;
* ``loss``: :func:`qdm.models.depolarizing.depolarizing_loss` ("final", jo2025qamp eq. 10, or "stepwise");
* ``sample``: the Family protocol (and the runner) want images (n, C, H, W) in [0, 1], so a sample is
  a generated quantum trajectory (:func:`qdm.models.depolarizing.sample_trajectories`, a pure state whose
  average over samples is ρ_gen) rendered as the heatmap |ρ_ab| (n, 1, d, d);
* ``evaluate``: the physics numbers, computed from the model's density matrices (not from the
  heatmaps): fidelity to the target ensemble (jo2025qamp eq. 10) and its upper bound λ_max(ρ̄), Uhlmann
  fidelity and trace distance to ρ̄, purity and entropy of ρ_gen, and the per-level lists along t;
* image metrics (FID/KID/SSIM) make no sense for d×d heatmaps: ``validate`` requires ``eval.metrics=()``.
"""

from __future__ import annotations

import torch
from torch import nn

from qdm.config import ExperimentConfig
from qdm.families.base import Family, register_family
from qdm.models.depolarizing import (
    DepolarizingQDM,
    DepolarizingQDMConfig,
    density_heatmaps,
    depolarizing_loss,
    fidelity_bound,
    report_along_t,
    sample_trajectories,
    target_states,
)

__all__ = [
    "FAMILY",
    "build_depol",
    "depol_describe",
    "depol_evaluate",
    "depol_loss",
    "depol_prepare_data",
    "depol_sample",
    "depol_parameter_counts",
    "depol_validate",
]


def build_depol(cfg: ExperimentConfig) -> DepolarizingQDM:
    """The reverse-process model (angles drawn from torch's global RNG, which the runner seeds)."""
    return DepolarizingQDM(cfg.model)


def depol_prepare_data(cfg: ExperimentConfig) -> torch.Tensor:
    """The target ensemble (n_states, d) complex128, seeded by ``model.target_seed`` (jo2025qamp eq. 10's |ψ⟩)."""
    return target_states(cfg.model)


def depol_loss(model: nn.Module, batch: torch.Tensor, cfg: ExperimentConfig, generator: torch.Generator) -> torch.Tensor:
    """jo2025qamp eq. 10 ("final") or the stepwise fidelity loss on a batch of target states (no noise is drawn)."""
    if not isinstance(model, DepolarizingQDM):
        raise ValueError(f"model must be a DepolarizingQDM, got {type(model).__name__}")
    return depolarizing_loss(model, batch)


def depol_sample(model: nn.Module, n: int, cfg: ExperimentConfig, generator: torch.Generator) -> torch.Tensor:
    """n generated trajectories (Born-sampled ancilla outcomes from ``generator``) as |ρ| heatmaps (n, 1, d, d) in [0, 1]."""
    if not isinstance(model, DepolarizingQDM):
        raise ValueError(f"model must be a DepolarizingQDM, got {type(model).__name__}")
    return density_heatmaps(sample_trajectories(model, n, generator))


def depol_evaluate(model: nn.Module, samples: torch.Tensor, cfg: ExperimentConfig) -> dict[str, object]:
    """Physics metrics of ρ_gen (from I/d) against the target ensemble; the heatmap ``samples`` are not used."""
    if not isinstance(model, DepolarizingQDM):
        raise ValueError(f"model must be a DepolarizingQDM, got {type(model).__name__}")
    psi = target_states(cfg.model)
    report = report_along_t(model, psi)
    d = cfg.model.dim
    return {
        "fidelity_to_target": float(report["fidelity"][0]),
        "fidelity_bound": fidelity_bound(psi),
        "fidelity_maximally_mixed": 1.0 / d,
        "uhlmann_fidelity_to_mean": float(report["fidelity_to_mean"][0]),
        "trace_distance_to_mean": float(report["trace_distance_to_mean"][0]),
        "purity": float(report["purity"][0]),
        "purity_maximally_mixed": 1.0 / d,
        "entropy_bits": float(report["entropy"][0]),
        "alpha_T": float(model.alpha[-1]),
        "circuit_parameters": float(sum(p.numel() for p in model.parameters())),
        "fidelity_along_t": [float(x) for x in report["fidelity"]],
        "purity_along_t": [float(x) for x in report["purity"]],
    }


def depol_validate(cfg: ExperimentConfig) -> None:
    """Cross-field checks: no image metrics (samples are d×d heatmaps), ``model`` a DepolarizingQDMConfig."""
    if cfg.eval.metrics:
        raise ValueError(
            "EvalConfig.metrics must be () for the depolarizing_qdm family (its samples are d×d density-matrix "
            f"heatmaps, not images; the physics metrics come from evaluate), got {cfg.eval.metrics}"
        )


def depol_describe(cfg: ExperimentConfig) -> str:
    """One paragraph: register, forward schedule, reverse channel, loss and target ensemble of an experiment."""
    m = cfg.model
    reverse = (
        f"{m.n_ancilla} ancilla qubit(s) measured and reset after each step (a CPTP, non-unitary channel)"
        if m.reverse == "ancilla"
        else "a unitary only (no ancilla: the spectrum, hence purity 1/d from I/d, cannot change)"
    )
    target = (
        f"a cluster of spread {m.spread} around a {m.center} state"
        if m.target == "cluster"
        else f"the line cos θ|0…0⟩ + sin θ|1…1⟩, θ in [{m.theta_min:.3g}, {m.theta_max:.3g}]"
    )
    return (
        f"Depolarizing QDM (jo2025qamp §1.3.5–1.3.8): {m.n_qubits} system qubits, {m.schedule} depolarizing schedule with "
        f"T={m.T} towards I/d; reverse steps are {m.n_layers}-layer {m.ansatz} circuits ({m.time_conditioning} "
        f"angles) with {reverse}; {m.loss} fidelity loss; target: {target} ({m.n_states} states, seed {m.target_seed})."
    )


def depol_parameter_counts(cfg: ExperimentConfig) -> dict[str, int]:
    """Trainable parameters of a fresh build: every one is a circuit angle ('quantum' = 'total', 'classical' = 0)."""
    with torch.random.fork_rng(devices=[]):
        n = sum(p.numel() for p in build_depol(cfg).parameters() if p.requires_grad)
    return {"quantum": int(n), "classical": 0, "total": int(n)}


FAMILY = register_family(
    Family(
        name="depolarizing_qdm",
        model_config_cls=DepolarizingQDMConfig,
        build=build_depol,
        loss=depol_loss,
        sample=depol_sample,
        prepare_data=depol_prepare_data,
        evaluate=depol_evaluate,
        describe=depol_describe,
        validate=depol_validate,
        parameter_counts=depol_parameter_counts,
    )
)
