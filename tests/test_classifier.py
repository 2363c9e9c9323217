"""qdm's own classifier: deterministic training, cache, scores on noise / held-out / per label, classifier FID."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from qdm import classifier as clf_mod
from qdm.classifier import (
    ClassifierConfig,
    classifier_features,
    classifier_fid,
    classifier_key,
    classifier_scores,
    load_classifier,
    predict_proba,
    train_classifier,
)
from qdm.data import load_dataset

#: a tiny-budget classifier (2,000 training images, one pass, accuracy on 2,000 test images): seconds, not minutes
TINY = ClassifierConfig(dataset="mnist", epochs=1, batch_size=32, n_train=2000, n_test=2000, seed=0)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("classifier-cache")


@pytest.fixture(scope="session")
def tiny(tiny_cache: Path) -> clf_mod.TrainedClassifier:
    return load_classifier(TINY, cache_dir=tiny_cache)


@pytest.fixture(scope="session")
def mnist_test() -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_dataset("mnist", "test")
    return ds.to_tensor("unit"), torch.from_numpy(np.asarray(ds.labels).copy())


def test_tiny_classifier_learns_and_reports_its_accuracy(tiny):
    assert tiny.n_test == 2000 and 0.75 < tiny.test_accuracy <= 1.0 and tiny.train_seconds > 0


def test_training_is_deterministic_and_the_cache_returns_the_same_weights(tiny, tiny_cache):
    again = load_classifier(TINY, cache_dir=tiny_cache)  # from the cache
    fresh = train_classifier(TINY)  # trained again
    for a, b, c in zip(tiny.model.state_dict().values(), again.model.state_dict().values(), fresh.model.state_dict().values()):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert again.test_accuracy == tiny.test_accuracy == fresh.test_accuracy and again.key == tiny.key
    files = list((tiny_cache / "classifiers").glob("mnist-*.pt"))
    assert [f.name for f in files] == [f"mnist-{tiny.key}.pt"]


def test_cache_key_follows_data_and_config_and_missing_entries_are_not_invented(tmp_path):
    md5 = "0" * 32
    assert classifier_key(TINY, md5) != classifier_key(TINY, "1" * 32)
    assert classifier_key(TINY, md5) != classifier_key(
        ClassifierConfig(dataset="mnist", epochs=1, n_train=2000, n_test=2000, seed=1), md5
    )
    with pytest.raises(FileNotFoundError, match="python -m qdm.classifier"):
        load_classifier(TINY, cache_dir=tmp_path, build=False)


def test_noise_scores_about_one_in_ten(tiny):
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(1000, 1, 28, 28, generator=g)
    scores = classifier_scores(tiny, noise, torch.arange(1000) % 10)
    assert abs(scores.accuracy - 0.1) < 0.03 and scores.n == 1000


def test_held_out_images_score_the_classifier_test_accuracy(tiny, mnist_test):
    x, y = mnist_test
    pick = torch.randperm(10000, generator=torch.Generator().manual_seed(7))[:3000]  # another draw of held-out images
    scores = classifier_scores(tiny, x[pick], y[pick])
    assert scores.accuracy == pytest.approx(tiny.test_accuracy, abs=0.04)  # 4 binomial standard errors
    assert 0.5 < scores.mean_confidence <= 1.0 and scores.labels == tuple(range(10))
    confusion = np.array(scores.confusion)
    assert confusion.sum(1).tolist() == list(scores.per_label_n) and confusion.sum() == 3000
    assert np.allclose(np.diag(confusion) / confusion.sum(1), scores.per_label_accuracy)
    probs = predict_proba(tiny, x[:10])
    assert torch.allclose(probs.sum(1), torch.ones(10, dtype=torch.float64))


def test_classifier_fid_separates_real_from_noise(tiny, mnist_test):
    x, _ = mnist_test
    real_vs_real = classifier_fid(tiny, x[:500], x[500:1000])
    real_vs_noise = classifier_fid(tiny, x[:500], torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(1)))
    assert 0 <= real_vs_real < 0.1 * real_vs_noise
    assert classifier_features(tiny, x[:4]).shape == (4, 128)


def test_pathmnist_classifier_takes_rgb_images(tmp_path):
    small = ClassifierConfig(dataset="pathmnist", epochs=1, batch_size=64, n_train=200, n_test=100)
    trained = load_classifier(small, cache_dir=tmp_path)
    assert trained.n_test == 100 and 0.0 <= trained.test_accuracy <= 1.0
    assert predict_proba(trained, torch.rand(3, 3, 28, 28)).shape == (3, 9)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ClassifierConfig(dataset="cifar"), "ClassifierConfig.dataset must be one of"),
        (lambda: ClassifierConfig(epochs=0), "ClassifierConfig.epochs must be an integer >= 1"),
        (lambda: ClassifierConfig(lr=-1.0), "ClassifierConfig.lr must be a finite number > 0"),
        (lambda: ClassifierConfig(n_train=1), "ClassifierConfig.n_train must be None"),
        (lambda: ClassifierConfig(n_test=0), "ClassifierConfig.n_test must be None"),
        (lambda: load_classifier("cifar"), "dataset_or_config must be"),
    ],
)
def test_bad_configs_name_the_parameter(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_images_and_labels_name_the_parameter(tiny):
    with pytest.raises(ValueError, match=r"images must have shape \(N, 1, 28, 28\)"):
        predict_proba(tiny, torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="lie in"):
        predict_proba(tiny, torch.full((2, 1, 28, 28), 2.0))
    with pytest.raises(ValueError, match="intended labels must lie in 0..9"):
        classifier_scores(tiny, torch.rand(2, 1, 28, 28), [0, 10])
    with pytest.raises(ValueError, match="one label per image"):
        classifier_scores(tiny, torch.rand(2, 1, 28, 28), [0])
