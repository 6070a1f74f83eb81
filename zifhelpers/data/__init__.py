"""Data in and out: the paper's public files, labelled data sets, simulation files, the paper's values.

``public``    pinned, checksummed public data (structures, X-ray curves, the published model), offline mirror
``datasets``  labelled frames (energy, forces, stress) written and read as extxyz, splits, oversampling
``cp2k``      CP2K AIMD output (positions, forces, cells) as ASE frames
``paper``     every number of the paper we compare with: value, ±, unit, table/figure
"""

from .public import *  # noqa: F401,F403  (zifhelpers.data.load_structure, fetch, ...)
from .public import __all__ as _public_all
from .public import cache_dir  # noqa: F401

__all__ = [*_public_all, "cache_dir"]
