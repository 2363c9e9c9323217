"""The override parser: overrides are applied together and validated once, so any set of valid overrides
gives the same config in any order, and any invalid one is refused naming its key (property-based)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qdm.config import apply_overrides, config_hash, config_keys, get_experiment

#: Candidate overrides per experiment, one value per key (a key given twice keeps its last value):
#: each valid alone, some combinations invalid together (T vs sample_steps).
POOL = {
    "hybrid-mnist": [
        "T=20", "eval.sample_steps=10", "steps=7", "batch_size=8", "lr=0.001",
        "train.seed=3", "data.classes=1", "eval.n_samples=16", "model.n_qubits=4", "ema_decay=0.99",
    ],
    "pqc-mnist": ["n_qubits=8", "image_size=16", "steps=3", "train.seed=1", "T=12", "lr=0.01"],
}


def _resolves(name: str, overrides: list[str]) -> str | None:
    try:
        return config_hash(apply_overrides(get_experiment(name), overrides))
    except ValueError:
        return None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(POOL)))
def test_valid_overrides_give_one_config_in_any_order(data: st.DataObject, name: str) -> None:
    chosen = data.draw(st.lists(st.sampled_from(POOL[name]), min_size=1, max_size=5, unique=True))
    reference = _resolves(name, chosen)
    assume(reference is not None)  # a jointly valid set
    order = data.draw(st.permutations(chosen))
    assert _resolves(name, list(order)) == reference


def test_known_order_dependent_cases_now_resolve() -> None:
    a = apply_overrides(get_experiment("pqc-mnist"), ["n_qubits=8", "image_size=16"])
    b = apply_overrides(get_experiment("pqc-mnist"), ["image_size=16", "n_qubits=8"])
    assert config_hash(a) == config_hash(b) and a.model.n_qubits == 8 and a.model.image_size == 16
    c = apply_overrides(get_experiment("hybrid-mnist"), ["T=20", "eval.sample_steps=10"])
    d = apply_overrides(get_experiment("hybrid-mnist"), ["eval.sample_steps=10", "T=20"])
    assert config_hash(c) == config_hash(d)


def test_cross_field_error_says_which_values_were_not_typed() -> None:
    with pytest.raises(ValueError, match=r"sample_steps.*after the overrides T=5; other values are 'hybrid-mnist''s"):
        apply_overrides(get_experiment("hybrid-mnist"), ["T=5"])


_KEY = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12)


@settings(max_examples=40, deadline=None)
@given(key=_KEY, value=st.integers(0, 99))
def test_unknown_key_is_refused_naming_it(key: str, value: int) -> None:
    cfg = get_experiment("hybrid-mnist")
    names = {path.rsplit(".", 1)[-1] for path in config_keys(cfg)}
    assume(key not in names and key not in {"experiment", "preset", "family"})
    with pytest.raises(ValueError, match=rf"key {key!r}"):
        apply_overrides(cfg, [f"{key}={value}"])


@settings(max_examples=40, deadline=None)
@given(
    key=st.sampled_from(["steps", "batch_size", "train.seed", "T", "n_qubits"]),
    junk=st.text(alphabet="abcxyz!?", min_size=1, max_size=6),
    valid=st.lists(st.sampled_from(["lr=0.001", "steps=7", "train.seed=2"]), max_size=2, unique=True),
)
def test_bad_value_is_refused_naming_its_key(key: str, junk: str, valid: list[str]) -> None:
    cfg = get_experiment("hybrid-mnist")
    with pytest.raises(ValueError, match=rf"{key.split('.')[-1]} must be"):
        apply_overrides(cfg, [*valid, f"{key}={junk}"])
