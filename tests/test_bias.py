"""The harmonic distance restraint added to a calculator."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

from zifhelpers.potentials.bias import DistanceRestraint, pair_distance


@pytest.fixture
def copper():
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)  # 4 atoms: the pair crosses the boundary
    atoms.rattle(0.05, seed=1)
    return atoms


def test_energy_forces_and_stress_of_the_restraint(copper):
    r, _ = pair_distance(copper, 0, 3)
    copper.calc = DistanceRestraint(EMT(), 0, 3, spring_eV_A2=5.0, r0_A=r + 0.3)
    bare = copper.copy()
    bare.calc = EMT()
    assert copper.get_potential_energy() == pytest.approx(bare.get_potential_energy() + 0.5 * 5.0 * 0.09)
    assert copper.calc.results["bias_energy"] == pytest.approx(0.225)
    numeric = calculate_numerical_forces(copper, eps=1e-4)
    assert np.abs(copper.get_forces() - numeric).max() < 1e-5
    # the bias pulls the pair apart: on atom 3, along the vector from 0 to 3
    extra = copper.get_forces() - bare.get_forces()
    _, d = pair_distance(copper, 0, 3)
    assert np.dot(extra[3], d) > 0 and np.allclose(extra[0], -extra[3])
    assert np.abs(copper.get_stress() - calculate_numerical_stress(copper, eps=1e-5)).max() < 1e-6


def test_bad_restraints_are_refused(copper):
    with pytest.raises(ValueError, match="two different atom"):
        DistanceRestraint(EMT(), 1, 1, 5.0, 2.0)
    with pytest.raises(ValueError, match="spring_eV_A2"):
        DistanceRestraint(EMT(), 0, 1, -1.0, 2.0)
    with pytest.raises(ValueError, match="r0_A"):
        DistanceRestraint(EMT(), 0, 1, 1.0, float("nan"))
    copper.calc = DistanceRestraint(EMT(), 0, 9, 1.0, 2.0)
    with pytest.raises(IndexError, match="4 atoms"):
        copper.get_potential_energy()
