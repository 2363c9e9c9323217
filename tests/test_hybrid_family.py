"""The "hybrid_ddpm" family (chen2025quantum): loss and samplers against qdm.diffusion, configs, learning on real MNIST."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from qdm.config import DataConfig, EvalConfig, ExperimentConfig, TrainConfig, apply_overrides, from_dict, get_experiment, to_dict
from qdm.diffusion import gaussian_noise, l_simple, p_mean_variance, p_sample_loop
from qdm.families import get_family
from qdm.families.hybrid import (
    HybridModelConfig,
    build_hybrid,
    hybrid_loss,
    hybrid_prepare_data,
    hybrid_sample,
    make_noise_fn,
    schedule_for,
)
from qdm.models import count_parameters
from qdm.schedules import make_schedule
from qdm.train import train

TINY = {"widths": (8, 16, 32), "time_dim": 16, "n_qubits": 3, "n_layers": 1}


def _cfg(data_dir, **model) -> ExperimentConfig:
    return ExperimentConfig(
        experiment="hybrid-test",
        family="hybrid_ddpm",
        data=DataConfig(dataset="mnist", classes=(0,), images_per_class=8, data_dir=str(data_dir)),
        model=HybridModelConfig(**{**TINY, "T": 6, **model}),
        train=TrainConfig(steps=1, batch_size=4, checkpoint_every=None),
        eval=EvalConfig(n_samples=2, metrics=()),
    )


def _eps_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A fixed, t-dependent stand-in for ε_θ."""
    return 0.3 * x + 0.01 * t.to(x.dtype)[:, None, None, None]


# --- registry and configs -----------------------------------------------------------------------


def test_family_and_experiments_are_registered():
    fam = get_family("hybrid_ddpm")
    assert fam.model_config_cls is HybridModelConfig
    mnist, path = get_experiment("hybrid-mnist"), get_experiment("hybrid-pathmnist")
    assert mnist.data.dataset == "mnist" and mnist.data.classes == (0,) and mnist.data.images_per_class < 100
    assert path.data.dataset == "pathmnist" and path.data.classes == (1,) and path.model.in_channels == 3
    for cfg in (mnist, path):
        assert from_dict(to_dict(cfg)) == cfg
        assert "qubit" in fam.describe(cfg)


def test_overrides_switch_the_bottleneck_and_keep_the_rest():
    cfg = get_experiment("hybrid-mnist")
    for kind in ("none", "classical", "matched"):
        twin = apply_overrides(cfg, [f"model.bottleneck={kind}"])
        assert twin.model.bottleneck == kind
        assert dataclasses.replace(twin.model, bottleneck="quantum") == cfg.model


@pytest.mark.parametrize(
    "change",
    [
        {"bottleneck": "attention"},
        {"n_qubits": 0},
        {"ansatz": "qaoa"},
        {"T": 0},
        {"sampler": "ddpm", "sample_steps": 3},
        {"sampler": "ddim", "sample_steps": 7},
        {"in_channels": 2},
        {"noise": "uniform"},
    ],
)
def test_bad_model_config_raises_value_error(change):
    with pytest.raises(ValueError):
        HybridModelConfig(**{**TINY, "T": 6, **change})


def test_channels_must_match_the_dataset(data_dir):
    with pytest.raises(ValueError, match="in_channels must be 3"):
        dataclasses.replace(_cfg(data_dir), data=DataConfig(dataset="pathmnist", classes=(1,), images_per_class=4))


def test_cosine_schedule_is_the_published_one():
    m = HybridModelConfig(T=1000)
    sched = schedule_for(m)
    assert torch.equal(sched.betas, make_schedule("cosine", 1000, min_beta=1e-4).betas)
    assert float(sched.betas.min()) >= 1e-4 and float(sched.betas.max()) <= 0.999


# --- loss and samplers against qdm.diffusion ----------------------------------------------------


def test_gaussian_loss_equals_l_simple_exactly():
    sched = make_schedule("linear", 20)
    x0 = torch.rand(5, 1, 28, 28) * 2 - 1
    a = l_simple(_eps_fn, x0, sched, torch.Generator().manual_seed(3), make_noise_fn("gaussian"))
    b = l_simple(_eps_fn, x0, sched, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_loss_with_zero_noise_is_the_closed_form():
    sched = make_schedule("cosine", 10)
    x0 = torch.rand(4, 1, 28, 28) * 2 - 1
    g = torch.Generator().manual_seed(1)
    zero = lambda shape, gen, dtype, device: torch.zeros(shape, dtype=dtype, device=device)  # noqa: E731
    got = l_simple(_eps_fn, x0, sched, g, zero)
    t = torch.randint(1, 11, (4,), generator=torch.Generator().manual_seed(1))
    x_t = sched.alpha_bar_at(t).sqrt().float()[:, None, None, None] * x0
    torch.testing.assert_close(got, _eps_fn(x_t, t).pow(2).mean())


def test_quantum_noise_replaces_gaussian_in_the_loss(data_dir):
    cfg_q, cfg_g = _cfg(data_dir, noise="quantum"), _cfg(data_dir, noise="gaussian")
    x0 = torch.rand(3, 1, 28, 28) * 2 - 1
    lq = l_simple(_eps_fn, x0, schedule_for(cfg_q.model), torch.Generator().manual_seed(0), make_noise_fn("quantum"))
    assert torch.equal(hybrid_loss(_eps_fn, x0, cfg_q, torch.Generator().manual_seed(0)), lq)
    assert not torch.equal(hybrid_loss(_eps_fn, x0, cfg_g, torch.Generator().manual_seed(0)), lq)
    eps = make_noise_fn("quantum")((4000,), torch.Generator().manual_seed(0), torch.float32, torch.device("cpu"))
    assert abs(eps.mean().item()) < 0.1 and abs(eps.var().item() - 1) < 0.1


def test_ancestral_sampler_noise_fn_gaussian_equals_the_default_draws():
    sched = make_schedule("linear", 8, beta_start=1e-3, beta_end=0.2)
    shape = (3, 1, 28, 28)
    ref = p_sample_loop(_eps_fn, shape, sched, torch.Generator().manual_seed(9), clip_x0=True)
    got = p_sample_loop(_eps_fn, shape, sched, torch.Generator().manual_seed(9), clip_x0=True,
                        noise_fn=make_noise_fn("gaussian"))
    torch.testing.assert_close(got, ref, rtol=0, atol=0)
    quantum = p_sample_loop(_eps_fn, shape, sched, torch.Generator().manual_seed(9), clip_x0=True,
                            noise_fn=make_noise_fn("quantum"))
    assert not torch.equal(quantum, ref)


def test_ancestral_sampler_with_zero_noise_is_the_posterior_mean_chain():
    sched = make_schedule("linear", 4, beta_start=1e-3, beta_end=0.2)
    x_T = gaussian_noise((2, 1, 28, 28), torch.Generator().manual_seed(2))
    zero = lambda shape, gen, dtype, device: torch.zeros(shape, dtype=dtype, device=device)  # noqa: E731
    got = p_sample_loop(_eps_fn, x_T.shape, sched, None, x_T=x_T, noise_fn=zero)
    x = x_T
    for t in range(4, 0, -1):
        x = p_mean_variance(_eps_fn(x, torch.full((2,), t)), x, t, sched).mean
    torch.testing.assert_close(got, x, rtol=0, atol=0)


@pytest.mark.parametrize(("sampler", "noise"), [("ddpm", "gaussian"), ("ddpm", "quantum"), ("ddim", "quantum")])
def test_sample_returns_unit_range_images(data_dir, sampler, noise):
    cfg = _cfg(data_dir, sampler=sampler, noise=noise, sample_steps=3 if sampler == "ddim" else None)
    model = build_hybrid(cfg)
    out = hybrid_sample(model, 2, cfg, torch.Generator().manual_seed(0))
    assert out.shape == (2, 1, 28, 28) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1 and out.std() > 0
    again = hybrid_sample(model, 2, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # all randomness comes from the generator


def test_eval_sampler_settings_override_the_model_config(data_dir):
    cfg = _cfg(data_dir, sampler="ddpm")
    ddim = dataclasses.replace(cfg, eval=EvalConfig(n_samples=2, metrics=(), sampler="ddim", sample_steps=1))
    counting = _CountingModel(build_hybrid(cfg))
    hybrid_sample(counting, 1, ddim, torch.Generator().manual_seed(0))
    assert counting.calls == [6]  # one DDIM step from t = T
    counting.calls.clear()
    hybrid_sample(counting, 1, cfg, torch.Generator().manual_seed(0))
    calls = counting.calls
    assert calls == [6, 5, 4, 3, 2, 1]


class _CountingModel(torch.nn.Module):
    """Wraps an ε-model and records the time step of every call."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner, self.calls = inner, []

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls.append(int(t[0]))
        return self.inner(x, t)


# --- data, evaluate, learning -----------------------------------------------------------------


def test_prepare_data_is_real_digit_zero_in_minus_one_one(data_dir):
    x = hybrid_prepare_data(_cfg(data_dir))
    assert x.shape == (8, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() == -1 and x.max() == 1
    raw = np.load(data_dir / "mnist" / "mnist.npz")
    zeros = raw["x_train"][raw["y_train"] == 0].reshape(-1, 784)
    pixels = ((x.reshape(8, 784) + 1) * 127.5).round().to(torch.uint8).numpy()
    assert all((zeros == p).all(axis=1).any() for p in pixels)


def test_evaluate_reports_the_parameter_counts(data_dir):
    cfg = _cfg(data_dir, bottleneck="matched")
    model = build_hybrid(cfg)
    counts = count_parameters(model)
    frozen_ema = build_hybrid(cfg).requires_grad_(False)  # what the runner samples with when EMA is on
    state = torch.random.get_rng_state()
    extra = get_family("hybrid_ddpm").evaluate(frozen_ema, torch.zeros(1, 1, 28, 28), cfg)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert extra == {f"params_{k}": float(v) for k, v in counts.items()}
    others = sum(v for k, v in extra.items() if k not in ("params_circuit", "params_total"))
    assert extra["params_circuit"] == extra["params_total"] - others > 0


@pytest.mark.parametrize("bottleneck", ["quantum", "classical"])
def test_learning_cuts_l_simple_on_real_digit_zero(data_dir, bottleneck):
    torch.manual_seed(0)
    cfg = ExperimentConfig(
        experiment="hybrid-learn",
        family="hybrid_ddpm",
        data=DataConfig(dataset="mnist", classes=(0,), images_per_class=16, data_dir=str(data_dir)),
        model=HybridModelConfig(bottleneck=bottleneck, n_qubits=6, n_layers=2, widths=(16, 32, 64), time_dim=32,
                                T=50, ansatz="rz_cnot", detach_input=True),
        train=TrainConfig(steps=250, batch_size=8, lr=2e-3, checkpoint_every=None, seed=0),
        eval=EvalConfig(n_samples=2, metrics=()),
    )
    model = build_hybrid(cfg)
    data = hybrid_prepare_data(cfg)
    result = train(model, data, lambda m, b, g: hybrid_loss(m, b, cfg, g), cfg.train, progress=False)
    losses = np.asarray(result.losses)
    first, last = losses[:20].mean(), losses[-20:].mean()
    assert np.isfinite(losses).all()
    assert last < first / 2.5, f"{bottleneck}: mean L_simple {first:.3f} (first 20) -> {last:.3f} (last 20)"
