"""The theory notebook runs under papermill with small parameters, its glued numbers are right,
and bad parameters stop it at once; plus the notebook plumbing (qdm.nb) and the plot frames."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pytest
from _helpers import assert_rejects
import torch

from qdm import nb as qnb
from qdm import plotting, provenance, quantum
from qdm.schedules import make_schedule

REPO = Path(__file__).resolve().parents[1]
THEORY = REPO / "notebooks" / "01_diffusion_theory.py"
SMALL = {"T": 50, "n_qubits": 2, "n_images": 2, "n_samples": 200, "seed": 1}
FIGURES = ("fig-schedules", "fig-noising", "fig-posterior", "fig-depolarizing", "fig-entropy")


def _num(values: dict[str, str], key: str) -> float:
    """A glued number."""
    return float(values[key])


def _check_parameters(nb: nbformat.NotebookNode, values: dict[str, str]) -> None:
    """papermill injected SMALL, and the notebook used it."""
    assert nb.metadata.papermill.parameters == SMALL
    assert _num(values, "T") == 50 and _num(values, "n_qubits") == 2 and _num(values, "seed") == 1
    assert values["schedule"] == "'linear'"


def _check_classical(values: dict[str, str]) -> None:
    """Seed eqs. 1-6 checked by the notebook: closed form, posterior, L_simple."""
    assert _num(values, "mean-path-error") < 1e-5  # prod sqrt(alpha_s) = sqrt(alpha_bar_t) in float32
    assert _num(values, "var-rel-error") < 0.05  # pooled MC variance vs 1 - alpha_bar_t
    assert _num(values, "mean-z-max") < 6.0
    assert abs(_num(values, "post-var-ratio") - 1) < 0.05  # residual variance = beta_tilde_t
    assert abs(_num(values, "post-corr")) < 0.02
    assert _num(values, "oracle-mean-error") < 1e-10
    assert abs(_num(values, "lsimple-zero") - 1) < 0.05  # E|eps|^2 per pixel
    assert _num(values, "lsimple-oracle") < 1e-8
    sched = make_schedule("linear", 50)
    assert math.isclose(_num(values, "abar-T-linear"), float(sched.alpha_bar[-1]), rel_tol=1e-12)


def _check_quantum(values: dict[str, str]) -> None:
    """Seed eqs. 7-10 checked by the notebook: closed form, measures, entropy, Fuchs-van de Graaf."""
    assert _num(values, "alpha-match") < 1e-14
    assert _num(values, "depol-closed-error") < 1e-12
    assert values["depol-valid"] == "True"
    assert _num(values, "measure-closed-error") < 1e-10
    assert 0 < _num(values, "entropy-T-pure") <= 1 and 0 < _num(values, "entropy-T-mixed") <= 1
    assert _num(values, "S-unitary-change") < 1e-10
    assert _num(values, "purity-unitary-change") < 1e-10
    assert abs(_num(values, "S-system-after")) < 1e-8
    assert abs(_num(values, "purity-system-after") - 1) < 1e-10
    assert _num(values, "S-rho") > 0.1
    assert math.isclose(_num(values, "S-ancilla-after"), _num(values, "S-rho"), abs_tol=1e-9)
    assert values["fvdg-holds"] == "True"
    assert _num(values, "overlap-vs-fidelity") < 1e-10


def _check_figures(values: dict[str, str], results: Path, data_dir: Path) -> None:
    """Every figure is glued with its note and saved with a provenance record of this run."""
    folder = results / "figures" / "01_diffusion_theory"
    for name in FIGURES:
        assert name in values and f"{name}-note" in values
        record = json.loads((folder / f"{name}.json").read_text())
        assert record["params"]["T"] == 50 and record["seed"] == 1
        assert record["producer"] == "notebooks/01_diffusion_theory.py"
        for ext in ("png", "svg", "csv"):
            assert (folder / f"{name}.{ext}").is_file()
        assert "T=50" in values[f"{name}-note"]
    noising = json.loads((folder / "fig-noising.json").read_text())
    assert noising["data"][0]["md5"] == provenance.file_md5(data_dir / "mnist" / "mnist.npz")


def test_theory_notebook_runs_with_small_parameters(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One test (not a module fixture) so that pytest-xdist never executes the notebook twice.
    results = tmp_path / "results"
    out = tmp_path / "theory.ipynb"
    monkeypatch.setenv("QDM_RESULTS_DIR", str(results))
    monkeypatch.setenv("QDM_DATA_DIR", str(data_dir))
    nb = qnb.run(THEORY, out, SMALL)
    assert out.is_file()
    values = qnb.glued_values(nb)
    _check_parameters(nb, values)
    _check_classical(values)
    _check_quantum(values)
    _check_figures(values, results, data_dir)


@pytest.mark.parametrize(("name", "value"), [("T", -5), ("schedule", "nope"), ("n_qubits", 0)])
def test_validation_cell_rejects_bad_parameter(name: str, value: object) -> None:
    assert_rejects(THEORY, name, value, match=rf"^{name} must be")


def test_papermill_run_fails_fast_naming_parameter(tmp_path: Path) -> None:
    out = tmp_path / "bad.ipynb"
    with pytest.raises(qnb.NotebookError, match=r"ValueError: T must be an int >= 2, got -5$") as info:
        qnb.run(THEORY, out, {"T": -5})
    assert type(info.value.__cause__).__name__ == "PapermillExecutionError"
    failed = info.value.__cause__
    assert failed.exec_count is not None  # the cell right after the injected parameters failed
    assert not out.exists() and not list(tmp_path.iterdir())  # nothing half-written is left behind


# ----------------------------------------------------------------------------------- qdm.nb


def test_read_notebook_stamps_fingerprint_and_kernelspec() -> None:
    nb = qnb.read_notebook(THEORY.read_text())
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata[qnb.FINGERPRINT_KEY] == provenance.inputs_fingerprint()
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1


def test_parse_parameter_follows_papermill() -> None:
    assert qnb.parse_parameter("-5") == -5 and isinstance(qnb.parse_parameter("3"), int)
    assert qnb.parse_parameter("0.5") == 0.5
    assert qnb.parse_parameter("True") is True and qnb.parse_parameter("None") is None
    assert qnb.parse_parameter("cosine") == "cosine"


def test_glued_values_reads_hidden_and_shown_glue() -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": "0.5"},
                               metadata={"scrapbook": {"name": "a", "mime_prefix": "application/papermill.record/"}}),
        nbformat.v4.new_output("display_data", data={"text/plain": "'x'"},
                               metadata={"scrapbook": {"name": "b", "mime_prefix": ""}}),
        nbformat.v4.new_output("display_data", data={"text/plain": "ignored"}),
    ]
    nb.cells.append(cell)
    assert qnb.glued_values(nb) == {"a": "0.5", "b": "'x'"}


def test_cache_hash_follows_qdm_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from jupyter_cache import get_cache

    cache = get_cache(str(tmp_path / "cache"))
    text = THEORY.read_text()
    _, before = cache.create_hashed_notebook(qnb.read_notebook(text))
    _, same = cache.create_hashed_notebook(qnb.read_notebook(text))
    monkeypatch.setattr(provenance, "source_hash", lambda *args: "0" * 64)
    _, after = cache.create_hashed_notebook(qnb.read_notebook(text))
    assert before == same != after


def test_run_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="notebook"):
        qnb.run(tmp_path / "missing.py", tmp_path / "o.ipynb")
    with pytest.raises(ValueError, match="output must end in .ipynb"):
        qnb.run(THEORY, tmp_path / "o.txt")


# ----------------------------------------------------------------------------------- plot frames


def test_schedule_frame_values() -> None:
    sched = make_schedule("cosine", 20)
    frame = plotting.schedule_frame({"cosine": sched})
    abar = frame[frame["quantity"] == "alpha_bar_t"]["value"].to_numpy()
    snr = frame[frame["quantity"] == "log10 SNR_t"]["value"].to_numpy()
    assert torch.allclose(torch.tensor(abar), sched.alpha_bar)
    assert torch.allclose(torch.tensor(10**snr), sched.alpha_bar / (1 - sched.alpha_bar))
    with pytest.raises(ValueError, match="NoiseSchedule"):
        plotting.schedule_frame({"x": [0.1, 0.2]})


def test_forward_moments_frame_matches_closed_form() -> None:
    sched = make_schedule("cosine", 30)
    x0 = torch.linspace(-1, 1, 64, dtype=torch.float64)
    frame = plotting.forward_moments_frame(x0, sched, [5, 30], 4000, torch.Generator().manual_seed(0))
    assert list(frame["t"]) == [5, 30]
    assert (frame["mean path error"] < 1e-12).all()  # prod sqrt(alpha_s) == sqrt(alpha_bar_t)
    assert (frame["var rel. error"].abs() < 0.05).all()
    assert ((frame["var one-shot samples"] / frame["var closed form 1 - alpha_bar_t"] - 1).abs() < 0.05).all()
    assert (frame["max |mean error| / s.e."] < 5).all()
    assert math.isclose(frame["var closed form 1 - alpha_bar_t"].iloc[1], 1 - float(sched.alpha_bar[-1]))
    with pytest.raises(ValueError, match="times"):
        plotting.forward_moments_frame(x0, sched, [31], 10, None)


def test_depolarizing_measures_frame_endpoints() -> None:
    gen = torch.Generator().manual_seed(0)
    rho0 = quantum.pure_density(quantum.random_pure_state(2, gen))
    traj = quantum.depolarize_trajectory(rho0, torch.full((30,), 0.3, dtype=torch.float64))
    frame = plotting.depolarizing_measures_frame({("pure", "step"): traj}, {"pure": rho0}).set_index(["measure", "t"])
    value = frame["value"]
    assert math.isclose(value[("purity", 0)], 1.0, abs_tol=1e-12)
    assert math.isclose(value[("fidelity to rho_0", 0)], 1.0, abs_tol=1e-10)
    assert math.isclose(value[("trace distance to I/d", 0)], 0.75, abs_tol=1e-12)  # T(pure, I/4) = 1 - 1/d
    assert abs(value[("entropy (bits)", 0)]) < 1e-9
    assert math.isclose(value[("entropy (bits)", 30)], 2.0, abs_tol=1e-6)  # alpha_30 = 0.7**30 ~ 2e-5
    plotting.plot_quantum_decay(frame.reset_index()).clf()
