"""Tests for qdm.data on the real files of shared/data (see PROVENANCE.md) and corrupted copies."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import qdm.data as qd
import qdm.io as qio
from qdm.data import (
    DataChecksumError,
    DataError,
    DataNotFoundError,
    download,
    download_url,
    file_md5,
    info,
    load_dataset,
    read_idx,
    registry_entry,
    resolve_data_dir,
)

# PROVENANCE.md tables
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
PATH_TRAIN_COUNTS = [106, 119, 107, 140, 91, 145, 82, 91, 119]
PATH_TEST_COUNTS = [151, 83, 31, 65, 117, 65, 90, 33, 126]


@pytest.fixture(scope="module")
def mnist_train(data_dir: Path) -> qd.ImageDataset:
    return load_dataset("mnist", "train", data_dir)


@pytest.fixture(scope="module")
def mnist_test(data_dir: Path) -> qd.ImageDataset:
    return load_dataset("mnist", "test", data_dir)


@pytest.fixture(scope="module")
def path_train(data_dir: Path) -> qd.ImageDataset:
    return load_dataset("pathmnist", "train", data_dir)


@pytest.fixture(scope="module")
def path_test(data_dir: Path) -> qd.ImageDataset:
    return load_dataset("pathmnist", "test", data_dir)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _no_part_files(folder: Path) -> bool:
    return not any(p.name.endswith(".part") for p in folder.rglob("*"))


def _small_mnist(folder: Path, **override: np.ndarray) -> Path:
    """A structurally valid, tiny Keras-layout mnist.npz (its md5 matches no registry entry)."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_train": np.arange(20, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "y_test": np.arange(10, dtype=np.uint8),
    }
    arrays.update(override)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = folder / "mnist" / "mnist.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


# ----------------------------------------------------------------- data directory


def test_resolve_data_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.setenv(qd.ENV_VAR, str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir(str(tmp_path / "arg")) == tmp_path / "arg"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv(qd.ENV_VAR)
    assert resolve_data_dir() == Path(platformdirs.user_cache_dir("qdm"))
    with pytest.raises(ValueError, match="data_dir"):
        resolve_data_dir(3)  # type: ignore[arg-type]


def test_env_var_is_used_by_loaders(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(qd.ENV_VAR, str(data_dir))
    assert load_dataset("pathmnist", "test").source.file == data_dir / "pathmnist" / "pathmnist_subset.npz"


# ----------------------------------------------------------------- registry


def test_registry_checksums_and_licences() -> None:
    for name in qd.REGISTRY_NAMES:
        entry = registry_entry(name)
        assert entry.name == name and entry.licence
        assert all(len(m) == 32 and int(m, 16) >= 0 for m in entry.md5s)
    assert registry_entry("mnist").url == "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
    assert qd.MNIST_KERAS_MD5 in registry_entry("mnist").md5s
    with pytest.raises(DataError, match="unknown registry name"):
        registry_entry("cifar10")


def test_pathmnist_entry_and_classes_come_from_medmnist() -> None:
    from medmnist.info import INFO

    record = INFO["pathmnist"]
    entry = registry_entry("pathmnist")
    assert entry.md5s == (record["MD5"],) == ("a8b06965200029087d5bd730944a56c1",)  # PROVENANCE.md
    assert entry.url == record["url"]
    pinned = info("pathmnist")
    assert pinned.classes == tuple(record["label"][str(i)] for i in range(len(record["label"])))
    assert dict(pinned.split_sizes) == record["n_samples"]
    assert pinned.channels == record["n_channels"] == 3


def test_info() -> None:
    assert info("mnist").classes == tuple("0123456789") and info("mnist").channels == 1
    assert dict(info("mnist").split_sizes) == {"train": 60000, "test": 10000}
    assert info("pathmnist").n_classes == 9
    with pytest.raises(DataError, match="unknown dataset name"):
        info("fashion")


# ----------------------------------------------------------------- MNIST on the real files


def test_mnist_train_counts_and_statistics(mnist_train: qd.ImageDataset) -> None:
    ds = mnist_train
    assert ds.images.shape == (60000, 28, 28) and ds.images.dtype == np.uint8
    assert ds.labels.shape == (60000,) and ds.labels.dtype == np.int64
    assert ds.class_counts().tolist() == MNIST_TRAIN_COUNTS
    pixels = ds.images.astype(np.int64).ravel()
    n = pixels.size
    mean = pixels.sum() / (255.0 * n)
    std = np.sqrt(np.dot(pixels, pixels) / (255.0**2 * n) - mean**2)
    assert mean == pytest.approx(0.1307, abs=5e-5) and std == pytest.approx(0.3081, abs=5e-5)
    assert ds.source.verified and ds.source.md5 == qd.MNIST_REBUILT_MD5
    assert "GROUPED BY CLASS" in ds.source.note and ds.source.splits == ("train", "test")
    # the documented quirk: the rebuilt x_train is sorted by class, so its order is not official
    assert np.all(np.diff(ds.labels) >= 0)
    assert ds.index is None
    assert not ds.images.flags.writeable


def test_mnist_test_split_equals_official_idx(mnist_test: qd.ImageDataset, data_dir: Path) -> None:
    ds = mnist_test
    assert ds.images.shape == (10000, 28, 28) and len(ds) == 10000
    images_gz = data_dir / "mnist" / "t10k-images-idx3-ubyte.gz"
    labels_gz = data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    assert ds.source.cross_checked == (images_gz, labels_gz)
    idx_images, idx_labels = read_idx(images_gz), read_idx(labels_gz)
    np.testing.assert_array_equal(idx_images, ds.images)
    np.testing.assert_array_equal(idx_labels.astype(np.int64), ds.labels)
    # official md5 of the decompressed IDX files; the re-gzipped .gz files themselves differ
    assert file_md5(images_gz, gzip_content=True) == qd.MNIST_T10K_IMAGES_MD5
    assert file_md5(labels_gz, gzip_content=True) == qd.MNIST_T10K_LABELS_MD5
    assert file_md5(images_gz) == "2c57910da66b1e3036e350d10c8c03e1"
    np.testing.assert_array_equal(ds.index, np.arange(10000))


def test_idx_mismatch_with_npz_is_an_error(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / "mnist").mkdir(exist_ok=True)
        shutil.copy(data_dir / "mnist" / name, tmp_path / "mnist" / name)
    small = _small_mnist(tmp_path)
    with pytest.raises(DataChecksumError):
        load_dataset("mnist", "test", tmp_path)
    # register the tiny file's md5 so only the IDX cross-check can catch the mismatch
    accepted = qd.Checksum(file_md5(small), "tiny test file")
    entry = qd.DATA_HUB["mnist"]
    monkeypatch.setitem(qd.DATA_HUB, "mnist", qd.replace(entry, checksums=entry.checksums + (accepted,)))
    with pytest.raises(DataError, match=r"test images in .*mnist\.npz differ from the official MNIST test images"):
        load_dataset("mnist", "test", tmp_path)
    assert len(load_dataset("mnist", "train", tmp_path)) == 20  # the cross-check concerns the test split only
    unchecked = load_dataset("mnist", "test", tmp_path, verify=False)
    assert not unchecked.source.verified and unchecked.source.md5 is None and unchecked.index is None


def test_read_idx_errors(tmp_path: Path) -> None:
    bad_magic = tmp_path / "bad.gz"
    bad_magic.write_bytes(gzip.compress((1234).to_bytes(4, "big") + b"\0" * 8))
    with pytest.raises(DataError, match="magic 1234"):
        read_idx(bad_magic)
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress((2049).to_bytes(4, "big") + (5).to_bytes(4, "big") + b"\1\2"))
    with pytest.raises(DataError, match="needs 13"):
        read_idx(short)
    ok = tmp_path / "ok.gz"
    ok.write_bytes(gzip.compress((2049).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes([7, 8, 9])))
    np.testing.assert_array_equal(read_idx(ok), [7, 8, 9])
    with pytest.raises(DataNotFoundError):
        read_idx(tmp_path / "none.gz")


# ----------------------------------------------------------------- PathMNIST subset


def test_pathmnist_subset_counts(path_train: qd.ImageDataset, path_test: qd.ImageDataset) -> None:
    for ds, counts in ((path_train, PATH_TRAIN_COUNTS), (path_test, PATH_TEST_COUNTS)):
        assert ds.images.shape == (sum(counts), 28, 28, 3) and ds.images.dtype == np.uint8
        assert ds.labels.dtype == np.int64 and ds.class_counts().tolist() == counts
        assert ds.source.file.name == "pathmnist_subset.npz" and ds.source.verified
        assert ds.source.md5 == qd.PATHMNIST_SUBSET_MD5 and ds.source.splits == ("train", "test")
        assert ds.channels == 3 and ds.classes[0] == "adipose"
    assert len(path_train) == 1000 and len(path_test) == 761
    np.testing.assert_array_equal(path_train.index, np.arange(1000))
    assert int((path_test.index == -1).sum()) == 43  # the YassirCher images
    known = path_test.index[path_test.index >= 0]
    assert len(np.unique(known)) == 718 and np.all(np.diff(known) > 0)


def test_pathmnist_subset_has_no_val(data_dir: Path) -> None:
    with pytest.raises(DataError, match="subset .* has no 'val' split"):
        load_dataset("pathmnist", "val", data_dir)


def test_official_pathmnist_preferred_and_checked(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "pathmnist"
    folder.mkdir()
    shutil.copy(data_dir / "pathmnist" / "pathmnist_subset.npz", folder)
    rng = np.random.default_rng(1)
    fake = {}
    for split, n in (("train", 6), ("val", 4), ("test", 5)):
        fake[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28, 3), dtype=np.uint8)
        fake[f"{split}_labels"] = rng.integers(0, 9, (n, 1), dtype=np.uint8)
    np.savez(folder / "pathmnist.npz", **fake)
    # the official name is preferred over the subset, and its md5 (from medmnist.INFO) is checked
    with pytest.raises(DataChecksumError, match="a8b06965200029087d5bd730944a56c1"):
        load_dataset("pathmnist", "train", tmp_path)
    val = load_dataset("pathmnist", "val", tmp_path, verify=False)
    assert val.source.file == folder / "pathmnist.npz" and val.source.splits == ("train", "val", "test")
    np.testing.assert_array_equal(val.images, fake["val_images"])
    np.testing.assert_array_equal(val.labels, fake["val_labels"][:, 0].astype(np.int64))


# ----------------------------------------------------------------- subsets and tensors


def test_subset_reproducible_pure_and_counted(mnist_train: qd.ImageDataset) -> None:
    a = mnist_train.subset(classes=[3, 7], n_per_class=50, seed=4)
    b = mnist_train.subset(classes=[3, 7], n_per_class=50, seed=4)
    c = mnist_train.subset(classes=[3, 7], n_per_class=50, seed=5)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.images, c.images)
    assert set(a.labels.tolist()) == {3, 7} and np.bincount(a.labels, minlength=10)[[3, 7]].tolist() == [50, 50]
    # shuffled: the class-grouped source order does not survive
    assert not np.all(np.diff(a.labels) >= 0)
    # class 3's draw depends only on (seed, class), not on the other classes requested
    only3 = mnist_train.subset(classes=[3], n_per_class=50, seed=4)
    a3 = {img.tobytes() for img in a.images[a.labels == 3]}
    assert a3 == {img.tobytes() for img in only3.images}
    # every drawn image really is an image of its class in the source
    pool3 = {img.tobytes() for img in mnist_train.images[mnist_train.labels == 3]}
    assert a3 <= pool3
    assert a.source is mnist_train.source and a.split == "train"


def test_subset_without_replacement_and_names(path_train: qd.ImageDataset) -> None:
    n = int(path_train.class_counts()[2])
    whole = path_train.subset(classes=["debris"], n_per_class=n, seed=9)
    members = path_train.labels == 2
    assert sorted(whole.index.tolist()) == sorted(path_train.index[members].tolist())
    assert len({img.tobytes() for img in whole.images}) == n  # no image drawn twice
    everything = path_train.subset(seed=3)
    assert sorted(everything.index.tolist()) == list(range(1000))
    assert not np.array_equal(everything.index, np.arange(1000))


def test_subset_errors(path_test: qd.ImageDataset) -> None:
    with pytest.raises(DataError, match=r"class 9 does not exist .*8='colorectal"):
        path_test.subset(classes=[9])
    with pytest.raises(DataError, match="class 'cat' does not exist"):
        path_test.subset(classes=["cat"])
    with pytest.raises(DataError, match=r"n_per_class=32 .*class\(es\) \[2\].*2 \('debris'\): 31"):
        path_test.subset(classes=[0, 2], n_per_class=32)
    for bad in (0, -1, True, 2.5):
        with pytest.raises(DataError, match="n_per_class"):
            path_test.subset(n_per_class=bad)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="seed"):
        path_test.subset(seed=-1)
    with pytest.raises(DataError, match="twice"):
        path_test.subset(classes=[1, "background"])


def test_to_tensor_scales_and_layout(path_test: qd.ImageDataset, mnist_test: qd.ImageDataset) -> None:
    small = path_test.subset(n_per_class=2, seed=0)
    unit = small.to_tensor("unit")
    pm1 = small.to_tensor("minus_one_one")
    assert unit.dtype == torch.float32 and unit.shape == (18, 3, 28, 28)
    # (N, H, W, C) -> (N, C, H, W): pixel (i, h, w, c) lands at [i, c, h, w]
    expected = torch.from_numpy(small.images.astype(np.float32) / 255.0).permute(0, 3, 1, 2)
    assert torch.equal(unit, expected)
    assert float((pm1 - (2 * expected - 1)).abs().max()) <= 1e-6
    assert float(unit[0, 2, 5, 7]) == pytest.approx(small.images[0, 5, 7, 2] / 255.0)
    grey = mnist_test.subset(classes=[0], n_per_class=3, seed=0)
    g = grey.to_tensor()
    assert g.shape == (3, 1, 28, 28) and float(g.min()) == -1.0 and float(g.max()) == 1.0
    assert float((g[:, 0] - torch.from_numpy(grey.images / 127.5 - 1)).abs().max()) <= 1e-6
    with pytest.raises(ValueError, match="scale"):
        grey.to_tensor("zero_one")  # type: ignore[arg-type]


def test_as_torch_dataset(path_test: qd.ImageDataset) -> None:
    small = path_test.subset(classes=[4], n_per_class=3, seed=2)
    tds = small.as_torch_dataset(scale="unit")
    assert len(tds) == 3
    image, label = tds[1]
    assert image.shape == (3, 28, 28) and label.dtype == torch.int64 and int(label) == 4
    assert torch.equal(image, small.to_tensor("unit")[1])


# ----------------------------------------------------------------- error paths


def test_missing_data_dir(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataNotFoundError, match=r"nowhere.*QDM_DATA_DIR") as err:
        load_dataset("mnist", "train", missing)
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, ValueError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match=r"mnist/mnist\.npz.*download\('mnist'\)"):
        load_dataset("mnist", "test", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"pathmnist\.npz.*pathmnist_subset\.npz"):
        load_dataset("pathmnist", "test", tmp_path)


def test_unknown_name_and_split(data_dir: Path) -> None:
    with pytest.raises(DataError, match="unknown dataset name='cifar10'"):
        load_dataset("cifar10", "train", data_dir)
    with pytest.raises(DataError, match="unknown split='validation'"):
        load_dataset("mnist", "validation", data_dir)
    with pytest.raises(DataError, match="mnist has no 'val' split"):
        load_dataset("mnist", "val", data_dir)


def test_truncated_file(data_dir: Path, tmp_path: Path) -> None:
    raw = (data_dir / "pathmnist" / "pathmnist_subset.npz").read_bytes()
    (tmp_path / "pathmnist").mkdir()
    (tmp_path / "pathmnist" / "pathmnist_subset.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataChecksumError, match=r"checksum mismatch.*truncated"):
        load_dataset("pathmnist", "train", tmp_path)
    with pytest.raises(DataError, match="not a readable .npz archive"):
        load_dataset("pathmnist", "train", tmp_path, verify=False)


def test_wrong_md5_of_valid_file(data_dir: Path, tmp_path: Path) -> None:
    with np.load(data_dir / "pathmnist" / "pathmnist_subset.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["train_images"] = arrays["train_images"].copy()
    arrays["train_images"][0, 0, 0, 0] ^= 1  # one bit flipped
    (tmp_path / "pathmnist").mkdir()
    np.savez(tmp_path / "pathmnist" / "pathmnist_subset.npz", **arrays)
    with pytest.raises(DataChecksumError, match=qd.PATHMNIST_SUBSET_MD5):
        load_dataset("pathmnist", "train", tmp_path)
    ds = load_dataset("pathmnist", "train", tmp_path, verify=False)
    assert not ds.source.verified and "not checked" in ds.source.note
    assert int(ds.images[0, 0, 0, 0]) == int(arrays["train_images"][0, 0, 0, 0])


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"x_test": None}, r"missing key\(s\) \['x_test'\]"),
        ({"x_train": np.zeros((20, 28, 28), np.float32)}, r"shape \(20, 28, 28\) dtype float32"),
        ({"y_train": np.zeros(19, np.uint8)}, "20 images but 19 labels"),
        ({"y_train": np.full(20, 10, np.uint8)}, r"labels span 10\.\.10"),
    ],
)
def test_malformed_npz(tmp_path: Path, override: dict, match: str) -> None:
    _small_mnist(tmp_path, **override)
    split = "test" if "x_test" in override else "train"
    with pytest.raises(DataError, match=match):
        load_dataset("mnist", split, tmp_path, verify=False)


def test_md5_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    calls = []
    real = qio._hash_stream
    monkeypatch.setattr(qio, "_hash_stream", lambda p, g: calls.append(p) or real(p, g))
    assert file_md5(path) == _md5(b"abc") and file_md5(path) == _md5(b"abc")
    assert len(calls) == 1  # second call served from the (path, size, mtime) cache
    path.write_bytes(b"abcd")  # new size -> new key -> rehash
    assert file_md5(path) == _md5(b"abcd") and len(calls) == 2
    gz = tmp_path / "f.gz"
    gz.write_bytes(gzip.compress(b"payload"))
    assert file_md5(gz, gzip_content=True) == _md5(b"payload") != file_md5(gz)


# ----------------------------------------------------------------- downloads (offline, file:// URLs)


def test_download_url_verifies_and_is_atomic(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"0123456789" * 1000)
    dest = tmp_path / "out" / "dest.bin"
    assert download_url(src.as_uri(), dest, _md5(src.read_bytes())) == dest
    assert dest.read_bytes() == src.read_bytes() and _no_part_files(tmp_path)
    bad = tmp_path / "out" / "bad.bin"
    with pytest.raises(DataChecksumError, match="nothing was written"):
        download_url(src.as_uri(), bad, "0" * 32)
    assert not bad.exists() and _no_part_files(tmp_path)
    with pytest.raises(DataError, match="failed"):
        download_url((tmp_path / "absent.bin").as_uri(), bad, "0" * 32)
    assert not bad.exists() and _no_part_files(tmp_path)
    with pytest.raises(ValueError, match="md5"):
        download_url(src.as_uri(), bad, "abc")


def test_interrupted_download_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(io.BytesIO):
        def read(self, size: int = -1) -> bytes:
            if self.tell() > 0:
                raise ConnectionResetError("connection dropped")
            return super().read(4)

    monkeypatch.setattr(qd.urllib.request, "urlopen", lambda url, timeout: Broken(b"partial data"))
    dest = tmp_path / "x.npz"
    with pytest.raises(DataError, match="connection dropped"):
        download_url("https://example.invalid/x.npz", dest, "0" * 32)
    assert list(tmp_path.iterdir()) == []


def test_download_registry_file_then_load(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = data_dir / "pathmnist" / "pathmnist_subset.npz"
    with pytest.raises(DataError, match="no public download URL"):
        download("pathmnist_subset", tmp_path)
    path = download("pathmnist_subset", tmp_path, url=src.as_uri())
    assert path == tmp_path / "pathmnist" / "pathmnist_subset.npz" and file_md5(path) == qd.PATHMNIST_SUBSET_MD5
    # a verified copy is reused: no network access at all
    monkeypatch.setattr(qd.urllib.request, "urlopen", lambda *a, **k: pytest.fail("must not download"))
    assert download("pathmnist_subset", tmp_path, url=src.as_uri()) == path
    assert load_dataset("pathmnist", "test", tmp_path).source.verified
    # a download whose md5 is not the registry's leaves nothing behind
    monkeypatch.undo()
    with pytest.raises(DataChecksumError, match="nothing was written"):
        download("pathmnist", tmp_path, url=src.as_uri())
    assert not (tmp_path / "pathmnist" / "pathmnist.npz").exists() and _no_part_files(tmp_path)


def test_load_with_download_flag(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "fresh"
    with pytest.raises(DataNotFoundError):
        load_dataset("mnist", "test", target)  # never downloads implicitly
    local = qd.replace(qd.DATA_HUB["mnist"], url=(data_dir / "mnist" / "mnist.npz").as_uri())
    monkeypatch.setitem(qd.DATA_HUB, "mnist", local)
    ds = load_dataset("mnist", "test", target, download=True)
    assert ds.source.file == target / "mnist" / "mnist.npz" and ds.source.verified and len(ds) == 10000
    assert ds.source.cross_checked == ()  # no IDX files were fetched
