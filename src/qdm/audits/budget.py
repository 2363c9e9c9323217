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
from typing import Any

import pandas as pd
from torch import Tensor

from qdm import protocols
from qdm.config import ExperimentConfig
from qdm.families import get_family
from qdm.run_metrics import classifier_metrics
from qdm.runner import draw_samples
from qdm.train import seed_everything, train

__all__ = ["RECOGNISED", "budget_curve", "knee", "sampler_curve"]

#: The book profile's criterion: this fraction of the classical twin's samples classified as the intended digit.
RECOGNISED = 0.9


def budget_curve(
    cfg: ExperimentConfig, stages: Sequence[int], n_samples: int, work_dir: str | Path, progress: bool = False
) -> pd.DataFrame:
    """Train ``cfg`` to each of ``stages`` (increasing step counts) and score ``n_samples`` samples after each.

    Columns: steps, wall_s (training so far), score (what ``accuracy`` is: ``intended`` = classified as the
    intended digit, for one-digit and label-conditioned models; ``in_classes`` = classified as any trained digit,
    for unconditioned multi-digit models), accuracy, confidence (mean probability of the intended digit; NaN for
    ``in_classes``), classifier_fid (against up to 1,000 held-out images of the classes), n_samples, n_reference.
    """
    stages = sorted(int(s) for s in stages)
    if not stages or stages[0] < 1:
        raise ValueError(f"stages must be step counts >= 1, got {list(stages)}")
    family = get_family(cfg.family)
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
        rows.append({"steps": steps, "wall_s": wall, **_classifier_row(stage, samples, reference)})
    return pd.DataFrame(rows)


def _classifier_row(cfg: ExperimentConfig, samples: Tensor, reference: Tensor) -> dict[str, Any]:
    """score, accuracy, confidence, classifier_fid, n_samples, n_reference of ``samples`` (the run's classifier
    metrics, :func:`qdm.run_metrics.classifier_metrics`, without precision / recall)."""
    m = classifier_metrics(cfg, samples, reference, with_precision_recall=False)
    if "classifier_skipped" in m:
        raise ValueError(f"budget_curve cannot score these samples: {m['classifier_skipped']}")
    intended = "classifier_accuracy" in m
    return {
        "score": "intended" if intended else "in_classes",
        "accuracy": m["classifier_accuracy"] if intended else m["classifier_in_classes"],
        "confidence": m["classifier_confidence"] if intended else float("nan"),
        "classifier_fid": m["classifier_fid"],
        "n_samples": m["classifier_n_generated"],
        "n_reference": m["classifier_n_reference"],
    }


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
    only the sampler differs. Columns: sampler, sample_steps, steps (training), score, accuracy, confidence,
    classifier_fid, n_samples, n_reference (as :func:`budget_curve`), sample_wall_s.
    """
    if not samplers:
        raise ValueError("samplers must name at least one (sampler, sample_steps) pair")
    # every sampler's config is built (and validated) before anything is trained
    stages = [
        dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, n_samples=n_samples, sampler=sampler, sample_steps=steps))
        for sampler, steps in samplers
    ]
    family = get_family(cfg.family)
    reference = protocols.to_unit(protocols.reference_images(cfg.data, "qdm", 1000))
    seed_everything(cfg.train.seed)
    result = train(family.build(cfg), family.prepare_data(cfg), lambda m, b, g: family.loss(m, b, cfg, g), cfg.train,
                   checkpoint_dir=work_dir, progress=progress, resume=True)
    rows = []
    for (sampler, steps), stage in zip(samplers, stages, strict=True):
        t0 = time.perf_counter()
        samples, _ = draw_samples(stage, family, result.sampling_model)
        wall = time.perf_counter() - t0
        rows.append({"sampler": sampler, "sample_steps": steps, "steps": cfg.train.steps,
                     **_classifier_row(stage, samples, reference), "sample_wall_s": wall})
    return pd.DataFrame(rows)


def knee(curve: pd.DataFrame, threshold: float = RECOGNISED) -> int | None:
    """The fewest steps whose samples reach ``threshold`` accuracy and keep it at every later stage (None if none)."""
    ok = (curve.sort_values("steps")["accuracy"] >= threshold).tolist()
    steps = curve.sort_values("steps")["steps"].tolist()
    for i, step in enumerate(steps):
        if all(ok[i:]):
            return int(step)
    return None
