"""The qdm command fails in one line naming the parameter or file (exit 2 for bad input, 1 otherwise, 130 on
Ctrl-C), shows a traceback only with --debug, and bounds what it is asked to build."""

from __future__ import annotations

from pathlib import Path

import pytest

import qdm.runner as runner
from qdm import cli
from qdm.train import CHECKPOINT_NAME


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err


def test_huge_seed_range_is_refused_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "hybrid-mnist", "--seeds", "0-2147483647"]) == 2
    expected = f"qdm: error: --seeds names more than {cli.MAX_SEEDS} seeds (each is a run), got '0-2147483647'"
    assert _err(capsys).strip() == expected
    assert cli.parse_seeds("0-999") == tuple(range(1000))


def test_empty_results_folder_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "hybrid-mnist", "--results="]) == 2
    assert "--results must name a folder" in _err(capsys)


def test_unexpected_failure_is_one_line_unless_debug(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def boom(*args, **kwargs):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(runner, "run_many", boom)
    assert cli.main(["run", "hybrid-mnist", "steps=1"]) == 1
    err = _err(capsys)
    assert err == "qdm: error: OSError: [Errno 22] Invalid argument (run with --debug for the traceback)\n"
    assert cli.main(["--debug", "run", "hybrid-mnist", "steps=1"]) == 1
    assert "Traceback (most recent call last)" in _err(capsys)


def test_ctrl_c_names_the_checkpoint_a_rerun_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = cli._resolve("hybrid-mnist", [])
    run_dir = runner.run_dir_for(cfg, tmp_path)

    def interrupted(*args, **kwargs):
        run_dir.mkdir(parents=True)
        import torch

        torch.save({"format": 1, "step": 7}, run_dir / CHECKPOINT_NAME)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_many", interrupted)
    monkeypatch.setattr("qdm.train.load_checkpoint", lambda path: {"step": 7})
    assert cli.main(["run", "hybrid-mnist", "--results", str(tmp_path)]) == 130
    err = _err(capsys)
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"re-run the same command to resume from {run_dir / CHECKPOINT_NAME} (step 7)" in err


def test_unreachable_dask_scheduler_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runner, "DASK_CONNECT_TIMEOUT_S", 1)
    assert cli.main(["run", "hybrid-mnist", "steps=1", "--engine", "dask", "--address", "tcp://127.0.0.1:9"]) == 2
    err = _err(capsys)
    assert err.startswith("qdm: error: --address tcp://127.0.0.1:9: no Dask scheduler answered within 1 s")
    assert err.count("\n") == 1
