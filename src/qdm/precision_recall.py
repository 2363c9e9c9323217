"""Improved precision and recall of a generated distribution (Kynkäänniemi et al. 2019, kynkaanniemi2019precision),
on any features.

Each feature set defines a manifold estimate: the union of balls around its points whose radius is
the distance to the point's k-th nearest *other* point of the same set (eq. 1). Precision is the
fraction of generated points inside the real manifold, recall the fraction of real points inside
the generated manifold (eq. 2). A lower FID can come from better samples (precision) or from
covering more of the data (recall); these two numbers tell which.

Distances are Euclidean in float64; ties count as inside (``<=``), as in the paper's eq. 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["PrecisionRecall", "in_manifold", "knn_radii", "precision_recall"]


@dataclass(frozen=True)
class PrecisionRecall:
    """Precision and recall (Kynkäänniemi et al. 2019, eq. 2) with k and the two set sizes."""

    precision: float
    recall: float
    k: int
    n_real: int
    n_fake: int


def _check(features: object, name: str, min_rows: int) -> Tensor:
    """2-D finite real feature matrix with at least ``min_rows`` rows, as float64."""
    if isinstance(features, np.ndarray):
        features = torch.from_numpy(features)
    if not isinstance(features, Tensor) or features.dim() != 2 or features.is_complex():
        raise ValueError(f"{name} must be a real 2-D (N, D) tensor or array")
    x = features.detach().to("cpu", torch.float64)
    if x.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows (k + 1), got {x.shape[0]}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _check_k(k: object) -> int:
    """k: an integer >= 1."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or int(k) < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return int(k)


def knn_radii(features: Tensor | np.ndarray, k: int = 3) -> Tensor:
    """Kynkäänniemi et al. (2019) eq. 1 radii: distance of each point to its k-th nearest other point of the set."""
    k = _check_k(k)
    x = _check(features, "features", k + 1)
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))  # exclude the point itself
    return d.kthvalue(k, dim=1).values


def in_manifold(query: Tensor | np.ndarray, support: Tensor | np.ndarray, k: int = 3) -> Tensor:
    """Kynkäänniemi et al. (2019) eq. 1: f(q, Φ) = 1 if ||q − φ|| <= ||φ − NN_k(φ)|| for some φ in Φ, per query row."""
    k = _check_k(k)
    q = _check(query, "query", 1)
    s = _check(support, "support", k + 1)
    if q.shape[1] != s.shape[1]:
        raise ValueError(f"query and support must have the same feature dimension, got {q.shape[1]} and {s.shape[1]}")
    radii = knn_radii(s, k)
    return (torch.cdist(q, s) <= radii[None, :]).any(dim=1)


def precision_recall(real: Tensor | np.ndarray, fake: Tensor | np.ndarray, k: int = 3) -> PrecisionRecall:
    """Kynkäänniemi et al. (2019) eq. 2: precision = mean f(φ_g, Φ_r), recall = mean f(φ_r, Φ_g); k = 3 as in the paper."""
    k = _check_k(k)
    r = _check(real, "real", k + 1)
    g = _check(fake, "fake", k + 1)
    return PrecisionRecall(
        precision=float(in_manifold(g, r, k).double().mean()),
        recall=float(in_manifold(r, g, k).double().mean()),
        k=k,
        n_real=int(r.shape[0]),
        n_fake=int(g.shape[0]),
    )
