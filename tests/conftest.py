"""Shared test fixtures: the data directory is ../shared/data unless QDM_DATA_DIR says otherwise."""

import os
from pathlib import Path

import pytest
import torch

import qdm.presets  # noqa: F401 - registers the families, experiments and presets, as the cli and the chapter code do

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_DATA = REPO.parent / "shared" / "data"
os.environ.setdefault("QDM_DATA_DIR", str(_DEFAULT_DATA))
# The suite trains fresh: a committed ledger entry is never served to a test unless it asks for one.
os.environ.setdefault("QDM_LEDGER_DIR", "none")

# The suite runs under pytest-xdist with one worker per core: one intra-op thread each avoids
# oversubscribing the 2 CI cores (small ops ran ~25x slower with 2 threads per worker).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data directory (MNIST + PathMNIST subset) the suite runs on."""
    path = Path(os.environ["QDM_DATA_DIR"])
    if not path.is_dir():
        pytest.fail(f"QDM_DATA_DIR={path} does not exist; point it at the shared data directory")
    return path
