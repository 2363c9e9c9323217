"""qdm.provenance: records, checksums, atomic figure saving, caption notes; qdm.chapters.theory parameter validation."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

import qdm
from qdm import provenance
from qdm.chapters.theory import THEORY_SCHEDULES, TheoryParams

MNIST_MD5 = "f12e07c371f4a59f000a3d87fcdc3f4d"  # shared/data/PROVENANCE.md


@pytest.fixture()
def fig():
    """A small line plot, closed after the test."""
    figure, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1, 2], [1, 0, 1])
    yield figure
    plt.close(figure)


@pytest.fixture(scope="module")
def rec() -> dict:
    """A record without data files."""
    return provenance.record({"T": 10, "schedule": "cosine", "p": 0.25}, seed=3)


# ----------------------------------------------------------------------------------- record


def test_record_fields_and_json_roundtrip(rec: dict) -> None:
    for key in ("schema", "producer", "params", "seed", "qdm_version", "source_hash", "lock_hash", "git", "python",
                "platform", "cpu", "versions", "time", "data"):
        assert key in rec, key
    assert rec["cpu"]["capability"] == torch.backends.cpu.get_cpu_capability()
    assert rec["params"] == {"T": 10, "schedule": "cosine", "p": 0.25}
    assert rec["seed"] == 3
    assert rec["qdm_version"] == qdm.__version__
    assert re.fullmatch(r"[0-9a-f]{64}", rec["source_hash"])
    assert set(rec["versions"]) >= {"torch", "pennylane"}
    assert rec["versions"]["torch"].startswith("2.")
    assert rec["data"] == []
    assert rec["producer"] is None
    assert provenance.record({}, 0, producer="notebooks/x.py")["producer"] == "notebooks/x.py"
    assert json.loads(json.dumps(rec)) == rec


def test_record_git_state_of_this_checkout(rec: dict) -> None:
    git = rec["git"]
    assert git["available"] is True  # the tests run from the git checkout
    assert re.fullmatch(r"[0-9a-f]{40}", git["commit"])
    assert isinstance(git["dirty"], bool)
    assert isinstance(git["untracked"], int) and git["untracked"] >= 0
    if git["untracked"] > 0:
        assert git["dirty"] is True


def test_record_without_git_does_not_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provenance, "repo_root", lambda: None)
    rec = provenance.record({"a": 1}, None)
    assert rec["git"] == {"available": False, "commit": None, "dirty": None, "untracked": None}
    assert rec["lock_hash"] is None
    assert "no git" in provenance.caption_note(rec)


def test_md5_matches_hashlib_and_published_checksum(tmp_path: Path, data_dir: Path) -> None:
    payload = bytes(range(256)) * 5000  # > one read chunk
    path = tmp_path / "blob.bin"
    path.write_bytes(payload)
    assert provenance.file_md5(path) == hashlib.md5(payload).hexdigest()
    rec = provenance.record({}, 0, [path, data_dir / "mnist" / "mnist.npz"])
    assert rec["data"][0]["md5"] == hashlib.md5(payload).hexdigest()
    assert rec["data"][0]["bytes"] == len(payload)
    assert rec["data"][1]["md5"] == MNIST_MD5


def test_md5_changes_with_one_byte(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"\x00" * 1000)
    before = provenance.file_md5(path)
    path.write_bytes(b"\x00" * 999 + b"\x01")
    assert provenance.file_md5(path) != before


def test_source_hash_tracks_python_sources(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    shutil.copytree(Path(qdm.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    base = provenance.source_hash(pkg)
    assert base == provenance.source_hash()  # same bytes, same hash
    (pkg / "notes.txt").write_text("not python")
    assert provenance.source_hash(pkg) == base
    init = pkg / "__init__.py"
    init.write_text(init.read_text() + "\n# edited\n")
    assert provenance.source_hash(pkg) != base


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"params": [1, 2], "seed": 0}, "params must be a mapping"),
        ({"params": {"a": 1}, "seed": -1}, "seed must be"),
        ({"params": {"a": 1}, "seed": 1.5}, "seed must be"),
        ({"params": {"f": object()}, "seed": 0}, "params: f"),
        ({"params": {"x": float("nan")}, "seed": 0}, "params: x"),
        ({"params": {}, "seed": 0, "data_files": ["/no/such/file.npz"]}, "data_files"),
        ({"params": {}, "seed": 0, "data_files": "/a/single/path"}, "data_files must be a list"),
        ({"params": {}, "seed": 0, "producer": ""}, "producer must be"),
    ],
)
def test_record_rejects_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        provenance.record(**kwargs)


def test_record_converts_numpy_and_paths() -> None:
    rec = provenance.record({"n": np.int64(4), "x": np.float32(0.5), "p": Path("/a/b"), "v": (1, 2)}, 0)
    assert rec["params"] == {"n": 4, "x": 0.5, "p": "/a/b", "v": [1, 2]}
    assert type(rec["params"]["n"]) is int


# ----------------------------------------------------------------------------------- save_figure


def test_save_figure_writes_all_files_with_checksums(fig, rec: dict, tmp_path: Path) -> None:
    frame = pd.DataFrame({"t": [0, 1, 2], "value": [1.0, 0.0, 1.0]})
    files = provenance.save_figure(fig, "fig-test", tmp_path, rec, data=frame)
    assert set(files) == {"png", "svg", "csv", "json"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig-test.csv", "fig-test.json", "fig-test.png", "fig-test.svg"]
    assert files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert files["svg"].read_text().lstrip().startswith("<?xml")
    pd.testing.assert_frame_equal(pd.read_csv(files["csv"]), frame)
    sidecar = json.loads(files["json"].read_text())
    assert sidecar["figure"] == "fig-test"
    assert sidecar["params"] == rec["params"]
    for ext in ("png", "svg", "csv"):
        assert sidecar["files"][ext]["md5"] == hashlib.md5(files[ext].read_bytes()).hexdigest()


def test_save_figure_is_deterministic(fig, rec: dict, tmp_path: Path) -> None:
    a = provenance.save_figure(fig, "a", tmp_path / "1", rec)
    b = provenance.save_figure(fig, "a", tmp_path / "2", rec)
    for ext in ("png", "svg"):
        assert a[ext].read_bytes() == b[ext].read_bytes(), ext


def test_failed_save_leaves_no_partial_files(fig, rec: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = fig.savefig

    def failing_savefig(path, *args, **kwargs):
        if kwargs.get("format") == "svg":
            Path(path).write_bytes(b"half an svg")
            raise OSError("disk full")
        return original(path, *args, **kwargs)

    monkeypatch.setattr(fig, "savefig", failing_savefig)
    with pytest.raises(OSError, match="disk full"):
        provenance.save_figure(fig, "broken", tmp_path, rec)
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_previous_version(fig, rec: dict, tmp_path: Path) -> None:
    old = provenance.save_figure(fig, "keep", tmp_path, rec, data=pd.DataFrame({"a": [1]}))
    before = {ext: p.read_bytes() for ext, p in old.items()}

    class BadFrame:
        def to_csv(self, path, index=False):
            Path(path).write_text("a\n")
            raise RuntimeError("cannot serialise")

    with pytest.raises(RuntimeError, match="cannot serialise"):
        provenance.save_figure(fig, "keep", tmp_path, rec, data=BadFrame())
    assert {ext: p.read_bytes() for ext, p in old.items()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in old.values())


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("../escape", "rec"), "name must match"),
        (("", "rec"), "name must match"),
        (("ok", {"no": "params"}), "record must be"),
    ],
)
def test_save_figure_rejects_bad_input(fig, rec: dict, tmp_path: Path, args: tuple, match: str) -> None:
    name, record = args
    with pytest.raises(ValueError, match=match):
        provenance.save_figure(fig, name, tmp_path, rec if record == "rec" else record)
    assert list(tmp_path.iterdir()) == []


def test_save_figure_rejects_non_figure(rec: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fig must be"):
        provenance.save_figure("not a figure", "x", tmp_path, rec)


# ----------------------------------------------------------------------------------- caption_note


def test_caption_note_content(rec: dict, data_dir: Path) -> None:
    with_data = provenance.record({"T": 10, "schedule": "cosine"}, 7, [data_dir / "mnist" / "mnist.npz"])
    note = provenance.caption_note(with_data)
    assert "\n" not in note
    assert "T=10" in note and "schedule=cosine" in note
    assert "seed 7" in note
    assert f"mnist.npz:{MNIST_MD5[:8]}" in note
    assert f"qdm {qdm.__version__}" in note
    assert with_data["git"]["commit"][:7] in note
    assert ("(dirty)" in note) == bool(with_data["git"]["dirty"])
    assert "md5" not in provenance.caption_note(rec)  # no data files, no checksum


def test_caption_note_dirty_flag(rec: dict) -> None:
    clean = dict(rec, git={"available": True, "commit": "a" * 40, "dirty": False, "untracked": 0})
    dirty = dict(rec, git={"available": True, "commit": "a" * 40, "dirty": True, "untracked": 2})
    assert "aaaaaaa" in provenance.caption_note(clean) and "(dirty)" not in provenance.caption_note(clean)
    assert "(dirty)" in provenance.caption_note(dirty)


def test_caption_note_rejects_incomplete_record() -> None:
    with pytest.raises(ValueError, match="missing"):
        provenance.caption_note({"params": {}})


def test_inputs_fingerprint_keys(data_dir: Path) -> None:
    fp = provenance.inputs_fingerprint()
    assert fp["source_hash"] == provenance.source_hash()
    assert re.fullmatch(r"[0-9a-f]{64}", fp["data_hash"])
    assert provenance.data_fingerprint()["mnist/mnist.npz"] == MNIST_MD5


def test_results_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QDM_RESULTS_DIR", str(tmp_path))
    assert provenance.results_dir() == tmp_path.resolve()


# ----------------------------------------------------------------------------------- TheoryParams


def test_theory_params_defaults_valid() -> None:
    p = TheoryParams()
    assert p.as_dict()["T"] == 1000
    assert set(THEORY_SCHEDULES) == {"linear", "cosine", "tailored"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("T", -5), ("T", 1), ("T", 10.0), ("T", True),
        ("schedule", "nope"), ("schedule", 3),
        ("n_qubits", 0), ("n_qubits", 7),
        ("seed", -1), ("n_images", 0), ("n_images", 17), ("digit", 10), ("n_samples", 10),
    ],
)
def test_theory_params_reject_names_parameter(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{field} must be"):
        TheoryParams(**{field: value})


def test_theory_params_frozen() -> None:
    p = TheoryParams()
    with pytest.raises(AttributeError):
        p.T = 5  # type: ignore[misc]
