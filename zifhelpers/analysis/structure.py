"""Structure analysis of ZIF configurations: NumPy in, NumPy out.

Pair searches use vesin neighbour lists, so every function is periodic,
triclinic-safe and fast on thousands of atoms.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from ase.units import kB

from .neighbors import neighbor_list

__all__ = [
    "pairs",
    "coordination",
    "density",
    "structure_summary",
    "rdf",
    "pmf",
    "pmf_barrier",
    "pair_counts",
    "barrier_lower_bound",
    "distribution_overlap",
    "bond_angles",
    "angle_distribution",
    "msd",
    "msd_windows",
    "pore_volume",
]

Frames = Atoms | Sequence[Atoms]

#: J/mol per eV
EV_TO_KJ_PER_MOL = 96.485332


def _frames(frames: Frames, stride: int = 1) -> list[Atoms]:
    if isinstance(frames, Atoms):
        return [frames]
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    selected = list(frames)[::stride]
    if not selected:
        raise ValueError("no frames to analyse")
    return selected

#: g/cm^3 per (amu/A^3)
AMU_PER_A3_TO_G_PER_CM3 = 1.66053906660


def _species_mask(atoms: Atoms, symbol: str) -> np.ndarray:
    if symbol not in atomic_numbers:
        raise ValueError(f"{symbol!r} is not a chemical element symbol")
    mask = atoms.numbers == atomic_numbers[symbol]
    if not mask.any():
        raise ValueError(
            f"no {symbol} atom in the structure ({atoms.get_chemical_formula()})"
        )
    return mask


def pairs(
    atoms: Atoms, a: str, b: str, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All a–b pairs closer than ``cutoff`` (Å), periodic images included.

    Returns
    -------
    i, j : numpy.ndarray
        Indices into ``atoms`` of the a atom and the b atom of each pair.
    d : numpy.ndarray
        Pair distances in Å.
    """
    mask_a, mask_b = _species_mask(atoms, a), _species_mask(atoms, b)
    i, j, d = neighbor_list(atoms, cutoff, "ijd")
    keep = mask_a[i] & mask_b[j]
    return i[keep], j[keep], d[keep]


def coordination(
    atoms: Atoms, center: str = "Zn", neighbor: str = "N", cutoff: float = 2.5
) -> np.ndarray:
    """Coordination number of every ``center`` atom.

    Parameters
    ----------
    atoms : ase.Atoms
    center, neighbor : str
        Element symbols. The default counts N around Zn.
    cutoff : float
        Bond cutoff in Å; 2.5 Å for Zn–N, from the first minimum of the Zn–N
        potential of mean force (Castel et al. 2024; Gaillac et al. 2017).

    Returns
    -------
    numpy.ndarray of int
        One count per ``center`` atom, in the order they appear in ``atoms``.
    """
    centers = np.flatnonzero(_species_mask(atoms, center))
    i, _, _ = pairs(atoms, center, neighbor, cutoff)
    counts = np.bincount(i, minlength=len(atoms))
    return counts[centers]


def density(atoms: Atoms) -> float:
    """Mass density in g/cm³, with the standard atomic masses of the elements.

    Masses stored on ``atoms`` are ignored on purpose: an MD run with heavier
    hydrogens (``MDRun(hydrogen_mass_amu=4)``) writes them to its frames, and
    the density of the material is that of the real atoms.
    """
    from ase.data import atomic_masses

    if len(atoms) == 0:
        raise ValueError("density: the structure has no atoms")
    volume = abs(float(np.linalg.det(atoms.cell.array)))
    if not volume > 1.0:  # Å³: no real cell is smaller than one cubic ångström
        raise ValueError(f"density: the cell volume is {volume:.3g} Å³; a periodic cell is needed")
    return float(atomic_masses[atoms.numbers].sum() / volume * AMU_PER_A3_TO_G_PER_CM3)


def structure_summary(atoms: Atoms, cutoff: float = 2.5) -> dict[str, float | str | int]:
    """Composition, density and Zn–N coordination of a ZIF structure.

    Returns a flat dict: ``formula``, ``n_atoms``, ``volume_A3``,
    ``density_g_cm3``, ``cn_Zn_N`` (mean) and ``frac_Zn_cn{3,4,5}``.
    """
    cn = coordination(atoms, "Zn", "N", cutoff)
    summary: dict[str, float | str | int] = {
        "formula": atoms.get_chemical_formula(),
        "n_atoms": len(atoms),
        "volume_A3": float(atoms.get_volume()),
        "density_g_cm3": density(atoms),
        "cn_Zn_N": float(cn.mean()),
    }
    for k in (3, 4, 5):
        summary[f"frac_Zn_cn{k}"] = float(np.mean(cn == k))
    return summary


def rdf(
    frames: Frames,
    a: str,
    b: str,
    r_max: float = 10.0,
    n_bins: int = 200,
    stride: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Partial radial distribution function g_ab(r), periodic and triclinic.

    g_ab(r) = <n_ab(r)> / (N_a ρ_b 4πr² dr) with ρ_b = (N_b − δ_ab)/V, so that
    an ideal gas gives exactly 1 on average. Frames are averaged with equal
    weight, each normalised by its own volume. ``r_max`` may exceed half the
    cell: periodic images are counted.

    Returns
    -------
    r : numpy.ndarray
        Bin centres in Å.
    g : numpy.ndarray
        g_ab(r).
    """
    selected = _frames(frames, stride)
    edges = np.linspace(0.0, r_max, n_bins + 1)
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    total = np.zeros(n_bins)
    for atoms in selected:
        _, _, d = pairs(atoms, a, b, r_max)
        n_a = int((atoms.numbers == atomic_numbers[a]).sum())
        n_b = int((atoms.numbers == atomic_numbers[b]).sum()) - (a == b)
        hist, _ = np.histogram(d, bins=edges)
        total += hist / (n_a * n_b / atoms.get_volume() * shell)
    return 0.5 * (edges[1:] + edges[:-1]), total / len(selected)


def pmf(g: np.ndarray, temperature: float, units: str = "kJ/mol") -> np.ndarray:
    """Potential of mean force F = −k_B T (ln g − ln g_max).

    Zero at the maximum of ``g``; NaN where g = 0. Used by Castel et al. (2024)
    for Zn–N (radial) and N–Zn–N (angular) distributions.

    Parameters
    ----------
    g : numpy.ndarray
        A radial distribution function or an angle distribution.
    temperature : float
        Temperature in K.
    units : {"kJ/mol", "eV"}
    """
    if units not in ("kJ/mol", "eV"):
        raise ValueError(f"units must be 'kJ/mol' or 'eV', got {units!r}")
    g = np.asarray(g, dtype=float)
    with np.errstate(divide="ignore"):
        free = -kB * temperature * (np.log(g) - np.log(g.max()))
    free[~np.isfinite(free)] = np.nan
    return free * EV_TO_KJ_PER_MOL if units == "kJ/mol" else free


def pmf_barrier(r: np.ndarray, free: np.ndarray, min_gap: float = 1.0) -> dict[str, float]:
    """First free-energy barrier of a radial PMF, e.g. Zn–N (the paper: ≈ 26 kJ/mol).

    The first well is the PMF's minimum (zero, at the maximum of g(r)); the
    second well is the lowest point at least ``min_gap`` Å beyond it; the
    barrier is the highest PMF value between the two, measured from the
    first well. Where g(r) = 0 somewhere between the wells (PMF NaN: never
    sampled, as in a crystal at 300 K), the barrier is ``inf``.

    Returns
    -------
    dict
        ``barrier`` (units of ``free``), ``r_barrier_A``, ``r_first_A``,
        ``r_second_A``.
    """
    r = np.asarray(r, dtype=float)
    free = np.asarray(free, dtype=float)
    if r.shape != free.shape or r.ndim != 1:
        raise ValueError(f"pmf_barrier: r and free must be 1-D of one length, got "
                         f"{r.shape} and {free.shape}")
    if not np.isfinite(free).any():
        raise ValueError("pmf_barrier: the PMF has no finite value")
    first = int(np.nanargmin(free))
    beyond = np.flatnonzero(r >= r[first] + min_gap)
    if not beyond.size or not np.isfinite(free[beyond]).any():
        raise ValueError(f"pmf_barrier: no sampled point {min_gap} Å beyond the first well "
                         f"at {r[first]:.2f} Å (r reaches {r[-1]:.2f} Å)")
    second = int(beyond[np.nanargmin(free[beyond])])
    between = free[first:second + 1]
    if np.isnan(between).any():
        top = first + int(np.flatnonzero(np.isnan(between))[0])
        return {"barrier": float("inf"), "r_barrier_A": float(r[top]),
                "r_first_A": float(r[first]), "r_second_A": float(r[second])}
    top = first + int(np.argmax(between))
    return {"barrier": float(free[top] - free[first]), "r_barrier_A": float(r[top]),
            "r_first_A": float(r[first]), "r_second_A": float(r[second])}


def pair_counts(
    frames: Frames, a: str = "Zn", b: str = "N", r_max: float = 4.0, bin_width: float = 0.05,
    stride: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw a–b pair-distance counts summed over frames (not normalised).

    The counts behind :func:`rdf`, kept as integers so that an empty bin can be
    told from a rare one (see :func:`barrier_lower_bound`) and so that runs can
    be pooled by adding them.

    Returns
    -------
    r : numpy.ndarray
        Bin centres in Å, from 0 to ``r_max``.
    counts : numpy.ndarray of int
        Number of a–b pairs in each bin, over all frames.
    """
    if not (r_max > 0 and 0 < bin_width < r_max):
        raise ValueError(f"pair_counts: need r_max > 0 and 0 < bin_width < r_max, got {r_max}, {bin_width}")
    edges = np.arange(0.0, r_max + 0.5 * bin_width, bin_width)
    counts = np.zeros(len(edges) - 1, dtype=np.int64)
    for atoms in _frames(frames, stride):
        counts += np.histogram(pairs(atoms, a, b, r_max)[2], bins=edges)[0]
    return 0.5 * (edges[1:] + edges[:-1]), counts


def barrier_lower_bound(
    r: np.ndarray, counts: np.ndarray, temperature: float, window: tuple[float, float] = (2.5, 3.2),
    units: str = "kJ/mol",
) -> dict[str, float | bool]:
    """What a histogram with an unsampled bin says about the first PMF barrier.

    The PMF at a bin is −k_B T ln(g/g_max), with g ∝ counts / r². Where the
    emptiest bin in ``window`` (Å, between the first and second Zn–N shells)
    holds zero pairs, the barrier is above the PMF that a single count there
    would give: ``lower_bound = k_B T ln[(n_peak/r_peak²) / (1/r_empty²)]``.
    More sampling can only raise it (by k_B T ln 3 when three runs are pooled).
    Where that bin holds pairs, the same expression is an estimate of the
    barrier from the histogram (``resolved`` True).

    Returns
    -------
    dict
        ``lower_bound`` (``units``), ``resolved``, ``r_empty_A`` (the emptiest
        bin), ``count_empty``, ``r_peak_A``, ``count_peak``, ``n_pairs`` (all
        counts below the window).
    """
    if units not in ("kJ/mol", "eV"):
        raise ValueError(f"units must be 'kJ/mol' or 'eV', got {units!r}")
    r = np.asarray(r, dtype=float)
    counts = np.asarray(counts, dtype=float)
    if r.shape != counts.shape or r.ndim != 1:
        raise ValueError(f"barrier_lower_bound: r and counts must be 1-D of one length, got "
                         f"{r.shape} and {counts.shape}")
    if not (np.isfinite(counts).all() and (counts >= 0).all()):
        raise ValueError("barrier_lower_bound: counts must be finite and >= 0")
    inside = (r >= window[0]) & (r <= window[1])
    if not inside.any():
        raise ValueError(f"barrier_lower_bound: no bin in the window {window} Å (r spans "
                         f"{r.min():.2f}-{r.max():.2f} Å)")
    if counts[r < window[0]].sum() == 0:
        raise ValueError(f"barrier_lower_bound: no pair below {window[0]} Å: nothing to bound from")
    g = counts / r ** 2
    peak = int(np.argmax(np.where(r < window[0], g, -1.0)))
    empty = int(np.flatnonzero(inside)[np.argmin(g[inside])])
    resolved = bool(counts[empty] > 0)
    one = (counts[empty] if resolved else 1.0) / r[empty] ** 2
    kt = kB * temperature * (EV_TO_KJ_PER_MOL if units == "kJ/mol" else 1.0)
    return {"lower_bound": float(kt * np.log(g[peak] / one)), "resolved": resolved,
            "r_empty_A": float(r[empty]), "count_empty": int(counts[empty]),
            "r_peak_A": float(r[peak]), "count_peak": int(counts[peak]),
            "n_pairs": int(counts[r < window[0]].sum())}


def distribution_overlap(p: np.ndarray, q: np.ndarray) -> float:
    """Overlap Σ min(p̂, q̂) of two histograms on one grid, each normalised to sum 1.

    1 for identical shapes, 0 for disjoint ones (1 − total-variation distance).
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"distribution_overlap: need two 1-D histograms of one length, got "
                         f"{p.shape} and {q.shape}")
    if not (np.isfinite(p).all() and np.isfinite(q).all()) or (p < 0).any() or (q < 0).any():
        raise ValueError("distribution_overlap: histograms must be finite and >= 0")
    if p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("distribution_overlap: an empty histogram has no shape")
    return float(np.minimum(p / p.sum(), q / q.sum()).sum())


def bond_angles(
    atoms: Atoms, center: str = "Zn", neighbor: str = "N", cutoff: float = 2.5
) -> np.ndarray:
    """Every neighbor–center–neighbor angle (degrees), e.g. N–Zn–N.

    Neighbours are the ``neighbor`` atoms within ``cutoff`` Å of each center.
    """
    mask_c, mask_n = _species_mask(atoms, center), _species_mask(atoms, neighbor)
    i, j, vec = neighbor_list(atoms, cutoff, "ijD")
    keep = mask_c[i] & mask_n[j] & (np.linalg.norm(vec, axis=1) > 1e-8)  # no angle at r = 0
    i, vec = i[keep], vec[keep]
    order = np.argsort(i, kind="stable")
    i, vec = i[order], vec[order]
    unit = vec / np.linalg.norm(vec, axis=1)[:, None]
    starts = np.flatnonzero(np.r_[True, np.diff(i) != 0])
    counts = np.diff(np.r_[starts, len(i)])
    angles = []
    for start, count in zip(starts, counts, strict=True):
        u = unit[start : start + count]
        upper = np.triu_indices(count, 1)
        cos = np.clip((u @ u.T)[upper], -1.0, 1.0)
        angles.append(np.degrees(np.arccos(cos)))
    return np.concatenate(angles) if angles else np.zeros(0)


def angle_distribution(
    frames: Frames,
    center: str = "Zn",
    neighbor: str = "N",
    cutoff: float = 2.5,
    n_bins: int = 180,
    stride: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised distribution P(θ) of neighbor–center–neighbor angles.

    Returns
    -------
    theta : numpy.ndarray
        Bin centres in degrees (0–180).
    p : numpy.ndarray
        Probability density per degree (integrates to 1).
    """
    angles = np.concatenate(
        [bond_angles(atoms, center, neighbor, cutoff) for atoms in _frames(frames, stride)]
    )
    p, edges = np.histogram(angles, bins=n_bins, range=(0.0, 180.0), density=True)
    return 0.5 * (edges[1:] + edges[:-1]), p


def _unwrapped(frames: list[Atoms], mask: np.ndarray) -> np.ndarray:
    """Positions (frames, atoms, 3) unwrapped frame to frame with the minimum image."""
    first = frames[0]
    out = np.empty((len(frames), int(mask.sum()), 3))
    out[0] = first.positions[mask]
    prev = out[0]
    for k, atoms in enumerate(frames[1:], start=1):
        now = atoms.positions[mask]
        step = now - prev
        frac = np.linalg.solve(atoms.cell.array.T, step.T).T
        step -= np.round(frac) @ atoms.cell.array
        out[k] = out[k - 1] + step
        prev = now
    return out


def msd(frames: Sequence[Atoms], species: str | None = None) -> np.ndarray:
    """Mean square displacement (Å²) of each frame from the first.

    Positions are unwrapped frame to frame with the minimum image, so frames
    must be close enough in time that no atom moves half a cell between two.
    """
    frames = _frames(frames)
    mask = np.ones(len(frames[0]), bool) if species is None else _species_mask(frames[0], species)
    path = _unwrapped(frames, mask)
    return ((path - path[0]) ** 2).sum(axis=2).mean(axis=1)


def msd_windows(
    frames: Sequence[Atoms],
    lags_ps: Sequence[float],
    species: str | None = None,
    frame_interval_ps: float | None = None,
) -> dict[float, dict[str, float]]:
    """Mean square displacement (Å²) at given lag times, with a standard error.

    The run is cut into non-overlapping windows of each lag; every window gives
    one MSD (over the atoms of ``species``), and the result is their mean with
    the standard error over windows (independent samples as long as the lag
    exceeds the velocity correlation time; NaN with a single window). Unwrapped
    as :func:`msd`. ``frame_interval_ps``: the time between frames; by default
    from the frames' ``time_ps`` (an :class:`~zifhelpers.simulation.md.MDRun`
    writes it), which must be evenly spaced.

    Returns {lag: {"mean", "err", "windows"}}, with the lag rounded to a whole
    number of frames.
    """
    frames = _frames(frames)
    if frame_interval_ps is None:
        if not all("time_ps" in f.info for f in frames):
            raise ValueError("msd_windows: the frames have no time_ps; give frame_interval_ps")
        t = np.array([f.info["time_ps"] for f in frames], dtype=float)
        dt = np.diff(t)
        if len(dt) == 0 or dt.min() <= 0 or not np.allclose(dt, dt[0], rtol=1e-3, atol=1e-9):
            raise ValueError(f"msd_windows: the frames' time_ps are not evenly spaced "
                             f"(intervals {dt.min() if len(dt) else None}..{dt.max() if len(dt) else None} ps)")
        frame_interval_ps = float(dt[0])
    if not frame_interval_ps > 0:
        raise ValueError(f"msd_windows: frame_interval_ps must be > 0, got {frame_interval_ps}")
    mask = np.ones(len(frames[0]), bool) if species is None else _species_mask(frames[0], species)
    path = _unwrapped(frames, mask)
    out = {}
    for lag in lags_ps:
        m = int(round(lag / frame_interval_ps))
        if m < 1 or m >= len(frames):
            raise ValueError(f"msd_windows: lag {lag} ps is not between one frame "
                             f"({frame_interval_ps} ps) and the run ({(len(frames) - 1) * frame_interval_ps} ps)")
        starts = np.arange(0, len(frames) - m, m)
        per_window = ((path[starts + m] - path[starts]) ** 2).sum(axis=2).mean(axis=1)
        n = len(per_window)
        err = float(per_window.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        out[round(m * frame_interval_ps, 9)] = {"mean": float(per_window.mean()), "err": err,
                                                "windows": n}
    return out


#: Zeo++ runs in a child process: it can abort (SIGABRT) on a frame, and must not take the
#: interpreter, a notebook kernel or a test worker with it. The child prints its result after a marker.
_ZEO_MARKER = "@@zeo-volume@@"
_ZEO_SCRIPT = f"""
import sys
from pyzeo.area_volume import volume
from pyzeo.netstorage import AtomNetwork
network = AtomNetwork.read_from_CIF(sys.argv[1])
text = volume(network, float(sys.argv[2]), float(sys.argv[2]), int(sys.argv[3]))
sys.stdout.flush()
print("{_ZEO_MARKER}" + (text.decode() if isinstance(text, bytes) else text), flush=True)
"""


def _zeo_volume(path: str, probe_radius: float, samples_per_atom: int, attempts: int = 2) -> str:
    """Zeo++'s volume report for a CIF file, from a child process (retried once if it dies)."""
    import signal
    import subprocess
    import sys

    for _ in range(attempts):
        proc = subprocess.run([sys.executable, "-c", _ZEO_SCRIPT, path, repr(float(probe_radius)),
                               str(int(samples_per_atom))], capture_output=True, text=True, timeout=900)
        if proc.returncode == 0 and _ZEO_MARKER in proc.stdout:
            return proc.stdout.split(_ZEO_MARKER, 1)[1]
    code = proc.returncode
    how = f"signal {-code} ({signal.Signals(-code).name})" if code < 0 else f"exit status {code}"
    raise RuntimeError(f"Zeo++ (pyzeo) died {attempts} times on this structure ({how}; probe "
                       f"{probe_radius} Å, {samples_per_atom} samples per atom); the interpreter was "
                       f"kept. Its last output: {(proc.stderr or proc.stdout)[-400:]!r}")


_ZEO_FIELDS = re.compile(r"(AV_cm\^3/g|NAV_cm\^3/g|AV_Volume_fraction|NAV_Volume_fraction):\s*(\S+)")


def pore_volume(
    atoms: Atoms, probe_radius: float = 1.2, samples_per_atom: int = 2000
) -> dict[str, float]:
    """Pore volume with Zeo++ (through pyzeo): accessible + non-accessible.

    Castel et al. (2024) report the total (accessible + non-accessible) volume
    for a helium-sized probe of radius 1.2 Å, with Zeo++'s default radii.

    Parameters
    ----------
    atoms : ase.Atoms
    probe_radius : float
        Probe (and channel) radius in Å.
    samples_per_atom : int
        Zeo++ Monte Carlo samples per atom.

    Returns
    -------
    dict
        ``total_cm3_kg``, ``accessible_cm3_kg``, ``non_accessible_cm3_kg`` and
        the matching volume fractions ``total_fraction`` etc.
    """
    # Zeo++ calls exit() on these, silently, taking the interpreter with it
    if not atoms.pbc.all() or atoms.cell.rank < 3 or atoms.get_volume() <= 0:
        raise ValueError(f"pore_volume needs a fully periodic cell with a volume; got "
                         f"pbc={atoms.pbc.tolist()}, cell lengths "
                         f"{np.round(atoms.cell.lengths(), 3).tolist()} Å")
    if len(atoms) == 0:
        raise ValueError("pore_volume: the structure has no atoms")
    if not probe_radius >= 0 or samples_per_atom < 1:
        raise ValueError(f"pore_volume: probe_radius must be >= 0 Å and samples_per_atom >= 1, "
                         f"got {probe_radius} and {samples_per_atom}")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "frame.cif")
        atoms.write(path, format="cif")
        text = _zeo_volume(path, probe_radius, samples_per_atom)
    fields = dict(_ZEO_FIELDS.findall(text))
    if len(fields) != 4:
        raise RuntimeError(f"could not parse Zeo++'s volume output: {text!r}")
    acc, nacc = float(fields["AV_cm^3/g"]) * 1e3, float(fields["NAV_cm^3/g"]) * 1e3
    fa, fn = float(fields["AV_Volume_fraction"]), float(fields["NAV_Volume_fraction"])
    return {
        "total_cm3_kg": acc + nacc,
        "accessible_cm3_kg": acc,
        "non_accessible_cm3_kg": nacc,
        "total_fraction": fa + fn,
        "accessible_fraction": fa,
        "non_accessible_fraction": fn,
    }
