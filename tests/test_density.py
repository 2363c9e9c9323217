"""Maths and physics of qdm.quantum.density: states, the depolarizing channel (jo2025qamp eqs. 7-8), measures, maps."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qdm.quantum import (
    apply_unitary,
    check_density,
    depolarize,
    depolarize_closed_form,
    depolarize_trajectory,
    depolarizing_alpha,
    depolarizing_schedule,
    embed_ancilla,
    fidelity,
    hilbert_schmidt_distance,
    is_density,
    is_unitary,
    kraus_apply,
    maximally_mixed,
    measure_reset_ancilla,
    partial_trace,
    postselect_ancilla,
    pure_density,
    pure_overlap,
    purity,
    random_density,
    random_pure_state,
    random_unitary,
    state_fidelity,
    trace_distance,
    von_neumann_entropy,
)

C128 = torch.complex128
SETTINGS = settings(max_examples=30, deadline=None)
seeds = st.integers(0, 2**32 - 1)
qubits = st.integers(1, 3)

I2 = torch.eye(2, dtype=C128)
X = torch.tensor([[0, 1], [1, 0]], dtype=C128)
Y = torch.tensor([[0, -1j], [1j, 0]], dtype=C128)
Z = torch.tensor([[1, 0], [0, -1]], dtype=C128)
SWAP = torch.tensor([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=C128)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def close(a: torch.Tensor, b: torch.Tensor | float, atol: float = 1e-10) -> bool:
    b_t = torch.as_tensor(b, dtype=a.dtype)
    return bool(torch.allclose(a, b_t, atol=atol, rtol=0))


# ------------------------------------------------------------------------------------- states


@SETTINGS
@given(seed=seeds, n=qubits, data=st.data())
def test_constructors_give_valid_states_of_the_requested_rank(seed: int, n: int, data: st.DataObject) -> None:
    g = gen(seed)
    d = 2**n
    rank = data.draw(st.integers(1, d))
    rho = random_density(n, g, rank=rank, batch=(2,))
    check_density(rho)
    assert torch.linalg.matrix_rank(rho, hermitian=True, atol=1e-10).tolist() == [rank, rank]
    psi = random_pure_state(n, g, batch=(3,))
    assert close(torch.linalg.vector_norm(psi, dim=-1), 1.0)
    pure = pure_density(2.5 * psi)  # normalises
    check_density(pure)
    assert close(purity(pure), 1.0)
    assert close(pure @ pure, pure)  # a projector
    check_density(maximally_mixed(n))
    assert is_unitary(random_unitary(n, g, batch=(2,)))


def test_haar_states_have_the_haar_second_moment() -> None:
    # E |psi><psi| = I/d and E |<0|psi>|^4 = 2/(d(d+1)) for Haar-random psi.
    n, d = 2, 4
    psi = random_pure_state(n, gen(0), batch=(20000,))
    mean = pure_density(psi).mean(0)
    assert close(mean, maximally_mixed(n), atol=0.01)
    assert abs(float((psi[:, 0].abs() ** 4).mean()) - 2 / (d * (d + 1))) < 0.01


def test_check_density_names_the_failing_property() -> None:
    with pytest.raises(ValueError, match="Hermitian"):
        check_density(torch.tensor([[0.5, 0.1], [0.0, 0.5]], dtype=C128))
    with pytest.raises(ValueError, match="trace 1"):
        check_density(torch.eye(2, dtype=C128))
    with pytest.raises(ValueError, match="positive semidefinite"):
        check_density(torch.diag(torch.tensor([1.5, -0.5], dtype=C128)))
    assert not is_density(torch.diag(torch.tensor([1.5, -0.5], dtype=C128)))
    assert not is_density(torch.eye(2, dtype=torch.float64))
    assert is_density(random_density(2, gen(1), batch=(4,)))


# ------------------------------------------------------------------------- depolarizing channel


@SETTINGS
@given(seed=seeds, n=qubits, p=st.floats(0.0, 1.0))
def test_depolarize_keeps_states_valid_and_contracts_trace_distance(seed: int, n: int, p: float) -> None:
    g = gen(seed)
    rho, sigma = random_density(n, g), random_density(n, g, rank=1)
    out = depolarize(rho, p)
    check_density(out)
    # Seed eq. 7 is affine: the trace distance shrinks by exactly (1 - p).
    assert close(trace_distance(depolarize(rho, p), depolarize(sigma, p)), (1 - p) * trace_distance(rho, sigma))


@SETTINGS
@given(seed=seeds, n=qubits, T=st.integers(1, 20))
def test_closed_form_equals_step_by_step(seed: int, n: int, T: int) -> None:
    g = gen(seed)
    p_schedule = torch.rand(T, generator=g, dtype=torch.float64)
    rho0 = random_density(n, g, batch=(2,))
    trajectory = depolarize_trajectory(rho0, p_schedule)
    alpha = depolarizing_alpha(p_schedule)
    assert trajectory.shape == (T + 1, 2, 2**n, 2**n)
    assert close(trajectory[0], rho0)
    manual = rho0
    for t in range(1, T + 1):
        manual = depolarize(manual, p_schedule[t - 1])
        assert close(trajectory[t], manual)
        assert close(trajectory[t], depolarize_closed_form(rho0, alpha[t - 1]))
    products = [math.prod(1 - float(q) for q in p_schedule[:t]) for t in range(1, T + 1)]
    assert close(alpha, torch.tensor(products, dtype=torch.float64))


@SETTINGS
@given(seed=seeds, n=qubits, T=st.integers(1, 15))
def test_purity_decays_as_derived(seed: int, n: int, T: int) -> None:
    # tr(a rho + (1 - a) I/d)^2 = a^2 tr rho^2 + 2 a (1 - a)/d tr rho + (1 - a)^2/d = a^2 P0 + (1 - a^2)/d.
    g = gen(seed)
    d = 2**n
    rho0 = random_density(n, g, rank=int(torch.randint(1, d + 1, (1,), generator=g)))
    p_schedule = 0.3 * torch.rand(T, generator=g, dtype=torch.float64)
    alpha = depolarizing_alpha(p_schedule)
    purities = purity(depolarize_trajectory(rho0, p_schedule)[1:])
    assert close(purities, alpha**2 * purity(rho0) + (1 - alpha**2) / d)
    assert bool((purities[1:] <= purities[:-1] + 1e-12).all())  # monotone decay


@pytest.mark.parametrize(
    ("kind", "T", "kwargs"),
    [("linear", 1000, {}), ("cosine", 50, {}), ("constant", 200, {"p": 0.1}), ("linear", 30, {"p_end": 0.5})],
)
def test_schedules_drive_states_to_maximally_mixed(kind: str, T: int, kwargs: dict[str, float]) -> None:
    n = 2
    p_schedule = depolarizing_schedule(T, kind, **kwargs)
    assert p_schedule.shape == (T,) and bool(((p_schedule >= 0) & (p_schedule <= 1)).all())
    alpha = depolarizing_alpha(p_schedule)
    assert bool((alpha[1:] <= alpha[:-1]).all())
    rho0 = pure_density(random_pure_state(n, gen(3)))
    rho_T = depolarize_closed_form(rho0, alpha[-1])
    mixed = maximally_mixed(n)
    # The distance to I/d scales exactly with alpha_T, and alpha_T is small for these schedules.
    assert close(trace_distance(rho_T, mixed), alpha[-1] * trace_distance(rho0, mixed))
    assert float(trace_distance(rho_T, mixed)) < 1e-3


def test_cosine_schedule_alpha_is_the_cosine_alpha_bar() -> None:
    T, s = 40, 0.008
    alpha = depolarizing_alpha(depolarizing_schedule(T, "cosine", s=s))
    t = torch.arange(1, T, dtype=torch.float64)  # the last step is clipped at max_p
    f = lambda u: torch.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    assert close(alpha[:-1], f(t) / f(torch.zeros(1, dtype=torch.float64)), atol=1e-12)
    linear = depolarizing_schedule(5, "linear", p_start=0.1, p_end=0.5)
    assert close(linear, torch.linspace(0.1, 0.5, 5, dtype=torch.float64))
    assert close(depolarizing_alpha(depolarizing_schedule(4, "constant", p=0.25)), 0.75 ** torch.arange(1, 5.0))


def test_tensor_p_broadcasts_over_the_batch() -> None:
    g = gen(4)
    rho = random_density(2, g, batch=(4,))
    p = torch.tensor([0.0, 0.2, 0.7, 1.0], dtype=torch.float64)
    out = depolarize(rho, p)
    for i in range(4):
        assert close(out[i], depolarize(rho[i], float(p[i])))
    assert close(out[-1], maximally_mixed(2).expand(1, 4, 4)[0])
    grid = depolarize(rho, torch.tensor([[0.1], [0.5], [0.9]]))  # (3, 1) x (4,) -> (3, 4)
    assert grid.shape == (3, 4, 4, 4)
    assert close(grid[2, 1], depolarize(rho[1], 0.9), atol=1e-6)  # p was float32
    batched = depolarizing_alpha(torch.tensor([[0.5, 0.5], [0.1, 0.0]]))
    assert close(batched, torch.tensor([[0.5, 0.25], [0.9, 0.9]]), atol=1e-7)
    traj = depolarize_trajectory(rho, torch.tensor([[0.1, 0.2, 0.3, 0.4]] * 3))  # per-sample schedules
    assert close(traj[3, 2], depolarize_closed_form(rho[2], (1 - 0.3) ** 3), atol=1e-6)


# ----------------------------------------------------------------------------------- measures


@SETTINGS
@given(seed=seeds, n=qubits)
def test_fidelity_properties(seed: int, n: int) -> None:
    g = gen(seed)
    rho, sigma = random_density(n, g), random_density(n, g, rank=max(1, 2**n // 2))
    f = fidelity(rho, sigma)
    assert close(f, fidelity(sigma, rho))
    assert 0.0 <= float(f) < 1.0 - 1e-6
    assert close(fidelity(rho, rho), 1.0, atol=1e-9)
    assert close(fidelity(sigma, sigma), 1.0, atol=1e-9)  # rank-deficient
    psi, phi = random_pure_state(n, g), random_pure_state(n, g)
    assert close(fidelity(pure_density(psi), rho), pure_overlap(psi, rho))
    assert close(fidelity(rho, pure_density(psi)), pure_overlap(psi, rho))
    assert close(fidelity(pure_density(psi), pure_density(phi)), state_fidelity(psi, phi))
    assert close(state_fidelity(psi, psi), 1.0)
    # Uhlmann: F(rho, sigma) >= tr(rho sigma) (and equality when one is pure).
    assert float(f) >= float(torch.trace(rho @ sigma).real) - 1e-12


@SETTINGS
@given(seed=seeds)
def test_qubit_fidelity_matches_closed_form(seed: int) -> None:
    # For 2x2 states F = tr(rho sigma) + 2 sqrt(det rho det sigma).
    g = gen(seed)
    rho, sigma = random_density(1, g, batch=(5,)), random_density(1, g, batch=(5,))
    det = lambda a: torch.linalg.det(a).real  # noqa: E731
    expected = torch.einsum("bij,bji->b", rho, sigma).real + 2 * torch.sqrt(det(rho) * det(sigma))
    assert close(fidelity(rho, sigma), expected)


@SETTINGS
@given(seed=seeds, n=qubits)
def test_trace_distance_metric_and_fuchs_van_de_graaf(seed: int, n: int) -> None:
    g = gen(seed)
    rho, sigma, tau = random_density(n, g), random_density(n, g, rank=1), random_density(n, g, rank=2)
    t_rs, t_st, t_rt = trace_distance(rho, sigma), trace_distance(sigma, tau), trace_distance(rho, tau)
    assert float(t_rt) <= float(t_rs + t_st) + 1e-12
    assert close(t_rs, trace_distance(sigma, rho))
    assert close(trace_distance(rho, rho), 0.0)
    for a, b in ((rho, sigma), (sigma, tau), (rho, tau)):
        f, t = fidelity(a, b), trace_distance(a, b)
        assert 1 - math.sqrt(float(f)) <= float(t) + 1e-10
        assert float(t) <= math.sqrt(max(0.0, 1 - float(f))) + 1e-10
    # Pure states saturate the upper bound: T = sqrt(1 - F).
    psi, phi = random_pure_state(n, g), random_pure_state(n, g)
    assert close(trace_distance(pure_density(psi), pure_density(phi)), torch.sqrt(1 - state_fidelity(psi, phi)))


@SETTINGS
@given(seed=seeds, n=qubits)
def test_hilbert_schmidt_distance_is_the_frobenius_norm(seed: int, n: int) -> None:
    g = gen(seed)
    rho, sigma = random_density(n, g), random_density(n, g)
    diff = rho - sigma
    hs2 = torch.trace(diff @ diff).real
    assert close(hilbert_schmidt_distance(rho, sigma, squared=True), hs2)
    assert close(hilbert_schmidt_distance(rho, sigma), torch.sqrt(hs2))
    # ||rho - sigma||_2^2 = tr rho^2 + tr sigma^2 - 2 tr(rho sigma).
    assert close(hs2, purity(rho) + purity(sigma) - 2 * torch.trace(rho @ sigma).real)


def test_entropy_values() -> None:
    for n in (1, 2, 3):
        assert close(von_neumann_entropy(maximally_mixed(n)), float(n))
        assert close(purity(maximally_mixed(n)), 2.0**-n)
    assert close(von_neumann_entropy(pure_density(random_pure_state(3, gen(0)))), 0.0)
    q = torch.tensor([0.1, 0.25, 0.5], dtype=torch.float64)
    rho = torch.diag_embed(torch.stack([q, 1 - q], -1)).to(C128)
    binary = -(q * torch.log2(q) + (1 - q) * torch.log2(1 - q))
    assert close(von_neumann_entropy(rho), binary)


# --------------------------------------------------------------------------------- operations


@SETTINGS
@given(seed=seeds, n=qubits)
def test_unitaries_preserve_trace_purity_entropy_and_fidelity(seed: int, n: int) -> None:
    g = gen(seed)
    rho, sigma = random_density(n, g, batch=(2,)), random_density(n, g, batch=(2,))
    U = random_unitary(n, g, batch=(2,))
    out = apply_unitary(rho, U)
    check_density(out)
    assert close(torch.diagonal(out, dim1=-2, dim2=-1).sum(-1).real, 1.0)
    assert close(purity(out), purity(rho))
    s_in, s_out = von_neumann_entropy(rho), von_neumann_entropy(out)
    assert close(s_out, s_in, atol=1e-9)
    assert bool((s_out >= s_in - 1e-9).all())  # a unitary cannot lower entropy (nor raise it)
    assert close(fidelity(out, apply_unitary(sigma, U)), fidelity(rho, sigma), atol=1e-9)


def test_system_ancilla_unitary_then_discarding_the_ancilla_lowers_entropy() -> None:
    # I/2 on the system, a fresh |0> ancilla, SWAP, then measure-and-discard the ancilla:
    # the system ends in |0><0| (entropy 1 -> 0 bits); the entropy went to the ancilla.
    rho = maximally_mixed(1)
    joint = apply_unitary(embed_ancilla(rho, 1), SWAP)
    system = measure_reset_ancilla(joint, n_system=1, n_ancilla=1)
    assert close(system, pure_density(torch.tensor([1, 0], dtype=C128)))
    assert close(von_neumann_entropy(rho), 1.0)
    assert close(von_neumann_entropy(system), 0.0)
    assert close(von_neumann_entropy(joint), 1.0)  # the joint unitary itself kept entropy fixed
    assert close(von_neumann_entropy(partial_trace(joint, [1], 2)), 1.0)
    # A unitary on the system alone (U ⊗ I) cannot do this.
    U = random_unitary(1, gen(5))
    local = measure_reset_ancilla(apply_unitary(embed_ancilla(rho, 1), torch.kron(U, I2)), 1, 1)
    assert close(von_neumann_entropy(local), 1.0)


def test_partial_trace_wire_order_and_entanglement() -> None:
    ket = lambda bits: torch.eye(2 ** len(bits), dtype=C128)[int(bits, 2)]  # noqa: E731
    rho = pure_density(ket("10"))  # qubit 0 = |1>, qubit 1 = |0>
    assert close(partial_trace(rho, [0], 2), pure_density(ket("1")))
    assert close(partial_trace(rho, [1], 2), pure_density(ket("0")))
    assert close(partial_trace(rho, [1, 0], 2), pure_density(ket("01")))  # keep order = output order
    assert close(partial_trace(rho, [], 2), torch.ones(1, 1, dtype=C128))
    bell = pure_density((ket("00") + ket("11")) / math.sqrt(2))
    assert close(partial_trace(bell, [0], 2), maximally_mixed(1))
    assert close(von_neumann_entropy(partial_trace(bell, [1], 2)), 1.0)


@SETTINGS
@given(seed=seeds, keep=st.lists(st.integers(0, 2), unique=True, max_size=3))
def test_partial_trace_of_a_product_returns_the_factors(seed: int, keep: list[int]) -> None:
    g = gen(seed)
    factors = [random_density(1, g, batch=(2,)) for _ in range(3)]
    product = torch.einsum("bij,bkl,bmn->bikmjln", *factors).reshape(2, 8, 8)
    expected = torch.ones(2, 1, 1, dtype=C128)
    for q in keep:
        expected = torch.einsum("bij,bkl->bikjl", expected, factors[q]).reshape(2, 2 * expected.shape[1], -1)
    assert close(partial_trace(product, keep, 3), expected)


def test_partial_trace_matches_pennylane() -> None:
    import pennylane as qml

    rho = random_density(3, gen(6))
    for keep in ([0], [2], [0, 2], [1, 2]):
        assert close(partial_trace(rho, keep, 3), qml.math.reduce_dm(rho, indices=keep), atol=1e-12)


@SETTINGS
@given(seed=seeds, n_system=st.integers(1, 2), n_ancilla=st.integers(0, 2))
def test_ancilla_measure_reset_is_a_kraus_channel_and_averages_postselection(
    seed: int, n_system: int, n_ancilla: int
) -> None:
    g = gen(seed)
    ds, da = 2**n_system, 2**n_ancilla
    rho = random_density(n_system, g)
    assert close(measure_reset_ancilla(embed_ancilla(rho, n_ancilla), n_system, n_ancilla), rho)
    joint = apply_unitary(embed_ancilla(rho, n_ancilla), random_unitary(n_system + n_ancilla, g))
    reduced = measure_reset_ancilla(joint, n_system, n_ancilla)
    check_density(reduced)
    assert close(reduced, partial_trace(joint, list(range(n_system)), n_system + n_ancilla))
    # Kraus operators K_k = I ⊗ <k| (shape ds x ds*da).
    eye_a = torch.eye(da, dtype=C128)
    kraus = torch.stack([torch.kron(torch.eye(ds, dtype=C128), eye_a[k][None, :]) for k in range(da)])
    assert close(kraus_apply(joint, kraus), reduced)
    states, probs = zip(*(postselect_ancilla(joint, n_system, n_ancilla, k) for k in range(da)))
    assert close(torch.stack(probs).sum(), 1.0)
    assert close(sum(p * s for p, s in zip(probs, states)), reduced)
    for s in states:
        check_density(s)


@SETTINGS
@given(seed=seeds, p=st.floats(0.0, 1.0))
def test_pauli_kraus_form_equals_depolarize(seed: int, p: float) -> None:
    # One qubit: (1-p) rho + p I/2 = (1 - 3p/4) rho + p/4 (X rho X + Y rho Y + Z rho Z).
    rho = random_density(1, gen(seed), batch=(3,))
    kraus = [math.sqrt(1 - 3 * p / 4) * I2, math.sqrt(p / 4) * X, math.sqrt(p / 4) * Y, math.sqrt(p / 4) * Z]
    assert close(kraus_apply(rho, kraus), depolarize(rho, p))
    # Two qubits: the full Pauli twirl (all 16 Paulis / 16) is the p = 1 channel.
    paulis = [torch.kron(a, b) / 4 for a in (I2, X, Y, Z) for b in (I2, X, Y, Z)]
    rho2 = random_density(2, gen(seed + 1))
    assert close(kraus_apply(rho2, paulis), depolarize(rho2, 1.0))


# ---------------------------------------------------------------------------------- gradients


def _density_from_params(params: torch.Tensor, d: int) -> torch.Tensor:
    g = torch.complex(params[: d * d], params[d * d :]).reshape(d, d)
    w = g @ g.mH
    return w / torch.trace(w)


def _ket_from_params(params: torch.Tensor, d: int) -> torch.Tensor:
    return torch.complex(params[:d], params[d:])


def test_fidelity_gradients_match_finite_differences() -> None:
    d = 4
    g = gen(7)
    target_mixed = random_density(2, g)
    target_pure = pure_density(random_pure_state(2, g))
    full = torch.randn(2 * d * d, dtype=torch.float64, generator=g, requires_grad=True)
    other = torch.randn(2 * d * d, dtype=torch.float64, generator=g, requires_grad=True)
    ket = torch.randn(2 * d, dtype=torch.float64, generator=g, requires_grad=True)
    checks = [
        (lambda x: fidelity(target_mixed, _density_from_params(x, d)), (full,)),
        (lambda x: fidelity(_density_from_params(x, d), target_pure), (full,)),
        (lambda x, y: fidelity(_density_from_params(x, d), _density_from_params(y, d)), (full, other)),
        # Pure state on both sides: the gradient through the degenerate spectrum stays exact.
        (lambda k: fidelity(pure_density(_ket_from_params(k, d)), target_pure), (ket,)),
        (lambda k: fidelity(target_mixed, pure_density(_ket_from_params(k, d))), (ket,)),
    ]
    for fn, inputs in checks:
        assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6)
    # ... and agrees with the closed form |<psi|phi>|^2.
    psi = random_pure_state(2, g)
    k1 = ket.detach().clone().requires_grad_(True)
    k2 = ket.detach().clone().requires_grad_(True)
    fidelity(pure_density(_ket_from_params(k1, d)), pure_density(psi)).backward()
    phi = _ket_from_params(k2, d)
    state_fidelity(phi / torch.linalg.vector_norm(phi), psi).backward()
    assert close(k1.grad, k2.grad, atol=1e-9)


def test_other_measures_have_exact_gradients() -> None:
    d = 4
    g = gen(8)
    sigma = random_density(2, g)
    x = torch.randn(2 * d * d, dtype=torch.float64, generator=g, requires_grad=True)
    p = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    checks = [
        (lambda v: von_neumann_entropy(_density_from_params(v, d)), (x,)),
        (lambda v: purity(_density_from_params(v, d)), (x,)),
        (lambda v: trace_distance(_density_from_params(v, d), sigma), (x,)),
        (lambda v: hilbert_schmidt_distance(_density_from_params(v, d), sigma), (x,)),
        (lambda v: pure_overlap(random_pure_state(2, gen(9)), _density_from_params(v, d)), (x,)),
        (lambda q: purity(depolarize(sigma, q)), (p,)),
    ]
    for fn, inputs in checks:
        assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6)
    # d tr rho_p^2 / dp for rho_p = (1-p) rho + p I/d is -2 (1-p) (P - 1/d).
    purity(depolarize(sigma, p)).sum().backward()
    assert close(p.grad, -2 * (1 - 0.3) * (purity(sigma) - 1 / d))
    # The gradient of the entropy of a pure state is finite.
    k = torch.randn(2 * d, dtype=torch.float64, generator=g, requires_grad=True)
    psi = _ket_from_params(k, d)
    von_neumann_entropy(pure_density(psi)).backward()
    assert bool(torch.isfinite(k.grad).all())


# ---------------------------------------------------------------------------- dtype and errors


def test_complex64_is_supported_and_agrees_with_complex128() -> None:
    rho, sigma = random_density(2, gen(10)), random_density(2, gen(11), rank=1)
    rho32, sigma32 = rho.to(torch.complex64), sigma.to(torch.complex64)
    check_density(rho32)
    for fn in (fidelity, trace_distance, hilbert_schmidt_distance):
        out = fn(rho32, sigma32)
        assert out.dtype == torch.float32
        assert abs(float(out) - float(fn(rho, sigma))) < 1e-4
    assert von_neumann_entropy(rho32).dtype == torch.float32
    assert depolarize(rho32, 0.3).dtype == torch.complex64
    assert random_density(2, gen(0), dtype=torch.complex64).dtype == torch.complex64
    assert fidelity(rho32, sigma).dtype == torch.float64  # mixed inputs promote


_RHO = random_density(2, gen(12))
_BAD_U = torch.eye(4, dtype=C128) * 2


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: depolarize(_RHO, 1.5), r"^p must lie in \[0, 1\]"),
        (lambda: depolarize(_RHO, torch.tensor([-0.1, 0.2])), r"^p must lie"),
        (lambda: depolarize(_RHO.expand(4, 4, 4), torch.rand(3)), r"^p and rho"),
        (lambda: depolarize(_RHO, float("nan")), r"^p must be finite"),
        (lambda: depolarize(_RHO.real, 0.1), r"^rho must have dtype"),
        (lambda: depolarize(torch.zeros(2, 3, dtype=C128), 0.1), r"^rho must have shape"),
        (lambda: depolarize_closed_form(_RHO, 2.0), r"^alpha must lie"),
        (lambda: depolarizing_alpha([0.5, 1.2]), r"^p_schedule must lie"),
        (lambda: depolarizing_alpha([]), r"^p_schedule must have shape"),
        (lambda: depolarize_trajectory(_RHO, [0.1, -0.5]), r"^p_schedule must lie"),
        (lambda: depolarizing_schedule(0), r"^T must be"),
        (lambda: depolarizing_schedule(10, "quadratic"), r"^kind must be"),  # type: ignore[arg-type]
        (lambda: depolarizing_schedule(10, "linear", p_end=2.0), r"^p_end must be"),
        (lambda: random_density(2, gen(0), rank=5), r"^rank must be"),
        (lambda: random_density(0, gen(0)), r"^n_qubits must be"),
        (lambda: random_pure_state(2, gen(0), dtype=torch.float64), r"^dtype must be"),
        (lambda: random_pure_state(2, 42), r"^generator must be"),  # type: ignore[arg-type]
        (lambda: pure_density(torch.zeros(4, dtype=C128)), r"^psi must be non-zero"),
        (lambda: pure_density(2 * torch.eye(4, dtype=C128)[0], normalize=False), r"^psi must have unit norm"),
        (lambda: pure_overlap(2 * torch.eye(4, dtype=C128)[0], _RHO), r"^psi must have unit norm"),
        (lambda: state_fidelity(torch.eye(4, dtype=C128)[0], torch.eye(2, dtype=C128)[0]), r"^psi and phi"),
        (lambda: fidelity(_RHO, maximally_mixed(1)), r"^rho and sigma must have the same dimension"),
        (lambda: trace_distance(_RHO, torch.eye(4)), r"^sigma must have dtype"),
        (lambda: apply_unitary(_RHO, _BAD_U), r"^U must be unitary"),
        (lambda: kraus_apply(_RHO, [_BAD_U]), r"^kraus_ops must be trace preserving"),
        (lambda: kraus_apply(_RHO, torch.eye(2, dtype=C128)[None]), r"^kraus_ops must have shape"),
        (lambda: partial_trace(_RHO, [2], 2), r"^keep must hold"),
        (lambda: partial_trace(_RHO, [0, 0], 2), r"^keep must hold"),
        (lambda: partial_trace(_RHO, [0], 3), r"^rho must have dimension 2\*\*n_qubits"),
        (lambda: embed_ancilla(_RHO, -1), r"^n_ancilla must be"),
        (lambda: measure_reset_ancilla(_RHO, 2, 1), r"^rho must have dimension 2\*\*\(n_system \+ n_ancilla\)"),
        (lambda: postselect_ancilla(_RHO, 1, 1, outcome=2), r"^outcome must be"),
        (lambda: postselect_ancilla(embed_ancilla(maximally_mixed(1), 1), 1, 1, 1), r"^outcome 1 has probability 0"),
        (lambda: check_density(_RHO, atol=-1.0), r"^atol must be"),
    ],
)
def test_invalid_inputs_raise_value_error_naming_the_parameter(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
