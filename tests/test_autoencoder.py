"""The autoencoder of cacioppo2023qdm's public code: positive unit latents, the published shapes, Huber loss, the one trainer."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from qdm.data import load_dataset
from qdm.families.pqc import train_autoencoder
from qdm.models.autoencoder import (
    Autoencoder,
    AutoencoderConfig,
    autoencoder_loss,
    reconstruction_error,
)


def test_latent_is_a_positive_unit_vector_and_decoder_output_is_an_image():
    torch.manual_seed(0)
    model = Autoencoder(AutoencoderConfig(latent_dim=8)).eval()
    with torch.no_grad():
        z = model.encode(torch.rand(5, 1, 28, 28))
        y = model.decode(z)
    assert z.shape == (5, 8) and float(z.min()) >= 0
    torch.testing.assert_close(torch.linalg.vector_norm(z, dim=1), torch.ones(5))
    assert y.shape == (5, 1, 28, 28) and 0 < float(y.min()) and float(y.max()) < 1


def test_published_widths_give_the_2304_feature_bottleneck():
    model = Autoencoder(AutoencoderConfig(latent_dim=8, widths=(64, 128, 256), hidden=128))
    assert model.encoder_lin[0].in_features == 2304 and model.encoder_lin[0].out_features == 128
    assert model.decoder_lin[-2].out_features == 2304
    features = model.encoder_cnn(torch.zeros(2, 1, 28, 28))
    assert features.shape == (2, 256, 3, 3)
    assert AutoencoderConfig(latent_dim=8).n_latent_qubits == 3


def test_loss_is_the_huber_loss():
    torch.manual_seed(1)
    model = Autoencoder(AutoencoderConfig(latent_dim=4)).eval()
    x = torch.rand(3, 1, 28, 28)
    diff = (model(x) - x).abs()
    delta = 0.05
    want = torch.where(diff < delta, 0.5 * diff**2, delta * (diff - 0.5 * delta)).mean()
    torch.testing.assert_close(autoencoder_loss(model, x, delta), want)


def test_training_reconstructs_better_and_is_deterministic(data_dir):
    ds = load_dataset("mnist", "train", data_dir=data_dir)
    train_images = ds.subset((0, 1, 7), 24, 0).to_tensor("unit")
    held_out = ds.subset((0, 1, 7), 8, 99).to_tensor("unit")
    cfg = AutoencoderConfig(latent_dim=8, train_steps=60, train_batch_size=16, train_lr=3e-3, train_seed=4)
    torch.manual_seed(cfg.train_seed)
    untrained = Autoencoder(cfg)  # the same initial weights train_autoencoder starts from
    before = reconstruction_error(untrained, held_out)
    model, result = train_autoencoder(train_images, cfg)
    after = reconstruction_error(model, held_out)
    assert not model.training and len(result.losses) == 60
    assert after < 0.6 * before, (before, after)
    short = dataclasses.replace(cfg, train_steps=5)
    again, _ = train_autoencoder(train_images, short)
    once_more, _ = train_autoencoder(train_images, short)
    for a, b in zip(again.state_dict().values(), once_more.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(latent_dim=6), "latent_dim"),
        (dict(widths=(8, 16)), "widths"),
        (dict(train_lr=-1.0), "train_lr"),
        (dict(hidden=0), "hidden"),
        (dict(train_lr_gamma=1.5), "train_lr_gamma"),
    ],
)
def test_invalid_config_raises_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        AutoencoderConfig(**kwargs)


def test_bad_inputs_raise():
    model = Autoencoder(AutoencoderConfig())
    with pytest.raises(ValueError, match="images"):
        model.encode(torch.rand(2, 1, 16, 16))
    with pytest.raises(ValueError, match="latent"):
        model.decode(torch.rand(2, 5))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        train_autoencoder(torch.rand(2, 1, 28, 28) * 3, AutoencoderConfig())
