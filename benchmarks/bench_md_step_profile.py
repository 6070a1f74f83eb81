"""Where an MD step of the campaign goes: model, neighbour list, integrator, I/O, guards.

    python benchmarks/bench_md_step_profile.py [--steps 300] [--sizes 1 2] [--threads 2]
        [--model nequip-w32m] [--output benchmarks/results/md_step_profile_cpu.json]

Runs the campaign's own MD loop (:class:`zifhelpers.simulation.md.MDRun`, Nose-Hoover chain NVT
at 300 K, hydrogens of 4 amu, 2 fs, a frame and thermo line every 50 steps, a checkpoint every
500, the linker-integrity check every 250 steps with its 50 fs confirmation window, as the cpu
profile's melt-quench) on the 272-atom crystal (--sizes 1) and its 2x2x2 supercell (2 176 atoms,
--sizes 2), and times each part of the step with wall-clock counters around it:

- ``model``: the compiled model's call (energy, forces, stress);
- ``neighbour list``: nequip's neighbour-list transform of the input;
- ``other input``: the rest of the Atoms -> tensors conversion (type mapping, copies);
- ``guards``: the per-step NaN and temperature checks and, on recorded steps, the minimum-distance
  check (without the linker check);
- ``linker integrity``: :func:`zifhelpers.analysis.linkers.check_integrity` on the checked steps;
- ``frames and thermo``: writing the extended-XYZ frame and the thermo line;
- ``checkpoints``: the resumable state;
- ``integrator and loop``: everything else (ASE's Nose-Hoover chain step, the Python loop).

After 20 untimed steps, --steps are timed (the default 300 include one linker check). Prints a table and writes the JSON with the CPU model
and its SIMD sets, the thread count and the load average at the start (a busy machine slows every
part alike, so the shares hold, the milliseconds do not).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

from zifhelpers.compendium.results import environment_info
from zifhelpers.data.public import load_structure
from zifhelpers.potentials.registry import load_calculator
from zifhelpers.potentials.timing import cpu_description
from zifhelpers.simulation.md import MDRun, Schedule

MD = {"ensemble": "nvt-nhc", "frame_every": 50, "checkpoint_every": 500, "integrity_every": 250,
      "integrity_confirm_fs": 50.0, "hydrogen_mass_amu": 4.0}
TIMESTEP_FS = 2.0
PARTS = ["model", "neighbour list", "other input", "guards", "linker integrity",
         "frames and thermo", "checkpoints", "integrator and loop"]


def _timed(func, totals: dict, key: str):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start
    return wrapper


def profile_steps(atoms, calc, steps: int, workdir: Path, warmup: int = 20) -> dict[str, float]:
    """Seconds per MD step spent in each of :data:`PARTS` (and ``total``) for ``atoms``.

    ``calc`` is a nequip ASE calculator (``atoms_to_data``, ``call_model`` and
    ``transforms``, the neighbour-list transform among them).
    """
    totals: dict[str, float] = defaultdict(float)
    schedule = Schedule(TIMESTEP_FS).plateau("run", 300.0, (warmup + steps) * TIMESTEP_FS / 1000.0)
    run = MDRun(workdir, atoms, schedule, calculator="student", calc=calc, seed=0, **MD)
    calc.call_model = _timed(calc.call_model, totals, "model")
    calc.atoms_to_data = _timed(calc.atoms_to_data, totals, "input")
    calc.transforms = [_timed(t, totals, "neighbour list" if "Neighbor" in type(t).__name__
                              else "other transforms") for t in calc.transforms]
    run._guard = _timed(run._guard, totals, "guards")
    run._integrity_problem = _timed(run._integrity_problem, totals, "linker integrity")
    run._record = _timed(run._record, totals, "frames and thermo")
    run._save_checkpoint = _timed(run._save_checkpoint, totals, "checkpoints")
    run.run(progress=False, max_steps=warmup)
    totals.clear()
    start = time.perf_counter()
    run.run(progress=False, max_steps=steps)
    wall = time.perf_counter() - start
    per = {
        "model": totals["model"],
        "neighbour list": totals["neighbour list"],
        "other input": totals["input"] - totals["neighbour list"],
        "guards": totals["guards"] - totals["linker integrity"],
        "linker integrity": totals["linker integrity"],
        "frames and thermo": totals["frames and thermo"],
        "checkpoints": totals["checkpoints"],
    }
    per["integrator and loop"] = wall - sum(per.values())
    per["total"] = wall
    return {k: v / steps for k, v in per.items()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default="nequip-w32m")
    parser.add_argument("--output", default="benchmarks/results/md_step_profile_cpu.json")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    crystal = load_structure("crystal")
    rows = []
    for size in args.sizes:
        atoms = crystal.repeat(size)
        calc = load_calculator(args.model, device="cpu")  # fresh: profile_steps wraps its methods
        steps = args.steps
        with tempfile.TemporaryDirectory() as tmp:
            per = profile_steps(atoms, calc, steps, Path(tmp) / "run")
        total = per["total"]
        print(f"\n{len(atoms)} atoms, {args.model}, {steps} steps: {total * 1000:.1f} ms/step, "
              f"{3.6 * TIMESTEP_FS / total:.1f} ps/h")
        for part in PARTS:
            print(f"  {part:22s} {per[part] * 1000:9.2f} ms  {100 * per[part] / total:5.1f} %")
        rows.append({"n_atoms": len(atoms), "model": args.model, "steps": steps,
                     "s_per_step": per, "share": {p: per[p] / total for p in PARTS}})
    record = {"cpu": cpu_description(), "threads": args.threads, "load_average_1min": load,
              "md": {**MD, "timestep_fs": TIMESTEP_FS, "temperature_K": 300.0},
              "environment": environment_info(), "rows": rows}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    return record


if __name__ == "__main__":
    main()
