"""Classical Gaussian diffusion maths: forward process, posterior, DDPM and DDIM samplers, L_simple.

Conventions used by every function here:

* **Time.** ``t`` is an integer in ``1..T``; ``x_0`` is the data and ``alpha_bar_0 = 1`` (empty
  product). ``t`` is a Python ``int``, a 0-d integer tensor (one ``t`` for the whole batch) or a
  1-d integer tensor of length ``B = x.shape[0]`` (one ``t`` per sample), broadcast over the
  remaining (image) dimensions. Range and dtype of ``t`` are checked by the schedule
  (:meth:`qdm.schedules.NoiseSchedule.alpha_bar_at`).
* **Dtypes.** Data may be float32, float64, complex64 or complex128. Schedule coefficients are
  kept in float64 and cast to the real dtype of the data just before use, so float32 data stays
  float32.
* **Noise.** A "standard" Gaussian is N(0, I) for real data and, for complex data,
  ``eps = eps_r + i eps_i`` with ``eps_r, eps_i ~ N(0, 1/2)`` independent, so that
  ``E|eps|^2 = 1`` per entry, the same total power as the real case (cacioppo2023qdm:
  Cacioppo et al. noise with complex Gaussians). All randomness is drawn from the
  ``torch.Generator`` passed in (``None`` uses torch's global generator).
* **Sampling loops** run under ``torch.no_grad()``.

* **Noise sources.** The training objective and the ancestral sampler draw their Gaussians through a
  :data:`NoiseFn` (``noise_fn(shape, generator, dtype, device)``; default :func:`gaussian_noise`), so a
  family that draws its noise elsewhere (quantum-generated noise, chen2025quantum) calls the same maths.
* **Forward scaling.** :func:`q_sample` / :func:`q_step` take ``noising="ddpm"`` (the square roots of
  the equations) or ``"as_coded"`` (the cacioppo2023qdm code as written: the noise scaled by 1 - abar_t,
  resp. beta_t, instead of their square roots).

The diffusers-style :class:`DDPMScheduler` (``add_noise`` / ``step``) is a thin object over these
functions and lives here, beside the maths it steps; :mod:`qdm.schedules` sits below this module.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
from tqdm import tqdm

from qdm.schedules import NoiseSchedule

__all__ = [
    "DDPMScheduler",
    "sampling_progress",
    "EpsFn",
    "NOISINGS",
    "NoiseFn",
    "Noising",
    "MeanVariance",
    "PMeanVariance",
    "StepOutput",
    "VARIANCE_TYPES",
    "VarianceType",
    "complex_gaussian_noise",
    "ddim_sample_loop",
    "ddim_step",
    "ddim_timesteps",
    "gaussian_noise",
    "l_simple",
    "p_mean_variance",
    "p_sample",
    "p_sample_loop",
    "p_step",
    "posterior_mean_variance",
    "predict_eps_from_x0",
    "predict_x0_from_eps",
    "q_sample",
    "q_step",
]

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""An eps-predictor ``eps_fn(x_t, t) -> eps``; ``t`` is an int64 tensor of shape ``(B,)``."""

NoiseFn = Callable[[Sequence[int], "torch.Generator | None", torch.dtype, "torch.device | str | None"], torch.Tensor]
"""``noise_fn(shape, generator, dtype, device)`` -> a standard-normal-like tensor of that shape."""

VarianceType = Literal["posterior", "beta"]
VARIANCE_TYPES: tuple[str, ...] = ("posterior", "beta")
Noising = Literal["ddpm", "as_coded"]
NOISINGS: tuple[str, ...] = ("ddpm", "as_coded")


class MeanVariance(NamedTuple):
    """A diagonal Gaussian: ``mean`` has the data's shape, ``variance`` broadcasts against it."""

    mean: torch.Tensor
    variance: torch.Tensor


class PMeanVariance(NamedTuple):
    """The reverse-step Gaussian p(x_{t-1} | x_t) and the x_0 it was built from."""

    mean: torch.Tensor
    variance: torch.Tensor
    pred_x0: torch.Tensor


class StepOutput(NamedTuple):
    """Result of one reverse step (diffusers' ``DDPMSchedulerOutput`` shape)."""

    prev_sample: torch.Tensor
    pred_x0: torch.Tensor


# ---------------------------------------------------------------------------------------------
# validation and broadcasting helpers
# ---------------------------------------------------------------------------------------------


def _check_data(x: object, name: str) -> torch.Tensor:
    """Check that ``x`` is a floating or complex tensor with a batch dimension."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not (x.is_floating_point() or x.is_complex()):
        raise ValueError(f"{name} must be a floating-point or complex tensor, got dtype {x.dtype}")
    if x.ndim < 1:
        raise ValueError(f"{name} must have a leading batch dimension (ndim >= 1), got a 0-d tensor")
    return x


def _check_same_shape(x: torch.Tensor, name: str, reference: torch.Tensor, ref_name: str) -> None:
    """Check that two data tensors have the same shape."""
    if x.shape != reference.shape:
        raise ValueError(
            f"{name} must have the same shape as {ref_name} {tuple(reference.shape)}, got {tuple(x.shape)}"
        )


def _check_t(t: int | torch.Tensor, batch: int, name: str = "t") -> torch.Tensor:
    """Return ``t`` as an integer tensor of shape ``()`` (same t for all) or ``(batch,)`` (one t per sample)."""
    if isinstance(t, bool) or not isinstance(t, (int, torch.Tensor)):
        raise ValueError(f"{name} must be an int or an integer tensor, got {type(t).__name__}")
    t_tensor = torch.as_tensor(t)
    if t_tensor.is_floating_point() or t_tensor.is_complex() or t_tensor.dtype == torch.bool:
        raise ValueError(f"{name} must be an integer tensor, got dtype {t_tensor.dtype}")
    if t_tensor.ndim != 0 and t_tensor.shape != (batch,):
        raise ValueError(
            f"{name} must be a scalar or have shape ({batch},) (one {name} per sample), "
            f"got shape {tuple(t_tensor.shape)}"
        )
    return t_tensor


def _batch_t(t: int | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``t`` as the int64 tensor of shape ``(B,)`` on ``like``'s device that an eps-predictor receives."""
    t_tensor = _check_t(t, like.shape[0])
    return t_tensor.to(device=like.device, dtype=torch.int64).expand(like.shape[0])


def _per_sample(values: torch.Tensor, like: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Cast float64 coefficients (per sample, or one for all) to a real dtype, shaped ``(B or 1, 1, ..., 1)``."""
    real_dtype = (dtype or like.dtype).to_real()
    return values.to(device=like.device, dtype=real_dtype).reshape(-1, *([1] * (like.ndim - 1)))


def _check_variance_type(variance_type: str) -> None:
    """Check ``variance_type`` against :data:`VARIANCE_TYPES`."""
    if variance_type not in VARIANCE_TYPES:
        raise ValueError(f"variance_type must be one of {list(VARIANCE_TYPES)}, got {variance_type!r}")


def _check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Check a sample shape: a non-empty sequence of positive ints (batch first)."""
    if isinstance(shape, torch.Size):
        shape = tuple(shape)
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) == 0
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)
    ):
        raise ValueError(f"shape must be a non-empty sequence of positive ints (batch first), got {shape!r}")
    return tuple(shape)


def _clamp_unit(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [-1, 1]; complex tensors have real and imaginary parts clamped separately."""
    if x.is_complex():
        return torch.complex(x.real.clamp(-1.0, 1.0), x.imag.clamp(-1.0, 1.0))
    return x.clamp(-1.0, 1.0)


def _check_eps_output(eps: object, x_t: torch.Tensor) -> torch.Tensor:
    """Check what an eps-predictor returned against ``x_t``."""
    if not isinstance(eps, torch.Tensor) or eps.shape != x_t.shape:
        got = tuple(eps.shape) if isinstance(eps, torch.Tensor) else type(eps).__name__
        raise ValueError(f"eps_fn must return a tensor of shape {tuple(x_t.shape)}, got {got}")
    return eps


# ---------------------------------------------------------------------------------------------
# noise
# ---------------------------------------------------------------------------------------------


def complex_gaussian_noise(
    shape: Sequence[int],
    generator: torch.Generator | None,
    dtype: torch.dtype = torch.complex128,
    variance_per_part: float = 0.5,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """cacioppo2023qdm: eps = eps_r + i eps_i, eps_r, eps_i ~ N(0, variance_per_part) independent (default 1/2, E|eps|^2 = 1)."""
    shape = _check_shape(shape)
    if dtype not in (torch.complex64, torch.complex128):
        raise ValueError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")
    if not (isinstance(variance_per_part, (int, float)) and math.isfinite(variance_per_part) and variance_per_part > 0):
        raise ValueError(f"variance_per_part must be a finite number > 0, got {variance_per_part!r}")
    draw_device = generator.device if generator is not None else device
    parts = torch.randn((2, *shape), generator=generator, dtype=dtype.to_real(), device=draw_device)
    parts = parts * math.sqrt(variance_per_part)
    return torch.complex(parts[0], parts[1]).to(device if device is not None else parts.device)


def gaussian_noise(
    shape: Sequence[int],
    generator: torch.Generator | None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """jo2025qamp eq. 2's eps ~ N(0, I): real N(0, 1) entries, or complex ones with E|eps|^2 = 1 (N(0, 1/2) per part)."""
    shape = _check_shape(shape)
    if dtype in (torch.complex64, torch.complex128):
        return complex_gaussian_noise(shape, generator, dtype=dtype, variance_per_part=0.5, device=device)
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point or complex dtype, got {dtype}")
    draw_device = generator.device if generator is not None else device
    noise = torch.randn(shape, generator=generator, dtype=dtype, device=draw_device)
    return noise.to(device if device is not None else noise.device)


def _noise_like(x: torch.Tensor, generator: torch.Generator | None, noise_fn: NoiseFn | None = None) -> torch.Tensor:
    """Noise with ``x``'s shape, dtype and device from ``noise_fn`` (default: standard Gaussian)."""
    draw = gaussian_noise if noise_fn is None else noise_fn
    return draw(tuple(x.shape), generator, x.dtype, x.device)


def _check_noise_fn(noise_fn: object) -> None:
    """Check a noise source: None or a callable ``noise_fn(shape, generator, dtype, device)``."""
    if noise_fn is not None and not callable(noise_fn):
        raise ValueError(f"noise_fn must be None (Gaussian) or a callable (shape, generator, dtype, device), got {noise_fn!r}")


def _check_noising(noising: str) -> None:
    """Check ``noising`` against :data:`NOISINGS`."""
    if noising not in NOISINGS:
        raise ValueError(f"noising must be one of {list(NOISINGS)}, got {noising!r}")


# ---------------------------------------------------------------------------------------------
# forward process
# ---------------------------------------------------------------------------------------------


def q_sample(
    x0: torch.Tensor,
    t: int | torch.Tensor,
    noise: torch.Tensor,
    schedule: NoiseSchedule,
    *,
    noising: Noising = "ddpm",
    allow_zero: bool = False,
) -> torch.Tensor:
    """ho2020ddpm eq. 4: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, a sample of q(x_t | x_0).

    ``noising="as_coded"``: x_t = sqrt(abar_t) x_0 + (1 - abar_t) eps (the cacioppo2023qdm code as written).
    ``allow_zero`` admits t = 0 (abar_0 = 1: x_0 itself).
    """
    _check_data(x0, "x0")
    _check_data(noise, "noise")
    _check_same_shape(noise, "noise", x0, "x0")
    _check_noising(noising)
    t = _check_t(t, x0.shape[0])
    alpha_bar = schedule.alpha_bar_at(t, allow_zero=allow_zero)
    dtype = torch.promote_types(x0.dtype, noise.dtype)
    noise_coef = (1.0 - alpha_bar).sqrt() if noising == "ddpm" else 1.0 - alpha_bar
    return _per_sample(alpha_bar.sqrt(), x0, dtype) * x0 + _per_sample(noise_coef, x0, dtype) * noise


def q_step(
    x_prev: torch.Tensor,
    t: int | torch.Tensor,
    noise: torch.Tensor,
    schedule: NoiseSchedule,
    *,
    noising: Noising = "ddpm",
) -> torch.Tensor:
    """ho2020ddpm eq. 2: x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps, a sample of q(x_t | x_{t-1}).

    ``noising="as_coded"``: x_t = sqrt(1 - beta_t) x_{t-1} + beta_t eps (the cacioppo2023qdm code as written).
    """
    _check_data(x_prev, "x_prev")
    _check_data(noise, "noise")
    _check_same_shape(noise, "noise", x_prev, "x_prev")
    _check_noising(noising)
    t = _check_t(t, x_prev.shape[0])
    beta = schedule.beta_at(t)
    dtype = torch.promote_types(x_prev.dtype, noise.dtype)
    noise_coef = beta.sqrt() if noising == "ddpm" else beta
    return _per_sample((1.0 - beta).sqrt(), x_prev, dtype) * x_prev + _per_sample(noise_coef, x_prev, dtype) * noise


# ---------------------------------------------------------------------------------------------
# posterior and reverse step
# ---------------------------------------------------------------------------------------------


def posterior_mean_variance(
    x0: torch.Tensor, x_t: torch.Tensor, t: int | torch.Tensor, schedule: NoiseSchedule
) -> MeanVariance:
    """ho2020ddpm eqs. 6-7: q(x_{t-1} | x_t, x_0) = N(mu_tilde(x_t, x_0), beta_tilde_t I)."""
    _check_data(x0, "x0")
    _check_data(x_t, "x_t")
    _check_same_shape(x0, "x0", x_t, "x_t")
    t = _check_t(t, x_t.shape[0])
    beta = schedule.beta_at(t)
    alpha = schedule.alpha_at(t)
    alpha_bar = schedule.alpha_bar_at(t)
    alpha_bar_prev = schedule.alpha_bar_at(t - 1, allow_zero=True)
    coef_x0 = alpha_bar_prev.sqrt() * beta / (1.0 - alpha_bar)
    coef_xt = alpha.sqrt() * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
    variance = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * beta
    mean = _per_sample(coef_x0, x0) * x0 + _per_sample(coef_xt, x_t) * x_t
    return MeanVariance(mean, _per_sample(variance, mean))


def predict_x0_from_eps(
    x_t: torch.Tensor, t: int | torch.Tensor, eps: torch.Tensor, schedule: NoiseSchedule
) -> torch.Tensor:
    """jo2025qamp eq. 2 solved for x_0: x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)."""
    _check_data(x_t, "x_t")
    _check_data(eps, "eps")
    _check_same_shape(eps, "eps", x_t, "x_t")
    t = _check_t(t, x_t.shape[0])
    alpha_bar = schedule.alpha_bar_at(t)
    return _per_sample(alpha_bar.rsqrt(), x_t) * x_t - _per_sample((1.0 / alpha_bar - 1.0).sqrt(), eps) * eps


def predict_eps_from_x0(
    x_t: torch.Tensor, t: int | torch.Tensor, x0: torch.Tensor, schedule: NoiseSchedule
) -> torch.Tensor:
    """jo2025qamp eq. 2 solved for eps: eps = (x_t - sqrt(alpha_bar_t) x_0) / sqrt(1 - alpha_bar_t)."""
    _check_data(x_t, "x_t")
    _check_data(x0, "x0")
    _check_same_shape(x0, "x0", x_t, "x_t")
    t = _check_t(t, x_t.shape[0])
    alpha_bar = schedule.alpha_bar_at(t)
    inv_sigma = (1.0 - alpha_bar).rsqrt()
    return _per_sample(inv_sigma, x_t) * x_t - _per_sample(alpha_bar.sqrt() * inv_sigma, x0) * x0


def p_mean_variance(
    eps_model_output: torch.Tensor,
    x_t: torch.Tensor,
    t: int | torch.Tensor,
    schedule: NoiseSchedule,
    clip_x0: bool = False,
    variance_type: VarianceType = "posterior",
) -> PMeanVariance:
    """ho2020ddpm eqs. 7 and 11: p(x_{t-1}|x_t) = N(mu_tilde(x_t, x0_hat), sigma_t^2), sigma_t^2 = beta_tilde_t or beta_t."""
    _check_variance_type(variance_type)
    pred_x0 = predict_x0_from_eps(x_t, t, eps_model_output, schedule)
    if clip_x0:
        pred_x0 = _clamp_unit(pred_x0)
    mean, posterior_variance = posterior_mean_variance(pred_x0, x_t, t, schedule)
    if variance_type == "posterior":
        variance = posterior_variance
    else:
        variance = _per_sample(schedule.beta_at(_check_t(t, x_t.shape[0])), mean)
    return PMeanVariance(mean, variance, pred_x0)


def p_step(
    eps_model_output: torch.Tensor,
    x_t: torch.Tensor,
    t: int | torch.Tensor,
    schedule: NoiseSchedule,
    generator: torch.Generator | None,
    clip_x0: bool = False,
    variance_type: VarianceType = "posterior",
    noise_fn: NoiseFn | None = None,
) -> StepOutput:
    """ho2020ddpm Algorithm 2, line 4: x_{t-1} = mu + sigma_t z, z from ``noise_fn`` (drawn every step, unused where t = 1)."""
    _check_noise_fn(noise_fn)
    mean, variance, pred_x0 = p_mean_variance(eps_model_output, x_t, t, schedule, clip_x0, variance_type)
    t = _check_t(t, x_t.shape[0])
    z = _noise_like(mean, generator, noise_fn)
    not_last = _per_sample((t > 1).to(torch.float64), mean)
    return StepOutput(mean + not_last * variance.sqrt() * z, pred_x0)


def p_sample(
    eps_fn: EpsFn,
    x_t: torch.Tensor,
    t: int | torch.Tensor,
    schedule: NoiseSchedule,
    generator: torch.Generator | None,
    clip_x0: bool = False,
    variance_type: VarianceType = "posterior",
    noise_fn: NoiseFn | None = None,
) -> torch.Tensor:
    """ho2020ddpm Algorithm 2, lines 3-4: one ancestral step x_t -> x_{t-1} with eps = eps_fn(x_t, t)."""
    _check_data(x_t, "x_t")
    _check_variance_type(variance_type)
    t_batch = _batch_t(t, x_t)
    schedule.alpha_bar_at(t_batch)  # validates the range of t before eps_fn runs
    eps = _check_eps_output(eps_fn(x_t, t_batch), x_t)
    return p_step(eps, x_t, t, schedule, generator, clip_x0, variance_type, noise_fn).prev_sample


def _initial_noise(
    shape: Sequence[int],
    generator: torch.Generator | None,
    dtype: torch.dtype,
    device: torch.device | str | None,
    x_T: torch.Tensor | None,
    noise_fn: NoiseFn | None = None,
) -> torch.Tensor:
    """x_T from ``noise_fn`` (default N(0, I)) of the requested shape and dtype, or the given ``x_T`` after checking it."""
    shape = _check_shape(shape)
    if x_T is None:
        return (gaussian_noise if noise_fn is None else noise_fn)(shape, generator, dtype, device)
    _check_data(x_T, "x_T")
    if tuple(x_T.shape) != shape:
        raise ValueError(f"x_T must have shape {shape}, got {tuple(x_T.shape)}")
    return x_T


_SAMPLING_PROGRESS: contextvars.ContextVar[bool] = contextvars.ContextVar("qdm_sampling_progress", default=False)


@contextlib.contextmanager
def sampling_progress(show: bool) -> Iterator[None]:
    """Within the block, samplers called with ``progress=None`` show (or hide) their tqdm bar (the runner's ``--quiet``)."""
    token = _SAMPLING_PROGRESS.set(bool(show))
    try:
        yield
    finally:
        _SAMPLING_PROGRESS.reset(token)


def _show(progress: bool | None) -> bool:
    """An explicit ``progress`` flag, or the ambient :func:`sampling_progress` setting when None."""
    return _SAMPLING_PROGRESS.get() if progress is None else bool(progress)


def p_sample_loop(
    eps_fn: EpsFn,
    shape: Sequence[int],
    schedule: NoiseSchedule,
    generator: torch.Generator | None,
    clip_x0: bool = False,
    progress: bool | None = None,
    return_trajectory: bool = False,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    variance_type: VarianceType = "posterior",
    x_T: torch.Tensor | None = None,
    noise_fn: NoiseFn | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """ho2020ddpm Algorithm 2: x_T ~ N(0, I), then p_sample for t = T..1; returns x_0 (and x_T..x_0 if asked).

    ``noise_fn`` draws x_T and every z (default: standard Gaussian). The trajectory, when requested, is a
    tensor of shape ``(T + 1, *shape)`` with ``trajectory[k] = x_{T-k}`` (first x_T, last the returned x_0).
    """
    _check_variance_type(variance_type)
    _check_noise_fn(noise_fn)
    x = _initial_noise(shape, generator, dtype, device, x_T, noise_fn)
    trajectory = [x] if return_trajectory else []
    steps = range(schedule.T, 0, -1)
    with torch.no_grad():
        for t in tqdm(steps, desc="DDPM sampling", disable=not _show(progress)):
            x = p_sample(eps_fn, x, t, schedule, generator, clip_x0, variance_type, noise_fn)
            if return_trajectory:
                trajectory.append(x)
    if return_trajectory:
        return x, torch.stack(trajectory)
    return x


# ---------------------------------------------------------------------------------------------
# DDIM (song2021ddim)
# ---------------------------------------------------------------------------------------------


def ddim_timesteps(T: int, n_steps: int) -> torch.Tensor:
    """song2021ddim sec. 4.2: an increasing sub-sequence tau_1 = 1 < ... < tau_S = T of 1..T, evenly spaced."""
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or not 1 <= n_steps <= T:
        raise ValueError(f"n_steps must be an integer in 1..T = 1..{T}, got {n_steps!r}")
    if n_steps == 1:
        return torch.tensor([T], dtype=torch.int64)
    k = torch.arange(n_steps, dtype=torch.int64)
    return 1 + (k * (T - 1)) // (n_steps - 1)


def ddim_step(
    eps_model_output: torch.Tensor,
    x_t: torch.Tensor,
    t: int | torch.Tensor,
    t_prev: int | torch.Tensor,
    schedule: NoiseSchedule,
    generator: torch.Generator | None,
    eta: float = 0.0,
    clip_x0: bool = False,
) -> StepOutput:
    """song2021ddim eq. 12: x_prev = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev - sigma^2) eps + sigma z,
    sigma from eq. 16 times eta.

    ``t_prev`` may be 0 (then ``alpha_bar_prev = 1`` and the step returns x0_hat). With
    ``clip_x0`` the eps used in the direction term is recomputed from the clipped x0_hat.
    """
    if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta >= 0):
        raise ValueError(f"eta must be a finite number >= 0, got {eta!r}")
    _check_data(x_t, "x_t")
    t = _check_t(t, x_t.shape[0])
    t_prev = _check_t(t_prev, x_t.shape[0], name="t_prev")
    if bool((t_prev.to(t.device) >= t).any()):
        raise ValueError("t_prev must be smaller than t for every sample")
    alpha_bar = schedule.alpha_bar_at(t)
    alpha_bar_prev = schedule.alpha_bar_at(t_prev, allow_zero=True).to(alpha_bar.device)
    pred_x0 = predict_x0_from_eps(x_t, t, eps_model_output, schedule)
    eps = eps_model_output
    if clip_x0:
        pred_x0 = _clamp_unit(pred_x0)
        eps = predict_eps_from_x0(x_t, t, pred_x0, schedule)
    sigma = eta * ((1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * (1.0 - alpha_bar / alpha_bar_prev)).sqrt()
    direction = (1.0 - alpha_bar_prev - sigma**2).clamp_min(0.0).sqrt()
    prev = _per_sample(alpha_bar_prev.sqrt(), pred_x0) * pred_x0 + _per_sample(direction, eps) * eps
    if eta > 0:
        prev = prev + _per_sample(sigma, prev) * _noise_like(prev, generator)
    return StepOutput(prev, pred_x0)


def ddim_sample_loop(
    eps_fn: EpsFn,
    shape: Sequence[int],
    schedule: NoiseSchedule,
    n_steps: int,
    generator: torch.Generator | None,
    eta: float = 0.0,
    clip_x0: bool = False,
    progress: bool | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    x_T: torch.Tensor | None = None,
) -> torch.Tensor:
    """song2021ddim eq. 12 on the sub-sequence ddim_timesteps(T, n_steps), from x_T ~ N(0, I) down to x_0
    (eta = 0: deterministic)."""
    if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta >= 0):
        raise ValueError(f"eta must be a finite number >= 0, got {eta!r}")
    taus = ddim_timesteps(schedule.T, n_steps).tolist()
    x = _initial_noise(shape, generator, dtype, device, x_T)
    pairs = list(zip(reversed(taus), reversed([0] + taus[:-1])))
    with torch.no_grad():
        for t, t_prev in tqdm(pairs, desc="DDIM sampling", disable=not _show(progress)):
            eps = _check_eps_output(eps_fn(x, _batch_t(t, x)), x)
            x = ddim_step(eps, x, t, t_prev, schedule, generator, eta, clip_x0).prev_sample
    return x


# ---------------------------------------------------------------------------------------------
# training objective
# ---------------------------------------------------------------------------------------------


def l_simple(
    eps_fn: EpsFn,
    x0: torch.Tensor,
    schedule: NoiseSchedule,
    generator: torch.Generator | None,
    noise: NoiseFn | torch.Tensor | None = None,
) -> torch.Tensor:
    """ho2020ddpm eq. 14: L_simple = E_{t ~ U{1..T}, eps} |eps - eps_fn(sqrt(ab_t) x_0 + sqrt(1 - ab_t) eps, t)|^2
    (mean per entry).

    Draws t first, then eps: from ``noise`` when it is a :data:`NoiseFn`, ``noise`` itself when it is a
    tensor of x_0's shape, else standard Gaussian.
    """
    _check_data(x0, "x0")
    draw_device = generator.device if generator is not None else x0.device
    t = torch.randint(1, schedule.T + 1, (x0.shape[0],), generator=generator, device=draw_device)
    t = t.to(x0.device)
    if isinstance(noise, torch.Tensor):
        _check_data(noise, "noise")
        _check_same_shape(noise, "noise", x0, "x0")
    else:
        _check_noise_fn(noise)
        noise = _noise_like(x0, generator, noise)
    x_t = q_sample(x0, t, noise, schedule)
    error = noise - _check_eps_output(eps_fn(x_t, t), x_t)
    if error.is_complex():
        return torch.view_as_real(error).pow(2).sum(-1).mean()
    return error.pow(2).mean()


# ---------------------------------------------------------------------------------------------
# diffusers-style scheduler object
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DDPMScheduler:
    """A diffusers-like DDPM scheduler: ``add_noise`` (ho2020ddpm eq. 4) and ``step`` (ho2020ddpm Algorithm 2).

    ``clip_x0`` clamps the predicted x_0 to [-1, 1] before the posterior mean (as the chen2025quantum
    code does); ``variance_type`` is ``"posterior"`` (beta_tilde_t) or ``"beta"`` (beta_t), Ho et al.'s
    two choices of sigma_t^2. Time steps are 1..T.
    """

    schedule: NoiseSchedule
    clip_x0: bool = False
    variance_type: VarianceType = "posterior"

    def __post_init__(self) -> None:
        """Validate the configuration."""
        if not isinstance(self.schedule, NoiseSchedule):
            raise ValueError(f"schedule must be a NoiseSchedule, got {type(self.schedule).__name__}")
        if not isinstance(self.clip_x0, bool):
            raise ValueError(f"clip_x0 must be a bool, got {self.clip_x0!r}")
        if self.variance_type not in VARIANCE_TYPES:
            raise ValueError(f"variance_type must be one of {list(VARIANCE_TYPES)}, got {self.variance_type!r}")

    @property
    def timesteps(self) -> torch.Tensor:
        """The reverse-time order of ho2020ddpm Algorithm 2: T, T-1, ..., 1 (int64)."""
        return torch.arange(self.schedule.T, 0, -1, dtype=torch.int64)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """ho2020ddpm eq. 4: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise (diffusers' argument order)."""
        return q_sample(x0, t, noise, self.schedule)

    def step(
        self,
        eps_pred: torch.Tensor,
        t: int | torch.Tensor,
        x_t: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> StepOutput:
        """ho2020ddpm Algorithm 2, line 4: one ancestral step x_t -> x_{t-1} from a predicted eps."""
        return p_step(eps_pred, x_t, t, self.schedule, generator, self.clip_x0, self.variance_type)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready config of the scheduler (its schedule included)."""
        return {"schedule": self.schedule.to_dict(), "clip_x0": self.clip_x0, "variance_type": self.variance_type}

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> DDPMScheduler:
        """Inverse of to_dict."""
        if not isinstance(config, Mapping) or "schedule" not in config:
            raise ValueError("config must be a mapping with a 'schedule' entry (and optional clip_x0, variance_type)")
        unknown = sorted(set(config) - {"schedule", "clip_x0", "variance_type"})
        if unknown:
            raise ValueError(f"config has unknown keys {unknown}; allowed: schedule, clip_x0, variance_type")
        return cls(
            schedule=NoiseSchedule.from_dict(config["schedule"]),
            clip_x0=config.get("clip_x0", False),
            variance_type=config.get("variance_type", "posterior"),
        )
