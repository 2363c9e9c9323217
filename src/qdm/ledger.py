"""The results ledger: a committed, compact, read-only record of finished runs, served under the local store.

A ledger entry is ``<ledger>/<experiment>/<config-hash>/`` holding what a reader and a notebook need, and
nothing heavy:

===================  ========================================================================
``config.json``      the resolved config (``qdm.config.from_dict`` rebuilds it exactly)
``identity.json``    the md5 of every data file the run read, and the torch thread count
``metrics.json``     the run's metrics (with image counts and protocol names)
``losses.csv``       ``step,loss,grad_norm`` for every optimisation step
``timing.json``      training / sampling / evaluation seconds
``provenance.json``  versions, commit, machine, data source
``samples.npz``      the first :func:`kept_count` samples as uint8 (lossless at 8 bits)
``samples.png``      the same samples as a grid
``ledger.json``      how it was made: preset, profile and overrides, when and by which commit it was admitted
``DONE``             written last
===================  ========================================================================

No checkpoints and no full sample tensors. The runner serves a config from the ledger when an entry of its
config hash exists and was made from the same data (the md5s of :func:`qdm.runner.run_identity`); the
thread count it ran with is recorded and shown, not required (a re-run with another thread count gives the
same numbers up to floating-point reduction order). Anything else is trained as usual. An entry whose
``ledger.json`` names a preset and profile that the current code resolves to another hash is *stale*:
:func:`stale_entries` lists them, a test fails on them, and the book says which runs are stale.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qdm.config import ExperimentConfig, config_hash, from_dict
from qdm.grids import save_image_grid
from qdm.io import atomic_write_bytes, write_json
from qdm.presets import resolve_config
from qdm.protocols import quantise_uint8
from qdm.provenance import git_state, repo_root
from qdm.run_metrics import intended_labels

__all__ = [
    "ENTRY_FILES",
    "LEDGER_RECORD",
    "PER_LABEL",
    "SAMPLE_COUNT",
    "LedgerEntry",
    "admit",
    "entries",
    "kept_count",
    "kept_samples",
    "ledger_root",
    "lookup",
    "stale_entries",
]

#: Samples kept per entry (a lossless 8-bit grid of this many images), at least (:func:`kept_count`).
SAMPLE_COUNT = 64
#: Samples kept per requested label of a label-conditioned run (its samples cycle the labels).
PER_LABEL = 10
#: Files copied from a finished run folder into its ledger entry, unchanged.
ENTRY_FILES = ("config.json", "identity.json", "metrics.json", "losses.csv", "timing.json", "provenance.json")
DONE_NAME = "DONE"
#: The file that marks a folder as a ledger entry (how it was made).
LEDGER_RECORD = "ledger.json"


def ledger_root() -> Path | None:
    """Where the ledger lives: ``$QDM_LEDGER_DIR`` ("" or "none" turns it off), else ``<repo>/ledger`` if present."""
    env = os.environ.get("QDM_LEDGER_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "none") else Path(env).expanduser().resolve()
    root = repo_root()
    return (root / "ledger") if root is not None and (root / "ledger").is_dir() else None


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger entry: where it is, its config hash and how it was made (``ledger.json``)."""

    path: Path
    experiment: str
    config_hash: str
    made_by: dict[str, Any]

    @property
    def metrics(self) -> dict[str, Any]:
        return json.loads((self.path / "metrics.json").read_text())

    @property
    def identity(self) -> dict[str, Any]:
        return json.loads((self.path / "identity.json").read_text())

    def samples(self) -> np.ndarray:
        """The kept samples, uint8 (n, C, H, W)."""
        with np.load(self.path / "samples.npz") as data:
            return data["samples"]


def _entry(path: Path) -> LedgerEntry:
    made_by = json.loads((path / LEDGER_RECORD).read_text())
    return LedgerEntry(path=path, experiment=path.parent.name, config_hash=path.name, made_by=made_by)


def entries(root: Path | None = None) -> list[LedgerEntry]:
    """Every finished entry of the ledger (sorted by experiment, then hash); [] when there is no ledger."""
    root = ledger_root() if root is None else Path(root)
    if root is None or not root.is_dir():
        return []
    found = [p for p in sorted(root.glob("*/*")) if (p / DONE_NAME).is_file()]
    return [_entry(p) for p in found]


def lookup(experiment: str, digest: str, data: dict[str, Any], root: Path | None = None) -> LedgerEntry | None:
    """The entry of (experiment, config hash) made from the same data files (their md5s), or None."""
    root = ledger_root() if root is None else Path(root)
    if root is None:
        return None
    path = root / experiment / digest
    if not (path / DONE_NAME).is_file():
        return None
    entry = _entry(path)
    return entry if entry.identity.get("data") == data else None


def kept_samples(path: Path) -> torch.Tensor:
    """A ledger entry's kept samples as float (n, C, H, W) in [0, 1] (8-bit, as stored)."""
    return torch.from_numpy(_entry(Path(path)).samples()).float() / 255.0


def kept_count(cfg: ExperimentConfig) -> int:
    """How many of a run's first samples its entry keeps: :data:`SAMPLE_COUNT`, or for a label-conditioned run over
    k labels (sample i requests label i mod k, :func:`qdm.run_metrics.intended_labels`) :data:`PER_LABEL` of each
    label when that is more (k = 10: a 10×10 grid)."""
    labels = intended_labels(cfg, 1)
    k = len(cfg.data.classes) if labels is not None else 1
    return max(SAMPLE_COUNT, PER_LABEL * k) if k > 1 else SAMPLE_COUNT


def _quantised(samples_pt: Path, count: int) -> np.ndarray:
    """The first ``count`` samples of a run's ``samples.pt`` as uint8 (n, C, H, W)."""
    samples = torch.load(samples_pt, map_location="cpu", weights_only=True)[:count]
    return quantise_uint8(samples).numpy()


def admit(run_dir: str | os.PathLike[str], made_by: dict[str, Any], root: Path | None = None) -> LedgerEntry:
    """Check a finished run folder and copy its compact record into the ledger (atomically, entry by entry).

    Checks: the run is finished (``DONE``), its config rebuilds to its folder's hash, its metrics are finite JSON,
    and it records its identity. ``made_by``: ``{"preset": ..., "profile": ..., "overrides": [...]}``.
    """
    run_dir = Path(run_dir)
    root = ledger_root() if root is None else Path(root)
    if root is None:
        raise ValueError("no ledger: set QDM_LEDGER_DIR or create <repo>/ledger")
    if not (run_dir / DONE_NAME).is_file():
        raise ValueError(f"{run_dir} is not a finished run (no {DONE_NAME}); finish it before admitting it")
    missing = [name for name in (*ENTRY_FILES, "samples.pt") if not (run_dir / name).is_file()]
    if missing:
        raise ValueError(f"{run_dir} lacks {', '.join(missing)}; re-run it with this qdm before admitting it")
    cfg = from_dict(json.loads((run_dir / "config.json").read_text()))
    if config_hash(cfg) != run_dir.name:
        raise ValueError(f"{run_dir}: its config hashes to {config_hash(cfg)}, not to its folder name")
    json.dumps(json.loads((run_dir / "metrics.json").read_text()), allow_nan=False)
    if set(made_by) - {"preset", "profile", "overrides", "chapter"}:
        raise ValueError(f"made_by keys must be preset, profile, overrides, chapter; got {sorted(made_by)}")
    dest = root / cfg.experiment / run_dir.name
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for name in ENTRY_FILES:
            shutil.copyfile(run_dir / name, tmp / name)
        samples = _quantised(run_dir / "samples.pt", kept_count(cfg))
        np.savez_compressed(tmp / "samples.npz", samples=samples)
        git = git_state()
        record = {
            **made_by,
            "admitted": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "commit": git["commit"],
            "dirty": git["dirty"],
        }
        write_json(tmp / LEDGER_RECORD, record)
        _grid(samples, tmp / "samples.png")
        atomic_write_bytes(tmp / DONE_NAME, (record["admitted"] + "\n").encode())
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _entry(dest)


def _grid(samples: np.ndarray, path: Path) -> None:
    """The kept uint8 samples as a PNG grid (the runner's grid writer, on the same images)."""
    save_image_grid(torch.from_numpy(samples).float() / 255.0, path)


def stale_entries(root: Path | None = None) -> list[tuple[LedgerEntry, str]]:
    """Entries whose preset and profile the current code resolves to another config hash: (entry, current hash)."""
    stale = []
    for entry in entries(root):
        preset = entry.made_by.get("preset")
        if preset is None:
            continue
        overrides = [f"profile={entry.made_by['profile']}"] if entry.made_by.get("profile") else []
        current = config_hash(resolve_config(preset, [*overrides, *entry.made_by.get("overrides", [])]))
        if current != entry.config_hash:
            stale.append((entry, current))
    return stale
