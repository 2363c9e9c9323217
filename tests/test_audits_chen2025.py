"""The chen2025 audit (qdm.audits.chen2025): configs, the run-folder round trip, and an end-to-end tiny audit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from qdm.audits.chen2025 import audit_chen2025, audit_slug, chen2025_audit_configs
from qdm.config import apply_overrides, from_dict
from qdm.data import load_dataset
from qdm.families import get_family
from qdm.presets import get_preset
from qdm.runner import run_experiment


def _pixel_features(images: torch.Tensor) -> torch.Tensor:
    """A cheap stand-in for Inception: the pixels (float in [0, 1]) as float64 features."""
    assert images.is_floating_point() and images.shape[1] in (1, 3)
    return images.flatten(1).to(torch.float64)


@pytest.mark.parametrize(
    ("preset", "overrides"),
    [
        ("chen2025", ["steps=1", "batch_size=2", "images_per_class=4", "n_samples=1", "eval.sample_steps=1"]),
        ("cacioppo2023-cond-latent", ["steps=8", "batch_size=4", "images_per_class=2", "n_samples=2",
                                      "model.autoencoder.train_steps=1", "model.autoencoder.train_batch_size=4"]),
    ],
)
def test_resolved_config_round_trips_through_the_run_folder(tmp_path, data_dir, preset, overrides):
    cfg = apply_overrides(get_preset(preset, "smoke"),
                          ["eval.metrics=()", *overrides, f"data.data_dir={data_dir}", "checkpoint_every=none"])
    record = run_experiment(cfg, results_root=tmp_path, progress=False)
    loaded = from_dict(json.loads((record.run_dir / "config.json").read_text()))
    assert loaded == cfg and loaded.preset == f"{preset}@smoke"
    family = get_family(cfg.family)
    torch.manual_seed(0)
    a = family.build(cfg)
    torch.manual_seed(1)
    b = family.build(loaded)
    assert a.state_dict().keys() == b.state_dict().keys()
    assert sum(p.numel() for p in a.parameters()) == sum(p.numel() for p in b.parameters())
    saved = torch.load(record.run_dir / "checkpoint.pt", weights_only=False)
    b.load_state_dict(saved["model"])  # strict: the checkpoint fits the rebuilt model exactly


def test_audit_configs_take_overrides_for_other_digits_and_all_images():
    cfgs = chen2025_audit_configs([0, 1], "cpu", overrides=["data.classes=6", "data.images_per_class=null"])
    assert len(cfgs) == 8 and {c.data.classes for c in cfgs} == {(6,)}
    assert {c.data.images_per_class for c in cfgs} == {None} and [c.train.seed for c in cfgs[:2]] == [0, 1]
    assert {c.preset for c in cfgs} == {
        f"{v}@cpu" for v in ("chen2025", "chen2025-trainable", "chen2025-classical", "chen2025-matched")
    }
    assert audit_slug("mnist", "cpu", ["data.classes=6"]) == "chen2025-mnist-cpu-data.classes=6"
    with pytest.raises(ValueError, match="train.seed"):
        chen2025_audit_configs([0], "cpu", overrides=["train.seed=3"])
    with pytest.raises(ValueError, match="classes"):
        chen2025_audit_configs([0], "cpu", overrides=["data.classes=x"])


def test_audit_runs_end_to_end_on_another_digit(tmp_path, data_dir):
    """Four variants x one seed on digit 6 (tiny budget, pixel features instead of Inception): both protocols filled in."""
    report = audit_chen2025(
        seeds=(0,),
        profile="smoke",
        results_root=tmp_path,
        workers=1,
        time_backends=("torch",),
        time_steps=1,
        features=_pixel_features,
        overrides=["data.classes=6", "train.steps=2", "eval.n_samples=6", "eval.sample_steps=2"],
    )
    runs = report.runs
    assert list(runs.variant) == ["chen2025", "chen2025-trainable", "chen2025-classical", "chen2025-matched"]
    assert (runs.n_generated == 6).all() and np.isfinite(runs[["chen_fid", "qdm_fid", "qdm_kid", "qdm_ssim"]].to_numpy()).all()
    assert list(runs.params_circuit[:2]) == [48, 48] and runs.params_circuit[2] == 0
    assert runs.published_fid.isna().all()  # the published numbers are for digit 0, not digit 6
    assert (
        report.paths["markdown"].parent.name
        == "chen2025-mnist-smoke-data.classes=6-train.steps=2-eval.n_samples=6-eval.sample_steps=2"
    )
    text = report.paths["markdown"].read_text()
    assert "class (6,)" in text and "published FID" in text
    bias = __import__("pandas").read_csv(report.paths["bias"])
    assert set(bias.comparison) == {"real-vs-real", "model-vs-real"} and set(bias.n) == {5, 6}  # 6: all samples
    assert report.paths["bias_figure"].with_suffix(".json").is_file() and "Estimator bias" in text
    held = load_dataset("mnist", "test", data_dir=str(data_dir))
    assert runs.n_real_qdm[0] == min(64, int((np.asarray(held.labels) == 6).sum()))
    # the same finished runs, re-scored with a pool of training images for the bias table
    again = audit_chen2025(
        seeds=(0,),
        profile="smoke",
        results_root=tmp_path,
        out_dir=tmp_path / "train-pool",
        time_backends=(),
        features=_pixel_features,
        bias_pool="train",
        bias_ns=(5,),
        overrides=["data.classes=6", "train.steps=2", "eval.n_samples=6", "eval.sample_steps=2"],
    )
    assert again.runs.qdm_fid.tolist() == pytest.approx(runs.qdm_fid.tolist())
    assert "training images of class (6,)" in again.paths["markdown"].read_text()
    # the qdm protocol on the first 5 samples: the cached features of all 6 are sliced, the count recorded
    first5 = audit_chen2025(
        seeds=(0,),
        profile="smoke",
        results_root=tmp_path,
        time_backends=(),
        features=_pixel_features,
        qdm_images=5,
        bias_ns=(),
        overrides=["data.classes=6", "train.steps=2", "eval.n_samples=6", "eval.sample_steps=2"],
    )
    assert (first5.runs.n_generated == 5).all() and first5.runs.chen_fid.tolist() == pytest.approx(runs.chen_fid.tolist())
    with pytest.raises(ValueError, match="qdm_images"):
        audit_chen2025(seeds=(0,), qdm_images=2)
    with pytest.raises(ValueError, match="bias_pool"):
        audit_chen2025(seeds=(0,), bias_pool="test")
