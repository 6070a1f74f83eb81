"""High-temperature robustness: how often a potential breaks imidazolate linkers.

The paper found its Allegro model breaking linkers above 1300 K (about once
per cell per 100 ps at 1500 K) while NequIP stayed intact. Here each
(temperature, seed) is one NVT run of one cell with the linker-integrity
check on (:class:`zifhelpers.simulation.md.MDRun`, ``integrity_every``); a run stops at
its first broken linker, one that stays broken for a confirmation window. With the waiting times of independent runs, the rate
of breaking events is the maximum-likelihood estimate of a Poisson process,
``events / total simulated time``, reported per cell per 100 ps with an exact
(Garwood) 95 % interval.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from .md import MDGuardError, MDRun, Schedule, read_thermo

__all__ = ["breaking_rate", "linker_breaking_scan"]


def breaking_rate(events: int, total_ps: float, per_ps: float = 100.0) -> dict:
    """Poisson rate per ``per_ps`` with its exact 95 % interval (Garwood 1936)."""
    from scipy.stats import chi2

    if isinstance(events, bool) or not isinstance(events, (int, np.integer)) or events < 0:
        raise ValueError(f"events must be a whole number >= 0, got {events!r}")
    if not (np.isfinite(total_ps) and total_ps > 0):
        raise ValueError(f"total_ps must be finite and > 0, got {total_ps}")
    if not (np.isfinite(per_ps) and per_ps > 0):
        raise ValueError(f"per_ps must be finite and > 0, got {per_ps}")
    low = 0.0 if events == 0 else chi2.ppf(0.025, 2 * events) / 2
    high = chi2.ppf(0.975, 2 * events + 2) / 2
    scale = per_ps / total_ps
    out = {"rate": events * scale, "rate_low": low * scale, "rate_high": high * scale}
    if not all(np.isfinite(v) for v in out.values()):  # e.g. total_ps = 1e-311: rates overflow
        raise ValueError(f"total_ps = {total_ps} is too short for a rate per {per_ps} ps: "
                         f"its upper bound overflows")
    return out


def linker_breaking_scan(start: Atoms, temperatures_K, duration_ps: float,
                         workdir: str | os.PathLike, calculator: str = "published",
                         calc: Calculator | None = None, seeds=(0,),
                         timestep_fs: float = 0.5, integrity_every: int = 20,
                         heat_ps: float = 0.0, progress: bool = True,
                         integrity_confirm_fs: float = 50.0):
    """NVT runs per temperature and seed; count the first linker break of each.

    Each run: optional linear heating from 300 K over ``heat_ps`` (not
    counted), then ``duration_ps`` at the temperature with the integrity
    check every ``integrity_every`` steps. A break counts only if it lasts
    ``integrity_confirm_fs`` (a C–H bond vibrating past its cutoff for a few
    fs is a thermal excursion, which even the reference has at 1500 K; see
    :class:`~zifhelpers.simulation.md.MDRun`); the healed ones are counted
    apart. Runs resume from their checkpoints; a finished or stopped run is
    read back, not re-run, except a run stopped under a shorter confirmation
    window, which goes on from its last checkpoint under this one. Returns a
    DataFrame (one row per temperature): runs, events, simulated ps, rate per
    cell per 100 ps and its 95 % interval, ``excursions`` (healed checks).
    """
    import pandas as pd

    from .md import count_transients

    temperatures_K, seeds = list(temperatures_K), list(seeds)
    if not temperatures_K:
        raise ValueError("linker_breaking_scan: no temperatures given")
    if not seeds:
        raise ValueError("linker_breaking_scan: no seeds given (one run per temperature and seed)")
    rows = []
    for temp in temperatures_K:
        events, total_ps, reasons, excursions = 0, 0.0, [], 0
        for seed in seeds:
            folder = Path(workdir) / f"T{temp:.0f}_seed{seed}"
            sched = Schedule(timestep_fs)
            if heat_ps > 0:
                sched.ramp("heat", 300.0, float(temp), (float(temp) - 300.0) / heat_ps)
            sched.plateau("hold", float(temp), duration_ps)
            status = folder / "status.json"
            state = json.loads(status.read_text()).get("state") if status.is_file() else None
            recipe = folder / "run.json"
            window = json.loads(recipe.read_text()).get("integrity_confirm_fs", 0.0) if recipe.is_file() else None
            if state not in ("finished", "stopped") or (state == "stopped" and window < integrity_confirm_fs):
                try:
                    MDRun(folder, start, sched, calculator=calculator, calc=calc,
                          ensemble="nvt-bussi", frame_every=integrity_every,
                          integrity_every=integrity_every, integrity_confirm_fs=integrity_confirm_fs,
                          seed=seed, max_temperature_factor=10.0).run(progress=progress)
                except MDGuardError:
                    pass
            info = json.loads(status.read_text())
            thermo = read_thermo(folder)
            hold = thermo[thermo.stage == "hold"]
            held = float(hold.time_ps.max() - hold.time_ps.min()) if len(hold) else 0.0
            if info["state"] == "stopped":
                broke = "broken linkers" in info.get("reason", "")
                events += int(broke)
                reasons.append(info.get("reason", "")[:200])
                if broke:  # the break happened within the last integrity interval
                    held += integrity_every * timestep_fs / 1000.0
            total_ps += held
            excursions += count_transients(folder)
        rate = breaking_rate(events, total_ps) if total_ps > 0 else {
            "rate": np.nan, "rate_low": np.nan, "rate_high": np.nan}
        rows.append({"temperature_K": float(temp), "runs": len(seeds), "events": events,
                     "simulated_ps": total_ps, "breaks_per_cell_per_100ps": rate["rate"],
                     "ci95_low": rate["rate_low"], "ci95_high": rate["rate_high"],
                     "excursions": excursions, "stop_reasons": reasons})
    return pd.DataFrame(rows).set_index("temperature_K")
