"""The low-data chapter's jobs (qdm.chapters.jobs): its grid resolved at a profile, each job with its own seed count and
the subset seed of its run; ``qdm reproduce lowdata`` lists them, ``--set`` adds overrides that the ledger records;
qdm.chapters.runs serves part of a chapter and still answers when the profile does not resolve."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from qdm import ledger
from qdm.audits.lowdata import DESIGN, cell_of
from qdm.chapters import jobs
from qdm.chapters.runs import chapter_runs, missing_note
from qdm.cli import main
from qdm.config import config_hash, to_dict
from qdm.families.hybrid import HYBRID_PROFILES
from qdm.presets import CHEN2025_VARIANTS

SEEDS = [0, 1, 2, 3, 4]


@pytest.fixture(scope="module")
def smoke_jobs() -> list:
    return jobs.chapter_jobs("lowdata", "smoke", SEEDS)


def test_the_grid_resolves_with_its_seeds_nested_draws_and_one_budget(smoke_jobs: list) -> None:
    assert len(smoke_jobs) == DESIGN.n_runs() == jobs.n_runs("lowdata", SEEDS) == 264
    assert len({config_hash(cfg) for _, _, cfg in smoke_jobs}) == 264  # every run its own config
    cells: dict = {}
    for job, seed, cfg in smoke_jobs:
        cell, cfg_seed = cell_of(cfg)
        assert cfg_seed == seed == cfg.data.subset_seed and cfg.data.subset_draw == "nested"
        assert job.preset == cell.variant in CHEN2025_VARIANTS and cfg.preset == f"{cell.variant}@smoke"
        cells.setdefault(cell, []).append(seed)
    assert set(cells) == set(DESIGN.cells())
    assert all(seeds == list(DESIGN.seeds_for(c.size)) for c, seeds in cells.items())
    # the same optimisation for every N (the smoke profile's): only the data (and the seed) change
    budgets = {json.dumps({k: v for k, v in to_dict(cfg)["train"].items() if k != "seed"}) for _, _, cfg in smoke_jobs}
    assert len(budgets) == 1 and json.loads(budgets.pop())["steps"] == 30
    assert {cfg.data.images_per_class for _, _, cfg in smoke_jobs} == set(DESIGN.sizes)  # the profile's cap of 64 lifted
    arms = {(cfg.model.noise, cfg.model.schedule) for _, _, cfg in smoke_jobs}
    assert arms == {("gaussian", "cosine"), ("quantum", "cosine"), ("gaussian", "tailored")}


def test_fewer_seeds_are_shared_by_every_cell_and_jobs_fill_in_their_seed() -> None:
    two = jobs.chapter_jobs("lowdata", "smoke", [3, 7])
    assert len(two) == 2 * len(DESIGN.cells()) and {s for _, s, _ in two} == {3, 7}
    job = jobs.CHAPTER_JOBS["lowdata"][0]
    assert job.n_seeds == 5 and "data.subset_seed={seed}" in job.overrides
    assert "data.subset_seed=7" in job.overrides_for(7) and job.seeds_from([9, 8, 7, 6, 5, 4]) == (9, 8, 7, 6, 5)
    with pytest.raises(ValueError, match="Job.n_seeds must be None"):
        jobs.Job("chen2025", n_seeds=0)


def test_reproduce_lists_the_grid_and_set_reaches_every_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["reproduce", "lowdata", "--profile", "smoke", "--seeds", "0-4", "--list",
                 "--results", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 264
    assert "chen2025 data.classes=0 data.images_per_class=8 data.subset_draw=nested data.subset_seed=3 seed=3 ->" in lines[3]
    assert main(["reproduce", "lowdata", "--profile", "smoke", "--seeds", "0", "--set", "train.steps=2", "--list",
                 "--results", str(tmp_path)]) == 0
    tiny = capsys.readouterr().out.splitlines()
    assert len(tiny) == len(DESIGN.cells()) and all("train.steps=2 seed=0 ->" in line for line in tiny)
    assert main(["reproduce", "pqc", "--profile", "smoke", "--seeds", "0", "--list", "--results", str(tmp_path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(jobs.CHAPTER_JOBS["pqc"])


def test_what_reproduce_records_resolves_to_the_same_config(tmp_path: Path) -> None:
    """The made_by record of an admitted low-data run (seed filled in, --set kept) is not stale."""
    job, seed, cfg = jobs.chapter_jobs("lowdata", "smoke", [4], ["train.steps=2"])[0]
    path = tmp_path / "ledger" / cfg.experiment / config_hash(cfg)
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(to_dict(cfg)))
    made_by = {"preset": job.preset, "profile": "smoke", "overrides": [*job.overrides_for(seed), "train.steps=2",
                                                                       f"train.seed={seed}"]}
    (path / ledger.LEDGER_RECORD).write_text(json.dumps(made_by))
    (path / "DONE").write_text("x\n")
    assert ledger.stale_entries(tmp_path / "ledger") == []
    (path / ledger.LEDGER_RECORD).write_text(json.dumps({**made_by, "overrides": [*job.overrides, "train.steps=2"]}))
    with pytest.raises(ValueError, match="data.subset_seed must be an int, got '{seed}'"):  # why the seed is filled in
        ledger.stale_entries(tmp_path / "ledger")


def test_chapter_runs_serves_part_of_a_chapter_and_answers_for_an_unresolved_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QDM_LEDGER_DIR", str(tmp_path / "empty-ledger"))
    part = jobs.lowdata_jobs(DESIGN.restrict(sizes=[8], digits=[0], variants=["chen2025"]))
    runs = chapter_runs("lowdata", "smoke", [0, 1], jobs=part, extra=["train.steps=2"], results_root=tmp_path / "r")
    assert len(runs.runs) == 2 and len(runs.missing) == 2 and runs.expected == 2
    assert all(r.config.train.steps == 2 for r in runs.runs)
    note = missing_note(runs, limit=1)
    assert "2 of the 2 runs" in note and "data.subset_seed=0 seed=0" in note and "- and 1 more" in note
    assert "qdm reproduce lowdata --profile smoke --seeds 0,1 --set train.steps=2 --admit" in note
    assert len(chapter_runs("lowdata", "book", SEEDS, results_root=tmp_path / "r").missing) == 264  # book resolves
    monkeypatch.delitem(HYBRID_PROFILES, "book")  # as before the hybrid family had a book profile
    book = chapter_runs("lowdata", "book", SEEDS, allow_unresolved=True, results_root=tmp_path / "r")
    assert book.runs == () and book.expected == 264 and "profile must be one of cpu, smoke" in book.unresolved
    note = missing_note(book)
    assert "None of the 264 runs" in note and "qdm reproduce lowdata --profile book --seeds 0,1,2,3,4 --admit" in note
    with pytest.raises(ValueError, match="profile must be one of cpu, smoke"):
        chapter_runs("lowdata", "book", SEEDS, results_root=tmp_path / "r")
    with pytest.raises(ValueError, match="jobs must be jobs of the chapter 'lowdata'"):
        chapter_runs("lowdata", "smoke", [0], jobs=[dataclasses.replace(part[0], n_seeds=2)])
    assert not (tmp_path / "r").exists()  # nothing trained or written


def test_the_reproducibility_page_counts_the_low_data_runs_by_their_own_seeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qdm.chapters import reproducibility as rep

    (tmp_path / "ledger").mkdir()
    monkeypatch.delitem(HYBRID_PROFILES, "book")  # a profile the presets lack
    costs = rep.chapter_costs(tmp_path / "ledger", ["smoke", "book"], SEEDS, ["lowdata", "pqc"]).set_index(["chapter", "profile"])
    assert costs.loc[("lowdata", "smoke"), "runs"] == 264 and costs.loc[("lowdata", "smoke"), "not_measured"] == 264
    assert costs.loc[("lowdata", "book"), "runs"] == 264 and "does not resolve" in costs.loc[("lowdata", "book"), "note"]
    assert costs.loc[("pqc", "smoke"), "runs"] == 5 * len(jobs.CHAPTER_JOBS["pqc"])
