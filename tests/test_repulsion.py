"""Switched ZBL core repulsion: zero at bonding distances, ZBL at short ones, exact forces."""

from __future__ import annotations

import glob

import numpy as np
import pytest
import torch
from ase import Atoms

from zifhelpers.data.datasets import read_dataset
from zifhelpers.potentials import repulsion

SPECIES = ["H", "C", "N", "Zn"]


def _module():
    return repulsion.SwitchedZBL(type_names=SPECIES, chemical_species=SPECIES)


def _energy(module, atoms: Atoms, r_max: float = 5.0) -> torch.Tensor:
    """Energy (eV) of ``atoms`` from the module alone, positions differentiable."""
    from nequip.data import AtomicDataDict, from_ase
    from nequip.data.transforms import (
        ChemicalSpeciesToAtomTypeMapper,
        NeighborListTransform,
    )

    data = from_ase(atoms)
    data = ChemicalSpeciesToAtomTypeMapper(SPECIES)(data)
    data = NeighborListTransform(r_max=r_max)(data)
    data[AtomicDataDict.POSITIONS_KEY].requires_grad_(True)
    out = module(data)
    return out[AtomicDataDict.PER_ATOM_ENERGY_KEY].sum(), data[AtomicDataDict.POSITIONS_KEY]


def _dimer(a: str, b: str, r: float) -> Atoms:
    return Atoms(f"{a}{b}", positions=[[0, 0, 0], [r, 0, 0]], cell=[20, 20, 20], pbc=False)


def test_switch_distances_are_fractions_of_covalent_radii_and_bad_input_is_named():
    inner, outer = repulsion.switch_distances(["C", "H"])
    assert outer[0, 1] == pytest.approx(0.75 * (0.76 + 0.31))
    assert inner[0, 1] == pytest.approx(0.5 * (0.76 + 0.31))
    assert np.allclose(inner, inner.T)
    with pytest.raises(ValueError, match="0 < inner < outer"):
        repulsion.switch_distances(["C"], (0.8, 0.7))
    with pytest.raises(ValueError, match="chemical symbols.*'X1'"):
        repulsion.switch_distances(["C", "X1"])
    with pytest.raises(ValueError, match="units must be 'metal'"):
        repulsion.SwitchedZBL(type_names=SPECIES, chemical_species=SPECIES, units="real")


@pytest.mark.parametrize("a, b", [("H", "C"), ("N", "Zn"), ("H", "H")])
def test_full_zbl_inside_none_outside_monotonic_between(a, b):
    module = _module()
    inner, outer = repulsion.switch_distances([a, b])
    r_in, r_out = inner[0, 1], outer[0, 1]
    za, zb = (torch.tensor(float(_dimer(a, b, 1).numbers[k]), dtype=torch.float64) for k in (0, 1))
    close = 0.9 * r_in
    e_close, _ = _energy(module, _dimer(a, b, close))
    assert float(e_close.detach()) == pytest.approx(
        float(repulsion.zbl_energy(torch.tensor(close, dtype=torch.float64), za, zb)), rel=1e-4)
    assert float(e_close.detach()) > 5.0  # eV: a real wall, not a nudge
    for r in (r_out + 1e-3, 1.2 * r_out, 3.0):
        assert float(_energy(module, _dimer(a, b, r))[0].detach()) == 0.0
    energies = [float(_energy(module, _dimer(a, b, r))[0].detach()) for r in np.linspace(r_in, r_out, 12)]
    assert all(e1 >= e2 for e1, e2 in zip(energies, energies[1:], strict=False))


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def test_forces_match_finite_differences_in_the_switch_region(float64):
    module = _module()
    rng = np.random.default_rng(3)
    # a C-H pair and an N-Zn pair inside their switch regions, far from each other
    atoms = Atoms("CHNZn", positions=[[0, 0, 0], [0.68, 0.05, 0.0], [8, 0, 0], [9.2, 0.1, -0.05]],
                  cell=[20, 20, 20], pbc=False)
    atoms.positions += rng.normal(0, 0.01, atoms.positions.shape)
    energy, pos = _energy(module, atoms)
    (grad,) = torch.autograd.grad(energy, pos)
    forces = -grad.detach().numpy().astype(float)
    assert np.abs(forces).max() > 1.0  # eV/Å, so the comparison means something
    h = 1e-4
    for atom in range(4):
        for axis in range(3):
            e = []
            for sign in (1, -1):
                moved = atoms.copy()
                moved.positions[atom, axis] += sign * h
                e.append(float(_energy(module, moved)[0].detach()))
            tolerance = 1e-5 * max(1.0, abs(forces[atom, axis]))
            assert forces[atom, axis] == pytest.approx(-(e[0] - e[1]) / (2 * h), abs=tolerance)


def test_shipped_training_and_held_out_frames_never_touch_the_wall():
    """The prior must not change any label the students are fitted or judged on."""
    files = sorted(glob.glob("data/reference/*.extxyz.gz") + glob.glob("data/distil/*.extxyz.gz")
                   + glob.glob("data/heldout/*.extxyz.gz"))
    assert len(files) >= 6
    frames = [a for f in files for a in read_dataset(f)]
    shortest = repulsion.shortest_distances(frames)
    _, outer = repulsion.switch_distances(SPECIES)
    index = {s: k for k, s in enumerate(SPECIES)}
    assert ("H", "H") in shortest and ("N", "Zn") in shortest and ("H", "C") in shortest
    for (a, b), dist in shortest.items():
        assert dist > outer[index[a], index[b]], (a, b, dist)


def test_touches_wall_flags_only_frames_with_a_pair_inside_the_outer_distance():
    frames = read_dataset("data/reference/static_structures.extxyz.gz")[:3]
    assert not repulsion.touches_wall(frames).any()
    squeezed = frames[1].copy()
    h = next(k for k, s in enumerate(squeezed.get_chemical_symbols()) if s == "H")
    c = int(np.argmin([squeezed.get_distance(h, k, mic=True) if squeezed[k].symbol == "C" else 9
                       for k in range(len(squeezed))]))
    _, outer = repulsion.switch_distances(["H", "C"])  # C-H outer: 0.75 * (0.31 + 0.76) A
    for distance, expected in ((outer[0, 1] + 0.02, False), (outer[0, 1] - 0.02, True)):
        moved = squeezed.copy()
        vec = moved.get_distance(c, h, mic=True, vector=True)
        moved.positions[h] = moved.positions[c] + vec / np.linalg.norm(vec) * distance
        assert repulsion.touches_wall([frames[0], moved, frames[2]]).tolist() == [False, expected,
                                                                                  False]
    assert repulsion.touches_wall([frames[0]], fractions=(0.5, 1.2)).tolist() == [True]
