"""MD throughput on a CPU: simulated picoseconds per wall-clock hour.

    python benchmarks/bench_md_throughput.py [--steps 20] [--rounds 3] [--threads 2]
        [--sizes 1 2] [--temperatures 300 1500] [--models nequip-w32m published]

For the 272-atom crystal cell (--sizes 1) and its 2x2x2 supercell (2 176 atoms, --sizes 2), at
each temperature (Maxwell-Boltzmann velocities, Nose-Hoover chain NVT as in the campaign), times
--steps MD steps of each configuration after 3 untimed ones:
- each model in --models with real masses at 0.5 fs (the paper's setting), and
- each model with hydrogens at 4 amu and 2 fs (the campaign's; validated by
  benchmarks/validate_timestep.py).
The configurations are timed in turns, --rounds times (this VM's speed drifts by tens of
percent within minutes); medians are reported, and each speed-up is the median of the
ratios within a round. Prints a table and writes benchmarks/results/md_throughput_cpu.json
with the CPU model and its SIMD sets (compiled models run about 2x slower with AVX2 alone
than with AVX-512).
The MD loop is ASE's integrator calling the model; benchmarks/bench_md_step_profile.py shows
that in the campaign's MDRun the model's call is 96-98 % of a step.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from ase import units
from ase.md.nose_hoover_chain import NoseHooverChainNVT
from ase.md.velocitydistribution import Stationary, thermalize_momenta

from zifhelpers.compendium.results import environment_info
from zifhelpers.data.public import load_structure
from zifhelpers.potentials.registry import load_calculator
from zifhelpers.potentials.timing import cpu_description

SETTINGS = {"0.5 fs, real H": (0.5, None), "2 fs, H 4 amu": (2.0, 4.0)}


def _dynamics(atoms, calc, temperature_K: float, timestep_fs: float, hydrogen_mass: float | None,
              seed: int = 0):
    atoms = atoms.copy()
    if hydrogen_mass is not None:
        masses = atoms.get_masses()
        masses[atoms.numbers == 1] = hydrogen_mass
        atoms.set_masses(masses)
    thermalize_momenta(atoms, temperature_K=temperature_K, rng=np.random.default_rng(seed))
    Stationary(atoms)
    atoms.calc = calc
    return NoseHooverChainNVT(atoms, timestep_fs * units.fs, temperature_K=temperature_K,
                              tdamp=100 * units.fs)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--temperatures", type=float, nargs="+", default=[300.0, 1500.0])
    parser.add_argument("--models", nargs="+", default=["nequip-w32m", "published"])
    parser.add_argument("--output", default="benchmarks/results/md_throughput_cpu.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    calcs = {m: load_calculator(m, device="cpu") for m in args.models}
    crystal = load_structure("crystal")
    rows = []
    for size in args.sizes:
        atoms = crystal.repeat(size)
        for temperature in args.temperatures:
            configs = {(m, s): _dynamics(atoms, calcs[m], temperature, *SETTINGS[s])
                       for m in args.models for s in SETTINGS}
            for dyn in configs.values():
                dyn.run(3)  # untimed: warm-up, first neighbour lists
            times: dict = {key: [] for key in configs}
            for _ in range(args.rounds):
                for key, dyn in configs.items():
                    start = time.perf_counter()
                    dyn.run(args.steps)
                    times[key].append((time.perf_counter() - start) / args.steps)
            for (model, setting), per_step in times.items():
                step_fs = SETTINGS[setting][0]
                base = times[(model, "0.5 fs, real H")]
                rows.append({
                    "n_atoms": len(atoms), "temperature_K": temperature, "model": model,
                    "setting": setting, "s_per_step": float(np.median(per_step)),
                    "ps_per_hour": float(np.median([3.6 * step_fs / t for t in per_step])),
                    "speedup_vs_0.5fs_real": float(np.median(
                        [(step_fs / t) / (0.5 / b) for t, b in zip(per_step, base, strict=True)])),
                })
                print(f"{len(atoms):5d} atoms {temperature:6.0f} K  {model:12s} {setting:14s} "
                      f"{rows[-1]['s_per_step'] * 1000:9.1f} ms/step  {rows[-1]['ps_per_hour']:8.1f} ps/h  "
                      f"x{rows[-1]['speedup_vs_0.5fs_real']:.2f}", flush=True)
    record = {"cpu": cpu_description(), "threads": args.threads, "steps": args.steps,
              "rounds": args.rounds, "environment": environment_info(), "rows": rows}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    return record


if __name__ == "__main__":
    main()
