"""The paper's validation protocol: MD of a model under test and of the
reference on the same systems, and every structural property of both.

Castel et al. (2024) validated their NequIP model against AIMD on the crystal
at 300 K, the liquid at 1500 K and the 10 *ab initio* glasses at 300 K, each
for 100 ps of NVT (Nosé–Hoover, 0.5 fs). Here the reference is the published
model itself (see the README): "reference" never means DFT.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from ..analysis import linkers, rings
from ..analysis import structure as analysis
from ..data.public import load_structure
from .md import (
    MDGuardError,
    MDRun,
    Schedule,
    count_restarts,
    count_transients,
    read_trajectory,
    run_with_restarts,
)

__all__ = [
    "reference_on_frames",
    "System",
    "SYSTEMS",
    "run_system",
    "run_folder",
    "production_frames",
    "structural_properties",
    "compare_potentials",
    "distribution_overlaps",
    "plot_local_structure",
    "xray_comparison",
]

#: D(r) windows (Å) of the C–N/C–C, Zn–N and Zn–Zn peaks.
XRAY_PEAK_WINDOWS = [(1.0, 1.6), (1.8, 2.2), (5.5, 6.5)]


@dataclass(frozen=True)
class System:
    """A validation system: a structure, a temperature and an optional melt."""

    name: str
    structure: str
    temperature_K: float
    melt_ps: float = 0.0


SYSTEMS: dict[str, System] = {
    "crystal_300K": System("crystal_300K", "crystal", 300.0),
    "liquid_1500K": System("liquid_1500K", "crystal", 1500.0, melt_ps=20.0),
    **{
        f"glass{i:02d}_300K": System(f"glass{i:02d}_300K", f"glass{i:02d}", 300.0)
        for i in range(1, 11)
    },
}


def _tag(spec: str) -> str:
    return "published" if spec == "published" else Path(spec).name.split(".")[0]


def run_folder(system: str, spec: str, workdir: str | os.PathLike) -> Path:
    """Folder of the run of ``system`` (a name of :data:`SYSTEMS`) with ``spec``."""
    return Path(workdir) / _tag(spec) / system


def run_system(
    system: System | str,
    spec: str,
    workdir: str | os.PathLike,
    production_ps: float,
    melt_ps: float | None = None,
    structure: str | None = None,
    timestep_fs: float = 0.5,
    frame_every: int = 200,
    seed: int = 0,
    progress: bool = True,
    calc=None,
    hydrogen_mass_amu: float | None = None,
    integrity_confirm_fs: float = 50.0,
    restarts_on_break: int = 0,
) -> Path:
    """Run (or resume) the NVT MD of ``system`` (a :data:`SYSTEMS` entry or its name) with ``spec``.

    The run lives in ``workdir/<model tag>/<system name>`` and is resumable.
    Stages: ``melt`` (if any) then ``production``, both at the system's
    temperature, Nosé–Hoover chain with a 100 fs damping as in the paper.
    ``melt_ps`` and ``structure`` override the system's; ``calc``, an ASE
    calculator already loaded for ``spec``, spares loading it again.
    ``hydrogen_mass_amu`` (e.g. 4 with a 2 fs ``timestep_fs``) samples the
    same configurations with fewer steps (:mod:`zifhelpers.simulation.timestep`).
    ``integrity_confirm_fs``: a linker found broken must stay broken that long
    to stop the run (at 1500 K a C–H bond vibrates past its cutoff; each such
    excursion is a row of ``transients.csv``), as in the melt-quench.
    ``restarts_on_break``: up to this many confirmed breaks send the run back to
    its last checkpoint with new velocities
    (:func:`~zifhelpers.simulation.md.run_with_restarts`; each one a row
    of ``restarts.csv``); 0: a break ends the run (:class:`MDGuardError`).
    Returns the run folder.
    """
    if isinstance(system, str):  # a name of SYSTEMS
        if system not in SYSTEMS:
            raise KeyError(f"unknown validation system {system!r}; known: {sorted(SYSTEMS)}")
        system = SYSTEMS[system]
    melt = system.melt_ps if melt_ps is None else melt_ps
    schedule = Schedule(timestep_fs)
    if melt > 0:
        schedule.plateau("melt", system.temperature_K, melt)
    schedule.plateau("production", system.temperature_K, production_ps)
    folder = run_folder(system.name, spec, workdir)
    run = MDRun(
        folder,
        load_structure(structure or system.structure),
        schedule,
        calculator=spec,
        ensemble="nvt-nhc",
        tdamp_fs=100.0,
        frame_every=frame_every,
        seed=seed,
        integrity_every=frame_every * 5,
        integrity_confirm_fs=integrity_confirm_fs,
        hydrogen_mass_amu=hydrogen_mass_amu,
        calc=calc,
    )
    try:  # a run stopped by an earlier call goes on from its checkpoint (its guards may have changed)
        run.run(progress=progress)
    except MDGuardError:
        if not restarts_on_break:
            raise
        run_with_restarts(run, folder, restarts_on_break, seed=seed, calc=calc, progress=progress)
    return folder


def production_frames(folder: str | os.PathLike) -> list[Atoms]:
    """Frames of the production stage of a run."""
    return [f for f in read_trajectory(folder) if f.info.get("stage") == "production"]


def structural_properties(
    frames: Atoms | list[Atoms],
    temperature_K: float,
    ring_every: int = 10,
    pore_every: int = 10,
) -> dict:
    """Everything the paper measures on a trajectory (or a single structure).

    Returns a dict with ``r``/``g_ZnN``/``pmf_ZnN_kJmol``,
    ``r_ZnZn``/``g_ZnZn``/``pmf_ZnZn_kJmol``, ``theta``/
    ``p_NZnN``/``pmf_NZnN_kJmol``, ``cn_Zn_N`` (mean), ``rings`` (ring size
    → count per cell, averaged over every ``ring_every``-th frame),
    ``pore_cm3_kg`` (total, He probe 1.2 Å, every ``pore_every``-th frame),
    ``intact_linkers`` and ``n_linkers`` (last frame) and ``n_frames``.
    """
    frames = [frames] if isinstance(frames, Atoms) else list(frames)
    r, g = analysis.rdf(frames, "Zn", "N", r_max=6.0, n_bins=240)
    r_zz, g_zz = analysis.rdf(frames, "Zn", "Zn", r_max=9.0, n_bins=180)
    theta, p = analysis.angle_distribution(frames, n_bins=90)
    ring_frames = frames[::ring_every]
    ring_counts: dict[int, float] = {}
    for frame in ring_frames:
        for size, count in rings.ring_statistics(frame).items():
            ring_counts[size] = ring_counts.get(size, 0.0) + count / len(ring_frames)
    pores = [analysis.pore_volume(f)["total_cm3_kg"] for f in frames[::pore_every]]
    report = linkers.check_integrity(frames[-1])
    return {
        "r": r,
        "g_ZnN": g,
        "pmf_ZnN_kJmol": analysis.pmf(g, temperature_K),
        "r_ZnZn": r_zz,
        "g_ZnZn": g_zz,
        "pmf_ZnZn_kJmol": analysis.pmf(g_zz, temperature_K),
        "theta": theta,
        "p_NZnN": p,
        "pmf_NZnN_kJmol": analysis.pmf(p, temperature_K),
        "cn_Zn_N": float(np.mean([analysis.coordination(f).mean() for f in frames])),
        "rings": dict(sorted(ring_counts.items())),
        "pore_cm3_kg": float(np.mean(pores)),
        "intact_linkers": report.n_intact,
        "n_linkers": report.n_expected,
        "n_frames": len(frames),
    }


def compare_potentials(
    models: dict[str, str],
    systems: list[str],
    workdir: str | os.PathLike,
    production_ps: float,
    melt_ps: float | None = None,
    liquid_start: str | None = None,
    frame_every: int = 200,
    ring_every: int = 10,
    pore_every: int = 10,
    seed: int = 0,
    progress: bool = True,
    calcs: dict | None = None,
    timestep_fs: float = 0.5,
    hydrogen_mass_amu: float | None = None,
    integrity_confirm_fs: float = 50.0,
    restarts_on_break: int = 0,
) -> dict[tuple[str, str], dict]:
    """Run every system of :data:`SYSTEMS` with every potential; measure each run.

    ``models`` maps a label (e.g. "reference", "Allegro student") to a
    potential spec. Runs live in ``workdir/<model tag>/<system>`` (see
    :func:`run_folder`) and resume, so a re-executed notebook does not repeat
    finished MD; two labels with the same spec share their runs and
    measurements.
    ``melt_ps`` and ``liquid_start`` apply to the systems that melt (the
    liquid). Returns ``{(label, system): structural_properties(...)}`` over
    the production frames, at each system's temperature. ``calcs``
    optionally maps labels to ASE calculators already loaded for their spec.
    ``timestep_fs``, ``hydrogen_mass_amu``, ``integrity_confirm_fs`` and
    ``restarts_on_break`` (see :func:`run_system`) apply to every run; each
    result also holds ``transients``, the number of linker-check failures of
    its run that healed (thermal excursions, not breaks), and ``restarts``, the
    confirmed breaks it was sent back from.
    """
    unknown = [name for name in systems if name not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown validation systems {unknown}; choose from {sorted(SYSTEMS)}")
    props, measured = {}, {}
    for label, spec in models.items():
        for name in systems:
            if (str(spec), name) in measured:
                props[label, name] = measured[str(spec), name]
                continue
            system = SYSTEMS[name]
            melting = system.melt_ps > 0
            folder = run_system(
                system, spec, workdir, production_ps=production_ps,
                melt_ps=(melt_ps if melting else 0.0) if melt_ps is not None else None,
                structure=liquid_start if melting else None,
                frame_every=frame_every, seed=seed, progress=progress,
                calc=(calcs or {}).get(label), timestep_fs=timestep_fs,
                hydrogen_mass_amu=hydrogen_mass_amu, integrity_confirm_fs=integrity_confirm_fs,
                restarts_on_break=restarts_on_break,
            )
            props[label, name] = measured[str(spec), name] = structural_properties(
                production_frames(folder), system.temperature_K,
                ring_every=ring_every, pore_every=pore_every,
            ) | {"transients": count_transients(folder), "restarts": count_restarts(folder)}
    return props


def distribution_overlaps(props: dict[tuple[str, str], dict], label: str, other: str) -> dict:
    """Overlap (0–1) of each distribution of two potentials' runs, per system.

    For every system measured under both ``label`` and ``other`` in ``props``
    (from :func:`compare_potentials`): the
    :func:`~zifhelpers.analysis.structure.distribution_overlap` of the Zn–N
    and Zn–Zn RDFs and of the N–Zn–N angle distribution. 1 is identical.
    Returns {system: {"g_ZnN": ..., "g_ZnZn": ..., "p_NZnN": ...}}.
    """
    systems = [name for (lab, name) in props if lab == label and (other, name) in props]
    if not systems:
        raise ValueError(f"no system measured under both {label!r} and {other!r}")
    return {name: {key: analysis.distribution_overlap(props[label, name][key], props[other, name][key])
                   for key in ("g_ZnN", "g_ZnZn", "p_NZnN")} for name in systems}


def reference_on_frames(frames: list[Atoms], reference, sampler, progress: bool = True) -> dict:
    """"The student samples, the reference measures": both potentials on the same frames.

    Each frame (e.g. decorrelated frames of a student's MD) is evaluated with
    the ``sampler`` calculator (the potential that made the run) and with the
    ``reference`` calculator. Pressures are static (virial only, no kinetic
    term, GPa), so that their difference is the sampler's bias alone.

    Returns
    -------
    dict
        Per-frame lists ``pressure_ref_GPa``, ``pressure_sampler_GPa``,
        ``force_mae_meV_A`` (sampler against reference, all atoms),
        ``energy_diff_meV_atom`` (sampler − reference, per atom),
        ``stress_bias_GPa`` (per frame, Voigt, sampler − reference, ASE's sign:
        tensile positive); and the means ``stress_bias_mean_GPa`` and its
        standard error ``stress_bias_err_GPa`` (6 each), ``pressure_ref_mean_GPa``,
        ``pressure_sampler_mean_GPa``,
        ``pressure_bias_GPa`` (sampler − reference) with its standard error
        ``pressure_bias_err_GPa``, ``force_mae_mean_meV_A``, and ``n_frames``.
    """
    from tqdm.auto import tqdm

    if not frames:
        raise ValueError("reference_on_frames: no frames given")
    out: dict[str, list] = {k: [] for k in ("pressure_ref_GPa", "pressure_sampler_GPa",
                                            "force_mae_meV_A", "energy_diff_meV_atom",
                                            "stress_bias_GPa")}
    for frame in tqdm(frames, desc="reference on sampled frames", disable=not progress):
        values = {}
        for label, calc in (("ref", reference), ("sampler", sampler)):
            atoms = frame.copy()
            atoms.calc = calc
            stress = atoms.get_stress(voigt=True) * 160.21766208
            values[label] = (atoms.get_potential_energy(), atoms.get_forces().copy(),
                             -stress[:3].mean(), stress)
        out["pressure_ref_GPa"].append(float(values["ref"][2]))
        out["pressure_sampler_GPa"].append(float(values["sampler"][2]))
        out["force_mae_meV_A"].append(
            float(1e3 * np.abs(values["sampler"][1] - values["ref"][1]).mean()))
        out["stress_bias_GPa"].append((values["sampler"][3] - values["ref"][3]).tolist())
        out["energy_diff_meV_atom"].append(
            float(1e3 * (values["sampler"][0] - values["ref"][0]) / len(frame)))
    bias = np.array(out["pressure_sampler_GPa"]) - np.array(out["pressure_ref_GPa"])
    n = len(frames)
    stress_bias = np.array(out["stress_bias_GPa"])
    return {**out, "n_frames": n,
            "stress_bias_mean_GPa": stress_bias.mean(axis=0).tolist(),
            "stress_bias_err_GPa": (stress_bias.std(axis=0, ddof=1) / np.sqrt(n)).tolist()
            if n > 1 else None,
            "pressure_ref_mean_GPa": float(np.mean(out["pressure_ref_GPa"])),
            "pressure_sampler_mean_GPa": float(np.mean(out["pressure_sampler_GPa"])),
            "pressure_bias_GPa": float(bias.mean()),
            "pressure_bias_err_GPa": float(bias.std(ddof=1) / np.sqrt(n)) if n > 1 else None,
            "force_mae_mean_meV_A": float(np.mean(out["force_mae_meV_A"]))}


def plot_local_structure(props: dict[str, dict], title: str = "", colors: dict | None = None):
    """Zn–N RDF and its PMF, N–Zn–N angle distribution and its PMF (Figs 4, 6, 7).

    ``props`` maps a label (e.g. "reference", "model under test") to the
    output of :func:`structural_properties`. Returns the figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    for k, (label, p) in enumerate(props.items()):
        style = {"label": label, "lw": 2 if k == 0 else 1.2, "ls": "-" if k == 0 else "--"}
        if colors and label in colors:
            style["color"] = colors[label]
        axes[0].plot(p["r"], p["g_ZnN"], **style)
        axes[1].plot(p["r"], p["pmf_ZnN_kJmol"], **style)
        axes[2].plot(p["theta"], p["p_NZnN"], **style)
        axes[3].plot(p["theta"], p["pmf_NZnN_kJmol"], **style)
    axes[0].set(xlabel="r (Å)", ylabel="g$_{Zn–N}$(r)", xlim=(1.5, 6))
    axes[1].set(xlabel="r (Å)", ylabel="PMF$_{Zn–N}$ (kJ/mol)", xlim=(1.5, 6), ylim=(-1, 40))
    axes[2].set(xlabel="N–Zn–N angle (°)", ylabel="P(θ) (1/°)", xlim=(60, 160))
    axes[3].set(xlabel="N–Zn–N angle (°)", ylabel="angular PMF (kJ/mol)", xlim=(60, 160), ylim=(-1, 30))
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def xray_comparison(frames: Atoms | list[Atoms], temperature_C: int, r_max: float = 20.0) -> dict:
    """Model F(Q), D(r) on the grids of the experimental curves at ``temperature_C``.

    Returns a dict with the experimental frames ``fq_exp``/``dr_exp``, the
    model's ``fq``/``dr`` and the D(r) peak positions ``peaks_model`` /
    ``peaks_experiment`` (Å) in :data:`XRAY_PEAK_WINDOWS`.
    """
    from ..analysis import xray
    from ..data.public import load_xray

    fq_exp, dr_exp = load_xray("FQ", temperature_C), load_xray("Dr", temperature_C)
    q, r = fq_exp.Q.to_numpy(), dr_exp.r.to_numpy()
    fq = xray.xray_fq(frames, q, r_max=r_max)
    dr = xray.xray_dr(q, fq, r)
    return {
        "fq_exp": fq_exp, "dr_exp": dr_exp, "fq": fq, "dr": dr,
        "peaks_model": xray.peak_positions(r, dr, XRAY_PEAK_WINDOWS),
        "peaks_experiment": xray.peak_positions(r, dr_exp.D.to_numpy(), XRAY_PEAK_WINDOWS),
    }
