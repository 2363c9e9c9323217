"""PQC-denoiser audits (qdm.audits.pqc): label-block norms and the Born rule of the measured ancilla."""

from __future__ import annotations

import math

import pytest
import torch

from qdm.audits.pqc import ancilla_measurement_check, label_block_norms
from qdm.models.pqc_denoiser import PQCDenoiser, circuit_parameter_count
from qdm.presets import get_preset


@pytest.fixture(scope="module")
def a1_model():
    torch.manual_seed(9)
    model = PQCDenoiser(get_preset("cacioppo2023-cond-latent").model)
    return model.eval()


def test_a1_has_1110_parameters_and_normalised_label_projections(a1_model):
    assert circuit_parameter_count(a1_model) == 1110
    norms, label_p = label_block_norms(a1_model, 10, torch.Generator().manual_seed(10))
    assert (norms - 1).abs().max() < 1e-12
    assert bool(((label_p > 0) & (label_p < 1)).all())  # a real projection: the label block is not the whole state


def test_a1_ancilla_measurement_follows_the_born_rule(a1_model):
    check = ancilla_measurement_check(a1_model, shots=4000, t=3, label=7, generator=torch.Generator().manual_seed(11))
    assert 0.05 < check.p0 < 0.95  # a genuinely random outcome
    assert abs(check.z_score) < 5 and check.max_norm_error < 1e-12
    assert abs(check.frequency0 - check.p0) < 5 * math.sqrt(check.p0 * (1 - check.p0) / check.shots)
    with pytest.raises(ValueError, match="ancilla='measure'"):
        ancilla_measurement_check(PQCDenoiser(get_preset("cacioppo2025-full").model), shots=10)
