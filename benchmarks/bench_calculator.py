"""Cost of the published model per atom and per call, neighbour list apart.

    .venv/bin/python benchmarks/bench_calculator.py [--repeats 3] [--sizes 1 2]

Prints µs/atom/call for the 272-atom crystal and its 2x2x2 supercell (2176
atoms), split into the vesin neighbour list and the model call, and writes the
figures to benchmarks/results/calculator_<device>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from zifhelpers.data.public import load_structure
from zifhelpers.potentials.calculators import neighbor_list
from zifhelpers.potentials.registry import load_calculator


def _time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times), sum(times) / len(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--spec", default="published-legacy")
    args = parser.parse_args()

    calc = load_calculator(args.spec)
    device = str(calc.device) if hasattr(calc, "device") else "cpu"
    rows = []
    for n in args.sizes:
        atoms = load_structure("crystal").repeat((n, n, n))
        natoms = len(atoms)
        nl_best, _ = _time(lambda a=atoms: neighbor_list(a, 6.0), args.repeats + 2)
        data = calc.build_input(atoms)
        calc.model(data)  # warm-up (TorchScript profiling runs)
        model_best, model_mean = _time(lambda d=data: calc.model(d), args.repeats)

        def full(a=atoms):
            a.calc = calc
            calc.results = {}
            calc.calculate(a, ["energy", "forces", "stress"])

        full_best, _ = _time(full, args.repeats)
        rows.append(
            {
                "n_atoms": natoms,
                "neighbor_list_us_per_atom": 1e6 * nl_best / natoms,
                "model_us_per_atom_per_call": 1e6 * model_best / natoms,
                "model_us_per_atom_per_call_mean": 1e6 * model_mean / natoms,
                "calculator_us_per_atom_per_call": 1e6 * full_best / natoms,
                "edges": int(data["edge_index"].shape[1]),
            }
        )
        r = rows[-1]
        print(
            f"{natoms:6d} atoms  {r['edges']:8d} edges  neighbour list "
            f"{r['neighbor_list_us_per_atom']:8.2f} us/atom  model "
            f"{r['model_us_per_atom_per_call']:9.1f} us/atom/call  full calculator "
            f"{r['calculator_us_per_atom_per_call']:9.1f} us/atom/call",
            flush=True,
        )
    record = {
        "benchmark": "published model (legacy TorchScript) per call",
        "device": device if device != "cpu" else f"cpu ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "rows": rows,
    }
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    path = out / f"calculator_{'cuda' if 'cuda' in device else 'cpu'}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written {path}")


if __name__ == "__main__":
    main()
