"""The performance appendix (notebooks/90_performance.py) reads the committed benchmark record
(ledger/measurements/benchmarks/) and times nothing: its glued numbers are the record's, its figure is drawn from
the record's rows and names the record's files in its provenance; a missing or damaged record stops it with a
one-line error naming the command that makes the file; bad parameters are refused."""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

import pandas as pd
import pytest
from _helpers import assert_rejects

from qdm import nb as qnb
from qdm import provenance
from qdm.chapters import performance

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "notebooks" / "90_performance.py"
RECORD = REPO / performance.RECORD_DIR


def _run(params: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, str], Path]:
    """Execute the page with papermill; return its glued values and its figure folder."""
    results = tmp_path / "results"
    monkeypatch.setenv("QDM_RESULTS_DIR", str(results))
    executed = qnb.run(PAGE, tmp_path / "90_performance.ipynb", params)
    return qnb.glued_values(executed), results / "figures" / "90_performance"


def _text(value: str) -> str:
    """A glued string as ``{glue:text}`` shows it (glued_values gives its repr)."""
    return value.strip("'")


def test_page_shows_the_committed_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values, figures = _run({"check_qubits": 3, "check_batch": 2, "seed": 1}, tmp_path, monkeypatch)
    sim_json = json.loads((RECORD / "simulator.json").read_text())
    idle = [json.loads(p.read_text()) for p in sorted(RECORD.glob("*/simulator.json"))]
    sim = pd.read_csv(RECORD / "simulator.csv")
    unet = pd.read_csv(RECORD / "unet.csv")
    # the machine and session, from the record's sidecar
    machine = sim_json["machine"]
    assert _text(values["cpu-model"]) == machine["cpu_model"] and int(values["logical-cores"]) == machine["logical_cores"]
    assert int(values["torch-threads"]) == machine["torch_threads"] and _text(values["torch-version"]) == machine["torch"]
    assert _text(values["grid-commit"]).startswith(machine["git"]["commit"][:12])
    assert _text(values["grid-date"]) == machine["date"]
    assert _text(values["grid-load-start"]) == "/".join(f"{x:.2f}" for x in machine["load_average_start"])
    assert _text(values["record-dir"]) == performance.RECORD_DIR.as_posix()
    # the headline: every run of every session, both ratios
    alternating = [r for s in [sim_json, *idle] for r in s["headline"]["speedup"]]
    steady = [r for s in [sim_json, *idle] for r in s["headline"]["steady_speedup"]]
    assert int(values["headline-runs"]) == len(alternating) and int(values["n-sessions"]) == 1 + len(idle)
    assert _text(values["headline-median"]) == f"{statistics.median(alternating):.1f}×"
    assert _text(values["headline-min"]) == f"{min(alternating):.1f}×"
    assert _text(values["headline-steady-max"]) == f"{max(steady):.1f}×"
    assert _text(values["grid-headline-median"]) == f"{statistics.median(sim_json['headline']['speedup']):.1f}×"
    # the grid figure: exactly the record's torch rows, forward + backward
    torch_fb = sim[(sim.candidate == "torch") & (sim.circuit == "sel") & (sim["mode"] == "fwd_bwd")]
    plotted = pd.read_csv(figures / "fig-perf-speedup.csv")
    assert len(plotted) == len(torch_fb)
    assert sorted(plotted.speedup_vs_default_qubit.round(9)) == sorted(torch_fb.speedup_vs_default_qubit.round(9))
    assert _text(values["speedup-grid-max"]) == f"{torch_fb.speedup_vs_default_qubit.max():.1f}×"
    # the U-Net ratios, from the record's rows
    row = unet[(unet.task == "train_step") & (unet.candidate == "quantum-torch-sel") & (unet.n_qubits == unet.n_qubits.max())]
    assert _text(values["unet-ratio-sel-largest"]) == f"{float(row.ratio_vs_classical.iloc[0]):.2f}× (n={unet.n_qubits.max()})"
    # the simulator agrees with default.qubit (computed now, the only computation of the page)
    assert float(values["eq-output-error"]) < 1e-10 and float(values["eq-grad-error"]) < 1e-10
    # the figure's provenance names every file of the record, with its md5
    rec = json.loads((figures / "fig-perf-speedup.json").read_text())
    assert rec["producer"] == "notebooks/90_performance.py" and rec["params"]["check_qubits"] == 3
    assert {d["md5"] for d in rec["data"]} == {provenance.file_md5(p) for p in performance.record_files(RECORD)}
    assert "fig-perf-speedup-note" in values and (figures / "fig-perf-speedup.png").is_file()


def _copy_record(tmp_path: Path) -> Path:
    copy = tmp_path / "record"
    shutil.copytree(RECORD, copy)
    return copy


def test_missing_record_is_one_line_naming_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-benchmarks"
    empty.mkdir()
    with pytest.raises(qnb.NotebookError) as err:
        _run({"benchmark_dir": str(empty)}, tmp_path, monkeypatch)
    message = str(err.value)
    assert "\n" not in message and "ValueError" in message
    assert f"benchmark record {empty} has no simulator.csv, simulator.json, unet.csv, unet.json" in message
    assert f"`python benchmarks/bench_simulator.py --out {empty}`" in message
    assert f"`python benchmarks/bench_unet.py --out {empty}`" in message


def test_damaged_record_is_one_line_naming_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = _copy_record(tmp_path)
    (copy / "unet.json").write_text("{not json")
    with pytest.raises(qnb.NotebookError) as err:
        _run({"benchmark_dir": str(copy)}, tmp_path, monkeypatch)
    message = str(err.value)
    assert "\n" not in message
    assert f"benchmark record {copy / 'unet.json'} is damaged (not JSON: JSONDecodeError)" in message
    assert f"re-make it with `python benchmarks/bench_unet.py --out {copy}`" in message


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda d: (d / "unet.csv").unlink(), r"has no unet\.csv; make it with `python benchmarks/bench_unet\.py"),
        (lambda d: _edit_json(d / "simulator.json", lambda j: j["machine"].pop("torch_threads")),
         r"simulator\.json is damaged \(machine lacks torch_threads\)"),
        (lambda d: _edit_json(d / "simulator.json", lambda j: j["headline"]["speedup"].__setitem__(0, 99.0)),
         r"simulator\.json is damaged \(headline run 1: speedup is not default\.qubit / torch\)"),
        (lambda d: _edit_json(d / "simulator.json", lambda j: j["headline"]["steady_speedup"].pop()),
         r"per-run lists are empty or of different lengths"),
        (lambda d: _edit_json(d / "headline-idle" / "simulator.json", lambda j: j.pop("headline")),
         r"headline-idle/simulator\.json is damaged \(no headline"),
        (lambda d: pd.read_csv(d / "simulator.csv").assign(speedup_vs_default_qubit=2.0).to_csv(d / "simulator.csv"),
         r"simulator\.csv is damaged \(case .* speedup_vs_default_qubit does not match the medians\)"),
        (lambda d: pd.read_csv(d / "unet.csv").drop(columns="ratio_vs_classical").to_csv(d / "unet.csv"),
         r"unet\.csv is damaged \(no column ratio_vs_classical\)"),
    ],
    ids=["missing-csv", "machine-key", "headline-ratio", "headline-lengths", "idle-headline", "grid-ratio", "unet-column"],
)
def test_load_record_refuses_damage(tmp_path: Path, damage, why: str) -> None:
    copy = _copy_record(tmp_path)
    performance.load_record(copy)  # the intact copy reads
    damage(copy)
    with pytest.raises(ValueError, match=why) as err:
        performance.load_record(copy)
    assert "\n" not in str(err.value)


def test_command_of_rebuilds_the_command_line() -> None:
    args = {"quick": "False", "headline_only": "True", "out": "/tmp/x", "device": "cpu", "threads": "1", "budget": "20.0",
            "qubits": "[8, 16]", "candidates": "None"}
    assert performance.command_of("simulator", args) == (
        "python benchmarks/bench_simulator.py --headline-only --threads 1 --budget 20.0 --qubits 8 16")
    assert performance.command_of("unet", {"device": "cuda"}) == "python benchmarks/bench_unet.py --device cuda"
    with pytest.raises(ValueError, match="^script must be one of simulator, unet"):
        performance.command_of("eval", {})


@pytest.mark.parametrize(("parameter", "value"), [("check_qubits", 1), ("check_batch", 0), ("seed", -1),
                                                  ("benchmark_dir", 3)])
def test_performance_page_rejects_bad_parameters(parameter: str, value: object) -> None:
    assert_rejects(PAGE, parameter, value)
