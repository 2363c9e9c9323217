"""The FID/KID estimator against the image count, and what it does to the published 5-image comparison.

FID from n images is biased upwards, more so the smaller n is [chong2020unbiased]: the covariance of n
Inception vectors in 2048 dimensions has rank at most n − 1. The published numbers of [chen2025quantum]
(README of the authors' code) are FIDs of **5** generated images against 5 real ones. This module
measures, once, on MNIST digit 0 (TF-Inception pool_3 features, :func:`qdm.protocols.cached_features`):

* ``estimator-bias-mnist0``: FID and unbiased KID (mean ± std over draws) against n for **real vs real**
  (two disjoint halves of the 980 held-out test zeros, n = 5 … 490, and of 1,200 training zeros drawn with
  seed 1, n up to 600) and **model vs real** (the 64 kept samples of the ``chen2025`` and ``chen2025-classical``
  ledger entries at :data:`AUDIT_PROFILE` against half A of the held-out zeros, n ≤ 64);
* ``fid-gap-mnist0``: the quantum − classical FID gap of those two ledger entries, per draw: for each n,
  ``n_draws`` random draws of n samples of each model and n held-out zeros (the same real images for both
  models), and the 12 disjoint strips of 5 kept samples under the published protocol (the first 5 MNIST
  test images of any digit, :func:`qdm.protocols.chen2025_protocol`), with the index-paired scikit-image SSIM.

Each measurement is a CSV and a JSON record (:func:`qdm.provenance.record`: commit, data md5, seed, plus
the image counts, the ledger entries used, the command, and the CSV's md5, row count and columns), written
under ``ledger/measurements/`` by ``qdm audit estimator-bias``. :func:`read_measurement` reads one back
and refuses a damaged or altered one with a one-line ``ValueError``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from qdm import ledger, metrics
from qdm.config import config_hash
from qdm.data import load_dataset
from qdm.io import file_md5, write_json
from qdm.presets import resolve_config
from qdm.protocols import cached_features, chen2025_images, chen2025_protocol, heldout_images, to_unit
from qdm.provenance import record
from qdm.runner import run_identity
from qdm.validation import check_int

__all__ = [
    "AUDIT_PROFILE",
    "BIAS_COLUMNS",
    "BIAS_NAME",
    "GAP_COLUMNS",
    "GAP_NAME",
    "MEASURE_COMMAND",
    "Measurement",
    "bias_frame",
    "gap_frame",
    "gap_summary",
    "ledger_pair",
    "measure_estimator_bias",
    "read_measurement",
    "stale_reason",
]

#: The two measurements (file stems under ``ledger/measurements``).
BIAS_NAME = "estimator-bias-mnist0"
GAP_NAME = "fid-gap-mnist0"
#: The one command that re-makes both.
MEASURE_COMMAND = "qdm audit estimator-bias"
BIAS_COLUMNS = ("comparison", "n", "n_repeats", "fid_mean", "fid_std", "kid_mean", "kid_std")
GAP_COLUMNS = ("kind", "n", "draw", "fid_quantum", "fid_classical", "gap", "ssim_quantum", "ssim_classical")
#: The two ledger entries behind the model rows: (preset, profile); MNIST digit 0, seed 0.
#: The profile of the hybrid runs the audit measures (the book's: samples the classifier mostly recognises as zeros).
AUDIT_PROFILE = "book"
PAIR = (("chen2025", AUDIT_PROFILE), ("chen2025-classical", AUDIT_PROFILE))
#: Comparison labels of the bias table.
REAL_HELDOUT = "real vs real (held-out test zeros)"
REAL_TRAIN = "real vs real (training zeros)"
MODEL_QUANTUM = "chen2025 samples vs real"
MODEL_CLASSICAL = "chen2025-classical samples vs real"
#: Kinds of the gap table.
RANDOM_DRAW = "random draw"
PUBLISHED_STRIP = "published strip"


@dataclass(frozen=True)
class Measurement:
    """A measurement read back: its table, its JSON record, and the two paths."""

    frame: pd.DataFrame
    record: dict[str, Any]
    csv: Path
    json: Path


def ledger_pair(seed: int = 0) -> list[ledger.LedgerEntry]:
    """The ledger entries of :data:`PAIR` (MNIST digit 0, ``seed``), made from this data.

    ValueError naming the command that makes a missing one.
    """
    found = []
    for preset, profile in PAIR:
        cfg = resolve_config(preset, [f"profile={profile}", f"train.seed={seed}"])
        entry = ledger.lookup(cfg.experiment, config_hash(cfg), run_identity(cfg)["data"])
        if entry is None:
            raise ValueError(
                f"the ledger holds no {preset}@{profile} seed {seed} made from this data; make it with "
                f"`qdm reproduce hybrid --profile {profile} --seeds {seed} --only data.classes=0 --admit`"
            )
        found.append(entry)
    return found


def _halves(features: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Two disjoint random halves of a feature set (the split of :func:`qdm.protocols.estimator_bias_table`)."""
    perm = torch.randperm(features.shape[0], generator=generator)
    half = features.shape[0] // 2
    return features[perm[:half]], features[perm[half : 2 * half]]


def bias_frame(
    comparisons: Sequence[tuple[str, Tensor, Tensor, Sequence[int]]], n_repeats: int, seed: int
) -> pd.DataFrame:
    """FID/KID against n for each (label, reference features, other features, ns): :func:`qdm.metrics.fid_kid_vs_n`."""
    rows = []
    for label, ref, other, ns in comparisons:
        for p in metrics.fid_kid_vs_n(ref, other, ns=tuple(ns), n_repeats=n_repeats, generator=seed):
            rows.append({"comparison": label, "n": p.n, "n_repeats": p.n_repeats, "fid_mean": p.fid_mean,
                         "fid_std": p.fid_std, "kid_mean": p.kid_mean, "kid_std": p.kid_std})
    return pd.DataFrame(rows, columns=list(BIAS_COLUMNS))


def _ssim_index(generated: Tensor, real: Tensor) -> float:
    """Index-paired scikit-image SSIM, as the authors' script scores (data range 255 on 8-bit images = 1.0 here)."""
    return metrics.ssim_paired(generated, real, pairing="index", convention="skimage", data_range=1.0).mean


def gap_frame(
    quantum: tuple[Tensor, Tensor],
    classical: tuple[Tensor, Tensor],
    heldout: tuple[Tensor, Tensor],
    chen_real: tuple[Tensor, Tensor],
    ns: Sequence[int],
    n_draws: int,
    seed: int,
) -> pd.DataFrame:
    """Per draw: FID of each model, their gap (quantum − classical) and the index-paired SSIMs.

    Every argument is (images in [0, 1], their features). Random draws: n of each model's samples and n held-out
    images, the same real images for both models. Published strips: samples 5k … 5k+4 of each model against
    the first 5 test images of any digit (:func:`qdm.protocols.chen2025_protocol`), k = 0 … ⌊len/5⌋ − 1.
    """
    check_int(n_draws, "n_draws", 1)
    (xq, fq), (xc, fc), (xr, fr) = quantum, classical, heldout
    limit = min(xq.shape[0], xc.shape[0], xr.shape[0])
    bad = [n for n in ns if not 2 <= n <= limit]
    if bad:
        raise ValueError(f"ns entries must be in [2, {limit}] (the smallest image set), got {bad}")
    g = torch.Generator().manual_seed(seed)
    rows = []
    for n in ns:
        for draw in range(n_draws):
            iq = torch.randperm(xq.shape[0], generator=g)[:n]
            ic = torch.randperm(xc.shape[0], generator=g)[:n]
            ir = torch.randperm(xr.shape[0], generator=g)[:n]
            f_q = metrics.fid_from_features(fr[ir], fq[iq])
            f_c = metrics.fid_from_features(fr[ir], fc[ic])
            rows.append({"kind": RANDOM_DRAW, "n": n, "draw": draw, "fid_quantum": f_q, "fid_classical": f_c,
                         "gap": f_q - f_c, "ssim_quantum": _ssim_index(xq[iq], xr[ir]),
                         "ssim_classical": _ssim_index(xc[ic], xr[ir])})
    x_chen, f_chen = chen_real
    for k in range(min(xq.shape[0], xc.shape[0]) // 5):
        strip = slice(5 * k, 5 * k + 5)
        scores = [chen2025_protocol(x[strip], x_chen[:5], features=_known_rows(((x[strip], f[strip]), (x_chen[:5], f_chen[:5]))))
                  for x, f in ((xq, fq), (xc, fc))]
        rows.append({"kind": PUBLISHED_STRIP, "n": 5, "draw": k, "fid_quantum": scores[0].fid,
                     "fid_classical": scores[1].fid, "gap": scores[0].fid - scores[1].fid,
                     "ssim_quantum": scores[0].ssim, "ssim_classical": scores[1].ssim})
    return pd.DataFrame(rows, columns=list(GAP_COLUMNS))


def _known_rows(known: Sequence[tuple[Tensor, Tensor]]) -> Any:
    """A feature function serving the rows of already embedded images (the protocol re-embeds nothing)."""

    def features(images: Tensor) -> Tensor:
        for x, f in known:
            if images.shape == x.shape and torch.equal(images, x):
                return f
        raise ValueError("features were requested for images this measurement did not embed")

    return features


def gap_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (kind, n): draws, mean and std of the gap, its 5/50/95 % quantiles, and the fraction where quantum wins.

    "Quantum wins" means a lower FID (gap < 0), the direction [chen2025quantum] report.
    """
    _check_columns(frame, GAP_COLUMNS, "frame")
    rows = []
    for (kind, n), g in frame.groupby(["kind", "n"], sort=False):
        gap = g["gap"].astype(float)
        rows.append({
            "kind": kind, "n": int(n), "draws": len(g), "gap_mean": float(gap.mean()),
            "gap_std": float(gap.std(ddof=1)) if len(g) > 1 else math.nan,
            "gap_q05": float(gap.quantile(0.05)), "gap_median": float(gap.median()), "gap_q95": float(gap.quantile(0.95)),
            "quantum_wins": float((gap < 0).mean()),
            "ssim_quantum_wins": float((g["ssim_quantum"] > g["ssim_classical"]).mean()),
        })
    return pd.DataFrame(rows)


def _check_columns(frame: Any, columns: Sequence[str], name: str) -> None:
    """A non-empty DataFrame holding ``columns``."""
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise ValueError(f"{name} must be a non-empty pandas DataFrame")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing columns {missing}")


def _write(frame: pd.DataFrame, name: str, out_dir: Path, rec: dict[str, Any], extra: dict[str, Any]) -> Path:
    """``name``.csv and ``name``.json (the record, the extra keys, and the CSV's md5, rows and columns)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{name}.csv"
    tmp = csv_path.with_suffix(".csv.tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(csv_path)
    body = {**rec, **extra, "csv": {"file": csv_path.name, "md5": file_md5(csv_path, cached=False),
                                     "rows": len(frame), "columns": list(frame.columns)}}
    write_json(out_dir / f"{name}.json", body)
    return csv_path


def measure_estimator_bias(
    out_dir: str | Path,
    cache_dir: str | Path | None,
    *,
    seed: int = 0,
    n_repeats: int = 10,
    n_draws: int = 200,
    train_pool: int = 1200,
    heldout_ns: Sequence[int] = (5, 10, 20, 50, 100, 200, 490),
    train_ns: Sequence[int] = (5, 10, 20, 50, 100, 200, 500, 600),
    model_ns: Sequence[int] = (5, 10, 20, 32, 64),
) -> dict[str, Path]:
    """Compute both measurements (module docstring) and write them to ``out_dir``; returns the CSV paths.

    Inception features go through :func:`qdm.protocols.cached_features` in ``cache_dir`` (None: no cache).
    About 2,300 images are embedded (≈ 8 min on one busy core); the statistics take seconds.
    """
    check_int(seed, "seed", 0)
    check_int(n_repeats, "n_repeats", 2)
    check_int(train_pool, "train_pool", 4)
    if max(train_ns) > train_pool // 2:
        raise ValueError(f"train_ns must be <= train_pool // 2 = {train_pool // 2}, got {max(train_ns)}")
    entries = ledger_pair(seed)
    t0 = time.perf_counter()
    cfg = resolve_config(PAIR[0][0], [f"profile={PAIR[0][1]}", f"train.seed={seed}"])
    data = cfg.data
    heldout = to_unit(heldout_images(data, None))
    train = to_unit(heldout_images(data, train_pool, seed=1, split="train"))
    chen_real = to_unit(chen2025_images(data, 5))
    samples = [torch.from_numpy(e.samples()).float() / 255.0 for e in entries]
    feats = {name: cached_features(x, cache_dir) for name, x in
             (("heldout", heldout), ("train", train), ("chen", chen_real), ("quantum", samples[0]), ("classical", samples[1]))}
    embed_s = time.perf_counter() - t0
    g = torch.Generator().manual_seed(seed)
    held_a, held_b = _halves(feats["heldout"], g)
    train_a, train_b = _halves(feats["train"], g)
    bias = bias_frame(
        [(REAL_HELDOUT, held_a, held_b, [n for n in heldout_ns if n <= held_a.shape[0]]),
         (REAL_TRAIN, train_a, train_b, train_ns),
         (MODEL_QUANTUM, held_a, feats["quantum"], model_ns),
         (MODEL_CLASSICAL, held_a, feats["classical"], model_ns)],
        n_repeats, seed,
    )
    gap = gap_frame((samples[0], feats["quantum"]), (samples[1], feats["classical"]), (heldout, feats["heldout"]),
                    (chen_real, feats["chen"]), model_ns, n_draws, seed)
    source = load_dataset("mnist", "test", data_dir=data.data_dir).source
    used = [{"experiment": e.experiment, "config_hash": e.config_hash, "preset": e.made_by.get("preset"),
             "profile": e.made_by.get("profile"), "samples_md5": file_md5(e.path / "samples.npz", cached=False)}
            for e in entries]
    counts = {"heldout_test_zeros": int(heldout.shape[0]), "heldout_half": int(held_a.shape[0]),
              "train_zeros": int(train.shape[0]), "train_half": int(train_a.shape[0]),
              "chen2025_real": int(chen_real.shape[0]), "samples_per_model": int(samples[0].shape[0])}
    common = {"image_counts": counts, "ledger_entries": used, "command": MEASURE_COMMAND,
              "network": "TF-Inception-v3 pool_3 (qdm.metrics)", "embed_seconds": round(embed_s, 1),
              "torch_threads": torch.get_num_threads()}
    params = {"seed": seed, "n_repeats": n_repeats, "n_draws": n_draws, "train_pool": train_pool,
              "heldout_ns": list(heldout_ns), "train_ns": list(train_ns), "model_ns": list(model_ns)}
    # one record, taken before anything is written (a later file would otherwise see the earlier ones as dirt)
    rec = record(params, seed, [source.file], "qdm.audits.estimator_bias.measure_estimator_bias")
    out = Path(out_dir)
    paths = {
        BIAS_NAME: _write(bias, BIAS_NAME, out, rec, {
            **common, "measurement": "FID and unbiased KID (mean ± std over n_repeats draws without replacement) "
            "against n: real vs real (disjoint halves) and model vs real (kept ledger samples vs held-out half A)"}),
        GAP_NAME: _write(gap, GAP_NAME, out, rec, {
            **common, "measurement": "quantum − classical FID gap per draw (same real images for both models) "
            "and per published 5-sample strip (first 5 MNIST test images of any digit), with index-paired skimage SSIM"}),
    }
    return paths


def read_measurement(path: str | Path) -> Measurement:
    """A measurement (its ``.csv`` or ``.json`` path, or the stem) read back and checked against its record.

    Refused with a one-line ValueError: a missing or unparsable file, a record without provenance, a CSV whose
    md5, row count or columns differ from the record, or non-finite numbers.
    """
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".csv", ".json") else p
    json_path, csv_path = stem.with_suffix(".json"), stem.with_suffix(".csv")
    what = f"measurement {stem.name}"
    for f in (json_path, csv_path):
        if not f.is_file():
            raise ValueError(f"{what}: {f} is missing; re-make it with `{MEASURE_COMMAND}`")
    try:
        rec = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{what}: {json_path.name} is not valid JSON ({type(err).__name__}); re-make it with "
                         f"`{MEASURE_COMMAND}`") from None
    need = ("schema", "git", "data", "seed", "image_counts", "csv")
    if not isinstance(rec, dict) or any(k not in rec for k in need) or not isinstance(rec.get("csv"), dict):
        raise ValueError(f"{what}: {json_path.name} lacks its provenance ({', '.join(need)})")
    declared = rec["csv"]
    actual = file_md5(csv_path, cached=False)
    if declared.get("md5") != actual:
        raise ValueError(f"{what}: {csv_path.name} has md5 {actual[:12]}, its record says {str(declared.get('md5'))[:12]}: "
                         "the file was changed or damaged")
    try:
        frame = pd.read_csv(csv_path)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise ValueError(f"{what}: {csv_path.name} cannot be read ({type(err).__name__})") from None
    if list(frame.columns) != list(declared.get("columns", [])) or len(frame) != declared.get("rows"):
        raise ValueError(f"{what}: {csv_path.name} has {len(frame)} rows and columns {list(frame.columns)}, "
                         f"its record says {declared.get('rows')} and {declared.get('columns')}")
    numeric = frame.select_dtypes(include="number")
    if not np.isfinite(numeric.to_numpy(dtype=float)).all():
        raise ValueError(f"{what}: {csv_path.name} holds non-finite numbers")
    return Measurement(frame=frame, record=rec, csv=csv_path, json=json_path)


def stale_reason(m: Measurement, root: Path | None = None) -> str:
    """Why a measurement no longer describes the ledger ("" when it does): a ledger entry it used is gone or its kept
    samples changed (md5 of ``samples.npz``)."""
    current = {(e.experiment, e.config_hash): e for e in ledger.entries(root)}
    for used in m.record.get("ledger_entries", []):
        entry = current.get((used.get("experiment"), used.get("config_hash")))
        if entry is None:
            return f"the ledger no longer holds {used.get('experiment')}/{used.get('config_hash')}"
        if file_md5(entry.path / "samples.npz", cached=False) != used.get("samples_md5"):
            return f"the kept samples of {used.get('experiment')}/{used.get('config_hash')} changed"
    return ""
