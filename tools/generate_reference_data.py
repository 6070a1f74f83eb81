"""Make the shipped reference data set by active learning (zifhelpers.training.active).

    .venv/bin/python tools/generate_reference_data.py [--profile quick] [--rounds N]

Students (small NequIP, nequip 0.19) sample the paper's state points (crystal at
300 K; liquids at 1500 and 1750 K at 1.00, 0.95, 0.90, 0.85 of the crystal
volume); the published model (converted, zifhelpers.potentials.convert) labels the most
uncertain frames. Resumable: re-run the same command after an interruption.
Writes data/reference/active_learning.extxyz.gz and its _summary.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zifhelpers.data.datasets import read_dataset
from zifhelpers.potentials.registry import load_calculator
from zifhelpers.training import active

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="quick", choices=sorted(active.PROTOCOLS))
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--workdir", default=str(ROOT / "runs" / "active_learning"))
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    ref = ROOT / "data" / "reference"
    initial = read_dataset(ref / "static_structures.extxyz.gz") + read_dataset(
        ref / "teacher_md_glass01_1500K.extxyz.gz")
    overrides = {} if args.rounds is None else {"rounds": args.rounds}
    summary = active.generate_reference_set(
        args.workdir, ref / "active_learning.extxyz.gz", initial, load_calculator("published"),
        profile=args.profile, seed=args.seed, **overrides)
    print(f"{summary['n_frames']} labelled frames -> {ref / 'active_learning.extxyz.gz'}")


if __name__ == "__main__":
    main()
