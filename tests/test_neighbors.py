"""zifhelpers.analysis.neighbors: one vesin neighbour list for the whole package."""

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list as ase_neighbor_list

from zifhelpers.analysis.neighbors import neighbor_list


def _skewed(n: int = 12, seed: int = 3) -> Atoms:
    """Random atoms in a triclinic cell shorter than twice the cutoffs used."""
    cell = np.array([[5.1, 0.0, 0.0], [1.3, 4.7, 0.0], [-0.8, 0.9, 5.6]])
    frac = np.random.default_rng(seed).random((n, 3))
    return Atoms(f"H{n}", scaled_positions=frac, cell=cell, pbc=True)


def _pairs(i, j, s):
    return sorted(zip(i.tolist(), j.tolist(), map(tuple, s.tolist()), strict=True))


@pytest.mark.parametrize("cutoff", [1.5, 4.0, 7.0])
def test_full_list_matches_ase(cutoff):
    atoms = _skewed()
    i, j, s = neighbor_list(atoms, cutoff)
    ri, rj, rs = ase_neighbor_list("ijS", atoms, cutoff)
    assert _pairs(i, j, s) == _pairs(ri, rj, rs)
    assert i.dtype == np.int64 and s.dtype == np.int64


def test_vectors_distances_and_shifts_agree():
    atoms = _skewed()
    i, j, s, d, vec = neighbor_list(atoms, 6.0, "ijSdD")
    expected = atoms.positions[j] - atoms.positions[i] + s @ atoms.cell.array
    assert np.abs(vec - expected).max() < 1e-10
    assert np.abs(np.linalg.norm(vec, axis=1) - d).max() < 1e-10
    assert d.max() < 6.0 and len(d) > 200  # many images in a cell this small


def test_half_list_has_each_pair_once():
    atoms = _skewed()
    i, j, s = neighbor_list(atoms, 5.0)
    hi, hj, hs = neighbor_list(atoms, 5.0, full_list=False)
    assert 2 * len(hi) == len(i)
    both = _pairs(np.r_[hi, hj], np.r_[hj, hi], np.r_[hs, -hs])
    assert both == _pairs(i, j, s)


def test_non_periodic_molecule_has_no_images():
    # O-H 0.96 A, H-H 1.52 A: below 1.2 A only the two O-H bonds, both ways
    atoms = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    i, j, d = neighbor_list(atoms, 1.2, "ijd")
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 0), (2, 0)]
    assert np.allclose(sorted(d), [0.96, 0.96, np.hypot(0.24, 0.93), np.hypot(0.24, 0.93)])


def test_bad_input_is_named():
    atoms = _skewed()
    with pytest.raises(ValueError, match="quantities.*'ijx'"):
        neighbor_list(atoms, 3.0, "ijx")
    with pytest.raises(ValueError, match="cutoff must be a positive"):
        neighbor_list(atoms, -1.0)
    atoms.pbc = [True, True, False]
    with pytest.raises(ValueError, match=r"mixed periodicity pbc=\[True, True, False\]"):
        neighbor_list(atoms, 3.0)
    flat = Atoms("H2", positions=[[0, 0, 0], [1, 0, 0]], pbc=True)
    with pytest.raises(ValueError, match="zero-volume cell"):
        neighbor_list(flat, 3.0)
