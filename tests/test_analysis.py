"""Structure analysis with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from zifhelpers import analysis
from zifhelpers.data.public import load_structure


def test_crystal_zn_are_all_tetrahedral(crystal):
    cn = analysis.coordination(crystal, center="Zn", neighbor="N", cutoff=2.5)
    assert cn.shape == (16,)
    assert np.all(cn == 4)
    # every N of ZIF-4 binds one Zn
    assert np.all(analysis.coordination(crystal, "N", "Zn", 2.5) == 1)


def test_ab_initio_glass_coordination_matches_the_paper():
    cns = [analysis.coordination(load_structure(f"glass{i:02d}")).mean() for i in range(1, 11)]
    assert np.mean(cns) == pytest.approx(3.93, abs=0.005)  # paper: 3.93


def test_unknown_element_is_reported(crystal):
    with pytest.raises(ValueError, match="no Cu atom"):
        analysis.coordination(crystal, "Cu", "N")
    with pytest.raises(ValueError, match="'Xx' is not a chemical element"):
        analysis.coordination(crystal, "Xx", "N")


def test_ideal_gas_rdf_is_one():
    rng = np.random.default_rng(3)
    cell = np.array([[20.0, 0, 0], [4.0, 18.0, 0], [-3.0, 2.0, 19.0]])  # triclinic
    frames = []
    for _ in range(20):
        n = 400
        symbols = ["Zn"] * 200 + ["N"] * 200
        frames.append(Atoms(symbols, scaled_positions=rng.random((n, 3)), cell=cell, pbc=True))
    r, g = analysis.rdf(frames, "Zn", "N", r_max=12.0, n_bins=24)
    assert np.abs(g[r > 3] - 1).max() < 0.1
    assert np.abs(g[r > 3].mean() - 1) < 0.01
    r, g = analysis.rdf(frames, "Zn", "Zn", r_max=12.0, n_bins=24)  # same species
    assert np.abs(g[r > 3].mean() - 1) < 0.015


def test_rdf_counts_the_coordination_shell(crystal):
    """Integrating g_ZnN over the first peak gives 4 N per Zn."""
    r, g = analysis.rdf(crystal, "Zn", "N", r_max=2.5, n_bins=250)
    rho_n = 64 / crystal.get_volume()
    edges = np.linspace(0, 2.5, 251)
    shells = 4 / 3 * np.pi * np.diff(edges**3)
    assert np.sum(g * rho_n * shells) == pytest.approx(4.0, abs=1e-9)
    assert 1.9 < r[np.argmax(g)] < 2.1


def test_pmf_is_zero_at_the_peak_and_scales_with_temperature():
    g = np.array([0.0, 0.5, 2.0, 1.0])
    f = analysis.pmf(g, 300.0, units="eV")
    assert np.isnan(f[0]) and f[2] == 0.0
    assert f[1] == pytest.approx(8.617333e-5 * 300 * np.log(4), rel=1e-6)
    assert analysis.pmf(g, 600.0, units="eV")[1] == pytest.approx(2 * f[1])
    assert analysis.pmf(g, 300.0)[1] == pytest.approx(f[1] * 96.485332, rel=1e-6)


def test_perfect_tetrahedron_angles():
    zn = np.array([5.0, 5.0, 5.0])
    dirs = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)
    atoms = Atoms("ZnN4", positions=np.vstack([zn, zn + 2.0 * dirs]), cell=[10] * 3, pbc=True)
    angles = analysis.bond_angles(atoms)
    assert len(angles) == 6
    assert np.allclose(angles, np.degrees(np.arccos(-1 / 3)))
    theta, p = analysis.angle_distribution(atoms, n_bins=180)
    assert theta[np.argmax(p)] == pytest.approx(109.5)
    assert p.sum() * (theta[1] - theta[0]) == pytest.approx(1.0)


def test_crystal_angles_are_near_tetrahedral(crystal):
    angles = analysis.bond_angles(crystal)
    assert len(angles) == 16 * 6
    assert 105 < angles.mean() < 113


def test_msd_of_a_uniform_drift_across_the_boundary():
    atoms = Atoms("Zn2", positions=[[1, 1, 1], [5, 5, 5]], cell=[6, 6, 6], pbc=True)
    frames = []
    for k in range(10):
        moved = atoms.copy()
        moved.positions += [0.5 * k, 0, 0]
        moved.wrap()
        frames.append(moved)
    assert np.allclose(analysis.msd(frames), (0.5 * np.arange(10)) ** 2)


def test_pore_volume_of_the_crystal_matches_the_paper_within_mc_noise(crystal):
    one = analysis.pore_volume(crystal, probe_radius=1.2, samples_per_atom=2000)
    two = analysis.pore_volume(crystal, probe_radius=1.2, samples_per_atom=500)
    assert one["total_cm3_kg"] == pytest.approx(54, abs=2.0)  # paper: 54 cm3/kg
    # independent runs agree within the binomial noise of the volume fraction
    f = one["total_fraction"]
    sigma = np.sqrt(f * (1 - f) / (500 * len(crystal)))
    assert abs(one["total_fraction"] - two["total_fraction"]) < 4 * sigma + 1e-3
    # no pore for a probe larger than the windows and cavities
    assert analysis.pore_volume(crystal, probe_radius=3.5)["total_cm3_kg"] == 0.0


def test_density_uses_real_masses_whatever_the_run_used(crystal):
    # the crystal's density (Table 2 and notebook 00: 1.21 g/cm3 for the Lewis cell);
    # an MD frame with hydrogens at 4 amu must give the same
    heavy = crystal.copy()
    masses = heavy.get_masses()
    masses[heavy.numbers == 1] = 4.0
    heavy.set_masses(masses)
    assert analysis.density(heavy) == pytest.approx(analysis.density(crystal), rel=1e-12)
    assert 1.15 < analysis.density(crystal) < 1.27


def test_pmf_barrier_of_a_double_well_recovers_its_height():
    r = np.linspace(1.5, 5.0, 351)
    # two wells at 2.0 and 4.0 A, a barrier of 26 kJ/mol at 3.0 A above the first well
    free = 26.0 * np.sin(np.pi * (r - 2.0) / 2.0) ** 2
    free[r > 3.0] = 26.0 - 6.0 * np.sin(np.pi * (r[r > 3.0] - 3.0) / 2.0) ** 2
    free[r < 2.0] = 40.0 * (2.0 - r[r < 2.0])
    out = analysis.pmf_barrier(r, free)
    assert out["barrier"] == pytest.approx(26.0, abs=1e-6)
    assert out["r_first_A"] == pytest.approx(2.0, abs=0.011)
    assert out["r_barrier_A"] == pytest.approx(3.0, abs=0.011)
    assert out["r_second_A"] == pytest.approx(4.0, abs=0.011)


def test_pmf_barrier_is_infinite_across_an_unsampled_gap(crystal):
    # in the crystal no Zn-N distance lies between the bond (2 A) and the ring's far N:
    # g = 0 there, so no finite barrier
    r, g = analysis.rdf(crystal, "Zn", "N", r_max=6.0, n_bins=240)
    out = analysis.pmf_barrier(r, analysis.pmf(g, 300.0))
    assert out["barrier"] == np.inf
    assert 1.9 < out["r_first_A"] < 2.1


def test_pmf_barrier_refuses_bad_input():
    with pytest.raises(ValueError, match="one length"):
        analysis.pmf_barrier(np.arange(3.0), np.arange(4.0))
    with pytest.raises(ValueError, match="no finite value"):
        analysis.pmf_barrier(np.arange(3.0), np.full(3, np.nan))


def test_pair_counts_of_the_crystal_count_four_nitrogens_per_zinc(crystal):
    r, counts = analysis.pair_counts([crystal, crystal], "Zn", "N", r_max=4.0, bin_width=0.05)
    n_zn = int((crystal.numbers == 30).sum())
    assert counts[r < 2.5].sum() == 2 * 4 * n_zn  # two frames, tetrahedral Zn
    assert counts.dtype.kind == "i" and len(r) == 80 and r[0] == pytest.approx(0.025)


def test_barrier_lower_bound_from_an_empty_bin_and_an_estimate_from_a_sampled_one():
    kt = 0.0083144626 * 300.0  # kJ/mol
    r = np.round(np.arange(1.5, 4.0, 0.05), 3)  # bin centres on 2.0 (the well) and 2.8 (the top)
    # Boltzmann counts of a PMF with a 20 kJ/mol barrier at 2.8 A (times r^2, as pairs in shells)
    free = np.where(r < 2.8, 20.0 * ((r - 2.0) / 0.8) ** 2, 20.0 - 10.0 * ((r - 2.8) / 1.2))
    exact = 1e12 * np.exp(-free / kt) * r ** 2
    sampled = analysis.barrier_lower_bound(r, np.round(exact), 300.0, window=(2.5, 3.2))
    assert sampled["resolved"] and sampled["lower_bound"] == pytest.approx(20.0, abs=1e-4)
    assert sampled["r_empty_A"] == pytest.approx(2.8) and sampled["r_peak_A"] == pytest.approx(2.0)
    few = np.floor(exact / 1e12 * 300)  # 1200 pairs in the peak bin: the barrier bin is empty
    out = analysis.barrier_lower_bound(r, few, 300.0)
    assert not out["resolved"] and out["count_empty"] == 0
    expected = kt * np.log((few / r ** 2)[r < 2.5].max() * out["r_empty_A"] ** 2)  # one count there
    assert out["lower_bound"] == pytest.approx(expected) and out["lower_bound"] < 20.0
    pooled = analysis.barrier_lower_bound(r, 3 * few, 300.0)  # three runs pooled: + kT ln 3
    assert pooled["lower_bound"] - out["lower_bound"] == pytest.approx(kt * np.log(3.0))
    with pytest.raises(ValueError, match="no bin in the window"):
        analysis.barrier_lower_bound(r, few, 300.0, window=(5.0, 6.0))
    with pytest.raises(ValueError, match="no pair below"):
        analysis.barrier_lower_bound(r, np.zeros_like(r), 300.0)
    with pytest.raises(ValueError, match=">= 0"):
        analysis.barrier_lower_bound(r, -few, 300.0)


def test_distribution_overlap_is_one_for_one_shape_and_zero_for_disjoint_ones():
    p = np.array([0.0, 1.0, 3.0, 1.0, 0.0])
    assert analysis.distribution_overlap(p, 10 * p) == pytest.approx(1.0)
    assert analysis.distribution_overlap(p, np.array([1.0, 0, 0, 0, 1.0])) == 0.0
    assert analysis.distribution_overlap(p, np.roll(p, 1)) == pytest.approx(0.4)  # min: 0, 0, 1, 1, 0 (/5)
    with pytest.raises(ValueError, match="one length"):
        analysis.distribution_overlap(p, p[:3])
    with pytest.raises(ValueError, match="empty"):
        analysis.distribution_overlap(p, np.zeros(5))
    with pytest.raises(ValueError, match=">= 0"):
        analysis.distribution_overlap(p, -p)


def test_pore_volume_refuses_a_non_periodic_structure_instead_of_exiting(crystal):
    molecule = crystal.copy()
    molecule.pbc = False
    with pytest.raises(ValueError, match="fully periodic"):
        analysis.pore_volume(molecule)


def test_zeo_aborting_raises_an_error_and_keeps_the_interpreter(crystal, monkeypatch):
    """Zeo++ aborted (SIGABRT) once in CI on an MD frame, killing the test worker: it runs in a
    child process now, so a crash is an error naming the signal."""
    from zifhelpers.analysis import structure

    monkeypatch.setattr(structure, "_ZEO_SCRIPT", "import os; os.abort()")
    with pytest.raises(RuntimeError, match=r"died 2 times .*signal 6 \(SIGABRT\).*interpreter was kept"):
        analysis.pore_volume(crystal)


def test_msd_windows_recovers_a_random_walks_diffusion_across_the_boundary():
    # a random walk with steps of variance s2 per axis: MSD(m frames) = 3 m s2 exactly on average
    rng = np.random.default_rng(0)
    n_atoms, n_frames, s2 = 200, 401, 0.01
    walk = np.cumsum(rng.normal(0.0, np.sqrt(s2), (n_frames, n_atoms, 3)), axis=0)
    frames = []
    for k, pos in enumerate(walk):
        a = Atoms(f"Zn{n_atoms}", positions=pos + 3.0, cell=[6, 6, 6], pbc=True)
        a.wrap()  # the walkers cross the boundary many times
        a.info["time_ps"] = 0.05 * k
        frames.append(a)
    out = analysis.msd_windows(frames, [0.05, 1.0, 5.0], "Zn")
    for lag, r in out.items():
        m = round(lag / 0.05)
        assert r["windows"] == (n_frames - 1) // m
        assert abs(r["mean"] - 3 * m * s2) < 4 * r["err"] + 1e-9, (lag, r)
        assert r["err"] > 0
    # the first frame of each window is an origin; an uneven time axis is refused
    frames[3].info["time_ps"] = 0.2
    with pytest.raises(ValueError, match="not evenly spaced"):
        analysis.msd_windows(frames, [1.0])
    with pytest.raises(ValueError, match="lag 100"):
        analysis.msd_windows(frames, [100.0], frame_interval_ps=0.05)
