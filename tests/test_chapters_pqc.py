"""qdm.chapters.pqc: chapter-03 knobs and experiment, count formulas, forward noising of states, per-step infidelity."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from qdm.chapters import pqc
from qdm.config import get_experiment
from qdm.models.pqc_denoiser import PQCDenoiser, PQCDenoiserConfig, circuit_parameter_count, normalise


def test_pqc_chapter_derives_the_register_from_the_image_size() -> None:
    chapter = pqc.pqc_chapter(image_size=16, layers_per_block=2, digits="3,5", ancilla="measure", reference_images=40)
    cfg = chapter.config
    assert cfg.model.n_qubits == 8 and cfg.model.image_size**2 == 2**cfg.model.n_qubits
    assert cfg.model.blocks == (2, 2, 2) and cfg.model.n_layers == 6 and cfg.model.ancilla == "measure"
    assert cfg.data.classes == (3, 5) and cfg.eval.metrics == ("ssim",) and cfg.eval.fid_real_images == 40
    assert cfg.experiment == pqc.BASE_EXPERIMENT and chapter.knobs.n_draws == 200
    # coupled fields are set together: neither order of two single overrides would give a valid config
    assert pqc.pqc_chapter(image_size=4).config.model.n_qubits == 4
    with pytest.raises(ValueError, match="^image_size must be a power of two"):
        pqc.pqc_chapter(image_size=12)
    with pytest.raises(ValueError, match=r"^digits must be a valid data.classes: DataConfig.classes must lie in 0..9"):
        pqc.pqc_chapter(digits="0,12")


@pytest.mark.parametrize("name", ["pqc-mnist", "pqc-latent-mnist", "pqc-cond-latent-mnist"])
def test_formula_count_matches_the_package(name: str) -> None:
    cfg = get_experiment(name).model
    text, value = pqc.formula_count(cfg)
    assert value == circuit_parameter_count(cfg)
    if name == "pqc-cond-latent-mnist":
        assert text == "15·7·3 + 20·8·3 + 15·7·3" and value == 1110  # the conditioned latent model of [cacioppo2023qdm]


def test_formula_count_time_conditionings() -> None:
    base = PQCDenoiserConfig(n_qubits=4, image_size=4, n_layers=2, T=5)
    for mode, factor in (("shared", 1), ("angle", 2), ("per_timestep", 5)):
        cfg = dataclasses.replace(base, time_conditioning=mode)
        text, value = pqc.formula_count(cfg)
        assert value == factor * 2 * 4 * 3 == circuit_parameter_count(PQCDenoiser(cfg))
    table = pqc.pqc_parameter_table({"a": base})
    assert table.loc[0, "formula value"] == table.loc[0, "parameters (package)"] == 5 * 24


def test_noised_fidelity_approx_limits() -> None:
    abar = torch.tensor([1.0, 0.0])
    for noise in ("real", "complex"):
        value = pqc.noised_fidelity_approx(abar, 16, noise)
        assert value[0] == 1.0 and value[1] == pytest.approx(1 / 16)  # clean state; pure noise: 1/d
    # complex noise has twice the power of real noise at the same alpha_bar
    mid = torch.tensor([0.9])
    assert pqc.noised_fidelity_approx(mid, 64, "complex") < pqc.noised_fidelity_approx(mid, 64, "real")
    with pytest.raises(ValueError, match="^noise must"):
        pqc.noised_fidelity_approx(mid, 4, "pink")


def test_noising_fidelity_frame_matches_monte_carlo_and_keeps_real_noise_real() -> None:
    cfg = PQCDenoiserConfig(n_qubits=6, image_size=8, T=4, schedule="linear", beta_start=0.01, beta_end=0.2)
    g = torch.Generator().manual_seed(0)
    x0 = normalise(torch.rand(6, 64, generator=g, dtype=torch.float64))
    frame = pqc.noising_fidelity_frame(x0, cfg, 300, g)
    assert (frame.loc[frame["t"] == 0, "fidelity"] - 1).abs().max() < 1e-12
    assert ((frame["fidelity"] - frame["approx"]).abs() < 0.02).all()  # O(1/d) approximation + MC error
    assert (frame.loc[frame["noise"] == "real", "imag_weight"] == 0).all()
    complex_t = frame[(frame["noise"] == "complex") & (frame["t"] == 4)]
    assert 0.3 < float(complex_t["imag_weight"].iloc[0]) < 0.6  # about half the weight goes imaginary


def test_noised_images_start_from_the_clean_digit() -> None:
    cfg = PQCDenoiserConfig(n_qubits=4, image_size=4, T=3)
    x0 = normalise(torch.rand(2, 16, dtype=torch.float64) + 0.1)
    images = pqc.noised_images(x0, cfg, [0, 3], "complex", torch.Generator().manual_seed(1))
    expected = (x0 / x0.amax(1, keepdim=True)).view(2, 1, 4, 4).float()
    assert torch.allclose(images[0], expected, atol=1e-6) and not torch.allclose(images[3], expected, atol=1e-2)
    with pytest.raises(ValueError, match="levels"):
        pqc.noised_images(x0, cfg, [4], "real", None)


def test_per_step_infidelity_identity_row_and_zero_angle_copy() -> None:
    cfg = PQCDenoiserConfig(n_qubits=4, image_size=4, n_layers=2, T=3, target="previous", noise="real")
    model = PQCDenoiser(cfg, torch.Generator().manual_seed(0))
    zero = pqc.with_zero_angles(model)
    assert all(float(p.detach().abs().max()) == 0 for p in zero.parameters())
    assert float(model.weights[0].detach().abs().max()) > 0
    x0 = normalise(torch.rand(200, 16, dtype=torch.float64) + 0.1)
    frame = pqc.per_step_infidelity(model, x0, torch.Generator().manual_seed(2))
    assert set(frame["t"]) == {1, 2, 3} and ((frame["infidelity"] >= -1e-12) & (frame["infidelity"] <= 1 + 1e-12)).all()
    # identity map: the target x_{t-1} and x_t differ by one forward step, so the identity's infidelity grows with
    # the noise added at t (constant beta: about the same at every t) and is well below a random state's 1 - 1/d
    ident = frame[frame["map"] == "identity (no denoising)"]["infidelity"]
    assert (ident > 0).all() and (ident < 1 - 1 / 16).all()
    with pytest.raises(ValueError, match="x0 must"):
        pqc.per_step_infidelity(model, x0[:, :8], None)
