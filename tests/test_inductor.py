"""The backported Inductor fix keeps OpenMP on the outer loop of a reduction."""

from __future__ import annotations

import pytest
import torch

from zifhelpers.potentials.inductor import patch_parallel_depth

pytestmark = pytest.mark.slow


def _per_edge_channel_sum(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(edges, 32) x (edges, 32, 5) -> (edges, 5): the pattern of a path's backward pass."""
    return (a.unsqueeze(-1) * b).sum(1)


def _loop_lines(a, b):
    """Result and the for/omp lines of the C++ code Inductor writes for the sum."""
    from torch._inductor.utils import fresh_cache, run_and_get_code

    # kernels built for two threads (a one-thread build, as in a test worker, has no OpenMP)
    with fresh_cache(), torch._inductor.config.patch({"cpp.threads": 2}):
        torch._dynamo.reset()
        torch._dynamo.mark_dynamic(a, 0)  # the number of edges varies, the rest is fixed
        torch._dynamo.mark_dynamic(b, 0)
        out, codes = run_and_get_code(torch.compile(_per_edge_channel_sum), a, b)
    torch._dynamo.reset()
    lines = [line.strip() for code in codes for line in code.splitlines()]
    return out, [line for line in lines if line.startswith(("for(", "#pragma omp parallel"))]


def _parallel_inside_a_loop(lines: list[str]) -> bool:
    first_parallel = next(i for i, line in enumerate(lines) if line.startswith("#pragma"))
    return any(line.startswith("for(") for line in lines[:first_parallel])


@pytest.mark.skipif(not torch.backends.openmp.is_available(), reason="needs OpenMP")
def test_reduction_over_channels_is_parallel_over_edges():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 32, generator=gen), torch.randn(300, 32, 5, generator=gen)
    from torch._inductor.codegen import cpp

    before = cpp.LoopNest.max_parallel_depth
    unpatched = getattr(before, "__wrapped__", before)
    try:
        cpp.LoopNest.max_parallel_depth = unpatched
        out_unpatched, lines_unpatched = _loop_lines(a, b)
        needed = patch_parallel_depth()
        out, lines = _loop_lines(a, b)
    finally:
        cpp.LoopNest.max_parallel_depth = before
    expected = _per_edge_channel_sum(a, b)
    assert torch.allclose(out, expected, rtol=0, atol=1e-5)
    assert torch.allclose(out_unpatched, expected, rtol=0, atol=1e-5)
    # with the fix: one OpenMP team around the loop over edges
    assert lines[0].startswith("#pragma omp parallel"), lines
    assert not _parallel_inside_a_loop(lines)
    # the installed torch has the bug exactly when the backport says so
    assert _parallel_inside_a_loop(lines_unpatched) == needed, lines_unpatched
