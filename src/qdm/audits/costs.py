"""Costs of the presets: trainable parameters and wall seconds per optimisation step, per circuit backend.

:func:`time_training_steps` times a config's step; :func:`parameter_counts` counts a config's trainable
parameters (the families' ``parameter_counts`` hook replaces it once every family carries one);
:func:`preset_costs` tabulates both for the registered presets (``qdm audit presets``).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import Tensor

from qdm.config import ExperimentConfig, apply_overrides
from qdm.families import get_family
from qdm.presets import PRESETS, get_preset

__all__ = ["StepTiming", "parameter_counts", "preset_costs", "time_training_steps"]


@dataclass(frozen=True)
class StepTiming:
    """Median wall seconds of one optimisation step (after one warm-up step) for a backend and batch."""

    backend: str
    batch_size: int
    seconds_per_step: float
    n_steps: int


def time_training_steps(cfg: ExperimentConfig, n_steps: int = 2, backend: str | None = None) -> StepTiming:
    """Wall time of ``n_steps`` optimisation steps (forward, backward, Adam) of ``cfg``'s model,
    optionally on another circuit backend."""
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be an int >= 1, got {n_steps!r}")
    if backend is not None:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, backend=backend))
    family = get_family(cfg.family)
    torch.manual_seed(cfg.train.seed)
    model = family.build(cfg)
    data = family.prepare_data(cfg)
    batch = (data[: cfg.train.batch_size] if isinstance(data, Tensor) else tuple(d[: cfg.train.batch_size] for d in data))
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.train.lr)
    generator = torch.Generator().manual_seed(cfg.train.seed)
    times = []
    for _ in range(n_steps + 1):
        t0 = time.perf_counter()
        optimiser.zero_grad(set_to_none=True)
        family.loss(model, batch, cfg, generator).backward()
        optimiser.step()
        times.append(time.perf_counter() - t0)
    size = batch.shape[0] if isinstance(batch, Tensor) else batch[0].shape[0]
    return StepTiming(getattr(cfg.model, "backend", "n/a"), int(size), statistics.median(times[1:]), n_steps)


def parameter_counts(cfg: ExperimentConfig) -> tuple[int, int]:
    """(trainable circuit parameters, all trainable parameters) of ``cfg``'s model, autoencoder excluded:
    the family's ``parameter_counts`` hook ("quantum", "total")."""
    counts = get_family(cfg.family).parameter_counts(cfg)
    return int(counts["quantum"]), int(counts["total"])


def preset_costs(
    names: Sequence[str] | None = None,
    backends: Sequence[str] = ("torch", "pennylane"),
    n_steps: int = 2,
    profile: str = "paper",
) -> pd.DataFrame:
    """Per preset and circuit backend: qubits, circuit and total trainable parameters, batch, and seconds per
    optimisation step (:func:`time_training_steps`) at the preset's batch size. A latent model's autoencoder
    is trained 1 step for this (its cost is not the step's). Returns a pandas DataFrame."""
    names = sorted(PRESETS) if names is None else list(names)
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        raise ValueError(f"names must be registered presets ({', '.join(sorted(PRESETS))}), got {unknown}")
    bad = [b for b in backends if b not in ("torch", "pennylane")]
    if bad:
        raise ValueError(f"backends must be 'torch' and/or 'pennylane', got {bad}")
    rows = []
    for name in names:
        cfg = get_preset(name, profile)
        if getattr(cfg.model, "latent", False):
            cfg = apply_overrides(cfg, ["model.autoencoder.train_steps=1"])
        n_circuit, n_total = parameter_counts(cfg)
        quantum = getattr(cfg.model, "bottleneck", "quantum") == "quantum"
        for i, backend in enumerate(backends):
            # a model without a circuit runs the same code on every backend: timed once
            timing = time_training_steps(cfg, n_steps, backend) if quantum or i == 0 else None
            rows.append({
                "preset": name, "family": cfg.family, "n_qubits": getattr(cfg.model, "n_qubits", 0),
                "ansatz": getattr(cfg.model, "ansatz", ""), "params_circuit": n_circuit, "params_total": n_total,
                "batch": timing.batch_size if timing else cfg.train.batch_size, "backend": backend,
                "s_per_step": timing.seconds_per_step if timing else math.nan, "command": f"qdm run {name} profile=cpu",
            })
    return pd.DataFrame(rows)
