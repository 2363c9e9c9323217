"""Nested training subsets (``DataConfig.subset_draw="nested"``) on the real MNIST data: for one seed, the N images of a
digit are among its M > N images, at every size of the low-data grid; the old draw ("choice") is unchanged and is not
nested, which is why the option exists."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from qdm.audits.lowdata import DESIGN
from qdm.config import DataConfig, training_subset
from qdm.data import MNIST_REBUILT_MD5, DataError, ImageDataset, load_dataset
from qdm.families.hybrid import hybrid_prepare_data
from qdm.presets import resolve_config


@pytest.fixture(scope="module")
def mnist_train(data_dir: Path) -> ImageDataset:
    return load_dataset("mnist", "train", data_dir)


def _images(ds: ImageDataset) -> Counter:
    """The images of a draw as a multiset of their bytes (the MNIST file carries no image index)."""
    return Counter(img.tobytes() for img in ds.images)


def _contained(small: Counter, large: Counter) -> bool:
    return all(large[k] >= v for k, v in small.items())


@pytest.mark.parametrize("digit", DESIGN.digits)
def test_nested_draws_are_nested_at_every_size_of_the_grid(mnist_train: ImageDataset, digit: int) -> None:
    pool = _images(mnist_train.subset([digit]))
    n_all = int(mnist_train.class_counts()[digit])
    for seed in DESIGN.seeds:
        draws = [training_subset(DataConfig(classes=(digit,), images_per_class=n, subset_seed=seed, subset_draw="nested"))
                 for n in DESIGN.sizes]
        for n, draw in zip(DESIGN.sizes, draws, strict=True):
            assert len(draw.images) == (n_all if n is None else n) and set(draw.labels.tolist()) == {digit}
            assert _contained(_images(draw), pool)  # real images of the digit, none drawn twice
        for smaller, larger in zip(draws, draws[1:]):
            assert _contained(_images(smaller), _images(larger))
        assert _images(draws[-1]) == pool  # N = all is every image of the digit


def test_nested_draws_depend_on_the_seed_and_match_the_family(mnist_train: ImageDataset) -> None:
    a = mnist_train.subset([0], 16, seed=0, draw="nested")
    b = mnist_train.subset([0], 16, seed=1, draw="nested")
    assert _images(a) != _images(b)
    # what the hybrid family trains on is the same draw (through qdm.config.training_subset), in [-1, 1]
    cfg = resolve_config("chen2025-classical", ["profile=smoke", "data.images_per_class=16", "data.subset_draw=nested"])
    x = hybrid_prepare_data(cfg)
    want = torch.from_numpy(np.asarray(a.images, dtype=np.float32))[:, None] / 255.0 * 2 - 1
    torch.testing.assert_close(x, want, rtol=0, atol=0)


def test_the_default_draw_is_unchanged_and_not_nested(mnist_train: ImageDataset) -> None:
    eight = mnist_train.subset([0], 8, seed=0)
    assert _images(eight) == _images(mnist_train.subset([0], 8, seed=0, draw="choice"))
    assert not _contained(_images(eight), _images(mnist_train.subset([0], 16, seed=0)))  # why "nested" exists
    if mnist_train.source.md5 != MNIST_REBUILT_MD5:
        pytest.skip("the golden draw below is of the shared rebuilt mnist.npz")
    # the draw every existing run trained on, as main drew it at 289c62f (sha256 of the images' bytes, in order)
    assert hashlib.sha256(np.ascontiguousarray(eight.images).tobytes()).hexdigest()[:16] == "cce19c5a8cd4d748"
    six = mnist_train.subset([6], 8, seed=0)
    assert hashlib.sha256(np.ascontiguousarray(six.images).tobytes()).hexdigest()[:16] == "0cf6c97df1f41a59"


def test_a_bad_draw_is_refused(mnist_train: ImageDataset) -> None:
    with pytest.raises(DataError, match="draw must be one of choice, nested, got 'sorted'"):
        mnist_train.subset([0], 8, draw="sorted")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="DataConfig.subset_draw must be one of 'choice', 'nested'"):
        DataConfig(subset_draw="sorted")  # type: ignore[arg-type]
