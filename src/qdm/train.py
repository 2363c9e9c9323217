"""The one training loop shared by every model family (hybrid DDPM, PQC denoiser, depolarizing QDM).

:func:`train` runs ``cfg.steps`` optimisation steps of ``loss_fn(model, batch, generator)`` with
Adam/AdamW, an optional StepLR schedule (stepped once per optimisation step), optional gradient-norm
clipping, an optional exponential moving average (EMA) of the weights, tqdm progress, and atomic
checkpoints from which it resumes bit-exactly.

Reproducibility contract (on CPU; on CUDA up to the kernels' own determinism):

- the global torch RNG is seeded with ``cfg.seed`` at the start and its state is checkpointed;
- all noise a family needs comes from ``generator``, a dedicated ``torch.Generator`` on the
  training device seeded with ``cfg.seed`` (checkpointed);
- mini-batches are drawn without replacement from per-epoch permutations that depend only on
  ``(cfg.seed, epoch)`` (:func:`epoch_permutation`), so step ``s`` always sees the same batch;
- deterministic algorithms (warn-only) are on while training when ``cfg.deterministic``
  (:func:`deterministic_mode`; the previous setting is restored afterwards).

Hence training 2N steps straight and training N, stopping and resuming to 2N give identical weights.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from qdm.config import TrainConfig
from qdm.io import atomic_write

__all__ = [
    "CHECKPOINT_NAME",
    "TrainResult",
    "TrainingDiverged",
    "batch_indices",
    "batch_slice",
    "deterministic_mode",
    "ema_update",
    "epoch_permutation",
    "load_checkpoint",
    "make_optimizer",
    "make_scheduler",
    "save_checkpoint",
    "seed_everything",
    "train",
]

CHECKPOINT_NAME = "checkpoint.pt"
_CHECKPOINT_FORMAT = 1
#: TrainConfig fields that may change between a checkpoint and its resumption.
_RESUMABLE_CHANGES = frozenset({"steps", "checkpoint_every", "log_every"})

Batch = torch.Tensor | tuple[torch.Tensor, ...]
LossFn = Callable[[nn.Module, Batch, torch.Generator], torch.Tensor]


class TrainingDiverged(RuntimeError):
    """The loss (or gradient norm) became NaN/inf; carries the step and the offending value."""

    def __init__(self, step: int, value: float, what: str = "loss", last_checkpoint: int | None = None) -> None:
        self.step = step
        self.value = value
        self.what = what
        self.last_checkpoint = last_checkpoint
        where = f"; last checkpoint is at step {last_checkpoint}" if last_checkpoint is not None else ""
        super().__init__(f"training diverged at step {step}: {what} is {value} (not finite){where}")


@dataclass(frozen=True)
class TrainResult:
    """What a training call produced: the model (and EMA copy), per-step losses and grad norms, timing."""

    model: nn.Module
    ema_model: nn.Module | None
    losses: tuple[float, ...]
    grad_norms: tuple[float, ...]
    start_step: int
    final_step: int
    wall_time_s: float
    total_wall_time_s: float
    steps_per_s: float
    checkpoint_path: Path | None

    @property
    def sampling_model(self) -> nn.Module:
        """The weights to sample with: the EMA copy when EMA is enabled, else the trained model."""
        return self.ema_model if self.ema_model is not None else self.model


# --------------------------------------------------------------------------------------------
# Small pure pieces
# --------------------------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global RNGs (CPU and CUDA) with ``seed``."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in 0..2**32-1, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic_mode(enabled: bool = True) -> Iterator[None]:
    """Within the block, deterministic algorithms in warn-only mode (as ``use_deterministic_algorithms(True, warn_only=True)``).

    Set through ``torch.set_deterministic_debug_mode("warn")``, which flips the same switch without
    importing ``torch._inductor`` (several seconds per process; qdm does not use torch.compile).  The
    previous mode is restored afterwards.
    """
    previous = torch.get_deterministic_debug_mode()
    torch.set_deterministic_debug_mode("warn" if enabled else "default")
    try:
        yield
    finally:
        torch.set_deterministic_debug_mode(previous)


def _mix_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for epoch ``epoch`` of a run seeded with ``seed`` (Knuth multiplicative mixing)."""
    return (seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + 1) % (2**63)


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order of the ``n`` training examples in ``epoch`` (depends only on seed and epoch)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    g = torch.Generator().manual_seed(_mix_seed(seed, epoch))
    return torch.randperm(n, generator=g)


def batch_slice(step: int, n: int, batch_size: int) -> tuple[int, int, int]:
    """(epoch, start, stop) of optimisation step ``step`` (0-based) in the epoch permutations of ``n`` examples.

    The batch is ``min(batch_size, n)`` examples; an epoch is ``n // batch`` steps (the remainder of each
    permutation is dropped, and differs from epoch to epoch).
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    b = min(batch_size, n)
    epoch, j = divmod(step, n // b)
    return epoch, j * b, (j + 1) * b


def batch_indices(step: int, n: int, batch_size: int, seed: int) -> torch.Tensor:
    """Example indices of optimisation step ``step`` (0-based): a slice of :func:`epoch_permutation`."""
    epoch, lo, hi = batch_slice(step, n, batch_size)
    return epoch_permutation(n, seed, epoch)[lo:hi]


def make_optimizer(params: list[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam or AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019) with ``cfg.lr`` and ``cfg.weight_decay``."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"TrainConfig.optimizer must be 'adam' or 'adamw', got {cfg.optimizer!r}")


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.StepLR | None:
    """StepLR: lr × ``lr_gamma`` every ``lr_step_size`` optimisation steps (None when ``lr_step_size`` is None)."""
    if cfg.lr_step_size is None:
        return None
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.lr_step_size, gamma=cfg.lr_gamma)


@torch.no_grad()
def ema_update(ema_model: nn.Module, model: nn.Module, decay: float) -> None:
    """EMA of the weights: θ_ema ← decay·θ_ema + (1 − decay)·θ for parameters; buffers are copied."""
    if not 0.0 < decay < 1.0:
        raise ValueError(f"decay must be in (0, 1), got {decay}")
    for p_ema, p in zip(ema_model.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p.detach(), 1.0 - decay)
    for b_ema, b in zip(ema_model.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


def _grad_norm(params: list[nn.Parameter], clip: float | None) -> float:
    """Total 2-norm of the gradients before clipping; clips them in place to ``clip`` when given."""
    grads = [p for p in params if p.grad is not None]
    if not grads:
        return 0.0
    if clip is not None:
        return float(torch.nn.utils.clip_grad_norm_(grads, max_norm=clip))
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in grads])))


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` with torch.save atomically: a temporary file in the same folder, fsync, then os.replace."""
    path = Path(path)
    atomic_write(path, lambda fh: torch.save(state, fh))
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`train` (``weights_only`` loading: tensors and plain Python values only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises OSError, RuntimeError, EOFError or UnpicklingError
        raise ValueError(
            f"{path} is damaged and cannot be read ({type(err).__name__}); delete it, or re-run with --force "
            "to redo the run from step 0"
        ) from None
    if not isinstance(state, dict) or state.get("format") != _CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not a qdm training checkpoint (format {_CHECKPOINT_FORMAT}); delete it, or re-run with --force"
        )
    return state


def _check_resumable(saved: dict[str, Any], cfg: TrainConfig, path: Path) -> None:
    """Refuse to resume a checkpoint written with different training settings (other than steps/logging)."""
    now = dataclasses.asdict(cfg)
    diffs = [
        f"{k}: checkpoint {saved.get(k)!r} vs now {v!r}"
        for k, v in now.items()
        if k not in _RESUMABLE_CHANGES and saved.get(k) != v
    ]
    if diffs:
        raise ValueError(
            f"cannot resume {path}: it was written with other TrainConfig values ({'; '.join(diffs)}); "
            "use resume=False or another checkpoint_dir"
        )


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


def _validate_inputs(model: Any, data: Any, loss_fn: Any, cfg: Any) -> int:
    """Check train()'s arguments before any work; return the number of training examples."""
    if not isinstance(cfg, TrainConfig):
        raise ValueError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be callable as loss_fn(model, batch, generator), got {loss_fn!r}")
    tensors = data if isinstance(data, tuple) else (data,)
    if not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
        raise ValueError("data must be a torch.Tensor or a non-empty tuple of tensors (examples along dim 0)")
    if any(t.dim() == 0 for t in tensors):
        raise ValueError("data tensors must have a leading example dimension")
    sizes = {t.shape[0] for t in tensors}
    if len(sizes) != 1:
        raise ValueError(f"data tensors must share their first dimension, got sizes {sorted(sizes)}")
    n = sizes.pop()
    if n < 1:
        raise ValueError("data must hold at least one example")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("TrainConfig.device is 'cuda' but CUDA is not available here; use device='cpu'")
    return n


def _rng_state(device: torch.device) -> dict[str, Any]:
    """The global torch RNG states (CPU, and CUDA when training there)."""
    return {
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else None,
    }


def train(
    model: nn.Module,
    data: Batch,
    loss_fn: LossFn,
    cfg: TrainConfig,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    resume: bool = True,
) -> TrainResult:
    """Minimise ``loss_fn(model, batch, generator)`` for ``cfg.steps`` steps (Adam/AdamW, StepLR, EMA, clipping, checkpoints).

    ``data``: a tensor (or tuple of tensors) of training examples along dim 0, moved to ``cfg.device``.
    With ``checkpoint_dir``, a checkpoint is written there every ``cfg.checkpoint_every`` steps and at the
    end, and (``resume=True``) an existing one is resumed exactly.  A non-finite loss or gradient norm
    raises :class:`TrainingDiverged` naming the step, before that step touches the weights or the disk.
    """
    n = _validate_inputs(model, data, loss_fn, cfg)
    device = torch.device(cfg.device)
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None

    with deterministic_mode(cfg.deterministic):
        seed_everything(cfg.seed)
        model.to(device)
        data = tuple(t.to(device) for t in data) if isinstance(data, tuple) else data.to(device)
        params = [p for p in model.parameters() if p.requires_grad]
        if not params and cfg.steps > 0:
            raise ValueError("model has no trainable parameters (requires_grad=True); nothing to train")
        optimizer = make_optimizer(params, cfg)
        scheduler = make_scheduler(optimizer, cfg)
        ema = None
        if cfg.ema_decay is not None:
            ema = copy.deepcopy(model)  # same requires_grad flags as the model; updated under no_grad only
        generator = torch.Generator(device=device).manual_seed(cfg.seed)
        losses: list[float] = []
        grad_norms: list[float] = []
        start = 0
        prior_wall = 0.0

        if resume and ckpt_path is not None and ckpt_path.is_file():
            state = load_checkpoint(ckpt_path)
            _check_resumable(state["train_config"], cfg, ckpt_path)
            if state["step"] > cfg.steps:
                raise ValueError(
                    f"checkpoint {ckpt_path} is at step {state['step']}, beyond TrainConfig.steps={cfg.steps}"
                )
            model.load_state_dict(state["model"])
            if ema is not None:
                ema.load_state_dict(state["ema"])
            optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(state["scheduler"])
            generator.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            if state["cuda_rng"] is not None and device.type == "cuda":
                torch.cuda.set_rng_state_all(state["cuda_rng"])
            losses = list(state["losses"])
            grad_norms = list(state["grad_norms"])
            start = int(state["step"])
            prior_wall = float(state["wall_time_s"])

        def snapshot(step: int, wall: float) -> dict[str, Any]:
            return {
                "format": _CHECKPOINT_FORMAT,
                "step": step,
                "model": model.state_dict(),
                "ema": ema.state_dict() if ema is not None else None,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "generator": generator.get_state(),
                **_rng_state(device),
                "losses": list(losses),
                "grad_norms": list(grad_norms),
                "train_config": dataclasses.asdict(cfg),
                "wall_time_s": wall,
            }

        last_saved = start if ckpt_path is not None and start > 0 else None
        model.train()
        t0 = time.perf_counter()
        bar = tqdm(total=cfg.steps, initial=start, desc="train", disable=not progress, dynamic_ncols=True, leave=False)
        perm_epoch, perm = -1, torch.empty(0, dtype=torch.long)
        try:
            for step in range(start + 1, cfg.steps + 1):
                epoch, lo, hi = batch_slice(step - 1, n, cfg.batch_size)
                if epoch != perm_epoch:
                    perm_epoch, perm = epoch, epoch_permutation(n, cfg.seed, epoch).to(device)
                idx = perm[lo:hi]
                batch = tuple(t[idx] for t in data) if isinstance(data, tuple) else data[idx]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model, batch, generator)
                if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                    raise ValueError(f"loss_fn must return a scalar tensor, got {type(loss).__name__} at step {step}")
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise TrainingDiverged(step, value, "loss", last_saved)
                if not loss.requires_grad:
                    raise ValueError(f"loss_fn returned a tensor without a graph at step {step} (requires_grad=False)")
                loss.reshape(()).backward()
                norm = _grad_norm(params, cfg.grad_clip)
                if not math.isfinite(norm):
                    raise TrainingDiverged(step, norm, "gradient norm", last_saved)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                if ema is not None:
                    ema_update(ema, model, cfg.ema_decay)
                losses.append(value)
                grad_norms.append(norm)
                bar.update(1)
                if step % cfg.log_every == 0 or step == cfg.steps:
                    recent = losses[-cfg.log_every :]
                    bar.set_postfix(loss=f"{sum(recent) / len(recent):.4g}", refresh=False)
                wall = time.perf_counter() - t0
                if (
                    ckpt_path is not None
                    and step < cfg.steps
                    and cfg.checkpoint_every is not None
                    and step % cfg.checkpoint_every == 0
                ):
                    save_checkpoint(ckpt_path, snapshot(step, prior_wall + wall))
                    last_saved = step
        finally:
            bar.close()
        wall = time.perf_counter() - t0
        trained = cfg.steps - start
        if ckpt_path is not None and (trained > 0 or not ckpt_path.is_file()):
            save_checkpoint(ckpt_path, snapshot(cfg.steps, prior_wall + wall))

    return TrainResult(
        model=model,
        ema_model=ema,
        losses=tuple(losses),
        grad_norms=tuple(grad_norms),
        start_step=start,
        final_step=cfg.steps,
        wall_time_s=wall,
        total_wall_time_s=prior_wall + wall,
        steps_per_s=trained / wall if trained > 0 and wall > 0 else 0.0,
        checkpoint_path=ckpt_path,
    )
