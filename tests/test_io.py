"""qdm.io (atomic writers, the one file_md5) and qdm.validation (the shared argument checks)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest

import qdm.io as qio
from qdm import data, provenance
from qdm.validation import check_choice, check_float, check_int


def _md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def test_atomic_writers_write_exactly_and_leave_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "a.bin"
    qio.atomic_write_bytes(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    qio.atomic_write_text(p, "héllo")
    assert p.read_bytes() == "héllo".encode()
    qio.write_json(tmp_path / "x.json", {"b": 1, "a": [1.5]})
    assert (tmp_path / "x.json").read_text() == json.dumps({"a": [1.5], "b": 1}, indent=2) + "\n"
    assert sorted(os.listdir(tmp_path / "sub")) == ["a.bin"]


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_text("old")

    def broken(fh) -> None:
        fh.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        qio.atomic_write(p, broken)
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]


def test_write_json_rejects_nan(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        qio.write_json(tmp_path / "n.json", {"x": float("nan")})
    assert not (tmp_path / "n.json").exists()


def test_file_md5_cached_and_uncached_behaviour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(b"abc")
    calls: list[Path] = []
    real = qio._hash_stream
    monkeypatch.setattr(qio, "_hash_stream", lambda path, g: calls.append(path) or real(path, g))
    assert qio.file_md5(p) == qio.file_md5(p) == _md5(b"abc")
    assert len(calls) == 2  # uncached: read every time
    assert qio.file_md5(p, cached=True) == qio.file_md5(p, cached=True) == _md5(b"abc")
    assert len(calls) == 3  # cached: the second call is served from the (path, size, mtime) key
    st = p.stat()
    p.write_bytes(b"xyz")  # same size; restore the mtime: the cache cannot see the change
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert qio.file_md5(p, cached=True) == _md5(b"abc")  # the documented staleness of the cached mode
    assert qio.file_md5(p) == _md5(b"xyz")  # the uncached mode reads the bytes
    gz = tmp_path / "f.gz"
    gz.write_bytes(gzip.compress(b"payload"))
    assert qio.file_md5(gz, gzip_content=True) == _md5(b"payload") != qio.file_md5(gz)
    with pytest.raises(FileNotFoundError):
        qio.file_md5(tmp_path / "missing")


def test_callers_keep_their_md5_behaviour(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(b"abc")
    assert data.file_md5(p) == provenance.file_md5(p) == _md5(b"abc")
    st = p.stat()
    p.write_bytes(b"xyz")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert data.file_md5(p) == _md5(b"abc")  # the data layer caches (it verifies the same files on every load)
    assert provenance.file_md5(p) == _md5(b"xyz")  # figure sidecars never use a cached digest
    with pytest.raises(data.DataNotFoundError):
        data.file_md5(tmp_path / "missing")
    with pytest.raises(ValueError, match="not a readable file"):
        provenance.file_md5(tmp_path / "missing")


def test_validation_checks() -> None:
    assert check_int(3, "n", 1) == 3 and check_int(5, "n", 1, 5) == 5
    for bad in (True, 0, 1.0, "2", 6):
        with pytest.raises(ValueError, match=r"^n must be an int in \[1, 5\], got"):
            check_int(bad, "n", 1, 5)
    assert check_float(1, "x", 0.0, 1.0) == 1.0 and isinstance(check_float(1, "x"), float)
    for bad in (0.0, float("nan"), float("inf"), True, "0.5"):
        with pytest.raises(ValueError, match=r"^x must be a finite float in \(0.0, 1.0\]"):
            check_float(bad, "x", 0.0, 1.0, low_open=True)
    assert check_choice("a", "kind", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="kind must be one of 'a', 'b', got 'c'"):
        check_choice("c", "kind", ("a", "b"))
