"""Presets (qdm.presets): the published settings exactly, profiles that keep the architecture, command-line resolution."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from qdm.cli import main
from qdm.config import PRESETS as CONFIG_PRESETS
from qdm.config import apply_overrides, config_hash, from_dict, to_dict
from qdm.data import load_dataset
from qdm.families import get_family
from qdm.families.hybrid import build_hybrid, schedule_for
from qdm.families.pqc import PQC_PROFILES
from qdm.models import count_parameters
from qdm.models.pqc_denoiser import circuit_parameter_count
from qdm.presets import (
    CHEN2025_STEPS,
    CHEN2025_VARIANTS,
    HYBRID_PROFILES,
    PRESETS,
    PROFILE_NAMES,
    ProfileSpec,
    apply_profile,
    cacioppo2023_cond_latent,
    get_preset,
    resolve_config,
    split_pseudo_overrides,
)


def profile_names_of(family) -> tuple[str, ...]:
    """The CPU profiles a family's profile hook defines (its table's keys)."""
    tables = {"hybrid_ddpm": HYBRID_PROFILES, "pqc_denoiser": PQC_PROFILES}
    return tuple(tables[family.name])


def test_presets_are_registered_typed_values_that_round_trip():
    assert PRESETS is CONFIG_PRESETS
    expected = {*CHEN2025_VARIANTS, *(f"{v}-pathmnist" for v in CHEN2025_VARIANTS),
                "cacioppo2023-cond-latent", "cacioppo2025-full", "koelle2024"}
    assert expected <= set(PRESETS)
    for name in sorted(expected):
        for profile in PROFILE_NAMES:
            family = get_family(get_preset(name).family)
            if profile not in ("paper", *profile_names_of(family)):
                with pytest.raises(ValueError, match=rf"profile must be one of .* for the family {family.name!r}"):
                    get_preset(name, profile)
                continue
            cfg = get_preset(name, profile)
            again = from_dict(to_dict(cfg))
            assert again == cfg and config_hash(again) == config_hash(cfg)
            assert cfg.preset == (name if profile == "paper" else f"{name}@{profile}")
            assert get_family(cfg.family).describe(cfg)


def test_chen2025_is_papers_c1_exactly(data_dir):
    cfg = get_preset("chen2025")
    m, tr = cfg.model, cfg.train
    assert (m.bottleneck, m.n_qubits, m.n_layers, m.ansatz, m.detach_input) == ("quantum", 16, 3, "rz_cnot", True)
    assert (m.widths, m.time_dim, m.T, m.schedule, m.noise, m.clip_x0, m.sampler) == (
        (32, 64, 128), 128, 1000, "cosine", "gaussian", True, "ddpm")
    assert (tr.lr, tr.batch_size, tr.ema_decay, tr.optimizer) == (3e-4, 64, 0.999, "adam")
    assert cfg.data.dataset == "mnist" and cfg.data.classes == (0,) and cfg.data.images_per_class is None
    # 30 epochs over all digit-0 training images, counting the authors' last partial batch
    n_zeros = int((np.asarray(load_dataset("mnist", "train", data_dir=data_dir).labels) == 0).sum())
    assert tr.steps == CHEN2025_STEPS == 30 * math.ceil(n_zeros / 64)
    # cosine schedule (Nichol & Dhariwal, s = 0.008) with betas clipped to [1e-4, 0.999]
    t = torch.arange(0, 1001, dtype=torch.float64)
    f = torch.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(1e-4, 0.999)
    got = schedule_for(m).betas.to(torch.float64)
    assert torch.allclose(got, betas, rtol=1e-6, atol=1e-9)
    assert float(got.min()) >= 1e-4 - 1e-12 and float(got.max()) <= 0.999 + 1e-12


def test_chen2025_variants_differ_only_in_the_gate_and_parameter_counts_match():
    base = get_preset("chen2025")
    counts = {}
    for name in CHEN2025_VARIANTS:
        cfg = get_preset(name)
        assert dataclasses.replace(cfg, experiment=base.experiment, preset=base.preset,
                                   model=base.model) == base
        keep = {k: v for k, v in dataclasses.asdict(cfg.model).items()
                if k not in ("bottleneck", "ansatz", "detach_input")}
        assert keep == {k: v for k, v in dataclasses.asdict(base.model).items()
                        if k not in ("bottleneck", "ansatz", "detach_input")}
        counts[name] = count_parameters(build_hybrid(cfg))
    q, tq, c, mt = (counts[n] for n in CHEN2025_VARIANTS)
    assert q["proj_in"] == 128 * 16 + 16 and q["proj_out"] == 16 * 128 + 128 and q["circuit"] == 3 * 16
    assert tq["circuit"] == 48 and mt["circuit"] == tq["circuit"] and mt["total"] == tq["total"]
    assert c["proj_in"] == c["circuit"] == c["proj_out"] == 0
    assert c["total"] == q["total"] - q["proj_in"] - q["circuit"] - q["proj_out"]
    trainable, matched = get_preset("chen2025-trainable").model, get_preset("chen2025-matched").model
    assert not trainable.detach_input and trainable.ansatz == "ry_cnot" and not matched.detach_input


def test_pathmnist_variants_use_class_1_and_three_channels():
    for name in CHEN2025_VARIANTS:
        cfg = get_preset(f"{name}-pathmnist")
        assert cfg.data.dataset == "pathmnist" and cfg.data.classes == (1,) and cfg.model.in_channels == 3
        assert cfg.experiment == f"{name}-pathmnist"
        assert dataclasses.replace(cfg.model, in_channels=1) == get_preset(name).model


def test_cacioppo2023_cond_latent_is_a1_with_1110_parameters_and_a_noising_switch():
    cfg = get_preset("cacioppo2023-cond-latent")
    m = cfg.model
    assert (m.n_qubits, m.n_label_qubits, m.blocks, m.ancilla, m.T) == (3, 4, (15, 20, 15), "measure", 8)
    assert (m.schedule, m.beta_start, m.beta_end, m.noise, m.time_conditioning) == (
        "cacioppo_linspace", 4e-3, 0.4, "complex", "snapshot")
    assert circuit_parameter_count(m) == 15 * 7 * 3 + 20 * 8 * 3 + 15 * 7 * 3 == 1110
    assert (cfg.train.lr, cfg.train.batch_size, cfg.train.lr_gamma) == (5e-4, 64, 0.7)
    assert cfg.train.lr_step_size * 5 == cfg.train.steps  # StepLR every 20 of 100 epochs
    assert m.noising == "as_coded" and cacioppo2023_cond_latent("ddpm").model.noising == "ddpm"
    assert apply_overrides(cfg, ["model.noising=ddpm"]).model.noising == "ddpm"
    assert get_preset("cacioppo2023-cond-latent", noising="ddpm").model.noising == "ddpm"
    with pytest.raises(ValueError, match="noising"):
        cacioppo2023_cond_latent("sqrt")


def test_cacioppo2025_and_koelle2024_fields():
    a2 = get_preset("cacioppo2025-full").model
    assert (a2.n_qubits, a2.image_size, a2.ansatz, a2.ancilla, a2.time_conditioning) == (
        8, 16, "rot_cnot_ladder", "postselect", "per_timestep")
    assert (a2.schedule, a2.beta, a2.T, a2.target, a2.noising) == ("constant", 1e-2, 10, "posterior_mean", "ddpm")
    tr = get_preset("cacioppo2025-full").train
    assert (tr.lr, tr.weight_decay, tr.lr_gamma, tr.batch_size) == (5e-5, 1e-5, 0.97, 64)
    d = get_preset("koelle2024")
    assert (d.model.n_qubits, d.model.image_size, d.model.n_layers, d.model.loss) == (6, 8, 55, "mse_probabilities")
    assert d.data.classes == (0, 1) and 2 * d.data.images_per_class == 80 and d.train.lr == 1e-4


@pytest.mark.parametrize("name", ["chen2025", "chen2025-matched", "cacioppo2023-cond-latent", "koelle2024"])
@pytest.mark.parametrize("profile", ["cpu", "smoke"])
def test_profiles_keep_the_architecture_and_shrink_the_budget(name, profile):
    paper, small = get_preset(name), get_preset(name, profile)
    if small.family == "hybrid_ddpm":
        assert small.model == paper.model  # circuit, schedule and T untouched
        assert small.eval.sampler == "ddim" and small.eval.sample_steps == HYBRID_PROFILES[profile].sample_steps
        # the same network: identical parameter shapes
        assert {k: v.shape for k, v in build_hybrid(small).state_dict().items()} == {
            k: v.shape for k, v in build_hybrid(paper).state_dict().items()}
    else:
        ae = dataclasses.replace(paper.model.autoencoder, train_steps=small.model.autoencoder.train_steps)
        assert small.model == dataclasses.replace(paper.model, autoencoder=ae)
        if small.model.time_conditioning == "snapshot":
            assert small.train.steps % small.model.T == 0  # every t gets its snapshot
    assert small.train.steps < paper.train.steps and small.eval.n_samples <= paper.eval.n_samples
    assert small.data.images_per_class <= min(paper.data.images_per_class or 10**9, 64)
    assert (small.train.lr, small.train.optimizer) == (paper.train.lr, paper.train.optimizer)
    assert apply_profile(paper, "paper") == paper


def test_profile_errors_are_clear():
    with pytest.raises(ValueError, match="profile must be one of"):
        get_preset("chen2025", "gpu")
    with pytest.raises(ValueError, match="preset must be one of"):
        get_preset("chen2024")
    with pytest.raises(ValueError, match="does not take"):
        get_preset("cacioppo2025-full", dataset="pathmnist")
    with pytest.raises(ValueError, match="ProfileSpec.n_samples"):
        ProfileSpec(steps=1, batch_size=1, images_per_class=1, n_samples=4, fid_real_images=2)
    with pytest.raises(ValueError, match="ProfileSpec.steps"):
        ProfileSpec(steps=0, batch_size=1, images_per_class=1, n_samples=5, fid_real_images=2)


def test_resolve_applies_preset_then_profile_then_overrides():
    assert split_pseudo_overrides(["steps=3", "profile=cpu", "preset=chen2025"]) == ("chen2025", "cpu", ["steps=3"])
    # overrides win over the profile whatever their position on the command line
    cfg = resolve_config("chen2025", ["steps=3", "profile=smoke"])
    assert cfg.train.steps == 3 and cfg.eval.sampler == "ddim" and cfg.preset == "chen2025@smoke"
    moved = resolve_config("hybrid-mnist", ["preset=chen2025-trainable@cpu", "batch_size=8"])
    assert moved.experiment == "hybrid-mnist" and moved.preset == "chen2025-trainable@cpu"
    assert moved.model == get_preset("chen2025-trainable").model and moved.train.batch_size == 8
    assert moved.train.steps == get_preset("chen2025-trainable", "cpu").train.steps
    with pytest.raises(ValueError, match="hybrid_ddpm"):
        resolve_config("pqc-mnist", ["preset=chen2025"])
    with pytest.raises(ValueError, match="presets only"):
        resolve_config("hybrid-mnist", ["profile=cpu"])


def test_cli_show_accepts_profile_and_reports_bad_values(capsys):
    assert main(["show", "chen2025", "profile=smoke", "steps=4"]) == 0
    out = capsys.readouterr().out
    assert '"preset": "chen2025@smoke"' in out and '"steps": 4' in out and "DDIM sampling in 10 steps" in out
    assert main(["show", "chen2025", "profile=huge"]) == 2
    assert "profile must be one of" in capsys.readouterr().err
    assert main(["audit", "chen2025", "--workers", "0"]) == 2


def test_the_pqc_book_profile_caps_the_steps_and_keeps_everything_else_of_the_preset():
    from qdm.families.base import ProfileSpec, profile_steps
    from qdm.families.pqc import BOOK_STEPS

    for name in ("cacioppo2023-cond-latent", "cacioppo2025-full", "koelle2024"):
        paper, book = get_preset(name), get_preset(name, "book")
        assert book.train.steps == min(BOOK_STEPS, paper.train.steps) == profile_steps(PQC_PROFILES["book"], paper.train)
        assert book.train.batch_size == paper.train.batch_size  # 64, 64 and Kölle's 10
        assert (book.train.lr, book.train.lr_step_size, book.train.lr_gamma) == (
            paper.train.lr, paper.train.lr_step_size, paper.train.lr_gamma)
        assert book.data == paper.data and book.model == paper.model  # every image and the preset's autoencoder
        assert book.eval.n_samples == 1000 and book.eval.fid_real_images == 1000
    assert get_preset("koelle2024", "book").train.batch_size == 10
    # a cap above a preset's own budget leaves the budget alone; without the cap the steps are the profile's
    capped = ProfileSpec(steps=10**9, batch_size=None, images_per_class=1, n_samples=5, fid_real_images=None,
                         steps_cap=True)
    assert profile_steps(capped, get_preset("koelle2024").train) == 80_000
    assert profile_steps(dataclasses.replace(capped, steps_cap=False), get_preset("koelle2024").train) == 10**9
    with pytest.raises(ValueError, match="ProfileSpec.steps_cap must be True or False"):
        dataclasses.replace(capped, steps_cap="yes")
    with pytest.raises(ValueError, match=r"ProfileSpec.batch_size must be an int >= 1 or None"):
        dataclasses.replace(capped, batch_size=0)
