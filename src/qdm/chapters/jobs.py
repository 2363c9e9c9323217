"""The book's job list: for each chapter, the preset runs whose results it shows (``qdm reproduce``).

A job is a preset, config overrides and, optionally, how many of the given seeds it runs; :func:`chapter_jobs`
resolves them to configs at a profile and for each seed (:func:`qdm.presets.resolve_config`, which validates every
override). The hybrid chapter audits digits 0, 1, 6 and 9: 0, 1 and 6 are the paper's figures, 9 is the digit the
authors' metric script scores (their training script's default covers digits 1 to 9). The low-data chapter's jobs
are the grid of :data:`qdm.audits.lowdata.DESIGN` (:func:`lowdata_jobs`): each carries its own seed count (5 for
N <= 64, 3 above) and a ``{seed}`` in its overrides (the subset seed is the training seed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qdm.audits.lowdata import DESIGN, LowDataDesign
from qdm.config import ExperimentConfig
from qdm.presets import CHEN2025_VARIANTS, resolve_config

__all__ = ["CHAPTER_JOBS", "HYBRID_DIGITS", "SEED_FIELD", "Job", "chapter_jobs", "chapters", "lowdata_jobs",
           "n_runs", "resolve_jobs"]

#: MNIST digits of the hybrid chapter and audit.
HYBRID_DIGITS: tuple[int, ...] = (0, 1, 6, 9)
#: What an override of a job writes for the run's seed.
SEED_FIELD = "{seed}"


@dataclass(frozen=True)
class Job:
    """One run of a chapter per seed: preset and config overrides (profile and ``train.seed`` are added by
    :func:`chapter_jobs`).

    ``n_seeds``: the job runs the first ``n_seeds`` of the seeds it is given (None: all of them).  An override may
    hold :data:`SEED_FIELD`, replaced by the run's seed (:meth:`overrides_for`).
    """

    preset: str
    overrides: tuple[str, ...] = ()
    n_seeds: int | None = None

    def __post_init__(self) -> None:
        if self.n_seeds is not None and (isinstance(self.n_seeds, bool) or not isinstance(self.n_seeds, int)
                                         or self.n_seeds < 1):
            raise ValueError(f"Job.n_seeds must be None (all seeds) or an int >= 1, got {self.n_seeds!r}")

    def seeds_from(self, seeds: Sequence[int]) -> tuple[int, ...]:
        """The seeds this job runs out of ``seeds``: all, or the first ``n_seeds``."""
        return tuple(seeds) if self.n_seeds is None else tuple(seeds)[: self.n_seeds]

    def overrides_for(self, seed: int) -> tuple[str, ...]:
        """The overrides of the run with ``seed`` (:data:`SEED_FIELD` replaced by it)."""
        return tuple(o.replace(SEED_FIELD, str(int(seed))) for o in self.overrides)


def lowdata_jobs(design: LowDataDesign = DESIGN) -> tuple[Job, ...]:
    """The low-data study's jobs: one per cell of ``design`` (:meth:`~qdm.audits.lowdata.LowDataDesign.cells`),
    with the cell's overrides and seed count."""
    return tuple(Job(cell.variant, cell.overrides(), design.n_seeds(cell.size)) for cell in design.cells())


CHAPTER_JOBS: dict[str, tuple[Job, ...]] = {
    "pqc": (
        Job("cacioppo2023-cond-latent"),
        Job("cacioppo2023-cond-latent", ("model.noise=real",)),
        Job("cacioppo2023-cond-latent", ("model.noising=ddpm",)),
        Job("cacioppo2025-full"),
        Job("koelle2024"),
    ),
    "hybrid": tuple(Job(v, (f"data.classes={d}",)) for d in HYBRID_DIGITS for v in CHEN2025_VARIANTS),
    "pathmnist": tuple(Job(f"{v}-pathmnist") for v in CHEN2025_VARIANTS),
    "ano": (
        Job("jo2025-ano"),
        Job("jo2025-ano", ("model.features=zeros",)),
        Job("jo2025-ano", ("model.features=classical",)),
        Job("jo2025-ano", ("model.hadamard_test=false",)),
    ),
    "lowdata": lowdata_jobs(DESIGN),
}


def chapters() -> list[str]:
    """The chapter names ``qdm reproduce`` accepts (plus ``all``)."""
    return sorted(CHAPTER_JOBS)


def resolve_jobs(
    jobs: Sequence[Job], profile: str, seeds: Sequence[int], extra: Sequence[str] = ()
) -> list[tuple[Job, int, ExperimentConfig]]:
    """(job, seed, resolved config) for every job at ``profile`` and each of its seeds; ``extra`` overrides apply to
    every run after the job's own (``qdm reproduce --set``)."""
    if isinstance(extra, str):
        raise ValueError("extra must be a sequence of 'key=value' strings, not one string")
    out = []
    for job in jobs:
        for seed in job.seeds_from(seeds):
            overrides = [f"profile={profile}", *job.overrides_for(seed), *extra, f"train.seed={seed}"]
            out.append((job, seed, resolve_config(job.preset, overrides)))
    return out


def chapter_jobs(
    chapter: str, profile: str, seeds: Sequence[int], extra: Sequence[str] = ()
) -> list[tuple[Job, int, ExperimentConfig]]:
    """(job, seed, resolved config) for every job of ``chapter`` (or ``all``) at ``profile`` and each of its seeds."""
    names = chapters() if chapter == "all" else [chapter]
    unknown = [n for n in names if n not in CHAPTER_JOBS]
    if unknown:
        raise ValueError(f"chapter must be one of {', '.join(chapters())} or all, got {chapter!r}")
    return [item for name in names for item in resolve_jobs(CHAPTER_JOBS[name], profile, seeds, extra)]


def select_jobs(
    jobs: Sequence[tuple[Job, int, ExperimentConfig]], only: Sequence[str]
) -> list[tuple[Job, int, ExperimentConfig]]:
    """The runs of ``jobs`` that ``only`` selects (``qdm reproduce --only``).  A term matches a run when it is the
    job's preset or one of its overrides, e.g. ``chen2025-classical`` or ``data.classes=0``; terms of the same key
    (the text before ``=``; presets are one key) are alternatives, and a run is kept when every key has a matching
    term: ``data.classes=0, data.classes=1, chen2025`` keeps chen2025 on digits 0 and 1.  No terms: all runs.  A term
    that matches no run is an error naming the presets and overrides that would."""
    if isinstance(only, str):
        raise ValueError("only must be a sequence of terms, not one string")

    def terms_of(job: Job, seed: int) -> tuple[str, ...]:
        return (job.preset, *job.overrides_for(seed))

    known = sorted({t for job, seed, _ in jobs for t in terms_of(job, seed)})
    for term in only:
        if term not in known:
            raise ValueError(f"--only {term!r} matches no run; the runs' presets and overrides are: {', '.join(known)}")
    groups: dict[str, set[str]] = {}
    for term in only:
        groups.setdefault(term.split("=", 1)[0] if "=" in term else "", set()).add(term)
    return [item for item in jobs if all(terms & set(terms_of(item[0], item[1])) for terms in groups.values())]


def n_runs(chapter: str, seeds: Sequence[int]) -> int:
    """How many runs ``chapter`` makes for ``seeds`` (each job runs its own share of them), without resolving any."""
    return sum(len(job.seeds_from(seeds)) for job in CHAPTER_JOBS[chapter])
