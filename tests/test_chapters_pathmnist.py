"""Chapter 05 (the hybrid DDPM on PathMNIST): the frame, seed intervals, the seed-paired test of the paper's claim and
its verdict on hand-made runs; the notebook executed through papermill at the smoke profile, its glued numbers checked
against the runs' own metrics files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from _helpers import assert_rejects

from qdm import nb as qnb
from qdm.audits.chen2025 import PUBLISHED_CHEN2025
from qdm.chapters import pathmnist as chapter
from qdm.protocols import summarize_seeds

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "05_pathmnist.py"


def _frame(values: dict[str, list[tuple[float, float]]]) -> pd.DataFrame:
    """A run_frame-shaped frame: per variant a list of (FID, SSIM), one per seed; other metrics fixed."""
    rows = []
    for variant, pairs in values.items():
        for seed, (fid, ssim) in enumerate(pairs):
            row = {"variant": variant, "seed": seed, "fid": fid, "ssim": ssim, "kid": fid / 1000}
            for key, _, count in chapter.METRICS:
                row.setdefault(key, 0.5)
                row[count] = 1000.0
            rows.append(row)
    return pd.DataFrame(rows)


def _row(table: pd.DataFrame, comparison: str, metric: str) -> pd.Series:
    hit = table[(table["comparison"] == comparison) & (table["metric"] == metric)]
    assert len(hit) == 1
    return hit.iloc[0]


PUBLISHED = "chen2025 − chen2025-classical"
TRAINABLE = "chen2025-trainable − chen2025-matched"


def test_the_claim_as_the_paper_states_it_is_found_and_its_opposite_too() -> None:
    # quantum: FID 10 lower and SSIM 0.1 lower at every seed, with small seed-to-seed spread -> both as claimed
    base = [(100.0, 0.40), (110.0, 0.42), (105.0, 0.38), (98.0, 0.41)]
    quantum = [(f - 10 + 0.3 * i, s - 0.1 + 0.002 * i) for i, (f, s) in enumerate(base)]
    frame = _frame({"chen2025": quantum, "chen2025-classical": base,
                    "chen2025-trainable": [(f + 10 + 0.2 * i, s + 0.1) for i, (f, s) in enumerate(base)],
                    "chen2025-matched": base})
    table = chapter.claim_table(frame)
    fid, ssim = _row(table, PUBLISHED, "FID"), _row(table, PUBLISHED, "SSIM")
    assert fid["pairs"] == 4 and fid["mean_diff"] == pytest.approx(-10 + 0.3 * 1.5)
    assert fid["ci_high"] < 0 and fid["result"] == "as claimed"
    assert ssim["mean_diff"] == pytest.approx(-0.1 + 0.002 * 1.5) and ssim["result"] == "as claimed"
    # Holm over the two metrics: the smaller p doubled, the larger kept (or raised to the smaller adjusted one)
    ps = sorted([fid["p"], ssim["p"]])
    assert sorted([fid["p_holm"], ssim["p_holm"]]) == pytest.approx([2 * ps[0], max(2 * ps[0], ps[1])])
    # trainable: FID higher (worse) and SSIM higher (better) -> both opposite to the claim
    assert _row(table, TRAINABLE, "FID")["result"] == "opposite to the claim"
    assert _row(table, TRAINABLE, "SSIM")["result"] == "opposite to the claim"
    verdict = chapter.verdict_text(table)
    assert "2 of 2 claimed directions shown" in verdict and "0 of 2 claimed directions shown" in verdict


def test_noise_is_no_difference_and_one_seed_is_not_tested() -> None:
    base = [(100.0, 0.40), (110.0, 0.42), (105.0, 0.38)]
    noisy = [(112.0, 0.37), (99.0, 0.45), (104.0, 0.39)]  # differences of both signs
    table = chapter.claim_table(_frame({"chen2025": noisy, "chen2025-classical": base,
                                        "chen2025-trainable": noisy[:1], "chen2025-matched": base}))
    assert set(table[table["comparison"] == PUBLISHED]["result"]) == {"no difference shown"}
    one = table[table["comparison"] == TRAINABLE]
    assert set(one["result"]) == {"not tested (fewer than two seed pairs)"} and set(one["pairs"]) == {1}
    assert "not testable (1 seed pair)" in chapter.verdict_text(table)
    only_one = chapter.claim_table(_frame({v: noisy[:1] for v in ("chen2025", "chen2025-classical")}))
    assert chapter.verdict_text(only_one).startswith("Too few seed pairs")


def test_summary_is_the_seed_t_interval_with_its_image_counts() -> None:
    frame = _frame({"chen2025": [(100.0, 0.1), (120.0, 0.2), (110.0, 0.3)]})
    summary = chapter.summary_table(frame)
    fid = summary[(summary["variant"] == "chen2025") & (summary["key"] == "fid")].iloc[0]
    expected = summarize_seeds([100.0, 120.0, 110.0])
    assert fid["seeds"] == 3 and fid["mean"] == pytest.approx(110.0)
    assert (fid["ci_low"], fid["ci_high"]) == pytest.approx((expected.ci_low, expected.ci_high))
    assert fid["images"] == "1000"


def test_published_numbers_are_the_readme_values_beside_the_seed_means() -> None:
    frame = _frame({"chen2025": [(80.0, 0.1), (90.0, 0.3)], "chen2025-classical": [(100.0, 0.4)]})
    table = chapter.published_table(frame).set_index("variant")
    assert table.loc["chen2025", "published FID (5 samples)"] == PUBLISHED_CHEN2025[("chen2025", "pathmnist")][0] == 84.40
    assert table.loc["chen2025-classical", "published SSIM (5 samples)"] == 0.4107
    assert table.loc["chen2025", "qdm FID (mean over seeds)"] == pytest.approx(85.0)
    assert table.loc["chen2025", "seeds"] == 2 and table.loc["chen2025-classical", "seeds"] == 1


def test_variant_names_and_bad_knobs_are_refused_in_one_line() -> None:
    assert chapter.variant_of("chen2025-trainable-pathmnist") == "chen2025-trainable"
    for bad in ("chen2025", "hybrid-pathmnist", 3):
        with pytest.raises(ValueError, match="preset must be one of"):
            chapter.variant_of(bad)
    for bad in ("gpu", "laptop"):  # refused before any work
        with pytest.raises(ValueError, match="profile must be one of 'paper', 'book', 'cpu', 'smoke'"):
            chapter.PathChapterKnobs(profile=bad)
    with pytest.raises(ValueError, match="seeds must not repeat an item"):
        chapter.PathChapterKnobs(seeds="0,0")
    with pytest.raises(ValueError, match="train_missing must be True or False"):
        chapter.PathChapterKnobs(train_missing="perhaps")
    knobs = chapter.PathChapterKnobs(seeds="2,0", train_missing="true")
    assert knobs.seed_list == (2, 0) and knobs.train_missing is True


def test_notebook_at_the_smoke_profile(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    monkeypatch.setenv("QDM_RESULTS_DIR", str(results))
    monkeypatch.setenv("QDM_DATA_DIR", str(data_dir))
    monkeypatch.setenv("QDM_LEDGER_DIR", "none")
    params = {k: qnb.parse_parameter(v) for k, v in (("profile", "smoke"), ("seeds", "0,1"), ("train_missing", "true"))}
    executed = qnb.run(NOTEBOOK, tmp_path / "05.ipynb", params)
    assert not any(o.get("output_type") == "error" for c in executed.cells for o in c.get("outputs", []))
    values = qnb.glued_values(executed)
    assert values["run-sources"] == "'8 of 8 runs: 8 trained by this page'"
    assert values["class"] == "1" and float(values["class-train"]) == 119  # the subset's class-1 training images
    runs = pd.read_csv(results / "figures" / "05_pathmnist" / "runs.csv")
    assert len(runs) == 8 and set(runs["variant"]) == {"chen2025", "chen2025-classical", "chen2025-matched",
                                                       "chen2025-trainable"}
    # the frame holds each run's own metrics.json values
    for row in runs.itertuples():
        stored = json.loads((results / f"{row.variant}-pathmnist" / row.run / "metrics.json").read_text())
        assert row.fid == pytest.approx(stored["fid"], rel=1e-12) and row.ssim == pytest.approx(stored["ssim"], rel=1e-12)
        assert row.fid_n_reference == stored["fid_n_reference"]
    claim = pd.read_csv(results / "figures" / "05_pathmnist" / "claim.csv")
    fid = claim[(claim["comparison"] == PUBLISHED) & (claim["metric"] == "FID")].iloc[0]
    q = runs[runs["variant"] == "chen2025"].set_index("seed")["fid"]
    c = runs[runs["variant"] == "chen2025-classical"].set_index("seed")["fid"]
    assert fid["pairs"] == 2 and fid["mean_diff"] == pytest.approx(float((q - c).mean()), rel=1e-12)
    assert values["verdict"].strip("'").startswith(PUBLISHED)
    folder = results / "figures" / "05_pathmnist"
    for name in ("fig-path-points", "fig-path-samples"):
        assert name in values and f"{name}-note" in values
        rec = json.loads((folder / f"{name}.json").read_text())
        assert rec["producer"] == "notebooks/05_pathmnist.py" and rec["params"]["profile"] == "smoke"
        assert rec["data"][0]["name"].startswith("pathmnist")
        for ext in ("png", "svg", "csv"):
            assert (folder / f"{name}.{ext}").is_file()
    assert not math.isnan(float(values["classifier-accuracy"]))
    # the sample grid's data are the runs it shows: each variant's lowest seed
    shown = pd.read_csv(folder / "fig-path-samples.csv")
    assert sorted(shown["variant"]) == sorted(runs["variant"].unique()) and set(shown["seed"]) == {0}


def test_notebook_refuses_a_bad_parameter_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDM_RESULTS_DIR", str(tmp_path / "results"))
    with pytest.raises(qnb.NotebookError, match=r"ValueError: profile must be one of .*got 'gpu'$") as info:
        qnb.run(NOTEBOOK, tmp_path / "bad.ipynb", {"profile": "gpu"})
    assert "\n" not in str(info.value)
    assert not (tmp_path / "results").exists() and not (tmp_path / "bad.ipynb").exists()
    assert_rejects(NOTEBOOK, "seeds", "0,a")
    assert_rejects(NOTEBOOK, "train_missing", "perhaps")
