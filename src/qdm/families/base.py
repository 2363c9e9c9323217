"""The model-family protocol: what the one trainer, the runner and the presets need from a model family.

A *family* (hybrid DDPM U-Net, PQC denoiser, depolarizing QDM, ...) is a plain value, a frozen
:class:`Family` holding its typed model-config class and a handful of functions.  A family module
registers its value with :func:`register_family`; :mod:`qdm.families` imports every built-in family
module explicitly, so ``import qdm.families`` fills the registry (:data:`qdm.registry.FAMILIES`).

Callable signatures (``cfg`` is a :class:`qdm.config.ExperimentConfig`):

- ``build(cfg) -> torch.nn.Module`` (the runner seeds torch before calling it);
- ``prepare_data(cfg) -> Tensor | tuple[Tensor, ...]`` (training examples along dim 0; the family
  chooses the preprocessing);
- ``loss(model, batch, cfg, generator) -> scalar Tensor`` (``generator`` is the trainer's
  dedicated ``torch.Generator``, on the training device: draw all noise from it);
- ``sample(model, n, cfg, generator) -> Tensor (n, C, H, W)`` float images in [0, 1];
- ``evaluate(model, samples, cfg) -> dict[str, float]`` optional extra metrics;
- ``describe(cfg) -> str`` optional one-paragraph description for ``qdm list`` / ``qdm show``;
- ``prepare_eval_reference(cfg) -> Tensor (N, C, H, W)`` optional real images in [0, 1] for
  FID/KID/SSIM (default: the data layer's reference split of the same classes);
- ``validate(cfg) -> None`` optional cross-field check run when an ExperimentConfig is built
  (raise ``ValueError`` naming the field);
- ``profile(cfg, name) -> cfg`` optional: the config scaled to the CPU profile ``name`` (``"cpu"``,
  ``"smoke"``; :func:`qdm.presets.apply_profile` handles ``"paper"`` and records the label);
- ``parameter_counts(cfg) -> dict[str, int]`` optional: trainable parameters of a fresh build of
  ``cfg``'s model, keys ``"quantum"`` (the circuit's), ``"classical"`` (everything else that trains)
  and ``"total"`` (their sum); frozen parts (the latent model's autoencoder) are not counted.

A model-config class names its family in the ClassVar ``family`` (checked against ``Family.name``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qdm.config import DataConfig, EvalConfig, ExperimentConfig, TrainConfig
from qdm.registry import FAMILIES, get_family

__all__ = [
    "FAMILIES",
    "PROFILE_NAMES",
    "Family",
    "ProfileSpec",
    "get_family",
    "load_plugins",
    "plugin_failure_note",
    "profile_data",
    "profile_eval",
    "profile_steps",
    "profile_train",
    "register_family",
]

#: The profiles of every preset: ``paper`` is the preset itself; ``book`` (where a family defines it) the budget chosen
#: by measurement for the book; ``cpu`` and ``smoke`` shrink the budget further.
PROFILE_NAMES: tuple[str, ...] = ("paper", "book", "cpu", "smoke")
_OPTIONAL = ("batch_size", "sample_steps", "autoencoder_steps", "checkpoint_every")
_HOOKS = ("evaluate", "describe", "prepare_eval_reference", "validate", "profile", "parameter_counts")


@dataclass(frozen=True)
class Family:
    """A model family: its typed model config and the functions the trainer, runner and presets call."""

    name: str
    model_config_cls: type
    build: Callable[..., Any]
    loss: Callable[..., Any]
    sample: Callable[..., Any]
    prepare_data: Callable[..., Any]
    evaluate: Callable[..., Any] | None = None
    describe: Callable[..., Any] | None = None
    prepare_eval_reference: Callable[..., Any] | None = None
    validate: Callable[..., Any] | None = None
    profile: Callable[..., Any] | None = None
    parameter_counts: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"Family.name must be a non-empty identifier (letters, digits, '_', '-'), got {self.name!r}")
        if not (isinstance(self.model_config_cls, type) and dataclasses.is_dataclass(self.model_config_cls)):
            raise ValueError(f"Family.model_config_cls must be a dataclass type, got {self.model_config_cls!r}")
        if not self.model_config_cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            raise ValueError(f"Family.model_config_cls {self.model_config_cls.__name__} must be a frozen dataclass")
        named = getattr(self.model_config_cls, "family", self.name)
        if named != self.name:
            raise ValueError(
                f"Family.model_config_cls {self.model_config_cls.__name__} names the family {named!r}, not {self.name!r}"
            )
        for field in ("build", "loss", "sample", "prepare_data"):
            if not callable(getattr(self, field)):
                raise ValueError(f"Family.{field} must be callable, got {getattr(self, field)!r}")
        for field in _HOOKS:
            value = getattr(self, field)
            if value is not None and not callable(value):
                raise ValueError(f"Family.{field} must be callable or None, got {value!r}")


def _origin(family: Family) -> tuple[str, str]:
    """Where a family's build function was defined (module, qualified name)."""
    return (getattr(family.build, "__module__", ""), getattr(family.build, "__qualname__", ""))


def register_family(family: Family, *, overwrite: bool = False) -> Family:
    """Add a family to the registry (re-importing the module that defines it is allowed)."""
    if not isinstance(family, Family):
        raise ValueError(f"register_family expects a Family, got {type(family).__name__}")
    existing = FAMILIES.get(family.name)
    if existing is not None and not overwrite and existing != family and _origin(existing) != _origin(family):
        raise ValueError(
            f"family {family.name!r} is already registered (from {_origin(existing)[0]}); pass overwrite=True to replace it"
        )
    FAMILIES[family.name] = family
    return family


def load_plugins(modules: tuple[str, ...] | None = None, strict: bool = True) -> dict[str, str]:
    """Kept for callers of the old plugin loader: the built-in families register when ``qdm.families`` is imported.

    Returns ``{}`` (nothing is loaded by name any more); importing ``qdm.presets`` registers the presets.
    """
    return {}


def plugin_failure_note(failures: dict[str, str]) -> str:
    """'; plugin modules that failed to import: ...' (empty when none failed); kept for old callers."""
    if not failures:
        return ""
    return "; plugin modules that failed to import: " + "; ".join(f"{m} ({e})" for m, e in failures.items())


# ---------------------------------------------------------------------------------------------
# Profiles: the shared value and helpers the families' ``profile`` hooks use
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileSpec:
    """What a CPU profile changes: budget and evaluation only (never the architecture, circuit, schedule or T).

    ``images_per_class`` caps the preset's count; ``ema_decay`` applies to the hybrid DDPM (an EMA of
    horizon ≫ steps would sample the initial weights); ``sample_steps``: DDIM steps of the hybrid DDPM;
    ``autoencoder_steps``: the PQC latent model's autoencoder budget.  ``batch_size=None`` keeps the preset's batch
    size; ``steps_cap=True`` makes ``steps`` the most a run trains (a preset that trains fewer keeps its own count,
    :func:`profile_steps`).
    """

    steps: int
    batch_size: int | None
    images_per_class: int
    n_samples: int
    fid_real_images: int | None
    ema_decay: float | None = None
    sample_steps: int | None = None
    autoencoder_steps: int | None = None
    checkpoint_every: int | None = None
    steps_cap: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.steps_cap, bool):
            raise ValueError(f"ProfileSpec.steps_cap must be True or False, got {self.steps_cap!r}")
        for name in ("steps", "batch_size", "images_per_class", "sample_steps", "autoencoder_steps", "checkpoint_every"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                allowed = "an int >= 1 or None" if name in _OPTIONAL else "an int >= 1"
                raise ValueError(f"ProfileSpec.{name} must be {allowed}, got {value!r}")
        if self.n_samples < 5:
            raise ValueError(f"ProfileSpec.n_samples must be >= 5 (the chen2025 protocol uses 5), got {self.n_samples}")
        if self.fid_real_images is not None and self.fid_real_images < 2:
            raise ValueError(f"ProfileSpec.fid_real_images must be None (all) or >= 2, got {self.fid_real_images}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"ProfileSpec.ema_decay must be None or in (0, 1), got {self.ema_decay}")


def profile_spec(table: dict[str, ProfileSpec], family: str, profile: str) -> ProfileSpec:
    """The family's ProfileSpec called ``profile`` (ValueError naming the profiles it has)."""
    if profile not in table:
        raise ValueError(f"profile must be one of {', '.join(sorted(table))} for the family {family!r}, got {profile!r}")
    return table[profile]


def profile_data(data: DataConfig, spec: ProfileSpec) -> DataConfig:
    """The preset's DataConfig with images per class capped at the profile's (None = all images -> the cap)."""
    n = data.images_per_class
    return dataclasses.replace(data, images_per_class=spec.images_per_class if n is None else min(n, spec.images_per_class))


def profile_steps(spec: ProfileSpec, train: TrainConfig) -> int:
    """The training steps a profile gives a preset: ``spec.steps``, or with ``spec.steps_cap`` the fewer of it and the
    preset's own ``train.steps``."""
    return min(spec.steps, train.steps) if spec.steps_cap else spec.steps


def profile_train(train: TrainConfig, spec: ProfileSpec, steps: int, ema: bool) -> TrainConfig:
    """The preset's TrainConfig with the profile's budget (lr, optimiser and schedule of the preset kept; the
    preset's batch size where ``spec.batch_size`` is None)."""
    return dataclasses.replace(
        train,
        steps=steps,
        batch_size=train.batch_size if spec.batch_size is None else spec.batch_size,
        ema_decay=spec.ema_decay if ema else train.ema_decay,
        checkpoint_every=spec.checkpoint_every,
    )


def profile_eval(ecfg: EvalConfig, spec: ProfileSpec, ddim: bool) -> EvalConfig:
    """The preset's EvalConfig with fewer samples / reference images (and DDIM sampling where ``ddim``)."""
    extra = {"sampler": "ddim", "sample_steps": spec.sample_steps} if ddim and spec.sample_steps else {}
    return dataclasses.replace(ecfg, n_samples=spec.n_samples, fid_real_images=spec.fid_real_images, **extra)


def scaled(cfg: ExperimentConfig, spec: ProfileSpec, *, model: Any, steps: int, ema: bool, ddim: bool) -> ExperimentConfig:
    """``cfg`` with the profile's data, train and eval settings and the given model config and step count."""
    return dataclasses.replace(
        cfg,
        data=profile_data(cfg.data, spec),
        model=model,
        train=profile_train(cfg.train, spec, steps, ema),
        eval=profile_eval(cfg.eval, spec, ddim),
    )
