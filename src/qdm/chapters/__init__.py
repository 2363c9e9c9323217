"""The book's chapters: one module per notebook, plus what they share.

* :mod:`qdm.chapters.common`: chapter-knob validation, results folder, tidy frames of runs, seed
  summaries, verdicts, generic figures;
* :mod:`qdm.chapters.theory` (01), :mod:`qdm.chapters.depolarizing` (02), :mod:`qdm.chapters.pqc` (03),
  :mod:`qdm.chapters.hybrid` (04), :mod:`qdm.chapters.audit` (07, a layer above the others: it shows
  :mod:`qdm.audits.claims`; not imported here).
"""

from qdm.chapters import common, depolarizing, hybrid, jobs, pqc, theory

__all__ = ["common", "depolarizing", "hybrid", "jobs", "pqc", "theory"]
