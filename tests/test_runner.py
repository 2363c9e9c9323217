"""The runner and the CLI on a tiny real family: results folder, reuse, resume, job lists, `qdm` commands."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from qdm.cli import main, parse_seeds
from qdm.config import (
    DataConfig,
    EvalConfig,
    ExperimentConfig,
    TrainConfig,
    apply_overrides,
    config_hash,
    from_dict,
    register_experiment,
    validate_fields,
)
from qdm.data import load_dataset
from qdm.families import Family, register_family
from qdm.runner import (
    DONE_NAME,
    compute_image_metrics,
    eval_reference,
    load_run,
    run_dir_for,
    run_experiment,
    run_many,
    save_image_grid,
)
from qdm.train import CHECKPOINT_NAME, load_checkpoint

# ----------------------------------------------------------------------------------- a tiny real family
# An MLP epsilon-predictor DDPM (Ho et al. 2020) on 8x8-downsampled real MNIST digits.


@dataclass(frozen=True)
class TinyDDPMConfig:
    """Tiny DDPM: MLP width, number of steps, linear beta range, and a test switch to diverge at a step."""

    hidden: int = 32
    T: int = 20
    beta_start: float = 1e-4
    beta_end: float = 0.2
    diverge_at_call: int | None = None

    def __post_init__(self) -> None:
        validate_fields(self)
        if not 0 < self.beta_start < self.beta_end < 1:
            raise ValueError("TinyDDPMConfig.beta_start/beta_end must satisfy 0 < start < end < 1")


class TinyEps(nn.Module):
    def __init__(self, hidden: int, T: int) -> None:
        super().__init__()
        self.T = T
        self.net = nn.Sequential(nn.Linear(65, hidden), nn.SiLU(), nn.Linear(hidden, 64))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x.flatten(1), (t.float() / self.T).unsqueeze(1)], 1)).view_as(x)


CALLS = {"build": 0, "loss": 0, "sample": 0}
FAIL_SAMPLING = {"on": False}
LOSS_CALLS: weakref.WeakKeyDictionary[nn.Module, int] = weakref.WeakKeyDictionary()  # per model: its step


def _betas(m: TinyDDPMConfig) -> tuple[torch.Tensor, torch.Tensor]:
    betas = torch.linspace(m.beta_start, m.beta_end, m.T)
    return betas, torch.cumprod(1 - betas, 0)


def build(cfg: ExperimentConfig) -> nn.Module:
    CALLS["build"] += 1
    return TinyEps(cfg.model.hidden, cfg.model.T)


def prepare_data(cfg: ExperimentConfig) -> torch.Tensor:
    d = cfg.data
    ds = load_dataset(d.dataset, d.split, d.data_dir).subset(d.classes, d.images_per_class, d.subset_seed)
    return F.interpolate(ds.to_tensor(), size=(8, 8), mode="bilinear", antialias=True, align_corners=False)


def loss(model: nn.Module, x0: torch.Tensor, cfg: ExperimentConfig, g: torch.Generator) -> torch.Tensor:
    CALLS["loss"] += 1
    LOSS_CALLS[model] = LOSS_CALLS.get(model, 0) + 1
    _, alpha_bar = _betas(cfg.model)
    t = torch.randint(0, cfg.model.T, (x0.shape[0],), generator=g)
    eps = torch.randn(x0.shape, generator=g)
    ab = alpha_bar[t].view(-1, 1, 1, 1)
    value = F.mse_loss(model(ab.sqrt() * x0 + (1 - ab).sqrt() * eps, t), eps)
    return value * float("nan") if LOSS_CALLS[model] == cfg.model.diverge_at_call else value


def sample(model: nn.Module, n: int, cfg: ExperimentConfig, g: torch.Generator) -> torch.Tensor:
    CALLS["sample"] += 1
    if FAIL_SAMPLING["on"]:
        raise RuntimeError("sampling failed on purpose")
    betas, alpha_bar = _betas(cfg.model)
    x = torch.randn(n, 1, 8, 8, generator=g)
    for t in reversed(range(cfg.model.T)):
        eps = model(x, torch.full((n,), t))
        x = (x - betas[t] / (1 - alpha_bar[t]).sqrt() * eps) / (1 - betas[t]).sqrt()
        if t > 0:
            x = x + betas[t].sqrt() * torch.randn(x.shape, generator=g)
    return ((x.clamp(-1, 1) + 1) / 2).clamp(0, 1)


def evaluate(model: nn.Module, samples: torch.Tensor, cfg: ExperimentConfig) -> dict[str, float]:
    return {"mean_intensity": float(samples.mean())}


register_family(
    Family("tiny_ddpm", TinyDDPMConfig, build, loss, sample, prepare_data, evaluate=evaluate, describe=lambda c: "tiny")
)


def tiny_experiment() -> ExperimentConfig:
    return ExperimentConfig(
        experiment="tiny-runner",
        family="tiny_ddpm",
        data=DataConfig(dataset="mnist", classes=(0,), images_per_class=16),
        model=TinyDDPMConfig(),
        train=TrainConfig(steps=12, batch_size=8, lr=3e-3, ema_decay=0.9, checkpoint_every=4, seed=0),
        eval=EvalConfig(n_samples=4, metrics=("ssim",), fid_real_images=16, ssim_pairing="index"),
    )


register_experiment("tiny-runner", tiny_experiment)


# ----------------------------------------------------------------------------------- runner


def test_run_writes_the_results_folder_then_reuses_it(tmp_path: Path) -> None:
    cfg = tiny_experiment()
    rec = run_experiment(cfg, results_root=tmp_path, progress=False)
    run_dir = tmp_path / "tiny-runner" / config_hash(cfg)
    assert rec.run_dir == run_dir == run_dir_for(cfg, tmp_path) and not rec.reused
    names = {p.name for p in run_dir.iterdir()}
    expected = {"config.json", "metrics.json", "metrics.csv", "losses.csv", "samples.png", "samples.pt",
                CHECKPOINT_NAME, "timing.json", "provenance.json", "identity.json", DONE_NAME}  # fmt: skip
    assert names == expected  # nothing else, no temporary files
    assert from_dict(json.loads((run_dir / "config.json").read_text())) == cfg
    samples = torch.load(run_dir / "samples.pt")
    assert samples.shape == (4, 1, 8, 8) and 0 <= float(samples.min()) and float(samples.max()) <= 1
    # each phase's CPU seconds beside its wall seconds; the process cannot have used more CPU than exists
    timing = json.loads((run_dir / "timing.json").read_text())
    for phase in ("train", "sample", "eval"):
        assert timing[f"{phase}_cpu_s"] > 0
    assert timing["sample_cpu_s"] <= timing["sample_wall_s"] * (os.cpu_count() or 1) + 0.05
    assert timing["torch_threads"] == torch.get_num_threads()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # the reference (16 real test zeros, resized to 8x8) and SSIM under the named convention and pairing
    assert metrics["n_reference"] == 16 and metrics["ssim_n"] == 4 and -1 <= metrics["ssim"] <= 1
    assert metrics["ssim_convention"] == "skimage" and metrics["ssim_pairing"] == "index"
    assert metrics["mean_intensity"] == pytest.approx(float(samples.mean()))
    assert len(rec.losses) == 12 and list(rec.losses) == load_checkpoint(run_dir / CHECKPOINT_NAME)["losses"]
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["config_hash"] == config_hash(cfg) and prov["torch"] == torch.__version__
    assert prov["data_source"]["md5"] == "f12e07c371f4a59f000a3d87fcdc3f4d"
    with Image.open(run_dir / "samples.png") as im:
        assert im.mode == "L" and im.size[0] > 2 * 8

    builds, marker = CALLS["build"], (run_dir / DONE_NAME).stat().st_mtime_ns
    timing = (run_dir / "timing.json").read_text()
    again = run_experiment(cfg, results_root=tmp_path, progress=False)
    assert again.reused and CALLS["build"] == builds  # not rebuilt, not retrained
    assert (run_dir / DONE_NAME).stat().st_mtime_ns == marker and (run_dir / "timing.json").read_text() == timing
    assert again.metrics == rec.metrics and again.losses == rec.losses and again.config == cfg
    forced = run_experiment(cfg, results_root=tmp_path, force=True, progress=False)
    assert not forced.reused and CALLS["build"] == builds + 1
    assert forced.losses == rec.losses and forced.metrics == rec.metrics  # deterministic end to end


def test_unfinished_run_resumes_from_its_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = apply_overrides(tiny_experiment(), ["seed=1"])
    monkeypatch.setitem(FAIL_SAMPLING, "on", True)
    with pytest.raises(RuntimeError, match="on purpose"):
        run_experiment(cfg, results_root=tmp_path, progress=False)
    run_dir = run_dir_for(cfg, tmp_path)
    assert not (run_dir / DONE_NAME).exists() and load_checkpoint(run_dir / CHECKPOINT_NAME)["step"] == 12
    monkeypatch.setitem(FAIL_SAMPLING, "on", False)
    rec = run_experiment(cfg, results_root=tmp_path, progress=False)
    assert (run_dir / DONE_NAME).is_file() and not rec.reused
    assert rec.timing["resumed_from_step"] == 12 and rec.timing["steps_trained"] == 0
    assert len(rec.losses) == 12 and load_run(run_dir).losses == rec.losses


def test_eval_reference_protocols_pick_the_right_real_images(data_dir: Path) -> None:
    like = torch.zeros(2, 1, 28, 28)
    with np.load(data_dir / "mnist" / "mnist.npz") as f:
        x_test, y_test = f["x_test"], f["y_test"]
    chen = dataclasses.replace(tiny_experiment(), eval=EvalConfig(protocol="chen2025", fid_real_images=5, metrics=()))
    from qdm.families import get_family

    ref = eval_reference(chen, get_family("tiny_ddpm"), like)
    expected = torch.from_numpy(x_test[:5]).float().unsqueeze(1) / 255
    # qdm.protocols: the stand-in for the authors' first N training images of any digit (the shared training
    # file is grouped by class) is the first N official test images, any digit
    assert torch.equal(ref, expected) and sorted(y_test[:5].tolist()) != [0] * 5
    qdm_cfg = dataclasses.replace(chen, eval=EvalConfig(protocol="qdm", fid_real_images=7, metrics=()))
    ref = eval_reference(qdm_cfg, get_family("tiny_ddpm"), like)
    test_zeros = {bytes(a) for a in x_test[y_test == 0]}
    assert ref.shape == (7, 1, 28, 28)
    assert all(bytes((r[0] * 255).round().to(torch.uint8).numpy()) in test_zeros for r in ref)


def test_run_many_reports_a_crash_and_leaves_other_jobs_alone(tmp_path: Path) -> None:
    good = [apply_overrides(tiny_experiment(), [f"seed={s}", "steps=6", "checkpoint_every=2"]) for s in (0, 1)]
    bad = apply_overrides(good[0], ["diverge_at_call=3"])
    outcomes = run_many([good[0], bad, good[1], good[0]], workers=1, results_root=tmp_path)
    assert [o.ok for o in outcomes] == [True, False, True, True]
    assert "TrainingDiverged" in outcomes[1].error and "step 3" in outcomes[1].error
    assert outcomes[3] == outcomes[0]  # duplicates run once
    assert not (Path(outcomes[1].run_dir) / DONE_NAME).exists()
    assert load_checkpoint(Path(outcomes[1].run_dir) / CHECKPOINT_NAME)["step"] == 2
    again = run_many(good, results_root=tmp_path)
    assert all(o.ok and o.reused for o in again)
    assert [o.metrics for o in again] == [outcomes[0].metrics, outcomes[2].metrics]


def test_run_many_in_spawned_worker_processes(tmp_path: Path) -> None:
    # Kept cheap (each worker imports torch): the good job was finished here, so the worker must find the
    # family by importing this module, rebuild the config and reuse the run; the bad one fails in prepare_data.
    ok = apply_overrides(tiny_experiment(), ["seed=5", "steps=0"])
    bad = apply_overrides(ok, ["images_per_class=50000"])
    here = run_experiment(ok, results_root=tmp_path, progress=False)
    outcomes = run_many([ok, bad], workers=2, results_root=tmp_path)
    assert outcomes[0].ok and outcomes[0].reused and outcomes[0].metrics == here.metrics
    assert not outcomes[1].ok and "n_per_class=50000" in outcomes[1].error and "DataError" in outcomes[1].traceback
    assert outcomes[1].run_dir == str(run_dir_for(bad, tmp_path)) and not (Path(outcomes[1].run_dir) / DONE_NAME).exists()


def test_run_many_validates_and_names_missing_cluster_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    cfgs = [tiny_experiment()]
    with pytest.raises(ValueError, match="engine must be one of local, dask, ray"):
        run_many(cfgs, engine="slurm")
    with pytest.raises(ValueError, match="workers must be an int >= 1"):
        run_many(cfgs, workers=0)
    with pytest.raises(ValueError, match="address is only used"):
        run_many(cfgs, address="tcp://x:1")
    monkeypatch.setitem(sys.modules, "distributed", None)
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"engine='dask' needs dask.distributed.*qdm\[cluster\]"):
        run_many(cfgs, engine="dask", address="tcp://127.0.0.1:8786")
    with pytest.raises(ImportError, match=r"engine='ray' needs ray"):
        run_many(cfgs, engine="ray")


def test_fid_and_kid_share_one_feature_pass_per_image_set(monkeypatch: pytest.MonkeyPatch) -> None:
    import qdm.metrics as metrics

    calls: list[int] = []

    def pixel_features(
        images: torch.Tensor, batch_size: int = 64, device: str = "cpu", cache_dir: object = None, progress: bool = False
    ) -> torch.Tensor:
        calls.append(images.shape[0])  # a cheap stand-in for Inception: the pixels themselves
        return images.flatten(1).double()

    monkeypatch.setattr(metrics, "inception_features", pixel_features)
    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(12, 1, 8, 8, generator=g), torch.rand(10, 1, 8, 8, generator=g) ** 2
    ecfg = EvalConfig(
        n_samples=10, metrics=("fid", "kid", "ssim", "precision_recall"), ssim_pairing="nearest", ssim_convention="torchmetrics"
    )
    out = compute_image_metrics(fake, real, ecfg, seed=3)
    assert calls == [12, 10]
    f_real, f_fake = real.flatten(1).double(), fake.flatten(1).double()
    assert out["fid"] == pytest.approx(metrics.fid_from_features(f_real, f_fake), rel=1e-12) and out["fid"] > 0
    assert (out["fid_n_reference"], out["fid_n_generated"], out["kid_n_reference"], out["kid_n_generated"]) == (12, 10, 12, 10)
    jack = metrics.kid_jackknife(f_real, f_fake)
    assert (out["kid"], out["kid_se"]) == (jack.value, jack.se) and out["kid_se"] > 0 and "kid_std" not in out
    assert out["kid_se_method"] == "two-sample jackknife over images"
    from qdm.precision_recall import precision_recall

    pr = precision_recall(f_real, f_fake)
    assert (out["pr_inception_precision"], out["pr_inception_recall"], out["pr_inception_k"]) == (pr.precision, pr.recall, 3)
    assert (out["pr_inception_n_reference"], out["pr_inception_n_generated"]) == (12, 10)
    same = compute_image_metrics(real, real, dataclasses.replace(ecfg, metrics=("fid", "ssim")), seed=3)
    assert abs(same["fid"]) < 1e-6 and same["ssim"] == pytest.approx(1.0)  # a set against itself


def test_image_grid_holds_the_pixels(tmp_path: Path) -> None:
    images = torch.rand(5, 3, 28, 28)
    save_image_grid(images, tmp_path / "g.png", nrow=3, pad=2)
    with Image.open(tmp_path / "g.png") as im:
        arr = np.asarray(im.convert("RGB"))
    assert arr.shape == (2 + 2 * 30, 2 + 3 * 30, 3)
    tile = arr[32:60, 2 + 30 : 30 + 30]  # row 1, column 1 -> image 4
    assert np.array_equal(tile, (images[4].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


# ----------------------------------------------------------------------------------- CLI


def test_cli_show_run_list_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "tiny-runner", "steps=5", "model.hidden=8"]) == 0
    out = capsys.readouterr().out
    cfg = apply_overrides(tiny_experiment(), ["steps=5", "model.hidden=8"])
    assert f"hash: {config_hash(cfg)}" in out and '"steps": 5' in out and '"hidden": 8' in out
    for argv, needle in (
        (["show", "tiny-runner", "bogus=1"], "unknown config key 'bogus'"),
        (["run", "tiny-runner", "steps=abc"], "train.steps must be an int"),
        (["run", "no-such-experiment"], "experiment must be a registered experiment"),
        (["run", "tiny-runner", "--seeds", "x"], "--seeds must be"),
        (["frobnicate"], "invalid choice"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("qdm: error: ") and needle in err and err.count("\n") == 1
    argv = ["run", "tiny-runner", "steps=4", "--results", str(tmp_path), "--quiet", "n_samples=2", "--seeds", "0,1"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("done") for line in lines)
    assert len(list((tmp_path / "tiny-runner").glob(f"*/{DONE_NAME}"))) == 2
    assert main(argv) == 0 and capsys.readouterr().out.startswith("reused")
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "tiny-runner" in listing and "tiny_ddpm" in listing and "presets:" in listing
    assert parse_seeds("0-2,5,1") == (0, 1, 2, 5)


def test_console_entry_point_exits_2_with_one_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.run([sys.executable, "-m", "qdm.cli", "show"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("qdm: error: the following arguments are required: experiment")
    assert proc.stderr.count("\n") == 1 and proc.stdout == ""


def test_run_many_submits_the_same_jobs_to_an_existing_dask_cluster(tmp_path: Path) -> None:
    # An in-process Dask cluster stands in for the user's: the job list is submitted unchanged, a finished job
    # is reused from the results folder and a failing job is reported without touching the others.
    import distributed  # part of the locked environment (requirements.lock)

    ok = apply_overrides(tiny_experiment(), ["seed=7", "steps=0"])
    bad = apply_overrides(ok, ["images_per_class=50000"])
    here = run_experiment(ok, results_root=tmp_path, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        outcomes = run_many([ok, bad], engine="dask", address=cluster.scheduler_address, results_root=tmp_path)
    assert outcomes[0].ok and outcomes[0].reused and outcomes[0].metrics == here.metrics
    assert not outcomes[1].ok and "n_per_class=50000" in outcomes[1].error
