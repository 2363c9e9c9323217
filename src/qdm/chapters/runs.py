"""The runs behind a chapter: served from the local results store or the committed ledger, the rest named.

A book chapter shows the runs of its job list (:mod:`qdm.chapters.jobs`) at one profile.  The book is
built from the ledger and trains nothing (``train_missing=False``): a run that is neither finished in the
local results store nor in the ledger (for the same config hash *and* the same data files) is listed as
missing, and ledger entries of the chapter's presets that the current code resolves to another hash are
listed as stale, so the page can say what it does not show and which command makes it.  With
``train_missing=True`` (the test suite at the smoke profile, or a reader re-running a chapter) the missing
runs are trained by :func:`qdm.runner.run_many`, exactly as ``qdm reproduce`` would.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qdm import ledger
from qdm.chapters.jobs import CHAPTER_JOBS, Job, chapter_jobs
from qdm.config import ExperimentConfig, config_hash
from qdm.runner import DONE_NAME, RunRecord, load_run, outcome_records, run_dir_for, run_identity, run_many
from qdm.validation import check_int

__all__ = ["ChapterRun", "ChapterRuns", "chapter_runs", "missing_note"]


@dataclass(frozen=True)
class ChapterRun:
    """One job of a chapter at one seed: its resolved config, and its finished record (None when missing)."""

    job: Job
    seed: int
    config: ExperimentConfig
    record: RunRecord | None
    source: str  # "results", "ledger", "trained" or "missing"

    @property
    def label(self) -> str:
        """The job in one line: preset, overrides and seed."""
        extra = " ".join(self.job.overrides)
        return f"{self.job.preset}{' ' + extra if extra else ''} seed={self.seed}"


@dataclass(frozen=True)
class ChapterRuns:
    """Every run of a chapter at a profile, the missing ones, and the chapter's stale ledger entries."""

    chapter: str
    profile: str
    runs: tuple[ChapterRun, ...]
    stale: tuple[tuple[ledger.LedgerEntry, str], ...]

    @property
    def found(self) -> list[ChapterRun]:
        return [r for r in self.runs if r.record is not None]

    @property
    def missing(self) -> list[ChapterRun]:
        return [r for r in self.runs if r.record is None]

    def command(self) -> str:
        """The command that makes the missing runs and admits them into the ledger."""
        seeds = ",".join(str(s) for s in sorted({r.seed for r in self.runs}))
        return f"qdm reproduce {self.chapter} --profile {self.profile} --seeds {seeds} --admit"


def _finished(cfg: ExperimentConfig, results_root: Path) -> tuple[RunRecord | None, str]:
    """A finished run of ``cfg``: the local store first, then the ledger (same data files); else (None, "missing")."""
    local = run_dir_for(cfg, results_root)
    if (local / DONE_NAME).is_file():
        return load_run(local), "results"
    entry = ledger.lookup(cfg.experiment, config_hash(cfg), run_identity(cfg)["data"])
    if entry is not None:
        return load_run(entry.path), "ledger"
    return None, "missing"


def _chapter_stale(chapter: str, profile: str) -> tuple[tuple[ledger.LedgerEntry, str], ...]:
    """Stale ledger entries (:func:`qdm.ledger.stale_entries`) of this chapter's presets at ``profile``."""
    names = {job.preset for job in CHAPTER_JOBS[chapter]}
    return tuple(
        (entry, current)
        for entry, current in ledger.stale_entries()
        if entry.made_by.get("preset") in names and entry.made_by.get("profile") == profile
    )


def chapter_runs(
    chapter: str,
    profile: str,
    seeds: Sequence[int],
    *,
    train_missing: bool = False,
    workers: int = 1,
    results_root: str | os.PathLike[str] = "results",
) -> ChapterRuns:
    """The runs of ``chapter`` (a key of :data:`qdm.chapters.jobs.CHAPTER_JOBS`) at ``profile`` for ``seeds``.

    Finished runs come from ``results_root`` or the ledger; the others are trained when ``train_missing``
    (all of them in one :func:`qdm.runner.run_many` call with ``workers`` processes), else returned as
    missing.  Configs are resolved and validated before anything is looked up or trained.
    """
    if chapter not in CHAPTER_JOBS:
        raise ValueError(f"chapter must be one of {', '.join(sorted(CHAPTER_JOBS))}, got {chapter!r}")
    if not isinstance(train_missing, bool):
        raise ValueError(f"train_missing must be True or False, got {train_missing!r}")
    check_int(workers, "workers", 1)
    jobs = chapter_jobs(chapter, profile, seeds)
    root = Path(results_root)
    found = [_finished(cfg, root) for _, _, cfg in jobs]
    if train_missing:
        todo = [i for i, (record, _) in enumerate(found) if record is None]
        if todo:
            records = outcome_records(run_many([jobs[i][2] for i in todo], workers=workers, results_root=root))
            for i, record in zip(todo, records, strict=True):
                found[i] = (record, "trained")
    runs = tuple(
        ChapterRun(job=job, seed=seed, config=cfg, record=record, source=source)
        for (job, seed, cfg), (record, source) in zip(jobs, found, strict=True)
    )
    return ChapterRuns(chapter=chapter, profile=profile, runs=runs, stale=_chapter_stale(chapter, profile))


def missing_note(runs: ChapterRuns) -> str:
    """Markdown for the page: which runs it does not show (missing, stale) and the command that makes them; "" if none."""
    lines = []
    if runs.missing:
        lines.append(
            f"{len(runs.missing)} of the {len(runs.runs)} runs of this chapter at the `{runs.profile}` profile are "
            "neither in the ledger nor in the local results store, so they are not shown:"
        )
        lines += [f"- {r.label} (config {config_hash(r.config)})" for r in runs.missing]
    if runs.stale:
        lines.append(
            f"{len(runs.stale)} ledger entries of this chapter were made by code that now resolves their preset "
            "to another config; they are stale and not shown:"
        )
        lines += [
            f"- {e.experiment}/{e.config_hash} ({e.made_by.get('preset')}@{e.made_by.get('profile')}, now {current})"
            for e, current in runs.stale
        ]
    if lines:
        lines.append(f"Make them with `{runs.command()}`.")
    return "\n".join(lines)
