"""The made glasses' first Zn–N barrier from more 300 K sampling of the committed glasses.

``python -m zifhelpers glass-barrier results/cpu --profile cpu [--seeds 0 1]``

Notebook 04 ends each melt-quench with a 300 K run (``cpu``: 20 ps) and keeps
its raw Zn–N pair counts; pooled over the seeds they bound the first barrier
from below (:func:`zifhelpers.analysis.structure.barrier_lower_bound`), since
the paper's ≈ 26 kJ/mol is a bin that a pair visits e^(−10) times as often as
the first peak. The glasses themselves are committed
(``<campaign>/04_seed<N>/results/04_glass_seed<N>.extxyz``, the last frame of
that run), so more sampling needs no new melt-quench: each glass runs on at
300 K with the sampler and time step it was made with (its results JSON says
which) for the ``barrier_extension`` of notebook 04's profile
(:func:`zifhelpers.simulation.meltquench.glass_pair_counts`), and its counts
join the notebook's. The runs live in ``<campaign>/md/04_glass_barrier/seed<N>``
(only their ``summary.json`` is kept in git); the result is
``<campaign>/04_glass_barrier.json``, which the reproduction report reads.
Killed at any point, the same command resumes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from ase import units
from ase.io import read

from ..analysis.structure import EV_TO_KJ_PER_MOL, barrier_lower_bound
from ..data import paper
from ..simulation.meltquench import glass_pair_counts
from .profiles import settings as profile_settings
from .results import write_results

__all__ = ["BARRIER_BIN_A", "campaign_glasses", "coarser", "glass_barrier", "pooled_barrier_estimate",
           "plot_pooled_pmf"]

#: Bin width (Å) of the barrier estimate: notebook 04's own PMF barrier uses 0.1 Å bins (the
#: top of the first barrier is a rare event at 300 K); the pair counts are kept at 0.05 Å.
BARRIER_BIN_A = 0.1

def campaign_glasses(campaign_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The made glasses of a notebook-04 campaign folder, one dict per seed.

    Looks for ``*/results/04_melt_quench.json`` under ``campaign_dir``; each
    gives ``seed``, ``potential``, ``timestep_fs``, ``hydrogen_mass_amu``, the
    300 K run's length (``glass_300K_ps``) and Zn–N pair counts
    (``ZnN_pair_counts``), and names the glass file beside it. Raises
    ``FileNotFoundError`` for no such file or a missing glass, ``KeyError``
    naming the file and field for a JSON without the counts.
    """
    campaign_dir = Path(campaign_dir)
    found = sorted(campaign_dir.glob("*/results/04_melt_quench.json"))
    if not found:
        raise FileNotFoundError(f"{campaign_dir}: no */results/04_melt_quench.json (notebook 04's "
                                "results of one seed each)")
    glasses = []
    for path in found:
        try:
            values = json.loads(path.read_text())["values"]
        except (json.JSONDecodeError, KeyError) as err:
            raise ValueError(f"{path}: not a results JSON with 'values' ({err})") from None
        for field in ("seed", "potential", "ZnN_pair_counts", "glass_300K_ps", "timestep_fs"):
            if field not in values:
                raise KeyError(f"{path}: no field 'values.{field}' (re-run notebook 04 for this seed)")
        glass = path.parent / f"04_glass_seed{values['seed']}.extxyz"
        if not glass.is_file():
            raise FileNotFoundError(f"{glass}: the glass of {path} is missing")
        glasses.append({"seed": int(values["seed"]), "potential": str(values["potential"]),
                        "timestep_fs": float(values["timestep_fs"]),
                        "hydrogen_mass_amu": values.get("hydrogen_mass_amu"),
                        "notebook_ps": float(values["glass_300K_ps"]),
                        "r_A": values["ZnN_pair_counts"]["r_A"],
                        "counts": values["ZnN_pair_counts"]["counts"],
                        "results": path, "glass": glass})
    seeds = [g["seed"] for g in glasses]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{campaign_dir}: two results JSONs for one seed: {sorted(seeds)}")
    return glasses


def coarser(r_A, counts, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair counts in bins ``factor`` times wider (sums of neighbours; centres averaged).

    A last group shorter than ``factor`` is dropped. Raises ``ValueError`` for a
    factor below 1 or arrays of different lengths.
    """
    r, c = np.asarray(r_A, dtype=float), np.asarray(counts)
    if factor < 1 or r.shape != c.shape or r.ndim != 1:
        raise ValueError(f"coarser: need factor >= 1 and 1-D arrays of one length, got {factor}, "
                         f"{r.shape}, {c.shape}")
    n = len(r) // factor * factor
    return r[:n].reshape(-1, factor).mean(axis=1), c[:n].reshape(-1, factor).sum(axis=1)


def pooled_barrier_estimate(r_A, counts, temperature_K: float = 300.0) -> dict[str, Any]:
    """:func:`~zifhelpers.analysis.structure.barrier_lower_bound` with an error once resolved.

    Adds ``err_kJ_mol``: k_B T √(1/n_top + 1/n_peak) from the counts of the
    emptiest bin and of the first peak (Poisson), when the emptiest bin holds
    pairs; None while it is a bound. Counts of frames closer than a pair's
    correlation time are not independent, so this error is a lower estimate.
    """
    bound = barrier_lower_bound(np.asarray(r_A, float), np.asarray(counts, float), temperature_K)
    kt = units.kB * temperature_K * EV_TO_KJ_PER_MOL
    err = (kt * float(np.sqrt(1.0 / bound["count_empty"] + 1.0 / bound["count_peak"]))
           if bound["resolved"] else None)
    return {**bound, "err_kJ_mol": err}


def glass_barrier(campaign_dir: str | os.PathLike, profile: str, seeds: list[int] | None = None,
                  progress: bool = True, calc=None) -> Path:
    """Run (or read back) the extra 300 K runs of ``seeds`` and pool every glass's counts.

    ``seeds`` None runs every glass of the campaign; the pooled result always
    uses every glass whose extra run has finished (the others are listed under
    ``missing``), so that two processes given different seeds can share one
    campaign folder. ``calc`` replaces the sampler (tests). Returns the path of
    ``04_glass_barrier.json``.
    """
    ext = profile_settings("04_melt_quench", profile).get("barrier_extension")
    if not ext:
        raise ValueError(f"profile {profile!r} has no 'barrier_extension' for notebook 04")
    campaign_dir = Path(campaign_dir)
    glasses = campaign_glasses(campaign_dir)
    known = [g["seed"] for g in glasses]
    unknown = sorted(set(seeds or []) - set(known))
    if unknown:
        raise ValueError(f"seeds {unknown} are not in {campaign_dir} (its glasses: {known})")
    md = campaign_dir / "md" / "04_glass_barrier"
    for g in glasses:  # first the runs, then what every run has left (others may finish meanwhile)
        if seeds is None or g["seed"] in seeds:
            glass_pair_counts(read(g["glass"]), md / f"seed{g['seed']}", g["potential"],
                              ext["production_ps"], timestep_fs=g["timestep_fs"],
                              hydrogen_mass_amu=g["hydrogen_mass_amu"], frame_every=ext["frame_every"],
                              seed=g["seed"], progress=progress, calc=calc)
    r = glasses[0]["r_A"]
    factor = max(1, round(BARRIER_BIN_A / (r[1] - r[0])))
    rows, pooled, missing = [], None, []
    for g in glasses:
        summary = md / f"seed{g['seed']}" / "summary.json"
        extra = json.loads(summary.read_text()) if summary.is_file() else None
        if extra is None:
            missing.append(g["seed"])
        elif not np.allclose(extra["r_A"], g["r_A"]):
            raise ValueError(f"{summary}: its bins differ from those of {g['results']}")
        counts = np.asarray(g["counts"]) + (np.asarray(extra["counts"]) if extra else 0)
        pooled = counts if pooled is None else pooled + counts
        rows.append({"seed": g["seed"], "potential": g["potential"], "glass": g["glass"].name,
                     "notebook_ps": g["notebook_ps"], "counts_notebook": g["counts"],
                     "extension_ps": extra["production_ps"] if extra else 0.0,
                     "extension_frames": extra["n_frames"] if extra else 0,
                     "extension_counts": extra["counts"] if extra else None,
                     "barrier": pooled_barrier_estimate(*coarser(r, counts, factor))})
    notebook_only = sum(np.asarray(g["counts"]) for g in glasses)
    values = {"glasses": rows, "r_A": r, "counts_pooled": pooled.tolist(), "barrier_bin_A": BARRIER_BIN_A,
              "pooled": pooled_barrier_estimate(*coarser(r, pooled, factor)),
              "notebook_only": pooled_barrier_estimate(*coarser(r, notebook_only, factor)),
              "pooled_fine": pooled_barrier_estimate(r, pooled),
              "pooled_ps": sum(row["notebook_ps"] + row["extension_ps"] for row in rows),
              "missing": missing, "barrier_extension": dict(ext)}
    return write_results("04_glass_barrier", profile, values, campaign_dir,
                         paper={"pooled": paper.value("barrier_ZnN_mlp_glass")},
                         notes={"barrier_ZnN_mlp_glass": _note(values)})


def _note(values: dict[str, Any]) -> str:
    """The report's sentence on the pooled counts: how much sampling, what the top bin holds."""
    rows, b, fine = values["glasses"], values["pooled"], values["pooled_fine"]
    ext = sum(row["extension_ps"] for row in rows)
    text = (f"{values['pooled_ps']:.3g} ps at 300 K over {len(rows)} glasses "
            f"({values['pooled_ps'] - ext:.3g} ps from notebook 04, {ext:.3g} ps continued)")
    if values["missing"]:
        text += f"; not continued yet: seeds {values['missing']}"
    width = values["barrier_bin_A"]
    text += (f"; in {width} Å bins (notebook 04's barrier binning) the emptiest between 2.5 and "
             f"3.2 Å ({b['r_empty_A']:.2f} Å) holds {b['count_empty']} Zn–N pairs against "
             f"{b['count_peak']} at the first peak")
    if b["resolved"]:
        text += (": the barrier, with a Poisson error (a lower estimate: frames 50 fs apart are "
                 "not independent; and the emptiest of several noisy bins reads high)")
        each = [f"{'' if row['barrier']['resolved'] else '≥ '}{row['barrier']['lower_bound']:.1f}"
                for row in rows]
        text += f"; each glass's own counts: {', '.join(each)} kJ/mol"
    else:
        text += (f": a bound from below (notebook 04's runs alone: ≥ "
                 f"{values['notebook_only']['lower_bound']:.1f} kJ/mol)")
    return text + (f"; in 0.05 Å bins: {'' if fine['resolved'] else '≥ '}{fine['lower_bound']:.1f} "
                   f"kJ/mol ({fine['count_empty']} pairs at {fine['r_empty_A']:.3f} Å)")


def plot_pooled_pmf(values: dict[str, Any], temperature_K: float = 300.0):
    """The Zn–N PMF −k_B T ln(g/g_peak) of the pooled counts, and of notebook 04's alone.

    ``values`` is the ``values`` of ``04_glass_barrier.json``. Empty bins have no
    point; the emptiest bin between the shells is marked with the bound (▲) or
    the barrier with its error; bins of ``barrier_bin_A``. Returns the figure.
    """
    import matplotlib.pyplot as plt

    from .plotting import PALETTE

    fine = np.asarray(values["r_A"], dtype=float)
    factor = max(1, round(values["barrier_bin_A"] / (fine[1] - fine[0])))
    kt = units.kB * temperature_K * EV_TO_KJ_PER_MOL
    fig, ax = plt.subplots()
    notebook = sum(np.asarray(g["counts_notebook"], float) for g in values["glasses"])
    for counts, label, colour in ((notebook, "notebook 04's 300 K runs", "0.6"),
                                  (np.asarray(values["counts_pooled"], float),
                                   f"with the continued runs ({values['pooled_ps']:.3g} ps in all)",
                                   PALETTE["glass"])):
        r, counts = coarser(fine, counts, factor)
        g = np.where(counts > 0, counts / r**2, np.nan)
        peak = np.nanmax(np.where(r < 2.5, g, np.nan))
        ax.plot(r, -kt * np.log(g / peak), "o-", ms=3, lw=1, color=colour, label=label)
    b = values["pooled"]
    if b["resolved"]:
        ax.errorbar([b["r_empty_A"]], [b["lower_bound"]], yerr=[b["err_kJ_mol"]], fmt="s",
                    color=PALETTE["glass"], capsize=3, label=f"barrier {b['lower_bound']:.1f} kJ/mol")
    else:
        ax.plot([b["r_empty_A"]], [b["lower_bound"]], "^", color=PALETTE["glass"], ms=8,
                label=f"bound: ≥ {b['lower_bound']:.1f} kJ/mol (empty bin)")
    ax.axhline(paper.value("barrier_ZnN_mlp_glass"), ls=":", color="k", label="paper ≈ 26 kJ/mol")
    ax.set(xlabel="r (Å)", ylabel="Zn–N PMF (kJ/mol)", xlim=(1.7, 3.6), ylim=(-1, 35))
    ax.legend(fontsize=8)
    return fig
