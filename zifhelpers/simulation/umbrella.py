"""Umbrella sampling of one Zn–N bond: the free-energy barrier that plain MD cannot reach.

At 300 K a Zn–N pair almost never visits the top of the first barrier of the
Zn–N potential of mean force (the paper: ≈ 26 kJ/mol, i.e. e^(−10) of the first
peak), so plain MD only bounds it from below
(:func:`zifhelpers.analysis.structure.barrier_lower_bound`). Umbrella sampling
(Torrie & Valleau, J. Comput. Phys. 1977, 23, 187) holds one bonded pair in a
series of harmonic windows along its distance; MBAR (Shirts & Chodera, J. Chem.
Phys. 2008, 129, 124105; ``pymbar``) removes the biases and joins the windows.

The radial PMF of the paper is W(r) = −kT ln g(r). For one pair, the unbiased
distance density is P(r) ∝ r² e^(−W_pair(r)/kT), so W_pair(r) = −kT ln P(r) +
2 kT ln r (:func:`pmf_from_windows` adds the Jacobian). Between the first peak
and ≈ 3 Å, g(r) is made of stretched bonds (a non-bonded N is farther), so
W_pair of a typical bond has the barrier of W(r); bonds differ in a glass, and
g(r) is their sum, dominated by the softest: :func:`combine_pair_pmfs`.
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

__all__ = ["bonded_pairs", "umbrella_windows", "window_distances", "pmf_from_windows",
           "combine_pair_pmfs"]

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
