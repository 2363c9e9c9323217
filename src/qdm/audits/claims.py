"""The claims ledger: every claim of the papers qdm reproduces, what qdm measures for it, and a verdict by rule.

Each :class:`Claim` is data: the claim in one line, its source (a key of ``book/references.bib`` and the page,
section, figure, table or equation), the published number (data with its citation), the test that measures
it in qdm, and the book label (figure, table or section) it links to. The tests:

* :class:`Comparison`: variant A against variant B of one chapter's jobs (:mod:`qdm.chapters.jobs`), one
  metric key of the runs' ``metrics.json``, paired by training seed: Δ_s = metric(A, s) − metric(B, s);
* :class:`Level`: one variant's metric against a published number (a band around it);
* :class:`Fact`: a number qdm computes at build time in seconds (a full simulation of the published
  circuit, a parameter count of a preset, or arithmetic on published figure readings) against a target;
* :class:`NotTestable`: what qdm cannot test, and why (no such model in qdm, hardware, missing protocol).

:func:`evaluate_claims` evaluates every claim against what exists *now*: finished runs from the local
results store or the committed ledger (:func:`qdm.chapters.runs.chapter_runs`, ``train_missing=False``),
the committed measurements (:mod:`qdm.audits.estimator_bias`) and the fact checks (:data:`FACT_CHECKS`).
No verdict and no qdm number is written down here; the verdict follows :data:`VERDICT_RULE`:

* a comparison needs ≥ :data:`MIN_SEEDS` seeds with both runs; the 95 % Student-t interval of the mean
  Δ (:func:`qdm.protocols.summarize_seeds`) then decides: *“reproduced”* when it excludes 0 on the
  published side, *“reversed”* when it excludes 0 on the other side, *“not reproduced”* when it holds 0;
* a level needs ≥ :data:`MIN_SEEDS` seeds and a published protocol that qdm implements: *“reproduced”*
  when the interval of the mean meets the published band, else *“not reproduced”*;
* a fact is *“reproduced”* when qdm's number meets the stated relation to the target, else *“not reproduced”*;
* anything else is *“not testable here”*, with the reason: the runs that are missing and the command that
  makes them, one seed only, or the claim's own reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from qdm.audits import ano as ano_audit
from qdm.audits.circuits import proj_in_gradient_norm, weight_independence
from qdm.audits.estimator_bias import AUDIT_PROFILE, GAP_NAME, PUBLISHED_STRIP, read_measurement
from qdm.chapters.jobs import CHAPTER_JOBS, Job
from qdm.chapters.runs import ChapterRuns, chapter_runs
from qdm.config import config_hash
from qdm.families import get_family
from qdm.models.ano import AnoConfig, AnoDenoiser
from qdm.models.autoencoder import Autoencoder
from qdm.models.bottleneck import GateConfig
from qdm.models.pqc_denoiser import circuit_parameter_count
from qdm.presets import get_preset, resolve_config
from qdm.protocols import SeedSummary, summarize_seeds
from qdm.runner import initial_model
from qdm.validation import check_choice, check_float, check_int

__all__ = [
    "CLAIMS",
    "FACT_CHECKS",
    "JO2026_FIG7_READINGS",
    "MIN_SEEDS",
    "PAPERS",
    "VERDICTS",
    "VERDICT_RULE",
    "Arm",
    "Claim",
    "Comparison",
    "Evaluation",
    "Fact",
    "FactValue",
    "Level",
    "NotTestable",
    "Published",
    "Source",
    "as_rows",
    "comparison_verdict",
    "evaluate_claim",
    "evaluate_claims",
    "fact_verdict",
    "level_verdict",
]

VERDICTS: tuple[str, ...] = ("reproduced", "not reproduced", "reversed", "not testable here")
#: Seeds a comparison or a level needs before it gets a verdict (an interval needs two).
MIN_SEEDS = 2
#: The rule, as the book prints it.
VERDICT_RULE = (
    "A comparison (variant A against B on one metric) is paired by training seed, Δ = A − B, and needs at least "
    f"{MIN_SEEDS} seeds with both runs: “reproduced” when the 95 % t-interval of the mean Δ excludes 0 on the "
    "published side, “reversed” when it excludes 0 on the other side, “not reproduced” when it contains 0. A level "
    f"(one published number) needs at least {MIN_SEEDS} seeds and a published protocol qdm implements: “reproduced” "
    "when the 95 % interval meets the published band, else “not reproduced”. A fact (a number qdm computes at build "
    "time) is “reproduced” when it meets the stated relation to its target, else “not reproduced”. Everything else is "
    "“not testable here”, with the reason: missing runs and the command that makes them, one seed, or the claim's own."
)
#: The papers of the ledger, in the order of the book: bib key → short name.
PAPERS: dict[str, str] = {
    "chen2025quantum": "Chen et al. 2025",
    "cacioppo2023qdm": "Cacioppo et al. 2023",
    "cacioppo2025hybrid": "Cacioppo et al. 2025",
    "koelle2024qddm": "Kölle et al. 2024",
    "jo2026ano": "QAMP 2025 report",
}

#: [jo2026ano] Fig. 7, p. 18: the FID curve as plotted, epochs 10, 20, …, 100 (values read off the plot, ±2).
JO2026_FIG7_READINGS: tuple[float, ...] = (146.0, 175.0, 162.0, 157.0, 115.0, 161.0, 165.0, 168.0, 157.0, 153.0)


# ---------------------------------------------------------------------------------------------
# The claim as data
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where a claim is made: a key of ``book/references.bib`` and the place in that work."""

    key: str
    where: str


@dataclass(frozen=True)
class Published:
    """The published number(s) as the source prints them, where they are printed, and the values themselves.

    ``values``: (A, B) for a comparison (the published direction is the sign of A − B), (x,) for a level or a
    fact's target; empty when the source states a direction or a property without a number.
    """

    text: str
    where: str
    values: tuple[float, ...] = ()


@dataclass(frozen=True)
class Arm:
    """One job of a chapter: a preset and its overrides, as in :data:`qdm.chapters.jobs.CHAPTER_JOBS`."""

    preset: str
    overrides: tuple[str, ...] = ()

    def matches(self, job: Job) -> bool:
        return job.preset == self.preset and tuple(job.overrides) == self.overrides

    @property
    def label(self) -> str:
        return " ".join((self.preset, *self.overrides))


@dataclass(frozen=True)
class Comparison:
    """A − B on ``metric`` over paired seeds of ``chapter`` at ``profile``; ``direction``: the published sign of A − B
    when the published values do not give it (−1: A lower, +1: A higher).

    The published protocol's number: a ledger metric key (``published_metric``) or a committed measurement
    (``published_measurement``, the 5-sample strips of :mod:`qdm.audits.estimator_bias`; ``measurement_column``
    is ``"gap"`` (FID) or ``"ssim"``). ``fair_protocol`` / ``published_protocol`` say how each is computed.
    """

    chapter: str
    profile: str
    a: Arm
    b: Arm
    metric: str
    fair_protocol: str
    published_protocol: str
    direction: int | None = None
    published_metric: str | None = None
    published_measurement: str | None = None
    measurement_column: str = "gap"


@dataclass(frozen=True)
class Level:
    """One variant's ``metric`` (the published protocol's) against the band ``[low, high]`` around a published number.

    ``fair_metric``: the same quantity under qdm's protocol (shown, not judged). ``protocol_known``: whether the
    published number's protocol is stated (else the level is not testable here).
    """

    chapter: str
    profile: str
    arm: Arm
    metric: str
    band: tuple[float, float]
    band_rule: str
    fair_metric: str | None = None
    protocol_known: bool = True
    fair_protocol: str = ""
    published_protocol: str = ""


@dataclass(frozen=True)
class Fact:
    """A number qdm computes at build time (``check``, a key of :data:`FACT_CHECKS`) against ``target``.

    ``relation``: ``"<="`` (value ≤ target + tolerance), ``">="``, or ``"=="`` (|value − target| ≤ tolerance,
    tolerance plus ``se_factor`` standard errors when the check reports one).
    """

    check: str
    relation: str
    target: float
    tolerance: float = 0.0
    se_factor: float = 0.0
    what: str = ""


@dataclass(frozen=True)
class NotTestable:
    """What qdm cannot test, and why."""

    reason: str


Test = Comparison | Level | Fact | NotTestable


@dataclass(frozen=True)
class Claim:
    """One row of the claims ledger (module docstring). ``kind``: "claim" (the paper's) or "fact" (about its code)."""

    id: str
    claim: str
    source: Source
    published: Published
    test: Test
    label: str
    kind: str = "claim"

    @property
    def paper(self) -> str:
        return self.source.key


# ---------------------------------------------------------------------------------------------
# The verdict rules (pure functions of numbers)
# ---------------------------------------------------------------------------------------------


def _fmt(x: float, digits: int = 4) -> str:
    """A number in ``digits`` significant digits ('—' for NaN)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if x == 0:
        return "0"
    if float(x).is_integer() and abs(x) >= 1000:
        return f"{int(x):,}"
    if abs(x) < 1e-3 or abs(x) >= 1e6:
        return f"{x:.2e}"
    return f"{x:.{digits}g}"


def _check_values(values: Sequence[float], name: str) -> list[float]:
    """Finite floats."""
    vals = [float(v) for v in values]
    if not all(math.isfinite(v) for v in vals):
        raise ValueError(f"{name} must be finite numbers, got {list(values)!r}")
    return vals


def comparison_verdict(
    deltas: Sequence[float], direction: int, confidence: float = 0.95
) -> tuple[str, str, SeedSummary | None]:
    """:data:`VERDICT_RULE` for paired differences Δ_s = A − B and the published sign ``direction`` (−1 or +1)."""
    if direction not in (-1, 1):
        raise ValueError(f"direction must be -1 or +1, got {direction!r}")
    vals = _check_values(deltas, "deltas")
    if len(vals) < MIN_SEEDS:
        what = "no seed" if not vals else "one seed"
        return "not testable here", f"{what} with both runs; an interval needs {MIN_SEEDS}", None
    s = summarize_seeds(vals, confidence)
    side = "lower" if direction < 0 else "higher"
    interval = f"{confidence:.0%} interval of the mean Δ [{s.ci_low:.4g}, {s.ci_high:.4g}] over {s.n} seeds"
    if s.ci_low > 0 or s.ci_high < 0:
        if (s.ci_high < 0) == (direction < 0):
            return "reproduced", f"{interval} excludes 0: A is {side}, as published", s
        other = "higher" if direction < 0 else "lower"
        return "reversed", f"{interval} excludes 0 on the other side: A is not {side} but {other}", s
    return "not reproduced", f"{interval} contains 0: no difference at this seed count", s


def level_verdict(
    values: Sequence[float], band: tuple[float, float], confidence: float = 0.95
) -> tuple[str, str, SeedSummary | None]:
    """:data:`VERDICT_RULE` for a level: the interval of the mean over seeds against the published band."""
    low, high = band
    if not low <= high:
        raise ValueError(f"band must be (low, high) with low <= high, got {band!r}")
    vals = _check_values(values, "values")
    if len(vals) < MIN_SEEDS:
        what = "no seed" if not vals else "one seed"
        return "not testable here", f"{what}; an interval needs {MIN_SEEDS}", None
    s = summarize_seeds(vals, confidence)
    interval = f"{confidence:.0%} interval [{s.ci_low:.4g}, {s.ci_high:.4g}] over {s.n} seeds"
    if s.ci_high < low or s.ci_low > high:
        where = "below" if s.ci_high < low else "above"
        return "not reproduced", f"{interval} lies {where} the published band [{low:.4g}, {high:.4g}]", s
    return "reproduced", f"{interval} meets the published band [{low:.4g}, {high:.4g}]", s


def fact_verdict(value: float, relation: str, target: float, tolerance: float = 0.0, se: float | None = None,
                 se_factor: float = 0.0) -> tuple[str, str]:
    """:data:`VERDICT_RULE` for a fact: ``value`` against ``target`` under ``relation`` ("<=", ">=", "==")."""
    check_choice(relation, "relation", ("<=", ">=", "=="))
    value = check_float(value, "value")
    target = check_float(target, "target")
    slack = check_float(tolerance, "tolerance", 0.0) + (check_float(se, "se", 0.0) * se_factor if se is not None else 0.0)
    v, t = _fmt(value), _fmt(target)
    if relation == "<=":
        holds, text = value <= target + slack, f"{v} ≤ {t}" + (f" + {slack:.2g}" if slack else "")
    elif relation == ">=":
        holds, text = value >= target - slack, f"{v} ≥ {t}" + (f" − {slack:.2g}" if slack else "")
    else:
        holds, text = abs(value - target) <= slack, f"|{v} − {t}| ≤ {slack:.2g}"
    return ("reproduced", f"{text} holds") if holds else ("not reproduced", f"{text} does not hold")


# ---------------------------------------------------------------------------------------------
# Fact checks: numbers computed at build time (seconds)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactValue:
    """A fact check's number, its standard error (None when exact), and one line saying what it is."""

    value: float
    text: str
    se: float | None = None
    details: Mapping[str, float] = field(default_factory=dict)


def _chen_weight_effect() -> FactValue:
    """[chen2025quantum] circuit (16 qubits, 3 RZ + CNOT layers): largest ⟨Z⟩ change over weight draws, full simulation."""
    r = weight_independence(GateConfig(n_qubits=16, n_layers=3, ansatz="rz_cnot"), 4, 3, torch.Generator().manual_seed(0))
    return FactValue(r["max_output_change"], f"largest ⟨Z_k⟩ change over 3 random draws of the {int(r['n_weights'])} weights, "
                     "4 inputs, 2^16-amplitude state vector", details=r)


def _chen_proj_in_gradient() -> FactValue:
    """[chen2025quantum] chen2025 preset: ‖∂L/∂W_in‖ of the gate's Linear(128, 16) for a random loss."""
    cfg = get_preset("chen2025")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, 28, 28, generator=g)
    t = torch.randint(1, cfg.model.T, (2,), generator=g)
    value = proj_in_gradient_norm(initial_model(cfg), x, t, generator=g)
    return FactValue(value, "‖∂L/∂W_in‖ of the gate's input layer for a random cotangent on ε_θ(x, t), the chen2025 preset")


def _counts(preset: str) -> dict[str, int]:
    cfg = get_preset(preset)
    hook = get_family(cfg.family).parameter_counts
    if hook is None:
        raise ValueError(f"family {cfg.family} has no parameter_counts hook")
    return hook(cfg)


def _chen_param_difference() -> FactValue:
    """chen2025 minus chen2025-classical trainable parameters (the presets, as the authors' code builds them)."""
    q, c = _counts("chen2025"), _counts("chen2025-classical")
    return FactValue(float(q["total"] - c["total"]), f"chen2025 has {q['total']:,} trainable parameters "
                     f"({q['quantum']} circuit weights), chen2025-classical {c['total']:,}",
                     details={"quantum_total": q["total"], "classical_total": c["total"], "circuit": q["quantum"]})


def _cacioppo_circuit() -> FactValue:
    """cacioppo2023-cond-latent: trainable circuit parameters."""
    n = circuit_parameter_count(get_preset("cacioppo2023-cond-latent").model)
    return FactValue(float(n), f"circuit parameters of the cacioppo2023-cond-latent preset: {n:,}")


def _cacioppo_generating() -> FactValue:
    """cacioppo2023-cond-latent: circuit parameters plus the autoencoder decoder that turns its states into digits."""
    cfg = get_preset("cacioppo2023-cond-latent")
    circuit = circuit_parameter_count(cfg.model)
    with torch.random.fork_rng(devices=[]):
        ae = Autoencoder(cfg.model.autoencoder)
    decoder = sum(p.numel() for name, p in ae.named_parameters() if name.startswith("decoder"))
    total = sum(p.numel() for p in ae.parameters())
    return FactValue(float(circuit + decoder), f"{circuit:,} circuit parameters + {decoder:,} of the autoencoder's decoder "
                     f"(the whole autoencoder: {total:,}, trained first on all MNIST images)",
                     details={"circuit": circuit, "decoder": decoder, "autoencoder": total})


def _ano_hadamard() -> FactValue:
    r = ano_audit.hadamard_test_identity(256, 1, 10, torch.Generator().manual_seed(0))
    return FactValue(r["max_state_deviation"], f"largest |out − ψ| over {int(r['n_inputs'])} random states and angle "
                     f"sets ({int(r['layers'])} layers each); ⟨Z_anc⟩ = Re⟨ψ|U|ψ⟩ to {r['max_ancilla_error']:.1e}; "
                     f"each ancilla half alone differs from ψ by at least {r['min_half_deviation']:.2f}", details=r)


def _ano_anti_hermitian() -> FactValue:
    cfg = AnoConfig()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = AnoDenoiser(cfg)
    r = ano_audit.observable_gradient_split(model, 4, torch.Generator().manual_seed(0))
    ratio = r["anti_hermitian_norm"] / r["hermitian_norm"] if r["hermitian_norm"] > 0 else math.nan
    return FactValue(ratio, f"norm of the loss gradient on the anti-Hermitian part of the raw observables "
                     f"({int(r['n_anti_hermitian']):,} degrees of freedom), relative to the Hermitian part's "
                     f"({r['hermitian_norm']:.2e})", details=r)


def _ano_mw(layers: int) -> Callable[[], FactValue]:
    def check() -> FactValue:
        r = ano_audit.entangling_capability(layers, 2000, torch.Generator().manual_seed(layers))
        return FactValue(r["mean"], f"Meyer–Wallach Q of the coded {layers}-layer circuit from |0000⟩, "
                         f"{int(r['n_samples'])} draws of the angles in [0, 2π) (Haar value {r['haar']:.4f})",
                         se=r["se"], details=r)

    return check


def _jo_fig7_tail() -> FactValue:
    tail = JO2026_FIG7_READINGS[-5:]
    return FactValue(sum(tail) / len(tail), f"mean of Fig. 7's last five plotted FIDs (epochs 60–100: "
                     f"{', '.join(f'{v:.0f}' for v in tail)})")


#: Build-time checks by name (each takes seconds): :class:`Fact` claims name one.
FACT_CHECKS: dict[str, Callable[[], FactValue]] = {
    "chen2025-weight-effect": _chen_weight_effect,
    "chen2025-proj-in-gradient": _chen_proj_in_gradient,
    "chen2025-parameter-difference": _chen_param_difference,
    "cacioppo2023-circuit-parameters": _cacioppo_circuit,
    "cacioppo2023-generating-parameters": _cacioppo_generating,
    "jo2026-hadamard-state-change": _ano_hadamard,
    "jo2026-anti-hermitian-gradient": _ano_anti_hermitian,
    "jo2026-meyer-wallach-4": _ano_mw(4),
    "jo2026-meyer-wallach-20": _ano_mw(20),
    "jo2026-fig7-tail": _jo_fig7_tail,
}


# ---------------------------------------------------------------------------------------------
# The ledger of claims
# ---------------------------------------------------------------------------------------------

_CHEN_README = "README of the authors' code, ChiShengChen/Quantum_MNIST_Diffusion @ 63b26c2"
_CHEN_FAIR = "1000 samples vs the 980 held-out test images of the digit (TF-Inception FID; SSIM nearest, torchmetrics)"
_CHEN_PUB = ("first 5 samples vs the first 5 MNIST test images of any digit (the authors' 5-sample strip and first-N "
             "real images), skimage SSIM index-paired")
_ANO_FAIR = "1000 samples across the digits vs 1000 held-out test images (TF-Inception FID)"
_ANO_PUB = "256 label-0 samples vs the first 256 training images, both unscaled (the report's own FID, §8.3)"
_PQC_FAIR = "1000 samples (100 per requested digit) vs 1000 held-out test images (TF-Inception FID)"
_DIGIT_FIGURE = {0: "Fig. 3", 1: "Fig. 4", 6: "Fig. 5", 9: "README table (its metric script scores digit 9)"}


def _chen_mnist(digit: int, metric: str) -> Claim:
    lower = metric == "fid"
    name = "FID" if lower else "SSIM"
    values = (259.25, 271.05) if lower else (0.1263, 0.1085)
    return Claim(
        id=f"chen2025-mnist{digit}-{metric}",
        claim=f"With < 100 training images of MNIST digit {digit}, the quantum model has a {'lower' if lower else 'higher'} "
              f"{name} than the identical classical architecture",
        source=Source("chen2025quantum", f"Abstract; {_DIGIT_FIGURE[digit]}"),
        published=Published(f"{name} {values[0]} (quantum) vs {values[1]} (classical), MNIST, 5 samples each",
                            _CHEN_README, values),
        test=Comparison("hybrid", AUDIT_PROFILE, Arm("chen2025", (f"data.classes={digit}",)),
                        Arm("chen2025-classical", (f"data.classes={digit}",)), metric, _CHEN_FAIR, _CHEN_PUB,
                        published_measurement=GAP_NAME, measurement_column="gap" if lower else "ssim"),
        label="fig-audit-gap" if digit == 0 else "fig-audit-forest",
    )


def _chen_pathmnist(metric: str) -> Claim:
    lower = metric == "fid"
    values = (84.40, 95.72) if lower else (0.0931, 0.4107)
    return Claim(
        id=f"chen2025-pathmnist-{metric}",
        claim="On PathMNIST the quantum model has a lower FID than the classical one" if lower
        else "On PathMNIST the quantum model has a lower (worse) SSIM than the classical one",
        source=Source("chen2025quantum", "results tables; Abstract (“more nuanced” on PathMNIST)"),
        published=Published(f"{'FID' if lower else 'SSIM'} {values[0]} (quantum) vs {values[1]} (classical), PathMNIST class 1",
                            _CHEN_README, values),
        test=Comparison("pathmnist", AUDIT_PROFILE, Arm("chen2025-pathmnist"), Arm("chen2025-classical-pathmnist"), metric,
                        "1000 samples vs the 83 held-out test images of class 1 of the PathMNIST subset", _CHEN_PUB),
        label="tab-path-claim",
    )


def _ano_ablation(cid: str, claim: str, variant: tuple[str, ...], what: str) -> Claim:
    return Claim(
        id=cid, claim=claim, source=Source("jo2026ano", "§7 (architecture); no ablation is reported"),
        published=Published(f"no number: the report has no {what}", "the report and its code at d4b58c5"),
        test=Comparison("ano", "book", Arm("jo2025-ano"), Arm("jo2025-ano", variant), "fid", _ANO_FAIR, _ANO_PUB,
                        direction=-1, published_metric="published_fid"),
        label="fig-audit-forest",
    )


def _ano_level(cid: str, claim: str, where: str, value: float) -> Claim:
    return Claim(
        id=cid, claim=claim, source=Source("jo2026ano", where),
        published=Published(f"FID ≈ {value:g}", where, (value,)),
        test=Level("ano", "book", Arm("jo2025-ano"), "published_fid", (0.9 * value, 1.1 * value),
                   "“approximately” read as ±10 %", fair_metric="fid", fair_protocol=_ANO_FAIR, published_protocol=_ANO_PUB),
        label="fig-audit-ano-fid",
    )


def _mw(layers: int, value: float, where: str) -> Claim:
    return Claim(
        id=f"jo2026-meyer-wallach-{layers}",
        claim=f"The circuit's entangling capability (Meyer–Wallach) at {layers} layers is {value}",
        source=Source("jo2026ano", where),
        published=Published(f"MW {value} (L = {layers})", where, (value,)),
        test=Fact(f"jo2026-meyer-wallach-{layers}", "==", value, tolerance=5e-4, se_factor=3.0,
                  what="equal within 3 standard errors plus the printed precision 5e-4"),
        label="tab-audit-simulation",
    )


CLAIMS: tuple[Claim, ...] = (
    # ---- Chen et al. 2025 ------------------------------------------------------------------
    *(_chen_mnist(d, m) for m in ("fid", "ssim") for d in (0, 1, 6, 9)),
    _chen_pathmnist("fid"),
    _chen_pathmnist("ssim"),
    Claim(
        id="chen2025-identical-architecture",
        claim="The classical baseline is the identical architecture (same parameters, without the quantum layer's effect)",
        source=Source("chen2025quantum", "Abstract (“its classical counterpart using the same architecture”)"),
        published=Published("no count is published; identical architectures have equal parameter counts", "Abstract", (0.0,)),
        test=Fact("chen2025-parameter-difference", "==", 0.0, what="quantum minus classical parameter count equals 0"),
        label="tab-audit-params",
    ),
    Claim(
        id="chen2025-noise-strategies",
        claim="Two noise strategies, intrinsic quantum-generated noise and a tailored noise schedule, improve training",
        source=Source("chen2025quantum", "Abstract; §3"),
        published=Published("no formula and no number", "the paper text available here"),
        test=NotTestable("neither strategy is in the authors' public code (torch.randn noise, the plain cosine schedule), "
                         "and the paper gives no formula"),
        label="sec-audit-code",
    ),
    Claim(
        id="chen2025-weights-inert", kind="fact",
        claim="The published circuit's 48 weights have no effect on its output (RZ + CNOT after the RY embedding)",
        source=Source("chen2025quantum", "Fig. 2 (the VQC); code quantum_difussion_mnist_v7.py @ 63b26c2"),
        published=Published("not stated: the paper calls the circuit variational", "Fig. 2", (0.0,)),
        test=Fact("chen2025-weight-effect", "<=", 0.0, tolerance=1e-12, what="largest output change ≤ 1e-12"),
        label="tab-audit-simulation",
    ),
    Claim(
        id="chen2025-detached-input", kind="fact",
        claim="The projection into the circuit, Linear(128, 16), gets no gradient (its output is detached)",
        source=Source("chen2025quantum", "code quantum_difussion_mnist_v7.py @ 63b26c2 (the quantum layer)"),
        published=Published("not stated in the paper", "the authors' code", (0.0,)),
        test=Fact("chen2025-proj-in-gradient", "<=", 0.0, what="gradient norm equals 0"),
        label="tab-audit-simulation",
    ),
    # ---- Cacioppo et al. 2023 --------------------------------------------------------------
    Claim(
        id="cacioppo2023-latent-fid",
        claim="The latent QDM reaches FID 38.2 on MNIST, samples of similar quality to classical algorithms",
        source=Source("cacioppo2023qdm", "results (as quoted in jo2025qamp §1.1)"),
        published=Published("FID 38.2", "cacioppo2023qdm, quoted in jo2025qamp §1.1", (38.2,)),
        test=Level("pqc", "book", Arm("cacioppo2023-cond-latent"), "fid", (38.2, 38.2), "the published number itself",
                   protocol_known=False, fair_protocol=_PQC_FAIR,
                   published_protocol="image counts and feature network are not stated, and the authors' code has no FID"),
        label="tab-pqc-published",
    ),
    Claim(
        id="cacioppo2023-1110-parameters",
        claim="The conditioned latent model that generates all ten digits has 1,110 circuit parameters",
        source=Source("cacioppo2023qdm", "conclusion (as quoted in jo2025qamp §1.1)"),
        published=Published("1110 parameters", "cacioppo2023qdm, quoted in jo2025qamp §1.1", (1110.0,)),
        test=Fact("cacioppo2023-circuit-parameters", "==", 1110.0, what="equal"),
        label="tab-audit-params",
    ),
    Claim(
        id="cacioppo2023-all-ten-digits",
        claim="The conditioned latent model generates all ten digits (the digit requested by its label qubits)",
        source=Source("cacioppo2023qdm", "conclusion (as quoted in jo2025qamp §1.1)"),
        published=Published("qualitative; the authors' code scores one-vs-rest ROC/AUC, no number is quoted",
                            "jo2025qamp §1.1; the authors' code"),
        test=Level("pqc", "book", Arm("cacioppo2023-cond-latent"), "classifier_accuracy", (0.9, 1.0),
                   "read as: qdm's MNIST classifier recognises the requested digit in at least 90 % of the samples, "
                   "the criterion of a recognisable digit in qdm's book-profile measurement",
                   fair_metric="classifier_accuracy",
                   fair_protocol="1000 samples, 100 per requested digit, qdm's MNIST classifier",
                   published_protocol="no number is published"),
        label="tab-pqc-per-label",
    ),
    Claim(
        id="cacioppo2023-fewer-parameters",
        claim="Those 1,110 parameters are all the model needs to generate the digits (“fewer parameters” than classical)",
        source=Source("cacioppo2023qdm", "conclusion (as quoted in jo2025qamp §1.1)"),
        published=Published("1110 parameters", "cacioppo2023qdm, quoted in jo2025qamp §1.1", (1110.0,)),
        test=Fact("cacioppo2023-generating-parameters", "<=", 1110.0, what="parameters used to generate ≤ 1110"),
        label="tab-audit-params",
    ),
    Claim(
        id="cacioppo2023-complex-noise",
        claim="Complex Gaussian noise gives a significant improvement over real noise",
        source=Source("cacioppo2023qdm", "method (as quoted in jo2025qamp §1.2)"),
        published=Published("no number quoted", "jo2025qamp §1.2"),
        test=Comparison("pqc", "book", Arm("cacioppo2023-cond-latent"),
                        Arm("cacioppo2023-cond-latent", ("model.noise=real",)), "fid", _PQC_FAIR,
                        "no number and no protocol are published", direction=-1),
        label="tab-pqc-ablations",
    ),
    Claim(
        id="cacioppo2023-hardware",
        claim="A simplified version runs on real NISQ hardware",
        source=Source("cacioppo2023qdm", "Abstract"),
        published=Published("qualitative", "Abstract"),
        test=NotTestable("needs quantum hardware; qdm simulates"),
        label="sec-audit-code",
    ),
    # ---- Cacioppo et al. 2025 --------------------------------------------------------------
    Claim(
        id="cacioppo2025-hybrid-better",
        claim="The hybrid (DDIM + classical network) model gives samples of higher quality and variability than the "
              "hardware-oriented one",
        source=Source("cacioppo2025hybrid", "Abstract"),
        published=Published("qualitative", "Abstract"),
        test=NotTestable("qdm implements only the hardware-oriented full-quantum model (cacioppo2025-full)"),
        label="tab-pqc-book",
    ),
    Claim(
        id="cacioppo2025-below-classical",
        claim="The quantum models do not surpass classical diffusion models on classical images",
        source=Source("cacioppo2025hybrid", "Abstract"),
        published=Published("qualitative", "Abstract"),
        test=NotTestable("no classical twin of cacioppo2025-full is among qdm's jobs"),
        label="tab-pqc-book",
    ),
    # ---- Kölle et al. 2024 -----------------------------------------------------------------
    Claim(
        id="koelle2024-beats-classical",
        claim="The quantum models beat classical models of similar parameter count in FID, SSIM and PSNR",
        source=Source("koelle2024qddm", "Abstract"),
        published=Published("per-dataset tables (MNIST, Fashion-MNIST, CIFAR-10)", "koelle2024qddm tables"),
        test=NotTestable("qdm has no classical model of similar parameter count for koelle2024 (its book-profile runs "
                         "are in chapter 03 without one)"),
        label="tab-pqc-book",
    ),
    Claim(
        id="koelle2024-one-step",
        claim="A unitary single-sampling model generates an image in one step",
        source=Source("koelle2024qddm", "Abstract"),
        published=Published("qualitative", "Abstract"),
        test=NotTestable("qdm does not implement the unitary single-sampling model"),
        label="fig-pqc-samples",
    ),
    # ---- the QAMP 2025 report --------------------------------------------------------------
    _ano_level("jo2026-fid-150", "The hybrid ANO model reaches an FID of approximately 150", "§8.3, p. 15", 150.0),
    _ano_level("jo2026-fid-110", "The FID stabilises around 110", "Fig. 7 caption, p. 18; §8.3", 110.0),
    Claim(
        id="jo2026-fig7-110",
        claim="Fig. 7's own curve stabilises around 110",
        source=Source("jo2026ano", "Fig. 7, p. 18 (caption against the plotted values)"),
        published=Published("caption: “stabilizing around 110”", "Fig. 7 caption", (110.0,)),
        test=Fact("jo2026-fig7-tail", "==", 110.0, tolerance=11.0, what="within ±10 % of 110"),
        label="fig-audit-ano-fid",
    ),
    Claim(
        id="jo2026-baseline",
        claim="A real-vs-real FID of 8.79 is the floor the model's FID should be read against",
        source=Source("jo2026ano", "§8.3, p. 15"),
        published=Published("FID 8.79", "§8.3", (8.79,)),
        test=NotTestable("the 8.79 compares 2,000 vs 2,000 full-contrast images; the model's FID 256 vs 256 unscaled "
                         "ones: another protocol (qdm's real-vs-real floor at each n is in the bias figure)"),
        label="fig-audit-bias",
    ),
    _mw(4, 0.7975, "Fig. 3, p. 13"),
    _mw(20, 0.8228, "Fig. 3, p. 13; poster Fig. 6"),
    Claim(
        id="jo2026-expressibility",
        claim="The ansatz is highly expressive: KL divergence to Haar 0.0017",
        source=Source("jo2026ano", "Fig. 3, p. 13"),
        published=Published("expressibility 0.0017", "Fig. 3", (0.0017,)),
        test=NotTestable("the estimator (histogram bins, number of state pairs, the ansatz variant) is not stated"),
        label="tab-audit-simulation",
    ),
    Claim(
        id="jo2026-hadamard-identity", kind="fact",
        claim="The Hadamard-test block (controlled-U(w2)) returns its input state: w2 acts only through ⟨Z_anc⟩",
        source=Source("jo2026ano", "code models/ansatzes.py 304–328, 435–439 @ d4b58c5"),
        published=Published("not stated in the report", "the code", (0.0,)),
        test=Fact("jo2026-hadamard-state-change", "<=", 0.0, tolerance=1e-12, what="largest state change ≤ 1e-12"),
        label="tab-audit-simulation",
    ),
    Claim(
        id="jo2026-anti-hermitian", kind="fact",
        claim="Half of the ANO matrices' degrees of freedom (their anti-Hermitian part) get no gradient",
        source=Source("jo2026ano", "code models/ansatzes.py 246, 339–357 @ d4b58c5"),
        published=Published("not stated in the report", "the code", (0.0,)),
        test=Fact("jo2026-anti-hermitian-gradient", "<=", 0.0, tolerance=1e-12, what="relative gradient ≤ 1e-12"),
        label="tab-audit-simulation",
    ),
    _ano_ablation("jo2026-circuit-matters", "The circuit's 17 features carry the denoising: without them the same "
                  "network is worse", ("model.features=zeros",), "ablation of the quantum features"),
    _ano_ablation("jo2026-quantum-vs-classical", "The quantum block does better than a classical block of equal size",
                  ("model.features=classical",), "classical baseline"),
    _ano_ablation("jo2026-hadamard-matters", "The Hadamard-test block improves the model",
                  ("model.hadamard_test=false",), "ablation of the Hadamard-test block"),
)


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """A claim evaluated now: qdm's number under the published and under the fair protocol, the verdict and why."""

    claim: Claim
    verdict: str
    why: str
    published_protocol: str
    fair: str
    summary: SeedSummary | None = None
    values: tuple[float, ...] = ()
    seeds: tuple[int, ...] = ()
    command: str | None = None


def _interval_text(summary: SeedSummary | None, values: Sequence[float], prefix: str = "") -> str:
    if summary is not None:
        return f"{prefix}{_fmt(summary.mean)} [{_fmt(summary.ci_low)}, {_fmt(summary.ci_high)}] ({summary.n} seeds)"
    if values:
        return f"{prefix}{_fmt(values[0])} (1 seed)"
    return "—"


RunsFor = Callable[[str, str, Sequence[int]], ChapterRuns]


def _default_runs_for(results_root: str | Path) -> RunsFor:
    """chapter_runs from the local store and the ledger, nothing trained, one call per (chapter, profile, seeds)."""
    cache: dict[tuple[str, str, tuple[int, ...]], ChapterRuns] = {}

    def runs_for(chapter: str, profile: str, seeds: Sequence[int]) -> ChapterRuns:
        key = (chapter, profile, tuple(seeds))
        if key not in cache:
            cache[key] = chapter_runs(chapter, profile, seeds, train_missing=False, results_root=results_root)
        return cache[key]

    return runs_for


def _arm_metrics(runs: ChapterRuns, arm: Arm, metric: str) -> dict[int, float]:
    """seed → finite metric value of the finished runs of one arm."""
    out = {}
    for r in runs.runs:
        if arm.matches(r.job) and r.record is not None:
            value = r.record.metrics.get(metric)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                out[r.seed] = float(value)
    return out


def _missing_text(runs: ChapterRuns, arms: Sequence[Arm]) -> tuple[str, int, int]:
    """('k of n runs of these arms found', k, n)."""
    mine = [r for r in runs.runs if any(a.matches(r.job) for a in arms)]
    found = sum(r.record is not None for r in mine)
    stale = f"; {len(runs.stale)} stale ledger entries" if runs.stale else ""
    return f"{found} of the {len(mine)} runs found{stale}", found, len(mine)


def _direction(test: Comparison, published: Published) -> int:
    """The published sign of A − B: from the published (A, B) values, else the test's stated direction."""
    if len(published.values) == 2 and published.values[0] != published.values[1]:
        return -1 if published.values[0] < published.values[1] else 1
    if test.direction in (-1, 1):
        return test.direction
    raise ValueError("a comparison needs published (A, B) values or a direction of -1 or +1")


def _strip_value(test: Comparison, direction: int, seeds: Sequence[int], measurements_dir: Path | None) -> str:
    """The published-protocol number from the 5-sample strips: strip 0 (the authors' first 5), and in how many strips
    the published direction holds."""
    if test.published_measurement is None or measurements_dir is None:
        return "—"
    try:
        m = read_measurement(measurements_dir / test.published_measurement)
    except ValueError as err:
        return f"— ({err})"
    wanted = set()
    for arm in (test.a, test.b):
        cfg = resolve_config(arm.preset, [f"profile={test.profile}", *arm.overrides, f"train.seed={seeds[0]}"])
        wanted.add(config_hash(cfg))
    if {e.get("config_hash") for e in m.record.get("ledger_entries", [])} != wanted:
        return "— (no published-protocol measurement of these runs)"
    strips = m.frame[m.frame["kind"] == PUBLISHED_STRIP].sort_values("draw")
    if strips.empty:
        return "— (the measurement holds no published strips)"
    if test.measurement_column == "gap":
        deltas = strips["gap"].astype(float)
    else:
        deltas = strips["ssim_quantum"].astype(float) - strips["ssim_classical"].astype(float)
    agree = int(((deltas < 0) if direction < 0 else (deltas > 0)).sum())
    return (f"Δ {_fmt(float(deltas.iloc[0]))} (first strip, seed {seeds[0]}); the published direction in {agree} of "
            f"{len(deltas)} strips of 5")


def _evaluate_comparison(claim: Claim, test: Comparison, runs: ChapterRuns, seeds: Sequence[int],
                         measurements_dir: Path | None, confidence: float) -> Evaluation:
    direction = _direction(test, claim.published)
    a, b = _arm_metrics(runs, test.a, test.metric), _arm_metrics(runs, test.b, test.metric)
    paired = sorted(set(a) & set(b))
    deltas = [a[s] - b[s] for s in paired]
    verdict, why, summary = comparison_verdict(deltas, direction, confidence)
    found_text, _, _ = _missing_text(runs, (test.a, test.b))
    command = None
    if verdict == "not testable here":
        command = runs.command()
        why = f"{why}; {found_text}: `{command}`"
    if test.published_metric is not None:
        pa, pb = _arm_metrics(runs, test.a, test.published_metric), _arm_metrics(runs, test.b, test.published_metric)
        pd_ = [pa[s] - pb[s] for s in sorted(set(pa) & set(pb))]
        ps = summarize_seeds(pd_, confidence) if len(pd_) >= MIN_SEEDS else None
        published = _interval_text(ps, pd_, "Δ ")
    else:
        published = _strip_value(test, direction, seeds, measurements_dir)
    fair = _interval_text(summary, deltas, "Δ ")
    return Evaluation(claim, verdict, why, published, fair, summary, tuple(deltas), tuple(paired), command)


def _evaluate_level(claim: Claim, test: Level, runs: ChapterRuns, confidence: float) -> Evaluation:
    values_by_seed = _arm_metrics(runs, test.arm, test.metric)
    seeds = sorted(values_by_seed)
    values = [values_by_seed[s] for s in seeds]
    fair_by_seed = _arm_metrics(runs, test.arm, test.fair_metric) if test.fair_metric else {}
    fair_vals = [fair_by_seed[s] for s in sorted(fair_by_seed)]
    fair_summary = summarize_seeds(fair_vals, confidence) if len(fair_vals) >= MIN_SEEDS else None
    found_text, _, _ = _missing_text(runs, (test.arm,))
    command = None
    if not test.protocol_known:
        verdict, summary = "not testable here", None
        why = f"the published number's protocol is not known: {test.published_protocol}; qdm's number is shown, not compared"
    else:
        verdict, why, summary = level_verdict(values, test.band, confidence)
        why = f"{why} ({test.band_rule})" if verdict != "not testable here" else why
    if verdict == "not testable here" and len(values) < MIN_SEEDS:
        command = runs.command()
        why = f"{why}; {found_text}: `{command}`"
    measured = _interval_text(summarize_seeds(values, confidence) if len(values) >= MIN_SEEDS else None, values)
    if test.protocol_known:
        published, fair = measured, (_interval_text(fair_summary, fair_vals) if test.fair_metric else "—")
    else:  # qdm cannot compute under an unknown protocol: its metric is qdm's own
        published, fair = "— (protocol not stated)", measured
    return Evaluation(claim, verdict, why, published, fair, summary, tuple(values), tuple(seeds), command)


def _evaluate_fact(claim: Claim, test: Fact, facts: Mapping[str, FactValue]) -> Evaluation:
    fv = facts[test.check]
    if not math.isfinite(fv.value):
        return Evaluation(claim, "not testable here", f"the check gave no finite number: {fv.text}", "—", "—")
    verdict, why = fact_verdict(fv.value, test.relation, test.target, test.tolerance, fv.se, test.se_factor)
    number = _fmt(fv.value) + (f" ± {_fmt(fv.se, 2)}" if fv.se is not None else "")
    return Evaluation(claim, verdict, f"{why} ({test.what}): {fv.text}", "—", number, values=(fv.value,))


def evaluate_claim(
    claim: Claim,
    runs_for: RunsFor,
    facts: Mapping[str, FactValue],
    seeds: Sequence[int] = (0, 1, 2),
    measurements_dir: str | Path | None = None,
    confidence: float = 0.95,
) -> Evaluation:
    """One claim against what exists now (module docstring); ``facts`` holds the :data:`FACT_CHECKS` results it needs."""
    test = claim.test
    mdir = Path(measurements_dir) if measurements_dir is not None else None
    if isinstance(test, NotTestable):
        return Evaluation(claim, "not testable here", test.reason, "—", "—")
    if isinstance(test, Fact):
        return _evaluate_fact(claim, test, facts)
    runs = runs_for(test.chapter, test.profile, seeds)
    if isinstance(test, Comparison):
        return _evaluate_comparison(claim, test, runs, seeds, mdir, confidence)
    return _evaluate_level(claim, test, runs, confidence)


def _check_claims(claims: Sequence[Claim]) -> None:
    """Unique ids, known chapters/jobs/fact checks, a verdict-capable test per claim."""
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError(f"claim ids must be unique, got duplicates {sorted({i for i in ids if ids.count(i) > 1})}")
    for c in claims:
        check_choice(c.kind, f"claim {c.id}: kind", ("claim", "fact"))
        t = c.test
        if isinstance(t, (Comparison, Level)):
            if t.chapter not in CHAPTER_JOBS:
                raise ValueError(f"claim {c.id}: chapter must be one of {sorted(CHAPTER_JOBS)}, got {t.chapter!r}")
            arms = (t.a, t.b) if isinstance(t, Comparison) else (t.arm,)
            for arm in arms:
                if not any(arm.matches(j) for j in CHAPTER_JOBS[t.chapter]):
                    raise ValueError(f"claim {c.id}: {arm.label} is not a job of chapter {t.chapter}")
        elif isinstance(t, Fact):
            if t.check not in FACT_CHECKS:
                raise ValueError(f"claim {c.id}: fact check must be one of {sorted(FACT_CHECKS)}, got {t.check!r}")
        elif not isinstance(t, NotTestable):
            raise ValueError(f"claim {c.id}: test must be a Comparison, Level, Fact or NotTestable, got {type(t).__name__}")


def evaluate_claims(
    claims: Sequence[Claim] = CLAIMS,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    measurements_dir: str | Path | None = None,
    results_root: str | Path = "results",
    runs_for: RunsFor | None = None,
    facts: Mapping[str, FactValue] | None = None,
    confidence: float = 0.95,
) -> list[Evaluation]:
    """Every claim evaluated now, in order: runs via ``runs_for`` (default :func:`qdm.chapters.runs.chapter_runs` on
    ``results_root`` and the ledger, nothing trained), fact checks run once each unless ``facts`` gives them,
    published-protocol strips from ``measurements_dir`` (None: not read)."""
    if isinstance(seeds, (str, bytes)) or not seeds:
        raise ValueError(f"seeds must be a non-empty sequence of ints >= 0, got {seeds!r}")
    for s in seeds:
        check_int(s, "seeds entries", 0)
    check_float(confidence, "confidence", 0.0, 1.0, low_open=True, high_open=True)
    _check_claims(claims)
    needed = sorted({c.test.check for c in claims if isinstance(c.test, Fact)})
    computed = dict(facts or {})
    for name in needed:
        if name not in computed:
            computed[name] = FACT_CHECKS[name]()
    runs_for = runs_for or _default_runs_for(results_root)
    return [evaluate_claim(c, runs_for, computed, seeds, measurements_dir, confidence) for c in claims]


def as_rows(evaluations: Sequence[Evaluation]) -> list[dict[str, Any]]:
    """Plain rows (id, paper, kind, claim, source key/where, published, both protocols, verdict, why, label)."""
    return [
        {
            "id": e.claim.id, "paper": PAPERS.get(e.claim.paper, e.claim.paper), "key": e.claim.source.key,
            "kind": e.claim.kind, "claim": e.claim.claim, "where": e.claim.source.where,
            "published": e.claim.published.text, "published_where": e.claim.published.where,
            "qdm_published_protocol": e.published_protocol, "qdm_fair_protocol": e.fair,
            "verdict": e.verdict, "why": e.why, "label": e.claim.label,
        }
        for e in evaluations
    ]
