"""Figure provenance: what produced a figure, saved beside it and shown under its caption.

A *record* is a JSON-serialisable dict describing one computation: the parameters and seed,
the qdm version and a hash of its sources, the git commit (and whether the tree was dirty),
the library versions, the platform and time, and the md5 of every data file read.
:func:`save_figure` writes a figure as PNG + SVG with that record as a JSON sidecar (and the
plotted data as CSV), all or nothing; :func:`caption_note` condenses a record into the one
line printed under the figure in the book (docs/style.md, "What none of them has", item 1).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import qdm
from qdm import io as qio

__all__ = [
    "RECORD_SCHEMA",
    "caption_note",
    "cpu_description",
    "data_fingerprint",
    "file_md5",
    "git_state",
    "inputs_fingerprint",
    "lock_hash",
    "package_versions",
    "record",
    "repo_root",
    "results_dir",
    "save_figure",
    "source_hash",
]

RECORD_SCHEMA = "qdm.provenance/1"
_PACKAGES = ("torch", "pennylane", "numpy", "scipy", "matplotlib", "seaborn", "pandas", "torchmetrics")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_CHUNK = 1 << 20


def _package_dir() -> Path:
    """The directory holding the imported qdm package."""
    return Path(qdm.__file__).resolve().parent


def repo_root() -> Path | None:
    """The git checkout that holds the imported qdm sources (src layout), or None if installed elsewhere."""
    for parent in _package_dir().parents:
        if (parent / ".git").exists() and (parent / "pyproject.toml").is_file():
            return parent
    return None


def results_dir() -> Path:
    """Where generated artefacts go: $QDM_RESULTS_DIR, else <repo>/results, else ./results."""
    env = os.environ.get("QDM_RESULTS_DIR")
    if env:
        return Path(env).expanduser().resolve()
    root = repo_root()
    return (root / "results") if root is not None else Path.cwd().resolve() / "results"


def file_md5(path: Path | str) -> str:
    """md5 hex digest of a file's bytes (the checksum PROVENANCE.md and MedMNIST publish), never cached.

    :func:`qdm.io.file_md5` with ``cached=False``: figures are rewritten in place within one process, so
    a cached digest keyed on size and mtime could go stale; a missing file is a ``ValueError`` naming it.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"data_files: {str(p)!r} is not a readable file")
    return qio.file_md5(p, cached=False)


def _tree_hash(files: Iterable[tuple[str, Path]]) -> str:
    """sha256 over (relative name, content) pairs in name order."""
    digest = hashlib.sha256()
    for name, path in sorted(files):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def source_hash(package_dir: Path | str | None = None) -> str:
    """sha256 of every ``*.py`` file of the qdm package (path + bytes), so edits to src/qdm change it."""
    base = Path(package_dir) if package_dir is not None else _package_dir()
    if not base.is_dir():
        raise ValueError(f"package_dir: {str(base)!r} is not a directory")
    files = [
        (p.relative_to(base).as_posix(), p)
        for p in base.rglob("*.py")
        if "__pycache__" not in p.parts
    ]
    return _tree_hash(files)


def lock_hash() -> str | None:
    """sha256 of the checkout's requirements.lock (the pinned environment), or None if there is none."""
    root = repo_root()
    if root is None or not (root / "requirements.lock").is_file():
        return None
    return hashlib.sha256((root / "requirements.lock").read_bytes()).hexdigest()


def data_fingerprint() -> dict[str, str]:
    """md5 of every qdm.data registry file present in the data directory (relative path -> md5)."""
    from qdm import data  # numpy-only import, needed only here

    root = data.resolve_data_dir()
    found: dict[str, str] = {}
    for entry in data.DATA_HUB.values():
        path = root / entry.relpath
        if path.is_file():
            found[entry.relpath] = data.file_md5(path)
    return dict(sorted(found.items()))


def inputs_fingerprint() -> dict[str, Any]:
    """What a notebook's cached outputs depend on besides its cells: qdm sources, the lock, the data files."""
    fingerprint = data_fingerprint()
    data_hash = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()
    return {"source_hash": source_hash(), "lock_hash": lock_hash(), "data_hash": data_hash}


def _git(root: Path, *args: str) -> str | None:
    """Run a read-only git command in ``root``; None when git is missing or fails."""
    try:
        out = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_state() -> dict[str, Any]:
    """Commit and dirty flag of the qdm checkout (dirty: tracked changes or untracked, non-ignored files), if any."""
    root = repo_root()
    commit = _git(root, "rev-parse", "HEAD") if root is not None else None
    if root is None or not commit:
        return {"available": False, "commit": None, "dirty": None, "untracked": None}
    status = _git(root, "status", "--porcelain", "--untracked-files=all") or ""
    lines = [line for line in status.splitlines() if line.strip()]
    untracked = sum(1 for line in lines if line.startswith("??"))
    return {"available": True, "commit": commit, "dirty": bool(lines), "untracked": untracked}


@lru_cache(maxsize=1)
def cpu_description() -> dict[str, str | None]:
    """The processor a run's numbers were computed on: its model name (``/proc/cpuinfo``; ``platform.processor()``
    elsewhere) and the kernel set torch dispatches to (``torch.backends.cpu.get_cpu_capability()``, e.g. AVX2,
    AVX512). Bit-identical CPU results are only expected on the same processor and kernel set: oneDNN and ATen pick
    other kernels, with another floating-point summation order, on another one."""
    model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), None)
    except OSError:
        pass
    try:
        import torch

        capability = str(torch.backends.cpu.get_cpu_capability())
    except ImportError:
        capability = None
    return {"model": model or platform.processor() or None, "capability": capability}


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str | None]:
    """Installed versions of qdm's main dependencies (None where one is not installed)."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _jsonable(value: Any, name: str) -> Any:
    """Convert parameter values to plain JSON types (Path -> str, tuples -> lists, numpy scalars -> Python)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"params: {name} = {value!r} is not a finite number")
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{name}[{i}]") for i, v in enumerate(value)]
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item) and getattr(value, "ndim", None) == 0:
        return _jsonable(item(), name)
    raise ValueError(
        f"params: {name} has type {type(value).__name__}; allowed: None, bool, int, float, str, Path, "
        "lists/tuples/dicts of these, or 0-d numpy/torch scalars"
    )


def _check_seed(seed: Any) -> int | None:
    """A seed is None or a non-negative int."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")
    return seed


def record(
    params: Mapping[str, Any],
    seed: int | None,
    data_files: Iterable[Path | str] | None = None,
    producer: str | None = None,
) -> dict[str, Any]:
    """Provenance record of one computation (docs/style.md item 1): params, seed, code, env, data md5s.

    ``producer`` names what made it (e.g. the notebook path relative to the repository).
    """
    if producer is not None and (not isinstance(producer, str) or not producer):
        raise ValueError(f"producer must be a non-empty string or None, got {producer!r}")
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a mapping of parameter name -> value, got {type(params).__name__}")
    seed = _check_seed(seed)
    clean_params = {str(k): _jsonable(v, str(k)) for k, v in params.items()}
    if data_files is not None and isinstance(data_files, (str, Path)):
        raise ValueError("data_files must be a list of paths, not a single path")
    files = [Path(f) for f in (data_files or [])]
    data = [{"path": str(f.resolve()), "name": f.name, "md5": file_md5(f), "bytes": f.stat().st_size} for f in files]
    return {
        "schema": RECORD_SCHEMA,
        "producer": producer,
        "params": clean_params,
        "seed": seed,
        "qdm_version": qdm.__version__,
        "source_hash": source_hash(),
        "lock_hash": lock_hash(),
        "git": git_state(),
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "cpu": dict(cpu_description()),
        "versions": package_versions(),
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "data": data,
    }


def _format_value(value: Any) -> str:
    """Compact text for one parameter value in a caption."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ",".join(_format_value(v) for v in value) + "]"
    return str(value)


def caption_note(record: Mapping[str, Any]) -> str:
    """One line for under a figure: params, seed, data md5 prefixes, qdm version, commit (+dirty)."""
    missing = [k for k in ("params", "seed", "qdm_version", "git", "data", "source_hash") if k not in record]
    if missing:
        raise ValueError(f"record is missing {missing}; build it with qdm.provenance.record()")
    params = ", ".join(f"{k}={_format_value(v)}" for k, v in record["params"].items()) or "none"
    parts = [f"params: {params}", f"seed {record['seed']}"]
    if record["data"]:
        parts.append("data md5 " + ", ".join(f"{d['name']}:{d['md5'][:8]}" for d in record["data"]))
    git = record["git"]
    if git.get("available"):
        commit = f"commit {git['commit'][:7]}" + (" (dirty)" if git.get("dirty") else "")
    else:
        commit = "no git"
    parts.append(f"qdm {record['qdm_version']} src {record['source_hash'][:8]}, {commit}")
    return "; ".join(parts) + "."


def _write_temp(out_dir: Path, suffix: str, write: Any) -> Path:
    """Create a hidden temp file in ``out_dir`` and let ``write(path)`` fill it; the caller renames it."""
    fd, tmp = tempfile.mkstemp(prefix=".qdm-", suffix=suffix, dir=out_dir)
    os.close(fd)
    path = Path(tmp)
    try:
        write(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _save_svg(fig: Any, path: Path) -> None:
    """SVG without a date and with a fixed id salt, so equal figures give equal bytes."""
    import matplotlib  # only needed when saving

    with matplotlib.rc_context({"svg.hashsalt": "qdm"}):
        fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None})


def save_figure(
    fig: Any,
    name: str,
    out_dir: Path | str,
    record: Mapping[str, Any],
    data: Any | None = None,
    dpi: int = 150,
) -> dict[str, Path]:
    """Write ``name``.png/.svg (+ .csv of ``data``) and the ``name``.json record, all or nothing."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"name must match {_NAME_RE.pattern} (letters, digits, '_', '.', '-'), got {name!r}")
    if not callable(getattr(fig, "savefig", None)):
        raise ValueError(f"fig must be a matplotlib Figure (something with .savefig), got {type(fig).__name__}")
    if not isinstance(record, Mapping) or "params" not in record:
        raise ValueError("record must be a provenance record from qdm.provenance.record()")
    if data is not None and not callable(getattr(data, "to_csv", None)):
        raise ValueError(f"data must be a pandas DataFrame/Series or None, got {type(data).__name__}")
    if isinstance(dpi, bool) or not isinstance(dpi, int) or dpi < 1:
        raise ValueError(f"dpi must be a positive integer, got {dpi!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    writers: dict[str, Any] = {
        "png": lambda p: fig.savefig(p, format="png", dpi=dpi, metadata={"Software": None}),
        "svg": lambda p: _save_svg(fig, p),
    }
    if data is not None:
        writers["csv"] = lambda p: data.to_csv(p, index=False)

    temps: dict[str, Path] = {}
    try:
        for ext, write in writers.items():
            temps[ext] = _write_temp(out, f".{ext}", write)
        sidecar = dict(record)
        sidecar["figure"] = name
        sidecar["files"] = {ext: {"file": f"{name}.{ext}", "md5": file_md5(p)} for ext, p in temps.items()}
        text = json.dumps(sidecar, indent=2, sort_keys=True) + "\n"
        temps["json"] = _write_temp(out, ".json", lambda p: p.write_text(text, encoding="utf-8"))
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise
    final: dict[str, Path] = {}
    for ext, tmp in temps.items():
        target = out / f"{name}.{ext}"
        os.replace(tmp, target)
        final[ext] = target
    return final
