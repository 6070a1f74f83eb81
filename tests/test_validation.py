"""Validation helpers on structures with known answers."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from zifhelpers import validation


def test_structural_properties_of_the_crystal(crystal):
    props = validation.structural_properties(crystal, 300.0, ring_every=1, pore_every=1)
    assert props["cn_Zn_N"] == 4.0
    assert props["rings"] == {8: 4.0, 12: 16.0, 16: 32.0}
    assert props["pore_cm3_kg"] == pytest.approx(54, abs=2)
    assert (props["intact_linkers"], props["n_linkers"]) == (32, 32)
    assert np.nanmin(props["pmf_ZnN_kJmol"]) == 0.0
    assert 1.9 < props["r"][np.argmax(props["g_ZnN"])] < 2.1


def test_latest_trained_model(tmp_path):
    assert validation.latest_trained_model(tmp_path) == "published"
    old = tmp_path / "a.nequip.pt2"
    new = tmp_path / "b.nequip.pth"
    old.write_text("x")
    new.write_text("y")
    os.utime(old, (time.time() - 100, time.time() - 100))
    (tmp_path / "notes.txt").write_text("not a model")
    assert validation.latest_trained_model(tmp_path) == str(new)


def test_xray_comparison_of_the_crystal(crystal):
    x = validation.xray_comparison(crystal, 31, r_max=15.0)
    assert len(x["fq"]) == len(x["fq_exp"])
    assert abs(x["peaks_model"][1] - x["peaks_experiment"][1]) < 0.05
