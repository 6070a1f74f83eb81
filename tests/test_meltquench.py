"""Melt-quench protocol and the glass-or-crystal verdict."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk

from zifhelpers.data.public import load_structure
from zifhelpers.simulation import meltquench
from zifhelpers.simulation.md import read_thermo, read_trajectory


def test_paper_protocol_schedule():
    sched = meltquench.MeltQuench().schedule()
    names = [s.name for s in sched.stages]
    assert names == ["prepare", "heat", "plateau", "quench", "equilibrate"]
    # 10 + 60 + 50 + 60 + 100 ps at 0.5 fs
    assert [s.steps for s in sched.stages] == [20000, 120000, 100000, 120000, 200000]
    assert sched.at(20000 + 60000)[1] == pytest.approx(900.0)
    hot = meltquench.MeltQuench(t_max_K=1750.0, plateau_ps=0.0).schedule()
    assert [s.name for s in hot.stages] == ["prepare", "heat", "quench", "equilibrate"]
    assert hot.stages[1].timestep_fs == 0.25  # above 1500 K
    assert hot.stages[1].steps == round((1450 / 20) * 1000 / 0.25)


def test_verdict_on_crystal_and_glasses():
    crystal = load_structure("crystal")
    metrics = meltquench.disorder_metrics(crystal, initial=crystal)
    assert metrics == {"ring_disorder": 0.0, "zn_rmsd_A": 0.0}
    assert meltquench.verdict(metrics) == "crystalline"
    assert meltquench.verdict(meltquench.disorder_metrics(load_structure("glass06"))) == "glass"
    # Zn that left their sites make a glass even with the crystal's rings
    assert meltquench.verdict({"ring_disorder": 0.0, "zn_rmsd_A": 4.0}) == "glass"


def test_zn_rmsd_ignores_drift_and_wrapping():
    crystal = load_structure("crystal")
    moved = crystal.copy()
    moved.positions += [7.0, -3.0, 20.0]  # rigid drift, partly across the boundary
    moved.wrap()
    assert meltquench.disorder_metrics(moved, initial=crystal)["zn_rmsd_A"] == pytest.approx(0, abs=1e-9)
    shaken = crystal.copy()
    rng = np.random.default_rng(0)
    zn = shaken.numbers == 30
    shaken.positions[zn] += rng.normal(scale=1.0, size=(zn.sum(), 3))
    rmsd = meltquench.disorder_metrics(shaken, initial=crystal)["zn_rmsd_A"]
    assert rmsd == pytest.approx(np.sqrt(3), rel=0.3)


def test_protocol_runs_every_stage_in_order(tmp_path):
    protocol = meltquench.MeltQuench(t_low_K=300, t_max_K=900, rate_K_per_ps=300000.0,
                                     prepare_ps=0.01, plateau_ps=0.01, equilibrate_ps=0.01,
                                     timestep_fs=2.0, supercell=(1, 1, 1))
    folder = protocol.run(bulk("Cu", cubic=True).repeat(2), tmp_path, calculator="emt",
                          frame_every=1, progress=False)
    thermo = read_thermo(folder)
    stages = list(dict.fromkeys(thermo.stage))
    assert stages == ["prepare", "heat", "plateau", "quench", "equilibrate"]
    assert thermo.target_T_K.max() == pytest.approx(900.0)
    assert thermo.step.is_monotonic_increasing and thermo.step.iloc[-1] == protocol.schedule().total_steps


def _tiny(t_max_K: float) -> meltquench.MeltQuench:
    return meltquench.MeltQuench(t_max_K=t_max_K, rate_K_per_ps=1e6, prepare_ps=0.002,
                                 plateau_ps=0.002, equilibrate_ps=0.002, supercell=(1, 1, 1))


def test_attempt_reports_a_broken_linker_and_does_not_rerun(tmp_path):
    from ase.calculators.lj import LennardJones

    crystal = load_structure("crystal")
    broken = crystal.copy()
    h = [a.index for a in broken if a.symbol == "H"][0]
    broken.positions[h] += [0.0, 0.0, 3.0]  # an H torn off its imidazolate
    soft = LennardJones(sigma=0.5, epsilon=1e-4, rc=1.5)
    out = _tiny(1400.0).attempt(broken, tmp_path / "mq", calculator="soft", frame_every=2,
                                integrity_every=2, integrity_confirm_fs=0.0, progress=False,
                                calc=soft)
    assert out["state"] == "stopped" and "broken linkers" in out["reason"]
    assert out["stage_reached"] == "prepare" and "verdict" not in out
    # confirmed over 50 fs (the default), a run shorter than that still stops for a
    # break that lasts to its end
    late = _tiny(1400.0).attempt(broken, tmp_path / "late", calculator="soft", frame_every=2,
                                 integrity_every=2, progress=False, calc=soft)
    assert late["state"] == "stopped" and "still broken at the end of the run" in late["reason"]
    stamp = (tmp_path / "mq" / "thermo.csv").stat().st_mtime_ns
    again = _tiny(1400.0).attempt(broken, tmp_path / "mq", calculator="soft", calc=object())
    assert again["reason"] == out["reason"]
    assert (tmp_path / "mq" / "thermo.csv").stat().st_mtime_ns == stamp

    # without bonding forces H flies off its C within a few fs: no integrity check here
    done = _tiny(1400.0).attempt(crystal, tmp_path / "ok", calculator="soft", frame_every=2,
                                 integrity_every=0, progress=False, calc=soft)
    assert done["state"] == "finished" and done["stage_reached"] == "equilibrate"
    assert done["max_target_K"] == pytest.approx(1400.0)
    assert done["metrics"] == meltquench.disorder_metrics(done["frames"][-1], done["frames"][0])
    assert done["verdict"] == meltquench.verdict(done["metrics"])


def test_heavier_hydrogens_are_used_by_the_run_and_recorded(tmp_path):
    from ase.calculators.lj import LennardJones

    crystal = load_structure("crystal")
    protocol = meltquench.MeltQuench(t_max_K=600.0, rate_K_per_ps=1e6, prepare_ps=0.004,
                                     plateau_ps=0.002, equilibrate_ps=0.002, supercell=(1, 1, 1),
                                     timestep_fs=2.0, hydrogen_mass_amu=4.0)
    soft = LennardJones(sigma=0.5, epsilon=1e-4, rc=1.5)
    folder = protocol.run(crystal, tmp_path / "mq", calculator="soft", frame_every=1,
                          integrity_every=0, progress=False, calc=soft)
    recipe = json.loads((folder / "run.json").read_text())
    assert recipe["hydrogen_mass_amu"] == 4.0
    assert recipe["schedule"]["timestep_fs"] == 2.0
    frame = read_trajectory(folder)[-1]
    # the run used 4 amu; its frames, and so the material's density, keep the real masses
    assert frame.get_masses()[frame.numbers == 1] == pytest.approx(1.008)
    from zifhelpers.analysis.structure import density

    assert density(frame) == pytest.approx(density(crystal), rel=1e-9)


def test_glass_at_300K_is_one_resumable_production_stage(tmp_path):
    from ase.calculators.lj import LennardJones

    crystal = load_structure("crystal")
    soft = LennardJones(sigma=0.5, epsilon=1e-4, rc=1.5)
    folder = meltquench.glass_at_300K(crystal, tmp_path / "g", "soft", production_ps=0.004,
                                      timestep_fs=1.0, hydrogen_mass_amu=4.0, frame_every=1,
                                      progress=False, calc=soft)
    frames = read_trajectory(folder)
    assert {f.info["stage"] for f in frames} == {"production"}
    assert len(frames) == 5  # steps 0..4
    stamp = (folder / "thermo.csv").stat().st_mtime_ns
    meltquench.glass_at_300K(crystal, tmp_path / "g", "soft", production_ps=0.004,
                             timestep_fs=1.0, hydrogen_mass_amu=4.0, frame_every=1,
                             progress=False, calc=soft)
    assert (folder / "thermo.csv").stat().st_mtime_ns == stamp  # finished: read back


def test_plateau_evolution_sees_displacement_and_bond_switching(crystal):
    def frame(atoms, step, stage):
        f = atoms.copy()
        f.info.update(step=step, time_ps=step * 0.1, stage=stage)
        return f

    shifted = crystal.copy()
    shifted.positions[shifted.numbers == 30] += [0.3, 0.0, 0.0]  # every Zn 0.3 A along x
    swapped = crystal.copy()
    zn_n = _zn_n_pairs(crystal)
    (zn_a, n_a), (zn_b, n_b) = next((p, q) for p in zn_n for q in zn_n if p[0] != q[0])
    swapped.positions[[n_a, n_b]] = swapped.positions[[n_b, n_a]]  # two N trade their Zn
    stale = frame(shifted, 30, "plateau")  # written before a restart, replaced by the later copy
    frames = [frame(crystal, 0, "heat"), frame(crystal, 10, "plateau"), frame(shifted, 20, "plateau"),
              stale, frame(swapped, 30, "plateau"), frame(crystal, 40, "quench")]
    table = meltquench.plateau_evolution(frames)
    assert table.time_ps.tolist() == pytest.approx([0.0, 1.0, 2.0])
    assert table.zn_msd_A2.tolist() == pytest.approx([0.0, 0.09, 0.0], abs=1e-9)
    n_bonds = len(zn_n)
    assert table.new_bond_fraction.iloc[0] == 0.0 and table.ring_disorder.iloc[0] == 0.0
    assert table.new_bond_fraction.iloc[2] == pytest.approx(2 / n_bonds)
    assert table.broken_bond_fraction.iloc[2] == pytest.approx(2 / n_bonds)
    with pytest.raises(ValueError, match="stage 'plateau'"):
        meltquench.plateau_evolution(frames[:1])


def _zn_n_pairs(atoms):
    from zifhelpers.analysis.structure import pairs

    i, j, _ = pairs(atoms, "Zn", "N", 2.5)
    return list(zip(i.tolist(), j.tolist(), strict=True))


def test_a_break_found_at_the_last_step_is_followed_past_the_end(tmp_path):
    """An H stretched past the C-H cutoff at the final step but held by its bond heals within
    the confirmation window: the run finishes, the excursion is logged, nothing is recorded
    past the end. The same H with no bond stays away: the run stops."""
    from ase.calculators.lj import LennardJones

    from zifhelpers.potentials.bias import DistanceRestraint
    from zifhelpers.simulation.md import MDGuardError, MDRun, Schedule, read_trajectory

    crystal = load_structure("crystal")
    stretched = crystal.copy()
    h = [a.index for a in stretched if a.symbol == "H"][0]
    c = int(np.argsort(stretched.get_distances(h, range(len(stretched)), mic=True))[1])
    d = stretched.get_distance(c, h, mic=True, vector=True)
    stretched.positions[h] = stretched.positions[c] + d / np.linalg.norm(d) * 1.45  # past 1.35 A
    no_forces = LennardJones(epsilon=0.0, sigma=1.0, rc=2.0)
    kw = dict(calculator="test", ensemble="nve", frame_every=1, integrity_every=1,
              integrity_confirm_fs=20.0, init_velocities=False)
    one_step = Schedule(0.5).plateau("hold", 1.0, 0.0005)
    bonded = DistanceRestraint(no_forces, c, h, spring_eV_A2=30.0, r0_A=1.08)
    MDRun(tmp_path / "heals", stretched, one_step, calc=bonded, **kw).run(progress=False)
    assert json.loads((tmp_path / "heals" / "status.json").read_text())["state"] == "finished"
    assert len(read_trajectory(tmp_path / "heals")) == 2  # steps 0 and 1, nothing past the end
    assert (tmp_path / "heals" / "transients.csv").read_text().count("\n") == 2
    with pytest.raises(MDGuardError, match="at the end of the run and throughout the 20 fs"):
        MDRun(tmp_path / "stays", stretched, one_step, calc=no_forces, **kw).run(progress=False)


def test_glass_pair_counts_counts_the_new_frames_and_reads_them_back(tmp_path):
    from ase.calculators.lj import LennardJones

    from zifhelpers.analysis.structure import pair_counts

    crystal = load_structure("crystal")
    soft = LennardJones(sigma=0.5, epsilon=1e-4, rc=1.5)
    kw = dict(timestep_fs=1.0, hydrogen_mass_amu=4.0, frame_every=2, progress=False)
    out = meltquench.glass_pair_counts(crystal, tmp_path / "g", "soft", 0.008, calc=soft, **kw)
    frames = [f for f in read_trajectory(tmp_path / "g") if f.info["stage"] == "production"]
    assert out["n_frames"] == len(frames) - 1 == 4  # steps 2..8; step 0 is the glass itself
    r, counts = pair_counts(frames[1:], "Zn", "N", r_max=4.0, bin_width=0.05)
    assert out["counts"] == counts.tolist() and np.allclose(out["r_A"], r)
    assert sum(out["counts"][: int(2.3 / 0.05)]) == 4 * 16 * 4  # 4 frames, 16 Zn, 4 N each
    (tmp_path / "g" / "trajectory.extxyz").unlink()  # a new machine: summary.json only
    again = meltquench.glass_pair_counts(crystal, tmp_path / "g", "soft", 0.008, calc=object(), **kw)
    assert again == out
    with pytest.raises(ValueError, match="other settings.*production_ps"):
        meltquench.glass_pair_counts(crystal, tmp_path / "g", "soft", 0.016, calc=soft, **kw)
