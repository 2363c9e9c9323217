"""qdm.quantum.depolarizing_closed_forms against full density-matrix simulation (step-by-step depolarizing)."""

from __future__ import annotations

import pytest
import torch

from qdm import quantum
from qdm.quantum import depolarizing_closed_forms as dcf
from qdm.schedules import make_schedule


@pytest.fixture(scope="module", params=[1, 2, 3])
def setting(request):
    n = request.param
    gen = torch.Generator().manual_seed(n)
    p = make_schedule("cosine", 40).betas
    alpha = torch.cat([torch.ones(1, dtype=torch.float64), quantum.depolarizing_alpha(p)])
    psi = quantum.random_pure_state(n, gen)
    states = {"pure": quantum.pure_density(psi), "mixed": quantum.random_density(n, gen)}
    return n, p, alpha, psi, states, gen


def test_purity_and_trace_distance_follow_the_closed_forms(setting):
    n, p, alpha, _, states, _ = setting
    d = 2**n
    for rho in states.values():
        traj = quantum.depolarize_trajectory(rho, p)  # one channel application per step
        purity = torch.stack([quantum.purity(r) for r in traj]).double()
        want = dcf.depolarized_purity(float(quantum.purity(rho)), alpha, d)
        assert torch.allclose(purity, want, atol=1e-12) and float(purity[-1]) < float(purity[0])
        dist = torch.stack([quantum.trace_distance(r, quantum.maximally_mixed(n)) for r in traj]).double()
        want_t = dcf.depolarized_trace_distance_to_mixed(float(dist[0]), alpha)
        assert torch.allclose(dist, want_t, atol=1e-10)


def test_pure_state_fidelity_closed_form(setting):
    n, p, alpha, psi, states, _ = setting
    traj = quantum.depolarize_trajectory(states["pure"], p)
    overlap = quantum.pure_overlap(psi, traj).double()
    assert torch.allclose(overlap, dcf.depolarized_pure_fidelity(alpha, 2**n), atol=1e-10)
    # a wrong dimension is visible: the formula is not trivially satisfied
    assert not torch.allclose(overlap, dcf.depolarized_pure_fidelity(alpha, 2 ** (n + 1)), atol=1e-3)


def test_fuchs_van_de_graaf_margins_are_nonnegative_and_tight_for_pure_states(setting):
    n, p, _, _, states, gen = setting
    for rho in states.values():
        traj = quantum.depolarize_trajectory(rho, p)
        lower, upper = dcf.fuchs_van_de_graaf_margins(quantum.fidelity(traj, rho), quantum.trace_distance(traj, rho))
        assert float(lower.min()) > -1e-9 and float(upper.min()) > -1e-9
    a, b = (quantum.pure_density(quantum.random_pure_state(n, gen)) for _ in range(2))
    _, upper = dcf.fuchs_van_de_graaf_margins(quantum.fidelity(a, b), quantum.trace_distance(a, b))
    assert abs(float(upper)) < 1e-7  # pure states saturate T = √(1 − F)


def test_swap_moves_the_state_into_the_ancillas(setting):
    n, _, _, _, states, _ = setting
    rho = states["mixed"]
    system, ancillas = dcf.swap_to_ancilla(rho, n)
    ground = torch.zeros_like(rho)
    ground[0, 0] = 1
    assert torch.allclose(system, ground, atol=1e-12) and torch.allclose(ancillas, rho, atol=1e-12)
    assert abs(float(quantum.von_neumann_entropy(ancillas)) - float(quantum.von_neumann_entropy(rho))) < 1e-9
    assert float(quantum.purity(system)) == pytest.approx(1.0, abs=1e-12)


def test_bad_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="alpha must hold numbers in"):
        dcf.depolarized_pure_fidelity(1.5, 4)
    with pytest.raises(ValueError, match="d must be an integer >= 2"):
        dcf.depolarized_purity(1.0, 0.5, 1)
    with pytest.raises(ValueError, match="purity0 must lie in"):
        dcf.depolarized_purity(0.1, 0.5, 4)
    with pytest.raises(ValueError, match="n_qubits must be an integer >= 1"):
        dcf.swap_to_ancilla(torch.eye(2, dtype=torch.complex128) / 2, 0)
    with pytest.raises(ValueError, match="rho must be a"):
        dcf.swap_to_ancilla(torch.eye(4, dtype=torch.complex128) / 4, 1)
