"""Improved precision/recall (Kynkäänniemi et al. 2019): golden values on a hand-made example, brute force, limits."""

from __future__ import annotations

import pytest
import torch

from qdm.precision_recall import in_manifold, knn_radii, precision_recall


def test_golden_values_on_points_of_a_line():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    fake = torch.tensor([[0.5], [10.0], [3.9], [-1.5]])
    # k = 1: real radii are all 1 -> 0.5 and 3.9 inside, 10 and -1.5 outside
    assert knn_radii(real, 1).tolist() == [1.0, 1.0, 1.0, 1.0]
    assert knn_radii(fake, 1).tolist() == pytest.approx([2.0, 6.1, 3.4, 2.0])
    pr = precision_recall(real, fake, k=1)
    assert (pr.precision, pr.recall, pr.n_real, pr.n_fake) == (0.5, 1.0, 4, 4)
    # k = 2: real radii (2, 1, 1, 2) -> -1.5 (1.5 from 0) now inside as well
    assert knn_radii(real, 2).tolist() == [2.0, 1.0, 1.0, 2.0]
    assert precision_recall(real, fake, k=2).precision == 0.75


def test_matches_a_brute_force_loop():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(30, 5, generator=g, dtype=torch.float64), 1.5 * torch.randn(25, 5, generator=g, dtype=torch.float64)
    k = 3
    radii = [sorted(float((real[i] - real[j]).norm()) for j in range(30) if j != i)[k - 1] for i in range(30)]
    inside = [any(float((fake[q] - real[i]).norm()) <= radii[i] for i in range(30)) for q in range(25)]
    assert in_manifold(fake, real, k).tolist() == inside
    assert precision_recall(real, fake, k).precision == pytest.approx(sum(inside) / 25)


def test_a_copy_has_precision_and_recall_one_and_a_shifted_set_zero():
    x = torch.randn(50, 8, generator=torch.Generator().manual_seed(1))
    same = precision_recall(x, x.clone())
    assert same.precision == 1.0 and same.recall == 1.0
    far = precision_recall(x, x + 100.0)
    assert far.precision == 0.0 and far.recall == 0.0


def test_mode_collapse_keeps_precision_and_loses_recall():
    g = torch.Generator().manual_seed(2)
    real = torch.randn(400, 2, generator=g)
    collapsed = 0.1 * torch.randn(400, 2, generator=g)  # all samples near the mode
    pr = precision_recall(real, collapsed)
    assert pr.precision > 0.95 and pr.recall < 0.3


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        knn_radii(torch.zeros(5, 2), 0)
    with pytest.raises(ValueError, match=r"features needs at least 4 rows \(k \+ 1\)"):
        knn_radii(torch.zeros(3, 2), 3)
    with pytest.raises(ValueError, match="same feature dimension"):
        in_manifold(torch.zeros(2, 3), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="NaN"):
        precision_recall(torch.full((5, 2), float("nan")), torch.zeros(5, 2))
