"""Molecular dynamics that never loses a run.

:class:`MDRun` drives ASE integrators through a :class:`Schedule` of stages
(temperature plateaus and ramps), writes every frame to an extended-XYZ
trajectory and a CSV thermo log as it goes, and checkpoints its full state
(positions, momenta, cell, thermostat/barostat variables, random-number state)
atomically. A run killed at any moment — even by SIGKILL — resumes with
:meth:`MDRun.resume` (or ``python -m zifhelpers md-resume WORKDIR``) from its
last checkpoint; frames written after that checkpoint are cut away first, so the
finished trajectory holds every frame exactly once, and, with a deterministic
calculator, is identical to an uninterrupted run.

Ensembles (besides plain ``"nve"`` velocity Verlet):

* ``"nvt-bussi"`` — stochastic velocity rescaling, G. Bussi, D. Donadio and
  M. Parrinello, J. Chem. Phys. 126, 014101 (2007);
* ``"nvt-nhc"`` — Nosé–Hoover chains, G. J. Martyna, M. L. Klein and
  M. Tuckerman, J. Chem. Phys. 97, 2635 (1992);
* ``"npt-mtk"`` — fully flexible triclinic cell (NσT with isotropic target
  pressure), G. J. Martyna, D. J. Tobias and M. L. Klein, J. Chem. Phys. 101,
  4177 (1994), as needed for strain fluctuations (Parrinello & Rahman 1982).

Guards stop a run with a clear message, keeping its last checkpoint and the
offending frame: NaN forces, a temperature far above target, atoms closer than
a physical minimum, and (every ``integrity_every`` steps) broken linkers. With
``integrity_confirm_fs`` a linker must stay broken that long after the check
that found it (re-checked about every 2 fs): a hot C–H bond stretched past the
cutoff for a few fs and back is a vibration, not a break (logged to
``transients.csv``, the run goes on).

What a run folder guarantees: one process at a time runs it (an exclusive lock,
``.lock``; a second one is refused, naming the holder's pid); each checkpoint
carries a SHA-256 of its content and the one before it is kept
(``checkpoint.prev.pkl``), so a damaged newest checkpoint falls back to the
previous one with a warning; frames are never deleted because a checkpoint is
missing (a run killed before its first checkpoint sets its partial files aside
as ``*.before-restart-<time>``); a folder is never continued with another
structure, schedule, ensemble or potential (refused, naming the difference),
though its guards (``GUARD_ONLY_SETTINGS``, e.g. a longer ``integrity_confirm_fs``)
may change, since they never alter the trajectory;
``status.json`` says ``failed`` with the reason when a run dies of an error.
What it does not guarantee: frames written after the last checkpoint are cut
when a run resumes, and a full disk or a damaged trajectory file is reported,
not repaired.
"""

from __future__ import annotations

import io
import json
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator

from .runfolder import (
    RunFolderBusy,
    RunFolderError,
    _atomic_write,
    _dump_checkpoint,
    _read_checkpoint,
)

__all__ = [
    "Stage",
    "Schedule",
    "MDRun",
    "MDGuardError",
    "RunFolderError",
    "check_md_structure",
    "read_trajectory",
    "read_thermo",
    "run_with_restarts",
    "count_restarts",
    "count_transients",
]

EV_PER_A3_TO_GPA = 160.21766208
ENSEMBLES = ("nve", "nvt-bussi", "nvt-nhc", "npt-mtk")
_STATE_ATTRS = ("_eta", "_p_eta", "_xi", "_p_xi", "_p_g", "transferred_energy")


class _FolderLock:
    """Exclusive lock on a run folder for as long as a run is going (POSIX ``flock``)."""

    def __init__(self, folder: Path):
        self.path = folder / ".lock"
        self.handle = None

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "unknown"
            self.handle.close()
            raise RunFolderBusy(f"{self.path.parent} is being run by another process "
                                 f"(pid {holder}); wait for it or stop it first") from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc):
        import fcntl

        fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
        self.handle.close()


#: Settings of :class:`MDRun` that only watch the dynamics (what a guard
#: tolerates), never change it: a folder may be continued with other values.
GUARD_ONLY_SETTINGS = ("integrity_confirm_fs", "integrity_every", "max_temperature_factor",
                       "min_distance_A")


def _differences(stored: dict, wanted: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(stored) | set(wanted)):
        a, b = stored.get(key, "<absent>"), wanted.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: folder has {a!r}, asked {b!r}")
    return out


class MDGuardError(RuntimeError):
    """A guard stopped the run; the last checkpoint and the bad frame are kept."""


@dataclass(frozen=True)
class Stage:
    """One stage of a schedule: ``steps`` steps from ``t_start_K`` to ``t_end_K``.

    A plateau has ``t_start_K == t_end_K``; the target temperature of a ramp
    changes linearly every step. ``timestep_fs`` overrides the schedule's.
    ``volume_end_A3`` makes it a deformation stage: the cell is scaled
    isotropically (atoms with it) a little every step so that the volume
    reaches this value (Å³) at the end of the stage.
    """

    name: str
    steps: int
    t_start_K: float
    t_end_K: float
    timestep_fs: float | None = None
    volume_end_A3: float | None = None

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"stage {self.name!r}: steps must be >= 1, got {self.steps}")
        if not (np.isfinite(self.t_start_K) and np.isfinite(self.t_end_K)) \
                or min(self.t_start_K, self.t_end_K) <= 0:
            raise ValueError(f"stage {self.name!r}: temperatures must be finite and > 0 K, got "
                             f"{self.t_start_K} and {self.t_end_K}")
        if self.timestep_fs is not None and not (np.isfinite(self.timestep_fs)
                                                 and self.timestep_fs > 0):
            raise ValueError(f"stage {self.name!r}: timestep_fs must be > 0, got {self.timestep_fs}")
        if self.volume_end_A3 is not None and self.volume_end_A3 <= 0:
            raise ValueError(f"stage {self.name!r}: volume_end_A3 must be > 0 Å³, "
                             f"got {self.volume_end_A3}")


@dataclass
class Schedule:
    """A sequence of stages with a default time step (fs).

    Build it with :meth:`plateau` and :meth:`ramp`, which take durations in ps
    and rates in K/ps, e.g. the paper's melt-quench::

        Schedule(0.5).plateau("prepare", 300, 10).ramp("heat", 300, 1500, 20)
                     .plateau("melt", 1500, 50).ramp("quench", 1500, 300, 20)
                     .plateau("equilibrate", 300, 100)
    """

    timestep_fs: float = 0.5
    stages: list[Stage] = field(default_factory=list)

    def __post_init__(self):
        if not (np.isfinite(self.timestep_fs) and self.timestep_fs > 0):
            raise ValueError(f"Schedule: timestep_fs must be > 0, got {self.timestep_fs}")

    def _steps(self, duration_ps: float, timestep_fs: float | None) -> int:
        dt = self.timestep_fs if timestep_fs is None else timestep_fs
        if not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"Schedule: timestep_fs must be > 0, got {dt}")
        if not (np.isfinite(duration_ps) and duration_ps > 0):
            raise ValueError(f"Schedule: a stage's duration must be > 0 ps, got {duration_ps}")
        steps = duration_ps * 1000.0 / dt
        if steps > 1e12:
            raise ValueError(f"Schedule: {duration_ps} ps at {dt} fs is {steps:.3g} steps; "
                             "more than any run can make")
        return max(1, round(steps))  # a positive duration is at least one step

    def plateau(
        self, name: str, temperature_K: float, duration_ps: float, timestep_fs: float | None = None
    ) -> Schedule:
        """Append a constant-temperature stage; returns ``self``."""
        steps = self._steps(duration_ps, timestep_fs)
        self.stages.append(Stage(name, steps, temperature_K, temperature_K, timestep_fs))
        return self

    def ramp(
        self, name: str, t_start_K: float, t_end_K: float, rate_K_per_ps: float,
        timestep_fs: float | None = None,
    ) -> Schedule:
        """Append a linear ramp at ``rate_K_per_ps``; returns ``self``."""
        if not rate_K_per_ps > 0:
            raise ValueError(f"ramp {name!r}: rate must be > 0 K/ps, got {rate_K_per_ps}")
        if t_start_K == t_end_K:
            raise ValueError(f"ramp {name!r}: starts and ends at {t_start_K} K; use plateau()")
        duration = abs(t_end_K - t_start_K) / rate_K_per_ps
        steps = self._steps(duration, timestep_fs)
        self.stages.append(Stage(name, steps, t_start_K, t_end_K, timestep_fs))
        return self

    def deform(
        self, name: str, temperature_K: float, duration_ps: float, volume_A3: float,
        timestep_fs: float | None = None,
    ) -> Schedule:
        """Append a constant-temperature stage that brings the cell to ``volume_A3``.

        The volume changes by an equal share of what remains at every step
        (isotropic scaling, atoms scaled with the cell), reaching ``volume_A3``
        exactly at the end of the stage; with the thermostat on, the structure
        relaxes as it is squeezed, unlike a one-shot affine rescale.
        NVT ensembles only.
        """
        steps = self._steps(duration_ps, timestep_fs)
        self.stages.append(Stage(name, steps, temperature_K, temperature_K, timestep_fs,
                                 volume_end_A3=float(volume_A3)))
        return self

    @property
    def total_steps(self) -> int:
        return sum(s.steps for s in self.stages)

    def boundaries(self) -> np.ndarray:
        """First step of each stage, then the total."""
        return np.concatenate([[0], np.cumsum([s.steps for s in self.stages])])

    def at(self, step: int) -> tuple[int, float, float]:
        """(stage index, target temperature in K, time step in fs) at ``step``."""
        bounds = self.boundaries()
        if not 0 <= step < bounds[-1]:
            raise IndexError(f"step {step} outside the schedule (0..{bounds[-1] - 1})")
        k = int(np.searchsorted(bounds, step, side="right") - 1)
        stage = self.stages[k]
        frac = (step - bounds[k]) / stage.steps
        temp = stage.t_start_K + frac * (stage.t_end_K - stage.t_start_K)
        return k, temp, stage.timestep_fs or self.timestep_fs

    def elapsed_fs(self, step: int) -> float:
        """Simulated time (fs) from the start of the schedule to ``step``.

        Sums each stage's time step over the steps done in it, so a schedule
        whose stages use different time steps is timed correctly; ``step``
        past the end counts the whole schedule.
        """
        bounds = self.boundaries()
        total = 0.0
        for k, stage in enumerate(self.stages):
            done = min(max(step - bounds[k], 0), stage.steps)
            total += done * (stage.timestep_fs or self.timestep_fs)
        return float(total)

    def to_dict(self) -> dict:
        return {"timestep_fs": self.timestep_fs, "stages": [asdict(s) for s in self.stages]}

    @classmethod
    def from_dict(cls, data: dict) -> Schedule:
        return cls(data["timestep_fs"], [Stage(**s) for s in data["stages"]])


def _restore(workdir: Path) -> bool:
    """Unpack a run archive (``run.tar.gz``) if the folder has one newer than its own run."""
    from .archive import restore_run

    return restore_run(workdir) if Path(workdir).is_dir() else False


def _write_frame_text(atoms: Atoms, info: dict, forces: np.ndarray | None = None) -> str:
    """One extended-XYZ frame: positions (and forces), scalars and stress in the comment."""
    from ase.io.extxyz import write_extxyz

    frame = Atoms(atoms.get_chemical_symbols(), atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    frame.info.update(info)
    columns = ["symbols", "positions"]
    if forces is not None:
        frame.arrays["forces"] = np.asarray(forces, dtype=float)
        columns.append("forces")
    buffer = io.StringIO()
    write_extxyz(buffer, [frame], columns=columns, write_results=False)
    return buffer.getvalue()


def read_trajectory(path: str | os.PathLike, index: str | int = ":") -> list[Atoms] | Atoms:
    """Read an MD trajectory, also while the run is still writing it.

    ``path`` is a run folder or its ``trajectory.extxyz``; an incomplete last
    frame (one being written) is ignored. A malformed frame before the end is
    an error naming the file and line, never a silent stop.
    """
    import ase.io

    path = Path(path)
    if path.is_dir():
        path = path / "trajectory.extxyz"
    if not path.is_file():
        _restore(path.parent)
    if not path.is_file():
        raise FileNotFoundError(f"no trajectory at {path}")
    lines = path.read_text().splitlines(keepends=True)
    complete: list[str] = []
    pos = 0
    while pos < len(lines):
        try:
            n = int(lines[pos])
            if n < 1:
                raise ValueError
        except ValueError:
            if pos == len(lines) - 1 and not lines[pos].endswith("\n"):
                break  # the count line of a frame being written
            raise ValueError(f"{path}, line {pos + 1}: expected the atom count of a frame, "
                             f"found {lines[pos].strip()[:60]!r}") from None
        block = lines[pos : pos + n + 2]
        if len(block) < n + 2 or not block[-1].endswith("\n"):
            break  # the last frame, still being written
        complete.extend(block)
        pos += n + 2
    if not complete:
        return [] if index == ":" else None
    try:
        return ase.io.read(io.StringIO("".join(complete)), index=index, format="extxyz")
    except Exception as err:  # a frame whose lines are damaged
        raise ValueError(f"{path}: unreadable frame ({type(err).__name__}: {err})") from None


def read_thermo(path: str | os.PathLike):
    """The thermo log of a run (folder or ``thermo.csv``) as a DataFrame."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        path = path / "thermo.csv"
    if not path.is_file():
        _restore(path.parent)
    return pd.read_csv(path)


def integrity_at_step(workdir: str | os.PathLike, step: int) -> dict:
    """Linker integrity of a run's recorded frame at ``step``, with the confirmation rule.

    A one-shot check of a single frame cannot tell a C–H bond vibrating past
    the cutoff from a break (see ``integrity_confirm_fs`` of :class:`MDRun`).
    A run that went on for its confirmation window after ``step`` settles it:
    a break seen in that frame which healed is a row of ``transients.csv``
    with that step, and one that lasted would have stopped the run.

    Parameters
    ----------
    workdir : path
        An :class:`MDRun` folder (``run.json``, ``status.json``,
        ``trajectory.extxyz``; ``transients.csv`` if any break healed).
    step : int
        The MD step to judge; a frame must have been recorded there.

    Returns
    -------
    dict
        ``broken_one_shot`` (linkers broken in that frame,
        :func:`zifhelpers.analysis.linkers.check_integrity`); ``confirmed``
        (True once the run went ``integrity_confirm_fs`` past ``step`` with
        the check due at ``step``); ``healed`` (a break seen there was
        logged as healed); ``broken`` (``broken_one_shot`` unless it healed:
        a break not followed up, e.g. in the last frame of a run without a
        window after it, counts as broken); ``intact`` (the other linkers).
    """
    import csv

    from ..analysis.linkers import check_integrity

    workdir = Path(workdir)
    for name in ("run.json", "status.json"):
        if not (workdir / name).is_file():
            raise FileNotFoundError(f"{workdir} is not an MDRun folder: no {name}")
    settings = json.loads((workdir / "run.json").read_text())
    status = json.loads((workdir / "status.json").read_text())
    frames = read_trajectory(workdir)
    frame = next((f for f in frames if int(f.info.get("step", -1)) == step), None)
    if frame is None:
        recorded = [int(f.info.get("step", -1)) for f in frames]
        raise ValueError(f"{workdir}: no frame recorded at step {step} (recorded: "
                         f"{recorded[:3]} ... {recorded[-3:]}, every {settings['frame_every']})")
    report = check_integrity(frame)
    schedule = Schedule.from_dict(settings["schedule"])
    window = settings.get("integrity_confirm_fs", 0.0)
    every = settings.get("integrity_every", 0)
    # elapsed time from `step` to where the run got (fs), over its stages' time steps
    after_fs = schedule.elapsed_fs(status["step"]) - schedule.elapsed_fs(step)
    confirmed = bool(window > 0 and every and step % every == 0 and after_fs >= window - 1e-9)
    healed = False
    transients = workdir / "transients.csv"
    if transients.is_file():
        with open(transients, newline="") as handle:
            healed = any(int(row["step"]) == step for row in csv.DictReader(handle))
    broken = 0 if healed else int(report.n_broken)
    return {"intact": int(report.n_expected) - broken, "broken_one_shot": int(report.n_broken),
            "confirmed": confirmed, "healed": healed, "broken": broken}


_THERMO_COLUMNS = [
    "step", "time_ps", "stage", "target_T_K", "temperature_K", "epot_eV", "ekin_eV",
    "pressure_GPa", "volume_A3",
]


def check_md_structure(atoms: Atoms, who: str = "MD") -> None:
    """Refuse what MD cannot run: no atoms, non-finite positions, or a cell
    that is not periodic in 3-D with a volume (every run records the stress)."""
    if not isinstance(atoms, Atoms):
        raise TypeError(f"{who}: expected an ase.Atoms, got {type(atoms).__name__}")
    if len(atoms) == 0:
        raise ValueError(f"{who}: the structure has no atoms")
    if not np.isfinite(atoms.positions).all():
        raise ValueError(f"{who}: the structure {atoms.get_chemical_formula()} has non-finite positions")
    if not atoms.pbc.all():
        raise ValueError(f"{who}: the structure {atoms.get_chemical_formula()} is not periodic in 3-D "
                         f"(pbc={atoms.pbc.tolist()}); runs record the stress, which needs a cell")
    volume = abs(np.linalg.det(atoms.cell.array))
    if not volume > 1e-6:
        raise ValueError(f"{who}: the cell of {atoms.get_chemical_formula()} has volume {volume:.3g} Å³")


class MDRun:
    """A checkpointed MD run in its own folder.

    Parameters
    ----------
    workdir : path-like
        Run folder: ``run.json`` (the recipe), ``initial.extxyz``,
        ``trajectory.extxyz``, ``thermo.csv``, ``checkpoint.pkl``,
        ``status.json``.
    atoms : ase.Atoms
        Starting structure (momenta are used when ``init_velocities`` is False).
    schedule : Schedule
    calculator : str
        A spec for :func:`zifhelpers.potentials.registry.load_calculator` (recorded so
        that ``md-resume`` can rebuild it), e.g. ``"published"``.
    ensemble : {"nve", "nvt-bussi", "nvt-nhc", "npt-mtk"}
    tdamp_fs, pdamp_fs : float
        Thermostat and barostat time constants (paper: 100 fs and 1000 fs).
    pressure_GPa : float
        Target pressure for ``"npt-mtk"``.
    frame_every, checkpoint_every : int
        Steps between trajectory frames, and between checkpoints (a multiple
        of ``frame_every``).
    seed : int
        Seeds the initial velocities and the Bussi thermostat.
    init_velocities : bool
        Draw Maxwell–Boltzmann velocities at the first stage's temperature.
    min_distance_A : float
        Guard: stop if two atoms come closer than this (Å).
    max_temperature_factor : float
        Guard: stop if T > factor × target + 300 K.
    integrity_every : int
        Steps between linker-integrity checks (0: never); ZIFs only.
    integrity_confirm_fs : float
        0 (default): stop at the first failed integrity check. > 0: after a
        failed check, repeat it about every 2 fs for this long (fs) and stop
        only if the linker stayed broken throughout; a break that healed is a
        transient, written to ``transients.csv`` (step, time, when it healed,
        what was seen). At 1500 K the
        published model itself stretches C–H bonds past the 1.35 Å cutoff
        (its own NVT: C–H 1.11 ± 0.06 Å, up to 1.38 Å, a different H in
        consecutive checks), so a one-shot check stops even the teacher
        within 2 ps; 50 fs (several C–H periods) tells such vibrations from
        breaks. A pending confirmation is not checkpointed: a resumed run
        finds a lasting break at its next regular check.
    write_labels : bool
        Also write forces, ``energy`` (eV), ``stress`` (eV/Å³, no kinetic
        term) and provenance to each frame, so that a reference-model run is a
        labelled data set (:func:`zifhelpers.data.datasets.read_dataset` reads it).
    hydrogen_mass_amu : float, optional
        Give every H atom this mass (amu) for the run. Configurational averages
        of NVT do not depend on the masses, so heavier hydrogens sample the same
        ensemble with a longer stable time step (e.g. 4 amu and 2 fs); dynamics
        (diffusion, vibrational spectra) are changed. For sampling only.
    calc : ase Calculator, optional
        Use this calculator object instead of building one from the spec.
    """

    def __init__(
        self,
        workdir: str | os.PathLike,
        atoms: Atoms,
        schedule: Schedule,
        calculator: str = "published",
        ensemble: str = "nvt-bussi",
        tdamp_fs: float = 100.0,
        pdamp_fs: float = 1000.0,
        pressure_GPa: float = 0.0,
        frame_every: int = 20,
        checkpoint_every: int | None = None,
        seed: int = 0,
        init_velocities: bool = True,
        min_distance_A: float = 0.6,
        max_temperature_factor: float = 2.5,
        integrity_every: int = 0,
        integrity_confirm_fs: float = 0.0,
        write_labels: bool = False,
        hydrogen_mass_amu: float | None = None,
        calc: Calculator | None = None,
    ) -> None:
        if ensemble not in ENSEMBLES:
            raise ValueError(f"ensemble must be one of {ENSEMBLES}, got {ensemble!r}")
        check_md_structure(atoms, "MDRun")
        for name, value in (("frame_every", frame_every), ("checkpoint_every", checkpoint_every or 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a whole number of steps >= 1, got {value!r}")
        for name, value in (("tdamp_fs", tdamp_fs), ("pdamp_fs", pdamp_fs)):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0 fs, got {value}")
        if not (isinstance(integrity_every, (int, np.integer)) and integrity_every >= 0):
            raise ValueError(f"integrity_every must be a whole number of steps >= 0, got {integrity_every!r}")
        if ensemble == "npt-mtk" and any(s.t_start_K != s.t_end_K for s in schedule.stages):
            raise ValueError("npt-mtk supports temperature plateaus only, not ramps")
        deforming = [s.name for s in schedule.stages if s.volume_end_A3 is not None]
        if deforming and ensemble in ("npt-mtk", "nve"):
            raise ValueError(f"deformation stages {deforming} need an NVT ensemble "
                             f"(nvt-bussi or nvt-nhc), not {ensemble!r}")
        checkpoint_every = checkpoint_every or frame_every * 10
        if checkpoint_every % frame_every:
            raise ValueError(
                f"checkpoint_every ({checkpoint_every}) must be a multiple of "
                f"frame_every ({frame_every})"
            )
        self.workdir = Path(workdir)
        self.schedule = schedule
        self.settings = {
            "calculator": str(calculator),
            "ensemble": ensemble,
            "tdamp_fs": tdamp_fs,
            "pdamp_fs": pdamp_fs,
            "pressure_GPa": pressure_GPa,
            "frame_every": frame_every,
            "checkpoint_every": checkpoint_every,
            "seed": seed,
            "init_velocities": init_velocities,
            "min_distance_A": min_distance_A,
            "max_temperature_factor": max_temperature_factor,
            "integrity_every": integrity_every,
            "integrity_confirm_fs": integrity_confirm_fs,
            "write_labels": write_labels,
            "hydrogen_mass_amu": hydrogen_mass_amu,
        }
        self._pending_break = None
        self.atoms = atoms.copy()
        self._start = atoms.copy()  # what the folder's initial.extxyz must match
        if hydrogen_mass_amu is not None:
            if not hydrogen_mass_amu > 0:
                raise ValueError(f"hydrogen_mass_amu must be > 0, got {hydrogen_mass_amu}")
            masses = self.atoms.get_masses()
            masses[self.atoms.numbers == 1] = hydrogen_mass_amu
            self.atoms.set_masses(masses)
        self._calc = calc
        self._rng = np.random.default_rng(seed)
        self.step = 0

    # ------------------------------------------------------------------ files
    @property
    def trajectory_path(self) -> Path:
        return self.workdir / "trajectory.extxyz"

    @property
    def thermo_path(self) -> Path:
        return self.workdir / "thermo.csv"

    @property
    def checkpoint_path(self) -> Path:
        return self.workdir / "checkpoint.pkl"

    @property
    def previous_checkpoint_path(self) -> Path:
        return self.workdir / "checkpoint.prev.pkl"

    def _recipe(self) -> dict:
        return json.loads(json.dumps({"schedule": self.schedule.to_dict(), **self.settings}))

    def _check_folder_matches(self) -> None:
        """Refuse to continue a folder made with another recipe or starting structure."""
        import ase.io

        stored = json.loads((self.workdir / "run.json").read_text())
        wanted = self._recipe()
        problems = _differences({k: v for k, v in stored.items() if k not in GUARD_ONLY_SETTINGS},
                                {k: v for k, v in wanted.items() if k not in GUARD_ONLY_SETTINGS})
        initial = self.workdir / "initial.extxyz"
        if initial.is_file():
            first = ase.io.read(initial, format="extxyz")
            start = self._start
            if len(first) != len(start) or (first.numbers != start.numbers).any():
                problems.append(f"structure: folder has {first.get_chemical_formula()} "
                                f"({len(first)} atoms), asked {start.get_chemical_formula()} "
                                f"({len(start)} atoms)")
            elif not (np.allclose(first.positions, start.positions, atol=1e-5)
                      and np.allclose(first.cell.array, start.cell.array, atol=1e-5)):
                problems.append("structure: same atoms, other starting positions or cell")
        if problems:
            raise RunFolderError(
                f"{self.workdir} holds a run made with other inputs; use another folder or "
                "delete this one:\n  " + "\n  ".join(problems))
        changed = _differences({k: stored.get(k, "<absent>") for k in GUARD_ONLY_SETTINGS if k in wanted},
                               {k: wanted[k] for k in GUARD_ONLY_SETTINGS if k in wanted})
        status = self.workdir / "status.json"
        finished = status.is_file() and json.loads(status.read_text()).get("state") == "finished"
        if changed and not finished:  # guards only watch the dynamics: the run goes on under the new ones
            warnings.warn(f"{self.workdir}: guard settings changed on resume ({'; '.join(changed)}); "
                          "the trajectory is the same, run.json now records the new ones", stacklevel=3)
            _atomic_write(self.workdir / "run.json", (json.dumps(wanted, indent=2) + "\n").encode())

    def _write_status(self, state: str, reason: str = "") -> None:
        status = {"state": state, "step": self.step, "total_steps": self.schedule.total_steps,
                  "reason": reason}
        _atomic_write(self.workdir / "status.json", json.dumps(status, indent=2).encode())

    def prepare(self) -> MDRun:
        """Create the run folder with its recipe and starting structure."""
        import ase.io

        self.workdir.mkdir(parents=True, exist_ok=True)
        recipe = {"schedule": self.schedule.to_dict(), **self.settings}
        (self.workdir / "run.json").write_text(json.dumps(recipe, indent=2) + "\n")
        ase.io.write(self.workdir / "initial.extxyz", self.atoms, format="extxyz")
        self._write_status("prepared")
        return self

    @classmethod
    def from_workdir(cls, workdir: str | os.PathLike, calc: Calculator | None = None) -> MDRun:
        """Rebuild a run from its folder (recipe, initial structure, checkpoint)."""
        import ase.io

        workdir = Path(workdir)
        _restore(workdir)
        recipe_path = workdir / "run.json"
        if not recipe_path.is_file():
            raise FileNotFoundError(f"{workdir} is not an MD run folder: no run.json")
        recipe = json.loads(recipe_path.read_text())
        schedule = Schedule.from_dict(recipe.pop("schedule"))
        atoms = ase.io.read(workdir / "initial.extxyz", format="extxyz")
        try:
            run = cls(workdir, atoms, schedule, calc=calc, **recipe)
        except TypeError as err:
            raise RunFolderError(f"{recipe_path}: not a recipe this version can run ({err})") \
                from None
        run._load_checkpoint()
        return run

    @classmethod
    def resume(cls, workdir: str | os.PathLike, calc: Calculator | None = None,
               progress: bool = True) -> Path:
        """Resume (or start) the run in ``workdir`` and run it to the end."""
        return cls.from_workdir(workdir, calc).run(progress=progress)

    def redraw_velocities(self, seed: int, reason: str = "") -> int:
        """Go back to the last checkpoint and draw new Maxwell–Boltzmann velocities there.

        For a run stopped by a guard where the potential, not the physics, failed (e.g. a
        student that opens an imidazolate ring at 1500 K that the reference keeps closed):
        the run continues from its last checkpoint on another trajectory of the same
        ensemble. The frames written after that checkpoint are kept aside as
        ``trajectory.extxyz.abandoned-<step>``; each restart is a row of ``restarts.csv``
        (step, time, seed, reason), so the number of restarts of a run is on record.
        Returns the step the run restarts from.
        """
        import shutil

        from ase.md.velocitydistribution import Stationary, thermalize_momenta

        with _FolderLock(self.workdir):
            if not (self.checkpoint_path.is_file() or self.previous_checkpoint_path.is_file()):
                raise RunFolderError(f"{self.workdir}: no checkpoint to restart from")
            status_file = self.workdir / "status.json"
            status = json.loads(status_file.read_text()) if status_file.is_file() else {}
            reason = reason or status.get("reason", "")
            stopped_at = status.get("step", "")
            if self.trajectory_path.is_file():
                shutil.copyfile(self.trajectory_path, self.trajectory_path.with_name(
                    f"{self.trajectory_path.name}.abandoned-{stopped_at}"))
            self._load_checkpoint()  # cuts the frames after the checkpoint
            _, target, _ = self.schedule.at(min(self.step, self.schedule.total_steps - 1))
            rng = np.random.default_rng(seed)
            thermalize_momenta(self.atoms, temperature_K=target, rng=rng)
            Stationary(self.atoms)
            state = _read_checkpoint(self.checkpoint_path)
            state.update(momenta=self.atoms.get_momenta(), rng=rng.bit_generator.state)
            self._rng.bit_generator.state = rng.bit_generator.state
            os.replace(self.checkpoint_path, self.previous_checkpoint_path)
            _atomic_write(self.checkpoint_path, _dump_checkpoint(state))
            log = self.workdir / "restarts.csv"
            new = not log.is_file()
            with open(log, "a") as handle:
                if new:
                    handle.write("step,time_ps,stopped_at_step,seed,reason\n")
                clean = reason.replace(",", ";").replace("\n", " ")
                handle.write(f"{self.step},{self._elapsed_fs() / 1000:.4f},{stopped_at},{seed},"
                             f"{clean}\n")
            self._write_status("paused", f"restarted at step {self.step} with new velocities")
        return self.step

    # ------------------------------------------------------------- checkpoint
    def _save_checkpoint(self, dyn) -> None:
        state = {
            "step": self.step,
            "positions": self.atoms.positions.copy(),
            "momenta": self.atoms.get_momenta(),
            "cell": self.atoms.cell.array.copy(),
            "dyn_state": self._dyn_state(dyn),
            "rng": self._rng.bit_generator.state,
            "trajectory_bytes": self.trajectory_path.stat().st_size,
            "thermo_bytes": self.thermo_path.stat().st_size,
        }
        if self.checkpoint_path.is_file():  # the one before stays until the next is safe
            os.replace(self.checkpoint_path, self.previous_checkpoint_path)
        _atomic_write(self.checkpoint_path, _dump_checkpoint(state))

    def _load_checkpoint(self) -> None:
        self._pending_state = None
        state, problems = None, []
        for path in (self.checkpoint_path, self.previous_checkpoint_path):
            if not path.is_file():
                continue
            try:
                state = _read_checkpoint(path)
            except RunFolderError as err:
                problems.append(str(err))
                continue
            if problems:
                warnings.warn(f"{'; '.join(problems)}: resuming from {path.name} (step "
                              f"{state['step']}) instead", stacklevel=3)
            break
        if state is None and problems:
            raise RunFolderError("; ".join(problems) + "; no usable checkpoint is left, and the "
                                 "folder's files are left as they are")
        if state is None:  # killed before its first checkpoint: start again, keep what it wrote
            stamp = time.strftime("%Y%m%d-%H%M%S")
            for path in (self.trajectory_path, self.thermo_path):
                if path.is_file() and path.stat().st_size:
                    aside = path.with_name(f"{path.name}.before-restart-{stamp}")
                    os.replace(path, aside)
                    warnings.warn(f"{self.workdir}: no checkpoint yet, so the run starts again; "
                                  f"its earlier output is kept as {aside.name}", stacklevel=3)
            return
        if np.shape(state["positions"]) != self.atoms.positions.shape:
            raise RunFolderError(f"{self.workdir}: the checkpoint holds "
                                 f"{len(state['positions'])} atoms, the run {len(self.atoms)}")
        self.step = state["step"]
        self.atoms.set_cell(state["cell"], scale_atoms=False)
        self.atoms.positions = state["positions"]
        self.atoms.set_momenta(state["momenta"])
        self._rng.bit_generator.state = state["rng"]
        self._pending_state = state["dyn_state"]
        # cut frames written after the checkpoint
        for path, size in ((self.trajectory_path, state["trajectory_bytes"]),
                           (self.thermo_path, state["thermo_bytes"])):
            if not path.is_file() or path.stat().st_size < size:
                raise RuntimeError(
                    f"{path} is shorter than at the checkpoint of step {self.step} "
                    f"(expected >= {size} bytes): the run folder was altered"
                )
            with open(path, "r+b") as handle:
                handle.truncate(size)
        # healed excursions after the checkpoint will be lived again (or not, with new velocities)
        transients = self.workdir / "transients.csv"
        if transients.is_file():
            lines = transients.read_text().splitlines(keepends=True)
            kept = lines[:1] + [line for line in lines[1:] if int(line.split(",", 1)[0]) <= self.step]
            if len(kept) != len(lines):
                _atomic_write(transients, "".join(kept).encode())

    @staticmethod
    def _dyn_state(dyn) -> dict:
        state = {}
        for owner_name in ("", "_thermostat", "_barostat"):
            owner = getattr(dyn, owner_name, None) if owner_name else dyn
            if owner is None:
                continue
            for attr in _STATE_ATTRS:
                if hasattr(owner, attr):
                    value = getattr(owner, attr)
                    state[f"{owner_name}.{attr}"] = np.copy(value)
        return state

    @staticmethod
    def _restore_dyn_state(dyn, state: dict) -> None:
        for key, value in state.items():
            owner_name, attr = key.split(".")
            owner = getattr(dyn, owner_name) if owner_name else dyn
            setattr(owner, attr, float(value) if np.ndim(value) == 0 else np.copy(value))

    # ------------------------------------------------------------- integrator
    def _make_dyn(self, temperature: float, timestep_fs: float):
        ens = self.settings["ensemble"]
        dt = timestep_fs * units.fs
        tdamp = self.settings["tdamp_fs"] * units.fs
        if ens == "nve":
            from ase.md.verlet import VelocityVerlet

            return VelocityVerlet(self.atoms, dt)
        if ens == "nvt-bussi":
            from ase.md.bussi import Bussi

            return Bussi(self.atoms, dt, temperature_K=temperature, taut=tdamp, rng=self._rng)
        if ens == "nvt-nhc":
            from ase.md.nose_hoover_chain import NoseHooverChainNVT

            return NoseHooverChainNVT(self.atoms, dt, temperature_K=temperature, tdamp=tdamp)
        from ase.md.nose_hoover_chain import MTKNPT

        return MTKNPT(
            self.atoms, dt, temperature_K=temperature,
            pressure_au=self.settings["pressure_GPa"] / EV_PER_A3_TO_GPA,
            tdamp=tdamp, pdamp=self.settings["pdamp_fs"] * units.fs,
        )

    @staticmethod
    def _set_temperature(dyn, temperature: float) -> None:
        kt = units.kB * temperature
        if hasattr(dyn, "target_kinetic_energy"):  # Bussi
            dyn.temp = kt
            dyn.target_kinetic_energy = 0.5 * kt * dyn.ndof
        elif hasattr(dyn, "_thermostat") and not hasattr(dyn, "_barostat"):
            th = dyn._thermostat
            th._kT = kt
            th._Q[0] = 3 * th._num_atoms_global * kt * th._tdamp**2
            th._Q[1:] = kt * th._tdamp**2

    # ------------------------------------------------------------------ guards
    def _guard(self, target: float, check_geometry: bool) -> str:
        forces = self.atoms.calc.results.get("forces")
        if forces is not None and not np.all(np.isfinite(forces)):
            return "NaN or infinite forces"
        if not np.all(np.isfinite(self.atoms.positions)):
            return "NaN positions"
        temp = self.atoms.get_temperature()
        limit = self.settings["max_temperature_factor"] * target + 300.0
        if temp > limit:
            return f"temperature {temp:.0f} K far above the target {target:.0f} K (limit {limit:.0f} K)"
        if check_geometry:
            from ..analysis.neighbors import neighbor_list

            dmin = self.settings["min_distance_A"]
            i, j, d = neighbor_list(self.atoms, dmin, "ijd", full_list=False)
            if len(d):
                k = int(np.argmin(d))
                return (f"atoms {i[k]} and {j[k]} are {d[k]:.3f} A apart "
                        f"(minimum {dmin} A)")
            every = self.settings["integrity_every"]
            if every and self.step % every == 0:
                problem, atoms = self._integrity_problem()
                if problem and self.settings["integrity_confirm_fs"] > 0:
                    if self._pending_break is None:
                        self._pending_break = (self.step, self._elapsed_fs(), problem, atoms)
                    return ""
                if problem:
                    return f"broken linkers: {problem}"
        return ""

    def _integrity_problem(self) -> tuple[str, frozenset]:
        """What :func:`zifhelpers.analysis.linkers.check_integrity` finds broken, and the atoms it names.

        ``("", ∅)`` if intact or not a ZIF. The atoms are the misplaced or free
        H and the over-bonded C/N; a broken ring alone names none.
        """
        from ..analysis.linkers import check_integrity

        if not {"Zn", "N", "C"} <= set(self.atoms.get_chemical_symbols()):
            return "", frozenset()
        report = check_integrity(self.atoms)
        if report.n_broken or report.migrated_h or report.lost_h:
            return report.summary(), frozenset(report.migrated_h + report.lost_h
                                               + report.overbonded)
        return "", frozenset()

    def _confirm_break(self) -> str:
        """Follow a pending break; '' while it is being watched or once it healed.

        A break is confirmed only if it lasts the whole ``integrity_confirm_fs``
        window: the check is repeated about every 2 fs of it (every step for
        steps of 2 fs or more), well inside a C–H vibration period (about
        11 fs; 20 fs with 4-amu H), so that a bond vibrating past the cutoff, beyond
        it at both ends of the window but back in between, counts as intact.
        It persists while the check fails and names some of the same atoms (or,
        for ring breaks that name none, still fails). A healed break is logged
        to ``transients.csv``; a failure that names other atoms only is a new
        event that waits for its own confirmation.
        """
        step, t_fs, seen, seen_atoms = self._pending_break
        elapsed = self._elapsed_fs() - t_fs
        done = elapsed >= self.settings["integrity_confirm_fs"] - 1e-9
        dt_fs = self.schedule.at(min(self.step, int(self.schedule.boundaries()[-1])) - 1)[2]
        stride = max(1, int(round(2.0 / dt_fs)))
        if not done and (self.step - step) % stride:
            return ""
        problem, atoms = self._integrity_problem()
        same = bool(atoms & seen_atoms) or (not atoms and not seen_atoms)
        if problem and same:
            if done:
                self._pending_break = None
                return (f"broken linkers: {problem} (found at step {step}, still broken "
                        f"throughout the {elapsed:.0f} fs after, checked every "
                        f"{stride * dt_fs:g} fs)")
            return ""
        self._pending_break = (self.step, self._elapsed_fs(), problem, atoms) if problem else None
        path = self.workdir / "transients.csv"
        new = not path.is_file()
        with open(path, "a") as handle:
            if new:
                handle.write("step,time_ps,healed_by_step,seen\n")
            summary = seen.replace('"', "'")
            handle.write(f'{step},{t_fs / 1000.0:.6g},{self.step},"{summary}"\n')
        return ""

    def _confirm_beyond_the_end(self, dyn) -> None:
        """Finish the confirmation window of a break pending at the run's last step.

        The dynamics continue past the end for what is left of the window,
        unrecorded (the trajectory, the final checkpoint and the state a
        resumed or extended run starts from are those of the last step), and
        the break is judged as inside a run: it stops the run only if it lasts
        the whole window, else it is logged to ``transients.csv`` as healed.
        """
        saved = (self.atoms.positions.copy(), self.atoms.get_momenta().copy(),
                 self.atoms.cell.array.copy(), self._dyn_state(dyn),
                 self._rng.bit_generator.state, self.step)
        reason = ""
        try:
            guard_target, dt_fs = self.schedule.at(self.step - 1)[1:]
            cap = self.step + int(self.settings["integrity_confirm_fs"] / dt_fs) + 2
            while self._pending_break is not None and not reason and self.step <= cap:
                dyn.step()
                self.step += 1
                reason = self._guard(guard_target, check_geometry=False) or self._confirm_break()
        finally:
            positions, momenta, cell, state, rng, step = saved
            self.atoms.set_cell(cell, scale_atoms=False)
            self.atoms.positions = positions
            self.atoms.set_momenta(momenta)
            self._restore_dyn_state(dyn, state)
            self._rng.bit_generator.state = rng
            self.step = step
            self._pending_break = None
        if reason:
            self._stop(reason.replace("throughout the", "at the end of the run and throughout the")
                       + " (followed past the end without recording)")

    def _stop(self, reason: str) -> None:
        import ase.io

        ase.io.write(self.workdir / "failed_frame.extxyz", self.atoms, format="extxyz")
        self._write_status("stopped", reason)
        raise MDGuardError(
            f"MD run {self.workdir} stopped at step {self.step}: {reason}. The last "
            f"checkpoint is kept (resume with MDRun.resume); the offending frame is "
            f"in failed_frame.extxyz."
        )

    # --------------------------------------------------------------------- run
    def _calculator(self) -> Calculator:
        if self._calc is None:
            from ..potentials.registry import load_calculator

            self._calc = load_calculator(self.settings["calculator"])
        return self._calc

    def _record(self, stage_index: int, target: float) -> None:
        atoms = self.atoms
        stress = atoms.get_stress(include_ideal_gas=True, voigt=True) * EV_PER_A3_TO_GPA
        time_ps = self._elapsed_fs() / 1000.0
        row = {
            "step": self.step,
            "time_ps": time_ps,
            "stage": self.schedule.stages[stage_index].name,
            "target_T_K": target,
            "temperature_K": atoms.get_temperature(),
            "epot_eV": atoms.get_potential_energy(),
            "ekin_eV": atoms.get_kinetic_energy(),
            "pressure_GPa": float(-stress[:3].mean()),
            "volume_A3": atoms.get_volume(),
        }
        info = {**row, "stress_GPa": stress}
        forces = None
        if self.settings["write_labels"]:
            # the frame doubles as a labelled configuration (zifhelpers.data.datasets format)
            forces = atoms.get_forces()
            info.update(energy=row["epot_eV"], stress=atoms.get_stress(voigt=False),
                        labeller=self.settings["calculator"],
                        state_point=f"{row['stage']} {row['target_T_K']:.0f} K",
                        sampler="MD", seed=self.settings["seed"])
        with open(self.trajectory_path, "a") as handle:
            handle.write(_write_frame_text(atoms, info, forces))
        new = not self.thermo_path.is_file() or self.thermo_path.stat().st_size == 0
        with open(self.thermo_path, "a") as handle:
            if new:
                handle.write(",".join(_THERMO_COLUMNS) + "\n")
            handle.write(",".join(
                f"{row[c]:.10g}" if isinstance(row[c], float) else str(row[c])
                for c in _THERMO_COLUMNS) + "\n")

    def _elapsed_fs(self) -> float:
        total = int(self.schedule.boundaries()[-1])
        past_the_end = max(self.step - total, 0) * self.schedule.at(total - 1)[2]  # confirmations
        return self.schedule.elapsed_fs(self.step) + past_the_end

    def run(self, progress: bool = True, max_steps: int | None = None) -> Path:
        """Run to the end of the schedule (or ``max_steps`` more steps).

        Returns the trajectory path. Raises :class:`MDGuardError` when a guard
        trips.
        """
        if max_steps is not None and max_steps < 0:
            raise ValueError(f"max_steps must be >= 0, got {max_steps}")
        with _FolderLock(self.workdir):
            _restore(self.workdir)  # a run carried over from another machine in run.tar.gz
            if (self.workdir / "run.json").is_file():
                self._check_folder_matches()
            else:
                self.prepare()
            try:
                return self._run(progress, max_steps)
            except MDGuardError:
                raise  # status "stopped", written by the guard
            except KeyboardInterrupt:
                self._write_status("interrupted", "KeyboardInterrupt: resume with MDRun.resume")
                raise
            except Exception as err:
                self._write_status("failed", f"{type(err).__name__}: {err}")
                raise

    def _run(self, progress: bool, max_steps: int | None) -> Path:
        from tqdm.auto import tqdm

        if not hasattr(self, "_pending_state"):
            self._load_checkpoint()
        self.atoms.calc = self._calculator()
        total = self.schedule.total_steps
        end = total if max_steps is None else min(total, self.step + max_steps)
        if self.step == 0 and not self.checkpoint_path.is_file():
            _, t0, _ = self.schedule.at(0)
            if self.settings["init_velocities"]:
                from ase.md.velocitydistribution import Stationary, thermalize_momenta

                thermalize_momenta(self.atoms, temperature_K=t0, rng=self._rng)
                Stationary(self.atoms)
            self._record(0, t0)
        self._write_status("running")
        every = self.settings["frame_every"]
        ckpt_every = self.settings["checkpoint_every"]
        dyn, dyn_key = None, None
        bar = tqdm(total=total, initial=self.step, desc=self.workdir.name,
                   disable=not progress, unit="step")
        while self.step < end:
            stage_index, target, dt_fs = self.schedule.at(self.step)
            if (stage_index, dt_fs) != dyn_key:
                state = self._dyn_state(dyn) if dyn is not None else self._pending_state
                dyn = self._make_dyn(target, dt_fs)
                if state:
                    self._restore_dyn_state(dyn, state)
                dyn_key = (stage_index, dt_fs)
            self._set_temperature(dyn, target)
            stage = self.schedule.stages[stage_index]
            if stage.volume_end_A3 is not None:
                remaining = int(self.schedule.boundaries()[stage_index + 1]) - self.step
                volume = self.atoms.get_volume()
                new = volume + (stage.volume_end_A3 - volume) / remaining
                self.atoms.set_cell(self.atoms.cell * (new / volume) ** (1 / 3),
                                    scale_atoms=True)
            dyn.step()
            self.step += 1
            record = self.step % every == 0 or self.step == total
            reason = self._guard(target, check_geometry=record)
            if not reason and self._pending_break is not None:
                reason = self._confirm_break()
            if reason:
                bar.close()
                self._stop(reason)
            if record:
                self._record(stage_index, target)
                if self.step % ckpt_every == 0 or self.step == total or self.step == end:
                    self._save_checkpoint(dyn)
                bar.set_postfix(T=f"{self.atoms.get_temperature():.0f}K")
            bar.update(1)
        bar.close()
        if self.step == total and self._pending_break is not None:
            self._confirm_beyond_the_end(dyn)
        if dyn is not None and self.step % every:  # unrecorded tail before max_steps
            self._save_checkpoint(dyn)
        self._pending_state = self._dyn_state(dyn) if dyn is not None else self._pending_state
        self._write_status("finished" if self.step == total else "paused")
        return self.trajectory_path


def run_with_restarts(run: MDRun, workdir: str | os.PathLike, restarts_on_break: int, seed: int = 0,
                      calc=None, progress: bool = True) -> Path:
    """Run ``run`` to its end; up to ``restarts_on_break`` confirmed linker breaks send it
    back to its last checkpoint with new velocities instead of ending it.

    For a sampler whose potential has holes (a student that opens a ring the
    reference keeps closed): each restart draws Maxwell–Boltzmann velocities with
    seed ``1000 * seed + k`` (:meth:`MDRun.redraw_velocities`)
    and is a row of ``restarts.csv`` (:func:`count_restarts`), so what such a run
    produced says so. A run found stopped by an earlier call counts the same way.
    Raises :class:`MDGuardError` on any other stop, or
    a break past the budget. Returns the run folder.
    """
    if restarts_on_break < 0:
        raise ValueError(f"restarts_on_break must be >= 0, got {restarts_on_break}")
    while True:
        status = Path(workdir) / "status.json"
        state = json.loads(status.read_text()) if status.is_file() else {}
        if state.get("state") == "stopped":  # a break from an earlier call, or just now
            if not _restart_allowed(workdir, state, restarts_on_break):
                raise MDGuardError(f"MD run {workdir} stopped: {state.get('reason')}")
            run = _restarted(run, workdir, seed, calc, state)
            continue
        try:
            run.run(progress=progress)
            return Path(workdir)
        except MDGuardError:
            continue  # the loop reads the stop from status.json


def _restart_allowed(workdir, state: dict, budget: int) -> bool:
    return "broken linkers" in state.get("reason", "") and count_restarts(workdir) < budget


def _restarted(run: MDRun, workdir, seed: int, calc, state: dict) -> MDRun:
    k = count_restarts(workdir) + 1
    run = MDRun.from_workdir(workdir, calc=calc)
    run.redraw_velocities(seed=1000 * int(seed) + k, reason=state.get("reason", ""))
    return MDRun.from_workdir(workdir, calc=calc)


def _csv_rows(path: Path) -> int:
    """Data rows of a run-folder CSV log (its header not counted); 0 when absent."""
    if not path.is_file():
        return 0
    with open(path) as handle:
        return max(0, sum(1 for line in handle if line.strip()) - 1)


def count_restarts(workdir: str | os.PathLike) -> int:
    """How many times a run went back to a checkpoint with new velocities after a
    confirmed linker break (``restarts.csv`` rows; see :func:`run_with_restarts`)."""
    return _csv_rows(Path(workdir) / "restarts.csv")


def count_transients(workdir: str | os.PathLike) -> int:
    """How many linker-check failures of a run healed (``transients.csv`` rows):
    thermal excursions of a bond past its cutoff, not breaks."""
    return _csv_rows(Path(workdir) / "transients.csv")
