"""qdm's circuits, each written once and runnable by two backends.

A circuit is an *embedding* (how classical inputs become a state) followed by an *ansatz*
(trainable layers).  Both are small frozen dataclasses with

* ``pennylane(...)``: emits the PennyLane operations (the **reference** definition, run on
  ``default.qubit`` with backprop and parameter broadcasting), and
* ``torch(...)``: applies the same circuit with the batched simulator :mod:`qdm.quantum.sim`
  (the fast path, used in training).

Tests hold one backend against the other (outputs and gradients).  Sources of the ansätze:
the public code of cacioppo2023qdm (A1: StronglyEntanglingLayers) and of its follow-up (A2: Rot layers + CNOT
ladder), and chen2025quantum's public code (C1: RY embedding, RZ layers + CNOT chain).  This module also holds the
quantum-generated noise of chen2025quantum (no published formula; the
construction used here is stated in :class:`ExpvalSampler`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

import torch
from torch import Tensor, nn

from qdm.quantum import chain_mps, sim

__all__ = [
    "AngleEmbedding",
    "AmplitudeEmbedding",
    "StronglyEntangling",
    "RZCNOTChain",
    "RotCNOTLadder",
    "TrainableRYRZChain",
    "RYCNOTChain",
    "Embedding",
    "Ansatz",
    "run_expval",
    "run_state",
    "ansatz_unitary",
    "zexpval_wire_sets",
    "zexpval_product_of_cos",
    "QuantumLayer",
    "Contraction",
    "CONTRACTIONS",
    "ExpvalSampler",
    "quantum_noise",
]

#: "torch": qdm's simulator with every structural shortcut (e.g. the closed form of RZCNOTChain);
#: "statevector": the same simulator on the full 2**n state, no shortcuts (what audits of a shortcut use);
#: "pennylane": default.qubit with backprop, the reference definition.
Backend = Literal["torch", "statevector", "pennylane"]
BACKENDS: tuple[str, ...] = ("torch", "statevector", "pennylane")

#: How the torch backend contracts a rotation + CNOT-chain ansatz after a product-state start:
#: "auto" picks the cheaper of the two by flop count (:func:`qdm.quantum.chain_mps.prefers_chain_mps`),
#: "statevector" always runs the fused state-vector engine, "mps" always the exact bond-2**(L-1)
#: matrix product state of :mod:`qdm.quantum.chain_mps`.
Contraction = Literal["auto", "statevector", "mps"]
CONTRACTIONS: tuple[str, ...] = ("auto", "statevector", "mps")


def _check_layers(n_layers: int) -> None:
    if not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(f"n_layers must be an int >= 1, got {n_layers!r}")


def _check_n_qubits(n_qubits: int) -> None:
    if not isinstance(n_qubits, int) or n_qubits < 1:
        raise ValueError(f"n_qubits must be an int >= 1, got {n_qubits!r}")


# ----------------------------------------------------------------------------------------------
# embeddings
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AngleEmbedding:
    """PennyLane AngleEmbedding: R_rotation(x_i) on wire i of |0…0> (chen2025quantum's code uses rotation "Y")."""

    rotation: Literal["X", "Y", "Z"] = "Y"

    def __post_init__(self) -> None:
        if self.rotation not in ("X", "Y", "Z"):
            raise ValueError(f"rotation must be 'X', 'Y' or 'Z', got {self.rotation!r}")

    def max_features(self, n_qubits: int) -> int:
        """At most one angle per wire."""
        return n_qubits

    def torch(self, inputs: Tensor, n_qubits: int, dtype: torch.dtype = torch.complex128) -> sim.AngleState:
        """The embedded batch as an angle state (a product state; no gate is applied, no amplitudes built)."""
        return sim.angle_state(inputs, self.rotation, n_qubits, dtype)

    def pennylane(self, inputs: Tensor, wires: Sequence[int]) -> None:
        """Emit qml.AngleEmbedding (broadcast over the leading batch axis)."""
        import pennylane as qml

        qml.AngleEmbedding(inputs, wires=wires[: inputs.shape[-1]], rotation=self.rotation)


@dataclass(frozen=True)
class AmplitudeEmbedding:
    """PennyLane AmplitudeEmbedding: pad to 2**n with ``pad_with``, L2-normalise (the codes of cacioppo2023qdm,
    its follow-up and koelle2024qddm)."""

    normalize: bool = True
    pad_with: float | None = 0.0

    def max_features(self, n_qubits: int) -> int:
        """At most 2**n amplitudes."""
        return 1 << n_qubits

    def torch(self, inputs: Tensor, n_qubits: int, dtype: torch.dtype = torch.complex128) -> Tensor:
        """The embedded batch as a statevector (B, 2**n)."""
        return sim.amplitude_embedding(inputs, n_qubits, self.normalize, self.pad_with, dtype)

    def pennylane(self, inputs: Tensor, wires: Sequence[int]) -> None:
        """Emit qml.AmplitudeEmbedding."""
        import pennylane as qml

        qml.AmplitudeEmbedding(inputs, wires=wires, normalize=self.normalize, pad_with=self.pad_with)


# ----------------------------------------------------------------------------------------------
# ansätze
# ----------------------------------------------------------------------------------------------
def _check_weights(weights: Tensor, shape: tuple[int, ...], name: str) -> None:
    if tuple(weights.shape[-len(shape) :]) != shape or weights.ndim not in (len(shape), len(shape) + 1):
        raise ValueError(f"{name} weights must have shape {shape} (or (B, *{shape})), got {tuple(weights.shape)}")
    if weights.is_complex():
        raise ValueError(f"{name} weights must be real")


def _n_qubits_of_state(state: sim.State) -> int:
    return sim.state_shape(state)[0]


def _state_dtype(state: sim.State) -> torch.dtype:
    return sim.state_shape(state)[2]


def _emit_cnots(cnot_layer: Sequence[tuple[int, int]], wires: Sequence[int]) -> None:
    import pennylane as qml

    for c, t in cnot_layer:
        qml.CNOT(wires=[wires[c], wires[t]])


@dataclass(frozen=True)
class StronglyEntangling:
    """PennyLane StronglyEntanglingLayers (CNOT imprimitive): Rot on every wire, then CNOT(i → i+r_l mod n).

    cacioppo2023qdm's code uses ``ranges=[1]*L``; ``ranges=None`` is PennyLane's default.
    """

    n_layers: int
    ranges: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        _check_layers(self.n_layers)
        if self.ranges is not None:
            object.__setattr__(self, "ranges", tuple(int(r) for r in self.ranges))
            if len(self.ranges) != self.n_layers:
                raise ValueError(f"ranges must have length n_layers={self.n_layers}, got {len(self.ranges)}")

    def weight_shape(self, n_qubits: int) -> tuple[int, int, int]:
        """(L, n, 3): (φ, θ, ω) of each Rot."""
        return (self.n_layers, n_qubits, 3)

    def layer_ranges(self, n_qubits: int) -> tuple[int, ...]:
        """Entangler range r_l per layer (PennyLane's default when ranges is None)."""
        return sim.default_ranges(self.n_layers, n_qubits) if self.ranges is None else self.ranges

    def cnot_layers(self, n_qubits: int) -> tuple[tuple[tuple[int, int], ...], ...]:
        """The CNOT pairs of each layer, in application order."""
        return tuple(sim.cnot_ring_pairs(n_qubits, r) for r in self.layer_ranges(n_qubits))

    def torch(self, state: sim.State, weights: Tensor) -> Tensor:
        """Apply with the fused simulator path (:func:`qdm.quantum.sim.strongly_entangling_layers`)."""
        n = _n_qubits_of_state(state)
        _check_weights(weights, self.weight_shape(n), "StronglyEntangling")
        return sim.strongly_entangling_layers(state, weights, self.layer_ranges(n))

    def torch_expval(self, state: sim.State, weights: Tensor) -> Tensor:
        """⟨Z_i⟩ (B, n) straight from the fused engine (last CNOT layer folded into the Z signs)."""
        n = _n_qubits_of_state(state)
        _check_weights(weights, self.weight_shape(n), "StronglyEntangling")
        return sim.strongly_entangling_layers(state, weights, self.layer_ranges(n), output="expval_z")

    def pennylane(self, weights: Tensor, wires: Sequence[int]) -> None:
        """Emit qml.StronglyEntanglingLayers."""
        import pennylane as qml

        qml.StronglyEntanglingLayers(weights, wires=wires, ranges=self.layer_ranges(len(wires)))


class _CNOTChainLayers:
    """Shared layout of the one-angle-per-wire chain ansätze: ``n_layers`` layers of one rotation
    angle per wire, each followed by the CNOT chain i → i+1 (i = 0..n-2)."""

    n_layers: int

    def __post_init__(self) -> None:
        _check_layers(self.n_layers)

    def weight_shape(self, n_qubits: int) -> tuple[int, int]:
        """(L, n): one rotation angle per wire and layer."""
        return (self.n_layers, n_qubits)

    def cnot_layers(self, n_qubits: int) -> tuple[tuple[tuple[int, int], ...], ...]:
        """The CNOT chain of each layer."""
        return (sim.cnot_chain_pairs(n_qubits),) * self.n_layers


@dataclass(frozen=True)
class RZCNOTChain(_CNOTChainLayers):
    """chen2025quantum's public code: per layer RZ(w_{l,i}) on every wire, then CNOT(i → i+1), i = 0..n-2.

    RZ is diagonal and CNOTs permute basis states, so ⟨Z_k⟩ does not depend on the weights
    (see :func:`zexpval_wire_sets`).
    """

    n_layers: int
    diagonal_and_cnot_only = True

    def torch(self, state: sim.State, weights: Tensor) -> Tensor:
        """RZ layers as Kronecker phase vectors (one product each), chains as cached permutations."""
        n = _n_qubits_of_state(state)
        _check_weights(weights, self.weight_shape(n), "RZCNOTChain")
        phases = sim.rz_phases(weights, _state_dtype(state))
        return sim.phase_cnot_layers(state, phases, self.cnot_layers(n))

    def torch_expval(self, state: sim.State, weights: Tensor) -> Tensor:
        """⟨Z_i⟩ (B, n) of :meth:`torch`'s state; on a product-state start the exact Heisenberg form
        ⟨Z_k⟩ = Π_{j∈S_k} ⟨Z_j⟩ (RZ diagonal, CNOTs permutations: :func:`zexpval_wire_sets`), O(n²) per sample.

        The RZ weights drop out exactly; they stay in the graph with an exactly zero gradient.
        """
        n = _n_qubits_of_state(state)
        if not isinstance(state, (sim.ProductState, sim.AngleState)):
            return sim.expval_z(self.torch(state, weights))
        _check_weights(weights, self.weight_shape(n), "RZCNOTChain")
        out = sim.product_z_strings(state, _sorted_wire_sets(self, n))
        return out + 0.0 * weights.sum().to(out.dtype) if weights.requires_grad else out

    def pennylane(self, weights: Tensor, wires: Sequence[int]) -> None:
        """Emit qml.RZ and qml.CNOT as in the authors' code."""
        import pennylane as qml

        for layer, cnots in enumerate(self.cnot_layers(len(wires))):
            for i, wire in enumerate(wires):
                qml.RZ(weights[..., layer, i], wires=wire)
            _emit_cnots(cnots, wires)


class _FusedRotationChain:
    """Shared torch path of the rotation-layer + CNOT ansätze: one call of the fused engine
    (:func:`qdm.quantum.sim.fused_layers`) with the subclass's gate family ``_GATE``."""

    _GATE: ClassVar[str]

    def _fused_weights(self, state: sim.State, weights: Tensor) -> tuple[int, Tensor]:
        """(n, weights in the engine's layout) after checking the shape."""
        n = _n_qubits_of_state(state)
        _check_weights(weights, self.weight_shape(n), type(self).__name__)
        return n, weights

    def torch(self, state: sim.State, weights: Tensor) -> Tensor:
        """Fused grouped rotation layers + cached CNOT permutations."""
        n, w = self._fused_weights(state, weights)
        return sim.fused_layers(state, w, self._GATE, self.cnot_layers(n))

    def torch_expval(self, state: sim.State, weights: Tensor) -> Tensor:
        """⟨Z_i⟩ (B, n) straight from the fused engine, or, for a CNOT-chain ansatz on a product-state
        start with shared weights, from the exact matrix product state of :mod:`qdm.quantum.chain_mps`
        when ``contraction`` asks for it or ("auto") when it is cheaper."""
        n, w = self._fused_weights(state, weights)
        cnots = self.cnot_layers(n)
        if self._chain_mps(state, w, cnots, n):
            return chain_mps.chain_circuit_expval_z(state, w, self._GATE)
        return sim.fused_layers(state, w, self._GATE, cnots, output="expval_z")

    def _chain_mps(self, state: sim.State, weights: Tensor, cnots, n: int) -> bool:
        """Whether :meth:`torch_expval` contracts the circuit as an MPS (see ``contraction``)."""
        contraction = getattr(self, "contraction", "auto")
        if contraction == "statevector":
            return False
        fits = (
            isinstance(state, (sim.AngleState, sim.ProductState))
            and weights.ndim == 3
            and chain_mps.is_chain_circuit(n, cnots)
        )
        if contraction == "mps":
            if not fits:
                raise ValueError("contraction='mps' needs a product-state start, shared weights and CNOT-chain layers")
            return True
        return fits and chain_mps.prefers_chain_mps(n, len(cnots))


def _check_contraction(contraction: str) -> None:
    if contraction not in CONTRACTIONS:
        raise ValueError(f"contraction must be one of {CONTRACTIONS}, got {contraction!r}")


@dataclass(frozen=True)
class RotCNOTLadder(_FusedRotationChain):
    """cacioppo2023qdm's follow-up code (IJCNN 2025): per layer Rot(φ,θ,ω) on every wire,
    then the CNOT ladder i → i+1 (i = 0..n-2).

    The exact ladder of the authors' follow-up could not be read here; this is the open
    nearest-neighbour ladder (``closed=True`` adds CNOT(n-1 → 0)).
    """

    n_layers: int
    closed: bool = False
    contraction: Contraction = "auto"
    _GATE: ClassVar[str] = "rot"

    def __post_init__(self) -> None:
        _check_layers(self.n_layers)
        _check_contraction(self.contraction)

    def weight_shape(self, n_qubits: int) -> tuple[int, int, int]:
        """(L, n, 3): (φ, θ, ω) of each Rot."""
        return (self.n_layers, n_qubits, 3)

    def cnot_layers(self, n_qubits: int) -> tuple[tuple[tuple[int, int], ...], ...]:
        """The ladder of each layer."""
        pairs = sim.cnot_chain_pairs(n_qubits)
        if self.closed and n_qubits > 2:
            pairs = pairs + ((n_qubits - 1, 0),)
        return (pairs,) * self.n_layers

    def pennylane(self, weights: Tensor, wires: Sequence[int]) -> None:
        """Emit qml.Rot and qml.CNOT."""
        import pennylane as qml

        for layer, cnots in enumerate(self.cnot_layers(len(wires))):
            for i, wire in enumerate(wires):
                qml.Rot(weights[..., layer, i, 0], weights[..., layer, i, 1], weights[..., layer, i, 2], wires=wire)
            _emit_cnots(cnots, wires)


@dataclass(frozen=True)
class TrainableRYRZChain(_FusedRotationChain):
    """A trainable variant of chen2025quantum's ansatz: per layer RY(a_{l,i}) then RZ(b_{l,i}) on every wire, then the
    CNOT chain i → i+1.  Unlike :class:`RZCNOTChain` its weights do change ⟨Z⟩ (through the RY angles)."""

    n_layers: int
    contraction: Contraction = "auto"
    _GATE: ClassVar[str] = "ryrz"

    def __post_init__(self) -> None:
        _check_layers(self.n_layers)
        _check_contraction(self.contraction)

    def weight_shape(self, n_qubits: int) -> tuple[int, int, int]:
        """(L, n, 2): (RY angle, RZ angle) per wire and layer."""
        return (self.n_layers, n_qubits, 2)

    def cnot_layers(self, n_qubits: int) -> tuple[tuple[tuple[int, int], ...], ...]:
        """The CNOT chain of each layer."""
        return (sim.cnot_chain_pairs(n_qubits),) * self.n_layers

    def pennylane(self, weights: Tensor, wires: Sequence[int]) -> None:
        """Emit qml.RY, qml.RZ and qml.CNOT."""
        import pennylane as qml

        for layer, cnots in enumerate(self.cnot_layers(len(wires))):
            for i, wire in enumerate(wires):
                qml.RY(weights[..., layer, i, 0], wires=wire)
                qml.RZ(weights[..., layer, i, 1], wires=wire)
            _emit_cnots(cnots, wires)


@dataclass(frozen=True)
class RYCNOTChain(_CNOTChainLayers, _FusedRotationChain):
    """chen2025quantum's ansatz with RZ → RY: per layer RY(w_{l,i}) on every wire, then CNOT(i → i+1).

    Same 3 × n weights as the published RZ chain, but every weight changes ⟨Z⟩ (an RY does not
    commute with the Z read-out, whereas the final RZ of ``TrainableRYRZChain`` / StronglyEntangling
    does, leaving n of their weights with zero gradient). Runs on the fused engine's ``ry`` gate, in
    real arithmetic after an RY embedding (every amplitude stays real), and as qml.RY + qml.CNOT on
    PennyLane.  On a product-state start its ⟨Z⟩ is also the exact contraction of a matrix product
    state of bond 2**(L-1) (:mod:`qdm.quantum.chain_mps`), which ``contraction="auto"`` picks when it
    is cheaper (at L = 3 from 10 qubits on).
    """

    n_layers: int
    contraction: Contraction = "auto"
    _GATE: ClassVar[str] = "ry"

    def __post_init__(self) -> None:
        _check_layers(self.n_layers)
        _check_contraction(self.contraction)

    def _fused_weights(self, state: sim.State, weights: Tensor) -> tuple[int, Tensor]:
        """(n, weights (..., L, n, 1)) after checking the shape."""
        n, w = super()._fused_weights(state, weights)
        return n, w[..., None]

    def pennylane(self, weights: Tensor, wires: Sequence[int]) -> None:
        """Emit qml.RY and qml.CNOT."""
        import pennylane as qml

        for layer, cnots in enumerate(self.cnot_layers(len(wires))):
            for i, wire in enumerate(wires):
                qml.RY(weights[..., layer, i], wires=wire)
            _emit_cnots(cnots, wires)


class Embedding(Protocol):
    """What run_expval needs from an embedding."""

    def max_features(self, n_qubits: int) -> int: ...

    def torch(self, inputs: Tensor, n_qubits: int, dtype: torch.dtype = ...) -> sim.State: ...

    def pennylane(self, inputs: Tensor, wires: Sequence[int]) -> None: ...


class Ansatz(Protocol):
    """What run_expval needs from an ansatz."""

    n_layers: int

    def weight_shape(self, n_qubits: int) -> tuple[int, ...]: ...

    def cnot_layers(self, n_qubits: int) -> tuple[tuple[tuple[int, int], ...], ...]: ...

    def torch(self, state: sim.State, weights: Tensor) -> Tensor: ...

    def torch_expval(self, state: sim.State, weights: Tensor) -> Tensor: ...

    def pennylane(self, weights: Tensor, wires: Sequence[int]) -> None: ...


# ----------------------------------------------------------------------------------------------
# running a circuit
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _pennylane_qnode(embedding: Embedding, ansatz: Ansatz, n_qubits: int, output: str):
    """default.qubit QNode (torch interface, backprop) for embedding + ansatz; cached per circuit."""
    import pennylane as qml

    wires = list(range(n_qubits))
    device = qml.device("default.qubit", wires=n_qubits)

    @qml.qnode(device, interface="torch", diff_method="backprop")
    def circuit(inputs: Tensor, weights: Tensor):
        embedding.pennylane(inputs, wires)
        ansatz.pennylane(weights, wires)
        if output == "state":
            return qml.state()
        return [qml.expval(qml.PauliZ(w)) for w in wires]

    return circuit


def _validate_run(
    embedding: Embedding, ansatz: Ansatz, inputs: Tensor, weights: Tensor, n_qubits: int, backend: str, dtype: torch.dtype
) -> None:
    _check_n_qubits(n_qubits)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if dtype not in (torch.complex64, torch.complex128):
        raise ValueError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")
    if inputs.ndim != 2:
        raise ValueError(f"inputs must have shape (B, n_features), got {tuple(inputs.shape)}")
    if not 1 <= inputs.shape[1] <= embedding.max_features(n_qubits):
        raise ValueError(
            f"inputs have {inputs.shape[1]} features; {type(embedding).__name__} on {n_qubits} qubits takes "
            f"1..{embedding.max_features(n_qubits)}"
        )
    _check_weights(weights, tuple(ansatz.weight_shape(n_qubits)), type(ansatz).__name__)
    if weights.ndim == len(ansatz.weight_shape(n_qubits)) + 1 and weights.shape[0] != inputs.shape[0]:
        raise ValueError(f"per-sample weights have batch {weights.shape[0]}, inputs have {inputs.shape[0]}")


def _pennylane_inputs(inputs: Tensor) -> Tensor:
    return inputs if inputs.is_complex() else inputs.to(torch.float64)


def run_state(
    embedding: Embedding,
    ansatz: Ansatz,
    inputs: Tensor,
    weights: Tensor,
    n_qubits: int,
    backend: Backend = "torch",
    dtype: torch.dtype = torch.complex128,
) -> Tensor:
    """Final statevector (B, 2**n) of embedding(inputs) then ansatz(weights) on n_qubits."""
    _validate_run(embedding, ansatz, inputs, weights, n_qubits, backend, dtype)
    if backend == "pennylane":
        qnode = _pennylane_qnode(embedding, ansatz, n_qubits, "state")
        state = qnode(_pennylane_inputs(inputs), weights.to(torch.float64))
        return state.reshape(inputs.shape[0], 1 << n_qubits).to(dtype)
    return sim.as_dense(ansatz.torch(embedding.torch(inputs, n_qubits, dtype), weights))


def run_expval(
    embedding: Embedding,
    ansatz: Ansatz,
    inputs: Tensor,
    weights: Tensor,
    n_qubits: int,
    backend: Backend = "torch",
    dtype: torch.dtype = torch.complex128,
) -> Tensor:
    """⟨Z_i⟩ on every wire after embedding(inputs) then ansatz(weights): (B, n), real dtype of ``dtype``."""
    _validate_run(embedding, ansatz, inputs, weights, n_qubits, backend, dtype)
    if backend == "pennylane":
        qnode = _pennylane_qnode(embedding, ansatz, n_qubits, "expval")
        out = qnode(_pennylane_inputs(inputs), weights.to(torch.float64))
        return torch.stack([o.reshape(-1) for o in out], dim=-1).to(sim.real_dtype_of(dtype))
    state = embedding.torch(inputs, n_qubits, dtype)
    if backend == "statevector":
        return sim.expval_z(ansatz.torch(sim.as_dense(state), weights))
    return ansatz.torch_expval(state, weights)


def ansatz_unitary(ansatz: Ansatz, weights: Tensor, n_qubits: int, dtype: torch.dtype = torch.complex128) -> Tensor:
    """2**n x 2**n unitary of the ansatz (B of them for per-sample weights), via sim.circuit_unitary."""
    _check_n_qubits(n_qubits)
    shape = tuple(ansatz.weight_shape(n_qubits))
    _check_weights(weights, shape, type(ansatz).__name__)
    if weights.ndim == len(shape):
        return sim.circuit_unitary(lambda s: ansatz.torch(s, weights), n_qubits, dtype=dtype, device=weights.device)
    per_column = sim.repeat_for_columns(weights, n_qubits)
    return sim.circuit_unitary(
        lambda s: ansatz.torch(s, per_column), n_qubits, batch_size=weights.shape[0], dtype=dtype, device=weights.device
    )


# ----------------------------------------------------------------------------------------------
# closed form for diagonal + CNOT ansätze (chen2025quantum's published circuit is one)
# ----------------------------------------------------------------------------------------------
def zexpval_wire_sets(ansatz: Ansatz, n_qubits: int) -> tuple[frozenset[int], ...]:
    """For each wire k, the set S_k with U† Z_k U = Π_{j∈S_k} Z_j, for ansätze of diagonal gates and CNOTs.

    Heisenberg picture, last gate first: CNOT(c,t) maps Z_t -> Z_c Z_t and Z_c -> Z_c; diagonal gates
    commute with Z strings.  After an RX/RY angle embedding ⟨Z_k⟩ = Π_{j∈S_k} cos(x_j).
    """
    _check_n_qubits(n_qubits)
    if not getattr(ansatz, "diagonal_and_cnot_only", False):
        raise ValueError(
            f"zexpval_wire_sets needs an ansatz of diagonal gates and CNOTs only (e.g. RZCNOTChain), "
            f"got {type(ansatz).__name__}"
        )
    layers = ansatz.cnot_layers(n_qubits)
    sets = []
    for k in range(n_qubits):
        mask = 1 << k
        for layer in reversed(layers):
            for c, t in reversed(layer):
                if mask >> t & 1:
                    mask ^= 1 << c
        sets.append(frozenset(j for j in range(n_qubits) if mask >> j & 1))
    return tuple(sets)


@functools.lru_cache(maxsize=64)
def _sorted_wire_sets(ansatz: Ansatz, n_qubits: int) -> tuple[tuple[int, ...], ...]:
    """:func:`zexpval_wire_sets` as sorted tuples (cached; ansätze are frozen dataclasses)."""
    return tuple(tuple(sorted(s)) for s in zexpval_wire_sets(ansatz, n_qubits))


def zexpval_product_of_cos(inputs: Tensor, wire_sets: Sequence[frozenset[int]]) -> Tensor:
    """Closed form ⟨Z_k⟩ = Π_{j∈S_k} cos(x_j) after an RX/RY angle embedding (chen2025quantum's circuit): (B, n)."""
    if inputs.ndim != 2:
        raise ValueError(f"inputs must have shape (B, n), got {tuple(inputs.shape)}")
    cos = torch.cos(inputs)
    return torch.stack([cos[:, sorted(s)].prod(dim=1) for s in wire_sets], dim=1)


# ----------------------------------------------------------------------------------------------
# torch module
# ----------------------------------------------------------------------------------------------
class QuantumLayer(nn.Module):
    """Real inputs (..., k) -> ⟨Z_i⟩ (..., n) of embedding + ansatz with trainable weights (chen2025quantum's bottleneck).

    ``init="uniform_2pi"`` draws weights in [0, 2π) (PennyLane TorchLayer's default, cacioppo2023qdm's code);
    ``init="normal"`` draws N(0, init_scale²).  Output dtype follows a floating input (float32 -> float32).
    """

    def __init__(
        self,
        n_qubits: int,
        ansatz: Ansatz,
        embedding: Embedding = AngleEmbedding("Y"),
        backend: Backend = "torch",
        dtype: torch.dtype = torch.complex128,
        init: Literal["uniform_2pi", "normal"] = "uniform_2pi",
        init_scale: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        _check_n_qubits(n_qubits)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if dtype not in (torch.complex64, torch.complex128):
            raise ValueError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")
        if init not in ("uniform_2pi", "normal"):
            raise ValueError(f"init must be 'uniform_2pi' or 'normal', got {init!r}")
        self.n_qubits, self.ansatz, self.embedding = n_qubits, ansatz, embedding
        self.backend, self.dtype = backend, dtype
        shape = tuple(ansatz.weight_shape(n_qubits))
        real = sim.real_dtype_of(dtype)
        if init == "uniform_2pi":
            weights = torch.rand(shape, generator=generator, dtype=real) * (2 * math.pi)
        else:
            weights = torch.randn(shape, generator=generator, dtype=real) * init_scale
        self.weights = nn.Parameter(weights)

    def forward(self, x: Tensor) -> Tensor:
        """⟨Z⟩ of every wire for each input row."""
        if x.ndim < 1:
            raise ValueError("x must have at least one dimension (features last)")
        lead = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1])
        out = run_expval(self.embedding, self.ansatz, flat, self.weights, self.n_qubits, self.backend, self.dtype)
        out_dtype = x.dtype if x.is_floating_point() else out.dtype
        return out.reshape(*lead, self.n_qubits).to(out_dtype)

    def extra_repr(self) -> str:
        return f"n_qubits={self.n_qubits}, ansatz={self.ansatz}, embedding={self.embedding}, backend={self.backend!r}"


# ----------------------------------------------------------------------------------------------
# quantum-generated noise (chen2025quantum gives no formula; this construction is qdm's)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExpvalSampler:
    """Gaussian-like noise from finite-shot measurements of a simulated circuit.

    The circuit prepares an n-qubit state: ``"plus"`` = H on every wire (|+>^n, fair independent
    bits) or ``"random"`` = |+>^n followed by ``circuit_layers`` StronglyEntangling layers with
    weights drawn uniformly in [0, 2π) from ``circuit_seed`` (correlated, biased bits).  Each shot
    is a computational-basis measurement (Born rule, :func:`qdm.quantum.sim.sample_outcomes`).

    ``method="clt"``: one noise value uses K = ``shots`` shots; shot k gives the bitstring b_k and
    s(b_k) = Σ_i (1 − 2 b_{k,i}) (the one-shot estimate of Σ_i ⟨Z_i⟩).  The value is
    (Σ_k s(b_k) − K μ)/(σ √K) with μ, σ² the exact mean and variance of s under the Born
    distribution, so mean 0 and variance 1 exactly; the kurtosis is 3 + κ₄(s)/(σ⁴ K) → 3 (CLT).
    For ``"plus"`` this is exactly (2·Binomial(nK, 1/2) − nK)/√(nK), kurtosis 3 − 2/(nK).

    ``method="box_muller"`` (``"plus"`` only): 2m fair bits per value (m = ``bits_per_uniform``)
    make u₁, u₂ = (integer + 1/2)/2^m, uniform on the midpoint grid of (0, 1); the value is
    √(−2 ln u₁) cos(2π u₂) / σ_m with σ_m² = E[−2 ln u₁]·E[cos²(2π u₂)] computed exactly on that
    grid (closed form below), so mean 0 (by symmetry) and variance 1 exactly; a discretised
    normal whose tails stop at √(2 ln 2^{m+1}) / σ_m.
    """

    n_qubits: int = 4
    shots: int = 16
    method: Literal["clt", "box_muller"] = "clt"
    circuit: Literal["plus", "random"] = "plus"
    bits_per_uniform: int = 16
    circuit_layers: int = 2
    circuit_seed: int = 0

    def __post_init__(self) -> None:
        _check_n_qubits(self.n_qubits)
        if self.n_qubits > 16:
            raise ValueError(f"n_qubits must be <= 16 for sampling, got {self.n_qubits}")
        if not isinstance(self.shots, int) or self.shots < 1:
            raise ValueError(f"shots must be an int >= 1, got {self.shots!r}")
        if self.method not in ("clt", "box_muller"):
            raise ValueError(f"method must be 'clt' or 'box_muller', got {self.method!r}")
        if self.circuit not in ("plus", "random"):
            raise ValueError(f"circuit must be 'plus' or 'random', got {self.circuit!r}")
        if self.method == "box_muller" and self.circuit != "plus":
            raise ValueError("method='box_muller' needs fair bits: circuit must be 'plus'")
        if not 2 <= self.bits_per_uniform <= 30:
            raise ValueError(f"bits_per_uniform must be in [2, 30], got {self.bits_per_uniform}")
        _check_layers(self.circuit_layers)

    def state(self) -> Tensor:
        """The measured state, (1, 2**n) complex128."""
        plus = torch.full((1, self.n_qubits, 2), 1 / math.sqrt(2), dtype=torch.complex128)
        if self.circuit == "plus":
            return sim.product_state(plus)
        gen = torch.Generator().manual_seed(self.circuit_seed)
        weights = torch.rand(self.circuit_layers, self.n_qubits, 3, generator=gen, dtype=torch.float64) * 2 * math.pi
        return sim.strongly_entangling_layers(sim.ProductState(plus), weights)

    def born_probabilities(self) -> Tensor:
        """Probabilities of the 2**n bitstrings, (2**n,) float64."""
        with torch.no_grad():
            return sim.probabilities(self.state())[0]

    def shot_values(self) -> Tensor:
        """s(b) = Σ_i (1 − 2 b_i) for every bitstring b, (2**n,) float64."""
        bits = sim.bits_of(torch.arange(1 << self.n_qubits), self.n_qubits)
        return (self.n_qubits - 2 * bits.sum(-1)).to(torch.float64)

    def clt_moments(self) -> tuple[float, float, float]:
        """Exact (μ, σ², kurtosis of one standardised noise value) for method 'clt'."""
        p, s = self.born_probabilities(), self.shot_values()
        mu = float((p * s).sum())
        var = float((p * (s - mu) ** 2).sum())
        m4 = float((p * (s - mu) ** 4).sum())
        kappa4 = m4 - 3 * var**2
        return mu, var, 3.0 + kappa4 / (var**2 * self.shots)

    def box_muller_std(self) -> float:
        """σ_m: E[−2 ln u] = 2 ln M − (2/M)(lnΓ(M + 1/2) − lnΓ(1/2)) on the grid u = (k+1/2)/M, M = 2^m;
        E[cos²(2πu)] = 1/2 exactly on that grid for M ≥ 4 (bits_per_uniform ≥ 2)."""
        big_m = 2**self.bits_per_uniform
        e_log = 2 * math.log(big_m) - 2 / big_m * (math.lgamma(big_m + 0.5) - math.lgamma(0.5))
        return math.sqrt(e_log * 0.5)

    def _outcomes(self, count: int, generator: torch.Generator | None) -> Tensor:
        """``count`` measured basis indices of the circuit, drawn in chunks (torch.multinomial's limit)."""
        probs = self.born_probabilities()[None]
        chunk = 1 << 24
        parts = [
            torch.multinomial(probs, min(chunk, count - start), replacement=True, generator=generator)[0]
            for start in range(0, count, chunk)
        ]
        return torch.cat(parts)

    def sample(
        self,
        shape: Sequence[int],
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Noise of the given shape with mean 0 and variance 1 (exact distribution in the class docstring)."""
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise ValueError(f"shape must have non-negative sizes, got {shape}")
        count = math.prod(shape)
        if self.method == "clt":
            mu, var, _ = self.clt_moments()
            values = self.shot_values()[self._outcomes(count * self.shots, generator)]
            total = values.view(count, self.shots).sum(1)
            out = (total - self.shots * mu) / math.sqrt(var * self.shots)
        else:
            m = self.bits_per_uniform
            shots_per_value = -(-2 * m // self.n_qubits)
            idx = self._outcomes(count * shots_per_value, generator)
            bits = sim.bits_of(idx, self.n_qubits).view(count, -1)[:, : 2 * m].to(torch.float64)
            weights = 2.0 ** torch.arange(m - 1, -1, -1, dtype=torch.float64)
            u1 = (bits[:, :m] @ weights + 0.5) / 2**m
            u2 = (bits[:, m:] @ weights + 0.5) / 2**m
            out = torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * math.pi * u2) / self.box_muller_std()
        return out.view(shape).to(dtype=dtype, device=device)


def quantum_noise(
    shape: Sequence[int],
    generator: torch.Generator | None = None,
    n_qubits: int = 4,
    shots: int = 16,
    method: Literal["clt", "box_muller"] = "clt",
    circuit: Literal["plus", "random"] = "plus",
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Quantum-generated standard noise of ``shape`` (mean 0, variance 1); see :class:`ExpvalSampler`."""
    sampler = ExpvalSampler(n_qubits=n_qubits, shots=shots, method=method, circuit=circuit)
    return sampler.sample(shape, generator, dtype, device)
