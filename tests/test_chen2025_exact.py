"""chen2025 exact to the authors' code: the time input, the statevector backend from a config, the weights loader."""

import math

import pytest
import torch

from qdm.config import apply_overrides, get_experiment
from qdm.families import get_family
from qdm.models.chen2025_weights import AUTHORS_PREFIXES, load_authors_state_dict, qdm_to_authors
from qdm.models.unet import UNetConfig, embedded_time
from qdm.presets import CHEN2025_VARIANTS, get_preset

SMALL = ["model.n_qubits=4"]


def _build(cfg, seed=0):
    torch.manual_seed(seed)
    return get_family(cfg.family).build(cfg)


def _embedding_input(model, x, t):
    """What time_proj receives (the sinusoidal embedding), captured by a forward hook."""
    seen = []
    handle = model.time_proj.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach().clone()))
    try:
        with torch.no_grad():
            model(x, t)
    finally:
        handle.remove()
    return seen[0]


def test_published_presets_embed_the_schedule_position_and_qdm_keeps_t():
    for name in CHEN2025_VARIANTS:
        assert get_preset(name).model.time_input == "index"
        assert get_preset(f"{name}-pathmnist").model.time_input == "index"
    assert get_experiment("hybrid-mnist").model.time_input == "t"
    assert UNetConfig().time_input == "t"
    with pytest.raises(ValueError, match="time_input must be one of"):
        UNetConfig(time_input="k")
    with pytest.raises(ValueError, match="time_input must be one of"):
        apply_overrides(get_preset("chen2025"), ["model.time_input=k"])


def test_index_time_input_golden_value_from_the_formula():
    cfg = apply_overrides(get_preset("chen2025"), SMALL)
    model = _build(cfg)
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([1, 500, 1000])
    emb = _embedding_input(model, x, t)
    assert embedded_time(t, "index").tolist() == [0, 499, 999]
    # authors: k = t − 1; emb_j = sin(k ω_j), emb_{64+j} = cos(k ω_j), ω_j = 10000^(−j/63)
    for row, k in enumerate((0, 499, 999)):
        for j in (0, 1, 17, 63):
            w = 10000.0 ** (-j / 63)
            assert float(emb[row, j]) == pytest.approx(math.sin(k * w), abs=1e-6)
            assert float(emb[row, 64 + j]) == pytest.approx(math.cos(k * w), abs=1e-6)
    assert torch.equal(emb[0, :64], torch.zeros(64)) and torch.equal(emb[0, 64:], torch.ones(64))
    # golden: the authors' k = 999, j = 1 entry (sin(999 · 10000^(−1/63)) = sin(863.07…))
    assert float(emb[2, 1]) == pytest.approx(math.sin(999 * math.exp(-math.log(10000.0) / 63)), abs=1e-6)
    assert float(emb[2, 1]) != pytest.approx(math.sin(1000 * math.exp(-math.log(10000.0) / 63)), abs=1e-2)


def test_index_model_at_t_is_the_t_model_at_t_minus_one():
    cfg = apply_overrides(get_preset("chen2025"), SMALL)
    index_model = _build(cfg)
    t_model = _build(apply_overrides(cfg, ["model.time_input=t"]))
    t_model.load_state_dict(index_model.state_dict())
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([2, 10, 400, 1000])
    with torch.no_grad():
        a, b, c = index_model(x, t), t_model(x, t - 1), t_model(x, t)
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-6  # the shift matters at equal weights and noise level


def test_statevector_backend_is_selectable_from_a_config():
    base = apply_overrides(get_preset("chen2025-trainable"), SMALL)
    sv = apply_overrides(base, ["model.backend=statevector"])
    assert sv.model.backend == "statevector"
    torch_model, sv_model = _build(base), _build(sv)
    assert sv_model.bottleneck.core.backend == "statevector"
    sv_model.load_state_dict(torch_model.state_dict())
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([3, 700])
    with torch.no_grad():
        assert (torch_model(x, t) - sv_model(x, t)).abs().max() < 1e-6
    with pytest.raises(ValueError, match="backend must be one of"):
        apply_overrides(base, ["model.backend=qiskit"])


def _authors_layout(model):
    """The model's weights written under the authors' ImprovedUNet names (by hand, not via the loader's table)."""
    names = {
        "time_proj.": "time_embed_proj.",
        "res_block.conv1.": "res_block.block.0.",
        "res_block.conv2.": "res_block.block.2.",
        "bottleneck.proj_in.": "q_attn.input_proj.",
        "bottleneck.core.weights": "q_attn.qlayer.weights",
        "bottleneck.proj_out.": "q_attn.output_proj.",
    }
    out = {}
    for key, value in model.state_dict().items():
        for ours, theirs in names.items():
            if key.startswith(ours):
                key = theirs + key[len(ours):]
                break
        out[key] = value.detach().clone().float()  # the authors train in float32
    return out


def test_loader_reads_a_state_dict_in_the_authors_layout(tmp_path):
    cfg = apply_overrides(get_preset("chen2025"), SMALL)
    source = _build(cfg, seed=3)
    path = tmp_path / "authors_model.pt"
    torch.save(_authors_layout(source), path)
    saved = torch.load(path)
    assert "q_attn.qlayer.weights" in saved and "res_block.block.0.weight" in saved and "time_embed_proj.bias" in saved
    target = load_authors_state_dict(_build(cfg, seed=4), saved)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value.float().to(value.dtype)), key
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    t = torch.tensor([1, 999])
    with torch.no_grad():
        assert (target(x, t) - source(x, t)).abs().max() < 1e-6
    assert set(qdm_to_authors(source.state_dict())) == set(saved)
    assert set(AUTHORS_PREFIXES) >= {"time_embed_proj", "res_block.block.0", "q_attn.input_proj",
                                     "q_attn.qlayer.weights", "q_attn.output_proj"}


def test_loader_errors_name_the_key():
    cfg = apply_overrides(get_preset("chen2025"), SMALL)
    model = _build(cfg)
    good = _authors_layout(model)
    bad = dict(good)
    bad["q_attn.extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="q_attn.extra.weight"):
        load_authors_state_dict(model, bad)
    short = {k: v for k, v in good.items() if not k.startswith("time_embed_proj")}
    with pytest.raises(ValueError, match="lacks the chen2025 model's keys .*time_proj"):
        load_authors_state_dict(model, short)
    wrong = dict(good)
    wrong["q_attn.qlayer.weights"] = torch.zeros(3, 5)
    with pytest.raises(ValueError, match=r"bottleneck.core.weights'\] has shape \(3, 5\)"):
        load_authors_state_dict(model, wrong)
