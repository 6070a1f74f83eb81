"""Physics tests of the published model wrapped as an ASE calculator.

Finite differences run in float64 (the model's weights cast) so that they can be
tight; float32, the precision the model was trained in, is checked against
float64 separately.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import primitive_neighbor_list
from scipy.spatial.transform import Rotation

from zifhelpers.data.public import published_model_path
from zifhelpers.potentials.calculators import LegacyNequIPCalculator, neighbor_list
from zifhelpers.potentials.registry import load_calculator


def _evaluate(calc, atoms):
    atoms = atoms.copy()
    atoms.calc = calc
    return (
        atoms.get_potential_energy(),
        atoms.get_forces(),
        atoms.get_stress(voigt=False),
    )


@pytest.fixture(scope="module")
def ref64(crystal, published64):
    return _evaluate(published64, crystal)


@pytest.fixture(scope="module")
def ref32(crystal, published32):
    return _evaluate(published32, crystal)


def test_crystal_energy_matches_the_published_value(ref32, ref64):
    # the value the authors' LAMMPS/pair_nequip set-up gives for crystal.lmp
    assert ref32[0] == pytest.approx(-60083.21, abs=0.05)
    assert ref64[0] == pytest.approx(-60083.21, abs=0.05)


def test_float32_agrees_with_float64(ref32, ref64):
    assert np.abs(ref32[1] - ref64[1]).max() < 5e-3  # eV/A
    assert np.abs(ref32[2] - ref64[2]).max() < 1e-5  # eV/A^3


def test_per_atom_energies_sum_to_total(crystal, published64, ref64):
    energies = published64.results["energies"]
    assert energies.shape == (len(crystal),)
    assert energies.sum() == pytest.approx(ref64[0], abs=1e-6)


def test_forces_sum_to_zero(ref64):
    assert np.abs(ref64[1].sum(axis=0)).max() < 1e-6


@pytest.mark.parametrize("atom,axis", [(271, 0), (200, 1), (1, 2)])
def test_forces_are_minus_the_energy_gradient(crystal, published64, ref64, atom, axis):
    """Central finite differences, h = 1e-3 A, on a Zn, an N and an H."""
    h = 1e-3
    energies = []
    for sign in (+1, -1):
        moved = crystal.copy()
        moved.positions[atom, axis] += sign * h
        energies.append(_evaluate(published64, moved)[0])
    numeric = -(energies[0] - energies[1]) / (2 * h)
    assert ref64[1][atom, axis] == pytest.approx(numeric, abs=2e-4)
    assert abs(ref64[1][atom, axis]) > 1e-3  # the check is not trivially 0 = 0


@pytest.mark.parametrize("component", [(0, 0), (0, 1)])
def test_stress_is_the_strain_derivative_of_the_energy(
    crystal, published64, ref64, component
):
    """sigma_ab = (1/V) dE/d(eps_ab) with a symmetric strain, ASE convention."""
    a, b = component
    h = 1e-4
    energies = []
    for sign in (+1, -1):
        eps = np.zeros((3, 3))
        eps[a, b] += sign * h / (2 if a != b else 1)
        eps[b, a] += sign * h / 2 if a != b else 0.0
        strained = crystal.copy()
        strained.set_cell(crystal.cell.array @ (np.eye(3) + eps), scale_atoms=True)
        energies.append(_evaluate(published64, strained)[0])
    numeric = (energies[0] - energies[1]) / (2 * h) / crystal.get_volume()
    assert ref64[2][a, b] == pytest.approx(numeric, abs=2e-7)  # eV/A^3 (~0.03 MPa)
    assert abs(numeric) > 1e-5


def test_energy_is_invariant_and_forces_covariant(crystal, published32, ref32):
    rng = np.random.default_rng(7)
    # translation
    moved = crystal.copy()
    moved.translate([1.3, -0.7, 2.9])
    e, f, _ = _evaluate(published32, moved)
    assert e == pytest.approx(ref32[0], abs=0.02)
    assert np.abs(f - ref32[1]).max() < 5e-3
    # rigid rotation of cell and positions: a general triclinic cell
    rot = Rotation.random(random_state=11).as_matrix()
    turned = crystal.copy()
    turned.set_cell(crystal.cell.array @ rot.T, scale_atoms=False)
    turned.positions = crystal.positions @ rot.T
    e, f, s = _evaluate(published32, turned)
    assert e == pytest.approx(ref32[0], abs=0.02)
    assert np.abs(f - ref32[1] @ rot.T).max() < 5e-3
    assert np.abs(s - rot @ ref32[2] @ rot.T).max() < 2e-6
    # permutation of atoms
    order = rng.permutation(len(crystal))
    e, f, _ = _evaluate(published32, crystal[order])
    assert e == pytest.approx(ref32[0], abs=0.02)
    assert np.abs(f - ref32[1][order]).max() < 5e-3


def test_supercell_is_extensive(crystal, published32, ref32):
    # two cells side by side (544 atoms): a neighbour list crossing the doubled cell
    e, f, s = _evaluate(published32, crystal.repeat((2, 1, 1)))
    assert e == pytest.approx(2 * ref32[0], abs=0.1)
    assert np.abs(f - np.tile(ref32[1], (2, 1))).max() < 5e-3
    assert np.abs(s - ref32[2]).max() < 2e-6


def _tiny_triclinic():
    """4 atoms in a skewed cell far shorter than 2 r_max = 12 A."""
    cell = np.array([[4.6, 0.0, 0.0], [1.1, 4.9, 0.0], [0.7, -0.9, 5.3]])
    frac = np.array([[0.1, 0.2, 0.1], [0.45, 0.55, 0.35], [0.8, 0.1, 0.6], [0.3, 0.85, 0.8]])
    return Atoms("ZnNCH", scaled_positions=frac, cell=cell, pbc=True)


def test_neighbor_list_matches_ase_in_a_small_triclinic_cell():
    atoms = _tiny_triclinic()
    i, j, s = neighbor_list(atoms, 6.0)
    ri, rj, rs = primitive_neighbor_list("ijS", atoms.pbc, atoms.cell, atoms.positions, 6.0)
    assert sorted(zip(i, j, map(tuple, s), strict=False)) == sorted(zip(ri, rj, map(tuple, rs), strict=False))
    assert len(i) > 100  # many periodic images of each atom


def test_small_cell_energy_is_one_eighth_of_its_supercell(published64):
    atoms = _tiny_triclinic()
    e1, f1, s1 = _evaluate(published64, atoms)
    e8, f8, s8 = _evaluate(published64, atoms.repeat((2, 2, 2)))
    assert e8 == pytest.approx(8 * e1, abs=1e-6)
    assert np.abs(f8 - np.tile(f1, (8, 1))).max() < 1e-8
    assert np.abs(s8 - s1).max() < 1e-10


def test_unknown_element_is_refused(published32):
    atoms = _tiny_triclinic()
    atoms[2].symbol = "Cu"
    atoms.calc = published32
    with pytest.raises(ValueError, match=r"knows the elements H, C, N, Zn.*Cu.*\[2\]"):
        atoms.get_potential_energy()


def test_metadata_and_bad_files(tmp_path):
    calc = LegacyNequIPCalculator(published_model_path(), device="cpu")
    assert calc.type_names == ["H", "C", "N", "Zn"]
    assert calc.r_max == 6.0
    assert calc.metadata["nequip_version"] == "0.5.6"
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.pth is not a model file"):
        load_calculator(junk, device="cpu")
    with pytest.raises(FileNotFoundError, match="neither a model name"):
        load_calculator(tmp_path / "absent.pth")
    with pytest.raises(ValueError, match="dtype"):
        load_calculator("published", dtype="float16")


def test_load_calculator_by_path_is_the_legacy_wrapper():
    calc = load_calculator(str(published_model_path()), device="cpu")
    assert isinstance(calc, LegacyNequIPCalculator)


def test_time_per_atom_call_measures_the_calculator():
    import time

    from ase.build import bulk
    from ase.calculators.emt import EMT

    from zifhelpers.potentials.timing import time_per_atom_call

    class SlowEMT(EMT):
        def calculate(self, *args, **kwargs):
            time.sleep(0.02)  # 20 ms per evaluation
            super().calculate(*args, **kwargs)

    atoms = bulk("Cu", cubic=True).repeat(2)  # 32 atoms
    measured = time_per_atom_call(SlowEMT(), atoms, calls=3)
    assert 20e3 / 32 <= measured < 3 * 20e3 / 32  # one evaluation per call (stress reused)


def test_time_per_atom_call_leaves_warmup_calls_untimed():
    import time

    from ase.build import bulk
    from ase.calculators.emt import EMT

    from zifhelpers.potentials.timing import time_per_atom_call

    class SlowStartEMT(EMT):  # like a TorchScript model optimising itself on its first calls
        evaluations = 0

        def calculate(self, *args, **kwargs):
            self.evaluations += 1
            time.sleep(0.3 if self.evaluations <= 2 else 0.01)
            super().calculate(*args, **kwargs)

    atoms = bulk("Cu", cubic=True).repeat(2)  # 32 atoms
    warm = time_per_atom_call(SlowStartEMT(), atoms, calls=3, warmup=2)
    cold = time_per_atom_call(SlowStartEMT(), atoms, calls=3, warmup=0)
    assert 10e3 / 32 <= warm < 100e3 / 32  # only the 10 ms calls were timed
    assert cold > (2 * 300e3 + 10e3) / 3 / 32  # the two slow calls counted
    with pytest.raises(ValueError, match="warmup"):
        time_per_atom_call(EMT(), atoms, calls=1, warmup=-1)


def test_interleaved_timings_recover_a_known_speedup():
    import time

    from ase.build import bulk
    from ase.calculators.emt import EMT

    from zifhelpers.potentials.timing import interleaved_timings, speedup

    class Sleeper(EMT):  # a known cost and nothing else, so a busy CPU cannot change the ratio
        def __init__(self, seconds):
            super().__init__()
            self.seconds = seconds

        def calculate(self, atoms=None, properties=("energy",), system_changes=()):
            time.sleep(self.seconds)
            self.atoms = atoms.copy()
            n = len(atoms)
            self.results = {"energy": 0.0, "free_energy": 0.0, "forces": np.zeros((n, 3)),
                            "stress": np.zeros(6)}

    atoms = bulk("Cu", cubic=True).repeat(2)  # 32 atoms
    times = interleaved_timings({"slow": Sleeper(0.04), "fast": Sleeper(0.01)}, atoms,
                                calls={"slow": 2, "fast": 3}, warmup=1, rounds=3)
    assert {k: len(v) for k, v in times.items()} == {"slow": 3, "fast": 3}
    assert all(40e3 / 32 <= t < 2 * 40e3 / 32 for t in times["slow"])
    assert 3.0 < speedup(times, "slow", "fast") <= 4.0  # 40 ms against 10 ms, plus overheads
    with pytest.raises(ValueError, match="no number of calls for fast"):
        interleaved_timings({"slow": EMT(), "fast": EMT()}, atoms, calls={"slow": 1})
    with pytest.raises(KeyError, match="no timings of 'other'"):
        speedup(times, "other", "fast")
