"""Audits of the QAMP 2025 ANO hybrid [jo2026ano]: what its circuit passes on, by full simulation.

Small functions that ``tests/test_ano.py`` asserts and chapter 06 glues, each computed by running the
model's own functions (:mod:`qdm.models.ano`) on the full 16- or 32-amplitude state, never from the
closed form under test:

* :func:`hadamard_test_identity`: the middle block (jo2026ano, ``models/ansatzes.py`` 304–328, 435–439)
  adds the two ancilla halves ½(I ± U)|ψ⟩ and so hands |ψ⟩ on unchanged; the halves themselves, and
  ⟨Z_anc⟩ = Re⟨ψ|U|ψ⟩, are the controls that show the block does something;
* :func:`middle_block_reach`: the middle block's angles reach the 16 ANO features not at all, the
  ancilla expectation fully (gradients and a redraw of the angles);
* :func:`hermitian_split` / :func:`observable_gradient_split` / :func:`observable_drift`: the ANO
  observables H_k = (M_k + M_k†)/2 (ansatzes.py 246, 339–357, after Lin et al. [lin2026ano]) give the
  anti-Hermitian part of each raw M_k exactly zero gradient, so under Adam it keeps its initial value;
* :func:`conditioning_through_table` / :func:`output_spread`: time and digit enter only through the
  angle table (ansatzes.py 508–514, 555–571): two (t, label) pairs with the same table slice give the
  same output, and a network without the circuit's features gives one output whatever (t, label);
* :func:`entangling_capability`: the Meyer–Wallach measure [meyer2002global] of the coded layer (the
  expressibility paper's "entangling capability" [sim2019expressibility]), mean and standard error over
  random angle draws from |0000⟩, beside its Haar value (:func:`haar_meyer_wallach`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from qdm.models.ano import (
    ANGLES_PER_LAYER,
    N_QUBITS,
    AnoConfig,
    AnoDenoiser,
    ano_loss,
    circuit_block,
    complex_noise,
    hadamard_test,
    hermitian_observables,
    images_to_states,
    normalise,
    quantum_features_torch,
)
from qdm.validation import check_int

__all__ = [
    "conditioning_through_table",
    "entangling_capability",
    "haar_meyer_wallach",
    "meyer_wallach",
    "hadamard_test_identity",
    "hermitian_split",
    "middle_block_reach",
    "observable_drift",
    "observable_gradient_split",
    "output_spread",
    "random_states",
]

#: The circuit's register: 4 data qubits, 16 amplitudes (jo2026ano, ansatzes.py 312, 334, 364).
DIM = 16

HadamardBlock = Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]


def _check_generator(generator: Any) -> None:
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")


def _check_model(model: Any, features: str | None = None) -> None:
    if not isinstance(model, AnoDenoiser):
        raise ValueError(f"model must be a qdm.models.ano.AnoDenoiser, got {type(model).__name__}")
    if features is not None and model.cfg.features != features:
        raise ValueError(f"model must have features={features!r}, got {model.cfg.features!r}")


def random_states(n: int, generator: torch.Generator, real: bool = False) -> Tensor:
    """n random unit states (n, 16) complex128 (Gaussian amplitudes, normalised); real ones with ``real``."""
    check_int(n, "n", 1)
    _check_generator(generator)
    psi = torch.randn(n, DIM, generator=generator, dtype=torch.float64).to(torch.complex128)
    if not real:
        psi = psi + 1j * torch.randn(n, DIM, generator=generator, dtype=torch.float64)
    return normalise(psi)


def hadamard_test_identity(
    n_inputs: int, n_draws: int, layers: int, generator: torch.Generator, block: HadamardBlock = hadamard_test
) -> dict[str, float]:
    """[jo2026ano] ansatzes.py 304–328, 435–439: how far the middle block moves the data state, over random inputs and angles.

    For ``n_draws`` draws of ``n_inputs`` random complex states ψ and angles w ~ 2·N(0, 1) (``layers`` layers
    each), ``block(ψ, w)`` (default :func:`qdm.models.ano.hadamard_test`) returns (output state, ⟨Z_anc⟩,
    32-amplitude state).  Returned: the largest |output − ψ| (``max_state_deviation``), the largest
    |half₀ + half₁ − ψ| before renormalising (``max_sum_deviation``), the smallest over draws of the largest
    |half₀ − ψ| (``min_half_deviation``: each half alone is ½(I ± U)|ψ⟩, not ψ, so the block is not
    trivial), and the largest |⟨Z_anc⟩ − Re⟨ψ|U|ψ⟩| with U|ψ⟩ from :func:`qdm.models.ano.circuit_block`
    (``max_ancilla_error``).
    """
    check_int(n_inputs, "n_inputs", 1)
    check_int(n_draws, "n_draws", 1)
    check_int(layers, "layers", 1)
    _check_generator(generator)
    state_dev = sum_dev = anc_err = 0.0
    half_dev = float("inf")
    for _ in range(n_draws):
        psi = random_states(n_inputs, generator)
        w = 2.0 * torch.randn(n_inputs, layers, 16, generator=generator, dtype=torch.float64)
        out, z_anc, full = block(psi, w)
        halves = full.reshape(n_inputs, DIM, 2)
        state_dev = max(state_dev, float((out - psi).abs().max()))
        sum_dev = max(sum_dev, float((halves[..., 0] + halves[..., 1] - psi).abs().max()))
        half_dev = min(half_dev, float((halves[..., 0] - psi).abs().max()))
        expected = (psi.conj() * circuit_block(psi, w)).sum(-1).real
        anc_err = max(anc_err, float((z_anc - expected).abs().max()))
    return {
        "max_state_deviation": state_dev,
        "max_sum_deviation": sum_dev,
        "min_half_deviation": half_dev,
        "max_ancilla_error": anc_err,
        "n_inputs": float(n_inputs),
        "n_draws": float(n_draws),
        "layers": float(layers),
    }


def middle_block_reach(cfg: AnoConfig, n_inputs: int, generator: torch.Generator) -> dict[str, float]:
    """[jo2026ano] ansatzes.py 376–459: what the middle block's angles w₂ reach, on :func:`quantum_features_torch`.

    Random real unit latents z (``n_inputs``), angles ~ N(0, 1) and raw observables ~ 0.1·N(0, 1).  Returned:
    the largest |∂(Σ_k c_k y_k)/∂w₂| of the 16 ANO values y_k (c_k fixed weights in [−1, 1], so no
    cancellation), the same for ⟨Z_anc⟩ (the control), the smaller of the largest ANO gradients on w₁ and
    on w₃ (the other blocks do reach them), and the largest change of the ANO values and of ⟨Z_anc⟩ when
    w₂ is redrawn.
    """
    if not isinstance(cfg, AnoConfig) or not cfg.hadamard_test:
        raise ValueError("cfg must be an AnoConfig with hadamard_test=True (the middle block)")
    check_int(n_inputs, "n_inputs", 1)
    _check_generator(generator)
    k = cfg.n_observables
    per_block = cfg.layers * 16
    first, middle, last = slice(0, per_block), slice(per_block, 2 * per_block), slice(2 * per_block, 3 * per_block)
    z = random_states(n_inputs, generator, real=True).real
    angles = torch.randn(n_inputs, cfg.n_angles, generator=generator, dtype=torch.float64).requires_grad_()
    raw = 0.1 * torch.randn(k, 2, DIM, DIM, generator=generator, dtype=torch.float64)
    herm = hermitian_observables(raw)
    feats = quantum_features_torch(z, angles, herm, cfg)
    weights = torch.linspace(-1.0, 1.0, k, dtype=torch.float64)
    (g_ano,) = torch.autograd.grad((feats[:, :k] * weights).sum(), angles, retain_graph=True)
    (g_anc,) = torch.autograd.grad(feats[:, k].sum(), angles)
    other = angles.detach().clone()
    other[:, middle] = torch.randn(n_inputs, per_block, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        moved = quantum_features_torch(z, other, herm, cfg)
    return {
        "ano_gradient_middle": float(g_ano[:, middle].abs().max()),
        "ancilla_gradient_middle": float(g_anc[:, middle].abs().max()),
        "ano_gradient_outer": min(float(g_ano[:, first].abs().max()), float(g_ano[:, last].abs().max())),
        "ano_change_middle": float((moved[:, :k] - feats[:, :k].detach()).abs().max()),
        "ancilla_change_middle": float((moved[:, k] - feats[:, k].detach()).abs().max()),
        "n_middle_angles": float(per_block),
    }


def hermitian_split(raw: Tensor) -> tuple[Tensor, Tensor]:
    """Hermitian and anti-Hermitian parts of M_k = raw[k, 0] + i·raw[k, 1], in the same (K, 2, d, d) real layout.

    Hermitian: symmetric real part, antisymmetric imaginary part; anti-Hermitian: the rest.  The two add
    up to ``raw``.  Applied to a gradient with respect to the raw parameters, the anti-Hermitian part is
    the gradient along the directions (M − M†)/2, which :func:`qdm.models.ano.hermitian_observables` drops.
    """
    if not isinstance(raw, Tensor) or raw.ndim != 4 or raw.shape[1] != 2 or raw.shape[2] != raw.shape[3]:
        raise ValueError(f"raw must be a real tensor (K, 2, d, d), got {getattr(raw, 'shape', type(raw).__name__)}")
    re, im = raw[:, 0], raw[:, 1]
    re_t, im_t = re.transpose(-1, -2), im.transpose(-1, -2)
    herm = torch.stack(((re + re_t) / 2, (im - im_t) / 2), dim=1)
    anti = torch.stack(((re - re_t) / 2, (im + im_t) / 2), dim=1)
    return herm, anti


def _batch(n_images: int, generator: torch.Generator, n_labels: int) -> tuple[Tensor, Tensor]:
    """Random stand-in images through the coded encoding (normalised at 28×28, resized) and cyclic labels."""
    images = torch.rand(n_images, 1, 28, 28, generator=generator, dtype=torch.float64)
    return images_to_states(images, 16), torch.arange(n_images) % n_labels


def observable_gradient_split(model: AnoDenoiser, n_images: int, generator: torch.Generator) -> dict[str, float]:
    """[jo2026ano] ansatzes.py 246, 339–357: the loss gradient on the raw observables, split by :func:`hermitian_split`.

    One :func:`qdm.models.ano.ano_loss` on ``n_images`` random images (every t, cyclic labels); ``model`` is
    not changed.  Returned: the Frobenius norms of the anti-Hermitian and the Hermitian part of ∂L/∂raw and
    the largest |entry| of the anti-Hermitian part (exactly 0 when the real part of ⟨φ|M|φ⟩ is all that
    reaches the loss).
    """
    _check_model(model, "circuit")
    check_int(n_images, "n_images", 1)
    _check_generator(generator)
    probe = copy.deepcopy(model)
    x0, labels = _batch(n_images, generator, probe.cfg.n_labels)
    probe.zero_grad()
    ano_loss(probe, x0, labels, generator).backward()
    herm, anti = hermitian_split(probe.ano_raw.grad)
    return {
        "anti_hermitian_norm": float(anti.norm()),
        "hermitian_norm": float(herm.norm()),
        "anti_hermitian_max": float(anti.abs().max()),
        "n_anti_hermitian": float(probe.ano_raw.numel() // 2),
    }


def observable_drift(model: AnoDenoiser, n_images: int, steps: int, lr: float, generator: torch.Generator) -> dict[str, float]:
    """Adam (``lr``) for ``steps`` steps of :func:`ano_loss` on a copy of ``model``: how far each part of the M_k moved.

    Returned: the largest change of any entry of the anti-Hermitian part (rounding only: Adam's updates of
    M_ij and M_ji are equal) and of the Hermitian part (the trained one), over ``n_images`` random images.
    """
    _check_model(model, "circuit")
    check_int(n_images, "n_images", 1)
    check_int(steps, "steps", 1)
    _check_generator(generator)
    probe = copy.deepcopy(model)
    x0, labels = _batch(n_images, generator, probe.cfg.n_labels)
    herm0, anti0 = hermitian_split(probe.ano_raw.detach().clone())
    opt = torch.optim.Adam(probe.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        ano_loss(probe, x0, labels, generator).backward()
        opt.step()
    herm1, anti1 = hermitian_split(probe.ano_raw.detach())
    return {
        "anti_hermitian_change": float((anti1 - anti0).abs().max()),
        "hermitian_change": float((herm1 - herm0).abs().max()),
        "steps": float(steps),
        "lr": float(lr),
    }


def _noisy_inputs(n: int, generator: torch.Generator) -> Tensor:
    """n normalised complex-Gaussian 256-amplitude inputs (the sampler's x_T)."""
    return normalise(complex_noise((n, 256), generator))


def conditioning_through_table(model: AnoDenoiser, n_inputs: int, generator: torch.Generator) -> dict[str, float]:
    """[jo2026ano] ansatzes.py 555–571: t and label reach the network only as the angle-table slice [t − 1, label].

    On a copy of ``model`` (one with an angle table) the slice of (t = 7, label 8) is set to that of (t = 2,
    label 3); returned: the largest output difference between those two (t, label) pairs on the same inputs
    (exactly 0 when nothing else sees t or the label) and, as the control, between (t = 7, label 8) and
    (t = 7, label 4), whose slices differ.
    """
    _check_model(model)
    if model.cfg.features == "zeros":
        raise ValueError("model must have an angle table (features 'circuit' or 'classical'); use output_spread")
    if model.cfg.T < 7 or model.cfg.n_labels < 9:
        raise ValueError("model must have T >= 7 and n_labels >= 9 (the pairs (2, 3), (7, 8), (7, 4))")
    check_int(n_inputs, "n_inputs", 1)
    _check_generator(generator)
    probe = copy.deepcopy(model).eval()
    x = _noisy_inputs(n_inputs, generator)

    def at(t: int, label: int) -> Tensor:
        return probe(x, torch.full((n_inputs,), t), torch.full((n_inputs,), label))

    with torch.no_grad():
        probe.angle_table[6, 8] = probe.angle_table[1, 3]
        a, b, c = at(2, 3), at(7, 8), at(7, 4)
    return {"same_slice_difference": float((a - b).abs().max()), "other_slice_difference": float((b - c).abs().max())}


def output_spread(model: AnoDenoiser, n_inputs: int, generator: torch.Generator) -> float:
    """The largest output difference of ``model`` between (t = 1, label 0) and (T, 0), (1, last), (⌈T/2⌉, middle label).

    Same inputs for all four.  0 for a network whose decoder sees no (t, label)-dependent feature
    (``features="zeros"``); positive when the features carry the conditioning.
    """
    _check_model(model)
    check_int(n_inputs, "n_inputs", 1)
    _check_generator(generator)
    cfg = model.cfg
    x = _noisy_inputs(n_inputs, generator)
    probe = copy.deepcopy(model).eval()
    pairs = [(cfg.T, 0), (1, cfg.n_labels - 1), ((cfg.T + 1) // 2, cfg.n_labels // 2)]
    with torch.no_grad():
        base = probe(x, torch.ones(n_inputs, dtype=torch.long), torch.zeros(n_inputs, dtype=torch.long))
        outs = [probe(x, torch.full((n_inputs,), t), torch.full((n_inputs,), label)) for t, label in pairs]
    return max(float((out - base).abs().max()) for out in outs)


def meyer_wallach(states: Tensor) -> Tensor:
    """Meyer–Wallach global entanglement [meyer2002global], per state, in the form of [brennen2003observable]:
    Q = 2(1 − (1/n) Σ_k tr ρ_k²).

    ``states`` (B, 2**n) complex unit vectors (wire 0 most significant) → (B,) float64 in [0, 1].
    """
    if not isinstance(states, Tensor) or states.ndim != 2 or states.shape[1] < 2 or states.shape[1] & (states.shape[1] - 1):
        raise ValueError(f"states must be a (B, 2**n) tensor, got {getattr(states, 'shape', type(states))}")
    n = states.shape[1].bit_length() - 1
    psi = states.to(torch.complex128).reshape(states.shape[0], *([2] * n))
    purity = torch.zeros(states.shape[0], dtype=torch.float64)
    for k in range(n):
        m = psi.movedim(k + 1, 1).reshape(states.shape[0], 2, -1)  # qubit k against the rest
        rho = m @ m.conj().transpose(-1, -2)
        purity = purity + (rho.abs().square()).sum((-1, -2))
    return 2.0 * (1.0 - purity / n)


def haar_meyer_wallach(n_qubits: int) -> float:
    """E[Q] over Haar-random n-qubit states: (d − 2)/(d + 1), d = 2**n, from the average one-qubit purity
    (d_A + d_B)/(d_A d_B + 1) of a random state [lubkin1978entropy]."""
    check_int(n_qubits, "n_qubits", 2)
    d = 2**n_qubits
    return (d - 2) / (d + 1)


def entangling_capability(layers: int, n_samples: int, generator: torch.Generator) -> dict[str, float]:
    """Mean Meyer–Wallach Q of U(w)|0000⟩ over ``n_samples`` draws w ~ U[0, 2π) of the coded ``layers``-layer circuit.

    The circuit is :func:`qdm.models.ano.circuit_block` (the 16-angle layer of the model at the report's commit);
    returns the mean, its standard error, the sample count and the Haar value [sim2019expressibility].
    """
    check_int(layers, "layers", 1)
    check_int(n_samples, "n_samples", 2)
    _check_generator(generator)
    zero = torch.zeros(n_samples, DIM, dtype=torch.complex128)
    zero[:, 0] = 1.0
    angles = torch.rand(n_samples, layers, ANGLES_PER_LAYER, generator=generator, dtype=torch.float64) * 2 * math.pi
    with torch.no_grad():
        q = meyer_wallach(circuit_block(zero, angles))
    return {
        "mean": float(q.mean()),
        "se": float(q.std(correction=1) / math.sqrt(n_samples)),
        "n_samples": float(n_samples),
        "layers": float(layers),
        "haar": haar_meyer_wallach(N_QUBITS),
    }
