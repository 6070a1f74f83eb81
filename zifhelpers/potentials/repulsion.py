"""A core-repulsion prior for the students: ZBL switched off before bonding distances.

A small student trained on near-equilibrium frames has never seen two atoms at
0.3–0.6 Å and is free to make that region attractive; hot MD then collapses
pairs of atoms (what the distilled student of ``tools/distil_student.py`` did
at 1500 K). nequip's :class:`~nequip.nn.pair_potential.ZBL` adds the universal
screened-Coulomb repulsion of Ziegler, Biersack and Littmark (*The Stopping and
Range of Ions in Solids*, Pergamon, 1985) but keeps it on up to ``r_max``: at a
Zn–N bond (2.0 Å) it is about 8 eV and 16 eV/Å, which the network would have
to learn to cancel. :class:`SwitchedZBL` keeps the ZBL form and switches it
off between an inner and an outer distance per pair of elements, as LAMMPS'
``pair_style zbl inner outer`` does, so it is exactly zero wherever training
data lie and only acts where the data say nothing.

The switch distances are fractions of the sum of the two covalent radii
(B. Cordero et al., Dalton Trans. 2008, 2832, as tabulated in ASE): by default
full ZBL below 0.5 (R_i + R_j) and none above 0.75 (R_i + R_j), e.g. C–H
0.54–0.80 Å (bond 1.09 Å), N–Zn 0.97–1.45 Å (bond 2.0 Å), C–N 0.74–1.10 Å
(bond 1.34 Å). :func:`switch_distances` gives the table;
:func:`shortest_distances` checks a data set against it.

Used through :class:`zifhelpers.training.spec.TrainingSpec` (``core_repulsion=True``),
which puts it in the model config as nequip's ``pair_potential``; the module
compiles with the rest of the model (TorchScript or AOT Inductor).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from ase.data import atomic_numbers, covalent_radii
from e3nn.util.jit import compile_mode
from nequip.data import AtomicDataDict
from nequip.nn.pair_potential import ZBL
from nequip.nn.utils import scatter, with_edge_vectors_

__all__ = ["SwitchedZBL", "switch_distances", "shortest_distances", "smoothstep", "touches_wall",
           "zbl_energy"]

#: (inner, outer) switch distances as fractions of the covalent-radii sum.
DEFAULT_FRACTIONS = (0.5, 0.75)
#: e^2 / (4 pi eps0) in eV Å (LAMMPS metal units).
_QQR2E_EV_A = 14.399645


def zbl_energy(r_A: torch.Tensor, Zi: torch.Tensor, Zj: torch.Tensor) -> torch.Tensor:
    """Universal ZBL pair energy (eV) of atoms Zi, Zj at distance ``r_A`` (Å).

    Same constants as LAMMPS ``pair_style zbl`` and nequip's ZBL term.
    """
    a = 0.46850 / (Zi**0.23 + Zj**0.23)
    x = r_A / a
    psi = (0.02817 * torch.exp(-0.20162 * x) + 0.28022 * torch.exp(-0.40290 * x)
           + 0.50986 * torch.exp(-0.94229 * x) + 0.18175 * torch.exp(-3.19980 * x))
    return _QQR2E_EV_A * Zi * Zj / r_A * psi


def smoothstep(r: torch.Tensor, r_inner: torch.Tensor, r_outer: torch.Tensor) -> torch.Tensor:
    """1 below ``r_inner``, 0 above ``r_outer``, quintic in between (C2 at both ends)."""
    x = torch.clamp((r - r_inner) / (r_outer - r_inner), 0.0, 1.0)
    return 1.0 - x * x * x * (10.0 - 15.0 * x + 6.0 * x * x)


def switch_distances(chemical_species: Sequence[str],
                     fractions: Sequence[float] = DEFAULT_FRACTIONS) -> tuple[np.ndarray, np.ndarray]:
    """Inner and outer switch distances (Å), ``(n_types, n_types)`` each.

    ``fractions``: (inner, outer) as fractions of R_i + R_j (ASE covalent radii).
    """
    fractions = tuple(fractions)
    if len(fractions) != 2:
        raise ValueError(f"core-repulsion fractions must be (inner, outer), got {fractions!r}")
    if not chemical_species:
        raise ValueError("core repulsion needs at least one chemical species")
    inner, outer = (float(f) for f in fractions)
    if not 0.0 < inner < outer:
        raise ValueError(f"core-repulsion fractions must satisfy 0 < inner < outer, got {fractions!r}")
    unknown = [s for s in chemical_species if s not in atomic_numbers]
    if unknown:
        raise ValueError(f"core repulsion needs chemical symbols, got {unknown!r}")
    radii = np.array([covalent_radii[atomic_numbers[s]] for s in chemical_species])
    pair = radii[:, None] + radii[None, :]
    return inner * pair, outer * pair


def _pairs_within(atoms, cutoff_A: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pair closer than ``cutoff_A`` once (vesin half list, periodic images included)."""
    from ..analysis.neighbors import neighbor_list

    return neighbor_list(atoms, cutoff_A, "ijd", full_list=False)


def shortest_distances(frames, cutoff_A: float = 2.5) -> dict[tuple[str, str], float]:
    """Shortest distance (Å) of each pair of elements over ``frames`` (ASE ``Atoms``).

    Keys are element pairs in order of atomic number, e.g. ``("H", "C")``; pairs
    with no distance below ``cutoff_A`` are left out.
    """
    from ase.data import chemical_symbols

    best: dict[tuple[str, str], float] = {}
    for atoms in frames:
        i, j, d = _pairs_within(atoms, cutoff_A)
        z = atoms.numbers
        lo, hi = np.minimum(z[i], z[j]), np.maximum(z[i], z[j])
        codes = lo * 1000 + hi
        for code in np.unique(codes):
            key = (chemical_symbols[code // 1000], chemical_symbols[code % 1000])
            best[key] = min(best.get(key, np.inf), float(d[codes == code].min()))
    return best


def touches_wall(frames, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> np.ndarray:
    """Which frames have a pair of atoms closer than the wall's outer switch distance.

    On such a frame a model with :class:`SwitchedZBL` predicts the network's
    energy plus a non-zero ZBL term, so a label made without the wall (the
    published model's, DFT's) would teach the network to cancel it. Hot MD of
    a student can reach them (an H swung onto the ring N next to its C, at
    0.73 Å); leave them out of training sets. Returns a boolean array, one
    entry per frame.
    """
    frames = list(frames)
    species = sorted({s for atoms in frames for s in atoms.get_chemical_symbols()})
    _, outer = switch_distances(species, fractions)
    reach = float(outer.max()) if species else 0.0
    index = {s: k for k, s in enumerate(species)}
    out = np.zeros(len(frames), dtype=bool)
    for n, atoms in enumerate(frames):
        i, j, d = _pairs_within(atoms, reach)
        types = np.array([index[s] for s in atoms.get_chemical_symbols()])
        out[n] = bool(np.any(d < outer[types[i], types[j]]))
    return out


@compile_mode("script")
class SwitchedZBL(ZBL):
    """nequip ZBL term with a per-pair switch: full below r_inner, zero above r_outer.

    Parameters
    ----------
    type_names, chemical_species : list of str
        Model type names and their chemical symbols (same order).
    units : str
        ``"metal"`` (eV, Å), the units of this project's data.
    fractions : (float, float)
        Inner and outer switch distances as fractions of the covalent-radii sum.
    """

    def __init__(self, type_names: list[str], chemical_species: list[str], units: str = "metal",
                 fractions: Sequence[float] = DEFAULT_FRACTIONS,
                 per_atom_energy_field: str = AtomicDataDict.PER_ATOM_ENERGY_KEY, irreps_in=None):
        if units != "metal":
            raise ValueError(f"SwitchedZBL: units must be 'metal' (eV, Å), got {units!r}")
        # The parent declares normed edge lengths as required for its own cutoff;
        # this forward uses absolute lengths, so the module also works without them.
        irreps_in = dict(irreps_in or {})
        irreps_in.setdefault(AtomicDataDict.NORM_LENGTH_KEY, "0e")
        super().__init__(type_names=list(type_names), chemical_species=list(chemical_species),
                         units=units, per_atom_energy_field=per_atom_energy_field, irreps_in=irreps_in)
        inner, outer = switch_distances(chemical_species, fractions)
        dtype = torch.get_default_dtype()
        self.register_buffer("r_inner", torch.as_tensor(inner, dtype=dtype))
        self.register_buffer("r_outer", torch.as_tensor(outer, dtype=dtype))

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        """Add the switched ZBL energy of every edge (half to each end) to the per-atom energy."""
        data = with_edge_vectors_(data, with_lengths=True)
        edge_index = data[AtomicDataDict.EDGE_INDEX_KEY]
        edge_center = edge_index[0]
        if self.per_atom_energy_field in data:
            num_nodes = data[self.per_atom_energy_field].size(0)
        else:
            num_nodes = AtomicDataDict.num_nodes(data)
        types = data[AtomicDataDict.ATOM_TYPE_KEY].view(-1)
        ti = torch.index_select(types, 0, edge_index[0])
        tj = torch.index_select(types, 0, edge_index[1])
        r = data[AtomicDataDict.EDGE_LENGTH_KEY].view(-1)
        n = self.r_inner.shape[0]
        r_in = torch.index_select(self.r_inner.view(-1), 0, ti * n + tj).to(r.dtype)
        r_out = torch.index_select(self.r_outer.view(-1), 0, ti * n + tj).to(r.dtype)
        # Evaluate ZBL only where the switch is on; elsewhere a safe distance gives exact zeros.
        on = r < r_out
        r_safe = torch.where(on, r, r_out)
        eng = self._zbl(Z=self.atomic_numbers, r=r_safe, atom_types=types, edge_index=edge_index,
                        qqr2exesquare=self._qqr2exesquare)
        eng = torch.where(on, eng * smoothstep(r_safe, r_in, r_out), torch.zeros_like(eng))
        atomic_eng = scatter(eng.unsqueeze(-1).to(self.model_dtype), edge_center, dim=0,
                             dim_size=num_nodes)
        if self.per_atom_energy_field in data:
            atomic_eng = atomic_eng + data[self.per_atom_energy_field]
        data[self.per_atom_energy_field] = atomic_eng
        return data
