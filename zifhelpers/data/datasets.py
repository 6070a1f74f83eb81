"""Labelled configurations: generate, label with a reference, read and write.

The compendium's data-set format is extended XYZ (optionally gzipped): per
frame the positions, cell, ``energy`` (eV), ``forces`` (eV/Å) and ``stress``
(eV/Å³, ASE sign: positive = tensile, σ = (1/V) ∂E/∂ε), and provenance in
the comment line: ``state_point``, ``sampler``, ``seed`` and ``labeller``.
:func:`zifhelpers.data.cp2k.read_cp2k_md` produces the same format from AIMD.

The paper's reference data are AIMD trajectories of the crystal at 300 K and of
the liquid at 1500 K and 1750 K at four volumes. Teacher MD costs ~3 s per step
on 2 CPU cores here, so :func:`perturbed_configurations` offers a cheap first
sampler (rattled and strained structures at the paper's volumes) whose frames
are then labelled by the reference model with :func:`label`.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator

__all__ = [
    "VOLUME_SCALES",
    "perturbed_configurations",
    "stretched_bonds",
    "label",
    "write_dataset",
    "read_dataset",
    "frame_key",
    "oversample",
    "check_recipe",
    "DatasetError",
    "label_structures",
]

#: Cell-volume scale factors of the paper's liquid state points: from the
#: crystal's volume (1.21 g/cm³) down to glass-like densities (1.42 g/cm³).
VOLUME_SCALES = (1.00, 0.95, 0.90, 0.85)
_REQUIRED = ("energy", "forces", "stress")


class DatasetError(ValueError):
    """A data-set file is missing a field or holds inconsistent frames."""


def perturbed_configurations(
    atoms: Atoms,
    n: int,
    rattle_A: float = 0.1,
    max_strain: float = 0.03,
    volume_scale: float = 1.0,
    seed: int = 0,
    state_point: str = "",
) -> list[Atoms]:
    """Rattled and strained copies of ``atoms`` at a scaled volume.

    Each copy has its cell scaled isotropically to ``volume_scale`` × V, then
    a random symmetric strain with components uniform in ±``max_strain``,
    then Gaussian displacements of standard deviation ``rattle_A`` (Å).
    Provenance (``state_point``, ``sampler``, ``seed``) goes to ``info``.

    Limits: the scaling is affine, so it compresses the stiff covalent bonds of
    the linkers along with the framework. With the published model, a ZIF-4
    cell scaled to 0.85 V carries about −25 GPa of stress and 20–30 eV/Å
    forces, far from any MD state; a 0.04 Å rattle alone gives ~15 eV/Å.
    Keep ``volume_scale`` near 1 and the rattle small, and prefer MD frames
    (``MDRun(..., write_labels=True)`` with the reference model, or a student's
    MD relabelled by the reference) for the liquid state points.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        frame = atoms.copy()
        frame.calc = None
        eps = rng.uniform(-max_strain, max_strain, size=(3, 3))
        eps = 0.5 * (eps + eps.T)
        scale = volume_scale ** (1.0 / 3.0)
        frame.set_cell(atoms.cell.array @ (scale * (np.eye(3) + eps)), scale_atoms=True)
        frame.positions += rng.normal(scale=rattle_A, size=frame.positions.shape)
        frame.info = {
            "state_point": state_point or atoms.info.get("name", "structure"),
            "sampler": f"rattle {rattle_A} A, strain {max_strain}, V x {volume_scale}",
            "seed": seed,
            "index": k,
        }
        frames.append(frame)
    return frames


def stretched_bonds(
    frames: list[Atoms],
    pair: tuple[str, str] = ("C", "H"),
    lengths_A: tuple[float, float] = (1.2, 1.8),
    bonds_per_frame: int = 2,
    bond_cutoff_A: float = 1.35,
    seed: int = 0,
) -> list[Atoms]:
    """Copies of ``frames`` with a few ``pair`` bonds pulled out along the bond.

    For each frame, ``bonds_per_frame`` distinct bonds between ``pair[0]`` and
    ``pair[1]`` (closer than ``bond_cutoff_A``) are drawn and the ``pair[1]``
    atom of each is moved along the bond to a length uniform in ``lengths_A``
    (Å); nothing else moves. Labelled by a reference model, such frames teach a
    student the cost of breaking the bond, which MD near equilibrium never
    samples (a student that underestimates it loses hydrogens in the hot
    liquid). Provenance goes to ``info`` (``sampler``, ``seed``, the moved
    atoms, an integer array, in ``stretched_atoms``).
    """
    from ase.neighborlist import neighbor_list

    low, high = (float(x) for x in lengths_A)
    if not 0.0 < low <= high:
        raise ValueError(f"lengths_A must satisfy 0 < low <= high, got {lengths_A!r}")
    if bonds_per_frame < 1:
        raise ValueError(f"bonds_per_frame must be >= 1, got {bonds_per_frame}")
    rng = np.random.default_rng(seed)
    out = []
    for k, atoms in enumerate(frames):
        symbols = np.array(atoms.get_chemical_symbols())
        i, j, d, D = neighbor_list("ijdD", atoms, bond_cutoff_A)
        bonds = np.flatnonzero((symbols[i] == pair[0]) & (symbols[j] == pair[1]))
        if len(bonds) < bonds_per_frame:
            raise ValueError(f"frame {k}: {len(bonds)} {pair[0]}-{pair[1]} bonds shorter than "
                             f"{bond_cutoff_A} A, need {bonds_per_frame}")
        chosen, moved = [], set()
        for b in rng.permutation(bonds):
            if int(j[b]) not in moved and int(i[b]) not in moved:
                chosen.append(b)
                moved.update((int(i[b]), int(j[b])))
            if len(chosen) == bonds_per_frame:
                break
        frame = atoms.copy()
        frame.calc = None
        for b in chosen:
            unit = D[b] / d[b]
            frame.positions[j[b]] = atoms.positions[i[b]] + unit * rng.uniform(low, high)
        frame.info = {
            "state_point": str(atoms.info.get("state_point", atoms.info.get("name", "structure"))),
            "sampler": f"{pair[0]}-{pair[1]} bonds stretched to {low}-{high} A",
            "seed": seed,
            "index": k,
            "stretched_atoms": np.array([int(j[b]) for b in chosen]),
        }
        out.append(frame)
    return out


def label(
    frames: list[Atoms], calc: Calculator, labeller: str, progress: bool = True
) -> list[Atoms]:
    """Attach reference energy, forces and stress to each frame (copies).

    ``labeller`` names the reference in each frame's provenance, e.g.
    ``"published NequIP (Castel 2024)"`` — never "DFT" unless it is.
    """
    from tqdm.auto import tqdm

    labelled = []
    for frame in tqdm(frames, desc="labelling", disable=not progress):
        work = frame.copy()
        work.calc = calc
        results = {
            "energy": work.get_potential_energy(),
            "forces": work.get_forces(),
            "stress": work.get_stress(voigt=True),
        }
        out = frame.copy()
        out.calc = SinglePointCalculator(out, **results)
        out.info = {**frame.info, "labeller": labeller}
        labelled.append(out)
    return labelled


def write_dataset(frames: list[Atoms], path: str | os.PathLike, decimals: int | None = None) -> Path:
    """Write labelled frames to extended XYZ (``.gz`` suffix: gzipped).

    Parameters
    ----------
    frames : list of Atoms
        Frames labelled with energy, forces and stress.
    path : path-like
        Output file; a ``.gz`` suffix compresses it.
    decimals : int, optional
        Round positions (Å) and forces (eV/Å) to this many decimals in the
        file (the frames passed in are not changed); energy, stress, cell and
        provenance stay at full precision. ``5`` makes a gzipped file about a
        third smaller; the labels then belong to positions 5·10⁻⁶ Å away at
        most, which moves a force by well under 1 meV/Å. Default: ASE's full
        8 decimals.
    """
    import ase.io

    path = Path(path)
    for k, frame in enumerate(frames):
        if frame.calc is None or not all(p in frame.calc.results for p in _REQUIRED):
            raise DatasetError(f"frame {k} is not labelled with {', '.join(_REQUIRED)}")
    if decimals is not None:
        if int(decimals) != decimals or not 1 <= decimals <= 8:
            raise ValueError(f"decimals must be an integer from 1 to 8, got {decimals!r}")
        rounded = []
        for frame in frames:
            copy = frame.copy()
            copy.positions = np.round(frame.positions, decimals)
            results = dict(frame.calc.results)
            results["forces"] = np.round(results["forces"], decimals)
            copy.calc = SinglePointCalculator(copy, **results)
            rounded.append(copy)
        frames = rounded
    path.parent.mkdir(parents=True, exist_ok=True)
    ase.io.write(path, frames, format="extxyz")
    return path


def oversample(frames: list[Atoms], factors: dict[str, int]) -> list[Atoms]:
    """Repeat the frames of chosen state points in a training set.

    A frame whose ``info["state_point"]`` contains one of the keys of
    ``factors`` appears that many times (the largest factor when several keys
    match); every other frame appears once. The frames keep their order and the
    repeats follow it, so an unshuffled reader sees the original set first.
    Repeating a frame ``k`` times weighs its loss ``k`` times in an epoch, the
    way to spend a network's capacity on the kind of frame a target is measured
    on (for a fixed number of epochs an epoch grows by the repeats).

    Parameters
    ----------
    frames : list of Atoms
        Training frames with a ``state_point`` in ``info``.
    factors : dict of str to int
        Substring of ``state_point`` → number of appearances (an integer ≥ 1).

    Returns
    -------
    list of Atoms
        The frames followed by the repeats (the same objects, not copies).

    Raises
    ------
    ValueError
        A factor that is not an integer ≥ 1, or a key that matches no frame
        (a typo would otherwise weigh nothing and go unnoticed).
    """
    for key, factor in factors.items():
        if isinstance(factor, bool) or int(factor) != factor or factor < 1:
            raise ValueError(f"oversample factor for {key!r} must be an integer >= 1, "
                             f"got {factor!r}")
    points = [str(f.info.get("state_point", "")) for f in frames]
    for key in factors:
        if not any(key in p for p in points):
            found = sorted(set(points))
            raise ValueError(f"oversample key {key!r} matches no state point; the frames have "
                             f"{found[:8]}{' ...' if len(found) > 8 else ''}")
    counts = [max([int(c) for k, c in factors.items() if k in p], default=1) for p in points]
    repeats = [f for extra in range(1, max(counts, default=1))
               for f, c in zip(frames, counts, strict=True) if c > extra]
    return list(frames) + repeats


def check_recipe(path: str | os.PathLike, recipe: dict) -> Path:
    """Record how a derived data set was made, or check that it still matches.

    A training folder writes its train/validation files once and reuses them;
    asked again with other sources or oversampling factors it would silently
    train on the old set. The first call writes ``recipe`` as JSON to ``path``;
    later calls compare and refuse any difference.

    Parameters
    ----------
    path : path-like
        The JSON file beside the data set (``recipe.json``).
    recipe : dict
        JSON-serialisable description: source files, factors, split sizes, seed.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        The recorded recipe differs; the message names each field with the
        recorded and the requested value.
    """
    import json

    path = Path(path)
    wanted = json.loads(json.dumps(recipe))  # tuples -> lists, as stored
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(wanted, indent=1, sort_keys=True) + "\n")
        return path
    try:
        stored = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not a JSON recipe ({err})") from None
    if not isinstance(stored, dict):
        raise ValueError(f"{path}: expected a JSON object (field: value), found "
                         f"{type(stored).__name__}")
    diffs = [f"{key}: recorded {stored.get(key)!r}, requested {wanted.get(key)!r}"
             for key in sorted(set(stored) | set(wanted)) if stored.get(key) != wanted.get(key)]
    if diffs:
        raise ValueError(f"{path}: the data set beside it was made with another recipe; "
                         + "; ".join(diffs)
                         + ". Use a new name, or delete the folder's data files and this file.")
    return path


def read_dataset(path: str | os.PathLike) -> list[Atoms]:
    """Read a labelled data set and check every frame carries energy, forces, stress."""
    import ase.io

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no data set at {path}")
    try:
        if path.suffix == ".gz":
            # ASE indexes a multi-frame file by seeking back, and seeking back in a gzip
            # stream decompresses it again from the start: quadratic in the number of
            # frames (25 s instead of 1 s for 400 frames of 272 atoms). Decompress once.
            with gzip.open(path, "rt") as handle:
                frames = ase.io.read(io.StringIO(handle.read()), index=":", format="extxyz")
        else:
            frames = ase.io.read(path, index=":", format="extxyz")
    except Exception as err:  # gzip, unicode, extxyz parse errors from deep inside ASE
        raise DatasetError(f"{path}: not a readable extxyz data set ({type(err).__name__}: "
                           f"{err})") from None
    if not frames:
        raise DatasetError(f"{path}: no frames")
    for k, frame in enumerate(frames):
        results = frame.calc.results if frame.calc is not None else {}
        missing = [p for p in _REQUIRED if p not in results]
        if missing:
            raise DatasetError(f"{path}: frame {k} lacks {', '.join(missing)}")
        if results["forces"].shape != (len(frame), 3):
            raise DatasetError(
                f"{path}: frame {k} has forces of shape {results['forces'].shape} for "
                f"{len(frame)} atoms"
            )
        if "labeller" not in frame.info:
            raise DatasetError(f"{path}: frame {k} has no 'labeller' in its provenance")
    return frames


def label_structures(names: list[str], calc: Calculator, labeller: str, progress: bool = True) -> list[Atoms]:
    """Reference structures of :func:`zifhelpers.data.public.load_structure`, labelled as they are.

    Provenance: ``state_point`` = the structure's name, ``sampler`` =
    "published structure".
    """
    from .public import load_structure

    frames = []
    for name in names:
        atoms = load_structure(name)
        atoms.info = {"state_point": name, "sampler": "published structure", "seed": 0}
        frames.append(atoms)
    return label(frames, calc, labeller, progress=progress)


def frame_key(atoms: Atoms) -> bytes:
    """Identity of a frame for deduplication: positions and cell rounded to 1e-4 Å."""
    return np.round(atoms.positions, 4).tobytes() + np.round(atoms.cell.array, 4).tobytes()
