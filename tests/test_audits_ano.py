"""The Meyer–Wallach entangling capability of qdm.audits.ano: right on states whose value is known and on Haar-random
states (the Hadamard-test block and the observables' gradient split are tested in tests/test_ano.py)."""

from __future__ import annotations

import math

import pytest
import torch

from qdm.audits import ano
from qdm.models.ano import normalise


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
        ano.entangling_capability(1, 10, 0)  # type: ignore[arg-type]
