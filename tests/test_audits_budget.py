"""The book-budget measurement's reading: the knee is the fewest steps that reach the criterion and keep it."""

from __future__ import annotations

import pandas as pd

from qdm.audits.budget import RECOGNISED, knee
from qdm.chapters.jobs import HYBRID_DIGITS, chapter_jobs


def test_knee_needs_the_criterion_held_at_every_later_stage():
    curve = pd.DataFrame({"steps": [500, 250, 1000, 2000], "accuracy": [0.95, 0.1, 0.85, 0.93]})
    assert knee(curve) == 2000  # 500 reaches 0.9 but 1000 falls back below it
    assert knee(curve, threshold=0.8) == 500
    assert knee(curve.assign(accuracy=[0.5] * 4)) is None
    assert RECOGNISED == 0.9


def test_reproduce_jobs_cover_the_hybrid_digits_and_seeds():
    jobs = chapter_jobs("hybrid", "smoke", [0, 1])
    assert len(jobs) == 4 * len(HYBRID_DIGITS) * 2 and HYBRID_DIGITS == (0, 1, 6, 9)
    assert {cfg.data.classes for _, _, cfg in jobs} == {(d,) for d in HYBRID_DIGITS}
    assert {cfg.train.seed for _, _, cfg in jobs} == {0, 1}
