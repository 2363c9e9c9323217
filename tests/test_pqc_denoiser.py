"""The PQC-as-denoiser QDM (cacioppo2023qdm, its follow-up, koelle2024qddm): forward process, circuit, steps, training."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from qdm.config import TrainConfig, apply_overrides, from_dict, get_experiment, to_dict
from qdm.data import load_dataset
from qdm.diffusion import posterior_mean_variance, q_sample, q_step
from qdm.families import get_family
from qdm.models.autoencoder import AutoencoderConfig
from qdm.models.pqc_denoiser import (
    PQCDenoiser,
    PQCDenoiserConfig,
    apply_denoiser_circuit,
    block_ansatz,
    circuit_parameter_count,
    decode_images,
    denoiser_loss,
    diffusion_schedule,
    draw_noise,
    embed_label_block,
    encode_images,
    forward_marginal,
    forward_step,
    infidelity,
    mse_probabilities,
    normalise,
    prepend_zero_wire,
    sample_states,
    training_pair,
)
from qdm.train import train

C128 = torch.complex128

#: cacioppo2023qdm's public code, the authors' conditioned latent model (config values for the cacioppo2023-cond-latent preset).
A1_COND_LATENT = PQCDenoiserConfig(
    n_qubits=3,
    image_size=28,
    latent=True,
    n_label_qubits=4,
    n_layers=50,
    blocks=(15, 20, 15),
    ansatz="strongly_entangling",
    sel_ranges="one",
    ancilla="measure",
    time_conditioning="snapshot",
    snapshot_phase_steps=1,
    T=8,
    schedule="cacioppo_linspace",
    beta_start=4e-3,
    beta_end=0.4,
    noise="complex",
    noising="as_coded",
    target="previous",
    loss="infidelity",
)


def small_cfg(**kw) -> PQCDenoiserConfig:
    """A 2-qubit (2×2 image) model with three one-layer blocks: fast enough for exhaustive checks."""
    base = dict(n_qubits=2, image_size=2, n_layers=3, blocks=(1, 1, 1), T=3, schedule="constant", beta=0.05)
    base.update(kw)
    return PQCDenoiserConfig(**base)


def random_states(b: int, d: int, seed: int = 0, dtype: torch.dtype = C128) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return normalise(torch.randn(b, d, dtype=dtype, generator=g))


def norms(x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(x, dim=-1)


# ----------------------------------------------------------------------------------------- config


def test_a1_conditioned_latent_has_exactly_1110_parameters():
    # 15·7·3 + 20·8·3 + 15·7·3 = 1110 (cacioppo2023qdm's public code, the number the paper reports)
    assert circuit_parameter_count(A1_COND_LATENT) == 1110
    torch.manual_seed(0)
    model = PQCDenoiser(A1_COND_LATENT)
    assert circuit_parameter_count(model) == 1110
    assert [tuple(w.shape) for w in model.weights] == [(15, 7, 3), (20, 8, 3), (15, 7, 3)]
    assert model.autoencoder is not None and not any(p.requires_grad for p in model.autoencoder.parameters())
    w = torch.cat([p.detach().flatten() for p in model.weights])
    assert float(w.min()) >= 0 and float(w.max()) < 2 * math.pi  # init uniform in [0, 2π)


def test_a2_and_koelle_configs_are_expressible():
    a2 = PQCDenoiserConfig(
        n_qubits=8, image_size=16, n_layers=6, blocks=(2, 2, 2), ansatz="rot_cnot_ladder", ancilla="postselect",
        time_conditioning="per_timestep", T=10, schedule="constant", beta=1e-2, target="posterior_mean", noise="complex",
    )
    assert circuit_parameter_count(a2) == 10 * (2 * 8 * 3 + 2 * 9 * 3 + 2 * 8 * 3)
    d = PQCDenoiserConfig(
        n_qubits=6, image_size=8, n_layers=55, ansatz="strongly_entangling", sel_ranges="pennylane_default",
        time_conditioning="shared", T=10, noise="real", loss="mse_probabilities",
        schedule="linear", beta_start=1e-4, beta_end=0.02,
    )
    assert circuit_parameter_count(d) == 55 * 6 * 3
    assert block_ansatz(d, 55).layer_ranges(6)[:6] == (1, 2, 3, 4, 5, 1)  # PennyLane's default ranges


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(image_size=4), "image_size"),  # 4² != 2**6
        (dict(blocks=(2, 2)), "n_layers"),  # sum(blocks) != n_layers
        (dict(ancilla="measure"), "blocks"),  # ancilla needs three blocks
        (dict(target="posterior_mean", noising="as_coded"), "target"),
        (dict(noise="gaussian"), "noise"),
        (dict(time_conditioning="film"), "time_conditioning"),
        (dict(T=0), "T"),
        (dict(noise_std=-1.0), "noise_std"),
        (dict(snapshot_phase_steps=0), "snapshot_phase_steps"),
        (dict(schedule="cacioppo_linspace", beta_end=1.5), "schedule"),
        (dict(latent=True), "image_size"),
        (dict(n_qubits=1, image_size=28, latent=True, autoencoder=AutoencoderConfig(latent_dim=2)), "wires"),
    ],
)
def test_invalid_config_raises_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        PQCDenoiserConfig(**kwargs)


# ----------------------------------------------------------------------------------------- forward process


def test_cacioppo_linspace_schedule_matches_the_authors_indexing():
    cfg = dataclasses.replace(A1_COND_LATENT)
    schedule, offset = diffusion_schedule(cfg)
    betas = np.linspace(4e-3, 0.4, 9)
    alphas_bar = np.cumprod(1 - betas)  # A1 Modules/derived_quantities.py: index k = level k
    assert offset == 1 and schedule.T == 9
    level = torch.arange(0, 9)
    ab = schedule.alpha_bar_at(level + offset)
    np.testing.assert_allclose(ab.numpy(), alphas_bar, rtol=1e-14)
    np.testing.assert_allclose(schedule.beta_at(level[1:] + offset).numpy(), betas[1:], rtol=1e-14)


def test_as_coded_and_ddpm_differ_exactly_by_the_square_roots():
    cfg = small_cfg(schedule="linear", beta_start=0.01, beta_end=0.3, T=5)
    schedule, offset = diffusion_schedule(cfg)
    x0 = random_states(5, 4).real.double()
    eps = draw_noise((5, 4), torch.Generator().manual_seed(1), "complex", 1.0)
    k = torch.tensor([0, 1, 2, 4, 5])
    ddpm = forward_marginal(x0, k, eps, schedule, offset, "ddpm")
    coded = forward_marginal(x0, k, eps, schedule, offset, "as_coded")
    ab = schedule.alpha_bar_at(k, allow_zero=True)[:, None]
    torch.testing.assert_close(ddpm - coded, ((1 - ab).sqrt() - (1 - ab)) * eps, rtol=0, atol=1e-14)
    torch.testing.assert_close(ddpm[0], x0[0].to(C128), rtol=0, atol=0)  # level 0 is x0 (alpha_bar_0 = 1)
    torch.testing.assert_close(ddpm[1:], q_sample(x0[1:], k[1:], eps[1:], schedule))  # jo2025qamp eq. 2
    kk = torch.tensor([1, 2, 3, 4, 5])
    s_ddpm = forward_step(x0, kk, eps, schedule, offset, "ddpm")
    s_coded = forward_step(x0, kk, eps, schedule, offset, "as_coded")
    beta = schedule.beta_at(kk)[:, None]
    torch.testing.assert_close(s_ddpm - s_coded, (beta.sqrt() - beta) * eps, rtol=0, atol=1e-14)
    torch.testing.assert_close(s_ddpm, q_step(x0, kk, eps, schedule))  # jo2025qamp eq. 1


@pytest.mark.parametrize("target", ["previous", "posterior_mean"])
def test_training_pair_is_the_stated_chain(target):
    cfg = small_cfg(target=target, noise_std=0.7)
    schedule, offset = diffusion_schedule(cfg)
    x0 = normalise(torch.rand(4, 4, dtype=torch.float64) + 0.1)
    t = torch.tensor([1, 2, 3, 2])
    x_t, tgt = training_pair(x0, t, torch.Generator().manual_seed(3), cfg)
    g = torch.Generator().manual_seed(3)
    eps = draw_noise((4, 4), g, "complex", 0.7)
    if target == "posterior_mean":
        want_t = forward_marginal(x0, t, eps, schedule, offset, "ddpm")
        want = posterior_mean_variance(x0.to(C128), want_t, t, schedule).mean
    else:
        want = forward_marginal(x0, t - 1, eps, schedule, offset, "ddpm")
        want_t = forward_step(want, t, draw_noise((4, 4), g, "complex", 0.7), schedule, offset, "ddpm")
    torch.testing.assert_close(x_t, normalise(want_t))
    torch.testing.assert_close(tgt, normalise(want))
    torch.testing.assert_close(norms(x_t), torch.ones(4, dtype=torch.float64))


def test_real_and_complex_noise_paths():
    g = torch.Generator().manual_seed(0)
    eps_c = draw_noise((20000,), g, "complex", 1.0)
    eps_r = draw_noise((20000,), g, "real", 1.0)
    assert eps_c.is_complex() and not eps_r.is_complex()
    # authors' convention: torch.randn per part, so E|ε|² = 2 (complex) and 1 (real); 5σ bounds
    assert abs(float(eps_c.abs().square().mean()) - 2.0) < 5 * 2.0 / math.sqrt(20000)
    assert abs(float(eps_r.square().mean()) - 1.0) < 5 * math.sqrt(2.0 / 20000)
    assert abs(float(eps_c.real.var()) - float(eps_c.imag.var())) < 0.06
    x0 = normalise(torch.rand(6, 4, dtype=torch.float64) + 0.1)
    t = torch.full((6,), 3)
    real_in, real_tgt = training_pair(x0, t, torch.Generator().manual_seed(1), small_cfg(noise="real"))
    cplx_in, cplx_tgt = training_pair(x0, t, torch.Generator().manual_seed(1), small_cfg(noise="complex"))
    assert real_in.imag.abs().max() == 0 and real_tgt.imag.abs().max() == 0
    assert cplx_in.imag.abs().min() > 0 and cplx_tgt.imag.abs().max() > 0


def test_encode_and_decode_images():
    flat = torch.full((1, 1, 28, 28), 0.5)
    torch.testing.assert_close(encode_images(flat, 8), torch.full((1, 64), 1 / 8, dtype=torch.float64))
    states = random_states(3, 16)
    img = decode_images(states, 4)
    assert img.shape == (3, 1, 4, 4) and float(img.min()) >= 0
    torch.testing.assert_close(img.flatten(1).amax(1), torch.ones(3))
    torch.testing.assert_close(img.flatten(1), (states.abs() / states.abs().amax(1, keepdim=True)).float())
    with pytest.raises(ValueError, match="zeros"):
        encode_images(torch.zeros(1, 1, 28, 28), 8)


def test_losses():
    psi = random_states(4, 8, seed=2)
    phase = torch.exp(1j * torch.rand(4, 1, dtype=torch.float64))
    assert abs(float(infidelity(psi, psi * phase))) < 1e-14  # global phase invariant
    e0 = torch.zeros(4, 8, dtype=C128)
    e0[:, 0] = 1
    e1 = torch.roll(e0, 1, dims=1)
    assert float(infidelity(e0, e1)) == 1.0
    d = 8
    want = ((d * psi.abs() ** 2 - d * e0.abs() ** 2) ** 2).mean()
    torch.testing.assert_close(mse_probabilities(psi, e0), want)


# ----------------------------------------------------------------------------------------- circuit


@pytest.mark.parametrize(
    "cfg",
    [
        small_cfg(),
        small_cfg(ancilla="measure"),
        small_cfg(ancilla="postselect", ansatz="rot_cnot_ladder"),
        small_cfg(n_label_qubits=2, ancilla="measure", time_conditioning="snapshot"),
        small_cfg(time_conditioning="angle", dtype="complex64"),
        small_cfg(time_conditioning="shared", noise="real"),
    ],
    ids=["plain", "measure", "postselect", "labels", "angle64", "shared"],
)
def test_forward_keeps_states_normalised(cfg):
    torch.manual_seed(0)
    model = PQCDenoiser(cfg)
    x = random_states(7, 4, dtype=cfg.complex_dtype)
    t = torch.tensor([1, 2, 3, 1, 2, 3, 3])
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2]) if cfg.n_label_qubits else None
    out = model(x, t, labels, torch.Generator().manual_seed(0))
    tol = 1e-12 if cfg.complex_dtype == C128 else 1e-5
    assert out.dtype == cfg.complex_dtype and out.shape == x.shape
    torch.testing.assert_close(norms(out), torch.ones(7, dtype=out.real.dtype), atol=tol, rtol=0)
    # the batch runs grouped by t: the same as running each t on its own rows
    for value in (1, 2, 3):
        rows = (t == value).nonzero().reshape(-1)
        alone = model(x[rows], value, None if labels is None else labels[rows], torch.Generator().manual_seed(0))
        if cfg.ancilla != "measure":  # random outcomes differ between the two calls
            torch.testing.assert_close(alone, out[rows], atol=tol, rtol=0)
    samples = sample_states(model, 5, torch.Generator().manual_seed(1), torch.arange(5) % 4 if cfg.n_label_qubits else None)
    torch.testing.assert_close(norms(samples), torch.ones(5, dtype=out.real.dtype), atol=tol, rtol=0)


def _manual_blocks(cfg, weights, state):
    """Blocks 1 and 2 of apply_denoiser_circuit written out by hand."""
    s = block_ansatz(cfg, 1).torch(state, weights[0])
    return block_ansatz(cfg, 1).torch(prepend_zero_wire(s), weights[1])


def test_ancilla_measurement_follows_the_born_rule():
    cfg = small_cfg(ancilla="measure")
    g = torch.Generator().manual_seed(7)
    weights = [torch.rand(1, w, 3, dtype=torch.float64, generator=g) * 2 * math.pi for w in (2, 3, 2)]
    psi = random_states(1, 4, seed=5)
    mid = _manual_blocks(cfg, weights, psi)
    p0 = float(mid[0, :4].abs().square().sum())
    assert 0.1 < p0 < 0.9 and abs(p0 - 0.5) > 0.05
    shots = 4000
    out = apply_denoiser_circuit(psi.expand(shots, 4), weights, cfg, generator=torch.Generator().manual_seed(0))
    is_zero = torch.isclose(out.ancilla_probability, torch.tensor(p0, dtype=torch.float64), atol=1e-12)
    is_one = torch.isclose(out.ancilla_probability, torch.tensor(1 - p0, dtype=torch.float64), atol=1e-12)
    assert bool((is_zero | is_one).all())
    freq = float(is_zero.double().mean())
    assert abs(freq - p0) < 4 * math.sqrt(p0 * (1 - p0) / shots)  # binomial, 4σ
    torch.testing.assert_close(norms(out.state), torch.ones(shots, dtype=torch.float64))
    # each branch: projection on the outcome, renormalised, then block 3
    last = block_ansatz(cfg, 1)
    want0 = last.torch(mid[:, :4] / math.sqrt(p0), weights[2])
    want1 = last.torch(mid[:, 4:] / math.sqrt(1 - p0), weights[2])
    torch.testing.assert_close(out.state[is_zero], want0.expand(int(is_zero.sum()), 4))
    torch.testing.assert_close(out.state[is_one], want1.expand(int(is_one.sum()), 4))


def test_postselection_probability_and_state():
    cfg = small_cfg(ancilla="postselect")
    g = torch.Generator().manual_seed(11)
    weights = [torch.rand(1, w, 3, dtype=torch.float64, generator=g) * 2 * math.pi for w in (2, 3, 2)]
    psi = random_states(6, 4, seed=8)
    mid = _manual_blocks(cfg, weights, psi)
    p0 = mid[:, :4].abs().square().sum(1)
    out = apply_denoiser_circuit(psi, weights, cfg)
    torch.testing.assert_close(out.ancilla_probability, p0)
    want = block_ansatz(cfg, 1).torch(mid[:, :4] / p0.sqrt()[:, None], weights[2])
    torch.testing.assert_close(out.state, want)
    torch.testing.assert_close(norms(out.state), torch.ones(6, dtype=torch.float64))


def test_label_block_embedding_and_projection():
    psi = random_states(3, 8, seed=4)
    labels = torch.tensor([0, 9, 5])
    big = embed_label_block(psi, labels, 4)
    assert big.shape == (3, 128)
    for b, lab in enumerate(labels.tolist()):
        torch.testing.assert_close(big[b, lab * 8 : lab * 8 + 8], psi[b])
        assert float(big[b].abs().sum() - big[b, lab * 8 : lab * 8 + 8].abs().sum()) == 0.0
    with pytest.raises(ValueError, match="labels"):
        embed_label_block(psi, torch.tensor([0, 16, 1]), 4)
    cfg = small_cfg(n_label_qubits=1, n_qubits=2)
    g = torch.Generator().manual_seed(2)
    weights = [torch.rand(1, 3, 3, dtype=torch.float64, generator=g) * 2 * math.pi for _ in range(3)]
    x = random_states(4, 4, seed=6)
    lab = torch.tensor([0, 1, 1, 0])
    out = apply_denoiser_circuit(x, weights, cfg, lab)
    full = embed_label_block(x, lab, 1)
    for w in weights:
        full = block_ansatz(cfg, 1).torch(full, w)
    block = full.view(4, 2, 4)[torch.arange(4), lab]
    prob = block.abs().square().sum(1)
    torch.testing.assert_close(out.label_probability, prob)
    torch.testing.assert_close(out.state, block / prob.sqrt()[:, None])
    torch.testing.assert_close(norms(out.state), torch.ones(4, dtype=torch.float64))


def test_torch_and_pennylane_backends_agree():
    cfg = small_cfg(ancilla="postselect", n_label_qubits=1)
    torch.manual_seed(3)
    model_t = PQCDenoiser(cfg)
    model_p = PQCDenoiser(dataclasses.replace(cfg, backend="pennylane"))
    model_p.load_state_dict(model_t.state_dict())
    x = random_states(3, 4, seed=1)
    labels = torch.tensor([1, 0, 1])
    target = random_states(3, 4, seed=9)
    outs, grads = [], []
    for model in (model_t, model_p):
        out = model(x, 2, labels)
        infidelity(out, target).backward()
        outs.append(out.detach())
        grads.append(torch.cat([w.grad.flatten() for w in model.weights]))
    torch.testing.assert_close(outs[0], outs[1], atol=1e-10, rtol=0)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-9, rtol=0)


def test_gradient_matches_finite_differences():
    cfg = small_cfg(ancilla="postselect", time_conditioning="angle")
    torch.manual_seed(5)
    model = PQCDenoiser(cfg)
    with torch.no_grad():
        model.time_weights[2].normal_()
    x, target = random_states(4, 4, seed=3), random_states(4, 4, seed=4)
    loss = infidelity(model(x, 2), target)
    loss.backward()
    for param, index in ((model.weights[1], (0, 2, 1)), (model.time_weights[2], (0, 1, 0))):
        h = 1e-6
        with torch.no_grad():
            param[index] += h
            up = float(infidelity(model(x, 2), target))
            param[index] -= 2 * h
            down = float(infidelity(model(x, 2), target))
            param[index] += h
        assert abs(float(param.grad[index]) - (up - down) / (2 * h)) < 1e-7


def test_time_conditioning_modes():
    torch.manual_seed(0)
    x = random_states(2, 4, seed=1)
    per_t = PQCDenoiser(small_cfg(time_conditioning="per_timestep"))
    assert tuple(per_t.weights[0].shape) == (3, 1, 2, 3)
    out1 = per_t(x, 1)
    with torch.no_grad():
        per_t.weights[0][1].add_(0.3)  # θ of t = 2 only
    torch.testing.assert_close(per_t(x, 1), out1)
    assert not torch.allclose(per_t(x, 2), out1)
    angle = PQCDenoiser(small_cfg(time_conditioning="angle"))
    torch.testing.assert_close(angle(x, 1), angle(x, 3))  # φ = 0 at init: no t dependence yet
    with torch.no_grad():
        angle.time_weights[0].fill_(0.9)
    torch.testing.assert_close(angle.weights_for(2)[0], angle.weights[0] + (2 / 3) * angle.time_weights[0])
    assert not torch.allclose(angle(x, 1), angle(x, 3))


def test_snapshot_training_records_the_parameters_after_each_phase():
    cfg = small_cfg(time_conditioning="snapshot", snapshot_phase_steps=2, T=3, t_sampling="uniform")
    torch.manual_seed(0)
    model = PQCDenoiser(cfg).train()
    x0 = normalise(torch.rand(4, 4, dtype=torch.float64) + 0.1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(0)
    after: dict[int, torch.Tensor] = {}
    seen = []
    for call in range(10):  # phases: t = 1,1,2,2,3,3,1,1,2,2
        t_expected = model.snapshot_t_of_call(call)
        seen.append(t_expected)
        opt.zero_grad()
        denoiser_loss(model, x0, g).backward()
        opt.step()
        after[t_expected] = torch.cat([w.detach().flatten() for w in model.weights]).clone()
    assert seen == [1, 1, 2, 2, 3, 3, 1, 1, 2, 2]
    model.eval()
    for t in (1, 2, 3):
        got = torch.cat([w.detach().flatten() for w in model.weights_for(t)])
        torch.testing.assert_close(got, after[t], rtol=0, atol=0)
    # snapshots live in the state dict, so checkpoints carry them
    clone = PQCDenoiser(cfg)
    clone.load_state_dict(model.state_dict())
    clone.eval()
    for t in (1, 2, 3):
        torch.testing.assert_close(torch.cat([w.flatten() for w in clone.weights_for(t)]), after[t], rtol=0, atol=0)


# ----------------------------------------------------------------------------------------- learning and family


def test_training_on_real_mnist_cuts_the_infidelity(data_dir):
    images = load_dataset("mnist", "train", data_dir=data_dir).subset((0, 1), 4, 0).to_tensor("unit")
    x0 = encode_images(images, 4, antialias=True)  # 8 real digits at 4×4 on 4 qubits
    cfg = PQCDenoiserConfig(n_qubits=4, image_size=4, n_layers=4, T=2, schedule="constant", beta=0.01, noise_std=0.25)
    torch.manual_seed(0)
    model = PQCDenoiser(cfg)

    def held_out_loss() -> float:
        with torch.no_grad():
            return float(denoiser_loss(model, x0, torch.Generator().manual_seed(123)))

    before = held_out_loss()
    settings = TrainConfig(steps=120, batch_size=8, lr=0.1, checkpoint_every=None)
    result = train(model, x0, lambda m, b, g: denoiser_loss(m, b, g), settings, progress=False)
    after = held_out_loss()
    assert before > 0.6
    assert after < before / 4, (before, after)
    assert sum(result.losses[-10:]) / 10 < sum(result.losses[:10]) / 10 / 2


def test_latent_prepare_data_trains_the_autoencoder_when_called_before_build():
    """prepare_data first (as the budget measurement calls it) with an empty autoencoder cache: the autoencoder is
    trained with gradients (it used to be trained under no_grad and fail) and build then reuses the same weights."""
    from qdm.families.pqc import trained_autoencoder

    cfg = apply_overrides(get_experiment("pqc-cond-latent-mnist"), ["train_steps=3", "images_per_class=2"])
    fam = get_family("pqc_denoiser")
    trained_autoencoder.cache_clear()
    states, labels = fam.prepare_data(cfg)
    assert states.shape == (20, 8) and labels.shape == (20,)
    torch.testing.assert_close(norms(states), torch.ones(20, dtype=torch.float64))
    model = fam.build(cfg)
    cached = trained_autoencoder(cfg.model.autoencoder, cfg.data)
    for name, value in model.autoencoder.state_dict().items():
        assert torch.equal(value, cached.state_dict()[name]), name


def test_family_end_to_end_on_tiny_budgets():
    overrides = ["steps=3", "train_steps=3", "images_per_class=2", "fid_real_images=20"]
    cfg = apply_overrides(get_experiment("pqc-cond-latent-mnist"), overrides)
    assert from_dict(to_dict(cfg)) == cfg
    fam = get_family("pqc_denoiser")
    torch.manual_seed(0)
    model = fam.build(cfg)
    states, labels = fam.prepare_data(cfg)
    assert states.shape == (20, 8) and sorted(labels.tolist()) == sorted(list(range(10)) * 2)
    assert float(states.min()) >= 0
    torch.testing.assert_close(norms(states), torch.ones(20, dtype=torch.float64))
    train(model, (states, labels), lambda m, b, g: fam.loss(m, b, cfg, g), cfg.train, progress=False)
    assert int(model.train_calls) == 3
    samples = fam.sample(model.eval(), 12, cfg, torch.Generator().manual_seed(0))
    assert samples.shape == (12, 1, 28, 28) and 0 <= float(samples.min()) and float(samples.max()) <= 1
    assert fam.evaluate(model, samples, cfg) == {"circuit_parameters": 1110.0}
    assert fam.prepare_eval_reference(cfg).shape == (20, 1, 28, 28)
    full = apply_overrides(get_experiment("pqc-mnist"), ["images_per_class=2", "fid_real_images=10"])
    x = fam.prepare_data(full)
    assert x.shape == (4, 64)
    ref = fam.prepare_eval_reference(full)
    assert ref.shape == (10, 1, 28, 28)
    assert 0 <= float(ref.min()) and float(ref.max()) <= 1 and float(ref.flatten(1).amax(1).min()) > 0.7
    with pytest.raises(ValueError, match="n_label_qubits"):
        apply_overrides(cfg, ["n_label_qubits=3"])  # labels 0..7 cannot hold digit 9
