"""Config hashes are the keys of the results store and the ledger: a field added to a config later must not change
the hash of any config made before it (qdm.config.LATER_FIELDS), and a non-default value of it must.

The golden values were computed on main at 289c62f, before ``DataConfig.subset_draw`` existed, with
``config_hash(get_preset(name, profile))`` for every registered preset at every profile that resolves,
``config_hash(get_experiment(name))`` for every named experiment, and, per chapter of ``qdm reproduce`` and profile,
the sha256 (first 16 hex digits) of the comma-joined hashes of ``chapter_jobs(chapter, profile, [0, 1])``."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from qdm import ledger
from qdm.chapters.jobs import CHAPTER_JOBS, chapter_jobs
from qdm.config import (
    EXPERIMENTS,
    LATER_FIELDS,
    PRESETS,
    DataConfig,
    EvalConfig,
    TrainConfig,
    apply_overrides,
    config_hash,
    from_dict,
    get_experiment,
    to_dict,
    to_json,
)
from qdm.families import PROFILE_NAMES
from qdm.families.hybrid import HybridModelConfig
from qdm.presets import get_preset

REPO_LEDGER = Path(__file__).resolve().parents[1] / "ledger"

#: ``name@profile`` (presets) or ``name`` (named experiments) -> config hash, computed on main before the change.
GOLDEN_HASHES: dict[str, str] = {
    "cacioppo2023-cond-latent@paper": "0a4006714a89",
    "cacioppo2023-cond-latent@book": "3d62f688931f",
    "cacioppo2023-cond-latent@cpu": "0e7771a1fdaa",
    "cacioppo2023-cond-latent@smoke": "1ae797df58be",
    "cacioppo2025-full@paper": "1d47d8503be8",
    "cacioppo2025-full@book": "4e3d325967ec",
    "cacioppo2025-full@cpu": "4d6dc0143759",
    "cacioppo2025-full@smoke": "d523daf7e2c8",
    "chen2025@paper": "c7f8e0299c4e",
    "chen2025@book": "c873dcba79af",
    "chen2025@cpu": "1e1e6adccb79",
    "chen2025@smoke": "fa0d4c2d8412",
    "chen2025-classical@paper": "61e6584ad399",
    "chen2025-classical@book": "7dc5d90fb0e8",
    "chen2025-classical@cpu": "504c0cb806d1",
    "chen2025-classical@smoke": "155f83be20f6",
    "chen2025-classical-pathmnist@paper": "9c6f90d769fe",
    "chen2025-classical-pathmnist@book": "9b0e4322a33e",
    "chen2025-classical-pathmnist@cpu": "ff0a55bdf490",
    "chen2025-classical-pathmnist@smoke": "57b92a0081ac",
    "chen2025-matched@paper": "0f4872d4d67e",
    "chen2025-matched@book": "812c756fffd7",
    "chen2025-matched@cpu": "77679e2c4078",
    "chen2025-matched@smoke": "6e48f1bba009",
    "chen2025-matched-pathmnist@paper": "57a27a4df1a7",
    "chen2025-matched-pathmnist@book": "0b939e6d7d23",
    "chen2025-matched-pathmnist@cpu": "3955697f903f",
    "chen2025-matched-pathmnist@smoke": "dc20742b8d13",
    "chen2025-pathmnist@paper": "e70713a8e6c2",
    "chen2025-pathmnist@book": "ae0cc1adce5a",
    "chen2025-pathmnist@cpu": "2459e5d63b6f",
    "chen2025-pathmnist@smoke": "7e321848005e",
    "chen2025-trainable@paper": "741728843e49",
    "chen2025-trainable@book": "1857aee6ff75",
    "chen2025-trainable@cpu": "8925641ef311",
    "chen2025-trainable@smoke": "48add718ea5e",
    "chen2025-trainable-pathmnist@paper": "3b18f3d81785",
    "chen2025-trainable-pathmnist@book": "1828d47ec5e2",
    "chen2025-trainable-pathmnist@cpu": "b867729805e7",
    "chen2025-trainable-pathmnist@smoke": "949b1722834c",
    "jo2025-ano@paper": "6ecda751671d",
    "jo2025-ano@book": "d827f6f6123d",
    "jo2025-ano@cpu": "d71fe4963134",
    "jo2025-ano@smoke": "afe1542c37c9",
    "koelle2024@paper": "0bb48d209a32",
    "koelle2024@book": "e43c159c76d4",
    "koelle2024@cpu": "2f8e0d21a895",
    "koelle2024@smoke": "ad1ce0a15ac5",
    "depolarizing-qdm": "a848997221d6",
    "depolarizing-qdm-unitary": "243ba604503c",
    "hybrid-mnist": "3e9b0c2bedf2",
    "hybrid-pathmnist": "62559874497e",
    "pqc-cond-latent-mnist": "a267f1b8826b",
    "pqc-latent-mnist": "52273da13cb9",
    "pqc-mnist": "908e0c5f57ce",
}

#: (chapter, profile) -> (digest of the job list's hashes at seeds 0 and 1, number of jobs), computed on main.
GOLDEN_CHAPTER_JOBS: dict[tuple[str, str], tuple[str, int]] = {
    ("ano", "paper"): ("65f8b76c95fc1894", 8),
    ("ano", "book"): ("977507eb7b2185af", 8),
    ("ano", "cpu"): ("23d70ddafa76bb03", 8),
    ("ano", "smoke"): ("f6a6a25c3798cc5b", 8),
    ("hybrid", "paper"): ("08d8b2fd34580d33", 32),
    ("hybrid", "book"): ("a324d0e4f6756215", 32),
    ("hybrid", "cpu"): ("3b07464e06cd33d5", 32),
    ("hybrid", "smoke"): ("1058f5ff921e7ef9", 32),
    ("pathmnist", "paper"): ("a95faa41282f3b3b", 8),
    ("pathmnist", "book"): ("f6c9f4519901a6cf", 8),
    ("pathmnist", "cpu"): ("eadf5aeb5fc70738", 8),
    ("pathmnist", "smoke"): ("99928a066618ae27", 8),
    ("pqc", "paper"): ("cc337577caeb86ea", 10),  # + the two ablations of cacioppo2023-cond-latent
    ("pqc", "book"): ("ed12c05aa7e8c15f", 10),
    ("pqc", "cpu"): ("979aa42354e0e233", 10),
    ("pqc", "smoke"): ("cae2100fc09918ac", 10),
}


def _own(registry: dict) -> list[str]:
    """The names qdm itself registers (other tests register their own tiny experiments)."""
    return sorted(name for name, factory in registry.items() if getattr(factory, "__module__", "").startswith("qdm."))


def _resolvable() -> dict[str, str]:
    """The hash of every registered preset at every profile that resolves, and of every named experiment, now."""
    now = {}
    for name in _own(PRESETS):
        for profile in PROFILE_NAMES:
            try:
                now[f"{name}@{profile}"] = config_hash(get_preset(name, profile))
            except ValueError:
                continue
    for name in _own(EXPERIMENTS):
        now[name] = config_hash(get_experiment(name))
    return now


def test_every_preset_and_experiment_hashes_as_before() -> None:
    assert _resolvable() == GOLDEN_HASHES  # same keys (no profile gained or lost) and the same hash for each


@pytest.mark.parametrize(("chapter", "profile"), sorted(GOLDEN_CHAPTER_JOBS))
def test_every_chapter_job_list_hashes_as_before(chapter: str, profile: str) -> None:
    jobs = chapter_jobs(chapter, profile, [0, 1])
    digest = hashlib.sha256(",".join(config_hash(c) for _, _, c in jobs).encode()).hexdigest()[:16]
    assert (digest, len(jobs)) == GOLDEN_CHAPTER_JOBS[(chapter, profile)]


def test_the_chapters_that_existed_resolve_at_the_same_profiles() -> None:
    before = {c for c, _ in GOLDEN_CHAPTER_JOBS}
    assert before <= set(CHAPTER_JOBS)
    for chapter in before:
        now = set()
        for profile in PROFILE_NAMES:
            try:
                chapter_jobs(chapter, profile, [0])
            except ValueError:
                continue
            now.add(profile)
        assert now == {p for c, p in GOLDEN_CHAPTER_JOBS if c == chapter}


def test_committed_ledger_entries_still_hash_to_their_folder() -> None:
    entries = ledger.entries(REPO_LEDGER)
    assert entries  # the committed ledger holds runs
    for entry in entries:
        saved = json.loads((entry.path / "config.json").read_text())
        cfg = from_dict(saved)
        assert config_hash(cfg) == entry.config_hash == entry.path.name
        assert json.loads(to_json(cfg)) == saved  # the runner's check of a stored config.json still passes


_SECTIONS = {"data": DataConfig, "train": TrainConfig, "eval": EvalConfig, "model": HybridModelConfig}


@pytest.mark.parametrize(("section", "name"), sorted(LATER_FIELDS))
def test_later_fields_are_registered_with_their_dataclass_default(section: str, name: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(_SECTIONS[section])}
    assert name in fields, f"LATER_FIELDS names {section}.{name}, which its dataclass does not have"
    assert fields[name].default == LATER_FIELDS[(section, name)]


def test_subset_draw_at_its_default_is_left_out_and_any_other_value_is_hashed() -> None:
    cfg = get_preset("chen2025", "smoke")
    assert cfg.data.subset_draw == "choice" and "subset_draw" not in to_dict(cfg)["data"]
    assert config_hash(cfg) == GOLDEN_HASHES["chen2025@smoke"]
    nested = apply_overrides(cfg, ["data.subset_draw=nested"])
    assert nested.data.subset_draw == "nested" and to_dict(nested)["data"]["subset_draw"] == "nested"
    assert config_hash(nested) != config_hash(cfg)
    back = from_dict(json.loads(to_json(nested)))
    assert back == nested and config_hash(back) == config_hash(nested)
    # a config written before the field existed (no key) reads back with the default, and the same hash
    old = json.loads(to_json(cfg))
    assert "subset_draw" not in old["data"] and from_dict(old) == cfg
    # setting the default explicitly is the same config as leaving it out
    assert config_hash(apply_overrides(nested, ["data.subset_draw=choice"])) == config_hash(cfg)
    with pytest.raises(ValueError, match="subset_draw must be one of 'choice', 'nested'"):
        apply_overrides(cfg, ["data.subset_draw=sorted"])


def test_circuit_dtype_at_its_default_is_left_out_and_complex64_is_hashed() -> None:
    cfg = get_preset("chen2025-trainable", "cpu")
    assert cfg.model.circuit_dtype == "complex128" and "circuit_dtype" not in to_dict(cfg)["model"]
    assert config_hash(cfg) == GOLDEN_HASHES["chen2025-trainable@cpu"]
    single = apply_overrides(cfg, ["model.circuit_dtype=complex64"])
    assert to_dict(single)["model"]["circuit_dtype"] == "complex64" and config_hash(single) != config_hash(cfg)
    assert from_dict(json.loads(to_json(single))) == single
    with pytest.raises(ValueError, match="circuit_dtype must be one of 'complex128', 'complex64'"):
        apply_overrides(cfg, ["model.circuit_dtype=float16"])
    with pytest.raises(ValueError, match="circuit_dtype 'complex64' needs backend 'torch' or 'statevector'"):
        apply_overrides(cfg, ["model.circuit_dtype=complex64", "model.backend=pennylane"])
