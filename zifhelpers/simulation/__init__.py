"""Molecular dynamics and the paper's protocols built on it.

``md``           checkpointed, resumable MD with guards (temperature, linker integrity)
``meltquench``   the melt-quench protocol that makes a glass, and the glass at 300 K
``mechanics``    NVT runs at several volumes, NσT strain fluctuations, the 0 K cross-check
``validation``   a model under test against the reference on the same systems
``robustness``   linker-breaking rates at high temperature
``timestep``     heavier hydrogens and a 2 fs step against real masses at 0.5 fs
``lammps``       LAMMPS data/input export and the in-process LAMMPS
``reaxff``       the ReaxFF comparison run in LAMMPS
"""
