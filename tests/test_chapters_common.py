"""qdm.chapters.common: results folder, tidy frames of runs, seed summaries, verdicts, generic figures."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch

from qdm import provenance, runner
from qdm.chapters import common
from qdm.config import EvalConfig, ExperimentConfig, TrainConfig, get_experiment
from qdm.models.pqc_denoiser import circuit_parameter_count
from qdm.runner import JobOutcome, RunRecord, run_experiment


def _tiny_depol(tmp_path: Path, seed: int = 0) -> RunRecord:
    base = get_experiment("depolarizing-qdm")
    cfg = dataclasses.replace(
        base,
        model=dataclasses.replace(base.model, n_qubits=1, T=2, n_layers=1, n_states=4),
        train=TrainConfig(steps=3, batch_size=4, lr=0.1, seed=seed, checkpoint_every=None),
        eval=EvalConfig(n_samples=2, metrics=()),
    )
    return run_experiment(cfg, results_root=tmp_path, progress=False)


def _summary(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"label": k, "seed": i, "fid": v} for k, vs in values.items() for i, v in enumerate(vs)]
    return common.seed_summary(pd.DataFrame(rows), ["fid"])


def test_results_root_default_and_explicit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDM_RESULTS_DIR", str(tmp_path / "env"))
    assert common.results_root("") == provenance.results_dir() == (tmp_path / "env").resolve()
    assert common.results_root(str(tmp_path / "x")) == (tmp_path / "x").resolve()


def test_models_and_samples_of_a_finished_run(tmp_path: Path) -> None:
    record = _tiny_depol(tmp_path)
    trained = runner.load_trained_model(record)
    initial = runner.initial_model(record.config)
    assert not trained.training
    assert not torch.equal(trained.weights, initial.weights)  # three Adam steps moved the angles
    assert torch.equal(runner.initial_model(record.config).weights, initial.weights)
    samples = runner.run_samples(record)
    assert samples.shape == (2, 1, 2, 2) and float(samples.min()) >= 0
    untrained = common.sample_untrained(record.config, 3)
    assert untrained.shape == (3, 1, 2, 2)
    ok = JobOutcome(record.config.experiment, record.config_hash, str(record.run_dir), True, False, {})
    assert runner.outcome_records([ok])[0].config_hash == record.config_hash
    bad = dataclasses.replace(ok, ok=False, error="ValueError: boom")
    with pytest.raises(RuntimeError, match="1 run.*boom"):
        runner.outcome_records([ok, bad])


def test_loss_and_metrics_frames(tmp_path: Path) -> None:
    r0, r1 = _tiny_depol(tmp_path, 0), _tiny_depol(tmp_path, 1)
    frame = common.loss_frame({"anc": [r0, r1]}, window=2)
    first = frame[frame["seed"] == 0]
    assert list(first["step"]) == [1, 2, 3] and list(first["loss"]) == list(r0.losses)
    assert first["loss (smoothed)"].iloc[2] == pytest.approx((r0.losses[1] + r0.losses[2]) / 2)
    metrics = common.metrics_frame({"anc": [r0, r1]}, ["fidelity_to_target", "absent"])
    assert list(metrics["seed"]) == [0, 1] and metrics["absent"].isna().all()
    assert metrics["fidelity_to_target"].iloc[1] == r1.metrics["fidelity_to_target"]
    common.plot_loss_curves(frame).clf()
    plt.close("all")
    with pytest.raises(ValueError, match="runs"):
        common.loss_frame({"anc": r0}, window=1)


def test_seed_summary_and_verdict_wording() -> None:
    summary = _summary({"quantum": [10.0, 14.0], "classical": [11.0, 12.0]})
    row = summary.set_index("label").loc["quantum"]
    assert (row["n_seeds"], row["fid mean"], row["fid min"], row["fid max"]) == (2, 12.0, 10.0, 14.0)
    text = common.verdict(summary, "fid", lower_is_better=True, name="FID")
    assert "best mean is the classical variant's (11.5" in text and "does not win" in text and "overlap" in text
    wins = common.verdict(_summary({"quantum": [1.0, 2.0], "classical": [5.0, 6.0]}), "fid", lower_is_better=True)
    assert "quantum variant wins" in wins and "do not overlap" in wins
    higher = common.verdict(_summary({"quantum": [1.0, 2.0], "classical": [5.0, 6.0]}), "fid", lower_is_better=False)
    assert "best mean is the classical" in higher
    assert "No quantum variant" in common.verdict(_summary({"none": [1.0]}), "fid", True)
    with pytest.raises(ValueError, match="missing column"):
        common.verdict(summary, "ssim", True)


def test_ssim_and_fid_tables_on_identical_sets() -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.rand(3, 1, 28, 28, generator=g)
    other = torch.rand(3, 1, 28, 28, generator=g).pow(4)
    ssim = common.ssim_table({"same": real, "other": other}, real, "skimage", "index").set_index("label")
    assert ssim.loc["same", "ssim"] == pytest.approx(1.0) and ssim.loc["other", "ssim"] < 0.9
    assert ssim.loc["same", "convention"] == "skimage" and ssim.loc["same", "n_real"] == 3
    fid = common.fid_table({"same": real, "other": other}, real).set_index("label")
    assert abs(fid.loc["same", "fid"]) < 1e-3 and fid.loc["other", "fid"] > 1.0
    assert (fid["n_generated"] == 3).all() and (fid["n_real"] == 3).all()
    with pytest.raises(ValueError, match="n >= 2"):
        common.fid_table({"one": real[:1]}, real)


def test_plot_image_rows_checks_its_input() -> None:
    fig = common.plot_image_rows({"a": torch.rand(3, 1, 4, 4), "rgb": torch.rand(2, 3, 4, 4)}, col_titles=["x", "y", "z"])
    assert len(fig.axes) == 6
    plt.close(fig)
    with pytest.raises(ValueError, match="col_titles"):
        common.plot_image_rows({"a": torch.rand(2, 1, 4, 4)}, col_titles=["only one"])
    with pytest.raises(ValueError, match="rows"):
        common.plot_image_rows({"a": torch.rand(2, 2, 4, 4)})


def test_preset_configs_filter_by_family() -> None:
    pqc = common.preset_configs("pqc_denoiser")
    assert all(isinstance(c, ExperimentConfig) and c.family == "pqc_denoiser" for c in pqc.values())
    if "cacioppo2023-cond-latent" in pqc:
        assert circuit_parameter_count(pqc["cacioppo2023-cond-latent"].model) == 1110
    with pytest.raises(ValueError, match="family"):
        common.preset_configs("no-such-family")
