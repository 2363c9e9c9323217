"""The claims ledger (qdm.audits.claims): every claim is cited and linked, the verdict rule on hand-made numbers, verdicts
that follow the ledger's numbers (and change with them), missing runs named with their command, and the committed
measurements read back only when intact (qdm.audits.estimator_bias.read_measurement)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from qdm import ledger
from qdm.audits import claims as C
from qdm.audits import estimator_bias as eb
from qdm.chapters import audit as chapter
from qdm.chapters import jobs
from qdm.config import config_hash, to_json
from qdm.presets import resolve_config

REPO = Path(__file__).resolve().parents[1]
REPO_LEDGER = REPO / "ledger"
MEASUREMENTS = REPO_LEDGER / "measurements"
BIB = REPO / "book" / "references.bib"
CLAIM = {c.id: c for c in C.CLAIMS}


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", BIB.read_text(encoding="utf-8"), re.M))


def _book_labels() -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "notebooks").glob("*.py"))
    return set(re.findall(r":name: ([\w-]+)", text)) | set(re.findall(r"^# \(([\w-]+)\)=", text, re.M))


# ------------------------------------------------------------------------------------- the ledger as data


def test_every_claim_cites_a_bibliography_key_and_a_place() -> None:
    keys = _bib_keys()
    missing = sorted({c.source.key for c in C.CLAIMS} - keys)
    assert not missing, f"claims cite keys absent from references.bib: {missing}"
    assert all(c.source.where.strip() and c.published.where.strip() for c in C.CLAIMS)
    assert set(C.PAPERS) <= keys and {r.key for r in chapter.CODE_VS_PAPER} <= keys
    # every paper the ledger covers has claims, and nothing outside it is claimed
    assert {c.paper for c in C.CLAIMS} == set(C.PAPERS)


def test_every_claim_links_to_a_figure_table_or_section_of_the_book() -> None:
    labels = _book_labels()
    dangling = sorted({c.label for c in C.CLAIMS} - labels)
    assert not dangling, f"claims link to labels no notebook defines: {dangling}"


def test_claims_are_well_formed() -> None:
    C._check_claims(C.CLAIMS)  # unique ids, arms are jobs of their chapter, fact checks exist
    bad = C.CLAIMS + (C.CLAIMS[0],)
    with pytest.raises(ValueError, match="^claim ids must be unique"):
        C._check_claims(bad)
    wrong_arm = C.Claim("x", "x", C.Source("chen2025quantum", "Abstract"), C.Published("x", "x", (1.0, 2.0)),
                        C.Comparison("hybrid", "cpu", C.Arm("koelle2024"), C.Arm("chen2025"), "fid", "", ""), "fig-audit-gap")
    with pytest.raises(ValueError, match="^claim x: koelle2024 is not a job of chapter hybrid"):
        C._check_claims([wrong_arm])


# ------------------------------------------------------------------------------ the rule on hand-made numbers


@pytest.mark.parametrize(
    ("deltas", "direction", "verdict"),
    [
        ([-3.0, -2.0, -4.0], -1, "reproduced"),
        ([3.0, 2.0, 4.0], -1, "reversed"),
        ([-1.0, 1.0, 0.5], -1, "not reproduced"),
        ([3.0, 2.0, 4.0], 1, "reproduced"),
        ([-3.0, -2.0, -4.0], 1, "reversed"),
        ([-3.0], -1, "not testable here"),
        ([], 1, "not testable here"),
    ],
)
def test_comparison_verdict(deltas: list[float], direction: int, verdict: str) -> None:
    got, why, summary = C.comparison_verdict(deltas, direction)
    assert got == verdict
    if verdict == "not testable here":
        assert summary is None and ("one seed" in why or "no seed" in why)
    else:
        assert summary.n == len(deltas) and summary.ci_low <= summary.mean <= summary.ci_high


def test_comparison_verdict_depends_on_the_interval_not_only_the_mean() -> None:
    # the same mean, a wider spread: the interval then holds 0
    assert C.comparison_verdict([-2.0, -2.1, -1.9], -1)[0] == "reproduced"
    assert C.comparison_verdict([-8.0, 4.0, -2.0], -1)[0] == "not reproduced"
    with pytest.raises(ValueError, match="^direction must be -1 or \\+1"):
        C.comparison_verdict([1.0, 2.0], 0)


def test_level_and_fact_verdicts() -> None:
    assert C.level_verdict([150.0, 152.0, 149.0], (135.0, 165.0))[0] == "reproduced"
    assert C.level_verdict([240.0, 250.0, 245.0], (135.0, 165.0))[0] == "not reproduced"
    assert "above" in C.level_verdict([240.0, 250.0, 245.0], (135.0, 165.0))[1]
    assert C.level_verdict([150.0], (135.0, 165.0))[0] == "not testable here"
    assert C.fact_verdict(1e-16, "<=", 0.0, 1e-12) == ("reproduced", "1.00e-16 ≤ 0 + 1e-12 holds")
    assert C.fact_verdict(669271.0, "<=", 1110.0)[1] == "669,271 ≤ 1,110 does not hold"
    assert C.fact_verdict(0.3, "<=", 0.0, 1e-12)[0] == "not reproduced"
    assert C.fact_verdict(1110, "==", 1110)[0] == "reproduced"
    # within 3 standard errors: reproduced; the same value with a smaller error: not
    assert C.fact_verdict(0.8233, "==", 0.8228, 5e-4, se=0.002, se_factor=3)[0] == "reproduced"
    assert C.fact_verdict(0.8233, "==", 0.7975, 5e-4, se=0.002, se_factor=3)[0] == "not reproduced"
    with pytest.raises(ValueError, match="^relation must be one of"):
        C.fact_verdict(1.0, "<", 0.0)


# ------------------------------------------------------------------------ verdicts from the ledger's numbers


def _fake_ledger(root: Path, fids: dict[str, list[float]], ssims: dict[str, list[float]] | None = None) -> None:
    """A ledger holding chen2025 and chen2025-classical (digit 0, the audit's profile) for seeds 0..k-1 with the given metrics;
    everything else of each entry is copied from the committed seed-0 entry of that preset."""
    for preset, values in fids.items():
        base = next(e for e in ledger.entries(REPO_LEDGER) if e.made_by.get("preset") == preset)
        for seed, fid in enumerate(values):
            overrides = ["data.classes=0", f"train.seed={seed}"]
            cfg = resolve_config(preset, [f"profile={eb.AUDIT_PROFILE}", *overrides])
            dest = root / cfg.experiment / config_hash(cfg)
            shutil.copytree(base.path, dest)
            (dest / "config.json").write_text(to_json(cfg))
            metrics = json.loads((base.path / "metrics.json").read_text())
            metrics["fid"] = fid
            if ssims is not None:
                metrics["ssim"] = ssims[preset][seed]
            (dest / "metrics.json").write_text(json.dumps(metrics))
            made_by = {**base.made_by, "profile": eb.AUDIT_PROFILE, "overrides": overrides}
            (dest / ledger.LEDGER_RECORD).write_text(json.dumps(made_by))


def _evaluate(claim_id: str, **kw) -> C.Evaluation:
    return C.evaluate_claims([CLAIM[claim_id]], results_root=kw.pop("results_root"), **kw)[0]


@pytest.fixture
def small_hybrid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hybrid chapter reduced to its digit-0 quantum and classical jobs (what the claims below need)."""
    monkeypatch.setitem(jobs.CHAPTER_JOBS, "hybrid", (jobs.Job("chen2025", ("data.classes=0",)),
                                                      jobs.Job("chen2025-classical", ("data.classes=0",))))


def test_verdict_follows_the_ledger_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_hybrid: None) -> None:
    results = tmp_path / "results"
    cases = [
        ({"chen2025": [240.0, 241.0, 239.5], "chen2025-classical": [250.0, 252.0, 249.0]}, "reproduced"),
        ({"chen2025": [260.0, 262.0, 259.0], "chen2025-classical": [250.0, 252.0, 249.0]}, "reversed"),
        ({"chen2025": [240.0, 262.0, 250.0], "chen2025-classical": [250.0, 252.0, 249.0]}, "not reproduced"),
    ]
    for i, (fids, verdict) in enumerate(cases):
        root = tmp_path / f"ledger{i}"
        _fake_ledger(root, fids)
        monkeypatch.setenv("QDM_LEDGER_DIR", str(root))
        e = _evaluate("chen2025-mnist0-fid", results_root=results, measurements_dir=MEASUREMENTS)
        deltas = [q - c for q, c in zip(fids["chen2025"], fids["chen2025-classical"], strict=True)]
        assert e.verdict == verdict, e.why
        assert e.values == pytest.approx(deltas) and e.seeds == (0, 1, 2)
        assert e.summary.mean == pytest.approx(sum(deltas) / 3)
        assert f"{e.summary.mean:.4g}" in e.fair
    assert not results.exists()  # nothing trained or written


def test_two_seeds_are_enough_and_other_metrics_are_read_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              small_hybrid: None) -> None:
    _fake_ledger(tmp_path / "ledger", {"chen2025": [240.0, 241.0], "chen2025-classical": [250.0, 252.0]},
                 ssims={"chen2025": [0.10, 0.11], "chen2025-classical": [0.20, 0.22]})
    monkeypatch.setenv("QDM_LEDGER_DIR", str(tmp_path / "ledger"))
    fid = _evaluate("chen2025-mnist0-fid", results_root=tmp_path / "r", seeds=(0, 1))
    ssim = _evaluate("chen2025-mnist0-ssim", results_root=tmp_path / "r", seeds=(0, 1))
    assert fid.verdict == "reproduced"  # two seeds, both 10 lower: the interval excludes 0
    assert ssim.verdict == "reversed"  # the published direction is "quantum higher"; here it is lower


def test_missing_runs_are_not_testable_and_name_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDM_LEDGER_DIR", str(tmp_path / "empty"))
    e = _evaluate("chen2025-pathmnist-fid", results_root=tmp_path / "results")
    assert e.verdict == "not testable here"
    assert e.command == f"qdm reproduce pathmnist --profile {eb.AUDIT_PROFILE} --seeds 0,1,2 --admit"
    assert f"`{e.command}`" in e.why and "0 of the 6 runs found" in e.why
    assert e.fair == "—" and e.summary is None


def test_the_committed_ledger_gives_one_seed_and_its_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             small_hybrid: None) -> None:
    monkeypatch.setenv("QDM_LEDGER_DIR", str(REPO_LEDGER))
    e = _evaluate("chen2025-mnist0-fid", results_root=tmp_path / "results", measurements_dir=MEASUREMENTS)
    fids: dict[str, dict[int, float]] = {}
    for x in ledger.entries(REPO_LEDGER):
        if x.made_by.get("profile") == eb.AUDIT_PROFILE and "data.classes=0" in x.made_by.get("overrides", []):
            seed = int(next(o for o in x.made_by["overrides"] if o.startswith("train.seed=")).split("=")[1])
            fids.setdefault(x.made_by["preset"], {})[seed] = x.metrics["fid"]
    paired = sorted(set(fids["chen2025"]) & set(fids["chen2025-classical"]))
    deltas = tuple(fids["chen2025"][s] - fids["chen2025-classical"][s] for s in paired)
    assert e.seeds == tuple(paired) and e.values == pytest.approx(deltas)
    if len(paired) == 1:
        assert e.verdict == "not testable here" and "one seed" in e.why
    else:
        assert e.summary.mean == pytest.approx(sum(deltas) / len(deltas)) and e.verdict != "not testable here"
    # the published-protocol column: the first 5-sample strip of the committed gap measurement
    strips = eb.read_measurement(MEASUREMENTS / eb.GAP_NAME).frame.query("kind == @eb.PUBLISHED_STRIP")
    assert e.published_protocol.startswith(f"Δ {C._fmt(float(strips.sort_values('draw')['gap'].iloc[0]))} (first strip")
    assert f"in {int((strips['gap'] < 0).sum())} of {len(strips)} strips" in e.published_protocol


def test_a_measurement_of_other_runs_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 small_hybrid: None) -> None:
    folder = tmp_path / "measurements"
    shutil.copytree(MEASUREMENTS, folder)
    record = json.loads((folder / f"{eb.GAP_NAME}.json").read_text())
    record["ledger_entries"][0]["config_hash"] = "000000000000"
    (folder / f"{eb.GAP_NAME}.json").write_text(json.dumps(record))
    monkeypatch.setenv("QDM_LEDGER_DIR", str(REPO_LEDGER))
    e = _evaluate("chen2025-mnist0-fid", results_root=tmp_path / "results", measurements_dir=folder)
    assert e.published_protocol == "— (no published-protocol measurement of these runs)"


def test_fact_verdicts_follow_their_numbers() -> None:
    claim = CLAIM["chen2025-weights-inert"]
    computed = C.FACT_CHECKS[claim.test.check]()
    assert computed.value < 1e-12  # full simulation: the published circuit's weights change nothing
    inert = C.evaluate_claims([claim], facts={claim.test.check: computed})[0]
    moved = C.evaluate_claims([claim], facts={claim.test.check: C.FactValue(0.3, "a circuit whose weights matter")})[0]
    assert (inert.verdict, moved.verdict) == ("reproduced", "not reproduced")
    assert moved.fair == "0.3" and "a circuit whose weights matter" in moved.why


def test_every_fact_check_gives_a_finite_number_in_seconds() -> None:
    for name, check in C.FACT_CHECKS.items():
        value = check()
        assert isinstance(value, C.FactValue) and value.value == value.value and abs(value.value) < float("inf"), name
        assert value.text


def test_not_testable_claims_say_why() -> None:
    e = C.evaluate_claims([CLAIM["koelle2024-one-step"]])[0]
    assert e.verdict == "not testable here" and e.why == CLAIM["koelle2024-one-step"].test.reason


# ------------------------------------------------------------------------------ the measurements' reader


def _copy(tmp_path: Path, name: str) -> Path:
    for ext in ("csv", "json"):
        shutil.copy(MEASUREMENTS / f"{name}.{ext}", tmp_path / f"{name}.{ext}")
    return tmp_path / name


def _rejects(stem: Path, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        eb.read_measurement(stem)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", [eb.BIAS_NAME, eb.GAP_NAME])
def test_committed_measurements_read_back_with_their_provenance(name: str) -> None:
    m = eb.read_measurement(MEASUREMENTS / f"{name}.csv")
    assert list(m.frame.columns) == list(eb.BIAS_COLUMNS if name == eb.BIAS_NAME else eb.GAP_COLUMNS)
    rec = m.record
    assert rec["command"] == eb.MEASURE_COMMAND and rec["seed"] == 0
    assert rec["data"][0]["name"] == "mnist.npz" and len(rec["data"][0]["md5"]) == 32
    assert rec["git"]["commit"] and rec["image_counts"]["heldout_test_zeros"] == 980
    assert [e["preset"] for e in rec["ledger_entries"]] == ["chen2025", "chen2025-classical"]


def test_bias_measurement_shows_the_bias(tmp_path: Path) -> None:
    frame = eb.read_measurement(MEASUREMENTS / eb.BIAS_NAME).frame
    rvr = frame[frame["comparison"] == eb.REAL_HELDOUT].sort_values("n")
    assert rvr["n"].iloc[0] == 5 and rvr["n"].iloc[-1] >= 490
    assert frame[frame["comparison"] == eb.REAL_TRAIN]["n"].max() >= 500
    assert rvr["fid_mean"].is_monotonic_decreasing  # the real-vs-real FID is bias only, and it falls with n
    assert abs(rvr["kid_mean"]).max() < 3 * rvr["kid_std"].max() + 1e-3  # KID is unbiased: near 0 at every n


def test_reader_refuses_a_damaged_measurement(tmp_path: Path) -> None:
    stem = _copy(tmp_path, eb.BIAS_NAME)
    csv = stem.with_suffix(".csv")
    text = csv.read_text()
    csv.write_text(text.replace("real vs real", "real vs rael", 1))
    _rejects(stem, r"^measurement estimator-bias-mnist0: estimator-bias-mnist0.csv has md5 \w+, its record says \w+")
    csv.write_text(text)
    eb.read_measurement(stem)  # intact again
    stem.with_suffix(".json").write_text("{not json")
    _rejects(stem, "is not valid JSON")
    stem.with_suffix(".json").write_text(json.dumps({"csv": {}}))
    _rejects(stem, "lacks its provenance")
    csv.unlink()
    _rejects(stem, r"estimator-bias-mnist0.csv is missing; re-make it with `qdm audit estimator-bias`")


def test_reader_refuses_rows_or_numbers_that_do_not_match_the_record(tmp_path: Path) -> None:
    stem = _copy(tmp_path, eb.GAP_NAME)
    csv, rec_path = stem.with_suffix(".csv"), stem.with_suffix(".json")
    lines = csv.read_text().splitlines(keepends=True)
    csv.write_text("".join(lines[:-1]))  # one row short, with a matching md5
    rec = json.loads(rec_path.read_text())
    rec["csv"]["md5"] = eb.file_md5(csv)
    rec_path.write_text(json.dumps(rec))
    _rejects(stem, "rows and columns")
    cells = lines[1].split(",")
    cells[3] = "nan"
    csv.write_text("".join([lines[0], ",".join(cells), *lines[2:]]))
    rec["csv"]["md5"] = eb.file_md5(csv)
    rec_path.write_text(json.dumps(rec))
    _rejects(stem, "non-finite numbers")


def test_a_measurement_knows_when_the_ledger_moved_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = eb.read_measurement(MEASUREMENTS / eb.GAP_NAME)
    assert eb.stale_reason(m, REPO_LEDGER) == ""
    shutil.copytree(REPO_LEDGER, tmp_path / "ledger", ignore=shutil.ignore_patterns("measurements"))
    used = m.record["ledger_entries"][1]
    samples = tmp_path / "ledger" / used["experiment"] / used["config_hash"] / "samples.npz"
    samples.write_bytes(samples.read_bytes() + b"\0")
    assert eb.stale_reason(m, tmp_path / "ledger") == f"the kept samples of {used['experiment']}/{used['config_hash']} changed"
    shutil.rmtree(samples.parent)
    assert "no longer holds" in eb.stale_reason(m, tmp_path / "ledger")
    monkeypatch.setenv("QDM_LEDGER_DIR", str(REPO_LEDGER))
    assert "STALE" not in chapter.measurement_note(m)
    monkeypatch.setenv("QDM_LEDGER_DIR", str(tmp_path / "ledger"))
    assert "; STALE: the ledger no longer holds" in chapter.measurement_note(m)


def test_gap_summary_counts_wins_on_hand_made_draws() -> None:
    import pandas as pd

    frame = pd.DataFrame({
        "kind": [eb.RANDOM_DRAW] * 4, "n": [5] * 4, "draw": range(4), "fid_quantum": [1.0, 2.0, 3.0, 4.0],
        "fid_classical": [2.0, 1.0, 4.0, 5.0], "gap": [-1.0, 1.0, -1.0, -1.0],
        "ssim_quantum": [0.2, 0.1, 0.1, 0.1], "ssim_classical": [0.1, 0.2, 0.2, 0.2],
    })
    row = eb.gap_summary(frame).iloc[0]
    assert (row["draws"], row["quantum_wins"], row["ssim_quantum_wins"], row["gap_mean"]) == (4, 0.75, 0.25, -0.5)


def test_ledger_pair_names_the_command_when_an_entry_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDM_LEDGER_DIR", str(tmp_path / "empty"))
    with pytest.raises(ValueError, match=r"no chen2025@book seed 0 .*`qdm reproduce hybrid --profile book --seeds 0 "
                                         r"--only data.classes=0 --admit`"):
        eb.ledger_pair(0)


def test_cli_remakes_the_measurements_with_one_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from qdm import cli

    calls = []

    def fake(out_dir: Path, cache_dir: Path) -> dict[str, Path]:
        calls.append((Path(out_dir), Path(cache_dir)))
        return {eb.BIAS_NAME: Path(out_dir) / f"{eb.BIAS_NAME}.csv"}

    monkeypatch.setattr(eb, "measure_estimator_bias", fake)
    assert eb.MEASURE_COMMAND.split()[1:] == ["audit", "estimator-bias"]
    assert cli.main(["audit", "estimator-bias", "--out", str(tmp_path / "m"), "--results", str(tmp_path / "r")]) == 0
    assert calls == [(tmp_path / "m", tmp_path / "r" / "features")]
    assert f"{eb.BIAS_NAME}.csv" in capsys.readouterr().out
