"""Umbrella sampling of a pair distance: windows, MBAR, the Jacobian, and combining pairs."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT

from zifhelpers.analysis.structure import EV_TO_KJ_PER_MOL
from zifhelpers.simulation import umbrella
from zifhelpers.simulation.md import RunFolderError

T = 300.0
KT_KJ = units.kB * T * EV_TO_KJ_PER_MOL  # 2.49 kJ/mol
SPRING = 5.0  # eV/A^2


def _double_well(r, height=26.0):
    """A pair PMF (kJ/mol) with wells at 2.0 and 3.4 A and a barrier of ``height`` at 2.7 A."""
    return height * (1.0 - ((r - 2.7) / 0.7) ** 2) ** 2


def _window_samples(pmf, centers, n, seed=0):
    """Exact draws from each biased window: P(r) ~ r^2 exp(-(W + bias)/kT), by inverse CDF."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(1.5, 3.9, 20001)
    out = {}
    for c in centers:
        bias = 0.5 * SPRING * (grid - c) ** 2 * EV_TO_KJ_PER_MOL
        p = grid**2 * np.exp(-(pmf(grid) + bias - (pmf(grid) + bias).min()) / KT_KJ)
        cdf = np.cumsum(p) / p.sum()
        out[c] = np.interp(rng.random(n), cdf, grid)
    return out


def test_mbar_recovers_a_known_barrier_with_the_jacobian_removed():
    centers = np.round(np.arange(1.9, 3.51, 0.1), 2)
    samples = _window_samples(_double_well, centers, 600)
    edges = np.arange(1.85, 3.56, 0.05)
    out = umbrella.pmf_from_windows(samples, SPRING, T, edges, decorrelate=True)
    b = out["barrier"]
    assert b["resolved"] and b["r_barrier_A"] == pytest.approx(2.7, abs=0.05)
    assert b["barrier"] == pytest.approx(26.0, abs=3 * b["err_kJ_mol"] + 1.0), b  # 1: the bins' width
    assert 0 < b["err_kJ_mol"] < 1.5
    ok = np.isfinite(out["pmf_kJ_mol"])
    truth = _double_well(out["r_A"][ok])
    assert np.abs(out["pmf_kJ_mol"][ok] - (truth - truth.min())).max() < 2.5
    # without the r^2 Jacobian the barrier would be off by 2 kT ln(2.7/2.0) = 1.5 kJ/mol; it is not
    assert abs(b["barrier"] - (26.0 - 2 * KT_KJ * np.log(2.7 / 2.0))) > abs(b["barrier"] - 26.0)


def test_windows_that_stop_before_the_top_do_not_claim_a_barrier():
    centers = np.round(np.arange(1.9, 2.56, 0.1), 2)
    out = umbrella.pmf_from_windows(_window_samples(_double_well, centers, 300), SPRING, T,
                                    np.arange(1.85, 2.8, 0.05))
    assert not out["barrier"]["resolved"]
    with pytest.raises(ValueError, match="need >= 10"):
        umbrella.pmf_from_windows({2.0: np.ones(3)}, SPRING, T, np.arange(1.8, 2.5, 0.1))


def test_combined_pairs_are_dominated_by_the_softest_bond():
    r = np.linspace(1.9, 3.5, 161)
    soft, hard = _double_well(r, 20.0), _double_well(r, 30.0)
    assert np.allclose(umbrella.combine_pair_pmfs(r, [soft, soft], T), soft - soft.min(), atol=1e-9)
    both = umbrella.combine_pair_pmfs(r, [soft, hard], T)
    top = both[np.argmin(np.abs(r - 2.7))]
    assert 20.0 < top < 20.0 + KT_KJ * np.log(2) + 0.5  # one soft bond of two: half its weight


def test_windows_pull_a_copper_pair_apart_and_resume(tmp_path):
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    pair = (0, int(np.argsort(atoms.get_distances(0, range(1, 32), mic=True))[0]) + 1)
    kw = dict(pair=pair, centers_A=[2.55, 2.85], spring_eV_A2=10.0, calculator="emt",
              temperature_K=300.0, equilibrate_ps=0.02, production_ps=0.1, frame_every_fs=4.0,
              timestep_fs=2.0, hydrogen_mass_amu=None, calc=EMT(), progress=False)
    folders = umbrella.umbrella_windows(atoms, tmp_path, **kw)
    means = {c: umbrella.window_distances(f, pair).mean() for c, f in folders.items()}
    assert means[2.85] - means[2.55] > 0.15  # the restraint holds each window near its centre
    before = (folders[2.85] / "trajectory.extxyz").read_bytes()
    assert umbrella.umbrella_windows(atoms, tmp_path, **kw) == folders  # finished: read back
    assert (folders[2.85] / "trajectory.extxyz").read_bytes() == before
    with pytest.raises(RunFolderError, match="other inputs"):
        umbrella.umbrella_windows(atoms, tmp_path, **{**kw, "spring_eV_A2": 3.0})
    with pytest.raises(ValueError, match="centers_A"):
        umbrella.umbrella_windows(atoms, tmp_path, **{**kw, "centers_A": [-1.0]})


def test_bond_force_difference_sees_a_known_extra_spring_and_corrects_the_barrier():
    from zifhelpers.potentials.bias import DistanceRestraint, pair_distance

    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    frames = []
    for seed in range(4):
        f = atoms.copy()
        f.rattle(0.05, seed=seed)
        frames.append(f)
    reference = DistanceRestraint(EMT(), 0, 3, spring_eV_A2=2.0, r0_A=2.3)  # EMT + a spring on the pair
    out = umbrella.bond_force_difference(frames, (0, 3), EMT(), reference)
    expected = np.mean([-2.0 * (pair_distance(f, 0, 3)[0] - 2.3) for f in frames])
    assert out["mean_eV_A"] == pytest.approx(expected, rel=1e-6) and out["n_frames"] == 4
    pmf = {"barrier": {"barrier": 10.0, "err_kJ_mol": 0.5, "r_barrier_A": 2.7, "r_first_A": 2.0}}
    diffs = [{"mean_eV_A": -0.01, "err_eV_A": 0.002}] * 3
    fixed = umbrella.corrected_barrier(pmf, [2.0, 2.35, 2.7], diffs)
    # the reference pulls inwards harder by 0.01 eV/A over 0.7 A: its barrier is higher by 0.675 kJ/mol
    assert fixed["correction_kJ_mol"] == pytest.approx(0.01 * 0.7 * EV_TO_KJ_PER_MOL, rel=1e-6)
    assert fixed["barrier_kJ_mol"] == pytest.approx(10.0 + 0.675, abs=0.001)
    assert fixed["barrier_err_kJ_mol"] > 0.5


def test_boltzmann_combined_barrier_and_a_small_study(tmp_path):
    one = umbrella.boltzmann_combined_barrier([20.0, 20.0], [1.0, 1.0], T)
    assert one["barrier_kJ_mol"] == pytest.approx(20.0) and one["err_kJ_mol"] == pytest.approx(np.sqrt(0.5))
    two = umbrella.boltzmann_combined_barrier([20.0, 30.0], [1.0, 1.0], T)
    assert two["barrier_kJ_mol"] == pytest.approx(20.0 + KT_KJ * np.log(2 / (1 + np.exp(-10 / KT_KJ))))
    assert two["weights"][0] > 0.98
    with pytest.raises(ValueError, match="finite barriers"):
        umbrella.boltzmann_combined_barrier([np.nan], [1.0], T)
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    with pytest.raises(ValueError, match="Zn"):  # no Zn-N bond to hold in copper
        umbrella.barrier_study(atoms, tmp_path, 1, [2.5, 2.6], 5.0, "emt", np.arange(2.3, 2.9, 0.05),
                               calc=EMT(), progress=False)


def test_pooled_barrier_over_studies():
    def bond(b, resolved=True, corrected=None):
        out = {"barrier": {"barrier": b, "err_kJ_mol": 1.0, "resolved": resolved}}
        if corrected is not None:
            out["corrected"] = {"barrier_kJ_mol": corrected, "barrier_err_kJ_mol": 1.5}
        return out

    empty = umbrella.pooled_barrier([None, None])
    assert empty["barrier_kJ_mol"] is None and empty["n_bonds"] == 0 and empty["n_studies"] == 0
    studies = [{"bonds": [bond(25.0, corrected=24.0), bond(99.0, resolved=False)]},
               {"bonds": [bond(25.0, corrected=24.0)]}]
    pooled = umbrella.pooled_barrier(studies)
    assert pooled["corrected"] and pooled["n_bonds"] == 2 and pooled["barrier_kJ_mol"] == pytest.approx(24.0)
    assert pooled["err_kJ_mol"] == pytest.approx(1.5 / np.sqrt(2))
    studies[1]["bonds"].append(bond(30.0))  # one bond without a correction: the sampler's values
    assert not umbrella.pooled_barrier(studies)["corrected"]
