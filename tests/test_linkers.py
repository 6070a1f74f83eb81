"""Imidazolate finding and the linker-integrity check."""

from __future__ import annotations

import numpy as np
import pytest

from zifhelpers.analysis import linkers
from zifhelpers.data.public import load_structure


def test_crystal_has_32_intact_imidazolates(crystal):
    ims = linkers.find_imidazolates(crystal)
    assert len(ims.members) == 32 and not ims.fragments
    assert ims.nitrogens.shape == (32, 2)
    # ring centroid is ~1.1 A from each N
    dist = np.linalg.norm(ims.n_to_centroid, axis=2)
    assert np.all((dist > 1.0) & (dist < 1.25))
    report = linkers.check_integrity(crystal)
    assert report.ok and report.n_broken == 0
    assert report.zn_cn == {4: 16}


@pytest.mark.parametrize("name,linker,n", [("salem2_glass01", "C3H3N2", 24), ("zif8_glass01", "C4H5N2", 24)])
def test_other_zifs(name, linker, n):
    report = linkers.check_integrity(load_structure(name), linker=linker)
    assert report.ok and report.n_intact == n


def test_glass_with_undercoordinated_zn_is_not_broken():
    report = linkers.check_integrity(load_structure("glass06"))
    assert report.ok
    assert report.zn_cn == {3: 2, 4: 14}


def test_detects_broken_ring(crystal):
    atoms = crystal.copy()
    ims = linkers.find_imidazolates(atoms)
    c_atoms = [k for k in ims.members[0] if atoms[k].symbol == "C"]
    # pull one ring C (and its H) 1.5 A away from the ring
    c = c_atoms[0]
    h = [k for k in ims.members[0] if atoms[k].symbol == "H"
         and atoms.get_distance(k, c, mic=True) < 1.3][0]
    centroid = ims.centroids[0]
    away = atoms.positions[c] - centroid
    shift = 1.5 * away / np.linalg.norm(away)
    atoms.positions[[c, h]] += shift
    report = linkers.check_integrity(atoms)
    assert not report.ok
    assert report.n_broken == 1
    assert report.n_intact == 31
    assert "imidazolates intact" in report.summary() and "fragments" in report.summary()


def test_detects_migrated_and_lost_h(crystal):
    atoms = crystal.copy()
    ims = linkers.find_imidazolates(atoms)
    members = ims.members[3]
    h = [k for k in members if atoms[k].symbol == "H"]
    n = ims.nitrogens[3][0]
    atoms.positions[h[0]] = atoms.positions[n] + [0.0, 0.0, 1.02]  # H onto N
    atoms.positions[h[1]] += 2.5 * (atoms.positions[h[1]] - ims.centroids[3]) / np.linalg.norm(
        atoms.positions[h[1]] - ims.centroids[3])  # H torn off
    report = linkers.check_integrity(atoms)
    assert not report.ok
    assert h[0] in report.migrated_h
    assert h[1] in report.lost_h
