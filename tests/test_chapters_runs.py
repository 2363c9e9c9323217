"""A chapter's runs: served from the ledger or the local store, the missing and stale ones named (not shown,
not trained) for the book build, and trained on request for the test suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qdm import ledger
from qdm.chapters import jobs
from qdm.chapters.runs import chapter_runs, missing_note
from qdm.config import config_hash
from qdm.presets import get_preset

REPO_LEDGER = Path(__file__).resolve().parents[1] / "ledger"


def test_ledger_entries_are_served_and_the_rest_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDM_LEDGER_DIR", str(REPO_LEDGER))
    runs = chapter_runs("pqc", "smoke", [0], results_root=tmp_path / "results")
    by_preset = {r.job.preset: r for r in runs.runs}
    assert by_preset["koelle2024"].source == "ledger" and by_preset["koelle2024"].record is not None
    assert by_preset["koelle2024"].record.metrics == json.loads(
        (REPO_LEDGER / "koelle2024" / config_hash(get_preset("koelle2024", "smoke")) / "metrics.json").read_text()
    )
    missing = {r.job.preset for r in runs.missing}
    assert missing == {"cacioppo2023-cond-latent", "cacioppo2025-full"}
    note = missing_note(runs)
    n_jobs = len(runs.runs)  # the five jobs of chapter 03, one seed each; only koelle2024@smoke is in the ledger
    assert n_jobs == 5 and f"{n_jobs - 1} of the {n_jobs} runs" in note and "cacioppo2025-full seed=0" in note
    assert "qdm reproduce pqc --profile smoke --seeds 0 --admit" in note
    assert not (tmp_path / "results").exists()  # nothing was trained or written


def test_stale_entries_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ledger" / "koelle2024" / "0123456789ab"
    path.mkdir(parents=True)
    (path / ledger.LEDGER_RECORD).write_text(json.dumps({"preset": "koelle2024", "profile": "smoke"}))
    (path / "DONE").write_text("x\n")
    monkeypatch.setenv("QDM_LEDGER_DIR", str(tmp_path / "ledger"))
    runs = chapter_runs("pqc", "smoke", [0], results_root=tmp_path / "results")
    assert [e.config_hash for e, _ in runs.stale] == ["0123456789ab"]
    assert len(runs.missing) == len(runs.runs) == 5
    assert "stale" in missing_note(runs) and "koelle2024/0123456789ab" in missing_note(runs)
    # the same entry at another profile is not this chapter-profile's business
    assert chapter_runs("pqc", "cpu", [0], results_root=tmp_path / "results").stale == ()


def test_missing_runs_are_trained_on_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDM_LEDGER_DIR", "none")
    monkeypatch.setitem(jobs.CHAPTER_JOBS, "tiny", (jobs.Job("koelle2024"),))  # one cheap job
    runs = chapter_runs("tiny", "smoke", [0], train_missing=True, results_root=tmp_path / "results")
    assert {r.source for r in runs.runs} == {"trained"} and missing_note(runs) == ""
    again = chapter_runs("tiny", "smoke", [0], results_root=tmp_path / "results")
    assert {r.source for r in again.runs} == {"results"}
    assert [r.record.metrics for r in again.runs] == [r.record.metrics for r in runs.runs]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"chapter": "nope"}, "chapter must be one of"),
        ({"train_missing": "yes"}, "train_missing must be True or False"),
        ({"workers": 0}, "workers"),
    ],
)
def test_bad_arguments_are_refused_before_work(kwargs, match, tmp_path: Path) -> None:
    args = {"chapter": "pqc", "profile": "smoke", "seeds": [0], "results_root": tmp_path / "r"} | kwargs
    with pytest.raises(ValueError, match=match):
        chapter_runs(**args)
    assert not (tmp_path / "r").exists()


def test_a_local_run_made_from_other_data_is_refused_not_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read-only view keeps the store's rule: a finished run is shown only for the data it was made from."""
    from qdm.runner import RunStoreError, run_dir_for

    monkeypatch.setenv("QDM_LEDGER_DIR", "none")
    monkeypatch.setitem(jobs.CHAPTER_JOBS, "tiny", (jobs.Job("koelle2024"),))
    made = chapter_runs("tiny", "smoke", [0], train_missing=True, results_root=tmp_path / "results")
    identity = run_dir_for(made.runs[0].config, tmp_path / "results") / "identity.json"
    stored = json.loads(identity.read_text())
    stored["data"] = {split: {**v, "md5": "0" * 32} for split, v in stored["data"].items()}
    identity.write_text(json.dumps(stored))
    with pytest.raises(RunStoreError, match="was made from data"):
        chapter_runs("tiny", "smoke", [0], results_root=tmp_path / "results")
