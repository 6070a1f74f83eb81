"""Validation helpers on structures with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zifhelpers.simulation import validation


def test_structural_properties_of_the_crystal(crystal):
    props = validation.structural_properties(crystal, 300.0, ring_every=1, pore_every=1)
    assert props["cn_Zn_N"] == 4.0
    assert props["rings"] == {8: 4.0, 12: 16.0, 16: 32.0}
    assert props["pore_cm3_kg"] == pytest.approx(54, abs=2)
    assert (props["intact_linkers"], props["n_linkers"]) == (32, 32)
    assert np.nanmin(props["pmf_ZnN_kJmol"]) == 0.0
    assert 1.9 < props["r"][np.argmax(props["g_ZnN"])] < 2.1


def test_xray_comparison_of_the_crystal(crystal):
    x = validation.xray_comparison(crystal, 31, r_max=15.0)
    assert len(x["fq"]) == len(x["fq_exp"])
    assert abs(x["peaks_model"][1] - x["peaks_experiment"][1]) < 0.05


def test_compare_potentials_shares_runs_and_measures_each(tmp_path):
    from ase.calculators.lj import LennardJones

    soft = LennardJones(sigma=0.5, epsilon=1e-4, rc=1.5)  # almost free flight for 2 fs
    props = validation.compare_potentials(
        {"reference": "soft", "same spec": "soft"}, ["crystal_300K"], tmp_path,
        production_ps=0.002, frame_every=1, ring_every=1, pore_every=2, progress=False,
        calcs={"reference": soft, "same spec": soft})
    assert set(props) == {("reference", "crystal_300K"), ("same spec", "crystal_300K")}
    assert [p.name for p in tmp_path.iterdir()] == ["soft"]  # one run for one spec
    assert props["reference", "crystal_300K"] is props["same spec", "crystal_300K"]
    assert validation.run_folder("crystal_300K", "soft", tmp_path).is_dir()
    p = props["reference", "crystal_300K"]
    assert p["n_frames"] == 5  # the starting frame and 4 steps of 0.5 fs
    assert p["cn_Zn_N"] == 4.0 and (p["intact_linkers"], p["n_linkers"]) == (32, 32)
    assert p["rings"] == {8: 4.0, 12: 16.0, 16: 32.0}
    with pytest.raises(ValueError, match="glass42_300K"):
        validation.compare_potentials({"a": "soft"}, ["glass42_300K"], tmp_path, 0.002)
    overlaps = validation.distribution_overlaps(props, "reference", "same spec")
    assert list(overlaps) == ["crystal_300K"]
    assert overlaps["crystal_300K"] == pytest.approx({"g_ZnN": 1.0, "g_ZnZn": 1.0, "p_NZnN": 1.0})
    with pytest.raises(ValueError, match="both"):
        validation.distribution_overlaps(props, "reference", "absent")
    # heavy hydrogens at 2 fs: 2 steps for the same 4 fs, the H masses recorded with the run
    heavy = validation.compare_potentials(
        {"reference": "soft"}, ["crystal_300K"], tmp_path / "heavy", production_ps=0.004,
        frame_every=1, ring_every=1, pore_every=2, progress=False, calcs={"reference": soft},
        timestep_fs=2.0, hydrogen_mass_amu=4.0)
    assert heavy["reference", "crystal_300K"]["n_frames"] == 3
    recipe = json.loads((validation.run_folder("crystal_300K", "soft", tmp_path / "heavy") / "run.json").read_text())
    assert "4.0" in json.dumps(recipe) and recipe["schedule"]["timestep_fs"] == 2.0
    # a C-H excursion must last 50 fs to stop a run; each healed one is counted
    assert recipe["integrity_confirm_fs"] == 50.0 and heavy["reference", "crystal_300K"]["transients"] == 0
    folder = validation.run_folder("crystal_300K", "soft", tmp_path / "heavy")
    (folder / "transients.csv").write_text('step,time_ps,healed_by_step,seen\n2,0.004,3,"free H: atoms [141]"\n')
    again = validation.compare_potentials(
        {"reference": "soft"}, ["crystal_300K"], tmp_path / "heavy", production_ps=0.004, frame_every=1,
        ring_every=1, pore_every=2, progress=False, calcs={"reference": soft}, timestep_fs=2.0,
        hydrogen_mass_amu=4.0)
    assert again["reference", "crystal_300K"]["transients"] == 1


def test_overlap_of_shifted_distributions_is_below_one(crystal):
    a = validation.structural_properties(crystal, 300.0, ring_every=1, pore_every=1)
    moved = crystal.copy()
    moved.positions[moved.numbers == 30] += [0.2, 0.0, 0.0]
    b = validation.structural_properties(moved, 300.0, ring_every=1, pore_every=1)
    out = validation.distribution_overlaps({("x", "c"): a, ("y", "c"): b}, "x", "y")["c"]
    assert out["g_ZnZn"] == pytest.approx(1.0)  # Zn-Zn distances unchanged by a rigid Zn shift
    assert out["g_ZnN"] < 0.6 and out["p_NZnN"] < 0.9


def test_reference_on_frames_measures_a_known_bias():
    """A sampler whose LJ well is 10 % deeper: forces and virial pressure 10 % larger."""
    from ase.build import bulk
    from ase.calculators.lj import LennardJones

    rng = np.random.default_rng(3)
    frames = []
    for _ in range(4):
        a = bulk("Ar", "fcc", a=5.4, cubic=True).repeat(2)
        a.rattle(0.1, rng=rng)
        frames.append(a)
    ref = LennardJones(sigma=3.4, epsilon=0.0104, rc=8.0)
    sampler = LennardJones(sigma=3.4, epsilon=0.0104 * 1.1, rc=8.0)
    out = validation.reference_on_frames(frames, ref, sampler, progress=False)
    assert out["n_frames"] == 4
    assert out["pressure_sampler_mean_GPa"] == pytest.approx(1.1 * out["pressure_ref_mean_GPa"])
    assert out["pressure_bias_GPa"] == pytest.approx(0.1 * out["pressure_ref_mean_GPa"])
    mae_ref = np.mean([1e3 * np.abs(_forces(f, ref)).mean() for f in frames])
    assert out["force_mae_mean_meV_A"] == pytest.approx(0.1 * mae_ref)
    with pytest.raises(ValueError, match="no frames"):
        validation.reference_on_frames([], ref, sampler)


def _forces(atoms, calc):
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms.get_forces()


def test_run_system_restarts_a_broken_run_only_within_its_budget(tmp_path, breaking_runs):
    from zifhelpers.simulation.md import MDGuardError, count_restarts

    calls = breaking_runs  # two confirmed breaks, then the run finishes
    with pytest.raises(MDGuardError):  # no budget: the first break ends it
        validation.run_system("liquid_1500K", "emt", tmp_path / "none", 0.002, seed=3)
    assert calls["redraw"] == []
    calls.update(run=0)
    with pytest.raises(MDGuardError, match="broken linkers"):  # budget 1, two breaks
        validation.run_system("liquid_1500K", "emt", tmp_path / "one", 0.002, seed=3, restarts_on_break=1)
    assert calls["redraw"] == [3001] and count_restarts(tmp_path / "one" / "emt" / "liquid_1500K") == 1
    calls.update(run=0, redraw=[])
    validation.run_system("liquid_1500K", "emt", tmp_path / "two", 0.002, seed=3, restarts_on_break=2)
    assert calls["redraw"] == [3001, 3002] and count_restarts(tmp_path / "two" / "emt" / "liquid_1500K") == 2
