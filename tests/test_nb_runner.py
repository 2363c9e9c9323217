"""``python -m qdm.nb run``: every failure is one line naming the notebook, parameter or cell, exit 2,
no traceback without --debug, and no output file left behind; unknown parameters are refused before
anything executes."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from qdm import nb as qnb

NOTEBOOK = '''# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
steps = 3
label: str = "a"

# %%
if steps < 1:
    raise ValueError(f"steps must be an integer >= 1, got {steps}")
from pathlib import Path
Path("ran.txt").write_text(f"{steps} {label}")
'''


@pytest.fixture()
def notebook(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.py"
    path.write_text(NOTEBOOK)
    return path


def test_parameters_are_read_from_the_tagged_cell(notebook: Path) -> None:
    nb = qnb._load(notebook)
    assert qnb.notebook_parameters(nb) == ("steps", "label")


def test_runs_and_writes_output(notebook: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "tiny.ipynb"
    assert qnb.main(["run", str(notebook), str(out), "-p", "steps", "5"]) == 0
    assert (tmp_path / "ran.txt").read_text() == "5 a"
    executed = nbformat.read(out, as_version=4)
    assert executed.metadata.papermill.parameters == {"steps": 5}
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny.ipynb"]  # no temporary left over


def test_unknown_parameter_refused_before_executing(notebook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.ipynb"
    assert qnb.main(["run", str(notebook), str(out), "-p", "stpes", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "python -m qdm.nb: error: unknown parameter(s) stpes for tiny.py; its parameters are: steps, label"
    assert not (tmp_path / "ran.txt").exists()  # nothing executed
    assert not out.exists()


def test_error_inside_notebook_is_one_line_and_leaves_no_output(
    notebook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.ipynb"
    assert qnb.main(["run", str(notebook), str(out), "-p", "steps", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "ValueError: steps must be an integer >= 1, got 0" in err and "tiny.py" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.py"]


def test_debug_flag_shows_traceback(notebook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert qnb.main(["run", str(notebook), str(tmp_path / "o.ipynb"), "-p", "steps", "0", "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.py", "o.ipynb"], "is not a file"),
        (["tiny.py", "o.txt"], "output must end in .ipynb"),
        (["tiny.txt", "o.ipynb"], "must be a jupytext .py or an .ipynb file"),
        (["tiny.py", "o.ipynb", "-f", "nope.yaml"], "parameters file 'nope.yaml' cannot be read"),
    ],
)
def test_bad_paths_are_one_line_errors(
    notebook: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    (tmp_path / "tiny.txt").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    assert qnb.main(["run", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "o.ipynb").exists()


def test_notebook_without_parameters_cell_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plain.py"
    path.write_text("# %%\nx = 1\n")
    assert qnb.main(["run", str(path), str(tmp_path / "o.ipynb")]) == 2
    assert "has no cell tagged 'parameters'" in capsys.readouterr().err
