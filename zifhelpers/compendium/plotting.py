"""One figure style for the whole compendium, and saving to PNG + PDF."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib as mpl

__all__ = ["use_style", "savefig", "PALETTE"]

#: Colours by role, used by every notebook.
PALETTE = {
    "crystal": "#1b6ca8",
    "glass": "#d1495b",
    "liquid": "#edae49",
    "reference": "#222222",
    "model": "#00798c",
    "experiment": "#66a182",
    "reaxff": "#8d6a9f",
}


def use_style() -> None:
    """Apply the compendium's matplotlib style (seaborn ticks, 300 dpi saves)."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="ticks", palette=list(PALETTE.values()))
    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 4.2),
            "figure.dpi": 100,
            "savefig.dpi": 300,
            "savefig.bbox": "tight",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "pdf.fonttype": 42,
        }
    )


def savefig(fig, name: str, folder: str | os.PathLike = "figures") -> list[Path]:
    """Save ``fig`` as ``folder/name.png`` and ``folder/name.pdf``.

    Returns the two paths. ``folder`` is created if needed.
    """
    if not isinstance(name, str) or not name.strip() or "/" in name or "\\" in name:
        raise ValueError(f"savefig: name must be a file stem such as '05_pressure_volume', got {name!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.{ext}" for ext in ("png", "pdf")]
    for path in paths:
        fig.savefig(path)
    return paths
