"""Read CP2K ab initio MD output into labelled ASE frames.

The paper's training data (Zenodo, doi:10.5281/zenodo.10015593) are CP2K NVT
trajectories: ``*-pos-1.xyz`` (positions in Å, potential energy in Hartree in
each comment line), ``*-frc-1.xyz`` (forces in Hartree/bohr), ``*-1.ener``
(step, time/fs, kinetic/Ha, T/K, potential/Ha, conserved/Ha, time/s), the cell
in ``*-1.cell`` (step, time, Ax..Cz in Å, volume) or the input's ``&CELL``
section, and optionally ``*-1.stress`` (step, time, xx..zz in bar).

:func:`read_cp2k_md` returns frames in the compendium's data-set format:
energy in eV, forces in eV/Å, stress in eV/Å³ with ASE's sign (CP2K prints the
pressure-like tensor, the opposite sign), and provenance in ``atoms.info``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.units import Bohr, GPa, Hartree

__all__ = ["CP2KFormatError", "read_cp2k_xyz", "read_cp2k_cell", "read_cp2k_md"]

BAR_TO_EV_PER_A3 = 1e-4 * GPa
_COMMENT = re.compile(r"i\s*=\s*(\d+)\s*,\s*time\s*=\s*([-\d.Ee+]+)\s*,\s*E\s*=\s*([-\d.Ee+]+)")


class CP2KFormatError(ValueError):
    """A CP2K file is malformed or does not match its companions."""


def read_cp2k_xyz(path: str | os.PathLike) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read a CP2K ``-pos-1.xyz`` or ``-frc-1.xyz`` file.

    Returns
    -------
    symbols : list of str
    values : numpy.ndarray, shape (n_frames, n_atoms, 3)
        Columns as written (Å for positions, Hartree/bohr for forces).
    header : numpy.ndarray, shape (n_frames, 3)
        Step, time (fs) and energy (Hartree) parsed from the comment lines.
    """
    path = Path(path)
    lines = path.read_text().splitlines()
    symbols: list[str] | None = None
    frames, header = [], []
    pos = 0
    while pos < len(lines):
        if not lines[pos].strip():
            pos += 1
            continue
        try:
            n = int(lines[pos].split()[0])
        except ValueError:
            raise CP2KFormatError(
                f"{path}:{pos + 1}: expected an atom count, found {lines[pos]!r}"
            ) from None
        if pos + 2 + n > len(lines):
            raise CP2KFormatError(
                f"{path}: frame {len(frames)} is truncated (needs {n} atom lines from "
                f"line {pos + 3}, the file has {len(lines)} lines)"
            )
        match = _COMMENT.search(lines[pos + 1])
        if not match:
            raise CP2KFormatError(
                f"{path}:{pos + 2}: comment line is not CP2K's 'i = ..., time = ..., "
                f"E = ...': {lines[pos + 1]!r}"
            )
        header.append([float(g) for g in match.groups()])
        block = [ln.split() for ln in lines[pos + 2 : pos + 2 + n]]
        names = [row[0] for row in block]
        try:
            frames.append(np.array([[float(x) for x in row[1:4]] for row in block]))
        except (ValueError, IndexError):
            raise CP2KFormatError(f"{path}: frame {len(frames)} has a malformed atom line") from None
        if symbols is None:
            symbols = names
        elif names != symbols:
            raise CP2KFormatError(
                f"{path}: frame {len(frames) - 1} lists {len(names)} atoms or other "
                f"elements than frame 0 ({len(symbols)} atoms)"
            )
        pos += 2 + n
    if not frames:
        raise CP2KFormatError(f"{path}: no frame found")
    return symbols, np.array(frames), np.array(header)


def read_cp2k_cell(path: str | os.PathLike) -> np.ndarray:
    """Cell(s) in Å from a ``-1.cell`` file (n_steps, 3, 3) or an input's ``&CELL`` (3, 3)."""
    path = Path(path)
    text = path.read_text()
    if "&CELL" in text.upper():
        section = re.search(r"&CELL\b(.*?)&END\s+CELL", text, flags=re.S | re.I)
        if not section:
            raise CP2KFormatError(f"{path}: &CELL section without &END CELL")
        body = section.group(1)
        vectors = {}
        for key in ("A", "B", "C"):
            m = re.search(rf"^\s*{key}\s+(?:\[\w+\]\s+)?([-\d.Ee+]+)\s+([-\d.Ee+]+)\s+([-\d.Ee+]+)",
                          body, flags=re.M | re.I)
            if m:
                vectors[key] = [float(x) for x in m.groups()]
        if len(vectors) == 3:
            return np.array([vectors["A"], vectors["B"], vectors["C"]])
        abc = re.search(r"^\s*ABC\s+(?:\[\w+\]\s+)?([-\d.Ee+]+)\s+([-\d.Ee+]+)\s+([-\d.Ee+]+)",
                        body, flags=re.M | re.I)
        if not abc:
            raise CP2KFormatError(f"{path}: &CELL has neither A, B, C nor ABC")
        angles = re.search(r"^\s*ALPHA_BETA_GAMMA\s+(?:\[\w+\]\s+)?([-\d.Ee+]+)\s+([-\d.Ee+]+)\s+([-\d.Ee+]+)",
                           body, flags=re.M | re.I)
        from ase.geometry import cellpar_to_cell

        par = [float(x) for x in abc.groups()] + (
            [float(x) for x in angles.groups()] if angles else [90.0, 90.0, 90.0]
        )
        return cellpar_to_cell(par)
    try:
        rows = np.loadtxt(path, comments="#", ndmin=2)
    except ValueError as err:
        raise CP2KFormatError(f"{path}: not a CP2K -1.cell file (numbers expected): {err}") from None
    if rows.size == 0:
        raise CP2KFormatError(f"{path}: no cell rows")
    if not np.isfinite(rows).all():
        raise CP2KFormatError(f"{path}: non-finite numbers in the cell file")
    if rows.shape[1] < 11:
        raise CP2KFormatError(
            f"{path}: a -1.cell file has 12 columns (step, time, Ax..Cz, volume); "
            f"found {rows.shape[1]}"
        )
    return rows[:, 2:11].reshape(-1, 3, 3)


def read_cp2k_md(
    pos: str | os.PathLike,
    frc: str | os.PathLike,
    cell: str | os.PathLike | np.ndarray,
    ener: str | os.PathLike | None = None,
    stress: str | os.PathLike | None = None,
    stride: int = 1,
    state_point: str = "",
) -> list[Atoms]:
    """Labelled frames from a CP2K MD run.

    Parameters
    ----------
    pos, frc : path-like
        ``*-pos-1.xyz`` and ``*-frc-1.xyz``.
    cell : path-like or array
        ``*-1.cell``, a CP2K input file with ``&CELL``, or a 3×3 array (Å).
    ener : path-like, optional
        ``*-1.ener``; its potential energies must match the pos file's.
    stress : path-like, optional
        ``*-1.stress`` (bar).
    stride : int
        Keep every ``stride``-th frame.
    state_point : str
        Recorded in each frame's provenance (e.g. ``"liquid 1500 K, V0"``).

    Returns
    -------
    list of ase.Atoms
        With a SinglePointCalculator holding energy (eV), forces (eV/Å) and,
        if given, stress (eV/Å³); ``info`` has ``step``, ``time_fs``,
        ``state_point``, ``sampler`` = "CP2K AIMD", ``labeller`` = "CP2K".
    """
    symbols, positions, head = read_cp2k_xyz(pos)
    fsym, forces, fhead = read_cp2k_xyz(frc)
    if len(forces) != len(positions):
        raise CP2KFormatError(
            f"frame counts differ: {pos} has {len(positions)} frames, {frc} has {len(forces)}"
        )
    if fsym != symbols:
        raise CP2KFormatError(
            f"atom counts or elements differ: {pos} has {len(symbols)} atoms, {frc} has {len(fsym)}"
        )
    if not np.array_equal(head[:, 0], fhead[:, 0]):
        raise CP2KFormatError(f"{pos} and {frc} hold different MD steps")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    lines_per_frame = len(symbols) + 2
    for name, path, values in (("positions", pos, positions), ("forces", frc, forces),
                               ("energies", pos, head[:, 2])):
        bad = np.nonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))[0]
        if len(bad):
            k = int(bad[0])
            raise CP2KFormatError(f"{path}: non-finite {name} in frame {k} (MD step "
                                  f"{int(head[k, 0])}, line {k * lines_per_frame + 1}); "
                                  f"{len(bad)} frame(s) affected")
    back = np.nonzero(np.diff(head[:, 0]) <= 0)[0]
    if len(back):
        k = int(back[0]) + 1
        raise CP2KFormatError(
            f"{pos}: MD steps do not increase at frame {k} (line {k * lines_per_frame + 1}): "
            f"step {int(head[k, 0])} after {int(head[k - 1, 0])}; a restarted run writes the "
            "overlap twice: keep one copy of each step")
    fmax = np.abs(forces).max()
    if fmax > 5.0:
        raise CP2KFormatError(
            f"{frc}: largest force component {fmax:.3g} is implausible in Hartree/bohr "
            "(CP2K's unit); was the file converted already?"
        )
    steps = head[:, 0].astype(int)
    if ener is not None:
        table = np.loadtxt(ener, comments="#", ndmin=2)
        by_step = {int(row[0]): row for row in table}
        missing = [s for s in steps if s not in by_step]
        if missing:
            raise CP2KFormatError(f"{ener}: no line for MD steps {missing[:5]}")
        pot = np.array([by_step[s][4] for s in steps])
        if np.abs(pot - head[:, 2]).max() > 1e-5:
            raise CP2KFormatError(
                f"{ener}: potential energies (column 5, Hartree) differ from those in "
                f"{pos} by up to {np.abs(pot - head[:, 2]).max():.3g} Ha: mismatched runs or units"
            )
    if isinstance(cell, (str, os.PathLike)):
        cells = read_cp2k_cell(cell)
    else:
        cells = np.asarray(cell, dtype=float)
    if cells.ndim == 2:
        cells = np.broadcast_to(cells, (len(positions), 3, 3))
    elif len(cells) != len(positions):
        raise CP2KFormatError(f"{cell}: {len(cells)} cells for {len(positions)} frames")
    volumes = np.abs(np.linalg.det(cells)) if np.isfinite(cells).all() else np.zeros(1)
    if not (volumes > 1e-6).all():
        k = int(np.argmin(volumes))
        raise CP2KFormatError(f"{cell if not isinstance(cell, np.ndarray) else 'cell'}: "
                              f"cell of frame {k} has zero or non-finite volume")
    stresses = None
    if stress is not None:
        table = np.loadtxt(stress, comments="#", ndmin=2)
        if len(table) != len(positions):
            raise CP2KFormatError(f"{stress}: {len(table)} lines for {len(positions)} frames")
        stresses = -table[:, 2:11].reshape(-1, 3, 3) * BAR_TO_EV_PER_A3
    frames = []
    for k in range(0, len(positions), stride):
        atoms = Atoms(symbols, positions=positions[k], cell=cells[k], pbc=True)
        results = {"energy": head[k, 2] * Hartree, "forces": forces[k] * Hartree / Bohr}
        if stresses is not None:
            s = stresses[k]
            results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
        atoms.calc = SinglePointCalculator(atoms, **results)
        atoms.info.update(step=int(steps[k]), time_fs=float(head[k, 1]), state_point=state_point,
                          sampler="CP2K AIMD", labeller="CP2K", source=str(pos))
        frames.append(atoms)
    return frames
