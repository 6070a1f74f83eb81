"""Size scaling of a potential: time per atom per call and peak memory vs N.

Each size runs in a fresh subprocess (``python -m zifhelpers.potentials.scaling``) so
that its peak memory (resident set on CPU, ``torch.cuda.max_memory_allocated``
on a GPU) is its own; the time is the fastest of a few calls (energy, forces,
stress, neighbour list included) after a warm-up. :func:`fit_power_law` fits
``t_call = a N^b`` on a log–log scale: ``b`` near 1 is linear scaling.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

__all__ = ["measure", "size_scaling", "fit_power_law", "largest_fitting", "summarize", "plot_scaling"]


def measure(spec: str, structure: str, repeat: int, calls: int = 3,
            device: str | None = None) -> dict:
    """Time and peak memory of one supercell, in this process (see module doc)."""
    import resource
    import time

    import torch

    from ..data.public import load_structure
    from .registry import load_calculator

    if ":" in structure:  # a toy, e.g. "fcc:Cu:3"
        atoms = _toy(structure, repeat)
    else:
        atoms = load_structure(structure).repeat((repeat, repeat, repeat))
    calc = load_calculator(spec, device=device)
    dev = getattr(calc, "device", "cpu")
    atoms.calc = calc
    atoms.get_forces()
    best = np.inf
    rng = np.random.default_rng(0)
    for _ in range(calls):
        atoms.positions += rng.normal(scale=1e-4, size=atoms.positions.shape)
        start = time.perf_counter()
        atoms.get_forces()
        if "stress" in calc.implemented_properties:
            atoms.get_stress()
        if str(dev).startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    gpu_mib = torch.cuda.max_memory_allocated() / 2**20 if str(dev).startswith("cuda") else None
    return {"spec": spec, "structure": structure, "repeat": repeat, "atoms": len(atoms),
            "s_per_call": best, "us_per_atom_call": 1e6 * best / len(atoms),
            "peak_rss_MiB": peak_mib, "peak_gpu_MiB": gpu_mib, "device": str(dev)}


def _toy(structure: str, repeat: int):
    """``"fcc:Cu:3"``-style toy structures for tests (element, conventional cells)."""
    from ase.build import bulk

    _, element, n = structure.split(":")
    return bulk(element, cubic=True).repeat(int(n) * repeat)


def _failure(proc: subprocess.CompletedProcess) -> str:
    """Why a measuring subprocess failed, in words (a kill by SIGKILL is named as such)."""
    tail = " | ".join((proc.stderr or proc.stdout or "").strip().splitlines()[-3:])
    if proc.returncode < 0:
        sig = signal.Signals(-proc.returncode).name
        why = " (out of memory?)" if sig == "SIGKILL" else ""
        return f"killed by {sig}{why}" + (f": {tail}" if tail else "")
    return f"exit {proc.returncode}" + (f": {tail}" if tail else "")


def size_scaling(spec: str, repeats=(1, 2, 3, 4, 5), structure: str = "crystal",
                 calls: int = 3, device: str | None = None, timeout_s: float = 3600,
                 progress: bool = True) -> list[dict]:
    """:func:`measure` for each supercell ``repeat^3`` in its own process.

    A size that fails (out of memory, timeout) is reported with ``error``
    and ends the scan: larger ones would fail too.
    """
    from tqdm.auto import tqdm

    rows = []
    for r in tqdm(repeats, desc=f"scaling {Path(str(spec)).name}", disable=not progress):
        cmd = [sys.executable, "-m", "zifhelpers.potentials.scaling", str(spec), structure, str(r),
               str(calls), device or ""]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                                  env={**os.environ, "PYTHONWARNINGS": "ignore"})
        except subprocess.TimeoutExpired:
            rows.append({"spec": spec, "repeat": r, "error": f"timeout after {timeout_s} s"})
            break
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            rows.append({"spec": spec, "repeat": r, "error": _failure(proc)})
            break
        rows.append(json.loads(lines[-1]))
    return rows


def fit_power_law(atoms, seconds) -> dict:
    """Least-squares fit of ``log t = log a + b log N``; returns ``a``, ``b`` (exponent)."""
    atoms, seconds = np.asarray(atoms, float), np.asarray(seconds, float)
    if atoms.shape != seconds.shape or atoms.ndim != 1:
        raise ValueError(f"atoms and seconds must be 1-D of equal length, got {atoms.shape} "
                         f"and {seconds.shape}")
    if len(np.unique(atoms)) < 2:
        raise ValueError("need at least two different sizes to fit an exponent")
    if not (np.all(np.isfinite(atoms)) and np.all(atoms > 0) and np.all(np.isfinite(seconds))
            and np.all(seconds > 0)):
        raise ValueError(f"sizes and times must be finite and > 0, got {atoms.tolist()} and "
                         f"{seconds.tolist()}")
    b, log_a = np.polyfit(np.log(atoms), np.log(seconds), 1)
    if not log_a < np.log(np.finfo(float).max):
        raise ValueError(f"the fitted prefactor exp({log_a:.4g}) overflows (exponent {b:.4g}): sizes "
                         f"{atoms.min():g}-{atoms.max():g} atoms are too close together for these "
                         "times to give an exponent")
    return {"a": float(np.exp(log_a)), "exponent": float(b)}


def largest_fitting(rows: list[dict], memory_MiB: float, key: str = "peak_rss_MiB") -> int:
    """Atoms that fit in ``memory_MiB``, extrapolating peak memory linearly in N."""
    good = [r for r in rows if "error" not in r and r.get(key)]
    if len(good) < 2:
        raise ValueError("need two measured sizes to extrapolate memory")
    n = np.array([r["atoms"] for r in good], float)
    m = np.array([r[key] for r in good], float)
    slope, base = np.polyfit(n, m, 1)
    if slope <= 0:
        return int(n.max())
    return int((memory_MiB - base) / slope)


def summarize(rows_by_model: dict[str, list[dict]], memory_MiB: float) -> dict[str, dict]:
    """Per model: µs/atom/call by size, the fitted exponent and the largest N that fits.

    ``rows_by_model`` maps a model label to :func:`size_scaling` rows; failed
    sizes are listed under ``failed`` with their error. The exponent and
    ``largest_fitting_atoms`` (peak memory extrapolated linearly to
    ``memory_MiB``) need two measured sizes.
    """
    out = {}
    for name, rows in rows_by_model.items():
        good = [r for r in rows if "error" not in r]
        entry = {"us_per_atom_call": {int(r["atoms"]): r["us_per_atom_call"] for r in good},
                 "peak_rss_MiB": {int(r["atoms"]): r["peak_rss_MiB"] for r in good},
                 "device": good[0]["device"] if good else None}
        if len(good) > 1:
            entry["exponent"] = fit_power_law([r["atoms"] for r in good],
                                              [r["s_per_call"] for r in good])["exponent"]
            entry["largest_fitting_atoms"] = largest_fitting(good, memory_MiB)
        failed = {int(r["repeat"]): r["error"] for r in rows if "error" in r}
        if failed:
            entry["failed"] = failed
        out[name] = entry
    return out


if __name__ == "__main__":  # one measurement, JSON on stdout
    spec, structure, repeat, calls, device = sys.argv[1:6]
    print(json.dumps(measure(spec, structure, int(repeat), int(calls), device or None)))


def plot_scaling(rows_by_model: dict[str, list[dict]]):
    """Log–log time per call against atoms, one line per model, exponent in the legend."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, rows in rows_by_model.items():
        good = [r for r in rows if "error" not in r]
        if not good:
            continue
        n = [r["atoms"] for r in good]
        t = [r["s_per_call"] for r in good]
        label = name
        if len(good) > 1:
            label += f" (N^{fit_power_law(n, t)['exponent']:.2f})"
        axes[0].loglog(n, t, marker="o", label=label)
        axes[1].semilogx(n, [r["peak_rss_MiB"] / 1024 for r in good], marker="o", label=name)
    axes[0].set(xlabel="atoms", ylabel="s per call (E, F, σ)")
    axes[1].set(xlabel="atoms", ylabel="peak memory (GiB, process)")
    axes[0].legend()
    fig.tight_layout()
    return fig
