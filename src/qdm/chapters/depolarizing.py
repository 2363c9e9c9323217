"""Chapter 02 (the depolarizing QDM of [jo2025qamp] §1.3.5-1.3.8): its knobs, experiments, and the along-t frame and figure."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure
from torch import Tensor

from qdm.chapters.common import Chapter, chapter_from, check_results_dir, pick_parameters, require
from qdm.validation import check_int

__all__ = ["CONFIG_KEYS", "EXPERIMENTS", "DepolChapterKnobs", "along_t_frame", "depol_chapter", "from_namespace", "plot_along_t"]


#: The registered experiments chapter 02 trains: label -> experiment.
EXPERIMENTS: dict[str, str] = {"ancilla": "depolarizing-qdm", "unitary": "depolarizing-qdm-unitary"}

#: Chapter 02's notebook parameters that are config values: parameter -> keys of the experiments' configs
#: (validated there, :func:`qdm.presets.resolve_config`). ``n_ancilla`` applies to the ancilla model only.
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "n_qubits": ("model.n_qubits",),
    "n_ancilla": ("model.n_ancilla",),
    "T": ("model.T",),
    "n_layers": ("model.n_layers",),
    "target": ("model.target",),
    "loss": ("model.loss",),
    "spread": ("model.spread",),
    "n_states": ("model.n_states",),
    "seed": ("model.target_seed", "train.seed"),
    "steps": ("train.steps",),
    "lr": ("train.lr",),
}
_ONLY = {"n_ancilla": ("ancilla",)}


@dataclass(frozen=True)
class DepolChapterKnobs:
    """Chapter 02's own knobs: quantum trajectories of the unravelling check, and the results folder."""

    n_trajectories: int = 512
    results_dir: str = ""

    def __post_init__(self) -> None:
        """Check every field; the message names the parameter and its allowed values."""
        check_int(self.n_trajectories, "n_trajectories", 1, 1_000_000)
        check_results_dir(self.results_dir)


def depol_chapter(**values: Any) -> Chapter:
    """Chapter 02 from notebook parameters: configs "ancilla" and "unitary" (:data:`EXPERIMENTS`) with :data:`CONFIG_KEYS`
    as overrides, the rest :class:`DepolChapterKnobs` (:func:`qdm.chapters.common.chapter_from`)."""
    return chapter_from(values, DepolChapterKnobs, EXPERIMENTS, CONFIG_KEYS, only=_ONLY)


def from_namespace(namespace: Mapping[str, Any]) -> Chapter:
    """:func:`depol_chapter` from a notebook's namespace (its parameters cell and papermill's overrides)."""
    return depol_chapter(**pick_parameters(namespace, [*CONFIG_KEYS, *(f.name for f in dataclasses.fields(DepolChapterKnobs))]))


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
