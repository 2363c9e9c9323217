"""Benchmark the hybrid U-Net (quantum bottleneck gate) against its classical twin (a script, not a test).

Issue 5 "Measure": what the quantum gate costs inside the model, not only in isolation.

* ``train_step``: one optimisation step (jo2025qamp eq. 6 loss, backward, Adam) of the tiny U-Net of
  chen2025quantum's code with the quantum gate (``torch`` backend = qdm's fused simulator, ``pennylane`` =
  default.qubit/backprop) and with the identical classical twin (bottleneck ``"classical"``:
  the same Linear(C, n) → core → Linear(n, C) gate, core = a classical layer), interleaved round by
  round; reported as the ratio quantum / classical (target ≤ 1.5×).
* ``sample``: a whole DDIM run (η = 0, ``--sample-steps`` steps, ``--sample-images`` images),
  quantum (torch backend, published ansatz and StronglyEntangling) vs classical.
* ``quantum-torch-sel``: the same U-Net with StronglyEntanglingLayers as the gate circuit; the
  published RZ + CNOT chain is evaluated in its exact closed form by the torch backend, so this
  candidate is the one that times a full 2**n state-vector simulation inside the model;
  ``quantum-torch-sel-c64`` is the same circuit in single precision (``GateConfig.circuit_dtype="complex64"``,
  as the float32 U-Net around it).
* ``quantum-torch-ry``: chen2025-trainable's circuit (RZ → RY) as the torch backend runs it: from
  10 qubits on (three layers) the exact matrix-product-state contraction of :mod:`qdm.quantum.chain_mps`
  (bond 4), below that the state vector;
* ``quantum-torch-ry-sv``: the same circuit forced onto the full state vector (``contraction="statevector"``),
  run in real arithmetic since every amplitude stays real.
* ``sample_many`` (``--ddim-images``, default 1000): a DDIM run of that many images, chen2025-trainable's
  gate (``quantum-torch-ry``) and the published gate against the classical sampler, at the largest
  ``--qubits`` (``--ddim-steps`` steps; the ratio is per step, the sampler's cost is linear in them).
* RSS: peak RSS and the RSS growth between step 10 and step ``--rss-steps`` of repeated training
  steps of the quantum (torch) model (must stay under 8 MiB; exit status 1 otherwise).

Usage::

    python benchmarks/bench_unet.py                 # n ∈ {8, 16}, batch 32, DDIM 20 steps x 16 images
    python benchmarks/bench_unet.py --quick         # n ∈ {4, 8}, batch 4, DDIM 2 steps x 2 images

Outputs under ``--out`` (default benchmarks/out/): ``unet.csv`` (one row per case x candidate),
``unet.json`` (machine, arguments, RSS check) and ``unet.png`` (ratio to the classical twin).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench_simulator.py

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_simulator import machine_info, peak_rss_mib, rss_growth_of

from qdm.circuits import QuantumLayer
from qdm.diffusion import ddim_sample_loop, l_simple
from qdm.families.hybrid import COSINE_MIN_BETA, make_noise_fn
from qdm.models import GateConfig, TinyUNet, UNetConfig, build_unet
from qdm.schedules import make_schedule

CLASSICAL = "classical"
#: candidate name -> (gate kind, backend, ansatz).  The published ansatz ("rz_cnot": RZ + CNOT chain
#: after an RY embedding) is evaluated by the torch backend in its exact Heisenberg form (no state
#: vector: RZ is diagonal, a CNOT permutes basis states); "quantum-torch-sel" puts StronglyEntanglingLayers in the gate
#: instead, so that the full 2**n state-vector simulation is what is timed.
CANDIDATES: dict[str, tuple[str, str, str]] = {
    "quantum-torch": ("quantum", "torch", "rz_cnot"),
    "quantum-pennylane": ("quantum", "pennylane", "rz_cnot"),
    "quantum-torch-sel": ("quantum", "torch", "strongly_entangling"),
    "quantum-torch-sel-c64": ("quantum", "torch", "strongly_entangling"),
    "quantum-torch-ry": ("quantum", "torch", "ry_cnot"),
    "quantum-torch-ry-sv": ("quantum", "torch", "ry_cnot-statevector"),
    CLASSICAL: ("classical", "torch", "rz_cnot"),
}
#: candidates whose circuit runs at another precision than complex128 (GateConfig.circuit_dtype)
CANDIDATE_DTYPES: dict[str, str] = {"quantum-torch-sel-c64": "complex64"}


@dataclass(frozen=True)
class UNetCase:
    """One benchmark point: the U-Net task at n qubits with a batch of images."""

    task: str  # "train_step" or "sample"
    n_qubits: int
    batch: int
    sample_steps: int = 0  # DDIM steps (task "sample")


def build_model(
    kind: str, backend: str, n_qubits: int, seed: int = 0, ansatz: str = "rz_cnot", circuit_dtype: str = "complex128"
) -> TinyUNet:
    """chen2025quantum's public code: the tiny U-Net with the given gate, built from the same seed for every candidate."""
    torch.manual_seed(seed)
    name, _, contraction = ansatz.partition("-")
    gate = GateConfig(kind=kind, n_qubits=n_qubits, backend=backend, ansatz=name, circuit_dtype=circuit_dtype)
    model = build_unet(UNetConfig(), gate)
    if contraction:  # e.g. "ry_cnot-statevector": the same circuit with its contraction forced
        for layer in model.modules():
            if isinstance(layer, QuantumLayer):
                layer.ansatz = dataclasses.replace(layer.ansatz, contraction=contraction)
    return model


def train_step_fn(model: TinyUNet, batch: int, seed: int = 0) -> Callable[[], None]:
    """A zero-argument training step: L_simple (ho2020ddpm eq. 14, the chen2025quantum cosine schedule), backward, Adam."""
    schedule = make_schedule("cosine", 1000, min_beta=COSINE_MIN_BETA)
    noise_fn = make_noise_fn("gaussian")
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.rand(batch, 1, 28, 28, generator=gen) * 2 - 1

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = l_simple(model, x0, schedule, gen, noise_fn)
        loss.backward()
        opt.step()

    return step


def sample_fn(model: TinyUNet, images: int, steps: int, seed: int = 0) -> Callable[[], None]:
    """A zero-argument DDIM run (Song et al. eq. 12, η = 0) of ``images`` images in ``steps`` steps."""
    schedule = make_schedule("cosine", 1000, min_beta=COSINE_MIN_BETA)

    def run() -> None:
        gen = torch.Generator().manual_seed(seed)
        ddim_sample_loop(model, (images, 1, 28, 28), schedule, steps, gen, eta=0.0, clip_x0=True)

    return run


def time_rounds(steps: dict[str, Callable[[], None]], repeats: int, budget_s: float) -> dict[str, list[float]]:
    """Interleaved rounds (one call of each candidate per round) after one warm-up call each."""
    first = {}
    for name, step in steps.items():
        step()
        t0 = time.perf_counter()
        step()
        first[name] = time.perf_counter() - t0
    total = sum(first.values())
    rounds = max(3, min(repeats, int(budget_s / max(total, 1e-9))))
    times = {name: [first[name]] for name in steps}
    for _ in range(rounds - 1):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t0)
    return times


def rows_for(case: UNetCase, times: dict[str, list[float]]) -> list[dict[str, object]]:
    """One row per candidate: median/min seconds and the ratio to the classical twin's median."""
    base = statistics.median(times[CLASSICAL])
    return [
        {
            **asdict(case),
            "candidate": name,
            "gate": CANDIDATES[name][0],
            "backend": CANDIDATES[name][1],
            "ansatz": CANDIDATES[name][2],
            "median_s": statistics.median(ts),
            "min_s": min(ts),
            "repeats": len(ts),
            "ratio_vs_classical": statistics.median(ts) / base,
            "peak_rss_mib": peak_rss_mib(),
        }
        for name, ts in times.items()
    ]


def bench_train(n_qubits: int, batch: int, names: list[str], repeats: int, budget_s: float) -> list[dict[str, object]]:
    """Training-step rows at n qubits: every candidate in ``names`` plus the classical twin."""
    steps = {}
    for name in dict.fromkeys([*names, CLASSICAL]):
        kind, backend, ansatz = CANDIDATES[name]
        model = build_model(kind, backend, n_qubits, ansatz=ansatz, circuit_dtype=CANDIDATE_DTYPES.get(name, "complex128"))
        steps[name] = train_step_fn(model, batch)
    return rows_for(UNetCase("train_step", n_qubits, batch), time_rounds(steps, repeats, budget_s))


SAMPLE_CANDIDATES = ("quantum-torch", "quantum-torch-sel", "quantum-torch-sel-c64", "quantum-torch-ry", CLASSICAL)
#: the many-image DDIM case: the state vector of 1000 images at 16 qubits would need GiBs, so only the
#: published gate and chen2025-trainable's as the torch backend runs them
SAMPLE_MANY_CANDIDATES = ("quantum-torch", "quantum-torch-ry", CLASSICAL)


def bench_sample(
    n_qubits: int, images: int, steps_ddim: int, repeats: int, budget_s: float,
    names: tuple[str, ...] = SAMPLE_CANDIDATES, task: str = "sample",
) -> list[dict[str, object]]:
    """DDIM sampling rows at n qubits: quantum gates (torch backend) vs the classical twin."""
    runs = {}
    for name in names:
        kind, backend, ansatz = CANDIDATES[name]
        dtype = CANDIDATE_DTYPES.get(name, "complex128")
        model = build_model(kind, backend, n_qubits, ansatz=ansatz, circuit_dtype=dtype).eval()
        runs[name] = sample_fn(model, images, steps_ddim)
    case = UNetCase(task, n_qubits, images, steps_ddim)
    return rows_for(case, time_rounds(runs, repeats, budget_s))


def rss_growth(n_qubits: int, batch: int, steps: int) -> dict[str, float | bool]:
    """RSS after 10 and after ``steps`` training steps of the quantum (torch) U-Net: it must not grow."""
    step = train_step_fn(build_model("quantum", "torch", n_qubits), batch)
    return {"n_qubits": n_qubits, "batch": batch, "steps": steps, **rss_growth_of(step, steps), "peak_rss_mib": peak_rss_mib()}


def plot(df, path: Path) -> None:
    """Bar chart: time of each quantum candidate over the classical twin, per task and qubit count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = df[df.candidate != CLASSICAL].copy()
    data["label"] = data.task + ", n=" + data.n_qubits.astype(str)
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    labels = list(dict.fromkeys(data.label))
    cands = list(dict.fromkeys(data.candidate))
    width = 0.8 / max(len(cands), 1)
    for i, cand in enumerate(cands):
        sub = data[data.candidate == cand].set_index("label")
        xs = [j + i * width for j, lab in enumerate(labels) if lab in sub.index]
        ax.bar(xs, [sub.loc[lab, "ratio_vs_classical"] for lab in labels if lab in sub.index], width, label=cand)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.axhline(1.5, color="red", lw=0.8, ls="--", label="target 1.5x")
    ax.set_xticks([j + width * (len(cands) - 1) / 2 for j in range(len(labels))], labels)
    ax.set_yscale("log")
    ax.set_ylabel("time / classical twin")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (n 4 and 8, batch 4, 2 images x 2 DDIM steps)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    parser.add_argument("--qubits", type=int, nargs="+", default=None, help="qubit counts (default 8 16; quick 4 8)")
    parser.add_argument("--batch", type=int, default=None, help="training batch (default 32; quick 4)")
    parser.add_argument("--sample-images", type=int, default=None, help="images per DDIM run (default 16; quick 2)")
    parser.add_argument("--sample-steps", type=int, default=None, help="DDIM steps (default 20; quick 2)")
    parser.add_argument("--ddim-images", type=int, default=None, help="images of the many-image DDIM case "
                        "(default 1000; quick 8; 0 skips it)")
    parser.add_argument("--ddim-steps", type=int, default=2, help="DDIM steps of the many-image case")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--repeats", type=int, default=11, help="max timed rounds per case")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per case")
    parser.add_argument("--rss-steps", type=int, default=60, help="training steps of the RSS check (> 10)")
    parser.add_argument("--no-pennylane", action="store_true", help="skip the pennylane-backend gate")
    parser.add_argument(
        "--candidates",
        nargs="+",
        default=None,
        choices=[c for c in CANDIDATES if c != CLASSICAL],
        help="quantum candidates to time (default all; the classical twin always runs)",
    )
    args = parser.parse_args(argv)
    qubits = args.qubits or ([4, 8] if args.quick else [8, 16])
    batch = args.batch or (4 if args.quick else 32)
    images = args.sample_images or (2 if args.quick else 16)
    ddim_steps = args.sample_steps or (2 if args.quick else 20)
    if args.threads < 1 or batch < 1 or images < 1 or ddim_steps < 1 or args.ddim_steps < 1 or any(q < 1 for q in qubits):
        parser.error("--threads, --batch, --sample-images, --sample-steps, --ddim-steps and --qubits must be >= 1")
    if args.ddim_images is not None and args.ddim_images < 0:
        parser.error("--ddim-images must be >= 0")
    if args.rss_steps <= 10:
        parser.error("--rss-steps must be > 10")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine_info(torch.device("cpu"))
    names = ["quantum-torch", "quantum-torch-sel", "quantum-torch-sel-c64", "quantum-torch-ry", "quantum-torch-ry-sv"]
    names += [] if args.no_pennylane else ["quantum-pennylane"]
    if args.candidates:
        names = [c for c in names if c in args.candidates] + [c for c in args.candidates if c not in names]
    many = (8 if args.quick else 1000) if args.ddim_images is None else args.ddim_images

    import pandas as pd

    rows: list[dict[str, object]] = []
    for n in qubits:
        rows += bench_train(n, batch, names, args.repeats, args.budget)
        sample_names = tuple(c for c in (*SAMPLE_CANDIDATES, "quantum-torch-ry-sv") if c in names or c == CLASSICAL)
        rows += bench_sample(n, images, ddim_steps, max(3, args.repeats // 3), args.budget, sample_names)
        if many and n == max(qubits):
            many_names = tuple(c for c in SAMPLE_MANY_CANDIDATES if c in names or c == CLASSICAL)
            rows += bench_sample(n, many, args.ddim_steps, 3, args.budget, many_names, "sample_many")
        for r in rows:
            if r["n_qubits"] == n:
                print(
                    f"{r['task']} n={n} {r['candidate']}: {r['median_s'] * 1e3:.1f} ms "
                    f"({r['ratio_vs_classical']:.2f}x classical)",
                    flush=True,
                )
    memory = rss_growth(qubits[0], batch, args.rss_steps)
    print(f"RSS check: {memory}", flush=True)
    info["load_average_end"] = os.getloadavg()
    info["peak_rss_mib"] = peak_rss_mib()
    df = pd.DataFrame(rows)
    for key in ("cpu_model", "logical_cores", "torch", "torch_threads"):
        df[key] = info[key]
    df.to_csv(args.out / "unet.csv", index=False)
    plot(df, args.out / "unet.png")
    sidecar = {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}, "rss_check": memory}
    (args.out / "unet.json").write_text(json.dumps(sidecar, indent=2))
    print(f"wrote {args.out}", flush=True)
    return 0 if memory["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
