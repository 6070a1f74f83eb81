"""Reference configurations at the liquid state points of the paper (a superset), by active learning.

The paper trained on AIMD of ZIF-4: the crystal at 300 K and liquids at four
volumes at 1500 K and 1750 K. We cannot run AIMD, and even the teacher (the
published model, ~0.8 s per 272-atom step on 2 cores) is too slow to sample
tens of picoseconds, so configurations are sampled by a fast *student* and
labelled afterwards by the teacher:

1. train a small committee of students (same data, different seeds) on what
   is labelled so far;
2. run the first student hot at every state point (heat, squeeze the cell
   to the state point's volume with :meth:`zifhelpers.simulation.md.Schedule.deform`,
   hold), with the MD guards and the linker-integrity check on; a run that
   breaks a linker or blows up stops, and its frames up to then are kept —
   they are what the student most needs to learn;
3. score the visited frames by committee disagreement (spread of the
   predicted forces) and pick the most uncertain ones per state point;
4. label them with the teacher, add them to the data set, repeat.

The loop stops when every state point ran to the end without a guard or a
broken linker. Limits, stated in the notebooks: the distribution of the data
is the student's, not the teacher's (frames are re-labelled, not
re-weighted); the volumes are fractions of the crystal's, not the paper's
(unpublished) cells; labels are the published model, not DFT.

State points (:func:`state_points`): ``crystal_300K`` at the crystal volume;
``liquid_<T>K_v<f>`` for T = 1500, 1750 K and f = 1.00, 0.95, 0.90, 0.85 of
the crystal volume: ρ from 1.21 to 1.42 g/cm³ for the 272-atom cell (the ab
initio glasses share the crystal's cell, 4380.5 Å³; experiment gives 1.22 for
the crystal and 1.38 for the glass).

Each round lives in ``<workdir>/round_NN/`` and each step writes its output
before the next starts, so a killed loop resumes where it stopped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from ..data.datasets import frame_key
from ..simulation.md import MDGuardError, MDRun, Schedule, read_trajectory

__all__ = [
    "StatePoint",
    "state_points",
    "sampling_schedule",
    "sample_state_point",
    "committee_disagreement",
    "select_frames",
    "SamplingSettings",
    "ActiveLearning",
    "visited_frames",
    "teacher_run_frames",
]


@dataclass(frozen=True)
class StatePoint:
    """A temperature (K) and a volume as a fraction of a reference volume."""

    name: str
    temperature_K: float
    volume_factor: float = 1.0
    liquid: bool = True


def state_points(temperatures_K: Sequence[float] = (1500.0, 1750.0),
                 volume_factors: Sequence[float] = (1.0, 0.95, 0.90, 0.85),
                 crystal: bool = True) -> list[StatePoint]:
    """State points of the active-learning loop: the crystal at 300 K and liquids at four volumes
    and two temperatures.

    The paper's AIMD had four liquids, at four volumes, each at 1500 or 1750 K (and the crystal
    at 300 K for comparison); these eight liquids (every volume at both temperatures) are a
    superset of them.
    """
    bad_t = [t for t in temperatures_K if not (np.isfinite(t) and t > 0)]
    bad_f = [f for f in volume_factors if not (np.isfinite(f) and 0.5 <= f <= 1.5)]
    if bad_t or bad_f:
        raise ValueError(f"state_points: temperatures must be finite and > 0 K and volume factors "
                         f"between 0.5 and 1.5; got bad temperatures {bad_t}, factors {bad_f}")
    points = [StatePoint("crystal_300K", 300.0, 1.0, liquid=False)] if crystal else []
    for t in temperatures_K:
        for f in volume_factors:
            points.append(StatePoint(f"liquid_{t:.0f}K_v{round(100 * f):03d}", float(t), float(f)))
    return points


@dataclass
class SamplingSettings:
    """MD protocol of one state point (ps, fs, steps).

    ``hydrogen_mass_amu`` and ``integrity_confirm_fs`` go to
    :class:`zifhelpers.simulation.md.MDRun` (heavier hydrogens for a longer time step;
    a broken linker must persist that long to stop the run).
    """

    heat_ps: float = 1.0
    deform_ps: float = 1.0
    hold_ps: float = 5.0
    timestep_fs: float = 0.5
    frame_every: int = 20
    integrity_every: int = 100
    tdamp_fs: float = 100.0
    hydrogen_mass_amu: float | None = None
    integrity_confirm_fs: float = 0.0


def sampling_schedule(point: StatePoint, volume_ref_A3: float,
                      settings: SamplingSettings,
                      start_volume_A3: float | None = None) -> Schedule:
    """Heat from 300 K, squeeze to the state point's volume at temperature, hold.

    The target volume is ``point.volume_factor * volume_ref_A3``; the squeeze
    stage is left out when the start structure already has it
    (``start_volume_A3``, default ``volume_ref_A3``). The crystal is only held
    at 300 K at its own volume.
    """
    s = settings
    sched = Schedule(s.timestep_fs)
    if not point.liquid:
        return sched.plateau("hold", point.temperature_K, s.hold_ps)
    rate = (point.temperature_K - 300.0) / s.heat_ps
    sched.ramp("heat", 300.0, point.temperature_K, rate)
    target = point.volume_factor * volume_ref_A3
    if abs(target / (start_volume_A3 or volume_ref_A3) - 1.0) > 1e-9:
        sched.deform("squeeze", point.temperature_K, s.deform_ps,
                     point.volume_factor * volume_ref_A3)
    return sched.plateau("hold", point.temperature_K, s.hold_ps)


def sample_state_point(point: StatePoint, start: Atoms, calculator: str | os.PathLike,
                       workdir: str | os.PathLike, settings: SamplingSettings,
                       seed: int = 0, calc: Calculator | None = None,
                       volume_ref_A3: float | None = None) -> dict:
    """Run (or resume) the sampling MD of one state point.

    Returns ``{"frames": [...], "stable": bool, "reason": str}``: the frames
    recorded during the hold stage (all frames if the run stopped early, so
    the configurations that broke the model are kept), each with provenance
    in ``info`` (``state_point``, ``sampler``, ``seed``).
    """
    workdir = Path(workdir)
    volume_ref = volume_ref_A3 or start.get_volume()
    sched = sampling_schedule(point, volume_ref, settings, start.get_volume())
    if (workdir / "run.json").is_file():
        run = MDRun.from_workdir(workdir, calc=calc)
    else:
        run = MDRun(workdir, start, sched, calculator=str(calculator), ensemble="nvt-bussi",
                    tdamp_fs=settings.tdamp_fs, frame_every=settings.frame_every, seed=seed,
                    integrity_every=settings.integrity_every,
                    integrity_confirm_fs=settings.integrity_confirm_fs,
                    hydrogen_mass_amu=settings.hydrogen_mass_amu, calc=calc)
    reason = ""
    status = json.loads((workdir / "status.json").read_text()) if (
        workdir / "status.json").is_file() else {}
    if status.get("state") == "stopped":
        reason = status.get("reason", "stopped")
    else:
        try:
            run.run(progress=False)
        except MDGuardError as err:
            reason = str(err)
    frames = read_trajectory(workdir)
    if not reason:
        frames = [f for f in frames if f.info.get("stage") == sched.stages[-1].name]
    sampler = f"MD nvt-bussi with {Path(str(calculator)).name}"
    for f in frames:
        f.info.update({"state_point": point.name, "sampler": sampler, "seed": seed,
                       "temperature_K": point.temperature_K,
                       "volume_factor": point.volume_factor})
        f.calc = None
    return {"frames": frames, "stable": not reason, "reason": reason}


def committee_disagreement(frames: Sequence[Atoms],
                           calculators: Sequence[Calculator]) -> np.ndarray:
    """Largest per-atom spread of the committee's forces in each frame (eV/Å).

    For each atom, the root-mean-square deviation of the force vectors of the
    models from their mean, ``sqrt(mean_m |F_m - <F>|²)``; the frame's score
    is the maximum over atoms (the usual uncertainty of force committees).
    """
    if len(calculators) < 2:
        raise ValueError(f"a committee needs >= 2 models, got {len(calculators)}")
    scores = []
    for frame in frames:
        forces = []
        for calc in calculators:
            work = frame.copy()
            work.calc = calc
            forces.append(work.get_forces())
        forces = np.array(forces)  # (models, atoms, 3)
        spread = np.sqrt(((forces - forces.mean(axis=0)) ** 2).sum(axis=2).mean(axis=0))
        scores.append(float(spread.max()))
    return np.array(scores)


def select_frames(scores: np.ndarray, n: int, min_gap: int = 1) -> np.ndarray:
    """Indices of the ``n`` highest scores, at least ``min_gap`` frames apart.

    The gap keeps consecutive, nearly identical MD frames out of one pick.
    Returned sorted; fewer than ``n`` when the gap or the scores run out.
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or not np.isfinite(scores).all():
        raise ValueError(f"select_frames: scores must be a 1-D array of finite numbers, got shape "
                         f"{scores.shape} with {int((~np.isfinite(scores)).sum())} non-finite")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"select_frames: n must be a whole number >= 0, got {n!r}")
    if not (isinstance(min_gap, (int, np.integer)) and min_gap >= 1):
        raise ValueError(f"select_frames: min_gap must be a whole number >= 1, got {min_gap!r}")
    order = np.argsort(-scores, kind="stable")
    chosen: list[int] = []
    for i in order:
        if len(chosen) == n:
            break
        if all(abs(int(i) - c) >= min_gap for c in chosen):
            chosen.append(int(i))
    return np.array(sorted(chosen), dtype=int)


def _default_train(spec, workdir: Path) -> str:
    from ..potentials.compile import compile_model
    from .run import train

    best = train(spec, workdir)
    model = workdir / "model.nequip.pt2"
    if not model.is_file():
        compile_model(best, model)
    return str(model)


@dataclass
class ActiveLearning:
    """The student-sample, teacher-label, retrain loop (see the module docstring).

    Parameters
    ----------
    workdir : path
        Everything goes here, one ``round_NN`` folder per round.
    initial : list of Atoms
        Labelled frames to start from (e.g. ``data/reference``).
    student : TrainingSpec
        Template of a student; its files and seed are set per member.
    teacher : Calculator
        Labels (the published model; never call it DFT).
    teacher_name : str
        The labeller written into each frame's provenance.
    starts : dict
        Start structure per state point name (the crystal, an ab initio glass).
    points : list of StatePoint
    settings : SamplingSettings
    committee_size : int
    frames_per_point : int
        Frames labelled per state point and round.
    seed : int
    train_fn, calc_fn : callables
        ``train_fn(spec, workdir) -> model path`` and ``calc_fn(path) ->
        Calculator``; defaults train and compile with nequip and load with
        :func:`zifhelpers.potentials.registry.load_calculator`. Tests swap in cheap ones.
    """

    workdir: Path
    initial: list
    student: object
    teacher: Calculator
    teacher_name: str
    starts: dict
    points: list = field(default_factory=state_points)
    settings: SamplingSettings = field(default_factory=SamplingSettings)
    committee_size: int = 2
    frames_per_point: int = 10
    val_fraction: float = 0.1
    seed: int = 0
    train_fn: Callable | None = None
    calc_fn: Callable | None = None

    def __post_init__(self):
        self.workdir = Path(self.workdir)
        if self.committee_size < 2:
            raise ValueError("committee_size must be >= 2 (disagreement needs two models)")
        missing = [p.name for p in self.points if p.name not in self.starts]
        if missing:
            raise ValueError(f"no start structure for state points {missing}; "
                             f"starts has {sorted(self.starts)}")
        if self.train_fn is None:
            self.train_fn = _default_train
        if self.calc_fn is None:
            from ..potentials.registry import load_calculator

            self.calc_fn = lambda path: load_calculator(path)

    # ----------------------------------------------------------------- data
    def round_dir(self, k: int) -> Path:
        return self.workdir / f"round_{k:02d}"

    def labelled(self, upto: int) -> list[Atoms]:
        """Initial frames plus the labels of rounds ``< upto``."""
        from ..data.datasets import read_dataset

        frames = list(self.initial)
        for k in range(upto):
            path = self.round_dir(k) / "labels.extxyz"
            if path.is_file():
                frames += read_dataset(path)
        return frames

    def _write_split(self, k: int) -> tuple[Path, Path]:
        from ..data.datasets import write_dataset

        folder = self.round_dir(k)
        train, val = folder / "train.extxyz", folder / "val.extxyz"
        if train.is_file() and val.is_file():
            return train, val
        frames = self.labelled(k)
        rng = np.random.default_rng(self.seed + k)
        order = rng.permutation(len(frames))
        n_val = max(1, round(self.val_fraction * len(frames)))
        write_dataset([frames[i] for i in order[n_val:]], folder / "train.tmp.extxyz")
        write_dataset([frames[i] for i in order[:n_val]], val)
        os.replace(folder / "train.tmp.extxyz", train)
        return train, val

    # ---------------------------------------------------------------- round
    def run_round(self, k: int, progress: bool = True) -> dict:
        """Train, sample, score, label: round ``k`` (resumes a partial round)."""
        from tqdm.auto import tqdm

        from ..data.datasets import label, write_dataset

        folder = self.round_dir(k)
        summary_path = folder / "summary.json"
        if summary_path.is_file():
            return json.loads(summary_path.read_text())
        folder.mkdir(parents=True, exist_ok=True)
        train, val = self._write_split(k)
        models = []
        for m in range(self.committee_size):
            spec = replace(self.student, train_file=str(train), val_file=str(val),
                           test_file=None, seed=self.seed + 1000 * k + m)
            models.append(self.train_fn(spec, folder / f"student_{m}"))
        calcs = [self.calc_fn(p) for p in models]
        volume_ref = self.starts[self.points[0].name].get_volume()
        report, picked = {}, []
        for i, point in enumerate(tqdm(self.points, desc=f"round {k}", disable=not progress)):
            out = sample_state_point(point, self.starts[point.name], models[0],
                                     folder / "md" / point.name, self.settings,
                                     seed=self.seed + 100 * k + i, calc=calcs[0],
                                     volume_ref_A3=volume_ref)
            frames = out["frames"]
            scores = committee_disagreement(frames, calcs) if frames else np.array([])
            n = min(self.frames_per_point, len(frames))
            gap = max(1, len(frames) // (2 * max(n, 1)))
            idx = select_frames(scores, n, min_gap=gap) if n else np.array([], int)
            for j in idx:
                frames[j].info.update({"round": k, "disagreement_eV_A": float(scores[j])})
                picked.append(frames[j])
            report[point.name] = {
                "stable": out["stable"], "reason": out["reason"][:300],
                "frames_visited": len(frames), "frames_labelled": int(len(idx)),
                "max_disagreement_eV_A": float(scores.max()) if len(scores) else None,
                "median_disagreement_eV_A": float(np.median(scores)) if len(scores) else None,
            }
        labels_path = folder / "labels.extxyz"
        if picked and not labels_path.is_file():
            labelled = label(picked, self.teacher, self.teacher_name, progress=progress)
            write_dataset(labelled, folder / "labels.tmp.extxyz")
            os.replace(folder / "labels.tmp.extxyz", labels_path)
        # the student's error on what it visited, now that the teacher has spoken
        errors = self._student_errors(calcs[0], labels_path) if labels_path.is_file() else {}
        n_labelled = len(self.labelled(k))
        summary = {"round": k, "models": [str(p) for p in models],
                   "n_train_frames": n_labelled - max(1, round(self.val_fraction * n_labelled)),
                   "all_stable": all(r["stable"] for r in report.values()),
                   "state_points": report, "student_errors_on_new_labels": errors,
                   "settings": asdict(self.settings)}
        summary_path.write_text(json.dumps(summary, indent=2))
        return summary

    @staticmethod
    def _student_errors(calc, labels_path: Path) -> dict:
        from ..data.datasets import read_dataset
        from .scoring import evaluate

        return evaluate(calc, read_dataset(labels_path))

    def run(self, max_rounds: int, progress: bool = True) -> list[dict]:
        """Rounds until every state point is stable (or ``max_rounds``)."""
        summaries = []
        for k in range(max_rounds):
            summaries.append(self.run_round(k, progress=progress))
            if summaries[-1]["all_stable"]:
                break
        return summaries


def visited_frames(workdir: str | os.PathLike, exclude: Sequence[Atoms] = (),
                   points: Sequence[StatePoint] | None = None) -> list[Atoms]:
    """Every frame the students' MD recorded in the rounds of an :class:`ActiveLearning` run.

    The loop labels only the few most uncertain frames per state point; once
    the teacher is cheap enough (the converted model: ~0.5 s per 272-atom
    frame on 2 CPU cores), labelling *all* visited frames ("dense
    relabelling") gives tens of times more training data for the same MD.
    Frames come from ``<workdir>/round_NN/md/<state point>/trajectory.extxyz``,
    in round and state-point order, unlabelled, with provenance in ``info``
    (``state_point``, ``sampler``, ``round``, ``md_step``, ``stage``,
    ``temperature_K``, ``volume_factor``). Frames at the same positions (to
    1e-4 Å) and cell as one in ``exclude`` (e.g. those already labelled) are
    left out, as are repeats.
    """
    known = {frame_key(a) for a in exclude}
    by_name = {p.name: p for p in (points or state_points())}
    frames = []
    for folder in sorted(Path(workdir).glob("round_[0-9][0-9]")):
        k = int(folder.name.split("_")[1])
        for md in sorted((folder / "md").glob("*")):
            if not (md / "trajectory.extxyz").is_file():
                continue
            point = by_name.get(md.name)
            if point is None:
                raise ValueError(f"{md}: no state point named {md.name!r} "
                                 f"(known: {sorted(by_name)})")
            recipe = json.loads((md / "run.json").read_text())
            for frame in read_trajectory(md):
                key = frame_key(frame)
                if key in known:
                    continue
                known.add(key)
                frame.info = {"state_point": point.name,
                              "sampler": f"MD nvt-bussi with {Path(recipe['calculator']).name}"
                                         f" (student, round {k})",
                              "seed": recipe["seed"], "round": k,
                              "md_step": int(frame.info.get("step", -1)),
                              "stage": str(frame.info.get("stage", "")),
                              "temperature_K": point.temperature_K,
                              "volume_factor": point.volume_factor}
                frame.calc = None
                frames.append(frame)
    return frames


def teacher_run_frames(folder: str | os.PathLike, held_out: Sequence[str],
                       use: str = "train", skip_ps: float = 0.0,
                       liquid_above_K: float = 1000.0, labeller: str | None = None
                       ) -> list[Atoms]:
    """Labelled frames of teacher MD runs, split by their start structure.

    ``folder`` holds one :class:`~zifhelpers.simulation.md.MDRun` folder per run, named
    ``<structure>_<T>K`` (e.g. ``glass09_1500K``) and run with
    ``write_labels=True``. Runs that start from a structure in ``held_out``
    make the test set (``use="test"``), the others the training set
    (``use="train"``), so that no test frame is a neighbour in time of a
    training frame. Frames before ``skip_ps`` (equilibration) are left out.
    Each frame is renamed ``liquid_<T>K_teacher_<structure>`` above
    ``liquid_above_K``, ``crystal_...`` for the crystal and ``glass_...``
    otherwise (``state_point``), with ``start_structure``, ``labeller``
    (default :data:`TEACHER_NAME`) and a ``sampler`` read from ``run.json``.
    Raises ValueError for a folder name without ``_<T>K``, an unknown ``use``
    or a run that was not written with labels.
    """
    if use not in ("train", "test"):
        raise ValueError(f"use must be 'train' or 'test', got {use!r}")
    frames = []
    for run in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        name, _, temp = run.name.rpartition("_")
        if not name or not temp.endswith("K"):
            raise ValueError(f"{run}: teacher run folders are named <structure>_<T>K, "
                             f"found {run.name!r}")
        if (name in held_out) != (use == "test"):
            continue
        recipe = json.loads((run / "run.json").read_text())
        if not recipe.get("write_labels"):
            raise ValueError(f"{run}/run.json: write_labels is false; its frames have no "
                             f"reference forces")
        kelvin = float(temp[:-1])
        kind = ("liquid" if kelvin > liquid_above_K else
                "crystal" if name == "crystal" else "glass")
        heavy = recipe.get("hydrogen_mass_amu")
        step = recipe["schedule"]["timestep_fs"]
        sampler = (f"MD {recipe['ensemble']} with {Path(recipe['calculator']).name}, "
                   f"{step:g} fs" + (f", H at {heavy:g} amu" if heavy else ""))
        for frame in read_trajectory(run):
            if frame.info["time_ps"] < skip_ps - 1e-9:
                continue
            frame.info.update(state_point=f"{kind}_{temp}_teacher_{name}",
                              start_structure=name, sampler=sampler,
                              labeller=labeller or TEACHER_NAME)
            frames.append(frame)
    return frames


#: Provenance name of the teacher labels of this compendium.
TEACHER_NAME = "published NequIP (Castel 2024), converted to nequip 0.19"

#: Active-learning protocol per profile (what notebook 01 and the generator use).
PROTOCOLS = {
    "smoke": {"rounds": 1, "epochs": 2, "heat_ps": 0.005, "deform_ps": 0.005, "hold_ps": 0.01,
              "frames_per_point": 2, "committee_size": 2, "frame_every": 2,
              "student": {"num_layers": 2, "num_features": 8, "radial_mlp_width": 16}},
    "quick": {"rounds": 3, "epochs": 25, "heat_ps": 0.25, "deform_ps": 0.25, "hold_ps": 0.5,
              "frames_per_point": 10, "committee_size": 2, "frame_every": 10, "student": {}},
    "paper": {"rounds": 6, "epochs": 200, "heat_ps": 2.0, "deform_ps": 5.0, "hold_ps": 50.0,
              "frames_per_point": 100, "committee_size": 3, "frame_every": 50, "student": {}},
}


def generate_reference_set(workdir: str | os.PathLike, output: str | os.PathLike,
                           initial: list, teacher: Calculator, profile: str = "quick",
                           seed: int = 2024, progress: bool = True, **overrides) -> dict:
    """Run the loop with a profile's protocol and write the labelled frames.

    ``initial`` are labelled frames to start from; starts are the crystal
    (crystal_300K) and the ab initio glasses glass01..glass08 (one per liquid
    state point). ``overrides`` replace protocol entries (e.g. ``rounds=2``).
    Writes ``output`` (extxyz, ``.gz`` allowed) and ``<output stem>_summary.json``
    beside it; returns the summary. Resumable through ``workdir``.
    """
    import time

    from ..data.datasets import read_dataset, write_dataset
    from ..data.public import load_structure
    from .spec import TrainingSpec

    proto = {**PROTOCOLS[profile], **overrides}
    points = state_points()
    starts = {"crystal_300K": load_structure("crystal")}
    for i, point in enumerate(points[1:], start=1):
        starts[point.name] = load_structure(f"glass{i:02d}")
    student = TrainingSpec("unused", "unused", **{
        "l_max": 1, "r_max": 5.0, "num_layers": 3, "num_features": 16,
        "radial_mlp_width": 32, "batch_size": 2, **proto["student"],
        "max_epochs": proto["epochs"]})
    settings = SamplingSettings(heat_ps=proto["heat_ps"], deform_ps=proto["deform_ps"],
                                hold_ps=proto["hold_ps"], frame_every=proto["frame_every"],
                                integrity_every=5 * proto["frame_every"])
    loop = ActiveLearning(workdir, list(initial), student, teacher, TEACHER_NAME,
                          starts=starts, points=points, settings=settings,
                          committee_size=proto["committee_size"],
                          frames_per_point=proto["frames_per_point"], seed=seed)
    start = time.time()
    summaries = loop.run(proto["rounds"], progress=progress)
    frames = []
    for k in range(len(summaries)):
        path = loop.round_dir(k) / "labels.extxyz"
        if path.is_file():
            frames += read_dataset(path)
    output = Path(output)
    write_dataset(frames, output)
    summary = {"labeller": TEACHER_NAME, "profile": profile, "protocol": proto,
               "n_frames": len(frames), "rounds": summaries, "wall_s": time.time() - start}
    name = output.name.split(".")[0] + "_summary.json"
    (output.parent / name).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def summary_table(summary: dict):
    """One row per (round, state point): stability, frames, disagreement, errors."""
    import pandas as pd

    rows = []
    for rnd in summary["rounds"]:
        errors = rnd.get("student_errors_on_new_labels", {})
        for name, rep in rnd["state_points"].items():
            rows.append({"round": rnd["round"], "state point": name, "stable": rep["stable"],
                         "frames visited": rep["frames_visited"],
                         "labelled": rep["frames_labelled"],
                         "max disagreement (eV/Å)": rep["max_disagreement_eV_A"],
                         "training frames": rnd["n_train_frames"],
                         "student force MAE on new labels (meV/Å)":
                             errors.get("force_mae_meV_A")})
    return pd.DataFrame(rows).set_index(["round", "state point"])


def plot_rounds(summary: dict):
    """Stable state points and the student's error on its own frames, per round."""
    import matplotlib.pyplot as plt

    rounds = [r["round"] for r in summary["rounds"]]
    stable = [sum(p["stable"] for p in r["state_points"].values()) for r in summary["rounds"]]
    total = [len(r["state_points"]) for r in summary["rounds"]]
    mae = [r.get("student_errors_on_new_labels", {}).get("force_mae_meV_A", float("nan"))
           for r in summary["rounds"]]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].bar(rounds, stable, color="C0")
    axes[0].plot(rounds, total, "k_", markersize=30, label="state points")
    axes[0].set(xlabel="round", ylabel="stable state points", xticks=rounds)
    axes[0].legend()
    axes[1].plot(rounds, mae, marker="o", color="C1")
    axes[1].set(xlabel="round", ylabel="student force MAE on\nits own new frames (meV/Å)",
                xticks=rounds)
    fig.tight_layout()
    return fig
