"""ruff (pyproject.toml's [tool.ruff]) passes over the code, the tests, the benchmarks, the scripts and the notebooks."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PATHS = ("src", "tests", "benchmarks", "scripts", "notebooks")


def test_ruff_check_passes() -> None:
    # the ruff of this environment (requirements.lock pins it), next to its python; not resolved, since
    # a venv's python is often a link to the system interpreter
    ruff = Path(sys.executable).parent / "ruff"
    assert ruff.is_file(), f"{ruff} is missing: install the pinned ruff of requirements.lock"
    done = subprocess.run(
        [str(ruff), "check", "--no-cache", "--output-format", "concise", *PATHS],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"ruff check {' '.join(PATHS)} found errors:\n{done.stdout}{done.stderr}"
