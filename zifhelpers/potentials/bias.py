"""A harmonic restraint on one interatomic distance, added to any calculator.

The bias of umbrella sampling (Torrie & Valleau, J. Comput. Phys. 1977, 23, 187):
U_bias = ½ k (r − r0)², with r the minimum-image distance between two atoms.
:class:`DistanceRestraint` wraps a calculator and adds the bias to its energy,
forces and stress, so that any MD driver samples the biased ensemble.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

__all__ = ["DistanceRestraint", "pair_distance"]


def pair_distance(atoms: Atoms, i: int, j: int) -> tuple[float, np.ndarray]:
    """Minimum-image distance (Å) from atom ``i`` to atom ``j`` and the vector r_j − r_i."""
    d = atoms.get_distance(i, j, mic=True, vector=True)
    return float(np.linalg.norm(d)), np.asarray(d, dtype=float)


class DistanceRestraint(Calculator):
    """``calc`` plus a harmonic restraint ½ k (r − r0)² on the distance between atoms i and j.

    Parameters
    ----------
    calc : ase Calculator
        The physical potential (energy, forces and stress).
    i, j : int
        The two restrained atoms (0-based).
    spring_eV_A2 : float
        k (eV/Å²), > 0.
    r0_A : float
        Centre of the restraint (Å), > 0.

    The stress includes the bias's virial, σ_ab = U'(r) d_a d_b / (r V), the
    derivative of the bias energy with respect to a homogeneous strain; the
    bias energy alone is in ``results["bias_energy"]``.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, calc: Calculator, i: int, j: int, spring_eV_A2: float, r0_A: float) -> None:
        super().__init__()
        if i == j or min(i, j) < 0:
            raise ValueError(f"DistanceRestraint: two different atom indices >= 0, got {i} and {j}")
        if not (np.isfinite(spring_eV_A2) and spring_eV_A2 > 0):
            raise ValueError(f"DistanceRestraint: spring_eV_A2 must be finite and > 0, got {spring_eV_A2}")
        if not (np.isfinite(r0_A) and r0_A > 0):
            raise ValueError(f"DistanceRestraint: r0_A must be finite and > 0 Å, got {r0_A}")
        self.calc = calc
        self.i, self.j = int(i), int(j)
        self.spring = float(spring_eV_A2)
        self.r0 = float(r0_A)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        if max(self.i, self.j) >= len(atoms):
            raise IndexError(f"DistanceRestraint: atoms {self.i}, {self.j} but the structure has "
                             f"{len(atoms)} atoms")
        inner = atoms.copy()
        inner.calc = self.calc
        energy = inner.get_potential_energy()
        forces = inner.get_forces().copy()
        want_stress = "stress" in properties or inner.pbc.all()
        stress = inner.get_stress(voigt=False).copy() if want_stress else None
        r, d = pair_distance(atoms, self.i, self.j)
        du_dr = self.spring * (r - self.r0)
        bias = 0.5 * self.spring * (r - self.r0) ** 2
        unit = d / r
        forces[self.i] += du_dr * unit   # -dU/dr_i, with dr/dr_i = -unit
        forces[self.j] -= du_dr * unit
        self.results = {"energy": energy + bias, "free_energy": energy + bias, "forces": forces,
                        "bias_energy": bias, "distance_A": r}
        if stress is not None:
            stress += du_dr * np.outer(d, d) / (r * atoms.get_volume())
            self.results["stress"] = stress.flat[[0, 4, 8, 5, 2, 1]]
