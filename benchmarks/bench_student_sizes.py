"""What a wider or deeper student would cost: compiled inference and training, per architecture.

    .venv/bin/python benchmarks/bench_student_sizes.py [--variants l1f16 l1f32 ...]
        [--warmup 6] [--rounds 3] [--calls 5] [--workdir runs/student_sizes]

The 50x target of issue 4 leaves a student (published TorchScript file / 50) µs
per atom per call; this measures, before spending hours training one, what each
architecture costs. For every variant (``l<l_max>f<features>[L<layers>][r<r_max>]``,
defaults 3 layers and r_max 5 Å, no parity, radial MLP 2 x 32), a model is
trained for one and for three epochs on the shipped *ab initio* structures
(the weights do not matter for speed) and compiled with AOT Inductor the way
students are deployed on a CPU (fused tensor products,
``compile_model(..., fused_tensor_product=True)``). Training cost per frame =
(wall time of 3 epochs - wall time of 1 epoch) / (2 x frames), so start-up is
left out.

Then every compiled variant and the published TorchScript file are timed on
the 272-atom crystal (energy, forces, stress; neighbour list included) with the
protocol of ``bench_student.py``: ``--warmup`` untimed calls each (6, as in the
paper's Table 1), then ``--rounds`` rounds in which each model is timed in turn
(this VM's speed drifts by tens of percent within minutes); a speed-up is the
median over rounds of the ratio within a round. Prints a table and writes
benchmarks/results/architectures_cpu.json. Each variant takes 2-4 minutes on 2
cores to train and compile; the timing about 1 minute per round.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from zifhelpers.data.datasets import read_dataset
from zifhelpers.data.public import load_structure
from zifhelpers.potentials.compile import compile_model
from zifhelpers.potentials.registry import load_calculator
from zifhelpers.potentials.timing import interleaved_timings, speedup
from zifhelpers.training.run import train
from zifhelpers.training.spec import TrainingSpec

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
    parser.add_argument("--workdir", default="runs/student_sizes")
    parser.add_argument("--calls", type=int, default=5, help="timed calls of each variant")
    parser.add_argument("--published-calls", type=int, default=3,
                        help="timed calls of the published TorchScript file (2-3 s each)")
    parser.add_argument("--warmup", type=int, default=6, help="untimed calls of each model")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of timing in turns")
    args = parser.parse_args()
    for option in ("calls", "published_calls", "rounds"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be >= 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    archs = {name: parse_variant(name) for name in args.variants}  # bad names fail first

    crystal = load_structure("crystal")
    n_frames = len(read_dataset(FRAMES))
    rows, models = {}, {}
    for name in tqdm(args.variants, desc="architectures"):
        arch = archs[name]
        walls = {}
        for epochs in (1, 3):
            work = Path(args.workdir) / f"{name}_e{epochs}"
            shutil.rmtree(work, ignore_errors=True)
            spec = TrainingSpec(str(FRAMES), str(FRAMES), radial_mlp_width=32, batch_size=1,
                                max_epochs=epochs, seed=1, **arch)
            start = time.perf_counter()
            best = train(spec, work)
            walls[epochs] = time.perf_counter() - start
        models[name] = compile_model(best, Path(args.workdir) / f"{name}.fused.nequip.pt2",
                                     fused_tensor_product=True)
        rows[name] = {**arch, "train_s_per_frame": (walls[3] - walls[1]) / (2 * n_frames)}
        tqdm.write(f"{name:10s} training {rows[name]['train_s_per_frame']:.2f} s/frame "
                   "(forward+backward, with validation)")

    legacy = "published (legacy TorchScript)"
    calcs = {legacy: load_calculator("published-legacy")}
    calcs |= {name: load_calculator(str(path), device="cpu") for name, path in models.items()}
    calls = {name: args.published_calls if name == legacy else args.calls for name in calcs}
    rounds = interleaved_timings(calcs, crystal, calls=calls, warmup=args.warmup,
                                 rounds=args.rounds)
    legacy_us = float(np.median(rounds[legacy]))
    print(f"{legacy:32s} {legacy_us:8.0f} µs/atom/call (rounds: "
          f"{', '.join(f'{x:.0f}' for x in rounds[legacy])}); 50x budget {legacy_us / 50:.0f}")
    for name, row in rows.items():
        x = speedup(rounds, legacy, name)
        row |= {"us_per_atom_call": float(np.median(rounds[name])),
                "us_per_atom_call_rounds": rounds[name], "speedup_vs_published_legacy": x,
                "within_50x_budget": x >= 50.0}
        print(f"{name:32s} {row['us_per_atom_call']:8.0f} µs/atom/call (rounds: "
              f"{', '.join(f'{t:.0f}' for t in rounds[name])}) {x:6.1f}x TorchScript")
    result = {"device": f"{cpu_description()}, {torch.get_num_threads()} threads",
              "legacy_torchscript_us_per_atom_call": legacy_us,
              "legacy_torchscript_us_per_atom_call_rounds": rounds[legacy],
              "budget_us_per_atom_call_for_50x": legacy_us / 50.0,
              "timing": {"warmup_calls": args.warmup, "variant_calls": args.calls,
                         "published_calls": args.published_calls, "rounds": args.rounds,
                         "compiled": "AOT Inductor, fused tensor products",
                         "speedups": "median over rounds of the ratio within a round"},
              "variants": rows}
    out = Path(__file__).parent / "results" / "architectures_cpu.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("written", out)


if __name__ == "__main__":
    main()
