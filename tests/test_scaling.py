"""Size scaling: subprocess measurements, the power-law fit and memory extrapolation."""

from __future__ import annotations

import numpy as np
import pytest

from zifhelpers.scaling import fit_power_law, largest_fitting, size_scaling


def test_fit_recovers_a_known_exponent():
    n = np.array([272, 2176, 7344, 17408])
    fit = fit_power_law(n, 3e-6 * n**1.15)
    assert fit["exponent"] == pytest.approx(1.15, abs=1e-9)
    assert fit["a"] == pytest.approx(3e-6, rel=1e-9)
    with pytest.raises(ValueError):
        fit_power_law([272], [1.0])


def test_largest_fitting_extrapolates_linearly():
    rows = [{"atoms": 1000, "peak_rss_MiB": 600.0}, {"atoms": 3000, "peak_rss_MiB": 1000.0}]
    assert largest_fitting(rows, 24 * 1024) == pytest.approx((24 * 1024 - 400) / 0.2, abs=1)


def test_emt_scales_linearly_in_subprocesses():
    rows = size_scaling("emt", repeats=(1, 2, 3), structure="fcc:Cu:3", calls=2, progress=False)
    assert [r["atoms"] for r in rows] == [108, 864, 2916]
    assert all(r["peak_rss_MiB"] > 10 for r in rows)
    fit = fit_power_law([r["atoms"] for r in rows], [r["s_per_call"] for r in rows])
    assert 0.7 < fit["exponent"] < 1.4  # EMT is a short-ranged, O(N) potential
