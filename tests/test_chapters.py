"""The model chapters (notebooks 02-04) run under papermill at their smallest parameters, glue correct physics,
save every figure with its provenance record, and stop at once, naming the parameter, on a bad value."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from _helpers import assert_rejects

from qdm import nb as qnb

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"


def _num(values: dict[str, str], key: str) -> float:
    """A glued number."""
    return float(values[key])


def _run(name: str, params: dict, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, str], Path]:
    """Execute notebooks/<name>.py with papermill into tmp_path; return its glued values and the results folder."""
    results = tmp_path / "results"
    monkeypatch.setenv("QDM_RESULTS_DIR", str(results))
    monkeypatch.setenv("QDM_DATA_DIR", str(data_dir))
    executed = qnb.run(NOTEBOOKS / f"{name}.py", tmp_path / f"{name}.ipynb", params)
    assert executed.metadata.papermill.parameters == params
    return qnb.glued_values(executed), results


def _check_figures(values: dict[str, str], folder: Path, names: tuple[str, ...], producer: str, params: dict) -> None:
    """Each figure is glued with its caption note and saved as PNG/SVG/CSV with a JSON record of this run's parameters."""
    for name in names:
        assert name in values and f"{name}-note" in values, name
        record = json.loads((folder / f"{name}.json").read_text())
        assert record["producer"] == producer
        assert all(record["params"][k] == v for k, v in params.items())
        for ext in ("png", "svg", "csv"):
            assert (folder / f"{name}.{ext}").is_file(), f"{name}.{ext}"


def test_depolarizing_chapter(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = {"n_qubits": 1, "T": 3, "n_layers": 1, "n_states": 8, "steps": 40, "n_trajectories": 64, "seed": 1}
    values, results = _run("02_depolarizing_qdm", small, tmp_path, data_dir, monkeypatch)
    d = 2
    assert _num(values, "d") == d and _num(values, "steps") == 40
    # forward process: jo2025qamp eq. 8 on the ensemble; the bound is attained by the top eigenvector
    assert _num(values, "forward-fidelity-error") < 1e-12 and _num(values, "forward-purity-error") < 1e-12
    assert values["forward-valid"] == "True" and _num(values, "bound-attained-error") < 1e-12
    # unitary control: stays at I/d whatever it is trained on
    assert _num(values, "unitary-purity-dev") < 1e-12 and _num(values, "unitary-fidelity-dev") < 1e-12
    assert math.isclose(_num(values, "unitary-purity"), 1 / d, abs_tol=1e-12)
    assert math.isclose(_num(values, "unitary-final-loss"), 1 - 1 / d, abs_tol=1e-9)
    # ancilla model: below the bound lambda_max(rho_bar), above the unitary control after training
    assert _num(values, "ancilla-fidelity") <= _num(values, "bound") + 1e-12
    assert _num(values, "ancilla-fidelity") > 1 / d + 0.05 and _num(values, "ancilla-purity") > 1 / d + 0.05
    assert math.isclose(_num(values, "bound-gap"), _num(values, "bound") - _num(values, "ancilla-fidelity"), abs_tol=1e-12)
    assert _num(values, "reload-error") < 1e-12 and _num(values, "trajectory-distance") < 0.5
    assert _num(values, "ancilla-params") == 3 * 3 * 2  # T x (1 layer x 2 wires x 3 angles)
    folder = results / "figures" / "02_depolarizing_qdm"
    names = ("fig-depol-forward", "fig-depol-loss", "fig-depol-along-t", "fig-depol-states")
    _check_figures(values, folder, names, "notebooks/02_depolarizing_qdm.py", small)
    assert (results / "depolarizing-qdm").is_dir() and (results / "depolarizing-qdm-unitary").is_dir()
    assert_rejects(NOTEBOOKS / "02_depolarizing_qdm.py", "n_qubits", 7)


def test_pqc_chapter(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = {
        "images_per_class": 4, "image_size": 8, "T": 3, "layers_per_block": 1, "steps": 4, "batch_size": 4,
        "n_samples": 4, "reference_images": 8, "n_draws": 50, "seed": 1,
        "profile": "smoke", "book_seeds": "0,1", "train_missing": True,
    }
    monkeypatch.setenv("QDM_LEDGER_DIR", "none")  # the papers' runs trained fresh at the smoke profile
    values, results = _run("03_pqc_denoiser", small, tmp_path, data_dir, monkeypatch)
    assert _num(values, "n-qubits") == 6 and _num(values, "d") == 64 and _num(values, "n-train") == 8
    assert _num(values, "norm-error") < 1e-12 and _num(values, "decode-error") < 1e-6
    # state-space noising: real noise stays real, complex noise is stronger, the approximation holds
    assert _num(values, "imag-T-real") == 0 and _num(values, "imag-T-complex") > 0.1
    assert _num(values, "fid-1-complex") < _num(values, "fid-1-real") < 1
    assert _num(values, "approx-error") < 0.1
    # parameter counts: this run (3 steps x (1*6*3 + 1*7*3 + 1*6*3)) and the paper's 1110
    assert _num(values, "params-run") == _num(values, "count-chapter") == 3 * 57
    assert _num(values, "count-cond-latent") == 1110 and values["formula-matches"] == "True"
    assert values["formula-cond-latent"] == "'15·7·3 + 20·8·3 + 15·7·3'"
    assert 0 <= _num(values, "infid-model") <= 1 and 0 <= _num(values, "infid-identity") <= 1
    assert 0 <= _num(values, "steps-beating-identity") <= 3
    assert math.isclose(_num(values, "ssim-trained"), _num(values, "ssim-stored"), abs_tol=1e-9)
    assert values["ssim-convention"] == "'skimage'" and _num(values, "n-reference") == 8
    folder = results / "figures" / "03_pqc_denoiser"
    names = ("fig-pqc-encoding", "fig-pqc-noising-fidelity", "fig-pqc-noising-grid", "fig-pqc-loss",
             "fig-pqc-per-step", "fig-pqc-samples")
    _check_figures(values, folder, names, "notebooks/03_pqc_denoiser.py", small)
    record = json.loads((folder / "fig-pqc-encoding.json").read_text())
    assert record["data"] and record["data"][0]["name"].startswith("mnist")
    # the papers' models: 5 jobs x 2 seeds trained here, the frame holding each run's own metrics file
    assert values["book-sources"] == "'10 of 10 runs: 10 trained by this page'"
    runs = pd.read_csv(folder / "book-runs.csv")
    assert len(runs) == 10 and runs["seed"].tolist() == [0, 1] * 5
    for row in runs.itertuples():
        (metrics_file,) = results.glob(f"*/{row.run}/metrics.json")
        stored = json.loads(metrics_file.read_text())
        assert row.fid == pytest.approx(stored["fid"], rel=1e-12) and row.ssim == pytest.approx(stored["ssim"], rel=1e-12)
    base = runs[runs["model"] == "conditioned latent (A1)"]
    assert _num(values, "book-base-fid") == pytest.approx(base["fid"].mean(), rel=1e-9)
    ablations = pd.read_csv(folder / "ablations.csv")
    assert set(ablations["pairs"]) == {2} and len(ablations) == 6
    assert values["ablation-text"].strip("'\"").startswith("Real instead of complex noise (2 seed pairs)")
    assert 0 <= _num(values, "label-worst-acc") <= _num(values, "label-best-acc") <= 1
    _check_figures(values, folder, ("fig-pqc-book-points", "fig-pqc-label-grid"), "notebooks/03_pqc_denoiser.py", small)
    assert pd.read_csv(folder / "fig-pqc-label-grid.csv")["label"].tolist() == list(range(10))
    assert_rejects(NOTEBOOKS / "03_pqc_denoiser.py", "image_size", 12)
    assert_rejects(NOTEBOOKS / "03_pqc_denoiser.py", "book_seeds", "0,0")


def test_hybrid_chapter(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = {
        "images_per_class": 4, "variants": "quantum,classical", "n_seeds": 2, "n_qubits": 4, "n_layers": 2, "T": 20,
        "steps": 4, "batch_size": 4, "sample_steps": 2, "n_samples": 2, "fid_real_images": 4,
        "profile": "smoke", "book_seeds": "0,1", "book_digits": "0", "train_missing": True,
    }
    monkeypatch.setenv("QDM_LEDGER_DIR", "none")  # the presets' runs trained fresh at the smoke profile
    values, results = _run("04_hybrid_ddpm", small, tmp_path, data_dir, monkeypatch)
    # parameter table: circuit = layers x qubits RZ weights, matched core equal, classical twin n^2 + n
    assert _num(values, "params-quantum-core") == _num(values, "params-matched-core") == 2 * 4
    assert _num(values, "params-classical-core") == 4 * 4 + 4 and _num(values, "params-none-core") == 0
    assert _num(values, "params-gate-linear") == 128 * 4 + 4 + 4 * 128 + 128
    # chen2025quantum's circuit: <Z> independent of the RZ weights and equal to the product of cosines
    assert _num(values, "pub-change") < 1e-12 and _num(values, "pub-grad") < 1e-12 and _num(values, "pub-closed-form") < 1e-12
    assert _num(values, "ctl-change") > 1e-3
    # two CNOT chains: Z_k -> prod_{i<=k} Z_i^(k-i+1), i.e. wires i with k - i even (derived by hand)
    assert values["wire-sets"] == "'S_0 = {0}; S_1 = {1}; S_2 = {0, 2}; S_3 = {1, 3}'"
    # chen2025quantum's detached gate input and the dead weights: frozen during training, the output layer moved
    assert _num(values, "drift-proj-in") == 0 and _num(values, "drift-circuit") < 1e-6
    assert _num(values, "drift-proj-out-min") > 0 and "stayed at their initial values" in values["drift-verdict"]
    assert _num(values, "n-runs") == 4
    assert "On FID (lower is better)" in values["verdict-fid"] and "On SSIM (higher is better)" in values["verdict-ssim"]
    metrics = pd.read_csv(results / "figures" / "04_hybrid_ddpm" / "metrics.csv")
    assert list(metrics["label"]) == ["quantum", "quantum", "classical", "classical", "untrained"]
    assert (metrics["fid n_generated"] == 2).all() and (metrics["fid n_real"] == 4).all()
    assert (metrics["ssim_convention"] == "skimage").all() and (metrics["ssim_pairing"] == "index").all()
    assert (metrics["fid"] > 0).all() and metrics["ssim"].between(-1, 1).all()
    folder = results / "figures" / "04_hybrid_ddpm"
    _check_figures(values, folder, ("fig-hybrid-loss", "fig-hybrid-samples"), "notebooks/04_hybrid_ddpm.py", small)
    assert len(list((results / "hybrid-mnist").iterdir())) == 4  # one run folder per variant and seed
    # the presets at a profile: 4 variants x 2 seeds on digit 0 trained here, each row its run's own metrics file
    assert values["book-sources"] == "'8 of 8 runs: 8 trained by this page'"
    book = pd.read_csv(folder / "book-runs.csv")
    assert len(book) == 8 and set(book["class"]) == {0} and book["seed"].tolist() == [0, 1] * 4
    for row in book.itertuples():
        (metrics_file,) = results.glob(f"*/{row.run}/metrics.json")
        stored = json.loads(metrics_file.read_text())
        assert row.fid == pytest.approx(stored["fid"], rel=1e-12) and row.ssim == pytest.approx(stored["ssim"], rel=1e-12)
    claim = pd.read_csv(folder / "book-claim.csv")
    assert len(claim) == 4 and set(claim["pairs"]) == {2} and set(claim["class"]) == {0}
    quantum = book[book["variant"] == "chen2025"].set_index("seed")["fid"]
    classical = book[book["variant"] == "chen2025-classical"].set_index("seed")["fid"]
    first = claim[(claim["comparison"] == "chen2025 − chen2025-classical") & (claim["metric"] == "FID")].iloc[0]
    assert first.mean_diff == pytest.approx(float((quantum - classical).mean()), rel=1e-9)
    assert values["book-verdict"].strip("'\"").startswith("Class 0: chen2025 − chen2025-classical")
    _check_figures(values, folder, ("fig-hybrid-book-points", "fig-hybrid-book-samples"), "notebooks/04_hybrid_ddpm.py",
                   small)
    assert_rejects(NOTEBOOKS / "04_hybrid_ddpm.py", "variants", "quantum,photonic")
    assert_rejects(NOTEBOOKS / "04_hybrid_ddpm.py", "book_digits", "3")
    executed = nbformat.read(tmp_path / "04_hybrid_ddpm.ipynb", as_version=4)
    assert not any(o.get("output_type") == "error" for c in executed.cells for o in c.get("outputs", []))
