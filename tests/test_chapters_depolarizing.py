"""qdm.chapters.depolarizing: chapter-02 knobs, experiments and the along-t frame."""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import pytest
import torch

from qdm.chapters import depolarizing
from qdm.models.depolarizing import DepolarizingQDM, DepolarizingQDMConfig, report_along_t, target_states


def test_depol_experiments_apply_the_chapter_values() -> None:
    p = depolarizing.depol_chapter(n_qubits=3, n_ancilla=2, T=5, steps=7, lr=0.01, seed=4, target="line", loss="stepwise")
    cfgs = p.configs
    anc, uni = cfgs["ancilla"].model, cfgs["unitary"].model
    assert (anc.n_qubits, anc.n_ancilla, anc.reverse, anc.T, anc.target, anc.loss) == (3, 2, "ancilla", 5, "line", "stepwise")
    assert (uni.n_ancilla, uni.reverse) == (0, "unitary")
    assert cfgs["ancilla"].train.steps == 7 and cfgs["unitary"].train.seed == 4 and anc.target_seed == 4
    assert cfgs["ancilla"].experiment == "depolarizing-qdm" and cfgs["unitary"].experiment == "depolarizing-qdm-unitary"
    assert p.knobs.n_trajectories == 512 and p.as_dict()["seed"] == 4
    with pytest.raises(ValueError, match=r"^n_ancilla must be a valid model.n_ancilla: .*n_ancilla must be in 0..3"):
        depolarizing.depol_chapter(n_ancilla=4)
    with pytest.raises(ValueError, match="^n_trajectories must be"):
        depolarizing.depol_chapter(n_trajectories=0)


def test_along_t_frame_forward_closed_form_and_shared_forward() -> None:
    cfg = DepolarizingQDMConfig(n_qubits=1, n_ancilla=1, T=4, n_states=8)
    models = {"a": DepolarizingQDM(cfg, torch.Generator().manual_seed(0)),
              "u": DepolarizingQDM(dataclasses.replace(cfg, reverse="unitary", n_ancilla=0), torch.Generator().manual_seed(0))}
    psi = target_states(cfg)
    frame = depolarizing.along_t_frame({k: report_along_t(m, psi) for k, m in models.items()})
    fwd = frame[(frame["process"] == "forward") & (frame["measure"] == "fidelity to target")]
    assert list(fwd["model"].unique()) == ["all"] and len(fwd) == cfg.T + 1
    alpha = torch.cat([torch.ones(1, dtype=torch.float64), models["a"].alpha])
    assert torch.allclose(torch.tensor(fwd["value"].to_numpy()), alpha + (1 - alpha) / 2, atol=1e-12)
    uni = frame[(frame["model"] == "u") & (frame["measure"] == "purity")]["value"]
    assert (uni - 0.5).abs().max() < 1e-12  # a unitary chain from I/2 stays at purity 1/d
    depolarizing.plot_along_t(frame, bound=0.9, d=2).clf()
    plt.close("all")
