"""Targets of a trained student: speed, accuracy on held-out liquid/glass, hot stability.

    .venv/bin/python benchmarks/bench_student.py MODEL.nequip.pt2 HELD_OUT.extxyz[.gz]
        [--nvt-ps 10] [--temperature 1500] [--workdir runs/student_nvt]

Prints and writes benchmarks/results/student_<model>.json:
- µs/atom/call (energy, forces, stress; neighbour list included) of the student,
  the published model (converted, zifhelpers.potentials.convert) and the legacy TorchScript
  file, on the 272-atom crystal, each after --warmup untimed calls (default 6, as
  in the paper's Table 1), timed in turn for --rounds rounds (this VM's speed drifts
  by tens of percent within minutes); medians, and speed-ups as the median of the
  ratios within a round;
- energy/force/stress errors of the student against the teacher labels of the
  held-out frames, split by state point;
- an NVT run (Bussi, 0.5 fs) of one cell at --temperature from glass01, with the
  linker-integrity check every 100 steps; a break must last --confirm-fs
  (default 50 fs, re-checked every 2 fs) to stop the run, so that a C–H
  vibration past the bond cutoff is counted as a transient, not a break: whether it finished, the
  transients, and how many linkers are intact at the end. The run goes --confirm-fs past
  --nvt-ps, so that the frame at the target time gets the same confirmation as every
  other (zifhelpers.simulation.md.integrity_at_step). Resumable (MDRun checkpoints in --workdir).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import ase.io
import numpy as np
import torch

from zifhelpers.analysis.linkers import check_integrity
from zifhelpers.data.datasets import read_dataset
from zifhelpers.data.public import load_structure
from zifhelpers.potentials.registry import load_calculator
from zifhelpers.potentials.timing import cpu_description, interleaved_timings, speedup
from zifhelpers.simulation.md import (
    MDGuardError,
    MDRun,
    Schedule,
    integrity_at_step,
    read_trajectory,
)
from zifhelpers.training.scoring import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("held_out")
    parser.add_argument("--nvt-ps", type=float, default=10.0)
    parser.add_argument("--temperature", type=float, default=1500.0)
    parser.add_argument("--workdir", default="runs/student_nvt")
    parser.add_argument("--calls", type=int, default=5, help="timed calls of the student")
    parser.add_argument("--published-calls", type=int, default=3,
                        help="timed calls of each published model (2-3 s each)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="the three models are timed in turn, this many times; speed-ups "
                             "are medians of the ratios within a round")
    parser.add_argument("--warmup", type=int, default=6,
                        help="untimed calls before timing each model (the paper's Table 1: 6); "
                             "benchmarks before 2026-12-03 used 1, which overstates the "
                             "TorchScript file's cost")
    parser.add_argument("--name", default="nequip", help="results file: student_<name>.json")
    parser.add_argument("--confirm-fs", type=float, default=50.0,
                        help="a broken linker must stay broken this long (fs) to stop the NVT run "
                             "(MDRun integrity_confirm_fs); transients are counted")
    args = parser.parse_args()

    student = load_calculator(args.model, device="cpu")
    crystal = load_structure("crystal")
    models = {"student": student, "published (converted)": load_calculator("published"),
              "published (legacy TorchScript)": load_calculator("published-legacy")}
    calls = {name: args.calls if name == "student" else args.published_calls for name in models}
    rounds = interleaved_timings(models, crystal, calls=calls, warmup=args.warmup,
                                 rounds=args.rounds)
    speed = {name: float(np.median(t)) for name, t in rounds.items()}
    ratios = {name: speedup(rounds, name, "student") for name in models if name != "student"}
    for name, t in speed.items():
        print(f"{name:32s} {t:8.0f} µs/atom/call (median of {args.rounds} rounds: "
              f"{', '.join(f'{x:.0f}' for x in rounds[name])})"
              + (f"; {ratios[name]:.0f}x student" if name in ratios else ""))

    frames = read_dataset(args.held_out)
    groups = defaultdict(list)
    for f in frames:
        point = str(f.info.get("state_point", "?"))
        groups["liquid" if point.startswith("liquid") else
               "glass" if "glass" in point else point].append(f)
    errors = {"all": evaluate(student, frames)}
    errors.update({k: evaluate(student, v) for k, v in groups.items()})
    for k, e in errors.items():
        print(f"held-out {k:10s} ({len(frames) if k == 'all' else len(groups[k]):4d} frames): "
              f"{e['energy_mae_meV_atom']:.2f} meV/atom, {e['force_mae_meV_A']:.1f} meV/Å, "
              f"{e['stress_mae_MPa']:.0f} MPa")

    workdir = Path(args.workdir)
    # the confirmation window runs past the target, so the last frame judged is confirmed too
    sched = Schedule(0.5).plateau("nvt", args.temperature, args.nvt_ps + args.confirm_fs / 1000.0)
    target_step = round(args.nvt_ps * 1000.0 / 0.5)
    if (workdir / "run.json").is_file():
        planned = Schedule.from_dict(json.loads((workdir / "run.json").read_text())["schedule"])
        if planned.total_steps != sched.total_steps:
            raise SystemExit(f"{workdir}/run.json plans {planned.total_steps} steps, this "
                             f"benchmark {sched.total_steps} (--nvt-ps {args.nvt_ps} + "
                             f"--confirm-fs {args.confirm_fs}): use another --workdir or remove it")
    status_path = workdir / "status.json"
    status = json.loads(status_path.read_text()) if status_path.is_file() else {}
    if status.get("state") not in ("finished", "stopped"):  # a stopped run is read, not re-run
        try:
            if (workdir / "run.json").is_file():
                MDRun.resume(workdir, calc=student)
            else:
                MDRun(workdir, load_structure("glass01"), sched, calculator=args.model,
                      ensemble="nvt-bussi", frame_every=200, integrity_every=100, seed=5,
                      integrity_confirm_fs=args.confirm_fs, calc=student).run()
        except MDGuardError:
            pass
    status = json.loads(status_path.read_text())
    finished = status["state"] == "finished"
    if finished:  # the frame at the target time, confirmed by the window after it
        end = integrity_at_step(workdir, target_step)
    else:  # the frame that stopped the run (a confirmed break, or a guard)
        report = check_integrity(ase.io.read(workdir / "failed_frame.extxyz")
                                 if status["state"] == "stopped" else read_trajectory(workdir, -1))
        end = {"intact": int(report.n_intact), "broken": int(report.n_broken),
               "broken_one_shot": int(report.n_broken), "healed": False}
    transients_path = workdir / "transients.csv"
    transients = (len(transients_path.read_text().splitlines()) - 1
                  if transients_path.is_file() else 0)
    stability = {"temperature_K": args.temperature, "target_ps": args.nvt_ps,
                 "reached_ps": (args.nvt_ps if finished else status["step"] * 0.5 / 1000.0),
                 "ran_ps": status["step"] * 0.5 / 1000.0,
                 "finished": finished,
                 "stopped_because": status.get("reason", "")[:400],
                 "integrity_confirm_fs": args.confirm_fs,
                 "transient_breaks": transients,
                 "intact_linkers_at_end": end["intact"],
                 "broken_linkers_at_end": end["broken"],
                 "broken_linkers_at_end_one_shot": end["broken_one_shot"],
                 "break_at_end_healed": end["healed"]}
    print("NVT:", stability)
    result = {"model": args.model, "device": f"{cpu_description()}, "
              f"{torch.get_num_threads()} threads", "us_per_atom_call": speed,
              "us_per_atom_call_rounds": rounds,
              "timing": {"warmup_calls": args.warmup, "student_calls": args.calls,
                         "published_calls": args.published_calls, "rounds": args.rounds,
                         "speedups": "median over rounds of the ratio within a round"},
              "speedup_vs_published_converted": ratios["published (converted)"],
              "speedup_vs_published_legacy": ratios["published (legacy TorchScript)"],
              "held_out_errors": errors, "held_out_file": args.held_out,
              "nvt_stability": stability}
    out = Path(__file__).parent / "results" / f"student_{args.name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("written", out)


if __name__ == "__main__":
    main()
