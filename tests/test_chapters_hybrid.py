"""qdm.chapters.hybrid: chapter-04 knobs and experiments, parameter tables, part drift, image metrics."""

from __future__ import annotations

import math

import pytest
import torch

from qdm import runner
from qdm.chapters import depolarizing, hybrid, pqc
from qdm.config import config_hash
from qdm.models.bottleneck import GateConfig


@pytest.mark.parametrize(
    ("cls", "name", "value"),
    [
        (depolarizing.depol_chapter, "n_qubits", 5),
        (depolarizing.depol_chapter, "loss", "kl"),
        (depolarizing.depol_chapter, "lr", 0.0),
        (depolarizing.depol_chapter, "results_dir", None),
        (pqc.pqc_chapter, "digits", "0,12"),
        (pqc.pqc_chapter, "digits", "1,1"),
        (pqc.pqc_chapter, "image_size", 12),
        (pqc.pqc_chapter, "noise", "pink"),
    ],
)
def test_chapter_params_reject_bad_values_naming_the_parameter(cls: type, name: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must"):
        cls(**{name: value})


@pytest.mark.parametrize(
    ("name", "value", "config_message"),
    [
        ("variants", "quantum,tensor", None),
        ("n_seeds", 0, None),
        ("n_qubits", 0, "n_qubits"),
        ("ema_decay", 1.0, "TrainConfig.ema_decay must be None"),
        ("sample_steps", 2000, "sample_steps must be in 1..T"),
        ("steps", True, "train.steps must be an int"),
        ("ansatz", "rx_chain", "model.ansatz must be one of"),
        ("protocol", "fid50k", "eval.protocol must be one of"),
    ],
)
def test_hybrid_chapter_rejects_bad_values_naming_the_parameter(name: str, value: object, config_message: str | None) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must") as err:
        hybrid.hybrid_chapter(**{name: value})
    if config_message is not None:  # the config's own rule, not a copy of it in the chapter
        assert f"{name} must be a valid {hybrid.CONFIG_KEYS[name][0]}: " in str(err.value) and config_message in str(err.value)


def test_hybrid_chapter_cross_checks_and_unknown_names() -> None:
    with pytest.raises(ValueError, match="^sample_steps must be a valid eval.sample_steps: .*DDPM sampler runs all T=50 steps"):
        hybrid.hybrid_chapter(sampler="ddpm", T=50, sample_steps=10)
    assert hybrid.hybrid_chapter(sampler="ddpm", T=50, sample_steps=50).config.model.T == 50  # T lowered before the steps
    with pytest.raises(ValueError, match="^fid_real_images must be >= n_samples"):
        hybrid.hybrid_chapter(n_samples=10, fid_real_images=5, ssim_pairing="index")
    with pytest.raises(ValueError, match=r"unknown parameters \[.n_qbits.\]"):
        hybrid.hybrid_chapter(n_qbits=4)
    p = hybrid.hybrid_chapter(variants=" matched , none", n_seeds=3)
    assert p.knobs.variant_list == ("matched", "none") and p.knobs.seeds == (0, 1, 2)


def test_notebook_parameters_are_config_overrides() -> None:
    chapter = hybrid.hybrid_chapter(digit=6, images_per_class=5, n_qubits=3, lr=0.02, sampler="ddim", sample_steps=7,
                                    protocol="chen2025", detach_input=False, ema_decay=0.5)
    cfg = chapter.config
    assert cfg.experiment == hybrid.BASE_EXPERIMENT and cfg.data.classes == (6,) and cfg.data.images_per_class == 5
    assert (cfg.model.n_qubits, cfg.model.detach_input, cfg.train.lr, cfg.train.ema_decay) == (3, False, 0.02, 0.5)
    assert (cfg.eval.sampler, cfg.eval.sample_steps, cfg.eval.protocol, cfg.eval.metrics) == ("ddim", 7, "chen2025", ("ssim",))
    assert chapter.as_dict()["digit"] == 6
    with pytest.raises(ValueError, match=r"must define \['digit'"):
        hybrid.from_namespace({})


def test_hybrid_experiments_one_config_per_variant_and_seed() -> None:
    p = hybrid.hybrid_chapter(variants="quantum,none", n_seeds=2, n_qubits=4, ema_decay=0.0, ansatz="ry_rz_chain",
                              ssim_pairing="index", fid_real_images=32, n_samples=8)
    jobs = hybrid.hybrid_experiments(p)
    assert [(v, s) for v, s, _ in jobs] == [("quantum", 0), ("quantum", 1), ("none", 0), ("none", 1)]
    assert len({config_hash(c) for _, _, c in jobs}) == 4
    cfg = jobs[0][2]
    assert cfg.train.ema_decay is None and cfg.model.n_qubits == 4 and cfg.model.ansatz == "ry_rz_chain"
    assert cfg.eval.ssim_pairing == "index" and cfg.eval.metrics == ("ssim",)


def test_parameter_table_parts_sum_and_twins() -> None:
    cfg = hybrid.hybrid_experiments(hybrid.hybrid_chapter(n_qubits=4, n_layers=2))[0][2]
    table = hybrid.parameter_table(hybrid.variant_models(cfg, ("none", "quantum", "classical", "matched"))).set_index("part")
    parts = table.drop(index="total")
    assert (parts.sum() == table.loc["total"]).all()
    assert table.loc["circuit", "quantum"] == table.loc["circuit", "matched"] == 2 * 4  # RZ weights: layers x qubits
    assert table.loc["circuit", "classical"] == 4 * 4 + 4  # tanh(Wz + c)
    assert table.loc["circuit", "none"] == 0 and table.loc["proj_in", "none"] == 0
    assert table.loc["total", "quantum"] - table.loc["total", "none"] == 128 * 4 + 4 + 4 * 128 + 128 + 8


def test_weight_independence_of_the_published_circuit_and_its_control() -> None:
    g = torch.Generator().manual_seed(3)
    pub = hybrid.weight_independence(GateConfig(n_qubits=5, n_layers=3, ansatz="rz_cnot"), 8, 3, g)
    assert pub["max_output_change"] < 1e-12 and pub["max_weight_gradient"] < 1e-12
    assert pub["closed_form_error"] < 1e-12 and pub["n_weights"] == 15
    ctl = hybrid.weight_independence(GateConfig(n_qubits=5, n_layers=3, ansatz="strongly_entangling"), 8, 3, g)
    assert ctl["max_output_change"] > 1e-2 and ctl["max_weight_gradient"] > 1e-2 and math.isnan(ctl["closed_form_error"])


def test_part_drift_finds_exactly_the_changed_part() -> None:
    cfg = hybrid.hybrid_experiments(hybrid.hybrid_chapter(n_qubits=3, n_layers=1))[0][2]
    initial = runner.initial_model(cfg)
    again = runner.initial_model(cfg)
    assert all(v == 0 for v in hybrid.part_drift(initial, again).values())  # the runner's build is reproducible
    with torch.no_grad():
        again.bottleneck.proj_out.bias[3] += 0.25
        again.dec1.weight[0, 0, 0, 0] -= 0.5
    drift = hybrid.part_drift(initial, again)
    assert drift["proj_out"] == pytest.approx(0.25) and drift["decoder"] == pytest.approx(0.5)
    assert all(v == 0 for k, v in drift.items() if k not in ("proj_out", "decoder"))
    with pytest.raises(ValueError, match="TinyUNet"):
        hybrid.part_drift(initial, torch.nn.Linear(2, 2))
