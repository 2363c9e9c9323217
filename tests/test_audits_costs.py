"""Preset costs (qdm.audits.costs): parameter counts and step timings."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from qdm.audits.chen2025 import audit_chen2025, audit_slug, chen2025_audit_configs
from qdm.audits.circuits import (
    circuit_weight_gradient,
    closed_form_deviation,
    dead_weight_mask,
    proj_in_gradient_norm,
    weight_effect,
)
from qdm.audits.costs import preset_costs
from qdm.audits.pqc import ancilla_measurement_check, label_block_norms
from qdm.config import DataConfig
from qdm.protocols import (
    chen2025_protocol,
    estimator_bias_table,
    kid_with_se,
    qdm_protocol,
    quantise_uint8,
    reference_images,
    reference_note,
    summarize_seeds,
)
from qdm.circuits import AngleEmbedding, QuantumLayer, StronglyEntangling, TrainableRYRZChain, zexpval_wire_sets
from qdm.config import apply_overrides, from_dict
from qdm.data import load_dataset
from qdm.families import get_family
from qdm.families.hybrid import build_hybrid
from qdm.metrics import fid_from_features, mmd2_unbiased
from qdm.circuits import RYCNOTChain
from qdm.models.pqc_denoiser import PQCDenoiser, circuit_parameter_count
from qdm.presets import get_preset
from qdm.runner import run_experiment


def test_preset_costs_counts_parameters_and_times_steps(tmp_path, capsys):
    from qdm.cli import main

    table = preset_costs(["cacioppo2023-cond-latent", "chen2025-classical"], backends=("torch", "pennylane"), n_steps=1, profile="smoke")
    rows = table.set_index(["preset", "backend"])
    assert rows.loc[("cacioppo2023-cond-latent", "torch"), "params_circuit"] == 1110
    assert rows.loc[("chen2025-classical", "torch"), "params_circuit"] == 0
    assert rows.loc[("chen2025-classical", "torch"), "params_total"] > 400_000
    assert rows.loc[("cacioppo2023-cond-latent", "pennylane"), "s_per_step"] > 0
    assert math.isnan(rows.loc[("chen2025-classical", "pennylane"), "s_per_step"])  # no circuit: timed once
    with pytest.raises(ValueError, match="registered presets"):
        preset_costs(["chen2026"])
    assert main(["audit", "presets", "--backends", "qiskit"]) == 2
    assert "--backends" in capsys.readouterr().err
