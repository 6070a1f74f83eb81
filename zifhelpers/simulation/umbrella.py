"""Umbrella sampling of Zn–N pair distances: free energies that plain MD cannot reach.

At 300 K a Zn–N pair almost never visits the top of the first barrier of the
Zn–N potential of mean force (the paper: ≈ 26 kJ/mol, i.e. e^(−10) of the first
peak), so plain MD only bounds it from below
(:func:`zifhelpers.analysis.structure.barrier_lower_bound`). Umbrella sampling
(Torrie & Valleau, J. Comput. Phys. 1977, 23, 187) holds one bonded pair in a
series of harmonic windows along its distance; MBAR (Shirts & Chodera, J. Chem.
Phys. 2008, 129, 124105; ``pymbar``) removes the biases and joins the windows.

The radial PMF of the paper is W(r) = −kT ln g(r). For one pair, the unbiased
distance density is P(r) ∝ r² e^(−W_pair(r)/kT), so W_pair(r) = −kT ln P(r) +
2 kT ln r (:func:`pmf_from_windows` adds the Jacobian), and g(r) is the sum of
all pairs' densities (:func:`combine_pair_pmfs`). Which pairs fill g(r) between
the first peak and the barrier's top matters: pulling one bond of an intact
network (:func:`bonded_pairs`) strains the framework around it, and in a
272-atom glass the student's mean restoring force was still 0.5 eV/Å at
3.2 Å (windows of 5 eV/Å² at 2.1–3.3 Å held the bond 0.10–0.17 Å short of
their centres), i.e. ≈ 50 kJ/mol at 2.7 Å. Since g(r) also counts pairs that
need no such strain (an under-coordinated Zn and a free linker end), an
intact bond's PMF bounds the g(r) barrier from above (up to kT ln of the
first peak's share of intact bonds), while plain MD bounds it from below.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np
from ase import Atoms, units

from ..analysis.structure import EV_TO_KJ_PER_MOL
from ..potentials.bias import DistanceRestraint, pair_distance
from .md import MDRun, Schedule, read_trajectory
from .validation import production_frames

__all__ = ["bonded_pairs", "umbrella_windows", "window_distances", "pmf_from_windows",
           "combine_pair_pmfs", "bond_force_difference", "corrected_barrier",
           "boltzmann_combined_barrier", "barrier_study", "pooled_barrier"]

KB_EV = units.kB  # eV/K


def bonded_pairs(atoms: Atoms, n: int, seed: int = 0, cutoff_A: float = 2.5) -> list[tuple[int, int]]:
    """``n`` distinct Zn–N bonds (Zn index, N index) within ``cutoff_A``, drawn with ``seed``."""
    from ..analysis.structure import pairs

    i, j, _ = pairs(atoms, "Zn", "N", cutoff_A)
    if len(i) < n:
        raise ValueError(f"bonded_pairs: asked for {n} Zn–N bonds, the structure has {len(i)} "
                         f"within {cutoff_A} Å")
    pick = np.random.default_rng(seed).choice(len(i), size=n, replace=False)
    return [(int(i[k]), int(j[k])) for k in sorted(pick)]


def _window_name(center: float) -> str:
    return f"r{center:.3f}"


def umbrella_windows(
    atoms: Atoms,
    workdir: str | os.PathLike,
    pair: tuple[int, int],
    centers_A: list[float],
    spring_eV_A2: float,
    calculator: str,
    temperature_K: float = 300.0,
    equilibrate_ps: float = 0.5,
    production_ps: float = 3.0,
    frame_every_fs: float = 10.0,
    timestep_fs: float = 2.0,
    hydrogen_mass_amu: float | None = 4.0,
    seed: int = 0,
    calc=None,
    progress: bool = True,
) -> dict[float, Path]:
    """NVT runs (Nosé–Hoover chain) with the pair held near each centre in turn.

    Windows run in the order of ``centers_A``; each starts from the last frame
    of the one before (the first from ``atoms``), so the bond is pulled
    gradually. Each lives in ``workdir/r<centre>`` and is resumable; a finished
    window is read back. The calculator spec recorded in each run names the
    restraint, so a folder refuses to be continued with another one. Linker
    integrity checks are off: the window is meant to stretch a Zn–N bond.
    Returns {centre: run folder}.
    """
    i, j = pair
    if calc is None:
        from ..potentials.registry import load_calculator
        calc = load_calculator(calculator)
    centers = [float(c) for c in centers_A]
    if not centers or any(not (np.isfinite(c) and c > 0) for c in centers):
        raise ValueError(f"umbrella_windows: centers_A must be positive distances (Å), got {centers_A}")
    frame_every = max(1, round(frame_every_fs / timestep_fs))
    start = atoms.copy()
    folders = {}
    for k, center in enumerate(centers):
        folder = Path(workdir) / _window_name(center)
        schedule = (Schedule(timestep_fs).plateau("equilibrate", temperature_K, equilibrate_ps)
                    .plateau("production", temperature_K, production_ps))
        spec = f"{calculator} + harmonic restraint on atoms {i}-{j}: k {spring_eV_A2:g} eV/Å², r0 {center:g} Å"
        run = MDRun(folder, start, schedule, calculator=spec, ensemble="nvt-nhc",
                    frame_every=frame_every, seed=seed + k, hydrogen_mass_amu=hydrogen_mass_amu,
                    calc=DistanceRestraint(calc, i, j, spring_eV_A2, center))
        run.run(progress=progress)
        last = read_trajectory(folder, index=-1)
        start = atoms.copy()
        start.positions = last.positions
        start.cell = last.cell
        folders[center] = folder
    return folders


def window_distances(folder: str | os.PathLike, pair: tuple[int, int],
                     stage: str = "production") -> np.ndarray:
    """The pair's minimum-image distance (Å) in every frame of one stage of a run."""
    frames = [f for f in read_trajectory(folder) if f.info.get("stage") == stage]
    if not frames:
        raise ValueError(f"window_distances: no {stage!r} frame in {folder}")
    return np.array([pair_distance(f, *pair)[0] for f in frames])


def _pymbar():
    with contextlib.redirect_stdout(io.StringIO()):  # pymbar prints a notice about JAX on import
        import pymbar
    return pymbar


def pmf_from_windows(
    samples: dict[float, np.ndarray],
    spring_eV_A2: float,
    temperature_K: float,
    bin_edges_A: np.ndarray,
    decorrelate: bool = True,
) -> dict:
    """The unbiased pair PMF W(r) (kJ/mol) from umbrella windows, with MBAR.

    ``samples``: {window centre (Å): distances (Å) sampled in that window, in
    time order}. With ``decorrelate``, each window's series is subsampled at its
    statistical inefficiency (``pymbar.timeseries``) so that the errors are
    those of independent samples. The PMF is per bin of ``bin_edges_A``, with
    the r² Jacobian removed (W = −kT ln P(r) + 2 kT ln r) and its minimum set to
    zero; empty bins are NaN.

    Returns a dict: ``r_A`` (bin centres), ``pmf_kJ_mol``, ``err_kJ_mol``
    (MBAR's analytical error, relative to the minimum's bin), ``n_samples``
    (per window, after subsampling), ``barrier``: {``barrier`` (kJ/mol, the
    highest point beyond the minimum), ``err_kJ_mol``, ``r_barrier_A``,
    ``r_first_A``, ``resolved`` (the PMF comes down again after the top by more
    than 2σ; else the windows did not reach past the barrier)}.
    """
    pymbar = _pymbar()
    if not samples:
        raise ValueError("pmf_from_windows: no window")
    if not (np.isfinite(spring_eV_A2) and spring_eV_A2 > 0):
        raise ValueError(f"pmf_from_windows: spring_eV_A2 must be > 0, got {spring_eV_A2}")
    edges = np.asarray(bin_edges_A, dtype=float)
    if edges.ndim != 1 or len(edges) < 3 or np.any(np.diff(edges) <= 0):
        raise ValueError("pmf_from_windows: bin_edges_A must be increasing, at least 3 edges")
    kt = KB_EV * temperature_K
    centers = np.array(sorted(samples))
    kept = []
    for c in centers:
        x = np.asarray(samples[c], dtype=float)
        if len(x) < 10 or not np.isfinite(x).all():
            raise ValueError(f"pmf_from_windows: window {c} Å has {len(x)} samples (need >= 10, finite)")
        if decorrelate:
            x = x[pymbar.timeseries.subsample_correlated_data(x)]
        kept.append(x)
    x_n = np.concatenate(kept)
    n_k = np.array([len(x) for x in kept])
    u_kn = 0.5 * spring_eV_A2 * (x_n[None, :] - centers[:, None]) ** 2 / kt
    inside = (x_n >= edges[0]) & (x_n < edges[-1])
    fes = pymbar.FES(u_kn, n_k, verbose=False)
    fes.generate_fes(np.zeros(len(x_n)), x_n[:, None], fes_type="histogram",
                     histogram_parameters={"bin_edges": [edges]})
    mid = 0.5 * (edges[1:] + edges[:-1])
    occupied = np.histogram(x_n[inside], bins=edges)[0] > 0
    result = fes.get_fes(mid[occupied][:, None], reference_point="from-lowest",
                         uncertainty_method="analytical")
    f = np.full(len(mid), np.nan)
    df = np.full(len(mid), np.nan)
    f[occupied] = result["f_i"]
    df[occupied] = result["df_i"]
    w = kt * EV_TO_KJ_PER_MOL * (f + 2.0 * np.log(mid))
    w -= np.nanmin(w)
    err = kt * EV_TO_KJ_PER_MOL * df
    barrier = _barrier(mid, w, err)
    return {"r_A": mid, "pmf_kJ_mol": w, "err_kJ_mol": err, "n_samples": n_k.tolist(),
            "barrier": barrier}


def _barrier(r: np.ndarray, w: np.ndarray, err: np.ndarray) -> dict:
    """Highest point of ``w`` beyond its minimum; resolved if ``w`` comes down after it."""
    bottom = int(np.nanargmin(w))
    sampled = np.flatnonzero(np.isfinite(w))
    after = sampled[sampled > bottom]
    if not after.size:
        return {"barrier": float("nan"), "err_kJ_mol": float("nan"), "r_barrier_A": float("nan"),
                "r_first_A": float(r[bottom]), "resolved": False}
    top = int(after[np.argmax(w[after])])
    resolved = bool(top < after[-1] and np.nanmin(w[top + 1:]) < w[top] - 2 * err[top])
    return {"barrier": float(w[top]), "err_kJ_mol": float(np.hypot(err[top], err[bottom])),
            "r_barrier_A": float(r[top]), "r_first_A": float(r[bottom]), "resolved": resolved}


def combine_pair_pmfs(r_A: np.ndarray, pmfs: list[np.ndarray], temperature_K: float) -> np.ndarray:
    """The PMF of several pairs together, as g(r) sees them, minimum 0 (kJ/mol).

    Each pair PMF W_b (kJ/mol, on the grid ``r_A``) gives its distance density
    P_b ∝ r² e^(−W_b/kT), normalised over the grid (each bond is one pair); the
    pairs' g(r) ∝ Σ P_b / r², and W = −kT ln g. Unsampled points (NaN) weigh
    nothing.
    """
    kt = KB_EV * temperature_K * EV_TO_KJ_PER_MOL
    r = np.asarray(r_A, dtype=float)
    stack = np.array(pmfs, dtype=float)
    if stack.ndim != 2 or stack.shape[1] != len(r):
        raise ValueError(f"combine_pair_pmfs: {stack.shape} PMFs for a grid of {len(r)} points")
    density = np.where(np.isfinite(stack), r**2 * np.exp(-np.nan_to_num(stack, nan=0.0) / kt), 0.0)
    density /= density.sum(axis=1, keepdims=True)
    g = density.sum(axis=0) / r**2
    with np.errstate(divide="ignore"):
        w = -kt * np.log(g)
    w[~np.isfinite(w)] = np.nan
    return w - np.nanmin(w)


def bond_force_difference(frames: list[Atoms], pair: tuple[int, int], calc, reference) -> dict:
    """How much ``reference`` and ``calc`` differ in the force along the pair's bond.

    For each frame, the generalised force on the distance r of the pair (i, j),
    F_r = (F_j − F_i)·û / 2 with û the unit vector from i to j (−dU/dr when i
    and j move apart symmetrically), from both potentials. Returns the mean of
    F_r(reference) − F_r(calc) in eV/Å with its standard error, and the number
    of frames. Integrated over r (:func:`corrected_barrier`), it moves the
    sampler's PMF towards the reference's, to first order (free-energy
    perturbation of the mean force; kinematic terms cancel in the difference).
    """
    diffs = []
    for frame in frames:
        _, d = pair_distance(frame, *pair)
        u = d / np.linalg.norm(d)
        f_r = []
        for c in (reference, calc):
            work = frame.copy()
            work.calc = c
            forces = work.get_forces()
            f_r.append(0.5 * float(np.dot(forces[pair[1]] - forces[pair[0]], u)))
        diffs.append(f_r[0] - f_r[1])
    diffs = np.array(diffs)
    if not len(diffs):
        raise ValueError("bond_force_difference: no frame")
    err = float(diffs.std(ddof=1) / np.sqrt(len(diffs))) if len(diffs) > 1 else float("nan")
    return {"mean_eV_A": float(diffs.mean()), "err_eV_A": err, "n_frames": len(diffs)}


def corrected_barrier(pmf: dict, centers_A: list[float], force_diff: list[dict]) -> dict:
    """The barrier of :func:`pmf_from_windows` corrected by the reference's mean bond force.

    W_ref(r) − W(r) ≈ −∫ ⟨ΔF_r⟩ dr (ΔF_r per window from
    :func:`bond_force_difference`, at the windows' mean positions taken as
    their centres, trapezoid rule between the first well and the top). Returns
    ``correction_kJ_mol`` with its error and ``barrier_kJ_mol`` corrected.
    """
    b = pmf["barrier"]
    c = np.asarray(centers_A, dtype=float)
    if len(c) != len(force_diff) or len(c) < 2:
        raise ValueError(f"corrected_barrier: {len(c)} centres and {len(force_diff)} force differences")
    order = np.argsort(c)
    c = c[order]
    mean = np.array([force_diff[k]["mean_eV_A"] for k in order])
    err = np.array([force_diff[k]["err_eV_A"] for k in order])
    grid = np.linspace(b["r_first_A"], b["r_barrier_A"], 200)
    integrand = np.interp(grid, c, mean)
    correction = -float(np.trapezoid(integrand, grid)) * EV_TO_KJ_PER_MOL
    inside = (c >= b["r_first_A"]) & (c <= b["r_barrier_A"])
    spacing = float(np.median(np.diff(c)))
    corr_err = float(np.sqrt(np.sum((err[inside] * spacing) ** 2))) * EV_TO_KJ_PER_MOL
    return {"correction_kJ_mol": correction, "correction_err_kJ_mol": corr_err,
            "barrier_kJ_mol": b["barrier"] + correction,
            "barrier_err_kJ_mol": float(np.hypot(b["err_kJ_mol"], corr_err))}


def boltzmann_combined_barrier(barriers_kJ_mol: list[float], errors_kJ_mol: list[float],
                               temperature_K: float) -> dict:
    """Several bonds' barriers as one g(r) sees them: −kT ln⟨e^(−B/kT)⟩, with its error.

    Assumes wells of the same shape (then it is the barrier of
    :func:`combine_pair_pmfs`); the error is propagated with the bonds'
    Boltzmann weights, which are also returned (the softest bond dominates).
    """
    b = np.asarray(barriers_kJ_mol, dtype=float)
    e = np.asarray(errors_kJ_mol, dtype=float)
    if not len(b) or len(b) != len(e) or not np.isfinite(b).all():
        raise ValueError(f"boltzmann_combined_barrier: {len(b)} finite barriers and {len(e)} errors needed")
    kt = KB_EV * temperature_K * EV_TO_KJ_PER_MOL
    w = np.exp(-(b - b.min()) / kt)
    w /= w.sum()
    combined = float(b.min() - kt * np.log(np.mean(np.exp(-(b - b.min()) / kt))))
    return {"barrier_kJ_mol": combined, "err_kJ_mol": float(np.sqrt(np.sum((w * e) ** 2))),
            "weights": w.tolist(), "n_bonds": len(b)}


def barrier_study(
    atoms: Atoms,
    workdir: str | os.PathLike,
    n_bonds: int,
    centers_A: list[float],
    spring_eV_A2: float,
    calculator: str,
    bin_edges_A: np.ndarray,
    reference=None,
    reference_frames: int = 5,
    temperature_K: float = 300.0,
    seed: int = 0,
    calc=None,
    progress: bool = True,
    **window_kw,
) -> dict:
    """Umbrella windows on ``n_bonds`` Zn–N bonds of ``atoms`` and their barriers.

    For each bond (:func:`bonded_pairs` with ``seed``): windows in
    ``workdir/Zn<i>-N<j>`` (:func:`umbrella_windows`, ``window_kw`` passed on),
    the PMF (:func:`pmf_from_windows`) and, with a ``reference`` calculator,
    the mean bond-force difference on ``reference_frames`` frames spread over
    each window and the corrected barrier (:func:`corrected_barrier`). Then the
    bonds together (:func:`boltzmann_combined_barrier`), from the sampler alone
    and corrected. Returns a JSON-ready dict.
    """
    if calc is None:
        from ..potentials.registry import load_calculator
        calc = load_calculator(calculator)
    bonds = []
    for pair in bonded_pairs(atoms, n_bonds, seed=seed):
        folders = umbrella_windows(atoms, Path(workdir) / f"Zn{pair[0]}-N{pair[1]}", pair, centers_A,
                                   spring_eV_A2, calculator, temperature_K=temperature_K, seed=seed,
                                   calc=calc, progress=progress, **window_kw)
        frames = {c: production_frames(f) for c, f in folders.items()}  # read each window once
        samples = {c: np.array([pair_distance(f, *pair)[0] for f in fr]) for c, fr in frames.items()}
        pmf = pmf_from_windows(samples, spring_eV_A2, temperature_K, bin_edges_A)
        bond = {"pair": list(pair), "r_A": pmf["r_A"].tolist(), "pmf_kJ_mol": pmf["pmf_kJ_mol"].tolist(),
                "err_kJ_mol": pmf["err_kJ_mol"].tolist(), "n_samples": pmf["n_samples"],
                "barrier": pmf["barrier"]}
        if reference is not None:
            diffs = []
            for window in frames.values():
                pick = np.linspace(0, len(window) - 1, min(reference_frames, len(window))).astype(int)
                diffs.append(bond_force_difference([window[k] for k in pick], pair, calc, reference))
            bond["force_difference"] = diffs
            if np.isfinite(pmf["barrier"]["barrier"]):
                bond["corrected"] = corrected_barrier(pmf, list(folders), diffs)
        bonds.append(bond)
    out = {"bonds": bonds, "centers_A": [float(c) for c in centers_A], "spring_eV_A2": spring_eV_A2,
           "temperature_K": temperature_K, "sampler": calculator}
    resolved = [b for b in bonds if b["barrier"]["resolved"]]
    out["n_resolved"] = len(resolved)
    if resolved:
        out["combined"] = boltzmann_combined_barrier([b["barrier"]["barrier"] for b in resolved],
                                                     [b["barrier"]["err_kJ_mol"] for b in resolved],
                                                     temperature_K)
        if all("corrected" in b for b in resolved):
            out["combined_corrected"] = boltzmann_combined_barrier(
                [b["corrected"]["barrier_kJ_mol"] for b in resolved],
                [b["corrected"]["barrier_err_kJ_mol"] for b in resolved], temperature_K)
    return out


def pooled_barrier(studies: list[dict | None], temperature_K: float = 300.0) -> dict:
    """The bonds of several :func:`barrier_study` results (e.g. one per glass) combined.

    Uses the reference-corrected barriers when every resolved bond has one
    (``corrected`` True), else the sampler's. Always returns the same keys;
    ``barrier_kJ_mol`` and ``err_kJ_mol`` are None when no bond was resolved
    (no study, or windows that stopped before the top).
    """
    bonds = [b for s in studies if s for b in s["bonds"] if b["barrier"]["resolved"]]
    out = {"barrier_kJ_mol": None, "err_kJ_mol": None, "n_bonds": len(bonds), "corrected": False,
           "n_studies": sum(1 for s in studies if s)}
    if not bonds:
        return out
    corrected = all("corrected" in b for b in bonds)
    values = [b["corrected"]["barrier_kJ_mol"] if corrected else b["barrier"]["barrier"] for b in bonds]
    errors = [b["corrected"]["barrier_err_kJ_mol"] if corrected else b["barrier"]["err_kJ_mol"] for b in bonds]
    combined = boltzmann_combined_barrier(values, errors, temperature_K)
    return {**out, "barrier_kJ_mol": combined["barrier_kJ_mol"], "err_kJ_mol": combined["err_kJ_mol"],
            "corrected": corrected, "bond_barriers_kJ_mol": values}
