"""Image grids: (n, C, H, W) images in [0, 1] as one lossless 8-bit PNG (a run's ``samples.png``, a ledger entry's)."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import torch

from qdm.io import atomic_write_bytes

__all__ = ["save_image_grid"]


def save_image_grid(images: torch.Tensor, path: str | os.PathLike[str], nrow: int | None = None, pad: int = 2) -> Path:
    """Save (n, C, H, W) images in [0, 1] as one PNG grid (``nrow`` per row, default ≈ √n; tiles upscaled to ≥ 28 px)."""
    from PIL import Image  # only when a grid is written

    if images.dim() != 4 or images.shape[1] not in (1, 3) or images.shape[0] < 1:
        raise ValueError(f"images must be (n, 1|3, H, W) with n >= 1, got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    scale = max(1, math.ceil(28 / max(h, w)))
    x = images.detach().float().cpu().clamp(0, 1)
    if scale > 1:
        x = x.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
        h, w = h * scale, w * scale
    ncol = math.ceil(n / nrow)
    grid = torch.ones(c, pad + ncol * (h + pad), pad + nrow * (w + pad))
    for i in range(n):
        r, q = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[:, top : top + h, left : left + w] = x[i]
    array = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    image = Image.fromarray(array[..., 0] if c == 1 else array, mode="L" if c == 1 else "RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return atomic_write_bytes(Path(path), buf.getvalue())
