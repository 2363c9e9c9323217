"""Chapter 04 (the hybrid DDPM of [chen2025quantum]): its knobs and experiments, parameter counts per
U-Net part, which parts moved in training, the image-metric table, and the weight-independence check
of the published circuit (:func:`qdm.audits.circuits.weight_independence`, a full state-vector
simulation)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from torch import Tensor, nn

from qdm.audits.circuits import weight_independence
from qdm.chapters.common import (
    check_choice,
    check_float,
    check_int,
    check_results_dir,
    fid_table,
    metrics_frame,
    parse_list,
    ssim_table,
)
from qdm.config import DataConfig, EvalConfig, ExperimentConfig, get_experiment
from qdm.models.bottleneck import ANSATZ_NAMES, GATE_KINDS
from qdm.models.params import PART_NAMES, count_parameters
from qdm.models.unet import TinyUNet
from qdm.runner import RunRecord, initial_model, run_samples

__all__ = [
    "HybridChapterParams",
    "hybrid_experiments",
    "image_metrics_table",
    "parameter_table",
    "part_drift",
    "variant_models",
    "weight_independence",
]


@dataclass(frozen=True)
class HybridChapterParams:
    """Parameters of notebooks/04_hybrid_ddpm ([chen2025quantum]), validated on construction."""

    digit: int = 0
    images_per_class: int = 32
    variants: str = "quantum,classical,matched"
    n_seeds: int = 2
    n_qubits: int = 8
    n_layers: int = 3
    ansatz: str = "rz_cnot"
    detach_input: bool = True
    T: int = 1000
    steps: int = 100
    batch_size: int = 16
    lr: float = 1e-3
    ema_decay: float = 0.0
    sampler: str = "ddim"
    sample_steps: int = 25
    n_samples: int = 8
    fid_real_images: int = 32
    protocol: str = "qdm"
    ssim_convention: str = "skimage"
    ssim_pairing: str = "index"
    workers: int = 1
    results_dir: str = ""

    def __post_init__(self) -> None:
        """Check every field; the message names the parameter and its allowed values."""
        check_int("digit", self.digit, 0, 9)
        check_int("images_per_class", self.images_per_class, 1, 5000)
        kinds = parse_list("variants", self.variants)
        bad = [k for k in kinds if k not in GATE_KINDS]
        if bad:
            raise ValueError(f"variants must be comma-separated gate kinds from {list(GATE_KINDS)}, got {self.variants!r}")
        check_int("n_seeds", self.n_seeds, 1, 20)
        check_int("n_qubits", self.n_qubits, 1, 16)
        check_int("n_layers", self.n_layers, 1, 20)
        check_choice("ansatz", self.ansatz, tuple(ANSATZ_NAMES))
        if not isinstance(self.detach_input, bool):
            raise ValueError(f"detach_input must be True (published) or False, got {self.detach_input!r}")
        check_int("T", self.T, 2, 4000)
        check_int("steps", self.steps, 1, 10_000_000)
        check_int("batch_size", self.batch_size, 1, 10_000)
        check_float("lr", self.lr, 0.0, 10.0, low_open=True)
        check_float("ema_decay", self.ema_decay, 0.0, 1.0)
        if self.ema_decay >= 1.0:
            raise ValueError(f"ema_decay must be 0 (no EMA) or a number in (0, 1), got {self.ema_decay!r}")
        check_choice("sampler", self.sampler, ("ddim", "ddpm"))
        check_int("sample_steps", self.sample_steps, 1, self.T)
        if self.sampler == "ddpm" and self.sample_steps != self.T:
            raise ValueError(
                f"sample_steps must equal T={self.T} for sampler='ddpm' (use 'ddim' to skip steps), got {self.sample_steps}"
            )
        check_int("n_samples", self.n_samples, 2, 100_000)
        check_int("fid_real_images", self.fid_real_images, 2, 100_000)
        check_choice("protocol", self.protocol, ("qdm", "chen2025"))
        check_choice("ssim_convention", self.ssim_convention, ("skimage", "torchmetrics"))
        check_choice("ssim_pairing", self.ssim_pairing, ("index", "nearest"))
        if self.ssim_pairing == "index" and self.fid_real_images < self.n_samples:
            raise ValueError(
                f"fid_real_images must be >= n_samples={self.n_samples} for ssim_pairing='index', got {self.fid_real_images}"
            )
        check_int("workers", self.workers, 1, 64)
        check_results_dir(self.results_dir)

    @property
    def variant_list(self) -> tuple[str, ...]:
        """The gate kinds to train, in the given order."""
        return parse_list("variants", self.variants)

    @property
    def seeds(self) -> tuple[int, ...]:
        """Training seeds 0..n_seeds-1."""
        return tuple(range(self.n_seeds))

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (for provenance records)."""
        return asdict(self)


def hybrid_experiments(p: HybridChapterParams) -> list[tuple[str, int, ExperimentConfig]]:
    """[chen2025quantum]: the registered ``hybrid-mnist`` experiment for every (variant, seed) with ``p``'s values."""
    if not isinstance(p, HybridChapterParams):
        raise ValueError(f"p must be HybridChapterParams, got {type(p).__name__}")
    base = get_experiment("hybrid-mnist")
    data = DataConfig(dataset="mnist", classes=(p.digit,), images_per_class=p.images_per_class, split="train")
    ev = EvalConfig(
        n_samples=p.n_samples, metrics=("ssim",), sampler=p.sampler, sample_steps=p.sample_steps,
        fid_real_images=p.fid_real_images, ssim_convention=p.ssim_convention, ssim_pairing=p.ssim_pairing,
        protocol=p.protocol,
    )
    out = []
    for variant in p.variant_list:
        model = dataclasses.replace(
            base.model, bottleneck=variant, n_qubits=p.n_qubits, n_layers=p.n_layers, ansatz=p.ansatz,
            detach_input=p.detach_input, T=p.T,
        )
        for seed in p.seeds:
            train = dataclasses.replace(
                base.train, steps=p.steps, batch_size=p.batch_size, lr=p.lr, ema_decay=p.ema_decay or None, seed=seed
            )
            cfg = dataclasses.replace(base, data=data, model=model, train=train, eval=ev)
            out.append((variant, seed, cfg))
    return out


#: parameter-name prefixes of TinyUNet -> the parts of qdm.models.params.count_parameters
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
