"""MD engine: schedules, thermostats, NVE drift, guards, and exact resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from conftest import NaNAfter  # tests/ is on sys.path (pytest rootdir conftest)

from zifhelpers.simulation.md import (
    MDGuardError,
    MDRun,
    Schedule,
    read_thermo,
    read_trajectory,
)


def _copper():
    return bulk("Cu", cubic=True).repeat((3, 3, 3))  # 108 atoms, EMT is fast


def test_schedule_stages_and_ramps():
    sched = (
        Schedule(0.5)
        .plateau("prep", 300, 1.0)
        .ramp("heat", 300, 1500, 20.0)
        .plateau("melt", 1500, 2.0, timestep_fs=0.25)
    )
    assert [s.steps for s in sched.stages] == [2000, 120000, 8000]
    assert sched.at(0) == (0, 300.0, 0.5)
    k, temp, dt = sched.at(2000 + 60000)  # half-way up the ramp
    assert (k, dt) == (1, 0.5) and temp == pytest.approx(900.0)
    assert sched.at(sched.total_steps - 1)[1:] == (1500.0, 0.25)
    assert Schedule.from_dict(sched.to_dict()) == sched
    # elapsed time sums each stage's own time step: 1 ps + 60 ps + 2 ps
    assert sched.elapsed_fs(0) == 0.0
    assert sched.elapsed_fs(2000) == pytest.approx(1000.0)
    assert sched.elapsed_fs(2000 + 120000 + 4000) == pytest.approx(1000.0 + 60000.0 + 1000.0)
    assert sched.elapsed_fs(sched.total_steps + 50) == pytest.approx(63000.0)
    with pytest.raises(IndexError):
        sched.at(sched.total_steps)
    with pytest.raises(ValueError, match="rate"):
        Schedule().ramp("bad", 300, 400, 0.0)


@pytest.mark.parametrize("ensemble,tol", [("nvt-bussi", 0.04), ("nvt-nhc", 0.05)])
def test_nvt_mean_temperature_converges_to_target(tmp_path, ensemble, tol):
    run = MDRun(tmp_path, _copper(), Schedule(2.0).plateau("eq", 500, 4.0), calculator="emt",
                ensemble=ensemble, tdamp_fs=50, frame_every=20, seed=4)
    run.run(progress=False)
    thermo = read_thermo(tmp_path)
    assert len(thermo) == 2000 // 20 + 1
    late = thermo.temperature_K[len(thermo) // 2 :]
    assert late.mean() == pytest.approx(500, rel=tol)


def test_nve_energy_drift_with_the_published_model(tmp_path, crystal, published32):
    run = MDRun(tmp_path, crystal, Schedule(0.5).plateau("nve", 300, 0.005), calculator="published",
                ensemble="nve", frame_every=1, seed=1, calc=published32)
    run.run(progress=False)
    thermo = read_thermo(tmp_path)
    etot = (thermo.epot_eV + thermo.ekin_eV).to_numpy()
    assert len(etot) == 11
    assert abs(etot[-1] - etot[0]) / len(crystal) < 2e-4  # eV/atom over 5 fs
    # kinetic and potential energy exchange far more than the total drifts
    assert np.ptp(thermo.ekin_eV) > 10 * abs(etot[-1] - etot[0])


def test_npt_cell_is_flexible_and_pressure_compresses(tmp_path):
    volumes = {}
    for pressure in (0.0, 10.0):
        work = tmp_path / f"p{pressure:g}"
        run = MDRun(work, _copper(), Schedule(2.0).plateau("npt", 300, 2.0), calculator="emt",
                    ensemble="npt-mtk", pressure_GPa=pressure, tdamp_fs=50, pdamp_fs=200,
                    frame_every=10, seed=2)
        run.run(progress=False)
        frames = read_trajectory(work)
        cells = np.array([f.cell.array for f in frames[len(frames) // 2 :]])
        volumes[pressure] = np.mean([abs(np.linalg.det(c)) for c in cells])
        assert np.abs(cells[:, 0, 1]).max() > 1e-4  # the cell shape fluctuates
    # Cu: K ~ 140 GPa, so 10 GPa compresses by ~7 %
    assert 0.02 < 1 - volumes[10.0] / volumes[0.0] < 0.12


def _recipe(workdir):
    return MDRun(workdir, _copper(), Schedule(2.0).plateau("eq", 400, 3.0), calculator="emt",
                 ensemble="nvt-bussi", frame_every=10, checkpoint_every=50, seed=7,
                 tdamp_fs=50)


def test_sigkill_then_resume_loses_nothing_and_repeats_nothing(tmp_path):
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    _recipe(killed).prepare()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zifhelpers", "md-resume", str(killed), "--no-progress"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        thermo = killed / "thermo.csv"
        if thermo.is_file() and thermo.read_text().count("\n") > 73:  # past step 720
            break
        if proc.poll() is not None:
            pytest.fail(f"MD subprocess ended early: {proc.stderr.read().decode()}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "finished" not in (killed / "status.json").read_text()
    stopped_at = len(read_trajectory(killed))
    assert 70 < stopped_at < 151

    MDRun.resume(killed, progress=False)
    _recipe(reference).run(progress=False)

    got, want = read_trajectory(killed), read_trajectory(reference)
    steps = [f.info["step"] for f in got]
    assert steps == list(range(0, 1501, 10))  # every frame once, in order
    assert len(got) == len(want)
    np.testing.assert_allclose(got[-1].positions, want[-1].positions, atol=1e-10)
    np.testing.assert_allclose(
        read_thermo(killed).temperature_K, read_thermo(reference).temperature_K, rtol=1e-10
    )


def test_guard_nan_forces_keeps_the_checkpoint(tmp_path):
    run = MDRun(tmp_path, _copper(), Schedule(2.0).plateau("eq", 300, 1.0), calculator="emt",
                frame_every=10, checkpoint_every=20, calc=NaNAfter(45))
    with pytest.raises(MDGuardError, match="NaN or infinite forces") as err:
        run.run(progress=False)
    assert "step 4" in str(err.value)
    assert (tmp_path / "failed_frame.extxyz").is_file()
    assert '"stopped"' in (tmp_path / "status.json").read_text()
    assert (tmp_path / "checkpoint.pkl").is_file()


def test_guard_atoms_too_close(tmp_path):
    atoms = _copper()
    atoms.positions[1] = atoms.positions[0] + [0.3, 0.0, 0.0]
    run = MDRun(tmp_path, atoms, Schedule(1.0).plateau("eq", 300, 0.1), calculator="emt",
                frame_every=1, max_temperature_factor=1e9)
    with pytest.raises(MDGuardError, match=r"atoms 0 and 1 are 0\.\d+ A apart"):
        run.run(progress=False)


def test_guard_runaway_temperature(tmp_path):
    from ase.md.velocitydistribution import thermalize_momenta

    atoms = _copper()
    thermalize_momenta(atoms, temperature_K=5000, rng=np.random.default_rng(0))
    run = MDRun(tmp_path, atoms, Schedule(1.0).plateau("eq", 300, 0.1), calculator="emt",
                init_velocities=False, frame_every=5)
    with pytest.raises(MDGuardError, match="far above the target 300 K"):
        run.run(progress=False)


def test_bad_settings():
    with pytest.raises(ValueError, match="ensemble must be one of"):
        MDRun("/tmp/x", _copper(), Schedule().plateau("a", 300, 0.1), ensemble="nvt-langevin")
    with pytest.raises(ValueError, match="plateaus only"):
        MDRun("/tmp/x", _copper(), Schedule().ramp("a", 300, 400, 10), ensemble="npt-mtk")
    with pytest.raises(ValueError, match="multiple of"):
        MDRun("/tmp/x", _copper(), Schedule().plateau("a", 300, 0.1), frame_every=7,
              checkpoint_every=10)


def test_trajectory_is_readable_while_a_frame_is_half_written(tmp_path):
    run = MDRun(tmp_path, _copper(), Schedule(2.0).plateau("eq", 300, 0.04), calculator="emt",
                frame_every=5)
    run.run(progress=False)
    frames = read_trajectory(tmp_path)
    assert [f.info["step"] for f in frames] == [0, 5, 10, 15, 20]
    frame = frames[-1]
    assert {"temperature_K", "epot_eV", "pressure_GPa", "stress_GPa", "stage"} <= set(frame.info)
    assert frame.cell.volume == pytest.approx(_copper().cell.volume)
    text = (tmp_path / "trajectory.extxyz").read_text()
    last = text[text.rindex("108\n"):]
    with open(tmp_path / "trajectory.extxyz", "a") as handle:
        handle.write(last[: len(last) // 2])  # a writer caught mid-frame
    assert len(read_trajectory(tmp_path)) == 5


def test_frames_written_with_labels_are_a_dataset(tmp_path):
    from zifhelpers.data.datasets import read_dataset

    run = MDRun(tmp_path, _copper(), Schedule(2.0).plateau("hot", 800, 0.02), calculator="emt",
                frame_every=5, write_labels=True, seed=3)
    run.run(progress=False)
    frames = read_dataset(tmp_path / "trajectory.extxyz")
    assert len(frames) == 3
    last = frames[-1]
    ref = last.copy()
    ref.calc = EMT()
    np.testing.assert_allclose(last.get_forces(), ref.get_forces(), atol=1e-6)
    assert last.get_potential_energy() == pytest.approx(ref.get_potential_energy(), abs=1e-6)
    np.testing.assert_allclose(last.get_stress(), ref.get_stress(), atol=1e-8)
    assert last.info["labeller"] == "emt" and last.info["state_point"] == "hot 800 K"


def test_deform_stage_reaches_the_target_volume_and_resumes_exactly(tmp_path):
    atoms = _copper()
    v0 = atoms.get_volume()
    sched = Schedule(2.0).plateau("eq", 300, 0.02).deform("squeeze", 300, 0.1, 0.9 * v0)
    assert sched.stages[1].volume_end_A3 == pytest.approx(0.9 * v0)
    assert Schedule.from_dict(sched.to_dict()) == sched
    run = MDRun(tmp_path / "a", atoms, sched, calculator="emt", ensemble="nvt-bussi",
                frame_every=5, seed=3)
    run.run(progress=False)
    thermo = read_thermo(tmp_path / "a")
    frames = read_trajectory(tmp_path / "a")
    volumes = np.array([f.get_volume() for f in frames])
    assert volumes[0] == pytest.approx(v0) and volumes[2] == pytest.approx(v0)  # plateau
    assert volumes[-1] == pytest.approx(0.9 * v0, rel=1e-12)
    assert np.all(np.diff(volumes[2:]) < 0)  # squeezed a little every step
    # the pressure rises as the cell shrinks (EMT copper)
    assert thermo.pressure_GPa.iloc[-1] > thermo.pressure_GPa.iloc[2] + 5
    # interrupted half-way and resumed: same end point
    run_b = MDRun(tmp_path / "b", atoms, sched, calculator="emt", ensemble="nvt-bussi",
                  frame_every=5, seed=3)
    run_b.run(progress=False, max_steps=30)
    MDRun.resume(tmp_path / "b", progress=False)
    end_b = read_trajectory(tmp_path / "b", -1)
    assert np.allclose(end_b.positions, frames[-1].positions, atol=1e-10)
    with pytest.raises(ValueError, match="NVT ensemble"):
        MDRun(tmp_path / "c", atoms, sched, calculator="emt", ensemble="npt-mtk")


def test_heavy_hydrogen_masses_apply_to_h_only_and_survive_resume(tmp_path):
    atoms = _copper()
    atoms.symbols[[0, 5, 9]] = "H"  # substitutional H: a toy, EMT has H parameters
    run = MDRun(tmp_path, atoms, Schedule(1.0).plateau("eq", 300, 0.02), calculator="emt",
                frame_every=5, seed=1, hydrogen_mass_amu=4.0)
    is_h = run.atoms.numbers == 1
    np.testing.assert_allclose(run.atoms.get_masses()[is_h], 4.0)
    np.testing.assert_allclose(run.atoms.get_masses()[~is_h], atoms.get_masses()[~is_h])
    run.run(progress=False, max_steps=10)
    resumed = MDRun.from_workdir(tmp_path)
    np.testing.assert_allclose(resumed.atoms.get_masses()[is_h], 4.0)
    resumed.run(progress=False)
    assert resumed.step == 20
    with pytest.raises(ValueError, match="hydrogen_mass_amu must be > 0"):
        MDRun(tmp_path / "bad", atoms, Schedule().plateau("a", 300, 0.1), hydrogen_mass_amu=0.0)


class _ScriptedBreaks(MDRun):
    """MDRun whose integrity check reports a break on the steps in ``broken``."""

    broken: dict = {}  # step -> atoms named

    def _integrity_problem(self):
        if self.step not in self.broken:
            return "", frozenset()
        return "fragments C3H2N2, H", frozenset(self.broken[self.step])


def test_integrity_confirmation_tells_transients_from_breaks(tmp_path):
    sched = Schedule(1.0).plateau("eq", 300, 0.2)  # 200 steps of 1 fs
    kwargs = dict(calculator="emt", frame_every=5, integrity_every=10, seed=2)
    # without confirmation the first failed check stops the run
    run = _ScriptedBreaks(tmp_path / "strict", _copper(), sched, **kwargs)
    run.broken = {40: [7]}
    with pytest.raises(MDGuardError, match="stopped at step 40: broken linkers"):
        run.run(progress=False)
    # with 20 fs of confirmation: a break seen at step 40 only is a transient
    run = _ScriptedBreaks(tmp_path / "soft", _copper(), sched, integrity_confirm_fs=20.0, **kwargs)
    # at 40 atom 7 (healed by the re-check 2 fs later); at 140 atom 3, at 160 atom 9: two more
    run.broken = {40: [7], 140: [3], 160: [9]}
    run.run(progress=False)
    assert run.step == 200
    rows = (tmp_path / "soft" / "transients.csv").read_text().splitlines()
    assert rows[0] == "step,time_ps,healed_by_step,seen"
    assert rows[1].startswith("40,0.04,42,") and "C3H2N2" in rows[1]
    assert [r.split(",")[0] for r in rows[1:]] == ["40", "140", "160"]
    # a bond vibrating past the cutoff: broken at both ends of the window, back in between
    run = _ScriptedBreaks(tmp_path / "vibrating", _copper(), sched, integrity_confirm_fs=20.0,
                          **kwargs)
    run.broken = {k: [4] for k in range(100, 201) if not 108 <= k <= 111}
    with pytest.raises(MDGuardError, match=r"step 140: .*found at step 120, still broken "
                                           r"throughout the 20 fs after, checked every 2 fs"):
        run.run(progress=False)
    rows = (tmp_path / "vibrating" / "transients.csv").read_text().splitlines()
    assert [r.split(",")[:3] for r in rows[1:]] == [["100", "0.1", "108"]]
    # a break still there 20 fs later stops the run at the confirming step
    run = _ScriptedBreaks(tmp_path / "lasting", _copper(), sched, integrity_confirm_fs=20.0,
                          **kwargs)
    run.broken = {k: [5, 6] if k < 120 else [6] for k in range(100, 201)}
    with pytest.raises(MDGuardError, match=r"step 120: broken linkers: .*found at step 100, "
                                           r"still broken throughout the 20 fs after"):
        run.run(progress=False)
    assert not (tmp_path / "lasting" / "transients.csv").exists()


def test_integrity_at_step_applies_the_confirmation_to_the_judged_frame(tmp_path, crystal):
    from zifhelpers.analysis import linkers
    from zifhelpers.simulation.md import _write_frame_text, integrity_at_step

    sched = Schedule(0.5).plateau("nvt", 1500, 0.075)  # 150 steps
    run = MDRun(tmp_path, crystal, sched, calculator="emt", frame_every=50,
                integrity_every=50, integrity_confirm_fs=25.0).prepare()
    torn = crystal.copy()
    ims = linkers.find_imidazolates(torn)
    h = next(k for k in ims.members[3] if torn[k].symbol == "H")
    away = torn.positions[h] - ims.centroids[3]
    torn.positions[h] += 2.5 * away / np.linalg.norm(away)  # one H torn off: one linker broken
    with open(run.trajectory_path, "w") as handle:
        for step in (0, 50, 100, 150):
            handle.write(_write_frame_text(torn if step == 100 else crystal, {"step": step}))

    def status(step):
        (tmp_path / "status.json").write_text(json.dumps({"state": "finished", "step": step}))

    status(150)
    assert integrity_at_step(tmp_path, 50) == {"intact": 32, "broken_one_shot": 0,
                                               "confirmed": True, "healed": False, "broken": 0}
    # seen at step 100, not healed: counts as broken
    got = integrity_at_step(tmp_path, 100)
    assert (got["broken_one_shot"], got["broken"], got["intact"]) == (1, 1, 31)
    assert got["confirmed"] and not got["healed"]
    # the run logged it healed within the window: a transient, not a break
    (tmp_path / "transients.csv").write_text('step,time_ps,healed_by_step,seen\n'
                                             '100,0.05,104,"31/32 imidazolates intact"\n')
    got = integrity_at_step(tmp_path, 100)
    assert got["healed"] and got["broken"] == 0 and got["broken_one_shot"] == 1
    assert got["intact"] == 32
    # a run that ended 5 fs after the frame has not confirmed it
    status(110)
    assert not integrity_at_step(tmp_path, 100)["confirmed"]
    with pytest.raises(ValueError, match="no frame recorded at step 75"):
        integrity_at_step(tmp_path, 75)
    with pytest.raises(FileNotFoundError, match="not an MDRun folder: no run.json"):
        integrity_at_step(tmp_path / "nothing", 0)


@pytest.mark.parametrize("build, message", [
    (lambda: Schedule(0.0), "timestep_fs must be > 0, got 0.0"),
    (lambda: Schedule(-1.0), "timestep_fs must be > 0"),
    (lambda: Schedule(float("nan")), "timestep_fs must be > 0"),
    (lambda: Schedule(1.0).plateau("p", 300, 0.0), "duration must be > 0 ps, got 0.0"),
    (lambda: Schedule(1.0).plateau("p", 300, -2.0), "duration must be > 0 ps"),
    (lambda: Schedule(1.0).plateau("p", 300, 1.0, timestep_fs=0.0), "timestep_fs must be > 0"),
    (lambda: Schedule(1.0).plateau("p", float("inf"), 1.0), "finite and > 0 K"),
    (lambda: Schedule(1.0).ramp("r", 300, 300, 10.0), "use plateau"),
    (lambda: Schedule(1.0).ramp("r", 300, 600, float("nan")), "rate must be > 0"),
])
def test_a_schedule_refuses_zero_negative_or_nan_times(build, message):
    with pytest.raises(ValueError, match=message):
        build()
    # a positive duration shorter than a step is one step, not zero
    assert Schedule(2.0).plateau("short", 300, 0.0005).total_steps == 1


def test_a_damaged_frame_in_the_middle_of_a_trajectory_is_an_error_not_a_silent_stop(tmp_path):
    run = MDRun(tmp_path, _copper(), Schedule(2.0).plateau("eq", 300, 0.06), calculator="emt",
                frame_every=10, seed=1)
    run.run(progress=False)
    path = tmp_path / "trajectory.extxyz"
    lines = path.read_text().splitlines(keepends=True)
    assert len(read_trajectory(path)) == 4
    n = int(lines[0])
    damaged = lines[: n + 2] + ["garbage\n"] + lines[n + 3:]
    path.write_text("".join(damaged))
    with pytest.raises(ValueError, match=f"trajectory.extxyz, line {n + 3}: expected the atom count"):
        read_trajectory(path)
    # a frame being written (no final newline) is still ignored
    path.write_text("".join(lines) + "108\nLattice=")
    assert len(read_trajectory(path)) == 4


def test_count_transients_and_restarts_read_csv_rows(tmp_path):
    from zifhelpers.simulation import md, meltquench

    assert md.count_transients(tmp_path) == 0 and md.count_restarts(tmp_path) == 0
    (tmp_path / "transients.csv").write_text("step,time_ps,healed_step,what\n10,0.1,12,C-H\n"
                                             "30,0.3,31,C-H\n\n")
    (tmp_path / "restarts.csv").write_text("step,seed,reason\n500,1001,broken linkers\n")
    assert md.count_transients(tmp_path) == 2 and md.count_restarts(tmp_path) == 1
    assert meltquench.count_transients is md.count_transients  # the notebooks' import still works
