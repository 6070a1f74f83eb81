"""The paper's values: one home, targets that can fail."""

from __future__ import annotations

import math

import pytest

from zifhelpers import training
from zifhelpers.data import paper


def test_table_values_as_printed_in_the_paper():
    # Table 2 and Table 3 of Castel et al. 2024, and the glass numbers of its text
    assert paper.value("K_crystal") == 1.69 and paper.value("rho0_crystal") == 1.16
    assert (paper.VALUES["K_mlp_glasses"].value, paper.VALUES["K_mlp_glasses"].spread) == (3.24, 0.72)
    assert paper.VALUES["nu_abinitio_glasses"].spread == 0.04
    assert paper.value("cn_mlp_glass") == 3.93 and paper.value("pore_mlp_glass") == 61.0
    assert training.PAPER_TABLE1 is paper.TABLE1
    assert paper.TABLE1["NequIP deployed"]["force_mae_meV_A"] == 15.0


def test_targets_accept_and_refuse():
    k = paper.VALUES["K_crystal"]  # within 25 %
    assert k.within_target(1.69 * 1.24) and not k.within_target(1.69 * 1.26)
    cn = paper.VALUES["cn_mlp_glass"]  # within 0.05
    assert cn.within_target(3.89) and not cn.within_target(3.87)
    glass = paper.VALUES["K_mlp_glasses"]  # inside 3.24 +- 0.72
    assert glass.within_target(2.6) and not glass.within_target(2.4)
    assert paper.VALUES["pore_crystal"].within_target(54.0) is None
    assert glass.target_text() == "inside ± spread" and k.target_text() == "± 25 %"


def test_unknown_key_names_the_known_ones():
    with pytest.raises(KeyError, match="K_crystal"):
        paper.value("K_cristal")


def test_every_value_is_finite_with_a_source():
    for v in paper.VALUES.values():
        assert math.isfinite(v.value) and v.source and v.quantity
        assert v.spread is None or v.spread > 0
