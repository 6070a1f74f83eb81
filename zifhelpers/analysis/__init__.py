"""Structure from coordinates: arrays and ``Atoms`` in, numbers out; no potential, no MD.

``neighbors``  periodic neighbour lists (vesin)
``structure``  coordination, RDF and PMF (with its barrier), angles, density, MSD, pore volume (Zeo++)
``linkers``    imidazolate linkers: identification and integrity of every Zn–Im–Zn bridge
``rings``      Zn–Im ring statistics (matscipy), the paper's measure of disorder
``xray``       X-ray F(Q) and D(r) against Gaillac et al. (2017)
``elastic``    Birch–Murnaghan fits, strain-fluctuation elastic tensors, Hill averages
"""

from .structure import *  # noqa: F401,F403  (zifhelpers.analysis.rdf, coordination, ...)
from .structure import __all__  # noqa: F401
