"""Score trained models: errors against labelled frames, the Table 1 screen, the
students' targets.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.paper import TABLE1
from ..potentials.compile import compile_model
from .run import learning_curve, train
from .spec import TrainingSpec

__all__ = ["evaluate", "screen", "table1", "PAPER_TABLE1", "STUDENT_TARGETS", "student_targets"]


def evaluate(calc, frames) -> dict[str, float]:
    """Errors of ``calc`` against labelled frames.

    Returns energy MAE (meV/atom), force MAE (meV/Å) and stress MAE (MPa),
    plus their RMSEs.
    """
    frames = list(frames)
    if not frames:
        raise ValueError("evaluate: no frames given")
    de, df, ds = [], [], []
    for k, frame in enumerate(frames):
        ref = frame.calc.results if frame.calc is not None else {}
        missing = [key for key in ("energy", "forces") if key not in ref]
        if missing:
            raise ValueError(f"evaluate: frame {k} ({frame.get_chemical_formula()}) has no reference "
                             f"{' or '.join(missing)} (labelled frames are needed, e.g. from "
                             "zifhelpers.data.datasets.read_dataset)")
        work = frame.copy()
        work.calc = calc
        de.append((work.get_potential_energy() - ref["energy"]) / len(frame))
        df.append((work.get_forces() - ref["forces"]).ravel())
        if "stress" in ref:
            ds.append(work.get_stress(voigt=True) - ref["stress"])
    de, df = np.array(de) * 1000, np.concatenate(df) * 1000
    out = {"energy_mae_meV_atom": float(np.abs(de).mean()),
           "energy_rmse_meV_atom": float(np.sqrt((de**2).mean())),
           "force_mae_meV_A": float(np.abs(df).mean()),
           "force_rmse_meV_A": float(np.sqrt((df**2).mean()))}
    if ds:
        ds = np.concatenate(ds) * 160.21766208e3  # eV/A^3 -> MPa
        out["stress_mae_MPa"] = float(np.abs(ds).mean())
        out["stress_rmse_MPa"] = float(np.sqrt((ds**2).mean()))
    return out


#: Table 1 of Castel et al. (2024): errors against held-out AIMD and V100 cost
#: (kept in :mod:`zifhelpers.data.paper`).
PAPER_TABLE1 = TABLE1


def screen(variants: dict[str, dict], base: TrainingSpec, workdir: str | os.PathLike,
           test_frames, timing_atoms, progress: bool = True):
    """Train, compile, evaluate and time one model per variant (Table 1 style).

    ``variants`` maps a label (e.g. ``"l=2, r=5"``) to :class:`TrainingSpec`
    overrides (``{"l_max": 2, "r_max": 5.0}``; ``train_file`` to change the
    data, ``model="allegro"``). Each variant trains in ``workdir/<slug>``
    and resumes there; a compiled model already present is reused. Returns a
    DataFrame: energy (meV/atom), force (meV/Å), stress (MPa) MAE against
    ``test_frames`` and µs/atom/call on ``timing_atoms`` (this machine).
    """
    import dataclasses
    import re

    import pandas as pd
    from tqdm.auto import tqdm

    from ..potentials.registry import load_calculator
    from ..potentials.timing import time_per_atom_call

    rows = {}
    for label, overrides in tqdm(variants.items(), desc="screen", disable=not progress):
        slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
        spec = dataclasses.replace(base, **overrides)
        folder = Path(workdir) / slug
        best = train(spec, folder)
        model = folder / f"{slug}.nequip.pt2"
        if not model.is_file():
            compile_model(best, model)
        calc = load_calculator(str(model), device="cpu")
        errors = evaluate(calc, test_frames)
        rows[label] = {"energy_mae_meV_atom": errors["energy_mae_meV_atom"],
                       "force_mae_meV_A": errors["force_mae_meV_A"],
                       "stress_mae_MPa": errors["stress_mae_MPa"],
                       "us_per_atom_call": time_per_atom_call(calc, timing_atoms),
                       "epochs": len(learning_curve(folder)), "model_path": str(model)}
    return pd.DataFrame(rows).T


def table1(ours, paper: dict | None = None):
    """Our screen beside the paper's Table 1 (columns: ours / paper per metric)."""
    import pandas as pd

    paper = PAPER_TABLE1 if paper is None else paper
    if not hasattr(ours, "index") or not hasattr(ours, "columns"):
        raise TypeError(f"table1: ours must be a DataFrame (one row per model, from screen()), "
                        f"got {type(ours).__name__}")
    cols = ["energy_mae_meV_atom", "force_mae_meV_A", "stress_mae_MPa", "us_per_atom_call"]
    labels = list(dict.fromkeys(list(ours.index) + list(paper)))
    missing = [c for c in cols if c not in ours.columns and len(ours)]
    if missing:
        raise KeyError(f"table1: our screen has no columns {missing}; it has {list(ours.columns)}")
    out = {}
    for col in cols:
        out[(col, "this work")] = [ours[col].get(k) if k in ours.index else None for k in labels]
        out[(col, "paper")] = [paper.get(k, {}).get(col) for k in labels]
    return pd.DataFrame(out, index=labels)


#: What a fast CPU student has to reach (issue targets), against the published model.
STUDENT_TARGETS = {"speed-up over the published TorchScript model (×)": (">=", 50.0),
                   "force MAE, held-out liquid (meV/Å)": ("<=", 40.0),
                   "force MAE, held-out glass (meV/Å)": ("<=", 40.0),
                   "NVT at 1500 K without a broken linker (ps)": (">=", 10.0)}


def student_targets(benchmark: dict):
    """A student's benchmark (``benchmarks/bench_student.py`` JSON) against :data:`STUDENT_TARGETS`.

    Returns a DataFrame with the measured value, the target and whether it is
    met. A held-out group the benchmark did not have gives NaN (not met); the
    NVT target is met only by a run that finished with every linker intact.
    """
    import pandas as pd

    missing = [k for k in ("speedup_vs_published_legacy", "held_out_errors", "nvt_stability")
               if k not in benchmark]
    if missing:
        raise ValueError(f"not a benchmarks/bench_student.py result: no {', '.join(missing)} "
                         f"(found keys: {', '.join(sorted(benchmark)) or 'none'})")
    errors = benchmark["held_out_errors"]
    nvt = benchmark["nvt_stability"]
    measured = [benchmark["speedup_vs_published_legacy"],
                errors.get("liquid", {}).get("force_mae_meV_A", float("nan")),
                errors.get("glass", {}).get("force_mae_meV_A", float("nan")),
                nvt["reached_ps"]]
    rows = []
    for (name, (sense, target)), value in zip(STUDENT_TARGETS.items(), measured, strict=True):
        met = value >= target if sense == ">=" else value <= target
        rows.append({"quantity": name, "this work": value, "target": f"{sense} {target:g}",
                     "met": bool(met)})
    rows[-1]["met"] = bool(rows[-1]["met"] and nvt["finished"]
                           and nvt["broken_linkers_at_end"] == 0)
    return pd.DataFrame(rows).set_index("quantity")
