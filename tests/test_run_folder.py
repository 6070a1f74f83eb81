"""What an MD run folder guarantees (zifhelpers.simulation.md): no lost data, one runner at a time,
no silent reuse with other inputs, a damaged checkpoint falls back to the one before."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from conftest import NaNAfter  # tests/ is on sys.path (pytest rootdir conftest)

from zifhelpers.simulation.md import MDRun, RunFolderError, Schedule, read_trajectory


def _run(workdir, temperature=400.0, atoms=None, **kwargs):
    atoms = bulk("Cu", cubic=True).repeat(2) if atoms is None else atoms
    settings = dict(calculator="emt", ensemble="nvt-bussi", frame_every=10, checkpoint_every=50,
                    seed=7, tdamp_fs=50)
    settings.update(kwargs)
    return MDRun(workdir, atoms, Schedule(2.0).plateau("eq", temperature, 0.4), **settings)


def test_each_checkpoint_keeps_the_one_before_and_carries_a_checksum(tmp_path):
    _run(tmp_path).run(progress=False, max_steps=120)
    newest, previous = tmp_path / "checkpoint.pkl", tmp_path / "checkpoint.prev.pkl"
    assert previous.is_file()
    outer = pickle.loads(newest.read_bytes())
    assert outer["format"] == 2 and len(outer["sha256"]) == 64
    assert pickle.loads(outer["state"])["step"] == 120
    assert pickle.loads(pickle.loads(previous.read_bytes())["state"])["step"] == 100


def test_a_damaged_checkpoint_falls_back_to_the_previous_one_and_the_run_ends_right(tmp_path):
    damaged, reference = tmp_path / "damaged", tmp_path / "reference"
    _run(damaged).run(progress=False, max_steps=120)
    ckpt = damaged / "checkpoint.pkl"
    ckpt.write_bytes(ckpt.read_bytes()[:200])  # truncated, as by a full disk
    with pytest.warns(UserWarning, match="unreadable checkpoint.*resuming from checkpoint.prev.pkl"):
        MDRun.resume(damaged, progress=False)
    _run(reference).run(progress=False)
    got, want = read_trajectory(damaged), read_trajectory(reference)
    assert [f.info["step"] for f in got] == list(range(0, 201, 10))
    np.testing.assert_allclose(got[-1].positions, want[-1].positions, atol=1e-10)


def test_a_checkpoint_whose_content_changed_is_refused_by_its_checksum(tmp_path):
    _run(tmp_path).run(progress=False, max_steps=50)  # one checkpoint only, no previous
    ckpt = tmp_path / "checkpoint.pkl"
    outer = pickle.loads(ckpt.read_bytes())
    outer["state"] = outer["state"][:-1] + bytes([outer["state"][-1] ^ 1])
    ckpt.write_bytes(pickle.dumps(outer))
    before = (tmp_path / "trajectory.extxyz").read_bytes()
    with pytest.raises(RunFolderError, match="does not match its SHA-256.*no usable checkpoint"):
        MDRun.resume(tmp_path, progress=False)
    assert (tmp_path / "trajectory.extxyz").read_bytes() == before  # nothing touched


def test_a_run_killed_before_its_first_checkpoint_keeps_what_it_wrote(tmp_path):
    run = _run(tmp_path)
    run.prepare()
    (tmp_path / "trajectory.extxyz").write_text("frames of an earlier start\n")
    with pytest.warns(UserWarning, match="no checkpoint yet"):
        MDRun.resume(tmp_path, progress=False)
    kept = list(tmp_path.glob("trajectory.extxyz.before-restart-*"))
    assert len(kept) == 1 and kept[0].read_text() == "frames of an earlier start\n"
    assert len(read_trajectory(tmp_path)) == 21


@pytest.mark.parametrize("change, message", [
    (dict(temperature=500.0), "schedule.stages"),
    (dict(ensemble="nvt-nhc"), "ensemble: folder has 'nvt-bussi', asked 'nvt-nhc'"),
    (dict(calculator="lj"), "calculator: folder has 'emt', asked 'lj'"),
    (dict(atoms=bulk("Cu", cubic=True).repeat((2, 2, 3))), "structure: folder has Cu32"),
    (dict(atoms=bulk("Cu", cubic=True, a=3.7).repeat(2)), "other starting positions or cell"),
])
def test_a_folder_is_never_continued_with_other_inputs(tmp_path, change, message):
    _run(tmp_path).run(progress=False, max_steps=50)
    before = (tmp_path / "trajectory.extxyz").read_bytes()
    with pytest.raises(RunFolderError, match=message):
        _run(tmp_path, **change).run(progress=False)
    assert (tmp_path / "trajectory.extxyz").read_bytes() == before
    _run(tmp_path).run(progress=False)  # the same inputs resume it
    assert json.loads((tmp_path / "status.json").read_text())["state"] == "finished"


def test_a_folder_goes_on_under_new_guards_on_the_same_trajectory(tmp_path):
    watched, plain = tmp_path / "watched", tmp_path / "plain"
    _run(watched, integrity_confirm_fs=0.0).run(progress=False, max_steps=60)
    with pytest.warns(UserWarning, match="integrity_confirm_fs: folder has 0.0, asked 50.0"):
        _run(watched, integrity_confirm_fs=50.0, min_distance_A=0.5).run(progress=False)
    recipe = json.loads((watched / "run.json").read_text())
    assert recipe["integrity_confirm_fs"] == 50.0 and recipe["min_distance_A"] == 0.5
    _run(plain).run(progress=False)
    np.testing.assert_allclose(read_trajectory(watched)[-1].positions, read_trajectory(plain)[-1].positions,
                               atol=1e-10)  # guards watch, they never change the dynamics
    before = (plain / "run.json").read_text()
    _run(plain, integrity_confirm_fs=20.0).run(progress=False)  # finished: nothing runs, recipe kept
    assert (plain / "run.json").read_text() == before


def test_excursions_logged_after_the_checkpoint_are_dropped_on_resume(tmp_path):
    _run(tmp_path).run(progress=False, max_steps=120)  # last checkpoint at step 120
    log = tmp_path / "transients.csv"  # as if killed at step 125, after logging one at 123
    log.write_text('step,time_ps,healed_by_step,seen\n40,0.08,41,"free H: atoms [1]"\n'
                   '123,0.246,124,"free H: atoms [2]"\n')
    MDRun.resume(tmp_path, progress=False)  # steps 120-125 run again: their excursion would count twice
    assert log.read_text() == 'step,time_ps,healed_by_step,seen\n40,0.08,41,"free H: atoms [1]"\n'


def test_a_second_process_on_the_same_folder_is_refused(tmp_path):
    _run(tmp_path).prepare()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, os, sys, time
        h = open({str(tmp_path / '.lock')!r}, "a+")
        fcntl.flock(h.fileno(), fcntl.LOCK_EX)
        h.write(str(os.getpid())); h.flush()
        print("locked", flush=True)
        time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderError, match=f"another process \\(pid {holder.pid}\\)"):
            MDRun.resume(tmp_path, progress=False)
    finally:
        holder.kill()
        holder.wait()
    MDRun.resume(tmp_path, progress=False)  # free again


class _Explodes(EMT):
    def calculate(self, *args, **kwargs):
        raise RuntimeError("the calculator lost its GPU")


def test_a_crash_leaves_status_failed_with_the_reason(tmp_path):
    run = _run(tmp_path, calc=_Explodes())
    with pytest.raises(RuntimeError, match="lost its GPU"):
        run.run(progress=False)
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "failed" and "lost its GPU" in status["reason"]


def test_checkpoints_written_before_checksums_still_resume(tmp_path):
    _run(tmp_path).run(progress=False, max_steps=50)
    ckpt = tmp_path / "checkpoint.pkl"
    old = pickle.loads(pickle.loads(ckpt.read_bytes())["state"])  # the bare state of old versions
    ckpt.write_bytes(pickle.dumps(old))
    MDRun.resume(tmp_path, progress=False)
    assert [f.info["step"] for f in read_trajectory(tmp_path)] == list(range(0, 201, 10))


def test_redrawn_velocities_restart_from_the_last_checkpoint_on_record(tmp_path):
    from zifhelpers.simulation.md import MDGuardError

    with pytest.raises(MDGuardError):
        _run(tmp_path, calc=NaNAfter(130)).run(progress=False)
    stopped = json.loads((tmp_path / "status.json").read_text())
    assert stopped["state"] == "stopped"
    run = MDRun.from_workdir(tmp_path, calc=EMT())
    old = pickle.loads(pickle.loads((tmp_path / "checkpoint.pkl").read_bytes())["state"])
    step = run.redraw_velocities(seed=11)
    assert step == old["step"] == 100  # the last checkpoint before the stop
    new = pickle.loads(pickle.loads((tmp_path / "checkpoint.pkl").read_bytes())["state"])
    assert np.allclose(new["positions"], old["positions"])
    assert not np.allclose(new["momenta"], old["momenta"])
    log = (tmp_path / "restarts.csv").read_text().splitlines()
    assert log[0] == "step,time_ps,stopped_at_step,seed,reason"
    assert log[1].startswith(f"100,0.2000,{stopped['step']},11,") and "NaN" in log[1]
    assert list(tmp_path.glob("trajectory.extxyz.abandoned-*"))  # the failed stretch is kept
    MDRun.resume(tmp_path, calc=EMT(), progress=False)
    frames = read_trajectory(tmp_path)
    assert [f.info["step"] for f in frames] == list(range(0, 201, 10))
    from zifhelpers.simulation.md import read_thermo

    assert 200 < read_thermo(tmp_path).temperature_K.iloc[11:].mean() < 700  # 400 K target


def test_a_melt_quench_restarts_after_a_break_only_within_its_budget(tmp_path, breaking_runs):
    from zifhelpers.simulation import meltquench
    from zifhelpers.simulation.md import MDGuardError

    calls = breaking_runs  # two confirmed breaks, then the run finishes
    protocol = meltquench.MeltQuench(supercell=(1, 1, 1))
    atoms = bulk("Cu", cubic=True)
    with pytest.raises(MDGuardError, match="broken linkers"):  # budget 1, two breaks
        protocol.run(atoms, tmp_path / "a", calculator="emt", seed=3, restarts_on_break=1)
    assert calls["redraw"] == [3001] and meltquench.count_restarts(tmp_path / "a") == 1
    calls.update(run=0, redraw=[])
    protocol.run(atoms, tmp_path / "b", calculator="emt", seed=3, restarts_on_break=2)
    assert calls["redraw"] == [3001, 3002] and meltquench.count_restarts(tmp_path / "b") == 2
