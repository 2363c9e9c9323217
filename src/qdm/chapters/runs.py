"""The runs behind a chapter: served from the local results store or the committed ledger, the rest named.

A book chapter shows the runs of its job list (:mod:`qdm.chapters.jobs`) at one profile.  The book is
built from the ledger and trains nothing (``train_missing=False``): a run that is neither finished in the
local results store nor in the ledger (for the same config hash *and* the same data files) is listed as
missing, and ledger entries of the chapter's presets that the current code resolves to another hash are
listed as stale, so the page can say what it does not show and which command makes it.  With
``train_missing=True`` (the test suite at the smoke profile, or a reader re-running a chapter) the missing
runs are trained by :func:`qdm.runner.run_many`, exactly as ``qdm reproduce`` would.

A chapter may show part of its job list (``jobs=``, each one of the chapter's, so the command that makes the
chapter makes them too), add overrides to every run (``extra=``, the command's ``--set``), and, with
``allow_unresolved=True``, still render when its presets do not define the profile: every run is then missing and
:func:`missing_note` says why.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qdm import ledger
from qdm.chapters.jobs import CHAPTER_JOBS, Job, resolve_jobs, select_jobs
from qdm.config import ExperimentConfig, config_hash
from qdm.runner import RunRecord, finished_run, outcome_records, run_many
from qdm.validation import check_int

__all__ = ["ChapterRun", "ChapterRuns", "chapter_runs", "missing_admonition", "missing_note", "source_text"]


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
        """The job in one line: preset, overrides (with the seed filled in) and seed."""
        extra = " ".join(self.job.overrides_for(self.seed))
        return f"{self.job.preset}{' ' + extra if extra else ''} seed={self.seed}"


@dataclass(frozen=True)
class ChapterRuns:
    """Every run of a chapter at a profile, the missing ones, and the chapter's stale ledger entries.

    ``seeds`` and ``extra``: what the runs were asked for with (the command repeats them); ``unresolved``: why the
    jobs do not resolve at this profile ("" when they do; then ``runs`` is empty and ``expected`` counts them).
    """

    chapter: str
    profile: str
    runs: tuple[ChapterRun, ...]
    stale: tuple[tuple[ledger.LedgerEntry, str], ...]
    seeds: tuple[int, ...] = ()
    extra: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    unresolved: str = ""
    expected: int = 0

    @property
    def found(self) -> list[ChapterRun]:
        return [r for r in self.runs if r.record is not None]

    @property
    def missing(self) -> list[ChapterRun]:
        return [r for r in self.runs if r.record is None]

    def command(self) -> str:
        """The command that makes the missing runs and admits them into the ledger."""
        seeds = ",".join(str(s) for s in (self.seeds or sorted({r.seed for r in self.runs})))
        sets = "".join(f" --set {o}" for o in self.extra) + "".join(f" --only {o}" for o in self.only)
        return f"qdm reproduce {self.chapter} --profile {self.profile} --seeds {seeds}{sets} --admit"



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
    jobs: Sequence[Job] | None = None,
    extra: Sequence[str] = (),
    only: Sequence[str] = (),
    allow_unresolved: bool = False,
) -> ChapterRuns:
    """The runs of ``chapter`` (a key of :data:`qdm.chapters.jobs.CHAPTER_JOBS`) at ``profile`` for ``seeds``.

    Finished runs come from ``results_root`` or the ledger; the others are trained when ``train_missing``
    (all of them in one :func:`qdm.runner.run_many` call with ``workers`` processes), else returned as
    missing.  Configs are resolved and validated before anything is looked up or trained.  ``jobs``: the part
    of the chapter's job list to serve (default: all of it); ``extra``: overrides for every run after the job's
    own; ``only``: the runs :func:`qdm.chapters.jobs.select_jobs` keeps (``qdm reproduce --only``, which the page's
    command repeats).  When the jobs do not resolve at ``profile`` (a preset without that profile) the ValueError is
    raised, unless ``allow_unresolved``: then no run is served or trained and the result says why.
    """
    if chapter not in CHAPTER_JOBS:
        raise ValueError(f"chapter must be one of {', '.join(sorted(CHAPTER_JOBS))}, got {chapter!r}")
    if not isinstance(train_missing, bool):
        raise ValueError(f"train_missing must be True or False, got {train_missing!r}")
    if not isinstance(allow_unresolved, bool):
        raise ValueError(f"allow_unresolved must be True or False, got {allow_unresolved!r}")
    check_int(workers, "workers", 1)
    for s in seeds:
        check_int(s, "seeds", 0)
    if isinstance(extra, str):
        raise ValueError("extra must be a sequence of 'key=value' strings, not one string")
    if isinstance(only, str):
        raise ValueError("only must be a sequence of terms, not one string")
    selected = tuple(CHAPTER_JOBS[chapter] if jobs is None else jobs)
    foreign = [j for j in selected if j not in CHAPTER_JOBS[chapter]]
    if foreign:
        raise ValueError(f"jobs must be jobs of the chapter {chapter!r}; not among them: {foreign[0]}")
    asked = {"seeds": tuple(seeds), "extra": tuple(extra), "only": tuple(only)}
    try:
        resolved = resolve_jobs(selected, profile, seeds, extra)
    except ValueError as err:
        if not allow_unresolved:
            raise
        expected = sum(len(j.seeds_from(seeds)) for j in selected)
        return ChapterRuns(chapter=chapter, profile=profile, runs=(), stale=_chapter_stale(chapter, profile),
                           unresolved=str(err), expected=expected, **asked)
    resolved = select_jobs(resolved, only)
    root = Path(results_root)
    found = [finished_run(cfg, root) for _, _, cfg in resolved]
    if train_missing:
        todo = [i for i, (record, _) in enumerate(found) if record is None]
        if todo:
            records = outcome_records(run_many([resolved[i][2] for i in todo], workers=workers, results_root=root))
            for i, record in zip(todo, records, strict=True):
                found[i] = (record, "trained")
    runs = tuple(
        ChapterRun(job=job, seed=seed, config=cfg, record=record, source=source)
        for (job, seed, cfg), (record, source) in zip(resolved, found, strict=True)
    )
    return ChapterRuns(chapter=chapter, profile=profile, runs=runs, stale=_chapter_stale(chapter, profile),
                       expected=len(runs), **asked)


def missing_note(runs: ChapterRuns, limit: int | None = None) -> str:
    """Markdown for the page: which runs it does not show (missing, stale) and the command that makes them; "" if none.

    ``limit``: list at most that many missing runs by name and count the rest (None: list all).
    """
    if limit is not None:
        check_int(limit, "limit", 0)
    lines = []
    if runs.unresolved:
        lines.append(
            f"None of the {runs.expected} runs of this chapter at the `{runs.profile}` profile can be shown: its jobs "
            f"do not resolve at that profile ({runs.unresolved.rstrip('.')})."
        )
    if runs.missing:
        lines.append(
            f"{len(runs.missing)} of the {len(runs.runs)} runs of this chapter at the `{runs.profile}` profile are "
            "neither in the ledger nor in the local results store, so they are not shown:"
        )
        listed = runs.missing if limit is None else runs.missing[:limit]
        lines += [f"- {r.label} (config {config_hash(r.config)})" for r in listed]
        if len(listed) < len(runs.missing):
            lines.append(f"- and {len(runs.missing) - len(listed)} more")
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
        lines.append(f"{'Once it resolves, make' if runs.unresolved else 'Make'} them with `{runs.command()}`.")
    return "\n".join(lines)


def missing_admonition(runs: ChapterRuns) -> str:
    """:func:`qdm.chapters.runs.missing_note` as a MyST warning admonition; "" when every run is there."""
    note = missing_note(runs)
    if not note:
        return ""
    return f":::{{admonition}} Runs not shown\n:class: warning\n{note}\n:::\n"


def source_text(runs: ChapterRuns) -> str:
    """Where the chapter's runs came from, in words: e.g. "12 of 12 runs: 12 from the ledger"."""
    counts: dict[str, int] = {}
    for r in runs.runs:
        counts[r.source] = counts.get(r.source, 0) + 1
    words = {"ledger": "from the ledger", "results": "from the local results store", "trained": "trained by this page",
             "missing": "missing"}
    parts = [f"{n} {words.get(src, src)}" for src, n in counts.items()]
    return f"{len(runs.found)} of {len(runs.runs)} runs: " + ", ".join(parts)
