"""3-D views for JupyterLab (nglview): trajectories and Zn coordination.

The views are widgets: they draw in JupyterLab or Notebook 7 (checked in a real
browser by ``tests/test_browser.py``) and stay empty in a headless papermill run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from ..analysis.structure import coordination

__all__ = ["ZN_CN_COLORS", "zn_by_coordination", "show_zn_coordination", "show_trajectory"]

#: Colour of a Zn by its Zn–N coordination number (4: the crystal's tetrahedra).
ZN_CN_COLORS = {2: "purple", 3: "red", 4: "grey", 5: "orange"}


def zn_by_coordination(atoms: Atoms, cutoff: float = 2.5) -> dict[int, list[int]]:
    """Indices of the Zn atoms grouped by Zn–N coordination number (cutoff in Å)."""
    zn = np.flatnonzero(atoms.numbers == 30)
    if not len(zn):
        raise ValueError(f"{atoms.get_chemical_formula()}: no Zn to colour by coordination")
    cn = coordination(atoms, "Zn", "N", cutoff)
    groups: dict[int, list[int]] = {}
    for index, n in zip(zn, cn, strict=True):
        groups.setdefault(int(n), []).append(int(index))
    return dict(sorted(groups.items()))


def show_zn_coordination(atoms: Atoms, cutoff: float = 2.5):
    """An nglview view of ``atoms`` with each Zn coloured by its coordination.

    The framework is drawn as thin licorice; Zn as spheres coloured by
    :data:`ZN_CN_COLORS` (red: 3-coordinated, grey: 4). Returns the widget.
    """
    import nglview

    groups = zn_by_coordination(atoms, cutoff)
    view = nglview.show_ase(atoms, default=False)
    view.add_licorice(selection="not _Zn", radius=0.15)
    for n, indices in groups.items():
        view.add_spacefill(selection=[int(i) for i in indices], radiusScale=0.6,
                           color=ZN_CN_COLORS.get(n, "black"))
    view.add_unitcell()
    return view


def show_trajectory(frames: Sequence[Atoms]):
    """A playable nglview view of MD frames (e.g. a melt-quench); returns the widget."""
    import nglview

    frames = list(frames)
    if not frames:
        raise ValueError("show_trajectory: no frames given")
    n = len(frames[0])
    bad = [k for k, f in enumerate(frames) if len(f) != n]
    if bad:
        raise ValueError(f"show_trajectory: frame {bad[0]} has {len(frames[bad[0]])} atoms, "
                         f"the first has {n}")
    view = nglview.show_asetraj(frames)
    view.add_unitcell()
    return view
