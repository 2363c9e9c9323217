"""The low-data chapter (notebooks/08_lowdata.py, qdm.chapters.lowdata): at the smoke profile on a tiny grid it trains
what it lacks and glues numbers that match its runs (recomputed here from their metrics.json with scipy); at the book
profile with an empty ledger it renders without training and says that every cell is missing and which command makes
them; bad parameters stop it at once; the hypothesis in its prose is the one in the code."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from _helpers import assert_rejects
from scipy import stats

from qdm import nb as qnb
from qdm.audits import lowdata as ld
from qdm.chapters import lowdata as chapter
from qdm.config import from_dict

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "notebooks" / "08_lowdata.py"
#: Two variants of one comparison, two sizes below 100 (64 carries the ablations), two seeds, a budget of seconds.
TINY = {
    "profile": "smoke", "sizes": "8,64", "digits": 0, "variants": "chen2025,chen2025-classical", "seeds": "0,1",
    "overrides": "train.steps=2;eval.n_samples=4;eval.fid_real_images=8;eval.sample_steps=2", "train_missing": True,
}


def _markdown(nb: nbformat.NotebookNode) -> str:
    return "\n".join(o["data"]["text/markdown"] for c in nb.cells for o in c.get("outputs", [])
                     if "text/markdown" in o.get("data", {}))


def _run(params: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger: str) -> tuple[nbformat.NotebookNode, Path]:
    results = tmp_path / "results"
    monkeypatch.setenv("QDM_RESULTS_DIR", str(results))
    monkeypatch.setenv("QDM_LEDGER_DIR", ledger)
    nb = qnb.run(PAGE, tmp_path / "lowdata.ipynb", params)
    assert nb.metadata.papermill.parameters == params
    return nb, results


def _stored_runs(results: Path) -> dict[tuple, dict]:
    """(variant, digit, size, arm, seed) -> metrics.json of every finished run under ``results``."""
    out = {}
    for done in results.glob("*/*/DONE"):
        cfg = from_dict(json.loads((done.parent / "config.json").read_text()))
        cell, seed = ld.cell_of(cfg)
        assert cfg.data.subset_draw == "nested" and cfg.data.subset_seed == seed and cfg.train.steps == 2
        out[(cell.variant, cell.digit, cell.size, cell.arm, seed)] = json.loads((done.parent / "metrics.json").read_text())
    return out


def test_tiny_grid_at_smoke_trains_and_glues_its_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb, results = _run(TINY, tmp_path, monkeypatch, "none")
    values = qnb.glued_values(nb)
    stored = _stored_runs(results)
    # 2 variants x 2 sizes x 2 seeds, plus 2 variants x 2 noise strategies x 2 seeds at N = 64
    assert len(stored) == 16 and values["n-found"] == values["n-expected"] == values["n-from-trained"] == "16"
    assert values["grid-cells"] == "8" and values["n-cells-incomplete"] == "0" and values["budget-steps"] == "2"
    assert values["budget-one-budget"] == "'yes'" and values["budget-meets-samples"] == "'no'"
    assert "Every one of the 8 cells of this grid has all its runs (16)." in _markdown(nb)
    # the tests, recomputed from the runs' own metrics.json: paired differences, paired t-test, Holm over N = 8, 64
    for metric in ("kid", "fid"):
        diffs, pvalues = {}, {}
        for size in (8, 64):
            q = np.array([stored[("chen2025", 0, size, "baseline", s)][metric] for s in (0, 1)])
            c = np.array([stored[("chen2025-classical", 0, size, "baseline", s)][metric] for s in (0, 1)])
            diffs[size], pvalues[size] = float(np.mean(q - c)), float(stats.ttest_rel(q, c).pvalue)
        small, large = sorted(pvalues, key=pvalues.get)
        holm = {small: min(1.0, 2 * pvalues[small])}
        holm[large] = max(holm[small], min(1.0, pvalues[large]))
        for size in (8, 64):
            key = f"test-{metric}-chen2025-0-{size}"
            assert math.isclose(float(values[f"{key}-diff"]), diffs[size], rel_tol=1e-9)
            assert math.isclose(float(values[f"{key}-holm"]), holm[size], rel_tol=1e-9)
    assert values["n-hypothesis-cells"] == values["n-tested"] == "4"
    verdict = values["verdict"]
    assert verdict.startswith("'chen2025 − chen2025-classical, KID:") and f"{values['n-support']} of " in verdict
    # the ablation rows pair each strategy with its baseline at N = 64
    ablation = pd.read_csv(results / "figures" / "08_lowdata" / "lowdata-ablation.csv", dtype={"N": str})
    kid_noise = ablation[(ablation.metric == "kid") & (ablation.arm == "quantum-noise") & (ablation.variant == "chen2025")
                         & (ablation.N == "64")]
    want = np.mean([stored[("chen2025", 0, 64, "quantum-noise", s)]["kid"]
                    - stored[("chen2025", 0, 64, "baseline", s)]["kid"] for s in (0, 1)])
    assert len(kid_noise) == 1 and math.isclose(float(kid_noise.mean_diff.iloc[0]), want, rel_tol=1e-9)
    assert all(f"tab-lowdata-{t}" in values for t in ("missing", "summary", "tests", "ablation"))
    # figures saved with their provenance
    folder = results / "figures" / "08_lowdata"
    for name in ("fig-lowdata-metrics", "fig-lowdata-copy"):
        assert f"{name}-note" in values
        record = json.loads((folder / f"{name}.json").read_text())
        assert record["producer"] == "notebooks/08_lowdata.py" and record["params"]["sizes"] == "8,64"
        assert all((folder / f"{name}.{ext}").is_file() for ext in ("png", "svg", "csv"))


def test_book_profile_with_an_empty_ledger_renders_and_names_every_missing_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ledger").mkdir()
    nb, results = _run({}, tmp_path, monkeypatch, str(tmp_path / "ledger"))
    values = qnb.glued_values(nb)
    assert values["n-found"] == "0" and values["n-expected"] == "264" and values["n-cells-incomplete"] == "64"
    assert values["grid-problems"] == "'nothing'" and values["n-tested"] == "0"
    text = _markdown(nb)
    assert "64 of the 64 cells of this grid lack at least one of their runs (0 of 264 runs found)." in text
    assert "`qdm reproduce lowdata --profile book --seeds 0,1,2,3,4 --admit`" in text
    assert "There is no verdict yet" in values["verdict"]
    assert sorted(p.name for p in results.iterdir()) == ["figures"]  # nothing trained


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("profile", "huge", "^profile must be one of"),
        ("sizes", "8,10", r"^sizes must be distinct values of \[8, 16, 32, 64, 128, 512, None\]"),
        ("sizes", "8,many", "^sizes must be comma-separated image counts or 'all'"),
        ("digits", "0,12", "^digits must be distinct values of"),
        ("variants", "chen2025,quantum", "^variants must be distinct values of"),
        ("seeds", "0,-1", "^seeds must be comma-separated integers >= 0"),
        ("ablation_arms", "pink", "^ablation_arms must be distinct values of"),
        ("overrides", "train.steps", "^overrides must be ';'-separated key=value overrides"),
        ("train_missing", "yes", "^train_missing must be True or False"),
        ("workers", 0, "^workers must be an int >= 1"),
    ],
)
def test_bad_parameters_stop_the_page_naming_them(name: str, value: object, match: str) -> None:
    assert_rejects(PAGE, name, value, match=match)


def test_the_prose_states_the_code_s_hypothesis_and_the_page_is_in_the_book() -> None:
    source = PAGE.read_text()
    quote = re.search(r"# > \*\*Hypothesis\*\*[^\n]*\n((?:# > [^\n]*\n)+)", source)
    assert quote is not None
    prose = " ".join(line[4:].strip() for line in quote.group(1).splitlines())
    assert prose == ld.HYPOTHESIS + "."
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    captions = [part["caption"] for part in toc["parts"]]
    studies = toc["parts"][captions.index("Studies")]
    assert captions.index("Studies") > captions.index("Models")
    assert {"file": "notebooks/08_lowdata"} in studies["chapters"]


def test_knobs_take_papermill_numbers_and_select_part_of_the_design() -> None:
    knobs = chapter.LowDataKnobs(profile="smoke", sizes=64, digits=6, seeds=3, variants="chen2025-matched")
    assert knobs.design.sizes == (64,) and knobs.design.digits == (6,) and knobs.design.seeds == (3,)
    assert knobs.design.ablation_cells() == ()  # digit 6 has no ablation
    assert chapter.LowDataKnobs(overrides=" a=1 ; b.c=2 ;").extra == ("a=1", "b.c=2")
