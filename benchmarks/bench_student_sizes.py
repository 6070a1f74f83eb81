"""What a wider or deeper student would cost: compiled inference and training, per architecture.

    .venv/bin/python benchmarks/bench_student_sizes.py [--variants l1f16 l1f32 ...]
        [--legacy-us 16883] [--workdir runs/student_sizes]

The 50x target of issue 4 leaves a student (published TorchScript file / 50) µs
per atom per call; this measures, before spending hours training one, what each
architecture costs. For every variant (``l<l_max>f<features>[L<layers>][r<r_max>]``,
defaults 3 layers and r_max 5 Å, no parity, radial MLP 2 x 32), a model is
trained for one and for three epochs on the shipped *ab initio* structures
(the weights do not matter for speed), compiled with AOT Inductor, and timed on
the 272-atom crystal (energy, forces, stress; neighbour list included). Training
cost per frame = (wall time of 3 epochs - wall time of 1 epoch) / (2 x frames),
so start-up is left out. Prints a table and writes
benchmarks/results/architectures_cpu.json. Each variant takes 2-4 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from pathlib import Path

import torch
from tqdm import tqdm

from zifhelpers.calculators import load_calculator, time_per_atom_call
from zifhelpers.data import load_structure
from zifhelpers.dataset import read_dataset
from zifhelpers.training import TrainingSpec, compile_model, train

ROOT = Path(__file__).resolve().parents[1]
FRAMES = ROOT / "data" / "reference" / "static_structures.extxyz.gz"


def parse_variant(name: str) -> dict:
    """``"l1f32L4r6"`` -> ``{"l_max": 1, "num_features": 32, "num_layers": 4, "r_max": 6.0}``."""
    m = re.fullmatch(r"l(\d)f(\d+)(?:L(\d+))?(?:r(\d+(?:\.\d+)?))?", name)
    if m is None:
        raise ValueError(f"variant {name!r}: expected l<l_max>f<features>[L<layers>][r<r_max>], "
                         "e.g. l1f16 or l2f16L4r6")
    return {"l_max": int(m[1]), "num_features": int(m[2]),
            "num_layers": int(m[3] or 3), "r_max": float(m[4] or 5.0)}


def main() -> None:
    from bench_student import cpu_description

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variants", nargs="+",
                        default=["l1f16", "l1f32", "l2f16", "l1f32L4"])
    parser.add_argument("--legacy-us", type=float, default=16883.0,
                        help="µs/atom/call of the published TorchScript file on this machine "
                             "(benchmarks/results/student_nequip_zbl2.json)")
    parser.add_argument("--workdir", default="runs/student_sizes")
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()

    crystal = load_structure("crystal")
    n_frames = len(read_dataset(FRAMES))
    budget = args.legacy_us / 50.0
    rows = {}
    for name in tqdm(args.variants, desc="architectures"):
        arch = parse_variant(name)
        walls = {}
        for epochs in (1, 3):
            work = Path(args.workdir) / f"{name}_e{epochs}"
            shutil.rmtree(work, ignore_errors=True)
            spec = TrainingSpec(str(FRAMES), str(FRAMES), radial_mlp_width=32, batch_size=1,
                                max_epochs=epochs, seed=1, **arch)
            start = time.perf_counter()
            best = train(spec, work)
            walls[epochs] = time.perf_counter() - start
        model = compile_model(best, Path(args.workdir) / f"{name}.nequip.pt2")
        us = time_per_atom_call(load_calculator(str(model), device="cpu"), crystal,
                                calls=args.calls)
        rows[name] = {**arch, "us_per_atom_call": us, "within_50x_budget": us <= budget,
                      "train_s_per_frame": (walls[3] - walls[1]) / (2 * n_frames)}
        tqdm.write(f"{name:10s} {us:7.0f} µs/atom/call ({args.legacy_us / us:5.0f}x TorchScript)  "
                   f"training {rows[name]['train_s_per_frame']:.2f} s/frame (forward+backward, "
                   "with validation)")
    result = {"device": f"{cpu_description()}, {torch.get_num_threads()} threads",
              "legacy_torchscript_us_per_atom_call": args.legacy_us,
              "budget_us_per_atom_call_for_50x": budget, "variants": rows}
    out = Path(__file__).parent / "results" / "architectures_cpu.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("written", out)


if __name__ == "__main__":
    main()
