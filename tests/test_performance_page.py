"""The performance appendix (notebooks/90_performance.py) runs its own quick subset when no benchmark CSVs exist,
shows torch == default.qubit to 1e-10, glues speed-ups consistent with its figure data, and rejects bad parameters."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from _helpers import assert_rejects

from qdm import nb as qnb

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "notebooks" / "90_performance.py"


def _run(params: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, str], Path]:
    """Execute the page with papermill; return its glued values and its figure folder."""
    results = tmp_path / "results"
    monkeypatch.setenv("QDM_RESULTS_DIR", str(results))
    executed = qnb.run(PAGE, tmp_path / "90_performance.ipynb", params)
    return qnb.glued_values(executed), results / "figures" / "90_performance"


def test_performance_page_quick_subset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-benchmarks"
    empty.mkdir()
    params = {"benchmark_dir": str(empty), "quick_qubits": 3, "quick_batch": 2, "quick_repeats": 3, "seed": 1}
    values, figures = _run(params, tmp_path, monkeypatch)
    assert values["source"] == "'quick subset run by this page'"
    # the torch simulator reproduces default.qubit: outputs and gradients (complex128)
    assert float(values["eq-output-error"]) < 1e-10 and float(values["eq-grad-error"]) < 1e-10
    # machine statement: cores and threads are real numbers of this process
    assert int(values["logical-cores"]) >= 1 and int(values["torch-threads"]) == 1
    assert values["gpu-available"] in ("'True'", "'False'")
    assert values["headline-min"] == "'n/a'" and int(values["headline-runs"]) == 0
    assert values["headline-steady-median"] == "'n/a'"
    # figure data: speed-up = default.qubit median / torch median, one row per fwd_bwd case
    speed = pd.read_csv(figures / "fig-perf-speedup.csv")
    assert sorted(speed.n_qubits) == [2, 3] and (speed["mode"] == "fwd_bwd").all()
    assert (speed.speedup_vs_default_qubit > 0).all()
    glued_max = float(values["speedup-grid-max"].strip("'×"))
    assert math.isclose(glued_max, round(speed.speedup_vs_default_qubit.max(), 1), abs_tol=0.051)
    # U-Net: classical twin has ratio 1 by definition, quantum candidates are timed against it
    unet = pd.read_csv(figures / "fig-perf-unet.csv")
    classical = unet[unet.candidate == "classical"]
    assert len(classical) == 2 and (classical.ratio_vs_classical == 1.0).all()
    step = unet[(unet.task == "train_step") & (unet.candidate == "quantum-torch")]
    assert values["unet-ratio-torch"] == f"'{float(step.ratio_vs_classical.iloc[0]):.2f}× (n=3)'"
    assert set(unet.candidate) == {"classical", "quantum-torch", "quantum-torch-sel", "quantum-torch-ry", "quantum-pennylane"}
    assert float(values["rss-growth-mib"].strip("'")) < 8.0
    for name in ("fig-perf-speedup", "fig-perf-unet"):
        record = json.loads((figures / f"{name}.json").read_text())
        assert record["producer"] == "notebooks/90_performance.py" and record["params"]["quick_qubits"] == 3
        assert (figures / f"{name}.png").is_file() and f"{name}-note" in values


@pytest.mark.parametrize(("parameter", "value"), [("quick_qubits", 1), ("quick_batch", 0), ("quick_repeats", 2),
                                                  ("benchmark_dir", ""), ("run_if_missing", "yes")])
def test_performance_page_rejects_bad_parameters(parameter: str, value: object) -> None:
    assert_rejects(PAGE, parameter, value)
