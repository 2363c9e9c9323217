"""The metric protocols (qdm.protocols): reference sets, KID with its SE, seed summaries, both protocols, estimator bias."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from qdm.config import DataConfig
from qdm.protocols import (
    chen2025_protocol,
    estimator_bias_table,
    kid_with_se,
    qdm_protocol,
    quantise_uint8,
    reference_images,
    reference_note,
    cached_features,
    summarize_seeds,
)
from qdm.config import apply_overrides
from qdm.data import load_dataset
from qdm.families import get_family
from qdm.metrics import fid_from_features, mmd2_unbiased
from qdm.presets import get_preset


def _pixel_features(images: torch.Tensor) -> torch.Tensor:
    """A cheap stand-in for Inception: the pixels (float in [0, 1]) as float64 features."""
    assert images.is_floating_point() and images.shape[1] in (1, 3)
    return images.flatten(1).to(torch.float64)


def test_kid_with_se_matches_the_unbiased_estimator_and_its_leave_one_out_values():
    g = torch.Generator().manual_seed(12)
    x, y = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(7, 3, generator=g, dtype=torch.float64) + 0.5
    kid, se = kid_with_se(x, y)
    assert kid == pytest.approx(mmd2_unbiased(x, y), abs=1e-12)
    # brute-force jackknife
    loo_x = np.array([mmd2_unbiased(torch.cat([x[:i], x[i + 1:]]), y) for i in range(6)])
    loo_y = np.array([mmd2_unbiased(x, torch.cat([y[:j], y[j + 1:]])) for j in range(7)])
    var = 5 / 6 * ((loo_x - loo_x.mean()) ** 2).sum() + 6 / 7 * ((loo_y - loo_y.mean()) ** 2).sum()
    assert se == pytest.approx(math.sqrt(var), rel=1e-10)


def test_kid_standard_error_is_calibrated():
    """Mean jackknife SE ≈ the spread of KID over independent replicates (two Gaussians, d = 4)."""
    g = torch.Generator().manual_seed(13)
    kids, ses = [], []
    for _ in range(150):
        kid, se = kid_with_se(torch.randn(40, 4, generator=g, dtype=torch.float64),
                              torch.randn(40, 4, generator=g, dtype=torch.float64) * 1.3 + 0.3)
        kids.append(kid)
        ses.append(se)
    ratio = np.mean(ses) / np.std(kids, ddof=1)
    assert 0.75 < ratio < 1.35


def test_summarize_seeds_t_interval_and_coverage():
    s = summarize_seeds([1.0, 2.0, 3.0])
    assert s.mean == 2.0 and s.std == 1.0 and s.n == 3
    assert s.half_width == pytest.approx(4.302652729911275 / math.sqrt(3), rel=1e-9)
    one = summarize_seeds([4.0])
    assert one.mean == 4.0 and math.isnan(one.ci_low)
    rng = np.random.default_rng(14)
    hits = 0
    for _ in range(2000):
        r = summarize_seeds(rng.normal(5.0, 2.0, size=4).tolist())
        hits += r.ci_low <= 5.0 <= r.ci_high
    assert 0.93 < hits / 2000 < 0.97
    for bad in ([], [1.0, math.nan]):
        with pytest.raises(ValueError, match="values"):
            summarize_seeds(bad)


def test_chen2025_reference_is_official_order():
    mnist, note = (reference_images(DataConfig("mnist"), "chen2025", 5), reference_note(DataConfig("mnist"), "chen2025", 5))
    test = load_dataset("mnist", "test")
    assert torch.equal(mnist[:, 0], torch.from_numpy(np.array(test.images[:5])))
    assert list(np.asarray(test.labels[:5])) == [7, 2, 1, 0, 4]  # the official test order, any digit
    assert "official order" in note
    path, _ = (reference_images(DataConfig("pathmnist", classes=(1,)), "chen2025", 5), None)
    train = load_dataset("pathmnist", "train")
    order = np.argsort(np.asarray(train.index))
    firsts = order[np.asarray(train.labels)[order] == 1][:5]
    assert path.shape == (5, 3, 28, 28) and torch.equal(
        path, torch.from_numpy(np.asarray(train.images)[firsts]).permute(0, 3, 1, 2)
    )


def test_chen2025_protocol_pairs_by_index_with_skimage_ssim():
    real, _ = (reference_images(DataConfig("mnist"), "chen2025", 8), None)
    gen = torch.flip(real, dims=(0,))[:, :, :, :].contiguous()  # same images, other order
    result = chen2025_protocol(gen, real, features=_pixel_features)
    want = np.mean([structural_similarity(gen[i, 0].numpy(), real[i, 0].numpy(), data_range=255) for i in range(5)])
    assert result.ssim == pytest.approx(want, abs=1e-9) and result.n_generated == 5
    assert result.fid == pytest.approx(
        fid_from_features(_pixel_features(real[:5] / 255.0), _pixel_features(gen[:5] / 255.0)), rel=1e-9
    )
    same = chen2025_protocol(real, real, features=_pixel_features)
    assert same.ssim == pytest.approx(1.0) and abs(same.fid) < 1e-6
    changed = gen.clone()
    changed[5:] = 0  # images past the first five are not used
    assert chen2025_protocol(changed, real, features=_pixel_features) == result
    with pytest.raises(ValueError, match="n_generated=5"):
        chen2025_protocol(gen[:4], real, features=_pixel_features)


def test_qdm_protocol_counts_and_estimators():
    g = torch.Generator().manual_seed(15)
    gen = torch.rand(12, 1, 28, 28, generator=g)
    real = torch.rand(9, 1, 28, 28, generator=g)
    with pytest.raises(ValueError, match="min_generated=1000"):
        qdm_protocol(gen, real, features=_pixel_features)
    r = qdm_protocol(gen, real, min_generated=12, features=_pixel_features)
    fg, fr = _pixel_features(quantise_uint8(gen) / 255.0), _pixel_features(quantise_uint8(real) / 255.0)
    assert (r.n_generated, r.n_real) == (12, 9)
    assert r.kid == pytest.approx(kid_with_se(fr, fg)[0]) and r.fid == pytest.approx(fid_from_features(fr, fg))
    assert r.kid_se > 0 and -1 <= r.ssim <= 1


def test_estimator_bias_table_shows_fid_bias_and_unbiased_kid():
    g = torch.Generator().manual_seed(16)
    real = torch.randn(400, 8, generator=g, dtype=torch.float64)
    model = torch.randn(200, 8, generator=g, dtype=torch.float64) + 1.0
    table = estimator_bias_table(real, model, ns=(5, 20, 100, 200), n_repeats=4, seed=0)
    assert list(table.columns) == ["comparison", "n", "n_repeats", "fid_mean", "fid_std", "kid_mean", "kid_std"]
    rr = table[table.comparison == "real-vs-real"].set_index("n")
    mr = table[table.comparison == "model-vs-real"].set_index("n")
    assert rr.loc[5, "fid_mean"] > 3 * rr.loc[200, "fid_mean"]  # FID of identical distributions: pure bias, grows as n falls
    assert abs(rr.loc[200, "kid_mean"]) < 0.1 * mr.loc[200, "kid_mean"]  # KID of identical distributions ≈ 0
    assert mr.loc[200, "fid_mean"] > 8 * 0.9  # ‖Δμ‖² = 8
    with pytest.raises(ValueError, match="ns entries"):
        estimator_bias_table(real, model, ns=(300,))


# --- one definition per protocol: the runner, the audit and the notebooks see the same images ---------


@pytest.mark.parametrize("dataset, classes", [("mnist", (0,)), ("mnist", (6,)), ("pathmnist", (1,))])
@pytest.mark.parametrize("protocol", ["qdm", "chen2025"])
def test_runner_and_audit_get_the_same_reference_images(data_dir, dataset, classes, protocol):
    from qdm.audits.chen2025 import audit_references
    from qdm.runner import eval_reference

    cfg = apply_overrides(
        get_preset("chen2025", "smoke", dataset=dataset),
        [f"data.classes={classes[0]}", "eval.fid_real_images=40", f"data.data_dir={data_dir}", f"eval.protocol={protocol}"],
    )
    like = torch.zeros(1, 3 if dataset == "pathmnist" else 1, 28, 28)
    runner_images = eval_reference(cfg, get_family(cfg.family), like)
    chen, heldout = audit_references(cfg, n_chen=40)
    audit_images = heldout if protocol == "qdm" else chen
    assert runner_images.shape == audit_images.shape and torch.equal(runner_images, audit_images)
    direct = reference_images(cfg.data, protocol, 40).float() / 255
    assert torch.equal(direct, runner_images)


def test_qdm_protocol_draws_held_out_test_images_of_the_class_with_numpy(data_dir):
    data = DataConfig("mnist", classes=(3,), data_dir=str(data_dir), subset_seed=7)
    images = reference_images(data, "qdm", 30)
    test = load_dataset("mnist", "test", data_dir=str(data_dir))
    rows = np.flatnonzero(np.asarray(test.labels) == 3)
    want = np.asarray(test.images)[rows[np.random.default_rng(7).permutation(len(rows))][:30]]
    assert torch.equal(images[:, 0], torch.from_numpy(want))
    assert not torch.equal(reference_images(data, "qdm", 30, seed=8), images)
    with pytest.raises(ValueError, match="protocol must be one of"):
        reference_images(data, "fid50k", 30)
    with pytest.raises(ValueError, match="n must be an int >= 2"):
        reference_images(data, "qdm", 1)


def test_feature_cache_keys_on_pixels_and_skips_the_network(tmp_path):
    calls = []

    def fake_features(images):
        calls.append(images.shape[0])
        return images.flatten(1).sum(1, keepdim=True).double().repeat(1, 4)

    a = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    b = a.clone()
    b[0, 0, 0, 0] = 1.0 - b[0, 0, 0, 0]
    first = cached_features(a, tmp_path, fake_features)
    again = cached_features(a.clone(), tmp_path, fake_features)
    other = cached_features(b, tmp_path, fake_features)
    head = cached_features(a, tmp_path, fake_features, n=2)  # a prefix of a cached set: sliced, not recomputed
    assert calls == [3, 3]  # the identical set came from the cache; one changed pixel is a new key
    assert torch.equal(first, again) and not torch.equal(first, other) and torch.equal(head, first[:2])
    assert len(list(tmp_path.glob("*.pt"))) == 2 and not list(tmp_path.glob("*.tmp"))
    assert torch.equal(cached_features(a, None, fake_features), first) and calls == [3, 3, 3]


def test_families_score_against_the_protocol_images():
    """The PQC family's own reference set is the protocol's set (a latent model applies no pipeline to it)."""
    from qdm.families.pqc import pqc_eval_reference
    from qdm.presets import get_preset
    from qdm.protocols import reference_images, to_unit

    cfg = get_preset("cacioppo2023-cond-latent", "smoke")
    expected = to_unit(reference_images(cfg.data, cfg.eval.protocol, cfg.eval.fid_real_images))
    assert torch.equal(pqc_eval_reference(cfg), expected.float().contiguous())
