"""Noise schedules beta_1..beta_T for Gaussian diffusion: each formula written once.

**Index convention.** Diffusion time ``t`` runs over ``1..T`` as in Ho et al. (2020) and
jo2025qamp eq. 1-2; ``t = 0`` is the data. The tensors ``betas``, ``alphas`` and ``alpha_bar`` have
length ``T`` and hold the value for time ``t`` at position ``t - 1``:

    betas[t - 1] = beta_t,   alphas[t - 1] = 1 - beta_t,   alpha_bar[t - 1] = prod_{s <= t} alpha_s.

Do not index them by hand; use :meth:`NoiseSchedule.beta_at`, :meth:`NoiseSchedule.alpha_at`
and :meth:`NoiseSchedule.alpha_bar_at`, which take ``t`` itself (``alpha_bar_at(0,
allow_zero=True)`` is the empty product 1). (diffusers counts ``0..T-1`` instead.)

All schedule tensors are float64 on the CPU; :mod:`qdm.diffusion` casts them to the data's dtype.
A schedule is a frozen value: ``to_dict()`` gives a JSON-ready config (name, T, params and the
betas) and ``from_dict()`` rebuilds it exactly, in the spirit of diffusers' ``register_to_config``.

The raw formulas (:func:`linear_betas`, :func:`cosine_betas`, :func:`constant_betas`) are the one
definition of each schedule; the validated :class:`NoiseSchedule` constructors and the depolarizing
probabilities of :func:`qdm.quantum.density.depolarizing_schedule` both call them.
:func:`build_schedule` is the one builder from a model config's schedule fields (it also knows the
``cacioppo_linspace`` schedule with its time offset).  The diffusers-style ``DDPMScheduler`` lives
beside the maths it steps, in :mod:`qdm.diffusion`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch

__all__ = [
    "SCHEDULE_NAMES",
    "NoiseSchedule",
    "SCHEDULES",
    "build_schedule",
    "constant_betas",
    "constant_schedule",
    "cosine_betas",
    "cosine_schedule",
    "from_betas",
    "linear_betas",
    "linear_schedule",
    "make_schedule",
    "tailored_schedule",
]


# ---------------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------------


def _check_T(T: object) -> int:
    """Check the number of diffusion steps: an int >= 1."""
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}")
    return T


def _check_real(value: object, name: str, low: float, high: float, *, closed_low: bool, closed_high: bool) -> float:
    """Check that ``value`` is a finite real number in the stated interval."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    above = value >= low if closed_low else value > low
    below = value <= high if closed_high else value < high
    if not (above and below):
        interval = f"{'[' if closed_low else '('}{low}, {high}{']' if closed_high else ')'}"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return float(value)


def _check_clip(min_beta: float, max_beta: float) -> tuple[float, float]:
    """Check clipping bounds 0 <= min_beta < max_beta < 1."""
    min_beta = _check_real(min_beta, "min_beta", 0.0, 1.0, closed_low=True, closed_high=False)
    max_beta = _check_real(max_beta, "max_beta", 0.0, 1.0, closed_low=False, closed_high=False)
    if min_beta >= max_beta:
        raise ValueError(f"min_beta must be < max_beta, got min_beta={min_beta}, max_beta={max_beta}")
    return min_beta, max_beta


def _validated_betas(betas: object, T: int) -> torch.Tensor:
    """Return ``betas`` as a fresh float64 CPU vector of length T with 0 < beta < 1."""
    if not isinstance(betas, torch.Tensor):
        try:
            betas = torch.as_tensor(betas, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(f"betas must be a sequence of real numbers, got {type(betas).__name__}") from error
    if betas.is_complex() or betas.dtype == torch.bool:
        raise ValueError(f"betas must be real, got dtype {betas.dtype}")
    betas = betas.detach().to(device="cpu", dtype=torch.float64).clone()
    if betas.ndim != 1 or betas.numel() != T:
        raise ValueError(f"betas must be a 1-d tensor of length T = {T}, got shape {tuple(betas.shape)}")
    if not bool(torch.isfinite(betas).all()) or not bool(((betas > 0) & (betas < 1)).all()):
        bad = betas[~(torch.isfinite(betas) & (betas > 0) & (betas < 1))]
        raise ValueError(f"betas must satisfy 0 < beta < 1, got values such as {bad[:3].tolist()}")
    return betas


def _check_params(params: object) -> dict[str, float]:
    """Check schedule parameters: a mapping from str to real numbers."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a mapping of str to numbers, got {type(params).__name__}")
    for key, value in params.items():
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"params must map str to numbers, got {key!r}: {value!r}")
    return dict(params)


# ---------------------------------------------------------------------------------------------
# the schedule value
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class NoiseSchedule:
    """A variance schedule beta_1..beta_T (jo2025qamp eq. 1) with alphas and alpha_bar (jo2025qamp eq. 2).

    ``name``, ``T`` and ``params`` describe how it was built; ``betas`` (float64, position
    ``t - 1`` holds beta_t) is the ground truth. ``alphas`` and ``alpha_bar`` are derived and
    read-only by convention (torch tensors cannot be frozen; do not modify them in place).
    Invariants checked on construction: T >= 1, 0 < beta_t < 1, alpha_bar strictly decreasing
    and positive (no float64 underflow).
    """

    name: str
    T: int
    params: Mapping[str, float]
    betas: torch.Tensor
    alphas: torch.Tensor = field(init=False)
    alpha_bar: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        """Validate, copy the inputs and derive alphas and alpha_bar."""
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        T = _check_T(self.T)
        betas = _validated_betas(self.betas, T)
        alphas = 1.0 - betas
        alpha_bar = torch.cumprod(alphas, dim=0)
        if not bool((alpha_bar > 0).all()) or not bool((alpha_bar[1:] < alpha_bar[:-1]).all()):
            raise ValueError(
                "betas give an alpha_bar that is not strictly decreasing and positive in float64 "
                f"(alpha_bar_T = {alpha_bar[-1].item():.3e}); use smaller betas or a smaller T"
            )
        object.__setattr__(self, "params", MappingProxyType(_check_params(self.params)))
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "alphas", alphas)
        object.__setattr__(self, "alpha_bar", alpha_bar)

    def __repr__(self) -> str:
        """Short description: name, T, params and the end values of alpha_bar."""
        return (
            f"NoiseSchedule(name={self.name!r}, T={self.T}, params={dict(self.params)}, "
            f"alpha_bar_1={self.alpha_bar[0].item():.6g}, alpha_bar_T={self.alpha_bar[-1].item():.6g})"
        )

    def __eq__(self, other: object) -> bool:
        """Equal when name, T, params and every beta agree exactly."""
        if not isinstance(other, NoiseSchedule):
            return NotImplemented
        return (
            self.name == other.name
            and self.T == other.T
            and dict(self.params) == dict(other.params)
            and torch.equal(self.betas, other.betas)
        )

    __hash__ = None  # type: ignore[assignment]  # holds tensors

    def _index(self, t: int | torch.Tensor, allow_zero: bool) -> torch.Tensor:
        """Check ``t`` (integer, in 1..T or 0..T) and return it as an int64 CPU tensor."""
        if isinstance(t, bool) or not isinstance(t, (int, torch.Tensor)):
            raise ValueError(f"t must be an int or an integer tensor, got {type(t).__name__}")
        t_tensor = torch.as_tensor(t)
        if t_tensor.is_floating_point() or t_tensor.is_complex() or t_tensor.dtype == torch.bool:
            raise ValueError(f"t must be an integer tensor, got dtype {t_tensor.dtype}")
        t_cpu = t_tensor.to(device="cpu", dtype=torch.int64)
        low = 0 if allow_zero else 1
        if t_cpu.numel() and (int(t_cpu.min()) < low or int(t_cpu.max()) > self.T):
            raise ValueError(
                f"t must lie in {low}..T = {low}..{self.T}, got values in "
                f"{int(t_cpu.min())}..{int(t_cpu.max())}"
            )
        return t_cpu

    def _gather(self, values: torch.Tensor, t: int | torch.Tensor, at_zero: float | None) -> torch.Tensor:
        """values_t for each t (float64, shape and device of t); ``at_zero`` is the t = 0 value if allowed."""
        t_cpu = self._index(t, allow_zero=at_zero is not None)
        if at_zero is not None:
            values = torch.cat([torch.tensor([at_zero], dtype=torch.float64), values])
            out = values[t_cpu]
        else:
            out = values[t_cpu - 1]
        return out.to(torch.as_tensor(t).device)

    def beta_at(self, t: int | torch.Tensor) -> torch.Tensor:
        """jo2025qamp eq. 1: beta_t for integer t in 1..T (any shape), float64."""
        return self._gather(self.betas, t, at_zero=None)

    def alpha_at(self, t: int | torch.Tensor) -> torch.Tensor:
        """jo2025qamp eq. 2: alpha_t = 1 - beta_t for integer t in 1..T (any shape), float64."""
        return self._gather(self.alphas, t, at_zero=None)

    def alpha_bar_at(self, t: int | torch.Tensor, allow_zero: bool = False) -> torch.Tensor:
        """jo2025qamp eq. 2: alpha_bar_t = prod_{s<=t} alpha_s for t in 1..T (0..T with allow_zero, alpha_bar_0 = 1)."""
        return self._gather(self.alpha_bar, t, at_zero=1.0 if allow_zero else None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready config: name, T, params and the betas as Python floats (exact round trip)."""
        return {"name": self.name, "T": self.T, "params": dict(self.params), "betas": self.betas.tolist()}

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> NoiseSchedule:
        """Inverse of to_dict; without 'betas', rebuilds a registered schedule from name, T and params."""
        if not isinstance(config, Mapping):
            raise ValueError(f"config must be a mapping, got {type(config).__name__}")
        unknown = set(config) - {"name", "T", "params", "betas"}
        missing = {"name", "T"} - set(config)
        if unknown or missing:
            raise ValueError(
                f"config must have keys 'name', 'T' and optionally 'params', 'betas'; "
                f"missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        params = config.get("params", {})
        if "betas" in config:
            return cls(name=config["name"], T=config["T"], params=params, betas=config["betas"])
        return make_schedule(config["name"], config["T"], **_check_params(params))


# ---------------------------------------------------------------------------------------------
# constructors
# ---------------------------------------------------------------------------------------------


def _betas_from_alpha_bar(
    alpha_bar_fn: Callable[[torch.Tensor], torch.Tensor], T: int, min_beta: float, max_beta: float
) -> torch.Tensor:
    """nichol2021improved eq. 17 recipe: beta_t = clip(1 - abar(t/T) / abar((t-1)/T), min_beta, max_beta)."""
    u = torch.arange(T + 1, dtype=torch.float64) / T
    alpha_bar = alpha_bar_fn(u)
    return (1.0 - alpha_bar[1:] / alpha_bar[:-1]).clamp(min_beta, max_beta)


def linear_betas(T: int, beta_start: float, beta_end: float) -> torch.Tensor:
    """ho2020ddpm sec. 4: beta_t evenly spaced from beta_start (t = 1) to beta_end (t = T), float64 (T,); unchecked."""
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def cosine_betas(
    T: int,
    s: float = 0.008,
    max_beta: float = 0.999,
    min_beta: float = 0.0,
    *,
    f0_dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """nichol2021improved eq. 17: beta_t = clip(1 - abar(t/T)/abar((t-1)/T), min_beta, max_beta), float64 (T,); unchecked.

    abar(u) = f(u)/f(0), f(u) = cos^2((u + s)/(1 + s) pi/2).  f(0) cancels in the ratio; ``f0_dtype`` is the
    dtype it is evaluated in (:class:`NoiseSchedule` has always used float32, which moves betas by at most
    ~4e-16; it is kept so that existing runs reproduce bit for bit).
    """

    def f(u: torch.Tensor) -> torch.Tensor:
        """The squared cosine of nichol2021improved eq. 17."""
        return torch.cos((u + s) / (1.0 + s) * (math.pi / 2)) ** 2

    return _betas_from_alpha_bar(lambda u: f(u) / f(torch.zeros((), dtype=f0_dtype)), T, min_beta, max_beta)


def constant_betas(T: int, beta: float) -> torch.Tensor:
    """The cacioppo2023qdm follow-up (IJCNN 2025; beta = 1e-2): beta_t = beta for every t, float64 (T,); unchecked."""
    return torch.full((T,), float(beta), dtype=torch.float64)


def linear_schedule(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
    """ho2020ddpm sec. 4: beta_t linear from beta_start (t = 1) to beta_end (t = T) (:func:`linear_betas`)."""
    T = _check_T(T)
    beta_start = _check_real(beta_start, "beta_start", 0.0, 1.0, closed_low=False, closed_high=False)
    beta_end = _check_real(beta_end, "beta_end", 0.0, 1.0, closed_low=False, closed_high=False)
    betas = linear_betas(T, beta_start, beta_end)
    return NoiseSchedule("linear", T, {"beta_start": beta_start, "beta_end": beta_end}, betas)


def cosine_schedule(T: int, s: float = 0.008, max_beta: float = 0.999, min_beta: float = 0.0) -> NoiseSchedule:
    """nichol2021improved eq. 17: alpha_bar_t = f(t)/f(0), f(t) = cos^2((t/T + s)/(1 + s) pi/2), betas clipped
    to [min_beta, max_beta].

    Nichol & Dhariwal clip at max_beta = 0.999 only; the Chen et al. code (chen2025quantum) also
    clips below at min_beta = 1e-4. alpha_bar is recomputed as the product of the clipped
    alphas, so it equals the cos^2 closed form exactly where no beta was clipped.
    """
    T = _check_T(T)
    s = _check_real(s, "s", 0.0, math.inf, closed_low=True, closed_high=False)
    min_beta, max_beta = _check_clip(min_beta, max_beta)
    betas = cosine_betas(T, s, max_beta, min_beta, f0_dtype=torch.float32)
    return NoiseSchedule("cosine", T, {"s": s, "max_beta": max_beta, "min_beta": min_beta}, betas)


def tailored_schedule(
    T: int,
    start: float = -3.0,
    end: float = 3.0,
    tau: float = 1.0,
    max_beta: float = 0.999,
    min_beta: float = 0.0,
) -> NoiseSchedule:
    """qdm's stated reconstruction (not the authors') of Chen et al.'s "tailored noise schedule":
    the sigmoid schedule of T. Chen 2023.

    The hybrid paper (arXiv:2504.00034, chen2025quantum) only says its schedule applies
    different noise levels strategically across time steps; no formula is published and the
    authors' code uses the plain cosine schedule. qdm reconstructs it as the sigmoid schedule
    of T. Chen, "On the Importance of Noise Scheduling for Diffusion Models" (arXiv:2301.10972,
    Algorithm 1), with u = t/T and sigma the logistic function:

        alpha_bar(u) = (sigma(end/tau) - sigma((u (end - start) + start)/tau))
                       / (sigma(end/tau) - sigma(start/tau)),

    so alpha_bar(0) = 1, alpha_bar(1) = 0 and, for start = -end, the fastest change of
    alpha_bar is at mid-trajectory (u = 1/2): little noise is added in the first and last
    steps and most in the middle. Smaller ``tau`` concentrates it further. Betas follow
    Nichol & Dhariwal's recipe and are clipped to [min_beta, max_beta] like the cosine schedule.
    """
    T = _check_T(T)
    start = _check_real(start, "start", -math.inf, math.inf, closed_low=False, closed_high=False)
    end = _check_real(end, "end", -math.inf, math.inf, closed_low=False, closed_high=False)
    if not start < end:
        raise ValueError(f"start must be < end, got start={start}, end={end}")
    tau = _check_real(tau, "tau", 0.0, math.inf, closed_low=False, closed_high=False)
    min_beta, max_beta = _check_clip(min_beta, max_beta)
    v_start = torch.sigmoid(torch.tensor(start / tau, dtype=torch.float64))
    v_end = torch.sigmoid(torch.tensor(end / tau, dtype=torch.float64))

    def alpha_bar(u: torch.Tensor) -> torch.Tensor:
        """T. Chen 2023 Algorithm 1: the normalised, reversed sigmoid of the warped time."""
        return (v_end - torch.sigmoid((u * (end - start) + start) / tau)) / (v_end - v_start)

    betas = _betas_from_alpha_bar(alpha_bar, T, min_beta, max_beta)
    params = {"start": start, "end": end, "tau": tau, "max_beta": max_beta, "min_beta": min_beta}
    return NoiseSchedule("tailored", T, params, betas)


def constant_schedule(T: int, beta: float) -> NoiseSchedule:
    """The cacioppo2023qdm follow-up (IJCNN 2025; beta = 1e-2): beta_t = beta for every t, so alpha_bar_t = (1 - beta)^t."""
    T = _check_T(T)
    beta = _check_real(beta, "beta", 0.0, 1.0, closed_low=False, closed_high=False)
    return NoiseSchedule("constant", T, {"beta": beta}, constant_betas(T, beta))


def from_betas(betas: Sequence[float] | torch.Tensor, name: str = "custom") -> NoiseSchedule:
    """jo2025qamp eq. 1 with a given variance schedule beta_1..beta_T (e.g. the cacioppo2023qdm linspace of the QDM code)."""
    if isinstance(betas, torch.Tensor):
        length = betas.shape[0] if betas.ndim == 1 else -1
    elif isinstance(betas, Sequence) and not isinstance(betas, str):
        length = len(betas)
    else:
        raise ValueError(f"betas must be a 1-d sequence or tensor of numbers, got {type(betas).__name__}")
    if length < 1:
        raise ValueError("betas must be a non-empty 1-d sequence (T = len(betas) must be >= 1)")
    return NoiseSchedule(name, length, {}, betas)


SCHEDULES: Mapping[str, Callable[..., NoiseSchedule]] = MappingProxyType(
    {
        "linear": linear_schedule,
        "cosine": cosine_schedule,
        "tailored": tailored_schedule,
        "constant": constant_schedule,
    }
)
"""Registered schedule constructors by name; each takes T first and keyword parameters."""


def make_schedule(name: str, T: int, **kwargs: float) -> NoiseSchedule:
    """Build the registered schedule ``name`` (see SCHEDULES) with T steps and its keyword parameters."""
    if name not in SCHEDULES:
        raise ValueError(f"schedule must be one of {sorted(SCHEDULES)}, got {name!r}")
    _check_T(T)
    constructor = SCHEDULES[name]
    allowed = [p for p in inspect.signature(constructor).parameters if p != "T"]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"schedule {name!r} takes parameters {allowed}, got unknown {unknown}")
    return constructor(T, **kwargs)


#: The schedule names a model config may give :func:`build_schedule`.
SCHEDULE_NAMES: tuple[str, ...] = ("linear", "cosine", "tailored", "constant", "cacioppo_linspace")


def build_schedule(
    name: str,
    T: int,
    *,
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
    beta: float = 1e-2,
    cosine_min_beta: float = 0.0,
) -> tuple[NoiseSchedule, int]:
    """The one schedule builder of the model configs: (schedule, offset), model level k = schedule time k + offset.

    ``linear`` (beta_start..beta_end), ``cosine`` (s = 0.008, betas clipped to [cosine_min_beta, 0.999]),
    ``tailored`` (defaults of :func:`tailored_schedule`) and ``constant`` (beta) have offset 0;
    ``cacioppo_linspace`` is the cacioppo2023qdm code's ``linspace(beta_start, beta_end, T + 1)``, whose first
    beta already noises the lowest level: offset 1.
    """
    if name == "cacioppo_linspace":
        return from_betas(linear_betas(_check_T(T) + 1, beta_start, beta_end), name="cacioppo_linspace"), 1
    if name == "linear":
        return linear_schedule(T, beta_start, beta_end), 0
    if name == "constant":
        return constant_schedule(T, beta), 0
    if name == "cosine":
        return cosine_schedule(T, min_beta=cosine_min_beta), 0
    if name == "tailored":
        return tailored_schedule(T), 0
    raise ValueError(f"schedule must be one of {', '.join(SCHEDULE_NAMES)}, got {name!r}")
