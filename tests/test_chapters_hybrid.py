"""qdm.chapters.hybrid: chapter-04 knobs and experiments, parameter tables, part drift, image metrics."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch

from qdm import provenance, runner
from qdm.chapters import common, depolarizing, hybrid, pqc
from qdm.config import EvalConfig, ExperimentConfig, TrainConfig, config_hash, get_experiment
from qdm.models.bottleneck import GateConfig
from qdm.models.depolarizing import DepolarizingQDM, DepolarizingQDMConfig, report_along_t, target_states
from qdm.models.pqc_denoiser import PQCDenoiser, PQCDenoiserConfig, circuit_parameter_count, normalise
from qdm.runner import JobOutcome, RunRecord, run_experiment


def _tiny_depol(tmp_path: Path, seed: int = 0) -> RunRecord:
    base = get_experiment("depolarizing-qdm")
    cfg = dataclasses.replace(
        base,
        model=dataclasses.replace(base.model, n_qubits=1, T=2, n_layers=1, n_states=4),
        train=TrainConfig(steps=3, batch_size=4, lr=0.1, seed=seed, checkpoint_every=None),
        eval=EvalConfig(n_samples=2, metrics=()),
    )
    return run_experiment(cfg, results_root=tmp_path, progress=False)


def _summary(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"label": k, "seed": i, "fid": v} for k, vs in values.items() for i, v in enumerate(vs)]
    return common.seed_summary(pd.DataFrame(rows), ["fid"])


@pytest.mark.parametrize(
    ("cls", "name", "value"),
    [
        (depolarizing.DepolChapterParams, "n_qubits", 5),
        (depolarizing.DepolChapterParams, "loss", "kl"),
        (depolarizing.DepolChapterParams, "lr", 0.0),
        (depolarizing.DepolChapterParams, "results_dir", None),
        (pqc.PQCChapterParams, "digits", "0,12"),
        (pqc.PQCChapterParams, "digits", "1,1"),
        (pqc.PQCChapterParams, "image_size", 4),
        (pqc.PQCChapterParams, "noise", "pink"),
        (hybrid.HybridChapterParams, "variants", "quantum,tensor"),
        (hybrid.HybridChapterParams, "n_qubits", 17),
        (hybrid.HybridChapterParams, "ema_decay", 1.0),
        (hybrid.HybridChapterParams, "sample_steps", 2000),
        (hybrid.HybridChapterParams, "steps", True),
    ],
)
def test_chapter_params_reject_bad_values_naming_the_parameter(cls: type, name: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must"):
        cls(**{name: value})


def test_hybrid_params_cross_checks() -> None:
    with pytest.raises(ValueError, match="^sample_steps must equal T"):
        hybrid.HybridChapterParams(sampler="ddpm", T=50, sample_steps=10)
    with pytest.raises(ValueError, match="^fid_real_images must be >= n_samples"):
        hybrid.HybridChapterParams(n_samples=10, fid_real_images=5, ssim_pairing="index")
    p = hybrid.HybridChapterParams(variants=" matched , none", n_seeds=3)
    assert p.variant_list == ("matched", "none") and p.seeds == (0, 1, 2)


def test_hybrid_experiments_one_config_per_variant_and_seed() -> None:
    p = hybrid.HybridChapterParams(variants="quantum,none", n_seeds=2, n_qubits=4, ema_decay=0.0, ansatz="ry_rz_chain")
    jobs = hybrid.hybrid_experiments(p)
    assert [(v, s) for v, s, _ in jobs] == [("quantum", 0), ("quantum", 1), ("none", 0), ("none", 1)]
    assert len({config_hash(c) for _, _, c in jobs}) == 4
    cfg = jobs[0][2]
    assert cfg.train.ema_decay is None and cfg.model.n_qubits == 4 and cfg.model.ansatz == "ry_rz_chain"
    assert cfg.eval.ssim_pairing == "index" and cfg.eval.metrics == ("ssim",)


def test_parameter_table_parts_sum_and_twins() -> None:
    cfg = hybrid.hybrid_experiments(hybrid.HybridChapterParams(n_qubits=4, n_layers=2))[0][2]
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
    cfg = hybrid.hybrid_experiments(hybrid.HybridChapterParams(n_qubits=3, n_layers=1))[0][2]
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
