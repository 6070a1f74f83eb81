"""Active learning: state points, committee disagreement, selection, the resumable loop.

The loop is exercised on EMT copper with a fake trainer (students = EMT plus a
seed-dependent force error) so that it runs in seconds; the nequip training it
calls by default is tested in test_training.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from zifhelpers.training import active
from zifhelpers.training.spec import TrainingSpec


class NoisyEMT(EMT):
    """EMT with a smooth, position-dependent force error of size ``eps`` (eV/Å)."""

    def __init__(self, eps: float, phase: float):
        super().__init__()
        self.eps, self.phase = eps, phase

    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        super().calculate(atoms, properties, system_changes or [])
        pos = self.atoms.positions
        self.results["forces"] = self.results["forces"] + self.eps * np.sin(pos + self.phase)


def test_state_points_are_the_papers():
    points = active.state_points()
    assert [p.name for p in points][:3] == ["crystal_300K", "liquid_1500K_v100",
                                             "liquid_1500K_v095"]
    assert len(points) == 1 + 2 * 4
    assert {p.temperature_K for p in points} == {300.0, 1500.0, 1750.0}
    assert sorted({p.volume_factor for p in points}) == [0.85, 0.9, 0.95, 1.0]


def test_sampling_schedule_heats_squeezes_and_holds():
    s = active.SamplingSettings(heat_ps=1.0, deform_ps=2.0, hold_ps=3.0, timestep_fs=0.5)
    liquid = active.StatePoint("l", 1500.0, 0.9)
    sched = active.sampling_schedule(liquid, 1000.0, s)
    assert [st.name for st in sched.stages] == ["heat", "squeeze", "hold"]
    assert sched.stages[0].t_end_K == 1500.0 and sched.stages[0].steps == 2000
    assert sched.stages[1].volume_end_A3 == pytest.approx(900.0)
    crystal = active.StatePoint("c", 300.0, 1.0, liquid=False)
    assert [st.name for st in active.sampling_schedule(crystal, 1000.0, s).stages] == ["hold"]


def test_committee_disagreement_is_the_force_spread():
    atoms = bulk("Cu", cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=1)
    same = active.committee_disagreement([atoms], [EMT(), EMT()])
    assert same[0] == pytest.approx(0.0, abs=1e-12)

    class Shifted(EMT):
        def __init__(self, d):
            super().__init__()
            self.d = d

        def calculate(self, atoms=None, properties=("energy",), system_changes=None):
            super().calculate(atoms, properties, system_changes or [])
            self.results["forces"] = self.results["forces"] + np.array([self.d, 0, 0])

    # +-0.3 eV/A on every atom: each model is 0.3 eV/A from the mean
    score = active.committee_disagreement([atoms], [Shifted(0.3), Shifted(-0.3)])
    assert score[0] == pytest.approx(0.3, rel=1e-9)
    with pytest.raises(ValueError, match=">= 2 models"):
        active.committee_disagreement([atoms], [EMT()])


def test_select_frames_takes_the_most_uncertain_apart():
    scores = np.array([0.1, 0.9, 0.85, 0.2, 0.7, 0.05])
    assert list(active.select_frames(scores, 2)) == [1, 2]
    assert list(active.select_frames(scores, 2, min_gap=2)) == [1, 4]
    assert len(active.select_frames(scores, 10)) == 6


def _loop(tmp_path, calls):
    cu = bulk("Cu", cubic=True).repeat((2, 2, 2))
    teacher = EMT()
    from zifhelpers.data.datasets import label

    initial = label([cu.copy() for _ in range(3)], teacher, "EMT (toy teacher)", progress=False)

    def train_fn(spec, workdir):
        calls.append(spec.seed)
        workdir.mkdir(parents=True, exist_ok=True)
        return f"student-{spec.seed}"

    def calc_fn(path):
        seed = int(str(path).split("-")[1])
        return NoisyEMT(eps=0.05, phase=seed)

    points = [active.StatePoint("solid_300K", 300.0, 1.0, liquid=False),
              active.StatePoint("hot_1200K_v095", 1200.0, 0.95)]
    settings = active.SamplingSettings(heat_ps=0.02, deform_ps=0.02, hold_ps=0.04,
                                       timestep_fs=2.0, frame_every=2, integrity_every=0)
    spec = TrainingSpec("unused", "unused")
    return active.ActiveLearning(
        tmp_path, initial, spec, teacher, "EMT (toy teacher)",
        starts={p.name: cu for p in points}, points=points, settings=settings,
        committee_size=2, frames_per_point=3, seed=7, train_fn=train_fn, calc_fn=calc_fn)


def test_loop_labels_uncertain_frames_with_provenance_and_resumes(tmp_path):
    from zifhelpers.data.datasets import read_dataset

    calls = []
    loop = _loop(tmp_path, calls)
    summary = loop.run_round(0, progress=False)
    assert calls == [7, 8]  # two committee members, seeds seed + m
    assert summary["all_stable"]
    labels = read_dataset(tmp_path / "round_00" / "labels.extxyz")
    assert len(labels) == 2 * 3
    v0 = bulk("Cu", cubic=True).repeat((2, 2, 2)).get_volume()
    for frame in labels:
        info = frame.info
        assert {"state_point", "sampler", "seed", "labeller", "round",
                "disagreement_eV_A"} <= set(info)
        assert info["labeller"] == "EMT (toy teacher)"
        expected_v = v0 * (0.95 if info["state_point"] == "hot_1200K_v095" else 1.0)
        assert frame.get_volume() == pytest.approx(expected_v, rel=1e-9)
        ref = frame.copy()
        ref.calc = EMT()
        assert frame.get_potential_energy() == pytest.approx(ref.get_potential_energy())
    # the student errors on its own new frames are of the size of its error (0.05)
    err = summary["student_errors_on_new_labels"]["force_mae_meV_A"]
    assert 5 < err < 60
    # finished rounds are not redone; the next round trains on more data
    assert loop.run_round(0, progress=False) == summary and calls == [7, 8]
    assert len(loop.labelled(1)) == 3 + 6
    loop.run_round(1, progress=False)
    assert calls == [7, 8, 1007, 1008]
    assert len(read_dataset(tmp_path / "round_01" / "train.extxyz")) + len(
        read_dataset(tmp_path / "round_01" / "val.extxyz")) == 9


def test_loop_refuses_bad_setups(tmp_path):
    loop = _loop(tmp_path, [])
    with pytest.raises(ValueError, match="committee_size"):
        active.ActiveLearning(tmp_path, [], loop.student, loop.teacher, "x", loop.starts,
                              loop.points, committee_size=1)
    with pytest.raises(ValueError, match="no start structure"):
        active.ActiveLearning(tmp_path, [], loop.student, loop.teacher, "x", {},
                              loop.points)


def test_visited_frames_are_every_md_frame_minus_the_labelled(tmp_path):
    from zifhelpers.data.datasets import read_dataset
    from zifhelpers.simulation.md import read_trajectory

    loop = _loop(tmp_path, [])
    loop.run_round(0, progress=False)
    labelled = read_dataset(tmp_path / "round_00" / "labels.extxyz")
    md = {p: read_trajectory(tmp_path / "round_00" / "md" / p)
          for p in ("hot_1200K_v095", "solid_300K")}
    points = loop.points
    every = active.visited_frames(tmp_path, points=points)
    # both runs start from the same cell: its step-0 frame is a repeat, kept once
    assert len(every) == sum(len(v) for v in md.values()) - 1
    rest = active.visited_frames(tmp_path, exclude=labelled, points=points)
    assert len(rest) == len(every) - len(labelled)
    hot = [f for f in rest if f.info["state_point"] == "hot_1200K_v095"]
    assert {f.info["temperature_K"] for f in hot} == {1200.0}
    assert {f.info["volume_factor"] for f in hot} == {0.95}
    assert all(f.calc is None and f.info["round"] == 0 for f in rest)
    steps = [f.info["md_step"] for f in hot]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    with pytest.raises(ValueError, match="no state point named 'solid_300K'"):
        active.visited_frames(tmp_path, points=points[1:])


def test_sample_state_point_passes_hydrogen_mass_and_confirmation_to_md(tmp_path):
    import json

    cu = bulk("Cu", cubic=True).repeat((2, 2, 2))
    cu.symbols[[0, 3]] = "H"  # substitutional H: EMT has H parameters
    point = active.StatePoint("hot_600K", 600.0, 1.0)
    settings = active.SamplingSettings(heat_ps=0.004, deform_ps=0.004, hold_ps=0.004,
                                       timestep_fs=2.0, frame_every=1, integrity_every=0,
                                       hydrogen_mass_amu=4.0, integrity_confirm_fs=50.0)
    res = active.sample_state_point(point, cu, "emt", tmp_path / "md", settings, seed=3)
    assert res["stable"] and len(res["frames"]) == 2  # the two hold steps
    run = json.loads((tmp_path / "md" / "run.json").read_text())
    assert run["hydrogen_mass_amu"] == 4.0
    assert run["integrity_confirm_fs"] == 50.0
    # masses as run: heavy H only
    from zifhelpers.simulation.md import MDRun

    masses = MDRun.from_workdir(tmp_path / "md").atoms.get_masses()
    np.testing.assert_allclose(masses[[0, 3]], 4.0)
    assert masses[1] == pytest.approx(63.546)


def test_teacher_run_frames_split_by_start_structure(tmp_path):
    from zifhelpers.data.datasets import read_dataset, write_dataset
    from zifhelpers.simulation.md import MDRun, Schedule

    cu = bulk("Cu", cubic=True).repeat((2, 2, 2))
    runs = {"cuA_1200K": 1200.0, "cuB_300K": 300.0, "crystal_300K": 300.0}
    for name, temp in runs.items():
        MDRun(tmp_path / name, cu, Schedule(2.0).plateau("hold", temp, 0.02), calculator="emt",
              frame_every=2, seed=1, write_labels=True, hydrogen_mass_amu=4.0).run(progress=False)
    test = active.teacher_run_frames(tmp_path, held_out=["cuA", "cuB"], use="test", skip_ps=0.008)
    train = active.teacher_run_frames(tmp_path, held_out=["cuA", "cuB"])
    # 6 frames a run (every 2nd of 10 steps of 2 fs: 0, 4, ..., 20 fs); test skips t < 8 fs
    assert len(test) == 2 * 4 and len(train) == 6
    assert {f.info["state_point"] for f in test} == {"liquid_1200K_teacher_cuA",
                                                     "glass_300K_teacher_cuB"}
    assert {f.info["state_point"] for f in train} == {"crystal_300K_teacher_crystal"}
    assert min(f.info["time_ps"] for f in test) == pytest.approx(0.008)
    assert train[0].info["sampler"] == "MD nvt-bussi with emt, 2 fs, H at 4 amu"
    assert train[0].info["labeller"] == active.TEACHER_NAME
    # the labels are the teacher's (here EMT): they survive a data-set round trip
    write_dataset(test, tmp_path / "test.extxyz")
    back = read_dataset(tmp_path / "test.extxyz")
    ref = back[-1].copy()
    ref.calc = EMT()
    np.testing.assert_allclose(back[-1].get_forces(), ref.get_forces(), atol=1e-6)
    with pytest.raises(ValueError, match="use must be 'train' or 'test'"):
        active.teacher_run_frames(tmp_path, ["cuA"], use="heldout")
    MDRun(tmp_path / "unlabelled_300K", cu, Schedule(2.0).plateau("h", 300, 0.004),
          calculator="emt", frame_every=1, seed=1).run(progress=False)
    with pytest.raises(ValueError, match="unlabelled_300K/run.json: write_labels is false"):
        active.teacher_run_frames(tmp_path, ["cuA"])
    (tmp_path / "unlabelled_300K").rename(tmp_path / "oddname")
    with pytest.raises(ValueError, match="named <structure>_<T>K, found 'oddname'"):
        active.teacher_run_frames(tmp_path, ["cuA"])
