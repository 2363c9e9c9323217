"""Tests of qdm.quantum.workspace: pooled buffers are reused only when nothing else holds them."""

from __future__ import annotations

import threading

import pytest
import torch

from qdm.quantum import sim
from qdm.quantum.workspace import Workspace, clear_workspace, workspace

CPU = torch.device("cpu")


def test_held_buffers_are_never_handed_out_and_dropped_ones_are_reused() -> None:
    ws = Workspace()
    a = ws.empty((4, 8), torch.complex128, CPU)
    view = a[1:].view(-1)  # a view alone keeps the storage in use
    ptr = a.data_ptr()
    del a
    b = ws.empty((8, 4), torch.complex128, CPU)
    assert b.data_ptr() != ptr  # the view still holds the first buffer
    del view
    c = ws.empty((32,), torch.complex128, CPU)  # same numel and dtype: the freed buffer comes back
    assert c.data_ptr() == ptr and c.shape == (32,) and c.is_contiguous()
    assert ws.empty((32,), torch.complex64, CPU).data_ptr() not in (ptr, b.data_ptr(), c.data_ptr())


def test_pool_respects_its_byte_limits_and_clear() -> None:
    ws = Workspace(max_bytes=1024, max_buffer_bytes=512)
    big = ws.empty((64,), torch.float64, CPU)  # 512 bytes: pooled
    huge = ws.empty((65,), torch.float64, CPU)  # 520 bytes: above max_buffer_bytes, never pooled
    assert ws.bytes == 512
    ptr_huge = huge.data_ptr()
    del huge
    again = ws.empty((65,), torch.float64, CPU)
    assert again.numel() == 65 and ws.bytes == 512
    held = [ws.empty((64,), torch.float64, CPU) for _ in range(2)]  # the first fills the pool, the second is not kept
    assert ws.bytes == 1024 and len({t.data_ptr() for t in (big, *held)}) == 3
    del big, again, ptr_huge, held
    ws.clear()
    assert ws.bytes == 0
    with pytest.raises(ValueError, match="max_bytes"):
        Workspace(max_bytes=-1)


def test_each_thread_has_its_own_workspace() -> None:
    seen: list[Workspace] = []
    thread = threading.Thread(target=lambda: seen.append(workspace()))
    thread.start()
    thread.join()
    assert seen[0] is not workspace()


def test_engine_graphs_alive_at_once_keep_their_saved_states() -> None:
    """Two forward passes held before either backward (pool buffers saved for backward must not be
    recycled), and a retained graph run twice, give the gradients of separate runs."""
    clear_workspace()
    g = torch.Generator().manual_seed(3)
    n, layers = 8, 3
    cnots = [sim.cnot_ring_pairs(n, 1 + layer) for layer in range(layers)]
    xs = [torch.rand(5, n, generator=g, dtype=torch.float64) for _ in range(2)]
    w = torch.rand(layers, n, 3, generator=g, dtype=torch.float64)

    def run(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sim.fused_layers(sim.angle_state(x, "X"), weights, "rot", cnots, "expval_z")

    expected = []
    for x in xs:
        xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
        expected.append(torch.autograd.grad(run(xg, wg).square().sum(), (xg, wg)))
    leaves = [(x.clone().requires_grad_(), w.clone().requires_grad_()) for x in xs]
    losses = [run(xg, wg).square().sum() for xg, wg in leaves]  # both graphs alive
    for (xg, wg), loss, ref in reversed(list(zip(leaves, losses, expected))):
        first = torch.autograd.grad(loss, (xg, wg), retain_graph=True)
        run(torch.rand(5, n, dtype=torch.float64), w)  # another forward in between
        second = torch.autograd.grad(loss, (xg, wg))
        for got in (first, second):
            for a, b in zip(got, ref):
                torch.testing.assert_close(a, b, atol=1e-13, rtol=0)
