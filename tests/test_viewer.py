"""3-D view helpers: what they colour and refuse (drawing is tested in test_browser)."""

from __future__ import annotations

import pytest
from ase.build import bulk

from zifhelpers.compendium import viewer
from zifhelpers.data.public import load_structure


def test_zn_groups_of_the_crystal_and_an_undercoordinated_glass(crystal):
    groups = viewer.zn_by_coordination(crystal)
    assert list(groups) == [4] and len(groups[4]) == 16  # 16 tetrahedral Zn per cell
    glass = load_structure("glass02")
    groups = viewer.zn_by_coordination(glass)
    assert sum(len(v) for v in groups.values()) == 16 and 3 in groups  # glass02 has 3-fold Zn


def test_views_build_and_refuse_bad_input(crystal):
    view = viewer.show_zn_coordination(crystal)
    assert view is not None
    traj = viewer.show_trajectory([crystal, crystal.copy()])
    assert traj.max_frame == 1
    with pytest.raises(ValueError, match="no Zn"):
        viewer.zn_by_coordination(bulk("Cu"))
    with pytest.raises(ValueError, match="frame 1 has"):
        viewer.show_trajectory([crystal, crystal[:10]])
    with pytest.raises(ValueError, match="no frames"):
        viewer.show_trajectory([])
