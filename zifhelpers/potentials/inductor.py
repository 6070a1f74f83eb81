"""``nequip-compile`` with a backported PyTorch Inductor CPU fix.

Inductor's C++ backend decides which loop of a kernel OpenMP runs in
parallel in ``LoopNest.max_parallel_depth``. Up to at least torch 2.13 it
estimates the work of the outer loops as a product of
``FloorDiv(loop.size, loop.steps)``: an outer loop narrower than one SIMD
vector (say 5 floats against a step of 16) counts as zero iterations, the
heuristic concludes there is no outer work and parallelises the inner
reduction instead, opening an OpenMP team once per outer iteration. In the
backward pass of the converted ZIF-4 model such reductions (over the 32
channels of a tensor-product path, per edge) forked 15 000 times per call.
PyTorch fixed this by counting such loops as one iteration (``CeilDiv``;
pytorch/pytorch#190928, issue #190757); this module applies the same change
to the installed torch when its code still has the bug, and leaves any
other torch alone.

    python -m zifhelpers.potentials.inductor <nequip-compile arguments>

runs ``nequip-compile`` with the fix (what
:func:`zifhelpers.potentials.compile.compile_model` does). Compiled models are
numerically the same up to float summation order. On 2 CPU cores the
shipped students went from 97 to 59 (NequIP) and from 198 to 50 (Allegro)
µs/atom/call on 272 atoms (``benchmarks/bench_student.py``).
"""

from __future__ import annotations

import inspect

__all__ = ["COMPILE_RECIPE", "patch_parallel_depth", "main"]

#: Tag of how models are compiled here, part of cached build names: builds made
#: before the backport (or with another recipe) are rebuilt rather than reused.
COMPILE_RECIPE = "pr190928"

_BUGGY_LINE = "num_steps = num_steps * FloorDiv(loop.size, loop.steps)"


def patch_parallel_depth() -> bool:
    """Backport pytorch/pytorch#190928 into the running torch if it needs it.

    Returns True when the installed Inductor has the bug and is now patched
    (in this process only), False when there was nothing to do.
    """
    import sympy
    from torch._inductor.codegen import cpp

    original = cpp.LoopNest.max_parallel_depth
    if getattr(original, "_zifhelpers_backport", False):
        return True
    if _BUGGY_LINE not in inspect.getsource(original):
        return False

    def max_parallel_depth(self):
        depth = original(self)
        if depth.start_depth == 0:
            return depth
        # the original moved the parallelism inwards: redo its test with the
        # outer loops' steps rounded up, as the upstream fix does
        num_steps, outer = sympy.Integer(1), 0
        for loop in self.loops:
            if loop.is_reduction != self.loops[0].is_reduction:
                break
            num_steps = num_steps * cpp.CeilDiv(loop.size, loop.steps)
            outer += 1
        inner = self.loops[outer]
        if isinstance(num_steps, sympy.Integer) and (
                num_steps * 300 < cpp.FloorDiv(inner.size, inner.steps)):
            return depth
        return cpp.ParallelDepth(parallel_depth=outer, start_depth=0)

    max_parallel_depth._zifhelpers_backport = True
    max_parallel_depth.__wrapped__ = original
    cpp.LoopNest.max_parallel_depth = max_parallel_depth
    return True


def main(argv: list[str] | None = None) -> None:
    """``nequip-compile`` (same arguments) with :func:`patch_parallel_depth` applied."""
    from nequip.scripts.compile import main as nequip_compile

    patch_parallel_depth()
    nequip_compile(argv)


if __name__ == "__main__":
    main()
