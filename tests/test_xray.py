"""X-ray form factors and total scattering against experiment."""

from __future__ import annotations

import numpy as np
import pytest

from zifhelpers import data
from zifhelpers.analysis import xray


@pytest.mark.parametrize("symbol,z", [("H", 1), ("C", 6), ("N", 7), ("Zn", 30)])
def test_form_factor_at_zero_is_the_electron_count(symbol, z):
    assert xray.form_factor(symbol, 0.0) == pytest.approx(z, abs=0.02)
    q = np.linspace(0, 20, 50)
    assert np.all(np.diff(xray.form_factor(symbol, q)) < 0)  # decreases with Q


def test_unknown_element():
    with pytest.raises(ValueError, match="no X-ray form factor for 'U'"):
        xray.form_factor("U", 1.0)


def test_dr_of_a_single_sine_wave():
    """D(r) back-transforms a pure sine in F(Q) into a peak at its frequency."""
    q = np.linspace(0.5, 30, 3000)
    fq = np.sin(2.0 * q) / q
    r = np.linspace(0.5, 4, 351)
    d = xray.xray_dr(q, fq, r)
    assert xray.peak_positions(r, d, [(1.0, 3.0)])[0] == pytest.approx(2.0, abs=0.01)


def test_crystal_model_peaks_sit_where_experiment_has_them(crystal):
    fq_exp = data.load_xray("FQ", 31)
    dr_exp = data.load_xray("Dr", 31)
    q = fq_exp.Q.to_numpy()
    fq = xray.xray_fq(crystal, q, r_max=20.0)
    r = dr_exp.r.to_numpy()
    d = xray.xray_dr(q, fq, r)
    windows = [(1.0, 1.6), (1.8, 2.2), (5.5, 6.5)]  # C-N/C-C, Zn-N, Zn-Zn
    ours = xray.peak_positions(r, d, windows)
    theirs = xray.peak_positions(r, dr_exp.D.to_numpy(), windows)
    assert np.abs(np.subtract(ours, theirs)) == pytest.approx([0, 0, 0], abs=0.15)
    assert abs(ours[1] - theirs[1]) < 0.05  # the Zn-N bond
    # low-Q limit of the normalised F(Q) is negative, high-Q oscillates about 0
    assert fq[0] < -0.3 and abs(fq[q > 15].mean()) < 0.05
