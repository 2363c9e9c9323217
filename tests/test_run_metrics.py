"""A run's classifier and memorisation metrics on real MNIST images, with a tiny-budget classifier."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from qdm import classifier, run_metrics
from qdm.config import DataConfig
from qdm.presets import get_preset

TINY = classifier.ClassifierConfig(dataset="mnist", epochs=1, batch_size=32, n_train=1500, n_test=1000, seed=0)


@pytest.fixture()
def cfg(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setenv(classifier.CACHE_ENV_VAR, str(tmp_path))
    monkeypatch.setitem(classifier.DEFAULT_CLASSIFIERS, "mnist", TINY)
    base = get_preset("chen2025")
    return dataclasses.replace(base, data=DataConfig(dataset="mnist", classes=(3,), images_per_class=64))


def test_real_images_score_like_the_classifier_and_copies_are_caught(cfg, tmp_path):
    train = run_metrics.training_images(cfg)
    held = run_metrics.heldout_images(cfg, limit=300)
    assert train.shape == (64, 1, 28, 28) and held.shape == (300, 1, 28, 28)
    out = run_metrics.classifier_metrics(cfg, held[:150], held[150:])
    assert out["classifier_n_generated"] == 150 and out["classifier_n_reference"] == 150
    assert out["classifier_accuracy"] > 0.6 and 0 < out["classifier_confidence"] <= 1
    assert out["classifier_test_accuracy"] > 0.7 and out["classifier_n_test"] == 1000
    assert 0 <= out["classifier_fid"] and out["pr_classifier_precision"] > 0.8 and out["pr_classifier_k"] == 3
    assert list((tmp_path / "classifiers").glob("mnist-*.pt"))  # built into $QDM_CACHE_DIR
    noise = run_metrics.classifier_metrics(cfg, torch.rand(150, 1, 28, 28, generator=torch.Generator().manual_seed(0)), held)
    assert noise["classifier_fid"] > 10 * out["classifier_fid"] and noise["pr_classifier_precision"] < 0.5
    mem, pairs = run_metrics.memorisation_metrics(cfg, train.flip(0))
    assert mem["memorisation_copy_rate"] == 1.0 and mem["memorisation_n_train"] == 64 and pairs.shape == (16, 1, 28, 28)
    fresh, _ = run_metrics.memorisation_metrics(cfg, held[:100])
    assert fresh["memorisation_copy_rate"] < 0.05 and fresh["memorisation_n_heldout"] == 1000


def test_conditioned_runs_get_per_label_scores(cfg):
    two = dataclasses.replace(cfg, data=DataConfig(dataset="mnist", classes=(1, 7), images_per_class=64))
    assert run_metrics.intended_labels(two, 4) is None  # an unconditioned model: no intended label per sample
    assert run_metrics.intended_labels(cfg, 3).tolist() == [3, 3, 3]

    @dataclasses.dataclass(frozen=True)
    class Conditioned:
        n_label_qubits: int = 1

    # ExperimentConfig checks the model type against the family, so a stand-in carries data and model
    labelled = type("Cfg", (), {"data": two.data, "model": Conditioned()})()
    assert run_metrics.intended_labels(labelled, 5).tolist() == [1, 7, 1, 7, 1]
    images = run_metrics.training_images(two)
    out = run_metrics.classifier_metrics(two, images, images)
    assert 0.5 < out["classifier_in_classes"] <= 1.0


def test_other_shapes_are_skipped_with_the_reason(cfg):
    out = run_metrics.classifier_metrics(cfg, torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8))
    assert out == {"classifier_skipped": "samples have shape (1, 8, 8), the mnist images (1, 28, 28)"}
    mem, pairs = run_metrics.memorisation_metrics(cfg, torch.rand(4, 1, 8, 8))
    assert "memorisation_skipped" in mem and pairs is None
    assert np.isfinite(run_metrics.heldout_images(cfg, limit=10).numpy()).all()
