"""Heavier hydrogens and a longer time step, checked against real masses at 0.5 fs.

The campaign samples with hydrogens of 4 amu and a 2 fs step, four times fewer
force calls per picosecond than the paper's 0.5 fs with real masses. In
classical NVT the momenta integrate out of the partition function, so every
configurational average (radial and angle distributions, coordination,
potential energy, virial pressure) is independent of the masses; only the
dynamics change (slower C–H vibrations, hence the longer stable step). This is
the argument of hydrogen mass repartitioning (Feenstra, Hess & Berendsen,
J. Comput. Chem. 1999, 20, 786; Hopkins *et al.*, J. Chem. Theory Comput.
2015, 11, 1864). Here the H mass is simply raised (``MDRun(hydrogen_mass_amu=)``,
not repartitioned: the cell's total mass grows by 3 amu per H, 1.4 %), which
changes nothing configurational; densities are always computed with the real
masses (:func:`zifhelpers.analysis.structure.density`).

What remains to check is the integrator: that a 2 fs step samples the same
ensemble as 0.5 fs within statistical error. :func:`sampling_runs` runs both
settings from the same structure, :func:`run_observables` measures each run's
production frames (block-averaged errors; distributions with a noise floor from
the run's two halves), :func:`compare_samplings` puts them side by side, and
:func:`nve_drift` measures the energy conservation of each setting.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ase import Atoms

from ..analysis import structure as analysis
from ..analysis.elastic import block_average
from ..analysis.structure import distribution_overlap
from .md import MDRun, Schedule, read_thermo

__all__ = ["SETTINGS", "MSD_LAGS_PS", "sampling_runs", "run_observables", "compare_samplings", "nve_drift"]

#: The two samplings compared: the paper's and the campaign's.
SETTINGS: dict[str, dict] = {
    "real H, 0.5 fs": {"timestep_fs": 0.5, "hydrogen_mass_amu": None},
    "H 4 amu, 2 fs": {"timestep_fs": 2.0, "hydrogen_mass_amu": 4.0},
}


def _folder_name(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label).strip("_")


def _check_settings(settings: dict[str, dict]) -> None:
    if not settings:
        raise ValueError("settings: give at least one {label: {timestep_fs, hydrogen_mass_amu}}")
    for label, s in settings.items():
        step = s.get("timestep_fs") if isinstance(s, dict) else None
        if not (isinstance(step, (int, float)) and np.isfinite(step) and 0 < step <= 5):
            raise ValueError(f"settings[{label!r}]: timestep_fs must be a number in (0, 5] fs, "
                             f"got {step!r}")


def sampling_runs(
    atoms: Atoms,
    workdir: str | os.PathLike,
    calculator: str,
    temperature_K: float,
    equilibrate_ps: float,
    production_ps: float,
    frame_every_fs: float = 50.0,
    settings: dict[str, dict] | None = None,
    seed: int = 0,
    integrity_every_fs: float = 0.0,
    calc=None,
    progress: bool = True,
) -> dict[str, Path]:
    """NVT runs of one structure with each setting (Nosé–Hoover chain, 100 fs).

    Each lives in ``workdir/<label>`` and is resumable; frames are written every
    ``frame_every_fs`` fs whatever the step, so that the runs give the same
    number of frames. ``integrity_every_fs`` > 0 checks the linkers that often
    and stops a run at a break that lasts 50 fs (a ZIF; see
    :class:`~zifhelpers.simulation.md.MDRun`). Returns {label: run folder}.
    """
    settings = SETTINGS if settings is None else settings
    _check_settings(settings)
    folders = {}
    for label, s in settings.items():
        step = float(s["timestep_fs"])
        every = max(1, round(frame_every_fs / step))
        schedule = (Schedule(step).plateau("equilibrate", temperature_K, equilibrate_ps)
                    .plateau("production", temperature_K, production_ps))
        folder = Path(workdir) / _folder_name(label)
        check = max(1, round(integrity_every_fs / step)) if integrity_every_fs > 0 else 0
        MDRun(folder, atoms, schedule, calculator=calculator, ensemble="nvt-nhc", tdamp_fs=100.0,
              frame_every=every, seed=seed, hydrogen_mass_amu=s.get("hydrogen_mass_amu"),
              integrity_every=check, integrity_confirm_fs=50.0 if check else 0.0,
              calc=calc).run(progress=progress)
        folders[label] = folder
    return folders


def _distributions(frames: list[Atoms]) -> dict[str, np.ndarray]:
    _, g = analysis.rdf(frames, "Zn", "N", r_max=6.0, n_bins=120)
    _, p = analysis.angle_distribution(frames, n_bins=90)
    return {"g_ZnN": g, "p_NZnN": p}


#: Lag times (ps) and species of the mean square displacements that
#: :func:`run_observables` measures: the dynamics, which the masses do change.
MSD_LAGS_PS = (0.1, 1.0, 3.0)
MSD_SPECIES = ("Zn", "N", "H")


def run_observables(frames: list[Atoms], n_blocks: int = 5,
                    msd_lags_ps: tuple[float, ...] = MSD_LAGS_PS) -> dict:
    """What a sampling run measured, with statistical errors.

    ``frames``: the production frames of one run (e.g.
    :func:`zifhelpers.simulation.validation.production_frames`), in order,
    with the ``temperature_K``, ``epot_eV`` and ``pressure_GPa`` that
    :class:`~zifhelpers.simulation.md.MDRun` writes. Scalars (mean and
    block-averaged standard error over ``n_blocks`` blocks): ``temperature_K``,
    ``epot_eV_atom``, ``pressure_GPa`` (virial, with the kinetic term) and, for
    a structure with Zn and N, ``cn_Zn_N``, ``r_ZnN_A`` (mean Zn–N bond,
    < 2.5 Å) and ``angle_NZnN_deg`` (mean N–Zn–N). ``temperature_sd_K``: the
    temperature's fluctuation beside the canonical T·√(2/3N). Distributions
    (Zn and N only) ``g_ZnN`` (RDF to 6 Å) and ``p_NZnN`` (angles), with
    ``*_halves_overlap``: the :func:`~zifhelpers.analysis.structure.distribution_overlap` of the first and
    second halves of the run, the noise floor for judging another run's.

    Dynamics (``"dynamical": True``; masses change them, so they are measured,
    not required to agree): ``msd_<species>_<lag>ps``, the mean square
    displacement (Å²) of Zn, N and H at each lag of ``msd_lags_ps`` that fits
    three times in the run (:func:`~zifhelpers.analysis.structure.msd_windows`; needs
    the frames' ``time_ps``). At 300 K a solid's MSD beyond a vibration period
    is twice the atoms' mean square amplitude, a configurational average again.
    """
    frames = list(frames)
    if len(frames) < 2 * n_blocks:
        raise ValueError(f"run_observables: {len(frames)} frames; need at least {2 * n_blocks} "
                         f"for {n_blocks} blocks")
    missing = [k for k in ("temperature_K", "epot_eV", "pressure_GPa") if k not in frames[0].info]
    if missing:
        raise ValueError(f"run_observables: the frames lack {missing} (frames of an MDRun have them)")
    n_atoms = len(frames[0])
    series = {
        "temperature_K": [f.info["temperature_K"] for f in frames],
        "epot_eV_atom": [f.info["epot_eV"] / len(f) for f in frames],
        "pressure_GPa": [f.info["pressure_GPa"] for f in frames],
    }
    zif = {30, 7} <= set(frames[0].numbers.tolist())
    if zif:
        n_zn = int((frames[0].numbers == 30).sum())
        bonds = [analysis.pairs(f, "Zn", "N", 2.5)[2] for f in frames]  # one neighbour list a frame
        series["cn_Zn_N"] = [len(d) / n_zn for d in bonds]
        series["r_ZnN_A"] = [d.mean() for d in bonds]
        series["angle_NZnN_deg"] = [analysis.bond_angles(f).mean() for f in frames]
    out: dict = {"n_frames": len(frames), "n_atoms": n_atoms}
    for key, values in series.items():
        mean, err = block_average(np.asarray(values, dtype=float), n_blocks)
        out[key] = {"mean": mean, "err": err}
    temps = np.asarray(series["temperature_K"])
    out["temperature_sd_K"] = {"value": float(temps.std(ddof=1)),
                               "canonical": float(temps.mean() * np.sqrt(2.0 / (3 * n_atoms)))}
    if all("time_ps" in f.info for f in frames):
        span = frames[-1].info["time_ps"] - frames[0].info["time_ps"]
        lags = [lag for lag in msd_lags_ps if lag <= span / 3]  # >= 3 windows each
        for sp in (x for x in MSD_SPECIES if x in frames[0].symbols):
            for lag, r in (analysis.msd_windows(frames, lags, sp).items() if lags else ()):
                out[f"msd_{sp}_{lag:g}ps"] = {"mean": r["mean"], "err": r["err"], "dynamical": True}
    if zif:
        half = len(frames) // 2
        whole = _distributions(frames)
        first, second = _distributions(frames[:half]), _distributions(frames[half:])
        for key in whole:
            out[key] = whole[key]
            out[f"{key}_halves_overlap"] = distribution_overlap(first[key], second[key])
    return out


def compare_samplings(observables: dict[str, dict], baseline: str):
    """Each sampling against ``baseline``: a table of differences in units of their errors.

    One row per (setting, observable). Scalars: both means, the difference and
    z = difference / √(err₁² + err₂²); ``within_error`` is |z| ≤ 2; ``kind``
    says whether the observable is ``"configurational"`` (must agree) or
    ``"dynamical"`` (an MSD: the masses may change it). For the
    distributions: their overlap with the baseline's, against the noise floor
    (the lower of the two runs' halves-overlaps; two halves of one run are half
    as long, so the floor is conservative); ``within_error`` is overlap ≥ floor.
    """
    import pandas as pd

    if baseline not in observables:
        raise KeyError(f"baseline {baseline!r} is not among {sorted(observables)}")
    base = observables[baseline]
    rows = []
    for label, obs in observables.items():
        if label == baseline:
            continue
        for key, value in obs.items():
            if isinstance(value, dict) and "err" in value:
                b = base[key]
                diff = value["mean"] - b["mean"]
                scale = float(np.hypot(value["err"], b["err"]))
                z = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
                kind = "dynamical" if value.get("dynamical") else "configurational"
                rows.append({"setting": label, "observable": key, "kind": kind, "baseline": b["mean"],
                             "baseline_err": b["err"], "value": value["mean"], "err": value["err"],
                             "difference": diff, "z": z, "within_error": bool(abs(z) <= 2),
                             "ratio": value["mean"] / b["mean"] if b["mean"] else float("nan")})
            elif isinstance(value, np.ndarray) and f"{key}_halves_overlap" in obs:
                overlap = distribution_overlap(value, base[key])
                floor = min(obs[f"{key}_halves_overlap"], base[f"{key}_halves_overlap"])
                rows.append({"setting": label, "observable": f"{key} overlap",
                             "kind": "configurational", "baseline": floor,
                             "value": overlap, "difference": overlap - floor,
                             "within_error": bool(overlap >= floor)})
    return pd.DataFrame(rows)


def nve_drift(
    atoms: Atoms,
    workdir: str | os.PathLike,
    calculator: str,
    temperature_K: float,
    duration_ps: float,
    settings: dict[str, dict] | None = None,
    seed: int = 0,
    calc=None,
    progress: bool = True,
) -> dict[str, dict]:
    """Energy conservation of each setting: NVE from Maxwell–Boltzmann velocities.

    Returns {label: {"drift_meV_atom_ps": slope of the total energy per atom
    (least squares over the whole run), "fluctuation_meV_atom": its standard
    deviation about that line, "steps": ..., "timestep_fs": ...}}. The runs
    live in ``workdir/<label>`` (resumable).
    """
    settings = SETTINGS if settings is None else settings
    _check_settings(settings)
    out = {}
    for label, s in settings.items():
        step = float(s["timestep_fs"])
        folder = Path(workdir) / _folder_name(label)
        MDRun(folder, atoms, Schedule(step).plateau("nve", temperature_K, duration_ps),
              calculator=calculator, ensemble="nve", frame_every=max(1, round(10.0 / step)),
              seed=seed, hydrogen_mass_amu=s.get("hydrogen_mass_amu"), calc=calc).run(progress=progress)
        thermo = read_thermo(folder)
        t = thermo.time_ps.to_numpy()
        etot = (thermo.epot_eV + thermo.ekin_eV).to_numpy() / len(atoms) * 1000.0
        slope, intercept = np.polyfit(t, etot, 1)
        out[label] = {"drift_meV_atom_ps": float(slope),
                      "fluctuation_meV_atom": float((etot - (slope * t + intercept)).std(ddof=2)),
                      "steps": int(thermo.step.iloc[-1]), "timestep_fs": step,
                      "hydrogen_mass_amu": s.get("hydrogen_mass_amu") or 1.008}
    return out
