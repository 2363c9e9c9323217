"""Memorisation: does a model generate, or copy its training images? (nearest-training-image distances)

For every generated image, the Euclidean pixel distance (images in ``[0, 1]``, flattened) to its
nearest training image is compared with the same distance for *held-out* real images, which the
model never saw (Meehan, Chaudhuri & Dasgupta 2020, Sec. 3: generated-to-training against
test-to-training distances; meehan2020datacopying).

- ``copy_rate``: the fraction of samples closer to a training image than any held-out image ever
  is, i.e. below the minimum held-out nearest distance (the copy notion of Carlini et al. 2023
  (carlini2023extracting), Definition 1, with the threshold set by the data instead of by hand). A perfect copy of the
  training set has copy rate 1; a model that generalises like fresh data has copy rate about
  ``1/(n_heldout + 1)`` per sample.
- ``closer_fraction``: the Mann-Whitney probability P(d_sample < d_heldout) over all pairs (Meehan
  et al. 2020, Sec. 3, the U statistic divided by n m): 0.5 when samples sit as far from the
  training set as fresh data, towards 1 when they copy, below 0.5 when they are far from the data.
- ``nearest_pairs``: the sample / training-image index pairs with the smallest distances, to show.

In the < 100-image regime these numbers separate generating from copying, which FID cannot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["MemorisationResult", "closer_fraction", "memorisation", "nearest_training_distances", "pair_grid"]


@dataclass(frozen=True)
class MemorisationResult:
    """Nearest-training-image distances of samples against held-out images, the copy rate and the closest pairs."""

    copy_rate: float
    closer_fraction: float
    threshold: float
    sample_median: float
    heldout_median: float
    n_generated: int
    n_train: int
    n_heldout: int
    nearest_pairs: tuple[tuple[int, int, float], ...]


def _flat(images: object, name: str) -> Tensor:
    """Float (N, C, H, W) or (N, H, W) images in [0, 1] -> float64 (N, D)."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, Tensor) or images.dim() not in (3, 4) or not images.is_floating_point():
        raise ValueError(f"{name} must be a float tensor (N, C, H, W) or (N, H, W) in [0, 1]")
    x = images.detach().to("cpu", torch.float64).reshape(images.shape[0], -1)
    if x.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one image")
    if not torch.isfinite(x).all() or float(x.min()) < -1e-6 or float(x.max()) > 1 + 1e-6:
        raise ValueError(f"{name} must be finite and lie in [0, 1]")
    return x


def nearest_training_distances(images: Tensor, train: Tensor, chunk: int = 1024) -> tuple[Tensor, Tensor]:
    """Euclidean pixel distance of each image to its nearest training image, and that image's index."""
    x = _flat(images, "images")
    t = _flat(train, "train")
    if x.shape[1] != t.shape[1]:
        raise ValueError(f"images and train must have the same image size, got {x.shape[1]} and {t.shape[1]} pixels")
    dists, idx = [], []
    for i in range(0, x.shape[0], chunk):
        d = torch.cdist(x[i : i + chunk], t)
        m = d.min(dim=1)
        dists.append(m.values)
        idx.append(m.indices)
    return torch.cat(dists), torch.cat(idx)


def closer_fraction(sample_dist: Tensor, heldout_dist: Tensor) -> float:
    """Meehan et al. (2020) Sec. 3: Mann-Whitney U / (n m) = P(d_sample < d_heldout), ties counted one half."""
    a = torch.as_tensor(sample_dist, dtype=torch.float64).reshape(-1, 1)
    b = torch.as_tensor(heldout_dist, dtype=torch.float64).reshape(1, -1)
    return float(((a < b).double() + 0.5 * (a == b).double()).mean())


def memorisation(samples: Tensor, train: Tensor, heldout: Tensor, n_pairs: int = 8) -> MemorisationResult:
    """Copy rate (Carlini et al. 2023, Def. 1, data-set threshold), closer fraction (Meehan et al. 2020) and closest pairs.

    ``train``: the images the model was trained on; ``heldout``: real images of the same classes it never saw.
    """
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < 0:
        raise ValueError(f"n_pairs must be an integer >= 0, got {n_pairs!r}")
    d_gen, idx_gen = nearest_training_distances(samples, train)
    d_held, _ = nearest_training_distances(heldout, train)
    threshold = float(d_held.min())
    order = torch.argsort(d_gen)[:n_pairs]
    pairs = tuple((int(i), int(idx_gen[i]), float(d_gen[i])) for i in order)
    return MemorisationResult(
        copy_rate=float((d_gen < threshold).double().mean()),
        closer_fraction=closer_fraction(d_gen, d_held),
        threshold=threshold,
        sample_median=float(d_gen.median()),
        heldout_median=float(d_held.median()),
        n_generated=int(d_gen.shape[0]),
        n_train=int(_flat(train, "train").shape[0]),
        n_heldout=int(d_held.shape[0]),
        nearest_pairs=pairs,
    )


def pair_grid(samples: Tensor, train: Tensor, pairs: tuple[tuple[int, int, float], ...]) -> Tensor:
    """Images (2P, C, H, W) to show the closest pairs: sample i then its nearest training image, pair after pair."""
    if not pairs:
        raise ValueError("pairs must name at least one (sample, training image, distance) pair")
    rows = []
    for i, j, _ in pairs:
        rows.extend((samples[i], train[j]))
    return torch.stack(rows).detach().float().cpu().clamp(0, 1)
