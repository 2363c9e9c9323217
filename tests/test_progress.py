"""Sampling progress bars follow the runner's setting (``sampling_progress``) unless a sampler is told explicitly."""

from __future__ import annotations

import torch

from qdm.diffusion import ddim_sample_loop, p_sample_loop, sampling_progress
from qdm.schedules import make_schedule


def _eps(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x)


def test_bars_follow_the_ambient_setting(capsys):
    schedule = make_schedule("linear", 4)
    g = torch.Generator().manual_seed(0)
    ddim_sample_loop(_eps, (2, 1, 2, 2), schedule, 2, g)
    assert "DDIM sampling" not in capsys.readouterr().err  # quiet by default
    with sampling_progress(True):
        ddim_sample_loop(_eps, (2, 1, 2, 2), schedule, 2, g)
        assert "DDIM sampling" in capsys.readouterr().err
        p_sample_loop(_eps, (2, 1, 2, 2), schedule, g, progress=False)  # an explicit flag wins
        assert "DDPM sampling" not in capsys.readouterr().err
    with sampling_progress(False):
        p_sample_loop(_eps, (2, 1, 2, 2), schedule, g, progress=True)
        assert "DDPM sampling" in capsys.readouterr().err
    p_sample_loop(_eps, (2, 1, 2, 2), schedule, g)
    assert "DDPM sampling" not in capsys.readouterr().err  # the setting ends with its block


def test_inception_progress_bar_counts_images(capsys):
    from qdm.metrics import inception_features

    inception_features(torch.rand(2, 1, 28, 28), progress=True)
    err = capsys.readouterr().err
    assert "Inception features" in err and "2/2" in err
    inception_features(torch.rand(2, 1, 28, 28))
    assert "Inception features" not in capsys.readouterr().err
