"""The PQC-as-denoiser quantum diffusion model (Cacioppo et al. 2023, its 2025 follow-up, Kölle et al. 2024).

cacioppo2023qdm and jo2025qamp §1.2, with the authors' public code (A1 below: the conditioned latent model of
cacioppo2023qdm; A2: their IJCNN 2025 follow-up) and koelle2024qddm's code (D): an image (or an autoencoder
latent) is amplitude-encoded as a normalised state |x_0⟩; a *classical* forward process adds real or complex
Gaussian noise to the amplitude vector and renormalises; a parametrised quantum circuit P(θ,
t) is trained as a direct denoising operator,
P(θ, t)|x_t⟩ ≈ |x_{t−1}⟩ (or the normalised posterior mean μ̃(x_0, x_t) of A2), with the infidelity loss
1 − |⟨out|target⟩|² (jo2025qamp eq. 10 for pure states).  Generation starts from a normalised noise state and
applies P for t = T … 1; images are read from |amplitudes|.

**Time and levels.** The model has T denoising steps t = 1..T mapping level t to level t − 1.  Level k is
schedule time k + ``offset`` of a :class:`qdm.schedules.NoiseSchedule`: offset 0 for the DDPM schedules
(level 0 = x_0 itself, alpha_bar_0 = 1), offset 1 for A1's ``betas = linspace(4e-3, 0.4, T+1)`` whose
first beta already noises the lowest level (the authors' index 0; their sampler stops there).

**Noising** (``noising``):

* ``"ddpm"`` (jo2025qamp eq. 2 / eq. 1): x_k = √ᾱ x_0 + √(1−ᾱ) ε,  x_k = √(1−β) x_{k−1} + √β ε;
* ``"as_coded"`` (A1's code as written): x_k = √ᾱ x_0 + (1−ᾱ) ε,  x_k = √(1−β) x_{k−1} + β ε.

ε is real N(0, σ²) or complex with real and imaginary parts N(0, σ²) each (σ = ``noise_std``; both authors'
codes draw ``torch.randn`` per part, σ = 1).  Every state is L2-normalised before it meets the circuit.

**Targets** (``target``): ``"previous"`` draws x_{t−1} at its marginal and x_t from it by one forward step
(the same noise chain, A1); ``"posterior_mean"`` draws x_t from x_0 in closed form and uses the normalised
DDPM posterior mean μ̃(x_0, x_t) (Ho et al. eq. 7, A2; DDPM noising only).

**Circuit.** ``blocks`` of ``ansatz`` layers (StronglyEntanglingLayers, A1/D, or Rot layers + CNOT ladder,
A2) act on the data wires (plus ``n_label_qubits`` label wires).  With ``ancilla != "none"`` there are three
blocks and one |0⟩ ancilla is prepended as wire 0 (A1's ``cat((ψ, 0))`` = |0⟩⊗|ψ⟩) for the middle block, then
measured at random with Born probabilities (``"measure"``, A1) or post-selected on 0 (``"postselect"``, A2),
and the state renormalised: a non-unitary step.  With label qubits (A1's conditioned model) the data state
sits in the basis block ``label·2**n`` of the bigger register and the output is projected on that block and
renormalised.

**Time conditioning** (``time_conditioning``):

* ``"per_timestep"`` (A2): separate parameters θ_t for every t;
* ``"snapshot"`` (A1): ONE parameter set, trained on the pairs of every t in turn; a snapshot of the
  parameters is recorded after each training phase on t, and sampling at step t uses snapshot t.  The
  phases cycle t = 1, 2, …, T, 1, 2, … with ``snapshot_phase_steps`` optimisation steps each: 1 step per
  phase is A1's code (per batch, one Adam step on each t; snapshot files after each), a long phase gives a
  sequential curriculum.  Snapshot t is therefore "the shared parameters right after the last step on t";
  t is never an input of the circuit;
* ``"angle"``: every rotation angle is θ + (t/T)·φ with trainable φ (initialised to 0), i.e. t enters as
  extra trainable-scaled rotation angles;
* ``"shared"`` (D, Kölle et al.): one parameter set used at every step, no time input, no snapshots.

**Losses**: ``"infidelity"`` 1 − mean |⟨out|target⟩|²; ``"mse_probabilities"`` (D) the mean squared error
between d·|out_j|² and d·|target_j|² (d = 2**n, so a flat image has values ≈ 1, like Kölle's probs·pixels;
Kölle compares with clamp(d·p, 0, 1) against pixel values, qdm compares probability vectors, unclamped).

**Decoding**: image = |ψ| reshaped to image_size², divided by its maximum (per image) → [0, 1]; latent
states go through the autoencoder's decoder with |ψ| as input.  Images are downscaled from 28×28 with
bilinear interpolation (``F.interpolate``, align_corners=False, as A2; ``resize_antialias`` optional) and
L2-normalised after resizing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qdm.circuits import AmplitudeEmbedding, RotCNOTLadder, StronglyEntangling, run_state
from qdm.annotations import validate_fields
from qdm.diffusion import complex_gaussian_noise, gaussian_noise, posterior_mean_variance, q_sample, q_step
from qdm.models.autoencoder import Autoencoder, AutoencoderConfig
from qdm.quantum import sim
from qdm.schedules import NoiseSchedule, build_schedule

__all__ = [
    "CircuitOutput",
    "PQCDenoiser",
    "PQCDenoiserConfig",
    "apply_denoiser_circuit",
    "block_ansatz",
    "block_wires",
    "circuit_parameter_count",
    "decode_images",
    "denoiser_loss",
    "diffusion_schedule",
    "draw_noise",
    "embed_label_block",
    "encode_images",
    "forward_marginal",
    "forward_step",
    "infidelity",
    "mse_probabilities",
    "normalise",
    "prepend_zero_wire",
    "sample_states",
    "training_pair",
]

TimeConditioning = Literal["angle", "per_timestep", "snapshot", "shared"]
AnsatzName = Literal["strongly_entangling", "rot_cnot_ladder"]
Ancilla = Literal["none", "measure", "postselect"]
ScheduleName = Literal["cacioppo_linspace", "linear", "constant", "cosine", "tailored"]
MAX_WIRES = 14


@dataclass(frozen=True)
class PQCDenoiserConfig:
    """One PQC denoiser (module docstring); defaults: a small 8×8 full-quantum model with A2-style choices.

    Field groups: register (``n_qubits`` data qubits, ``image_size``, ``latent``, ``n_label_qubits``),
    circuit (``n_layers``, ``blocks``, ``ansatz``, ``sel_ranges``, ``ancilla``, ``init``), time
    (``time_conditioning``, ``snapshot_phase_steps``, ``t_sampling``), diffusion (``schedule``, ``T``,
    ``beta_start``, ``beta_end``, ``beta``, ``cosine_min_beta``, ``noising``, ``noise``, ``noise_std``,
    ``target``), ``loss``,
    numerics (``dtype``, ``backend``) and the ``autoencoder`` used when ``latent``.

    ``blocks=None`` means one block of ``n_layers`` layers; otherwise ``sum(blocks)`` must equal
    ``n_layers``.  ``sel_ranges="one"`` is A1's ``ranges=[1]*L``; ``"pennylane_default"`` PennyLane's.
    ``t_sampling``: ``"all"`` trains every t on each batch (A2, D), ``"uniform"`` one random t per image
    (ignored by ``"snapshot"``, whose t follows the phases).  ``cosine_min_beta`` is the lower clip of the
    cosine schedule's betas (0: Nichol & Dhariwal's schedule unclipped below; the hybrid family's
    default is the chen2025quantum code's 1e-4).
    """

    family: ClassVar[str] = "pqc_denoiser"

    n_qubits: int = 6
    image_size: int = 8
    n_layers: int = 6
    blocks: tuple[int, ...] | None = None
    ansatz: AnsatzName = "strongly_entangling"
    sel_ranges: Literal["one", "pennylane_default"] = "one"
    time_conditioning: TimeConditioning = "per_timestep"
    snapshot_phase_steps: int = 1
    t_sampling: Literal["all", "uniform"] = "all"
    noise: Literal["real", "complex"] = "complex"
    noise_std: float = 1.0
    noising: Literal["ddpm", "as_coded"] = "ddpm"
    target: Literal["previous", "posterior_mean"] = "previous"
    schedule: ScheduleName = "constant"
    T: int = 10
    beta_start: float = 4e-3
    beta_end: float = 0.4
    beta: float = 1e-2
    cosine_min_beta: float = 0.0
    ancilla: Ancilla = "none"
    latent: bool = False
    n_label_qubits: int = 0
    loss: Literal["infidelity", "mse_probabilities"] = "infidelity"
    init: Literal["uniform_2pi", "normal"] = "uniform_2pi"
    init_scale: float = 1.0
    dtype: Literal["complex128", "complex64"] = "complex128"
    backend: Literal["torch", "pennylane"] = "torch"
    resize_antialias: bool = False
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)

    def __post_init__(self) -> None:
        """Check every field (type by annotation, then range and cross-field rules), naming the field."""
        validate_fields(self)
        name = "PQCDenoiserConfig"
        if not 1 <= self.n_qubits <= MAX_WIRES:
            raise ValueError(f"{name}.n_qubits must be in 1..{MAX_WIRES}, got {self.n_qubits}")
        if self.latent:
            if self.image_size != 28:
                raise ValueError(
                    f"{name}.image_size must be 28 (the autoencoder's input) when latent=True, got {self.image_size}"
                )
            if self.autoencoder.latent_dim != 1 << self.n_qubits:
                raise ValueError(
                    f"{name}.n_qubits must be log2(autoencoder.latent_dim) = {self.autoencoder.n_latent_qubits} "
                    f"when latent=True, got {self.n_qubits}"
                )
        elif not 2 <= self.image_size <= 28 or self.image_size**2 != 1 << self.n_qubits:
            raise ValueError(
                f"{name}.image_size must satisfy image_size**2 == 2**n_qubits (8 for 6 qubits, 16 for 8), "
                f"got image_size={self.image_size}, n_qubits={self.n_qubits}"
            )
        if self.n_layers < 1:
            raise ValueError(f"{name}.n_layers must be >= 1, got {self.n_layers}")
        if self.blocks is not None:
            if not self.blocks or min(self.blocks) < 1:
                raise ValueError(f"{name}.blocks must be None or a non-empty tuple of ints >= 1, got {self.blocks}")
            if sum(self.blocks) != self.n_layers:
                raise ValueError(f"{name}.n_layers must equal sum(blocks) = {sum(self.blocks)}, got {self.n_layers}")
        if self.ancilla != "none" and len(self.layer_blocks) != 3:
            raise ValueError(
                f"{name}.blocks must have 3 entries when ancilla={self.ancilla!r} (the ancilla joins the middle block), "
                f"got {self.blocks}"
            )
        if not 0 <= self.n_label_qubits <= 8:
            raise ValueError(f"{name}.n_label_qubits must be in 0..8, got {self.n_label_qubits}")
        widest = self.n_qubits + self.n_label_qubits + (self.ancilla != "none")
        if widest > MAX_WIRES:
            raise ValueError(
                f"{name}: the circuit needs {widest} wires (n_qubits + n_label_qubits + ancilla), more than {MAX_WIRES}"
            )
        if min(block_wires(self)) < 2:
            raise ValueError(f"{name}: every block needs >= 2 wires for its CNOTs; increase n_qubits or n_label_qubits")
        if self.snapshot_phase_steps < 1:
            raise ValueError(f"{name}.snapshot_phase_steps must be >= 1, got {self.snapshot_phase_steps}")
        if not (math.isfinite(self.noise_std) and self.noise_std > 0):
            raise ValueError(f"{name}.noise_std must be a finite number > 0, got {self.noise_std}")
        if not (math.isfinite(self.init_scale) and self.init_scale > 0):
            raise ValueError(f"{name}.init_scale must be a finite number > 0, got {self.init_scale}")
        if self.T < 1:
            raise ValueError(f"{name}.T must be >= 1, got {self.T}")
        if self.target == "posterior_mean" and self.noising != "ddpm":
            raise ValueError(f"{name}.target 'posterior_mean' needs noising='ddpm' (the DDPM posterior), got {self.noising!r}")
        try:
            diffusion_schedule(self)
        except ValueError as err:
            raise ValueError(f"{name}.schedule {self.schedule!r} with T={self.T}: {err}") from None

    @property
    def layer_blocks(self) -> tuple[int, ...]:
        """Layer count of each block: ``blocks``, or one block of ``n_layers``."""
        return (self.n_layers,) if self.blocks is None else self.blocks

    @property
    def complex_dtype(self) -> torch.dtype:
        """torch.complex128 or torch.complex64."""
        return torch.complex128 if self.dtype == "complex128" else torch.complex64

    @property
    def state_dim(self) -> int:
        """d = 2**n_qubits amplitudes of a data state."""
        return 1 << self.n_qubits


# ---------------------------------------------------------------------------------------------
# schedule and forward process
# ---------------------------------------------------------------------------------------------


def diffusion_schedule(cfg: PQCDenoiserConfig) -> tuple[NoiseSchedule, int]:
    """(schedule, offset): level k ↔ schedule time k + offset (:func:`qdm.schedules.build_schedule`)."""
    return build_schedule(cfg.schedule, cfg.T, beta_start=cfg.beta_start, beta_end=cfg.beta_end, beta=cfg.beta,
                          cosine_min_beta=cfg.cosine_min_beta)


def normalise(x: Tensor) -> Tensor:
    """L2-normalise each row: x / ‖x‖₂ (amplitude vectors of a quantum state)."""
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True)


def draw_noise(
    shape: Sequence[int],
    generator: torch.Generator | None,
    kind: str,
    std: float,
    dtype: torch.dtype = torch.complex128,
) -> Tensor:
    """cacioppo2023qdm: real ε ~ N(0, std²) or complex ε = ε_r + iε_i with ε_r, ε_i ~ N(0, std²) each (authors: std 1)."""
    if kind == "complex":
        return complex_gaussian_noise(tuple(shape), generator, dtype=dtype, variance_per_part=std**2)
    if kind == "real":
        return gaussian_noise(tuple(shape), generator, dtype=sim.real_dtype_of(dtype)) * std
    raise ValueError(f"noise must be 'real' or 'complex', got {kind!r}")


def forward_marginal(
    x0: Tensor, level: Tensor, eps: Tensor, schedule: NoiseSchedule, offset: int, noising: str
) -> Tensor:
    """:func:`qdm.diffusion.q_sample` at level k = schedule time k + offset (level 0 with offset 0 is x0 itself)."""
    return q_sample(x0, level.cpu() + offset, eps, schedule, noising=noising, allow_zero=True)  # type: ignore[arg-type]


def forward_step(
    x_prev: Tensor, level: Tensor, eps: Tensor, schedule: NoiseSchedule, offset: int, noising: str
) -> Tensor:
    """:func:`qdm.diffusion.q_step` from level k−1 to k = schedule time k + offset."""
    return q_step(x_prev, level.cpu() + offset, eps, schedule, noising=noising)  # type: ignore[arg-type]


def training_pair(
    x0: Tensor, t: Tensor, generator: torch.Generator | None, cfg: PQCDenoiserConfig
) -> tuple[Tensor, Tensor]:
    """(|x_t⟩, |target⟩), normalised: target x_{t−1} of the same noise chain (A1) or μ̃(x0, x_t) (A2, Ho et al. eq. 7)."""
    if x0.ndim != 2 or t.shape != (x0.shape[0],):
        raise ValueError(f"x0 must be (B, d) and t (B,), got {tuple(x0.shape)} and {tuple(t.shape)}")
    schedule, offset = diffusion_schedule(cfg)
    dtype = cfg.complex_dtype if cfg.noise == "complex" else sim.real_dtype_of(cfg.complex_dtype)
    x0 = x0.to(dtype)
    eps = draw_noise(x0.shape, generator, cfg.noise, cfg.noise_std, cfg.complex_dtype).to(x0.device)
    if cfg.target == "posterior_mean":
        x_t = forward_marginal(x0, t, eps, schedule, offset, "ddpm")
        target = posterior_mean_variance(x0, x_t, t.cpu() + offset, schedule).mean
    else:
        target = forward_marginal(x0, t - 1, eps, schedule, offset, cfg.noising)
        eps_step = draw_noise(x0.shape, generator, cfg.noise, cfg.noise_std, cfg.complex_dtype).to(x0.device)
        x_t = forward_step(target, t, eps_step, schedule, offset, cfg.noising)
    return normalise(x_t).to(cfg.complex_dtype), normalise(target).to(cfg.complex_dtype)


# ---------------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------------


def encode_images(images: Tensor, image_size: int, antialias: bool = False) -> Tensor:
    """the cacioppo2023qdm follow-up (IJCNN 2025): (N, 1, H, W) in [0, 1] → bilinear resize to image_size² → L2-normalised
    amplitudes (N, s²) float64."""
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must have shape (N, 1, H, W), got {tuple(images.shape)}")
    size = (image_size, image_size)
    small = F.interpolate(images.double(), size=size, mode="bilinear", align_corners=False, antialias=antialias)
    flat = small.flatten(1)
    norms = torch.linalg.vector_norm(flat, dim=1)
    if bool((norms == 0).any()):
        raise ValueError("an image is all zeros after resizing; it has no amplitude encoding")
    return flat / norms[:, None]


def decode_images(states: Tensor, image_size: int) -> Tensor:
    """cacioppo2023qdm/A2: image = |ψ| / max_j |ψ_j| per image, reshaped to (N, 1, image_size, image_size) float32 in [0, 1]."""
    if states.ndim != 2 or states.shape[1] != image_size**2:
        raise ValueError(f"states must have shape (N, {image_size**2}), got {tuple(states.shape)}")
    mag = states.abs()
    peak = mag.amax(dim=1, keepdim=True).clamp_min(torch.finfo(mag.dtype).tiny)
    return (mag / peak).float().view(-1, 1, image_size, image_size)


# ---------------------------------------------------------------------------------------------
# the circuit
# ---------------------------------------------------------------------------------------------


def block_wires(cfg: PQCDenoiserConfig) -> tuple[int, ...]:
    """Wires of each block: data + label qubits, plus the ancilla for the middle block when there is one (A1: 7, 8, 7)."""
    base = cfg.n_qubits + cfg.n_label_qubits
    return tuple(base + (cfg.ancilla != "none" and i == 1) for i in range(len(cfg.layer_blocks)))


def block_ansatz(cfg: PQCDenoiserConfig, n_layers: int) -> StronglyEntangling | RotCNOTLadder:
    """The circuits.py description of one block: StronglyEntangling (A1 ranges [1]*L, or PennyLane's) or RotCNOTLadder (A2)."""
    if cfg.ansatz == "rot_cnot_ladder":
        return RotCNOTLadder(n_layers)
    ranges = (1,) * n_layers if cfg.sel_ranges == "one" else None
    return StronglyEntangling(n_layers, ranges)


def prepend_zero_wire(state: Tensor) -> Tensor:
    """|0⟩ ⊗ |ψ⟩: a fresh ancilla as the new wire 0 (most significant), A1's torch.cat((ψ, 0)); (B, 2**n) → (B, 2**(n+1))."""
    sim.n_qubits_of(state)
    return torch.cat((state, torch.zeros_like(state)), dim=1)


def embed_label_block(state: Tensor, labels: Tensor, n_label_qubits: int) -> Tensor:
    """cacioppo2023qdm: the d amplitudes at offset label·d of a 2**k·d register (|label⟩ ⊗ |ψ⟩, label wires first)."""
    n_blocks = 1 << n_label_qubits
    if labels.shape != (state.shape[0],):
        raise ValueError(f"labels must have shape ({state.shape[0]},), got {tuple(labels.shape)}")
    if bool(((labels < 0) | (labels >= n_blocks)).any()):
        raise ValueError(f"labels must lie in 0..{n_blocks - 1} for n_label_qubits={n_label_qubits}")
    onehot = F.one_hot(labels.to(torch.long), n_blocks).to(state.dtype)
    return (onehot[:, :, None] * state[:, None, :]).flatten(1)


class CircuitOutput(NamedTuple):
    """Output state (B, 2**n) and the probabilities of the non-unitary steps (NaN where a step is absent)."""

    state: Tensor
    ancilla_probability: Tensor
    label_probability: Tensor


def _run_block(state: Tensor, ansatz: StronglyEntangling | RotCNOTLadder, weights: Tensor, backend: str) -> Tensor:
    """One block on the fast torch simulator or as the PennyLane reference (StatePrep of the incoming state)."""
    if backend == "torch":
        return ansatz.torch(state, weights)
    return run_state(AmplitudeEmbedding(), ansatz, state, weights, sim.n_qubits_of(state), "pennylane", state.dtype)


def apply_denoiser_circuit(
    state: Tensor,
    block_weights: Sequence[Tensor],
    cfg: PQCDenoiserConfig,
    labels: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> CircuitOutput:
    """cacioppo2023qdm/A2: [label embedding] → block 1 → [|0⟩ ancilla] block 2 [measure or post-select, renormalise] → block 3.

    With label qubits the output is projected on the label's block and renormalised.
    """
    if len(block_weights) != len(cfg.layer_blocks):
        raise ValueError(f"block_weights must hold {len(cfg.layer_blocks)} tensors, got {len(block_weights)}")
    if state.ndim != 2 or state.shape[1] != cfg.state_dim:
        raise ValueError(f"state must have shape (B, {cfg.state_dim}), got {tuple(state.shape)}")
    nan = torch.full((state.shape[0],), math.nan, dtype=state.real.dtype, device=state.device)
    ancilla_p, label_p = nan, nan
    if cfg.n_label_qubits:
        if labels is None:
            raise ValueError(f"labels are required: the model has n_label_qubits={cfg.n_label_qubits}")
        state = embed_label_block(state, labels.to(state.device), cfg.n_label_qubits)
    for i, (n_layers, weights) in enumerate(zip(cfg.layer_blocks, block_weights)):
        ansatz = block_ansatz(cfg, n_layers)
        with_ancilla = cfg.ancilla != "none" and i == 1
        if with_ancilla:
            state = prepend_zero_wire(state)
        state = _run_block(state, ansatz, weights, cfg.backend)
        if with_ancilla:
            p0 = sim.probabilities(state)[:, : state.shape[1] // 2].sum(dim=1).detach()
            if cfg.ancilla == "measure":
                state, outcome = sim.measure_wire(state, 0, generator, remove=True)
                ancilla_p = torch.where(outcome == 0, p0, 1.0 - p0)
            else:
                state, ancilla_p = sim.postselect(state, 0, 0, remove=True)
    if cfg.n_label_qubits:
        state, label_p = sim.project_block(state, labels.to(state.device), cfg.state_dim)
    return CircuitOutput(state, ancilla_p, label_p)


def _shape_of_block(cfg: PQCDenoiserConfig, n_layers: int, wires: int) -> tuple[int, ...]:
    return tuple(block_ansatz(cfg, n_layers).weight_shape(wires))


class PQCDenoiser(nn.Module):
    """P(θ, t): the denoising circuit with its time conditioning (module docstring), plus a frozen autoencoder when latent.

    ``forward(state, t, labels, generator)`` maps normalised states (B, 2**n) at step t (int or (B,)) to the
    next, less noisy, normalised states.  Samples with different t run as one group per t.
    """

    def __init__(self, cfg: PQCDenoiserConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(cfg, PQCDenoiserConfig):
            raise ValueError(f"cfg must be a PQCDenoiserConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        real = sim.real_dtype_of(cfg.complex_dtype)
        lead = (cfg.T,) if cfg.time_conditioning == "per_timestep" else ()
        shapes = [_shape_of_block(cfg, L, w) for L, w in zip(cfg.layer_blocks, block_wires(cfg))]
        self.weights = nn.ParameterList([nn.Parameter(self._init(lead + s, real, generator)) for s in shapes])
        if cfg.time_conditioning == "angle":
            self.time_weights = nn.ParameterList([nn.Parameter(torch.zeros(s, dtype=real)) for s in shapes])
        if cfg.time_conditioning == "snapshot":
            for i, s in enumerate(shapes):
                self.register_buffer(f"snapshot_{i}", torch.zeros((cfg.T, *s), dtype=real))
            self.register_buffer("snapshot_taken", torch.zeros(cfg.T, dtype=torch.bool))
            self.register_buffer("train_calls", torch.zeros((), dtype=torch.long))
        self.autoencoder: Autoencoder | None = None
        if cfg.latent:
            self.autoencoder = Autoencoder(cfg.autoencoder).requires_grad_(False).eval()

    def _init(self, shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator | None) -> Tensor:
        """cacioppo2023qdm: angles uniform in [0, 2π) (or N(0, init_scale²))."""
        if self.cfg.init == "uniform_2pi":
            return torch.rand(shape, generator=generator, dtype=dtype) * (2 * math.pi)
        return torch.randn(shape, generator=generator, dtype=dtype) * self.cfg.init_scale

    def train(self, mode: bool = True) -> PQCDenoiser:
        """Set training mode for the circuit; the frozen autoencoder always stays in eval mode."""
        super().train(mode)
        if self.autoencoder is not None:
            self.autoencoder.eval()
        return self

    # ----- snapshots (A1) -----
    def _snapshot_buffers(self) -> list[Tensor]:
        return [getattr(self, f"snapshot_{i}") for i in range(len(self.weights))]

    def snapshot_t_of_call(self, call: int) -> int:
        """A1 phases: the t trained by training call ``call`` (0-based): t = (call // snapshot_phase_steps) mod T + 1."""
        return (call // self.cfg.snapshot_phase_steps) % self.cfg.T + 1

    @torch.no_grad()
    def snapshot_training_step(self) -> int:
        """cacioppo2023qdm: store the parameters reached by the previous training call as snapshot of its t; return this t."""
        if self.cfg.time_conditioning != "snapshot":
            raise ValueError("snapshot_training_step needs time_conditioning='snapshot'")
        calls = int(self.train_calls)
        if calls > 0:
            prev = self.snapshot_t_of_call(calls - 1)
            for weights, buffer in zip(self.weights, self._snapshot_buffers()):
                buffer[prev - 1].copy_(weights)
            self.snapshot_taken[prev - 1] = True
        self.train_calls += 1
        return self.snapshot_t_of_call(calls)

    def snapshot_weights(self, t: int) -> list[Tensor]:
        """Snapshot t: the live parameters if the last training call was on t (or t never trained), else the stored copy."""
        calls = int(self.train_calls)
        if (calls > 0 and self.snapshot_t_of_call(calls - 1) == t) or not bool(self.snapshot_taken[t - 1]):
            return list(self.weights)
        return [buffer[t - 1] for buffer in self._snapshot_buffers()]

    # ----- weights and forward -----
    def weights_for(self, t: int) -> list[Tensor]:
        """Block weights used at step t, by time_conditioning (per-timestep θ_t, θ + (t/T)φ, snapshot t, or shared θ)."""
        if not 1 <= t <= self.cfg.T:
            raise ValueError(f"t must be in 1..T={self.cfg.T}, got {t}")
        mode = self.cfg.time_conditioning
        if mode == "per_timestep":
            return [w[t - 1] for w in self.weights]
        if mode == "angle":
            return [w + (t / self.cfg.T) * phi for w, phi in zip(self.weights, self.time_weights)]
        if mode == "snapshot" and not self.training:
            return self.snapshot_weights(t)
        return list(self.weights)

    def circuit(
        self, state: Tensor, t: int, labels: Tensor | None = None, generator: torch.Generator | None = None
    ) -> CircuitOutput:
        """apply_denoiser_circuit with the weights of step t (one t for the whole batch)."""
        return apply_denoiser_circuit(state, self.weights_for(t), self.cfg, labels, generator)

    def forward(
        self, state: Tensor, t: int | Tensor, labels: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """P(θ, t)|x_t⟩ for a batch: states (B, 2**n) complex, t an int or (B,) ints in 1..T → normalised (B, 2**n)."""
        if state.ndim != 2 or state.shape[1] != self.cfg.state_dim or not state.is_complex():
            raise ValueError(
                f"state must be complex with shape (B, {self.cfg.state_dim}), got {state.dtype} {tuple(state.shape)}"
            )
        state = state.to(self.cfg.complex_dtype)
        t_batch = torch.as_tensor(t, dtype=torch.long)
        t_batch = t_batch.expand(state.shape[0]) if t_batch.ndim == 0 else t_batch
        if t_batch.shape != (state.shape[0],):
            raise ValueError(f"t must be an int or have shape ({state.shape[0]},), got {tuple(t_batch.shape)}")
        values = torch.unique(t_batch.cpu())
        if len(values) == 1:
            return self.circuit(state, int(values[0]), labels, generator).state
        pieces, order = [], []
        for value in values.tolist():
            idx = (t_batch == value).nonzero().reshape(-1).to(state.device)
            sub_labels = None if labels is None else labels[idx]
            pieces.append(self.circuit(state[idx], value, sub_labels, generator).state)
            order.append(idx)
        return torch.cat(pieces)[torch.argsort(torch.cat(order))]


def circuit_parameter_count(model: PQCDenoiser | PQCDenoiserConfig) -> int:
    """cacioppo2023qdm: trainable circuit parameters (the autoencoder excluded); A1's conditioned latent model has 1110."""
    if isinstance(model, PQCDenoiserConfig):
        per_t = model.T if model.time_conditioning == "per_timestep" else 1
        extra = 2 if model.time_conditioning == "angle" else 1
        sizes = [math.prod(_shape_of_block(model, L, w)) for L, w in zip(model.layer_blocks, block_wires(model))]
        return per_t * extra * sum(sizes)
    if not isinstance(model, PQCDenoiser):
        raise ValueError(f"model must be a PQCDenoiser or PQCDenoiserConfig, got {type(model).__name__}")
    skip = {id(p) for p in model.autoencoder.parameters()} if model.autoencoder is not None else set()
    return sum(p.numel() for p in model.parameters() if p.requires_grad and id(p) not in skip)


# ---------------------------------------------------------------------------------------------
# losses, training and sampling
# ---------------------------------------------------------------------------------------------


def infidelity(out: Tensor, target: Tensor) -> Tensor:
    """jo2025qamp eq. 10 for pure states: 1 − mean_b |⟨out_b|target_b⟩|²."""
    if out.shape != target.shape:
        raise ValueError(f"out and target must have the same shape, got {tuple(out.shape)} and {tuple(target.shape)}")
    overlap = (out.conj() * target.to(out.dtype)).sum(dim=-1)
    return 1.0 - (overlap.real.square() + overlap.imag.square()).mean()


def mse_probabilities(out: Tensor, target: Tensor) -> Tensor:
    """koelle2024qddm (Kölle et al.): mean_j (d|out_j|² − d|target_j|²)², d = 2**n (probabilities scaled as probs·pixels)."""
    if out.shape != target.shape:
        raise ValueError(f"out and target must have the same shape, got {tuple(out.shape)} and {tuple(target.shape)}")
    d = out.shape[-1]
    return (d * sim.probabilities(out) - d * target.abs().square().to(out.real.dtype)).square().mean()


def _training_steps(model: PQCDenoiser, batch: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    """The t of each training pair: the snapshot phase, every t (t_sampling 'all', t-major) or uniform draws."""
    cfg = model.cfg
    if cfg.time_conditioning == "snapshot" and model.training:
        return torch.full((batch,), model.snapshot_training_step(), dtype=torch.long, device=device)
    if cfg.t_sampling == "all":
        return torch.arange(1, cfg.T + 1, device=device).repeat_interleave(batch)
    draw_device = generator.device if generator is not None else device
    return torch.randint(1, cfg.T + 1, (batch,), generator=generator, device=draw_device).to(device)


def denoiser_loss(
    model: PQCDenoiser, x0: Tensor, generator: torch.Generator | None, labels: Tensor | None = None
) -> Tensor:
    """cacioppo2023qdm, its follow-up, koelle2024qddm: pairs (|x_t⟩, |target⟩) from unit vectors x0 (B, d);
    mean loss(P(θ,t)|x_t⟩, |target⟩).

    In "snapshot" mode a call in training mode is one training step: it advances the phase counter.
    """
    if not isinstance(model, PQCDenoiser):
        raise ValueError(f"model must be a PQCDenoiser, got {type(model).__name__}")
    cfg = model.cfg
    if x0.ndim != 2 or x0.shape[1] != cfg.state_dim:
        raise ValueError(f"x0 must have shape (B, {cfg.state_dim}), got {tuple(x0.shape)}")
    t = _training_steps(model, x0.shape[0], generator, x0.device)
    repeats = t.shape[0] // x0.shape[0]
    if repeats > 1:
        x0 = x0.repeat(repeats, 1)
        labels = None if labels is None else labels.repeat(repeats)
    x_t, target = training_pair(x0, t, generator, cfg)
    out = model(x_t, t, labels, generator)
    return infidelity(out, target) if cfg.loss == "infidelity" else mse_probabilities(out, target)


@torch.no_grad()
def sample_states(
    model: PQCDenoiser, n: int, generator: torch.Generator | None, labels: Tensor | None = None
) -> Tensor:
    """cacioppo2023qdm: |x_T⟩ = normalised (complex) noise, then |x_{t−1}⟩ = P(θ, t)|x_t⟩ for t = T … 1; (n, 2**n)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    cfg = model.cfg
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        x = normalise(draw_noise((n, cfg.state_dim), generator, cfg.noise, cfg.noise_std, cfg.complex_dtype).to(device))
        x = x.to(cfg.complex_dtype)
        for t in range(cfg.T, 0, -1):
            x = model(x, t, labels, generator)
    finally:
        model.train(was_training)
    return x
