"""Time calculators fairly: per atom and call, interleaved, speed-up as a ratio.

Every speed figure of the compendium names the CPU it was measured on
(:func:`zifhelpers.compendium.results.environment_info`).
"""

from __future__ import annotations

import time

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

__all__ = ["time_per_atom_call", "interleaved_timings", "speedup", "cpu_description"]


def time_per_atom_call(calc: Calculator, atoms: Atoms, calls: int = 3, warmup: int = 1) -> float:
    """Wall time of energy + forces + stress, in µs per atom per call.

    ``warmup`` untimed calls first (the paper's Table 1 used 6 before its 300
    timed calls): a TorchScript model is profiled and re-optimised during its
    first calls, so timing it after a single warm-up call overstates its cost
    and any speed-up measured against it. Each call sees slightly rattled
    positions (1e-4 Å), so no cached result is reused.
    """

    if calls < 1 or warmup < 0:
        raise ValueError(f"time_per_atom_call: calls must be >= 1 and warmup >= 0, "
                         f"got calls={calls}, warmup={warmup}")
    if len(atoms) == 0:
        raise ValueError("time_per_atom_call: the structure has no atoms (a time per atom needs some)")
    atoms = atoms.copy()
    atoms.calc = calc
    rng = np.random.default_rng(0)
    with_stress = "stress" in calc.implemented_properties and atoms.pbc.all()

    def call() -> None:
        atoms.positions += rng.normal(scale=1e-4, size=atoms.positions.shape)
        atoms.get_forces()
        if with_stress:
            atoms.get_stress()

    for _ in range(warmup):
        call()
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return 1e6 * (time.perf_counter() - start) / calls / len(atoms)


def interleaved_timings(
    calcs: dict[str, Calculator], atoms: Atoms, calls: dict[str, int] | int = 3,
    warmup: int = 6, rounds: int = 3,
) -> dict[str, list[float]]:
    """µs per atom per call of several calculators, timed in turns.

    On a shared or throttled machine the speed of the CPU drifts by tens of
    percent within minutes, so two models timed one after the other can
    differ by that much for no reason of their own. Here each calculator gets
    ``warmup`` untimed calls once, then every round times each of them in
    turn (``calls[name]`` calls, see :func:`time_per_atom_call`). A speed-up
    is then best read as the median over rounds of the ratio within a round
    (:func:`speedup`).

    Returns
    -------
    dict
        ``{name: [µs/atom/call in round 1, round 2, ...]}``.
    """
    if rounds < 1:
        raise ValueError(f"interleaved_timings: rounds must be >= 1, got {rounds}")
    per_call = calls if isinstance(calls, dict) else {name: int(calls) for name in calcs}
    missing = [name for name in calcs if name not in per_call]
    if missing:
        raise ValueError(f"interleaved_timings: no number of calls for {', '.join(missing)}")
    times: dict[str, list[float]] = {name: [] for name in calcs}
    for i in range(rounds):
        for name, calc in calcs.items():
            times[name].append(time_per_atom_call(calc, atoms, calls=per_call[name],
                                                  warmup=warmup if i == 0 else 0))
    return times


def speedup(times: dict[str, list[float]], slow: str, fast: str) -> float:
    """Median over rounds of ``times[slow][i] / times[fast][i]`` (see :func:`interleaved_timings`)."""
    for name in (slow, fast):
        if name not in times:
            raise KeyError(f"speedup: no timings of {name!r}; have {sorted(times)}")
    slow_t, fast_t = np.asarray(times[slow], dtype=float), np.asarray(times[fast], dtype=float)
    if slow_t.shape != fast_t.shape or slow_t.size == 0:
        raise ValueError(f"speedup: {slow!r} and {fast!r} need the same number (>= 1) of rounds, "
                         f"got {slow_t.size} and {fast_t.size}")
    if not (np.isfinite(slow_t).all() and np.isfinite(fast_t).all() and (slow_t > 0).all()
            and (fast_t > 0).all()):
        raise ValueError(f"speedup: timings must be finite and > 0; {slow!r}: {slow_t.tolist()}, "
                         f"{fast!r}: {fast_t.tolist()}")
    return float(np.median(slow_t / fast_t))


def cpu_description() -> str:
    """CPU model and its SIMD sets, e.g. "AMD EPYC 9B14 (avx2 avx512f avx512bw …) CPU".

    Compiled models run about 2× slower with AVX2 alone than with AVX-512, so
    every speed figure names this.
    """
    import platform
    from pathlib import Path

    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    wanted = ("avx2", "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx512_vnni",
              "avx512_bf16", "amx_tile")
    simd = [f for f in wanted if f in flags] or ["no AVX2"]
    return f"{model} ({' '.join(simd)}) CPU"

