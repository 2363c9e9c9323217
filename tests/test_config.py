"""Typed configs: validation names the field, overrides parse by type, JSON round trip, stable hash, registries."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from dataclasses import dataclass
from typing import Literal

import pytest
import torch
from torch import nn

from qdm.config import (
    DataConfig,
    EvalConfig,
    ExperimentConfig,
    TrainConfig,
    apply_overrides,
    config_hash,
    config_keys,
    from_dict,
    get_experiment,
    parse_value,
    register_experiment,
    register_preset,
    to_dict,
    to_json,
    validate_fields,
)
from qdm.families import FAMILIES, Family, get_family, register_family

# A tiny real family: a linear epsilon-predictor on flattened images (only its config matters here).


@dataclass(frozen=True)
class CfgTestModel:
    """Model config of the test family: a linear denoiser with a few typed fields."""

    hidden: int = 16
    T: int = 20
    beta_end: float = 0.02
    schedule: Literal["linear", "cosine"] = "linear"
    sampler: Literal["ddpm", "ddim"] = "ddpm"
    widths: tuple[int, ...] = (16, 16)
    noise_scale: float | None = None
    use_bias: bool = True

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.hidden < 1:
            raise ValueError(f"CfgTestModel.hidden must be >= 1, got {self.hidden}")


def _build(cfg: ExperimentConfig) -> nn.Module:
    return nn.Linear(64, 64, bias=cfg.model.use_bias)


def _loss(model: nn.Module, batch: torch.Tensor, cfg: ExperimentConfig, g: torch.Generator) -> torch.Tensor:
    eps = torch.randn(batch.shape, generator=g)
    return ((model(batch + eps) - eps) ** 2).mean()


def _sample(model: nn.Module, n: int, cfg: ExperimentConfig, g: torch.Generator) -> torch.Tensor:
    x = torch.randn(n, 64, generator=g)
    return torch.sigmoid(x - model(x)).reshape(n, 1, 8, 8)


def _data(cfg: ExperimentConfig) -> torch.Tensor:
    return torch.linspace(-1, 1, 64 * 8).reshape(8, 64)


FAMILY = register_family(
    Family(
        name="cfg_test",
        model_config_cls=CfgTestModel,
        build=_build,
        loss=_loss,
        sample=_sample,
        prepare_data=_data,
    )
)


def _cfg(**model_kw: object) -> ExperimentConfig:
    return ExperimentConfig(
        experiment="cfg-test",
        family="cfg_test",
        data=DataConfig(dataset="mnist", classes=(0, 1), images_per_class=10),
        model=CfgTestModel(**model_kw),  # type: ignore[arg-type]
        train=TrainConfig(steps=50, batch_size=8, lr=1e-3, ema_decay=0.99, grad_clip=1.0, seed=3),
        eval=EvalConfig(n_samples=8, metrics=("ssim",), fid_real_images=32),
    )


# ----------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: DataConfig(dataset="cifar"), "DataConfig.dataset must be one of 'mnist', 'pathmnist'"),
        (lambda: DataConfig(classes=(10,)), "DataConfig.classes must lie in 0..9"),
        (lambda: DataConfig(dataset="pathmnist", classes=(9,)), "DataConfig.classes must lie in 0..8"),
        (lambda: DataConfig(classes=(1, 1)), "DataConfig.classes must not repeat"),
        (lambda: DataConfig(classes=()), "DataConfig.classes must name at least one class"),
        (lambda: DataConfig(images_per_class=0), "DataConfig.images_per_class"),
        (lambda: DataConfig(split="dev"), "DataConfig.split must be one of"),
        (lambda: TrainConfig(steps=-1), "TrainConfig.steps must be >= 0"),
        (lambda: TrainConfig(steps=1.5), "TrainConfig.steps must be an int"),
        (lambda: TrainConfig(steps=True), "TrainConfig.steps must be an int"),
        (lambda: TrainConfig(batch_size=0), "TrainConfig.batch_size"),
        (lambda: TrainConfig(lr=-1e-3), "TrainConfig.lr must be a finite float > 0"),
        (lambda: TrainConfig(lr=float("nan")), "TrainConfig.lr"),
        (lambda: TrainConfig(optimizer="sgd"), "TrainConfig.optimizer must be one of 'adam', 'adamw'"),
        (lambda: TrainConfig(ema_decay=1.0), "TrainConfig.ema_decay"),
        (lambda: TrainConfig(grad_clip=0.0), "TrainConfig.grad_clip"),
        (lambda: TrainConfig(lr_step_size=0), "TrainConfig.lr_step_size"),
        (lambda: TrainConfig(lr_gamma=1.5), "TrainConfig.lr_gamma"),
        (lambda: TrainConfig(device="tpu"), "TrainConfig.device must be one of 'cpu', 'cuda'"),
        (lambda: TrainConfig(seed=-1), "TrainConfig.seed"),
        (lambda: TrainConfig(checkpoint_every=0), "TrainConfig.checkpoint_every"),
        (lambda: EvalConfig(metrics=("fid", "is")), "EvalConfig.metrics[1] must be one of 'fid', 'kid', 'ssim'"),
        (lambda: EvalConfig(metrics=("fid", "fid")), "EvalConfig.metrics must not repeat"),
        (lambda: EvalConfig(n_samples=1, metrics=("fid",)), "EvalConfig.n_samples must be >= 2"),
        (lambda: EvalConfig(protocol="tf"), "EvalConfig.protocol must be one of 'qdm', 'chen2025'"),
        (lambda: EvalConfig(ssim_pairing="best"), "EvalConfig.ssim_pairing"),
        (lambda: EvalConfig(sampler="euler"), "EvalConfig.sampler must be one of 'ddpm', 'ddim' or None"),
        (lambda: ExperimentConfig(experiment="a b", family="cfg_test", model=CfgTestModel()), "ExperimentConfig.experiment"),
        (lambda: ExperimentConfig(experiment="x", family="nope", model=CfgTestModel()), "family must be one of"),
        (
            lambda: ExperimentConfig(experiment="x", family="cfg_test", model=DataConfig()),
            "ExperimentConfig.model must be a CfgTestModel",
        ),
        (
            lambda: ExperimentConfig(experiment="x", family="cfg_test", model=CfgTestModel(), train=EvalConfig()),
            "ExperimentConfig.train",
        ),
    ],
)
def test_invalid_values_fail_at_construction_naming_the_field(make, needle) -> None:
    with pytest.raises(ValueError) as err:
        make()
    assert needle in str(err.value)


def test_unknown_family_error_lists_the_known_families() -> None:
    with pytest.raises(ValueError, match="cfg_test"):
        get_family("no_such_family")


def test_fields_are_normalised_so_equal_values_hash_equal() -> None:
    a = dataclasses.replace(_cfg(), train=TrainConfig(lr=1, steps=50))
    b = dataclasses.replace(_cfg(), train=TrainConfig(lr=1.0, steps=50))
    assert isinstance(a.train.lr, float) and a == b and config_hash(a) == config_hash(b)
    d = DataConfig(classes=[0, 1])  # type: ignore[arg-type]
    assert d.classes == (0, 1) and isinstance(d.classes, tuple)


def test_family_protocol_is_checked() -> None:
    @dataclass
    class NotFrozen:
        x: int = 1

    with pytest.raises(ValueError, match="frozen"):
        Family("bad", NotFrozen, _build, _loss, _sample, _data)
    with pytest.raises(ValueError, match="Family.loss must be callable"):
        Family("bad", CfgTestModel, _build, 3, _sample, _data)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already registered"):
        register_family(Family("cfg_test", CfgTestModel, lambda c: nn.Linear(1, 1), _loss, _sample, _data))
    assert FAMILIES["cfg_test"] is FAMILY


# ----------------------------------------------------------------------------------- overrides


def test_overrides_parse_by_type_with_leaf_names_and_dotted_paths() -> None:
    cfg = apply_overrides(
        _cfg(),
        [
            "steps=100",
            "model.hidden=8",
            "seed=7",
            "lr=5e-4",
            "classes=0,2,4",
            "ema_decay=none",
            "deterministic=false",
            "images_per_class=5",
            "metrics=(fid, ssim)",
            "widths=[4, 8, 16]",
            "noise_scale=0.5",
            "eval.sampler=ddim",
            "model.sampler=ddim",
            "lr_step_size=1e3",
            "experiment=renamed",
        ],
    )
    assert cfg.train.steps == 100 and cfg.model.hidden == 8 and cfg.train.seed == 7
    assert cfg.train.lr == 5e-4 and isinstance(cfg.train.lr, float)
    assert cfg.data.classes == (0, 2, 4) and cfg.data.images_per_class == 5
    assert cfg.train.ema_decay is None and cfg.train.deterministic is False
    assert cfg.eval.metrics == ("fid", "ssim") and cfg.model.widths == (4, 8, 16)
    assert cfg.model.noise_scale == 0.5 and cfg.eval.sampler == "ddim" and cfg.model.sampler == "ddim"
    assert cfg.train.lr_step_size == 1000 and cfg.experiment == "renamed"
    # untouched fields keep their values
    assert cfg.train.grad_clip == 1.0 and cfg.model.T == 20 and cfg.data.dataset == "mnist"


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("bogus=1", "unknown config key 'bogus'; valid keys: experiment, preset, data.dataset"),
        ("sampler=ddim", "ambiguous; use one of: model.sampler, eval.sampler"),
        ("steps=abc", "train.steps must be an int"),
        ("steps=2.5", "train.steps must be an int"),
        ("optimizer=sgd", "train.optimizer must be one of 'adam', 'adamw'"),
        ("lr=-1", "TrainConfig.lr must be a finite float > 0"),
        ("hidden=0", "CfgTestModel.hidden must be >= 1"),
        ("classes=0,12", "DataConfig.classes must lie in 0..9"),
        ("deterministic=maybe", "train.deterministic must be a bool"),
        ("family=other", "family cannot be overridden"),
        ("steps", "override must look like key=value"),
        ("=3", "override must look like key=value"),
    ],
)
def test_bad_overrides_raise_naming_the_key(override: str, needle: str) -> None:
    with pytest.raises(ValueError) as err:
        apply_overrides(_cfg(), [override])
    assert needle in str(err.value)


def test_config_keys_cover_every_leaf_once() -> None:
    keys = config_keys(_cfg())
    n_leaves = sum(len(dataclasses.fields(c)) for c in (DataConfig, TrainConfig, EvalConfig, CfgTestModel)) + 2
    assert len(keys) == n_leaves and "family" not in keys and keys["model.widths"] == tuple[int, ...]


def test_parse_value_handles_optional_tuple_literal() -> None:
    assert parse_value(tuple[int, ...], "()") == ()
    assert parse_value(tuple[int, ...], " 3 ") == (3,)
    assert parse_value(tuple[int, float], "1, 2.5") == (1, 2.5)
    assert parse_value(float | None, "null") is None and parse_value(float | None, "1e-3") == 1e-3
    assert parse_value(int | None, "None") is None and parse_value(int | None, "4") == 4
    assert parse_value(Literal["a", "b"], "b") == "b"
    assert parse_value(str, "'quoted'") == "quoted"
    with pytest.raises(ValueError, match="x must be one of 'a', 'b'"):
        parse_value(Literal["a", "b"], "c", "x")


# ----------------------------------------------------------------------------------- round trip and hash


def test_json_round_trip_is_exact() -> None:
    cfg = apply_overrides(_cfg(noise_scale=0.125, widths=(3, 5)), ["lr=0.1", "preset=my-preset"])
    text = json.dumps(to_dict(cfg))
    back = from_dict(json.loads(text))
    assert back == cfg and isinstance(back.model, CfgTestModel) and isinstance(back.data.classes, tuple)
    assert to_json(back) == to_json(cfg) and config_hash(back) == config_hash(cfg)


def test_hash_is_sha256_of_canonical_json_and_independent_of_key_order() -> None:
    cfg = _cfg()
    canonical = json.dumps(to_dict(cfg), sort_keys=True, separators=(",", ":"))
    assert config_hash(cfg) == hashlib.sha256(canonical.encode()).hexdigest()[:12]
    assert len(config_hash(cfg)) == 12 and int(config_hash(cfg), 16) >= 0
    shuffled = list(to_dict(cfg).items())
    random.Random(0).shuffle(shuffled)
    assert config_hash(from_dict(dict(shuffled))) == config_hash(cfg)
    # every single-field change changes the hash
    changed = [apply_overrides(cfg, [o]) for o in ("seed=4", "hidden=17", "n_samples=9", "images_per_class=11")]
    assert len({config_hash(c) for c in changed} | {config_hash(cfg)}) == 5


def test_from_dict_rejects_unknown_and_missing_keys() -> None:
    data = to_dict(_cfg())
    with pytest.raises(ValueError, match="unknown key"):
        from_dict({**data, "train": {**data["train"], "epochs": 3}})
    with pytest.raises(ValueError, match="unknown config key"):
        from_dict({**data, "extra": 1})
    with pytest.raises(ValueError, match="missing the key 'model'"):
        from_dict({k: v for k, v in data.items() if k != "model"})
    with pytest.raises(ValueError, match=r"model.hidden must be an int"):
        from_dict({**data, "model": {**data["model"], "hidden": "8"}})


# ----------------------------------------------------------------------------------- registries


def test_experiment_and_preset_registries_resolve_to_config_values() -> None:
    register_experiment("cfg-test-exp", _cfg)
    register_preset("cfg-test-preset", lambda: dataclasses.replace(_cfg(hidden=32), preset="cfg-test-preset"))
    assert get_experiment("cfg-test-exp") == _cfg()
    preset = get_experiment("cfg-test-preset")
    assert preset.model.hidden == 32 and preset.preset == "cfg-test-preset"
    with pytest.raises(ValueError, match="already registered"):
        register_experiment("cfg-test-exp", lambda: _cfg(hidden=2))
    with pytest.raises(ValueError, match="cfg-test-exp"):
        get_experiment("no-such-experiment")
    with pytest.raises(ValueError, match="experiment name"):
        register_experiment("bad name", _cfg)
