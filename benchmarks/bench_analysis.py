"""Speed of the trajectory analysis against the targets of the analysis issue.

    .venv/bin/python benchmarks/bench_analysis.py [--frames 1000]

Targets (2 cores): RDF + N–Zn–N angles + Zn–N coordination on 1000 frames of
2176 atoms in <= 30 s; ring statistics <= 2 s per 272-atom frame. Frames are
the 2x2x2 crystal rattled by 0.1 Å (seeded). Writes
benchmarks/results/analysis_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from zifhelpers import analysis
from zifhelpers.analysis import rings
from zifhelpers.data.public import load_structure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--ring-frames", type=int, default=10)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    base = load_structure("crystal").repeat((2, 2, 2))
    frames = []
    for _ in range(args.frames):
        frame = base.copy()
        frame.positions += rng.normal(scale=0.1, size=frame.positions.shape)
        frames.append(frame)

    start = time.perf_counter()
    analysis.rdf(frames, "Zn", "N", r_max=6.0, n_bins=240)
    t_rdf = time.perf_counter() - start
    start = time.perf_counter()
    analysis.angle_distribution(frames)
    t_angles = time.perf_counter() - start
    start = time.perf_counter()
    cn = np.mean([analysis.coordination(f).mean() for f in frames])
    t_cn = time.perf_counter() - start
    total = t_rdf + t_angles + t_cn

    single = load_structure("glass06")
    rings.ring_statistics(single)  # warm-up (imports)
    ring_times = []
    for _ in range(args.ring_frames):
        frame = single.copy()
        frame.positions += rng.normal(scale=0.05, size=frame.positions.shape)
        start = time.perf_counter()
        rings.ring_statistics(frame)
        ring_times.append(time.perf_counter() - start)

    record = {
        "device": f"cpu ({os.cpu_count()} cores)",
        "frames": args.frames,
        "atoms_per_frame": len(base),
        "rdf_s": t_rdf,
        "angles_s": t_angles,
        "coordination_s": t_cn,
        "rdf_angles_cn_total_s": total,
        "target_total_s": 30.0 * args.frames / 1000,
        "mean_cn": float(cn),
        "rings_s_per_272_atom_frame": float(np.median(ring_times)),
        "target_rings_s": 2.0,
    }
    print(f"{args.frames} frames x {len(base)} atoms: RDF {t_rdf:.1f} s, angles {t_angles:.1f} s, "
          f"coordination {t_cn:.1f} s, total {total:.1f} s (target {record['target_total_s']:.0f} s)")
    print(f"ring statistics: {record['rings_s_per_272_atom_frame']:.3f} s per 272-atom frame "
          "(target 2 s)")
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "analysis_cpu.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
