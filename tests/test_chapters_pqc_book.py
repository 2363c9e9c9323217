"""Chapter 03's runs at the book profile: the frame, seed intervals, the seed-paired ablation tests and their text on
hand-made frames; on real smoke runs the frame holds each run's own metrics, the conditioned model's first samples
group by requested label, and its per-label accuracies are those of its metrics file."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from qdm.chapters import pqc_book as book
from qdm.chapters.jobs import CHAPTER_JOBS
from qdm.chapters.runs import chapter_runs
from qdm.protocols import summarize_seeds
from qdm.run_metrics import intended_labels

ABL_REAL, ABL_DDPM = (a.model for a in book.ABLATIONS)


def _frame(values: dict[str, list[tuple[float, float, float]]]) -> pd.DataFrame:
    """A run_frame-shaped frame: per model a list of (recognised, FID, SSIM), one per seed; other metrics fixed."""
    rows = []
    for model, triples in values.items():
        for seed, (rec, fid, ssim) in enumerate(triples):
            row = {"model": model, "seed": seed, "recognised": rec, "fid": fid, "ssim": ssim,
                   "recognised_as": "the requested digit"}
            for key, _, count in book.METRICS:
                row.setdefault(key, 0.5)
                row[count] = 1000.0
            row["fid_n_reference"] = 1000.0
            rows.append(row)
    return pd.DataFrame(rows)


def _row(table: pd.DataFrame, model: str, key: str) -> pd.Series:
    hit = table[(table["model"] == model) & (table["key"] == key)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_every_job_of_the_chapter_has_a_label_and_the_ablations_change_one_field() -> None:
    assert set(book.MODELS) == set(CHAPTER_JOBS["pqc"])
    with pytest.raises(ValueError, match="job must be one of chapter 'pqc'"):
        book.model_of(CHAPTER_JOBS["hybrid"][0])
    base = next(j for j, label in book.MODELS.items() if label == book.BASE)
    for ablation in book.ABLATIONS:
        job = next(j for j, label in book.MODELS.items() if label == ablation.model)
        assert job.preset == base.preset and len(job.overrides) == 1 and base.overrides == ()


def test_an_ablation_that_is_worse_at_every_seed_is_shown_worse_and_noise_is_no_difference() -> None:
    base = [(0.80, 60.0, 0.40), (0.82, 64.0, 0.42), (0.78, 58.0, 0.41), (0.81, 61.0, 0.39)]
    # real noise: recognised 0.3 lower, FID 40 higher at every seed (small spread) -> worse on both
    real = [(r - 0.3 + 0.004 * i, f + 40 + 0.5 * i, s + (0.01 if i % 2 else -0.01)) for i, (r, f, s) in enumerate(base)]
    ddpm = [(0.83, 57.0, 0.38), (0.79, 66.0, 0.43), (0.80, 59.0, 0.42), (0.80, 60.0, 0.40)]  # both signs
    table = book.ablation_table(_frame({book.BASE: base, ABL_REAL: real, ABL_DDPM: ddpm}))
    rec, fid = _row(table, ABL_REAL, "recognised"), _row(table, ABL_REAL, "fid")
    assert rec["pairs"] == 4 and rec["mean_diff"] == pytest.approx(-0.3 + 0.004 * 1.5)
    assert rec["result"] == "real worse" and fid["result"] == "real worse" and fid["ci_low"] > 0
    assert _row(table, ABL_REAL, "ssim")["result"] == "no difference shown"
    assert set(table[table["model"] == ABL_DDPM]["result"]) == {"no difference shown"}
    # Holm over the three metrics of one ablation
    block = table[table["model"] == ABL_REAL]
    ps = sorted(block["p"])
    assert sorted(block["p_holm"])[0] == pytest.approx(3 * ps[0])
    text = book.ablation_text(table)
    assert text.startswith("Real instead of complex noise (4 seed pairs)") and "real worse" in text
    assert "DDPM noising instead of the code's (4 seed pairs)" in text


def test_one_seed_pair_is_not_tested_and_the_summary_is_the_seed_interval() -> None:
    table = book.ablation_table(_frame({book.BASE: [(0.8, 60.0, 0.4)], ABL_REAL: [(0.5, 90.0, 0.4)]}))
    assert set(table[table["model"] == ABL_REAL]["result"]) == {"not tested (fewer than two seed pairs)"}
    assert book.ablation_text(table).startswith("Too few seed pairs")
    frame = _frame({book.BASE: [(0.7, 100.0, 0.1), (0.8, 120.0, 0.2), (0.9, 110.0, 0.3)]})
    summary = book.summary_table(frame)
    fid = _row(summary, book.BASE, "fid")
    expected = summarize_seeds([100.0, 120.0, 110.0])
    assert fid["seeds"] == 3 and fid["mean"] == pytest.approx(110.0) and fid["images"] == "1000"
    assert (fid["ci_low"], fid["ci_high"]) == pytest.approx((expected.ci_low, expected.ci_high))
    assert _row(summary, book.BASE, "recognised")["metric"] == "recognised by the classifier (as the requested digit)"
    published = book.published_table(frame).iloc[0]
    assert published["published FID"] == 38.2 and published["qdm FID (mean over seeds)"] == pytest.approx(110.0)
    assert published["seeds"] == 3 and published["qdm protocol"].startswith("1000 samples vs 1000")
    with pytest.raises(ValueError, match="frame must be the DataFrame of run_frame"):
        book.summary_table(pd.DataFrame({"x": [1]}))


def test_smoke_runs_give_their_own_metrics_and_a_label_grid(tmp_path: Path, data_dir: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDM_DATA_DIR", str(data_dir))
    monkeypatch.setenv("QDM_LEDGER_DIR", "none")
    jobs = [j for j, label in book.MODELS.items() if label in (book.BASE, "full quantum 16×16 (A2)")]
    runs = chapter_runs(book.CHAPTER, "smoke", [0], train_missing=True, results_root=tmp_path / "r", jobs=jobs)
    frame = book.run_frame(runs)
    assert list(frame["model"]) == [book.BASE, "full quantum 16×16 (A2)"]
    for run, row in zip(runs.found, frame.itertuples(), strict=True):
        m = run.record.metrics
        assert row.fid == m["fid"] and row.ssim == m["ssim"] and row.fid_n_reference == m["fid_n_reference"]
        assert row.recognised == m.get("classifier_accuracy", m.get("classifier_in_classes"))
    assert list(frame["recognised_as"]) == ["the requested digit", "a trained digit"]
    record = book.first_record(runs, book.BASE)
    grid = book.label_grid(record, per_label=2)
    samples = torch.load(record.run_dir / "samples.pt", weights_only=True)
    labels = intended_labels(record.config, samples.shape[0])
    assert sorted(grid) == list(range(10)) and all(x.shape == (2, 1, 28, 28) for x in grid.values())
    assert torch.equal(grid[3], samples[labels == 3][:2])
    per_label = book.per_label_frame(runs)
    assert set(per_label["model"]) == {book.BASE} and list(per_label["label"]) == list(range(10))
    assert list(per_label["accuracy"]) == record.metrics["classifier_per_label_accuracy"]
    table = book.per_label_table(per_label)
    assert (table["seeds"] == 1).all() and (table["mean"] == table["lowest"]).all()
    with pytest.raises(ValueError, match="must be a label-conditioned run"):
        book.label_grid(book.first_record(runs, "full quantum 16×16 (A2)"))
    assert math.isnan(book.published_table(frame.iloc[1:]).iloc[0]["qdm FID (mean over seeds)"])


def test_budget_points_read_the_cap_and_the_last_stage_and_say_what_more_steps_bought(tmp_path: Path) -> None:
    curve = pd.DataFrame({"steps": [1600, 6400, 25600], "score": "intended", "accuracy": [0.3, 0.65, 0.66],
                          "classifier_fid": [100.0, 60.0, 70.0], "n_samples": 200})
    curve.to_csv(tmp_path / "budget-cacioppo2023-cond-latent-paper.csv", index=False)
    curve.assign(accuracy=[0.1, 0.2, 0.6]).to_csv(tmp_path / "budget-cacioppo2025-full-paper.csv", index=False)
    frame = book.budget_frame(tmp_path)
    assert set(frame["preset"]) == {"cacioppo2023-cond-latent", "cacioppo2025-full"} and len(frame) == 6
    flat = book.budget_points(frame, "cacioppo2023-cond-latent", 6400)
    assert (flat["acc-cap"], flat["acc-last"], flat["cfid-cap"], flat["last-steps"]) == (0.65, 0.66, 60.0, 25600)
    se = math.sqrt(0.65 * 0.35 / 200 + 0.66 * 0.34 / 200)
    assert "change the recognised fraction by +0.010" in flat["reading"] and f"({se:.3f})" in flat["reading"]
    rising = book.budget_points(frame, "cacioppo2025-full", 6400)
    assert rising["reading"] == "the 19,200 steps past the cap raise the recognised fraction by 0.400"
    assert book.budget_points(frame, "koelle2024", 6400)["reading"] == "koelle2024 was not measured"
    assert book.budget_points(frame, "cacioppo2025-full", 3200)["reading"].startswith("the cap of 3200 steps is not")
    assert book.budget_frame(tmp_path / "none").empty
