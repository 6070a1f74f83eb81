"""Periodic neighbour lists for every module of the package (vesin).

One function, :func:`neighbor_list`, wraps ``vesin.NeighborList`` so that
every pair search in ``zifhelpers`` (structure analysis, the legacy model's
graph, MD integrity checks, rings, linkers, the core-repulsion wall) treats
periodicity and cells the same way and refuses the same bad input.

Reference: G. Fraux et al., vesin (https://github.com/Luthaf/vesin).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

__all__ = ["neighbor_list"]

_QUANTITIES = set("ijSdD")


#: at most this many periodic images of the cell within the cutoff (each holds every atom):
#: beyond it a pair search would need gigabytes (a cell 1e-8 Å wide and an 8 Å cutoff: 1e9 images)
MAX_IMAGES = 100_000


def _check_images(cell: np.ndarray, cutoff: float, n_atoms: int) -> None:
    """Refuse a cell so thin against ``cutoff`` that the images would not fit in memory."""
    volume = abs(np.linalg.det(cell))
    heights = np.array([volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))
                        for k in range(3)])
    images = np.prod(2 * np.ceil(cutoff / heights) + 1)
    if images > MAX_IMAGES:
        raise ValueError(
            f"the cell is {heights.min():.3g} Å thin across one face against a {cutoff} Å cutoff: "
            f"{images:.3g} periodic images of its {n_atoms} atoms (at most {MAX_IMAGES}); "
            "check atoms.cell (in Å) or use a larger cell")


def neighbor_list(
    atoms: Atoms, cutoff: float, quantities: str = "ijS", full_list: bool = True
) -> tuple[np.ndarray, ...]:
    """Pairs of atoms closer than ``cutoff`` (Å), periodic images included.

    Correct for any triclinic cell, including cells shorter than twice the
    cutoff (several images of the same neighbour are then listed).

    Parameters
    ----------
    atoms : ase.Atoms
        Fully periodic or fully non-periodic system (mixed ``pbc`` is refused).
    cutoff : float
        Cutoff radius in Å (> 0).
    quantities : str
        Which arrays to return, in this order, as in ASE's ``neighbor_list``:
        ``i``, ``j`` (atom indices, int64), ``S`` (integer cell shifts such
        that ``r_ij = x_j - x_i + S @ cell``), ``d`` (distances, Å), ``D``
        (vectors ``r_ij``, Å).
    full_list : bool
        True lists each pair in both directions (i→j and j→i); False lists
        each pair once.

    Returns
    -------
    tuple of numpy.ndarray
        One array per letter of ``quantities``.
    """
    bad = set(quantities) - _QUANTITIES
    if not quantities or bad:
        raise ValueError(
            f"quantities must be letters from 'ijSdD', got {quantities!r}"
        )
    if not np.isfinite(cutoff) or cutoff <= 0:
        raise ValueError(f"cutoff must be a positive distance in A, got {cutoff!r}")
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.any() and not pbc.all():
        raise ValueError(
            f"mixed periodicity pbc={pbc.tolist()} is not supported: "
            "use a fully periodic or a fully non-periodic system"
        )
    periodic = bool(pbc.all())
    if periodic and abs(np.linalg.det(atoms.cell.array)) < 1e-9:
        raise ValueError("periodic system with a zero-volume cell: set atoms.cell")
    if periodic:
        _check_images(atoms.cell.array, float(cutoff), len(atoms))
    import vesin

    box = atoms.cell.array if periodic else np.zeros((3, 3))
    nl = vesin.NeighborList(cutoff=float(cutoff), full_list=bool(full_list))
    out = nl.compute(points=atoms.positions, box=box, periodic=periodic,
                     quantities=quantities)
    if not isinstance(out, (tuple, list)):
        out = (out,)
    return tuple(
        np.asarray(a, dtype=np.int64) if q in "ijS" else np.asarray(a, dtype=float)
        for q, a in zip(quantities, out, strict=True)
    )
