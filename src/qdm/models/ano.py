"""The QAMP 2025 hybrid denoiser with adaptive non-local observables (ANO), as its public code builds it.

Jo et al. [jo2026ano] describe a quantum diffusion model for MNIST; the report's "Implementation"
section is empty, so this module follows the project's code at the commit of the final report
(``models/ansatzes.py``: ``PennyLanePQC`` and ``QuantumUNet``; ``trainer.py``; ``utils/``).  Equations
and code locations are cited per function as "jo2026ano, <file> <lines>"; the ANO read-out is Lin et
al.'s [lin2026ano].

The network, for one noisy image ``x_t`` (256 complex amplitudes of a 16×16 image), time ``t`` and digit:

1. encoder (classical): ``[Re x_t, Im x_t]`` (512 reals) → Linear(512, 512) → ReLU → Linear(512, 16)
   → LayerNorm(16) → L2 normalisation: a *real* unit 16-vector ``z``, amplitude-encoded on 4 qubits;
2. circuit block 1: ``|ψ1⟩ = U(w1)|z⟩``; ``U`` is ``layers`` repetitions of :func:`ano_layer`
   (Vatan–Williams two-qubit units on the ring (0,1),(2,3),(1,2),(3,0), then the phase-mixing layer);
3. circuit block 2, the Hadamard test (:func:`hadamard_test`): ancilla (wire 4) in |+⟩, controlled
   ``U(w2)``, H; gives ``⟨Z_anc⟩ = Re⟨ψ1|U(w2)|ψ1⟩`` and a 32-amplitude state whose two ancilla halves
   are *added*: that sum is exactly ``|ψ1⟩`` again, so ``w2`` reaches the output only through the one scalar;
4. "activation" (:func:`leaky_activation`): LeakyReLU(0.01) on the real and imaginary parts, renormalised;
5. circuit block 3: ``|φ⟩ = U(w3)|a⟩`` and 16 ANO expectations ``⟨φ|H_k|φ⟩`` with ``H_k = (M_k + M_k†)/2``
   (:func:`hermitian_observables`), trainable, shared by all t and digits;
6. decoder (classical): ``[16 ANO values, ⟨Z_anc⟩, Re x_t, Im x_t]`` (529 reals) → Linear(529, 512) →
   ReLU → Linear(512, 512) → 256 complex amplitudes → L2 normalisation.

Time and digit enter only through the angle table ``(T, labels, 3·16·layers)`` (slice ``[t-1, label]``),
so the 17 circuit features are the only route by which the output can depend on them.  Parameters
(:func:`parameter_counts`): 861,104 at the coded shapes, 56,192 of them quantum (angle table + ANO).

For the comparisons of the report's missing baselines, ``features`` selects the source of the 17
features: ``"circuit"`` (as coded), ``"zeros"`` (no quantum part at all: does the decoder's copy of the
noisy input do the work?), ``"classical"`` (:class:`ClassicalFeatureBlock`: a (t, label)-conditioned
classical block with exactly the quantum part's trainable parameter count); ``hadamard_test=False``
removes block 2 (16 features, a two-block angle table).

Conventions: PennyLane's (wire 0 most significant, ancilla = wire 4 the least significant); all maths in
float64 / complex128; simulated with :mod:`qdm.quantum.sim` (``backend="torch"``) or with PennyLane
``default.qubit`` on the same gates (``backend="pennylane"``, one sample at a time as in the project).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qdm.annotations import validate_fields
from qdm.quantum import sim

__all__ = [
    "ANGLES_PER_LAYER",
    "AnoConfig",
    "AnoDenoiser",
    "ClassicalFeatureBlock",
    "ano_expectations",
    "ano_layer",
    "ano_loss",
    "ano_schedule",
    "circuit_block",
    "complex_noise",
    "conv_unit",
    "forward_noise",
    "from_reals",
    "hadamard_test",
    "hermitian_observables",
    "images_to_states",
    "infidelity",
    "leaky_activation",
    "normalise",
    "parameter_counts",
    "phase_mixing",
    "posterior_mean",
    "quantum_features_pennylane",
    "quantum_features_torch",
    "sample_states",
    "states_to_images",
    "to_reals",
]

#: Angles of one layer: 4 Vatan–Williams units × 3 + 4 phase-mixing RX (jo2026ano, ansatzes.py 261–283).
ANGLES_PER_LAYER = 16
#: Two-qubit units of a layer: (0,1), (2,3), then (1,2), (3,0) (a ring).
RING_PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (2, 3), (1, 2), (3, 0))
#: CZ pairs of the phase-mixing layer.
CZ_PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (2, 3))
N_QUBITS = 4
DIM = 1 << N_QUBITS
Features = Literal["circuit", "zeros", "classical"]
Backend = Literal["torch", "pennylane"]


@dataclass(frozen=True)
class AnoConfig:
    """The ANO hybrid denoiser and its diffusion (jo2026ano, as coded; defaults = the commit of the final report).

    ``layers``: repetitions of :func:`ano_layer` per circuit block (``pqc_layers`` = 10 in trainer.py 21;
    15 and 20 in earlier commits).  ``n_labels``: rows of the angle table per t (labels index it directly).
    ``activation``: the LeakyReLU between blocks 2 and 3 (on in trainer.py 22).  ``features`` /
    ``hadamard_test``: the ablations of the module docstring.  Schedule: β = [0, linspace(β_start, β_end,
    T+1)[:T]] (jo2026ano, schedule.py 43), T = 10.  ``published_protocol_images``: how many images the
    family's evaluation also scores under the project's own FID protocol (jo2026ano, circuit_training.py
    215–252: unlabelled, i.e. label-0, samples against the first training images, both unscaled; 256 as
    coded, 0 = off).
    """

    family: ClassVar[str] = "ano_hybrid"
    #: Sample i is drawn for digit classes[i mod C] (:func:`qdm.families.ano.ano_sample`), so the run's
    #: classifier metrics score each sample against that digit (:func:`qdm.run_metrics.intended_labels`).
    label_conditioned: ClassVar[bool] = True

    image_size: int = 16
    hidden: int = 512
    layers: int = 10
    n_labels: int = 10
    n_observables: int = 16
    activation: bool = True
    leaky_slope: float = 0.01
    hadamard_test: bool = True
    features: Features = "circuit"
    backend: Backend = "torch"
    table_init_std: float = 0.1
    ano_init_std: float = 0.1
    T: int = 10
    beta_start: float = 1e-4
    beta_end: float = 0.02
    published_protocol_images: int = 256

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.published_protocol_images == 1 or self.published_protocol_images < 0:
            raise ValueError(
                "AnoConfig.published_protocol_images must be 0 (off) or >= 2, "
                f"got {self.published_protocol_images}"
            )
        if self.image_size != 16:
            raise ValueError(f"AnoConfig.image_size must be 16 (256 amplitudes, as coded), got {self.image_size}")
        for name in ("hidden", "layers", "n_labels", "n_observables", "T"):
            if getattr(self, name) < 1:
                raise ValueError(f"AnoConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.leaky_slope < 1.0:
            raise ValueError(f"AnoConfig.leaky_slope must be in [0, 1), got {self.leaky_slope}")
        for name in ("table_init_std", "ano_init_std"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"AnoConfig.{name} must be a finite float > 0, got {getattr(self, name)}")
        if not 0.0 < self.beta_start <= self.beta_end < 1.0:
            raise ValueError(
                f"AnoConfig.beta_start and beta_end must satisfy 0 < beta_start <= beta_end < 1, "
                f"got {self.beta_start}, {self.beta_end}"
            )

    @property
    def n_blocks(self) -> int:
        """Circuit blocks whose angles sit in the table: 3, or 2 without the Hadamard test."""
        return 3 if self.hadamard_test else 2

    @property
    def n_angles(self) -> int:
        """Angles per (t, label) slice of the table: blocks × layers × 16 (480 as coded)."""
        return self.n_blocks * self.layers * ANGLES_PER_LAYER

    @property
    def n_features(self) -> int:
        """Circuit features handed to the decoder: the ANO values and, with the Hadamard test, ⟨Z_anc⟩."""
        return self.n_observables + (1 if self.hadamard_test else 0)


# ---------------------------------------------------------------------------------------------
# Diffusion maths (schedule, forward process, targets, loss)
# ---------------------------------------------------------------------------------------------


def ano_schedule(T: int, beta_start: float, beta_end: float) -> tuple[Tensor, Tensor]:
    """(β, ᾱ), each (T+1,) float64 with β_0 = 0, ᾱ_0 = 1: β_t = linspace(β_start, β_end, T+1)[t-1], ᾱ_t = Π_{s≤t}(1-β_s).

    jo2026ano, utils/schedule.py 43 (β = [0, linspace(1e-4, 0.02, T+1)], so β_T = 0.01801 at T = 10 and
    0.02 is never used); ᾱ as in Ho et al. 2020 [ho2020ddpm] (sec. 2, below eq. 4).
    """
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    lin = torch.linspace(beta_start, beta_end, T + 1, dtype=torch.float64)
    betas = torch.cat((torch.zeros(1, dtype=torch.float64), lin[:T]))
    return betas, torch.cumprod(1.0 - betas, dim=0)


def complex_noise(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    """ε = ε_r + i ε_i with independent N(0, 1) parts, complex128 (jo2026ano, utils/training_functions.py 10–35)."""
    re = torch.randn(shape, generator=generator, dtype=torch.float64, device=generator.device)
    im = torch.randn(shape, generator=generator, dtype=torch.float64, device=generator.device)
    return torch.complex(re, im)


def forward_noise(x0: Tensor, t: Tensor, eps: Tensor, alpha_bars: Tensor) -> Tensor:
    """x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε (Ho et al. 2020 [ho2020ddpm] eq. 4; jo2026ano, training_functions.py 10–35)."""
    ab = alpha_bars.to(x0.device)[t].unsqueeze(-1)
    return ab.sqrt() * x0 + (1.0 - ab).sqrt() * eps


def posterior_mean(x0: Tensor, xt: Tensor, t: Tensor, betas: Tensor, alpha_bars: Tensor) -> Tensor:
    """μ̃_t = √ᾱ_{t-1} β_t/(1-ᾱ_t) x_0 + √α_t (1-ᾱ_{t-1})/(1-ᾱ_t) x_t (Ho et al. 2020 [ho2020ddpm] eq. 7).

    The project's training target (jo2026ano, circuit_training.py 157–158); at t = 1, ᾱ_0 = 1 gives μ̃ = x_0.
    """
    b, ab = betas.to(x0.device), alpha_bars.to(x0.device)
    bt, abt, abp = b[t].unsqueeze(-1), ab[t].unsqueeze(-1), ab[t - 1].unsqueeze(-1)
    return abp.sqrt() * bt / (1.0 - abt) * x0 + (1.0 - bt).sqrt() * (1.0 - abp) / (1.0 - abt) * xt


def normalise(v: Tensor) -> Tensor:
    """v / ‖v‖₂ along the last axis."""
    return v / torch.linalg.vector_norm(v, dim=-1, keepdim=True)


def infidelity(pred: Tensor, target: Tensor) -> Tensor:
    """1 - mean_i |⟨pred_i|target_i⟩|² for unit vectors (jo2026ano, utils/loss.py 24–39)."""
    overlap = (pred.conj() * target).sum(-1)
    return 1.0 - (overlap.abs() ** 2).mean()


# ---------------------------------------------------------------------------------------------
# Data encoding
# ---------------------------------------------------------------------------------------------


def images_to_states(images: Tensor, size: int = 16) -> Tensor:
    """(N, 1, 28, 28) images in [0, 1] → (N, size²) complex128: L2-normalised at 28×28, *then* bilinearly resized.

    jo2026ano, data/load_data.py 47–52: the resized vector is not renormalised (norm ≈ 0.54 on MNIST).
    """
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must have shape (N, 1, H, W), got {tuple(images.shape)}")
    x = images.double()
    x = x / torch.linalg.vector_norm(x.flatten(1), dim=1).clamp_min(1e-300)[:, None, None, None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.flatten(1).to(torch.complex128)


def states_to_images(states: Tensor, size: int = 16) -> Tensor:
    """(N, size²) amplitudes → (N, 1, size, size) float64 |amplitudes| / max (the sampler's image, brightness matched)."""
    mag = states.abs().reshape(-1, 1, size, size)
    return mag / mag.flatten(1).amax(dim=1).clamp_min(1e-300)[:, None, None, None]


def to_reals(psi: Tensor) -> Tensor:
    """(…, d) complex → (…, 2d) real: [Re ψ, Im ψ] (jo2026ano, ansatzes.py 478–481, 532–537)."""
    return torch.cat((psi.real, psi.imag), dim=-1)


def from_reals(v: Tensor) -> Tensor:
    """(…, 2d) real [Re, Im] → (…, d) complex (inverse of :func:`to_reals`)."""
    d = v.shape[-1] // 2
    return torch.complex(v[..., :d], v[..., d:])


# ---------------------------------------------------------------------------------------------
# The circuit (torch, on qdm's simulator)
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _cz_signs(n: int, pairs: tuple[tuple[int, int], ...]) -> Tensor:
    """Diagonal of CZ(p_1) … CZ(p_k) on n wires (wire 0 most significant): (-1)^{Σ b_i b_j}."""
    idx = torch.arange(1 << n)
    bits = [(idx >> (n - 1 - w)) & 1 for w in range(n)]
    parity = sum(bits[i] * bits[j] for i, j in pairs)
    return (1 - 2 * (parity % 2)).to(torch.complex128)


@functools.lru_cache(maxsize=4)
def _hadamard_all(n: int) -> Tensor:
    """H^{⊗n} as a dense (2^n, 2^n) complex128 matrix (symmetric)."""
    h = sim.hadamard()
    out = h
    for _ in range(n - 1):
        out = torch.kron(out, h)
    return out


@functools.lru_cache(maxsize=4)
def _fixed_rz(device: torch.device) -> tuple[Tensor, Tensor]:
    """The fixed RZ(-π/2) and RZ(π/2) of the Vatan–Williams unit, on ``device``."""
    return sim.rz(-math.pi / 2).to(device), sim.rz(math.pi / 2).to(device)


def conv_unit(state: Tensor, params: Tensor, wires: tuple[int, int]) -> Tensor:
    """Vatan–Williams two-qubit unit on wires (a, b); params (B, 3) = (α, β, γ).

    jo2026ano, ansatzes.py 118–142 (report Fig. 1): RZ(-π/2)_b, CNOT(b→a), RZ(π/2-2γ)_a, RY(2α-π/2)_b,
    CNOT(a→b), RY(π/2-2β)_b, CNOT(b→a), RZ(π/2)_a; equal to exp(i(α XX + β YY + γ ZZ)) up to a global
    phase (Vatan & Williams 2004, Fig. 6).
    """
    a, b = wires
    alpha, beta, gamma = params[:, 0], params[:, 1], params[:, 2]
    half = math.pi / 2
    minus, plus = _fixed_rz(state.device)
    s = sim.apply_single_qubit(state, minus, b)
    s = sim.apply_cnots(s, ((b, a),))
    s = sim.apply_single_qubit(s, sim.rz(half - 2.0 * gamma), a)
    s = sim.apply_single_qubit(s, sim.ry(2.0 * alpha - half), b)
    s = sim.apply_cnots(s, ((a, b),))
    s = sim.apply_single_qubit(s, sim.ry(half - 2.0 * beta), b)
    s = sim.apply_cnots(s, ((b, a),))
    return sim.apply_single_qubit(s, plus, a)


def phase_mixing(state: Tensor, phis: Tensor) -> Tensor:
    """H on every wire, CZ(0,1) CZ(1,2) CZ(2,3), RX(φ_j) on wire j; phis (B, 4) (jo2026ano, ansatzes.py 145–160)."""
    s = state @ _hadamard_all(N_QUBITS).to(state.device)
    s = s * _cz_signs(N_QUBITS, CZ_PAIRS).to(state.device)
    for j in range(N_QUBITS):
        s = sim.apply_single_qubit(s, sim.rx(phis[:, j]), j)
    return s


def ano_layer(state: Tensor, angles: Tensor) -> Tensor:
    """One layer (jo2026ano, ansatzes.py 261–283): units on (0,1),(2,3),(1,2),(3,0), then phase mixing.

    angles (B, 16): units' (α, β, γ) in ring order (12), then the 4 RX angles.
    """
    s = state
    for u, pair in enumerate(RING_PAIRS):
        s = conv_unit(s, angles[:, 3 * u : 3 * u + 3], pair)
    return phase_mixing(s, angles[:, 12:16])


def circuit_block(state: Tensor, angles: Tensor) -> Tensor:
    """U(w)|state⟩: the layers of :func:`ano_layer`, angles (B, layers, 16), state (B, 16) complex."""
    for layer in range(angles.shape[1]):
        state = ano_layer(state, angles[:, layer])
    return state


def hadamard_test(psi: Tensor, angles: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The middle block (jo2026ano, ansatzes.py 304–328, 435–439): (summed state, ⟨Z_anc⟩, 32-amplitude state).

    Ancilla = wire 4 (least significant) in |+⟩, controlled-U(w) on wires 0–3, H on the ancilla:
    ½[(I+U)|ψ⟩|0⟩ + (I-U)|ψ⟩|1⟩].  ⟨Z_anc⟩ = Re⟨ψ|U|ψ⟩; the two ancilla halves are added and
    renormalised, which returns |ψ⟩ itself (the block never changes the data state).
    """
    plus = torch.stack((psi, psi), dim=-1) / math.sqrt(2.0)  # |ψ⟩ ⊗ |+⟩, (B, 16, 2)
    controlled = torch.stack((plus[..., 0], circuit_block(plus[..., 1], angles)), dim=-1)  # C-U, control = ancilla
    full = sim.apply_single_qubit(controlled.flatten(1), sim.hadamard(device=psi.device), N_QUBITS)
    halves = full.view(-1, DIM, 2)
    z_anc = (halves[..., 0].abs() ** 2).sum(-1) - (halves[..., 1].abs() ** 2).sum(-1)
    return normalise(halves[..., 0] + halves[..., 1]), z_anc, full


def leaky_activation(psi: Tensor, slope: float) -> Tensor:
    """LeakyReLU(slope) on Re ψ and on Im ψ, renormalised (jo2026ano, ansatzes.py 448–450; classical, non-unitary)."""
    return normalise(torch.complex(F.leaky_relu(psi.real, slope), F.leaky_relu(psi.imag, slope)))


def hermitian_observables(raw: Tensor) -> Tensor:
    """H_k = (M_k + M_k†)/2 with M_k = raw[k, 0] + i raw[k, 1]; raw (K, 2, d, d) → (K, d, d) complex.

    jo2026ano, ansatzes.py 246, 339–357 (the ANO of Lin et al. [lin2026ano]): Hermitian by construction.
    """
    m = torch.complex(raw[:, 0], raw[:, 1])
    return 0.5 * (m + m.conj().transpose(-1, -2))


def ano_expectations(phi: Tensor, herm: Tensor) -> Tensor:
    """y_k = ⟨φ|H_k|φ⟩ (real for Hermitian H_k): phi (B, d), herm (K, d, d) → (B, K) float64."""
    return torch.einsum("bi,kij,bj->bk", phi.conj(), herm, phi).real


def _split_angles(angles: Tensor, cfg: AnoConfig) -> list[Tensor]:
    """(B, n_angles) → per block (B, layers, 16)."""
    return list(angles.view(angles.shape[0], cfg.n_blocks, cfg.layers, ANGLES_PER_LAYER).unbind(1))


def quantum_features_torch(z: Tensor, angles: Tensor, herm: Tensor, cfg: AnoConfig) -> Tensor:
    """The 17 circuit features [y_1 … y_16, ⟨Z_anc⟩] of real unit latents z (B, 16), on qdm's simulator.

    jo2026ano, ansatzes.py 376–459 (forward): block 1, Hadamard test, activation, block 3 + ANO.
    """
    blocks = _split_angles(angles, cfg)
    psi = circuit_block(z.to(torch.complex128), blocks[0])
    extra: list[Tensor] = []
    if cfg.hadamard_test:
        psi, z_anc, _ = hadamard_test(psi, blocks[1])
        extra = [z_anc[:, None]]
    if cfg.activation:
        psi = leaky_activation(psi, cfg.leaky_slope)
    phi = circuit_block(psi, blocks[-1])
    return torch.cat([ano_expectations(phi, herm), *extra], dim=1)


# ---------------------------------------------------------------------------------------------
# The same gates in PennyLane (default.qubit, backprop, one sample at a time as in the project)
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _pennylane_qnodes(n_observables: int):  # returns QNodes
    """(block QNode → state, Hadamard-test QNode → 32-amplitude state, read-out QNode → ANO expectations)."""
    import pennylane as qml

    data = list(range(N_QUBITS))

    def layers(w):  # w (layers, 16)
        half = math.pi / 2
        for layer in range(w.shape[0]):
            for u, (a, b) in enumerate(RING_PAIRS):
                alpha, beta, gamma = w[layer, 3 * u], w[layer, 3 * u + 1], w[layer, 3 * u + 2]
                qml.RZ(-half, wires=b)
                qml.CNOT(wires=[b, a])
                qml.RZ(half - 2.0 * gamma, wires=a)
                qml.RY(2.0 * alpha - half, wires=b)
                qml.CNOT(wires=[a, b])
                qml.RY(half - 2.0 * beta, wires=b)
                qml.CNOT(wires=[b, a])
                qml.RZ(half, wires=a)
            for j in data:
                qml.Hadamard(wires=j)
            for i, j in CZ_PAIRS:
                qml.CZ(wires=[i, j])
            for j in data:
                qml.RX(w[layer, 12 + j], wires=j)

    dev4 = qml.device("default.qubit", wires=N_QUBITS)
    dev5 = qml.device("default.qubit", wires=N_QUBITS + 1)

    @qml.qnode(dev4, interface="torch", diff_method="backprop")
    def block(state, w):
        qml.StatePrep(state, wires=data)
        layers(w)
        return qml.state()

    @qml.qnode(dev5, interface="torch", diff_method="backprop")
    def htest(state, w):
        qml.StatePrep(state, wires=data)
        qml.Hadamard(wires=N_QUBITS)
        qml.ctrl(layers, control=N_QUBITS)(w)
        qml.Hadamard(wires=N_QUBITS)
        return qml.state()

    @qml.qnode(dev4, interface="torch", diff_method="backprop")
    def readout(state, w, herm):
        qml.StatePrep(state, wires=data)
        layers(w)
        return [qml.expval(qml.Hermitian(herm[k], wires=data)) for k in range(n_observables)]

    return block, htest, readout


def quantum_features_pennylane(z: Tensor, angles: Tensor, herm: Tensor, cfg: AnoConfig) -> Tensor:
    """:func:`quantum_features_torch` with PennyLane ``default.qubit`` QNodes (StatePrep hand-offs, as coded)."""
    block, htest, readout = _pennylane_qnodes(cfg.n_observables)
    blocks = _split_angles(angles, cfg)
    rows = []
    for i in range(z.shape[0]):
        psi = block(z[i].to(torch.complex128), blocks[0][i])
        extra: list[Tensor] = []
        if cfg.hadamard_test:
            halves = htest(psi, blocks[1][i]).reshape(DIM, 2)
            z_anc = (halves[:, 0].abs() ** 2).sum() - (halves[:, 1].abs() ** 2).sum()
            psi = normalise(halves[:, 0] + halves[:, 1])
            extra = [z_anc.reshape(1)]
        if cfg.activation:
            psi = leaky_activation(psi, cfg.leaky_slope)
        ys = readout(psi, blocks[-1][i], herm)
        rows.append(torch.cat([torch.stack(list(ys)).real.to(torch.float64), *extra]))
    return torch.stack(rows)


# ---------------------------------------------------------------------------------------------
# Classical replacement of the quantum block (same trainable parameter count)
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _walsh_hadamard(d: int) -> Tensor:
    """The orthogonal d×d Walsh–Hadamard matrix H^{⊗log2 d} (real, fixed)."""
    return _hadamard_all(int(math.log2(d))).real.clone()


class ClassicalFeatureBlock(nn.Module):
    """A classical (t, label)-conditioned stand-in for the quantum block with the same trainable parameters.

    Mirror of the circuit: the (T, labels, n_angles) table supplies, per (t, label), 16 biases for each of
    the ``blocks × layers`` "layers" h ← W·tanh(h + c) (W the fixed orthogonal Walsh–Hadamard matrix, the
    analogue of the fixed gates); block 2's output gives the scalar cos∠(h1, h2) (the analogue of
    Re⟨ψ1|U|ψ1⟩) and, like the Hadamard test, hands block 1's output on unchanged; the 16 read-outs are
    y_k = h3ᵀ A_k h3 + h3ᵀ B_k z with real 16×16 A_k, B_k: 2·256 = 512 per k, like the 512 reals of M_k.
    """

    def __init__(self, cfg: AnoConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.readout = nn.Parameter(torch.randn(cfg.n_observables, 2, DIM, DIM, dtype=torch.float64) * cfg.ano_init_std)

    def forward(self, z: Tensor, biases: Tensor) -> Tensor:
        """z (B, 16) real unit latents, biases (B, n_angles) from the table → (B, n_features) float64."""
        w = _walsh_hadamard(DIM).to(z.device)
        blocks = _split_angles(biases, self.cfg)

        def run(h: Tensor, c: Tensor) -> Tensor:
            for layer in range(c.shape[1]):
                h = torch.tanh(h + c[:, layer]) @ w
            return h

        h1 = run(z, blocks[0])
        extra: list[Tensor] = []
        if self.cfg.hadamard_test:
            h2 = run(h1, blocks[1])
            extra = [F.cosine_similarity(h1, h2, dim=1)[:, None]]
        h3 = run(h1, blocks[-1])
        a, b = self.readout[:, 0], self.readout[:, 1]
        y = torch.einsum("bi,kij,bj->bk", h3, a, h3) + torch.einsum("bi,kij,bj->bk", h3, b, z)
        return torch.cat([y, *extra], dim=1)


# ---------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------


class AnoDenoiser(nn.Module):
    """The QuantumUNet of jo2026ano (ansatzes.py 462–598): MLP encoder, three circuit blocks with ANO, MLP decoder.

    ``forward(x, t, labels)``: x (B, 256) complex unit noisy states, t (B,) in 1…T, labels (B,) in
    0…n_labels-1 → (B, 256) complex unit predictions of the normalised posterior mean.
    """

    def __init__(self, cfg: AnoConfig) -> None:
        super().__init__()
        if not isinstance(cfg, AnoConfig):
            raise ValueError(f"cfg must be an AnoConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        d_in = 2 * cfg.image_size**2
        kw = {"dtype": torch.float64}
        if cfg.features != "zeros":
            self.enc1 = nn.Linear(d_in, cfg.hidden, **kw)
            self.enc2 = nn.Linear(cfg.hidden, DIM, **kw)
            self.norm = nn.LayerNorm(DIM, **kw)
            # jo2026ano, ansatzes.py 508–514: (T, classes, 480) table, init 0.1·N(0, 1)
            self.angle_table = nn.Parameter(torch.randn(cfg.T, cfg.n_labels, cfg.n_angles, **kw) * cfg.table_init_std)
        if cfg.features == "circuit":
            # jo2026ano, ansatzes.py 246: K complex 16×16 M_k from 512 reals each, init N(0, 0.1²)
            self.ano_raw = nn.Parameter(torch.randn(cfg.n_observables, 2, DIM, DIM, **kw) * cfg.ano_init_std)
        elif cfg.features == "classical":
            self.classical_block = ClassicalFeatureBlock(cfg)
        self.dec1 = nn.Linear(cfg.n_features + d_in, cfg.hidden, **kw)
        self.dec2 = nn.Linear(cfg.hidden, d_in, **kw)

    def encode(self, x: Tensor) -> Tensor:
        """x (B, 256) complex → real unit latent (B, 16): Linear, ReLU, Linear, LayerNorm, L2 (ansatzes.py 492–496, 542–552)."""
        h = self.norm(self.enc2(F.relu(self.enc1(to_reals(x)))))
        return normalise(h)

    def table_slice(self, t: Tensor, labels: Tensor) -> Tensor:
        """The (B, n_angles) angles of each sample: table[t - 1, label] (ansatzes.py 555–571)."""
        return self.angle_table[t - 1, labels]

    def features(self, x: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        """The (B, n_features) features the decoder receives besides the noisy input."""
        cfg = self.cfg
        if cfg.features == "zeros":
            return torch.zeros(x.shape[0], cfg.n_features, dtype=torch.float64, device=x.device)
        z = self.encode(x)
        angles = self.table_slice(t, labels)
        if cfg.features == "classical":
            return self.classical_block(z, angles)
        herm = hermitian_observables(self.ano_raw)
        qf = quantum_features_torch if cfg.backend == "torch" else quantum_features_pennylane
        return qf(z, angles, herm, cfg)

    def decode(self, features: Tensor, x: Tensor) -> Tensor:
        """[features, Re x, Im x] → Linear, ReLU, Linear → 256 complex → L2 (ansatzes.py 584–596)."""
        h = self.dec2(F.relu(self.dec1(torch.cat((features, to_reals(x)), dim=1))))
        return normalise(from_reals(h))

    def forward(self, x: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        """Predicted normalised posterior mean (B, 256) complex."""
        cfg = self.cfg
        if t.min() < 1 or t.max() > cfg.T:
            raise ValueError(f"t must lie in 1..{cfg.T}, got {t.min().item()}..{t.max().item()}")
        if labels.min() < 0 or labels.max() >= cfg.n_labels:
            raise ValueError(f"labels must lie in 0..{cfg.n_labels - 1}, got {labels.min().item()}..{labels.max().item()}")
        return self.decode(self.features(x, t, labels), x)


def parameter_counts(model: AnoDenoiser) -> dict[str, int]:
    """Trainable parameters by part, with 'quantum' (angle table + ANO), 'classical' and 'total'."""
    parts: dict[str, int] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            key = name.split(".")[0]
            parts[key] = parts.get(key, 0) + p.numel()
    quantum = parts.get("angle_table", 0) + parts.get("ano_raw", 0) if model.cfg.features == "circuit" else 0
    total = sum(parts.values())
    return {**parts, "quantum": quantum, "classical": total - quantum, "total": total}


def ano_loss(model: AnoDenoiser, x0: Tensor, labels: Tensor, generator: torch.Generator) -> Tensor:
    """Infidelity of a batch used at every t = 1…T (jo2026ano, circuit_training.py 138–158): B images → T·B pairs.

    Noise: one complex ε (T, B, 256) from ``generator``; input normalise(x_t), target normalise(μ̃_t(x_0, x_t)).
    """
    cfg = model.cfg
    betas, alpha_bars = ano_schedule(cfg.T, cfg.beta_start, cfg.beta_end)
    n = x0.shape[0]
    t = torch.arange(1, cfg.T + 1, device=x0.device).repeat_interleave(n)
    x0s = x0.repeat(cfg.T, 1)
    eps = complex_noise((cfg.T * n, x0.shape[1]), generator)
    xt = forward_noise(x0s, t, eps, alpha_bars)
    target = normalise(posterior_mean(x0s, xt, t, betas, alpha_bars))
    pred = model(normalise(xt), t, labels.repeat(cfg.T))
    return infidelity(pred, target)


@torch.no_grad()
def sample_states(model: AnoDenoiser, labels: Tensor, generator: torch.Generator) -> Tensor:
    """Deterministic sampler (jo2026ano, plot_functions.py 67–268): x_T = normalise(ε), x ← model(x, t, label) for t = T…1."""
    cfg = model.cfg
    n = labels.shape[0]
    x = normalise(complex_noise((n, cfg.image_size**2), generator))
    for step in range(cfg.T, 0, -1):
        x = normalise(model(x, torch.full((n,), step, dtype=torch.long, device=x.device), labels))
    return x
