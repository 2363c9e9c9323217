"""Data layer: MNIST and PathMNIST loaders over a checksummed file registry.

The registry follows d2l's ``DATA_HUB`` (name -> file, md5, source URL, licence). Files live
in a data directory chosen by :func:`resolve_data_dir` (argument, else ``$QDM_DATA_DIR``, else
the user cache directory), with the layout of ``shared/data/PROVENANCE.md``::

    mnist/mnist.npz                      Keras layout: x_train, y_train, x_test, y_test
    mnist/t10k-images-idx3-ubyte.gz      optional official IDX test images (cross-checked)
    mnist/t10k-labels-idx1-ubyte.gz      optional official IDX test labels (cross-checked)
    pathmnist/pathmnist.npz              official MedMNIST file (preferred when present), or
    pathmnist/pathmnist_subset.npz       real 1000/761 train/test subset (no val split)

Two MNIST files are recognised by md5: the official Keras ``mnist.npz`` (official order) and
the shared rebuild, whose ``x_train`` holds all 60,000 official training images **grouped by
class** (not the official order). :meth:`ImageDataset.subset` always shuffles with its seed, so
"the first N images" of a subset is a seeded random draw whichever file was loaded.

Nothing is downloaded unless asked (:func:`download`, or ``load_dataset(..., download=True)``).
Downloads go to a temporary file in the target folder and are renamed into place only after
their md5 matches, so an interrupted or corrupt download leaves nothing behind.
"""

from __future__ import annotations

import functools
import gzip
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from qdm import io as qio

if TYPE_CHECKING:  # torch is imported lazily so that ``qdm.data`` stays a numpy-only import
    import torch
    from torch.utils.data import TensorDataset

__all__ = [
    "DATASETS",
    "DATA_HUB",
    "ENV_VAR",
    "SPLITS",
    "SUBSET_DRAWS",
    "SubsetDraw",
    "Checksum",
    "DataChecksumError",
    "DataError",
    "DataNotFoundError",
    "DataSource",
    "DatasetInfo",
    "ImageDataset",
    "RegistryEntry",
    "download",
    "download_url",
    "file_md5",
    "info",
    "load_dataset",
    "read_idx",
    "REGISTRY_NAMES",
    "registry_entry",
    "resolve_data_dir",
]

ENV_VAR = "QDM_DATA_DIR"
DATASETS: tuple[str, ...] = ("mnist", "pathmnist")
SPLITS: tuple[str, ...] = ("train", "val", "test")
Scale = Literal["minus_one_one", "unit"]
#: How :meth:`ImageDataset.subset` picks each class's images: "choice" (not nested across sizes) or "nested".
SubsetDraw = Literal["choice", "nested"]
SUBSET_DRAWS: tuple[str, ...] = ("choice", "nested")
_SCALES: tuple[str, ...] = ("minus_one_one", "unit")
_CHUNK = 1 << 20


# --------------------------------------------------------------------------- errors


class DataError(ValueError):
    """A data file is missing, corrupt, fails its checksum, or a request cannot be met."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data directory or file does not exist (catchable as ``FileNotFoundError`` too)."""


class DataChecksumError(DataError):
    """A file's md5 is not one of the checksums the registry knows for it."""


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Checksum:
    """One accepted md5 of a registry file and what a match means."""

    md5: str
    note: str


@dataclass(frozen=True)
class RegistryEntry:
    """d2l DATA_HUB style record: registry name -> relative file, accepted md5s, URL, licence.

    ``gzip_content`` means the md5s are of the decompressed content (a re-gzipped copy of an
    official ``.gz`` file then still verifies).
    """

    name: str
    dataset: str
    relpath: str
    checksums: tuple[Checksum, ...]
    url: str | None
    licence: str
    origin: str
    gzip_content: bool = False

    @property
    def md5s(self) -> tuple[str, ...]:
        """All accepted md5 hex digests."""
        return tuple(c.md5 for c in self.checksums)

    def checksum_note(self, md5: str) -> str:
        """The note attached to an accepted md5 (ValueError if it is not accepted)."""
        for checksum in self.checksums:
            if checksum.md5 == md5:
                return checksum.note
        raise ValueError(f"md5={md5!r} is not one of {self.md5s} for registry entry {self.name!r}")


MNIST_KERAS_MD5 = "8a61469f7ea1b51cbae51d4f78837e45"
MNIST_REBUILT_MD5 = "f12e07c371f4a59f000a3d87fcdc3f4d"
MNIST_T10K_IMAGES_MD5 = "2646ac647ad5339dbf082846283269ea"
MNIST_T10K_LABELS_MD5 = "27ae3e4e09519cfbb04c329615203637"
PATHMNIST_SUBSET_MD5 = "166a4f2fb84e460094a7c8005fd58aa6"

_MNIST_LICENCE = (
    "CC BY-SA 3.0 (Y. LeCun and C. Cortes hold the copyright; derivative of NIST SD-3/SD-1)"
)
_PATHMNIST_LICENCE = "CC BY 4.0 (MedMNIST v2, Yang et al. 2023; from NCT-CRC-HE-100K / CRC-VAL-HE-7K)"

_MNIST_ROOT = "https://ossci-datasets.s3.amazonaws.com/mnist/"

DATA_HUB: dict[str, RegistryEntry] = {
    "mnist": RegistryEntry(
        name="mnist",
        dataset="mnist",
        relpath="mnist/mnist.npz",
        checksums=(
            Checksum(MNIST_KERAS_MD5, "official Keras mnist.npz: train and test in the official order"),
            Checksum(
                MNIST_REBUILT_MD5,
                "rebuilt mnist.npz (shared/data/PROVENANCE.md): test split official and in official "
                "order; x_train holds all 60,000 official training images GROUPED BY CLASS, not in "
                "the official order (subset() shuffles with its seed)",
            ),
        ),
        url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        licence=_MNIST_LICENCE,
        origin="Keras datasets (tf.keras.datasets.mnist)",
    ),
    "mnist_t10k_images": RegistryEntry(
        name="mnist_t10k_images",
        dataset="mnist",
        relpath="mnist/t10k-images-idx3-ubyte.gz",
        checksums=(Checksum(MNIST_T10K_IMAGES_MD5, "official MNIST test images (IDX, md5 of decompressed file)"),),
        url=_MNIST_ROOT + "t10k-images-idx3-ubyte.gz",
        licence=_MNIST_LICENCE,
        origin="yann.lecun.com/exdb/mnist (mirror used by torchvision)",
        gzip_content=True,
    ),
    "mnist_t10k_labels": RegistryEntry(
        name="mnist_t10k_labels",
        dataset="mnist",
        relpath="mnist/t10k-labels-idx1-ubyte.gz",
        checksums=(Checksum(MNIST_T10K_LABELS_MD5, "official MNIST test labels (IDX, md5 of decompressed file)"),),
        url=_MNIST_ROOT + "t10k-labels-idx1-ubyte.gz",
        licence=_MNIST_LICENCE,
        origin="yann.lecun.com/exdb/mnist (mirror used by torchvision)",
        gzip_content=True,
    ),
    "pathmnist_subset": RegistryEntry(
        name="pathmnist_subset",
        dataset="pathmnist",
        relpath="pathmnist/pathmnist_subset.npz",
        checksums=(
            Checksum(
                PATHMNIST_SUBSET_MD5,
                "real PathMNIST subset (shared/data/PROVENANCE.md): 1000 train + 761 test images, "
                "no val split; for smoke tests, not for published PathMNIST numbers",
            ),
        ),
        url=None,
        licence=_PATHMNIST_LICENCE,
        origin="assembled from public repositories, see shared/data/PROVENANCE.md",
    ),
}

# The official PathMNIST entry takes its URL and md5 from medmnist.INFO (imported lazily: medmnist
# pulls in torch and PIL and creates ~/.medmnist), see :func:`registry_entry`.
_MEDMNIST_KEYS = ("pathmnist",)
REGISTRY_NAMES: tuple[str, ...] = ("mnist", "mnist_t10k_images", "mnist_t10k_labels", "pathmnist", "pathmnist_subset")


@functools.cache
def _medmnist_entry(flag: str) -> RegistryEntry:
    """MedMNIST v2 (yang2023medmnist): the official ``<flag>.npz`` entry from ``medmnist.INFO``."""
    try:
        from medmnist.info import INFO  # deliberately lazy
    except ImportError as err:  # pragma: no cover - medmnist is a declared dependency
        raise DataError(
            f"the official {flag} registry entry needs medmnist's INFO table (url, md5): "
            f"install it with `pip install --no-deps medmnist==3.0.2` ({err})"
        ) from None
    record = INFO[flag]
    return RegistryEntry(
        name=flag,
        dataset=flag,
        relpath=f"{flag}/{flag}.npz",
        checksums=(Checksum(record["MD5"], f"official MedMNIST {flag}.npz (train/val/test)"),),
        url=record["url"],
        licence=f"{record['license']} (MedMNIST v2, Yang et al. 2023)",
        origin="MedMNIST v2 on Zenodo (medmnist.INFO)",
    )


def registry_entry(name: str) -> RegistryEntry:
    """d2l DATA_HUB lookup: the registry record for ``name`` (one of ``REGISTRY_NAMES``)."""
    if not isinstance(name, str):
        raise DataError(f"registry name must be a str, got {type(name).__name__}")
    if name in DATA_HUB:
        return DATA_HUB[name]
    if name in _MEDMNIST_KEYS:
        return _medmnist_entry(name)
    raise DataError(f"unknown registry name={name!r}; known names: {', '.join(REGISTRY_NAMES)}")


# --------------------------------------------------------------------------- dataset facts


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset: classes, image shape, official split sizes, files, licence."""

    name: str
    classes: tuple[str, ...]
    image_shape: tuple[int, ...]
    split_sizes: tuple[tuple[str, int], ...]
    files: tuple[str, ...]
    licence: str
    reference: str

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def channels(self) -> int:
        """1 for grey images (H, W), 3 for RGB (H, W, 3)."""
        return 1 if len(self.image_shape) == 2 else self.image_shape[-1]


# PathMNIST class names and official split sizes as in medmnist.INFO["pathmnist"] (3.0.2);
# tests/test_data.py holds them against medmnist.INFO.
_INFO: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        name="mnist",
        classes=tuple(str(d) for d in range(10)),
        image_shape=(28, 28),
        split_sizes=(("train", 60000), ("test", 10000)),
        files=("mnist", "mnist_t10k_images", "mnist_t10k_labels"),
        licence=_MNIST_LICENCE,
        reference="LeCun, Bottou, Bengio, Haffner (1998), Proc. IEEE 86(11) 2278-2324",
    ),
    "pathmnist": DatasetInfo(
        name="pathmnist",
        classes=(
            "adipose",
            "background",
            "debris",
            "lymphocytes",
            "mucus",
            "smooth muscle",
            "normal colon mucosa",
            "cancer-associated stroma",
            "colorectal adenocarcinoma epithelium",
        ),
        image_shape=(28, 28, 3),
        split_sizes=(("train", 89996), ("val", 10004), ("test", 7180)),
        files=("pathmnist", "pathmnist_subset"),
        licence=_PATHMNIST_LICENCE,
        reference="Yang et al., MedMNIST v2, Scientific Data 10, 41 (2023)",
    ),
}


def _check_dataset_name(name: object) -> str:
    """Validate a dataset name against :data:`DATASETS`."""
    if not isinstance(name, str) or name not in _INFO:
        raise DataError(f"unknown dataset name={name!r}; allowed: {', '.join(DATASETS)}")
    return name


def info(name: str) -> DatasetInfo:
    """Static description of dataset ``name`` (classes, image shape, official split sizes)."""
    return _INFO[_check_dataset_name(name)]


# --------------------------------------------------------------------------- directories


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``data_dir`` if given, else ``$QDM_DATA_DIR``, else the user cache dir."""
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)):
            raise ValueError(f"data_dir must be a str, os.PathLike or None, got {type(data_dir).__name__}")
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs  # only needed for the fallback

    return Path(platformdirs.user_cache_dir("qdm"))


def _where_from(data_dir: str | os.PathLike[str] | None) -> str:
    """Human-readable account of how the data directory was chosen."""
    if data_dir is not None:
        return "the data_dir argument"
    if os.environ.get(ENV_VAR, "").strip():
        return f"${ENV_VAR}"
    return f"the user cache directory (${ENV_VAR} is not set)"


def _require_dir(root: Path, data_dir: str | os.PathLike[str] | None, dataset: str) -> None:
    """Raise DataNotFoundError when the data directory does not exist."""
    if not root.is_dir():
        raise DataNotFoundError(
            f"data directory {root} (from {_where_from(data_dir)}) does not exist. Pass data_dir=..., "
            f"set ${ENV_VAR} to a folder holding mnist/ and pathmnist/, or fetch the files with "
            f"qdm.data.download({dataset!r}) / load_dataset(..., download=True)."
        )


# --------------------------------------------------------------------------- checksums


def _stat_key(path: Path, gzip_content: bool) -> tuple[str, int, int, bool]:
    """Cache key (resolved path, size, mtime_ns, mode) of a file (the npz cache keys on its sources)."""
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns, gzip_content)


def file_md5(path: str | os.PathLike[str], *, gzip_content: bool = False) -> str:
    """md5 of a file (of its decompressed content if ``gzip_content``), cached per (path, size, mtime).

    :func:`qdm.io.file_md5` with ``cached=True``; a missing file raises :class:`DataNotFoundError`, an
    unreadable or truncated one :class:`DataError`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"cannot compute md5: {path} is not a file")
    try:
        return qio.file_md5(path, gzip_content=gzip_content, cached=True)
    except qio.READ_ERRORS as err:
        raise DataError(f"cannot read {path} to compute its md5: corrupt or truncated ({err})") from None


def _verify(path: Path, entry: RegistryEntry) -> str:
    """Return the file's md5 if the registry accepts it, else raise DataChecksumError."""
    md5 = file_md5(path, gzip_content=entry.gzip_content)
    if md5 not in entry.md5s:
        what = "decompressed content" if entry.gzip_content else "file"
        fix = (
            f"re-fetch it with qdm.data.download({entry.name!r}, force=True)"
            if entry.url
            else "copy a good copy in (see shared/data/PROVENANCE.md)"
        )
        raise DataChecksumError(
            f"checksum mismatch for {path} ({path.stat().st_size} bytes): md5 of the {what} is {md5}, "
            f"expected one of {', '.join(entry.md5s)} (registry entry {entry.name!r}). The file is "
            f"corrupt, truncated or a different version: delete it and {fix}, or pass verify=False "
            f"to load it unchecked."
        )
    return md5


# --------------------------------------------------------------------------- downloads


def download_url(
    url: str,
    dest: str | os.PathLike[str],
    md5: str | Sequence[str],
    *,
    gzip_content: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` into ``dest`` atomically: temp file, md5 check, then ``os.replace``."""
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(f"url must be a URL string such as https://... or file://..., got {url!r}")
    accepted = (md5,) if isinstance(md5, str) else tuple(md5)
    if not accepted or not all(isinstance(m, str) and len(m) == 32 for m in accepted):
        raise ValueError(f"md5 must be one or more 32-character hex digests, got {md5!r}")
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s)/file
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        out.write(chunk)
            except (urllib.error.URLError, OSError, ValueError) as err:
                raise DataError(f"download of {url} to {dest} failed: {err}") from None
            out.flush()
            os.fsync(out.fileno())
        got = qio.file_md5(tmp, gzip_content=gzip_content)
        if got not in accepted:
            raise DataChecksumError(
                f"downloaded {url} has md5 {got}, expected one of {', '.join(accepted)}; "
                f"nothing was written to {dest}"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _fetch_entry(entry: RegistryEntry, root: Path, url: str | None, force: bool) -> Path:
    """Download one registry file into ``root`` unless a copy with an accepted md5 is there."""
    source_url = entry.url if url is None else url
    if source_url is None:
        raise DataError(
            f"registry entry {entry.name!r} ({entry.relpath}) has no public download URL: {entry.origin}. "
            f"Copy the file into <data dir>/{entry.relpath}, or pass url=..."
        )
    dest = root / entry.relpath
    if dest.is_file() and not force:
        try:
            if file_md5(dest, gzip_content=entry.gzip_content) in entry.md5s:
                return dest
        except DataError:
            pass  # unreadable copy: replace it, as d2l's download does for a hash mismatch
    return download_url(source_url, dest, entry.md5s, gzip_content=entry.gzip_content)


def download(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    force: bool = False,
) -> Path:
    """d2l-style ``download``: fetch registry file ``name`` into the data dir unless a verified copy is there.

    A copy whose md5 is wrong is replaced; ``force=True`` re-fetches even a good one; ``url``
    overrides the registry URL (a mirror, or a ``file://`` path). Returns the file's path.
    """
    entry = registry_entry(name)
    if url is not None and (not isinstance(url, str) or "://" not in url):
        raise ValueError(f"url must be None or a URL string such as https://... or file://..., got {url!r}")
    return _fetch_entry(entry, resolve_data_dir(data_dir), url, force)


# --------------------------------------------------------------------------- file readers


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a (gzipped) IDX file (LeCun's MNIST format: magic 2049 labels, 2051 images) as uint8."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"IDX file {path} does not exist")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"cannot read IDX file {path}: corrupt or truncated ({err})") from None
    if len(raw) < 8:
        raise DataError(f"IDX file {path} is truncated: {len(raw)} bytes, no header")
    magic = int.from_bytes(raw[:4], "big")
    ndim = {2049: 1, 2051: 3}.get(magic)
    if ndim is None:
        raise DataError(f"IDX file {path} has magic {magic}; expected 2049 (labels) or 2051 (images)")
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"IDX file {path} holds {len(raw)} bytes; header {shape} needs {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def _read_npz(path: Path, keys: Sequence[str], required: Sequence[str]) -> dict[str, np.ndarray]:
    """Read ``keys`` from an npz after checking ``required`` are present; DataError on any damage."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in required if k not in archive.files]
            if missing:
                raise DataError(
                    f"{path} is missing key(s) {missing}; it has {sorted(archive.files)}, "
                    f"expected {list(required)}"
                )
            return {k: archive[k] for k in keys}
    except DataError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError) as err:
        raise DataError(
            f"{path} is not a readable .npz archive (corrupt or truncated: {type(err).__name__}: {err}); "
            f"delete it and fetch it again"
        ) from None


def _check_arrays(
    path: Path, images: np.ndarray, labels: np.ndarray, info_: DatasetInfo, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Check dtype/shape/range of a split's arrays; return images and int64 labels of shape (N,)."""
    ndim = len(info_.image_shape) + 1
    if images.dtype != np.uint8 or images.ndim != ndim or (ndim == 4 and images.shape[-1] != 3):
        want = "(N, H, W, 3)" if ndim == 4 else "(N, H, W)"
        raise DataError(
            f"{path}: {what} images have shape {images.shape} dtype {images.dtype}; expected {want} uint8"
        )
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{path}: {what} labels have shape {labels.shape} dtype {labels.dtype}; "
            f"expected (N,) or (N, 1) integers"
        )
    if labels.shape[0] != images.shape[0]:
        raise DataError(f"{path}: {what} has {images.shape[0]} images but {labels.shape[0]} labels")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= info_.n_classes):
        raise DataError(
            f"{path}: {what} labels span {labels.min()}..{labels.max()}; "
            f"{info_.name} has classes 0..{info_.n_classes - 1}"
        )
    return images, labels


# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class DataSource:
    """What was loaded: file, md5 (None if unchecked), verified flag, splits in the file, note."""

    name: str
    registry_name: str
    file: Path
    split: str
    splits: tuple[str, ...]
    n_images: int
    md5: str | None
    verified: bool
    note: str
    licence: str
    cross_checked: tuple[Path, ...] = ()

    def describe(self) -> str:
        """One line: dataset/split, file, count, checksum state."""
        check = f"md5 {self.md5} verified" if self.verified else "md5 NOT verified"
        extra = f"; equal to {', '.join(p.name for p in self.cross_checked)}" if self.cross_checked else ""
        return (
            f"{self.name}/{self.split}: {self.n_images} images from {self.file} "
            f"(splits in file: {', '.join(self.splits)}; {check}{extra}) - {self.note}"
        )


def _readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view (the caller's array keeps its own flags)."""
    view = array.view()
    view.setflags(write=False)
    return view


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Images (uint8, (N,H,W) or (N,H,W,3)) with int64 labels, class names and where they came from."""

    images: np.ndarray
    labels: np.ndarray
    name: str
    split: str
    source: DataSource
    classes: tuple[str, ...]
    index: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        """Validate arrays and freeze them as read-only views."""
        if not isinstance(self.images, np.ndarray) or self.images.dtype != np.uint8 or self.images.ndim not in (3, 4):
            raise ValueError("images must be a uint8 numpy array of shape (N, H, W) or (N, H, W, 3)")
        if self.images.ndim == 4 and self.images.shape[-1] != 3:
            raise ValueError(f"images of ndim 4 must have 3 channels last, got shape {self.images.shape}")
        n = len(self.images)
        if not isinstance(self.labels, np.ndarray) or self.labels.dtype != np.int64 or self.labels.shape != (n,):
            raise ValueError(f"labels must be an int64 numpy array of shape ({len(self.images)},)")
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise ValueError(f"labels must lie in 0..{len(self.classes) - 1} (one per class name)")
        if self.index is not None and (self.index.shape != self.labels.shape or self.index.dtype != np.int64):
            raise ValueError(f"index must be None or an int64 array of shape ({len(self.images)},)")
        object.__setattr__(self, "images", _readonly(self.images))
        object.__setattr__(self, "labels", _readonly(self.labels))
        if self.index is not None:
            object.__setattr__(self, "index", _readonly(self.index))

    def __len__(self) -> int:
        """Number of images."""
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        """Short summary (no pixel dump)."""
        return (
            f"ImageDataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
            f"image_shape={self.image_shape}, file={self.source.file.name!r}, verified={self.source.verified})"
        )

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one image: (H, W) or (H, W, 3)."""
        return tuple(self.images.shape[1:])

    @property
    def channels(self) -> int:
        """1 for grey images, 3 for RGB."""
        return 1 if self.images.ndim == 3 else 3

    def class_counts(self) -> np.ndarray:
        """Images per class, shape (n_classes,)."""
        return np.bincount(self.labels, minlength=len(self.classes))

    def _class_ids(self, classes: Iterable[int | str] | None) -> list[int]:
        """Map class labels or names to ids; DataError for unknown or repeated ones."""
        if classes is None:
            return list(range(len(self.classes)))
        if isinstance(classes, (str, int)):
            classes = [classes]
        ids: list[int] = []
        for c in classes:
            if isinstance(c, (bool, np.bool_)):
                raise DataError(f"class {c!r} is a bool; use a label 0..{len(self.classes) - 1} or a class name")
            if isinstance(c, (int, np.integer)) and 0 <= int(c) < len(self.classes):
                ids.append(int(c))
            elif isinstance(c, str) and c in self.classes:
                ids.append(self.classes.index(c))
            else:
                listing = ", ".join(f"{i}={n!r}" for i, n in enumerate(self.classes))
                raise DataError(f"class {c!r} does not exist in {self.name}; classes are {listing}")
        if len(set(ids)) != len(ids):
            raise DataError(f"classes={list(classes)} names a class twice")
        if not ids:
            raise DataError("classes must name at least one class (or be None for all)")
        return ids

    def subset(
        self,
        classes: Iterable[int | str] | None = None,
        n_per_class: int | None = None,
        seed: int = 0,
        draw: SubsetDraw = "choice",
    ) -> ImageDataset:
        """Seeded draw of ``n_per_class`` images (without replacement) of each class, then shuffled.

        Class ``c``'s images depend only on (seed, c), not on which other classes are asked for;
        the final order is a permutation drawn from ``seed``. ``n_per_class=None`` keeps every
        image of the chosen classes (still shuffled, which matters for the class-grouped MNIST
        rebuild).

        ``draw`` says how each class's images are picked (:data:`SUBSET_DRAWS`):

        * ``"choice"`` (the default, what every run before the option made): ``Generator.choice(members,
          n, replace=False)``. Draws of different sizes are *not* nested: the 16-image draw of a seed does
          not, in general, contain its 8-image draw.
        * ``"nested"``: the first ``n`` of one seeded permutation of the class's members, so for the same
          seed the images of a smaller draw are among those of every larger one (a training-set-size
          study then adds images, it never swaps them).
        """
        if n_per_class is not None and (
            isinstance(n_per_class, bool) or not isinstance(n_per_class, (int, np.integer)) or n_per_class < 1
        ):
            raise DataError(f"n_per_class must be a positive int or None, got {n_per_class!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise DataError(f"seed must be a non-negative int, got {seed!r}")
        if draw not in SUBSET_DRAWS:
            raise DataError(f"draw must be one of {', '.join(SUBSET_DRAWS)}, got {draw!r}")
        ids = self._class_ids(classes)
        counts = self.class_counts()
        if n_per_class is not None:
            short = [c for c in ids if counts[c] < n_per_class]
            if short:
                listing = ", ".join(f"{c} ({self.classes[c]!r}): {counts[c]}" for c in ids)
                raise DataError(
                    f"n_per_class={n_per_class} is more than {self.name} {self.split} holds for class(es) "
                    f"{short}; images per class: {listing}"
                )
        picked = []
        for c in ids:
            members = np.flatnonzero(self.labels == c)
            take = len(members) if n_per_class is None else int(n_per_class)
            rng = np.random.default_rng([int(seed), c])
            if draw == "nested":
                picked.append(rng.permutation(members)[:take])
            else:
                picked.append(rng.choice(members, size=take, replace=False))
        chosen = np.concatenate(picked)
        chosen = chosen[np.random.default_rng(int(seed)).permutation(len(chosen))]
        return replace(
            self,
            images=self.images[chosen],
            labels=self.labels[chosen],
            index=None if self.index is None else self.index[chosen],
        )

    def to_tensor(self, scale: Scale = "minus_one_one") -> torch.Tensor:
        """Float32 tensor (N, C, H, W): ``unit`` = x/255 in [0, 1]; ``minus_one_one`` = 2x/255 - 1 (DDPM range)."""
        if scale not in _SCALES:
            raise ValueError(f"scale must be one of {_SCALES}, got {scale!r}")
        import torch

        x = torch.from_numpy(np.array(self.images, dtype=np.float32)) / 255.0
        x = x.unsqueeze(1) if self.images.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()
        return x if scale == "unit" else 2.0 * x - 1.0

    def as_torch_dataset(self, scale: Scale = "minus_one_one") -> TensorDataset:
        """A ``TensorDataset`` of (image (C,H,W) float32, label int64) pairs."""
        from torch import from_numpy
        from torch.utils.data import TensorDataset

        return TensorDataset(self.to_tensor(scale), from_numpy(np.array(self.labels, dtype=np.int64)))


# --------------------------------------------------------------------------- loaders


_IDX_CHECKED: dict[tuple[object, ...], None] = {}


def _cross_check_idx(root: Path, npz_path: Path, images: np.ndarray, labels: np.ndarray) -> tuple[Path, ...]:
    """Check the optional official IDX test files: md5 of their content, equality with x_test/y_test."""
    checked: list[Path] = []
    for reg_name, array, what in (("mnist_t10k_images", images, "images"), ("mnist_t10k_labels", labels, "labels")):
        entry = DATA_HUB[reg_name]
        path = root / entry.relpath
        if not path.is_file():
            continue
        _verify(path, entry)
        key = (_stat_key(path, True), _stat_key(npz_path, False), what)
        if key not in _IDX_CHECKED:
            official = read_idx(path)
            if official.shape != array.shape or not np.array_equal(official, array):
                raise DataError(
                    f"the test {what} in {npz_path} differ from the official MNIST test {what} in {path} "
                    f"(shapes {array.shape} vs {official.shape}); one of the two files is wrong"
                )
            _IDX_CHECKED[key] = None
        checked.append(path)
    return tuple(checked)


def _missing_file_error(name: str, entries: Sequence[RegistryEntry], root: Path, data_dir: object) -> DataNotFoundError:
    """Explain which files were looked for, where, and how to get them."""
    looked = ", ".join(str(root / e.relpath) for e in entries)
    hints = " or ".join(f"qdm.data.download({e.name!r})" for e in entries if e.url)
    return DataNotFoundError(
        f"no {name} file in data directory {root} (from {_where_from(data_dir)}); looked for {looked}. "
        f"Get it with {hints} or load_dataset({name!r}, ..., download=True), or set ${ENV_VAR} to a "
        f"directory that has it (see shared/data/PROVENANCE.md)."
    )


def _choose_entry(name: str, split: str, root: Path, data_dir: object, fetch: bool) -> RegistryEntry:
    """The registry file to load: MNIST's npz; PathMNIST's official npz if present, else the subset.

    With ``fetch`` a missing file is downloaded (for PathMNIST the official one, also when only the
    subset is present but the ``val`` split is asked for).
    """
    if name == "mnist":
        entry = DATA_HUB["mnist"]
        if (root / entry.relpath).is_file():
            return entry
        if fetch:
            _fetch_entry(entry, root, None, False)
            return entry
        raise _missing_file_error(name, (entry,), root, data_dir)
    subset = DATA_HUB["pathmnist_subset"]
    if (root / f"{name}/{name}.npz").is_file():
        return registry_entry(name)
    if (root / subset.relpath).is_file() and not (fetch and split == "val"):
        return subset
    if fetch:
        official = registry_entry(name)
        _fetch_entry(official, root, None, False)
        return official
    raise _missing_file_error(name, (registry_entry(name), subset), root, data_dir)


def _split_keys(name: str, split: str) -> tuple[str, str]:
    """npz keys of a split's images and labels (Keras layout for MNIST, MedMNIST otherwise)."""
    if name == "mnist":
        return ("x_train", "y_train") if split == "train" else ("x_test", "y_test")
    return f"{split}_images", f"{split}_labels"


def _file_splits(name: str, files: Sequence[str]) -> tuple[str, ...]:
    """Splits of the dataset whose image and label keys are both present in an npz."""
    splits = tuple(s for s, _ in info(name).split_sizes)
    return tuple(s for s in splits if all(k in files for k in _split_keys(name, s)))


def _npz_keys(path: Path) -> list[str]:
    """Member names of an npz, with a DataError if it cannot be opened."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return list(archive.files)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as err:
        raise DataError(
            f"{path} is not a readable .npz archive (corrupt or truncated: {type(err).__name__}: {err}); "
            f"delete it and fetch it again"
        ) from None


def _official_index(
    name: str, split: str, entry: RegistryEntry, md5: str | None, stored: np.ndarray | None, n: int, path: Path
) -> np.ndarray | None:
    """Official index of each image in its split (-1 unknown), or None when the order is unknown."""
    if stored is not None:
        if stored.shape != (n,) or not np.issubdtype(stored.dtype, np.integer):
            raise DataError(
                f"{path}: {split}_index has shape {stored.shape} dtype {stored.dtype}; expected ({n},) integers"
            )
        return stored.astype(np.int64)
    if md5 is None:
        return None  # unverified file: its order is unknown
    if name == "mnist":
        official_order = split == "test" or md5 == MNIST_KERAS_MD5  # the rebuild groups x_train by class
    else:
        official_order = entry.name == name
    return np.arange(n, dtype=np.int64) if official_order else None


def load_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    verify: bool = True,
) -> ImageDataset:
    """Load one split of MNIST or PathMNIST from the data dir, md5-verified against the registry.

    PathMNIST prefers the official ``pathmnist.npz`` and falls back to ``pathmnist_subset.npz``
    (train/test only). ``download=True`` fetches a missing file first (the official one);
    ``verify=False`` skips the md5 and IDX checks (``source.verified`` is then False).
    """
    info_ = info(name)
    if not isinstance(split, str) or split not in SPLITS:
        raise DataError(f"unknown split={split!r}; allowed: {', '.join(SPLITS)}")
    official_splits = tuple(s for s, _ in info_.split_sizes)
    if split not in official_splits:
        raise DataError(f"{name} has no {split!r} split; its splits are {', '.join(official_splits)}")
    root = resolve_data_dir(data_dir)
    if not download:
        _require_dir(root, data_dir, name)
    entry = _choose_entry(name, split, root, data_dir, download)
    path = root / entry.relpath
    md5 = _verify(path, entry) if verify else None
    keys_in_file = _npz_keys(path)
    splits = _file_splits(name, keys_in_file)
    if split not in splits:
        if entry.name == "pathmnist_subset" and split == "val":
            raise DataError(
                f"the PathMNIST subset {path} has no 'val' split (only {', '.join(splits)}); "
                f"the official pathmnist.npz has one: qdm.data.download('pathmnist') or download=True"
            )
        missing = [k for k in _split_keys(name, split) if k not in keys_in_file]
        raise DataError(
            f"{path} has no {split!r} split: missing key(s) {missing} (it has {sorted(keys_in_file)}); "
            f"the file is incomplete or not a {name} archive"
        )
    image_key, label_key = _split_keys(name, split)
    index_key = f"{split}_index"
    keys = [image_key, label_key] + ([index_key] if index_key in keys_in_file else [])
    arrays = _read_npz(path, keys, [image_key, label_key])
    images, labels = _check_arrays(path, arrays[image_key], arrays[label_key], info_, split)
    cross = _cross_check_idx(root, path, images, labels) if name == "mnist" and split == "test" and verify else ()
    index = _official_index(name, split, entry, md5, arrays.get(index_key), len(images), path)
    note = entry.checksum_note(md5) if md5 is not None else f"{entry.origin}; md5 not checked (verify=False)"
    source = DataSource(
        name=name,
        registry_name=entry.name,
        file=path,
        split=split,
        splits=splits,
        n_images=len(images),
        md5=md5,
        verified=md5 is not None,
        note=note,
        licence=entry.licence,
        cross_checked=cross,
    )
    return ImageDataset(
        images=images, labels=labels, name=name, split=split, source=source, classes=info_.classes, index=index
    )
