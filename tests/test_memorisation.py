"""Memorisation: nearest-training-image distances, copy rate and closer fraction on real MNIST."""

from __future__ import annotations

import pytest
import torch

from qdm.data import load_dataset
from qdm.memorisation import closer_fraction, memorisation, nearest_training_distances, pair_grid
from qdm.precision_recall import precision_recall


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    train = load_dataset("mnist", "train").subset([3], 64, seed=0).to_tensor("unit")
    test = load_dataset("mnist", "test").subset([3], 400, seed=0).to_tensor("unit")
    return train, test


def test_nearest_distances_golden():
    train = torch.zeros(2, 1, 2, 2)
    train[1] = 1.0
    images = torch.full((2, 1, 2, 2), 0.25)
    images[1] = torch.tensor([[1.0, 1.0], [1.0, 0.25]])
    d, idx = nearest_training_distances(images, train)
    assert idx.tolist() == [0, 1]
    assert d.tolist() == pytest.approx([0.5, 0.75])  # sqrt(4 * 0.25^2) and sqrt(0.75^2)


def test_a_copy_of_the_training_set_has_copy_rate_one_and_precision_one(digits):
    train, test = digits
    copy = train[torch.randperm(64, generator=torch.Generator().manual_seed(0))]
    result = memorisation(copy, train, test[:200])
    assert result.copy_rate == 1.0 and result.closer_fraction == 1.0
    # 0 up to the rounding of torch.cdist's matrix-product form (|a|² + |b|² - 2ab; 3.8e-7 seen on AVX512)
    assert result.sample_median == pytest.approx(0.0, abs=1e-3)
    assert (result.n_generated, result.n_train, result.n_heldout) == (64, 64, 200) and result.threshold > 0
    for i, j, dist in result.nearest_pairs:
        assert dist == pytest.approx(0.0, abs=1e-3) and torch.equal(copy[i], train[j])
    assert precision_recall(train.flatten(1), copy.flatten(1)).precision == 1.0
    assert pair_grid(copy, train, result.nearest_pairs).shape == (16, 1, 28, 28)


def test_fresh_images_look_like_held_out_images(digits):
    train, test = digits
    result = memorisation(test[200:], train, test[:200])
    assert result.copy_rate < 0.05 and result.closer_fraction == pytest.approx(0.5, abs=0.1)
    assert result.sample_median == pytest.approx(result.heldout_median, rel=0.1)


def test_half_copies_give_copy_rate_one_half(digits):
    train, test = digits
    mixed = torch.cat([train[:32], test[200:232]])
    assert memorisation(mixed, train, test[:200]).copy_rate == pytest.approx(0.5, abs=1 / 64)


def test_closer_fraction_golden_and_ties():
    assert closer_fraction(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 2.0])) == 0.5
    assert closer_fraction(torch.tensor([2.0]), torch.tensor([2.0])) == 0.5
    assert closer_fraction(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 2.0])) == 1.0


def test_bad_input_names_the_parameter(digits):
    train, _ = digits
    with pytest.raises(ValueError, match="images and train must have the same image size"):
        nearest_training_distances(torch.rand(2, 1, 8, 8), train)
    with pytest.raises(ValueError, match="train must be finite and lie in"):
        nearest_training_distances(torch.rand(2, 1, 28, 28), train + 2)
    with pytest.raises(ValueError, match="n_pairs must be an integer >= 0"):
        memorisation(train, train, train, n_pairs=-1)
