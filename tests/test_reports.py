"""qdm.reports: chapter parameters and configs, frames built from runs, and the physics checks behind chapters 02-04."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch

from qdm import provenance, reports
from qdm.config import EvalConfig, ExperimentConfig, TrainConfig, config_hash, get_experiment
from qdm.models.bottleneck import GateConfig
from qdm.models.depolarizing import DepolarizingQDM, DepolarizingQDMConfig, report_along_t, target_states
from qdm.models.pqc_denoiser import PQCDenoiser, PQCDenoiserConfig, circuit_parameter_count, normalise
from qdm.runner import JobOutcome, RunRecord, run_experiment

# ----------------------------------------------------------------------------------- parameters and configs


@pytest.mark.parametrize(
    ("cls", "name", "value"),
    [
        (reports.DepolChapterParams, "n_qubits", 5),
        (reports.DepolChapterParams, "loss", "kl"),
        (reports.DepolChapterParams, "lr", 0.0),
        (reports.DepolChapterParams, "results_dir", None),
        (reports.PQCChapterParams, "digits", "0,12"),
        (reports.PQCChapterParams, "digits", "1,1"),
        (reports.PQCChapterParams, "image_size", 4),
        (reports.PQCChapterParams, "noise", "pink"),
        (reports.HybridChapterParams, "variants", "quantum,tensor"),
        (reports.HybridChapterParams, "n_qubits", 17),
        (reports.HybridChapterParams, "ema_decay", 1.0),
        (reports.HybridChapterParams, "sample_steps", 2000),
        (reports.HybridChapterParams, "steps", True),
    ],
)
def test_chapter_params_reject_bad_values_naming_the_parameter(cls: type, name: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must"):
        cls(**{name: value})


def test_hybrid_params_cross_checks() -> None:
    with pytest.raises(ValueError, match="^sample_steps must equal T"):
        reports.HybridChapterParams(sampler="ddpm", T=50, sample_steps=10)
    with pytest.raises(ValueError, match="^fid_real_images must be >= n_samples"):
        reports.HybridChapterParams(n_samples=10, fid_real_images=5, ssim_pairing="index")
    p = reports.HybridChapterParams(variants=" matched , none", n_seeds=3)
    assert p.variant_list == ("matched", "none") and p.seeds == (0, 1, 2)


def test_depol_experiments_apply_the_chapter_values() -> None:
    p = reports.DepolChapterParams(n_qubits=3, n_ancilla=2, T=5, steps=7, lr=0.01, seed=4, target="line", loss="stepwise")
    cfgs = reports.depol_experiments(p)
    anc, uni = cfgs["ancilla"].model, cfgs["unitary"].model
    assert (anc.n_qubits, anc.n_ancilla, anc.reverse, anc.T, anc.target, anc.loss) == (3, 2, "ancilla", 5, "line", "stepwise")
    assert (uni.n_ancilla, uni.reverse) == (0, "unitary")
    assert cfgs["ancilla"].train.steps == 7 and cfgs["unitary"].train.seed == 4 and anc.target_seed == 4
    assert cfgs["ancilla"].experiment == "depolarizing-qdm" and cfgs["unitary"].experiment == "depolarizing-qdm-unitary"


def test_pqc_experiment_derives_the_register_from_the_image_size() -> None:
    cfg = reports.pqc_experiment(reports.PQCChapterParams(image_size=16, layers_per_block=2, digits="3,5", ancilla="measure"))
    assert cfg.model.n_qubits == 8 and cfg.model.image_size**2 == 2**cfg.model.n_qubits
    assert cfg.model.blocks == (2, 2, 2) and cfg.model.n_layers == 6 and cfg.model.ancilla == "measure"
    assert cfg.data.classes == (3, 5) and cfg.eval.metrics == ("ssim",)


def test_hybrid_experiments_one_config_per_variant_and_seed() -> None:
    p = reports.HybridChapterParams(variants="quantum,none", n_seeds=2, n_qubits=4, ema_decay=0.0, ansatz="ry_rz_chain")
    jobs = reports.hybrid_experiments(p)
    assert [(v, s) for v, s, _ in jobs] == [("quantum", 0), ("quantum", 1), ("none", 0), ("none", 1)]
    assert len({config_hash(c) for _, _, c in jobs}) == 4
    cfg = jobs[0][2]
    assert cfg.train.ema_decay is None and cfg.model.n_qubits == 4 and cfg.model.ansatz == "ry_rz_chain"
    assert cfg.eval.ssim_pairing == "index" and cfg.eval.metrics == ("ssim",)


def test_results_root_default_and_explicit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDM_RESULTS_DIR", str(tmp_path / "env"))
    assert reports.results_root("") == provenance.results_dir() == (tmp_path / "env").resolve()
    assert reports.results_root(str(tmp_path / "x")) == (tmp_path / "x").resolve()


# ----------------------------------------------------------------------------------- parameter counts


@pytest.mark.parametrize("name", ["pqc-mnist", "pqc-latent-mnist", "pqc-cond-latent-mnist"])
def test_formula_count_matches_the_package(name: str) -> None:
    cfg = get_experiment(name).model
    text, value = reports.formula_count(cfg)
    assert value == circuit_parameter_count(cfg)
    if name == "pqc-cond-latent-mnist":
        assert text == "15·7·3 + 20·8·3 + 15·7·3" and value == 1110  # papers.md A1


def test_formula_count_time_conditionings() -> None:
    base = PQCDenoiserConfig(n_qubits=4, image_size=4, n_layers=2, T=5)
    for mode, factor in (("shared", 1), ("angle", 2), ("per_timestep", 5)):
        cfg = dataclasses.replace(base, time_conditioning=mode)
        text, value = reports.formula_count(cfg)
        assert value == factor * 2 * 4 * 3 == circuit_parameter_count(PQCDenoiser(cfg))
    table = reports.pqc_parameter_table({"a": base})
    assert table.loc[0, "formula value"] == table.loc[0, "parameters (package)"] == 5 * 24


def test_parameter_table_parts_sum_and_twins() -> None:
    cfg = reports.hybrid_experiments(reports.HybridChapterParams(n_qubits=4, n_layers=2))[0][2]
    table = reports.parameter_table(reports.variant_models(cfg, ("none", "quantum", "classical", "matched"))).set_index("part")
    parts = table.drop(index="total")
    assert (parts.sum() == table.loc["total"]).all()
    assert table.loc["circuit", "quantum"] == table.loc["circuit", "matched"] == 2 * 4  # RZ weights: layers x qubits
    assert table.loc["circuit", "classical"] == 4 * 4 + 4  # tanh(Wz + c)
    assert table.loc["circuit", "none"] == 0 and table.loc["proj_in", "none"] == 0
    assert table.loc["total", "quantum"] - table.loc["total", "none"] == 128 * 4 + 4 + 4 * 128 + 128 + 8


# ----------------------------------------------------------------------------------- hybrid gate checks


def test_weight_independence_of_the_published_circuit_and_its_control() -> None:
    g = torch.Generator().manual_seed(3)
    pub = reports.weight_independence(GateConfig(n_qubits=5, n_layers=3, ansatz="rz_cnot"), 8, 3, g)
    assert pub["max_output_change"] < 1e-12 and pub["max_weight_gradient"] < 1e-12
    assert pub["closed_form_error"] < 1e-12 and pub["n_weights"] == 15
    ctl = reports.weight_independence(GateConfig(n_qubits=5, n_layers=3, ansatz="strongly_entangling"), 8, 3, g)
    assert ctl["max_output_change"] > 1e-2 and ctl["max_weight_gradient"] > 1e-2 and math.isnan(ctl["closed_form_error"])


def test_part_drift_finds_exactly_the_changed_part() -> None:
    cfg = reports.hybrid_experiments(reports.HybridChapterParams(n_qubits=3, n_layers=1))[0][2]
    initial = reports.initial_model(cfg)
    again = reports.initial_model(cfg)
    assert all(v == 0 for v in reports.part_drift(initial, again).values())  # the runner's build is reproducible
    with torch.no_grad():
        again.bottleneck.proj_out.bias[3] += 0.25
        again.dec1.weight[0, 0, 0, 0] -= 0.5
    drift = reports.part_drift(initial, again)
    assert drift["proj_out"] == pytest.approx(0.25) and drift["decoder"] == pytest.approx(0.5)
    assert all(v == 0 for k, v in drift.items() if k not in ("proj_out", "decoder"))
    with pytest.raises(ValueError, match="TinyUNet"):
        reports.part_drift(initial, torch.nn.Linear(2, 2))


# ----------------------------------------------------------------------------------- PQC state-space noising


def test_noised_fidelity_approx_limits() -> None:
    abar = torch.tensor([1.0, 0.0])
    for noise in ("real", "complex"):
        value = reports.noised_fidelity_approx(abar, 16, noise)
        assert value[0] == 1.0 and value[1] == pytest.approx(1 / 16)  # clean state; pure noise: 1/d
    # complex noise has twice the power of real noise at the same alpha_bar
    mid = torch.tensor([0.9])
    assert reports.noised_fidelity_approx(mid, 64, "complex") < reports.noised_fidelity_approx(mid, 64, "real")
    with pytest.raises(ValueError, match="^noise must"):
        reports.noised_fidelity_approx(mid, 4, "pink")


def test_noising_fidelity_frame_matches_monte_carlo_and_keeps_real_noise_real() -> None:
    cfg = PQCDenoiserConfig(n_qubits=6, image_size=8, T=4, schedule="linear", beta_start=0.01, beta_end=0.2)
    g = torch.Generator().manual_seed(0)
    x0 = normalise(torch.rand(6, 64, generator=g, dtype=torch.float64))
    frame = reports.noising_fidelity_frame(x0, cfg, 300, g)
    assert (frame.loc[frame["t"] == 0, "fidelity"] - 1).abs().max() < 1e-12
    assert ((frame["fidelity"] - frame["approx"]).abs() < 0.02).all()  # O(1/d) approximation + MC error
    assert (frame.loc[frame["noise"] == "real", "imag_weight"] == 0).all()
    complex_t = frame[(frame["noise"] == "complex") & (frame["t"] == 4)]
    assert 0.3 < float(complex_t["imag_weight"].iloc[0]) < 0.6  # about half the weight goes imaginary


def test_noised_images_start_from_the_clean_digit() -> None:
    cfg = PQCDenoiserConfig(n_qubits=4, image_size=4, T=3)
    x0 = normalise(torch.rand(2, 16, dtype=torch.float64) + 0.1)
    images = reports.noised_images(x0, cfg, [0, 3], "complex", torch.Generator().manual_seed(1))
    expected = (x0 / x0.amax(1, keepdim=True)).view(2, 1, 4, 4).float()
    assert torch.allclose(images[0], expected, atol=1e-6) and not torch.allclose(images[3], expected, atol=1e-2)
    with pytest.raises(ValueError, match="levels"):
        reports.noised_images(x0, cfg, [4], "real", None)


def test_per_step_infidelity_identity_row_and_zero_angle_copy() -> None:
    cfg = PQCDenoiserConfig(n_qubits=4, image_size=4, n_layers=2, T=3, target="previous", noise="real")
    model = PQCDenoiser(cfg, torch.Generator().manual_seed(0))
    zero = reports.with_zero_angles(model)
    assert all(float(p.detach().abs().max()) == 0 for p in zero.parameters())
    assert float(model.weights[0].detach().abs().max()) > 0
    x0 = normalise(torch.rand(200, 16, dtype=torch.float64) + 0.1)
    frame = reports.per_step_infidelity(model, x0, torch.Generator().manual_seed(2))
    assert set(frame["t"]) == {1, 2, 3} and ((frame["infidelity"] >= -1e-12) & (frame["infidelity"] <= 1 + 1e-12)).all()
    # identity map: the target x_{t-1} and x_t differ by one forward step, so the identity's infidelity grows with
    # the noise added at t (constant beta: about the same at every t) and is well below a random state's 1 - 1/d
    ident = frame[frame["map"] == "identity (no denoising)"]["infidelity"]
    assert (ident > 0).all() and (ident < 1 - 1 / 16).all()
    with pytest.raises(ValueError, match="x0 must"):
        reports.per_step_infidelity(model, x0[:, :8], None)


# ----------------------------------------------------------------------------------- depolarizing frames


def test_along_t_frame_forward_closed_form_and_shared_forward() -> None:
    cfg = DepolarizingQDMConfig(n_qubits=1, n_ancilla=1, T=4, n_states=8)
    models = {"a": DepolarizingQDM(cfg, torch.Generator().manual_seed(0)),
              "u": DepolarizingQDM(dataclasses.replace(cfg, reverse="unitary", n_ancilla=0), torch.Generator().manual_seed(0))}
    psi = target_states(cfg)
    frame = reports.along_t_frame({k: report_along_t(m, psi) for k, m in models.items()})
    fwd = frame[(frame["process"] == "forward") & (frame["measure"] == "fidelity to target")]
    assert list(fwd["model"].unique()) == ["all"] and len(fwd) == cfg.T + 1
    alpha = torch.cat([torch.ones(1, dtype=torch.float64), models["a"].alpha])
    assert torch.allclose(torch.tensor(fwd["value"].to_numpy()), alpha + (1 - alpha) / 2, atol=1e-12)
    uni = frame[(frame["model"] == "u") & (frame["measure"] == "purity")]["value"]
    assert (uni - 0.5).abs().max() < 1e-12  # a unitary chain from I/2 stays at purity 1/d
    reports.plot_along_t(frame, bound=0.9, d=2).clf()
    plt.close("all")


# ----------------------------------------------------------------------------------- runs, summaries, verdicts


def _tiny_depol(tmp_path: Path, seed: int = 0) -> RunRecord:
    base = get_experiment("depolarizing-qdm")
    cfg = dataclasses.replace(
        base,
        model=dataclasses.replace(base.model, n_qubits=1, T=2, n_layers=1, n_states=4),
        train=TrainConfig(steps=3, batch_size=4, lr=0.1, seed=seed, checkpoint_every=None),
        eval=EvalConfig(n_samples=2, metrics=()),
    )
    return run_experiment(cfg, results_root=tmp_path, progress=False)


def test_models_and_samples_of_a_finished_run(tmp_path: Path) -> None:
    record = _tiny_depol(tmp_path)
    trained = reports.load_trained_model(record)
    initial = reports.initial_model(record.config)
    assert not trained.training
    assert not torch.equal(trained.weights, initial.weights)  # three Adam steps moved the angles
    assert torch.equal(reports.initial_model(record.config).weights, initial.weights)
    samples = reports.run_samples(record)
    assert samples.shape == (2, 1, 2, 2) and float(samples.min()) >= 0
    untrained = reports.sample_untrained(record.config, 3)
    assert untrained.shape == (3, 1, 2, 2)
    ok = JobOutcome(record.config.experiment, record.config_hash, str(record.run_dir), True, False, {})
    assert reports.outcome_records([ok])[0].config_hash == record.config_hash
    bad = dataclasses.replace(ok, ok=False, error="ValueError: boom")
    with pytest.raises(RuntimeError, match="1 run.*boom"):
        reports.outcome_records([ok, bad])


def test_loss_and_metrics_frames(tmp_path: Path) -> None:
    r0, r1 = _tiny_depol(tmp_path, 0), _tiny_depol(tmp_path, 1)
    frame = reports.loss_frame({"anc": [r0, r1]}, window=2)
    first = frame[frame["seed"] == 0]
    assert list(first["step"]) == [1, 2, 3] and list(first["loss"]) == list(r0.losses)
    assert first["loss (smoothed)"].iloc[2] == pytest.approx((r0.losses[1] + r0.losses[2]) / 2)
    metrics = reports.metrics_frame({"anc": [r0, r1]}, ["fidelity_to_target", "absent"])
    assert list(metrics["seed"]) == [0, 1] and metrics["absent"].isna().all()
    assert metrics["fidelity_to_target"].iloc[1] == r1.metrics["fidelity_to_target"]
    reports.plot_loss_curves(frame).clf()
    plt.close("all")
    with pytest.raises(ValueError, match="runs"):
        reports.loss_frame({"anc": r0}, window=1)


def _summary(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"label": k, "seed": i, "fid": v} for k, vs in values.items() for i, v in enumerate(vs)]
    return reports.seed_summary(pd.DataFrame(rows), ["fid"])


def test_seed_summary_and_verdict_wording() -> None:
    summary = _summary({"quantum": [10.0, 14.0], "classical": [11.0, 12.0]})
    row = summary.set_index("label").loc["quantum"]
    assert (row["n_seeds"], row["fid mean"], row["fid min"], row["fid max"]) == (2, 12.0, 10.0, 14.0)
    text = reports.verdict(summary, "fid", lower_is_better=True, name="FID")
    assert "best mean is the classical variant's (11.5" in text and "does not win" in text and "overlap" in text
    wins = reports.verdict(_summary({"quantum": [1.0, 2.0], "classical": [5.0, 6.0]}), "fid", lower_is_better=True)
    assert "quantum variant wins" in wins and "do not overlap" in wins
    higher = reports.verdict(_summary({"quantum": [1.0, 2.0], "classical": [5.0, 6.0]}), "fid", lower_is_better=False)
    assert "best mean is the classical" in higher
    assert "No quantum variant" in reports.verdict(_summary({"none": [1.0]}), "fid", True)
    with pytest.raises(ValueError, match="missing column"):
        reports.verdict(summary, "ssim", True)


def test_ssim_and_fid_tables_on_identical_sets() -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.rand(3, 1, 28, 28, generator=g)
    other = torch.rand(3, 1, 28, 28, generator=g).pow(4)
    ssim = reports.ssim_table({"same": real, "other": other}, real, "skimage", "index").set_index("label")
    assert ssim.loc["same", "ssim"] == pytest.approx(1.0) and ssim.loc["other", "ssim"] < 0.9
    assert ssim.loc["same", "convention"] == "skimage" and ssim.loc["same", "n_real"] == 3
    fid = reports.fid_table({"same": real, "other": other}, real).set_index("label")
    assert abs(fid.loc["same", "fid"]) < 1e-3 and fid.loc["other", "fid"] > 1.0
    assert (fid["n_generated"] == 3).all() and (fid["n_real"] == 3).all()
    with pytest.raises(ValueError, match="n >= 2"):
        reports.fid_table({"one": real[:1]}, real)


def test_plot_image_rows_checks_its_input() -> None:
    fig = reports.plot_image_rows({"a": torch.rand(3, 1, 4, 4), "rgb": torch.rand(2, 3, 4, 4)}, col_titles=["x", "y", "z"])
    assert len(fig.axes) == 6
    plt.close(fig)
    with pytest.raises(ValueError, match="col_titles"):
        reports.plot_image_rows({"a": torch.rand(2, 1, 4, 4)}, col_titles=["only one"])
    with pytest.raises(ValueError, match="rows"):
        reports.plot_image_rows({"a": torch.rand(2, 2, 4, 4)})


def test_preset_configs_filter_by_family() -> None:
    pqc = reports.preset_configs("pqc_denoiser")
    assert all(isinstance(c, ExperimentConfig) and c.family == "pqc_denoiser" for c in pqc.values())
    if "cacioppo2023-cond-latent" in pqc:
        assert circuit_parameter_count(pqc["cacioppo2023-cond-latent"].model) == 1110
    with pytest.raises(ValueError, match="family"):
        reports.preset_configs("no-such-family")
