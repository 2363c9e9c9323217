"""The results store and the job list: train, sample and evaluate one experiment config, or many in parallel.

A run lives in ``<results_root>/<experiment>/<config-hash>/`` and holds

=================  ==========================================================================
``config.json``    the resolved config (``qdm.config.from_dict`` rebuilds it exactly)
``checkpoint.pt``  the trainer's checkpoint (weights, EMA, optimiser, RNG states, losses)
``losses.csv``     ``step,loss,grad_norm`` for every optimisation step
``samples.pt``     the generated images, float (n, C, H, W) in [0, 1]
``samples.png``    the same images as a grid
``nearest_pairs.png`` memorisation: the samples closest to a training image, each beside it
``metrics.json``   metrics (with image counts and protocol names); ``metrics.csv``: the same as rows
``timing.json``    training / sampling / evaluation seconds, steps per second, resume point
``provenance.json`` qdm/torch/python versions, git commit and dirty flag, data file and md5
``DONE``           written last: a finished identical config is reused, an unfinished one resumes
=================  ==========================================================================

Everything is written atomically (temporary file + ``os.replace``) and only inside the run folder.
:func:`run_many` runs independent configs in a local process pool (spawn) or hands them, unchanged,
to an existing Dask or Ray cluster; failures are reported per job and re-run next time.
"""

from __future__ import annotations

import csv
import dataclasses
import fcntl
import importlib
import io
import json
import multiprocessing
import os
import shutil
import sys
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import qdm
from qdm import io as qio
from qdm import ledger
from qdm import protocols
from qdm.config import EvalConfig, ExperimentConfig, config_hash, from_dict, to_dict, to_json
from qdm.families import Family, get_family
from qdm.grids import save_image_grid
from qdm.train import CHECKPOINT_NAME, deterministic_mode, load_checkpoint, seed_everything, train

__all__ = [
    "DONE_NAME",
    "ENGINES",
    "JobOutcome",
    "RunRecord",
    "RunStoreError",
    "check_before_work",
    "compute_image_metrics",
    "draw_samples",
    "eval_reference",
    "finished_run",
    "initial_model",
    "load_run",
    "load_trained_model",
    "outcome_records",
    "provenance",
    "run_dir_for",
    "run_identity",
    "run_experiment",
    "run_many",
    "run_samples",
    "save_image_grid",
]

DONE_NAME = "DONE"
#: Folder (under the results root) of the per-run lock files.
LOCKS_DIR = ".locks"
#: What decides a run's numbers beyond its config (data checksums, torch threads); checked on every reuse.
IDENTITY_NAME = "identity.json"
ENGINES = ("local", "dask", "ray")
#: Inception features of reference image sets, keyed by their pixels (under the results root).
FEATURE_CACHE = Path(".cache") / "inception"
#: Seconds to wait for a Dask scheduler before saying that none answered.
DASK_CONNECT_TIMEOUT_S = 10
#: Offset between the training seed and the seed of the sampling generator (independent streams).
SAMPLING_SEED_OFFSET = 1_000_003


class RunStoreError(ValueError):
    """A run folder cannot be used as it is (other data, other thread count, damaged file); the message says what to do."""


@dataclass(frozen=True)
class RunRecord:
    """A finished run as stored on disk: where, which config, its metrics, timing and losses; reused or not."""

    run_dir: Path
    config: ExperimentConfig
    config_hash: str
    metrics: dict[str, Any]
    timing: dict[str, Any]
    losses: tuple[float, ...]
    reused: bool


@dataclass(frozen=True)
class JobOutcome:
    """What one job of :func:`run_many` gave: ok with its metrics, or the error (the job re-runs next time)."""

    experiment: str
    config_hash: str
    run_dir: str
    ok: bool
    reused: bool
    metrics: dict[str, Any]
    error: str | None = None
    traceback: str | None = None


# --------------------------------------------------------------------------------------------
# Small file helpers
# --------------------------------------------------------------------------------------------


def _atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically (:func:`qdm.io.atomic_write_bytes`)."""
    qio.atomic_write_bytes(path, payload)


def _write_json(path: Path, obj: Any) -> None:
    """Atomic, sorted, strict (no NaN) JSON (:func:`qdm.io.write_json`)."""
    qio.write_json(path, obj)


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Atomic CSV with a header row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    _atomic_write_bytes(path, buf.getvalue().encode())


def run_dir_for(cfg: ExperimentConfig, results_root: str | os.PathLike[str] = "results") -> Path:
    """``<results_root>/<experiment>/<config_hash(cfg)>``: the folder a config's run lives in."""
    return Path(results_root) / cfg.experiment / config_hash(cfg)


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def _check_images(x: Any, what: str) -> torch.Tensor:
    """Validate a (n, C, H, W) float image tensor in [0, 1]."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{what} must be a float tensor (n, C, H, W), got {shape}")
    x = x.detach().cpu()
    if not torch.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or inf")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(f"{what} must lie in [0, 1], got range [{lo:.4g}, {hi:.4g}]")
    return x.clamp(0, 1)


def eval_reference(cfg: ExperimentConfig, family: Family, like: torch.Tensor | None) -> torch.Tensor:
    """Real images for FID/KID/SSIM, float (N, C, H, W) in [0, 1], resized to ``like``'s H×W when they differ.

    ``family.prepare_eval_reference(cfg)`` if the family has one; else the ``eval.fid_real_images``
    reference images of ``eval.protocol`` for ``cfg.data`` (:func:`qdm.protocols.reference_images`, the
    one definition of each protocol, shared with the notebooks and the audit).
    """
    if family.prepare_eval_reference is not None:
        ref = _check_images(family.prepare_eval_reference(cfg), f"{family.name}.prepare_eval_reference output")
    else:
        ref = protocols.to_unit(protocols.reference_images(cfg.data, cfg.eval.protocol, cfg.eval.fid_real_images))
    return ref if like is None else _match_to(ref, like)  # None: the check before training, not yet matched


def _match_to(ref: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reference images resized (bilinear, antialiased) to the samples' H×W; their channels must agree."""
    if ref.shape[1] != like.shape[1]:
        raise ValueError(f"reference images have {ref.shape[1]} channels but the samples have {like.shape[1]}")
    if ref.shape[-2:] != like.shape[-2:]:
        ref = F.interpolate(ref, size=tuple(like.shape[-2:]), mode="bilinear", antialias=True, align_corners=False)
        ref = ref.clamp(0, 1)
    return ref


def _flatten(prefix: str, result: Any) -> dict[str, Any]:
    """A metric result (number, dict, dataclass, namedtuple) as flat JSON values: 'value'/'mean' -> prefix."""
    if isinstance(result, torch.Tensor):
        result = result.item()
    if isinstance(result, (int, float, np.floating, np.integer)) and not isinstance(result, bool):
        return {prefix: float(result)}
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        result = dataclasses.asdict(result)
    elif hasattr(result, "_asdict"):
        result = result._asdict()
    if not isinstance(result, dict):
        raise ValueError(f"metric {prefix!r} returned an unsupported value {result!r}")
    out: dict[str, Any] = {}
    main_key = next((k for k in ("value", "mean") if k in result), None)
    for key, value in result.items():
        name = prefix if key == main_key else f"{prefix}_{key}"
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, (np.floating, np.integer)):
            value = value.item()
        if isinstance(value, (bool, int, float, str)) or value is None:
            out[name] = value
    return out


def _metrics_module(names: Sequence[str]) -> Any:
    """``qdm.metrics``, imported lazily; a clear error when image metrics are asked for and it is missing."""
    try:
        return importlib.import_module("qdm.metrics")
    except ModuleNotFoundError as err:
        if err.name != "qdm.metrics":
            raise
        raise RuntimeError(
            f"EvalConfig.metrics asks for {tuple(names)} but qdm.metrics is not available; set eval.metrics=() to skip"
        ) from None


def compute_image_metrics(
    samples: torch.Tensor,
    reference: torch.Tensor,
    ecfg: EvalConfig,
    seed: int = 0,
    device: str = "cpu",
    feature_cache: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """FID (Heusel 2017), KID ± jackknife SE (Bińkowski 2018), Inception precision/recall (Kynkäänniemi 2019), paired SSIM
    (Wang 2004).

    ``feature_cache``: a folder where the reference set's Inception features are kept (keyed by its pixels),
    so runs that share a reference set pass it through Inception once. Each metric names its image
    counts (``*_n_reference``, ``*_n_generated``). ``seed`` is kept for callers; no metric here draws subsets.
    """
    metrics = _metrics_module(ecfg.metrics)
    out: dict[str, Any] = {}
    if {"fid", "kid", "precision_recall"} & set(ecfg.metrics):
        # Inception features once per image set, shared by FID, KID and precision/recall
        f_real = protocols.cached_features(reference, feature_cache, device=device, progress=progress)
        f_fake = metrics.inception_features(samples, device=device, progress=progress)
        counts = {"n_reference": int(f_real.shape[0]), "n_generated": int(f_fake.shape[0])}
        if "fid" in ecfg.metrics:
            out["fid"] = float(metrics.fid_from_features(f_real, f_fake))
            out.update({f"fid_{k}": v for k, v in counts.items()})
        if "kid" in ecfg.metrics and min(counts.values()) >= 3:
            result = metrics.kid_jackknife(f_real, f_fake)
            out.update({"kid": result.value, "kid_se": result.se, "kid_se_method": "two-sample jackknife over images"})
            out.update({f"kid_{k}": v for k, v in counts.items()})
        if "precision_recall" in ecfg.metrics and min(counts.values()) >= 4:
            from qdm.precision_recall import precision_recall

            pr = precision_recall(f_real, f_fake)
            out.update({"pr_inception_precision": pr.precision, "pr_inception_recall": pr.recall, "pr_inception_k": pr.k})
            out.update({f"pr_inception_{k}": v for k, v in counts.items()})
    if "ssim" in ecfg.metrics:
        if ecfg.ssim_pairing == "index" and reference.shape[0] < samples.shape[0]:
            raise ValueError(
                f"EvalConfig.ssim_pairing='index' needs at least as many reference images ({reference.shape[0]}) "
                f"as samples ({samples.shape[0]})"
            )
        result = metrics.ssim_paired(
            samples, reference, pairing=ecfg.ssim_pairing, convention=ecfg.ssim_convention, data_range=1.0
        )
        out.update(_flatten("ssim", result))
    return out


# --------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------


def _data_source(cfg: ExperimentConfig) -> dict[str, Any]:
    """The data file behind the run's training split as the data layer reports it (md5, verified, note)."""
    from qdm.data import load_dataset

    source = load_dataset(cfg.data.dataset, cfg.data.split, data_dir=cfg.data.data_dir).source
    return {
        "dataset": cfg.data.dataset,
        "split": cfg.data.split,
        "file": str(source.file),
        "md5": source.md5,
        "verified": source.verified,
        "note": source.note,
    }


def provenance(cfg: ExperimentConfig) -> dict[str, Any]:
    """The run's provenance record (style.md item 1, via ``qdm.provenance.record``) plus device and data source.

    Each part is guarded: a missing git, data file or provenance module is recorded as an error
    string, never fails a finished run.
    """
    out: dict[str, Any] = {
        "config_hash": config_hash(cfg),
        "qdm_version": qdm.__version__,
        "torch": torch.__version__,
        "device": cfg.train.device,
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if cfg.train.device == "cuda" and torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
    }
    try:
        out["data_source"] = _data_source(cfg)
        data_files = [out["data_source"]["file"]]
    except Exception as err:  # noqa: BLE001 - provenance is best effort
        out["data_source"] = {"error": f"{type(err).__name__}: {err}"}
        data_files = []
    try:
        from qdm.provenance import record

        out["record"] = record(to_dict(cfg), cfg.train.seed, data_files=data_files)
    except Exception as err:  # noqa: BLE001 - provenance is best effort
        out["record"] = {"error": f"{type(err).__name__}: {err}"}
    return out


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------


def _read_losses(path: Path) -> tuple[float, ...]:
    """The loss column of losses.csv."""
    with open(path, newline="") as fh:
        return tuple(float(row["loss"]) for row in csv.DictReader(fh))


def load_run(run_dir: str | os.PathLike[str]) -> RunRecord:
    """Read a finished run folder (one with DONE) back into a RunRecord (``reused=True``)."""
    run_dir = Path(run_dir)
    if not (run_dir / DONE_NAME).is_file():
        raise FileNotFoundError(f"{run_dir} holds no finished run (no {DONE_NAME} marker)")
    cfg = from_dict(_read_json(run_dir / "config.json"))
    try:
        losses = _read_losses(run_dir / "losses.csv")
    except (OSError, KeyError, ValueError, csv.Error) as err:
        raise _damaged(run_dir / "losses.csv", err) from None
    return RunRecord(
        run_dir=run_dir,
        config=cfg,
        config_hash=config_hash(cfg),
        metrics=_read_json(run_dir / "metrics.json"),
        timing=_read_json(run_dir / "timing.json"),
        losses=losses,
        reused=True,
    )


def _damaged(path: Path, err: BaseException) -> RunStoreError:
    """The one-line error for a run file that cannot be read."""
    what = "is missing" if isinstance(err, FileNotFoundError) else f"is damaged ({type(err).__name__})"
    return RunStoreError(f"{path} {what}; re-run with --force to redo the run")


def _read_json(path: Path) -> Any:
    """A run file's JSON, or a RunStoreError naming the file and --force."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _damaged(path, err) from None


# --------------------------------------------------------------------------------------------
# Identity, lock and the checks before any work
# --------------------------------------------------------------------------------------------


def _reference_split(cfg: ExperimentConfig) -> str:
    """The split the evaluation's real images come from (:func:`qdm.protocols.reference_split`)."""
    return protocols.reference_split(cfg.data.dataset, cfg.eval.protocol)


def run_identity(cfg: ExperimentConfig) -> dict[str, Any]:
    """What decides a run's numbers besides its config: the md5 of every data file it reads and torch's thread count.

    The thread count belongs here because torch's CPU reductions change order with it (gradients differ from
    step 1 by ~1e-7), so the same config with ``--workers 1`` (all cores) and ``--workers 2`` (half each) gives
    different bytes. A stored run is served only for an equal identity.
    """
    from qdm.data import load_dataset  # the data layer is only needed for a run

    splits = {cfg.data.split} | ({_reference_split(cfg)} if cfg.eval.metrics else set())
    data = {}
    for split in sorted(splits):
        source = load_dataset(cfg.data.dataset, split, data_dir=cfg.data.data_dir).source
        data[split] = {"file": Path(source.file).name, "md5": source.md5}
    return {"config_hash": config_hash(cfg), "data": data, "torch_threads": torch.get_num_threads()}


def _identity_mismatch(stored: dict[str, Any], current: dict[str, Any]) -> str | None:
    """How a stored identity differs from the current one, in words (None when equal)."""
    if stored.get("data") != current["data"]:
        return f"was made from data {stored.get('data')}, but the data now is {current['data']}"
    if stored.get("torch_threads") != current["torch_threads"]:
        return (
            f"was made with {stored.get('torch_threads')} torch thread(s), this process has {current['torch_threads']} "
            "(the reduction order, and so the bytes, differ; --workers changes the threads per run)"
        )
    return None


def _check_identity(run_dir: Path, current: dict[str, Any]) -> None:
    """Refuse to reuse or resume a run folder made from other data or another thread count."""
    path = run_dir / IDENTITY_NAME
    if not path.is_file():
        if (run_dir / DONE_NAME).is_file() or (run_dir / CHECKPOINT_NAME).is_file():
            raise RunStoreError(f"{run_dir} records no {IDENTITY_NAME} (made by an older qdm); re-run with --force to redo it")
        return
    problem = _identity_mismatch(_read_json(path), current)
    if problem:
        raise RunStoreError(
            f"{run_dir} {problem}; it is not served for other inputs: re-run with --force to redo it, "
            "or use another --results folder"
        )


class _RunLock:
    """An exclusive lock per run folder (``<results>/.locks/<experiment>/<hash>.lock``, fcntl).

    A second process for the same run folder waits, saying which process holds it; the lock files live outside
    the run folders, so ``--force`` (which deletes a run folder) cannot pull a lock from under a running job.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir.parents[1] / LOCKS_DIR / run_dir.parent.name / f"{run_dir.name}.lock"
        self._fh: Any = None

    def __enter__(self) -> _RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+")  # held for the whole run
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.seek(0)
            holder = self._fh.read().strip() or "another process"
            print(f"qdm: waiting for {self.run_dir}, which {holder} is running", file=sys.stderr)
            fcntl.flock(self._fh, fcntl.LOCK_EX)
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"pid {os.getpid()}\n")
        self._fh.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.seek(0)
        self._fh.truncate()
        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()


def check_before_work(cfg: ExperimentConfig, family: Family) -> torch.Tensor | None:
    """Every check that needs no trained model, run before training: split, reference set, its size, pairing.

    Returns the evaluation's real images (verified and loaded once, before hours of training) or None.
    """
    if not cfg.eval.metrics:
        return None
    if cfg.eval.protocol == "qdm" and cfg.data.split == _reference_split(cfg) and family.prepare_eval_reference is None:
        raise ValueError(
            "data.split='test' trains on the very images the qdm protocol scores against; "
            "train on 'train', or set eval.metrics=() to train without scoring"
        )
    reference = eval_reference(cfg, family, None)
    n = int(reference.shape[0])
    if cfg.eval.fid_real_images is not None and n < cfg.eval.fid_real_images:
        raise ValueError(
            f"eval.fid_real_images={cfg.eval.fid_real_images} cannot be met: the {cfg.eval.protocol!r} protocol's reference "
            f"set of {cfg.data.dataset} classes {tuple(cfg.data.classes)} holds {n} images; set eval.fid_real_images<={n} "
            "(an FID from fewer images is not comparable with one from more)"
        )
    if "ssim" in cfg.eval.metrics and cfg.eval.ssim_pairing == "index" and n < cfg.eval.n_samples:
        raise ValueError(
            f"eval.ssim_pairing='index' needs at least as many reference images ({n}) as eval.n_samples={cfg.eval.n_samples}"
        )
    return reference


def initial_model(cfg: ExperimentConfig) -> torch.nn.Module:
    """The model exactly as :func:`run_experiment` built it before training (global RNG seeded with train.seed, then build)."""
    if not isinstance(cfg, ExperimentConfig):
        raise ValueError(f"cfg must be an ExperimentConfig, got {type(cfg).__name__}")
    with torch.random.fork_rng(devices=[]):
        seed_everything(cfg.train.seed)
        return get_family(cfg.family).build(cfg)


def load_trained_model(record: RunRecord, ema: bool = True) -> torch.nn.Module:
    """The trained model of a finished run (EMA weights when the run kept them and ``ema``), in eval mode."""
    if not isinstance(record, RunRecord):
        raise ValueError(f"record must be a qdm.runner.RunRecord, got {type(record).__name__}")
    path = Path(record.run_dir) / CHECKPOINT_NAME
    if not path.is_file() and (Path(record.run_dir) / ledger.LEDGER_RECORD).is_file():
        raise RunStoreError(
            f"{record.run_dir} is a ledger entry, which keeps no weights; train the run locally "
            "(QDM_LEDGER_DIR=none, or --force) to inspect its model"
        )
    model = initial_model(record.config)
    state = load_checkpoint(path)
    weights = state["ema"] if ema and state.get("ema") is not None else state["model"]
    model.load_state_dict(weights)
    return model.eval()


def run_samples(record: RunRecord) -> torch.Tensor:
    """The images a run generated (n, C, H, W) in [0, 1], from its samples.pt (a ledger entry: its kept samples)."""
    if not isinstance(record, RunRecord):
        raise ValueError(f"record must be a qdm.runner.RunRecord, got {type(record).__name__}")
    path = Path(record.run_dir) / "samples.pt"
    if not path.is_file() and (Path(record.run_dir) / ledger.LEDGER_RECORD).is_file():
        return ledger.kept_samples(Path(record.run_dir))
    return torch.load(path, weights_only=True)


def outcome_records(outcomes: Sequence[JobOutcome]) -> list[RunRecord]:
    """The finished runs behind :func:`run_many` outcomes; RuntimeError naming the first failed job."""
    failed = [o for o in outcomes if not o.ok]
    if failed:
        first = failed[0]
        raise RuntimeError(f"{len(failed)} run(s) failed; first: {first.experiment} {first.config_hash}: {first.error}")
    return [load_run(o.run_dir) for o in outcomes]


def _validate_samples(samples: Any, n: int, family: Family) -> torch.Tensor:
    """The family's samples, checked: (n, C, H, W) float in [0, 1]."""
    x = _check_images(samples, f"{family.name}.sample output")
    if x.shape[0] != n:
        raise ValueError(f"{family.name}.sample returned {x.shape[0]} images, expected eval.n_samples={n}")
    return x


def finished_run(cfg: ExperimentConfig, results_root: str | os.PathLike[str] = "results") -> tuple[RunRecord | None, str]:
    """The finished run of ``cfg`` that can be shown without training: (record, "results" | "ledger"), else (None, "missing").

    The local store first, then the ledger; either only for the same data files (a local run made from other
    data is refused with :class:`RunStoreError`, never shown). As for ledger entries, the thread count a
    finished run was made with is recorded, not required: showing a run does not recompute it.
    """
    if not isinstance(cfg, ExperimentConfig):
        raise ValueError(f"cfg must be an ExperimentConfig, got {type(cfg).__name__}")
    run_dir = run_dir_for(cfg, results_root)
    data = run_identity(cfg)["data"]
    if (run_dir / DONE_NAME).is_file():
        path = run_dir / IDENTITY_NAME
        stored = _read_json(path).get("data") if path.is_file() else None
        if stored != data:
            raise RunStoreError(
                f"{run_dir} was made from data {stored}, but the data now is {data}; it is not shown for other "
                "inputs: re-run it with --force, or use another --results folder"
            )
        return load_run(run_dir), "results"
    entry = ledger.lookup(cfg.experiment, config_hash(cfg), data)
    return (load_run(entry.path), "ledger") if entry is not None else (None, "missing")


def run_experiment(
    cfg: ExperimentConfig, results_root: str | os.PathLike[str] = "results", force: bool = False, progress: bool = True
) -> RunRecord:
    """Train, sample and evaluate ``cfg`` into ``<results_root>/<experiment>/<hash>/``; reuse a finished run,
    resume an unfinished one."""
    if not isinstance(cfg, ExperimentConfig):
        raise ValueError(f"cfg must be an ExperimentConfig, got {type(cfg).__name__}")
    family = get_family(cfg.family)
    if cfg.eval.metrics:
        _metrics_module(cfg.eval.metrics)
    run_dir = run_dir_for(cfg, results_root)
    with _RunLock(run_dir):
        if force and run_dir.exists():
            shutil.rmtree(run_dir)
        identity = run_identity(cfg)
        if run_dir.is_dir():
            _check_identity(run_dir, identity)
        if (run_dir / DONE_NAME).is_file():
            return load_run(run_dir)
        entry = None if force or run_dir.exists() else ledger.lookup(cfg.experiment, config_hash(cfg), identity["data"])
        if entry is not None:  # a committed record of this config made from the same data: served, not trained
            return load_run(entry.path)
        created = not run_dir.exists()
        try:
            return _run_locked(cfg, family, run_dir, identity, progress)
        except BaseException:
            # Nothing to resume (no checkpoint yet): leave no half-made folder behind.
            if created and run_dir.is_dir() and not (run_dir / CHECKPOINT_NAME).is_file():
                shutil.rmtree(run_dir, ignore_errors=True)
            raise


def _run_locked(
    cfg: ExperimentConfig, family: Family, run_dir: Path, identity: dict[str, Any], progress: bool
) -> RunRecord:
    """:func:`run_experiment` under the run folder's lock: check, train, sample, evaluate, write."""
    reference = check_before_work(cfg, family)
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / "config.json"
    if config_path.is_file() and _read_json(config_path) != json.loads(to_json(cfg)):
        raise RunStoreError(f"{config_path} holds a different config than hash {run_dir.name}; re-run with --force")
    _write_json(config_path, to_dict(cfg))
    _write_json(run_dir / IDENTITY_NAME, identity)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")

    seed_everything(cfg.train.seed)
    # CPU seconds of the process (all threads) per phase beside the wall times: a split that a loaded machine
    # does not distort (the wall times of a phase grow with whatever else runs beside it)
    cpu = [time.process_time()]
    result = train(
        family.build(cfg),
        family.prepare_data(cfg),
        lambda m, batch, g: family.loss(m, batch, cfg, g),
        cfg.train,
        checkpoint_dir=run_dir,
        progress=progress,
        resume=True,
    )
    cpu.append(time.process_time())
    samples, sample_wall = draw_samples(cfg, family, result.sampling_model, progress)
    _save_samples(samples, run_dir)
    cpu.append(time.process_time())
    t0 = time.perf_counter()
    # results/<experiment>/<hash>/ -> results/.cache/inception: reference features shared across runs
    metrics = _evaluate(
        cfg, family, result.sampling_model, samples, run_dir.parents[1] / FEATURE_CACHE, reference, progress, run_dir
    )
    eval_wall = time.perf_counter() - t0
    cpu.append(time.process_time())
    timing = {
        "started": started,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "resumed_from_step": result.start_step,
        "final_step": result.final_step,
        "steps_trained": result.final_step - result.start_step,
        "train_wall_s": result.wall_time_s,
        "train_total_wall_s": result.total_wall_time_s,
        "steps_per_s": result.steps_per_s,
        "sample_wall_s": sample_wall,
        "eval_wall_s": eval_wall,
        "train_cpu_s": cpu[1] - cpu[0],  # this call's training (a resumed run: the steps it trained), build included
        "sample_cpu_s": cpu[2] - cpu[1],
        "eval_cpu_s": cpu[3] - cpu[2],
        "torch_threads": torch.get_num_threads(),
    }
    _write_json(run_dir / "metrics.json", metrics)
    _write_csv(run_dir / "metrics.csv", ("metric", "value"), sorted(metrics.items()))
    _write_csv(
        run_dir / "losses.csv",
        ("step", "loss", "grad_norm"),
        [(i + 1, repr(loss), repr(norm)) for i, (loss, norm) in enumerate(zip(result.losses, result.grad_norms))],
    )
    _write_json(run_dir / "timing.json", timing)
    _write_json(run_dir / "provenance.json", provenance(cfg))
    _atomic_write_bytes(run_dir / DONE_NAME, (timing["finished"] + "\n").encode())
    return RunRecord(
        run_dir=run_dir,
        config=cfg,
        config_hash=run_dir.name,
        metrics=metrics,
        timing=timing,
        losses=result.losses,
        reused=False,
    )


def draw_samples(
    cfg: ExperimentConfig, family: Family, model: torch.nn.Module, progress: bool = False
) -> tuple[torch.Tensor, float]:
    """``eval.n_samples`` images from the (EMA) model in eval mode, with a generator seeded from ``train.seed``; seconds."""
    from qdm.diffusion import sampling_progress

    t0 = time.perf_counter()
    model.eval()
    generator = torch.Generator(device=torch.device(cfg.train.device)).manual_seed(cfg.train.seed + SAMPLING_SEED_OFFSET)
    with torch.no_grad(), deterministic_mode(cfg.train.deterministic), sampling_progress(progress):
        samples = _validate_samples(family.sample(model, cfg.eval.n_samples, cfg, generator), cfg.eval.n_samples, family)
    return samples, time.perf_counter() - t0


def _save_samples(samples: torch.Tensor, run_dir: Path) -> None:
    """samples.pt (the tensor) and samples.png (the grid), atomically."""
    buf = io.BytesIO()
    torch.save(samples, buf)
    _atomic_write_bytes(run_dir / "samples.pt", buf.getvalue())
    save_image_grid(samples, run_dir / "samples.png")


def _evaluate(
    cfg: ExperimentConfig,
    family: Family,
    model: torch.nn.Module,
    samples: torch.Tensor,
    feature_cache: Path | None = None,
    reference: torch.Tensor | None = None,
    progress: bool = False,
    run_dir: Path | None = None,
) -> dict[str, Any]:
    """Image metrics against the reference set (with counts and protocol) plus the family's own metrics.

    ``reference``: the real images loaded by :func:`check_before_work` (matched to the samples here).
    ``nearest_pairs.png`` (memorisation: each sample beside its nearest training image) goes into ``run_dir``.
    """
    metrics: dict[str, Any] = {"n_samples": cfg.eval.n_samples, "protocol": cfg.eval.protocol}
    if cfg.eval.metrics:
        reference = _match_to(reference, samples) if reference is not None else eval_reference(cfg, family, samples)
        metrics["n_reference"] = int(reference.shape[0])
        metrics["reference"] = (
            f"{family.name}.prepare_eval_reference ({reference.shape[0]} images)"
            if family.prepare_eval_reference is not None
            else protocols.reference_note(cfg.data, cfg.eval.protocol, int(reference.shape[0]))
        )
        metrics.update(
            compute_image_metrics(samples, reference, cfg.eval, cfg.train.seed, cfg.train.device, feature_cache, progress)
        )
        if {"classifier", "memorisation"} & set(cfg.eval.metrics):
            from qdm import run_metrics

            if "classifier" in cfg.eval.metrics:
                with_pr = "precision_recall" in cfg.eval.metrics
                metrics.update(run_metrics.classifier_metrics(cfg, samples, reference, with_pr))
            if "memorisation" in cfg.eval.metrics:
                found, pairs = run_metrics.memorisation_metrics(cfg, samples)
                metrics.update(found)
                if pairs is not None and run_dir is not None:
                    save_image_grid(pairs, run_dir / "nearest_pairs.png", nrow=2)
    if family.evaluate is not None:
        extra = _flatten_extra(family.evaluate(model, samples, cfg))
        clash = sorted(set(extra) & set(metrics))
        if clash:
            raise ValueError(f"{family.name}.evaluate returned metric names that clash with image metrics: {clash}")
        metrics.update(extra)
    return metrics


def _flatten_extra(extra: Any) -> dict[str, Any]:
    """A family's extra metrics as JSON scalars (tensors/numpy scalars to floats; lists kept if JSON-able)."""
    if not isinstance(extra, dict):
        raise ValueError(f"Family.evaluate must return a dict, got {type(extra).__name__}")
    out: dict[str, Any] = {}
    for key, value in extra.items():
        if isinstance(value, torch.Tensor):
            value = value.item() if value.numel() == 1 else value.tolist()
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, (np.floating, np.integer)):
            value = value.item()
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ValueError(f"Family.evaluate metric {key!r} is not a finite JSON value: {value!r}") from None
        out[str(key)] = value
    return out


# --------------------------------------------------------------------------------------------
# Many runs
# --------------------------------------------------------------------------------------------


def _plugin_modules(cfg: ExperimentConfig) -> tuple[str, ...]:
    """Modules a fresh worker must import so the config's family (and model config type) is registered."""
    family = get_family(cfg.family)
    mods = {getattr(family.build, "__module__", None), family.model_config_cls.__module__}
    return tuple(sorted(m for m in mods if m and m != "__main__"))


def _run_job(
    cfg_dict: dict[str, Any], results_root: str, force: bool, progress: bool, modules: tuple[str, ...]
) -> dict[str, Any]:
    """Worker entry point: rebuild the config, run it, and report success or the error (never raises)."""
    experiment, digest, run_dir = cfg_dict.get("experiment", "?"), "?", ""
    try:
        for module in modules:
            importlib.import_module(module)
        cfg = from_dict(cfg_dict)
        digest, run_dir = config_hash(cfg), str(run_dir_for(cfg, results_root))
        record = run_experiment(cfg, results_root=results_root, force=force, progress=progress)
        return {
            "experiment": experiment,
            "config_hash": digest,
            "run_dir": str(record.run_dir),  # the local run folder, or the ledger entry that served it
            "ok": True,
            "reused": record.reused,
            "metrics": record.metrics,
        }
    except Exception as err:  # noqa: BLE001 - a crashed job is reported, the others go on
        return {
            "experiment": experiment,
            "config_hash": digest,
            "run_dir": run_dir,
            "ok": False,
            "reused": False,
            "metrics": {},
            "error": f"{type(err).__name__}: {err}",
            "traceback": traceback.format_exc(),
        }


def _worker_init(threads: int) -> None:
    """Process-pool initializer: share the cores between the workers."""
    torch.set_num_threads(threads)


def _crash(payload: tuple[Any, ...], err: BaseException) -> dict[str, Any]:
    """The outcome of a job whose worker itself failed (killed process, lost cluster worker)."""
    cfg_dict, results_root = payload[0], payload[1]
    cfg = from_dict(cfg_dict)
    return {
        "experiment": cfg.experiment,
        "config_hash": config_hash(cfg),
        "run_dir": str(run_dir_for(cfg, results_root)),
        "ok": False,
        "reused": False,
        "metrics": {},
        "error": f"{type(err).__name__}: {err}",
        "traceback": "".join(traceback.format_exception(err)),
    }


def _run_local(payloads: list[tuple[Any, ...]], workers: int) -> list[dict[str, Any]]:
    """Run jobs in this process (workers=1) or in a spawn-context process pool."""
    if workers == 1 or len(payloads) == 1:
        return [_run_job(*p) for p in payloads]
    n_workers = min(workers, len(payloads))
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    results: list[dict[str, Any] | None] = [None] * len(payloads)
    with ProcessPoolExecutor(
        max_workers=n_workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(threads,),
    ) as pool:
        futures = {pool.submit(_run_job, *p): i for i, p in enumerate(payloads)}
        for future in as_completed(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except Exception as err:  # noqa: BLE001 - e.g. BrokenProcessPool: report it for this job
                results[i] = _crash(payloads[i], err)
    return [r for r in results if r is not None]


def _run_dask(payloads: list[tuple[Any, ...]], address: str | None) -> list[dict[str, Any]]:
    """Submit the jobs unchanged to a Dask cluster (``distributed.Client(address)``; a local one when None)."""
    try:
        from distributed import Client
    except ImportError as err:
        raise ImportError(
            "engine='dask' needs dask.distributed, which is not installed: pip install 'qdm[cluster]'"
        ) from err
    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT_S) if address else Client()
    except (OSError, TimeoutError) as err:
        raise ValueError(
            f"--address {address}: no Dask scheduler answered within {DASK_CONNECT_TIMEOUT_S} s ({type(err).__name__}); "
            "start one (dask scheduler) or check the address"
        ) from None
    try:
        futures = [client.submit(_run_job, *p, pure=False) for p in payloads]
        results = []
        for payload, future in zip(payloads, futures, strict=True):
            try:
                results.append(future.result())
            except Exception as err:  # noqa: BLE001 - a lost worker fails only its own job
                results.append(_crash(payload, err))
        return results
    finally:
        client.close()


def _run_ray(payloads: list[tuple[Any, ...]], address: str | None) -> list[dict[str, Any]]:
    """Submit the jobs unchanged to a Ray cluster (``ray.init(address)``; a local one when None)."""
    try:
        import ray
    except ImportError as err:
        raise ImportError("engine='ray' needs ray, which is not installed: pip install 'qdm[cluster]'") from err
    ray.init(address=address, ignore_reinit_error=True)
    remote = ray.remote(_run_job)
    refs = [remote.remote(*p) for p in payloads]
    results = []
    for payload, ref in zip(payloads, refs, strict=True):
        try:
            results.append(ray.get(ref))
        except Exception as err:  # noqa: BLE001 - a lost worker fails only its own job
            results.append(_crash(payload, err))
    return results


def run_many(
    cfgs: Sequence[ExperimentConfig],
    workers: int = 1,
    engine: str = "local",
    address: str | None = None,
    results_root: str | os.PathLike[str] = "results",
    force: bool = False,
    progress: bool = False,
) -> list[JobOutcome]:
    """Run independent configs (local spawn process pool, or an existing Dask/Ray cluster); one outcome per config, in order.

    Finished runs are reused from ``results_root``; a failing job is reported (``ok=False``) without
    stopping the others, and re-runs (resuming its checkpoint) the next time.  Duplicate configs run once.
    """
    if isinstance(cfgs, ExperimentConfig) or not all(isinstance(c, ExperimentConfig) for c in cfgs):
        raise ValueError("cfgs must be a sequence of ExperimentConfig values")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if address is not None and engine == "local":
        raise ValueError("address is only used with engine='dask' or engine='ray'")
    root = str(results_root)
    keys = [(c.experiment, config_hash(c)) for c in cfgs]
    unique: dict[tuple[str, str], int] = {}
    payloads: list[tuple[Any, ...]] = []
    for key, cfg in zip(keys, cfgs, strict=True):
        if key not in unique:
            unique[key] = len(payloads)
            show = progress and engine == "local" and workers == 1
            payloads.append((to_dict(cfg), root, force, show, _plugin_modules(cfg)))
    if not payloads:
        return []
    if engine == "local":
        results = _run_local(payloads, workers)
    elif engine == "dask":
        results = _run_dask(payloads, address)
    else:
        results = _run_ray(payloads, address)
    return [JobOutcome(**results[unique[key]]) for key in keys]
