"""Shared fixtures. Points the data mirror at ``../shared/data`` when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.emt import EMT

ROOT = Path(__file__).resolve().parents[1]
_SHARED = ROOT.parent / "shared" / "data"
if not os.environ.get("ZIFHELPERS_DATA_MIRROR") and _SHARED.is_dir():
    os.environ["ZIFHELPERS_DATA_MIRROR"] = str(_SHARED)

# `pytest -n 2` (test.sh): one thread per worker, in the workers and in the notebook kernels and
# subprocesses they start, so that two workers share two cores instead of fighting over them
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

# modules whose module-scoped fixtures are expensive stay on one worker; the notebooks (the
# longest, about half of the suite) start first
_ONE_WORKER = ("test_notebooks", "test_browser", "test_convert", "test_calculators")
_FIRST = "test_notebooks"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` by module name, done here: xdist 3.8 marks a group by editing a
    node id where pytest 9 no longer keeps it, so its ``xdist_group`` marks are ignored."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if Path(path).stem in _ONE_WORKER else nodeid

        def _assign_work_unit(self, node) -> None:
            for scope in [s for s in self.workqueue if Path(s.split("::", 1)[0]).stem == _FIRST]:
                self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return ModuleGroups(config, log)


@pytest.fixture(scope="session")
def crystal():
    from zifhelpers.data.public import load_structure

    return load_structure("crystal")


@pytest.fixture(scope="session")
def published32():
    from zifhelpers.potentials.registry import load_calculator

    return load_calculator("published-legacy", device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def published64():
    from zifhelpers.potentials.registry import load_calculator

    return load_calculator("published-legacy", device="cpu", dtype="float64")


@pytest.fixture(scope="session")
def copper_sets(tmp_path_factory):
    """EMT-labelled rattled copper (24 frames: 16 train, 4 val, 4 test) for fast training tests."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from zifhelpers.data import datasets as dataset

    folder = tmp_path_factory.mktemp("cu")
    atoms = bulk("Cu", cubic=True).repeat(2)
    frames = dataset.perturbed_configurations(atoms, 24, rattle_A=0.08, max_strain=0.02, seed=0)
    frames = dataset.label(frames, EMT(), "EMT (test)", progress=False)
    paths = {}
    for name, part in (("train", frames[:16]), ("val", frames[16:20]), ("test", frames[20:])):
        paths[name] = dataset.write_dataset(part, folder / f"{name}.extxyz")
    return folder, paths, frames


def copper_spec(paths, epochs):
    """A 2-layer, 8-feature NequIP on :func:`copper_sets` (seconds per epoch)."""
    from zifhelpers import training

    return training.TrainingSpec(
        str(paths["train"]), str(paths["val"]), str(paths["test"]), chemical_symbols=["Cu"],
        max_epochs=epochs, r_max=4.0, num_layers=2, num_features=8, radial_mlp_width=16,
        batch_size=4, seed=1,
    )


class NaNAfter(EMT):
    """EMT whose forces become NaN after ``n_ok`` calls: a guard stop at a known step."""

    def __init__(self, n_ok):
        super().__init__()
        self.calls, self.n_ok = 0, n_ok

    def calculate(self, *args, **kwargs):
        super().calculate(*args, **kwargs)
        self.calls += 1
        if self.calls > self.n_ok:
            self.results["forces"] = self.results["forces"] * np.nan


@pytest.fixture
def breaking_runs(monkeypatch):
    """MDRun faked to stop on a confirmed linker break ``calls["breaks"]`` times, then finish.

    ``redraw_velocities`` logs each restart in ``restarts.csv`` (seed recorded in
    ``calls["redraw"]``); ``from_workdir`` returns the last run. For testing restart budgets
    without MD.
    """
    import json

    from zifhelpers.simulation.md import MDGuardError, MDRun

    calls = {"run": 0, "redraw": [], "breaks": 2}

    def fake_run(self, progress=True, max_steps=None):
        calls["run"] += 1
        calls["self"] = self
        self.workdir.mkdir(parents=True, exist_ok=True)
        if calls["run"] <= calls["breaks"]:
            (self.workdir / "status.json").write_text(json.dumps(
                {"state": "stopped", "step": 5, "reason": "broken linkers: 31/32 intact"}))
            raise MDGuardError("broken")
        (self.workdir / "status.json").write_text(json.dumps({"state": "finished"}))
        return self.trajectory_path

    def fake_redraw(self, seed, reason=""):
        calls["redraw"].append(seed)
        log = self.workdir / "restarts.csv"
        log.write_text((log.read_text() if log.is_file() else "header\n") + f"0,0,5,{seed},{reason}\n")
        (self.workdir / "status.json").write_text(json.dumps({"state": "paused"}))
        return 0

    monkeypatch.setattr(MDRun, "run", fake_run)
    monkeypatch.setattr(MDRun, "redraw_velocities", fake_redraw)
    monkeypatch.setattr(MDRun, "from_workdir", classmethod(lambda cls, w, calc=None: calls["self"]))
    return calls
