"""KID on the full sets with a two-sample jackknife SE: closed form vs brute force, and an honest uncertainty."""

from __future__ import annotations

import pytest
import torch

from qdm.metrics import kid_jackknife, mmd2_unbiased


def test_value_is_the_full_set_mmd_and_se_matches_a_brute_force_jackknife():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 4, generator=g, dtype=torch.float64)
    y = 0.5 + torch.randn(9, 4, generator=g, dtype=torch.float64)
    result = kid_jackknife(x, y)
    assert result.value == pytest.approx(mmd2_unbiased(x, y), rel=1e-12)
    loo_x = torch.tensor([mmd2_unbiased(torch.cat([x[:i], x[i + 1 :]]), y) for i in range(12)], dtype=torch.float64)
    loo_y = torch.tensor([mmd2_unbiased(x, torch.cat([y[:j], y[j + 1 :]])) for j in range(9)], dtype=torch.float64)
    var = 11 / 12 * (loo_x - loo_x.mean()).square().sum() + 8 / 9 * (loo_y - loo_y.mean()).square().sum()
    assert result.se == pytest.approx(float(var.sqrt()), rel=1e-9)
    assert (result.n_real, result.n_fake) == (12, 9)


def test_se_is_the_spread_over_independent_draws():
    g = torch.Generator().manual_seed(1)
    draws, ses = [], []
    for _ in range(60):
        x = torch.randn(80, 8, generator=g, dtype=torch.float64)
        y = 0.3 + torch.randn(80, 8, generator=g, dtype=torch.float64)
        r = kid_jackknife(x, y)
        draws.append(r.value)
        ses.append(r.se)
    spread = float(torch.tensor(draws).std())
    assert 0.7 < float(torch.tensor(ses).mean()) / spread < 1.4


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="f_real needs at least 3 rows"):
        kid_jackknife(torch.zeros(2, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="same feature dimension"):
        kid_jackknife(torch.zeros(4, 3), torch.zeros(5, 2))
