"""Validate the campaign's sampling (H at 4 amu, 2 fs) against real masses at 0.5 fs.

    python benchmarks/validate_timestep.py --system crystal_300K [--production-ps 10]
        [--potential nequip-w32m] [--workdir results/cpu/md/timestep]
        [--output results/cpu/results/timestep_validation.json]

For one system (crystal_300K, glass01_300K, liquid_1500K: glass01 heated to 1500 K),
runs NVT with both settings of zifhelpers.simulation.timestep.SETTINGS from the same
structure (Nose-Hoover chain, 100 fs; equilibration, then production with a frame every
50 fs), and NVE from Maxwell-Boltzmann velocities for the energy drift. Prints the
comparison (each observable's difference in units of its block-averaged error;
distribution overlaps against the runs' own half-to-half noise) and merges it into the
output JSON under the system's name, with the CPU it ran on. Every run is checkpointed
in --workdir: the same command resumes a killed run and reads finished ones back.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from zifhelpers.compendium.results import environment_info
from zifhelpers.data.public import load_structure
from zifhelpers.potentials.registry import load_calculator
from zifhelpers.potentials.timing import cpu_description
from zifhelpers.simulation import timestep
from zifhelpers.simulation.validation import production_frames

SYSTEMS = {"crystal_300K": ("crystal", 300.0), "glass01_300K": ("glass01", 300.0),
           "liquid_1500K": ("glass01", 1500.0)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=sorted(SYSTEMS), required=True)
    parser.add_argument("--potential", default="nequip-w32m")
    parser.add_argument("--equilibrate-ps", type=float, default=2.0)
    parser.add_argument("--production-ps", type=float, default=10.0)
    parser.add_argument("--nve-ps", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default="results/cpu/md/timestep")
    parser.add_argument("--output", default="results/cpu/results/timestep_validation.json")
    args = parser.parse_args(argv)
    structure, temperature = SYSTEMS[args.system]
    atoms = load_structure(structure)
    calc = load_calculator(args.potential)
    work = Path(args.workdir) / args.potential / args.system
    folders = timestep.sampling_runs(atoms, work / "nvt", args.potential, temperature,
                                     args.equilibrate_ps, args.production_ps, frame_every_fs=50.0,
                                     seed=args.seed, integrity_every_fs=100.0, calc=calc)
    observables = {label: timestep.run_observables(production_frames(f)) for label, f in folders.items()}
    baseline = next(iter(timestep.SETTINGS))
    table = timestep.compare_samplings(observables, baseline)
    print(table.round(4).to_string())
    drift = timestep.nve_drift(atoms, work / "nve", args.potential, temperature, args.nve_ps,
                               seed=args.seed, calc=calc)
    for label, d in drift.items():
        print(f"NVE {label}: drift {d['drift_meV_atom_ps']:+.4f} meV/atom/ps, "
              f"fluctuation {d['fluctuation_meV_atom']:.4f} meV/atom")
    out_path = Path(args.output)
    record = json.loads(out_path.read_text()) if out_path.is_file() else {}
    record.update({"method": __doc__.split("\n\n")[1].replace("\n", " "),
                   "settings": timestep.SETTINGS, "cpu": cpu_description(), "machine": platform.node(),
                   "environment": environment_info()})
    record.setdefault("systems", {})[args.system] = {
        "structure": structure, "temperature_K": temperature, "potential": args.potential,
        "equilibrate_ps": args.equilibrate_ps, "production_ps": args.production_ps, "seed": args.seed,
        "comparison": table.to_dict("records"), "nve": drift,
        "observables": {label: {k: v for k, v in obs.items() if isinstance(v, (dict, int))}
                        for label, obs in observables.items()},
        "all_within_error": bool(table[table.kind == "configurational"].within_error.all())}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(record, indent=1, default=float) + "\n")
    return record


if __name__ == "__main__":
    main()
