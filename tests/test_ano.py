"""The QAMP 2025 ANO hybrid (qdm.models.ano, qdm.families_ano): what a reproduction must show, each able to fail."""

import dataclasses
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from qdm.audits import ano as audit
from qdm.config import apply_overrides
from qdm.families import get_family
from qdm.models import ano as A
from qdm.presets import get_preset, resolve_config
from qdm.runner import run_experiment

X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]])
Z = np.diag([1.0, -1.0]).astype(complex)


def _model(seed: int = 0, **kw) -> A.AnoDenoiser:
    torch.manual_seed(seed)
    return A.AnoDenoiser(A.AnoConfig(**kw))


# ------------------------------------------------------------------ shapes and parameter counts


def test_parameter_count_is_the_coded_one():
    counts = A.parameter_counts(_model())
    assert counts == {
        "enc1": 512 * 512 + 512,
        "enc2": 512 * 16 + 16,
        "norm": 32,
        "angle_table": 10 * 10 * 480,
        "ano_raw": 16 * 512,
        "dec1": 529 * 512 + 512,
        "dec2": 512 * 512 + 512,
        "quantum": 56_192,
        "classical": 804_912,
        "total": 861_104,
    }


def test_ablations_build_train_a_step_and_the_classical_block_matches_the_quantum_count():
    coded = A.parameter_counts(_model())
    classical = A.parameter_counts(_model(features="classical"))
    assert classical["total"] == coded["total"]
    assert classical["angle_table"] + classical["classical_block"] == coded["quantum"]
    zeros = A.parameter_counts(_model(features="zeros"))
    assert zeros["total"] == coded["dec1"] + coded["dec2"] and zeros["quantum"] == 0
    no_ht = A.parameter_counts(_model(hadamard_test=False))
    assert no_ht["angle_table"] == 10 * 10 * 320 and no_ht["dec1"] == 528 * 512 + 512
    x0 = A.images_to_states(torch.rand(3, 1, 28, 28), 16)
    labels = torch.tensor([0, 4, 9])
    for kw in ({"features": "classical"}, {"features": "zeros"}, {"hadamard_test": False}, {"layers": 2}):
        model = _model(**kw, T=3)
        loss = A.ano_loss(model, x0, labels, torch.Generator().manual_seed(0))
        loss.backward()
        assert 0.0 < loss.item() < 1.0
        for name, p in model.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
            if name not in ("angle_table",):  # only the slices of the drawn labels move
                assert p.grad.abs().max() > 0, name


def test_bad_config_and_input_errors_name_the_parameter():
    with pytest.raises(ValueError, match="AnoConfig.layers must be >= 1"):
        A.AnoConfig(layers=0)
    with pytest.raises(ValueError, match="AnoConfig.features must be one of"):
        A.AnoConfig(features="random")
    with pytest.raises(ValueError, match="AnoConfig.image_size must be 16"):
        A.AnoConfig(image_size=8)
    model = _model(T=3)
    x = audit.random_states(2, torch.Generator().manual_seed(0)).repeat(1, 16)[:, :256]
    with pytest.raises(ValueError, match="t must lie in 1..3"):
        model(x, torch.tensor([0, 1]), torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="labels must lie in 0..9"):
        model(x, torch.tensor([1, 1]), torch.tensor([0, 10]))


# ------------------------------------------------------------------ diffusion maths


def test_schedule_golden_values():
    betas, abar = A.ano_schedule(10, 1e-4, 0.02)
    assert betas[0] == 0 and abar[0] == 1 and betas.shape == (11,)
    assert float(betas[1]) == pytest.approx(1e-4, abs=1e-15)
    assert float(betas[10]) == pytest.approx(0.01801, abs=1e-12)  # 0.02 is never used
    step = (0.02 - 1e-4) / 10
    assert float(abar[10]) == pytest.approx(math.prod(1 - (1e-4 + k * step) for k in range(10)), rel=1e-14)
    assert round(float(abar[10]), 3) == 0.913


def test_posterior_mean_closed_forms():
    betas, abar = A.ano_schedule(10, 1e-4, 0.02)
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(10, 256, generator=g, dtype=torch.float64).to(torch.complex128)
    xt = A.complex_noise((10, 256), g)
    t = torch.arange(1, 11)
    mu = A.posterior_mean(x0, xt, t, betas, abar)
    assert torch.allclose(mu[0], x0[0], atol=1e-15)  # t = 1: ᾱ_0 = 1, μ̃ = x0
    # noiseless x_t = √ᾱ_t x0 → μ̃ = √ᾱ_{t-1} x0 (the mean of the exact reverse step)
    clean = A.posterior_mean(x0, abar[t].sqrt()[:, None] * x0, t, betas, abar)
    assert torch.allclose(clean, abar[t - 1].sqrt()[:, None] * x0, atol=1e-13)


def test_data_encoding_matches_the_coded_pipeline_on_real_mnist(data_dir):
    cfg = get_preset("jo2025-ano", "smoke")
    states, labels = get_family("ano_hybrid").prepare_data(cfg)
    assert states.dtype == torch.complex128 and states.shape == (20, 256)
    assert sorted(labels.tolist()) == sorted(list(range(10)) * 2)
    norms = torch.linalg.vector_norm(states, dim=1)
    # normalised at 28×28 and resized afterwards, never renormalised: norm ≈ 0.54
    assert 0.40 < float(norms.min()) and float(norms.max()) < 0.58
    assert float(states.imag.abs().max()) == 0.0 and float(states.real.min()) >= 0.0


# ------------------------------------------------------------------ circuit


def test_conv_unit_is_the_vatan_williams_exponential():
    alpha, beta, gamma = 0.3, -0.7, 1.1
    gen = scipy.linalg.expm(1j * (alpha * np.kron(X, X) + beta * np.kron(Y, Y) + gamma * np.kron(Z, Z)))
    n = np.kron(np.kron(gen, np.eye(2)), np.eye(2))  # on wires (0, 1) of 4
    psi = audit.random_states(5, torch.Generator().manual_seed(1))
    out = A.conv_unit(psi, torch.tensor([[alpha, beta, gamma]] * 5, dtype=torch.float64), (0, 1)).numpy()
    ref = psi.numpy() @ n.T
    phase = np.vdot(ref[0], out[0])
    assert abs(abs(phase) - 1) < 1e-12
    np.testing.assert_allclose(out, phase * ref, atol=1e-12)


def test_hadamard_test_never_changes_the_data_state():
    result = audit.hadamard_test_identity(8, 3, 10, torch.Generator().manual_seed(10))
    assert result["max_state_deviation"] < 1e-12
    assert result["max_sum_deviation"] < 1e-12  # before renormalising too
    assert result["max_ancilla_error"] < 1e-12  # ⟨Z_anc⟩ = Re⟨ψ|U|ψ⟩
    assert result["min_half_deviation"] > 0.1  # each half is ½(I ± U)|ψ⟩: the block is not trivial


def test_hadamard_audit_sees_a_block_that_changes_the_state():
    """Negative control: the earlier commits' post-selected ancilla (the ancilla-0 half, renormalised) moves the state."""

    def post_selected(psi, w):
        out, z_anc, full = A.hadamard_test(psi, w)
        return A.normalise(full.view(-1, 16, 2)[..., 0]), z_anc, full

    result = audit.hadamard_test_identity(8, 2, 10, torch.Generator().manual_seed(10), block=post_selected)
    assert result["max_state_deviation"] > 0.1
    assert result["max_ancilla_error"] < 1e-12  # ⟨Z_anc⟩ is the same; only the handed-on state differs


def test_middle_block_weights_reach_the_output_only_through_the_ancilla_expectation():
    result = audit.middle_block_reach(A.AnoConfig(), 6, torch.Generator().manual_seed(5))
    assert result["n_middle_angles"] == 160
    assert result["ano_gradient_middle"] < 1e-12  # the 16 ANO features do not see w2
    assert result["ancilla_gradient_middle"] > 1e-3  # ⟨Z_anc⟩ does
    assert result["ano_gradient_outer"] > 1e-3  # blocks 1 and 3 reach the ANO features
    assert result["ano_change_middle"] < 1e-12 and result["ancilla_change_middle"] > 1e-3  # w2 redrawn
    with pytest.raises(ValueError, match="hadamard_test=True"):
        audit.middle_block_reach(A.AnoConfig(hadamard_test=False), 2, torch.Generator())


def test_hermitian_split_recovers_each_part():
    g = torch.Generator().manual_seed(2)
    raw = torch.randn(3, 2, 16, 16, generator=g, dtype=torch.float64)
    herm, anti = audit.hermitian_split(raw)
    assert torch.allclose(herm + anti, raw, atol=1e-15)
    m_h, m_a = torch.complex(herm[:, 0], herm[:, 1]), torch.complex(anti[:, 0], anti[:, 1])
    assert torch.allclose(m_h, m_h.mH, atol=1e-15) and torch.allclose(m_a, -m_a.mH, atol=1e-15)
    assert (anti.abs().max() > 0.1) and (herm.abs().max() > 0.1)
    # an anti-Hermitian raw M has no Hermitian part, and hermitian_observables drops it entirely
    h2, a2 = audit.hermitian_split(anti)
    assert h2.abs().max() < 1e-15 and torch.allclose(a2, anti)
    assert A.hermitian_observables(anti).abs().max() < 1e-15


def test_anti_hermitian_part_of_the_observables_gets_exactly_zero_gradient():
    model = _model(T=3)
    split = audit.observable_gradient_split(model, 4, torch.Generator().manual_seed(0))
    assert split["anti_hermitian_max"] == 0.0 and split["anti_hermitian_norm"] == 0.0
    assert split["hermitian_norm"] > 1e-6  # the Hermitian directions are trained
    assert split["n_anti_hermitian"] == 16 * 256
    assert model.ano_raw.grad is None  # the audit works on a copy
    drift = audit.observable_drift(model, 4, 3, 1e-2, torch.Generator().manual_seed(0))
    # under Adam it keeps its initial value (equal updates of M_ij and M_ji: rounding only); the step is ~1e-2
    assert drift["anti_hermitian_change"] < 1e-15 and drift["hermitian_change"] > 1e-3


def test_gradient_audit_sees_an_observable_that_uses_the_whole_matrix(monkeypatch):
    """Negative control: H_k = M_k M_k† (Hermitian too, but built from all of M_k) gives the anti-Hermitian part a gradient."""

    def gram(raw):
        m = torch.complex(raw[:, 0], raw[:, 1])
        return m @ m.mH

    monkeypatch.setattr(A, "hermitian_observables", gram)
    split = audit.observable_gradient_split(_model(T=3), 4, torch.Generator().manual_seed(0))
    assert split["anti_hermitian_norm"] > 1e-6


def test_time_and_label_enter_only_through_the_angle_table():
    g = torch.Generator().manual_seed(7)
    for features in ("circuit", "classical"):
        result = audit.conditioning_through_table(_model(features=features), 3, g)
        assert result["same_slice_difference"] == 0.0, features  # same table slice: same function
        assert result["other_slice_difference"] > 1e-6, features  # another slice: another output
    assert audit.output_spread(_model(features="zeros"), 3, g) == 0.0  # no features: no conditioning at all
    assert audit.output_spread(_model(), 3, g) > 1e-6
    with pytest.raises(ValueError, match="use output_spread"):
        audit.conditioning_through_table(_model(features="zeros"), 3, g)


def test_qdm_circuit_equals_pennylane_outputs_and_gradients():
    for layers, batch in ((10, 1), (2, 2)):
        cfg = A.AnoConfig(layers=layers)
        g = torch.Generator().manual_seed(layers)
        z0 = A.normalise(torch.randn(batch, 16, generator=g, dtype=torch.float64))
        angles0 = torch.randn(batch, cfg.n_angles, generator=g, dtype=torch.float64)
        raw0 = torch.randn(16, 2, 16, 16, generator=g, dtype=torch.float64) * 0.1
        out, grads = [], []
        for fn in (A.quantum_features_torch, A.quantum_features_pennylane):
            z, angles, raw = (v.clone().requires_grad_() for v in (z0, angles0, raw0))
            f = fn(z, angles, A.hermitian_observables(raw), cfg)
            weight = torch.linspace(-1, 1, f.shape[1], dtype=torch.float64)
            out.append(f.detach())
            grads.append(torch.autograd.grad((f * weight).sum(), (z, angles, raw)))
        assert (out[0] - out[1]).abs().max() < 1e-6
        assert out[0].abs().max() > 1e-3
        for a, b in zip(*grads, strict=True):
            assert (a - b).abs().max() < 1e-6 and a.abs().max() > 1e-6


def test_pennylane_backend_runs_the_model():
    torch.manual_seed(0)
    cfg = A.AnoConfig(layers=1, T=2)
    a = A.AnoDenoiser(cfg)
    b = A.AnoDenoiser(dataclasses.replace(cfg, backend="pennylane"))
    b.load_state_dict(a.state_dict())
    x = A.normalise(A.complex_noise((2, 256), torch.Generator().manual_seed(1)))
    t, lab = torch.tensor([1, 2]), torch.tensor([3, 0])
    assert (a(x, t, lab) - b(x, t, lab)).abs().max() < 1e-10


def test_sampler_is_deterministic_and_gives_unit_states():
    model = _model(T=3, layers=1)
    labels = torch.tensor([0, 1, 2])
    s1 = A.sample_states(model, labels, torch.Generator().manual_seed(0))
    s2 = A.sample_states(model, labels, torch.Generator().manual_seed(0))
    assert torch.equal(s1, s2)
    assert torch.allclose(torch.linalg.vector_norm(s1, dim=1), torch.ones(3, dtype=torch.float64), atol=1e-12)
    img = A.states_to_images(s1)
    assert img.shape == (3, 1, 16, 16) and torch.allclose(img.flatten(1).amax(1), torch.ones(3, dtype=torch.float64))


# ------------------------------------------------------------------ preset, profiles, runner


def test_preset_is_the_coded_training():
    cfg = get_preset("jo2025-ano")
    assert cfg.family == "ano_hybrid" and cfg.model == A.AnoConfig()
    assert cfg.data.classes == tuple(range(10)) and cfg.data.images_per_class * 10 // 32 == 253
    t = cfg.train
    assert (t.steps, t.batch_size, t.lr, t.optimizer, t.lr_step_size, t.lr_gamma) == (25_300, 32, 1e-3, "adam", 2530, 0.97)
    assert t.ema_decay is None and t.grad_clip is None and t.weight_decay == 0.0
    for name in ("smoke", "cpu", "book"):
        small = get_preset("jo2025-ano", name)
        same = dataclasses.replace(small.model, published_protocol_images=cfg.model.published_protocol_images)
        assert same == cfg.model and small.preset == f"jo2025-ano@{name}"
        assert small.train.steps < t.steps and small.train.lr == t.lr
        epoch = small.data.images_per_class * 10 // small.train.batch_size
        assert small.train.lr_step_size == 10 * epoch
    assert resolve_config("jo2025-ano", ["profile=cpu", "steps=7"]).train.steps == 7
    with pytest.raises(ValueError, match="profile must be one of paper, book, cpu, smoke"):
        get_preset("jo2025-ano", "gpu")


def test_smoke_profile_runs_end_to_end_through_the_runner(tmp_path, data_dir):
    cfg = apply_overrides(get_preset("jo2025-ano", "smoke"), ["eval.metrics=('ssim',)", f"data.data_dir={data_dir}"])
    record = run_experiment(cfg, results_root=tmp_path, progress=False)
    assert len(record.losses) == 3 and all(0.0 < v < 1.0 for v in record.losses)
    assert record.metrics["parameters_total"] == 861_104 and record.metrics["parameters_quantum"] == 56_192
    samples = torch.load(record.run_dir / "samples.pt")
    assert samples.shape == (10, 1, 28, 28) and float(samples.min()) >= 0.0 and float(samples.max()) <= 1.0
    ref = get_family("ano_hybrid").prepare_eval_reference(cfg)
    peak = ref.flatten(1).amax(1)  # |x|/max at 16×16, then bilinear upscaling (which lowers the peak a little)
    assert ref.shape == (20, 1, 28, 28) and float(peak.min()) > 0.85 and float(peak.max()) <= 1.0


def test_classifier_scores_each_sample_against_the_digit_it_was_drawn_for(monkeypatch):
    """qdm.run_metrics gives an ANO run classifier_accuracy and per-label scores: its labels are the sampler's."""
    from qdm import run_metrics
    from qdm.families import ano as fam

    cfg = get_preset("jo2025-ano", "smoke")
    seen = []
    real_sample = fam.sample_states
    monkeypatch.setattr(fam, "sample_states", lambda model, labels, g: seen.append(labels) or real_sample(model, labels, g))
    torch.manual_seed(0)
    cfg1 = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, layers=1, T=2))
    fam.ano_sample(fam.build_ano(cfg1), 13, cfg1, torch.Generator().manual_seed(0))
    intended = run_metrics.intended_labels(cfg, 13)
    assert intended is not None and torch.equal(intended, seen[0])
    assert intended.tolist() == [*range(10), 0, 1, 2]
    # a class fact, not a config field: the config and its hash are unchanged
    assert "samples_cyclic_labels" not in {f.name for f in dataclasses.fields(A.AnoConfig)}


def test_published_protocol_scores_unscaled_label0_samples(monkeypatch):
    """The project's FID (jo2026ano, circuit_training.py 215–252): label-0 samples vs the first training images, unscaled.

    Inception is replaced by a feature map that records what it is given, so the test checks the protocol's
    inputs: n unlabelled samples, n reference images, both unscaled magnitudes (a brightness-matched
    image would peak at exactly 1).
    """
    from qdm import metrics
    from qdm.families import ano as fam

    cfg = get_preset("jo2025-ano", "smoke")
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, published_protocol_images=6))
    seen = []

    def fake_features(images, device="cpu"):
        seen.append(images)
        flat = images.flatten(1).double()
        jitter = 1e-3 * torch.randn(images.shape[0], 3, dtype=torch.float64)
        return torch.stack([flat.mean(1), flat.amax(1), flat.std(1)], dim=1) + jitter

    labels_seen = []
    real_sample = fam.sample_states

    def spy(model, labels, generator):
        labels_seen.append(labels.clone())
        return real_sample(model, labels, generator)

    monkeypatch.setattr(metrics, "inception_features", fake_features)
    monkeypatch.setattr(fam, "sample_states", spy)
    torch.manual_seed(0)
    model = fam.build_ano(cfg)
    out = fam.published_protocol(model, cfg)
    assert out["published_n_samples"] == 6 and out["published_n_reference"] == 6
    assert labels_seen and torch.equal(labels_seen[0], torch.zeros(6, dtype=torch.long))
    fake, real = seen
    assert fake.shape == real.shape == (6, 1, 16, 16)
    # unit-norm samples: Σ|a|² = 1, so no pixel reaches 1 and the images are not rescaled to a peak of 1
    assert torch.allclose(fake.double().pow(2).flatten(1).sum(1), torch.ones(6, dtype=torch.float64), atol=1e-5)
    assert float(real.amax()) < 0.5 and float(fake.amax()) < 1.0
    assert math.isfinite(out["published_fid"]) and out["published_kid_se"] >= 0
    # deterministic: its own seeded stream
    seen.clear()
    again = fam.published_protocol(model, cfg)
    assert torch.equal(seen[0], fake)
    assert again["published_n_samples"] == 6
    off = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, published_protocol_images=0))
    assert fam.published_protocol(model, off) == {}
    with pytest.raises(ValueError, match="published_protocol_images"):
        dataclasses.replace(cfg.model, published_protocol_images=1)

