"""ASE calculators for every potential the notebooks use.

The paper's production model (``nequip_l2r6stress0.pth``) was deployed with
nequip 0.5.6 as a TorchScript file. nequip 0.19 cannot load such files, so
:class:`LegacyNequIPCalculator` drives the TorchScript module directly: it
builds the periodic neighbour list with vesin and feeds the model the inputs
nequip 0.5.x expects (``pos``, ``edge_index``, ``edge_cell_shift``, ``cell``,
``atom_types``).

Use :func:`zifhelpers.potentials.registry.load_calculator` rather than the classes: it accepts ``"published"``
or a path to a model file.

Reference: S. Batzner et al., "E(3)-equivariant graph neural networks for
data-efficient and accurate interatomic potentials", Nat. Commun. 13, 2453
(2022); N. Castel et al., Digital Discovery 3, 355 (2024).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import (
    Calculator,
    PropertyNotImplementedError,
    all_changes,
)
from ase.stress import full_3x3_to_voigt_6_stress

from ..analysis.neighbors import (
    neighbor_list,  # re-exported: zifhelpers.potentials.calculators.neighbor_list
)

__all__ = [
    "LegacyNequIPCalculator",
    "read_legacy_metadata",
    "neighbor_list",
    "default_device",
    "single_points",
    "compiled_calculator",
]

EV_PER_A3_TO_GPA = 160.21766208

_LEGACY_KEYS = ("r_max", "type_names", "n_species", "nequip_version", "model_dtype")


def default_device() -> str:
    """``"cuda"`` when a GPU is visible to torch, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _jit_load(path, **kwargs):
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript loading
        warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated")
        return torch.jit.load(str(path), **kwargs)


def read_legacy_metadata(path: str | os.PathLike) -> dict[str, str]:
    """Read the ``_extra_files`` metadata of a deployed TorchScript model.

    Returns a dict with ``r_max``, ``type_names``, ``n_species``,
    ``nequip_version`` and ``model_dtype`` (empty strings when absent).

    Raises
    ------
    ValueError
        The file is not a TorchScript archive.
    """
    extra = {key: "" for key in _LEGACY_KEYS}
    try:
        _jit_load(path, _extra_files=extra, map_location="cpu")
    except (RuntimeError, ValueError) as err:
        raise ValueError(
            f"{path} is not a deployed TorchScript model "
            f"(torch.jit.load failed: {str(err).splitlines()[0]})"
        ) from err
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in extra.items()}


class LegacyNequIPCalculator(Calculator):
    """ASE calculator for a nequip 0.5.x deployed (TorchScript) model.

    Parameters
    ----------
    model_path : path-like
        Deployed model file (e.g. ``nequip_l2r6stress0.pth``).
    device : str, optional
        ``"cuda"`` or ``"cpu"``; default: CUDA when available.
    dtype : {"float32", "float64"}
        Precision of the evaluation. The model was trained in float32; float64
        casts its weights and is useful for finite-difference checks.
    num_threads : int, optional
        Sets ``torch.set_num_threads`` (process-wide) when given.

    Notes
    -----
    Energies in eV, forces in eV/Å, stress in eV/Å³ with ASE's sign
    convention (positive = tensile; ``stress = (1/V) ∂E/∂ε``), Voigt order
    xx, yy, zz, yz, xz, xy. ``energies`` are the per-atom energies whose sum
    is the total energy.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(
        self,
        model_path: str | os.PathLike,
        device: str | None = None,
        dtype: str = "float32",
        num_threads: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self.model_path = Path(model_path)
        meta = read_legacy_metadata(self.model_path)
        version = meta["nequip_version"]
        if not version.startswith(("0.5", "0.6")):
            raise ValueError(
                f"{self.model_path}: nequip_version={version or '(missing)'} in the "
                "file's metadata; LegacyNequIPCalculator reads models deployed by "
                "nequip 0.5.x/0.6.x. Models of nequip >= 0.7 go through "
                "nequip.integrations.ase.NequIPCalculator (load_calculator does this)."
            )
        if not meta["r_max"] or not meta["type_names"]:
            raise ValueError(
                f"{self.model_path}: the metadata lacks r_max or type_names "
                f"(found r_max={meta['r_max']!r}, type_names={meta['type_names']!r})"
            )
        self.metadata = meta
        self.r_max = float(meta["r_max"])
        self.type_names = meta["type_names"].split()
        self.device = torch.device(device or default_device())
        self.dtype = torch.float64 if dtype == "float64" else torch.float32
        if num_threads:
            torch.set_num_threads(int(num_threads))
        model = _jit_load(self.model_path, map_location=self.device)
        model.eval()
        self.model = model.to(self.dtype)
        self._type_index = {name: k for k, name in enumerate(self.type_names)}

    def _atom_types(self, atoms: Atoms) -> torch.Tensor:
        symbols = atoms.get_chemical_symbols()
        unknown = sorted(set(symbols) - set(self._type_index))
        if unknown:
            first = [k for k, s in enumerate(symbols) if s in unknown][:5]
            raise ValueError(
                f"the model {self.model_path.name} knows the elements "
                f"{', '.join(self.type_names)}; the structure has "
                f"{', '.join(unknown)} (first at atom indices {first})"
            )
        types = np.fromiter((self._type_index[s] for s in symbols), dtype=np.int64)
        return torch.from_numpy(types).unsqueeze(-1).to(self.device)

    def build_input(self, atoms: Atoms) -> dict[str, torch.Tensor]:
        """The model's input dictionary for ``atoms`` (nequip 0.5 keys)."""
        i, j, shifts = neighbor_list(atoms, self.r_max)
        cell = atoms.cell.array if atoms.pbc.all() else np.zeros((3, 3))

        def tensor(x, dtype=self.dtype):
            return torch.as_tensor(np.ascontiguousarray(x), dtype=dtype).to(
                self.device
            )

        return {
            "pos": tensor(atoms.positions),
            "edge_index": tensor(np.stack([i, j]), torch.long),
            "edge_cell_shift": tensor(shifts),
            "cell": tensor(cell).unsqueeze(0),
            "atom_types": self._atom_types(atoms),
        }

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        properties = properties or ["energy"]
        super().calculate(atoms, properties, system_changes)
        periodic = bool(self.atoms.pbc.all())
        if "stress" in properties and not periodic:
            raise PropertyNotImplementedError(
                "stress is only defined for a fully periodic system"
            )
        out = self.model(self.build_input(self.atoms))
        energy = float(out["total_energy"].detach().reshape(()).item())
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": out["atomic_energy"].detach().reshape(-1).double().cpu().numpy(),
            "forces": out["forces"].detach().double().cpu().numpy(),
        }
        if periodic:
            stress = out["stress"].detach().reshape(3, 3).double().cpu().numpy()
            self.results["stress"] = full_3x3_to_voigt_6_stress(stress)




def single_points(
    calc: Calculator, structures: dict[str, Atoms], progress: bool = True
) -> pandas.DataFrame:  # noqa: F821
    """Energy per atom (eV), max force (eV/Å) and pressure (GPa) of each structure.

    Parameters
    ----------
    calc : ase Calculator
    structures : dict
        Name -> Atoms (periodic).

    Returns
    -------
    pandas.DataFrame
        Indexed by name, columns ``n_atoms``, ``energy_eV``,
        ``energy_per_atom_eV``, ``max_force_eV_A``, ``pressure_GPa``,
        ``seconds``.
    """
    import time

    import pandas as pd
    from tqdm.auto import tqdm

    rows = {}
    for name, atoms in tqdm(structures.items(), desc="single points", disable=not progress):
        atoms = atoms.copy()
        atoms.calc = calc
        start = time.perf_counter()
        energy = atoms.get_potential_energy()
        forces = atoms.get_forces()
        stress = atoms.get_stress(voigt=True)
        rows[name] = {
            "n_atoms": len(atoms),
            "energy_eV": energy,
            "energy_per_atom_eV": energy / len(atoms),
            "max_force_eV_A": float(np.linalg.norm(forces, axis=1).max()),
            "pressure_GPa": float(-stress[:3].mean() * EV_PER_A3_TO_GPA),
            "seconds": time.perf_counter() - start,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def compiled_calculator(path: str | os.PathLike, device: str | None = None, **kwargs) -> Calculator:
    """ASE calculator of a nequip >= 0.7 compiled model (``.nequip.pt2`` or ``.nequip.pth``).

    This project's models name their atom types by element (H, C, N, Zn), so
    types are mapped from chemical symbols unless ``kwargs`` says otherwise.
    """
    from nequip.integrations.ase import NequIPCalculator

    kwargs.setdefault("chemical_species_to_atom_type_map", True)
    return NequIPCalculator.from_compiled_model(str(path), device=device or default_device(),
                                                **kwargs)
