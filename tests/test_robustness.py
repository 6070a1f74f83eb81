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
    # one-shot checks: in free flight atoms collide within tens of fs, before a 50 fs window ends
    scan = linker_breaking_scan(crystal, [0.1, 3000.0], 0.06, tmp_path, calculator="none",
                                calc=NoForces(), seeds=(0, 1), timestep_fs=1.0,
                                integrity_every=10, progress=False, integrity_confirm_fs=0.0)
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
                                 integrity_every=10, progress=False, integrity_confirm_fs=0.0)
    assert again.drop(columns="stop_reasons").equals(scan.drop(columns="stop_reasons"))
    assert (scan.excursions >= 0).all()  # healed checks, counted apart from the breaks


def test_a_run_stopped_by_a_one_shot_check_goes_on_under_the_confirmation_window(tmp_path, crystal):
    import json

    kwargs = dict(calculator="none", calc=NoForces(), seeds=(1,), timestep_fs=1.0, integrity_every=10,
                  progress=False)
    one_shot = linker_breaking_scan(crystal, [2000.0], 0.06, tmp_path, integrity_confirm_fs=0.0, **kwargs)
    folder = tmp_path / "T2000_seed1"
    assert json.loads((folder / "run.json").read_text())["integrity_confirm_fs"] == 0.0
    # free flight collides within tens of fs: a 4 fs window, checked every 2 fs
    confirmed = linker_breaking_scan(crystal, [2000.0], 0.06, tmp_path, integrity_confirm_fs=4.0, **kwargs)
    assert json.loads((folder / "run.json").read_text())["integrity_confirm_fs"] == 4.0  # re-judged
    assert confirmed.loc[2000.0].events == one_shot.loc[2000.0].events == 1  # free flight: H never returns
    assert "still broken throughout the" in json.loads((folder / "status.json").read_text())["reason"]
