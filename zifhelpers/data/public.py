"""Checksummed access to the public data the compendium uses.

Every file comes from the Coudert group's ``fxcoudert/citable-data`` repository
(CC BY 4.0), pinned to one commit. A file is looked up in this order:

1. a local mirror folder named by the environment variable
   ``ZIFHELPERS_DATA_MIRROR`` (laid out as the project's ``../shared/data``);
   CI points it there, and offline users point it at their own copy;
2. otherwise the pinned public URL, downloaded once with :mod:`pooch` into a
   user cache (``ZIFHELPERS_CACHE`` overrides its location).

Either way the SHA-256 of the file is checked against the registry shipped with
the package (``zifhelpers/data/registry.tsv``) before anything reads it.

Entry points: :func:`fetch`, :func:`load_structure`, :func:`load_xray`,
:func:`published_model_path`.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
from ase import Atoms

__all__ = [
    "MIRROR_ENV",
    "CACHE_ENV",
    "BASE_URL",
    "DataFileError",
    "ChecksumMismatchError",
    "RegistryEntry",
    "registry",
    "public_url",
    "fetch",
    "fetch_all",
    "sha256sum",
    "structure_names",
    "load_structure",
    "xray_temperatures",
    "load_xray",
    "published_model_path",
    "CITATIONS",
]

MIRROR_ENV = "ZIFHELPERS_DATA_MIRROR"
CACHE_ENV = "ZIFHELPERS_CACHE"
COMMIT = "86fa8c27af2d60e4e79b572fe6da62b2ae51b125"
BASE_URL = f"https://raw.githubusercontent.com/fxcoudert/citable-data/{COMMIT}/"

#: Source paper of each mirrored folder (all data CC BY 4.0).
CITATIONS = {
    "castel2024_mlp": "N. Castel, D. André, C. Edwards, J. D. Evans and F.-X. Coudert, "
    "Digital Discovery 2024, 3, 355, doi:10.1039/D3DD00236E",
    "gaillac2020_abinitio_glasses": "R. Gaillac, P. Pullumbi, T. D. Bennett and "
    "F.-X. Coudert, Chem. Mater. 2020, 32, 8004, doi:10.1021/acs.chemmater.0c02950",
    "crystal/ZIF-4_Lewis2009.cif": "D. W. Lewis et al., CrystEngComm 2009, 11, 2272, "
    "doi:10.1039/b912997a",
    "crystal/Widmer2019": "R. N. Widmer et al., J. Am. Chem. Soc. 2019, 141, 9330, "
    "doi:10.1021/jacs.9b03234",
    "gaillac2017_xray": "R. Gaillac et al., Nature Mater. 2017, 16, 1149, "
    "doi:10.1038/nmat4998",
    "castel2023_mechanics": "N. Castel and F.-X. Coudert, Chem. Mater. 2023, 35, 4038, "
    "doi:10.1021/acs.chemmater.3c00392",
    "castel2022_reaxff": "N. Castel and F.-X. Coudert, J. Phys. Chem. C 2022, 126, "
    "19532, doi:10.1021/acs.jpcc.2c06305",
    "cp2k": "R. Gaillac et al., J. Phys. Chem. C 2018, 122, 6730",
}


class DataFileError(RuntimeError):
    """A data file could not be found or read."""


class ChecksumMismatchError(DataFileError):
    """A data file's SHA-256 differs from the pinned one."""


@dataclass(frozen=True)
class RegistryEntry:
    """One mirrored file.

    Attributes
    ----------
    name : str
        Path relative to the mirror root, e.g. ``"castel2024_mlp/crystal.lmp"``.
    source_path : str
        Path inside ``fxcoudert/citable-data`` at the pinned commit.
    sha256 : str
        Expected SHA-256 hex digest.
    """

    name: str
    source_path: str
    sha256: str

    @property
    def url(self) -> str:
        return BASE_URL + quote(self.source_path)

    @property
    def citation(self) -> str:
        for key, cite in CITATIONS.items():
            if self.name.startswith(key):
                return cite
        return "fxcoudert/citable-data (CC BY 4.0)"


@lru_cache(maxsize=1)
def registry() -> dict[str, RegistryEntry]:
    """Return the registry of every mirrored file, keyed by mirror path."""
    table = Path(__file__).with_name("registry.tsv")
    entries = {}
    for line in table.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, source, digest = line.split("\t")
        entries[name] = RegistryEntry(name, source, digest)
    return entries


def _entry(name: str) -> RegistryEntry:
    try:
        return registry()[name]
    except KeyError:
        close = [n for n in registry() if Path(n).name == Path(name).name]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(
            f"{name!r} is not in the data registry (zifhelpers/data/registry.tsv).{hint}"
        ) from None


def public_url(name: str) -> str:
    """Pinned public URL of a registered file."""
    return _entry(name).url


def sha256sum(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_verified: dict[tuple[str, int, int], str] = {}


def _verify(path: Path, entry: RegistryEntry) -> Path:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    found = _verified.get(key) or sha256sum(path)
    if found != entry.sha256:
        raise ChecksumMismatchError(
            f"checksum mismatch for {entry.name} at {path}: expected sha256 "
            f"{entry.sha256}, found {found}. The file is corrupt or not the pinned "
            f"version: delete it and fetch it again from {entry.url}, or point "
            f"{MIRROR_ENV} at an intact mirror."
        )
    _verified[key] = found
    return path


def cache_dir() -> Path:
    """Folder where downloaded files are kept (``$ZIFHELPERS_CACHE`` or pooch's)."""
    import pooch

    return Path(os.environ.get(CACHE_ENV) or pooch.os_cache("zifhelpers"))


def fetch(name: str) -> Path:
    """Return the local path of a registered file, verified by SHA-256.

    Parameters
    ----------
    name : str
        Mirror path, e.g. ``"castel2024_mlp/nequip_l2r6stress0.pth"``.

    Raises
    ------
    KeyError
        ``name`` is not registered.
    DataFileError
        The file is missing from the mirror, or cannot be downloaded.
    ChecksumMismatchError
        The file's hash differs from the pinned one.
    """
    entry = _entry(name)
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        path = Path(mirror).expanduser() / name
        if not path.is_file():
            raise DataFileError(
                f"{name} is missing from the local mirror {mirror} "
                f"(${MIRROR_ENV}); expected it at {path}. Copy it there from "
                f"{entry.url}, or unset {MIRROR_ENV} to download it."
            )
        return _verify(path, entry)
    cached = cache_dir() / name
    if cached.is_file():
        return _verify(cached, entry)
    import pooch

    try:
        got = pooch.retrieve(
            entry.url,
            known_hash=f"sha256:{entry.sha256}",
            fname=name,
            path=cache_dir(),
            progressbar=False,
        )
    except ValueError as err:  # pooch's hash mismatch
        raise ChecksumMismatchError(f"{name}: {err}") from err
    except Exception as err:  # network errors of all kinds
        raise DataFileError(
            f"could not download {name} from {entry.url} ({err.__class__.__name__}: "
            f"{err}). Offline? Set {MIRROR_ENV} to a folder holding a copy of the "
            f"data (e.g. export {MIRROR_ENV}=../shared/data)."
        ) from None
    return Path(got)


def fetch_all(names: list[str] | None = None, progress: bool = True) -> dict[str, Path]:
    """Fetch and verify several files (all registered ones by default)."""
    from tqdm.auto import tqdm

    names = list(registry()) if names is None else names
    return {n: fetch(n) for n in tqdm(names, desc="fetch+verify", disable=not progress)}


# --------------------------------------------------------------------------- #
# Structures
# --------------------------------------------------------------------------- #

_GLASS = "gaillac2020_abinitio_glasses/ZIF4_15glass{:02d}.cif"
_STRUCTURES: dict[str, str] = {
    "crystal": "castel2024_mlp/crystal.lmp",
    "crystal_lewis2009": "crystal/ZIF-4_Lewis2009.cif",
    "crystal_widmer2019_fixed": "crystal/Widmer2019_ZIF4-FixedCell.cif",
    "crystal_widmer2019_relaxed": "crystal/Widmer2019_ZIF4-RelaxedCell.cif",
    **{f"glass{i:02d}": _GLASS.format(i) for i in range(1, 11)},
    "rmc_glass": "castel2023_mechanics/RMC_glass_mqgzif4.xyz",
    **{
        f"zif8_glass{i:02d}": f"gaillac2020_abinitio_glasses/ZIF8/ZIF8_15glass{i:02d}.cif"
        for i in range(1, 11)
    },
    **{
        f"salem2_glass{i:02d}": f"gaillac2020_abinitio_glasses/SALEM2/SALEM2_glass{i:02d}.cif"
        for i in range(1, 11)
    },
}
#: LAMMPS type -> atomic number in ``crystal.lmp`` (its Masses section: C H N Zn).
_LMP_TYPES = {1: 6, 2: 1, 3: 7, 4: 30}


def structure_names() -> list[str]:
    """Names accepted by :func:`load_structure`."""
    return list(_STRUCTURES)


def _read(path: Path, name: str) -> Atoms:
    import ase.io

    if path.suffix == ".lmp":
        atoms = ase.io.read(
            path, format="lammps-data", atom_style="atomic", Z_of_type=_LMP_TYPES
        )
        # the file stores unwrapped coordinates; the numbering is kept
        atoms.wrap()
    elif path.suffix == ".cif":
        atoms = ase.io.read(path, format="cif")
    else:
        atoms = ase.io.read(path, format="extxyz")
        atoms.arrays.pop("occ", None)
        atoms.arrays.pop("biso", None)
    atoms.pbc = True
    return atoms


def load_structure(name: str) -> Atoms:
    """Load a reference structure as ASE ``Atoms``.

    Parameters
    ----------
    name : str
        ``"crystal"`` (the 272-atom cell the paper starts its MD from,
        ``castel2024_mlp/crystal.lmp``), ``"crystal_lewis2009"``,
        ``"crystal_widmer2019_fixed"``, ``"crystal_widmer2019_relaxed"``,
        ``"glass01"`` … ``"glass10"`` (ab initio ZIF-4 glasses),
        ``"rmc_glass"`` (8704-atom RMC glass), and the ab initio glasses of
        ZIF-8 (``"zif8_glass01"`` …) and SALEM-2 (``"salem2_glass01"`` …).

    Returns
    -------
    ase.Atoms
        Periodic, positions in Å. ``atoms.info`` holds ``name``,
        ``source`` (mirror path), ``url`` and ``citation``.
    """
    if name not in _STRUCTURES:
        raise KeyError(
            f"unknown structure {name!r}; valid names: {', '.join(_STRUCTURES)}"
        )
    entry = _entry(_STRUCTURES[name])
    atoms = _read(fetch(entry.name), name)
    atoms.info.update(
        name=name, source=entry.name, url=entry.url, citation=entry.citation
    )
    return atoms


# --------------------------------------------------------------------------- #
# X-ray total scattering (Gaillac et al. 2017)
# --------------------------------------------------------------------------- #

_XRAY = re.compile(r"gaillac2017_xray/ZIF4glassa_(\d+)\.int01$")


def xray_temperatures() -> list[int]:
    """Temperatures (°C) of the experimental X-ray curves, ascending."""
    temps = [int(m.group(1)) for n in registry() if (m := _XRAY.match(n))]
    return sorted(temps)


def load_xray(kind: str, temperature_c: int) -> pd.DataFrame:
    """Experimental X-ray total scattering of ZIF-4 at one temperature.

    Parameters
    ----------
    kind : {"FQ", "Dr"}
        ``"FQ"``: F(Q) from ``ZIF4glassa_T.int01`` with columns ``Q`` (Å⁻¹),
        ``F`` and ``error``; ``"Dr"``: D(r) from ``ZIF4glassa_T.dofr`` with
        columns ``r`` (Å), ``D`` and ``error``.
    temperature_c : int
        Temperature in °C, one of :func:`xray_temperatures` (31 … 589).
    """
    temps = xray_temperatures()
    if temperature_c not in temps:
        raise KeyError(
            f"no X-ray data at {temperature_c} °C; available temperatures (°C): {temps}"
        )
    if kind == "FQ":
        suffix, cols = "int01", ["Q", "F", "error"]
    elif kind == "Dr":
        suffix, cols = "dofr", ["r", "D", "error"]
    else:
        raise ValueError(f"kind must be 'FQ' or 'Dr', got {kind!r}")
    path = fetch(f"gaillac2017_xray/ZIF4glassa_{temperature_c}.{suffix}")
    values = np.loadtxt(path, comments="#")
    if values.ndim != 2 or values.shape[1] != 3:
        raise DataFileError(
            f"{path}: expected 3 numeric columns ({', '.join(cols)}), "
            f"found shape {values.shape}"
        )
    frame = pd.DataFrame(values, columns=cols)
    frame.attrs.update(temperature_C=temperature_c, source=str(path))
    return frame


def published_model_path() -> Path:
    """Path of the paper's production NequIP model (TorchScript, nequip 0.5.6).

    ``nequip_l2r6stress0.pth`` from Castel et al. 2024: l_max 2, r_max 6 Å,
    5 layers, 32 features, no parity, trained on PBE-D3 AIMD of ZIF-4.
    """
    return fetch("castel2024_mlp/nequip_l2r6stress0.pth")
