"""Chapter 02 (the depolarizing QDM of [zhang2024quddpm]): its knobs, experiments, and the along-t frame and figure."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure
from torch import Tensor

from qdm.chapters.common import check_choice, check_float, check_int, check_results_dir, require
from qdm.config import ExperimentConfig, get_experiment

__all__ = ["DepolChapterParams", "along_t_frame", "depol_experiments", "plot_along_t"]


@dataclass(frozen=True)
class DepolChapterParams:
    """Parameters of notebooks/02_depolarizing_qdm ([zhang2024quddpm]), validated on construction."""

    n_qubits: int = 2
    n_ancilla: int = 1
    T: int = 10
    n_layers: int = 2
    target: str = "cluster"
    loss: str = "final"
    spread: float = 0.3
    n_states: int = 64
    steps: int = 400
    lr: float = 0.05
    seed: int = 0
    n_trajectories: int = 512
    results_dir: str = ""

    def __post_init__(self) -> None:
        """Check every field; the message names the parameter and its allowed values."""
        check_int("n_qubits", self.n_qubits, 1, 4)
        check_int("n_ancilla", self.n_ancilla, 1, 3)
        check_int("T", self.T, 1, 1000)
        check_int("n_layers", self.n_layers, 1, 50)
        check_choice("target", self.target, ("cluster", "line"))
        check_choice("loss", self.loss, ("final", "stepwise"))
        check_float("spread", self.spread, 0.0, 10.0)
        check_int("n_states", self.n_states, 1, 100_000)
        check_int("steps", self.steps, 1, 10_000_000)
        check_float("lr", self.lr, 0.0, 10.0, low_open=True)
        check_int("seed", self.seed, 0, 2**31 - 1)
        check_int("n_trajectories", self.n_trajectories, 1, 1_000_000)
        check_results_dir(self.results_dir)

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (for provenance records)."""
        return asdict(self)


def depol_experiments(p: DepolChapterParams) -> dict[str, ExperimentConfig]:
    """[zhang2024quddpm]: the registered depolarizing QDM (ancilla reverse) and its unitary-only control, with ``p``'s values."""
    if not isinstance(p, DepolChapterParams):
        raise ValueError(f"p must be DepolChapterParams, got {type(p).__name__}")
    out = {}
    for label, name in (("ancilla", "depolarizing-qdm"), ("unitary", "depolarizing-qdm-unitary")):
        base = get_experiment(name)
        model = dataclasses.replace(
            base.model, n_qubits=p.n_qubits, T=p.T, n_layers=p.n_layers, target=p.target, loss=p.loss, spread=p.spread,
            n_states=p.n_states, target_seed=p.seed, n_ancilla=p.n_ancilla if label == "ancilla" else 0,
        )
        train = dataclasses.replace(base.train, steps=p.steps, lr=p.lr, seed=p.seed)
        out[label] = dataclasses.replace(base, model=model, train=train)
    return out


_ALONG_T = (("fidelity", "forward_fidelity", "fidelity to target"), ("purity", "forward_purity", "purity"))


def along_t_frame(reports: Mapping[str, Mapping[str, Tensor]]) -> pd.DataFrame:
    """Along t: fidelity to the targets and purity, forward and reverse, from ``report_along_t`` outputs.

    Long form: model, process ("forward" or "reverse"), measure, t, value. The forward curves depend only
    on the schedule; when every model shares them they appear once, with model "all".
    """
    if not isinstance(reports, Mapping) or not reports:
        raise ValueError("reports must be a non-empty mapping label -> report_along_t output")
    for label, rep in reports.items():
        missing = [k for k in ("t", "fidelity", "purity", "forward_fidelity", "forward_purity") if k not in rep]
        if missing:
            raise ValueError(f"reports[{label!r}] is missing {missing}; use qdm.models.depolarizing.report_along_t")
    first = next(iter(reports.values()))
    shared = all(
        rep["t"].shape == first["t"].shape
        and all(torch.allclose(rep[k].double(), first[k].double(), atol=1e-12) for k in ("forward_fidelity", "forward_purity"))
        for rep in reports.values()
    )
    parts = []
    for label, rep in reports.items():
        t = rep["t"].numpy()
        for reverse_key, forward_key, measure in _ALONG_T:
            parts.append(pd.DataFrame({"model": label, "process": "reverse", "measure": measure, "t": t,
                                       "value": rep[reverse_key].double().numpy()}))
            if not shared or rep is first:
                parts.append(pd.DataFrame({"model": "all" if shared else label, "process": "forward", "measure": measure,
                                           "t": t, "value": rep[forward_key].double().numpy()}))
    return pd.concat(parts, ignore_index=True)


def plot_along_t(frame: pd.DataFrame, bound: float, d: int) -> Figure:
    """Two panels (fidelity to target, purity) against t: forward dashed, reverse solid; λ_max(ρ̄) and 1/d as guides."""
    require(frame, ("model", "process", "measure", "t", "value"))
    measures = [m for _, _, m in _ALONG_T if m in set(frame["measure"])]
    fig, axes = plt.subplots(1, len(measures), figsize=(5.2 * len(measures), 3.6), squeeze=False)
    colours = dict(zip(dict.fromkeys(frame["model"]), sns.color_palette()))
    for ax, measure in zip(axes[0], measures):
        sub = frame[frame["measure"] == measure]
        for (model, process), curve in sub.groupby(["model", "process"], sort=False):
            style = "--" if process == "forward" else "-"
            ax.plot(curve["t"], curve["value"], style, marker="o", markersize=3, color=colours[model],
                    label=f"{process}" + ("" if model == "all" else f", {model}"))
        if measure == "fidelity to target":
            ax.axhline(bound, color="0.3", linestyle=":", label=r"bound $\lambda_{\max}(\bar\rho)$")
        ax.axhline(1.0 / d, color="0.6", linestyle="-.", label=r"$1/d$ (state $I/d$)")
        ax.set_title(measure)
        ax.set_xlabel(r"level $t$ (reverse runs from $t=T$ to $0$)")
    handles: dict[str, Any] = {}
    for ax in axes[0]:
        for handle, text in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(text, handle)
    axes[0][-1].legend(handles.values(), handles.keys(), loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig
