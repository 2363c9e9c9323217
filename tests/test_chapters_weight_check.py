"""Chapter 04's weight-independence check (qdm.chapters.hybrid.weight_independence) is a full simulation:
a wrong closed form in the package is caught, not reproduced."""

from __future__ import annotations

import math
import sys

import pytest
import torch

from qdm import circuits
from qdm.chapters import hybrid as chapter
from qdm.models.bottleneck import GateConfig

_TRUE_SETS = circuits.zexpval_wire_sets


def _wrong_sets(ansatz, n_qubits):
    """A deliberately wrong closed form: ⟨Z_k⟩ = cos x_k, as if the CNOTs did nothing."""
    _TRUE_SETS(ansatz, n_qubits)  # same input checks
    return tuple(frozenset({k}) for k in range(n_qubits))


@pytest.fixture
def wrong_closed_form(monkeypatch):
    """Every module holding the package's closed form sees the wrong one (the torch backend's shortcut included)."""
    for module in list(sys.modules.values()):
        if getattr(module, "zexpval_wire_sets", None) is _TRUE_SETS:
            monkeypatch.setattr(module, "zexpval_wire_sets", _wrong_sets)
    circuits._sorted_wire_sets.cache_clear()
    yield
    circuits._sorted_wire_sets.cache_clear()


def test_published_circuit_is_weight_independent_by_full_simulation():
    cfg = GateConfig(n_qubits=5, n_layers=3, ansatz="rz_cnot")
    out = chapter.weight_independence(cfg, 6, 3, torch.Generator().manual_seed(0))
    assert out["n_weights"] == 15
    # computed, not zero by construction: round-off of a 2**5 state vector, far below any physical effect
    assert out["max_output_change"] < 1e-12 and out["max_weight_gradient"] < 1e-12
    assert 0 < out["closed_form_error"] < 1e-12


def test_a_wrong_closed_form_is_caught(wrong_closed_form):
    cfg = GateConfig(n_qubits=5, n_layers=3, ansatz="rz_cnot")
    out = chapter.weight_independence(cfg, 6, 3, torch.Generator().manual_seed(0))
    assert out["closed_form_error"] > 0.05  # the simulated ⟨Z_k⟩ is not cos x_k


def test_weights_that_matter_show_up():
    cfg = GateConfig(n_qubits=4, n_layers=2, ansatz="strongly_entangling")
    out = chapter.weight_independence(cfg, 8, 3, torch.Generator().manual_seed(0))
    assert out["max_output_change"] > 0.1 and out["max_weight_gradient"] > 0.1 and math.isnan(out["closed_form_error"])
    with pytest.raises(ValueError, match="n_draws must be an integer >= 2"):
        chapter.weight_independence(cfg, 8, 1, torch.Generator())
