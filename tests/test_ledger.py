"""The results ledger: admission checks, serving a config from the committed record without training (only
for the same data), its kept samples, and stale entries detected; plus the committed ledger itself: every
entry current, and the smoke-profile entries reproduced bit for bit by a fresh run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import qdm.runner as runner
from qdm import ledger, provenance
from qdm.config import config_hash, from_dict
from qdm.presets import get_preset, resolve_config
from qdm.provenance import repo_root
from qdm.runner import run_experiment, run_samples

from test_runner import tiny_experiment  # the tiny real family (an MLP DDPM on 8x8 MNIST)

REPO_LEDGER = Path(__file__).resolve().parents[1] / "ledger"


@pytest.fixture()
def admitted(tmp_path: Path):
    """A finished tiny run admitted into a ledger under tmp_path."""
    rec = run_experiment(tiny_experiment(), results_root=tmp_path / "results", progress=False)
    entry = ledger.admit(rec.run_dir, {"chapter": "test"}, root=tmp_path / "ledger")
    return rec, entry, tmp_path / "ledger"


def test_admission_keeps_the_compact_record(admitted) -> None:
    rec, entry, _ = admitted
    names = sorted(p.name for p in entry.path.iterdir())
    assert names == sorted([*ledger.ENTRY_FILES, "samples.npz", "samples.png", ledger.LEDGER_RECORD, "DONE"])
    assert entry.metrics == rec.metrics and entry.config_hash == rec.config_hash
    kept = entry.samples()
    full = torch.load(rec.run_dir / "samples.pt", weights_only=True)
    assert kept.dtype == np.uint8 and kept.shape == tuple(full.shape)  # 4 samples < SAMPLE_COUNT
    assert np.array_equal(kept, (full.clamp(0, 1) * 255).round().to(torch.uint8).numpy())
    assert sum(p.stat().st_size for p in entry.path.iterdir()) < 200_000


def test_a_label_conditioned_entry_keeps_ten_samples_of_every_label() -> None:
    """Samples of a conditioned run cycle the labels, so the first 10·k are ten of each (a 10×10 grid for MNIST);
    one-digit and unconditioned runs keep SAMPLE_COUNT."""
    from qdm.presets import resolve_config
    from qdm.run_metrics import intended_labels

    cond = resolve_config("cacioppo2023-cond-latent", ["profile=smoke"])
    assert ledger.kept_count(cond) == 100 == ledger.PER_LABEL * 10
    assert torch.bincount(intended_labels(cond, ledger.kept_count(cond))).tolist() == [10] * 10
    assert ledger.kept_count(resolve_config("cacioppo2025-full", ["profile=smoke"])) == ledger.SAMPLE_COUNT  # 0/1, free
    assert ledger.kept_count(resolve_config("chen2025", ["profile=smoke"])) == ledger.SAMPLE_COUNT
    two = resolve_config("cacioppo2023-cond-latent", ["profile=smoke", "data.classes=0,1"])
    assert ledger.kept_count(two) == ledger.SAMPLE_COUNT  # 2 labels · 10 < 64


def test_admission_refuses_unfinished_or_mislabelled_runs(admitted, tmp_path: Path) -> None:
    rec, _, root = admitted
    broken = tmp_path / "copy" / rec.run_dir.name
    shutil.copytree(rec.run_dir, broken)
    (broken / "DONE").unlink()
    with pytest.raises(ValueError, match="is not a finished run"):
        ledger.admit(broken, {}, root=root)
    renamed = broken.with_name("0" * 12)
    broken.rename(renamed)
    (renamed / "DONE").write_text("x\n")
    with pytest.raises(ValueError, match="hashes to .*not to its folder name"):
        ledger.admit(renamed, {}, root=root)


def test_served_from_the_ledger_without_training(admitted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec, entry, root = admitted
    monkeypatch.setenv("QDM_LEDGER_DIR", str(root))

    def no_training(*args, **kwargs):
        raise AssertionError("a config in the ledger must not be trained")

    monkeypatch.setattr(runner, "train", no_training)
    served = run_experiment(tiny_experiment(), results_root=tmp_path / "fresh", progress=False)
    assert served.reused and served.run_dir == entry.path and served.metrics == rec.metrics
    assert served.losses == rec.losses
    assert torch.equal(run_samples(served), torch.from_numpy(entry.samples()).float() / 255)
    with pytest.raises(runner.RunStoreError, match="ledger entry, which keeps no weights"):
        runner.load_trained_model(served)
    assert not (tmp_path / "fresh" / "tiny-runner").exists()


def test_not_served_for_other_data(admitted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, entry, root = admitted
    identity = json.loads((entry.path / "identity.json").read_text())
    identity["data"]["train"]["md5"] = "f" * 32
    (entry.path / "identity.json").write_text(json.dumps(identity))
    monkeypatch.setenv("QDM_LEDGER_DIR", str(root))
    again = run_experiment(tiny_experiment(), results_root=tmp_path / "fresh", progress=False)
    assert not again.reused and again.run_dir != entry.path


def test_stale_entries_are_listed(tmp_path: Path) -> None:
    current = config_hash(get_preset("koelle2024", "smoke"))
    for digest in (current, "0123456789ab"):
        path = tmp_path / "koelle2024" / digest
        path.mkdir(parents=True)
        (path / ledger.LEDGER_RECORD).write_text(json.dumps({"preset": "koelle2024", "profile": "smoke"}))
        (path / "DONE").write_text("x\n")
    stale = ledger.stale_entries(tmp_path)
    assert [(e.config_hash, now) for e, now in stale] == [("0123456789ab", current)]


# ----------------------------------------------------------------------------------- the committed ledger


def _committed() -> list[ledger.LedgerEntry]:
    return ledger.entries(REPO_LEDGER)


def test_committed_ledger_is_current_and_small() -> None:
    assert repo_root() is not None
    stale = ledger.stale_entries(REPO_LEDGER)
    assert not stale, [f"{e.experiment}/{e.config_hash} is stale (now {now})" for e, now in stale]
    for entry in _committed():
        cfg = from_dict(json.loads((entry.path / "config.json").read_text()))
        assert config_hash(cfg) == entry.config_hash
    size = sum(p.stat().st_size for p in REPO_LEDGER.rglob("*") if p.is_file()) if REPO_LEDGER.is_dir() else 0
    assert size < 30 * 2**20


#: Metrics of qdm's classifier (:mod:`qdm.classifier`), which is trained where it is first needed.
CLASSIFIER_METRICS = ("classifier_", "pr_classifier_")
SMOKE = [e for e in _committed() if e.made_by.get("profile") == "smoke"]


@pytest.mark.skipif(not SMOKE, reason="the ledger holds no smoke-profile entry")
@pytest.mark.parametrize("entry", SMOKE[:1], ids=lambda e: f"{e.experiment}-{e.config_hash}")
def test_smoke_entry_reproduces_bit_for_bit(entry: ledger.LedgerEntry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDM_LEDGER_DIR", "none")
    made = entry.made_by
    cfg = resolve_config(made["preset"], [f"profile={made['profile']}", *made.get("overrides", [])])
    torch.set_num_threads(entry.identity["torch_threads"])
    try:
        fresh = run_experiment(cfg, results_root=tmp_path, progress=False)
    finally:
        torch.set_num_threads(1)
    assert not fresh.reused
    made_on = json.loads((entry.path / "provenance.json").read_text())["record"].get("cpu")
    if made_on == provenance.cpu_description():
        assert fresh.metrics == entry.metrics  # the same processor and kernel set: bit for bit
        return
    # Another processor (or an entry that predates the record of it): oneDNN and ATen run other kernels, so the
    # Inception features and the SSIM agree to rounding only, and qdm's classifier, trained on this machine, is
    # another network (its cache is keyed by data and code, not by processor): its metrics are not compared.
    assert set(fresh.metrics) == set(entry.metrics)
    for key, value in entry.metrics.items():
        if key.startswith(CLASSIFIER_METRICS):
            continue
        if isinstance(value, float):
            assert fresh.metrics[key] == pytest.approx(value, rel=1e-5, abs=1e-9), key
        else:
            assert fresh.metrics[key] == value, key
