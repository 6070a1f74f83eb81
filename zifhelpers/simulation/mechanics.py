"""The MD runs behind the mechanical properties (Tables 2 and 3 of the paper).

Two routes, as in Castel & Coudert (Chem. Mater. 2023) and Castel et al.
(Digital Discovery 2024): NVT runs at several volumes for a Birch–Murnaghan
fit (:func:`finite_strain_runs`), NVT runs at ± strains of each Voigt
component for the elastic tensor (:func:`stress_strain_runs`) and one NσT run
for the strain fluctuations (:func:`strain_fluctuation_run`); the 0 K cross-check relaxes the cell at
fixed strains (:func:`zero_kelvin_pv`). The fits and the averages over the
data these runs make are in :mod:`zifhelpers.analysis.elastic`. Units: GPa,
Å³, K, ps, fs.
"""

from __future__ import annotations

import numpy as np

from ..analysis.elastic import EV_PER_A3_TO_GPA, block_average
from .runfolder import RunFolderBusy

__all__ = ["finite_strain_runs", "stress_strain_by_seed", "stress_strain_hill", "stress_strain_runs", "strain_fluctuation_run",
           "zero_kelvin_pv"]


def _check_strains(strains, who: str) -> list[float]:
    """Volumetric strains: at least one, finite, each > -1 (a cell that keeps a volume)."""
    strains = [float(x) for x in strains]
    if not strains:
        raise ValueError(f"{who}: no strains given")
    bad = [x for x in strains if not (np.isfinite(x) and -0.5 < x < 1.0)]
    if bad:
        raise ValueError(f"{who}: strains must be finite volume changes between -0.5 and 1, got {bad}")
    return strains


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


def _equilibrate_then_produce(temperature_K: float, equilibrate_ps: float, production_ps: float,
                              timestep_fs: float = 0.5):
    """Two plateaus: ``equilibrate`` (discarded) then ``production`` (measured)."""
    from .md import Schedule

    schedule = Schedule(timestep_fs).plateau("equilibrate", temperature_K, equilibrate_ps)
    return schedule.plateau("production", temperature_K, production_ps)


def _visiting_order(strains: list[float], path: bool) -> list[tuple[float, float | None]]:
    """(strain, the strain whose last frame it starts from) in the order to run them."""
    if not path:
        return [(s, None) for s in strains]
    ordered = sorted(strains, key=abs)
    first = ordered[0]
    up = sorted(s for s in strains if s > first)
    down = sorted((s for s in strains if s < first), reverse=True)
    order = [(first, None)]
    for side in (up, down):
        previous = first
        for s in side:
            order.append((s, previous))
            previous = s
    return order


def _path_schedule(temperature_K: float, deform_ps: float, volume_A3: float, equilibrate_ps: float,
                   production_ps: float, timestep_fs: float):
    from .md import Schedule

    schedule = Schedule(timestep_fs).deform("deform", temperature_K, deform_ps, volume_A3)
    schedule.plateau("equilibrate", temperature_K, equilibrate_ps)
    return schedule.plateau("production", temperature_K, production_ps)


#: What a finished run of this module leaves to be committed: its measured row (and, for a path,
#: its last frame), with the inputs that made it. The trajectory stays git-ignored; a new machine
#: with only these files reads the results back instead of running again.
SUMMARY_FILE = "summary.json"


def _summary_inputs(run, start, reference, reference_frames: int) -> dict:
    """What a stored row depends on: the MD recipe, the starting structure, who measured."""
    return {"recipe": run._recipe(), "start": _structure_digest(start, decimals=4),
            "reference": reference is not None,
            "reference_frames": int(reference_frames) if reference is not None else 0}


def _read_summary(folder, inputs: dict) -> dict | None:
    """The stored record of a finished run, None when there is none; an error when made otherwise."""
    import json
    from pathlib import Path

    from .md import RunFolderError, _differences

    path = Path(folder) / SUMMARY_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        stored = record["inputs"]
        record["row"]
    except (ValueError, KeyError, TypeError) as err:
        raise RunFolderError(f"{path}: not a run summary ({type(err).__name__}: {err}); "
                             "delete it to measure the run again") from None
    problems = _differences(stored, inputs)
    if problems:
        raise RunFolderError(f"{path} was written for a run with other inputs; use another "
                             "folder or delete it:\n  " + "\n  ".join(problems))
    return record


def _write_summary(folder, inputs: dict, row: dict, last_frame=None, **arrays) -> None:
    import io
    import json
    from pathlib import Path

    import ase.io

    from .md import _atomic_write

    record = {"inputs": inputs, "row": {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                                        for k, v in row.items()}}
    record.update({k: np.asarray(v).tolist() for k, v in arrays.items()})
    if last_frame is not None:
        text = io.StringIO()
        ase.io.write(text, last_frame, format="extxyz")
        record["last_frame"] = text.getvalue()
    _atomic_write(Path(folder) / SUMMARY_FILE, (json.dumps(record, indent=1, default=_plain) + "\n").encode())


def _finished(folder) -> bool:
    """Whether the MD run in ``folder`` reached the end of its schedule."""
    import json
    from pathlib import Path

    from .md import _restore

    _restore(Path(folder))  # a run carried over in run.tar.gz
    status = Path(folder) / "status.json"
    return status.is_file() and json.loads(status.read_text()).get("state") == "finished"


def _plain(value):
    """NumPy scalars as Python numbers, for json."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not a number json can store")


def _last_frame(folder):
    """The last frame of a finished run: from its trajectory, or from its summary on a new machine."""
    import io
    import json
    from pathlib import Path

    import ase.io

    from .md import read_trajectory

    if (Path(folder) / "trajectory.extxyz").is_file():
        return read_trajectory(folder, index=-1)
    path = Path(folder) / SUMMARY_FILE
    if path.is_file() and "last_frame" in (record := json.loads(path.read_text())):
        return ase.io.read(io.StringIO(record["last_frame"]), format="extxyz")
    raise FileNotFoundError(f"{folder}: neither a trajectory nor a summary with its last frame")


def _stored_or_run(run, folder, start, reference, reference_frames: int, run_missing: bool,
                   progress: bool) -> tuple[dict | None, dict | None]:
    """Read a finished run's stored row, or run it: ``(row, None)``, ``(None, inputs)`` to measure,
    or ``(None, None)`` when it is left out (not finished under ``run_missing=False``, or busy)."""
    inputs = _summary_inputs(run, start, reference, reference_frames)
    stored = _read_summary(folder, inputs)
    if stored is not None:
        return stored["row"], None
    if not run_missing and not _finished(folder):
        return None, None
    try:
        run.run(progress=progress)
    except RunFolderBusy:  # another process runs it: left out, listed as missing
        return None, None
    return None, inputs


def _reference_check(frames, reference, reference_frames: int, calc, calculator) -> dict:
    """The reference against the sampler on ``reference_frames`` evenly spaced ``frames``."""
    from ..potentials.registry import load_calculator
    from .validation import reference_on_frames

    step = max(1, len(frames) // reference_frames)
    return reference_on_frames(frames[::step], reference, calc or load_calculator(calculator),
                               progress=False)


def finite_strain_runs(
    atoms,
    workdir,
    calculator: str = "published",
    strains=(-0.03, -0.015, 0.0, 0.015, 0.03),
    temperature_K: float = 300.0,
    equilibrate_ps: float = 100.0,
    production_ps: float = 100.0,
    frame_every: int = 200,
    seed: int = 0,
    progress: bool = True,
    calc=None,
    timestep_fs: float = 0.5,
    hydrogen_mass_amu: float | None = None,
    reference=None,
    reference_frames: int = 20,
    path_deform_ps: float | None = None,
    run_missing: bool = True,
):
    """NVT runs at isotropically scaled volumes V = (1 + strain) V_start.

    Each run (folder ``workdir/strain±x.xxx``, checkpointed) equilibrates, then
    measures; the mean pressure of the production frames (kinetic term
    included) and its block-averaged standard error are returned.

    By default every volume starts from ``atoms`` rescaled at once. With
    ``path_deform_ps``, the volumes are visited as a path, as Castel et al.
    (Digital Discovery 2024) did: the strain nearest 0 starts from ``atoms``,
    and each further one, outwards on either side, from the last frame of its
    neighbour towards 0, squeezed or stretched to its volume over
    ``path_deform_ps`` (:meth:`~zifhelpers.simulation.md.Schedule.deform`)
    before its equilibration (folders ``workdir/path±x.xxx``). A glass then
    carries its structure from one volume to the next instead of relaxing
    anew from the rescaled start at each.
    ``hydrogen_mass_amu`` (e.g. 4 with ``timestep_fs=2``) changes the
    dynamics, not the mean pressure, a static average.

    With ``run_missing=False`` nothing runs: finished runs are read back (and
    measured if they have no summary yet), the others are left out of the table
    and listed in its ``attrs["missing"]``, for the tables of a campaign half done.
    A run that another process is running (its folder is locked) is skipped and
    listed there too, so that several processes can share the runs: each runs
    what nobody else is running, and the last one reads them all back.

    With ``reference`` (an ASE calculator), "the sampler samples, the
    reference measures": on ``reference_frames`` production frames of each
    volume both potentials give the static pressure, and the reference's
    pressure is the sampler's mean pressure minus the sampler's bias on those
    frames (:func:`zifhelpers.simulation.validation.reference_on_frames`).

    Returns
    -------
    pandas.DataFrame
        One row per strain: ``volume_A3``, ``pressure_GPa``,
        ``pressure_err_GPa``, ``n_frames``, ``pressure_blocks_GPa`` (the mean
        pressure of each block of the production, in time order, for a drift
        check); with ``reference`` also
        ``pressure_ref_GPa``, ``pressure_ref_err_GPa`` (the two errors added
        in quadrature), ``bias_GPa`` and ``force_mae_meV_A`` (the sampler
        against the reference on those frames).
    """
    import pandas as pd

    from .md import MDRun, check_md_structure, read_thermo, read_trajectory

    check_md_structure(atoms, "finite_strain_runs")
    strains = _check_strains(strains, "finite_strain_runs")
    _check_counts(frame_every=frame_every)
    if reference is not None:
        _check_counts(reference_frames=reference_frames)
    if path_deform_ps is not None and not (np.isfinite(path_deform_ps) and path_deform_ps > 0):
        raise ValueError(f"finite_strain_runs: path_deform_ps must be > 0 ps, got {path_deform_ps}")
    rows = {}
    for strain, start_from in _visiting_order(strains, path_deform_ps is not None):
        scaled = atoms.copy()
        scaled.set_cell(atoms.cell.array * (1.0 + strain) ** (1.0 / 3.0), scale_atoms=True)
        folder = f"{workdir}/strain{strain:+.3f}"
        schedule = _equilibrate_then_produce(temperature_K, equilibrate_ps, production_ps,
                                             timestep_fs)
        start = scaled
        if path_deform_ps is not None:
            folder = f"{workdir}/path{strain:+.3f}"
            if start_from is not None and start_from not in rows:
                continue  # its neighbour is not done (run_missing=False): it cannot start
            if start_from is not None:  # the neighbour's last frame, brought to this volume
                start = _last_frame(f"{workdir}/path{start_from:+.3f}")
                schedule = _path_schedule(temperature_K, path_deform_ps, scaled.get_volume(),
                                          equilibrate_ps, production_ps, timestep_fs)
        run = MDRun(folder, start, schedule, calculator=calculator, ensemble="nvt-nhc",
                    frame_every=frame_every, seed=seed, calc=calc,
                    hydrogen_mass_amu=hydrogen_mass_amu)
        stored, inputs = _stored_or_run(run, folder, start, reference, reference_frames,
                                        run_missing, progress)
        if stored is not None:
            rows[strain] = stored
        if inputs is None:  # read back, or left out
            continue
        thermo = read_thermo(folder)
        prod = thermo[thermo.stage == "production"]
        n_blocks = max(2, min(10, len(prod) // 2))
        mean, err = block_average(prod.pressure_GPa, n_blocks=n_blocks)
        row = {"strain": strain, "volume_A3": scaled.get_volume(), "pressure_GPa": mean,
               "pressure_err_GPa": err, "n_frames": len(prod),
               "pressure_blocks_GPa": [float(b.mean()) for b in
                                       np.array_split(prod.pressure_GPa.to_numpy(), n_blocks)]}
        if reference is not None:
            frames = [f for f in read_trajectory(folder) if f.info.get("stage") == "production"]
            checked = _reference_check(frames, reference, reference_frames, calc, calculator)
            bias_err = checked["pressure_bias_err_GPa"] or 0.0
            row.update(pressure_ref_GPa=mean - checked["pressure_bias_GPa"],
                       pressure_ref_err_GPa=float(np.hypot(err, bias_err)),
                       bias_GPa=checked["pressure_bias_GPa"],
                       force_mae_meV_A=checked["force_mae_mean_meV_A"])
        rows[strain] = row
        _write_summary(folder, inputs, row,
                       last_frame=read_trajectory(folder, index=-1) if path_deform_ps else None)
    table = pd.DataFrame([rows[strain] for strain in strains if strain in rows],
                         columns=None if rows else ["strain"]).set_index("strain")
    table.attrs["missing"] = [strain for strain in strains if strain not in rows]
    return table


def stress_strain_runs(
    atoms,
    workdir,
    calculator: str = "published",
    strain: float = 0.02,
    temperature_K: float = 300.0,
    equilibrate_ps: float = 1.0,
    production_ps: float = 8.0,
    frame_every: int = 25,
    seed: int = 0,
    progress: bool = True,
    calc=None,
    timestep_fs: float = 0.5,
    hydrogen_mass_amu: float | None = None,
    reference=None,
    reference_frames: int = 20,
    seeds=None,
    run_missing: bool = True,
):
    """NVT runs at Voigt strains ±``strain`` of each component, for C at temperature.

    Twelve runs (folders ``workdir/e<k>±<strain>``, checkpointed): the cell of
    ``atoms`` (best an equilibrated frame at the zero-pressure volume) deformed
    by :func:`zifhelpers.analysis.elastic.voigt_deformation`, positions scaled
    with it, then ``equilibrate_ps`` discarded and ``production_ps`` measured.
    The mean Voigt stress of the production frames (kinetic term included,
    ASE's sign: tensile positive) and its block-averaged standard error go into
    :func:`zifhelpers.analysis.elastic.elastic_from_stress_strain`. Shears are
    engineering strains, so ``strain`` = 0.02 tilts by 1 % of the cell.

    With ``reference``, "the sampler samples, the reference measures": on
    ``reference_frames`` production frames of each run both potentials give the
    static stress, and the reference's stress is the sampler's mean stress minus
    the sampler's bias on those frames (errors added in quadrature).

    ``seeds`` (a list) repeats the twelve runs with independent velocities and
    thermostat noise, in ``workdir/seed<s>/e<k>±<strain>``: the least-squares
    fit takes every row, so n seeds divide the errors of C by about √n, and the
    seeds can run at once on separate cores.

    ``run_missing=False``: read back the finished runs only, as in
    :func:`finite_strain_runs`; the others are listed in ``attrs["missing"]``,
    as are runs another process is running (skipped, so processes share them).

    Returns
    -------
    pandas.DataFrame
        One row per run, index ``e<k>±<strain>`` (``seed<s>/e<k>±<strain>`` with
        ``seeds``): Voigt strains ``e1``…``e6``,
        stresses ``sigma1``…``sigma6`` (GPa) and errors ``sigma1_err``…; with
        ``reference`` also ``sigma1_ref``… and ``sigma1_ref_err``… and
        ``force_mae_meV_A`` (sampler against reference on those frames).
    """
    import pandas as pd

    from ..analysis.elastic import voigt_deformation
    from .md import MDRun, read_trajectory

    if not (np.isfinite(strain) and 0.0 < strain < 0.1):
        raise ValueError(f"strain must be between 0 and 0.1 (a small Voigt strain), got {strain}")
    if reference is not None and reference_frames < 2:
        raise ValueError(f"reference_frames must be >= 2 (an error needs two), got {reference_frames}")
    _check_counts(frame_every=frame_every)
    from .md import check_md_structure

    check_md_structure(atoms, "stress_strain_runs")
    if seeds is not None:
        seeds = list(seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct integers, at least one; got {seeds}")
    plan = [(seed, "")] if seeds is None else [(s, f"seed{s}/") for s in seeds]
    rows, missing = [], []
    schedule = _equilibrate_then_produce(temperature_K, equilibrate_ps, production_ps, timestep_fs)
    for (run_seed, prefix), component, sign in (
            (p, c, sg) for p in plan for c in range(6) for sg in (1.0, -1.0)):
        e = sign * strain
        deformed = atoms.copy()
        deformed.set_cell(atoms.cell.array @ voigt_deformation(component, e).T, scale_atoms=True)
        name = f"{prefix}e{component + 1}{e:+.3f}"
        folder = f"{workdir}/{name}"
        run = MDRun(folder, deformed, schedule, calculator=calculator, ensemble="nvt-nhc",
                    frame_every=frame_every, seed=run_seed, calc=calc,
                    hydrogen_mass_amu=hydrogen_mass_amu)
        stored, inputs = _stored_or_run(run, folder, deformed, reference, reference_frames,
                                        run_missing, progress)
        if stored is not None:
            rows.append(stored)
        elif inputs is None:  # not finished, or another process runs it
            missing.append(name)
        if inputs is None:
            continue
        frames = [f for f in read_trajectory(folder) if f.info.get("stage") == "production"]
        if len(frames) < 4:
            raise ValueError(f"{folder}: {len(frames)} production frames; at least 4 are needed "
                             f"(production_ps={production_ps}, frame_every={frame_every})")
        stresses = np.array([np.asarray(f.info["stress_GPa"], dtype=float) for f in frames])
        n_blocks = max(2, min(10, len(frames) // 2))
        stats = [block_average(stresses[:, i], n_blocks=n_blocks) for i in range(6)]
        row = {"run": name, **{f"e{k + 1}": (e if k == component else 0.0) for k in range(6)}}
        row.update({f"sigma{k + 1}": stats[k][0] for k in range(6)})
        row.update({f"sigma{k + 1}_err": stats[k][1] for k in range(6)})
        if reference is not None:
            checked = _reference_check(frames, reference, reference_frames, calc, calculator)
            for k in range(6):
                row[f"sigma{k + 1}_ref"] = stats[k][0] - checked["stress_bias_mean_GPa"][k]
                row[f"sigma{k + 1}_ref_err"] = float(np.hypot(stats[k][1],
                                                              checked["stress_bias_err_GPa"][k]))
            row["force_mae_meV_A"] = checked["force_mae_mean_meV_A"]
        rows.append(row)
        _write_summary(folder, inputs, row)
    table = pd.DataFrame(rows, columns=None if rows else ["run"]).set_index("run")
    table.attrs["missing"] = missing
    return table


def stress_strain_hill(runs, measured_by: str = "reference", symmetry: str | None = None,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Elastic tensor of stress–strain runs and its Hill averages, with errors.

    The least-squares tensor of the runs
    (:func:`~zifhelpers.analysis.elastic.elastic_from_stress_strain`, weighted
    by the stresses' errors) and its Hill averages
    (:func:`~zifhelpers.analysis.elastic.hill_average_with_errors`; ``seed``
    draws its samples). A tensor that is not positive definite has no Hill
    average: then each average is ``None`` and ``"error"`` says why.

    Parameters
    ----------
    runs : pandas.DataFrame
        Rows of :func:`stress_strain_runs` (all of them, or one seed's): Voigt
        strains ``e1``…``e6``, stresses and their ``_err`` (GPa).
    measured_by : {"reference", "sampler"}
        Stresses measured by the reference on the sampler's frames
        (``sigma<k>_ref``) or the sampler's own (``sigma<k>``).
    symmetry : str, optional
        Passed to ``elastic_from_stress_strain`` (``"orthorhombic"``: the crystal).

    Returns
    -------
    C_GPa, C_err_GPa : numpy.ndarray
        The 6×6 tensor and its standard errors (GPa).
    averages : dict
        The keys of ``hill_average_with_errors`` (``K_H``, ``K_H_err``, …, GPa;
        ν unitless), or ``{"K_H": None, "E_H": None, "G_H": None, "nu_H": None,
        "error": <why>}``.
    """
    from ..analysis import elastic

    if measured_by not in ("reference", "sampler"):
        raise ValueError(f"measured_by must be 'reference' or 'sampler', got {measured_by!r}")
    suffix = "_ref" if measured_by == "reference" else ""
    columns = [f"sigma{k}{suffix}" for k in range(1, 7)]
    if columns[0] not in runs:
        raise KeyError(f"stress_strain_hill: no column {columns[0]!r} (columns: {list(runs.columns)}); "
                       "measured_by='reference' needs runs made with a reference")
    C, C_err = elastic.elastic_from_stress_strain(
        runs[[f"e{k}" for k in range(1, 7)]].to_numpy(), runs[columns].to_numpy(),
        runs[[f"{c}_err" for c in columns]].to_numpy(), symmetry=symmetry)
    try:
        averages = elastic.hill_average_with_errors(C, C_err, seed=seed)
    except ValueError as err:  # not positive definite: no Hill average, and say why
        averages = {**{k: None for k in ("K_H", "E_H", "G_H", "nu_H")}, "error": str(err)}
    return C, C_err, averages


def stress_strain_by_seed(runs, measured_by: str = "reference", symmetry: str | None = None,
                          seed: int = 0) -> dict[str, dict[str, float]]:
    """Each seed's stress–strain runs fitted alone: the spread of the seeds.

    ``runs`` is the table of :func:`stress_strain_runs` with ``seeds`` (index
    ``seed<s>/e<k>±<strain>``). For every seed with all twelve runs, the
    Hill averages with errors of those runs alone (:func:`stress_strain_hill`).
    Set against the fit over all seeds, the seeds' spread says whether the
    error of the mean is honest, and whether a gap to another value is noise
    of the runs or comes from the method.

    Parameters
    ----------
    runs : pandas.DataFrame
        From :func:`stress_strain_runs`.
    measured_by, symmetry, seed
        As in :func:`stress_strain_hill`.

    Returns
    -------
    dict
        ``{"seed<s>": {"K_H": …, "E_H": …, "G_H": …, "nu_H": …, "K_H_err": …, …}}``
        (GPa; ν unitless), seeds in the table's order; a seed whose tensor is
        not positive definite gets ``{"error": <why>}``. Seeds with fewer than
        twelve runs, and a table without seeds, give none.
    """
    if measured_by not in ("reference", "sampler"):
        raise ValueError(f"measured_by must be 'reference' or 'sampler', got {measured_by!r}")
    column = "sigma1_ref" if measured_by == "reference" else "sigma1"
    if len(runs) and column not in runs:
        raise KeyError(f"stress_strain_by_seed: no column {column!r} (columns: {list(runs.columns)}); "
                       "measured_by='reference' needs runs made with a reference")
    groups: dict[str, list[str]] = {}
    for name in runs.index:
        if "/" in str(name):
            groups.setdefault(str(name).split("/", 1)[0], []).append(name)
    out: dict[str, dict[str, float]] = {}
    for label, names in groups.items():
        if len(names) < 12:
            continue
        _, _, hill = stress_strain_hill(runs.loc[names], measured_by, symmetry=symmetry, seed=seed)
        if "error" in hill:
            out[label] = {"error": hill["error"]}
            continue
        out[label] = {k: float(v) for k, v in hill.items()
                      if k.startswith(("K_H", "E_H", "G_H", "nu_H")) or k == "unstable_fraction"}
    return out


def strain_fluctuation_run(
    atoms,
    workdir,
    calculator: str = "published",
    temperature_K: float = 300.0,
    pressure_GPa: float = 0.0,
    equilibrate_ps: float = 100.0,
    production_ps: float = 1000.0,
    frame_every: int = 200,
    seed: int = 0,
    progress: bool = True,
    calc=None,
    timestep_fs: float = 0.5,
    hydrogen_mass_amu: float | None = None,
    run_missing: bool = True,
) -> np.ndarray:
    """NσT run with a fully flexible cell (MTK, 1000 fs barostat as in the paper).

    Returns the cells (n_frames, 3, 3) of the production stage, for
    :func:`elastic_from_cell_fluctuations`; with ``run_missing=False`` and the
    run not finished, none (shape (0, 3, 3)) and nothing runs.
    """
    from .md import MDRun, read_trajectory

    schedule = _equilibrate_then_produce(temperature_K, equilibrate_ps, production_ps,
                                         timestep_fs)
    run = MDRun(workdir, atoms, schedule, calculator=calculator, ensemble="npt-mtk",
                pressure_GPa=pressure_GPa, tdamp_fs=100.0, pdamp_fs=1000.0,
                frame_every=frame_every, seed=seed, calc=calc,
                hydrogen_mass_amu=hydrogen_mass_amu)
    inputs = _summary_inputs(run, atoms, None, 0)
    stored = _read_summary(workdir, inputs)
    if stored is not None:
        return np.asarray(stored["cells_A"], dtype=float).reshape(-1, 3, 3)
    if not run_missing and not _finished(workdir):
        return np.zeros((0, 3, 3))
    try:
        run.run(progress=progress)
    except RunFolderBusy:  # another process runs it
        return np.zeros((0, 3, 3))
    cells = np.array([f.cell.array for f in read_trajectory(workdir)
                      if f.info.get("stage") == "production"]).reshape(-1, 3, 3)
    _write_summary(workdir, inputs, {"n_frames": len(cells)}, cells_A=cells)
    return cells


def _structure_digest(atoms, decimals: int | None = None) -> str:
    """A short SHA-256 of numbers, cell and positions (rounded to ``decimals`` Å if given)."""
    import hashlib

    digest = hashlib.sha256()
    for array in (atoms.numbers, atoms.cell.array, atoms.positions):
        array = np.ascontiguousarray(array, dtype=float)
        if decimals is not None:
            array = np.round(array, decimals) + 0.0  # + 0.0: -0.0 and 0.0 digest alike
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def zero_kelvin_pv(atoms, calc, strains=(-0.04, -0.02, 0.0, 0.02, 0.04), relax: bool = True,
                   fmax: float = 0.05, max_steps: int = 200, progress: bool = True, reference=None,
                   workdir=None, run_missing: bool = True):
    """Static P(V) at 0 K: positions relaxed (FIRE) at each isotropically scaled cell.

    Returns a DataFrame with ``volume_A3``, ``pressure_GPa`` (from the stress,
    no kinetic term), ``energy_eV`` and ``relax_steps``, one row per strain;
    fit it with :func:`fit_birch_murnaghan2`. With a ``reference`` calculator,
    also ``pressure_ref_GPa``: the reference's static pressure on the structures
    that ``calc`` relaxed (a student relaxes, the reference measures; at the
    student's minimum the reference's residual forces are those of the
    student's error, so this is the reference's P(V) to first order).

    With ``workdir``, the table is kept in ``workdir/zero_k.json`` with its
    inputs (strains, relaxation settings, whether a reference measured, a
    digest of the structure) and read back on the next call instead of being
    computed again; a file written with other inputs is an error naming them,
    as a run folder of :class:`~zifhelpers.simulation.md.MDRun` is. With
    ``run_missing=False`` a table not stored yet is not computed: None.
    """
    import json
    from pathlib import Path

    import pandas as pd
    from ase.optimize import FIRE
    from tqdm.auto import tqdm

    from .md import RunFolderError, _atomic_write, check_md_structure

    check_md_structure(atoms, "zero_kelvin_pv")
    strains = _check_strains(strains, "zero_kelvin_pv")
    inputs = {"strains": [float(x) for x in strains], "relax": bool(relax), "fmax": float(fmax),
              "max_steps": int(max_steps), "reference": reference is not None,
              "structure": _structure_digest(atoms)}
    stored = Path(workdir) / "zero_k.json" if workdir is not None else None
    if stored is not None and stored.is_file():
        record = json.loads(stored.read_text())
        differ = sorted(k for k in inputs if record.get("inputs", {}).get(k) != inputs[k])
        if differ:
            raise RunFolderError(f"{stored} was written with other inputs ({', '.join(differ)}): "
                                 f"stored {[record.get('inputs', {}).get(k) for k in differ]}, "
                                 f"asked {[inputs[k] for k in differ]}; use another workdir")
        return pd.DataFrame(record["rows"]).set_index("strain")
    if not run_missing:
        return None
    rows = []
    for strain in tqdm(strains, desc="0 K P(V)", disable=not progress):
        work = atoms.copy()
        work.set_cell(atoms.cell.array * (1.0 + strain) ** (1.0 / 3.0), scale_atoms=True)
        work.calc = calc
        steps = 0
        if relax:
            opt = FIRE(work, logfile=None)
            opt.run(fmax=fmax, steps=max_steps)
            steps = opt.nsteps
        stress = work.get_stress(voigt=True)
        row = {"strain": strain, "volume_A3": work.get_volume(),
               "pressure_GPa": float(-stress[:3].mean() * EV_PER_A3_TO_GPA),
               "energy_eV": work.get_potential_energy(), "relax_steps": steps}
        if reference is not None:
            measured = work.copy()
            measured.calc = reference
            row["pressure_ref_GPa"] = float(-measured.get_stress(voigt=True)[:3].mean() * EV_PER_A3_TO_GPA)
        rows.append(row)
    if stored is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(stored, json.dumps({"inputs": inputs, "rows": rows}, indent=1).encode())
    return pd.DataFrame(rows).set_index("strain")
