"""Benchmark qdm's torch simulator against PennyLane (a script, not a test).

Every candidate runs the same circuit in one process, interleaved round by round, and is
reported as a ratio to PennyLane ``default.qubit`` with backprop and parameter broadcasting
(the reference backend of :mod:`qdm.circuits`).  Candidates:

* ``torch``            qdm.circuits torch backend (fused engine), complex128
* ``torch-c64``        the same in complex64
* ``torch-opbyop``     qdm.quantum.sim applied op by op with plain autograd (no fused engine)
* ``default.qubit``    the baseline
* ``lightning.qubit``  adjoint differentiation (one run per sample; capped to small cases)

Usage::

    python benchmarks/bench_simulator.py --quick            # small grid + headline
    python benchmarks/bench_simulator.py                    # medium grid + headline
    python benchmarks/bench_simulator.py --full             # n 4..12, L 1..8, B 1..256 (+ C1 at 16 qubits)
    python benchmarks/bench_simulator.py --headline-only --runs 5
    python benchmarks/bench_simulator.py --device cuda      # torch candidates on the GPU

Outputs under ``--out`` (default benchmarks/out/): ``simulator.csv`` (one row per case x
candidate), ``simulator.json`` (machine, versions, headline runs, memory check) and
``simulator.png`` (speed-up over default.qubit).  Extend the grid in :func:`bench_cases`.
"""

from __future__ import annotations

import os

# Two OpenMP runtimes (torch's and lightning's) fight over the cores unless waiting threads sleep
# (a measured slowdown otherwise); this must be set before torch or lightning is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import datetime
import gc
import json
import math
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import torch

from qdm import circuits as C
from qdm import provenance
from qdm.quantum import sim

BASELINE = "default.qubit"
HEADLINE = dict(circuit="sel", n_qubits=8, n_layers=4, batch=64, mode="fwd_bwd")


@dataclass(frozen=True)
class Case:
    """One benchmark point: a circuit family at (n, L, B), forward only or forward + backward."""

    circuit: str  # "sel": RX embedding + StronglyEntanglingLayers; "c1": RY embedding + RZ/CNOT chain
    n_qubits: int
    n_layers: int
    batch: int
    mode: str  # "fwd" (no_grad) or "fwd_bwd" (gradients to inputs and weights)


CIRCUITS: dict[str, tuple[C.Embedding, Callable[[int], C.Ansatz]]] = {
    "sel": (C.AngleEmbedding("X"), lambda L: C.StronglyEntangling(L)),
    "c1": (C.AngleEmbedding("Y"), lambda L: C.RZCNOTChain(L)),
}


def bench_cases(grid: str) -> list[Case]:
    """The benchmark grid ("quick", "medium" or "full"); add cases or circuit families here."""
    if grid == "quick":
        ns, layers, batches, extra = (4, 8), (1, 4), (1, 64), [Case("c1", 8, 3, 64, "fwd_bwd")]
    elif grid == "medium":
        ns, layers, batches, extra = (4, 6, 8, 10), (1, 4), (1, 16, 64, 256), [Case("c1", 12, 3, 64, "fwd_bwd")]
    elif grid == "full":
        ns, layers, batches = (4, 6, 8, 10, 12), (1, 2, 4, 8), (1, 4, 16, 64, 256)
        extra = [Case("c1", 16, 3, 64, mode) for mode in ("fwd", "fwd_bwd")]
    else:
        raise ValueError(f"grid must be 'quick', 'medium' or 'full', got {grid!r}")
    cases = [
        Case("sel", n, L, b, mode) for n in ns for L in layers for b in batches for mode in ("fwd", "fwd_bwd")
    ]
    return cases + extra


# ------------------------------------------------------------------------------------------------
# candidates: each returns a zero-argument step function for a case
# ------------------------------------------------------------------------------------------------
def _inputs(case: Case, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(case.n_qubits * 1000 + case.n_layers * 10 + case.batch)
    ansatz = CIRCUITS[case.circuit][1](case.n_layers)
    x = torch.rand(case.batch, case.n_qubits, generator=g, dtype=torch.float64) * 2 * math.pi
    w = torch.rand(ansatz.weight_shape(case.n_qubits), generator=g, dtype=torch.float64) * 2 * math.pi
    return x.to(device=device, dtype=dtype), w.to(device=device, dtype=dtype)


def _step(forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x, w, mode: str, sync: bool):
    """A step: forward under no_grad, or forward + backward of Σ⟨Z⟩ to inputs and weights."""

    def run() -> None:
        if mode == "fwd":
            with torch.no_grad():
                forward(x, w)
        else:
            xg, wg = x.detach().requires_grad_(), w.detach().requires_grad_()
            forward(xg, wg).sum().backward()
        if sync:
            torch.cuda.synchronize()

    return run


def torch_candidate(dtype: torch.dtype):
    """qdm.circuits' torch backend (the fused engine)."""

    def build(case: Case, device: torch.device):
        embedding, make_ansatz = CIRCUITS[case.circuit]
        ansatz = make_ansatz(case.n_layers)
        x, w = _inputs(case, device, sim.real_dtype_of(dtype))
        fwd = lambda x, w: C.run_expval(embedding, ansatz, x, w, case.n_qubits, "torch", dtype)  # noqa: E731
        return _step(fwd, x, w, case.mode, device.type == "cuda")

    return build


def torch_opbyop_candidate(case: Case, device: torch.device):
    """qdm.quantum.sim op by op with plain autograd (grouped layers + permutations, no fused engine)."""
    embedding, make_ansatz = CIRCUITS[case.circuit]
    ansatz = make_ansatz(case.n_layers)
    x, w = _inputs(case, device, torch.float64)

    def fwd(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        state = embedding.torch(x, case.n_qubits)
        if case.circuit == "c1":
            return sim.expval_z(ansatz.torch(state, w))
        mats = sim.rot(w[..., 0], w[..., 1], w[..., 2])
        return sim.expval_z(sim.rotation_cnot_layers(state, mats, ansatz.cnot_layers(case.n_qubits)))

    return _step(fwd, x, w, case.mode, device.type == "cuda")


def pennylane_candidate(case: Case, device: torch.device):
    """PennyLane default.qubit, backprop, parameter broadcasting (always on CPU): the baseline."""
    embedding, make_ansatz = CIRCUITS[case.circuit]
    ansatz = make_ansatz(case.n_layers)
    x, w = _inputs(case, torch.device("cpu"), torch.float64)
    fwd = lambda x, w: C.run_expval(embedding, ansatz, x, w, case.n_qubits, "pennylane")  # noqa: E731
    return _step(fwd, x, w, case.mode, False)


def lightning_candidate(case: Case, device: torch.device):
    """PennyLane lightning.qubit with adjoint differentiation (CPU)."""
    import pennylane as qml

    embedding, make_ansatz = CIRCUITS[case.circuit]
    ansatz = make_ansatz(case.n_layers)
    wires = list(range(case.n_qubits))
    dev = qml.device("lightning.qubit", wires=case.n_qubits)

    @qml.qnode(dev, interface="torch", diff_method="adjoint")
    def circuit(x, w):
        embedding.pennylane(x, wires)
        ansatz.pennylane(w, wires)
        return [qml.expval(qml.PauliZ(i)) for i in wires]

    x, w = _inputs(case, torch.device("cpu"), torch.float64)
    fwd = lambda x, w: torch.stack([o.reshape(-1) for o in circuit(x, w)], dim=-1)  # noqa: E731
    return _step(fwd, x, w, case.mode, False)


def lightning_allowed(case: Case) -> bool:
    """Cap lightning (one adjoint run per sample): small batches and registers only."""
    return case.batch <= 16 and case.n_qubits <= 10


CANDIDATES: dict[str, tuple[Callable, Callable[[Case], bool]]] = {
    "torch": (torch_candidate(torch.complex128), lambda c: True),
    "torch-c64": (torch_candidate(torch.complex64), lambda c: True),
    "torch-opbyop": (torch_opbyop_candidate, lambda c: True),
    BASELINE: (pennylane_candidate, lambda c: c.n_qubits <= 16),
    "lightning.qubit": (lightning_candidate, lightning_allowed),
}


# ------------------------------------------------------------------------------------------------
# timing
# ------------------------------------------------------------------------------------------------
def time_case(
    case: Case, names: list[str], device: torch.device, repeats: int, budget_s: float, calls: int = 1
) -> dict[str, list[float]]:
    """Interleaved rounds: each round runs every candidate ``calls`` times in a row.  Returns the
    seconds of each round's first call per candidate (it follows the other candidates: "alternating")
    and, when ``calls > 1``, under ``"<name>/steady"`` those of the calls that follow the same
    candidate (back-to-back calls with warm caches, what ``timeit`` measures)."""
    steps = {}
    for name in names:
        build, allowed = CANDIDATES[name]
        if allowed(case):
            steps[name] = build(case, device)
    first = {}
    for name, step in steps.items():  # warm-up (QNode construction, caches), then one timed call
        step()
        t0 = time.perf_counter()
        step()
        first[name] = time.perf_counter() - t0
    slowest = max(first.values())
    rounds = max(3, min(repeats, int(budget_s / max(slowest * len(steps) * calls, 1e-9))))
    times = {name: [first[name]] for name in steps}
    times.update({f"{name}/steady": [] for name in steps if calls > 1})
    for _ in range(rounds - 1):
        for name, step in steps.items():
            for call in range(calls):
                t0 = time.perf_counter()
                step()
                times[name if call == 0 else f"{name}/steady"].append(time.perf_counter() - t0)
    return times


def rss_growth_of(step: Callable[[], object], steps: int = 60) -> dict[str, float | bool]:
    """RSS after 10 and after ``steps`` calls of ``step`` (after a gc): growth over 8 MiB is a leak."""
    if steps <= 10:
        raise ValueError(f"rss steps must be > 10, got {steps}")
    proc = psutil.Process()
    for _ in range(10):
        step()
    gc.collect()
    rss_10 = proc.memory_info().rss
    for _ in range(steps - 10):
        step()
    gc.collect()
    rss_end = proc.memory_info().rss
    growth = (rss_end - rss_10) / 2**20
    return {"rss_after_10_mib": rss_10 / 2**20, "rss_after_end_mib": rss_end / 2**20, "growth_mib": growth, "ok": growth < 8.0}


def rss_check(case: Case, device: torch.device, steps: int = 60) -> dict[str, float | bool]:
    """RSS after 10 and after ``steps`` fwd+bwd steps of the torch candidate: it must not grow."""
    return rss_growth_of(CANDIDATES["torch"][0](case, device), steps)


def peak_rss_mib() -> float:
    """Peak resident set size of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine_info(device: torch.device) -> dict[str, object]:
    """Cores, CPU model, versions, device, date and the checkout's commit, stored beside the results."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import pennylane as qml

    try:
        from importlib.metadata import version

        lightning = version("pennylane_lightning")
    except Exception:  # noqa: BLE001
        lightning = "not installed"
    info: dict[str, object] = {
        "cpu_model": model,
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "pennylane": qml.__version__,
        "pennylane_lightning": lightning,
        "device": str(device),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "load_average_start": os.getloadavg(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git": provenance.git_state(),
    }
    if device.type == "cuda":
        info["cuda_device"] = torch.cuda.get_device_name(device)
    return info


# ------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------
def _rows(case: Case, times: dict[str, list[float]], device: torch.device) -> list[dict[str, object]]:
    base = statistics.median(times[BASELINE]) if BASELINE in times else float("nan")
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append(
            {
                **asdict(case),
                "candidate": name,
                "device": str(device) if name.startswith("torch") else "cpu",
                "dtype": "complex64" if name == "torch-c64" else "complex128",
                "median_s": med,
                "min_s": min(ts),
                "repeats": len(ts),
                "speedup_vs_default_qubit": base / med,
                "peak_rss_mib": peak_rss_mib(),
            }
        )
    return rows


def headline(device: torch.device, runs: int, repeats: int, calls: int = 4) -> dict[str, object]:
    """The issue's target case, run ``runs`` times: torch vs default.qubit, fwd+bwd, complex128, in
    rounds of ``calls`` consecutive calls per candidate.  Two ratios per run: "alternating" (each
    candidate's first call of a round, right after the others ran) and "steady" (the calls after it)."""
    case = Case(**HEADLINE)
    ratios, torch_s, base_s, ratios_c64 = [], [], [], []
    steady, steady_torch_s, steady_base_s, steady_c64 = [], [], [], []
    for _ in range(runs):
        times = time_case(case, ["torch", "torch-c64", BASELINE], device, repeats, budget_s=1e9, calls=calls)
        med = {name: statistics.median(ts) for name, ts in times.items()}
        ratios.append(med[BASELINE] / med["torch"])
        ratios_c64.append(med[BASELINE] / med["torch-c64"])
        torch_s.append(med["torch"])
        base_s.append(med[BASELINE])
        if calls > 1:
            steady.append(med[f"{BASELINE}/steady"] / med["torch/steady"])
            steady_c64.append(med[f"{BASELINE}/steady"] / med["torch-c64/steady"])
            steady_torch_s.append(med["torch/steady"])
            steady_base_s.append(med[f"{BASELINE}/steady"])
    return {
        "calls_per_round": calls,
        "steady_speedup": steady,
        "steady_speedup_median": statistics.median(steady) if steady else None,
        "steady_speedup_c64": steady_c64,
        "steady_torch_median_s": steady_torch_s,
        "steady_default_qubit_median_s": steady_base_s,
        # complex64 is reported beside, not instead of, the complex128 headline (default.qubit computes in complex128)
        "speedup_c64": ratios_c64,
        "speedup_c64_median": statistics.median(ratios_c64),
        "case": asdict(case),
        "runs": runs,
        "repeats_per_run": repeats,
        "torch_median_s": torch_s,
        "default_qubit_median_s": base_s,
        "speedup": ratios,
        "speedup_median": statistics.median(ratios),
        "target": 20.0,
    }


def plot(df, path: Path) -> None:
    """Speed-up over default.qubit vs batch, one panel per (n_layers, n_qubits), line per candidate."""
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    data = df[(df.candidate != BASELINE) & (df.circuit == "sel")]
    if data.empty:
        return
    grid = sns.relplot(
        data=data,
        x="batch",
        y="speedup_vs_default_qubit",
        hue="candidate",
        style="mode",
        col="n_qubits",
        row="n_layers",
        kind="line",
        markers=True,
        height=2.4,
        aspect=1.1,
        facet_kws={"sharey": False},
    )
    grid.set(xscale="log", yscale="log")
    for ax in grid.axes.flat:
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    grid.figure.suptitle("speed-up over PennyLane default.qubit (backprop, broadcasting)", y=1.02)
    grid.savefig(path, dpi=110, bbox_inches="tight")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small grid")
    size.add_argument("--full", action="store_true", help="n 4..12, L 1..8, B 1..256 and C1 at 16 qubits")
    parser.add_argument("--headline-only", action="store_true", help="only the n=8, L=4, B=64 fwd+bwd case")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    parser.add_argument("--device", default="cpu", help="device of the torch candidates (cpu or cuda)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 avoids MKL thread thrash on busy machines)")
    parser.add_argument("--repeats", type=int, default=15, help="max timed rounds per case")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per case (fewer rounds for slow cases)")
    parser.add_argument("--runs", type=int, default=3, help="independent headline runs")
    parser.add_argument("--calls", type=int, default=4, help="consecutive calls per candidate in a headline round "
                        "(>= 2 for a steady ratio)")
    parser.add_argument("--no-lightning", action="store_true", help="skip lightning.qubit")
    args = parser.parse_args(argv)

    if args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.calls < 1:
        parser.error("--calls must be >= 1")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda requested but CUDA is not available")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    names = [n for n in CANDIDATES if not (args.no_lightning and n == "lightning.qubit")]
    info = machine_info(device)

    import pandas as pd

    rows: list[dict[str, object]] = []
    if not args.headline_only:
        grid = "quick" if args.quick else "full" if args.full else "medium"
        cases = bench_cases(grid)
        for i, case in enumerate(cases, 1):
            times = time_case(case, names, device, args.repeats, args.budget)
            rows.extend(_rows(case, times, device))
            summary = ", ".join(
                f"{r['candidate']} {r['median_s'] * 1e3:.2f}ms ({r['speedup_vs_default_qubit']:.1f}x)"
                for r in rows[-len(times) :]
            )
            print(f"[{i}/{len(cases)}] {case}: {summary}", flush=True)
    head = headline(device, args.runs, max(args.repeats, 15), args.calls)
    print(
        f"headline n=8 L=4 B=64 fwd+bwd complex128 (target >= 20x): alternating {[round(r, 1) for r in head['speedup']]} "
        f"(median {head['speedup_median']:.1f}x), steady {[round(r, 1) for r in head['steady_speedup']]}; "
        f"complex64 alternating median {head['speedup_c64_median']:.1f}x",
        flush=True,
    )
    memory = rss_check(Case(**HEADLINE), device)
    print(f"RSS check over repeated steps: {memory}", flush=True)
    info["load_average_end"] = os.getloadavg()
    info["peak_rss_mib"] = peak_rss_mib()

    df = pd.DataFrame(rows)
    if not df.empty:
        for key, value in (
            ("cpu_model", info["cpu_model"]),
            ("logical_cores", info["logical_cores"]),
            ("torch", info["torch"]),
            ("torch_threads", info["torch_threads"]),
        ):
            df[key] = value
        df.to_csv(args.out / "simulator.csv", index=False)
        plot(df, args.out / "simulator.png")
    sidecar = {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}, "headline": head, "rss_check": memory}
    (args.out / "simulator.json").write_text(json.dumps(sidecar, indent=2))
    print(f"wrote {args.out}", flush=True)
    return 0 if memory["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
