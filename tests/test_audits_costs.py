"""Preset costs (qdm.audits.costs): parameter counts and step timings."""

from __future__ import annotations

import math

import pytest

from qdm.audits.costs import preset_costs


def test_preset_costs_counts_parameters_and_times_steps(tmp_path, capsys):
    from qdm.cli import main

    table = preset_costs(
        ["cacioppo2023-cond-latent", "chen2025-classical"], backends=("torch", "pennylane"), n_steps=1, profile="smoke"
    )
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
