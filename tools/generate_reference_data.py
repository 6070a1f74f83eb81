"""Make the shipped reference data set by active learning (zifhelpers.active).

    .venv/bin/python tools/generate_reference_data.py [--rounds 3] [--workdir runs/active_learning]

Students (small NequIP, nequip 0.19) sample the paper's state points (crystal at
300 K; liquids at 1500 and 1750 K at 1.00, 0.95, 0.90, 0.85 of the crystal
volume); the published model (converted, zifhelpers.convert) labels the most
uncertain frames. Resumable: re-run the same command after an interruption.
Writes data/reference/active_learning.extxyz.gz and
data/reference/active_learning_summary.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from zifhelpers import active
from zifhelpers.calculators import load_calculator
from zifhelpers.data import load_structure
from zifhelpers.dataset import read_dataset, write_dataset
from zifhelpers.training import TrainingSpec

ROOT = Path(__file__).resolve().parents[1]
LABELLER = "published NequIP (Castel 2024), converted to nequip 0.19"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", default=str(ROOT / "runs" / "active_learning"))
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--hold-ps", type=float, default=0.5)
    parser.add_argument("--frames-per-point", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    ref = ROOT / "data" / "reference"
    initial = read_dataset(ref / "static_structures.extxyz.gz") + read_dataset(
        ref / "teacher_md_glass01_1500K.extxyz.gz")
    points = active.state_points()
    starts = {"crystal_300K": load_structure("crystal")}
    for i, point in enumerate(points[1:], start=1):
        starts[point.name] = load_structure(f"glass{i:02d}")
    student = TrainingSpec("unused", "unused", l_max=1, r_max=5.0, num_layers=3,
                           num_features=16, radial_mlp_width=32, max_epochs=args.epochs,
                           batch_size=2, accelerator="cpu")
    settings = active.SamplingSettings(heat_ps=0.25, deform_ps=0.25, hold_ps=args.hold_ps,
                                       timestep_fs=0.5, frame_every=10, integrity_every=50)
    loop = active.ActiveLearning(
        args.workdir, initial, student, load_calculator("published"), LABELLER,
        starts=starts, points=points, settings=settings, committee_size=2,
        frames_per_point=args.frames_per_point, seed=args.seed)
    start = time.time()
    summaries = loop.run(args.rounds)
    frames = []
    for k in range(len(summaries)):
        path = loop.round_dir(k) / "labels.extxyz"
        if path.is_file():
            frames += read_dataset(path)
    write_dataset(frames, ref / "active_learning.extxyz.gz")
    (ref / "active_learning_summary.json").write_text(json.dumps(
        {"labeller": LABELLER, "rounds": summaries, "wall_s": time.time() - start,
         "machine": "2-core CPU, torch 2.13 (no GPU)"}, indent=2) + "\n")
    print(f"{len(frames)} labelled frames -> {ref / 'active_learning.extxyz.gz'}")


if __name__ == "__main__":
    main()
