"""Reusable CPU buffers for the fused simulator engine (a small caching allocator).

Why: torch's CPU allocator hands every block of a few hundred KiB back to the operating system
when it is freed (glibc ``malloc`` above its mmap/trim thresholds), so the next step touches
fresh pages and the kernel zeroes each one on its first write.  At 8 qubits, batch 64 a
forward + backward step of :func:`qdm.quantum.sim.fused_layers` allocates about twenty
256 KiB state buffers; measured on a 2-core EPYC that was ~500 page faults and ~1.6 ms of a
~4.9 ms step (``benchmarks/README.md``).  The engine therefore takes its state-sized buffers
from a :class:`Workspace` and writes into them with ``out=``.

A buffer is handed out again only when nothing but the pool refers to its storage: the storage
use count is read from torch, so tensors saved for backward, returned to the caller or still
alive anywhere else are never overwritten.  CUDA tensors bypass the pool (torch's CUDA caching
allocator already does this), as does everything when the private use-count hook is missing.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["Workspace", "workspace", "clear_workspace"]

_USE_COUNT = getattr(torch._C, "_storage_Use_Count", None)
_CPU = torch.device("cpu")


class Workspace:
    """Pool of flat CPU buffers keyed by (numel, dtype); :meth:`empty` is ``torch.empty`` that
    reuses a pooled buffer no one else holds.  At most ``max_bytes`` are kept; buffers of more
    than ``max_buffer_bytes`` (where page faults are a small share of the work) are never pooled."""

    def __init__(self, max_bytes: int = 256 << 20, max_buffer_bytes: int = 32 << 20) -> None:
        if max_bytes < 0 or max_buffer_bytes < 0:
            raise ValueError(f"max_bytes and max_buffer_bytes must be >= 0, got {max_bytes}, {max_buffer_bytes}")
        self.max_bytes, self.max_buffer_bytes = max_bytes, max_buffer_bytes
        self._buffers: dict[tuple[int, torch.dtype], list[list]] = {}
        self.bytes = 0

    def empty(self, shape: Sequence[int], dtype: torch.dtype, device: torch.device) -> Tensor:
        """An uninitialised contiguous tensor of ``shape`` (a pooled buffer when one is free).

        A pool entry is [flat buffer, its storage, the storage's address, {shape: view}]; it is free
        when the storage's use count is 2 + the number of kept views (the buffer, the storage
        object and the views themselves).  A free entry hands out a detached alias of its view of
        ``shape`` (cheaper than a new view).  Entries are kept most recently used first, so a
        buffer freed soon after use, still in cache, is found first."""
        shape = tuple(shape)
        numel = math.prod(shape)
        nbytes = numel * dtype.itemsize
        if device != _CPU or _USE_COUNT is None or nbytes > self.max_buffer_bytes:
            return torch.empty(shape, dtype=dtype, device=device)
        pool = self._buffers.setdefault((numel, dtype), [])
        for i, entry in enumerate(pool):
            views = entry[3]
            if _USE_COUNT(entry[2]) == 2 + len(views):
                if i:
                    pool.insert(0, pool.pop(i))
                view = views.get(shape)
                if view is None:
                    view = views[shape] = entry[0].view(shape)
                return view.detach()
        buf = torch.empty(numel, dtype=dtype)
        if self.bytes + nbytes <= self.max_bytes:
            storage = buf.untyped_storage()
            pool.insert(0, [buf, storage, storage._cdata, {}])
            self.bytes += nbytes
        return buf.view(shape)

    def clear(self) -> None:
        """Drop every pooled buffer (tensors already handed out stay valid)."""
        self._buffers.clear()
        self.bytes = 0


_LOCAL = threading.local()


def workspace() -> Workspace:
    """This thread's engine workspace (threads never share buffers)."""
    ws = getattr(_LOCAL, "ws", None)
    if ws is None:
        ws = _LOCAL.ws = Workspace()
    return ws


def clear_workspace() -> None:
    """Release this thread's pooled engine buffers (e.g. after a large circuit)."""
    workspace().clear()
