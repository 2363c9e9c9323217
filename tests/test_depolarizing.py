"""The depolarizing QDM (jo2025qamp §1.3.5–1.3.8): channels, forward process, losses, training, family."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from qdm.config import EvalConfig, ExperimentConfig, TrainConfig, apply_overrides, from_dict, get_experiment, to_dict
from qdm.families import get_family
from qdm.models.depolarizing import (
    DepolarizingQDM,
    DepolarizingQDMConfig,
    ancilla_step,
    center_state,
    choi_matrix,
    cluster_states,
    density_heatmaps,
    depolarizing_loss,
    ensemble_mean,
    final_fidelity_loss,
    fidelity_bound,
    forward_schedule,
    forward_states,
    kraus_operators,
    line_states,
    report_along_t,
    sample_trajectories,
    stepwise_fidelity_loss,
    superoperator,
    target_states,
    time_features,
)
from qdm.quantum.density import (
    check_density,
    depolarize,
    maximally_mixed,
    pure_density,
    pure_overlap,
    purity,
    random_density,
    random_pure_state,
    random_unitary,
    von_neumann_entropy,
)
from qdm.runner import run_experiment
from qdm.train import load_checkpoint, train


def _model(seed: int = 0, **kw) -> DepolarizingQDM:
    return DepolarizingQDM(DepolarizingQDMConfig(**kw), generator=torch.Generator().manual_seed(seed))


def _cnot(control: int, target: int, n: int) -> torch.Tensor:
    """CNOT on n qubits as a permutation matrix (qubit 0 = most significant bit)."""
    d = 1 << n
    U = torch.zeros(d, d, dtype=torch.complex128)
    for i in range(d):
        bit_c = (i >> (n - 1 - control)) & 1
        U[i ^ (bit_c << (n - 1 - target)), i] = 1
    return U


# --- channels ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_qubits,n_ancilla", [(1, 1), (2, 1), (2, 2)])
def test_random_step_is_a_valid_channel_choi_psd_and_trace_preserving(n_qubits, n_ancilla):
    model = _model(3, n_qubits=n_qubits, n_ancilla=n_ancilla, T=3, init="uniform_2pi")
    d = 1 << n_qubits
    with torch.no_grad():
        Us = model.unitaries()
        for t in (1, 3):
            J = choi_matrix(lambda r: model.step(r, t, Us), d)
            assert torch.allclose(J, J.mH, atol=1e-12)  # Hermitian-preserving
            assert float(torch.linalg.eigvalsh(J).min()) > -1e-12  # completely positive
            tr_out = torch.einsum("iaja->ij", J.reshape(d, d, d, d))
            assert torch.allclose(tr_out, torch.eye(d, dtype=J.dtype), atol=1e-12)  # trace preserving
            # Kraus rank <= 2**n_ancilla, and the Choi matrix from the Kraus form agrees
            assert int((torch.linalg.eigvalsh(J) > 1e-10).sum()) <= 1 << n_ancilla
            K = model.kraus(t)
            J_kraus = torch.einsum("mai,mbj->iajb", K.reshape(-1, d, d), K.reshape(-1, d, d).conj()).reshape(d * d, d * d)
            assert torch.allclose(J, J_kraus, atol=1e-12)
            assert torch.allclose(torch.einsum("mai,maj->ij", K.conj(), K), torch.eye(d, dtype=K.dtype), atol=1e-12)
            assert K.shape == (1 << n_ancilla, d, d)
            # on random states: trace one, Hermitian, PSD
            rho = random_density(n_qubits, torch.Generator().manual_seed(t), batch=(5,))
            out = model.step(rho, t, Us)
            check_density(out, atol=1e-12)


def test_reverse_transfer_matrices_equal_the_ancilla_steps_and_a_complex64_model_agrees():
    model = _model(1, n_qubits=2, n_ancilla=2, T=4)
    rho = random_density(2, torch.Generator().manual_seed(0), batch=(3,))
    with torch.no_grad():
        levels = model.reverse(rho)
        step_by_step = [rho]
        for t in range(4, 0, -1):
            step_by_step.append(model.step(step_by_step[-1], t))
        assert torch.allclose(levels, torch.stack(step_by_step[::-1]), atol=1e-13)
        S = superoperator(model.kraus(2))
        assert torch.allclose((S @ rho[0].reshape(-1)).reshape(4, 4), model.step(rho[0], 2), atol=1e-13)
        low = DepolarizingQDM(dataclasses.replace(model.cfg, dtype="complex64"))
        low.weights.copy_(model.weights.float())
        out = low()
        assert out.dtype == torch.complex64
        check_density(out, atol=1e-5)
        assert torch.allclose(out.to(torch.complex128), model(), atol=1e-5)


def test_ancilla_step_raises_purity_explicit_swap_reset():
    # n = 1: SWAP(system, ancilla) moves the fresh |0> into the system: I/2 -> |0><0|, purity 1/2 -> 1
    swap = _cnot(0, 1, 2) @ _cnot(1, 0, 2) @ _cnot(0, 1, 2)
    rho = ancilla_step(maximally_mixed(1), swap, 1)
    assert purity(maximally_mixed(1)).item() == pytest.approx(0.5)
    assert torch.allclose(rho, pure_density(torch.tensor([1, 0], dtype=torch.complex128)), atol=1e-15)
    assert purity(rho).item() == pytest.approx(1.0, abs=1e-14)
    # n = 2: swapping qubit 1 with the ancilla resets one qubit, entropy 2 -> 1 bit (at most 1 bit per ancilla)
    swap12 = _cnot(1, 2, 3) @ _cnot(2, 1, 3) @ _cnot(1, 2, 3)
    out = ancilla_step(maximally_mixed(2), swap12, 1)
    assert von_neumann_entropy(out).item() == pytest.approx(1.0, abs=1e-12)
    assert purity(out).item() == pytest.approx(0.5, abs=1e-12)
    # the Kraus form of the same step: K_m = (I ⊗ <m|) U (I ⊗ |0>)
    K = kraus_operators(swap12, 1)
    assert torch.allclose(torch.einsum("mab,bc,mdc->ad", K, maximally_mixed(2), K.conj()), out, atol=1e-15)


def test_unitary_reverse_keeps_entropy_exactly():
    model = _model(2, n_qubits=2, n_ancilla=0, reverse="unitary", T=5, init="uniform_2pi")
    with torch.no_grad():
        traj = report_along_t(model, target_states(model.cfg))
        assert torch.allclose(traj["purity"], torch.full((6,), 0.25, dtype=torch.float64), rtol=0, atol=1e-14)
        assert torch.allclose(traj["entropy"], torch.full((6,), 2.0, dtype=torch.float64), atol=1e-12)
        assert torch.allclose(traj["fidelity"], torch.full((6,), 0.25, dtype=torch.float64), atol=1e-14)
        rho = random_density(2, torch.Generator().manual_seed(1))
        levels = model.reverse(rho)
        spectra = torch.linalg.eigvalsh(levels)
        assert torch.allclose(spectra, spectra[-1].expand_as(spectra), atol=1e-13)
    # and no gradient can move I/d: the final loss is flat in every angle
    loss = final_fidelity_loss(model, target_states(model.cfg))
    loss.backward()
    assert float(model.weights.grad.abs().max()) < 1e-12


# --- forward process and targets -----------------------------------------------------------------


@pytest.mark.parametrize("schedule", ["cosine", "linear", "constant"])
def test_forward_closed_form_equals_step_by_step(schedule):
    cfg = DepolarizingQDMConfig(n_qubits=2, T=7, schedule=schedule)
    p, alpha = forward_schedule(cfg)
    rho0 = pure_density(target_states(cfg, n=3))
    closed = forward_states(rho0, alpha)
    rho = rho0
    for t in range(1, 8):
        rho = depolarize(rho, p[t - 1])
        assert torch.allclose(closed[t], rho, atol=1e-14)
    assert torch.allclose(closed[0], rho0)
    # purity and fidelity of the forward marginals in closed form
    d = 4
    assert torch.allclose(purity(closed).mean(1)[1:], alpha**2 + (1 - alpha**2) / d, atol=1e-13)
    psi = target_states(cfg, n=3)
    assert torch.allclose(pure_overlap(psi, closed).mean(1)[1:], alpha + (1 - alpha) / d, atol=1e-13)
    if schedule == "cosine":
        assert float(alpha[-1]) < 1e-3  # rho_T ≈ I/d


def test_target_ensembles():
    g = torch.Generator().manual_seed(0)
    psi0 = center_state("haar", 2, g)
    tight, wide = cluster_states(psi0, 200, 0.1, g), cluster_states(psi0, 200, 0.6, g)
    assert torch.allclose(torch.linalg.vector_norm(wide, dim=1), torch.ones(200, dtype=torch.float64))
    f_tight = (tight.conj() @ psi0).abs().pow(2).mean()
    f_wide = (wide.conj() @ psi0).abs().pow(2).mean()
    assert 1 > f_tight > f_wide > 0.5
    assert torch.allclose(cluster_states(psi0, 3, 0.0), psi0.expand(3, 4))
    line = line_states(3, 50, 0.2, 0.9, g)
    assert torch.allclose(line[:, 1:-1], torch.zeros_like(line[:, 1:-1]))
    theta = torch.atan2(line[:, -1].real, line[:, 0].real)
    assert float(theta.min()) >= 0.2 and float(theta.max()) <= 0.9
    cfg = DepolarizingQDMConfig(n_qubits=2, target="line", n_states=40)
    assert torch.equal(target_states(cfg), target_states(cfg))
    # fidelity bound: λ_max(ρ̄) is reached by the top eigenvector and beats other states
    psi = target_states(DepolarizingQDMConfig())
    rho_bar = ensemble_mean(psi)
    top = torch.linalg.eigh(rho_bar).eigenvectors[:, -1]
    assert pure_overlap(psi, pure_density(top)).mean().item() == pytest.approx(fidelity_bound(psi), abs=1e-12)
    others = pure_density(random_pure_state(2, g, batch=(50,)))
    assert float(pure_overlap(psi[:, None], others[None]).mean(0).max()) < fidelity_bound(psi)


def test_time_features_and_shared_fourier_angles():
    phi = time_features(torch.arange(1, 5), 4, 2)
    assert phi.shape == (4, 5)
    assert torch.allclose(phi[:, 0], torch.ones(4, dtype=torch.float64))
    assert torch.allclose(phi[:, 1], torch.cos(torch.arange(1, 5, dtype=torch.float64) * math.pi / 4))
    shared = _model(0, T=4, time_conditioning="fourier", n_frequencies=0)
    U = shared.unitaries()
    assert torch.allclose(U, U[0].expand_as(U))
    fourier = _model(0, T=4, time_conditioning="fourier", n_frequencies=2)
    assert fourier.weights.shape[0] == 5
    assert not torch.allclose(fourier.unitaries()[0], fourier.unitaries()[1])


# --- losses, gradients and training -----------------------------------------------------------


@pytest.mark.parametrize(
    "loss_fn,kw",
    [
        (final_fidelity_loss, {}),
        (stepwise_fidelity_loss, {}),
        (final_fidelity_loss, {"time_conditioning": "fourier", "ansatz": "rot_cnot_ladder"}),
    ],
)
def test_loss_gradient_matches_finite_differences(loss_fn, kw):
    model = _model(4, n_qubits=2, T=3, **kw)
    psi = target_states(model.cfg, n=8)
    loss = loss_fn(model, psi)
    loss.backward()
    idx = (1, 0, 1, 1)
    h = 1e-6
    with torch.no_grad():
        model.weights[idx] += h
        up = float(loss_fn(model, psi))
        model.weights[idx] -= 2 * h
        down = float(loss_fn(model, psi))
        model.weights[idx] += h
    fd = (up - down) / (2 * h)
    assert abs(fd) > 1e-4
    assert float(model.weights.grad[idx]) == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_losses_are_their_definitions():
    model = _model(5, n_qubits=1, T=2)
    psi = target_states(model.cfg, n=6)
    with torch.no_grad():
        rho_gen = model.step(model.step(maximally_mixed(1), 2), 1)
        expected = 1 - torch.stack([(p.conj() @ rho_gen @ p).real for p in psi]).mean()
        assert float(final_fidelity_loss(model, psi)) == pytest.approx(float(expected), abs=1e-13)
        assert float(depolarizing_loss(model, psi)) == pytest.approx(float(expected), abs=1e-13)
        # stepwise: t = 1 compares with the pure target, where F(ρ, |ψ><ψ|) = <ψ|ρ|ψ>
        step_model = DepolarizingQDM(dataclasses.replace(model.cfg, loss="stepwise"))
        step_model.weights.copy_(model.weights)
        _, alpha = forward_schedule(model.cfg)
        terms = []
        for p in psi:
            rho1 = alpha[0] * pure_density(p) + (1 - alpha[0]) * maximally_mixed(1)
            rho2 = alpha[1] * pure_density(p) + (1 - alpha[1]) * maximally_mixed(1)
            terms.append((p.conj() @ model.step(rho1, 1) @ p).real)
            target = rho1
            out = model.step(rho2, 2)
            # qubit fidelity: F = tr(ρσ) + 2 sqrt(det ρ det σ)
            det_product = torch.linalg.det(out).real * torch.linalg.det(target).real
            terms.append(torch.trace(out @ target).real + 2 * torch.sqrt(det_product))
        assert float(depolarizing_loss(step_model, psi)) == pytest.approx(1 - float(torch.stack(terms).mean()), abs=1e-10)


@pytest.mark.parametrize("loss", ["final", "stepwise"])
def test_training_raises_fidelity_and_purity_well_above_untrained(loss):
    cfg = DepolarizingQDMConfig(n_qubits=2, n_ancilla=1, T=4, loss=loss, n_states=32)
    torch.manual_seed(0)
    model = DepolarizingQDM(cfg)
    psi = target_states(cfg)
    with torch.no_grad():
        f_untrained = 1 - float(final_fidelity_loss(model, psi))
    result = train(
        model,
        psi,
        lambda m, batch, g: depolarizing_loss(m, batch),
        TrainConfig(steps=150, batch_size=16, lr=0.1, checkpoint_every=None, seed=0),
        progress=False,
    )
    assert result.losses[-1] < result.losses[0]
    with torch.no_grad():
        f_trained = 1 - float(final_fidelity_loss(model, psi))
        report = report_along_t(model, psi)
    assert f_trained > f_untrained + 0.25
    assert f_trained > 0.6
    assert f_trained <= fidelity_bound(psi) + 1e-12
    assert float(report["fidelity"][0]) == pytest.approx(f_trained, abs=1e-12)
    # the learned non-unitary channels lowered the entropy of I/d
    assert float(report["purity"][-1]) == pytest.approx(0.25, abs=1e-14)
    assert float(report["purity"][0]) > 0.4
    if loss == "final":
        assert f_trained > 0.9


# --- samples ------------------------------------------------------------------------------------


def test_trajectories_average_to_rho_gen_and_render_as_heatmaps():
    model = _model(6, n_qubits=2, n_ancilla=1, T=3, init="uniform_2pi")
    gen = torch.Generator().manual_seed(0)
    states = sample_trajectories(model, 4000, gen)
    assert torch.allclose(torch.linalg.vector_norm(states, dim=1), torch.ones(4000, dtype=torch.float64))
    with torch.no_grad():
        rho_gen = model()
    empirical = pure_density(states).mean(0)
    assert float((empirical - rho_gen).abs().max()) < 0.04
    again = sample_trajectories(model, 4000, torch.Generator().manual_seed(0))
    assert torch.equal(states, again)
    images = density_heatmaps(states[:5])
    assert images.shape == (5, 1, 4, 4) and images.dtype == torch.float32
    assert float(images.min()) >= 0 and float(images.max()) <= 1
    assert torch.allclose(images[:, 0].diagonal(dim1=-2, dim2=-1).sum(-1), torch.ones(5))


# --- configs, family and runner -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"n_qubits": 5}, "n_qubits"),
        ({"n_qubits": 0}, "n_qubits"),
        ({"n_ancilla": 4}, "n_ancilla"),
        ({"reverse": "unitary"}, "n_ancilla"),
        ({"n_ancilla": 0}, "n_ancilla"),
        ({"T": 0}, "T"),
        ({"p_start": 1.5}, "p_start"),
        ({"p": -0.1}, "p"),
        ({"schedule": "sigmoid"}, "schedule"),
        ({"n_layers": 0}, "n_layers"),
        ({"spread": -1.0}, "spread"),
        ({"theta_min": 1.0, "theta_max": 0.5}, "theta_min"),
        ({"n_states": 0}, "n_states"),
        ({"init_scale": 0.0}, "init_scale"),
        ({"n_qubits": "2"}, "n_qubits"),
        ({"loss": "kl"}, "loss"),
        ({"n_frequencies": -1}, "n_frequencies"),
    ],
)
def test_invalid_configs_name_the_field(kw, field):
    with pytest.raises(ValueError, match=rf"DepolarizingQDMConfig\.{field}"):
        DepolarizingQDMConfig(**kw)


def test_invalid_arguments_raise_before_work():
    model = _model()
    with pytest.raises(ValueError, match="t must be"):
        model.step(maximally_mixed(2), 0)
    with pytest.raises(ValueError, match="rho must be"):
        model.step(maximally_mixed(1), 1)
    with pytest.raises(ValueError, match="psi must be"):
        final_fidelity_loss(model, torch.ones(3, 2, dtype=torch.complex128))
    with pytest.raises(ValueError, match="n must be"):
        sample_trajectories(model, 0)
    with pytest.raises(ValueError, match="U must act"):
        ancilla_step(maximally_mixed(2), random_unitary(2), 1)
    with pytest.raises(ValueError, match="kind must be"):
        center_state("w", 2)


def test_family_experiments_and_validation():
    fam = get_family("depolarizing_qdm")
    assert fam.model_config_cls is DepolarizingQDMConfig
    cfg = get_experiment("depolarizing-qdm")
    m = cfg.model
    assert (m.n_qubits, m.T, m.n_ancilla, m.reverse) == (2, 10, 1, "ancilla")
    assert cfg.eval.metrics == ()
    assert from_dict(to_dict(cfg)) == cfg
    assert "ancilla" in fam.describe(cfg)
    unitary = get_experiment("depolarizing-qdm-unitary")
    assert (unitary.model.reverse, unitary.model.n_ancilla) == ("unitary", 0)
    with pytest.raises(ValueError, match="EvalConfig.metrics"):
        dataclasses.replace(cfg, eval=EvalConfig(n_samples=4, metrics=("ssim",)))
    with pytest.raises(ValueError, match=r"DepolarizingQDMConfig\.n_qubits"):
        apply_overrides(cfg, ["model.n_qubits=7"])
    assert apply_overrides(cfg, ["loss=stepwise"]).model.loss == "stepwise"


def test_runner_end_to_end(tmp_path):
    cfg = ExperimentConfig(
        experiment="depol-test",
        family="depolarizing_qdm",
        model=DepolarizingQDMConfig(n_qubits=1, T=3, n_states=8),
        train=TrainConfig(steps=3, batch_size=4, lr=0.05, checkpoint_every=None),
        eval=EvalConfig(n_samples=6, metrics=()),
    )
    record = run_experiment(cfg, results_root=tmp_path, progress=False)
    samples = torch.load(record.run_dir / "samples.pt")
    assert samples.shape == (6, 1, 2, 2)
    met = record.metrics
    assert len(met["fidelity_along_t"]) == 4 and len(met["purity_along_t"]) == 4
    assert met["purity_along_t"][-1] == pytest.approx(0.5, abs=1e-14)
    model = DepolarizingQDM(cfg.model)
    model.load_state_dict(load_checkpoint(record.run_dir / "checkpoint.pt")["model"])
    psi = target_states(cfg.model)
    with torch.no_grad():
        assert met["fidelity_to_target"] == pytest.approx(1 - float(final_fidelity_loss(model, psi)), abs=1e-12)
        assert met["purity"] == pytest.approx(float(purity(model())), abs=1e-12)
    assert met["fidelity_to_target"] <= met["fidelity_bound"] + 1e-12
    assert met["fidelity_maximally_mixed"] == 0.5
