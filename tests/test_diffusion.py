"""Tests for qdm.diffusion: forward process, posterior, samplers, L_simple and complex noise."""

import math

import pytest
import torch

from qdm.diffusion import (
    complex_gaussian_noise,
    ddim_sample_loop,
    ddim_step,
    ddim_timesteps,
    gaussian_noise,
    l_simple,
    p_mean_variance,
    p_sample,
    p_sample_loop,
    posterior_mean_variance,
    predict_eps_from_x0,
    predict_x0_from_eps,
    q_sample,
    q_step,
)
from qdm.schedules import NoiseSchedule, cosine_schedule, linear_schedule, tailored_schedule


SCHEDULE_BUILDERS = {"linear": linear_schedule, "cosine": cosine_schedule, "tailored": tailored_schedule}


def _bcast(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return values.to(x.dtype.to_real()).reshape(-1, *([1] * (x.ndim - 1)))


def oracle_eps(x0: torch.Tensor, schedule: NoiseSchedule):
    """An eps-predictor that knows x0: eps = (x_t - sqrt(ab) x0) / sqrt(1 - ab), written out here."""

    def eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = _bcast(schedule.alpha_bar[t - 1], x_t)
        return (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()

    return eps_fn


def _zscore_mean_var(samples: torch.Tensor, mean: float, var: float) -> tuple[float, float]:
    """z-scores of the sample mean and sample variance against the true mean and variance."""
    n = samples.numel()
    z_mean = (samples.mean().item() - mean) / math.sqrt(var / n)
    z_var = (samples.var().item() - var) / (var * math.sqrt(2 / (n - 1)))
    return z_mean, z_var


# ---------------------------------------------------------------------------------------------
# forward process
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["linear", "cosine", "tailored"])
def test_closed_form_equals_sequential_q_steps_in_distribution(name):
    T, n = 100, 20000
    sched = SCHEDULE_BUILDERS[name](T)
    g = torch.Generator().manual_seed(10)
    x0 = torch.full((n,), 1.5, dtype=torch.float64)
    x = x0.clone()
    checkpoints = {1, 10, 50, T}
    for t in range(1, T + 1):
        x = q_step(x, t, torch.randn(n, generator=g, dtype=torch.float64), sched)
        if t in checkpoints:
            closed = q_sample(x0, t, torch.randn(n, generator=g, dtype=torch.float64), sched)
            ab = math.prod(1 - b for b in sched.betas[:t].tolist())
            for samples in (x, closed):
                z_mean, z_var = _zscore_mean_var(samples, math.sqrt(ab) * 1.5, 1 - ab)
                assert abs(z_mean) < 5 and abs(z_var) < 5, (name, t, z_mean, z_var)
            # two-sample check: sequential and closed-form samples agree with each other
            diff = (x.mean() - closed.mean()).item() / math.sqrt(2 * (1 - ab) / n)
            assert abs(diff) < 5


def test_q_sample_exact_values_and_batched_t():
    sched = linear_schedule(100)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64)
    noise = torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64)
    t = torch.tensor([1, 50, 100])
    batched = q_sample(x0, t, noise, sched)
    for i, ti in enumerate(t.tolist()):
        ab = math.prod(1 - (1e-4 + k * (0.02 - 1e-4) / 99) for k in range(ti))
        expected = math.sqrt(ab) * x0[i] + math.sqrt(1 - ab) * noise[i]
        torch.testing.assert_close(batched[i], expected, rtol=1e-12, atol=1e-12)
        single = q_sample(x0[i : i + 1], ti, noise[i : i + 1], sched)
        torch.testing.assert_close(batched[i : i + 1], single, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex64, torch.complex128])
def test_dtypes_are_preserved(dtype):
    sched = cosine_schedule(20)
    g = torch.Generator().manual_seed(0)
    x0 = gaussian_noise((4, 3), g, dtype=dtype)
    noise = gaussian_noise((4, 3), g, dtype=dtype)
    t = torch.tensor([1, 5, 10, 20])
    x_t = q_sample(x0, t, noise, sched)
    assert x_t.dtype == dtype
    assert q_step(x0, t, noise, sched).dtype == dtype
    mean, var = posterior_mean_variance(x0, x_t, t, sched)
    assert mean.dtype == dtype and var.dtype == dtype.to_real()
    x0_hat = predict_x0_from_eps(x_t, t, noise, sched)
    tol = 1e-4 if dtype in (torch.float32, torch.complex64) else 1e-10
    torch.testing.assert_close(x0_hat, x0, rtol=tol, atol=tol)
    torch.testing.assert_close(predict_eps_from_x0(x_t, t, x0, sched), noise, rtol=tol, atol=tol)


def test_complex_x0_with_complex_noise_closed_form():
    sched = linear_schedule(10)
    x0 = torch.tensor([[0.6 + 0.8j]], dtype=torch.complex128)
    noise = torch.tensor([[1.0 - 2.0j]], dtype=torch.complex128)
    ab = sched.alpha_bar_at(4).item()
    expected = math.sqrt(ab) * (0.6 + 0.8j) + math.sqrt(1 - ab) * (1.0 - 2.0j)
    assert complex(q_sample(x0, 4, noise, sched)[0, 0]) == pytest.approx(expected, abs=1e-14)
    # a real image with complex noise becomes complex (cacioppo2023qdm)
    assert q_sample(x0.real.float(), 4, noise.to(torch.complex64), sched).dtype == torch.complex64


# ---------------------------------------------------------------------------------------------
# posterior
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["linear", "cosine", "tailored"])
@pytest.mark.parametrize("t", [1, 2, 17, 40])
def test_posterior_matches_joint_gaussian_conditioning(name, t):
    sched = SCHEDULE_BUILDERS[name](40)
    betas = sched.betas.tolist()
    x0_val, xt_val = 0.3, -1.1
    # joint Gaussian of (x_{t-1}, x_t) given x_0, from jo2025qamp eqs. 1-2, in Python floats:
    ab_prev = math.prod(1 - b for b in betas[: t - 1])
    m1, v1 = math.sqrt(ab_prev) * x0_val, 1 - ab_prev
    a_t = 1 - betas[t - 1]
    m2, v2 = math.sqrt(a_t) * m1, a_t * v1 + betas[t - 1]
    cov = math.sqrt(a_t) * v1
    cond_mean = m1 + cov / v2 * (xt_val - m2)
    cond_var = v1 - cov**2 / v2
    x0 = torch.tensor([x0_val, x0_val], dtype=torch.float64)
    x_t = torch.tensor([xt_val, xt_val], dtype=torch.float64)
    mean, var = posterior_mean_variance(x0, x_t, torch.tensor([t, t]), sched)
    assert mean[0].item() == pytest.approx(cond_mean, rel=1e-9, abs=1e-12)
    assert var.reshape(-1)[0].item() == pytest.approx(cond_var, rel=1e-9, abs=1e-15)
    if t == 1:
        assert mean[0].item() == pytest.approx(x0_val, abs=1e-12) and var.reshape(-1)[0].item() == 0.0


def test_posterior_matches_product_of_gaussians():
    # q(x_{t-1}|x_t,x0) ∝ N(x_t; sqrt(a_t) x_{t-1}, b_t) N(x_{t-1}; sqrt(ab_{t-1}) x0, 1 - ab_{t-1})
    sched = linear_schedule(30)
    t, x0v, xtv = 12, -0.4, 0.9
    b = sched.betas[t - 1].item()
    ab_prev = sched.alpha_bar[t - 2].item()
    precision = (1 - b) / b + 1 / (1 - ab_prev)
    mean = (math.sqrt(1 - b) * xtv / b + math.sqrt(ab_prev) * x0v / (1 - ab_prev)) / precision
    got_mean, got_var = posterior_mean_variance(
        torch.tensor([x0v], dtype=torch.float64), torch.tensor([xtv], dtype=torch.float64), t, sched
    )
    assert got_mean.item() == pytest.approx(mean, rel=1e-10)
    assert got_var.item() == pytest.approx(1 / precision, rel=1e-10)


def test_p_mean_variance_with_true_eps_is_posterior_and_ho_eq_11():
    sched = cosine_schedule(50)
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(6, 5, generator=g, dtype=torch.float64)
    eps = torch.randn(6, 5, generator=g, dtype=torch.float64)
    t = torch.tensor([2, 5, 10, 20, 30, 49])
    x_t = q_sample(x0, t, eps, sched)
    out = p_mean_variance(eps, x_t, t, sched)
    post = posterior_mean_variance(x0, x_t, t, sched)
    torch.testing.assert_close(out.mean, post.mean, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(out.pred_x0, x0, rtol=1e-9, atol=1e-9)
    # Ho et al. eq. 11: mu = (x_t - beta_t / sqrt(1 - ab_t) eps) / sqrt(alpha_t)
    b, ab = _bcast(sched.betas[t - 1], x_t), _bcast(sched.alpha_bar[t - 1], x_t)
    torch.testing.assert_close(out.mean, (x_t - b / (1 - ab).sqrt() * eps) / (1 - b).sqrt(), rtol=1e-9, atol=1e-9)
    beta_var = p_mean_variance(eps, x_t, t, sched, variance_type="beta").variance
    torch.testing.assert_close(beta_var, b, rtol=0, atol=0)


def test_clip_x0_clamps_real_and_complex_parts():
    sched = linear_schedule(10)
    x_t = torch.tensor([[3.0 - 4.0j, 0.2 + 0.1j]], dtype=torch.complex128)
    eps = torch.zeros_like(x_t)
    out = p_mean_variance(eps, x_t, 5, sched, clip_x0=True)
    scale = 1 / math.sqrt(sched.alpha_bar_at(5).item())
    assert complex(out.pred_x0[0, 0]) == pytest.approx(1.0 - 1.0j)
    assert complex(out.pred_x0[0, 1]) == pytest.approx((0.2 + 0.1j) * scale)


# ---------------------------------------------------------------------------------------------
# samplers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-4), (torch.float64, 1e-10), (torch.complex128, 1e-10)])
@pytest.mark.parametrize("variance_type", ["posterior", "beta"])
def test_p_sample_loop_with_oracle_returns_x0(dtype, tol, variance_type):
    sched = linear_schedule(200)
    x0 = gaussian_noise((3, 1, 4, 4), torch.Generator().manual_seed(1), dtype=dtype)
    g = torch.Generator().manual_seed(2)
    out, trajectory = p_sample_loop(
        oracle_eps(x0, sched), x0.shape, sched, g, dtype=dtype, variance_type=variance_type, return_trajectory=True
    )
    assert out.dtype == dtype and trajectory.shape == (201, *x0.shape)
    torch.testing.assert_close(out, x0, rtol=tol, atol=tol)
    torch.testing.assert_close(trajectory[-1], out, rtol=0, atol=0)
    assert (trajectory[0] - x0).abs().mean() > 0.5  # it started from noise


def test_p_sample_loop_is_reproducible_and_seed_dependent():
    sched = cosine_schedule(30)

    def eps_fn(x, t):
        return 0.5 * x

    a = p_sample_loop(eps_fn, (2, 5), sched, torch.Generator().manual_seed(7))
    b = p_sample_loop(eps_fn, (2, 5), sched, torch.Generator().manual_seed(7))
    c = p_sample_loop(eps_fn, (2, 5), sched, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("n_steps", [1, 7, 100])
@pytest.mark.parametrize("eta", [0.0, 1.0])
# single precision: x0_hat = (x_t - ...) / sqrt(alpha_bar_T) amplifies rounding by 1/sqrt(alpha_bar_T) ~ 2e3
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 2e-3), (torch.float64, 1e-10), (torch.complex64, 2e-3)])
def test_ddim_with_oracle_returns_x0(n_steps, eta, dtype, tol):
    sched = cosine_schedule(100)
    x0 = gaussian_noise((4, 3, 3), torch.Generator().manual_seed(0), dtype=dtype)
    g = torch.Generator().manual_seed(1)
    out = ddim_sample_loop(oracle_eps(x0, sched), x0.shape, sched, n_steps, g, eta=eta, dtype=dtype)
    assert out.dtype == dtype
    torch.testing.assert_close(out, x0, rtol=tol, atol=tol)


def test_ddim_eta_zero_is_deterministic_given_x_T():
    sched = linear_schedule(50)
    x_T = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))

    def eps_fn(x, t):
        return torch.tanh(x) * t.reshape(-1, 1) / 50

    a = ddim_sample_loop(eps_fn, x_T.shape, sched, 10, torch.Generator().manual_seed(1), x_T=x_T)
    b = ddim_sample_loop(eps_fn, x_T.shape, sched, 10, torch.Generator().manual_seed(2), x_T=x_T)
    c = ddim_sample_loop(eps_fn, x_T.shape, sched, 10, torch.Generator().manual_seed(2), x_T=x_T, eta=1.0)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_ddim_step_eta_one_matches_ddpm_posterior_variance():
    # Song et al. eq. 16: eta = 1 with consecutive steps gives sigma^2 = beta_tilde_t.
    sched = linear_schedule(40)
    t, n = 20, 40000
    x0 = torch.zeros(n, dtype=torch.float64)
    x_t = torch.full((n,), 0.5, dtype=torch.float64)
    eps = predict_eps_from_x0(x_t, t, x0, sched)
    out = ddim_step(eps, x_t, t, t - 1, sched, torch.Generator().manual_seed(0), eta=1.0).prev_sample
    mean, var = posterior_mean_variance(x0, x_t, t, sched)
    z_mean, z_var = _zscore_mean_var(out, mean[0].item(), var[0].item())
    assert abs(z_mean) < 5 and abs(z_var) < 5


@pytest.mark.parametrize("name", ["cosine", "tailored"])
def test_samplers_with_exact_gaussian_score_recover_data_distribution(name):
    # Data x0 ~ N(mu, s^2): the Bayes-optimal eps is E[eps|x_t] = sqrt(1-ab)(x_t - sqrt(ab) mu)/(ab s^2 + 1 - ab).
    sched = SCHEDULE_BUILDERS[name](100)
    mu, s2, n = 0.5, 0.09, 4000

    def eps_fn(x, t):
        ab = _bcast(sched.alpha_bar[t - 1], x)
        return (1 - ab).sqrt() * (x - ab.sqrt() * mu) / (ab * s2 + 1 - ab)

    ddpm = p_sample_loop(eps_fn, (n,), sched, torch.Generator().manual_seed(0), dtype=torch.float64)
    ddim = ddim_sample_loop(eps_fn, (n,), sched, 100, torch.Generator().manual_seed(1), dtype=torch.float64)
    for samples in (ddpm, ddim):
        assert abs(samples.mean().item() - mu) < 5 * math.sqrt(s2 / n)
        # discretisation with T = 100 shrinks the variance by a few per cent
        assert 0.85 < samples.var().item() / s2 < 1.05


def test_ddim_timesteps_sub_sequence():
    assert ddim_timesteps(1000, 1).tolist() == [1000]
    assert ddim_timesteps(10, 10).tolist() == list(range(1, 11))
    taus = ddim_timesteps(1000, 50)
    assert taus[0] == 1 and taus[-1] == 1000 and len(taus) == 50
    assert bool((taus[1:] > taus[:-1]).all())
    for T in range(1, 30):
        for n in range(1, T + 1):
            taus = ddim_timesteps(T, n)
            assert len(set(taus.tolist())) == n and taus[-1] == T


# ---------------------------------------------------------------------------------------------
# L_simple
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex128])
def test_l_simple_zero_for_oracle_positive_otherwise(dtype):
    sched = linear_schedule(100)
    x0 = gaussian_noise((512, 4), torch.Generator().manual_seed(0), dtype=dtype)
    oracle_loss = l_simple(oracle_eps(x0, sched), x0, sched, torch.Generator().manual_seed(1))
    assert oracle_loss.item() < (1e-8 if dtype in (torch.float32,) else 1e-20)
    zero_loss = l_simple(lambda x, t: torch.zeros_like(x), x0, sched, torch.Generator().manual_seed(1))
    # E|eps|^2 = 1 per entry for real and complex noise
    assert zero_loss.dtype == dtype.to_real()
    assert abs(zero_loss.item() - 1) < 5 * math.sqrt(2 / 2048)


def test_l_simple_gradient_matches_finite_differences():
    sched = cosine_schedule(20)
    x0 = torch.randn(8, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def loss(w: torch.Tensor) -> torch.Tensor:
        def eps_fn(x, t):
            return w[0] * x + w[1] * t.reshape(-1, 1) / 20

        return l_simple(eps_fn, x0, sched, torch.Generator().manual_seed(5))

    w = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(loss, (w,))
    assert loss(w).item() > 0


# ---------------------------------------------------------------------------------------------
# noise
# ---------------------------------------------------------------------------------------------


def test_complex_noise_moments():
    n = 200000
    eps = complex_gaussian_noise((n,), torch.Generator().manual_seed(0))
    assert eps.dtype == torch.complex128
    se = 5 / math.sqrt(n)
    assert abs(eps.mean().real.item()) < se and abs(eps.mean().imag.item()) < se
    assert abs(eps.abs().pow(2).mean().item() - 1) < 5 * math.sqrt(2 / n)  # E|eps|^2 = 1 (Var |eps|^2 = 1)
    assert abs((eps.real * eps.imag).mean().item()) < 5 * 0.5 / math.sqrt(n)  # uncorrelated
    assert abs(eps.real.var().item() - 0.5) < 5 * 0.5 * math.sqrt(2 / n)
    assert abs(eps.imag.var().item() - 0.5) < 5 * 0.5 * math.sqrt(2 / n)
    wide = complex_gaussian_noise((n,), torch.Generator().manual_seed(1), dtype=torch.complex64, variance_per_part=1.0)
    assert wide.dtype == torch.complex64
    assert abs(wide.abs().pow(2).mean().item() - 2) < 5 * 2 / math.sqrt(n)


def test_noise_reproducible_with_generator():
    a = complex_gaussian_noise((3, 4), torch.Generator().manual_seed(3))
    b = complex_gaussian_noise((3, 4), torch.Generator().manual_seed(3))
    c = complex_gaussian_noise((3, 4), torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(
        gaussian_noise((5,), torch.Generator().manual_seed(3)), gaussian_noise((5,), torch.Generator().manual_seed(3))
    )


# ---------------------------------------------------------------------------------------------
# invalid input
# ---------------------------------------------------------------------------------------------


def test_invalid_inputs_raise_naming_the_parameter():
    sched = linear_schedule(10)
    x = torch.zeros(2, 3)
    g = torch.Generator().manual_seed(0)
    cases = [
        (lambda: q_sample(x, 0, x, sched), r"^t must lie in 1..T"),
        (lambda: q_sample(x, torch.tensor([1, 11]), x, sched), r"^t must lie in 1..T"),
        (lambda: q_sample(x, torch.tensor([1, 2, 3]), x, sched), r"^t must be a scalar or have shape \(2,\)"),
        (lambda: q_sample(x, torch.tensor([1.0, 2.0]), x, sched), r"^t must be an integer"),
        (lambda: q_sample(x, 1, torch.zeros(2, 4), sched), r"^noise must have the same shape"),
        (lambda: q_sample(torch.zeros(2, 3, dtype=torch.int64), 1, x, sched), r"^x0 must be a floating"),
        (lambda: q_step(x, 11, x, sched), r"^t must lie"),
        (lambda: posterior_mean_variance(x, torch.zeros(3, 3), 1, sched), r"^x0 must have the same shape"),
        (lambda: p_mean_variance(x, x, 2, sched, variance_type="learned"), r"^variance_type must be one of"),
        (lambda: p_sample(lambda a, t: torch.zeros(1), x, 2, sched, g), r"^eps_fn must return"),
        (lambda: p_sample(lambda a, t: a, x, 0, sched, g), r"^t must lie"),
        (lambda: p_sample_loop(lambda a, t: a, (0, 3), sched, g), r"^shape must be"),
        (lambda: p_sample_loop(lambda a, t: a, (2, 3), sched, g, x_T=torch.zeros(3, 3)), r"^x_T must have shape"),
        (lambda: ddim_sample_loop(lambda a, t: a, (2, 3), sched, 11, g), r"^n_steps must be an integer in 1..T"),
        (lambda: ddim_sample_loop(lambda a, t: a, (2, 3), sched, 0, g), r"^n_steps must be"),
        (lambda: ddim_sample_loop(lambda a, t: a, (2, 3), sched, 5, g, eta=-0.1), r"^eta must be"),
        (lambda: ddim_step(x, x, 3, 3, sched, g), r"^t_prev must be smaller than t"),
        (lambda: ddim_timesteps(0, 1), r"^T must be"),
        (lambda: complex_gaussian_noise((2,), g, dtype=torch.float32), r"^dtype must be torch.complex"),
        (lambda: complex_gaussian_noise((2,), g, variance_per_part=0.0), r"^variance_per_part must be"),
        (lambda: gaussian_noise((2,), g, dtype=torch.int64), r"^dtype must be"),
        (lambda: l_simple(lambda a, t: a, torch.zeros(2, 3, dtype=torch.int32), sched, g), r"^x0 must be"),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            call()
