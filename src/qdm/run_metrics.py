"""A run's sample checks beyond FID/KID/SSIM: classifier agreement and features, and memorisation.

Called by the runner for ``eval.metrics`` entries ``"classifier"`` and ``"memorisation"`` (and the
classifier half of ``"precision_recall"``); every number comes with the image counts behind it
(``*_n_generated``, ``*_n_reference``, ``*_n_train``, ``*_n_heldout``).

- ``classifier``: qdm's own classifier of the run's dataset (:func:`qdm.classifier.load_classifier`,
  cached, built from local data when missing): fraction of samples classified as the intended
  label and the mean probability of it; for conditioned models the per-label accuracy and the
  confusion matrix; for unconditioned multi-class models the fraction classified as any trained
  class; the classifier's own held-out accuracy; an FID on its 128-d features against the reference
  set; precision / recall (Kynkäänniemi et al. 2019) on the same features.
- ``memorisation``: nearest-training-image distances of the samples against those of held-out test
  images of the same classes (:func:`qdm.memorisation.memorisation`).

Both need samples of the dataset's own shape (28x28, 1 or 3 channels); for other shapes they record
why they were skipped.
"""

from __future__ import annotations

from typing import Any

import torch

from qdm.config import ExperimentConfig, training_subset

__all__ = ["classifier_metrics", "heldout_images", "intended_labels", "memorisation_metrics", "training_images"]

#: the largest number of held-out images the memorisation reference uses
MAX_HELDOUT = 1000


def intended_labels(cfg: ExperimentConfig, n: int) -> torch.Tensor | None:
    """The label each sample should show: the class for one-class runs; classes[i % k] for label-conditioned models; else None.

    Label-conditioned: a PQC config with label qubits (the conditioned PQC family samples classes[i % k]), or a
    model config that declares ``samples_cyclic_labels`` (the ANO family's sampler draws classes[i % k]).
    """
    classes = cfg.data.classes
    if len(classes) == 1:
        return torch.full((n,), classes[0], dtype=torch.long)
    if getattr(cfg.model, "n_label_qubits", 0) or getattr(cfg.model, "samples_cyclic_labels", False):
        return torch.tensor([classes[i % len(classes)] for i in range(n)], dtype=torch.long)
    return None


def _load_split(cfg: ExperimentConfig, split: str) -> Any:
    """The run's dataset split from the data layer."""
    from qdm.data import load_dataset

    return load_dataset(cfg.data.dataset, split, data_dir=cfg.data.data_dir)


def training_images(cfg: ExperimentConfig) -> torch.Tensor:
    """The run's training images (the same seeded subset the families train on), float (N, C, H, W) in [0, 1]."""
    return training_subset(cfg.data).to_tensor("unit")


def heldout_images(cfg: ExperimentConfig, limit: int = MAX_HELDOUT) -> torch.Tensor:
    """Up to ``limit`` test-split images of the run's classes (seeded by ``data.subset_seed``), float NCHW in [0, 1]."""
    ds = _load_split(cfg, "test")
    counts = ds.class_counts()
    per_class = min(int(min(counts[c] for c in cfg.data.classes)), max(1, limit // len(cfg.data.classes)))
    return ds.subset(cfg.data.classes, per_class, cfg.data.subset_seed).to_tensor("unit")


def _shape_problem(cfg: ExperimentConfig, samples: torch.Tensor) -> str | None:
    """Why samples cannot be compared with the dataset's images, or None."""
    from qdm.data import info

    channels = info(cfg.data.dataset).channels
    if tuple(samples.shape[1:]) != (channels, 28, 28):
        return f"samples have shape {tuple(samples.shape[1:])}, the {cfg.data.dataset} images ({channels}, 28, 28)"
    return None


def classifier_metrics(
    cfg: ExperimentConfig, samples: torch.Tensor, reference: torch.Tensor, with_precision_recall: bool = True
) -> dict[str, Any]:
    """``classifier_*`` metrics of a run's samples (module docstring); ``reference``: the run's FID reference images."""
    from qdm.classifier import classifier_features, classifier_scores, load_classifier, predict_proba
    from qdm.metrics import fid_from_features
    from qdm.precision_recall import precision_recall

    problem = _shape_problem(cfg, samples) or _shape_problem(cfg, reference)
    if problem:
        return {"classifier_skipped": problem}
    clf = load_classifier(cfg.data.dataset, data_dir=cfg.data.data_dir)
    n = int(samples.shape[0])
    out: dict[str, Any] = {
        "classifier_test_accuracy": clf.test_accuracy,
        "classifier_n_test": clf.n_test,
        "classifier_key": clf.key,
        "classifier_n_generated": n,
    }
    intended = intended_labels(cfg, n)
    if intended is not None:
        scores = classifier_scores(clf, samples, intended)
        out["classifier_accuracy"] = scores.accuracy
        out["classifier_confidence"] = scores.mean_confidence
        if len(scores.labels) > 1:
            out["classifier_labels"] = list(scores.labels)
            out["classifier_per_label_accuracy"] = list(scores.per_label_accuracy)
            out["classifier_per_label_n"] = list(scores.per_label_n)
            out["classifier_confusion"] = [list(row) for row in scores.confusion]
    else:
        pred = predict_proba(clf, samples).argmax(1)
        out["classifier_in_classes"] = float(torch.isin(pred, torch.tensor(cfg.data.classes)).double().mean())
    f_gen = classifier_features(clf, samples)
    f_ref = classifier_features(clf, reference)
    out["classifier_n_reference"] = int(f_ref.shape[0])
    if n >= 2:
        out["classifier_fid"] = float(fid_from_features(f_ref, f_gen))
    if with_precision_recall and n >= 4 and f_ref.shape[0] >= 4:
        pr = precision_recall(f_ref, f_gen)
        out.update(
            {"pr_classifier_precision": pr.precision, "pr_classifier_recall": pr.recall, "pr_classifier_k": pr.k,
             "pr_classifier_n_generated": pr.n_fake, "pr_classifier_n_reference": pr.n_real}
        )
    return out


def memorisation_metrics(cfg: ExperimentConfig, samples: torch.Tensor) -> tuple[dict[str, Any], torch.Tensor | None]:
    """``memorisation_*`` metrics (copy rate, closer fraction, medians, counts) and the closest pairs as images (or None)."""
    from qdm.memorisation import memorisation, pair_grid

    problem = _shape_problem(cfg, samples)
    if problem:
        return {"memorisation_skipped": problem}, None
    train = training_images(cfg)
    result = memorisation(samples, train, heldout_images(cfg))
    out = {
        "memorisation_copy_rate": result.copy_rate,
        "memorisation_closer_fraction": result.closer_fraction,
        "memorisation_threshold": result.threshold,
        "memorisation_sample_median": result.sample_median,
        "memorisation_heldout_median": result.heldout_median,
        "memorisation_n_generated": result.n_generated,
        "memorisation_n_train": result.n_train,
        "memorisation_n_heldout": result.n_heldout,
        "memorisation_nearest_pairs": [list(p) for p in result.nearest_pairs],
    }
    return out, pair_grid(samples, train, result.nearest_pairs)
