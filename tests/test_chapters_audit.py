"""The audit chapter: its parameters are checked before any work, its tables link and cite, and the notebook runs under
papermill from the committed ledger and measurements (it trains nothing), its glued numbers equal the measurement files'."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _helpers import assert_rejects

from qdm import nb as qnb
from qdm.audits import claims as C
from qdm.audits import estimator_bias as eb
from qdm.chapters import audit as chapter
from qdm.protocols import summarize_seeds

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "07_audit.py"
MEASUREMENTS = REPO / "ledger" / "measurements"
FIGURES = ("fig-audit-bias", "fig-audit-gap", "fig-audit-forest", "fig-audit-ano-fid")


@pytest.mark.parametrize(("name", "value"), [("seeds", "0,0"), ("seeds", "a"), ("confidence", 1.5), ("results_dir", 3),
                                             ("measurements_dir", None)])
def test_parameters_are_checked_before_any_work(name: str, value: object) -> None:
    assert_rejects(NOTEBOOK, name, value)


def test_knobs() -> None:
    knobs = chapter.AuditKnobs(seeds="2, 0")
    assert knobs.seed_list == (2, 0) and knobs.measurements == MEASUREMENTS
    with pytest.raises(ValueError, match="^confidence must be a finite float in"):
        chapter.AuditKnobs(confidence=0.2)


def _evaluation(verdict: str, label: str = "fig-audit-gap") -> C.Evaluation:
    claim = C.Claim("x", "a | claim", C.Source("chen2025quantum", "Abstract"), C.Published("p", "README", (1.0, 2.0)),
                    C.NotTestable("r"), label)
    return C.Evaluation(claim, verdict, "why", "—", "—")


def test_claims_table_links_cites_and_escapes() -> None:
    text = chapter.claims_markdown([_evaluation("reproduced"), _evaluation("reversed", "sec-audit-code")])
    rows = text.splitlines()
    assert len(rows) == 4 and all(r.count(" | ") == 8 for r in rows[2:])  # nine columns, the claim's "|" escaped
    assert "{cite:t}`chen2025quantum`" in rows[2] and "{numref}`fig-audit-gap`" in rows[2]
    assert "{ref}`sec-audit-code`" in rows[3] and "**reversed**" in rows[3]
    counts = chapter.verdict_counts([_evaluation("reproduced"), _evaluation("reproduced"), _evaluation("reversed")])
    assert counts == {"reproduced": 2, "not reproduced": 0, "reversed": 1, "not testable here": 0}


def test_code_table_rows_are_cited_data() -> None:
    text = chapter.code_markdown()
    assert text.count("\n") == len(chapter.CODE_VS_PAPER) + 2
    for row in chapter.CODE_VS_PAPER:
        assert re.search(r" @ [0-9a-f]{7}", row.where), row  # the repository at its commit
    assert any("6,000" in r.code for r in chapter.CODE_VS_PAPER) and any("strip of 5" in r.code for r in chapter.CODE_VS_PAPER)


def test_parameter_table_counts_without_training() -> None:
    table = chapter.parameter_table().set_index("preset")
    assert table.loc["cacioppo2023-cond-latent", "quantum"] == 1110
    assert table.loc["chen2025", "quantum"] == 48
    assert (table["total"] == table["quantum"] + table["classical"]).all()


def test_audit_notebook_runs_from_the_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    results = tmp_path / "results"
    monkeypatch.setenv("QDM_RESULTS_DIR", str(results))
    monkeypatch.setenv("QDM_DATA_DIR", str(data_dir))
    monkeypatch.setenv("QDM_LEDGER_DIR", str(REPO / "ledger"))
    nb = qnb.run(NOTEBOOK, tmp_path / "audit.ipynb", {"seeds": "0,1,2"})
    values = qnb.glued_values(nb)
    # glued numbers are the measurement files' numbers
    bias = eb.read_measurement(MEASUREMENTS / eb.BIAS_NAME).frame.set_index(["comparison", "n"])
    assert float(values["rvr-fid-min"]) == pytest.approx(bias.loc[(eb.REAL_HELDOUT, 5), "fid_mean"])
    assert float(values["mvr-fid-max"]) == pytest.approx(bias.loc[(eb.MODEL_QUANTUM, 64), "fid_mean"])
    gap = eb.read_measurement(MEASUREMENTS / eb.GAP_NAME).frame
    strips = gap[gap["kind"] == eb.PUBLISHED_STRIP]
    draws5 = gap[(gap["kind"] == eb.RANDOM_DRAW) & (gap["n"] == 5)]
    assert int(values["strips-quantum-lower"]) == int((strips["gap"] < 0).sum())
    assert int(values["n-strips"]) == len(strips)
    assert float(values["gap-wins-min"]) == pytest.approx(float((draws5["gap"] < 0).mean()))
    # ... and the ledger's: the fair-protocol gap of the two committed digit-0 runs the measurement used (seed 0)
    pair = eb.read_measurement(MEASUREMENTS / eb.GAP_NAME).record["ledger_entries"]
    assert {e["profile"] for e in pair} == {eb.AUDIT_PROFILE}
    fids = {e["preset"]: json.loads((REPO / "ledger" / e["experiment"] / e["config_hash"] / "metrics.json").read_text())["fid"]
            for e in pair}
    assert float(values["fair-gap"]) == pytest.approx(fids["chen2025"] - fids["chen2025-classical"])
    # the verdict counts add up, and the claims table holds every claim
    counts = [int(values[f"n-{v.replace(' ', '-')}"]) for v in C.VERDICTS]
    assert sum(counts) == int(values["n-claims"]) == len(C.CLAIMS)
    assert float(values["sim-weight-change"]) < 1e-12 and float(values["sim-hadamard-change"]) < 1e-12
    assert float(values["sim-mw-haar"]) == pytest.approx(14 / 17)
    # every figure is saved with its provenance record, its data and the measurement it shows
    folder = results / "figures" / "07_audit"
    for name in FIGURES:
        record = json.loads((folder / f"{name}.json").read_text())
        assert record["producer"] == "notebooks/07_audit.py" and record["params"]["seeds"] == "0,1,2"
        assert all((folder / f"{name}.{ext}").is_file() for ext in ("png", "svg", "csv"))
        assert f"{name}-note" in values
    assert "estimator-bias-mnist0.csv" in values["bias-measurement-note"]
    assert "STALE" not in values["bias-measurement-note"] + values["gap-measurement-note"]
    assert not (results / "hybrid_ddpm").exists() and not list(results.glob("chen2025*"))  # nothing trained
    assert eb.MEASURE_COMMAND in NOTEBOOK.read_text()  # the page states the command that re-makes the measurements


def test_forest_frame_from_evaluations() -> None:
    claim = next(c for c in C.CLAIMS if c.id == "chen2025-mnist0-fid")
    s = summarize_seeds([-3.0, -2.0, -4.0])
    e = C.Evaluation(claim, "reproduced", "", "—", "", s, (-3.0, -2.0, -4.0), (0, 1, 2))
    row = chapter.forest_frame([e]).iloc[0]
    assert row["delta"] == pytest.approx(-3.0) and row["seeds"] == 3
    assert row["published_delta"] == pytest.approx(259.25 - 271.05)
