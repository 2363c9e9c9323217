"""Tests for qdm.metrics: FID/KID maths, the Inception feature protocol, SSIM conventions and pairings."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from skimage.metrics import structural_similarity as skimage_ssim
from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim
from torchmetrics.image.kid import poly_mmd

from qdm import metrics as M

NOISE_LEVELS = (0.1, 0.25, 0.5)


# ---------------------------------------------------------------------------------------------
# fixtures: a small real MNIST set, its Inception features computed once per module
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_test(data_dir: Path) -> np.ndarray:
    """The official MNIST test images, uint8 (10000, 28, 28)."""
    with np.load(data_dir / "mnist" / "mnist.npz") as data:
        return data["x_test"]


@pytest.fixture(scope="module")
def path_rgb(data_dir: Path) -> np.ndarray:
    """A few real PathMNIST RGB images, uint8 (12, 28, 28, 3)."""
    with np.load(data_dir / "pathmnist" / "pathmnist_subset.npz") as data:
        return data["train_images"][:12]


@pytest.fixture(scope="module")
def inception_sets(mnist_test: np.ndarray) -> dict[str, object]:
    """Disjoint real sets A (16), B (16) and B[:8] with Gaussian noise at 3 levels, with their features.

    Inception on 2 busy CPU cores costs 0.2-1 s per image, so the sets are small (56 images in all).
    """
    real_a, real_b = mnist_test[:16], mnist_test[16:32]
    gen = torch.Generator().manual_seed(1234)
    clean = torch.from_numpy(real_b[:8]).double().unsqueeze(1) / 255.0
    noisy = [
        (clean + s * torch.randn(clean.shape, generator=gen, dtype=torch.float64)).clamp(0, 1) for s in NOISE_LEVELS
    ]
    return {
        "a": real_a,
        "b": real_b,
        "noisy": noisy,
        "f_a": M.inception_features(real_a),
        "f_b": M.inception_features(real_b),
        "f_noisy": [M.inception_features(n) for n in noisy],
    }


def _gaussian_features(
    n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0, mix_seed: int | None = None
) -> torch.Tensor:
    """Random correlated Gaussian features (n, d) float64: shift + scale * z A, A from mix_seed (default seed)."""
    mix = torch.randn(
        d, d, generator=torch.Generator().manual_seed(seed if mix_seed is None else mix_seed), dtype=torch.float64
    )
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(seed + 7919), dtype=torch.float64)
    return shift + scale * z @ mix / math.sqrt(d)


def _fid_scipy(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """Reference FID with scipy.linalg.sqrtm(S1 S2), as in pytorch-fid."""
    a, b = f1.numpy(), f2.numpy()
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


# ---------------------------------------------------------------------------------------------
# Inception feature network and protocol
# ---------------------------------------------------------------------------------------------


def test_feature_net_gives_2048_nonnegative_float64_features(inception_sets: dict) -> None:
    f_a = inception_sets["f_a"]
    assert f_a.shape == (16, M.NUM_FEATURES) == (16, 2048)
    assert f_a.dtype == torch.float64
    assert torch.isfinite(f_a).all() and (f_a >= 0).all()  # post-ReLU average pool
    assert f_a.std(dim=0).max() > 0  # different digits give different features


def test_preprocess_protocol_grey_to_rgb_resize_and_scale() -> None:
    grey = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    out = M._preprocess(grey)
    assert out.shape == (2, 3, 299, 299) and out.dtype == torch.float32
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 0], out[:, 2])
    assert out.min() >= -1.0 and out.max() <= 1.0
    constant = M._preprocess(torch.full((1, 1, 28, 28), 0.25, dtype=torch.float64))
    torch.testing.assert_close(constant, torch.full_like(constant, -0.5))  # 2 * 0.25 - 1, bilinear keeps constants
    native = torch.rand(1, 3, 299, 299, dtype=torch.float64)
    torch.testing.assert_close(M._preprocess(native), (2 * native - 1).float())  # no resize at 299


def test_to_unit_nchw_layouts(path_rgb: np.ndarray) -> None:
    rgb = M.to_unit_nchw(path_rgb)  # uint8 (N, H, W, C)
    assert rgb.shape == (12, 3, 28, 28) and rgb.dtype == torch.float64
    assert rgb[5, 2, 7, 9] == path_rgb[5, 7, 9, 2] / 255.0
    grey = M.to_unit_nchw(torch.from_numpy(path_rgb[..., 0]))  # uint8 (N, H, W)
    torch.testing.assert_close(grey[:, 0], rgb[:, 0])
    as_float = M.to_unit_nchw(rgb.float())  # float (N, C, H, W) passes through
    torch.testing.assert_close(as_float, rgb, rtol=0, atol=1e-7)


def test_inception_network_is_cached_per_device_and_in_eval_mode() -> None:
    net = M.inception_network("cpu")
    assert net is M.inception_network(torch.device("cpu"))
    assert not net.training
    assert M.inception_weights_path().name == "default_1.pt"


# ---------------------------------------------------------------------------------------------
# FID
# ---------------------------------------------------------------------------------------------


def test_fid_of_a_set_with_itself_is_zero(inception_sets: dict) -> None:
    f_a = inception_sets["f_a"]
    scale = float(f_a.var(dim=0).sum())
    assert abs(M.fid_from_features(f_a, f_a)) < 1e-6 * scale
    # the eigen (covariance) path on a rank-deficient covariance (rank 15 in 256 dims; 2048 is slow on CPU)
    sub = f_a[:, :256]
    mu, sigma = sub.mean(dim=0), torch.cov(sub.T)
    assert abs(M.fid_from_stats(mu, sigma, mu, sigma)) < 1e-6 * float(sigma.trace())


def test_fid_grows_monotonically_with_noise(inception_sets: dict) -> None:
    f_a = inception_sets["f_a"]
    clean = M.fid_from_features(f_a, inception_sets["f_b"][:8])
    noisy = [M.fid_from_features(f_a, f) for f in inception_sets["f_noisy"]]
    values = [clean, *noisy]
    assert all(lo < hi for lo, hi in zip(values, values[1:], strict=False)), values


def test_fid_equals_torchmetrics_with_the_same_feature_module(inception_sets: dict) -> None:
    real, fake = inception_sets["a"][:6], inception_sets["noisy"][0][:6]
    ours = M.fid_from_features(inception_sets["f_a"][:6], inception_sets["f_noisy"][0][:6])
    theirs = M.fid_torchmetrics(real, fake, batch_size=6)
    assert (theirs.n_real, theirs.n_fake) == (6, 6)
    assert theirs.value == pytest.approx(ours, rel=1e-3)


def test_fid_and_kid_on_images_match_the_feature_path(inception_sets: dict) -> None:
    # real as uint8 (N, H, W) and as float RGB (N, 3, H, W) with equal channels: the same protocol input
    real, fake = inception_sets["a"][:3], inception_sets["noisy"][1][:3]
    real_rgb = torch.from_numpy(real).float().div(255).unsqueeze(1).repeat(1, 3, 1, 1)
    result = M.fid(real_rgb, fake, batch_size=2)  # batches of 2 vs the fixture's single batch
    expected = M.fid_from_features(inception_sets["f_a"][:3], inception_sets["f_noisy"][1][:3])
    assert (result.n_real, result.n_fake) == (3, 3)
    assert result.value == pytest.approx(expected, rel=1e-4)
    kid = M.kid(real[:2], fake[:2], subset_size=2, n_subsets=3)
    expected_kid = M.mmd2_unbiased(inception_sets["f_a"][:2], inception_sets["f_noisy"][1][:2])
    assert kid.mean == pytest.approx(expected_kid, rel=1e-4) and (kid.n_real, kid.n_fake) == (2, 2)


def test_fid_feature_path_equals_stats_path_and_scipy() -> None:
    for n1, n2, d in ((12, 9, 20), (40, 30, 6)):  # n < d (nuclear-norm path) and n > d (eigen path)
        f1 = _gaussian_features(n1, d, seed=1)
        f2 = _gaussian_features(n2, d, seed=2, shift=0.3, scale=1.5)
        ours = M.fid_from_features(f1, f2)
        stats = M.fid_from_stats(f1.mean(0), torch.cov(f1.T), f2.mean(0), torch.cov(f2.T))
        assert ours == pytest.approx(stats, rel=1e-9)
        assert ours == pytest.approx(_fid_scipy(f1, f2), rel=1e-6)
        assert ours == pytest.approx(M.fid_from_features(f2, f1), rel=1e-9)


def test_fid_from_stats_matches_closed_form_for_diagonal_gaussians() -> None:
    gen = torch.Generator().manual_seed(5)
    a = torch.rand(7, generator=gen, dtype=torch.float64) + 0.1
    b = torch.rand(7, generator=gen, dtype=torch.float64) + 0.1
    mu1 = torch.randn(7, generator=gen, dtype=torch.float64)
    mu2 = torch.randn(7, generator=gen, dtype=torch.float64)
    expected = float((mu1 - mu2).square().sum() + (a.sqrt() - b.sqrt()).square().sum())
    assert M.fid_from_stats(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_fid_is_invariant_to_rotations_of_feature_space() -> None:
    f1, f2 = _gaussian_features(10, 16, seed=3), _gaussian_features(14, 16, seed=4, shift=0.2)
    q, _ = torch.linalg.qr(torch.randn(16, 16, generator=torch.Generator().manual_seed(9), dtype=torch.float64))
    assert M.fid_from_features(f1 @ q, f2 @ q) == pytest.approx(M.fid_from_features(f1, f2), rel=1e-10)


# ---------------------------------------------------------------------------------------------
# KID
# ---------------------------------------------------------------------------------------------


def test_mmd2_unbiased_matches_torchmetrics_poly_mmd() -> None:
    f1, f2 = _gaussian_features(15, 8, seed=6), _gaussian_features(15, 8, seed=7, shift=0.5)
    assert M.mmd2_unbiased(f1, f2) == pytest.approx(float(poly_mmd(f1, f2)), rel=1e-12)


def test_mmd2_unbiased_linear_kernel_closed_form() -> None:
    f1, f2 = _gaussian_features(11, 5, seed=8), _gaussian_features(11, 5, seed=9, shift=0.4)
    m = f1.shape[0]
    expected = (f1.mean(0) - f2.mean(0)).square().sum() - (torch.cov(f1.T).trace() + torch.cov(f2.T).trace()) / m
    assert M.mmd2_unbiased(f1, f2, degree=1, gamma=1.0, coef=0.0) == pytest.approx(float(expected), rel=1e-10)


def test_kid_with_full_subsets_is_deterministic() -> None:
    f1, f2 = _gaussian_features(9, 4, seed=10), _gaussian_features(9, 4, seed=11, shift=1.0)
    result = M.kid_from_features(f1, f2, subset_size=9, n_subsets=4)
    assert result.std == pytest.approx(0.0, abs=1e-12)
    assert result.mean == pytest.approx(M.mmd2_unbiased(f1, f2), rel=1e-12)
    assert (result.n_real, result.n_fake, result.subset_size) == (9, 9, 9)


def test_kid_near_zero_for_two_real_halves_and_positive_for_noisy(inception_sets: dict) -> None:
    same = M.kid_from_features(inception_sets["f_a"], inception_sets["f_b"], subset_size=8, n_subsets=100)
    assert abs(same.mean) < 3 * same.std
    noisy = M.kid_from_features(inception_sets["f_a"], inception_sets["f_noisy"][-1], subset_size=8, n_subsets=100)
    assert noisy.mean > 5 * noisy.std > 0
    assert noisy.mean > 10 * abs(same.mean)


# ---------------------------------------------------------------------------------------------
# FID / KID against n
# ---------------------------------------------------------------------------------------------


def test_fid_bias_shrinks_with_n_for_one_distribution() -> None:
    # two independent draws from one distribution N(0, A^T A): same mixing matrix A, different samples
    pool1 = _gaussian_features(400, 32, seed=12, mix_seed=99)
    pool2 = _gaussian_features(400, 32, seed=13, mix_seed=99)
    points = M.fid_kid_vs_n(pool1, pool2, ns=(5, 20, 80, 320), n_repeats=4, generator=0)
    assert [p.n for p in points] == [5, 20, 80, 320]
    fids = [p.fid_mean for p in points]
    assert all(hi > lo for hi, lo in zip(fids, fids[1:], strict=False)), fids
    assert all(abs(p.kid_mean) < 3 * p.kid_std + 1e-3 for p in points[1:])
    again = M.fid_kid_vs_n(pool1, pool2, ns=(5, 20, 80, 320), n_repeats=4, generator=0)
    assert again == points


def test_fid_kid_vs_n_default_ladder_stops_at_available_count() -> None:
    f1, f2 = _gaussian_features(60, 4, seed=13), _gaussian_features(55, 4, seed=14)
    assert [p.n for p in M.fid_kid_vs_n(f1, f2, n_repeats=1)] == [5, 10, 20, 50]


# ---------------------------------------------------------------------------------------------
# SSIM
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("convention", ["torchmetrics", "skimage"])
def test_ssim_of_an_image_with_itself_is_one(convention: str, mnist_test: np.ndarray, path_rgb: np.ndarray) -> None:
    for images in (mnist_test[:6], path_rgb[:4]):
        values = M.ssim(images, images, convention=convention)
        torch.testing.assert_close(values, torch.ones(len(images), dtype=torch.float64), rtol=0, atol=1e-12)


def test_skimage_convention_agrees_with_skimage(mnist_test: np.ndarray, path_rgb: np.ndarray) -> None:
    x, y = mnist_test[:10], mnist_test[10:20]
    ours = M.ssim(x, y, convention="skimage").numpy()
    reference = np.array([skimage_ssim(a, b, data_range=255) for a, b in zip(x, y, strict=True)])
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)
    ours_rgb = M.ssim(path_rgb[:6], path_rgb[6:], convention="skimage").numpy()
    reference_rgb = np.array(
        [skimage_ssim(a, b, data_range=255, channel_axis=-1) for a, b in zip(path_rgb[:6], path_rgb[6:], strict=True)]
    )
    np.testing.assert_allclose(ours_rgb, reference_rgb, rtol=0, atol=1e-12)


def test_torchmetrics_convention_agrees_with_torchmetrics(mnist_test: np.ndarray, path_rgb: np.ndarray) -> None:
    for x, y in ((mnist_test[:10], mnist_test[10:20]), (path_rgb[:6], path_rgb[6:])):
        xt, yt = M.to_unit_nchw(x), M.to_unit_nchw(y)
        reference = tm_ssim(xt, yt, data_range=1.0, reduction="none")
        torch.testing.assert_close(M.ssim(x, y, convention="torchmetrics"), reference, rtol=0, atol=1e-12)


def test_the_two_conventions_differ_on_digits(mnist_test: np.ndarray) -> None:
    x, y = mnist_test[:20], mnist_test[20:40]
    gap = (M.ssim(x, y, convention="torchmetrics") - M.ssim(x, y, convention="skimage")).abs()
    assert gap.max() > 0.1


def test_ssim_units_uint8_vs_float_and_data_range(mnist_test: np.ndarray) -> None:
    x, y = mnist_test[:5], mnist_test[5:10]
    xf = torch.from_numpy(x).double().unsqueeze(1) / 255
    yf = torch.from_numpy(y).double().unsqueeze(1) / 255
    for convention in ("torchmetrics", "skimage"):
        torch.testing.assert_close(M.ssim(x, y, convention=convention), M.ssim(xf, yf, convention=convention))
        torch.testing.assert_close(M.ssim(y, x, convention=convention), M.ssim(x, y, convention=convention))
        # a too-large data_range inflates the stabilising constants and so the SSIM of unrelated digits
        assert (M.ssim(x, y, convention=convention, data_range=255.0) > M.ssim(x, y, convention=convention)).all()


@pytest.mark.parametrize("convention", ["torchmetrics", "skimage"])
def test_ssim_matrix_and_pairings(convention: str, mnist_test: np.ndarray, path_rgb: np.ndarray) -> None:
    gen, real = mnist_test[:4], mnist_test[100:130]
    matrix = M.ssim_matrix(gen, real, convention=convention, chunk_size=7)
    for i in range(4):
        row = M.ssim(np.repeat(gen[i : i + 1], len(real), axis=0), real, convention=convention)
        torch.testing.assert_close(matrix[i], row, rtol=0, atol=1e-12)
    nearest = M.ssim_paired(gen, real, pairing="nearest", convention=convention)
    index = M.ssim_paired(gen, real, pairing="index", convention=convention)
    assert nearest.mean == pytest.approx(float(matrix.max(dim=1).values.mean()), rel=1e-12)
    assert index.mean == pytest.approx(float(M.ssim(gen, real[:4], convention=convention).mean()), rel=1e-12)
    assert nearest.mean >= index.mean and (nearest.n, index.n) == (4, 4)
    assert (nearest.convention, nearest.pairing) == (convention, "nearest")
    # generated images that are copies of real ones find themselves: nearest SSIM is exactly 1
    copies = M.ssim_paired(real[[3, 17]], real, pairing="nearest", convention=convention)
    assert copies.mean == pytest.approx(1.0, abs=1e-12) and copies.std == pytest.approx(0.0, abs=1e-12)
    rgb = M.ssim_matrix(path_rgb[:2], path_rgb[2:], convention=convention, chunk_size=5)
    row = M.ssim(np.repeat(path_rgb[1:2], 10, axis=0), path_rgb[2:], convention=convention)
    torch.testing.assert_close(rgb[1], row)


# ---------------------------------------------------------------------------------------------
# bad inputs
# ---------------------------------------------------------------------------------------------


def test_bad_inputs_raise_value_errors_naming_the_parameter(mnist_test: np.ndarray) -> None:
    x = mnist_test[:4]
    f = _gaussian_features(6, 3, seed=15)
    cases = [
        (lambda: M.to_unit_nchw(torch.full((2, 1, 8, 8), 1.5)), "images"),
        (lambda: M.to_unit_nchw(torch.full((2, 1, 8, 8), -0.1)), "images"),
        (lambda: M.to_unit_nchw(torch.full((2, 1, 8, 8), float("nan"))), "images"),
        (lambda: M.to_unit_nchw(torch.rand(2, 2, 8, 8)), "images"),
        (lambda: M.to_unit_nchw(np.zeros((2, 8, 8), dtype=np.int64)), "images"),
        (lambda: M.inception_features(x, batch_size=0), "batch_size"),
        (lambda: M.fid(x[:1], x), "real"),
        (lambda: M.fid_from_features(f[:1], f), "f1"),
        (lambda: M.fid_from_features(f, f[:, :2]), "feature dimension"),
        (lambda: M.kid_from_features(f, f, subset_size=7), "subset_size"),
        (lambda: M.kid_from_features(f, f, n_subsets=0), "n_subsets"),
        (lambda: M.fid_kid_vs_n(f, f, ns=(2, 7)), "ns"),
        (lambda: M.fid_kid_vs_n(f, f, ns=(1,)), "ns"),
        (lambda: M.ssim(x, x, convention="matlab"), "convention"),
        (lambda: M.ssim(x, x, convention="skimage", data_range=0.0), "data_range"),
        (lambda: M.ssim(x, x[:3], convention="skimage"), "same number of images"),
        (lambda: M.ssim(x, np.zeros((4, 28, 28, 3), np.uint8), convention="skimage"), "channels"),
        (lambda: M.ssim(x[:, :6, :6], x[:, :6, :6], convention="skimage"), "H, W >= 7"),
        (lambda: M.ssim_paired(x, x, pairing="random", convention="skimage"), "pairing"),
        (lambda: M.ssim_paired(x, x[:2], pairing="index", convention="skimage"), "real"),
    ]
    for call, fragment in cases:
        with pytest.raises(ValueError, match=fragment):
            call()


def test_feature_cache_keys_on_pixels_and_skips_the_network(tmp_path, monkeypatch):
    calls = []

    def fake_features(view, batch_size, device, progress=False):
        calls.append(view.shape[0])
        return view.flatten(1).sum(1, keepdim=True).repeat(1, 2048)

    monkeypatch.setattr(M, "_features_of_view", fake_features)
    a = torch.rand(3, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    b = a.clone()
    b[0, 0, 0, 0] = 1.0 - b[0, 0, 0, 0]
    first = M.inception_features(a, cache_dir=tmp_path)
    again = M.inception_features(a.clone(), cache_dir=tmp_path)
    other = M.inception_features(b, cache_dir=tmp_path)
    assert calls == [3, 3]  # the identical set came from the cache; one changed pixel is a new key
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert len(list(tmp_path.glob("*.pt"))) == 2 and not list(tmp_path.glob("*.tmp"))
