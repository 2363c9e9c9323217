"""The performance appendix (``notebooks/90_performance.py``): the recorded benchmark runs, read and checked.

The appendix shows what ``benchmarks/bench_simulator.py`` and ``benchmarks/bench_unet.py`` measured, never
what the build machine would measure: it reads a *benchmark record*, a folder with the scripts' own outputs

===========================  ===========================================================================
``simulator.csv``            one row per grid case x candidate (median seconds, ratio to default.qubit)
``simulator.json``           the machine (CPU, cores, threads, versions, load average, date, commit), the
                             arguments, the headline runs (alternating and steady ratios), the memory check
``unet.csv`` / ``unet.json`` the hybrid U-Net's tasks x candidates (ratio to the classical twin) and machine
``*/simulator.json``         optional further headline runs, one sub-folder per session (e.g. an idle one)
===========================  ===========================================================================

The committed record is :data:`RECORD_DIR` (``ledger/measurements/benchmarks/``); :func:`load_record`
checks every file it needs and stops at the first missing or damaged one with a one-line ``ValueError``
naming the file and the command that makes it. Nothing here times anything.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import torch
from matplotlib.figure import Figure

from qdm import circuits, provenance

__all__ = [
    "COMMANDS",
    "RECORD_DIR",
    "UNET_QUOTES",
    "BenchmarkRecord",
    "command_of",
    "equality_check",
    "grid_summary",
    "grid_table",
    "headline_runs",
    "headline_summary",
    "load_record",
    "machine_summary",
    "machine_table",
    "plot_grid",
    "record_dir",
    "record_files",
    "shown_path",
    "unet_ratio",
    "unet_summary",
    "unet_table",
]

#: The committed benchmark record, relative to the repository root.
RECORD_DIR = Path("ledger") / "measurements" / "benchmarks"
#: The script that makes each file of a record.
COMMANDS: dict[str, str] = {
    "simulator": "python benchmarks/bench_simulator.py --out {folder}",
    "unet": "python benchmarks/bench_unet.py --out {folder}",
}
BASELINE = "default.qubit"
CLASSICAL = "classical"
_SIM_COLUMNS = ("circuit", "n_qubits", "n_layers", "batch", "mode", "candidate", "median_s", "speedup_vs_default_qubit")
_UNET_COLUMNS = ("task", "n_qubits", "batch", "sample_steps", "candidate", "median_s", "ratio_vs_classical", "peak_rss_mib")
_MACHINE_KEYS = ("cpu_model", "logical_cores", "torch_threads", "torch", "load_average_start", "load_average_end")
_HEADLINE_KEYS = ("speedup", "steady_speedup", "speedup_c64", "torch_median_s", "default_qubit_median_s", "case")
#: relative tolerance of a stored ratio against the ratio of its stored medians (the CSVs keep full precision)
_RATIO_RTOL = 1e-6


@dataclass(frozen=True)
class BenchmarkRecord:
    """A checked benchmark record: the two CSVs as frames and the JSON sidecars (headlines by session label)."""

    folder: Path
    simulator: pd.DataFrame
    unet: pd.DataFrame
    simulator_meta: dict[str, Any]
    unet_meta: dict[str, Any]
    headlines: dict[str, dict[str, Any]]  # session label -> simulator.json ("grid" is the folder's own)

    def files(self) -> list[Path]:
        """Every file of the record that the appendix read (for the figures' provenance)."""
        return record_files(self.folder)


def record_dir(benchmark_dir: str) -> Path:
    """The record folder: ``""`` is the committed :data:`RECORD_DIR` of this checkout, else the path given."""
    if not isinstance(benchmark_dir, str):
        raise ValueError(f"benchmark_dir must be a path string ('' for the committed record), got {benchmark_dir!r}")
    if benchmark_dir:
        return Path(benchmark_dir).expanduser().resolve()
    root = provenance.repo_root()
    if root is None:
        raise ValueError(f"benchmark_dir: '' means <repo>/{RECORD_DIR.as_posix()}, but qdm is not run from a checkout; "
                         "pass the folder")
    return root / RECORD_DIR


def shown_path(folder: Path | str) -> str:
    """A record folder as the book shows it: relative to the repository when inside it, else as given."""
    folder, root = Path(folder).resolve(), provenance.repo_root()
    return folder.relative_to(root).as_posix() if root is not None and folder.is_relative_to(root) else str(folder)


def record_files(folder: Path | str) -> list[Path]:
    """The files a record holds: the four top-level outputs, then every ``*/simulator.json`` (sorted)."""
    folder = Path(folder)
    top = [folder / name for name in ("simulator.csv", "simulator.json", "unet.csv", "unet.json")]
    return [p for p in top if p.is_file()] + sorted(folder.glob("*/simulator.json"))


def _make(kind: str, folder: Path) -> str:
    """The command that makes a record file of ``kind`` in ``folder``."""
    return COMMANDS[kind].format(folder=folder)


def _damaged(path: Path, kind: str, folder: Path, why: str) -> ValueError:
    return ValueError(f"benchmark record {path} is damaged ({why}); re-make it with `{_make(kind, folder)}`")


def _read_json(path: Path, kind: str, folder: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _damaged(path, kind, folder, f"not JSON: {type(err).__name__}") from None
    if not isinstance(data, dict):
        raise _damaged(path, kind, folder, "not a JSON object")
    machine = data.get("machine")
    if not isinstance(machine, dict) or any(k not in machine for k in _MACHINE_KEYS):
        missing = [k for k in _MACHINE_KEYS if not isinstance(machine, dict) or k not in machine]
        raise _damaged(path, kind, folder, f"machine lacks {', '.join(missing)}")
    return data


def _check_headline(path: Path, folder: Path, data: Mapping[str, Any]) -> None:
    """The headline's per-run lists exist, agree in length and are finite positive numbers."""
    head = data.get("headline")
    if not isinstance(head, dict) or any(k not in head for k in _HEADLINE_KEYS):
        raise _damaged(path, "simulator", folder, "no headline with " + ", ".join(_HEADLINE_KEYS))
    lists = [head[k] for k in _HEADLINE_KEYS if k != "case"]
    n = len(head["speedup"])
    if n == 0 or any(not isinstance(v, list) or len(v) != n for v in lists):
        raise _damaged(path, "simulator", folder, "the headline's per-run lists are empty or of different lengths")
    if any(not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0 for v in lists for x in v):
        raise _damaged(path, "simulator", folder, "a headline number is not a finite positive number")
    for i in range(n):
        if not math.isclose(head["default_qubit_median_s"][i] / head["torch_median_s"][i], head["speedup"][i],
                            rel_tol=_RATIO_RTOL):
            raise _damaged(path, "simulator", folder, f"headline run {i + 1}: speedup is not default.qubit / torch")


def _read_csv(path: Path, kind: str, folder: Path, columns: tuple[str, ...], ratio: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise _damaged(path, kind, folder, f"not a CSV table: {type(err).__name__}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise _damaged(path, kind, folder, f"no column {', '.join(missing)}")
    if frame.empty:
        raise _damaged(path, kind, folder, "no rows")
    numbers = frame[["median_s", ratio]]
    if numbers.isna().any().any() or not (numbers.to_numpy(dtype=float) > 0).all():
        raise _damaged(path, kind, folder, "a median or ratio is missing or not positive")
    return frame


def _check_ratios(frame: pd.DataFrame, path: Path, kind: str, folder: Path) -> None:
    """Each stored ratio is the reference candidate's median over the candidate's median (or the inverse)."""
    keys, ref, col = (
        (["circuit", "n_qubits", "n_layers", "batch", "mode"], BASELINE, "speedup_vs_default_qubit")
        if kind == "simulator" else (["task", "n_qubits", "batch", "sample_steps"], CLASSICAL, "ratio_vs_classical")
    )
    for case, rows in frame.groupby(keys):
        base = rows[rows.candidate == ref]
        if base.empty:
            raise _damaged(path, kind, folder, f"case {case} has no {ref} row")
        b = float(base.median_s.iloc[0])
        want = b / rows.median_s if kind == "simulator" else rows.median_s / b
        if not all(math.isclose(float(w), float(g), rel_tol=_RATIO_RTOL) for w, g in zip(want, rows[col])):
            raise _damaged(path, kind, folder, f"case {case}: {col} does not match the medians")


def load_record(folder: Path | str) -> BenchmarkRecord:
    """Read and check a benchmark record (module docstring); a one-line ``ValueError`` for a missing or damaged file."""
    folder = Path(folder)
    needed = {"simulator.csv": "simulator", "simulator.json": "simulator", "unet.csv": "unet", "unet.json": "unet"}
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        kinds = dict.fromkeys(needed[m] for m in missing)
        commands = " and ".join(f"`{_make(k, folder)}`" for k in kinds)
        raise ValueError(f"benchmark record {folder} has no {', '.join(missing)}; make it with {commands}")
    sim_meta = _read_json(folder / "simulator.json", "simulator", folder)
    _check_headline(folder / "simulator.json", folder, sim_meta)
    unet_meta = _read_json(folder / "unet.json", "unet", folder)
    if not isinstance(unet_meta.get("rss_check"), dict):
        raise _damaged(folder / "unet.json", "unet", folder, "no rss_check")
    sim = _read_csv(folder / "simulator.csv", "simulator", folder, _SIM_COLUMNS, "speedup_vs_default_qubit")
    _check_ratios(sim, folder / "simulator.csv", "simulator", folder)
    unet = _read_csv(folder / "unet.csv", "unet", folder, _UNET_COLUMNS, "ratio_vs_classical")
    _check_ratios(unet, folder / "unet.csv", "unet", folder)
    headlines = {"grid": sim_meta}
    for path in sorted(folder.glob("*/simulator.json")):
        extra = _read_json(path, "simulator", path.parent)
        _check_headline(path, path.parent, extra)
        headlines[path.parent.name] = extra
    return BenchmarkRecord(folder, sim, unet, sim_meta, unet_meta, headlines)


# ------------------------------------------------------------------------------------------------ tables


def command_of(script: str, args: Mapping[str, str]) -> str:
    """The command line a sidecar's ``args`` (all strings, as the scripts store them) stand for, without ``--out``."""
    if script not in COMMANDS:
        raise ValueError(f"script must be one of {', '.join(COMMANDS)}, got {script!r}")
    parts = [f"python benchmarks/bench_{script}.py"]
    for key, value in args.items():
        if key == "out" or value in ("False", "None", "") or (key == "device" and value == "cpu"):
            continue
        flag = "--" + key.replace("_", "-")
        if value == "True":
            parts.append(flag)
        elif value.startswith("[") and value.endswith("]"):  # nargs="+" lists, e.g. --qubits [8, 16]
            parts.append(f"{flag} {' '.join(v.strip() for v in value[1:-1].split(','))}")
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


def _commit(machine: Mapping[str, Any]) -> str:
    """The commit a sidecar names (12 hex digits, '+dirty' for a modified tree), or 'not recorded'."""
    git = machine.get("git") or {}
    if not git.get("commit"):
        return "not recorded"
    return git["commit"][:12] + ("+dirty" if git.get("dirty") else "")


def _load(values: Any) -> str:
    """A load-average triple (1, 5, 15 minutes) as text."""
    return "/".join(f"{float(v):.2f}" for v in values)


def machine_table(record: BenchmarkRecord) -> pd.DataFrame:
    """One row per sidecar: script, session, date, commit, CPU, cores, torch threads, versions, load average, peak RSS."""
    rows = []
    sidecars = [("simulator", label, meta) for label, meta in record.headlines.items()] + [("unet", "grid", record.unet_meta)]
    for script, label, meta in sidecars:
        m = meta["machine"]
        rows.append({
            "script": f"bench_{script}.py", "session": label, "date": m.get("date") or "not recorded",
            "commit": _commit(m), "cpu_model": m["cpu_model"], "cores": int(m["logical_cores"]),
            "torch_threads": int(m["torch_threads"]), "torch": m["torch"], "pennylane": m.get("pennylane", "n/a"),
            "load_start": _load(m["load_average_start"]), "load_end": _load(m["load_average_end"]),
            "peak_rss_mib": float(m.get("peak_rss_mib", math.nan)),
            "command": command_of(script, meta.get("args", {})),
        })
    return pd.DataFrame(rows)


def headline_runs(record: BenchmarkRecord) -> pd.DataFrame:
    """Every headline run of every session: its alternating and steady ratios (complex128 and complex64) and medians."""
    rows = []
    for label, meta in record.headlines.items():
        head, m = meta["headline"], meta["machine"]
        for i in range(len(head["speedup"])):
            rows.append({
                "session": label, "date": m.get("date") or "not recorded", "load_start": _load(m["load_average_start"]),
                "run": i + 1, "alternating": float(head["speedup"][i]),
                "steady": float(head["steady_speedup"][i]) if head["steady_speedup"] else math.nan,
                "alternating_c64": float(head["speedup_c64"][i]),
                "torch_ms": 1e3 * float(head["torch_median_s"][i]),
                "default_qubit_ms": 1e3 * float(head["default_qubit_median_s"][i]),
            })
    return pd.DataFrame(rows)


def grid_table(simulator: pd.DataFrame, mode: str = "fwd_bwd", candidate: str = "torch") -> pd.DataFrame:
    """The StronglyEntangling grid rows of one candidate and mode: case, median seconds, speed-up over default.qubit."""
    if mode not in ("fwd", "fwd_bwd"):
        raise ValueError(f"mode must be 'fwd' or 'fwd_bwd', got {mode!r}")
    keep = simulator[(simulator.candidate == candidate) & (simulator.circuit == "sel") & (simulator["mode"] == mode)]
    if keep.empty:
        raise ValueError(f"candidate must be one of the record's candidates with {mode} rows, got {candidate!r}")
    cols = ["n_qubits", "n_layers", "batch", "median_s", "speedup_vs_default_qubit"]
    return keep[cols].sort_values(["n_qubits", "n_layers", "batch"]).reset_index(drop=True)


def unet_table(unet: pd.DataFrame) -> pd.DataFrame:
    """The U-Net rows: task, qubits, batch (images for sampling), DDIM steps, candidate, median seconds, ratio."""
    cols = ["task", "n_qubits", "batch", "sample_steps", "candidate", "median_s", "ratio_vs_classical"]
    return unet[cols].reset_index(drop=True)


def unet_ratio(unet: pd.DataFrame, task: str, candidate: str, n_qubits: int) -> float | None:
    """A candidate's time over the classical twin's for one task and qubit count; None when the record lacks it."""
    hit = unet[(unet.task == task) & (unet.candidate == candidate) & (unet.n_qubits == n_qubits)]
    return float(hit.ratio_vs_classical.iloc[0]) if len(hit) else None


# ------------------------------------------------------------------------------------------------ glued values


def _times(x: float) -> str:
    return f"{x:.1f}×"


def machine_summary(record: BenchmarkRecord) -> dict[str, str | int]:
    """The values the appendix glues about the record's machine and sessions (one key per value)."""
    machines = machine_table(record)
    grid = machines[(machines.script == "bench_simulator.py") & (machines.session == "grid")].iloc[0]
    unet = machines[machines.script == "bench_unet.py"].iloc[0]
    m = record.simulator_meta["machine"]
    out: dict[str, str | int] = {
        "cpu-model": str(m["cpu_model"]), "logical-cores": int(m["logical_cores"]), "torch-version": str(m["torch"]),
        "torch-threads": int(m["torch_threads"]), "n-sessions": len(record.headlines),
    }
    for prefix, row in (("grid", grid), ("unet", unet)):
        for field in ("date", "commit", "load_start", "load_end"):
            out[f"{prefix}-{field.replace('_', '-')}"] = str(row[field])
    return out


def headline_summary(record: BenchmarkRecord) -> dict[str, str | int]:
    """Glued headline values: target, run count, min / median / max of both ratios over every run, and the medians
    of the session at the lowest load average (at its start) and of the grid's own session."""
    runs = headline_runs(record)
    out: dict[str, str | int] = {"headline-target": f"{float(record.simulator_meta['headline']['target']):g}",
                                 "headline-runs": len(runs)}
    for key, column in (("headline", "alternating"), ("headline-steady", "steady")):
        out.update({f"{key}-min": _times(runs[column].min()), f"{key}-max": _times(runs[column].max()),
                    f"{key}-median": _times(runs[column].median())})
    loads = {label: float(meta["machine"]["load_average_start"][0]) for label, meta in record.headlines.items()}
    calm = min(loads, key=loads.__getitem__)
    out.update({"calm-session": calm, "calm-load": f"{loads[calm]:.2f}"})
    for prefix, session in (("calm", calm), ("grid-headline", "grid")):
        rows = runs[runs.session == session]
        out.update({f"{prefix}-median": _times(rows.alternating.median()),
                    f"{prefix}-steady-median": _times(rows.steady.median())})
    return out


def grid_summary(simulator: pd.DataFrame) -> dict[str, str]:
    """Glued grid values: min / median / max speed-up of the torch candidate, forward + backward and forward only."""
    out = {}
    for key, mode in (("speedup-grid", "fwd_bwd"), ("speedup-fwd", "fwd")):
        s = grid_table(simulator, mode).speedup_vs_default_qubit
        out.update({f"{key}-min": _times(s.min()), f"{key}-median": _times(s.median()), f"{key}-max": _times(s.max())})
    return out


#: glue key -> (task, candidate, "smallest" or "largest" qubit count) of the U-Net ratios the appendix quotes
UNET_QUOTES: dict[str, tuple[str, str, str]] = {
    "unet-ratio-torch": ("train_step", "quantum-torch", "smallest"),
    "unet-ratio-torch-largest": ("train_step", "quantum-torch", "largest"),
    "unet-ratio-pennylane": ("train_step", "quantum-pennylane", "smallest"),
    "unet-ratio-pennylane-largest": ("train_step", "quantum-pennylane", "largest"),
    "unet-ratio-sel": ("train_step", "quantum-torch-sel", "smallest"),
    "unet-ratio-sel-largest": ("train_step", "quantum-torch-sel", "largest"),
    "unet-ratio-ry-largest": ("train_step", "quantum-torch-ry", "largest"),
    "unet-ratio-ry-sv-largest": ("train_step", "quantum-torch-ry-sv", "largest"),
    "unet-sample-ratio": ("sample", "quantum-torch", "largest"),
    "unet-sample-ratio-sel": ("sample", "quantum-torch-sel", "largest"),
    "unet-sample-ratio-ry": ("sample", "quantum-torch-ry", "largest"),
    "unet-many-ratio-ry": ("sample_many", "quantum-torch-ry", "largest"),
}


def unet_summary(record: BenchmarkRecord) -> dict[str, str]:
    """Glued U-Net values (:data:`UNET_QUOTES`, "not in the record" where a row is absent), RSS growth and peak."""
    ns = sorted(int(n) for n in record.unet.n_qubits.unique())
    out = {}
    for key, (task, candidate, which) in UNET_QUOTES.items():
        n = ns[0] if which == "smallest" else ns[-1]
        value = unet_ratio(record.unet, task, candidate, n)
        out[key] = f"{value:.2f}× (n={n})" if value is not None else f"not in the record (n={n})"
    checks = [r for r in (record.simulator_meta.get("rss_check"), record.unet_meta.get("rss_check")) if r]
    out["rss-growth-mib"] = f"{max(float(r['growth_mib']) for r in checks):.1f}"
    out["peak-rss-mib"] = f"{float(record.unet.peak_rss_mib.max()):.0f}"
    return out


def plot_grid(fwd_bwd: pd.DataFrame, target: float) -> Figure:
    """Speed-up over default.qubit against batch, one line per (qubits, layers), with the target as a dashed line."""
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    for (n, layers), sub in fwd_bwd.groupby(["n_qubits", "n_layers"]):
        ax.plot(sub.batch, sub.speedup_vs_default_qubit, marker="o", label=f"n={n}, L={layers}")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.axhline(target, color="red", lw=0.8, ls="--", label=f"target {target:g}×")
    ax.set(xscale="log", yscale="log", xlabel="batch", ylabel="speed-up over default.qubit")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------ correctness


def equality_check(n_qubits: int, batch: int, seed: int, n_layers: int = 2) -> tuple[float, float]:
    """Largest |difference| of ⟨Z⟩ and of the gradients of Σ⟨Z⟩ (inputs and weights) between the torch backend and
    PennyLane default.qubit, for the benchmark circuit (RX embedding + StronglyEntangling, complex128)."""
    ansatz = circuits.StronglyEntangling(n_layers)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, n_qubits, generator=gen, dtype=torch.float64) * 2 * math.pi
    w = torch.rand(ansatz.weight_shape(n_qubits), generator=gen, dtype=torch.float64) * 2 * math.pi
    results = []
    for backend in ("pennylane", "torch"):
        xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
        out = circuits.run_expval(circuits.AngleEmbedding("X"), ansatz, xg, wg, n_qubits, backend)
        out.sum().backward()
        results.append((out.detach(), xg.grad, wg.grad))
    (ref, rx, rw), (mine, mx, mw) = results
    return float((ref - mine).abs().max()), float(max((rx - mx).abs().max(), (rw - mw).abs().max()))
