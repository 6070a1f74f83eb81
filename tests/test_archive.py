"""Run archives (zifhelpers.simulation.archive): a run packed on one machine resumes on another."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from ase.build import bulk

from zifhelpers.__main__ import main
from zifhelpers.simulation.archive import (
    ARCHIVE_FILE,
    list_runs,
    pack_run,
    pack_runs,
    restore_run,
)
from zifhelpers.simulation.md import (
    MDRun,
    RunFolderError,
    Schedule,
    read_thermo,
    read_trajectory,
)


def _run(workdir):
    atoms = bulk("Cu", cubic=True).repeat(2)
    return MDRun(workdir, atoms, Schedule(2.0).plateau("eq", 400.0, 0.2), calculator="emt",
                 ensemble="nvt-bussi", frame_every=5, checkpoint_every=20, seed=3, tdamp_fs=50)


def _new_machine(folder):
    """Keep only what git keeps of a run folder."""
    for path in folder.iterdir():
        if path.name not in (ARCHIVE_FILE, "summary.json"):
            path.unlink()


def test_a_packed_run_resumes_elsewhere_and_ends_as_if_never_moved(tmp_path):
    _run(tmp_path / "whole").run(progress=False)
    moved = tmp_path / "moved"
    _run(moved).run(progress=False, max_steps=50)  # frames and a checkpoint to step 50
    with open(moved / "trajectory.extxyz", "a") as handle:
        handle.write("32\n")  # the run goes on writing as the snapshot is taken
    with open(moved / "thermo.csv", "a") as handle:
        handle.write("55,0.11,eq\n")
    archive = pack_run(moved)
    assert archive == moved / ARCHIVE_FILE
    _new_machine(moved)
    assert len(read_thermo(moved)) == 11  # restored on reading: steps 0..50, cut at the checkpoint
    _new_machine(moved)
    _run(moved).run(progress=False)
    whole, resumed = read_trajectory(tmp_path / "whole"), read_trajectory(moved)
    assert len(resumed) == len(whole) == 21
    np.testing.assert_allclose(resumed[-1].positions, whole[-1].positions, atol=1e-8)
    assert json.loads((moved / "status.json").read_text())["state"] == "finished"


def test_a_live_folder_is_not_overwritten_by_an_older_archive(tmp_path):
    run = _run(tmp_path)
    run.run(progress=False, max_steps=20)
    pack_run(tmp_path)
    _run(tmp_path).run(progress=False, max_steps=40)
    before = (tmp_path / "trajectory.extxyz").read_bytes()
    assert not restore_run(tmp_path)
    assert (tmp_path / "trajectory.extxyz").read_bytes() == before
    (tmp_path / ARCHIVE_FILE).write_bytes(b"not gzip")
    _new_machine(tmp_path)
    with pytest.raises(RunFolderError, match="unreadable run archive"):
        read_trajectory(tmp_path)


def test_pack_runs_keeps_what_a_new_machine_needs(tmp_path):
    done, going, fresh = tmp_path / "a" / "done", tmp_path / "a" / "going", tmp_path / "fresh"
    _run(done).run(progress=False)
    (done / "summary.json").write_text("{}")  # read back from its summary: no archive needed
    (done / ARCHIVE_FILE).write_bytes(b"stale")
    _run(going).run(progress=False, max_steps=30)
    _run(fresh).prepare()  # no checkpoint yet: nothing to resume from
    out = pack_runs(tmp_path, progress=False)
    assert out == {"packed": [going / ARCHIVE_FILE], "removed": [done / ARCHIVE_FILE],
                   "skipped": [fresh]}
    _new_machine(done)
    _new_machine(going)
    table = list_runs(tmp_path).set_index("run")
    assert table.loc["a/done", "state"] == "summary" and table.loc["fresh", "state"] == "prepared"
    assert (table.loc["a/going", "state"], table.loc["a/going", "step"],
            table.loc["a/going", "total_steps"]) == ("archived", 30, 100)
    assert main(["runs", str(tmp_path)]) == 0
    assert main(["pack", str(tmp_path / "missing")]) == 2
    assert main(["pack", str(tmp_path)]) == 0


def test_an_archive_with_another_recipe_is_refused(tmp_path):
    _run(tmp_path / "a").run(progress=False, max_steps=20)
    pack_run(tmp_path / "a")
    other = tmp_path / "b"
    MDRun(other, bulk("Cu", cubic=True).repeat(2), Schedule(2.0).plateau("eq", 300.0, 0.2),
          calculator="emt", frame_every=5, checkpoint_every=20).prepare()
    shutil.copy(tmp_path / "a" / ARCHIVE_FILE, other / ARCHIVE_FILE)
    with pytest.raises(RunFolderError, match="another recipe"):
        restore_run(other)
