"""The folded, traced Inception agrees with the TorchScript file to float32 round-off, at any batch size."""

from __future__ import annotations

import torch

from qdm import metrics
from qdm.inception_fold import fold_conv_bn


def test_fold_conv_bn_equals_conv_then_batch_norm():
    g = torch.Generator().manual_seed(0)
    w, x = torch.randn(4, 3, 3, 3, generator=g), torch.randn(2, 3, 9, 9, generator=g)
    mean, var, beta = torch.randn(4, generator=g), torch.rand(4, generator=g) + 0.1, torch.randn(4, generator=g)
    expected = torch.nn.functional.batch_norm(torch.conv2d(x, w), mean, var, None, beta, False, 0.1, 1e-3)
    w2, b2 = fold_conv_bn(w, mean, var, beta)
    assert expected.shape == (2, 4, 7, 7) and torch.allclose(torch.conv2d(x, w2, b2), expected, atol=1e-5)
    assert not torch.allclose(torch.conv2d(x, w2), expected, atol=1e-2)  # the bias carries the shift


def test_folded_network_matches_the_file_for_odd_batch_sizes():
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    slow = metrics.InceptionFeatureExtractor(fast=False)(images)
    fast = metrics.InceptionFeatureExtractor(fast=True)(images)
    assert fast.shape == (3, 2048) and fast.dtype == torch.float64
    assert float((fast - slow).abs().max() / slow.abs().max()) < 1e-5
    one = metrics.InceptionFeatureExtractor(fast=True)(images[:1])  # another batch size than the trace's
    assert torch.allclose(one, fast[:1], rtol=1e-5, atol=1e-6)
    assert metrics._folded_network("cpu") is metrics._folded_network("cpu")  # built once per device
