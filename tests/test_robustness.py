"""Linker-breaking scans: the Poisson rate and a scan on a potential that cannot bind."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes

from zifhelpers.simulation.robustness import breaking_rate, linker_breaking_scan


class NoForces(Calculator):
    """Free flight: nothing holds a linker together, so heat alone breaks it."""

    implemented_properties = ["energy", "forces", "stress"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results = {"energy": 0.0, "forces": np.zeros((len(self.atoms), 3)),
                        "stress": np.zeros(6)}


def test_breaking_rate_is_poisson():
    r = breaking_rate(4, 200.0)
    assert r["rate"] == pytest.approx(2.0)  # 4 events in 200 ps -> 2 per 100 ps
    # Garwood interval for k = 4: [1.090, 10.242] events
    assert r["rate_low"] == pytest.approx(1.0899 / 2, rel=1e-3)
    assert r["rate_high"] == pytest.approx(10.2416 / 2, rel=1e-3)
    assert breaking_rate(0, 100.0)["rate_low"] == 0.0
    assert breaking_rate(0, 100.0)["rate_high"] == pytest.approx(3.689, rel=1e-3)
    with pytest.raises(ValueError):
        breaking_rate(1, 0.0)
    # a subnormal duration (found by hypothesis): the upper bound would be infinite
    with pytest.raises(ValueError, match="too short.*overflows"):
        breaking_rate(0, 2.225073858507e-311)


def test_scan_counts_breaks_hot_and_none_cold(tmp_path, crystal):
    scan = linker_breaking_scan(crystal, [0.1, 3000.0], 0.06, tmp_path, calculator="none",
                                calc=NoForces(), seeds=(0, 1), timestep_fs=1.0,
                                integrity_every=10, progress=False)
    cold, hot = scan.loc[0.1], scan.loc[3000.0]
    assert cold.events == 0 and cold.simulated_ps == pytest.approx(2 * 0.06)
    # H atoms fly off their carbons within tens of fs (or atoms collide first:
    # a guard stop, recorded but not counted as a linker break)
    assert hot.events >= 1 and len(hot.stop_reasons) == 2
    assert 0 < hot.simulated_ps < 2 * 0.06
    assert hot.breaks_per_cell_per_100ps > 1000
    # finished and stopped runs are read back, not re-run
    again = linker_breaking_scan(crystal, [0.1, 3000.0], 0.06, tmp_path, calculator="none",
                                 calc=NoForces(), seeds=(0, 1), timestep_fs=1.0,
                                 integrity_every=10, progress=False)
    assert again.drop(columns="stop_reasons").equals(scan.drop(columns="stop_reasons"))
