"""Mechanics: EOS fit, strain-fluctuation formula and averages, on known answers."""

from __future__ import annotations

import numpy as np
import pytest
from ase.units import kB
from scipy.linalg import sqrtm

from zifhelpers.analysis import elastic
from zifhelpers.simulation import mechanics
from zifhelpers.simulation.md import read_trajectory


def test_bm2_fit_recovers_k0_and_v0_from_noisy_data():
    rng = np.random.default_rng(0)
    v0, k0 = 4380.0, 1.69  # the paper's crystal: K = 1.69 GPa
    volumes = v0 * (1 + 0.015 * np.arange(-4, 5))  # +-1.5 % steps as in the paper
    noise = 0.005
    pressures = elastic.birch_murnaghan2(volumes, k0, v0) + rng.normal(scale=noise, size=volumes.size)
    fit = elastic.fit_birch_murnaghan2(volumes, pressures, np.full(volumes.size, noise),
                                         mass_amu=5303.0)
    assert fit["K0_GPa"] == pytest.approx(k0, abs=3 * fit["K0_err_GPa"])
    assert fit["V0_A3"] == pytest.approx(v0, abs=3 * fit["V0_err_A3"])
    assert 0 < fit["K0_err_GPa"] < 0.1
    assert fit["rho0_g_cm3"] == pytest.approx(5303.0 / v0 * 1.66054, rel=0.01)


def test_bm2_fit_scales_its_errors_when_points_scatter_beyond_their_error_bars():
    # points scattered by 0.03 GPa (a glass relaxing differently at each volume) but given
    # block errors of 0.006: the fit's errors grow by the Birge ratio, to the scatter's size
    v0, k0 = 4700.0, 1.3
    volumes = 4380.0 * (1 + 0.015 * np.arange(-3, 4))
    errors = np.full(volumes.size, 0.006)
    k_fits, k_errs, ratios = [], [], []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        pressures = elastic.birch_murnaghan2(volumes, k0, v0) + rng.normal(scale=0.03, size=volumes.size)
        fit = elastic.fit_birch_murnaghan2(volumes, pressures, errors)
        k_fits.append(fit["K0_GPa"])
        k_errs.append(fit["K0_err_GPa"])
        ratios.append(fit["errors_scaled_by"])
    assert np.median(ratios) == pytest.approx(5.0, rel=0.3)  # sqrt(chi2/dof) ~ 0.03 / 0.006
    # the scaled errors describe the spread of K0 over the 40 data sets (unscaled: 5x too small)
    assert np.median(k_errs) == pytest.approx(np.std(k_fits), rel=0.35)
    # consistent points: chi2/dof about 1 and errors never scaled down
    pressures = elastic.birch_murnaghan2(volumes, k0, v0) + np.random.default_rng(1).normal(
        scale=0.006, size=volumes.size)
    fit = elastic.fit_birch_murnaghan2(volumes, pressures, errors)
    assert fit["errors_scaled_by"] >= 1.0 and fit["chi2_dof"] < 4


def test_bm2_bad_input():
    with pytest.raises(ValueError, match="at least 3"):
        elastic.fit_birch_murnaghan2([1.0, 2.0], [0.1, 0.0])
    with pytest.raises(ValueError, match="equal length"):
        elastic.fit_birch_murnaghan2([1.0, 2.0, 3.0], [0.1, 0.0])


def _zif_like_stiffness():
    c = np.zeros((6, 6))
    c[:3, :3] = 1.2
    c[np.arange(3), np.arange(3)] = [3.2, 3.0, 2.8]
    c[3, 3], c[4, 4], c[5, 5] = 0.9, 1.0, 1.1
    c[0, 4] = c[4, 0] = 0.15  # a little anisotropy coupling
    return c


def _cells_from_stiffness(c, temperature, h0, n, seed):
    """Cells whose Lagrangian strains are Gaussian with cov = kT/V C^-1 (Voigt)."""
    rng = np.random.default_rng(seed)
    volume = abs(np.linalg.det(h0))
    cov = kB * temperature / volume * np.linalg.inv(c) * elastic.EV_PER_A3_TO_GPA
    voigt = rng.multivariate_normal(np.zeros(6), cov, size=n)
    cells = []
    for e in voigt:
        eps = np.array([[e[0], e[5] / 2, e[4] / 2], [e[5] / 2, e[1], e[3] / 2], [e[4] / 2, e[3] / 2, e[2]]])
        stretch = np.real(sqrtm(np.eye(3) + 2 * eps))  # F = U, so (F^T F - I)/2 = eps exactly
        cells.append((stretch @ h0.T).T)
    return np.array(cells)


def test_fluctuation_formula_recovers_a_known_tensor():
    c_true = _zif_like_stiffness()
    h0 = np.diag([15.4231, 15.4042, 18.4379])
    cells = _cells_from_stiffness(c_true, 300.0, h0, 200_000, seed=1)
    c = elastic.elastic_from_cell_fluctuations(cells, 300.0)
    assert np.abs(c - c_true).max() < 0.08  # GPa; sampling noise ~1e-2
    assert np.abs(np.diag(c) - np.diag(c_true)).max() / np.diag(c_true).min() < 0.02
    # K from volume fluctuations agrees with K from C (Reuss, the NPT-consistent average)
    volumes = np.abs(np.linalg.det(cells))
    k_vol = elastic.bulk_modulus_from_volume_fluctuations(volumes, 300.0)
    assert k_vol == pytest.approx(elastic.hill_average(c_true)["K_R"], rel=0.02)
    lengths, stack = elastic.cumulative_elastic(cells[:20000], 300.0, n_points=5)
    assert stack.shape == (len(lengths), 6, 6) and lengths[-1] == 20000


def test_hill_errors_cover_the_truth_shrink_with_the_run_and_see_a_drifting_cell():
    c_true = _zif_like_stiffness()
    truth = elastic.hill_average(c_true)
    h0 = np.diag([15.4231, 15.4042, 18.4379])
    short = elastic.hill_from_cell_fluctuations(_cells_from_stiffness(c_true, 300.0, h0, 400, seed=2), 300.0)
    long = elastic.hill_from_cell_fluctuations(_cells_from_stiffness(c_true, 300.0, h0, 40_000, seed=3), 300.0)
    assert short["n_frames"] == 400 and short["n_blocks"] == 5
    for key in ("K_H", "E_H", "G_H", "nu_H"):
        assert 0 < long[f"{key}_err"] < short[f"{key}_err"] / 5  # 100x the frames: errors / 10
        for est in (short, long):
            assert abs(est[key] - truth[key]) < 4 * est[f"{key}_err"]
            assert est[f"{key}_err"] >= est[f"{key}_jackknife_err"]
    # a run whose cell has not settled: the second half sits 5 % larger (a slow mode, or a
    # volume still relaxing). The whole run fluctuates more than its halves, so it looks soft;
    # the halves' shift, not the jackknife, says by how much
    cells = _cells_from_stiffness(c_true, 300.0, h0, 4000, seed=4)
    cells[2000:] *= 1.05 ** (1 / 3)  # natural volume fluctuations here: about 2.3 %
    drifting = elastic.hill_from_cell_fluctuations(cells, 300.0)
    assert drifting["K_H"] < 0.5 * truth["K_H"]
    assert drifting["K_H_halves_shift"] < -5 * drifting["K_H_jackknife_err"]
    assert drifting["K_H_err"] == pytest.approx(abs(drifting["K_H_halves_shift"]))
    with pytest.raises(ValueError, match="n_blocks must be an integer >= 2"):
        elastic.hill_from_cell_fluctuations(np.zeros((50, 3, 3)), 300.0, n_blocks=1)
    with pytest.raises(ValueError, match="n >= 14"):
        elastic.hill_from_cell_fluctuations(np.tile(h0, (12, 1, 1)), 300.0)


def test_hill_average_isotropic_and_copper():
    lam, mu = 2.0, 1.0
    c = np.zeros((6, 6))
    c[:3, :3] = lam
    c[np.arange(3), np.arange(3)] = lam + 2 * mu
    c[np.arange(3, 6), np.arange(3, 6)] = mu
    avg = elastic.hill_average(c)
    k = lam + 2 * mu / 3
    for key in ("K_V", "K_R", "K_H"):
        assert avg[key] == pytest.approx(k)
    for key in ("G_V", "G_R", "G_H"):
        assert avg[key] == pytest.approx(mu)
    assert avg["nu_H"] == pytest.approx(lam / (2 * (lam + mu)))
    assert avg["E_H"] == pytest.approx(mu * (3 * lam + 2 * mu) / (lam + mu))
    # copper, cubic: closed-form Voigt and Reuss shear moduli
    c11, c12, c44 = 168.4, 121.4, 75.4
    cu = np.zeros((6, 6))
    cu[:3, :3] = c12
    cu[np.arange(3), np.arange(3)] = c11
    cu[np.arange(3, 6), np.arange(3, 6)] = c44
    avg = elastic.hill_average(cu)
    assert avg["K_V"] == pytest.approx((c11 + 2 * c12) / 3)
    assert avg["K_R"] == pytest.approx((c11 + 2 * c12) / 3)
    assert avg["G_V"] == pytest.approx((c11 - c12 + 3 * c44) / 5)
    assert avg["G_R"] == pytest.approx(5 * (c11 - c12) * c44 / (4 * c44 + 3 * (c11 - c12)))
    with pytest.raises(ValueError, match="6x6"):
        elastic.hill_average(np.eye(3))


def test_block_average():
    rng = np.random.default_rng(2)
    x = rng.normal(1.0, 0.5, 10000)
    mean, sem = elastic.block_average(x, 20)
    assert mean == pytest.approx(1.0, abs=4 * 0.5 / 100)
    assert sem == pytest.approx(0.5 / 100, rel=0.5)


def test_lagrangian_strain_of_a_pure_stretch():
    h0 = np.diag([10.0, 10.0, 10.0])
    cells = np.array([h0, h0 * 1.01])
    eps = elastic.lagrangian_strain(cells, reference=h0)
    assert eps[1, 0, 0] == pytest.approx(0.5 * (1.01**2 - 1))
    assert np.abs(eps[0]).max() == 0


def test_zero_kelvin_pv_is_read_back_from_its_workdir_and_refuses_other_inputs(tmp_path):
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from zifhelpers.simulation.md import RunFolderError

    atoms = bulk("Cu", cubic=True).repeat(2)
    atoms.rattle(0.02, seed=1)
    first = mechanics.zero_kelvin_pv(atoms, EMT(), strains=(0.0, 0.02), progress=False,
                                     workdir=tmp_path / "cu")
    assert (tmp_path / "cu" / "zero_k.json").is_file() and (first.relax_steps > 0).all()

    class Refuses(EMT):  # a second call must not compute anything
        def calculate(self, *args, **kwargs):
            raise AssertionError("computed again")

    again = mechanics.zero_kelvin_pv(atoms, Refuses(), strains=(0.0, 0.02), progress=False,
                                     workdir=tmp_path / "cu")
    assert np.allclose(again.to_numpy(), first.to_numpy()) and list(again.index) == [0.0, 0.02]
    with pytest.raises(RunFolderError, match="strains"):
        mechanics.zero_kelvin_pv(atoms, EMT(), strains=(0.0, 0.03), progress=False, workdir=tmp_path / "cu")
    moved = atoms.copy()
    moved.positions[0] += 0.1
    with pytest.raises(RunFolderError, match="structure"):
        mechanics.zero_kelvin_pv(moved, EMT(), strains=(0.0, 0.02), progress=False, workdir=tmp_path / "cu")


def test_zero_kelvin_pv_matches_an_independent_eos_fit():
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.eos import EquationOfState

    atoms = bulk("Cu", cubic=True)
    table = mechanics.zero_kelvin_pv(atoms, EMT(), strains=(-0.03, -0.015, 0.0, 0.015, 0.03),
                                     relax=True, progress=False)
    fit = elastic.fit_birch_murnaghan2(table.volume_A3, table.pressure_GPa)
    eos = EquationOfState(table.volume_A3.to_numpy(), table.energy_eV.to_numpy(), eos="birchmurnaghan")
    v0, _, b = eos.fit()
    assert fit["K0_GPa"] == pytest.approx(b * elastic.EV_PER_A3_TO_GPA, rel=0.03)
    assert fit["V0_A3"] == pytest.approx(v0, rel=0.002)
    # a reference measures the sampler's relaxed structures: itself gives the same pressures,
    # another potential (here EMT with a spring pulling two atoms together) its own
    from zifhelpers.potentials.bias import DistanceRestraint

    atoms = atoms.repeat(2)
    same = mechanics.zero_kelvin_pv(atoms, EMT(), strains=(0.0, 0.02), relax=False, progress=False,
                                    reference=EMT())
    assert np.allclose(same.pressure_ref_GPa, same.pressure_GPa)
    spring = mechanics.zero_kelvin_pv(atoms, EMT(), strains=(0.0, 0.02), relax=False, progress=False,
                                      reference=DistanceRestraint(EMT(), 0, 1, 1.0, 1.0))
    assert (spring.pressure_ref_GPa < spring.pressure_GPa - 1e-3).all()  # a stretched spring: tension


def test_finite_strain_runs_give_a_falling_pressure(tmp_path):
    from ase.build import bulk

    atoms = bulk("Cu", cubic=True).repeat(3)
    table = mechanics.finite_strain_runs(atoms, tmp_path, calculator="emt", strains=(-0.02, 0.0, 0.02),
                                         equilibrate_ps=0.1, production_ps=0.3, frame_every=5,
                                         progress=False)
    assert list(table.index) == [-0.02, 0.0, 0.02]
    assert table.pressure_GPa.is_monotonic_decreasing
    assert (table.pressure_err_GPa > 0).all() and (table.n_frames == 120).all()  # 0.3 ps at 0.5 fs, every 5 steps
    for _, row in table.iterrows():  # 10 blocks of 12 frames, in time order, for a drift check
        assert len(row.pressure_blocks_GPa) == 10
        assert np.mean(row.pressure_blocks_GPa) == pytest.approx(row.pressure_GPa, rel=1e-9)
    fit = elastic.fit_birch_murnaghan2(table.volume_A3, table.pressure_GPa, table.pressure_err_GPa)
    assert 80 < fit["K0_GPa"] < 200  # EMT copper: ~135 GPa at 0 K
    cells = mechanics.strain_fluctuation_run(atoms, tmp_path / "nst", calculator="emt",
                                             equilibrate_ps=0.02, production_ps=0.06, frame_every=2,
                                             progress=False)
    assert cells.shape == (60, 3, 3)


def test_finite_strain_runs_as_a_path_carry_each_volume_on_to_the_next(tmp_path):
    from ase.build import bulk

    from zifhelpers.simulation.md import read_thermo, read_trajectory

    assert mechanics._visiting_order([-0.03, -0.015, 0.0, 0.015, 0.03], path=True) == [
        (0.0, None), (0.015, 0.0), (0.03, 0.015), (-0.015, 0.0), (-0.03, -0.015)]
    atoms = bulk("Cu", cubic=True).repeat(2)
    table = mechanics.finite_strain_runs(atoms, tmp_path, calculator="emt", strains=(0.02, -0.02, 0.0),
                                         equilibrate_ps=0.02, production_ps=0.05, frame_every=5,
                                         progress=False, path_deform_ps=0.02)
    assert list(table.index) == [0.02, -0.02, 0.0]  # the caller's order, whatever the path's
    assert table.pressure_GPa[-0.02] > table.pressure_GPa[0.0] > table.pressure_GPa[0.02]
    # +2 % starts from the last frame of 0 % and is stretched to its volume before equilibrating
    last_of_zero = read_trajectory(tmp_path / "path+0.000", index=-1)
    start = read_trajectory(tmp_path / "path+0.020", index=0)
    assert np.allclose(start.positions, last_of_zero.positions)
    thermo = read_thermo(tmp_path / "path+0.020")
    assert list(dict.fromkeys(thermo.stage)) == ["deform", "equilibrate", "production"]
    assert thermo.volume_A3.iloc[-1] == pytest.approx(table.volume_A3[0.02])
    assert thermo.volume_A3.iloc[0] == pytest.approx(atoms.get_volume())
    assert not (tmp_path / "strain+0.020").exists()
    with pytest.raises(ValueError, match="path_deform_ps"):
        mechanics.finite_strain_runs(atoms, tmp_path / "x", calculator="emt", path_deform_ps=0.0)


def test_finite_strain_runs_with_a_reference_correct_the_samplers_bias(tmp_path):
    """Argon sampled with a 10 % deeper LJ well; the reference is the true one."""
    from ase.build import bulk
    from ase.calculators.lj import LennardJones

    atoms = bulk("Ar", "fcc", a=5.3, cubic=True).repeat(2)
    ref = LennardJones(sigma=3.4, epsilon=0.0104, rc=8.0)
    sampler = LennardJones(sigma=3.4, epsilon=0.0104 * 1.1, rc=8.0)
    table = mechanics.finite_strain_runs(atoms, tmp_path, calculator="lj", strains=(-0.02, 0.02),
                                         temperature_K=40.0, equilibrate_ps=0.05,
                                         production_ps=0.1, frame_every=5, progress=False,
                                         calc=sampler, timestep_fs=2.0, reference=ref,
                                         reference_frames=5)
    assert {"pressure_ref_GPa", "bias_GPa", "force_mae_meV_A"} <= set(table.columns)
    for strain, row in table.iterrows():
        frames = [f for f in read_trajectory(tmp_path / f"strain{strain:+.3f}")
                  if f.info["stage"] == "production"]
        frames = frames[::max(1, len(frames) // 5)]  # the frames finite_strain_runs used
        static = []
        for f in frames:  # the sampler's static pressure is 1.1 x the reference's
            f.calc = ref
            static.append(-f.get_stress()[:3].mean() * 160.21766208)
        assert row.bias_GPa == pytest.approx(0.1 * np.mean(static), rel=1e-6)
        assert row.pressure_ref_GPa == pytest.approx(row.pressure_GPa - row.bias_GPa)
        assert row.pressure_ref_err_GPa >= row.pressure_err_GPa


def test_bm2_fit_flags_pressure_rising_with_volume():
    v = np.array([4200.0, 4300.0, 4400.0, 4500.0])
    p = np.array([-0.2, -0.1, 0.0, 0.1])  # rises with V: no bulk modulus
    with pytest.warns(UserWarning, match="not positive|does not fall"):
        fit = elastic.fit_birch_murnaghan2(v, p)
    assert fit["physical"] is False
    good = elastic.fit_birch_murnaghan2(v, elastic.birch_murnaghan2(v, 1.7, 4350.0))
    assert good["physical"] is True and good["K0_GPa"] == pytest.approx(1.7, rel=1e-6)
    with pytest.raises(ValueError, match="finite"):
        elastic.fit_birch_murnaghan2(v, np.array([0.1, np.nan, 0.0, -0.1]))


def test_hill_average_refuses_asymmetric_and_unstable_tensors():
    c = np.diag([10.0, 10, 10, 3, 3, 3])
    c[0, 1] = c[1, 0] = 4.0
    asym = c.copy()
    asym[0, 2] = 1.0
    with pytest.raises(ValueError, match="not symmetric: C\\[13\\]"):
        elastic.hill_average(asym)
    unstable = c.copy()
    unstable[3, 3] = -1.0
    with pytest.raises(ValueError, match="not positive definite"):
        elastic.hill_average(unstable)


def test_stress_strain_fit_recovers_a_known_tensor_with_honest_errors():
    c_true = _zif_like_stiffness()
    rng = np.random.default_rng(1)
    sigma0 = np.array([0.05, -0.02, 0.01, 0.0, 0.003, -0.004])  # a residual stress, GPa
    strains = np.vstack([s * 0.02 * np.eye(6)[k] for k in range(6) for s in (1, -1)])
    noise = 0.002
    errors = np.full((12, 6), noise)
    stresses = sigma0 + strains @ c_true.T + rng.normal(scale=noise, size=(12, 6))
    c_fit, c_err = elastic.elastic_from_stress_strain(strains, stresses, errors)
    np.testing.assert_allclose(c_fit, c_fit.T)
    # central differences: error of C_ij = noise / (sqrt(2) * 0.02) on the diagonal, /2 more off it
    assert c_err[0, 0] == pytest.approx(noise / (np.sqrt(2) * 0.02), rel=1e-6)
    assert c_err[0, 1] == pytest.approx(noise / (2 * 0.02), rel=1e-6)
    z = np.abs(c_fit - c_true) / c_err
    assert z.max() < 4.5 and 0.3 < np.sqrt((z ** 2).mean()) < 1.8  # errors neither too small nor huge
    c_plain, c_nan = elastic.elastic_from_stress_strain(strains, stresses)
    np.testing.assert_allclose(c_plain, c_fit, atol=1e-12)  # equal weights: same estimate
    assert np.isnan(c_nan).all()


def _stress_strain_table(c_by_seed, noise=0.002, seed=0, drop=None):
    """A stress_strain_runs-like table: 12 runs per seed from a known tensor, reference and sampler."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for s, c in c_by_seed.items():
        for k in range(6):
            for sign in (1.0, -1.0):
                e = sign * 0.02 * np.eye(6)[k]
                ref = e @ c.T + rng.normal(scale=noise, size=6)
                rows.append({"run": f"seed{s}/e{k + 1}{sign * 0.02:+.3f}", **{f"e{i + 1}": e[i] for i in range(6)},
                             **{f"sigma{i + 1}": 2.0 * ref[i] for i in range(6)},  # a sampler twice as stiff
                             **{f"sigma{i + 1}_err": noise for i in range(6)},
                             **{f"sigma{i + 1}_ref": ref[i] for i in range(6)},
                             **{f"sigma{i + 1}_ref_err": noise for i in range(6)}})
    table = pd.DataFrame(rows).set_index("run")
    return table.drop(index=drop) if drop else table


def test_stress_strain_by_seed_fits_each_complete_seed_alone():
    c = _zif_like_stiffness()
    table = _stress_strain_table({0: c, 1: c, 2: 1.5 * c}, drop=["seed2/e6-0.020"])
    by_seed = mechanics.stress_strain_by_seed(table)
    assert list(by_seed) == ["seed0", "seed1"]  # seed2 lacks a run: not fitted
    exact = elastic.hill_average(c)
    for values in by_seed.values():
        for q in ("K_H", "E_H", "G_H", "nu_H"):
            assert abs(values[q] - exact[q]) < 4 * values[f"{q}_err"]
            assert values[f"{q}_err"] < 0.1 * abs(exact[q]) + 0.05  # 2 MPa noise: tight errors
    sampler = mechanics.stress_strain_by_seed(table, measured_by="sampler")
    assert sampler["seed0"]["E_H"] == pytest.approx(2 * by_seed["seed0"]["E_H"], rel=1e-6)
    assert sampler["seed0"]["nu_H"] == pytest.approx(by_seed["seed0"]["nu_H"], rel=1e-6)
    soft = mechanics.stress_strain_by_seed(_stress_strain_table({0: c, 1: -c}))
    assert "K_H" in soft["seed0"] and "positive definite" in soft["seed1"]["error"]
    unseeded = table.rename(index=lambda n: n.split("/", 1)[1]).loc[lambda t: ~t.index.duplicated()]
    assert mechanics.stress_strain_by_seed(unseeded) == {}  # runs without seeds: nothing to compare
    with pytest.raises(ValueError, match="measured_by must be"):
        mechanics.stress_strain_by_seed(table, measured_by="dft")
    with pytest.raises(KeyError, match="no column 'sigma1_ref'"):
        mechanics.stress_strain_by_seed(table.drop(columns=["sigma1_ref"]))


def test_stress_strain_hill_fits_all_runs_and_names_an_unstable_tensor():
    c = _zif_like_stiffness()
    table = _stress_strain_table({0: c, 1: c, 2: c})
    C, C_err, hill = mechanics.stress_strain_hill(table, symmetry="orthorhombic")
    z = np.abs(C - c)[C_err > 0] / C_err[C_err > 0]
    assert z.max() < 4.5 and (C_err[0, 3] == 0.0) and C[0, 3] == 0.0  # Pbca: C14 fixed at zero
    exact = elastic.hill_average(c)
    for q in ("K_H", "E_H", "G_H", "nu_H"):
        assert abs(hill[q] - exact[q]) < 4 * hill[f"{q}_err"]
    one = table.loc[[n for n in table.index if n.startswith("seed0/")]]
    by_seed = mechanics.stress_strain_by_seed(table, symmetry="orthorhombic")
    assert by_seed["seed0"]["E_H"] == pytest.approx(
        mechanics.stress_strain_hill(one, symmetry="orthorhombic")[2]["E_H"], rel=1e-12)
    assert hill["E_H_err"] < by_seed["seed0"]["E_H_err"] / 1.4  # three seeds: about sqrt(3) tighter
    sampler = mechanics.stress_strain_hill(table, "sampler")[2]
    assert sampler["K_H"] == pytest.approx(2 * mechanics.stress_strain_hill(table)[2]["K_H"], rel=1e-6)
    _, _, soft = mechanics.stress_strain_hill(_stress_strain_table({0: -c}))
    assert soft["K_H"] is None and "positive definite" in soft["error"]
    with pytest.raises(KeyError, match="no column 'sigma1_ref'"):
        mechanics.stress_strain_hill(table.drop(columns=["sigma1_ref"]))
    with pytest.raises(ValueError, match="measured_by must be"):
        mechanics.stress_strain_hill(table, measured_by="dft")


def test_stress_strain_fit_refuses_strains_that_miss_a_component():
    strains = np.vstack([s * 0.02 * np.eye(6)[k] for k in range(5) for s in (1, -1)])
    with pytest.raises(ValueError, match="do not span"):
        elastic.elastic_from_stress_strain(strains, np.zeros((10, 6)))
    with pytest.raises(ValueError, match="shape"):
        elastic.elastic_from_stress_strain(np.zeros((4, 6)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="> 0"):
        full = np.vstack([s * 0.02 * np.eye(6)[k] for k in range(6) for s in (1, -1)])
        elastic.elastic_from_stress_strain(full, np.zeros((12, 6)), np.zeros((12, 6)))


def test_voigt_deformation_gives_the_voigt_strain_asked_for():
    cell = np.diag([15.4, 15.3, 18.4])
    for k in range(6):
        f = elastic.voigt_deformation(k, 0.01)
        eps = elastic.lagrangian_strain((cell @ f.T)[None], reference=cell)
        voigt = elastic._voigt_strain(eps)[0]
        expected = np.eye(6)[k] * 0.01
        np.testing.assert_allclose(voigt, expected, atol=1e-4)  # Lagrangian = linear to O(e^2)
    with pytest.raises(ValueError, match="component"):
        elastic.voigt_deformation(6, 0.01)
    with pytest.raises(ValueError, match="small"):
        elastic.voigt_deformation(0, 0.5)


def test_hill_errors_propagate_like_the_closed_form_for_an_isotropic_solid():
    lam, mu, err = 2.0, 1.0, 0.05
    c = np.zeros((6, 6))
    c[:3, :3] = lam
    c[np.arange(3), np.arange(3)] = lam + 2 * mu
    c[np.arange(3, 6), np.arange(3, 6)] = mu
    out = elastic.hill_average_with_errors(c, np.full((6, 6), err), n_samples=4000, seed=3)
    assert out["K_H"] == pytest.approx(lam + 2 * mu / 3)
    # K_V = (C11+C22+C33 + 2(C12+C13+C23))/9 with six independent errors: sqrt(15)/9 err
    assert out["K_V_err"] == pytest.approx(np.sqrt(15) / 9 * err, rel=0.08)
    assert out["unstable_fraction"] == 0.0
    with pytest.raises(ValueError, match="C_err"):
        elastic.hill_average_with_errors(c, np.full((6, 6), -1.0))


def test_hill_errors_are_not_shrunk_by_a_noisy_tensor_and_instability_is_reported():
    """Large errors: the linear propagation keeps K_V's closed-form error (sampling and dropping the
    unstable draws would shrink it), and the share of unstable draws is reported."""
    c = _zif_like_stiffness()
    err = np.full((6, 6), 0.8)
    out = elastic.hill_average_with_errors(c, err, n_samples=1000, seed=0)
    assert out["K_V_err"] == pytest.approx(np.sqrt(15) / 9 * 0.8, rel=1e-6)
    assert 0.05 < out["unstable_fraction"] < 1.0
    fixed = err.copy()
    for i, j in elastic.ORTHORHOMBIC_ZEROS:
        fixed[i, j] = 0.0
    less = elastic.hill_average_with_errors(c, fixed, n_samples=1000, seed=0)
    assert less["unstable_fraction"] < out["unstable_fraction"]
    assert less["G_V_err"] == pytest.approx(out["G_V_err"])  # the Voigt averages use no C_i4..C_i6 coupling
    assert less["G_R_err"] < out["G_R_err"] and less["K_V_err"] == pytest.approx(out["K_V_err"])


def test_orthorhombic_fit_zeroes_the_forbidden_elements_and_keeps_the_nine():
    c_true = _zif_like_stiffness()
    rng = np.random.default_rng(4)
    strains = np.vstack([s * 0.02 * np.eye(6)[k] for k in range(6) for s in (1, -1)])
    stresses = strains @ c_true.T + rng.normal(scale=0.01, size=(12, 6))
    errors = np.full((12, 6), 0.01)
    free, free_err = elastic.elastic_from_stress_strain(strains, stresses, errors)
    ortho, ortho_err = elastic.elastic_from_stress_strain(strains, stresses, errors, symmetry="orthorhombic")
    assert len(elastic.ORTHORHOMBIC_ZEROS) == 24  # 12 pairs (i, j) and (j, i)
    for i, j in elastic.ORTHORHOMBIC_ZEROS:
        assert ortho[i, j] == 0.0 and ortho_err[i, j] == 0.0
        assert free[i, j] != 0.0  # noise that the projection removes
    keep = [(i, j) for i in range(6) for j in range(6) if (i, j) not in elastic.ORTHORHOMBIC_ZEROS]
    assert len({(min(i, j), max(i, j)) for i, j in keep}) == 9
    for i, j in keep:
        assert ortho[i, j] == free[i, j] and ortho_err[i, j] == free_err[i, j]
    with pytest.raises(ValueError, match="symmetry must be"):
        elastic.elastic_from_stress_strain(strains, stresses, errors, symmetry="cubic")


def test_stress_strain_runs_at_low_temperature_give_emt_coppers_static_constants(tmp_path):
    """Near 0 K the MD stresses are the static ones: C of EMT copper from its strained cells."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    atoms = bulk("Cu", cubic=True).repeat(2)
    table = mechanics.stress_strain_runs(atoms, tmp_path, calculator="emt", strain=0.01,
                                         temperature_K=2.0, equilibrate_ps=0.01, production_ps=0.1,
                                         frame_every=2, timestep_fs=5.0, progress=False,
                                         reference=EMT(), reference_frames=4)
    assert len(table) == 12 and table.loc["e4+0.010", "e4"] == 0.01
    strains = table[[f"e{k}" for k in range(1, 7)]].to_numpy()
    c_md, _ = elastic.elastic_from_stress_strain(strains, table[[f"sigma{k}" for k in range(1, 7)]].to_numpy(),
                                                 table[[f"sigma{k}_err" for k in range(1, 7)]].to_numpy())
    static = []
    for k in range(1, 7):
        for row in (table.loc[f"e{k}+0.010"], table.loc[f"e{k}-0.010"]):
            work = atoms.copy()
            e = row[[f"e{j}" for j in range(1, 7)]].to_numpy(dtype=float)
            work.set_cell(atoms.cell.array @ elastic.voigt_deformation(k - 1, e[k - 1]).T, scale_atoms=True)
            work.calc = EMT()
            static.append(work.get_stress(voigt=True) * elastic.EV_PER_A3_TO_GPA)
    c_static, _ = elastic.elastic_from_stress_strain(strains, np.array(static))
    for i, j in [(0, 0), (1, 1), (0, 1), (3, 3), (5, 5)]:
        assert c_md[i, j] == pytest.approx(c_static[i, j], rel=0.05)
    assert c_static[0, 0] > c_static[0, 1] > 0 and c_static[3, 3] > 0  # cubic copper
    # sampler = reference: no bias, the reference's stresses are the sampler's
    np.testing.assert_allclose(table.sigma1_ref, table.sigma1, atol=1e-9)
    assert (table.force_mae_meV_A < 1e-6).all()
    with pytest.raises(ValueError, match="strain"):
        mechanics.stress_strain_runs(atoms, tmp_path / "x", calculator="emt", strain=0.3)


def test_summarize_fits_gives_the_mean_and_spread_of_a_group():
    fits = {"glass01": {"K0_GPa": 3.0, "K0_err_GPa": 0.1, "rho0_g_cm3": 1.2, "rho0_err_g_cm3": 0.01},
            "glass02": {"K0_GPa": 4.0, "K0_err_GPa": 0.1, "rho0_g_cm3": 1.3, "rho0_err_g_cm3": 0.01},
            "crystal": {"K0_GPa": 1.7, "K0_err_GPa": 0.3, "rho0_g_cm3": 1.16, "rho0_err_g_cm3": 0.02}}
    out = elastic.summarize_fits(fits, {"glasses": ["glass01", "glass02", "glass03"], "crystal": ["crystal"],
                                        "none": ["mlp_x"]})
    assert set(out) == {"glasses", "crystal"}
    g = out["glasses"]
    assert g["n"] == 2 and g["K0_mean_GPa"] == pytest.approx(3.5)
    assert g["K0_sd_GPa"] == pytest.approx(np.sqrt(0.5))
    assert g["K0_err_GPa"] == pytest.approx(0.5)  # the spread dominates the fit errors
    assert out["crystal"]["K0_sd_GPa"] is None and out["crystal"]["K0_err_GPa"] == pytest.approx(0.3)
    assert "unphysical" not in g
    fits["glass02"]["physical"] = False
    assert elastic.summarize_fits(fits, {"glasses": ["glass01", "glass02"]})["glasses"]["unphysical"] == ["glass02"]


def test_summarize_elastic_averages_hill_moduli_and_skips_unstable_tensors():
    moduli = {"glass01": {"K_H": 2.0, "K_H_err": 0.4, "E_H": 3.0, "E_H_err": 0.3, "G_H": 1.2,
                          "G_H_err": 0.1, "nu_H": 0.30, "nu_H_err": 0.02},
              "glass02": {"K_H": 3.0, "K_H_err": 0.4, "E_H": 2.0, "E_H_err": 0.3, "G_H": 0.8,
                          "G_H_err": 0.1, "nu_H": 0.34, "nu_H_err": 0.02},
              "glass03": {"K_H": None, "E_H": None, "G_H": None, "nu_H": None, "error": "unstable"}}
    out = elastic.summarize_elastic(moduli, {"abinitio_glasses": ["glass01", "glass02", "glass03"],
                                             "mlp_glasses": ["mlp_x"]})
    g = out["abinitio_glasses"]
    assert set(out) == {"abinitio_glasses"} and g["members"] == ["glass01", "glass02"]
    assert g["K_H_mean_GPa"] == pytest.approx(2.5) and g["nu_H_mean"] == pytest.approx(0.32)
    assert g["K_H_err_GPa"] == pytest.approx(0.5)  # the spread, sd/√2, over the fits' √0.32/2
    assert g["G_H_err_GPa"] == pytest.approx(0.2)
    one = elastic.summarize_elastic({"glass01": moduli["glass01"]}, {"g": ["glass01"]})["g"]
    assert one["K_H_sd_GPa"] is None and one["K_H_err_GPa"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="glass01 of group 'g' has no 'E_H'"):
        elastic.summarize_elastic({"glass01": {"K_H": 2.0}}, {"g": ["glass01"]})


def test_pressure_offset_finds_a_constant_shift_at_the_shared_volumes():
    v = np.linspace(4180.0, 4580.0, 7)
    p_own = 1.3 * np.log(4566.0 / v)
    rng = np.random.default_rng(2)
    p_student = p_own + 0.06 + rng.normal(scale=0.01, size=7)
    out = elastic.pressure_offset(v, p_student, np.full(7, 0.01), v[::-1], p_own[::-1], np.full(7, 1e-3))
    assert out["n"] == 7 and abs(out["offset_GPa"] - 0.06) < 3 * out["offset_err_GPa"]
    assert out["offset_err_GPa"] == pytest.approx(np.hypot(0.01, 1e-3) / np.sqrt(7))
    assert 0.1 < out["chi2_dof"] < 3
    half = elastic.pressure_offset(v[:3], p_student[:3], np.full(3, 0.01), v, p_own, np.full(7, 1e-3))
    assert half["n"] == 3
    with pytest.raises(ValueError, match="share no volume"):
        elastic.pressure_offset(v, p_student, np.full(7, 0.01), v * 1.1, p_own, np.full(7, 0.01))


def test_stress_strain_seeds_are_independent_runs_that_shrink_the_errors(tmp_path):
    """Two seeds: 24 runs in seed<s>/ folders, different noise, errors of C down by about sqrt 2."""
    from ase.build import bulk

    atoms = bulk("Cu", cubic=True).repeat(2)
    kwargs = dict(calculator="emt", strain=0.01, temperature_K=300.0, equilibrate_ps=0.01,
                  production_ps=0.08, frame_every=2, timestep_fs=5.0, progress=False)
    one = mechanics.stress_strain_runs(atoms, tmp_path / "one", seeds=[3], **kwargs)
    two = mechanics.stress_strain_runs(atoms, tmp_path / "two", seeds=[3, 4], **kwargs)
    assert len(two) == 24 and (tmp_path / "two" / "seed4" / "e6-0.010" / "run.json").is_file()
    np.testing.assert_allclose(two.loc[one.index.tolist()].sigma1, one.sigma1)  # seed 3 is seed 3
    assert not np.allclose(two.loc["seed4/e1+0.010"].sigma1, two.loc["seed3/e1+0.010"].sigma1)
    cols = [f"e{k}" for k in range(1, 7)], [f"sigma{k}" for k in range(1, 7)], [f"sigma{k}_err" for k in range(1, 7)]
    _, err_one = elastic.elastic_from_stress_strain(*(one[c].to_numpy() for c in cols))
    _, err_two = elastic.elastic_from_stress_strain(*(two[c].to_numpy() for c in cols))
    ratio = np.diag(err_two) / np.diag(err_one)
    assert 0.4 < np.median(ratio) < 1.0  # about 1/sqrt 2 with errors of errors
    with pytest.raises(ValueError, match="distinct"):
        mechanics.stress_strain_runs(atoms, tmp_path / "x", seeds=[1, 1], **kwargs)


def test_finished_runs_are_read_back_from_their_summaries_alone(tmp_path, monkeypatch):
    """A new machine has only the committed summary.json files: no MD runs again, same rows."""
    import shutil

    from ase.build import bulk

    from zifhelpers.simulation.md import MDRun, RunFolderError

    atoms = bulk("Cu", cubic=True).repeat(2)
    kwargs = dict(calculator="emt", equilibrate_ps=0.01, production_ps=0.03, frame_every=3,
                  progress=False, timestep_fs=2.0)
    pv = mechanics.finite_strain_runs(atoms, tmp_path / "pv", strains=(0.02, -0.02, 0.0),
                                      path_deform_ps=0.01, **kwargs)
    ss = mechanics.stress_strain_runs(atoms, tmp_path / "ss", strain=0.01, seeds=[1], **kwargs)
    cells = mechanics.strain_fluctuation_run(atoms, tmp_path / "nst", **kwargs)
    for folder in tmp_path.rglob("run.json"):  # keep what git keeps
        for path in folder.parent.iterdir():
            if path.name != mechanics.SUMMARY_FILE:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    monkeypatch.setattr(MDRun, "run", lambda *a, **k: pytest.fail("an MD run started again"))
    again = mechanics.finite_strain_runs(atoms, tmp_path / "pv", strains=(0.02, -0.02, 0.0),
                                         path_deform_ps=0.01, **kwargs)
    assert again.equals(pv) or np.allclose(again.to_numpy(), pv.to_numpy(), rtol=1e-12)
    ss_again = mechanics.stress_strain_runs(atoms, tmp_path / "ss", strain=0.01, seeds=[1], **kwargs)
    np.testing.assert_allclose(ss_again.to_numpy(), ss.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(mechanics.strain_fluctuation_run(atoms, tmp_path / "nst", **kwargs),
                               cells, rtol=1e-12)
    # a summary made with other inputs is refused, naming what differs
    with pytest.raises(RunFolderError, match="seed: folder has 1, asked 2"):
        mechanics.stress_strain_runs(atoms, tmp_path / "ss" / "seed1", strain=0.01, seed=2,
                                     **{k: v for k, v in kwargs.items()})
    with pytest.raises(RunFolderError, match="production"):
        mechanics.strain_fluctuation_run(atoms, tmp_path / "nst",
                                         **{**kwargs, "production_ps": 0.05})


def test_a_constant_pressure_offset_moves_bm2_v0_up_and_k0_down_by_four_times_it():
    """What report.offset_note says of a sampling bias δ: V0 by about δ/K0, K0 by about −4δ."""
    volumes = np.linspace(4100.0, 4700.0, 7)
    pressure = elastic.birch_murnaghan2(volumes, 1.30, 4577.0)
    fit = elastic.fit_birch_murnaghan2(volumes, pressure + 0.06, np.full(7, 0.01))
    assert fit["K0_GPa"] == pytest.approx(1.30 - 4 * 0.06, abs=0.03)
    assert fit["V0_A3"] / 4577.0 - 1 == pytest.approx(0.06 / 1.30, rel=0.2)


def test_run_missing_false_reads_back_what_finished_and_runs_nothing(tmp_path, monkeypatch):
    """The tables of a campaign half done: finished runs only, the rest listed as missing."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from zifhelpers.simulation.md import MDRun

    atoms = bulk("Cu", cubic=True).repeat(2)
    kwargs = dict(calculator="emt", equilibrate_ps=0.01, production_ps=0.03, frame_every=3,
                  progress=False, timestep_fs=2.0)
    done = mechanics.finite_strain_runs(atoms, tmp_path / "pv", strains=(-0.02, 0.02), **kwargs)
    mechanics.stress_strain_runs(atoms, tmp_path / "ss", strain=0.01, seeds=[1], **kwargs)
    monkeypatch.setattr(MDRun, "run", lambda *a, **k: pytest.fail("an MD run started"))
    part = mechanics.finite_strain_runs(atoms, tmp_path / "pv", strains=(-0.02, 0.0, 0.02),
                                        run_missing=False, **kwargs)
    assert list(part.index) == [-0.02, 0.02] and part.attrs["missing"] == [0.0]
    np.testing.assert_allclose(part.pressure_GPa, done.pressure_GPa)
    ss = mechanics.stress_strain_runs(atoms, tmp_path / "ss", strain=0.01, seeds=[1, 2],
                                      run_missing=False, **kwargs)
    assert len(ss) == 12 and len(ss.attrs["missing"]) == 12
    assert ss.attrs["missing"][0] == "seed2/e1+0.010"
    path = mechanics.finite_strain_runs(atoms, tmp_path / "path", strains=(0.0, 0.02),
                                        path_deform_ps=0.01, run_missing=False, **kwargs)
    assert len(path) == 0 and path.attrs["missing"] == [0.0, 0.02]
    cells = mechanics.strain_fluctuation_run(atoms, tmp_path / "nst", run_missing=False, **kwargs)
    assert cells.shape == (0, 3, 3)
    assert mechanics.zero_kelvin_pv(atoms, EMT(), workdir=tmp_path / "0K", run_missing=False,
                                    progress=False) is None


def test_processes_share_the_runs_a_busy_folder_is_skipped_and_listed(tmp_path):
    """Another process holds one run's folder: this one runs the rest and lists that one."""
    from ase.build import bulk

    from zifhelpers.simulation.md import _FolderLock

    atoms = bulk("Cu", cubic=True).repeat(2)
    kwargs = dict(calculator="emt", equilibrate_ps=0.01, production_ps=0.03, frame_every=3,
                  progress=False, timestep_fs=2.0)
    with _FolderLock(tmp_path / "ss" / "e3-0.010"), _FolderLock(tmp_path / "pv" / "strain+0.000"):
        ss = mechanics.stress_strain_runs(atoms, tmp_path / "ss", strain=0.01, **kwargs)
        pv = mechanics.finite_strain_runs(atoms, tmp_path / "pv", strains=(-0.02, 0.0), **kwargs)
    assert len(ss) == 11 and ss.attrs["missing"] == ["e3-0.010"]
    assert list(pv.index) == [-0.02] and pv.attrs["missing"] == [0.0]
    again = mechanics.stress_strain_runs(atoms, tmp_path / "ss", strain=0.01, **kwargs)
    assert len(again) == 12 and again.attrs["missing"] == []  # the freed run now runs
