"""The results store never serves numbers made from other data or another thread count, takes a lock per
run folder, checks everything that needs no trained model before training, leaves no half-made folder, and
names the damaged file (with --force) instead of a bare OSError or JSONDecodeError."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
import torch

import qdm.runner as runner
from qdm.config import apply_overrides
from qdm.runner import IDENTITY_NAME, RunStoreError, run_dir_for, run_experiment
from qdm.train import CHECKPOINT_NAME

from test_runner import tiny_experiment  # the tiny real family (an MLP DDPM on 8x8 MNIST)


@pytest.fixture()
def data_copy(tmp_path: Path, data_dir: Path) -> Path:
    """A private copy of the MNIST folder, so a test may damage it."""
    dest = tmp_path / "data"
    shutil.copytree(data_dir / "mnist", dest / "mnist")
    return dest


def _cfg(data: Path | None = None, *overrides: str):
    cfg = tiny_experiment()
    extra = [f"data.data_dir={data}"] if data is not None else []
    return apply_overrides(cfg, [*extra, *overrides])


def test_identity_records_data_checksums_and_threads(tmp_path: Path) -> None:
    cfg = _cfg()
    rec = run_experiment(cfg, results_root=tmp_path, progress=False)
    identity = json.loads((rec.run_dir / IDENTITY_NAME).read_text())
    assert identity == runner.run_identity(cfg)
    assert set(identity["data"]) == {"train", "test"} and len(identity["data"]["train"]["md5"]) == 32
    assert identity["torch_threads"] == 1


def test_finished_run_is_not_served_for_other_data(tmp_path: Path) -> None:
    cfg = _cfg()
    rec = run_experiment(cfg, results_root=tmp_path / "r", progress=False)
    path = rec.run_dir / IDENTITY_NAME
    stored = json.loads(path.read_text())
    stored["data"]["train"]["md5"] = "0" * 32  # as if made from the other accepted mnist.npz
    path.write_text(json.dumps(stored))
    with pytest.raises(RunStoreError, match=r"was made from data .* not served for other inputs: re-run with --force"):
        run_experiment(cfg, results_root=tmp_path / "r", progress=False)
    again = run_experiment(cfg, results_root=tmp_path / "r", progress=False, force=True)
    assert not again.reused and again.metrics == rec.metrics


def test_truncated_data_is_refused_before_reuse(tmp_path: Path, data_copy: Path) -> None:
    cfg = _cfg(data_copy)
    run_experiment(cfg, results_root=tmp_path / "r", progress=False)
    npz = data_copy / "mnist" / "mnist.npz"
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"mnist\.npz"):
        run_experiment(cfg, results_root=tmp_path / "r", progress=False)


def test_other_thread_count_is_not_served(tmp_path: Path) -> None:
    cfg = _cfg()
    run_experiment(cfg, results_root=tmp_path, progress=False)
    torch.set_num_threads(2)
    try:
        with pytest.raises(RunStoreError, match=r"1 torch thread\(s\), this process has 2"):
            run_experiment(cfg, results_root=tmp_path, progress=False)
    finally:
        torch.set_num_threads(1)


def test_second_process_waits_for_the_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _cfg()
    run_dir = run_dir_for(cfg, tmp_path)
    done: list = []
    with runner._RunLock(run_dir):
        worker = threading.Thread(target=lambda: done.append(run_experiment(cfg, results_root=tmp_path, progress=False)))
        worker.start()
        time.sleep(1.0)
        assert worker.is_alive() and not run_dir.exists()  # waiting, nothing trained
    worker.join(120)
    assert done and not done[0].reused
    assert "waiting for" in capsys.readouterr().err


def test_failure_before_training_leaves_no_folder(tmp_path: Path) -> None:
    cfg = _cfg(None, "images_per_class=50000")
    with pytest.raises(ValueError, match="50000"):
        run_experiment(cfg, results_root=tmp_path, progress=False)
    assert not run_dir_for(cfg, tmp_path).exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("eval.fid_real_images=5000",), r"eval.fid_real_images=5000 cannot be met: .* holds 980 images"),
        (("eval.n_samples=2000",), r"ssim_pairing='index' needs at least as many reference images \(980\)"),
        (("data.split=test",), r"trains on the very images the qdm protocol scores against"),
    ],
)
def test_checks_run_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: tuple[str, ...], message: str
) -> None:
    def no_training(*args, **kwargs):
        raise AssertionError("train() must not start before the checks")

    monkeypatch.setattr(runner, "train", no_training)
    cfg = _cfg(None, "eval.fid_real_images=980", *overrides)
    with pytest.raises(ValueError, match=message):
        run_experiment(cfg, results_root=tmp_path, progress=False)
    assert not run_dir_for(cfg, tmp_path).exists()


def test_damaged_files_are_named_with_force(tmp_path: Path) -> None:
    cfg = _cfg()
    rec = run_experiment(cfg, results_root=tmp_path, progress=False)
    (rec.run_dir / "metrics.json").write_text("")
    with pytest.raises(RunStoreError, match=r"metrics\.json is damaged \(JSONDecodeError\); re-run with --force"):
        run_experiment(cfg, results_root=tmp_path, progress=False)
    (rec.run_dir / "DONE").unlink()
    (rec.run_dir / CHECKPOINT_NAME).write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match=r"checkpoint\.pt is damaged and cannot be read .*--force"):
        run_experiment(cfg, results_root=tmp_path, progress=False)


def test_all_reference_images_is_explicit_and_recorded(tmp_path: Path) -> None:
    """fid_real_images=None takes the whole held-out set of the class and says how many and which."""
    cfg = _cfg(None, "eval.fid_real_images=null", "eval.ssim_pairing=nearest")
    rec = run_experiment(cfg, results_root=tmp_path, progress=False)
    assert rec.metrics["n_reference"] == 980  # MNIST test images of digit 0
    assert rec.metrics["reference"] == "980 held-out mnist test images of class (0,) (seed 0)"
