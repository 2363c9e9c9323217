"""Typed experiment configs: data, not code ("a preset is a typed config value, not a subclass").

An :class:`ExperimentConfig` bundles four frozen dataclasses, :class:`DataConfig`,
:class:`TrainConfig`, :class:`EvalConfig` and the family's own model config (any frozen dataclass,
``Family.model_config_cls``).  Every field is checked when the value is built, so an invalid
config cannot exist; errors are ``ValueError`` naming ``Class.field`` and what is allowed.

Configs round-trip exactly through JSON (:func:`to_dict` / :func:`from_dict`), hash stably
(:func:`config_hash`: sha256 of the canonical JSON, first 12 hex digits; the results folder of a run
is ``results/<experiment>/<hash>``) and take command-line style overrides
(:func:`apply_overrides`: ``["steps=100", "model.n_qubits=4"]``, values parsed by the field's type
annotation, :mod:`qdm.annotations`).  Named experiments (:data:`EXPERIMENTS`) and presets
(:data:`PRESETS`) are registries of zero-argument factories returning an ExperimentConfig;
``qdm.families`` and ``qdm.presets`` fill them.

This module does not load the families: a model config names its family (the ClassVar ``family``) and
the family is looked up in :mod:`qdm.registry`, which ``import qdm.families`` fills.  The upper layers
(presets, runner, cli) import ``qdm.families``; code that only imports ``qdm.config`` must import
``qdm.families`` (or ``qdm.presets`` for the presets) before it builds or parses a config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from qdm.annotations import dataclass_from_dict as _dataclass_from_dict
from qdm.annotations import parse_value, validate_fields
from qdm.annotations import type_hints as _type_hints
from qdm.data import ImageDataset, SubsetDraw, load_dataset
from qdm.registry import get_family

__all__ = [
    "EXPERIMENTS",
    "PRESETS",
    "DataConfig",
    "EvalConfig",
    "ExperimentConfig",
    "LATER_FIELDS",
    "TrainConfig",
    "apply_overrides",
    "parse_overrides",
    "config_hash",
    "config_keys",
    "from_dict",
    "get_experiment",
    "list_experiments",
    "list_presets",
    "parse_value",
    "register_experiment",
    "register_preset",
    "to_dict",
    "to_json",
    "training_subset",
    "validate_fields",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

def _require(condition: bool, message: str) -> None:
    """Raise ValueError(message) unless condition holds."""
    if not condition:
        raise ValueError(message)


def _finite(x: float) -> bool:
    """True for a finite float."""
    return math.isfinite(x)


# --------------------------------------------------------------------------------------------
# The config dataclasses
# --------------------------------------------------------------------------------------------

Dataset = Literal["mnist", "pathmnist"]
Split = Literal["train", "val", "test"]
Optimizer = Literal["adam", "adamw"]
Device = Literal["cpu", "cuda"]
Metric = Literal["fid", "kid", "ssim", "precision_recall", "classifier", "memorisation"]
Sampler = Literal["ddpm", "ddim"]
SSIMPairing = Literal["index", "nearest"]
SSIMConvention = Literal["skimage", "torchmetrics"]
Protocol = Literal["qdm", "chen2025"]

_N_CLASSES = {"mnist": 10, "pathmnist": 9}


@dataclass(frozen=True)
class DataConfig:
    """Which real images to train on: dataset, classes, images per class (None = all), split, directory, subset seed.

    ``subset_seed`` picks the images (kept apart from ``train.seed`` so seed bands vary training, not data).
    ``subset_draw`` says how (:meth:`qdm.data.ImageDataset.subset`): "choice", the draw every run before this
    field made, or "nested", where for one seed a smaller draw is contained in every larger one (the low-data
    study, :mod:`qdm.audits.lowdata`).  It was added after configs had been hashed, so it is in
    :data:`LATER_FIELDS` and left out of the canonical JSON at "choice": every existing hash stays the same.
    """

    dataset: Dataset = "mnist"
    classes: tuple[int, ...] = (0,)
    images_per_class: int | None = None
    split: Split = "train"
    data_dir: str | None = None
    subset_seed: int = 0
    subset_draw: SubsetDraw = "choice"

    def __post_init__(self) -> None:
        validate_fields(self)
        n = _N_CLASSES[self.dataset]
        _require(len(self.classes) > 0, "DataConfig.classes must name at least one class")
        _require(
            all(0 <= c < n for c in self.classes),
            f"DataConfig.classes must lie in 0..{n - 1} for {self.dataset}, got {self.classes}",
        )
        _require(len(set(self.classes)) == len(self.classes), f"DataConfig.classes must not repeat, got {self.classes}")
        _require(
            self.images_per_class is None or self.images_per_class >= 1,
            f"DataConfig.images_per_class must be None (all) or >= 1, got {self.images_per_class}",
        )
        _require(self.subset_seed >= 0, f"DataConfig.subset_seed must be >= 0, got {self.subset_seed}")


@dataclass(frozen=True)
class TrainConfig:
    """The one trainer's settings: steps, batch, optimiser, EMA, clipping, StepLR (in steps), checkpoints, seed, device."""

    steps: int = 1000
    batch_size: int = 64
    lr: float = 3e-4
    optimizer: Optimizer = "adam"
    weight_decay: float = 0.0
    ema_decay: float | None = None
    grad_clip: float | None = None
    lr_step_size: int | None = None
    lr_gamma: float = 0.1
    checkpoint_every: int | None = 100
    seed: int = 0
    device: Device = "cpu"
    deterministic: bool = True
    log_every: int = 10

    def __post_init__(self) -> None:
        validate_fields(self)
        _require(self.steps >= 0, f"TrainConfig.steps must be >= 0, got {self.steps}")
        _require(self.batch_size >= 1, f"TrainConfig.batch_size must be >= 1, got {self.batch_size}")
        _require(_finite(self.lr) and self.lr > 0, f"TrainConfig.lr must be a finite float > 0, got {self.lr}")
        _require(
            _finite(self.weight_decay) and self.weight_decay >= 0,
            f"TrainConfig.weight_decay must be a finite float >= 0, got {self.weight_decay}",
        )
        _require(
            self.ema_decay is None or 0.0 < self.ema_decay < 1.0,
            f"TrainConfig.ema_decay must be None (no EMA) or in (0, 1), got {self.ema_decay}",
        )
        _require(
            self.grad_clip is None or (_finite(self.grad_clip) and self.grad_clip > 0),
            f"TrainConfig.grad_clip must be None (no clipping) or a finite float > 0, got {self.grad_clip}",
        )
        _require(
            self.lr_step_size is None or self.lr_step_size >= 1,
            f"TrainConfig.lr_step_size must be None (constant lr) or >= 1, got {self.lr_step_size}",
        )
        _require(0.0 < self.lr_gamma <= 1.0, f"TrainConfig.lr_gamma must be in (0, 1], got {self.lr_gamma}")
        _require(
            self.checkpoint_every is None or self.checkpoint_every >= 1,
            f"TrainConfig.checkpoint_every must be None (only at the end) or >= 1, got {self.checkpoint_every}",
        )
        _require(0 <= self.seed < 2**31, f"TrainConfig.seed must be in 0..2**31-1, got {self.seed}")
        _require(self.log_every >= 1, f"TrainConfig.log_every must be >= 1, got {self.log_every}")


@dataclass(frozen=True)
class EvalConfig:
    """How a run is evaluated: number of samples, metrics, sampler (None = family default), SSIM convention and protocol.

    ``protocol``: which real images the metrics compare against (:func:`qdm.protocols.reference_images`, the
    one definition of each protocol).  ``fid_real_images``: how many; ``None`` takes every image of the
    protocol's reference set (the count is recorded beside each metric).  A number the reference set cannot
    meet is refused before training (:func:`qdm.runner.check_before_work`), never silently lowered.
    """

    n_samples: int = 64
    metrics: tuple[Metric, ...] = ("fid", "kid", "ssim", "precision_recall", "classifier", "memorisation")
    sampler: Sampler | None = None
    sample_steps: int | None = None
    fid_real_images: int | None = 1000
    ssim_pairing: SSIMPairing = "nearest"
    ssim_convention: SSIMConvention = "skimage"
    protocol: Protocol = "qdm"

    def __post_init__(self) -> None:
        validate_fields(self)
        _require(self.n_samples >= 1, f"EvalConfig.n_samples must be >= 1, got {self.n_samples}")
        _require(
            len(set(self.metrics)) == len(self.metrics), f"EvalConfig.metrics must not repeat, got {self.metrics}"
        )
        _require(
            self.n_samples >= 2 or not ({"fid", "kid"} & set(self.metrics)),
            f"EvalConfig.n_samples must be >= 2 when metrics include fid or kid, got {self.n_samples}",
        )
        _require(
            self.sample_steps is None or self.sample_steps >= 1,
            f"EvalConfig.sample_steps must be None (all steps) or >= 1, got {self.sample_steps}",
        )
        _require(
            self.fid_real_images is None or self.fid_real_images >= 2,
            f"EvalConfig.fid_real_images must be None (all reference images) or >= 2, got {self.fid_real_images}",
        )


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """One experiment: name, family, and its data / model / train / eval configs (``preset``: where it came from).

    Keyword-only; ``model`` is the family's own frozen model-config dataclass (``Family.model_config_cls``).
    """

    experiment: str
    family: str
    data: DataConfig = field(default_factory=DataConfig)
    model: Any
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    preset: str | None = None

    def __post_init__(self) -> None:
        _require(
            isinstance(self.experiment, str) and bool(_NAME_RE.match(self.experiment)),
            "ExperimentConfig.experiment must be a name of letters, digits, '.', '_' or '-' "
            f"(it names the results folder), got {self.experiment!r}",
        )
        _require(isinstance(self.family, str), f"ExperimentConfig.family must be a str, got {self.family!r}")
        fam = get_family(self.family)
        _require(
            isinstance(self.model, fam.model_config_cls),
            f"ExperimentConfig.model must be a {fam.model_config_cls.__name__} for family {self.family!r}, "
            f"got {type(self.model).__name__}",
        )
        for name, cls in (("data", DataConfig), ("train", TrainConfig), ("eval", EvalConfig)):
            _require(
                isinstance(getattr(self, name), cls),
                f"ExperimentConfig.{name} must be a {cls.__name__}, got {type(getattr(self, name)).__name__}",
            )
        _require(
            self.preset is None or (isinstance(self.preset, str) and bool(self.preset)),
            f"ExperimentConfig.preset must be None or a non-empty str, got {self.preset!r}",
        )
        if fam.validate is not None:
            fam.validate(self)


_SECTIONS = ("data", "model", "train", "eval")


def training_subset(data: DataConfig) -> ImageDataset:
    """The training images a DataConfig names: its split, classes, images per class, subset seed and draw.

    The one place that draws a run's training subset (every family's ``prepare_data`` and the memorisation
    metric's training images call it), so that all of them see the same images.
    """
    if not isinstance(data, DataConfig):
        raise ValueError(f"data must be a DataConfig, got {type(data).__name__}")
    ds = load_dataset(data.dataset, data.split, data_dir=data.data_dir)
    return ds.subset(data.classes, data.images_per_class, data.subset_seed, draw=data.subset_draw)


# --------------------------------------------------------------------------------------------
# Serialisation and hashing
# --------------------------------------------------------------------------------------------

#: Fields added to a config section after configs had been hashed, each with the value that every config made
#: before it implicitly had.  :func:`to_dict` leaves such a field out while it holds that value, so the canonical
#: JSON, :func:`config_hash`, the run folders and the ledger's keys of every existing config stay what they were;
#: any other value is written and changes the hash.  :func:`from_dict` restores a missing field to its default.
#: This is a list of named exceptions, not a rule that omits defaults: a field is added here only when it is
#: added to its dataclass, with its dataclass default as the value (``tests/test_config_hashes.py`` checks both,
#: and the hashes of every preset at every profile against values computed before the first such field).
LATER_FIELDS: dict[tuple[str, str], Any] = {
    ("data", "subset_draw"): "choice",  # the low-data study's nested draw (qdm.audits.lowdata)
    ("model", "circuit_dtype"): "complex128",  # the hybrid gate's single-precision option (qdm.models.bottleneck)
}


def to_dict(cfg: ExperimentConfig) -> dict[str, Any]:
    """The config as a JSON-ready dict (tuples stay tuples until dumped); ``from_dict`` inverts it exactly.

    A field of :data:`LATER_FIELDS` that holds its registered value is left out (the canonical form of configs
    made before the field existed).
    """
    if not isinstance(cfg, ExperimentConfig):
        raise ValueError(f"cfg must be an ExperimentConfig, got {type(cfg).__name__}")
    out = {
        "experiment": cfg.experiment,
        "family": cfg.family,
        "preset": cfg.preset,
        **{name: dataclasses.asdict(getattr(cfg, name)) for name in _SECTIONS},
    }
    for (section, name), value in LATER_FIELDS.items():
        if name in out[section] and out[section][name] == value:
            del out[section][name]
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"config {cfg.experiment!r} is not JSON-serialisable (NaN/inf or a non-JSON value): {err}") from None
    return out


def to_json(cfg: ExperimentConfig, indent: int | None = 2) -> str:
    """Canonical JSON text of a config (sorted keys; ``indent=None`` gives the compact form that is hashed)."""
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(to_dict(cfg), sort_keys=True, indent=indent, separators=separators, allow_nan=False)


def from_dict(data: dict[str, Any]) -> ExperimentConfig:
    """Rebuild an ExperimentConfig from :func:`to_dict` output (or its JSON), resolving the family's model config type."""
    if not isinstance(data, dict):
        raise ValueError(f"config data must be a dict, got {type(data).__name__}")
    valid = ("experiment", "family", "preset", *_SECTIONS)
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; valid keys: {', '.join(valid)}")
    for key in ("experiment", "family", "model"):
        if key not in data:
            raise ValueError(f"config data is missing the key {key!r}")
    fam = get_family(data["family"])
    sections = {
        "data": DataConfig,
        "train": TrainConfig,
        "eval": EvalConfig,
        "model": fam.model_config_cls,
    }
    kwargs: dict[str, Any] = {}
    for name, cls in sections.items():
        if name in data:
            kwargs[name] = _dataclass_from_dict(cls, data[name], name)
    return ExperimentConfig(experiment=data["experiment"], family=data["family"], preset=data.get("preset"), **kwargs)


def config_hash(cfg: ExperimentConfig) -> str:
    """Stable identity of a config: sha256 of its canonical compact JSON, first 12 hex digits."""
    return hashlib.sha256(to_json(cfg, indent=None).encode("utf-8")).hexdigest()[:12]


# --------------------------------------------------------------------------------------------
# Overrides
# --------------------------------------------------------------------------------------------


def _leaves(obj: Any, prefix: str) -> Iterable[tuple[str, Any]]:
    """(dotted path, annotation) for every non-dataclass field below a dataclass value."""
    hints = _type_hints(type(obj))
    for f in dataclasses.fields(obj):
        path = f"{prefix}{f.name}"
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from _leaves(value, path + ".")
        else:
            yield path, hints[f.name]


def config_keys(cfg: ExperimentConfig) -> dict[str, Any]:
    """Every key ``apply_overrides`` accepts (dotted path -> type annotation); ``family`` is fixed by the experiment."""
    keys: dict[str, Any] = {"experiment": str, "preset": str | None}
    for section in _SECTIONS:
        keys.update(dict(_leaves(getattr(cfg, section), section + ".")))
    return keys


def _resolve_key(key: str, keys: dict[str, Any]) -> str:
    """Map a leaf name or (partial) dotted path to the unique full path it names."""
    if key in keys:
        return key
    matches = [p for p in keys if p.endswith("." + key)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        if key == "family":
            raise ValueError("family cannot be overridden: choose an experiment of the wanted family instead")
        raise ValueError(f"unknown config key {key!r}; valid keys: {', '.join(keys)}")
    raise ValueError(f"config key {key!r} is ambiguous; use one of: {', '.join(matches)}")


def _replace_path(obj: Any, path: list[str], value: Any) -> Any:
    """``dataclasses.replace`` along a dotted path (re-running every ``__post_init__`` on the way up)."""
    head, *rest = path
    new = value if not rest else _replace_path(getattr(obj, head), rest, value)
    return dataclasses.replace(obj, **{head: new})


def parse_overrides(cfg: ExperimentConfig, overrides: Sequence[str]) -> dict[str, Any]:
    """``key=value`` strings -> {full dotted path: typed value}, each key resolved and each value parsed by its
    field's annotation; nothing is applied yet, so the first bad key or value is named before any config is built.
    A key given twice keeps its last value."""
    if isinstance(overrides, str):
        raise ValueError("overrides must be a sequence of 'key=value' strings, not one string")
    keys = config_keys(cfg)
    parsed: dict[str, Any] = {}
    for item in overrides:
        if not isinstance(item, str) or "=" not in item or not item.split("=", 1)[0].strip():
            raise ValueError(f"override must look like key=value, got {item!r}")
        key, raw = (s.strip() for s in item.split("=", 1))
        path = _resolve_key(key, keys)
        parsed[path] = parse_value(keys[path], raw, path)
    return parsed


def apply_overrides(cfg: ExperimentConfig, overrides: Sequence[str]) -> ExperimentConfig:
    """Apply ``key=value`` strings (unique leaf names or dotted paths) together, validating the result once.

    All values are parsed first (:func:`parse_overrides`), written into the config's dict and the config is
    rebuilt by :func:`from_dict`, so cross-field rules (``eval.sample_steps <= T``, ``n_qubits`` against
    ``image_size``, ...) see the final values whatever the order the overrides were given in.
    """
    parsed = parse_overrides(cfg, overrides)
    if not parsed:
        return cfg
    data = to_dict(cfg)
    for path, value in parsed.items():
        *parents, leaf = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[leaf] = value
    try:
        return from_dict(data)
    except ValueError as err:
        given = ", ".join(item.strip() for item in overrides)
        raise ValueError(f"{err} (after the overrides {given}; other values are {cfg.experiment!r}'s)") from None


# --------------------------------------------------------------------------------------------
# Registries of named experiments and presets
# --------------------------------------------------------------------------------------------

ConfigFactory = Callable[[], ExperimentConfig]

#: Named experiments (families register their CPU-friendly defaults here).
EXPERIMENTS: dict[str, ConfigFactory] = {}
#: Named presets (paper-scale settings; filled by ``qdm.presets``).
PRESETS: dict[str, ConfigFactory] = {}


def _register(registry: dict[str, ConfigFactory], kind: str, name: str, factory: ConfigFactory, overwrite: bool) -> None:
    """Add ``factory`` under ``name``; a re-import of the same module may re-register it."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"{kind} name must be letters, digits, '.', '_' or '-', got {name!r}")
    if not callable(factory):
        raise ValueError(f"{kind} factory for {name!r} must be callable, got {factory!r}")
    old = registry.get(name)
    same_origin = old is not None and (
        getattr(old, "__module__", None),
        getattr(old, "__qualname__", None),
    ) == (getattr(factory, "__module__", None), getattr(factory, "__qualname__", None))
    if old is not None and old is not factory and not same_origin and not overwrite:
        raise ValueError(f"{kind} {name!r} is already registered; pass overwrite=True to replace it")
    registry[name] = factory


def register_experiment(name: str, factory: ConfigFactory, *, overwrite: bool = False) -> ConfigFactory:
    """Register a named experiment: ``factory()`` returns its default ExperimentConfig."""
    _register(EXPERIMENTS, "experiment", name, factory, overwrite)
    return factory


def register_preset(name: str, factory: ConfigFactory, *, overwrite: bool = False) -> ConfigFactory:
    """Register a named preset: a typed config value (``factory()`` returns an ExperimentConfig), not a subclass."""
    _register(PRESETS, "preset", name, factory, overwrite)
    return factory


def list_experiments() -> list[str]:
    """Names of all registered experiments (``qdm.families`` registers them)."""
    return sorted(EXPERIMENTS)


def list_presets() -> list[str]:
    """Names of all registered presets (``qdm.presets`` registers them)."""
    return sorted(PRESETS)


def get_experiment(name: str) -> ExperimentConfig:
    """The ExperimentConfig of a named experiment or preset (ValueError listing the known names)."""
    factory = EXPERIMENTS.get(name) or PRESETS.get(name)
    if factory is None:
        known = ", ".join(sorted(EXPERIMENTS) + sorted(PRESETS)) or "none registered: import qdm.presets first"
        raise ValueError(f"experiment must be a registered experiment or preset ({known}), got {name!r}")
    cfg = factory()
    if not isinstance(cfg, ExperimentConfig):
        raise ValueError(f"the factory of {name!r} returned {type(cfg).__name__}, not an ExperimentConfig")
    return cfg
