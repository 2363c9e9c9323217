"""Tests for qdm.schedules: closed forms, golden values, invariants, serialisation, DDPMScheduler."""

import json
import math

import pytest
import torch

from qdm import diffusion
from qdm.diffusion import DDPMScheduler
from qdm.schedules import (
    SCHEDULES,
    NoiseSchedule,
    constant_schedule,
    cosine_schedule,
    from_betas,
    linear_schedule,
    make_schedule,
    tailored_schedule,
)


def _prod_alpha(betas: list[float], t: int) -> float:
    """alpha_bar_t = prod_{s<=t} (1 - beta_s) in plain Python floats (independent of torch)."""
    return math.prod(1.0 - b for b in betas[:t])


def _cosine_f(t: int, T: int, s: float) -> float:
    """Nichol & Dhariwal eq. 17 numerator f(t) = cos^2(((t/T) + s)/(1 + s) * pi/2)."""
    return math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


ALL_DEFAULTS = {
    "linear": {},
    "cosine": {},
    "tailored": {},
    "constant": {"beta": 0.01},
}


# ---------------------------------------------------------------------------------------------
# golden values, computed here from the published formulas
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("t", [1, 2, 500, 999, 1000])
def test_linear_golden_values(t):
    sched = linear_schedule(1000)
    beta_t = 1e-4 + (t - 1) * (0.02 - 1e-4) / 999
    betas = [1e-4 + (s - 1) * (0.02 - 1e-4) / 999 for s in range(1, 1001)]
    assert sched.beta_at(t).item() == pytest.approx(beta_t, rel=1e-12)
    assert sched.alpha_at(t).item() == pytest.approx(1 - beta_t, rel=1e-12)
    assert sched.alpha_bar_at(t).item() == pytest.approx(_prod_alpha(betas, t), rel=1e-10)


def test_linear_known_end_value():
    # Ho et al.'s T = 1000 schedule: alpha_bar_T = prod(1 - beta) ~ 4.0358e-5 (log-sum computed here).
    log_ab = math.fsum(math.log1p(-(1e-4 + k * (0.02 - 1e-4) / 999)) for k in range(1000))
    assert linear_schedule(1000).alpha_bar[-1].item() == pytest.approx(math.exp(log_ab), rel=1e-10)
    assert math.exp(log_ab) == pytest.approx(4.0358e-5, rel=1e-3)


@pytest.mark.parametrize("T", [10, 1000])
def test_cosine_matches_cos2_closed_form_where_unclipped(T):
    s = 0.008
    sched = cosine_schedule(T, s=s)
    f0 = _cosine_f(0, T, s)
    for t in range(1, T):  # beta_T = 1 - 0/f(T-1) is clipped to max_beta
        assert sched.alpha_bar_at(t).item() == pytest.approx(_cosine_f(t, T, s) / f0, rel=1e-9, abs=1e-15)
    assert sched.beta_at(T).item() == 0.999
    for t in (1, T // 2, T - 1):
        expected_beta = 1 - _cosine_f(t, T, s) / _cosine_f(t - 1, T, s)
        assert sched.beta_at(t).item() == pytest.approx(expected_beta, rel=1e-9)


def test_cosine_chen_clipping_to_min_beta():
    # chen2025quantum's public code: betas clipped to [1e-4, 0.999]; the unclipped beta_1 ~ 4.1e-5 < 1e-4.
    unclipped = 1 - _cosine_f(1, 1000, 0.008) / _cosine_f(0, 1000, 0.008)
    assert unclipped < 1e-4
    sched = cosine_schedule(1000, min_beta=1e-4)
    assert sched.beta_at(1).item() == 1e-4
    assert sched.beta_at(1000).item() == 0.999
    assert float(sched.betas.min()) == 1e-4 and float(sched.betas.max()) == 0.999
    mid = 500
    assert sched.beta_at(mid).item() == pytest.approx(
        1 - _cosine_f(mid, 1000, 0.008) / _cosine_f(mid - 1, 1000, 0.008), rel=1e-9
    )


@pytest.mark.parametrize("t", [1, 7, 25, 49])
def test_tailored_golden_values(t):
    T, start, end, tau = 50, -3.0, 3.0, 1.0

    def alpha_bar(u):
        v_s, v_e = _sigmoid(start / tau), _sigmoid(end / tau)
        return (v_e - _sigmoid((u * (end - start) + start) / tau)) / (v_e - v_s)

    sched = tailored_schedule(T)
    assert sched.alpha_bar_at(t).item() == pytest.approx(alpha_bar(t / T), rel=1e-9)
    assert sched.beta_at(t).item() == pytest.approx(1 - alpha_bar(t / T) / alpha_bar((t - 1) / T), rel=1e-9)


def test_tailored_concentrates_noise_change_mid_trajectory():
    sched = tailored_schedule(100)
    ab = torch.cat([torch.ones(1, dtype=torch.float64), sched.alpha_bar])
    drop = ab[:-1] - ab[1:]  # alpha_bar_{t-1} - alpha_bar_t for t = 1..T
    peak = int(drop.argmax()) + 1
    assert 45 <= peak <= 56
    assert drop[0] < 0.2 * drop.max() and drop[-2] < 0.2 * drop.max()


@pytest.mark.parametrize("t", [1, 3, 10])
def test_constant_golden_values(t):
    sched = constant_schedule(10, 0.1)
    assert sched.alpha_bar_at(t).item() == pytest.approx(0.9**t, rel=1e-12)


def test_from_betas_keeps_values_and_products():
    betas = [0.004 + k * (0.4 - 0.004) / 8 for k in range(9)]  # cacioppo2023qdm's public code linspace(4e-3, 4e-1, 9)
    sched = from_betas(betas, name="qdm_pennylane")
    assert sched.T == 9 and sched.name == "qdm_pennylane"
    assert sched.betas.tolist() == betas
    for t in range(1, 10):
        assert sched.alpha_bar_at(t).item() == pytest.approx(_prod_alpha(betas, t), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# invariants
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_invariants_and_index_convention(name):
    sched = make_schedule(name, 1000, **ALL_DEFAULTS[name])
    assert sched.betas.dtype == sched.alphas.dtype == sched.alpha_bar.dtype == torch.float64
    assert sched.betas.shape == (1000,)
    assert bool(((sched.betas > 0) & (sched.betas < 1)).all())
    assert bool((sched.alpha_bar[1:] < sched.alpha_bar[:-1]).all())
    torch.testing.assert_close(sched.alphas, 1 - sched.betas, rtol=0, atol=0)
    torch.testing.assert_close(sched.alpha_bar, torch.cumprod(sched.alphas, 0), rtol=0, atol=0)
    # position t-1 holds time t
    t = torch.tensor([1, 17, 1000])
    torch.testing.assert_close(sched.alpha_bar_at(t), sched.alpha_bar[t - 1], rtol=0, atol=0)
    torch.testing.assert_close(sched.beta_at(t), sched.betas[t - 1], rtol=0, atol=0)
    assert sched.alpha_bar_at(torch.tensor(0), allow_zero=True).item() == 1.0
    assert sched.alpha_bar[-1].item() < 1e-3


def test_alpha_bar_at_keeps_shape_of_t():
    sched = linear_schedule(20)
    t = torch.tensor([[1, 2], [3, 20]])
    out = sched.alpha_bar_at(t)
    assert out.shape == (2, 2) and out.dtype == torch.float64
    assert out[1, 1].item() == sched.alpha_bar[-1].item()
    assert sched.alpha_bar_at(5).shape == ()


def test_t_equals_one_schedule_is_valid():
    for name in SCHEDULES:
        sched = make_schedule(name, 1, **ALL_DEFAULTS[name])
        assert sched.T == 1 and 0 < sched.alpha_bar_at(1).item() < 1


# ---------------------------------------------------------------------------------------------
# serialisation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_to_dict_from_dict_round_trip_through_json(name):
    sched = make_schedule(name, 37, **ALL_DEFAULTS[name])
    restored = NoiseSchedule.from_dict(json.loads(json.dumps(sched.to_dict())))
    assert restored == sched
    assert torch.equal(restored.alpha_bar, sched.alpha_bar)


def test_from_dict_rebuilds_registered_schedule_from_config_only():
    sched = cosine_schedule(64, min_beta=1e-4)
    config = {k: v for k, v in sched.to_dict().items() if k != "betas"}
    assert NoiseSchedule.from_dict(config) == sched


def test_custom_schedule_round_trip_and_inequality():
    sched = from_betas(torch.tensor([0.1, 0.2, 0.3]), name="custom")
    assert NoiseSchedule.from_dict(sched.to_dict()) == sched
    assert sched != from_betas([0.1, 0.2, 0.31], name="custom")
    assert linear_schedule(10) != linear_schedule(10, beta_end=0.03)


def test_from_dict_rejects_bad_configs():
    with pytest.raises(ValueError, match="T"):
        NoiseSchedule.from_dict({"name": "custom", "T": 4, "params": {}, "betas": [0.1, 0.2]})
    with pytest.raises(ValueError, match="config"):
        NoiseSchedule.from_dict({"name": "linear"})
    with pytest.raises(ValueError, match="schedule"):
        NoiseSchedule.from_dict({"name": "custom", "T": 3})


def test_schedule_is_frozen_and_inputs_are_copied():
    betas = torch.tensor([0.1, 0.2])
    sched = from_betas(betas)
    betas[0] = 0.5
    assert sched.betas[0].item() == pytest.approx(0.1)
    with pytest.raises(AttributeError):
        sched.T = 3


# ---------------------------------------------------------------------------------------------
# invalid input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("T", [0, -5, 2.5, True])
def test_bad_T_raises_naming_T(name, T):
    with pytest.raises(ValueError, match="T must be"):
        make_schedule(name, T, **ALL_DEFAULTS[name])
    with pytest.raises(ValueError, match="T must be"):
        SCHEDULES[name](T, **ALL_DEFAULTS[name])


def test_unknown_schedule_and_parameter_raise():
    with pytest.raises(ValueError, match=r"schedule must be one of \['constant', 'cosine', 'linear', 'tailored'\]"):
        make_schedule("quadratic", 10)
    with pytest.raises(ValueError, match="beta_end"):
        make_schedule("cosine", 10, beta_end=0.02)


@pytest.mark.parametrize(
    "build, pattern",
    [
        (lambda: constant_schedule(10, 0.0), "beta"),
        (lambda: constant_schedule(10, 1.0), "beta"),
        (lambda: linear_schedule(10, beta_start=-1e-4), "beta_start"),
        (lambda: linear_schedule(10, beta_end=1.5), "beta_end"),
        (lambda: from_betas([0.1, 1.0]), "betas"),
        (lambda: from_betas([0.1, float("nan")]), "betas"),
        (lambda: from_betas([]), "betas"),
        (lambda: cosine_schedule(10, max_beta=1.0), "max_beta"),
        (lambda: cosine_schedule(10, min_beta=0.5, max_beta=0.4), "min_beta"),
        (lambda: cosine_schedule(10, s=-0.1), "s must"),
        (lambda: tailored_schedule(10, start=2.0, end=1.0), "start"),
        (lambda: tailored_schedule(10, tau=0.0), "tau"),
        (lambda: NoiseSchedule("x", 3, {}, torch.tensor([0.1, 0.2])), "betas"),
        (lambda: NoiseSchedule("", 1, {}, torch.tensor([0.1])), "name"),
    ],
)
def test_invalid_schedule_parameters_raise(build, pattern):
    with pytest.raises(ValueError, match=pattern):
        build()


def test_alpha_bar_underflow_is_rejected():
    with pytest.raises(ValueError, match="strictly decreasing"):
        constant_schedule(2000, 0.5)  # 0.5**2000 underflows float64 to 0


@pytest.mark.parametrize("t", [0, 11, torch.tensor([1, 0]), torch.tensor([11]), torch.tensor([1.0]), 2.0, True])
def test_t_out_of_range_or_not_integer_raises_naming_t(t):
    sched = linear_schedule(10)
    with pytest.raises(ValueError, match=r"^t must"):
        sched.alpha_bar_at(t)
    with pytest.raises(ValueError, match=r"^t must"):
        sched.beta_at(t)


def test_allow_zero_still_rejects_negative_t():
    with pytest.raises(ValueError, match=r"t must lie in 0..T"):
        linear_schedule(10).alpha_bar_at(-1, allow_zero=True)


# ---------------------------------------------------------------------------------------------
# DDPMScheduler
# ---------------------------------------------------------------------------------------------


def test_scheduler_add_noise_is_closed_form():
    sched = cosine_schedule(50)
    scheduler = DDPMScheduler(sched)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64)
    noise = torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64)
    t = torch.tensor([1, 10, 25, 50])
    expected = torch.stack(
        [
            math.sqrt(_cosine_ab(int(ti), 50)) * x0[i] + math.sqrt(1 - _cosine_ab(int(ti), 50)) * noise[i]
            for i, ti in enumerate(t)
        ]
    )
    torch.testing.assert_close(scheduler.add_noise(x0, noise, t), expected, rtol=1e-9, atol=1e-12)
    assert scheduler.timesteps.tolist() == list(range(50, 0, -1))


def _cosine_ab(t: int, T: int, s: float = 0.008, max_beta: float = 0.999) -> float:
    """Cosine alpha_bar built step by step from the clipped betas (independent of qdm)."""
    ab = 1.0
    for k in range(1, t + 1):
        ab *= 1 - min(1 - _cosine_f(k, T, s) / _cosine_f(k - 1, T, s), max_beta)
    return ab


def test_scheduler_step_is_posterior_gaussian_for_true_eps():
    # With the true eps, one ancestral step samples q(x_{t-1} | x_t, x_0) (Ho et al. eq. 7).
    sched = linear_schedule(100)
    scheduler = DDPMScheduler(sched)
    g = torch.Generator().manual_seed(1)
    n, t = 40000, 30
    x0 = torch.full((n,), 0.7, dtype=torch.float64)
    eps = torch.randn(n, generator=g, dtype=torch.float64)
    x_t = scheduler.add_noise(x0, eps, t)
    out = scheduler.step(eps, t, x_t, generator=g)
    torch.testing.assert_close(out.pred_x0, x0, rtol=0, atol=1e-12)
    ab, ab_prev, beta = sched.alpha_bar_at(t).item(), sched.alpha_bar_at(t - 1).item(), sched.beta_at(t).item()
    mu = math.sqrt(ab_prev) * beta / (1 - ab) * x0 + math.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab) * x_t
    var = (1 - ab_prev) / (1 - ab) * beta
    z = (out.prev_sample - mu) / math.sqrt(var)  # should be N(0, 1)
    assert abs(z.mean().item()) < 5 / math.sqrt(n)
    assert abs(z.var().item() - 1) < 5 * math.sqrt(2 / n)


def test_scheduler_clip_and_variance_type_and_round_trip():
    sched = linear_schedule(20)
    scheduler = DDPMScheduler(sched, clip_x0=True, variance_type="beta")
    x_t = torch.full((3, 2), 5.0)
    out = scheduler.step(torch.full((3, 2), -3.0), torch.tensor([20, 5, 1]), x_t, torch.Generator().manual_seed(0))
    assert out.pred_x0.abs().max().item() <= 1.0
    assert out.prev_sample.dtype == torch.float32
    restored = DDPMScheduler.from_dict(json.loads(json.dumps(scheduler.to_dict())))
    assert restored == scheduler
    with pytest.raises(ValueError, match="variance_type"):
        DDPMScheduler(sched, variance_type="learned")
    with pytest.raises(ValueError, match="schedule"):
        DDPMScheduler("linear")


def test_scheduler_step_matches_diffusion_p_step():
    sched = tailored_schedule(30)
    scheduler = DDPMScheduler(sched)
    x_t = torch.randn(5, 4, generator=torch.Generator().manual_seed(2))
    eps = torch.randn(5, 4, generator=torch.Generator().manual_seed(3))
    a = scheduler.step(eps, 12, x_t, torch.Generator().manual_seed(4))
    b = diffusion.p_step(eps, x_t, 12, sched, torch.Generator().manual_seed(4))
    torch.testing.assert_close(a.prev_sample, b.prev_sample, rtol=0, atol=0)
