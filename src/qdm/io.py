"""Ground floor: atomic file writes and file checksums, written once for the whole package.

Every writer goes through :func:`atomic_write_bytes`: the payload goes to a hidden temporary file in
the target's folder, is flushed and fsynced, and replaces the target with ``os.replace``, so a reader
sees the old file or the new one, never half of one.  :func:`file_md5` is the one md5 of a file; its
two behaviours are explicit arguments: ``gzip_content`` (hash the decompressed content, as the
MNIST registry checks the ``.gz`` files) and ``cached`` (remember the digest per resolved path, size
and mtime, as the data layer does when it verifies the same files on every load).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "file_md5", "write_json"]

_CHUNK = 1 << 20
_MD5_CACHE: dict[tuple[str, int, int, bool], str] = {}


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], Any]) -> Path:
    """Let ``write(fh)`` fill a temporary file beside ``path``, fsync it and ``os.replace`` it onto ``path``."""
    if not callable(write):
        raise ValueError(f"write must be a callable taking a binary file, got {write!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_bytes(path: str | os.PathLike[str], payload: bytes) -> Path:
    """Write ``payload`` to ``path`` atomically (:func:`atomic_write`)."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ValueError(f"payload must be bytes, got {type(payload).__name__}")
    return atomic_write(path, lambda fh: fh.write(payload))


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically in ``encoding``."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    return atomic_write_bytes(path, text.encode(encoding))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Atomic, sorted, strict (no NaN) JSON with a two-space indent and a final newline."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def _hash_stream(path: Path, gzip_content: bool) -> str:
    """md5 hex digest of a file's bytes, or of its gunzipped content."""
    digest = hashlib.md5(usedforsecurity=False)
    opener = gzip.open if gzip_content else open
    with opener(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_md5(path: str | os.PathLike[str], *, gzip_content: bool = False, cached: bool = False) -> str:
    """md5 hex digest of a file's bytes (of its decompressed content with ``gzip_content``).

    ``cached=True`` remembers the digest per (resolved path, size, mtime_ns, gzip_content), so a file
    verified once is not read again until it changes.  Raises ``FileNotFoundError`` when ``path`` is
    not a file and ``OSError`` (``EOFError``/``zlib.error`` for a truncated gzip) when it cannot be read.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"cannot compute md5: {p} is not a file")
    if not cached:
        return _hash_stream(p, gzip_content)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns, gzip_content)
    if key not in _MD5_CACHE:
        _MD5_CACHE[key] = _hash_stream(p, gzip_content)
    return _MD5_CACHE[key]


#: The errors :func:`file_md5` raises for an unreadable or corrupt file (besides ``FileNotFoundError``).
READ_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error)
