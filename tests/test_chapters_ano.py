"""Chapter 06 (the QAMP 2025 ANO hybrid): frames, seed intervals, paired differences and verdicts on hand-made runs;
the notebook executed through papermill at the smoke profile, its glued numbers checked against the runs' metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import torch
from _helpers import assert_rejects

from qdm import nb as qnb
from qdm.chapters import ano as chapter
from qdm.chapters.runs import chapter_runs
from qdm.config import config_hash
from qdm.protocols import summarize_seeds
from qdm.runner import RunRecord

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "06_ano_hybrid.py"


def _metrics(fid: float, published: float, accuracy: float, per_label: list[float] | None = None) -> dict:
    """A run's metrics.json as the runner writes it for a 10-digit ANO run (the keys the chapter reads)."""
    per_label = per_label if per_label is not None else [accuracy] * 10
    return {
        "fid": fid, "fid_n_generated": 1000, "fid_n_reference": 1000, "kid": fid / 1000, "kid_se": 0.001,
        "kid_n_generated": 1000, "kid_n_reference": 1000, "published_fid": published, "published_kid": published / 1000,
        "published_kid_se": 0.002, "published_n_samples": 256.0, "published_n_reference": 256.0,
        "classifier_accuracy": accuracy, "classifier_n_generated": 1000, "classifier_labels": list(range(10)),
        "classifier_per_label_accuracy": per_label, "classifier_per_label_n": [100] * 10,
    }


def _record(variant: str, seed: int, metrics: dict, tmp_path: Path) -> RunRecord:
    cfg = chapter.variant_configs("smoke", seed)[variant]
    return RunRecord(run_dir=tmp_path, config=cfg, config_hash=config_hash(cfg), metrics=metrics,
                     timing={"train_total_wall_s": 1.5}, losses=(0.5,), reused=False)


def _runs(fids: dict[str, list[float]], tmp_path: Path, accuracy: dict[str, list[float]] | None = None) -> list[RunRecord]:
    """One record per variant and seed: FID as given (published FID = FID + 100), accuracy as given or 0.5."""
    out = []
    for variant, values in fids.items():
        for seed, fid in enumerate(values):
            acc = accuracy[variant][seed] if accuracy else 0.5
            out.append(_record(variant, seed, _metrics(fid, fid + 100.0, acc), tmp_path))
    return out


# ----------------------------------------------------------------------------------------- frames


def test_run_frame_copies_both_protocols_and_the_per_digit_accuracy(tmp_path: Path) -> None:
    per_label = [0.1 * d for d in range(10)]
    records = [
        _record("zeros", 1, _metrics(300.0, 350.0, 0.11), tmp_path),
        _record("as coded", 1, _metrics(200.0, 250.0, 0.45, per_label), tmp_path),
        _record("as coded", 0, _metrics(210.0, 260.0, 0.40), tmp_path),
    ]
    frame = chapter.run_frame(records)
    assert list(zip(frame["variant"], frame["seed"])) == [("as coded", 0), ("as coded", 1), ("zeros", 1)]  # table order
    row = frame.iloc[1]
    assert row["fid"] == 200.0 and row["published_fid"] == 250.0 and row["published_n_samples"] == 256
    assert row["classifier_accuracy"] == 0.45 and row["classifier n"] == 1000
    assert [row[f"digit {d}"] for d in range(10)] == per_label
    assert row["run"] == records[1].config_hash and row["train steps"] == records[1].config.train.steps
    long = chapter.per_label_frame(frame)
    assert len(long) == 30 and long[(long["seed"] == 1) & (long["variant"] == "as coded")]["accuracy"].tolist() == per_label


def test_a_run_without_per_digit_keys_is_refused_naming_it(tmp_path: Path) -> None:
    """Every ANO run the runner makes is scored per digit; one that is not (old code) is named, not shown or guessed."""
    bare = {k: v for k, v in _metrics(300.0, 350.0, 0.2).items() if not k.startswith("classifier")}
    records = [_record("classical", 0, bare, tmp_path), _record("as coded", 0, _metrics(1.0, 2.0, 0.9), tmp_path)]
    with pytest.raises(ValueError, match=f"run {records[0].config_hash} lacks the per-digit classifier scores"):
        chapter.run_frame(records)
    assert len(chapter.run_frame(records[1:])) == 1


def test_summary_is_the_seed_t_interval_with_the_image_counts(tmp_path: Path) -> None:
    frame = chapter.run_frame(_runs({"as coded": [200.0, 210.0, 230.0], "zeros": [250.0]}, tmp_path))
    summary = chapter.variant_summary(frame).set_index(["variant", "metric"])
    expected = summarize_seeds([200.0, 210.0, 230.0], chapter.CONFIDENCE)
    row = summary.loc[("as coded", "fid")]
    assert row["n_seeds"] == 3 and row["mean"] == pytest.approx(expected.mean)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((expected.ci_low, expected.ci_high))
    assert row["n_generated"] == "1000" and row["n_reference"] == "1000"
    assert summary.loc[("as coded", "published_fid"), "n_generated"] == "256"
    one = summary.loc[("zeros", "fid")]
    assert one["n_seeds"] == 1 and one["mean"] == 250.0 and math.isnan(one["ci_low"])
    table = chapter.comparison_table(chapter.variant_summary(frame)).set_index("variant")
    assert table.loc["as coded", "FID (qdm protocol)"] == f"213.3 [{expected.ci_low:.1f}, {expected.ci_high:.1f}]"
    assert table.loc["zeros", "FID (qdm protocol)"] == "250.0" and table.loc["zeros", "seeds"] == 1
    assert table.loc["as coded", "images, FID (the project's protocol)"] == "256 vs 256"


def test_differences_are_paired_by_seed(tmp_path: Path) -> None:
    records = _runs({"as coded": [200.0, 210.0, 230.0], "zeros": [205.0, 240.0, 231.0]}, tmp_path)
    records += [_record("classical", 2, _metrics(100.0, 100.0, 0.5), tmp_path),
                _record("classical", 5, _metrics(100.0, 100.0, 0.5), tmp_path)]  # seed 5 has no partner
    diffs = chapter.paired_differences(chapter.run_frame(records[::-1])).set_index(["variant", "metric"])
    zeros = diffs.loc[("zeros", "fid")]
    expected = summarize_seeds([5.0, 30.0, 1.0], chapter.CONFIDENCE)
    assert zeros["n_pairs"] == 3 and zeros["seeds"] == "0,1,2"
    assert zeros["difference"] == pytest.approx(expected.mean) and zeros["ci_high"] == pytest.approx(expected.ci_high)
    classical = diffs.loc[("classical", "fid")]
    assert classical["n_pairs"] == 1 and classical["difference"] == -130.0 and math.isnan(classical["ci_low"])
    assert ("as coded", "fid") not in diffs.index


# ----------------------------------------------------------------------------------------- verdicts


def _verdicts(fids: dict[str, list[float]], tmp_path: Path, accuracy=None) -> tuple[dict, str]:
    diffs = chapter.paired_differences(chapter.run_frame(_runs(fids, tmp_path, accuracy)))
    sentences = {(r["variant"], r["metric"]): chapter.difference_verdict(r) for _, r in diffs.iterrows()}
    return sentences, chapter.contribution_verdict(diffs)


def test_verdict_follows_the_interval_and_flips_with_the_numbers(tmp_path: Path) -> None:
    coded = [200.0, 210.0, 230.0]
    worse, overall = _verdicts({"as coded": coded, "zeros": [v + 50 for v in coded], "classical": [v + 48 for v in coded]},
                               tmp_path)
    assert worse[("zeros", "fid")].startswith("FID (qdm protocol), lower is better: the zeroed features are worse than "
                                              "the circuit's (difference +50")
    assert "over 3 seeds" in worse[("zeros", "fid")]
    assert "measurably worse on FID (qdm protocol) and FID (the project's protocol)" in overall
    assert "does not match the circuit on" in overall  # the classical block is worse too
    better, overall = _verdicts({"as coded": coded, "zeros": [v - 50 for v in coded]}, tmp_path)
    assert "the zeroed features are better than the circuit's (difference -50" in better[("zeros", "fid")]
    assert "measurably better on FID (qdm protocol)" in overall and "worse" not in overall
    same, overall = _verdicts({"as coded": coded, "zeros": [205.0, 200.0, 236.0]}, tmp_path)
    assert "the zeroed features are indistinguishable from the circuit's" in same[("zeros", "fid")]
    assert "no difference the seeds can detect on FID (qdm protocol)" in overall
    assert "the circuit's contribution is not detectable" in overall


def test_verdict_reads_accuracy_the_other_way_round(tmp_path: Path) -> None:
    coded = [200.0, 210.0, 230.0]
    acc = {"as coded": [0.6, 0.62, 0.65], "zeros": [0.1, 0.11, 0.1]}
    sentences, overall = _verdicts({"as coded": coded, "zeros": [205.0, 200.0, 236.0]}, tmp_path, acc)
    assert sentences[("zeros", "classifier_accuracy")].startswith(
        "Classifier accuracy, higher is better: the zeroed features are worse than the circuit's")
    assert "measurably worse on classifier accuracy" in overall
    assert "Whether a classical block of the same size would do as well is not decided" in overall


def test_one_seed_makes_no_claim(tmp_path: Path) -> None:
    sentences, overall = _verdicts({"as coded": [200.0], "zeros": [400.0], "no Hadamard test": [100.0]}, tmp_path)
    assert "one seed: no claim for the zeroed features" in sentences[("zeros", "fid")]
    assert "one seed: no claim for the model without the Hadamard-test block" in sentences[("no Hadamard test", "fid")]
    assert overall.startswith("With one seed") and "no claim" in overall
    _, nothing = _verdicts({"as coded": [200.0], "classical": [210.0]}, tmp_path)
    assert nothing.startswith("No run of the zeroed features is paired")


# ----------------------------------------------------------------------------------------- the rest


def test_report_statements_stand_beside_the_re_measured_values(tmp_path: Path) -> None:
    frame = chapter.run_frame(_runs({"as coded": [200.0, 210.0], "zeros": [300.0, 320.0]}, tmp_path))
    configs = chapter.variant_configs("smoke", 0)
    table = chapter.report_beside_table(frame, configs)
    cited = table[table["source"].str.startswith("jo2026ano")]
    assert len(cited) == len(chapter.REPORT_STATEMENTS) + 1
    assert '"an FID of approximately 150"' in cited["statement"].tolist() and "110-160" in cited["FID"].tolist()
    assert "115-175 (last 153)" in cited["FID"].tolist()
    mine = table.set_index("source").loc["re-measured here (as coded)"]
    s = summarize_seeds([300.0, 310.0], chapter.CONFIDENCE)
    assert mine["FID"] == f"305.0 [{s.ci_low:.1f}, {s.ci_high:.1f}]" and "2 seed(s), 256 label-0 samples" in mine["statement"]
    assert f"{chapter.project_epochs(configs['as coded']):.2f} project epochs" in mine["statement"]
    assert chapter.project_epochs(chapter.variant_configs("paper", 0)["as coded"]) == 100.0


def test_samples_are_arranged_by_digit() -> None:
    samples = torch.arange(25, dtype=torch.float32).view(25, 1, 1, 1).expand(25, 1, 2, 2)
    rows = chapter.digit_rows(samples, list(range(10)))
    assert list(rows) == ["draw 1", "draw 2"]  # only complete rows: 25 samples hold two of every digit
    assert rows["draw 2"][:, 0, 0, 0].tolist() == list(range(10, 20))
    two = chapter.digit_rows(samples[:5], [3, 5])
    assert [r[:, 0, 0, 0].tolist() for r in two.values()] == [[0, 1], [2, 3]]
    assert len(chapter.digit_rows(samples, list(range(10)), max_rows=1)) == 1
    with pytest.raises(ValueError, match="classes must be distinct"):
        chapter.digit_rows(samples, [1, 1])


def test_parameter_table_matches_the_models() -> None:
    table = chapter.parameter_table(chapter.variant_configs("smoke", 0)).set_index("part")
    assert table.loc["total", "as coded"] == table.loc["total", "classical"] == 861_104
    assert table.loc["quantum", "as coded"] == 56_192 and table.loc["quantum", "zeros"] == 0
    assert table.loc["total", "zeros"] == table.loc["dec1", "zeros"] + table.loc["dec2", "zeros"]
    assert list(table.index[:3]) == ["enc1", "enc2", "norm"]


def test_missing_runs_become_a_warning_admonition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDM_LEDGER_DIR", "none")
    runs = chapter_runs("ano", "smoke", [0, 1], results_root=tmp_path / "results")
    text = chapter.missing_admonition(runs)
    assert text.startswith(":::{admonition} Runs not shown\n:class: warning\n") and text.rstrip().endswith(":::")
    assert "8 of the 8 runs" in text and "qdm reproduce ano --profile smoke --seeds 0,1 --admit" in text
    assert chapter.source_text(runs) == "0 of 8 runs: 8 missing"
    assert not (tmp_path / "results").exists()  # nothing trained


@pytest.mark.parametrize(
    ("name", "value"),
    [("profile", "gpu"), ("seeds", "0,x"), ("seeds", -1), ("seeds", "1,1"), ("train_missing", "maybe"), ("workers", 0),
     ("check_seed", -3), ("results_dir", None)],
)
def test_knobs_refuse_bad_values_naming_the_parameter(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must"):
        chapter.AnoChapterKnobs(**{name: value})


def test_knobs_take_papermills_values() -> None:
    knobs = chapter.AnoChapterKnobs(profile="smoke", seeds=0, train_missing="true")
    assert knobs.seed_list == (0,) and knobs.train_missing is True and knobs.as_dict()["seeds"] == "0"
    assert chapter.AnoChapterKnobs(seeds=" 2, 0 ").seed_list == (2, 0)
    assert chapter.from_namespace({"profile": "cpu", "seeds": "1", "train_missing": False, "workers": 2,
                                   "results_dir": "", "check_seed": 0}).profile == "cpu"
    with pytest.raises(ValueError, match="must define"):
        chapter.from_namespace({"profile": "cpu"})


# ----------------------------------------------------------------------------------------- the notebook


def _metrics_by_variant(results: Path) -> dict[str, dict]:
    """Each finished run's metrics.json under results/jo2025-ano, by the chapter's variant name."""
    from qdm.runner import load_run

    out = {}
    for path in sorted((results / "jo2025-ano").iterdir()):
        if (path / "metrics.json").is_file():
            record = load_run(path)
            out[chapter.variant_of(record.config)] = json.loads((path / "metrics.json").read_text())
    return out


def test_notebook_at_the_smoke_profile(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    monkeypatch.setenv("QDM_RESULTS_DIR", str(results))
    monkeypatch.setenv("QDM_DATA_DIR", str(data_dir))
    monkeypatch.setenv("QDM_LEDGER_DIR", "none")
    # exactly what `-p profile smoke -p seeds 0 -p train_missing true` passes
    params = {k: qnb.parse_parameter(v) for k, v in (("profile", "smoke"), ("seeds", "0"), ("train_missing", "true"))}
    executed = qnb.run(NOTEBOOK, tmp_path / "06.ipynb", params)
    assert not any(o.get("output_type") == "error" for c in executed.cells for o in c.get("outputs", []))
    values = qnb.glued_values(executed)
    num = lambda key: float(values[key])  # noqa: E731
    # the runs: four variants at seed 0, trained by the page, scored per digit by the runner
    assert num("n-runs") == num("n-found") == 4 and num("n-missing") == 0
    assert values["run-sources"] == "'4 of 4 runs: 4 trained by this page'"
    stored = _metrics_by_variant(results)
    assert set(stored) == set(chapter.VARIANTS)
    for variant, slug in chapter.VARIANT_SLUGS.items():
        m = stored[variant]
        assert num(f"{slug}-fid-mean") == pytest.approx(m["fid"], rel=1e-12)
        assert num(f"{slug}-published_fid-mean") == pytest.approx(m["published_fid"], rel=1e-12)
        assert num(f"{slug}-classifier_accuracy-mean") == pytest.approx(m["classifier_accuracy"], rel=1e-12)
        assert values[f"{slug}-published_fid-images"] == "'4 vs 4'" and num(f"{slug}-fid-seeds") == 1
    runs_csv = pd.read_csv(results / "figures" / "06_ano_hybrid" / "runs.csv")
    assert len(runs_csv) == 4 and runs_csv["classifier n"].notna().all()
    assert values["verdict-quantum"].startswith("'With one seed")
    assert "one seed: no claim" in values["verdict-zeros-fid"]
    # the circuit checks: identities at rounding level, controls clearly non-zero
    assert num("ht-state-dev") < 1e-12 and num("ht-anc-err") < 1e-12 and num("ht-half-dev") > 0.1
    assert num("reach-ano") < 1e-12 and num("reach-anc") > 1e-3 and num("reach-outer") > 1e-3
    assert num("grad-anti") == 0.0 and num("grad-herm") > 0 and num("drift-anti") < 1e-15 and num("drift-herm") > 1e-3
    assert num("table-same") == 0.0 and num("table-other") > 0 and num("spread-zeros") == 0.0 and num("spread-coded") > 0
    assert num("params-total") == num("params-classical") == 861_104 and num("params-quantum") == 56_192
    folder = results / "figures" / "06_ano_hybrid"
    for name in ("fig-ano-report", "fig-ano-per-label", *(f"fig-ano-samples-{s}" for s in chapter.VARIANT_SLUGS.values())):
        assert name in values and f"{name}-note" in values, name
        rec = json.loads((folder / f"{name}.json").read_text())
        assert rec["producer"] == "notebooks/06_ano_hybrid.py" and rec["params"]["profile"] == "smoke"
        assert rec["params"]["train_missing"] is True and rec["params"]["seeds"] == "0"
        for ext in ("png", "svg", "csv"):
            assert (folder / f"{name}.{ext}").is_file(), f"{name}.{ext}"
    note = nbformat.read(tmp_path / "06.ipynb", as_version=4)
    assert any("missing-note" in json.dumps(c.get("outputs", [])) for c in note.cells)


def test_notebook_refuses_a_bad_parameter_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDM_RESULTS_DIR", str(tmp_path / "results"))
    with pytest.raises(qnb.NotebookError, match=r"ValueError: profile must be one of 'paper', .*got 'gpu'$") as info:
        qnb.run(NOTEBOOK, tmp_path / "bad.ipynb", {"profile": "gpu"})
    assert "\n" not in str(info.value)
    assert not (tmp_path / "results").exists() and not (tmp_path / "bad.ipynb").exists()
    assert_rejects(NOTEBOOK, "seeds", "0,a")
    assert_rejects(NOTEBOOK, "train_missing", "perhaps")
