"""Size scaling: subprocess measurements, the power-law fit and memory extrapolation."""

from __future__ import annotations

import numpy as np
import pytest

from zifhelpers.potentials import scaling
from zifhelpers.potentials.scaling import (
    fit_power_law,
    largest_fitting,
    size_scaling,
    summarize,
)


def test_fit_recovers_a_known_exponent():
    n = np.array([272, 2176, 7344, 17408])
    fit = fit_power_law(n, 3e-6 * n**1.15)
    assert fit["exponent"] == pytest.approx(1.15, abs=1e-9)
    assert fit["a"] == pytest.approx(3e-6, rel=1e-9)
    with pytest.raises(ValueError):
        fit_power_law([272], [1.0])
    # two nearly equal sizes whose times halve: exponent -242, prefactor e^1417 (found by test_fuzz)
    with pytest.raises(ValueError, match="overflows .* too close together"):
        fit_power_law([349.0, 350.0], [2.0, 1.0])


def test_largest_fitting_extrapolates_linearly():
    rows = [{"atoms": 1000, "peak_rss_MiB": 600.0}, {"atoms": 3000, "peak_rss_MiB": 1000.0}]
    assert largest_fitting(rows, 24 * 1024) == pytest.approx((24 * 1024 - 400) / 0.2, abs=1)


def test_emt_scales_linearly_in_subprocesses():
    rows = size_scaling("emt", repeats=(1, 2, 3), structure="fcc:Cu:3", calls=2, progress=False)
    assert [r["atoms"] for r in rows] == [108, 864, 2916]
    assert all(r["peak_rss_MiB"] > 10 for r in rows)
    fit = fit_power_law([r["atoms"] for r in rows], [r["s_per_call"] for r in rows])
    assert 0.7 < fit["exponent"] < 1.4  # EMT is a short-ranged, O(N) potential


def test_summarize_fits_each_model_and_lists_failures():
    def row(n, us, mib):
        return {"atoms": n, "repeat": round((n / 272) ** (1 / 3)), "s_per_call": us * n * 1e-6,
                "us_per_atom_call": us, "peak_rss_MiB": mib, "device": "cpu"}

    linear = [row(272, 100.0, 500.0), row(2176, 100.0, 1200.0)]
    steep = [row(272, 10.0, 400.0), row(2176, 80.0, 4000.0),
             {"spec": "x", "repeat": 3, "error": "exit -9: killed"}]
    out = summarize({"linear": linear, "steep": steep, "one": linear[:1]}, memory_MiB=10_000)
    assert out["linear"]["exponent"] == pytest.approx(1.0)
    assert out["steep"]["exponent"] == pytest.approx(2.0)  # 8x per atom for 8x atoms
    assert out["linear"]["largest_fitting_atoms"] == int((10_000 - 400) / (700 / 1904))
    assert out["steep"]["failed"] == {3: "exit -9: killed"}
    assert "exponent" not in out["one"] and out["one"]["us_per_atom_call"] == {272: 100.0}


def test_failure_names_the_signal_and_the_exit_code():
    import subprocess

    killed = subprocess.CompletedProcess([], -9, stdout="", stderr="")
    assert scaling._failure(killed) == "killed by SIGKILL (out of memory?)"
    failed = subprocess.CompletedProcess([], 2, stdout="", stderr="a\nb\nValueError: bad spec\n")
    assert scaling._failure(failed) == "exit 2: a | b | ValueError: bad spec"
