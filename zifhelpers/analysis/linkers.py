"""Imidazolate building units of ZIFs and a linker-integrity check.

A ZIF is a net of tetrahedral Zn joined by imidazolate (Im⁻, C3H3N2⁻)
linkers through Zn–N bonds. This module finds every imidazolate from the
covalent bond graph of C, N and H (Zn excluded) and reports anything that is
not an intact imidazolate: broken rings, lost or migrated H, fused or
over-bonded atoms. Castel et al. (Digital Discovery 2024) found their Allegro
model breaking linkers above 1300 K with such a check.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "BOND_CUTOFFS",
    "covalent_bonds",
    "Imidazolates",
    "find_imidazolates",
    "IntegrityReport",
    "check_integrity",
]

#: Covalent bond cutoffs (Å) between organic atoms. Generous enough for a
#: 1800 K liquid (C–N ≈ 1.33 ± 0.1 Å, C–H ≈ 1.08 ± 0.08 Å), short enough never to
#: join two linkers (closest inter-linker C···C and H···H > 2 Å in ZIF-4).
BOND_CUTOFFS: dict[tuple[str, str], float] = {
    ("C", "C"): 1.75,
    ("C", "N"): 1.75,
    ("N", "N"): 1.65,
    ("C", "H"): 1.35,
    ("H", "N"): 1.30,
    ("H", "H"): 1.00,
}


def covalent_bonds(
    atoms: Atoms, cutoffs: dict[tuple[str, str], float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Covalent bonds among C, N and H (each bond listed once, i < j).

    Returns
    -------
    i, j : numpy.ndarray of int
        Bonded atom indices.
    vectors : numpy.ndarray, shape (n_bonds, 3)
        Bond vectors r_j − r_i in Å (periodic images resolved).
    """
    from .neighbors import neighbor_list

    cutoffs = cutoffs or BOND_CUTOFFS
    symbols = np.array(atoms.get_chemical_symbols())
    i, j, d, vec = neighbor_list(atoms, max(cutoffs.values()), "ijdD", full_list=False)
    limit = np.zeros(len(i))
    for (a, b), cut in cutoffs.items():
        pair = ((symbols[i] == a) & (symbols[j] == b)) | ((symbols[i] == b) & (symbols[j] == a))
        limit[pair] = cut
    keep = d < limit
    i, j, vec = i[keep], j[keep], vec[keep]
    swap = i > j
    i[swap], j[swap], vec[swap] = j[swap], i[swap], -vec[swap]
    return i, j, vec


def _ring_atoms(group, symbols, adjacency) -> list[int] | None:
    """Heavy atoms of the single ring of ``group``, or None if not one 5-ring."""
    heavy = {k for k in group if symbols[k] != "H"}
    nbrs = {k: {b for b, _ in adjacency.get(k, []) if b in heavy} for k in heavy}
    n_bonds = sum(len(v) for v in nbrs.values()) // 2
    if n_bonds - len(heavy) + 1 != 1:  # cycle rank: exactly one ring
        return None
    leaves = [k for k, v in nbrs.items() if len(v) <= 1]
    while leaves:  # prune substituents (e.g. the methyl of 2-methylimidazolate)
        leaf = leaves.pop()
        for other in nbrs.pop(leaf):
            nbrs[other].discard(leaf)
            if len(nbrs[other]) == 1:
                leaves.append(other)
    return sorted(nbrs) if len(nbrs) == 5 else None


def _is_intact(group, symbols, adjacency, formula: Counter) -> list[int] | None:
    """Ring atoms if ``group`` is an intact imidazolate-type linker, else None."""
    if Counter(symbols[group]) != formula:
        return None
    for atom in group:
        bonded = [symbols[b] for b, _ in adjacency.get(atom, [])]
        s = symbols[atom]
        if s == "H" and bonded != ["C"]:
            return None
        if s == "N" and sorted(bonded) != ["C", "C"]:  # two ring bonds, no H
            return None
        if s == "C" and len(bonded) > 4:
            return None
    ring = _ring_atoms(group, symbols, adjacency)
    if ring is None or sorted(symbols[ring].tolist()) != ["C", "C", "C", "N", "N"]:
        return None
    return ring


@dataclass
class Imidazolates:
    """The imidazolates of a structure.

    Attributes
    ----------
    members : list of numpy.ndarray
        Atom indices (C3H3N2) of each intact imidazolate.
    nitrogens : numpy.ndarray, shape (n_linkers, 2)
        The two N of each intact imidazolate.
    centroids : numpy.ndarray, shape (n_linkers, 3)
        Centroid (Å) of the C3N2 ring, in the cell's image of its first atom.
    n_to_centroid : numpy.ndarray, shape (n_linkers, 2, 3)
        Vector (Å) from each of the two N to its ring centroid.
    fragments : list of numpy.ndarray
        Every other molecule of the organic bond graph (broken linkers,
        lost H, fused linkers).
    """

    members: list[np.ndarray]
    nitrogens: np.ndarray
    centroids: np.ndarray
    n_to_centroid: np.ndarray
    fragments: list[np.ndarray] = field(default_factory=list)


def find_imidazolates(atoms: Atoms, linker: str = "C3H3N2") -> Imidazolates:
    """Find the imidazolate linkers from the C/N/H covalent bond graph.

    Parameters
    ----------
    atoms : ase.Atoms
    linker : str
        Formula of an intact linker: ``"C3H3N2"`` (imidazolate; ZIF-4,
        SALEM-2) or ``"C4H5N2"`` (2-methylimidazolate; ZIF-8). A linker is
        intact when its molecule has that formula, one C3N2 five-membered ring,
        N bonded to two C only, and every H bonded to one C.
    """
    from ase.formula import Formula

    formula = Counter(Formula(linker).count())
    symbols = np.array(atoms.get_chemical_symbols())
    organic = np.flatnonzero(np.isin(symbols, ["C", "N", "H"]))
    i, j, vec = covalent_bonds(atoms)
    n = len(atoms)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # positions unwrapped along bonds, for ring centroids
    order = np.argsort(labels[organic], kind="stable")
    groups = np.split(organic[order], np.flatnonzero(np.diff(labels[organic][order])) + 1)
    adjacency: dict[int, list[tuple[int, np.ndarray]]] = {}
    for a, b, v in zip(i, j, vec, strict=True):
        adjacency.setdefault(a, []).append((b, v))
        adjacency.setdefault(b, []).append((a, -v))
    members, nitrogens, centroids, offsets, fragments = [], [], [], [], []
    for group in groups:
        ring = _is_intact(group, symbols, adjacency, formula)
        if ring is None:
            fragments.append(group)
            continue
        unwrapped = {group[0]: atoms.positions[group[0]]}
        stack = [group[0]]
        while stack:
            a = stack.pop()
            for b, v in adjacency.get(a, []):
                if b not in unwrapped:
                    unwrapped[b] = unwrapped[a] + v
                    stack.append(b)
        centroid = np.mean([unwrapped[k] for k in ring], axis=0)
        n_pair = [k for k in group if symbols[k] == "N"]
        members.append(group)
        nitrogens.append(n_pair)
        centroids.append(centroid)
        offsets.append([centroid - unwrapped[k] for k in n_pair])
    return Imidazolates(
        members=members,
        nitrogens=np.array(nitrogens, dtype=int).reshape(-1, 2),
        centroids=np.array(centroids).reshape(-1, 3),
        n_to_centroid=np.array(offsets).reshape(-1, 2, 3),
        fragments=fragments,
    )


@dataclass
class IntegrityReport:
    """Result of :func:`check_integrity`.

    ``ok`` is True when every N and C belongs to an intact imidazolate and
    every H is bonded to exactly one C.
    """

    n_expected: int
    n_intact: int
    broken: list[str]
    migrated_h: list[int]
    lost_h: list[int]
    overbonded: list[int]
    zn_cn: dict[int, int]

    @property
    def n_broken(self) -> int:
        return self.n_expected - self.n_intact

    @property
    def ok(self) -> bool:
        return self.n_intact == self.n_expected and not (
            self.migrated_h or self.lost_h or self.overbonded
        )

    def summary(self) -> str:
        if self.ok:
            return f"{self.n_intact}/{self.n_expected} imidazolates intact"
        parts = [f"{self.n_intact}/{self.n_expected} imidazolates intact"]
        if self.broken:
            parts.append(f"fragments {', '.join(self.broken[:6])}")
        if self.migrated_h:
            parts.append(f"H on N: atoms {self.migrated_h[:6]}")
        if self.lost_h:
            parts.append(f"free H: atoms {self.lost_h[:6]}")
        if self.overbonded:
            parts.append(f"over-bonded C/N: atoms {self.overbonded[:6]}")
        return "; ".join(parts)


def check_integrity(
    atoms: Atoms, zn_n_cutoff: float = 2.5, linker: str = "C3H3N2"
) -> IntegrityReport:
    """Report broken imidazolates, migrated or lost H and over-bonded atoms.

    Parameters
    ----------
    atoms : ase.Atoms
        A Zn–imidazolate framework (any cell).
    zn_n_cutoff : float
        Zn–N bond cutoff (Å) for the Zn coordination histogram.
    linker : str
        Formula of an intact linker (see :func:`find_imidazolates`).

    Returns
    -------
    IntegrityReport
        ``zn_cn`` maps a Zn coordination number to how many Zn have it
        (under- and over-coordinated Zn are chemistry, not broken linkers).
    """
    from .structure import coordination

    symbols = np.array(atoms.get_chemical_symbols())
    ims = find_imidazolates(atoms, linker)
    i, j, _ = covalent_bonds(atoms)
    partners: dict[int, list[str]] = {}
    for a, b in zip(i, j, strict=True):
        partners.setdefault(a, []).append(symbols[b])
        partners.setdefault(b, []).append(symbols[a])
    hydrogens = np.flatnonzero(symbols == "H")
    migrated = [int(h) for h in hydrogens if "N" in partners.get(h, [])]
    lost = [int(h) for h in hydrogens if not partners.get(h)]
    overbonded = [
        int(k)
        for k in np.flatnonzero(np.isin(symbols, ["C", "N"]))
        if len(partners.get(k, [])) > (4 if symbols[k] == "C" else 2)
    ]
    broken = [
        "".join(f"{s}{c if c > 1 else ''}" for s, c in sorted(Counter(symbols[f]).items()))
        for f in ims.fragments
    ]
    cn = coordination(atoms, "Zn", "N", zn_n_cutoff) if (symbols == "Zn").any() else []
    return IntegrityReport(
        n_expected=int((symbols == "N").sum() // 2),
        n_intact=len(ims.members),
        broken=broken,
        migrated_h=migrated,
        lost_h=lost,
        overbonded=overbonded,
        zn_cn=dict(sorted(Counter(np.asarray(cn).tolist()).items())),
    )
