"""Ring statistics of the Zn–imidazolate coordination net.

The net has two kinds of node, Zn and imidazolate (at its ring centroid), and
one edge per Zn–N bond. A ring of n Zn and n imidazolates has 2n members: the
ZIF-4 crystal (cag topology) has only 4-, 6- and 8-Zn rings, i.e. rings of 8,
12 and 16 members.

Rings are Franzblau's shortest-path rings (D. S. Franzblau, Phys. Rev. B 44,
4925 (1991)) found by matscipy on the net's own edges. On a periodic cell
shortest paths may wrap around the boundary; the net is therefore built on a
supercell at least ``min_width`` Å wide in every direction, rings whose bond
vectors do not close (wrapping rings) are rejected, and counts are divided by
the number of replicas.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from .linkers import find_imidazolates

__all__ = ["zn_im_net", "ring_statistics"]


def zn_im_net(
    atoms: Atoms, zn_n_cutoff: float = 2.5, linker: str = "C3H3N2"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Edges of the Zn–imidazolate net.

    Returns
    -------
    i, j : numpy.ndarray of int
        Node indices of each edge, both directions (nodes 0..n_zn-1 are Zn,
        then the intact imidazolates).
    vectors : numpy.ndarray, shape (n_edges, 3)
        Edge vectors (Å) from node i to node j.
    n_zn, n_im : int
        Node counts.
    """
    ims = find_imidazolates(atoms, linker)
    zn = np.flatnonzero(atoms.numbers == 30)
    zn_node = -np.ones(len(atoms), dtype=int)
    zn_node[zn] = np.arange(len(zn))
    im_of_n = -np.ones(len(atoms), dtype=int)
    slot_of_n = np.zeros(len(atoms), dtype=int)
    for k, (n1, n2) in enumerate(ims.nitrogens):
        im_of_n[[n1, n2]] = k
        slot_of_n[[n1, n2]] = [0, 1]
    from .neighbors import neighbor_list

    i, j, vec = neighbor_list(atoms, zn_n_cutoff, "ijD")
    keep = (atoms.numbers[i] == 30) & (atoms.numbers[j] == 7) & (im_of_n[j] >= 0)
    i, j, vec = i[keep], j[keep], vec[keep]
    im = im_of_n[j]
    vectors = vec + ims.n_to_centroid[im, slot_of_n[j]]
    src = zn_node[i]
    dst = len(zn) + im
    return (
        np.concatenate([src, dst]),
        np.concatenate([dst, src]),
        np.concatenate([vectors, -vectors]),
        len(zn),
        len(ims.members),
    )


def _replicas(atoms: Atoms, min_width: float) -> tuple[int, int, int]:
    cell = atoms.cell.array
    volume = abs(np.linalg.det(cell))
    widths = [volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3])) for k in range(3)]
    return tuple(int(np.ceil(min_width / w)) for w in widths)


def ring_statistics(
    atoms: Atoms,
    max_members: int = 24,
    min_width: float = 30.0,
    zn_n_cutoff: float = 2.5,
    linker: str = "C3H3N2",
) -> dict[int, float]:
    """Shortest-path ring statistics of the Zn–imidazolate net.

    Parameters
    ----------
    atoms : ase.Atoms
        A periodic Zn–imidazolate framework.
    max_members : int
        Longest ring searched (members = Zn + imidazolate nodes).
    min_width : float
        The net is built on a supercell at least this wide (Å) along every
        cell direction, so that no ring up to ``max_members`` is missed.
    zn_n_cutoff : float
        Zn–N bond cutoff in Å.
    linker : str
        Linker formula (see :func:`zifhelpers.analysis.linkers.find_imidazolates`).

    Returns
    -------
    dict
        Ring size (members) -> number of rings per input cell.
    """
    from matscipy.rings import distances_on_graph, find_sp_rings

    if not atoms.pbc.all():
        raise ValueError("ring_statistics needs a fully periodic structure")
    reps = _replicas(atoms, min_width)
    big = atoms.repeat(reps) if reps != (1, 1, 1) else atoms
    i, j, vec, _, _ = zn_im_net(big, zn_n_cutoff, linker)
    if len(i) == 0:  # matscipy aborts the interpreter on an empty graph
        formula = atoms.get_chemical_formula()
        raise ValueError(f"ring_statistics: {formula} has no Zn–imidazolate bond within "
                         f"zn_n_cutoff={zn_n_cutoff} Å (no Zn, no {linker} linker, or a "
                         "cutoff too small): there is no net to find rings in")
    order = np.lexsort((j, i))  # matscipy wants edges sorted by i
    i, j, vec = i[order].astype(np.int32), j[order].astype(np.int32), vec[order]
    dist = distances_on_graph(i, j)
    counts = find_sp_rings(i, j, vec, dist, max_members)
    n_rep = int(np.prod(reps))
    return {int(size): float(counts[size] / n_rep) for size in range(len(counts)) if counts[size] > 0}
