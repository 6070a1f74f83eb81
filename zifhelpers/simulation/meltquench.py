"""The paper's melt-quench protocol and a glass-or-crystal verdict.

Castel et al. (Digital Discovery 2024) made ZIF-4 glasses from the crystal
equilibrated at 300 K: heating at 20 K/ps to 1500 K, a 50 ps plateau at 1500 K
(without it the framework stayed crystalline), quenching at 20 K/ps to 300 K
and 100 ps of equilibration at 300 K, all NVT on a 2×2×2 supercell (2176 atoms)
with a 0.5 fs time step (0.25 fs above 1500 K).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from .md import (  # count_*, run_with_restarts re-exported for the notebooks
    MDGuardError,
    MDRun,
    Schedule,
    count_restarts,
    count_transients,
    read_thermo,
    read_trajectory,
    run_with_restarts,
)

__all__ = ["MeltQuench", "glass_at_300K", "glass_pair_counts", "count_restarts", "count_transients",
           "run_with_restarts", "disorder_metrics", "verdict", "plot_schedule", "plateau_evolution", "CRYSTAL_RING_SIZES"]

#: Ring sizes (Zn + imidazolate members) of the ZIF-4 crystal's cag net.
CRYSTAL_RING_SIZES = (8, 12, 16)


@dataclass
class MeltQuench:
    """Melt-quench protocol; the defaults are the paper's.

    Temperatures in K, rates in K/ps, durations in ps, time steps in fs.
    ``hot_timestep_fs`` is used by stages whose temperature exceeds
    ``hot_above_K``. ``hydrogen_mass_amu`` (e.g. 4 with a 2 fs step) gives
    the hydrogens that mass during the run (:class:`zifhelpers.simulation.md.MDRun`):
    the configurations sampled are those of the real masses, but the
    dynamics, hence the effective heating and cooling of the framework, are
    those of the heavier hydrogens.
    """

    t_low_K: float = 300.0
    t_max_K: float = 1500.0
    rate_K_per_ps: float = 20.0
    prepare_ps: float = 10.0
    plateau_ps: float = 50.0
    equilibrate_ps: float = 100.0
    timestep_fs: float = 0.5
    hot_timestep_fs: float = 0.25
    hot_above_K: float = 1500.0
    supercell: tuple[int, int, int] = (2, 2, 2)
    hydrogen_mass_amu: float | None = None

    def schedule(self) -> Schedule:
        """The stages: prepare, heat, plateau (if > 0 ps), quench, equilibrate."""
        if not (np.isfinite(self.t_low_K) and np.isfinite(self.t_max_K) and 0 < self.t_low_K < self.t_max_K):
            raise ValueError(f"MeltQuench: need 0 < t_low_K < t_max_K, got t_low_K={self.t_low_K}, "
                             f"t_max_K={self.t_max_K}")
        if (len(self.supercell) != 3
                or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in self.supercell)):
            raise ValueError(f"MeltQuench: supercell must be three whole numbers >= 1, got {self.supercell!r}")
        hot = self.hot_timestep_fs if self.t_max_K > self.hot_above_K else None
        sched = Schedule(self.timestep_fs)
        sched.plateau("prepare", self.t_low_K, self.prepare_ps)
        sched.ramp("heat", self.t_low_K, self.t_max_K, self.rate_K_per_ps, timestep_fs=hot)
        if self.plateau_ps > 0:
            sched.plateau("plateau", self.t_max_K, self.plateau_ps, timestep_fs=hot)
        sched.ramp("quench", self.t_max_K, self.t_low_K, self.rate_K_per_ps, timestep_fs=hot)
        sched.plateau("equilibrate", self.t_low_K, self.equilibrate_ps)
        return sched

    def to_dict(self) -> dict:
        return asdict(self)

    def run(
        self,
        atoms: Atoms,
        workdir: str | os.PathLike,
        calculator: str = "published",
        seed: int = 0,
        frame_every: int = 200,
        integrity_every: int = 1000,
        integrity_confirm_fs: float = 50.0,
        progress: bool = True,
        calc=None,
        restarts_on_break: int = 0,
    ) -> Path:
        """Run (or resume) the protocol on ``atoms`` repeated to the supercell.

        NVT with a Nosé–Hoover chain (100 fs); checkpointed, so a lost node
        loses nothing; linker integrity is checked every ``integrity_every``
        steps and stops the run if an imidazolate stays broken for
        ``integrity_confirm_fs`` (a C–H bond stretched past its cutoff for a
        few fs at 1500 K is a vibration: it is logged to ``transients.csv``
        and the run goes on; 0 stops at the first failed check). Returns the
        run folder (its ``thermo.csv`` carries the schedule for Fig. 5).

        ``restarts_on_break``: for a sampler whose potential has holes (a student that
        opens a ring the reference keeps closed), up to this many confirmed linker breaks
        send the run back to its last checkpoint with new velocities
        (:meth:`~zifhelpers.simulation.md.MDRun.redraw_velocities`, seeds ``1000 * seed +
        k``) instead of ending it; each is logged in ``restarts.csv``
        (:func:`count_restarts`), so a glass made this way says so. 0 (default): a break
        ends the run.
        """
        if restarts_on_break < 0:
            raise ValueError(f"restarts_on_break must be >= 0, got {restarts_on_break}")
        schedule = self.schedule()  # checks the protocol before the structure is repeated
        run = MDRun(
            workdir, atoms.repeat(self.supercell), schedule, calculator=calculator,
            ensemble="nvt-nhc", tdamp_fs=100.0, frame_every=frame_every, seed=seed,
            integrity_every=integrity_every, integrity_confirm_fs=integrity_confirm_fs,
            hydrogen_mass_amu=self.hydrogen_mass_amu, calc=calc,
        )
        return run_with_restarts(run, workdir, restarts_on_break, seed=seed, calc=calc, progress=progress)

    def attempt(self, atoms: Atoms, workdir: str | os.PathLike, **run_kwargs) -> dict:
        """:meth:`run`, reporting a guard stop (e.g. a broken linker) instead of raising.

        ``run_kwargs`` are those of :meth:`run`. For potentials that may not survive the protocol (the paper's Allegro
        above 1300 K). A finished or stopped run is read back, not re-run.
        Returns ``state`` ("finished" or "stopped"), ``reason``, the stage and
        simulated time (ps) reached, the highest target temperature reached
        (K), the recorded ``frames`` and, when finished, the disorder
        ``metrics`` of the last frame and their :func:`verdict`.
        """
        workdir = Path(workdir)
        status = workdir / "status.json"
        state = json.loads(status.read_text()).get("state") if status.is_file() else None
        if state not in ("finished", "stopped"):
            try:
                self.run(atoms, workdir, **run_kwargs)
            except MDGuardError:
                pass
        info = json.loads(status.read_text())
        thermo = read_thermo(workdir)
        frames = read_trajectory(workdir)
        outcome = {
            "state": info["state"],
            "reason": info.get("reason", ""),
            "stage_reached": str(thermo.stage.iloc[-1]),
            "time_ps": float(thermo.time_ps.max()),
            "max_target_K": float(thermo.target_T_K.max()),
            "frames": frames,
        }
        if info["state"] == "finished":
            outcome["metrics"] = disorder_metrics(frames[-1], initial=frames[0])
            outcome["verdict"] = verdict(outcome["metrics"])
        return outcome


def glass_at_300K(
    glass: Atoms,
    workdir: str | os.PathLike,
    calculator: str,
    production_ps: float,
    timestep_fs: float = 0.5,
    hydrogen_mass_amu: float | None = None,
    frame_every: int = 200,
    temperature_K: float = 300.0,
    seed: int = 0,
    progress: bool = True,
    calc=None,
) -> Path:
    """NVT of a made glass at 300 K, the run its properties are averaged over.

    The paper averaged each glass over 100 ps at 300 K after the quench, with
    frames every 100 fs; its first Zn–N free-energy barrier (≈ 26 kJ/mol) is a
    rare event at 300 K and needs that many frames. One stage,
    ``production``; Nosé–Hoover chain (100 fs); checkpointed; linkers checked
    every 5 frames. A finished run is read back, not run again. Returns the
    run folder.
    """
    status = Path(workdir) / "status.json"
    if status.is_file() and json.loads(status.read_text()).get("state") == "finished":
        return Path(workdir)
    schedule = Schedule(timestep_fs).plateau("production", temperature_K, production_ps)
    run = MDRun(workdir, glass, schedule, calculator=calculator, ensemble="nvt-nhc",
                tdamp_fs=100.0, frame_every=frame_every, seed=seed,
                integrity_every=frame_every * 5, integrity_confirm_fs=50.0,
                hydrogen_mass_amu=hydrogen_mass_amu, calc=calc)
    run.run(progress=progress)
    return Path(workdir)


def glass_pair_counts(
    glass: Atoms,
    workdir: str | os.PathLike,
    calculator: str,
    production_ps: float,
    timestep_fs: float = 0.5,
    hydrogen_mass_amu: float | None = None,
    frame_every: int = 200,
    temperature_K: float = 300.0,
    seed: int = 0,
    r_max_A: float = 4.0,
    bin_width_A: float = 0.05,
    progress: bool = True,
    calc=None,
) -> dict:
    """More NVT sampling of a made glass, kept as its raw Zn–N pair counts.

    The first Zn–N barrier (the paper: ≈ 26 kJ/mol at 300 K) is the PMF of a bin
    that a pair visits e^(−10) times as often as the first peak, so its count
    grows only with the frames sampled: pooled counts bound it from below or,
    once the emptiest bin between the shells holds pairs, resolve it
    (:func:`zifhelpers.analysis.structure.barrier_lower_bound`). Runs
    :func:`glass_at_300K` from ``glass`` (e.g. the last frame of a glass's own
    300 K run, so no new equilibration is needed) in ``workdir`` and counts the
    Zn–N pairs of its production frames after the first (that one is ``glass``
    itself) with :func:`~zifhelpers.analysis.structure.pair_counts`.

    The counts are written to ``workdir/summary.json`` and read back from it on a
    later call, so that a new machine needs only that file (the trajectory is not
    kept in git). Returns ``r_A`` (bin centres, Å), ``counts``, ``n_frames``,
    ``production_ps``, ``frame_every``, ``timestep_fs`` and ``seed``.
    """
    from ..analysis.structure import pair_counts

    summary = Path(workdir) / "summary.json"
    want = {"production_ps": float(production_ps), "frame_every": int(frame_every),
            "timestep_fs": float(timestep_fs), "seed": int(seed)}
    if summary.is_file():
        done = json.loads(summary.read_text())
        other = {k: (done.get(k), v) for k, v in want.items() if done.get(k) != v}
        if other:
            raise ValueError(f"{summary}: made with other settings (found, asked): {other}; "
                             "use another folder")
        return done
    folder = glass_at_300K(glass, workdir, calculator, production_ps, timestep_fs=timestep_fs,
                           hydrogen_mass_amu=hydrogen_mass_amu, frame_every=frame_every,
                           temperature_K=temperature_K, seed=seed, progress=progress, calc=calc)
    state = json.loads((folder / "status.json").read_text())
    if state.get("state") != "finished":
        raise RuntimeError(f"{folder}: the 300 K run stopped ({state.get('state')}: "
                           f"{state.get('reason', '')}); resume it or look at its thermo.csv")
    frames = [f for f in read_trajectory(folder) if f.info["stage"] == "production"][1:]
    r, counts = pair_counts(frames, "Zn", "N", r_max=r_max_A, bin_width=bin_width_A)
    out = {**want, "r_A": r.tolist(), "counts": counts.tolist(), "n_frames": len(frames),
           "temperature_K": float(temperature_K)}
    tmp = summary.with_suffix(".tmp")
    tmp.write_text(json.dumps(out))
    os.replace(tmp, summary)
    return out


def disorder_metrics(atoms: Atoms, initial: Atoms | None = None) -> dict[str, float]:
    """Order metrics that tell a ZIF glass from a (distorted) crystal.

    ``ring_disorder``: fraction of the Zn–imidazolate shortest-path rings
    whose size is not one of the crystal's (8, 12, 16) — 0 for any crystal with
    the cag topology however distorted, > 0 once Zn–N bonds have been broken and
    re-formed elsewhere (Fig. 8 of the paper). ``zn_rmsd_A``: with ``initial``
    (same atoms, e.g. the start of the run), the root-mean-square displacement
    of Zn from their initial sites after removing the mean drift (Å);
    about 6 Å separate neighbouring Zn.
    """
    from ..analysis.rings import ring_statistics

    stats = ring_statistics(atoms)
    total = sum(stats.values())
    off = sum(v for k, v in stats.items() if k not in CRYSTAL_RING_SIZES)
    out = {"ring_disorder": float(off / total) if total else float("nan")}
    if initial is not None:
        if len(initial) != len(atoms) or (initial.numbers != atoms.numbers).any():
            raise ValueError(f"disorder_metrics: initial ({initial.get_chemical_formula()}, {len(initial)} "
                             f"atoms) is not the same atoms as atoms ({atoms.get_chemical_formula()}, "
                             f"{len(atoms)} atoms) in the same order")
        zn = atoms.numbers == 30
        d = atoms.positions[zn] - initial.positions[zn]
        frac = np.linalg.solve(atoms.cell.array.T, d.T).T
        d -= np.round(frac) @ atoms.cell.array  # minimum image (wrapped trajectories)
        d -= d.mean(axis=0)
        out["zn_rmsd_A"] = float(np.sqrt((d**2).sum(axis=1).mean()))
    return out


def _zn_n_bonds(atoms: Atoms, cutoff: float = 2.5) -> set[tuple[int, int]]:
    from ..analysis.structure import pairs

    i, j, _ = pairs(atoms, "Zn", "N", cutoff)
    return set(zip(i.tolist(), j.tolist(), strict=True))


def plateau_evolution(frames: list[Atoms], stage: str = "plateau", ring_every: int = 1):
    """Whether the hot plateau melts the framework: order metrics along it.

    ``frames``: a melt-quench trajectory (e.g. ``read_trajectory`` of its
    folder), the first frame being the starting crystal. For each frame of
    ``stage``: ``time_ps`` since the stage began, ``zn_msd_A2`` (Zn mean-square
    displacement from the stage's first frame, unwrapped frame to frame),
    ``new_bond_fraction`` (Zn–N bonds, 2.5 Å, that the starting crystal did not
    have: Zn–imidazolate bond switching; 0 while bonds only break and re-form
    with the same partners), ``broken_bond_fraction`` (the crystal's Zn–N bonds
    absent) and, every ``ring_every`` frames and at the last, ``ring_disorder``
    (:func:`disorder_metrics`; NaN in between). A frame written twice (a run
    continued from a checkpoint) counts once, the later copy.
    """
    import pandas as pd

    from ..analysis.structure import msd

    if not frames:
        raise ValueError("plateau_evolution: no frames")
    by_step = {}
    for f in frames:
        by_step[f.info.get("step", len(by_step))] = f
    ordered = [by_step[k] for k in sorted(by_step)]
    hot = [f for f in ordered if f.info.get("stage") == stage]
    if len(hot) < 2:
        stages = sorted({str(f.info.get("stage")) for f in ordered})
        raise ValueError(f"plateau_evolution: {len(hot)} frame(s) of stage {stage!r} (stages: {stages})")
    crystal = _zn_n_bonds(ordered[0])
    t0 = hot[0].info["time_ps"]
    msd_zn = msd(hot, "Zn")
    rows = []
    for k, f in enumerate(hot):
        bonds = _zn_n_bonds(f)
        rows.append({"time_ps": f.info["time_ps"] - t0, "zn_msd_A2": msd_zn[k],
                     "new_bond_fraction": len(bonds - crystal) / max(1, len(bonds)),
                     "broken_bond_fraction": len(crystal - bonds) / max(1, len(crystal)),
                     "ring_disorder": (disorder_metrics(f)["ring_disorder"]
                                       if k % ring_every == 0 or k == len(hot) - 1 else float("nan"))})
    return pd.DataFrame(rows)


def verdict(metrics: dict[str, float], ring_threshold: float = 0.05, rmsd_threshold_A: float = 3.0) -> str:
    """``"glass"`` if the net's topology changed (ring disorder above
    ``ring_threshold``) or the Zn lost their sites (RMSD above
    ``rmsd_threshold_A``, half a Zn–Zn distance); else ``"crystalline"``."""
    if "ring_disorder" not in metrics:
        raise KeyError(f"verdict needs metrics['ring_disorder'] (from disorder_metrics); got {sorted(metrics)}")
    if not np.isfinite(metrics["ring_disorder"]):
        raise ValueError("verdict: ring_disorder is not finite (no rings found): "
                         "the structure is neither a crystal nor a glass of this framework")
    if metrics["ring_disorder"] > ring_threshold:
        return "glass"
    if metrics.get("zn_rmsd_A", 0.0) > rmsd_threshold_A:
        return "glass"
    return "crystalline"


def plot_schedule(thermo, colors: dict | None = None):
    """Temperature against time coloured by stage, from a run's thermo log (Fig. 5).

    ``thermo`` is :func:`zifhelpers.simulation.md.read_thermo`'s DataFrame. Returns the figure.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for k, (stage, part) in enumerate(thermo.groupby("stage", sort=False)):
        color = (colors or {}).get(stage, f"C{k}")
        ax.plot(part.time_ps, part.temperature_K, color=color, lw=0.8, label=stage)
        ax.plot(part.time_ps, part.target_T_K, color=color, lw=2, alpha=0.5)
    ax.set(xlabel="time (ps)", ylabel="temperature (K)")
    ax.legend(ncol=3, fontsize=9)
    fig.tight_layout()
    return fig
