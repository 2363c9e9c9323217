"""The book-budget measurement's reading: the knee is the fewest steps that reach the criterion and keep it."""

from __future__ import annotations

import pandas as pd

from qdm.audits.budget import RECOGNISED, knee
from qdm.chapters.jobs import HYBRID_DIGITS, chapter_jobs


def test_knee_needs_the_criterion_held_at_every_later_stage():
    curve = pd.DataFrame({"steps": [500, 250, 1000, 2000], "accuracy": [0.95, 0.1, 0.85, 0.93]})
    assert knee(curve) == 2000  # 500 reaches 0.9 but 1000 falls back below it
    assert knee(curve, threshold=0.8) == 500
    assert knee(curve.assign(accuracy=[0.5] * 4)) is None
    assert RECOGNISED == 0.9


def test_reproduce_jobs_cover_the_hybrid_digits_and_seeds():
    jobs = chapter_jobs("hybrid", "smoke", [0, 1])
    assert len(jobs) == 4 * len(HYBRID_DIGITS) * 2 and HYBRID_DIGITS == (0, 1, 6, 9)
    assert {cfg.data.classes for _, _, cfg in jobs} == {(d,) for d in HYBRID_DIGITS}
    assert {cfg.train.seed for _, _, cfg in jobs} == {0, 1}


def test_sampler_curve_scores_one_trained_model_per_sampler(tmp_path):
    """Trained once; each sampler scored on the same model; re-running trains nothing and gives the same numbers."""
    import pytest

    from qdm.audits.budget import sampler_curve
    from qdm.presets import resolve_config
    from qdm.train import CHECKPOINT_NAME

    cfg = resolve_config("chen2025-classical", ["profile=smoke", "train.steps=4"])
    first = sampler_curve(cfg, [("ddim", 5), ("ddim", 10)], 4, tmp_path)
    assert list(first["sample_steps"]) == [5, 10] and set(first["n_samples"]) == {4}
    assert first["accuracy"].between(0, 1).all() and (first["steps"] == 4).all()
    stamp = (tmp_path / CHECKPOINT_NAME).stat().st_mtime_ns
    again = sampler_curve(cfg, [("ddim", 5), ("ddim", 10)], 4, tmp_path)
    assert (tmp_path / CHECKPOINT_NAME).stat().st_mtime_ns == stamp  # resumed at its last step: nothing trained
    pd.testing.assert_frame_equal(first.drop(columns="sample_wall_s"), again.drop(columns="sample_wall_s"))
    with pytest.raises(ValueError, match="sample_steps"):
        sampler_curve(cfg, [("ddpm", 5)], 4, tmp_path / "other")  # the ancestral sampler runs all T steps
    assert not (tmp_path / "other").exists()  # refused before training
    with pytest.raises(ValueError, match="at least one"):
        sampler_curve(cfg, [], 4, tmp_path)


def test_budget_curve_scores_conditioned_and_multi_digit_models(tmp_path):
    """A label-conditioned model is scored on its requested labels ("intended"), an unconditioned two-digit model on
    being either digit ("in_classes"); stage 2 continues stage 1's checkpoint."""
    from qdm.audits.budget import budget_curve
    from qdm.presets import resolve_config

    cond = resolve_config("cacioppo2023-cond-latent", ["profile=smoke"])
    curve = budget_curve(cond, [8, 16], 10, tmp_path / "cond")
    assert list(curve["steps"]) == [8, 16] and set(curve["score"]) == {"intended"}
    assert curve["accuracy"].between(0, 1).all() and curve["confidence"].between(0, 1).all()
    assert set(curve["n_samples"]) == {10} and (curve["wall_s"].diff().dropna() > 0).all()
    full = resolve_config("cacioppo2025-full", ["profile=smoke"])
    two = budget_curve(full, [4], 6, tmp_path / "full")
    assert set(two["score"]) == {"in_classes"} and two["confidence"].isna().all()
    assert 0 <= float(two["accuracy"].iloc[0]) <= 1 and int(two["n_reference"].iloc[0]) > 6
