"""Chapter 04 (the hybrid DDPM of [chen2025quantum]): its knobs and experiments, parameter counts per
U-Net part, which parts moved in training, the image-metric table, and the weight-independence check
of the published circuit (:func:`qdm.audits.circuits.weight_independence`, a full state-vector
simulation)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from torch import Tensor, nn

from qdm.audits.circuits import weight_independence
from qdm.chapters.common import (
    Chapter,
    chapter_from,
    check_results_dir,
    fid_table,
    metrics_frame,
    parse_flag,
    parse_list,
    parse_seeds,
    pick_parameters,
    ssim_table,
)
from qdm.chapters.hybrid_runs import ClaimMetric
from qdm.chapters.jobs import HYBRID_DIGITS
from qdm.families.hybrid import HYBRID_PROFILES
from qdm.validation import check_choice
from qdm.config import ExperimentConfig, apply_overrides
from qdm.models.bottleneck import GATE_KINDS
from qdm.models.counting import PART_NAMES, count_parameters
from qdm.models.unet import TinyUNet
from qdm.runner import RunRecord, initial_model, run_samples
from qdm.validation import check_int

__all__ = [
    "BASE_EXPERIMENT",
    "BOOK_CHAPTER",
    "CONFIG_KEYS",
    "HybridChapterKnobs",
    "MNIST_CLAIM",
    "MNIST_CLAIM_TEXT",
    "from_namespace",
    "hybrid_chapter",
    "hybrid_experiments",
    "image_metrics_table",
    "parameter_table",
    "part_drift",
    "variant_models",
    "weight_independence",
]


#: The registered experiment chapter 04 trains (one config per variant and seed).
BASE_EXPERIMENT = "hybrid-mnist"
#: The key of :data:`qdm.chapters.jobs.CHAPTER_JOBS` whose runs the chapter shows from the ledger.
BOOK_CHAPTER = "hybrid"
#: [chen2025quantum] Abstract: with fewer than 100 training images the hybrid model beats the identical classical
#: architecture on MNIST in FID (lower) and SSIM (higher).
MNIST_CLAIM: tuple[ClaimMetric, ...] = (
    ClaimMetric("fid", "FID", True, "better"),
    ClaimMetric("ssim", "SSIM", False, "better"),
)
MNIST_CLAIM_TEXT = ("with fewer than 100 training images of a digit the quantum model has a better (lower) FID and a "
                    "better (higher) SSIM than the identical classical architecture")

#: Chapter 04's notebook parameters that are config values: parameter -> key of :data:`BASE_EXPERIMENT`'s
#: config. The config classes validate them (:func:`qdm.presets.resolve_config`); nothing is re-checked here.
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "digit": ("data.classes",),
    "images_per_class": ("data.images_per_class",),
    "n_qubits": ("model.n_qubits",),
    "n_layers": ("model.n_layers",),
    "ansatz": ("model.ansatz",),
    "detach_input": ("model.detach_input",),
    "T": ("model.T",),
    "steps": ("train.steps",),
    "batch_size": ("train.batch_size",),
    "lr": ("train.lr",),
    "ema_decay": ("train.ema_decay",),
    "sampler": ("eval.sampler",),
    "n_samples": ("eval.n_samples",),
    "fid_real_images": ("eval.fid_real_images",),
    "protocol": ("eval.protocol",),
    "ssim_convention": ("eval.ssim_convention",),
    "ssim_pairing": ("eval.ssim_pairing",),
    "sample_steps": ("eval.sample_steps",),
}
#: Set by the chapter itself: runs store SSIM only; the chapter scores FID against one shared reference set.
_CHAPTER_OVERRIDES = ("eval.metrics=ssim",)


@dataclass(frozen=True)
class HybridChapterKnobs:
    """Chapter 04's own knobs (not config values): which bottlenecks, how many seeds, parallel workers, results folder;
    and the profile, seeds and digits of the presets' runs shown from the ledger (``book_seeds``, ``book_digits``: one
    int or a comma-separated string; ``train_missing``: train those not found, also papermill's 'true' / 'false')."""

    variants: str = "quantum,classical,matched"
    n_seeds: int = 2
    workers: int = 1
    results_dir: str = ""
    profile: str = "book"
    book_seeds: Any = "0,1,2"
    book_digits: Any = "0,1,6"
    train_missing: Any = False

    def __post_init__(self) -> None:
        """Check every field; the message names the parameter and its allowed values."""
        kinds = parse_list("variants", self.variants)
        if any(k not in GATE_KINDS for k in kinds):
            raise ValueError(f"variants must be comma-separated gate kinds from {list(GATE_KINDS)}, got {self.variants!r}")
        check_int(self.n_seeds, "n_seeds", 1, 20)
        check_int(self.workers, "workers", 1, 64)
        check_results_dir(self.results_dir)
        check_choice(self.profile, "profile", ("paper", *HYBRID_PROFILES))
        object.__setattr__(self, "book_seeds", ",".join(map(str, parse_seeds(self.book_seeds, "book_seeds"))))
        digits = parse_seeds(self.book_digits, "book_digits")
        if any(d not in HYBRID_DIGITS for d in digits):
            raise ValueError(f"book_digits must be comma-separated digits of {list(HYBRID_DIGITS)}, got {self.book_digits!r}")
        object.__setattr__(self, "book_digits", ",".join(map(str, digits)))
        object.__setattr__(self, "train_missing", parse_flag(self.train_missing, "train_missing"))

    @property
    def book_seed_list(self) -> tuple[int, ...]:
        """The training seeds of the presets' runs, in the given order."""
        return tuple(int(s) for s in self.book_seeds.split(","))

    @property
    def book_digit_list(self) -> tuple[int, ...]:
        """The MNIST digits of the presets' runs, in the given order."""
        return tuple(int(d) for d in self.book_digits.split(","))

    @property
    def book_only(self) -> tuple[str, ...]:
        """The ``only`` terms of the book runs (:func:`qdm.chapters.runs.chapter_runs`): one per digit."""
        return tuple(f"data.classes={d}" for d in self.book_digit_list)

    @property
    def variant_list(self) -> tuple[str, ...]:
        """The gate kinds to train, in the given order."""
        return parse_list("variants", self.variants)

    @property
    def seeds(self) -> tuple[int, ...]:
        """Training seeds 0..n_seeds-1."""
        return tuple(range(self.n_seeds))


def hybrid_chapter(**values: Any) -> Chapter:
    """Chapter 04 from notebook parameters: :data:`CONFIG_KEYS` become overrides of :data:`BASE_EXPERIMENT`, the rest
    :class:`HybridChapterKnobs` (:func:`qdm.chapters.common.chapter_from`). ``ema_decay=0`` means no EMA.

    ``eval.sample_steps`` is checked against T and the sampler, so it is cleared first and set last (no
    intermediate config is invalid).
    """
    if values.get("ema_decay") == 0 and not isinstance(values.get("ema_decay"), bool):
        values = {**values, "ema_decay": None}
    fixed = (*_CHAPTER_OVERRIDES, "eval.sample_steps=null") if "sample_steps" in values else _CHAPTER_OVERRIDES
    chapter = chapter_from(values, HybridChapterKnobs, {"hybrid": BASE_EXPERIMENT}, CONFIG_KEYS, fixed=fixed)
    ev = chapter.config.eval
    if ev.ssim_pairing == "index" and ev.fid_real_images < ev.n_samples:  # else the runner fails only after training
        raise ValueError(
            f"fid_real_images must be >= n_samples={ev.n_samples} for ssim_pairing='index', got {ev.fid_real_images}"
        )
    if "ema_decay" in values and values["ema_decay"] is None:
        chapter = dataclasses.replace(chapter, values={**chapter.values, "ema_decay": 0.0})
    return chapter


def from_namespace(namespace: Mapping[str, Any]) -> Chapter:
    """:func:`hybrid_chapter` from a notebook's namespace (its parameters cell and papermill's overrides)."""
    return hybrid_chapter(**pick_parameters(namespace, [*CONFIG_KEYS, *(f.name for f in dataclasses.fields(HybridChapterKnobs))]))


def hybrid_experiments(chapter: Chapter) -> list[tuple[str, int, ExperimentConfig]]:
    """[chen2025quantum]: the chapter's base config for every (variant, seed) of its knobs."""
    if not isinstance(chapter, Chapter) or not isinstance(chapter.knobs, HybridChapterKnobs):
        raise ValueError(f"chapter must come from hybrid_chapter(...), got {type(chapter).__name__}")
    out = []
    for variant in chapter.knobs.variant_list:
        for seed in chapter.knobs.seeds:
            cfg = apply_overrides(chapter.config, [f"model.bottleneck={variant}", f"train.seed={seed}"])
            out.append((variant, seed, cfg))
    return out


#: parameter-name prefixes of TinyUNet -> the parts of qdm.models.counting.count_parameters
_PART_PREFIXES: tuple[tuple[str, str], ...] = (
    ("enc1", "encoder"), ("enc2", "encoder"), ("enc3", "encoder"), ("time_proj", "time_embedding"),
    ("res_block", "res_block"), ("bottleneck.proj_in", "proj_in"), ("bottleneck.core", "circuit"),
    ("bottleneck.proj_out", "proj_out"), ("bottleneck", "circuit"), ("dec1", "decoder"), ("dec2", "decoder"),
    ("out", "decoder"),
)


def _part_of(name: str) -> str:
    """The count_parameters part a TinyUNet parameter belongs to."""
    for prefix, part in _PART_PREFIXES:
        if name == prefix or name.startswith(prefix + "."):
            return part
    raise ValueError(f"parameter {name!r} belongs to no known TinyUNet part")


def variant_models(cfg: ExperimentConfig, kinds: Sequence[str]) -> dict[str, nn.Module]:
    """[chen2025quantum]: the U-Net of a hybrid config with each bottleneck kind, built (seeded) as the runner builds it."""
    if not isinstance(cfg, ExperimentConfig) or cfg.family != "hybrid_ddpm":
        raise ValueError("cfg must be an ExperimentConfig of the hybrid_ddpm family")
    bad = [k for k in kinds if k not in GATE_KINDS]
    if isinstance(kinds, str) or not kinds or bad:
        raise ValueError(f"kinds must be a non-empty list of gate kinds from {list(GATE_KINDS)}, got {kinds!r}")
    return {k: initial_model(dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, bottleneck=k))) for k in kinds}


def parameter_table(models: Mapping[str, TinyUNet]) -> pd.DataFrame:
    """[chen2025quantum]: trainable parameters per part (rows, network order, then total) for each model (columns)."""
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty mapping label -> TinyUNet")
    counts = {label: count_parameters(model) for label, model in models.items()}
    table = pd.DataFrame(counts).reindex([*PART_NAMES, "total"])
    table.index.name = "part"
    return table.reset_index()


def part_drift(initial: nn.Module, trained: nn.Module) -> dict[str, float]:
    """Largest |θ_trained − θ_initial| over the parameters of each U-Net part ([chen2025quantum]: frozen parts stay at 0)."""
    if not isinstance(initial, TinyUNet) or not isinstance(trained, TinyUNet):
        raise ValueError("initial and trained must both be TinyUNet models")
    a, b = dict(initial.named_parameters()), dict(trained.named_parameters())
    if a.keys() != b.keys():
        raise ValueError("initial and trained must have the same parameters (the same architecture)")
    drift: dict[str, float] = {}
    for name, p in a.items():
        part = _part_of(name)
        change = float((b[name].detach().double() - p.detach().double()).abs().max()) if p.numel() else 0.0
        drift[part] = max(drift.get(part, 0.0), change)
    return {part: drift[part] for part in PART_NAMES if part in drift}


def image_metrics_table(
    runs: Mapping[str, Sequence[RunRecord]],
    reference: Tensor,
    baselines: Mapping[str, Tensor],
    convention: str,
    pairing: str,
) -> pd.DataFrame:
    """One row per run and per baseline image set: FID (one shared reference) and SSIM, with image counts and SSIM convention.

    Runs keep the SSIM stored in their metrics (their config names convention and pairing); baselines
    (e.g. samples of an untrained model, seed shown as -1) are scored here with ``convention``/``pairing``.
    """
    frame = metrics_frame(runs, ["ssim", "ssim_n", "ssim_convention", "ssim_pairing"])
    frame["seed"] = frame["seed"].astype(int)
    rows = [frame]
    if baselines:
        base = ssim_table(baselines, reference, convention, pairing)
        rows.append(pd.DataFrame({
            "label": base["label"], "seed": -1, "run": "-", "ssim": base["ssim"], "ssim_n": base["n_generated"],
            "ssim_convention": base["convention"], "ssim_pairing": base["pairing"], "train_wall_s": 0.0,
        }))
    table = pd.concat(rows, ignore_index=True)
    sets = [run_samples(r) for records in runs.values() for r in records] + list(baselines.values())
    fids = fid_table({str(i): x for i, x in enumerate(sets)}, reference)
    table["fid"] = fids["fid"].to_numpy()
    table["fid n_generated"] = fids["n_generated"].to_numpy()
    table["fid n_real"] = fids["n_real"].to_numpy()
    return table[["label", "seed", "fid", "fid n_generated", "fid n_real", "ssim", "ssim_n", "ssim_convention",
                  "ssim_pairing", "train_wall_s"]]
