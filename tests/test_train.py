"""The one trainer: determinism, exact resume, divergence stop, EMA and Adam by hand, clipping, batching."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from qdm.config import TrainConfig
from qdm.data import load_dataset
from qdm.train import (
    CHECKPOINT_NAME,
    TrainingDiverged,
    batch_indices,
    ema_update,
    epoch_permutation,
    load_checkpoint,
    train,
)

# ----------------------------------------------------------------------------------- a tiny real DDPM
# An MLP epsilon-predictor on 8x8 real MNIST digits, linear beta schedule (Ho et al. 2020), L_simple.

T = 40
BETAS = torch.linspace(1e-4, 0.2, T)
ALPHA_BAR = torch.cumprod(1 - BETAS, 0)


class EpsMLP(nn.Module):
    """eps_theta(x_t, t): flattened 8x8 image plus a scalar time feature -> predicted noise."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(65, hidden), nn.SiLU(), nn.Linear(hidden, 64))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x.flatten(1), (t.float() / T).unsqueeze(1)], dim=1)
        return self.net(h).view_as(x)


def ddpm_loss(model: nn.Module, x0: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """L_simple: ||eps - eps_theta(sqrt(ab) x0 + sqrt(1-ab) eps, t)||^2 with t uniform."""
    t = torch.randint(0, T, (x0.shape[0],), generator=g)
    eps = torch.randn(x0.shape, generator=g)
    ab = ALPHA_BAR[t].view(-1, 1, 1, 1)
    return F.mse_loss(model(ab.sqrt() * x0 + (1 - ab).sqrt() * eps, t), eps)


@torch.no_grad()
def ddpm_sample(model: nn.Module, n: int, g: torch.Generator) -> torch.Tensor:
    """Ancestral sampling (Ho et al. 2020, Alg. 2), returned in [0, 1]."""
    x = torch.randn(n, 1, 8, 8, generator=g)
    for t in reversed(range(T)):
        eps = model(x, torch.full((n,), t))
        x = (x - BETAS[t] / (1 - ALPHA_BAR[t]).sqrt() * eps) / (1 - BETAS[t]).sqrt()
        if t > 0:
            x = x + BETAS[t].sqrt() * torch.randn(x.shape, generator=g)
    return ((x.clamp(-1, 1) + 1) / 2).clamp(0, 1)


@pytest.fixture(scope="module")
def digits(data_dir: Path) -> torch.Tensor:
    """32 real MNIST zeros, downsampled to 8x8, in [-1, 1]."""
    x = load_dataset("mnist", "train", data_dir=data_dir).subset(classes=[0], n_per_class=32, seed=0).to_tensor()
    return F.interpolate(x, size=(8, 8), mode="bilinear", antialias=True, align_corners=False)


def _build(seed: int = 0) -> EpsMLP:
    torch.manual_seed(seed)
    return EpsMLP()


def _loss(model: nn.Module, batch: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return ddpm_loss(model, batch, g)


BASE = TrainConfig(
    steps=24,
    batch_size=8,
    lr=3e-3,
    optimizer="adamw",
    weight_decay=1e-2,
    ema_decay=0.9,
    grad_clip=1.0,
    lr_step_size=5,
    lr_gamma=0.7,
    checkpoint_every=None,
    seed=5,
    log_every=4,
)


def _states_equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ----------------------------------------------------------------------------------- tests


def test_same_seed_gives_identical_weights_and_samples(digits: torch.Tensor) -> None:
    r1 = train(_build(), digits, _loss, BASE, progress=False)
    r2 = train(_build(), digits, _loss, BASE, progress=False)
    assert r1.losses == r2.losses and len(r1.losses) == BASE.steps
    assert _states_equal(r1.model, r2.model) and _states_equal(r1.ema_model, r2.ema_model)
    s1 = ddpm_sample(r1.sampling_model, 4, torch.Generator().manual_seed(1))
    s2 = ddpm_sample(r2.sampling_model, 4, torch.Generator().manual_seed(1))
    assert torch.equal(s1, s2)
    r3 = train(_build(), digits, _loss, dataclasses.replace(BASE, seed=6), progress=False)
    assert r3.losses != r1.losses and not _states_equal(r3.model, r1.model)


def test_learning_reduces_the_ddpm_loss(digits: torch.Tensor) -> None:
    cfg = dataclasses.replace(BASE, steps=300, batch_size=32, grad_clip=None, lr_step_size=None, ema_decay=None)
    losses = train(_build(), digits, _loss, cfg, progress=False).losses
    first, last = sum(losses[:30]) / 30, sum(losses[-30:]) / 30
    assert last < 0.75 * first, (first, last)  # measured: 0.98 -> 0.62


def test_resume_after_interruption_is_bit_exact(digits: torch.Tensor, tmp_path: Path) -> None:
    n = 10
    cfg = dataclasses.replace(BASE, steps=2 * n, checkpoint_every=n)
    straight = train(_build(), digits, _loss, cfg, progress=False)

    class Interrupt(Exception):
        pass

    def crashing(model: nn.Module, batch: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        crashing.calls += 1  # type: ignore[attr-defined]
        if crashing.calls == n + 3:  # type: ignore[attr-defined]
            raise Interrupt
        return _loss(model, batch, g)

    crashing.calls = 0  # type: ignore[attr-defined]
    with pytest.raises(Interrupt):
        train(_build(), digits, crashing, cfg, checkpoint_dir=tmp_path, progress=False)
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["step"] == n
    # a fresh model with other initial weights: everything must come from the checkpoint
    resumed = train(_build(seed=99), digits, _loss, cfg, checkpoint_dir=tmp_path, progress=False)
    assert resumed.start_step == n and resumed.final_step == 2 * n
    assert resumed.losses == straight.losses
    assert _states_equal(resumed.model, straight.model) and _states_equal(resumed.ema_model, straight.ema_model)


def test_train_n_then_extend_to_2n_equals_2n_straight(digits: torch.Tensor, tmp_path: Path) -> None:
    n = 8
    straight = train(_build(), digits, _loss, dataclasses.replace(BASE, steps=2 * n), progress=False)
    first = train(_build(), digits, _loss, dataclasses.replace(BASE, steps=n), checkpoint_dir=tmp_path, progress=False)
    assert first.final_step == n and load_checkpoint(tmp_path / CHECKPOINT_NAME)["step"] == n
    second = train(_build(), digits, _loss, dataclasses.replace(BASE, steps=2 * n), checkpoint_dir=tmp_path, progress=False)
    assert second.start_step == n and second.losses == straight.losses
    assert _states_equal(second.model, straight.model)
    state = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    # StepLR, stepped per optimisation step: lr * gamma^floor(16 / 5)
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(BASE.lr * BASE.lr_gamma**3, rel=1e-12)
    with pytest.raises(ValueError, match="lr: checkpoint"):
        train(_build(), digits, _loss, dataclasses.replace(BASE, steps=3 * n, lr=1e-2), checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="beyond TrainConfig.steps"):
        train(_build(), digits, _loss, dataclasses.replace(BASE, steps=n), checkpoint_dir=tmp_path, progress=False)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nonfinite_loss_stops_naming_the_step_without_checkpointing_it(
    digits: torch.Tensor, tmp_path: Path, bad: float
) -> None:
    k = 7

    def loss_fn(model: nn.Module, batch: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        loss_fn.calls += 1  # type: ignore[attr-defined]
        loss = _loss(model, batch, g)
        return loss * bad if loss_fn.calls == k else loss  # type: ignore[attr-defined]

    loss_fn.calls = 0  # type: ignore[attr-defined]
    model = _build()
    cfg = dataclasses.replace(BASE, steps=20, checkpoint_every=1)
    with pytest.raises(TrainingDiverged, match=f"step {k}: loss is {bad}") as err:
        train(model, digits, loss_fn, cfg, checkpoint_dir=tmp_path, progress=False)
    assert err.value.step == k and err.value.last_checkpoint == k - 1
    state = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert state["step"] == k - 1 and len(state["losses"]) == k - 1
    # the diverged step did not touch the weights either
    assert all(torch.equal(v, state["model"][name]) for name, v in model.state_dict().items())
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary files left


def test_one_adamw_step_and_ema_update_by_hand() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    theta0 = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(5, 3)
    y = torch.randn(5, 2)

    def loss_fn(m: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], g: torch.Generator) -> torch.Tensor:
        return ((m(batch[0]) - batch[1]) ** 2).mean()

    # the gradient at theta0, by hand: d/dW mean((Wx+b-y)^2) = 2/(N*2) (Wx+b-y)^T x
    r = x @ theta0["weight"].T + theta0["bias"] - y
    grad_w, grad_b = 2 * r.T @ x / r.numel(), 2 * r.sum(0) / r.numel()
    cfg = TrainConfig(steps=1, batch_size=5, lr=0.01, optimizer="adamw", weight_decay=0.1, ema_decay=0.75)
    result = train(model, (x, y), loss_fn, cfg, progress=False)
    for name, g in (("weight", grad_w), ("bias", grad_b)):
        # AdamW step 1: decoupled decay, then m_hat/(sqrt(v_hat)+eps) = g/(|g|+eps)
        expected = theta0[name] * (1 - cfg.lr * cfg.weight_decay) - cfg.lr * g / (g.abs() + 1e-8)
        theta1 = result.model.state_dict()[name]
        torch.testing.assert_close(theta1, expected, rtol=0, atol=1e-6)
        # EMA: 0.75 * theta0 + 0.25 * theta1
        torch.testing.assert_close(
            result.ema_model.state_dict()[name], 0.75 * theta0[name] + 0.25 * theta1, rtol=0, atol=1e-7
        )
    assert result.sampling_model is result.ema_model


def test_ema_update_converges_geometrically() -> None:
    ema, model = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        for p in ema.parameters():
            p.zero_()
        for p in model.parameters():
            p.fill_(1.0)
    for _ in range(10):
        ema_update(ema, model, 0.5)
    assert all(torch.allclose(p, torch.full_like(p, 1 - 0.5**10)) for p in ema.parameters())
    with pytest.raises(ValueError, match="decay"):
        ema_update(ema, model, 1.0)


def test_gradient_clipping_bounds_the_norm_and_keeps_the_direction() -> None:
    torch.manual_seed(0)
    model = nn.Linear(4, 1, bias=False)
    x = torch.randn(6, 4)

    def loss_fn(m: nn.Module, batch: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return 1000.0 * m(batch).sum()

    raw = 1000.0 * x.sum(0)  # the gradient of the loss w.r.t. the weight row, by hand
    clip = 0.5
    result = train(model, x, loss_fn, TrainConfig(steps=1, batch_size=6, grad_clip=clip), progress=False)
    g = model.weight.grad.reshape(-1)
    assert result.grad_norms[0] == pytest.approx(float(raw.norm()), rel=1e-5)
    assert float(g.norm()) <= clip and float(g.norm()) == pytest.approx(clip, rel=1e-5)
    torch.testing.assert_close(g / g.norm(), raw / raw.norm())


def test_batches_are_epoch_permutations_fixed_by_seed() -> None:
    n, b, seed = 10, 3, 4
    per_epoch = n // b
    for epoch in range(3):
        steps = [batch_indices(epoch * per_epoch + j, n, b, seed) for j in range(per_epoch)]
        seen = torch.cat(steps)
        assert len(set(seen.tolist())) == per_epoch * b  # without replacement within an epoch
        assert torch.equal(seen, epoch_permutation(n, seed, epoch)[: per_epoch * b])
    assert not torch.equal(epoch_permutation(n, seed, 0), epoch_permutation(n, seed, 1))
    assert torch.equal(batch_indices(5, n, b, seed), batch_indices(5, n, b, seed))
    assert sorted(batch_indices(2, 4, 64, seed).tolist()) == [0, 1, 2, 3]  # batch larger than data: all of it


def test_bad_arguments_are_rejected_before_training(digits: torch.Tensor, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="share their first dimension"):
        train(_build(), (digits, digits[:3]), _loss, BASE, progress=False)
    with pytest.raises(ValueError, match="cfg must be a TrainConfig"):
        train(_build(), digits, _loss, {"steps": 3}, progress=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scalar"):
        train(_build(), digits, lambda m, b, g: m(b, torch.zeros(len(b))), dataclasses.replace(BASE, steps=1), progress=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        train(_build(), digits, _loss, dataclasses.replace(BASE, device="cuda"), progress=False)
