"""How many training steps a profile needs: one run trained in stages, its samples scored at every stage.

The ``book`` profile is chosen by this measurement, not by taste: train a preset once (resuming its own
checkpoint at each stage, so stage k continues stage k-1 exactly), and after each stage draw samples with the
(EMA) sampling model and score them with qdm's classifier (:mod:`qdm.classifier`): the fraction classified as
the intended digit, the mean confidence, and the classifier-feature FID against held-out images of the class
(:func:`qdm.classifier.classifier_fid`). The criterion of the book profile is that the classical twin's samples
are recognisably the digit: at least :data:`RECOGNISED` of them classified as intended.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from qdm import protocols
from qdm.classifier import classifier_fid, classifier_scores, load_classifier
from qdm.config import ExperimentConfig
from qdm.families import get_family
from qdm.runner import draw_samples
from qdm.train import seed_everything, train

__all__ = ["RECOGNISED", "budget_curve", "knee", "sampler_curve"]

#: The book profile's criterion: this fraction of the classical twin's samples classified as the intended digit.
RECOGNISED = 0.9


def budget_curve(
    cfg: ExperimentConfig, stages: Sequence[int], n_samples: int, work_dir: str | Path, progress: bool = False
) -> pd.DataFrame:
    """Train ``cfg`` to each of ``stages`` (increasing step counts) and score ``n_samples`` samples after each.

    Columns: steps, wall_s (training so far), accuracy (classified as intended), confidence, classifier_fid
    (against up to 1,000 held-out images of the class), n_samples, n_reference.
    """
    stages = sorted(int(s) for s in stages)
    if not stages or stages[0] < 1:
        raise ValueError(f"stages must be step counts >= 1, got {list(stages)}")
    if len(cfg.data.classes) != 1:
        raise ValueError(f"budget_curve scores an unconditioned one-digit model; data.classes={cfg.data.classes}")
    family = get_family(cfg.family)
    classifier = load_classifier(cfg.data.dataset, data_dir=cfg.data.data_dir)
    reference = protocols.to_unit(protocols.reference_images(cfg.data, "qdm", 1000))
    data = family.prepare_data(cfg)
    rows, wall = [], 0.0
    for steps in stages:
        stage = dataclasses.replace(
            cfg,
            train=dataclasses.replace(cfg.train, steps=steps),
            eval=dataclasses.replace(cfg.eval, n_samples=n_samples),
        )
        seed_everything(cfg.train.seed)
        t0 = time.perf_counter()
        result = train(family.build(stage), data, lambda m, b, g: family.loss(m, b, stage, g), stage.train,
                       checkpoint_dir=work_dir, progress=progress, resume=True)
        wall += time.perf_counter() - t0
        samples, _ = draw_samples(stage, family, result.sampling_model)  # as the runner draws a run's samples
        scores = classifier_scores(classifier, samples, [cfg.data.classes[0]] * n_samples)
        rows.append({
            "steps": steps, "wall_s": wall, "accuracy": scores.accuracy, "confidence": scores.mean_confidence,
            "classifier_fid": classifier_fid(classifier, reference, samples),
            "n_samples": n_samples, "n_reference": int(reference.shape[0]),
        })
    return pd.DataFrame(rows)


def sampler_curve(
    cfg: ExperimentConfig,
    samplers: Sequence[tuple[str, int]],
    n_samples: int,
    work_dir: str | Path,
    progress: bool = False,
) -> pd.DataFrame:
    """The same trained model (``cfg`` trained to ``cfg.train.steps`` in ``work_dir``, resumed) sampled by each sampler.

    ``samplers``: (eval.sampler, eval.sample_steps) pairs, e.g. ("ddim", 50) and ("ddpm", T), the ancestral
    sampler of the paper. Every sampler draws from the same seeded generator (:func:`qdm.runner.draw_samples`), so
    only the sampler differs. Columns: sampler, sample_steps, steps (training), accuracy, confidence,
    classifier_fid, sample_wall_s, n_samples, n_reference.
    """
    if not samplers:
        raise ValueError("samplers must name at least one (sampler, sample_steps) pair")
    if len(cfg.data.classes) != 1:
        raise ValueError(f"sampler_curve scores an unconditioned one-digit model; data.classes={cfg.data.classes}")
    # every sampler's config is built (and validated) before anything is trained
    stages = [
        dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, n_samples=n_samples, sampler=sampler, sample_steps=steps))
        for sampler, steps in samplers
    ]
    family = get_family(cfg.family)
    classifier = load_classifier(cfg.data.dataset, data_dir=cfg.data.data_dir)
    reference = protocols.to_unit(protocols.reference_images(cfg.data, "qdm", 1000))
    seed_everything(cfg.train.seed)
    result = train(family.build(cfg), family.prepare_data(cfg), lambda m, b, g: family.loss(m, b, cfg, g), cfg.train,
                   checkpoint_dir=work_dir, progress=progress, resume=True)
    rows = []
    for (sampler, steps), stage in zip(samplers, stages, strict=True):
        t0 = time.perf_counter()
        samples, _ = draw_samples(stage, family, result.sampling_model)
        wall = time.perf_counter() - t0
        scores = classifier_scores(classifier, samples, [cfg.data.classes[0]] * n_samples)
        rows.append({
            "sampler": sampler, "sample_steps": steps, "steps": cfg.train.steps, "accuracy": scores.accuracy,
            "confidence": scores.mean_confidence, "classifier_fid": classifier_fid(classifier, reference, samples),
            "sample_wall_s": wall, "n_samples": n_samples, "n_reference": int(reference.shape[0]),
        })
    return pd.DataFrame(rows)


def knee(curve: pd.DataFrame, threshold: float = RECOGNISED) -> int | None:
    """The fewest steps whose samples reach ``threshold`` accuracy and keep it at every later stage (None if none)."""
    ok = (curve.sort_values("steps")["accuracy"] >= threshold).tolist()
    steps = curve.sort_values("steps")["steps"].tolist()
    for i, step in enumerate(steps):
        if all(ok[i:]):
            return int(step)
    return None
