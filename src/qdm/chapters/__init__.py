"""The book's chapters: one module per notebook, plus what they share.

* :mod:`qdm.chapters.common`: chapter-knob validation, results folder, tidy frames of runs, seed
  summaries, verdicts, generic figures;
* :mod:`qdm.chapters.theory` (01), :mod:`qdm.chapters.depolarizing` (02), :mod:`qdm.chapters.pqc` (03),
  :mod:`qdm.chapters.hybrid` (04), :mod:`qdm.chapters.lowdata` (08, the low-data study from the ledger),
  :mod:`qdm.chapters.performance` (90, the recorded benchmarks) and :mod:`qdm.chapters.reproducibility` (95, the
  ledger and what each chapter's runs cost); :mod:`qdm.chapters.audit` (07, a layer above the others: it shows
  :mod:`qdm.audits.claims`; not imported here);
* :mod:`qdm.chapters.jobs`: the book's job list per chapter (``qdm reproduce``);
* :mod:`qdm.chapters.runs`: a chapter's runs served from the results store or the ledger, the missing ones named.
"""

from qdm.chapters import common, depolarizing, hybrid, jobs, lowdata, performance, pqc, reproducibility, runs, theory

__all__ = ["common", "depolarizing", "hybrid", "jobs", "lowdata", "performance", "pqc", "reproducibility", "runs",
           "theory"]
