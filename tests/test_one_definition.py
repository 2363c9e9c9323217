"""One definition per equation: the schedule formulas, the schedule builder, the forward noising and the
noise sources are written once and every caller goes through them (golden values and closed forms)."""

from __future__ import annotations

import math

import pytest
import torch

from qdm.diffusion import l_simple, q_sample, q_step
from qdm.families.hybrid import HybridModelConfig, schedule_for
from qdm.models.pqc_denoiser import PQCDenoiserConfig, diffusion_schedule, forward_marginal, forward_step
from qdm.quantum.density import depolarizing_schedule
from qdm.schedules import (
    build_schedule,
    constant_betas,
    cosine_betas,
    cosine_schedule,
    from_betas,
    linear_betas,
    linear_schedule,
)


def test_cosine_betas_golden_values():
    """nichol2021improved eq. 17 by hand for T = 4, s = 0.008."""
    f = [math.cos((k / 4 + 0.008) / 1.008 * math.pi / 2) ** 2 for k in range(5)]
    want = [min(1 - f[k] / f[k - 1], 0.999) for k in range(1, 5)]
    torch.testing.assert_close(cosine_betas(4), torch.tensor(want, dtype=torch.float64), rtol=0, atol=1e-15)
    assert float(cosine_betas(4)[-1]) == 0.999  # the last beta is clipped
    assert float(cosine_betas(1000, min_beta=1e-4).min()) == 1e-4


def test_depolarizing_schedule_is_the_schedules_formula():
    for T in (3, 10, 1000):
        assert torch.equal(depolarizing_schedule(T, "cosine"), cosine_betas(T, 0.008, 0.999, 0.0))
        assert torch.equal(depolarizing_schedule(T, "linear", p_start=0.01, p_end=0.3), linear_betas(T, 0.01, 0.3))
        assert torch.equal(depolarizing_schedule(T, "constant", p=0.2), constant_betas(T, 0.2))
    # the NoiseSchedule keeps its float32 normaliser f(0): within 4e-16 of the float64 one, bit-exact to old runs
    diff = (cosine_schedule(1000).betas - cosine_betas(1000)).abs().max()
    assert 0 < float(diff) < 4e-16


def test_build_schedule_names_and_offsets():
    s, off = build_schedule("cacioppo_linspace", 8, beta_start=4e-3, beta_end=0.4)
    assert off == 1 and s.T == 9 and torch.equal(s.betas, torch.linspace(4e-3, 0.4, 9, dtype=torch.float64))
    s, off = build_schedule("cosine", 10, cosine_min_beta=1e-4)
    assert off == 0 and s == cosine_schedule(10, min_beta=1e-4)
    assert build_schedule("linear", 5, beta_start=0.1, beta_end=0.2)[0] == linear_schedule(5, 0.1, 0.2)
    with pytest.raises(ValueError, match="schedule must be one of linear, cosine, tailored, constant, cacioppo_linspace"):
        build_schedule("quadratic", 5)


def test_cosine_means_one_thing_with_an_explicit_clip():
    """Both families build the cosine schedule through build_schedule; only cosine_min_beta differs, by default."""
    hybrid = HybridModelConfig(T=1000)
    pqc = PQCDenoiserConfig(schedule="cosine", T=1000)
    assert hybrid.cosine_min_beta == 1e-4 and pqc.cosine_min_beta == 0.0
    assert schedule_for(hybrid) == cosine_schedule(1000, min_beta=1e-4)
    assert diffusion_schedule(pqc)[0] == cosine_schedule(1000)
    same = PQCDenoiserConfig(schedule="cosine", T=1000, cosine_min_beta=1e-4)
    assert torch.equal(diffusion_schedule(same)[0].betas, schedule_for(hybrid).betas)


def test_q_sample_and_q_step_as_coded_closed_forms():
    sched = from_betas([0.1, 0.2, 0.3])
    x0 = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0, 1, 3])
    abar = torch.tensor([1.0, 0.9, 0.9 * 0.8 * 0.7], dtype=torch.float64)[:, None]
    torch.testing.assert_close(q_sample(x0, t, eps, sched, noising="as_coded", allow_zero=True),
                               abar.sqrt() * x0 + (1 - abar) * eps, rtol=0, atol=1e-15)
    torch.testing.assert_close(q_sample(x0, t, eps, sched, allow_zero=True),
                               abar.sqrt() * x0 + (1 - abar).sqrt() * eps, rtol=0, atol=1e-15)
    beta = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)[:, None]
    t = torch.tensor([1, 2, 3])
    torch.testing.assert_close(q_step(x0, t, eps, sched, noising="as_coded"),
                               (1 - beta).sqrt() * x0 + beta * eps, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match=r"^t must lie in 1\.\.T"):
        q_sample(x0, torch.tensor([0, 1, 2]), eps, sched)
    with pytest.raises(ValueError, match="noising must be one of"):
        q_sample(x0, t, eps, sched, noising="sqrt")  # type: ignore[arg-type]


def test_pqc_forward_noising_calls_the_shared_functions():
    sched, offset = build_schedule("cacioppo_linspace", 4, beta_start=4e-3, beta_end=0.4)
    x0 = torch.randn(2, 8, dtype=torch.complex128, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(2, 8, dtype=torch.complex128, generator=torch.Generator().manual_seed(1))
    level = torch.tensor([0, 3])
    for noising in ("ddpm", "as_coded"):
        assert torch.equal(forward_marginal(x0, level, eps, sched, offset, noising),
                           q_sample(x0, level + offset, eps, sched, noising=noising, allow_zero=True))
        assert torch.equal(forward_step(x0, level + 1, eps, sched, offset, noising),
                           q_step(x0, level + 1 + offset, eps, sched, noising=noising))


def test_l_simple_takes_a_noise_tensor_or_source():
    sched = linear_schedule(10)
    x0 = torch.rand(3, 1, 4, 4) * 2 - 1
    zero_eps = lambda x, t: torch.zeros_like(x)  # noqa: E731
    eps = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(4))
    # with eps_theta = 0 the loss is the mean square of the noise it drew
    assert torch.equal(l_simple(zero_eps, x0, sched, torch.Generator(), eps), eps.pow(2).mean())
    ones = lambda shape, g, dtype, device: torch.ones(shape, dtype=dtype, device=device)  # noqa: E731
    assert float(l_simple(zero_eps, x0, sched, torch.Generator(), ones)) == 1.0
    with pytest.raises(ValueError, match="noise must have the same shape as x0"):
        l_simple(zero_eps, x0, sched, torch.Generator(), eps[:2])
    with pytest.raises(ValueError, match="noise_fn must be None"):
        l_simple(zero_eps, x0, sched, torch.Generator(), 3.0)  # type: ignore[arg-type]
