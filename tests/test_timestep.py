"""Heavier hydrogens and a 2 fs step against real masses at 0.5 fs."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.optimize import BFGS

from zifhelpers.simulation import timestep
from zifhelpers.simulation.validation import production_frames


def _copper_hydride():
    """32 Cu and 2 H in octahedral sites, relaxed with EMT: a cheap solid with fast H modes."""
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    for site in [(0.5, 0.5, 0.5), (1.5, 1.5, 1.5)]:
        atoms.append("H")
        atoms.positions[-1] = np.array(site) * 3.61
    atoms.calc = EMT()
    BFGS(atoms, logfile=None).run(fmax=0.01, steps=300)
    atoms.calc = None
    return atoms


def test_observables_of_zif_frames_and_their_comparison(crystal):
    rng = np.random.default_rng(0)

    def frames(shift_A, n=41):
        out = []
        for k in range(n):
            f = crystal.copy()
            f.info["time_ps"] = 0.05 * k
            f.positions += rng.normal(scale=0.03, size=f.positions.shape)
            f.positions[f.numbers == 30] += shift_A  # moves Zn: stretches Zn-N bonds on one side
            f.info.update(temperature_K=300 + rng.normal(scale=15), epot_eV=-60083 + rng.normal(scale=0.3),
                          pressure_GPa=0.1 + rng.normal(scale=0.02))
            out.append(f)
        return out

    same = {"a": timestep.run_observables(frames(0.0)), "b": timestep.run_observables(frames(0.0))}
    assert same["a"]["cn_Zn_N"]["mean"] == 4.0 and 1.9 < same["a"]["r_ZnN_A"]["mean"] < 2.1
    assert 105 < same["a"]["angle_NZnN_deg"]["mean"] < 112  # tetrahedral Zn
    assert same["a"]["temperature_sd_K"]["canonical"] == pytest.approx(300 * np.sqrt(2 / (3 * 272)), rel=0.05)
    # independent 0.03 A jitter on every frame: MSD = 2 x 3 x 0.03^2 A^2 at any lag, for every species
    for key in ("msd_Zn_0.1ps", "msd_N_0.1ps", "msd_H_0.1ps"):
        assert same["a"][key]["mean"] == pytest.approx(6 * 0.03**2, rel=0.1) and same["a"][key]["dynamical"]
    assert "msd_H_1ps" not in same["a"]  # 2 ps of frames: a 1 ps lag has no three windows
    table = timestep.compare_samplings(same, "a").set_index("observable")
    assert table[table.kind == "configurational"].within_error.all(), table
    assert (table[table.kind == "dynamical"].z.abs() < 3).all(), table
    assert table.loc["msd_Zn_0.1ps", "kind"] == "dynamical" and table.loc["pressure_GPa", "kind"] == "configurational"
    assert table.loc["msd_Zn_0.1ps", "ratio"] == pytest.approx(1.0, abs=0.2)
    moved = {"a": same["a"], "c": timestep.run_observables(frames(np.array([0.3, 0.0, 0.0])))}
    table = timestep.compare_samplings(moved, "a").set_index("observable")
    assert not table.loc["r_ZnN_A", "within_error"]  # 0.3 A Zn shift: bonds differ far beyond the error
    assert not table.loc["g_ZnN overlap", "within_error"]
    with pytest.raises(KeyError, match="baseline"):
        timestep.compare_samplings(same, "z")
    with pytest.raises(ValueError, match="lack"):
        timestep.run_observables([crystal.copy() for _ in range(10)])
    with pytest.raises(ValueError, match="at least 10"):
        timestep.run_observables(frames(0.0, n=4))


@pytest.mark.slow
def test_heavy_hydrogens_at_2_fs_sample_what_real_ones_at_half_a_fs_do(tmp_path):
    """Configurational averages within their errors; energy conserved better than real H at 2 fs."""
    atoms = _copper_hydride()
    folders = timestep.sampling_runs(atoms, tmp_path / "nvt", "emt", 300.0, 0.2, 3.0,
                                     frame_every_fs=20.0, calc=EMT(), progress=False)
    observables = {label: timestep.run_observables(production_frames(f)) for label, f in folders.items()}
    table = timestep.compare_samplings(observables, "real H, 0.5 fs").set_index("observable")
    static = table[table.kind == "configurational"]
    assert set(static.index) == {"temperature_K", "epot_eV_atom", "pressure_GPa"}
    assert (static.z.abs() < 3).all(), table  # 3 sigma: a test must not be flaky
    assert (table.err > 0).all()
    # H rattling in its octahedral site: past a vibration period its MSD is twice its mean square
    # amplitude, a configurational average again, whatever its mass
    assert set(table[table.kind == "dynamical"].index) == {"msd_H_0.1ps"}  # 3 ps: no 3 windows of 1 ps
    assert abs(table.loc["msd_H_0.1ps", "z"]) < 3, table
    drift = timestep.nve_drift(atoms, tmp_path / "nve", "emt", 300.0, 0.5, calc=EMT(), progress=False,
                               settings={**timestep.SETTINGS, "real H, 2 fs": {"timestep_fs": 2.0}})
    fluct = {label: d["fluctuation_meV_atom"] for label, d in drift.items()}
    assert fluct["real H, 2 fs"] > 2 * fluct["H 4 amu, 2 fs"]  # heavy H: the step resolves its vibration
    assert fluct["real H, 0.5 fs"] < fluct["real H, 2 fs"]
    assert drift["H 4 amu, 2 fs"]["hydrogen_mass_amu"] == 4.0 and drift["real H, 0.5 fs"]["steps"] == 1000
    with pytest.raises(ValueError, match="timestep_fs"):
        timestep.sampling_runs(atoms, tmp_path / "bad", "emt", 300.0, 0.1, 0.1,
                               settings={"x": {"timestep_fs": 0.0}}, calc=EMT())
