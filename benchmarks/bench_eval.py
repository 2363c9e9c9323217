"""Benchmark a run's evaluation: per-image Inception time (before / after, side by side) and a run's split (a script, not a test).

Issue 16 section 2.

* ``features``: TF-FID Inception-v3 pool_3 features (``qdm.metrics``) of the same images by each
  variant, interleaved round by round, as ms per image and as a ratio to ``before``:

  - ``before``: the network as loaded, ``torch.no_grad``, contiguous NCHW, batch 64 (the earlier path);
  - ``after``: batch norm folded into the convolutions, traced, frozen and optimised
    (:mod:`qdm.inception_fold`), ``torch.inference_mode``, channels-last input, batch 64 (the default now);
  - ``after-b16``: the same with batch 16.

  The arithmetic floor: Inception-v3 at 299x299 is about 5.7 G multiply-adds per image
  (Szegedy et al. 2016, Table 1 counts 5.72 G); the script times a float32 GEMM on the same
  threads and reports 2 x 5.7 GFLOP / that rate as the time an image would take if every layer
  ran at GEMM speed.
* ``--run PRESET``: train, sample and evaluate one preset (``--profile``, ``--set key=value``) in a
  fresh results folder and report ``timing.json``'s train / sample / evaluate split; then the
  earlier evaluation (``before`` features, KID over 100 subsets, FID, SSIM) of the same samples
  against the same reference, timed, with the FID of both paths (identical up to float32 round-off).

Usage::

    python benchmarks/bench_eval.py                          # features, 32 images x 2 rounds
    python benchmarks/bench_eval.py --images 64 --rounds 3
    python benchmarks/bench_eval.py --run chen2025 --profile cpu --set data.classes=3

Outputs under ``--out`` (default benchmarks/out/): ``eval_features.csv`` and ``eval.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from qdm import metrics

INCEPTION_MACS = 5.72e9  # Szegedy et al. (2016), Table 1: multiply-adds per 299x299 image


def gemm_gflops(threads: int, size: int = 2048, repeats: int = 5) -> float:
    """Achieved float32 GEMM rate (GFLOP/s) on ``threads`` threads: the best of ``repeats``."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9


def _variant(name: str):  # a small factory of feature functions
    """images (N, 1, 28, 28) -> (N, 2048) features, one function per variant."""
    view = metrics._nchw_view  # the benchmark times the module's own path

    def run(images: torch.Tensor) -> torch.Tensor:
        x = view(images, "images", 1)
        if name == "before":
            return metrics._features_of_view(x, 64, "cpu", fast=False)
        if name == "after":
            return metrics._features_of_view(x, 64, "cpu", fast=True)
        return metrics._features_of_view(x, 16, "cpu", fast=True)

    return run


def bench_features(n_images: int, rounds: int, threads: int) -> tuple[list[dict], dict]:
    """Per-image time of each variant (interleaved rounds), ratios to ``before`` and the largest feature deviations."""
    torch.set_num_threads(threads)
    names = ["before", "after", "after-b16"]
    fns = {n: _variant(n) for n in names}
    images = torch.rand(n_images, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    feats = {n: fns[n](images[:4]) for n in names}  # warm-up (loads and freezes the network)
    ref = feats["before"]
    deviation = {n: float(((f - ref).abs().max() / ref.abs().max())) for n, f in feats.items()}
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for n in names if r % 2 == 0 else reversed(names):
            t0 = time.perf_counter()
            fns[n](images)
            times[n].append((time.perf_counter() - t0) / n_images)
    before = statistics.median(times["before"])
    rows = []
    for n in names:
        med = statistics.median(times[n])
        rows.append({"variant": n, "ms_per_image": 1e3 * med, "ratio_to_before": med / before,
                     "max_rel_feature_deviation": deviation[n], "images": n_images, "rounds": rounds, "threads": threads})
    gflops = gemm_gflops(threads)
    floor = {"gemm_gflops": gflops, "inception_gmac_per_image": INCEPTION_MACS / 1e9,
             "floor_ms_per_image": 1e3 * 2 * INCEPTION_MACS / (gflops * 1e9)}
    return rows, floor


def bench_run(preset: str, profile: str, overrides: list[str], quiet: bool, results: str | None = None) -> dict:
    """One run's train / sample / evaluate split, then both evaluations of the same samples, timed side by side.

    ``results``: a results folder whose finished run of this config is reused (its recorded split is reported);
    default: a fresh temporary folder (the run is trained). Then, in this process and on the same samples and
    reference: the earlier evaluation (``before`` features, KID over 100 subsets, FID, SSIM; no cache) and
    today's (:func:`qdm.runner._evaluate` with an empty feature cache: every metric of the run's metrics file).
    """
    from qdm.config import apply_overrides
    from qdm.families import get_family
    from qdm.presets import get_preset
    from qdm.runner import _evaluate, eval_reference, load_trained_model, run_experiment

    cfg = apply_overrides(get_preset(preset, profile), overrides)
    with tempfile.TemporaryDirectory() as tmp:
        record = run_experiment(cfg, results_root=results or tmp, progress=not quiet)
        samples = torch.load(record.run_dir / "samples.pt")
        model = load_trained_model(record)
        family = get_family(cfg.family)
        reference = eval_reference(cfg, family, samples)
        t0 = time.perf_counter()
        f_real = metrics._features_of_view(metrics._nchw_view(reference, "r", 2), 64, "cpu", fast=False)
        f_fake = metrics._features_of_view(metrics._nchw_view(samples, "s", 2), 64, "cpu", fast=False)
        t_features = time.perf_counter() - t0
        old_fid = metrics.fid_from_features(f_real, f_fake)
        old_kid = metrics.kid_from_features(f_real, f_fake, generator=cfg.train.seed)
        metrics.ssim_paired(samples, reference, pairing=cfg.eval.ssim_pairing, convention=cfg.eval.ssim_convention)
        t_before = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = _evaluate(cfg, family, model, samples, feature_cache=Path(tmp) / "features", progress=not quiet)
        t_after = time.perf_counter() - t0
    timing = record.timing
    same = {k: again[k] == v for k, v in record.metrics.items() if isinstance(v, float) and k in again}
    return {
        "preset": preset, "profile": profile, "overrides": overrides, "config_hash": record.config_hash,
        "reused_run": bool(results), "train_s": timing["train_wall_s"], "sample_s": timing["sample_wall_s"],
        "eval_s": timing["eval_wall_s"], "eval_over_train": timing["eval_wall_s"] / timing["train_wall_s"],
        "before_eval_s (fid, kid subsets, ssim; no feature cache)": t_before,
        "before_feature_s": t_features,
        "after_eval_s (every metric; empty feature cache)": t_after,
        "after_over_before": t_after / t_before,
        "fid_after": record.metrics.get("fid"), "fid_before": old_fid,
        "kid_after": record.metrics.get("kid"), "kid_se_after": record.metrics.get("kid_se"),
        "kid_subset_mean_before": old_kid.mean, "kid_subset_std_before": old_kid.std,
        "metrics_equal_to_the_run's": all(same.values()), "metrics_differing": sorted(k for k, ok in same.items() if not ok),
        "n_generated": int(samples.shape[0]), "n_reference": int(reference.shape[0]),
        "metrics_after": record.metrics,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmarks, print and store the results."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=32)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--run", default=None, help="also time one run of this preset")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--set", action="append", default=[], dest="overrides", help="override for the run, repeatable")
    p.add_argument("--results", default=None, help="reuse the finished run of --run in this results folder")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with open("/proc/loadavg") as fh:
        load_before = fh.read().split()[:3]
    rows, floor = bench_features(args.images, args.rounds, args.threads)
    for row in rows:
        print(f"{row['variant']:>10}: {row['ms_per_image']:8.1f} ms/image  x{row['ratio_to_before']:.3f} of before  "
              f"max rel. feature deviation {row['max_rel_feature_deviation']:.1e}")
    print(f"float32 GEMM {floor['gemm_gflops']:.0f} GFLOP/s on {args.threads} threads -> floor "
          f"{floor['floor_ms_per_image']:.1f} ms/image for {floor['inception_gmac_per_image']:.2f} G multiply-adds")
    with open(args.out / "eval_features.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result: dict = {"features": rows, "floor": floor, "load_average_before": load_before,
                    "machine": {"cpu": platform.processor(), "cores": os.cpu_count(), "torch": torch.__version__,
                                "python": sys.version.split()[0]}}
    if args.run:
        result["run"] = bench_run(args.run, args.profile, args.overrides, args.quiet, args.results)
        r = result["run"]
        print(f"run {args.run}@{args.profile} {args.overrides}: train {r['train_s']:.1f} s, sample {r['sample_s']:.1f} s, "
              f"evaluate {r['eval_s']:.1f} s (eval/train {r['eval_over_train']:.2f}); before-evaluation "
              f"{r['before_eval_s (fid, kid subsets, ssim; no feature cache)']:.1f} s, today's evaluation side by side "
              f"{r['after_eval_s (every metric; empty feature cache)']:.1f} s; FID after {r['fid_after']:.6g} "
              f"before {r['fid_before']:.6g}")
    with open("/proc/loadavg") as fh:
        result["load_average_after"] = fh.read().split()[:3]
    (args.out / "eval.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
