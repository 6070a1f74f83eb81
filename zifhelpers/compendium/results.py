"""Results JSON written by every notebook, and the side-by-side table."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "write_results",
    "read_results",
    "comparison_table",
    "environment_info",
    "aggregate",
    "campaign_summary",
]


def environment_info() -> dict[str, str]:
    """Versions and device, stored with every result."""
    import ase
    import numpy
    import torch

    device = "cpu"
    if torch.cuda.is_available():
        device = f"cuda:{torch.cuda.get_device_name(0)}"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "ase": ase.__version__,
        "numpy": numpy.__version__,
        "device": device,
        "host_cpus": str(os.cpu_count()),
    }


def _clean(value: Any) -> Any:
    """Make numpy scalars/arrays and NaN JSON-safe."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_results(
    notebook: str,
    profile: str,
    values: dict[str, Any],
    results_dir: str | os.PathLike,
    paper: dict[str, Any] | None = None,
    notes: dict[str, str] | None = None,
) -> Path:
    """Write ``results_dir/<notebook>.json`` and return its path.

    Parameters
    ----------
    notebook : str
        The notebook's file stem, e.g. ``"00_data_and_models"``.
    profile : str
        The profile that produced the numbers.
    values : dict
        Our numbers (keys carry units, e.g. ``"cn_Zn_N_glass_mean"``).
    paper : dict, optional
        The paper's values for the same keys, where the paper gives one.
    notes : dict, optional
        A sentence per key of :data:`zifhelpers.data.paper.VALUES` (e.g. the
        measured cause of a miss); the reproduction report prints it beside
        the rows that come from this file.
    """
    from .profiles import check_profile

    check_profile(profile)
    if not notebook or "/" in notebook or "\\" in notebook:
        raise ValueError(f"write_results: notebook must be a file stem like '05_mechanics', got {notebook!r}")
    path = Path(results_dir) / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "notebook": notebook,
        "profile": profile,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "environment": environment_info(),
        "values": _clean(values),
        "paper": _clean(paper or {}),
    }
    if notes:
        bad = {k: v for k, v in notes.items() if not (isinstance(k, str) and isinstance(v, str))}
        if bad:
            raise ValueError(f"write_results: notes must map keys to sentences (str -> str), got {bad!r}")
        record["notes"] = dict(notes)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def read_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a results JSON written by :func:`write_results`."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    for key in ("notebook", "profile", "values"):
        if key not in record:
            raise ValueError(f"{path}: results JSON lacks the field {key!r}")
    return record


def comparison_table(rows: list[tuple[str, float, float | None, str]]) -> pd.DataFrame:
    """Side-by-side table: quantity, ours, paper, unit, and the relative difference.

    ``rows`` holds ``(quantity, ours, paper, unit)``; ``ours`` (not measured by
    this profile) and ``paper`` may be None.
    """
    frame = pd.DataFrame(rows, columns=["quantity", "this work", "paper", "unit"])
    ours = pd.to_numeric(frame["this work"], errors="coerce")
    paper = pd.to_numeric(frame["paper"], errors="coerce")
    frame["difference (%)"] = (100 * (ours - paper) / paper).round(1)
    return frame.set_index("quantity")


def aggregate(paths, keys: list[str] | None = None) -> pd.DataFrame:
    """Mean, standard deviation and count of numeric values over several results JSONs.

    For campaigns: the same notebook run with different seeds (papermill
    ``-p seed=N``) writes one results JSON each; this averages them. ``keys``
    defaults to every numeric value present in all files.
    """
    records = [read_results(p) for p in paths]
    if not records:
        raise ValueError("no results files to aggregate")
    numeric = [
        {k: v for k, v in r["values"].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        for r in records
    ]
    keys = keys or sorted(set.intersection(*(set(n) for n in numeric)))
    frame = pd.DataFrame([{k: n.get(k) for k in keys} for n in numeric], dtype=float)
    return pd.DataFrame({"mean": frame.mean(), "sd": frame.std(ddof=1), "n": frame.count()})


def campaign_summary(paths, keys: list[str]) -> dict[str, dict[str, Any]]:
    """Mean, standard deviation, standard error and values of ``keys`` over runs.

    For the glasses of a campaign (one results JSON per seed). A value that is
    missing, None or infinite in a run (e.g. a free-energy barrier that a short
    run did not resolve) is left out of that key's statistics; ``n`` says how
    many runs counted.

    Returns
    -------
    dict
        ``{key: {"mean", "sd", "sem", "n", "values"}}`` (sd and sem are None
        for fewer than two values).
    """
    records = [read_results(p) for p in paths]
    if not records:
        raise ValueError("campaign_summary: no results files given")
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        values = [r["values"].get(key) for r in records]
        finite = [float(v) for v in values if isinstance(v, (int, float))
                  and not isinstance(v, bool) and math.isfinite(v)]
        n = len(finite)
        mean = sum(finite) / n if n else None
        sd = (math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1 else None)
        out[key] = {"mean": mean, "sd": sd, "sem": sd / math.sqrt(n) if sd is not None else None,
                    "n": n, "values": values}
    return out
