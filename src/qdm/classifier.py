"""qdm's own digit / tissue classifier: a small CNN, trained deterministically, cached, never downloaded.

It answers the questions FID cannot: is a sample the digit it should be (the fraction classified
as the intended label and the mean confidence, per label and as a confusion matrix for
conditioned models), and it gives a cheap feature space (its 128-d penultimate layer) for an FID
that can be evaluated at every run and checkpoint (the Fréchet distance of Heusel et al. 2017 on
other features, heusel2017fid).

**Network** (:class:`DigitCNN`): three 3x3 conv + ReLU blocks (16, 32, 64 channels; 2x2 max-pool after
the first two), a 128-unit ReLU layer (the *features*) and a linear read-out; about 2.3 M
multiply-adds per 28x28 image, so one CPU core trains it on MNIST in a few minutes.

**Training** (:func:`train_classifier`): Adam, a linearly decaying learning rate, ``epochs`` passes in
a seeded order, one torch thread and deterministic algorithms, so the same data and config give
the same weights bit for bit. Inputs are pixels in ``[0, 1]`` minus 0.5 (grey or RGB).

**Cache** (:func:`load_classifier`): ``<cache>/classifiers/<dataset>-<key>.pt`` where ``<cache>`` is
``$QDM_CACHE_DIR`` or the user cache directory (platformdirs) and ``<key>`` hashes the data file's
md5, the config and the source code of the network and the training loop; a missing or stale
entry is rebuilt from the local data (the data layer never downloads here). The stored record
holds the held-out accuracy and the training time, which :func:`load_classifier` returns with it.

Build the default models once (minutes) with ``python -m qdm.classifier [mnist|pathmnist]``.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "CACHE_ENV_VAR",
    "ClassifierConfig",
    "ClassifierScores",
    "DEFAULT_CLASSIFIERS",
    "DigitCNN",
    "TrainedClassifier",
    "cache_root",
    "classifier_features",
    "classifier_fid",
    "classifier_key",
    "classifier_scores",
    "load_classifier",
    "predict_proba",
    "train_classifier",
]

CACHE_ENV_VAR = "QDM_CACHE_DIR"
_DATASETS = ("mnist", "pathmnist")
_N_CLASSES = {"mnist": 10, "pathmnist": 9}
_CHANNELS = {"mnist": 1, "pathmnist": 3}
FEATURE_DIM = 128


@dataclass(frozen=True)
class ClassifierConfig:
    """How a classifier is trained: dataset, passes, batch, learning rate, training / held-out images (None = all), seed."""

    dataset: str = "mnist"
    epochs: int = 2
    batch_size: int = 64
    lr: float = 2e-3
    n_train: int | None = None
    n_test: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in _DATASETS:
            raise ValueError(f"ClassifierConfig.dataset must be one of {_DATASETS}, got {self.dataset!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ClassifierConfig.{name} must be an integer >= 1, got {value!r}")
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"ClassifierConfig.lr must be a finite number > 0, got {self.lr!r}")
        if self.n_train is not None and (isinstance(self.n_train, bool) or not isinstance(self.n_train, int) or self.n_train < 2):
            raise ValueError(f"ClassifierConfig.n_train must be None (all) or an integer >= 2, got {self.n_train!r}")
        if self.n_test is not None and (isinstance(self.n_test, bool) or not isinstance(self.n_test, int) or self.n_test < 1):
            raise ValueError(f"ClassifierConfig.n_test must be None (all) or an integer >= 1, got {self.n_test!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"ClassifierConfig.seed must be an integer >= 0, got {self.seed!r}")


#: The classifiers runs are scored with (a preset is a value): all of MNIST's 60k training images,
#: two passes in batches of 64; PathMNIST: the 1,000 training images of the available subset, thirty passes.
DEFAULT_CLASSIFIERS: dict[str, ClassifierConfig] = {
    "mnist": ClassifierConfig(dataset="mnist", epochs=2, batch_size=64),
    "pathmnist": ClassifierConfig(dataset="pathmnist", epochs=30, batch_size=64),
}


class DigitCNN(nn.Module):
    """Conv(16)-pool-Conv(32)-pool-Conv(64) (3x3, ReLU) -> 128-d ReLU features -> linear logits."""

    def __init__(self, in_channels: int, n_classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 7 * 7, FEATURE_DIM)
        self.head = nn.Linear(FEATURE_DIM, n_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate 128-d ReLU features of (N, C, 28, 28) images in [0, 1]."""
        x = F.max_pool2d(F.relu(self.conv1(x - 0.5)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x))
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits."""
        return self.head(self.features(x))


@dataclass(frozen=True)
class TrainedClassifier:
    """A trained classifier (eval mode) with its config, held-out accuracy, its count and training time."""

    model: DigitCNN
    config: ClassifierConfig
    test_accuracy: float
    n_test: int
    train_seconds: float
    key: str


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


def _as_nchw(images: np.ndarray) -> Tensor:
    """uint8 (N, H, W) or (N, H, W, 3) -> float32 (N, C, H, W) in [0, 1]."""
    x = torch.from_numpy(np.array(images, dtype=np.float32)) / 255.0
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()


def _split(dataset: str, split: str, data_dir: str | os.PathLike[str] | None) -> tuple[Tensor, Tensor, str]:
    """Images (float NCHW in [0, 1]), int64 labels and the data file's md5 of one split."""
    from qdm.data import load_dataset

    ds = load_dataset(dataset, split, data_dir=data_dir)
    return _as_nchw(np.asarray(ds.images)), torch.from_numpy(np.asarray(ds.labels).astype(np.int64)), str(ds.source.md5)


def _check_images(images: Any, n_channels: int, name: str = "images") -> Tensor:
    """Float (N, C, 28, 28) in [0, 1] with the classifier's channel count, as float32."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"{name} must be a float tensor (N, C, 28, 28) in [0, 1], got {shape}")
    if images.shape[1] != n_channels or tuple(images.shape[2:]) != (28, 28):
        raise ValueError(f"{name} must have shape (N, {n_channels}, 28, 28) for this classifier, got {tuple(images.shape)}")
    x = images.detach().to("cpu", torch.float32)
    if not torch.isfinite(x).all() or float(x.min()) < -1e-6 or float(x.max()) > 1 + 1e-6:
        raise ValueError(f"{name} must be finite and lie in [0, 1]")
    return x.clamp(0, 1)


# ---------------------------------------------------------------------------------------------
# training and cache
# ---------------------------------------------------------------------------------------------


def cache_root() -> Path:
    """``$QDM_CACHE_DIR`` if set, else the user cache directory of qdm (platformdirs)."""
    env = os.environ.get(CACHE_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs  # only needed for the fallback

    return Path(platformdirs.user_cache_dir("qdm"))


def classifier_key(config: ClassifierConfig, data_md5: str) -> str:
    """sha256 of the data md5, the config and the source of the network and training loop (16 hex digits)."""
    code = inspect.getsource(DigitCNN) + inspect.getsource(train_classifier) + inspect.getsource(_as_nchw)
    payload = json.dumps({"data_md5": data_md5, "config": asdict(config), "code": code}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _accuracy(model: DigitCNN, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``x`` whose arg-max class is ``y``."""
    correct = 0
    with torch.inference_mode():
        for i in range(0, x.shape[0], batch_size):
            correct += int((model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
    return correct / x.shape[0]


def train_classifier(
    config: ClassifierConfig, data_dir: str | os.PathLike[str] | None = None
) -> TrainedClassifier:
    """Train :class:`DigitCNN` on the training split, deterministically (one thread); held-out accuracy on the test split.

    Cross-entropy, Adam (Kingma & Ba 2015) with the learning rate decaying linearly to 0 over all
    steps; the image order of each pass is a permutation drawn from ``config.seed``. The accuracy is
    measured on ``config.n_test`` test images (a seeded draw; all of them by default).
    """
    x_train, y_train, md5 = _split(config.dataset, "train", data_dir)
    x_test, y_test, _ = _split(config.dataset, "test", data_dir)
    gen = torch.Generator().manual_seed(config.seed)
    if config.n_train is not None:
        if config.n_train > x_train.shape[0]:
            raise ValueError(f"ClassifierConfig.n_train must be <= {x_train.shape[0]} for {config.dataset}, got {config.n_train}")
        keep = torch.randperm(x_train.shape[0], generator=gen)[: config.n_train]
        x_train, y_train = x_train[keep], y_train[keep]
    if config.n_test is not None and config.n_test < x_test.shape[0]:
        keep = torch.randperm(x_test.shape[0], generator=torch.Generator().manual_seed(config.seed))[: config.n_test]
        x_test, y_test = x_test[keep], y_test[keep]
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(config.seed)
        model = DigitCNN(_CHANNELS[config.dataset], _N_CLASSES[config.dataset])
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
        n = x_train.shape[0]
        steps_per_epoch = math.ceil(n / config.batch_size)
        total = steps_per_epoch * config.epochs
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / total)
        t0 = time.perf_counter()
        model.train()
        for _ in range(config.epochs):
            order = torch.randperm(n, generator=gen)
            for i in range(0, n, config.batch_size):
                idx = order[i : i + config.batch_size]
                loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
        seconds = time.perf_counter() - t0
        model.eval()
        accuracy = _accuracy(model, x_test, y_test)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    for p in model.parameters():
        p.requires_grad_(False)
    return TrainedClassifier(model, config, accuracy, int(x_test.shape[0]), seconds, classifier_key(config, md5))


def load_classifier(
    dataset_or_config: str | ClassifierConfig = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    build: bool = True,
    rebuild: bool = False,
) -> TrainedClassifier:
    """The cached classifier for a dataset (its :data:`DEFAULT_CLASSIFIERS` entry) or config; trained and stored when missing.

    ``build=False`` raises FileNotFoundError instead of training; ``rebuild=True`` trains and stores it again.
    """
    if isinstance(dataset_or_config, ClassifierConfig):
        config = dataset_or_config
    elif isinstance(dataset_or_config, str) and dataset_or_config in DEFAULT_CLASSIFIERS:
        config = DEFAULT_CLASSIFIERS[dataset_or_config]
    else:
        raise ValueError(
            f"dataset_or_config must be a ClassifierConfig or one of {tuple(DEFAULT_CLASSIFIERS)}, got {dataset_or_config!r}"
        )
    from qdm.data import load_dataset

    md5 = str(load_dataset(config.dataset, "train", data_dir=data_dir).source.md5)
    key = classifier_key(config, md5)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    path = root / "classifiers" / f"{config.dataset}-{key}.pt"
    if path.is_file() and not rebuild:
        record = torch.load(path, map_location="cpu", weights_only=True)
        model = DigitCNN(_CHANNELS[config.dataset], _N_CLASSES[config.dataset])
        model.load_state_dict(record["state_dict"])
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        return TrainedClassifier(
            model, config, float(record["test_accuracy"]), int(record["n_test"]), float(record["train_seconds"]), key
        )
    if not build:
        raise FileNotFoundError(f"no cached classifier at {path}; build it with `python -m qdm.classifier {config.dataset}`")
    trained = train_classifier(config, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    record = {
        "state_dict": trained.model.state_dict(),
        "test_accuracy": trained.test_accuracy,
        "n_test": trained.n_test,
        "train_seconds": trained.train_seconds,
        "config": json.dumps(asdict(config)),
    }
    torch.save(record, tmp)
    os.replace(tmp, path)
    return trained


# ---------------------------------------------------------------------------------------------
# scores
# ---------------------------------------------------------------------------------------------


def predict_proba(classifier: TrainedClassifier, images: Any, batch_size: int = 1000) -> Tensor:
    """Softmax class probabilities (N, n_classes), float64, of float (N, C, 28, 28) images in [0, 1]."""
    x = _check_images(images, classifier.model.conv1.in_channels)
    with torch.inference_mode():
        parts = [F.softmax(classifier.model(x[i : i + batch_size]), dim=1) for i in range(0, x.shape[0], batch_size)]
    return torch.cat(parts).double()


def classifier_features(classifier: TrainedClassifier, images: Any, batch_size: int = 1000) -> Tensor:
    """The 128-d penultimate features (N, 128), float64, of float (N, C, 28, 28) images in [0, 1]."""
    x = _check_images(images, classifier.model.conv1.in_channels)
    with torch.inference_mode():
        parts = [classifier.model.features(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    return torch.cat(parts).double()


@dataclass(frozen=True)
class ClassifierScores:
    """Agreement of the classifier with the intended labels: accuracy, mean confidence, per label, confusion."""

    accuracy: float
    mean_confidence: float
    n: int
    labels: tuple[int, ...]
    per_label_accuracy: tuple[float, ...]
    per_label_n: tuple[int, ...]
    confusion: tuple[tuple[int, ...], ...]


def classifier_scores(
    classifier: TrainedClassifier, images: Any, intended: Sequence[int] | Tensor | np.ndarray
) -> ClassifierScores:
    """Fraction of ``images`` classified as their intended label, mean probability given to it, per label and confusion.

    ``intended``: one label per image (an unconditioned single-class model passes its class N times).
    ``confusion[i][j]`` counts images of the i-th intended label (``labels[i]``) predicted as class j.
    """
    probs = predict_proba(classifier, images)
    y = torch.as_tensor(np.asarray(intended), dtype=torch.int64).reshape(-1)
    n_classes = probs.shape[1]
    if y.shape[0] != probs.shape[0]:
        raise ValueError(f"intended must hold one label per image ({probs.shape[0]}), got {y.shape[0]}")
    if int(y.min()) < 0 or int(y.max()) >= n_classes:
        raise ValueError(f"intended labels must lie in 0..{n_classes - 1}, got range [{int(y.min())}, {int(y.max())}]")
    pred = probs.argmax(1)
    hit = (pred == y).double()
    labels = tuple(int(c) for c in torch.unique(y))
    per_acc, per_n, confusion = [], [], []
    for c in labels:
        mask = y == c
        per_acc.append(float(hit[mask].mean()))
        per_n.append(int(mask.sum()))
        confusion.append(tuple(int(v) for v in torch.bincount(pred[mask], minlength=n_classes)))
    return ClassifierScores(
        accuracy=float(hit.mean()),
        mean_confidence=float(probs.gather(1, y[:, None]).mean()),
        n=int(y.shape[0]),
        labels=labels,
        per_label_accuracy=tuple(per_acc),
        per_label_n=tuple(per_n),
        confusion=tuple(confusion),
    )


def classifier_fid(classifier: TrainedClassifier, real: Any, fake: Any) -> float:
    """Heusel et al. (2017) Fréchet distance on the classifier's 128-d penultimate features
    (:func:`qdm.metrics.fid_from_features`)."""
    from qdm.metrics import fid_from_features

    return fid_from_features(classifier_features(classifier, real), classifier_features(classifier, fake))


# ---------------------------------------------------------------------------------------------
# python -m qdm.classifier
# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Build (or load) the default classifiers and print their held-out accuracy and training time."""
    parser = argparse.ArgumentParser(prog="python -m qdm.classifier", description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=list(DEFAULT_CLASSIFIERS), choices=list(DEFAULT_CLASSIFIERS))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--rebuild", action="store_true", help="train again even if a cached model exists")
    args = parser.parse_args(argv)
    for dataset in args.datasets:
        t0 = time.perf_counter()
        trained = load_classifier(dataset, data_dir=args.data_dir, rebuild=args.rebuild)
        print(
            f"{dataset}: test accuracy {trained.test_accuracy:.4f} on {trained.n_test} held-out images; "
            f"training {trained.train_seconds:.1f} s (1 thread); key {trained.key}; wall {time.perf_counter() - t0:.1f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
