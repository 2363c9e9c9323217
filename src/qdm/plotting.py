"""The book's shared figure style and its small plotting functions (seaborn on matplotlib).

Each ``plot_*`` function takes tidy data (a long-form ``pandas.DataFrame`` or a mapping of
arrays) and returns a new :class:`matplotlib.figure.Figure`; none of them computes diffusion
or quantum maths. The ``*_frame`` helpers turn qdm objects into those tidy frames by calling
:mod:`qdm.schedules` and :mod:`qdm.quantum` (their columns are what the CSV beside each saved
figure holds, see :func:`qdm.provenance.save_figure`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure

from qdm.diffusion import gaussian_noise, q_sample, q_step
from qdm.quantum.density import (
    fidelity,
    maximally_mixed,
    purity,
    trace_distance,
    von_neumann_entropy,
)
from qdm.schedules import NoiseSchedule

__all__ = [
    "QUANTUM_MEASURES",
    "SCHEDULE_QUANTITIES",
    "depolarizing_measures_frame",
    "forward_moments_frame",
    "plot_bars",
    "plot_estimator_bias",
    "plot_noising_grid",
    "plot_posterior",
    "plot_quantum_decay",
    "plot_schedules",
    "schedule_frame",
    "set_style",
]

SCHEDULE_QUANTITIES: tuple[str, ...] = ("beta_t", "alpha_bar_t", "log10 SNR_t")
"""Quantities of :func:`schedule_frame`, in panel order."""

QUANTUM_MEASURES: tuple[str, ...] = ("purity", "fidelity to rho_0", "trace distance to I/d", "entropy (bits)")
"""Measures of :func:`depolarizing_measures_frame`, in panel order."""

_LABELS = {
    "beta_t": r"$\beta_t$",
    "alpha_bar_t": r"$\bar\alpha_t$",
    "log10 SNR_t": r"$\log_{10}\,\mathrm{SNR}_t = \log_{10}\frac{\bar\alpha_t}{1-\bar\alpha_t}$",
    "purity": r"purity $\mathrm{tr}\,\rho_t^2$",
    "fidelity to rho_0": r"fidelity $F(\rho_t, \rho_0)$",
    "trace distance to I/d": r"trace distance $T(\rho_t, I/d)$",
    "entropy (bits)": r"entropy $S(\rho_t)$ (bits)",
}


def set_style(context: str = "notebook") -> None:
    """One look for every figure of the book: seaborn whitegrid, colour-blind palette, deterministic SVG."""
    if context not in ("paper", "notebook", "talk", "poster"):
        raise ValueError(f"context must be one of 'paper', 'notebook', 'talk', 'poster', got {context!r}")
    sns.set_theme(context=context, style="whitegrid", palette="colorblind", font="DejaVu Sans")
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.titlesize": "medium",
            "legend.frameon": False,
            "svg.hashsalt": "qdm",
            "image.cmap": "gray",
        }
    )


def _require_columns(frame: Any, columns: Sequence[str], name: str) -> pd.DataFrame:
    """Check that ``frame`` is a non-empty DataFrame with the given columns."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing columns {missing}; it needs {list(columns)}")
    if frame.empty:
        raise ValueError(f"{name} must not be empty")
    return frame


def schedule_frame(schedules: Mapping[str, NoiseSchedule]) -> pd.DataFrame:
    """Seed eqs. 1-2: long-form beta_t, alpha_bar_t and log10 SNR_t = log10(alpha_bar/(1-alpha_bar)) for t = 1..T."""
    if not isinstance(schedules, Mapping) or not schedules:
        raise ValueError("schedules must be a non-empty mapping of label -> NoiseSchedule")
    parts = []
    for label, sched in schedules.items():
        if not isinstance(sched, NoiseSchedule):
            raise ValueError(f"schedules[{label!r}] must be a NoiseSchedule, got {type(sched).__name__}")
        t = np.arange(1, sched.T + 1)
        alpha_bar = sched.alpha_bar.numpy()
        values = {
            "beta_t": sched.betas.numpy(),
            "alpha_bar_t": alpha_bar,
            "log10 SNR_t": np.log10(alpha_bar) - np.log10(1.0 - alpha_bar),
        }
        for quantity, value in values.items():
            parts.append(pd.DataFrame({"schedule": label, "t": t, "t/T": t / sched.T, "quantity": quantity, "value": value}))
    return pd.concat(parts, ignore_index=True)


def forward_moments_frame(
    x0: torch.Tensor,
    schedule: NoiseSchedule,
    times: Sequence[int],
    n_samples: int,
    generator: torch.Generator | None,
) -> pd.DataFrame:
    """jo2025qamp eq. 1 iterated against its eq. 2 for one image x0: one row of moments per t in ``times``.

    Runs ``n_samples`` step-by-step chains x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps (qdm.diffusion.q_step)
    and, at each t in ``times``, draws as many one-shot samples of q(x_t | x_0) (qdm.diffusion.q_sample).
    Columns: the largest pixel-mean deviation from sqrt(alpha_bar_t) x_0 in Monte-Carlo standard errors,
    the pooled variances (closed form 1 - alpha_bar_t, step by step, one-shot) and their relative error,
    and the error of the noise-free path prod_s sqrt(alpha_s) x_0 against sqrt(alpha_bar_t) x_0.
    """
    if not isinstance(x0, torch.Tensor) or x0.numel() < 1 or not x0.is_floating_point():
        raise ValueError("x0 must be a non-empty real floating-point tensor (one image)")
    if not isinstance(schedule, NoiseSchedule):
        raise ValueError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    wanted = sorted({int(t) for t in times})
    if not wanted or wanted[0] < 1 or wanted[-1] > schedule.T:
        raise ValueError(f"times must be a non-empty set of steps in 1..T = {schedule.T}, got {list(times)}")
    x_first = x0.reshape(1, -1)
    chains = x_first.expand(n_samples, -1).clone()
    mean_path = x_first.clone()
    rows = []
    for t in range(1, wanted[-1] + 1):
        chains = q_step(chains, t, gaussian_noise(tuple(chains.shape), generator, chains.dtype), schedule)
        mean_path = q_step(mean_path, t, torch.zeros_like(mean_path), schedule)
        if t not in wanted:
            continue
        abar = float(schedule.alpha_bar_at(t))
        one_shot = q_sample(
            x_first.expand(n_samples, -1), t, gaussian_noise(tuple(chains.shape), generator, chains.dtype), schedule
        )
        stderr = math.sqrt((1 - abar) / n_samples)
        rows.append(
            {
                "t": t,
                "alpha_bar_t": abar,
                "max |mean error| / s.e.": float((chains.mean(0) - abar**0.5 * x_first[0]).abs().max()) / stderr,
                "var closed form 1 - alpha_bar_t": 1 - abar,
                "var step by step": float(chains.var(0).mean()),
                "var one-shot samples": float(one_shot.var(0).mean()),
                "mean path error": float((mean_path - abar**0.5 * x_first).abs().max()),
            }
        )
    frame = pd.DataFrame(rows)
    frame["var rel. error"] = frame["var step by step"] / frame["var closed form 1 - alpha_bar_t"] - 1
    return frame


def plot_schedules(frame: pd.DataFrame) -> Figure:
    """Three panels (beta_t, alpha_bar_t, log10 SNR_t) against t/T, one line per schedule."""
    _require_columns(frame, ("schedule", "t/T", "quantity", "value"), "frame")
    quantities = [q for q in SCHEDULE_QUANTITIES if q in set(frame["quantity"])]
    fig, axes = plt.subplots(1, len(quantities), figsize=(4.2 * len(quantities), 3.4), squeeze=False)
    for ax, quantity in zip(axes[0], quantities):
        sub = frame[frame["quantity"] == quantity]
        sns.lineplot(data=sub, x="t/T", y="value", hue="schedule", ax=ax, estimator=None, errorbar=None)
        ax.set_title(_LABELS.get(quantity, quantity))
        ax.set_xlabel(r"$t/T$")
        ax.set_ylabel("")
        if quantity == "beta_t":
            ax.set_yscale("log")
        if ax is not axes[0][-1] and ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.tight_layout()
    return fig


def _as_images(value: Any, name: str) -> np.ndarray:
    """(N, H, W) float array from a tensor/array of shape (N, H, W) or (N, 1, H, W)."""
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3 or array.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N, H, W) or (N, 1, H, W) with N >= 1, got {array.shape}")
    return array.astype(np.float64)


def plot_noising_grid(
    images_by_t: Mapping[int, Any],
    alpha_bar: Mapping[int, float] | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> Figure:
    """Grid of images x_t (rows: images, columns: t), grey scale clipped to ``value_range``."""
    if not isinstance(images_by_t, Mapping) or not images_by_t:
        raise ValueError("images_by_t must be a non-empty mapping t -> images (N, H, W)")
    columns = {int(t): _as_images(v, f"images_by_t[{t}]") for t, v in images_by_t.items()}
    n_rows = {a.shape[0] for a in columns.values()}
    if len(n_rows) != 1:
        raise ValueError(f"every entry of images_by_t must hold the same number of images, got {sorted(n_rows)}")
    lo, hi = value_range
    if not lo < hi:
        raise ValueError(f"value_range must be (low, high) with low < high, got {value_range!r}")
    rows, cols = n_rows.pop(), len(columns)
    fig, axes = plt.subplots(rows, cols, figsize=(1.25 * cols, 1.25 * rows + 0.5), squeeze=False)
    for j, (t, images) in enumerate(sorted(columns.items())):
        title = f"t = {t}"
        if alpha_bar is not None and t in alpha_bar:
            title += "\n" + r"$\bar\alpha_t$" + f" = {alpha_bar[t]:.3g}"
        axes[0][j].set_title(title, fontsize="small")
        for i in range(rows):
            ax = axes[i][j]
            ax.imshow(np.clip(images[i], lo, hi), cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_posterior(frame: pd.DataFrame) -> Figure:
    """Left: the variances in ``frame`` against t (log-log); right: the ratio of the second quantity to the first."""
    _require_columns(frame, ("t", "quantity", "value"), "frame")
    quantities = list(dict.fromkeys(frame["quantity"]))
    if len(quantities) != 2:
        raise ValueError(f"frame must hold exactly two quantities (e.g. beta_t and beta_tilde_t), got {quantities}")
    wide = frame.pivot(index="t", columns="quantity", values="value").sort_index()
    fig, (ax_var, ax_ratio) = plt.subplots(1, 2, figsize=(9.5, 3.4))
    for quantity in quantities:
        ax_var.plot(wide.index, wide[quantity], label=quantity)
    ax_var.set_xscale("log")
    ax_var.set_yscale("log")
    ax_var.set_xlabel(r"$t$")
    ax_var.set_ylabel("variance")
    ax_var.legend()
    ax_ratio.plot(wide.index, wide[quantities[1]] / wide[quantities[0]], color=sns.color_palette()[2])
    ax_ratio.set_xscale("log")
    ax_ratio.set_xlabel(r"$t$")
    ax_ratio.set_title(f"{quantities[1]} / {quantities[0]}")
    fig.tight_layout()
    return fig


def depolarizing_measures_frame(
    trajectories: Mapping[tuple[str, str], torch.Tensor], references: Mapping[str, torch.Tensor]
) -> pd.DataFrame:
    """Purity, F(rho_t, rho_0), T(rho_t, I/d) and S(rho_t) along each trajectory (jo2025qamp §1.3.6-1.3.8), long form.

    ``trajectories`` maps (state label, method label) to rho_0..rho_T stacked as (T + 1, d, d);
    ``references`` maps each state label to its rho_0.
    """
    if not isinstance(trajectories, Mapping) or not trajectories:
        raise ValueError("trajectories must be a non-empty mapping (state, method) -> tensor (T + 1, d, d)")
    parts = []
    for key, traj in trajectories.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"trajectories keys must be (state, method) pairs, got {key!r}")
        state, method = key
        if state not in references:
            raise ValueError(f"references has no rho_0 for state {state!r}; it has {sorted(references)}")
        if not isinstance(traj, torch.Tensor) or traj.ndim != 3 or traj.shape[-1] != traj.shape[-2]:
            raise ValueError(f"trajectories[{key!r}] must be a tensor of shape (T + 1, d, d)")
        d = traj.shape[-1]
        n_qubits = int(round(math.log2(d)))
        mixed = maximally_mixed(n_qubits, dtype=traj.dtype)
        values = {
            "purity": purity(traj),
            "fidelity to rho_0": fidelity(traj, references[state].to(traj.dtype)),
            "trace distance to I/d": trace_distance(traj, mixed),
            "entropy (bits)": von_neumann_entropy(traj),
        }
        t = np.arange(traj.shape[0])
        for measure, value in values.items():
            parts.append(
                pd.DataFrame(
                    {"state": state, "method": method, "t": t, "measure": measure, "value": value.detach().cpu().numpy()}
                )
            )
    return pd.concat(parts, ignore_index=True)


def plot_quantum_decay(frame: pd.DataFrame) -> Figure:
    """One panel per measure against t; colour = initial state; first method as lines, the others as markers on top."""
    _require_columns(frame, ("state", "method", "t", "measure", "value"), "frame")
    measures = [m for m in QUANTUM_MEASURES if m in set(frame["measure"])]
    measures += [m for m in dict.fromkeys(frame["measure"]) if m not in measures]
    states = list(dict.fromkeys(frame["state"]))
    methods = list(dict.fromkeys(frame["method"]))
    colours = dict(zip(states, sns.color_palette(n_colors=len(states))))
    markers = ["o", "x", "s", "^", "D"]
    fig, axes = plt.subplots(1, len(measures), figsize=(3.6 * len(measures), 3.3), squeeze=False)
    for ax, measure in zip(axes[0], measures):
        sub = frame[frame["measure"] == measure]
        for state in states:
            for k, method in enumerate(methods):
                curve = sub[(sub["state"] == state) & (sub["method"] == method)].sort_values("t")
                if curve.empty:
                    continue
                label = f"{state}, {method}"
                if k == 0:
                    ax.plot(curve["t"], curve["value"], color=colours[state], label=label)
                else:
                    every = max(1, len(curve) // 12)
                    ax.plot(
                        curve["t"], curve["value"], linestyle="none", marker=markers[(k - 1) % len(markers)],
                        markevery=every, markersize=5, markerfacecolor="none", color=colours[state], label=label,
                    )
        ax.set_title(_LABELS.get(measure, measure))
        ax.set_xlabel(r"$t$")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


def plot_bars(frame: pd.DataFrame, x: str, y: str, hue: str | None = None, ylabel: str | None = None) -> Figure:
    """A labelled bar chart of ``y`` per ``x`` (e.g. entropies before and after a map), values written on the bars."""
    _require_columns(frame, [c for c in (x, y, hue) if c is not None], "frame")
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * frame[x].nunique() + 1.5), 3.4))
    sns.barplot(data=frame, x=x, y=y, hue=hue, ax=ax, errorbar=None)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.3f", fontsize="small", padding=2)
    ax.set_xlabel("")
    ax.set_ylabel(ylabel if ylabel is not None else y)
    ax.tick_params(axis="x", labelrotation=12)
    fig.tight_layout()
    return fig


def plot_estimator_bias(frame: pd.DataFrame) -> Figure:
    """FID and KID (mean ± std over draws) against the image count n, real-vs-real and model-vs-real
    (qdm.protocols.estimator_bias_table)."""
    _require_columns(frame, ["comparison", "n", "fid_mean", "fid_std", "kid_mean", "kid_std"], "frame")
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4))
    for ax, metric, label in ((axes[0], "fid", "FID"), (axes[1], "kid", "KID (unbiased)")):
        for comparison, group in frame.groupby("comparison", sort=False):
            g = group.sort_values("n")
            ax.errorbar(g["n"], g[f"{metric}_mean"], yerr=g[f"{metric}_std"], marker="o", capsize=3, label=comparison)
        ax.set_xscale("log")
        ax.set_xlabel("images per set n")
        ax.set_ylabel(label)
        ax.axhline(0.0, color="0.6", lw=0.8)
    axes[0].legend(frameon=False)
    fig.tight_layout()
    return fig
