"""Full-simulation audits of the QAMP 2025 ANO model (qdm.audits.ano): the Hadamard-test block returns its state, the
observables' anti-Hermitian half gets no gradient, and the Meyer–Wallach measure is right on states whose value is known."""

from __future__ import annotations

import math

import pytest
import torch

from qdm.audits import ano
from qdm.models.ano import normalise


def test_hadamard_block_returns_its_state_but_not_a_trivial_scalar() -> None:
    r = ano.hadamard_block_deviation(32, 3, torch.Generator().manual_seed(1))
    assert r["max_state_change"] < 1e-12 and r["max_zanc_error"] < 1e-12
    assert r["max_abs_zanc"] > 0.05  # ⟨Z_anc⟩ = Re⟨ψ|U|ψ⟩ does depend on the angles
    assert r["n_angles"] == 48


def test_anti_hermitian_half_of_the_observables_gets_no_gradient() -> None:
    r = ano.anti_hermitian_gradient(2, torch.Generator().manual_seed(0), layers=2)
    assert r["max_gradient"] > 1e-8  # the Hermitian half does learn
    assert r["max_anti_hermitian_gradient"] <= 1e-12 * r["max_gradient"]
    assert r["anti_hermitian_dof"] == r["ano_dof"] / 2 == 16 * 16 * 16


def test_meyer_wallach_on_known_states() -> None:
    product = torch.zeros(1, 16, dtype=torch.complex128)
    product[0, 0] = 1.0
    ghz = torch.zeros(1, 16, dtype=torch.complex128)
    ghz[0, 0] = ghz[0, 15] = 1 / math.sqrt(2)
    bell_pair = torch.zeros(1, 4, dtype=torch.complex128)
    bell_pair[0, 0] = bell_pair[0, 3] = 1 / math.sqrt(2)
    assert float(ano.meyer_wallach(product)[0]) == pytest.approx(0.0, abs=1e-15)
    assert float(ano.meyer_wallach(ghz)[0]) == pytest.approx(1.0)
    assert float(ano.meyer_wallach(bell_pair)[0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="^states must be a"):
        ano.meyer_wallach(torch.ones(2, 6, dtype=torch.complex128))


def test_haar_value_matches_random_states() -> None:
    g = torch.Generator().manual_seed(0)
    for n in (2, 3):
        states = normalise(torch.complex(torch.randn(20000, 2**n, generator=g, dtype=torch.float64),
                                         torch.randn(20000, 2**n, generator=g, dtype=torch.float64)))
        q = ano.meyer_wallach(states)
        se = float(q.std()) / math.sqrt(q.numel())
        assert abs(float(q.mean()) - ano.haar_meyer_wallach(n)) < 4 * se


def test_entangling_capability_and_its_checks() -> None:
    r = ano.entangling_capability(1, 200, torch.Generator().manual_seed(0))
    assert 0 < r["mean"] < 1 and r["se"] > 0 and r["haar"] == pytest.approx(14 / 17)
    with pytest.raises(ValueError, match="^layers must be an int >= 1"):
        ano.entangling_capability(0, 10, torch.Generator())
    with pytest.raises(ValueError, match="^generator must be a torch.Generator"):
        ano.hadamard_block_deviation(2, 1, 0)  # type: ignore[arg-type]
