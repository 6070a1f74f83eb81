"""Structure analysis of ZIF configurations: NumPy in, NumPy out.

Pair searches use vesin neighbour lists, so every function is periodic,
triclinic-safe and fast on thousands of atoms.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

__all__ = ["pairs", "coordination", "density", "structure_summary"]

#: g/cm^3 per (amu/A^3)
AMU_PER_A3_TO_G_PER_CM3 = 1.66053906660


def _species_mask(atoms: Atoms, symbol: str) -> np.ndarray:
    if symbol not in atomic_numbers:
        raise ValueError(f"{symbol!r} is not a chemical element symbol")
    mask = atoms.numbers == atomic_numbers[symbol]
    if not mask.any():
        raise ValueError(
            f"no {symbol} atom in the structure ({atoms.get_chemical_formula()})"
        )
    return mask


def pairs(
    atoms: Atoms, a: str, b: str, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All a–b pairs closer than ``cutoff`` (Å), periodic images included.

    Returns
    -------
    i, j : numpy.ndarray
        Indices into ``atoms`` of the a atom and the b atom of each pair.
    d : numpy.ndarray
        Pair distances in Å.
    """
    import vesin

    mask_a, mask_b = _species_mask(atoms, a), _species_mask(atoms, b)
    nl = vesin.NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, d = nl.compute(
        points=atoms.positions,
        box=atoms.cell.array,
        periodic=bool(atoms.pbc.all()),
        quantities="ijd",
    )
    keep = mask_a[i] & mask_b[j]
    return i[keep], j[keep], d[keep]


def coordination(
    atoms: Atoms, center: str = "Zn", neighbor: str = "N", cutoff: float = 2.5
) -> np.ndarray:
    """Coordination number of every ``center`` atom.

    Parameters
    ----------
    atoms : ase.Atoms
    center, neighbor : str
        Element symbols. The default counts N around Zn.
    cutoff : float
        Bond cutoff in Å; 2.5 Å for Zn–N, from the first minimum of the Zn–N
        potential of mean force (Castel et al. 2024; Gaillac et al. 2017).

    Returns
    -------
    numpy.ndarray of int
        One count per ``center`` atom, in the order they appear in ``atoms``.
    """
    centers = np.flatnonzero(_species_mask(atoms, center))
    i, _, _ = pairs(atoms, center, neighbor, cutoff)
    counts = np.bincount(i, minlength=len(atoms))
    return counts[centers]


def density(atoms: Atoms) -> float:
    """Mass density in g/cm³."""
    return float(atoms.get_masses().sum() / atoms.get_volume() * AMU_PER_A3_TO_G_PER_CM3)


def structure_summary(atoms: Atoms, cutoff: float = 2.5) -> dict[str, float | str | int]:
    """Composition, density and Zn–N coordination of a ZIF structure.

    Returns a flat dict: ``formula``, ``n_atoms``, ``volume_A3``,
    ``density_g_cm3``, ``cn_Zn_N`` (mean) and ``frac_Zn_cn{3,4,5}``.
    """
    cn = coordination(atoms, "Zn", "N", cutoff)
    summary: dict[str, float | str | int] = {
        "formula": atoms.get_chemical_formula(),
        "n_atoms": len(atoms),
        "volume_A3": float(atoms.get_volume()),
        "density_g_cm3": density(atoms),
        "cn_Zn_N": float(cn.mean()),
    }
    for k in (3, 4, 5):
        summary[f"frac_Zn_cn{k}"] = float(np.mean(cn == k))
    return summary
