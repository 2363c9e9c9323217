"""Audits of the QAMP 2025 ANO hybrid [jo2026ano], by full simulation of its circuit (seconds on a CPU).

* :func:`hadamard_block_deviation`: the middle block (ancilla in |+⟩, controlled-U(w2), H, the two ancilla
  halves added, jo2026ano ``models/ansatzes.py`` 304–328, 435–439) returns its input state: the largest
  ‖out − ψ‖ over random states and angles, and the largest |⟨Z_anc⟩ − Re⟨ψ|U|ψ⟩|;
* :func:`anti_hermitian_gradient`: the ANO matrices M_k enter only through H_k = (M_k + M_k†)/2, so the
  anti-Hermitian half of their 8,192 real degrees of freedom gets no gradient; the largest such gradient
  component against the largest gradient component, and how many degrees of freedom that is;
* :func:`entangling_capability`: the Meyer–Wallach measure [meyer2002global] of the coded layer (the
  expressibility paper's "entangling capability" [sim2019expressibility]), mean and standard error over
  random angle draws from |0000⟩, beside its Haar value (:func:`haar_meyer_wallach`).

Every state here comes from :mod:`qdm.quantum.sim` through the model's own gates (:mod:`qdm.models.ano`):
the 32-amplitude state of the Hadamard test is simulated, not the identity it is compared with.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from qdm.models.ano import (
    ANGLES_PER_LAYER,
    DIM,
    N_QUBITS,
    AnoConfig,
    AnoDenoiser,
    ano_loss,
    circuit_block,
    hadamard_test,
    normalise,
)
from qdm.validation import check_int

__all__ = [
    "anti_hermitian_gradient",
    "entangling_capability",
    "hadamard_block_deviation",
    "haar_meyer_wallach",
    "meyer_wallach",
]


def _check_generator(generator: object) -> torch.Generator:
    """A torch.Generator."""
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return generator


def _random_states(n: int, generator: torch.Generator) -> Tensor:
    """n Haar-random 4-qubit states (normalised complex Gaussians), (n, 16) complex128."""
    re = torch.randn(n, DIM, generator=generator, dtype=torch.float64)
    im = torch.randn(n, DIM, generator=generator, dtype=torch.float64)
    return normalise(torch.complex(re, im))


def hadamard_block_deviation(n_states: int, layers: int, generator: torch.Generator) -> dict[str, float]:
    """[jo2026ano] (``ansatzes.py`` 304–328, 435–439): how far the Hadamard-test block moves a state, full simulation.

    For ``n_states`` random states ψ and random angles w ~ U[0, 2π) of a ``layers``-layer U(w): the largest
    ‖out − ψ‖₂ (out: the block's summed, renormalised ancilla halves), the largest |⟨Z_anc⟩ − Re⟨ψ|U|ψ⟩|
    (the one scalar through which w reaches the output), and the largest |⟨Z_anc⟩| (that the scalar is not 0).
    """
    check_int(n_states, "n_states", 1)
    check_int(layers, "layers", 1)
    _check_generator(generator)
    psi = _random_states(n_states, generator)
    angles = torch.rand(n_states, layers, ANGLES_PER_LAYER, generator=generator, dtype=torch.float64) * 2 * math.pi
    out, z_anc, full = hadamard_test(psi, angles)
    if full.shape[-1] != 2 * DIM:
        raise RuntimeError(f"the Hadamard test simulated {full.shape[-1]} amplitudes, expected {2 * DIM}")
    overlap = (psi.conj() * circuit_block(psi, angles)).sum(-1).real
    return {
        "max_state_change": float((out - psi).abs().square().sum(-1).sqrt().max()),
        "max_zanc_error": float((z_anc - overlap).abs().max()),
        "max_abs_zanc": float(z_anc.abs().max()),
        "n_states": float(n_states),
        "n_angles": float(layers * ANGLES_PER_LAYER),
    }


def anti_hermitian_gradient(batch: int, generator: torch.Generator, layers: int = 10) -> dict[str, float]:
    """[jo2026ano] (``ansatzes.py`` 246, 339–357): gradient of the training loss in the anti-Hermitian directions of M_k.

    One loss (:func:`qdm.models.ano.ano_loss`) of a fresh model on ``batch`` random non-negative unit states; returns the
    largest |gradient| along the anti-Hermitian directions (antisymmetric real part, symmetric imaginary part of
    ∂L/∂M_k), the largest |gradient| of any ANO entry, and how many of the ANO's real degrees of freedom are
    anti-Hermitian (K·d² of 2·K·d²).
    """
    check_int(batch, "batch", 1)
    check_int(layers, "layers", 1)
    _check_generator(generator)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        model = AnoDenoiser(AnoConfig(layers=layers))
    pixels = torch.rand(batch, model.cfg.image_size**2, generator=generator, dtype=torch.float64)
    x0 = normalise(pixels.to(torch.complex128))  # unit, real and non-negative: what images give
    labels = torch.randint(0, model.cfg.n_labels, (batch,), generator=generator)
    ano_loss(model, x0, labels, generator).backward()
    grad = model.ano_raw.grad  # (K, 2, d, d): real and imaginary parts of M_k
    g_re, g_im = grad[:, 0], grad[:, 1]
    anti = torch.cat([(0.5 * (g_re - g_re.transpose(-1, -2))).flatten(), (0.5 * (g_im + g_im.transpose(-1, -2))).flatten()])
    k, d = grad.shape[0], grad.shape[-1]
    return {
        "max_anti_hermitian_gradient": float(anti.abs().max()),
        "max_gradient": float(grad.abs().max()),
        "anti_hermitian_dof": float(k * d * d),
        "ano_dof": float(grad.numel()),
    }


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
