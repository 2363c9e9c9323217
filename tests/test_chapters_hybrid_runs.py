"""The hybrid variants' runs shared by chapters 04 and 05 (qdm.chapters.hybrid_runs) and the run selection of
``qdm reproduce --only`` (qdm.chapters.jobs.select_jobs): per-class tables and verdicts on hand-made runs, the MNIST
claim's direction (lower FID and *higher* SSIM are better), and which runs a selection keeps."""

from __future__ import annotations

import pandas as pd
import pytest

from qdm.chapters import hybrid as hybrid_chapter
from qdm.chapters import hybrid_runs as hr
from qdm.chapters.jobs import chapter_jobs, select_jobs
from qdm.chapters.runs import chapter_runs


def _frame(per_class: dict[int, dict[str, list[tuple[float, float]]]]) -> pd.DataFrame:
    """A run_frame-shaped frame: per class and variant a list of (FID, SSIM), one per seed; other metrics fixed."""
    rows = []
    for klass, values in per_class.items():
        for variant, pairs in values.items():
            for seed, (fid, ssim) in enumerate(pairs):
                row = {"variant": variant, "class": klass, "seed": seed, "fid": fid, "ssim": ssim, "kid": fid / 1000}
                for key, _, count in hr.METRICS:
                    row.setdefault(key, 0.5)
                    row[count] = 1000.0
                rows.append(row)
    return pd.DataFrame(rows)


BASE = [(100.0, 0.40), (110.0, 0.42), (105.0, 0.38)]


def test_the_mnist_claim_counts_a_higher_ssim_as_better_per_digit() -> None:
    better = [(f - 10 + 0.5 * i, s + 0.05 + 0.001 * i) for i, (f, s) in enumerate(BASE)]  # lower FID, higher SSIM
    worse = [(f + 10 + 0.5 * i, s - 0.05 + 0.001 * i) for i, (f, s) in enumerate(BASE)]
    frame = _frame({0: {"chen2025": better, "chen2025-classical": BASE, "chen2025-trainable": BASE, "chen2025-matched": BASE},
                    6: {"chen2025": worse, "chen2025-classical": BASE, "chen2025-trainable": BASE, "chen2025-matched": BASE}})
    table = hr.by_class(frame, hr.claim_table, hybrid_chapter.MNIST_CLAIM)
    assert list(table.columns[:2]) == ["class", "comparison"] and sorted(set(table["class"])) == [0, 6]
    published = table[table["comparison"] == "chen2025 − chen2025-classical"].set_index(["class", "metric"])
    assert published.loc[(0, "FID"), "mean_diff"] == pytest.approx(-10 + 0.5)
    assert published.loc[(0, "FID"), "result"] == published.loc[(0, "SSIM"), "result"] == "as claimed"
    assert published.loc[(6, "FID"), "result"] == published.loc[(6, "SSIM"), "result"] == "opposite to the claim"
    text = hr.verdict_by_class(table)
    assert text.startswith("Class 0: chen2025 − chen2025-classical") and " Class 6: " in text
    assert "(2 of 2 claimed directions shown" in text and "(0 of 2 claimed directions shown" in text
    # identical twins: zero differences, nothing shown
    same = hr.by_class(_frame({1: dict.fromkeys(("chen2025", "chen2025-classical", "chen2025-trainable",
                                                   "chen2025-matched"), BASE)}), hr.claim_table, hybrid_chapter.MNIST_CLAIM)
    assert set(same["mean_diff"]) == {0.0} and set(same["p"]) == {1.0} and set(same["result"]) == {"no difference shown"}


def test_per_class_summary_and_one_class_guard() -> None:
    frame = _frame({0: {"chen2025": BASE}, 1: {"chen2025": [(f + 1, s) for f, s in BASE]}})
    summary = hr.by_class(frame, hr.summary_table).set_index(["class", "key"])
    assert summary.loc[(0, "fid"), "mean"] == pytest.approx(105.0) and summary.loc[(1, "fid"), "mean"] == pytest.approx(106.0)
    assert summary.loc[(0, "fid"), "seeds"] == 3 and summary.loc[(0, "fid"), "images"] == "1000"
    with pytest.raises(ValueError, match="frame must hold the runs of one class"):
        hr.summary_table(frame)
    with pytest.raises(ValueError, match="claim must be a non-empty sequence of ClaimMetric"):
        hr.claim_table(frame[frame["class"] == 0], ())
    fig = hr.plot_metric_points(frame)  # two classes: one group per class and variant
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0 · chen2025", "1 · chen2025"]


def test_variant_names_per_dataset() -> None:
    assert hr.variant_of("chen2025-matched") == "chen2025-matched"
    assert hr.variant_of("chen2025-matched-pathmnist", "pathmnist") == "chen2025-matched"
    with pytest.raises(ValueError, match="preset must be one of"):
        hr.variant_of("chen2025-pathmnist")
    with pytest.raises(ValueError, match="dataset must be one of"):
        hr.variant_of("chen2025", "cifar10")


def test_only_keeps_alternatives_of_one_key_and_all_keys() -> None:
    jobs = chapter_jobs("hybrid", "smoke", [0, 1])
    assert len(select_jobs(jobs, [])) == len(jobs) == 32
    digits = select_jobs(jobs, ["data.classes=0", "data.classes=6"])
    assert len(digits) == 16 and {c.data.classes for _, _, c in digits} == {(0,), (6,)}
    one = select_jobs(jobs, ["data.classes=6", "chen2025-classical"])
    assert [(j.preset, s, c.data.classes) for j, s, c in one] == [("chen2025-classical", seed, (6,)) for seed in (0, 1)]
    with pytest.raises(ValueError, match="--only 'data.classes=3' matches no run; the runs' presets and overrides are: "
                                         "chen2025, chen2025-classical"):
        select_jobs(jobs, ["data.classes=3"])
    with pytest.raises(ValueError, match="only must be a sequence of terms"):
        select_jobs(jobs, "data.classes=0")


def test_chapter_runs_repeat_the_selection_in_their_command(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("QDM_LEDGER_DIR", "none")
    runs = chapter_runs("hybrid", "smoke", [0, 1, 2], only=("data.classes=1",), results_root=tmp_path)
    assert len(runs.runs) == 12 and len(runs.missing) == 12
    assert runs.command() == "qdm reproduce hybrid --profile smoke --seeds 0,1,2 --only data.classes=1 --admit"
