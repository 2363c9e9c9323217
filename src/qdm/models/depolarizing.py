"""The depolarizing-channel quantum diffusion model on density matrices (jo2025qamp §1.3.5–1.3.8, jo2025qamp).

**Data.** A target ensemble of pure n-qubit states |ψ⟩ (n = 1…4, d = 2**n), seeded:

* ``"cluster"``: |ψ_j⟩ = exp(−i·spread·H_j)|ψ₀⟩ with H_j drawn from the Gaussian unitary ensemble
  (entries of variance 1/d), i.e. small random unitary rotations of a centre |ψ₀⟩ (Haar-random,
  |0…0⟩ or GHZ);
* ``"line"``: |ψ(θ)⟩ = cos θ|0…0⟩ + sin θ|1…1⟩ with θ uniform in [theta_min, theta_max].

**Forward** (jo2025qamp eq. 7–8): ρ_t = (1 − p_t)ρ_{t−1} + p_t I/d, in closed form ρ_t = α_t ρ₀ + (1 − α_t) I/d,
α_t = Π_{s≤t}(1 − p_s), with p_t from :func:`qdm.quantum.density.depolarizing_schedule`.

**Reverse** (jo2025qamp eq. 9 and §1.3.7). Step t (level t → t − 1) is the channel

    D_t(ρ) = tr_anc[ U(θ_t) (ρ ⊗ |0…0⟩⟨0…0|) U(θ_t)† ]

on the system plus ``n_ancilla`` fresh |0⟩ ancillas (the last wires), the ancillas then measured and
reset (averaged over outcomes this is the partial trace), so D_t is a CPTP, generally non-unitary map
with Kraus operators K_m = (I ⊗ ⟨m|) U (I ⊗ |0⟩).  ``reverse="unitary"`` drops the ancillas,
D_t(ρ) = U ρ U†: a unitary keeps the spectrum, so from I/d it stays at I/d (purity 1/d) whatever θ is.
U(θ) is a :mod:`qdm.circuits` ansatz (StronglyEntangling or Rot + CNOT ladder) on n + n_ancilla wires.
Its angles are separate per step (``time_conditioning="per_step"``) or a Fourier series in t shared by
all steps (``"fourier"``: θ(t) = Σ_f φ_f(t) W_f with φ = (1, cos(kπt/T), sin(kπt/T), k = 1…n_frequencies)).

**Losses.** ``"final"`` (jo2025qamp eq. 10): 1 − E_ψ⟨ψ|ρ_gen|ψ⟩ with ρ_gen = D_1 ∘ … ∘ D_T (I/d).
``"stepwise"``: 1 − E_{t,ψ} F(D_t(ρ_t(ψ)), ρ_{t−1}(ψ)) with the forward marginals of jo2025qamp eq. 8 and the
Uhlmann fidelity F (jo2025qamp §1.3.8).  Since E_ψ⟨ψ|ρ|ψ⟩ = tr(ρ ρ̄) for the ensemble mean ρ̄, the final
fidelity of any state is at most λ_max(ρ̄) (:func:`fidelity_bound`).

**Samples.** Generation in the density-matrix picture is deterministic (one ρ_gen).  Individual samples
are quantum trajectories (:func:`sample_trajectories`): a basis state |k⟩ with k uniform (their mixture
is I/d), then at each step an ancilla outcome m drawn with the Born probability ‖K_m ψ‖² and the state
K_m ψ/‖K_m ψ‖.  Each sample is a pure state and their average is exactly ρ_gen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from qdm.circuits import RotCNOTLadder, StronglyEntangling, ansatz_unitary
from qdm.annotations import validate_fields
from qdm.quantum.density import (
    apply_unitary,
    depolarize_closed_form,
    depolarizing_alpha,
    depolarizing_schedule,
    embed_ancilla,
    fidelity,
    maximally_mixed,
    measure_reset_ancilla,
    pure_density,
    pure_overlap,
    purity,
    random_pure_state,
    trace_distance,
    von_neumann_entropy,
)

__all__ = [
    "MAX_ANCILLA",
    "MAX_QUBITS",
    "DepolarizingQDM",
    "DepolarizingQDMConfig",
    "ancilla_step",
    "center_state",
    "choi_matrix",
    "cluster_states",
    "density_heatmaps",
    "depolarizing_loss",
    "ensemble_mean",
    "final_fidelity_loss",
    "fidelity_bound",
    "forward_schedule",
    "forward_states",
    "kraus_operators",
    "line_states",
    "report_along_t",
    "reverse_trajectory",
    "sample_trajectories",
    "stepwise_fidelity_loss",
    "superoperator",
    "target_states",
    "time_features",
]

MAX_QUBITS = 4
MAX_ANCILLA = 3

ScheduleName = Literal["cosine", "linear", "constant"]
AnsatzName = Literal["strongly_entangling", "rot_cnot_ladder"]


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepolarizingQDMConfig:
    """One depolarizing QDM (module docstring): register, schedule, reverse circuit, loss and target ensemble.

    Field groups: register (``n_qubits`` system qubits, ``n_ancilla``, ``reverse``), forward (``T``,
    ``schedule`` with ``p_start``/``p_end`` for "linear" and ``p`` for "constant"; "cosine" is Nichol &
    Dhariwal's, α_T = 0 up to the 0.999 clip), circuit (``ansatz``, ``n_layers``, ``time_conditioning``,
    ``n_frequencies``, ``init``, ``init_scale``, ``dtype``), ``loss``, and the target ensemble (``target``,
    ``center``, ``spread``, ``theta_min``, ``theta_max``, ``n_states``, ``target_seed``).
    ``reverse="unitary"`` needs ``n_ancilla=0``; ``reverse="ancilla"`` needs ``n_ancilla >= 1``.
    """

    family: ClassVar[str] = "depolarizing_qdm"

    n_qubits: int = 2
    n_ancilla: int = 1
    reverse: Literal["ancilla", "unitary"] = "ancilla"
    T: int = 10
    schedule: ScheduleName = "cosine"
    p_start: float = 0.05
    p_end: float = 0.5
    p: float = 0.3
    ansatz: AnsatzName = "strongly_entangling"
    n_layers: int = 2
    time_conditioning: Literal["per_step", "fourier"] = "per_step"
    n_frequencies: int = 2
    loss: Literal["final", "stepwise"] = "final"
    target: Literal["cluster", "line"] = "cluster"
    center: Literal["haar", "zero", "ghz"] = "haar"
    spread: float = 0.3
    theta_min: float = 0.0
    theta_max: float = math.pi / 4
    n_states: int = 64
    target_seed: int = 0
    init: Literal["normal", "uniform_2pi"] = "normal"
    init_scale: float = 1.0
    dtype: Literal["complex128", "complex64"] = "complex128"

    def __post_init__(self) -> None:
        """Check every field (type by annotation, then ranges and cross-field rules), naming the field."""
        validate_fields(self)
        name = "DepolarizingQDMConfig"
        if not 1 <= self.n_qubits <= MAX_QUBITS:
            raise ValueError(f"{name}.n_qubits must be in 1..{MAX_QUBITS}, got {self.n_qubits}")
        if not 0 <= self.n_ancilla <= MAX_ANCILLA:
            raise ValueError(f"{name}.n_ancilla must be in 0..{MAX_ANCILLA}, got {self.n_ancilla}")
        if self.reverse == "unitary" and self.n_ancilla != 0:
            raise ValueError(f"{name}.n_ancilla must be 0 when reverse='unitary' (no ancilla), got {self.n_ancilla}")
        if self.reverse == "ancilla" and self.n_ancilla < 1:
            raise ValueError(f"{name}.n_ancilla must be >= 1 when reverse='ancilla', got {self.n_ancilla}")
        if not 1 <= self.T <= 1000:
            raise ValueError(f"{name}.T must be in 1..1000, got {self.T}")
        for field_name in ("p_start", "p_end", "p"):
            value = getattr(self, field_name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}.{field_name} must be a probability in [0, 1], got {value}")
        if self.n_layers < 1:
            raise ValueError(f"{name}.n_layers must be >= 1, got {self.n_layers}")
        if not 0 <= self.n_frequencies <= 16:
            raise ValueError(f"{name}.n_frequencies must be in 0..16, got {self.n_frequencies}")
        if not (math.isfinite(self.spread) and self.spread >= 0):
            raise ValueError(f"{name}.spread must be a finite float >= 0, got {self.spread}")
        if not (math.isfinite(self.theta_min) and math.isfinite(self.theta_max)) or self.theta_min > self.theta_max:
            raise ValueError(
                f"{name}.theta_min and theta_max must be finite with theta_min <= theta_max, "
                f"got {self.theta_min}, {self.theta_max}"
            )
        if self.n_states < 1:
            raise ValueError(f"{name}.n_states must be >= 1, got {self.n_states}")
        if not 0 <= self.target_seed < 2**63:
            raise ValueError(f"{name}.target_seed must be in 0..2**63-1, got {self.target_seed}")
        if not (math.isfinite(self.init_scale) and self.init_scale > 0):
            raise ValueError(f"{name}.init_scale must be a finite float > 0, got {self.init_scale}")

    @property
    def dim(self) -> int:
        """d = 2**n_qubits, the system's Hilbert-space dimension."""
        return 1 << self.n_qubits

    @property
    def n_wires(self) -> int:
        """Wires of the reverse circuit: system plus ancillas."""
        return self.n_qubits + self.n_ancilla

    @property
    def complex_dtype(self) -> torch.dtype:
        """torch.complex128 or torch.complex64."""
        return torch.complex128 if self.dtype == "complex128" else torch.complex64

    @property
    def real_dtype(self) -> torch.dtype:
        """The real dtype matching ``complex_dtype`` (the circuit angles')."""
        return torch.float64 if self.dtype == "complex128" else torch.float32


def forward_schedule(cfg: DepolarizingQDMConfig) -> tuple[Tensor, Tensor]:
    """jo2025qamp eq. 7–8: (p_1..p_T, α_1..α_T) float64 of the configured depolarizing schedule."""
    if not isinstance(cfg, DepolarizingQDMConfig):
        raise ValueError(f"cfg must be a DepolarizingQDMConfig, got {type(cfg).__name__}")
    p = depolarizing_schedule(cfg.T, cfg.schedule, p_start=cfg.p_start, p_end=cfg.p_end, p=cfg.p)
    return p, depolarizing_alpha(p)


def forward_states(rho0: Tensor, alpha: Tensor) -> Tensor:
    """jo2025qamp eq. 8 for every level: (T + 1, ..., d, d) with entry t = α_t ρ₀ + (1 − α_t) I/d (α_0 = 1)."""
    if not isinstance(alpha, Tensor) or alpha.ndim != 1 or alpha.numel() == 0:
        raise ValueError(f"alpha must be a 1-d tensor (α_1..α_T), got {alpha!r}")
    levels = torch.cat([alpha.new_ones(1), alpha])
    return depolarize_closed_form(rho0[None], levels.reshape(-1, *([1] * (rho0.ndim - 2))))


# ---------------------------------------------------------------------------------------------
# target ensembles
# ---------------------------------------------------------------------------------------------


def center_state(kind: str, n_qubits: int, generator: torch.Generator | None = None) -> Tensor:
    """The cluster centre |ψ₀⟩ (d,) complex128: Haar-random ("haar"), |0…0⟩ ("zero") or (|0…0⟩ + |1…1⟩)/√2 ("ghz")."""
    if not isinstance(n_qubits, int) or not 1 <= n_qubits <= MAX_QUBITS:
        raise ValueError(f"n_qubits must be an int in 1..{MAX_QUBITS}, got {n_qubits!r}")
    d = 1 << n_qubits
    if kind == "haar":
        return random_pure_state(n_qubits, generator)
    psi = torch.zeros(d, dtype=torch.complex128)
    if kind == "zero":
        psi[0] = 1
    elif kind == "ghz":
        psi[0] = psi[-1] = 1 / math.sqrt(2)
    else:
        raise ValueError(f"kind must be 'haar', 'zero' or 'ghz', got {kind!r}")
    return psi


def cluster_states(psi0: Tensor, n: int, spread: float, generator: torch.Generator | None = None) -> Tensor:
    """Cluster ensemble (n, d): exp(−i·spread·H_j)|ψ₀⟩, H_j GUE with entry variance 1/d (small random rotations)."""
    if not isinstance(psi0, Tensor) or psi0.ndim != 1 or not psi0.is_complex():
        raise ValueError(f"psi0 must be a complex vector (d,), got {psi0!r}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if not (isinstance(spread, (int, float)) and math.isfinite(spread) and spread >= 0):
        raise ValueError(f"spread must be a finite float >= 0, got {spread!r}")
    d = psi0.shape[0]
    g = torch.randn(n, d, d, dtype=torch.complex128, generator=generator)
    h = (g + g.mH) / (2 * math.sqrt(d))
    rot = torch.linalg.matrix_exp(-1j * spread * h)
    psi = rot @ psi0.to(torch.complex128)
    return psi / torch.linalg.vector_norm(psi, dim=-1, keepdim=True)


def line_states(
    n_qubits: int, n: int, theta_min: float, theta_max: float, generator: torch.Generator | None = None
) -> Tensor:
    """Line ensemble (n, d): cos θ|0…0⟩ + sin θ|1…1⟩ with θ uniform in [theta_min, theta_max]."""
    if not isinstance(n_qubits, int) or not 1 <= n_qubits <= MAX_QUBITS:
        raise ValueError(f"n_qubits must be an int in 1..{MAX_QUBITS}, got {n_qubits!r}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if not (math.isfinite(theta_min) and math.isfinite(theta_max)) or theta_min > theta_max:
        raise ValueError(f"theta_min and theta_max must be finite with theta_min <= theta_max, got {theta_min}, {theta_max}")
    theta = theta_min + (theta_max - theta_min) * torch.rand(n, dtype=torch.float64, generator=generator)
    psi = torch.zeros(n, 1 << n_qubits, dtype=torch.complex128)
    psi[:, 0] = torch.cos(theta)
    psi[:, -1] = psi[:, -1] + torch.sin(theta)
    return psi


def target_states(cfg: DepolarizingQDMConfig, n: int | None = None, seed: int | None = None) -> Tensor:
    """The configured target ensemble (n, d) complex128 (default n = cfg.n_states, seed = cfg.target_seed)."""
    if not isinstance(cfg, DepolarizingQDMConfig):
        raise ValueError(f"cfg must be a DepolarizingQDMConfig, got {type(cfg).__name__}")
    count = cfg.n_states if n is None else n
    g = torch.Generator().manual_seed(cfg.target_seed if seed is None else seed)
    if cfg.target == "line":
        return line_states(cfg.n_qubits, count, cfg.theta_min, cfg.theta_max, g)
    psi0 = center_state(cfg.center, cfg.n_qubits, g)
    return cluster_states(psi0, count, cfg.spread, g)


def ensemble_mean(psi: Tensor) -> Tensor:
    """ρ̄ = E_ψ |ψ⟩⟨ψ| of states (N, d): the state every E_ψ⟨ψ|ρ|ψ⟩ = tr(ρ ρ̄) is measured against."""
    if not isinstance(psi, Tensor) or psi.ndim != 2:
        raise ValueError(f"psi must be a tensor of states (N, d), got {psi!r}")
    return pure_density(psi).mean(0)


def fidelity_bound(psi: Tensor) -> float:
    """jo2025qamp eq. 10's best value: max_ρ E_ψ⟨ψ|ρ|ψ⟩ = λ_max(ρ̄), reached by the top eigenvector of ρ̄."""
    return float(torch.linalg.eigvalsh(ensemble_mean(psi)).amax())


# ---------------------------------------------------------------------------------------------
# channels
# ---------------------------------------------------------------------------------------------


def ancilla_step(rho: Tensor, U: Tensor, n_ancilla: int) -> Tensor:
    """Seed §1.3.7: tr_anc[U (ρ ⊗ |0…0⟩⟨0…0|) U†], ancillas last and measured-and-reset (n_ancilla = 0: U ρ U†)."""
    if not isinstance(n_ancilla, int) or n_ancilla < 0:
        raise ValueError(f"n_ancilla must be an int >= 0, got {n_ancilla!r}")
    if not isinstance(rho, Tensor) or not isinstance(U, Tensor) or rho.ndim < 2 or U.ndim < 2:
        raise ValueError("rho and U must be tensors of shape (..., d, d) and (..., D, D)")
    d = rho.shape[-1]
    if U.shape[-1] != d << n_ancilla:
        raise ValueError(f"U must act on d·2**n_ancilla = {d << n_ancilla} dimensions, got {U.shape[-1]}")
    if n_ancilla == 0:
        return apply_unitary(rho, U, validate=False)
    n_system = d.bit_length() - 1
    joint = apply_unitary(embed_ancilla(rho, n_ancilla), U, validate=False)
    return measure_reset_ancilla(joint, n_system, n_ancilla)


def kraus_operators(U: Tensor, n_ancilla: int) -> Tensor:
    """Kraus operators K_m = (I ⊗ ⟨m|) U (I ⊗ |0⟩) of :func:`ancilla_step`: (..., 2**n_ancilla, d, d)."""
    if not isinstance(n_ancilla, int) or n_ancilla < 0:
        raise ValueError(f"n_ancilla must be an int >= 0, got {n_ancilla!r}")
    if not isinstance(U, Tensor) or U.ndim < 2 or U.shape[-1] != U.shape[-2] or U.shape[-1] % (1 << n_ancilla):
        raise ValueError(f"U must have shape (..., D, D) with D divisible by 2**n_ancilla, got {tuple(U.shape)}")
    da = 1 << n_ancilla
    d = U.shape[-1] // da
    blocks = U.reshape(*U.shape[:-2], d, da, d, da)[..., 0]
    return blocks.movedim(-2, -3)


def superoperator(kraus: Tensor) -> Tensor:
    """Transfer matrix S = Σ_m K_m ⊗ K_m* (..., d², d²) of Kraus operators (..., m, d, d): vec(E(ρ)) = S vec(ρ), row-major vec."""
    if not isinstance(kraus, Tensor) or kraus.ndim < 3 or kraus.shape[-1] != kraus.shape[-2]:
        raise ValueError(f"kraus must have shape (..., m, d, d), got {getattr(kraus, 'shape', kraus)!r}")
    d = kraus.shape[-1]
    s = torch.einsum("...mab,...mcd->...acbd", kraus, kraus.conj())
    return s.reshape(*kraus.shape[:-3], d * d, d * d)


def choi_matrix(channel: Callable[[Tensor], Tensor], d: int, dtype: torch.dtype = torch.complex128) -> Tensor:
    """Choi matrix J = Σ_ij |i⟩⟨j| ⊗ E(|i⟩⟨j|) (d², d²) of a linear map E; E is CP ⇔ J ⪰ 0, TP ⇔ tr_out J = I."""
    if not callable(channel):
        raise ValueError(f"channel must be callable on (..., d, d) tensors, got {channel!r}")
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an int >= 1, got {d!r}")
    units = torch.eye(d * d, dtype=dtype).reshape(d * d, d, d)
    images = channel(units)
    if images.shape[-2:] != (d, d):
        raise ValueError(f"channel must map (d, d) to (d, d) matrices, got output shape {tuple(images.shape)}")
    return images.reshape(d, d, d, d).permute(0, 2, 1, 3).reshape(d * d, d * d)


def time_features(t: Tensor, T: int, n_frequencies: int) -> Tensor:
    """Fourier features of step t (…, 1 + 2·n_frequencies): (1, cos(kπt/T), sin(kπt/T)) for k = 1..n_frequencies."""
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an int >= 1, got {T!r}")
    if not isinstance(n_frequencies, int) or n_frequencies < 0:
        raise ValueError(f"n_frequencies must be an int >= 0, got {n_frequencies!r}")
    x = t.to(torch.float64)[..., None] * (math.pi / T)
    k = torch.arange(1, n_frequencies + 1, dtype=torch.float64, device=t.device)
    return torch.cat([torch.ones_like(x), torch.cos(k * x), torch.sin(k * x)], dim=-1)


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------


class DepolarizingQDM(nn.Module):
    """Reverse process of the depolarizing QDM: T parameterised channels D_t on n system qubits (module docstring)."""

    def __init__(self, cfg: DepolarizingQDMConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(cfg, DepolarizingQDMConfig):
            raise ValueError(f"cfg must be a DepolarizingQDMConfig, got {type(cfg).__name__}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        self.cfg = cfg
        if cfg.ansatz == "strongly_entangling":
            self.ansatz: StronglyEntangling | RotCNOTLadder = StronglyEntangling(cfg.n_layers)
        else:
            self.ansatz = RotCNOTLadder(cfg.n_layers)
        p, alpha = forward_schedule(cfg)
        self.register_buffer("p", p)
        self.register_buffer("alpha", alpha)
        lead = cfg.T if cfg.time_conditioning == "per_step" else 1 + 2 * cfg.n_frequencies
        shape = (lead, *self.ansatz.weight_shape(cfg.n_wires))
        if cfg.init == "uniform_2pi":
            w = torch.rand(shape, generator=generator, dtype=cfg.real_dtype) * (2 * math.pi)
        else:
            w = torch.randn(shape, generator=generator, dtype=cfg.real_dtype) * cfg.init_scale
        self.weights = nn.Parameter(w)

    def _check_t(self, t: int) -> int:
        """A step index in 1..T."""
        if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= self.cfg.T:
            raise ValueError(f"t must be an int in 1..T={self.cfg.T}, got {t!r}")
        return t

    def angles(self) -> Tensor:
        """Circuit angles of every step (T, *weight_shape); entry t − 1 belongs to step t."""
        if self.cfg.time_conditioning == "per_step":
            return self.weights
        t = torch.arange(1, self.cfg.T + 1, device=self.weights.device)
        phi = time_features(t, self.cfg.T, self.cfg.n_frequencies).to(self.weights.dtype)
        return torch.einsum("tf,f...->t...", phi, self.weights)

    def unitaries(self) -> Tensor:
        """U(θ_t) for t = 1..T: (T, D, D) on system + ancilla wires (ancillas last)."""
        return ansatz_unitary(self.ansatz, self.angles(), self.cfg.n_wires, dtype=self.cfg.complex_dtype)

    def step(self, rho: Tensor, t: int, U: Tensor | None = None) -> Tensor:
        """jo2025qamp eq. 9 / §1.3.7: D_t(ρ) for a batch ρ (..., d, d) (``U``: precomputed :meth:`unitaries`)."""
        self._check_t(t)
        self._check_rho(rho)
        Us = self.unitaries() if U is None else U
        return ancilla_step(rho.to(self.cfg.complex_dtype), Us[t - 1], self.cfg.n_ancilla)

    def kraus(self, t: int) -> Tensor:
        """Kraus operators of D_t: (2**n_ancilla, d, d)."""
        self._check_t(t)
        return kraus_operators(self.unitaries()[t - 1], self.cfg.n_ancilla)

    def transfer_matrices(self) -> Tensor:
        """Superoperators of D_1..D_T (T, d², d²) from the Kraus form (the fast path of :meth:`reverse`)."""
        return superoperator(kraus_operators(self.unitaries(), self.cfg.n_ancilla))

    def _check_rho(self, rho: Tensor) -> None:
        d = self.cfg.dim
        if not isinstance(rho, Tensor) or not rho.is_complex() or rho.ndim < 2 or rho.shape[-2:] != (d, d):
            raise ValueError(f"rho must be a complex tensor (..., {d}, {d}), got {getattr(rho, 'shape', rho)!r}")

    def start_state(self) -> Tensor:
        """ρ_T of generation: the maximally mixed state I/d (the fixed point of jo2025qamp eq. 7)."""
        return maximally_mixed(self.cfg.n_qubits, self.cfg.complex_dtype, self.weights.device)

    def reverse(self, rho_T: Tensor | None = None) -> Tensor:
        """All levels of the reverse chain from ρ_T (default I/d): (T + 1, ..., d, d), entry t = ρ_t^gen.

        Computed with the transfer matrices Σ_m K_m ⊗ K_m* (one small matrix product per step), which equal
        :meth:`step`'s ancilla form (tested).
        """
        rho = self.start_state() if rho_T is None else rho_T
        self._check_rho(rho)
        d = self.cfg.dim
        transfer = self.transfer_matrices()
        vecs = [rho.to(self.cfg.complex_dtype).reshape(*rho.shape[:-2], d * d)]
        for t in range(self.cfg.T, 0, -1):
            vecs.append(vecs[-1] @ transfer[t - 1].transpose(-2, -1))
        return torch.stack(vecs[::-1]).reshape(self.cfg.T + 1, *rho.shape)

    def forward(self, rho_T: Tensor | None = None) -> Tensor:
        """The generated state ρ_0^gen = D_1 ∘ … ∘ D_T (ρ_T), ρ_T = I/d by default."""
        return self.reverse(rho_T)[0]

    def extra_repr(self) -> str:
        c = self.cfg
        return (
            f"n_qubits={c.n_qubits}, n_ancilla={c.n_ancilla}, T={c.T}, ansatz={c.ansatz}, "
            f"n_layers={c.n_layers}, time_conditioning={c.time_conditioning!r}"
        )


# ---------------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------------


def _check_states(model: DepolarizingQDM, psi: Tensor) -> Tensor:
    """Target states (B, d), complex, unit norm, on the model's device."""
    if not isinstance(model, DepolarizingQDM):
        raise ValueError(f"model must be a DepolarizingQDM, got {type(model).__name__}")
    d = model.cfg.dim
    if not isinstance(psi, Tensor) or not psi.is_complex() or psi.ndim != 2 or psi.shape[1] != d or psi.shape[0] < 1:
        raise ValueError(f"psi must be complex target states (B, {d}), got {getattr(psi, 'shape', psi)!r}")
    return psi.to(device=model.weights.device)


def final_fidelity_loss(model: DepolarizingQDM, psi: Tensor) -> Tensor:
    """jo2025qamp eq. 10: 1 − E_ψ⟨ψ|ρ_gen|ψ⟩, ρ_gen generated from I/d through all T reverse steps."""
    psi = _check_states(model, psi)
    rho_gen = model()
    return 1 - pure_overlap(psi.to(torch.complex128), rho_gen.to(torch.complex128), atol=1e-6).mean()


def stepwise_fidelity_loss(model: DepolarizingQDM, psi: Tensor) -> Tensor:
    """1 − E_{t,ψ} F(D_t(ρ_t), ρ_{t−1}) with the forward marginals ρ_t = α_t|ψ⟩⟨ψ| + (1 − α_t)I/d (jo2025qamp eq. 8, §1.3.8)."""
    psi = _check_states(model, psi)
    rho0 = pure_density(psi.to(model.cfg.complex_dtype))
    levels = forward_states(rho0, model.alpha.to(rho0.real.dtype))
    Us = model.unitaries()
    out = ancilla_step(levels[1:], Us[:, None], model.cfg.n_ancilla)
    return 1 - fidelity(out, levels[:-1].detach()).mean()


def depolarizing_loss(model: DepolarizingQDM, psi: Tensor) -> Tensor:
    """The configured loss (``cfg.loss``): "final" (jo2025qamp eq. 10) or "stepwise"."""
    if not isinstance(model, DepolarizingQDM):
        raise ValueError(f"model must be a DepolarizingQDM, got {type(model).__name__}")
    if model.cfg.loss == "final":
        return final_fidelity_loss(model, psi)
    return stepwise_fidelity_loss(model, psi)


# ---------------------------------------------------------------------------------------------
# reports and samples
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def reverse_trajectory(model: DepolarizingQDM) -> Tensor:
    """ρ_t^gen for t = 0..T (T + 1, d, d), generated from ρ_T = I/d (detached)."""
    if not isinstance(model, DepolarizingQDM):
        raise ValueError(f"model must be a DepolarizingQDM, got {type(model).__name__}")
    return model.reverse()


@torch.no_grad()
def report_along_t(model: DepolarizingQDM, psi: Tensor) -> dict[str, Tensor]:
    """Per-level arrays (index t = 0..T, float64, detached) of the reverse chain from I/d and the forward process.

    Keys: ``t``; ``fidelity`` E_ψ⟨ψ|ρ_t^gen|ψ⟩ (jo2025qamp eq. 10), ``purity`` tr(ρ_t^gen)², ``entropy`` (bits),
    ``fidelity_to_mean`` F(ρ_t^gen, ρ̄), ``trace_distance_to_mean``; and ``forward_fidelity``,
    ``forward_purity`` of the forward marginals ρ_t(ψ) (jo2025qamp eq. 8), averaged over ψ.
    """
    psi = _check_states(model, psi).to(torch.complex128)
    gen = model.reverse().to(torch.complex128)
    rho_bar = ensemble_mean(psi)
    fwd = forward_states(pure_density(psi), model.alpha.to(torch.float64))
    return {
        "t": torch.arange(model.cfg.T + 1),
        "fidelity": pure_overlap(psi[None], gen[:, None]).mean(1),
        "purity": purity(gen),
        "entropy": von_neumann_entropy(gen),
        "fidelity_to_mean": fidelity(gen, rho_bar),
        "trace_distance_to_mean": trace_distance(gen, rho_bar),
        "forward_fidelity": pure_overlap(psi[None], fwd).mean(1),
        "forward_purity": purity(fwd).mean(1),
    }


@torch.no_grad()
def sample_trajectories(model: DepolarizingQDM, n: int, generator: torch.Generator | None = None) -> Tensor:
    """n generated pure states (n, d): |k⟩ with k uniform (mixture I/d), then K_m ψ/‖K_m ψ‖ with m ~ Born, t = T..1.

    The mean of |ψ⟩⟨ψ| over trajectories is exactly ρ_gen = model() (unravelling of the Kraus form).
    """
    if not isinstance(model, DepolarizingQDM):
        raise ValueError(f"model must be a DepolarizingQDM, got {type(model).__name__}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    d, device = model.cfg.dim, model.weights.device
    kraus = kraus_operators(model.unitaries(), model.cfg.n_ancilla)
    k = torch.randint(d, (n,), generator=generator, device=device)
    psi = torch.zeros(n, d, dtype=kraus.dtype, device=device)
    psi[torch.arange(n, device=device), k] = 1
    rows = torch.arange(n, device=device)
    for t in range(model.cfg.T, 0, -1):
        branches = torch.einsum("mab,nb->nma", kraus[t - 1], psi)
        probs = (branches.abs() ** 2).sum(-1).to(torch.float64)
        m = torch.multinomial(probs / probs.sum(-1, keepdim=True), 1, generator=generator)[:, 0]
        chosen = branches[rows, m]
        psi = chosen / torch.linalg.vector_norm(chosen, dim=-1, keepdim=True)
    return psi


def density_heatmaps(states: Tensor) -> Tensor:
    """|ρ_ab| as grey images (n, 1, d, d) float32 in [0, 1], from pure states (n, d) or density matrices (n, d, d)."""
    if not isinstance(states, Tensor) or not states.is_complex() or states.ndim not in (2, 3):
        raise ValueError(f"states must be complex (n, d) vectors or (n, d, d) matrices, got {getattr(states, 'shape', states)!r}")
    rho = pure_density(states) if states.ndim == 2 else states
    return rho.abs().clamp(0, 1).to(torch.float32)[:, None].detach()
