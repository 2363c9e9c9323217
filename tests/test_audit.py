"""Audits of the published models (papers.md C1, A1) and the metric protocols (qdm.audit); each check can fail."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from qdm.audit import (
    ancilla_measurement_check,
    chen2025_protocol,
    chen2025_reference,
    circuit_weight_gradient,
    closed_form_deviation,
    dead_weight_mask,
    estimator_bias_table,
    kid_with_se,
    label_block_norms,
    proj_in_gradient_norm,
    qdm_protocol,
    quantise_uint8,
    summarize_seeds,
    weight_effect,
)
from qdm.circuits import AngleEmbedding, QuantumLayer, StronglyEntangling, TrainableRYRZChain, zexpval_wire_sets
from qdm.config import apply_overrides, from_dict
from qdm.data import load_dataset
from qdm.families import get_family
from qdm.families_hybrid import build_hybrid
from qdm.metrics import fid_from_features, mmd2_unbiased
from qdm.circuits import RYCNOTChain
from qdm.models.pqc_denoiser import PQCDenoiser, circuit_parameter_count
from qdm.presets import get_preset
from qdm.runner import run_experiment


@pytest.fixture(scope="module")
def chen_models():
    """The chen2025 and chen2025-trainable U-Nets with their real 16-qubit gates (torch backend)."""
    torch.manual_seed(0)
    return build_hybrid(get_preset("chen2025")), build_hybrid(get_preset("chen2025-trainable"))


@pytest.fixture(scope="module")
def angles():
    return torch.randn(3, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


# --- chen2025: the two published properties -----------------------------------------------------


def test_chen2025_circuit_weights_have_no_effect(chen_models, angles):
    published, trainable = (m.bottleneck.circuit for m in chen_models)
    assert published.n_qubits == 16 and published.backend == "torch"
    g = torch.Generator().manual_seed(2)
    assert weight_effect(published, angles, n_draws=3, generator=g) < 1e-12
    assert circuit_weight_gradient(published, angles, g).abs().max() < 1e-12
    # control: the same audit sees the trainable circuit's weights act
    assert weight_effect(trainable, angles, n_draws=1, generator=g) > 1e-2
    assert circuit_weight_gradient(trainable, angles, g).abs().max() > 1e-3


def test_chen2025_expvals_are_products_of_cosines_over_cnot_wire_sets(chen_models, angles):
    layer = chen_models[0].bottleneck.circuit
    sets = zexpval_wire_sets(layer.ansatz, 16)
    assert max(len(s) for s in sets) > 2  # three CNOT chains spread Z over many wires: not a trivial identity
    assert closed_form_deviation(layer, angles) < 1e-12
    assert closed_form_deviation(layer, angles + 0.3) < 1e-12
    with pytest.raises(ValueError, match="diagonal gates and CNOTs"):
        closed_form_deviation(chen_models[1].bottleneck.circuit, angles)


def test_detach_switch_controls_the_gradient_into_the_projection(chen_models):
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([7, 700])
    published, trainable = chen_models
    g = torch.Generator().manual_seed(4)
    assert published.bottleneck.detach_input and proj_in_gradient_norm(published, x, t, g) == 0.0
    assert not trainable.bottleneck.detach_input and proj_in_gradient_norm(trainable, x, t, g) > 1e-6
    flipped = build_hybrid(apply_overrides(get_preset("chen2025"), ["model.detach_input=false"]))
    assert proj_in_gradient_norm(flipped, x, t, g) > 1e-6
    with pytest.raises(ValueError, match="bottleneck gate"):
        proj_in_gradient_norm(build_hybrid(get_preset("chen2025-classical")), x, t, g)


def test_chen2025_trainable_every_circuit_weight_gets_a_gradient(chen_models, angles):
    layer = chen_models[1].bottleneck.circuit
    assert isinstance(layer.ansatz, RYCNOTChain) and layer.weights.numel() == 48
    grad = circuit_weight_gradient(layer, angles, torch.Generator().manual_seed(5))
    assert grad.abs().min() > 1e-8
    assert not dead_weight_mask(layer.ansatz, 16).any()


@pytest.mark.parametrize("ansatz", [TrainableRYRZChain(3), StronglyEntangling(3, (1, 1, 1))])
def test_final_diagonal_rotations_are_exactly_the_dead_weights(ansatz):
    """Why chen2025-trainable is not ry_rz_chain / StronglyEntangling: their last RZ commutes with CNOTs + Z read-out."""
    torch.manual_seed(6)
    layer = QuantumLayer(5, ansatz, AngleEmbedding("Y"))
    x = torch.randn(4, 5, dtype=torch.float64)
    grad = circuit_weight_gradient(layer, x, torch.Generator().manual_seed(7)).abs()
    dead = dead_weight_mask(ansatz, 5)
    assert dead.sum() == 5
    assert grad[dead].max() < 1e-12 and grad[~dead].min() > 1e-8


def test_ry_cnot_chain_torch_matches_pennylane_with_gradients():
    torch.manual_seed(8)
    x = torch.randn(3, 4, dtype=torch.float64)
    layers = {b: QuantumLayer(4, RYCNOTChain(2), AngleEmbedding("Y"), backend=b) for b in ("torch", "pennylane")}
    layers["pennylane"].load_state_dict(layers["torch"].state_dict())
    outs, grads = {}, {}
    for backend, layer in layers.items():
        out = layer(x)
        (out * torch.arange(1.0, 5.0, dtype=torch.float64)).sum().backward()
        outs[backend], grads[backend] = out.detach(), layer.weights.grad.clone()
    assert torch.allclose(outs["torch"], outs["pennylane"], atol=1e-12)
    assert torch.allclose(grads["torch"], grads["pennylane"], atol=1e-12)
    # finite differences on one weight
    w = layers["torch"].weights
    eps = 1e-6
    with torch.no_grad():
        w[1, 2] += eps
        plus = (layers["torch"](x) * torch.arange(1.0, 5.0, dtype=torch.float64)).sum()
        w[1, 2] -= 2 * eps
        minus = (layers["torch"](x) * torch.arange(1.0, 5.0, dtype=torch.float64)).sum()
    assert abs((plus - minus).item() / (2 * eps) - grads["torch"][1, 2].item()) < 1e-6


# --- cacioppo2023-cond-latent (A1) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def a1_model():
    torch.manual_seed(9)
    model = PQCDenoiser(get_preset("cacioppo2023-cond-latent").model)
    return model.eval()


def test_a1_has_1110_parameters_and_normalised_label_projections(a1_model):
    assert circuit_parameter_count(a1_model) == 1110
    norms, label_p = label_block_norms(a1_model, 10, torch.Generator().manual_seed(10))
    assert (norms - 1).abs().max() < 1e-12
    assert bool(((label_p > 0) & (label_p < 1)).all())  # a real projection: the label block is not the whole state


def test_a1_ancilla_measurement_follows_the_born_rule(a1_model):
    check = ancilla_measurement_check(a1_model, shots=4000, t=3, label=7, generator=torch.Generator().manual_seed(11))
    assert 0.05 < check.p0 < 0.95  # a genuinely random outcome
    assert abs(check.z_score) < 5 and check.max_norm_error < 1e-12
    assert abs(check.frequency0 - check.p0) < 5 * math.sqrt(check.p0 * (1 - check.p0) / check.shots)
    with pytest.raises(ValueError, match="ancilla='measure'"):
        ancilla_measurement_check(PQCDenoiser(get_preset("cacioppo2025-full").model), shots=10)


# --- round trip through a run folder -------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "overrides"),
    [
        ("chen2025", ["steps=1", "batch_size=2", "images_per_class=4", "n_samples=1", "eval.sample_steps=1"]),
        ("cacioppo2023-cond-latent", ["steps=8", "batch_size=4", "images_per_class=2", "n_samples=2",
                                      "model.autoencoder.train_steps=1", "model.autoencoder.train_batch_size=4"]),
    ],
)
def test_resolved_config_round_trips_through_the_run_folder(tmp_path, data_dir, preset, overrides):
    cfg = apply_overrides(get_preset(preset, "smoke"),
                          ["eval.metrics=()", *overrides, f"data.data_dir={data_dir}", "checkpoint_every=none"])
    record = run_experiment(cfg, results_root=tmp_path, progress=False)
    loaded = from_dict(json.loads((record.run_dir / "config.json").read_text()))
    assert loaded == cfg and loaded.preset == f"{preset}@smoke"
    family = get_family(cfg.family)
    torch.manual_seed(0)
    a = family.build(cfg)
    torch.manual_seed(1)
    b = family.build(loaded)
    assert a.state_dict().keys() == b.state_dict().keys()
    assert sum(p.numel() for p in a.parameters()) == sum(p.numel() for p in b.parameters())
    saved = torch.load(record.run_dir / "checkpoint.pt", weights_only=False)
    b.load_state_dict(saved["model"])  # strict: the checkpoint fits the rebuilt model exactly


# --- statistics ----------------------------------------------------------------------------------


def test_kid_with_se_matches_the_unbiased_estimator_and_its_leave_one_out_values():
    g = torch.Generator().manual_seed(12)
    x, y = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(7, 3, generator=g, dtype=torch.float64) + 0.5
    kid, se = kid_with_se(x, y)
    assert kid == pytest.approx(mmd2_unbiased(x, y), abs=1e-12)
    # brute-force jackknife
    loo_x = np.array([mmd2_unbiased(torch.cat([x[:i], x[i + 1:]]), y) for i in range(6)])
    loo_y = np.array([mmd2_unbiased(x, torch.cat([y[:j], y[j + 1:]])) for j in range(7)])
    var = 5 / 6 * ((loo_x - loo_x.mean()) ** 2).sum() + 6 / 7 * ((loo_y - loo_y.mean()) ** 2).sum()
    assert se == pytest.approx(math.sqrt(var), rel=1e-10)


def test_kid_standard_error_is_calibrated():
    """Mean jackknife SE ≈ the spread of KID over independent replicates (two Gaussians, d = 4)."""
    g = torch.Generator().manual_seed(13)
    kids, ses = [], []
    for _ in range(150):
        kid, se = kid_with_se(torch.randn(40, 4, generator=g, dtype=torch.float64),
                              torch.randn(40, 4, generator=g, dtype=torch.float64) * 1.3 + 0.3)
        kids.append(kid)
        ses.append(se)
    ratio = np.mean(ses) / np.std(kids, ddof=1)
    assert 0.75 < ratio < 1.35


def test_summarize_seeds_t_interval_and_coverage():
    s = summarize_seeds([1.0, 2.0, 3.0])
    assert s.mean == 2.0 and s.std == 1.0 and s.n == 3
    assert s.half_width == pytest.approx(4.302652729911275 / math.sqrt(3), rel=1e-9)
    one = summarize_seeds([4.0])
    assert one.mean == 4.0 and math.isnan(one.ci_low)
    rng = np.random.default_rng(14)
    hits = 0
    for _ in range(2000):
        r = summarize_seeds(rng.normal(5.0, 2.0, size=4).tolist())
        hits += r.ci_low <= 5.0 <= r.ci_high
    assert 0.93 < hits / 2000 < 0.97
    for bad in ([], [1.0, math.nan]):
        with pytest.raises(ValueError, match="values"):
            summarize_seeds(bad)


# --- protocols -----------------------------------------------------------------------------------


def _pixel_features(images: torch.Tensor) -> torch.Tensor:
    """A cheap stand-in for Inception: the pixels (float in [0, 1]) as float64 features."""
    assert images.is_floating_point() and images.shape[1] in (1, 3)
    return images.flatten(1).to(torch.float64)


def test_chen2025_reference_is_official_order():
    mnist, note = chen2025_reference("mnist", 5)
    test = load_dataset("mnist", "test")
    assert torch.equal(mnist[:, 0], torch.from_numpy(np.array(test.images[:5])))
    assert list(np.asarray(test.labels[:5])) == [7, 2, 1, 0, 4]  # the official test order, any digit
    assert "official order" in note
    path, _ = chen2025_reference("pathmnist", 5)
    train = load_dataset("pathmnist", "train")
    order = np.argsort(np.asarray(train.index))
    firsts = order[np.asarray(train.labels)[order] == 1][:5]
    assert path.shape == (5, 3, 28, 28) and torch.equal(path, torch.from_numpy(np.asarray(train.images)[firsts]).permute(0, 3, 1, 2))


def test_chen2025_protocol_pairs_by_index_with_skimage_ssim():
    real, _ = chen2025_reference("mnist", 8)
    gen = torch.flip(real, dims=(0,))[:, :, :, :].contiguous()  # same images, other order
    result = chen2025_protocol(gen, real, features=_pixel_features)
    want = np.mean([structural_similarity(gen[i, 0].numpy(), real[i, 0].numpy(), data_range=255) for i in range(5)])
    assert result.ssim == pytest.approx(want, abs=1e-9) and result.n_generated == 5
    assert result.fid == pytest.approx(fid_from_features(_pixel_features(real[:5] / 255.0), _pixel_features(gen[:5] / 255.0)), rel=1e-9)
    same = chen2025_protocol(real, real, features=_pixel_features)
    assert same.ssim == pytest.approx(1.0) and abs(same.fid) < 1e-6
    changed = gen.clone()
    changed[5:] = 0  # images past the first five are not used
    assert chen2025_protocol(changed, real, features=_pixel_features) == result
    with pytest.raises(ValueError, match="n_generated=5"):
        chen2025_protocol(gen[:4], real, features=_pixel_features)


def test_qdm_protocol_counts_and_estimators():
    g = torch.Generator().manual_seed(15)
    gen = torch.rand(12, 1, 28, 28, generator=g)
    real = torch.rand(9, 1, 28, 28, generator=g)
    with pytest.raises(ValueError, match="min_generated=1000"):
        qdm_protocol(gen, real, features=_pixel_features)
    r = qdm_protocol(gen, real, min_generated=12, features=_pixel_features)
    fg, fr = _pixel_features(quantise_uint8(gen) / 255.0), _pixel_features(quantise_uint8(real) / 255.0)
    assert (r.n_generated, r.n_real) == (12, 9)
    assert r.kid == pytest.approx(kid_with_se(fr, fg)[0]) and r.fid == pytest.approx(fid_from_features(fr, fg))
    assert r.kid_se > 0 and -1 <= r.ssim <= 1


def test_estimator_bias_table_shows_fid_bias_and_unbiased_kid():
    g = torch.Generator().manual_seed(16)
    real = torch.randn(400, 8, generator=g, dtype=torch.float64)
    model = torch.randn(200, 8, generator=g, dtype=torch.float64) + 1.0
    table = estimator_bias_table(real, model, ns=(5, 20, 100, 200), n_repeats=4, seed=0)
    assert list(table.columns) == ["comparison", "n", "n_repeats", "fid_mean", "fid_std", "kid_mean", "kid_std"]
    rr = table[table.comparison == "real-vs-real"].set_index("n")
    mr = table[table.comparison == "model-vs-real"].set_index("n")
    assert rr.loc[5, "fid_mean"] > 3 * rr.loc[200, "fid_mean"]  # FID of identical distributions: pure bias, grows as n falls
    assert abs(rr.loc[200, "kid_mean"]) < 0.1 * mr.loc[200, "kid_mean"]  # KID of identical distributions ≈ 0
    assert mr.loc[200, "fid_mean"] > 8 * 0.9  # ‖Δμ‖² = 8
    with pytest.raises(ValueError, match="ns entries"):
        estimator_bias_table(real, model, ns=(300,))


# --- the audit driver: other digits, all images, end to end ----------------------------------------


def test_audit_configs_take_overrides_for_other_digits_and_all_images():
    from qdm.audit import audit_slug, chen2025_audit_configs

    cfgs = chen2025_audit_configs([0, 1], "cpu", overrides=["data.classes=6", "data.images_per_class=null"])
    assert len(cfgs) == 8 and {c.data.classes for c in cfgs} == {(6,)}
    assert {c.data.images_per_class for c in cfgs} == {None} and [c.train.seed for c in cfgs[:2]] == [0, 1]
    assert {c.preset for c in cfgs} == {f"{v}@cpu" for v in ("chen2025", "chen2025-trainable", "chen2025-classical", "chen2025-matched")}
    assert audit_slug("mnist", "cpu", ["data.classes=6"]) == "chen2025-mnist-cpu-data.classes=6"
    with pytest.raises(ValueError, match="train.seed"):
        chen2025_audit_configs([0], "cpu", overrides=["train.seed=3"])
    with pytest.raises(ValueError, match="classes"):
        chen2025_audit_configs([0], "cpu", overrides=["data.classes=x"])


def test_audit_runs_end_to_end_on_another_digit(tmp_path, data_dir):
    """Four variants x one seed on digit 6 (tiny budget, pixel features instead of Inception): both protocols filled in."""
    from qdm.audit import audit_chen2025

    report = audit_chen2025(
        seeds=(0,), profile="smoke", results_root=tmp_path, workers=1, time_backends=("torch",), time_steps=1,
        features=_pixel_features, overrides=["data.classes=6", "train.steps=2", "eval.n_samples=6", "eval.sample_steps=2"],
    )
    runs = report.runs
    assert list(runs.variant) == ["chen2025", "chen2025-trainable", "chen2025-classical", "chen2025-matched"]
    assert (runs.n_generated == 6).all() and np.isfinite(runs[["chen_fid", "qdm_fid", "qdm_kid", "qdm_ssim"]].to_numpy()).all()
    assert list(runs.params_circuit[:2]) == [48, 48] and runs.params_circuit[2] == 0
    assert runs.published_fid.isna().all()  # the published numbers are for digit 0, not digit 6
    assert report.paths["markdown"].parent.name == "chen2025-mnist-smoke-data.classes=6-train.steps=2-eval.n_samples=6-eval.sample_steps=2"
    text = report.paths["markdown"].read_text()
    assert "class (6,)" in text and "published FID" in text
    bias = __import__("pandas").read_csv(report.paths["bias"])
    assert set(bias.comparison) == {"real-vs-real", "model-vs-real"} and set(bias.n) == {5, 6}  # 6: all samples
    assert report.paths["bias_figure"].with_suffix(".json").is_file() and "Estimator bias" in text
    held = load_dataset("mnist", "test", data_dir=str(data_dir))
    assert runs.n_real_qdm[0] == min(64, int((np.asarray(held.labels) == 6).sum()))
    # the same finished runs, re-scored with a pool of training images for the bias table
    again = audit_chen2025(
        seeds=(0,), profile="smoke", results_root=tmp_path, out_dir=tmp_path / "train-pool", time_backends=(),
        features=_pixel_features, bias_pool="train", bias_ns=(5,),
        overrides=["data.classes=6", "train.steps=2", "eval.n_samples=6", "eval.sample_steps=2"],
    )
    assert again.runs.qdm_fid.tolist() == pytest.approx(runs.qdm_fid.tolist())
    assert "training images of class (6,)" in again.paths["markdown"].read_text()
    # the qdm protocol on the first 5 samples: the cached features of all 6 are sliced, the count recorded
    first5 = audit_chen2025(
        seeds=(0,), profile="smoke", results_root=tmp_path, time_backends=(), features=_pixel_features, qdm_images=5,
        bias_ns=(), overrides=["data.classes=6", "train.steps=2", "eval.n_samples=6", "eval.sample_steps=2"],
    )
    assert (first5.runs.n_generated == 5).all() and first5.runs.chen_fid.tolist() == pytest.approx(runs.chen_fid.tolist())
    with pytest.raises(ValueError, match="qdm_images"):
        audit_chen2025(seeds=(0,), qdm_images=2)
    with pytest.raises(ValueError, match="bias_pool"):
        audit_chen2025(seeds=(0,), bias_pool="test")


def test_preset_costs_counts_parameters_and_times_steps(tmp_path, capsys):
    from qdm.audit import preset_costs
    from qdm.cli import main

    table = preset_costs(["cacioppo2023-cond-latent", "chen2025-classical"], backends=("torch", "pennylane"), n_steps=1, profile="smoke")
    rows = table.set_index(["preset", "backend"])
    assert rows.loc[("cacioppo2023-cond-latent", "torch"), "params_circuit"] == 1110
    assert rows.loc[("chen2025-classical", "torch"), "params_circuit"] == 0
    assert rows.loc[("chen2025-classical", "torch"), "params_total"] > 400_000
    assert rows.loc[("cacioppo2023-cond-latent", "pennylane"), "s_per_step"] > 0
    assert math.isnan(rows.loc[("chen2025-classical", "pennylane"), "s_per_step"])  # no circuit: timed once
    with pytest.raises(ValueError, match="registered presets"):
        preset_costs(["chen2026"])
    assert main(["audit", "presets", "--backends", "qiskit"]) == 2
    assert "--backends" in capsys.readouterr().err
