"""Ring statistics of the Zn-imidazolate net."""

from __future__ import annotations

import pytest

from zifhelpers.analysis import rings
from zifhelpers.data.public import load_structure


def test_crystal_net_has_only_4_6_8_zn_rings(crystal):
    stats = rings.ring_statistics(crystal)
    assert set(stats) == {8, 12, 16}  # 4-, 6-, 8-Zn rings of the cag net
    assert all(v == int(v) and v > 0 for v in stats.values())


def test_counts_are_per_cell(crystal):
    one = rings.ring_statistics(crystal)
    eight = rings.ring_statistics(crystal.repeat((2, 2, 2)))
    assert eight == {k: 8 * v for k, v in one.items()}


def test_net_counts(crystal):
    i, j, vec, n_zn, n_im = rings.zn_im_net(crystal)
    assert (n_zn, n_im) == (16, 32)
    assert len(i) == 2 * 64  # one edge per Zn-N bond, both directions
    # Zn to ring centroid ~ Zn-N + N-centroid, roughly collinear
    import numpy as np

    d = np.linalg.norm(vec, axis=1)
    assert np.all((d > 2.8) & (d < 3.4))


def test_a_single_cell_misses_rings_that_wrap(crystal):
    """Why the supercell: in one 15 A cell, shortcuts around the boundary hide rings."""
    single = rings.ring_statistics(crystal, min_width=1.0)
    assert single != rings.ring_statistics(crystal)
    assert sum(single.values()) < sum(rings.ring_statistics(crystal).values())


def test_glass_has_other_rings():
    stats = rings.ring_statistics(load_structure("glass06"))
    assert set(stats) - {8, 12, 16}
    with pytest.raises(ValueError, match="periodic"):
        atoms = load_structure("glass06")
        atoms.pbc = False
        rings.ring_statistics(atoms)


def test_a_structure_without_the_net_is_an_error_not_a_crash():
    from ase.build import bulk

    with pytest.raises(ValueError, match="no Zn–imidazolate bond"):
        rings.ring_statistics(bulk("Cu", cubic=True).repeat(3))
    crystal = load_structure("crystal")
    with pytest.raises(ValueError, match="zn_n_cutoff=0.5"):
        rings.ring_statistics(crystal, zn_n_cutoff=0.5)
