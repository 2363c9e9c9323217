"""The contract every registered family keeps (in the spirit of diffusers' SchedulerCommonTest), at tiny sizes.

For each family in the registry: the model config names the family; build gives a module; the loss of a
prepared batch is a finite scalar with a gradient; samples have the promised shape and lie in [0, 1]; the
same seed gives the same bytes (build, loss and sample); the config survives to_dict -> JSON -> from_dict
with the same hash; the parameter counts add up; and the profile hook keeps what a profile must not change.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from qdm.config import ExperimentConfig, apply_overrides, config_hash, from_dict, get_experiment, to_dict
from qdm.families import FAMILIES, Family
from qdm.presets import apply_profile, get_preset
from qdm.train import seed_everything

#: One tiny config per built-in family (a registered experiment shrunk by overrides); a new family must add one.
TINY: dict[str, tuple[str, list[str]]] = {
    "hybrid_ddpm": ("hybrid-mnist", ["images_per_class=4", "model.n_qubits=3", "model.n_layers=1",
                                     "model.widths=8,16,32", "model.time_dim=16", "eval.sample_steps=2"]),
    "pqc_denoiser": ("pqc-mnist", ["images_per_class=4", "model.T=3"]),
    "depolarizing_qdm": ("depolarizing-qdm", ["model.T=3", "model.n_states=4"]),
}
BUILTIN = ("hybrid_ddpm", "pqc_denoiser", "depolarizing_qdm")


def tiny(name: str) -> ExperimentConfig:
    experiment, overrides = TINY[name]
    cfg = apply_overrides(get_experiment(experiment), overrides)
    assert cfg.family == name
    return cfg


def _batch(family: Family, cfg: ExperimentConfig, n: int = 2):
    data = family.prepare_data(cfg)
    return tuple(d[:n] for d in data) if isinstance(data, tuple) else data[:n]


def _loss_and_sample(family: Family, cfg: ExperimentConfig) -> tuple[torch.Tensor, torch.Tensor]:
    seed_everything(cfg.train.seed)
    model = family.build(cfg)
    loss = family.loss(model, _batch(family, cfg), cfg, torch.Generator().manual_seed(5))
    model.eval()
    with torch.no_grad():
        samples = family.sample(model, 3, cfg, torch.Generator().manual_seed(7))
    return loss, samples


def test_every_registered_family_has_a_tiny_contract_config():
    assert set(BUILTIN) <= set(FAMILIES)
    assert set(TINY) >= set(BUILTIN)


@pytest.mark.parametrize("name", BUILTIN)
def test_model_config_names_its_family(name):
    family = FAMILIES[name]
    assert family.model_config_cls.family == name  # the ClassVar config resolution relies on
    assert "family" not in {f.name for f in dataclasses.fields(family.model_config_cls)}  # not part of the hash


@pytest.mark.parametrize("name", BUILTIN)
def test_build_loss_sample(name):
    family, cfg = FAMILIES[name], tiny(name)
    seed_everything(0)
    model = family.build(cfg)
    assert isinstance(model, torch.nn.Module)
    loss = family.loss(model, _batch(family, cfg), cfg, torch.Generator().manual_seed(1))
    assert loss.ndim == 0 and torch.isfinite(loss) and loss.requires_grad
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and any(g is not None and float(g.abs().sum()) > 0 for g in grads)
    model.eval()
    with torch.no_grad():
        x = family.sample(model, 3, cfg, torch.Generator().manual_seed(2))
    assert x.ndim == 4 and x.shape[0] == 3 and x.is_floating_point()
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0 and bool(torch.isfinite(x).all())


@pytest.mark.parametrize("name", BUILTIN)
def test_same_seed_same_bytes(name):
    family, cfg = FAMILIES[name], tiny(name)
    (l1, s1), (l2, s2) = _loss_and_sample(family, cfg), _loss_and_sample(family, cfg)
    assert l1.detach().numpy().tobytes() == l2.detach().numpy().tobytes()
    assert s1.numpy().tobytes() == s2.numpy().tobytes()
    other = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=cfg.train.seed + 1))
    l3, s3 = _loss_and_sample(family, other)
    assert s3.numpy().tobytes() != s1.numpy().tobytes() or float(l3) != float(l1)  # the seed is used


@pytest.mark.parametrize("name", BUILTIN)
def test_config_round_trip(name):
    cfg = tiny(name)
    back = from_dict(json.loads(json.dumps(to_dict(cfg))))
    assert back == cfg and config_hash(back) == config_hash(cfg)
    assert type(back.model) is FAMILIES[name].model_config_cls


@pytest.mark.parametrize("name", BUILTIN)
def test_parameter_counts_add_up_and_match_the_model(name):
    family, cfg = FAMILIES[name], tiny(name)
    counts = family.parameter_counts(cfg)
    assert set(counts) == {"quantum", "classical", "total"}
    assert all(isinstance(v, int) and v >= 0 for v in counts.values())
    assert counts["quantum"] + counts["classical"] == counts["total"] > 0
    seed_everything(0)
    model = family.build(cfg)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen_autoencoder = getattr(getattr(model, "autoencoder", None), "parameters", lambda: [])()
    assert counts["total"] == trainable - sum(p.numel() for p in frozen_autoencoder if p.requires_grad)


def test_parameter_counts_golden_values():
    """The numbers the papers state: cacioppo2023qdm's conditioned latent model has 1110 circuit parameters;
    the published chen2025quantum gate has 16 qubits × 3 layers = 48 circuit weights, the classical baseline none."""
    cond = apply_overrides(get_preset("cacioppo2023-cond-latent"), ["model.autoencoder.train_steps=1"])
    assert FAMILIES["pqc_denoiser"].parameter_counts(cond) == {"quantum": 1110, "classical": 0, "total": 1110}
    chen, classical = get_preset("chen2025"), get_preset("chen2025-classical")
    c = FAMILIES["hybrid_ddpm"].parameter_counts(chen)
    assert c["quantum"] == 48 and c["classical"] > 0
    assert FAMILIES["hybrid_ddpm"].parameter_counts(classical)["quantum"] == 0


@pytest.mark.parametrize("preset", ["chen2025", "cacioppo2025-full", "cacioppo2023-cond-latent", "koelle2024"])
@pytest.mark.parametrize("profile", ["cpu", "smoke"])
def test_profile_hook_changes_budget_only(preset, profile):
    paper = get_preset(preset)
    small = apply_profile(paper, profile)
    assert small.preset == f"{preset}@{profile}" and small.family == paper.family
    assert small.train.steps <= paper.train.steps and small.eval.n_samples <= paper.eval.n_samples
    keep = ("n_qubits", "n_layers", "ansatz", "schedule", "T", "cosine_min_beta", "bottleneck", "blocks")
    for field in keep:
        assert getattr(small.model, field, None) == getattr(paper.model, field, None), field
    assert small.train.lr == paper.train.lr and small.train.optimizer == paper.train.optimizer


def test_a_family_without_a_profile_hook_is_refused():
    with pytest.raises(ValueError, match="profile='cpu' is defined for the families"):
        apply_profile(get_experiment("depolarizing-qdm"), "cpu")
    assert apply_profile(get_experiment("depolarizing-qdm"), "paper") == get_experiment("depolarizing-qdm")


def test_family_rejects_a_model_config_naming_another_family():
    @dataclasses.dataclass(frozen=True)
    class Wrong:
        family = "pqc_denoiser"

    f = FAMILIES["hybrid_ddpm"]
    with pytest.raises(ValueError, match="names the family 'pqc_denoiser', not 'other'"):
        Family("other", Wrong, f.build, f.loss, f.sample, f.prepare_data)
