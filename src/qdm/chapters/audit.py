"""The audit chapter (notebooks/07_audit.py): its knobs, the claims-ledger table, the evidence figures and tables.

The chapter trains nothing: it evaluates :data:`qdm.audits.claims.CLAIMS` against the runs in the local results
store and the committed ledger (:func:`qdm.chapters.runs.chapter_runs`), reads the committed measurements of
:mod:`qdm.audits.estimator_bias` and runs the build-time fact checks (seconds). It also holds the "code against
paper" table: what each paper says and what its public code does, as cited data (:data:`CODE_VS_PAPER`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from qdm.audits.claims import (
    CLAIMS,
    JO2026_FIG7_READINGS,
    PAPERS,
    VERDICTS,
    Comparison,
    Evaluation,
    Fact,
    Level,
    RunsFor,
)
from qdm.audits.estimator_bias import (
    BIAS_NAME,
    GAP_NAME,
    MEASURE_COMMAND,
    PUBLISHED_STRIP,
    RANDOM_DRAW,
    Measurement,
    gap_summary,
    stale_reason,
)
from qdm.chapters.common import check_results_dir, pick_parameters, results_root
from qdm.chapters.runs import ChapterRuns, chapter_runs, missing_note
from qdm.families import get_family
from qdm.models.pqc_denoiser import circuit_parameter_count
from qdm.presets import get_preset, resolve_config
from qdm.provenance import repo_root
from qdm.validation import check_float

__all__ = [
    "CODE_VS_PAPER",
    "PARAMETER_PRESETS",
    "AuditKnobs",
    "CodeFact",
    "claims_markdown",
    "code_markdown",
    "ano_fid_frame",
    "facts_table",
    "forest_frame",
    "from_namespace",
    "measurement_note",
    "missing_markdown",
    "parameter_table",
    "plot_ano_fid",
    "plot_forest",
    "plot_gap",
    "recording_runs",
    "verdict_counts",
]


# ---------------------------------------------------------------------------------------------
# The notebook's parameters
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditKnobs:
    """Chapter 07's parameters: training seeds the claims are judged over, where the measurements and runs are,
    and the confidence of the intervals."""

    seeds: str = "0,1,2"
    measurements_dir: str = ""
    results_dir: str = ""
    confidence: float = 0.95

    def __post_init__(self) -> None:
        """Check every field; the message names the parameter and what is allowed."""
        _ = self.seed_list  # validates
        if not isinstance(self.measurements_dir, str):
            raise ValueError(f"measurements_dir must be a path string ('' for <repo>/ledger/measurements), got "
                             f"{self.measurements_dir!r}")
        check_results_dir(self.results_dir)
        check_float(self.confidence, "confidence", 0.5, 1.0, high_open=True)

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The seeds as ints: comma-separated, distinct, each in 0 … 999."""
        if not isinstance(self.seeds, str):
            raise ValueError(f"seeds must be a comma-separated string of ints, e.g. '0,1,2', got {self.seeds!r}")
        parts = [p.strip() for p in self.seeds.split(",") if p.strip()]
        if not parts or not all(p.isdigit() and int(p) <= 999 for p in parts) or len(set(parts)) != len(parts):
            raise ValueError(f"seeds must be distinct comma-separated ints in 0..999, e.g. '0,1,2', got {self.seeds!r}")
        return tuple(int(p) for p in parts)

    @property
    def measurements(self) -> Path:
        """The folder of the committed measurements."""
        if self.measurements_dir.strip():
            return Path(self.measurements_dir).expanduser().resolve()
        root = repo_root()
        if root is None:
            raise ValueError("measurements_dir must be given when qdm does not run from its repository")
        return root / "ledger" / "measurements"

    @property
    def results_root(self) -> Path:
        """The local results store (read only) and where the figures go (:func:`qdm.chapters.common.results_root`)."""
        return results_root(self.results_dir)

    def as_dict(self) -> dict[str, Any]:
        return {"seeds": self.seeds, "measurements_dir": self.measurements_dir, "results_dir": self.results_dir,
                "confidence": self.confidence}


def from_namespace(namespace: Mapping[str, Any]) -> AuditKnobs:
    """:class:`AuditKnobs` from a notebook's namespace (its parameters cell and papermill's overrides)."""
    return AuditKnobs(**pick_parameters(namespace, ["seeds", "measurements_dir", "results_dir", "confidence"]))


def recording_runs(results_root: str | Path) -> tuple[RunsFor, dict[tuple[str, str, tuple[int, ...]], ChapterRuns]]:
    """A ``runs_for`` for :func:`qdm.audits.claims.evaluate_claims` (chapter_runs, nothing trained) and the dict it fills,
    so the page can list every missing and stale run it looked for."""
    seen: dict[tuple[str, str, tuple[int, ...]], ChapterRuns] = {}

    def runs_for(chapter: str, profile: str, seeds: Sequence[int]) -> ChapterRuns:
        key = (chapter, profile, tuple(seeds))
        if key not in seen:
            seen[key] = chapter_runs(chapter, profile, seeds, train_missing=False, results_root=results_root)
        return seen[key]

    return runs_for, seen


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def _link(label: str) -> str:
    """A MyST cross-reference: {ref} for a section label, {numref} for a figure or table."""
    return f"{{ref}}`{label}`" if label.startswith("sec-") else f"{{numref}}`{label}`"


def _cell(text: str) -> str:
    """Markdown-table-safe text."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_markdown(evaluations: Sequence[Evaluation], confidence: float = 0.95) -> str:
    """The claims ledger as a MyST table: claim, source (citation), published, qdm under both protocols, verdict, link."""
    if not evaluations:
        raise ValueError("evaluations must hold at least one Evaluation")
    lines = [
        f"| # | claim | source | published | qdm, published protocol | qdm, fair protocol ({confidence:.0%} interval) "
        "| verdict | why | evidence |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, e in enumerate(evaluations, 1):
        c = e.claim
        kind = " *(fact about the code)*" if c.kind == "fact" else ""
        lines.append(
            f"| {i} | {_cell(c.claim)}{kind} | {{cite:t}}`{c.source.key}`, {_cell(c.source.where)} "
            f"| {_cell(c.published.text)} ({_cell(c.published.where)}) | {_cell(e.published_protocol)} | {_cell(e.fair)} "
            f"| **{e.verdict}** | {_cell(e.why)} | {_link(c.label)} |"
        )
    return "\n".join(lines) + "\n"


def verdict_counts(evaluations: Sequence[Evaluation]) -> dict[str, int]:
    """How many claims got each verdict (every verdict of :data:`qdm.audits.claims.VERDICTS`, zeros included)."""
    counts = dict.fromkeys(VERDICTS, 0)
    for e in evaluations:
        counts[e.verdict] += 1
    return counts


def facts_table(evaluations: Sequence[Evaluation]) -> pd.DataFrame:
    """The claims decided by a build-time check: what was computed, qdm's number, the target and the verdict."""
    rows = []
    for e in evaluations:
        t = e.claim.test
        if isinstance(t, Fact):
            rows.append({"claim": e.claim.id, "paper": PAPERS.get(e.claim.paper, e.claim.paper), "qdm": e.fair,
                         "target": f"{t.relation} {t.target:g}" + (f" (± {t.tolerance:g})" if t.tolerance else ""),
                         "verdict": e.verdict, "computed": e.why.split(": ", 1)[-1]})
    return pd.DataFrame(rows, columns=["claim", "paper", "qdm", "target", "verdict", "computed"])


#: Presets whose parameter counts the chapter tabulates (the published models and their twins).
PARAMETER_PRESETS: tuple[str, ...] = (
    "chen2025", "chen2025-classical", "chen2025-matched", "cacioppo2023-cond-latent", "cacioppo2025-full",
    "koelle2024", "jo2025-ano",
)


def parameter_table(presets: Sequence[str] = PARAMETER_PRESETS) -> pd.DataFrame:
    """Trainable parameters of each preset (its family's ``parameter_counts`` hook on a fresh build; the PQC denoiser's
    circuit count from its config): quantum, classical, total and the quantum share."""
    rows = []
    for name in presets:
        cfg = get_preset(name)
        if cfg.family == "pqc_denoiser":
            # the family hook builds the model, which trains the latent presets' autoencoder first (minutes);
            # its count is the circuit's, which the config alone gives
            n = circuit_parameter_count(cfg.model)
            c = {"quantum": n, "classical": 0, "total": n}
        else:
            hook = get_family(cfg.family).parameter_counts
            if hook is None:
                raise ValueError(f"preset {name}: family {cfg.family} has no parameter_counts hook")
            c = hook(cfg)
        rows.append({"preset": name, "family": cfg.family, "quantum": int(c["quantum"]), "classical": int(c["classical"]),
                     "total": int(c["total"]), "quantum share": c["quantum"] / c["total"] if c["total"] else math.nan})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class CodeFact:
    """One difference between a paper and its public code: the paper's words, the code's behaviour, where in the code."""

    key: str
    paper: str
    code: str
    where: str


_CHEN_CODE = "ChiShengChen/Quantum_MNIST_Diffusion @ 63b26c2"
_CACIOPPO_CODE = "AndreaCacioppo/QDM_pennylane @ 04873d0"
_JO_CODE = "dolf3131/Enhancing-Quantum-Diffusion-Models-for-Complex-Image-Generation @ d4b58c5"

#: What each paper says and what its public code does (each row: the repository at its commit, file and lines).
CODE_VS_PAPER: tuple[CodeFact, ...] = (
    CodeFact("chen2025quantum", "the key regime is fewer than 100 training images (Abstract)",
             "trains on all training images of one digit, about 6,000 (5,923 zeros: 30 epochs of 93 batches)",
             f"{_CHEN_CODE}, quantum_difussion_mnist_v7.py (DataLoader; __main__ lines 153, 222–224)"),
    CodeFact("chen2025quantum", "FID and SSIM of the quantum and the classical model (Abstract, tables)",
             "cal_fid_ssim.py scores one saved strip of 5 samples (mnist_9/epoch30_samples.png) against the first N "
             "training images of any digit, torchvision Inception; SSIM scikit-image, generated[i] against real[i]",
             f"{_CHEN_CODE}, cal_fid_ssim.py lines 72–75, 116"),
    CodeFact("chen2025quantum", "figures for digits 0, 1 and 6 (Figs. 3–5)",
             "the script's __main__ trains digits 1 to 9 (default digit_label=1); the metric script scores digit 9",
             f"{_CHEN_CODE}, quantum_difussion_mnist_v7.py lines 153, 222–224; cal_fid_ssim.py line 116"),
    CodeFact("chen2025quantum", "intrinsic quantum-generated noise and a tailored noise schedule (Abstract)",
             "torch.randn noise and the plain cosine schedule (s = 0.008)", f"{_CHEN_CODE}, quantum_difussion_mnist_v7.py"),
    CodeFact("chen2025quantum", "the identical classical architecture as baseline (Abstract)",
             "the same U-Net without the gate: no Linear(128, 16), no circuit, no Linear(16, 128)",
             f"{_CHEN_CODE}, quantum_difussion_mnist_v7.py"),
    CodeFact("chen2025quantum", "a variational quantum circuit in the bottleneck (Fig. 2)",
             "RY(x) embedding, then RZ(w) + CNOT-chain layers read out in Z: the weights cannot change ⟨Z⟩; the input "
             "is detached, so Linear(128, 16) gets no gradient", f"{_CHEN_CODE}, quantum_difussion_mnist_v7.py (quantum layer)"),
    CodeFact("cacioppo2023qdm", "latent QDM: FID 38.2 on MNIST",
             "no FID code in the repository (JSD on a 4-component PCA, ROC/AUC, PCA and t-SNE plots)",
             f"{_CACIOPPO_CODE}, Modules/"),
    CodeFact("cacioppo2023qdm", "1110 parameters for the conditioned latent model",
             "1110 circuit parameters (15·7·3 + 20·8·3 + 15·7·3), after an autoencoder trained on all 70k MNIST images",
             f"{_CACIOPPO_CODE}, hyperparameters.py, Modules/pennylane_functions.py, Autoencoder/"),
    CodeFact("cacioppo2023qdm", "a DDPM forward process (x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε)",
             "x_t = √ᾱ_t·x_0 + (1 − ᾱ_t)·ε: no square root on the noise term",
             f"{_CACIOPPO_CODE}, Modules/training_functions.py"),
    CodeFact("jo2026ano", "a ComplexLinear layer that preserves phase (§7; Fig. 4: 512 → 2·Bn)",
             "ComplexLinear is unused: the latent is a real unit 16-vector (Linear, ReLU, Linear, LayerNorm, L2)",
             f"{_JO_CODE}, models/ansatzes.py 66–80, 492–496"),
    CodeFact("jo2026ano", "trained on the full MNIST",
             "one unseeded random subset of 8,096 training images; the test split is unused",
             f"{_JO_CODE}, trainer.py 47; data/load_data.py 55–64"),
    CodeFact("jo2026ano", "FID ≈ 150 (§8.3), “stabilizing around 110” (Fig. 7)",
             "256 samples drawn without labels (the digit-0 rows of the angle table) against the first 256 training "
             "images, both unscaled and of unequal brightness",
             f"{_JO_CODE}, utils/circuit_training.py 215–252; evaluation.py 92–125"),
    CodeFact("jo2026ano", "real-vs-real baseline FID 8.79 (§8.3)",
             "2,000 training vs 2,000 test images at full contrast: another intensity scale and 8× the images",
             f"{_JO_CODE}, measure_baseline_fid.py 31–35"),
    CodeFact("jo2026ano", "Fig. 4 draws the decoder's skip from the encoder's first layer",
             "the decoder gets the whole 512-real noisy input besides the 17 circuit features",
             f"{_JO_CODE}, models/ansatzes.py 584"),
)


def code_markdown(rows: Sequence[CodeFact] = CODE_VS_PAPER) -> str:
    """The code-against-paper table as MyST (the paper cited by key)."""
    lines = ["| paper | the paper says | the public code does | where |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {{cite:t}}`{r.key}` | {_cell(r.paper)} | {_cell(r.code)} | {_cell(r.where)} |")
    return "\n".join(lines) + "\n"


def missing_markdown(seen: Mapping[tuple[str, str, tuple[int, ...]], ChapterRuns]) -> str:
    """Every chapter's :func:`qdm.chapters.runs.missing_note` the claims looked at, under its chapter name; "" if none."""
    parts = []
    for (chapter, profile, _), runs in sorted(seen.items()):
        note = missing_note(runs)
        if note:
            parts.append(f"**{chapter}** at `{profile}` ({len(runs.found)} of {len(runs.runs)} runs found):\n\n{note}")
    return "\n\n".join(parts)


def measurement_note(m: Measurement) -> str:
    """One line under a figure: which measurement file, its md5, commit, seed, image counts, whether the ledger entries
    it used have changed since (:func:`qdm.audits.estimator_bias.stale_reason`), and the command."""
    git = m.record.get("git", {})
    commit = f"commit {str(git.get('commit'))[:7]}" + (" (dirty)" if git.get("dirty") else "") if git.get("commit") else "no git"
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in m.record.get("image_counts", {}).items())
    stale = stale_reason(m)
    note = "" if not stale else f"; STALE: {stale}"
    return (f"measurement `ledger/measurements/{m.csv.name}` (md5 {m.record['csv']['md5'][:8]}, {m.record['csv']['rows']} "
            f"rows; {commit}; seed {m.record.get('seed')}; {counts}{note}); re-made by `{MEASURE_COMMAND}`")


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def _log_n_axis(ax: Any, ns: Sequence[int]) -> None:
    """A log-scaled image-count axis with one plain tick per measured n."""
    ax.set_xscale("log")
    ax.set_xticks(list(ns), [str(int(n)) for n in ns])
    ax.minorticks_off()
    ax.set_xlabel("images per set n")


def plot_gap(gap: pd.DataFrame, fair_delta: float | None = None) -> Figure:
    """Left: the quantum − classical FID gap against n (random draws: 5–95 % range and median; the published strips
    of 5 as dots; qdm's fair-protocol gap as a line). Right: the fraction of draws where the quantum model wins."""
    summary = gap_summary(gap)
    draws = summary[summary["kind"] == RANDOM_DRAW].sort_values("n")
    strips = gap[gap["kind"] == PUBLISHED_STRIP]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9.6, 3.6))
    ax.fill_between(draws["n"], draws["gap_q05"], draws["gap_q95"], alpha=0.25, label="random draws, 5–95 %")
    ax.plot(draws["n"], draws["gap_median"], marker="o", label="random draws, median")
    if not strips.empty:
        x = strips["n"].to_numpy(dtype=float) * np.exp(np.linspace(-0.06, 0.06, len(strips)))
        ax.scatter(x, strips["gap"], color="C3", s=14, zorder=3, label="published protocol, one strip each")
    if fair_delta is not None and math.isfinite(fair_delta):
        ax.axhline(fair_delta, color="C2", ls="--", label=f"qdm protocol, all samples: {fair_delta:.3g}")
    ax.axhline(0.0, color="0.6", lw=0.8)
    _log_n_axis(ax, draws["n"])
    ax.set_ylabel("FID(quantum) − FID(classical)")
    ax.legend(frameon=False, fontsize="x-small")
    bx.plot(draws["n"], draws["quantum_wins"], marker="o", label="FID lower (random draws)")
    bx.plot(draws["n"], draws["ssim_quantum_wins"], marker="s", label="SSIM higher (random draws)")
    if not strips.empty:
        bx.scatter(strips["n"].iloc[:1], [float((strips["gap"] < 0).mean())], color="C3", zorder=3,
                   label="FID lower (published strips)")
    bx.axhline(0.5, color="0.6", lw=0.8)
    _log_n_axis(bx, draws["n"])
    bx.set_ylim(0, 1)
    bx.set_ylabel("fraction where quantum wins")
    bx.legend(frameon=False, fontsize="x-small")
    fig.tight_layout()
    return fig


def forest_frame(evaluations: Sequence[Evaluation]) -> pd.DataFrame:
    """One row per comparison claim: metric, Δ mean and interval (NaN without runs), seeds, published Δ, verdict."""
    rows = []
    for e in evaluations:
        t = e.claim.test
        if not isinstance(t, Comparison):
            continue
        pub = e.claim.published.values
        s = e.summary
        mean = s.mean if s is not None else (e.values[0] if e.values else math.nan)
        rows.append({"claim": e.claim.id, "metric": t.metric, "delta": mean,
                     "low": s.ci_low if s is not None else math.nan, "high": s.ci_high if s is not None else math.nan,
                     "seeds": len(e.values), "published_delta": pub[0] - pub[1] if len(pub) == 2 else math.nan,
                     "verdict": e.verdict})
    return pd.DataFrame(rows, columns=["claim", "metric", "delta", "low", "high", "seeds", "published_delta", "verdict"])


def plot_forest(frame: pd.DataFrame) -> Figure:
    """Δ = A − B of every comparison claim, one panel per metric: qdm's mean with its 95 % interval (a point when one
    seed, 'no runs' when none) and the published Δ (×)."""
    metrics_ = list(dict.fromkeys(frame["metric"]))
    tallest = max(int((frame["metric"] == m).sum()) for m in metrics_)
    fig, axes = plt.subplots(1, len(metrics_), figsize=(5.0 * len(metrics_), 0.34 * tallest + 1.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics_, strict=True):
        part = frame[frame["metric"] == metric].reset_index(drop=True)
        y = np.arange(len(part))[::-1]
        for yi, (_, r) in zip(y, part.iterrows(), strict=True):
            if math.isfinite(r["low"]):
                ax.errorbar(r["delta"], yi, xerr=[[r["delta"] - r["low"]], [r["high"] - r["delta"]]], fmt="o", color="C0",
                            capsize=3)
            elif math.isfinite(r["delta"]):
                ax.plot(r["delta"], yi, "o", mfc="white", color="C0")
            else:
                ax.text(0.5, yi, "no runs", transform=ax.get_yaxis_transform(), ha="center", va="center",
                        fontsize="x-small", color="0.45")
            if math.isfinite(r["published_delta"]):
                ax.plot(r["published_delta"], yi, "x", color="C3")
        ax.axvline(0.0, color="0.6", lw=0.8)
        ax.set_yticks(y, part["claim"], fontsize="x-small")
        ax.set_ylim(-0.6, len(part) - 0.4)
        ax.set_xlabel(f"Δ {metric} (A − B)")
    handles = [
        plt.Line2D([], [], marker="o", ls="", color="C0", label="qdm, ≥ 2 seeds (interval)"),
        plt.Line2D([], [], marker="o", ls="", mfc="white", color="C0", label="qdm, one seed"),
        plt.Line2D([], [], marker="x", ls="", color="C3", label="published"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False, fontsize="small")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def ano_fid_frame(evaluations: Sequence[Evaluation], steps_per_epoch: int = 253) -> pd.DataFrame:
    """Fig. 7's readings ([jo2026ano], epochs 10 … 100 at ``steps_per_epoch`` steps) and qdm's values of the ANO level
    claims (published protocol, per seed), as training steps and FID."""
    rows = [{"source": "report Fig. 7 (read off the plot)", "steps": 10 * (i + 1) * steps_per_epoch, "fid": v, "seed": -1}
            for i, v in enumerate(JO2026_FIG7_READINGS)]
    seen: set[tuple[int, float]] = set()
    for e in evaluations:
        t = e.claim.test
        if isinstance(t, Level) and t.metric == "published_fid":
            steps = resolve_config(t.arm.preset, [f"profile={t.profile}", *t.arm.overrides]).train.steps
            for seed, value in zip(e.seeds, e.values, strict=True):
                if (seed, value) not in seen:
                    seen.add((seed, value))
                    rows.append({"source": f"qdm {t.arm.label}@{t.profile}", "steps": steps, "fid": value, "seed": seed})
    return pd.DataFrame(rows, columns=["source", "steps", "fid", "seed"])


def plot_ano_fid(frame: pd.DataFrame, bands: Mapping[str, tuple[float, float]]) -> Figure:
    """The report's FID curve, the published bands (``label → (low, high)``) and qdm's runs under the report's protocol."""
    fig, ax = plt.subplots(figsize=(7.2, 3.8))
    for i, (label, (low, high)) in enumerate(bands.items()):
        ax.axhspan(low, high, color=f"C{i + 1}", alpha=0.15, label=label)
    for j, (source, part) in enumerate(frame.groupby("source", sort=False)):
        style = "-o" if source.startswith("report") else "s"
        ax.plot(part["steps"], part["fid"], style, color=f"C{0 if j == 0 else 3}", label=source)
    if not (frame["seed"] >= 0).any():
        ax.text(0.02, 0.04, "no qdm runs of the ANO model yet", transform=ax.transAxes, fontsize="small", color="0.4")
    ax.set_xlim(left=0)
    ax.set_xlabel("training steps")
    ax.set_ylabel("FID (the report's protocol)")
    ax.legend(frameon=False, fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.tight_layout()
    return fig


#: The measurements the chapter reads (file stems).
MEASUREMENTS: tuple[str, ...] = (BIAS_NAME, GAP_NAME)
#: The claims the chapter evaluates.
CHAPTER_CLAIMS = CLAIMS
