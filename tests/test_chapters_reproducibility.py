"""The reproducibility chapter (qdm.chapters.reproducibility, notebooks/95_reproducibility.py) on a ledger built in
the test: what a chapter's runs cost is read from the entries' timing.json (measured, summed), an estimate comes
only from entries of the same preset and profile and is absent when nothing was measured, a profile the presets
do not define is said so, the ledger is listed entry by entry with its size, and a stale entry is named."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from _helpers import assert_rejects

from qdm import ledger
from qdm import nb as qnb
from qdm.chapters import reproducibility as rep
from qdm.chapters.jobs import CHAPTER_JOBS, chapter_jobs
from qdm.config import config_hash, to_dict
from qdm.families.hybrid import HYBRID_PROFILES
from qdm.presets import get_preset
from qdm.runner import run_experiment

from test_runner import tiny_experiment  # the tiny real family (an MLP DDPM on 8x8 MNIST)

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "notebooks" / "95_reproducibility.py"
TIMING = {"train_total_wall_s": 10.0, "train_wall_s": 4.0, "sample_wall_s": 2.0, "eval_wall_s": 3.0,
          "finished": "2026-01-02T03:04:05+00:00"}


def _hand_entry(root: Path, chapter: str, profile: str, seed: int, timing: dict | None = TIMING) -> ledger.LedgerEntry:
    """A ledger entry for the first job of ``chapter`` at ``profile`` and ``seed``, under its current config hash,
    with the given timing.json (the files a finished run would leave; no samples needed here)."""
    job, _, cfg = chapter_jobs(chapter, profile, [seed])[0]
    path = root / cfg.experiment / config_hash(cfg)
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(to_dict(cfg)))
    if timing is not None:
        (path / "timing.json").write_text(json.dumps(timing))
    (path / "provenance.json").write_text(json.dumps({"device": "cpu", "torch_threads": 1, "gpu": None, "record": {
        "platform": "TestOS-1", "git": {"commit": "ab" * 20, "dirty": True}}}))
    made_by = {"preset": job.preset, "profile": profile, "overrides": [*job.overrides, f"train.seed={seed}"]}
    (path / ledger.LEDGER_RECORD).write_text(json.dumps({**made_by, "admitted": "2026-01-02T04:00:00+00:00"}))
    (path / "DONE").write_text("x\n")
    return ledger.entries(root)[0]


def test_costs_are_measured_or_estimated_from_the_same_preset_and_profile(tmp_path: Path) -> None:
    root = tmp_path / "ledger"
    _hand_entry(root, "pqc", "smoke", 0)
    costs = rep.chapter_costs(root, ["smoke"], [0, 1], ["pqc", "hybrid"]).set_index("chapter")
    pqc = costs.loc["pqc"]
    assert pqc.runs == 2 * len(CHAPTER_JOBS["pqc"]) and pqc.in_ledger == 1
    assert pqc.measured_s == 10.0 + 2.0 + 3.0  # training (all sessions), sampling, evaluation
    # seed 1 of the same preset at the same profile is estimated from seed 0, and so are both seeds of its two
    # ablations (the same preset with one override); the other presets were never measured
    same_preset = sum(job.preset == CHAPTER_JOBS["pqc"][0].preset for job in CHAPTER_JOBS["pqc"])
    assert same_preset == 3
    assert pqc.missing == pqc.runs - 1 and pqc.estimated_runs == 2 * same_preset - 1 and pqc.estimated_s == 15.0 * 5
    assert pqc.not_measured == pqc.runs - 2 * same_preset
    assert pqc.machine == "cpu, 1 torch thread(s), TestOS-1"
    assert pqc.command == "qdm reproduce pqc --profile smoke --seeds 0,1 --admit"
    # nothing of the hybrid chapter was measured: no estimate, every run counted as not measured
    hybrid = costs.loc["hybrid"]
    assert hybrid.in_ledger == 0 and math.isnan(hybrid.measured_s) and math.isnan(hybrid.estimated_s)
    assert hybrid.estimated_runs == 0 and hybrid.not_measured == hybrid.runs == 2 * len(CHAPTER_JOBS["hybrid"])
    view = rep.chapter_cost_view(costs.reset_index()).set_index("chapter")
    assert view.loc["hybrid", "estimate for the rest"] == "not measured" and view.loc["hybrid", "measured"] == "none"
    assert view.loc["pqc", "measured"] == "15.0 s for 1 run" and view.loc["pqc", "estimate for the rest"] == "1.2 min for 5 runs"
    # the same entry does not stand in for another profile
    cpu = rep.chapter_costs(root, ["cpu"], [0], ["pqc"]).iloc[0]
    assert cpu.in_ledger == 0 and cpu.estimated_runs == 0 and cpu.not_measured == cpu.runs


def test_an_entry_without_timing_gives_no_number(tmp_path: Path) -> None:
    root = tmp_path / "ledger"
    _hand_entry(root, "pqc", "smoke", 0, timing=None)
    row = rep.chapter_costs(root, ["smoke"], [0, 1], ["pqc"]).iloc[0]
    assert row.in_ledger == 1 and math.isnan(row.measured_s)  # counted as present, its cost not invented
    assert row.estimated_runs == 0 and math.isnan(row.estimated_s)
    assert rep.cost_text(row.measured_s, row.in_ledger) == "not measured (1 runs)"


def test_a_profile_the_presets_lack_is_said_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ledger").mkdir()
    monkeypatch.delitem(HYBRID_PROFILES, "book")  # as before the hybrid family had one
    row = rep.chapter_costs(tmp_path / "ledger", ["book"], [0, 1, 2], ["pathmnist"]).iloc[0]
    assert row.runs == 3 * len(CHAPTER_JOBS["pathmnist"]) and row.in_ledger == 0 and row.not_measured == row.runs
    assert row.note.startswith("profile 'book' does not resolve: profile must be one of")
    with pytest.raises(ValueError, match="^profiles must be one of"):
        rep.chapter_costs(tmp_path / "ledger", ["gpu"], [0])
    with pytest.raises(ValueError, match="^chapters must be one of"):
        rep.chapter_costs(tmp_path / "ledger", ["smoke"], [0], ["theory"])


@pytest.fixture()
def ledger_with_stale(tmp_path: Path) -> tuple[Path, ledger.LedgerEntry, ledger.LedgerEntry]:
    """A ledger with a current hand-made pqc entry and a real tiny run admitted as koelle2024@smoke (so stale)."""
    root = tmp_path / "ledger"
    current = _hand_entry(root, "pqc", "smoke", 0)
    rec = run_experiment(tiny_experiment(), results_root=tmp_path / "results", progress=False)
    stale = ledger.admit(rec.run_dir, {"preset": "koelle2024", "profile": "smoke", "overrides": []}, root=root)
    return root, current, stale


def test_ledger_table_and_stale_entries(ledger_with_stale) -> None:
    root, current, stale = ledger_with_stale
    table = rep.ledger_table(root).set_index("config_hash")
    assert sorted(table.index) == sorted([current.config_hash, stale.config_hash])
    row = table.loc[stale.config_hash]
    timing = json.loads((stale.path / "timing.json").read_text())
    provenance = json.loads((stale.path / "provenance.json").read_text())
    assert row.experiment == "tiny-runner" and row.made_as == "koelle2024@smoke" and row.seed == 0
    assert row.train_s == timing["train_total_wall_s"] and row.eval_s == timing["eval_wall_s"]
    git = provenance["record"]["git"]
    assert row.date == timing["finished"] and row.commit.startswith((git["commit"] or "not recorded")[:12])
    assert row.bytes == sum(p.stat().st_size for p in stale.path.iterdir())
    hand = table.loc[current.config_hash]
    assert hand.commit == "abababababab+dirty" and hand.date == TIMING["finished"] and hand.overrides == "train.seed=0"
    assert rep.ledger_bytes(root) == sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    frame = rep.stale_table(root)
    assert list(frame.entry) == [f"tiny-runner/{stale.config_hash}"]
    assert frame.now_resolves_to.iloc[0] == config_hash(get_preset("koelle2024", "smoke"))
    assert f"tiny-runner/{stale.config_hash} (koelle2024@smoke, now " in rep.stale_line(frame)


def test_no_stale_entry_is_said_so(tmp_path: Path) -> None:
    root = tmp_path / "ledger"
    _hand_entry(root, "pqc", "smoke", 0)
    assert rep.stale_table(root).empty
    assert rep.stale_line(rep.stale_table(root)).startswith("The ledger has no stale entry")


def test_parameters_are_checked() -> None:
    assert rep.parse_seeds("0, 2") == (0, 2) and rep.parse_profiles("cpu,smoke") == ("cpu", "smoke")
    for bad in ("1,-1", "a", "1,1"):
        with pytest.raises(ValueError, match="^seeds must"):
            rep.parse_seeds(bad)
    with pytest.raises(ValueError, match="^ledger_dir must be a ledger folder"):
        rep.ledger_dir("/nonexistent/ledger")


def test_page_runs_in_seconds_on_a_built_ledger(ledger_with_stale, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, current, stale = ledger_with_stale
    monkeypatch.setenv("QDM_RESULTS_DIR", str(tmp_path / "results"))
    t0 = time.perf_counter()
    executed = qnb.run(PAGE, tmp_path / "95.ipynb", {"ledger_dir": str(root), "profiles": "smoke,book", "seeds": "0,1"})
    elapsed = time.perf_counter() - t0
    values = qnb.glued_values(executed)
    assert int(values["n-entries"]) == 2 and int(values["ledger-bytes"]) == rep.ledger_bytes(root)
    assert int(values["runs-in-ledger"]) == 1 and int(values["runs-estimated"]) >= 1
    costs = rep.chapter_costs(root, ["smoke", "book"], [0, 1])
    assert int(values["runs-total"]) == int(costs.runs.sum())
    assert int(values["runs-not-measured"]) == int(costs.not_measured.sum())
    assert f"tiny-runner/{stale.config_hash}" in values["stale-line"]
    assert elapsed < 60, f"the page took {elapsed:.0f} s; it only reads files"


@pytest.mark.parametrize(("parameter", "value"), [("profiles", "gpu"), ("profiles", ""), ("seeds", "0,x"), ("ledger_dir", 3)])
def test_page_rejects_bad_parameters(parameter: str, value: object) -> None:
    assert_rejects(PAGE, parameter, value)


def test_cost_figure_draws_each_entry_s_recorded_minutes(ledger_with_stale) -> None:
    import matplotlib.pyplot as plt

    table = rep.ledger_table(ledger_with_stale[0])
    fig = rep.plot_entry_costs(table)
    bars = fig.axes[0].patches
    assert len(bars) == 3 * len(table)
    widths = [b.get_width() for b in bars]
    for i, key in enumerate(("train_s", "sample_s", "eval_s")):
        expected = [float(v) / 60 if v == v else 0.0 for v in table[key]]  # NaN (not recorded): no bar
        assert widths[i * len(table):(i + 1) * len(table)] == pytest.approx(expected)
    plt.close(fig)
    empty = rep.plot_entry_costs(table.iloc[0:0])
    assert "no entries" in empty.axes[0].texts[0].get_text()
    plt.close(empty)
    with pytest.raises(ValueError, match="lacks the columns"):
        rep.plot_entry_costs(table.drop(columns="eval_s"))
