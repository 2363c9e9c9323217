"""The model-family protocol: what the one trainer and the runner need from a model family.

A *family* (hybrid DDPM U-Net, PQC denoiser, depolarizing QDM, ...) is a plain value, a frozen
:class:`Family` holding its typed model-config class and a handful of functions.  Families
register themselves with :func:`register_family` when their module is imported; the modules
listed in :data:`PLUGIN_MODULES` are imported on the first lookup of an unknown name, so
``get_family("hybrid_ddpm")`` works without the caller importing anything first.

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
  (raise ``ValueError`` naming the field).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FAMILIES",
    "PLUGIN_MODULES",
    "Family",
    "get_family",
    "load_plugins",
    "plugin_failure_note",
    "register_family",
]

#: Modules imported (once, if they exist) to let families, experiments and presets register.
PLUGIN_MODULES: tuple[str, ...] = (
    "qdm.families_hybrid",
    "qdm.families_pqc",
    "qdm.families_depol",
    "qdm.presets",
)

_LOADED_PLUGINS: set[str] = set()


@dataclass(frozen=True)
class Family:
    """A model family: its typed model config and the functions the trainer and runner call."""

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

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"Family.name must be a non-empty identifier (letters, digits, '_', '-'), got {self.name!r}")
        if not (isinstance(self.model_config_cls, type) and dataclasses.is_dataclass(self.model_config_cls)):
            raise ValueError(f"Family.model_config_cls must be a dataclass type, got {self.model_config_cls!r}")
        if not self.model_config_cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            raise ValueError(f"Family.model_config_cls {self.model_config_cls.__name__} must be a frozen dataclass")
        for field in ("build", "loss", "sample", "prepare_data"):
            if not callable(getattr(self, field)):
                raise ValueError(f"Family.{field} must be callable, got {getattr(self, field)!r}")
        for field in ("evaluate", "describe", "prepare_eval_reference", "validate"):
            value = getattr(self, field)
            if value is not None and not callable(value):
                raise ValueError(f"Family.{field} must be callable or None, got {value!r}")


#: The registry: family name -> Family.
FAMILIES: dict[str, Family] = {}


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
    """Import the plugin modules (default :data:`PLUGIN_MODULES`) so that they register; missing ones are skipped.

    A module that exists but fails to import raises (``strict``) or is returned in the
    ``{module: error}`` dict (``strict=False``, used for listings that should show what does work).
    """
    failures: dict[str, str] = {}
    for module in PLUGIN_MODULES if modules is None else modules:
        if module in _LOADED_PLUGINS:
            continue
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            # Only a missing plugin module itself is tolerated; a broken import inside it is an error.
            if err.name != module:
                if strict:
                    raise
                failures[module] = f"{type(err).__name__}: {err}"
                continue
        except Exception as err:
            if strict:
                raise
            failures[module] = f"{type(err).__name__}: {err}"
            continue
        _LOADED_PLUGINS.add(module)
    return failures


def plugin_failure_note(failures: dict[str, str]) -> str:
    """'; plugin modules that failed to import: ...' (empty when none failed)."""
    if not failures:
        return ""
    return "; plugin modules that failed to import: " + "; ".join(f"{m} ({e})" for m, e in failures.items())


def get_family(name: str) -> Family:
    """The registered family called ``name`` (ValueError listing the known families otherwise)."""
    failures = load_plugins(strict=False) if name not in FAMILIES else {}
    if name not in FAMILIES:
        known = ", ".join(sorted(FAMILIES)) or "none registered"
        raise ValueError(f"family must be one of the registered families ({known}), got {name!r}{plugin_failure_note(failures)}")
    return FAMILIES[name]
