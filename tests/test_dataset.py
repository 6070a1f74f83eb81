"""Labelled data-set generation, labelling and round trip."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from zifhelpers.data import datasets as dataset


def test_perturbed_configurations_hit_the_requested_volume(crystal):
    frames = dataset.perturbed_configurations(crystal, 5, rattle_A=0.05, max_strain=0.0,
                                              volume_scale=0.9, seed=3, state_point="x")
    assert len(frames) == 5
    for f in frames:
        assert f.get_volume() == pytest.approx(0.9 * crystal.get_volume())
        assert f.info["state_point"] == "x" and f.info["seed"] == 3
    d = frames[0].positions - crystal.positions * 0.9 ** (1 / 3)
    assert np.std(d) == pytest.approx(0.05, rel=0.1)
    again = dataset.perturbed_configurations(crystal, 5, rattle_A=0.05, max_strain=0.0,
                                             volume_scale=0.9, seed=3)
    np.testing.assert_array_equal(again[4].positions, frames[4].positions)


def test_label_write_read_round_trip(tmp_path):
    atoms = bulk("Cu", cubic=True).repeat(2)
    frames = dataset.perturbed_configurations(atoms, 3, seed=1)
    labelled = dataset.label(frames, EMT(), "EMT (test)", progress=False)
    path = dataset.write_dataset(labelled, tmp_path / "set.extxyz.gz")
    back = dataset.read_dataset(path)
    for a, b in zip(labelled, back, strict=True):
        assert b.get_potential_energy() == pytest.approx(a.get_potential_energy(), abs=1e-8)
        np.testing.assert_allclose(b.get_forces(), a.get_forces(), atol=1e-8)
        np.testing.assert_allclose(b.get_stress(), a.get_stress(), atol=1e-10)
        assert b.info["labeller"] == "EMT (test)"
    # the labels are EMT's, stress included (its sign checked against finite strain)
    ref = frames[0].copy()
    ref.calc = EMT()
    assert back[0].get_stress()[0] == pytest.approx(ref.get_stress()[0], rel=1e-8)


def test_rounded_write_keeps_labels_within_the_asked_decimals(tmp_path):
    atoms = bulk("Cu", cubic=True).repeat(3)
    frames = dataset.perturbed_configurations(atoms, 4, rattle_A=0.05, seed=2)
    labelled = dataset.label(frames, EMT(), "EMT (test)", progress=False)
    before = [f.positions.copy() for f in labelled]
    full = dataset.write_dataset(labelled, tmp_path / "full.extxyz.gz")
    short = dataset.write_dataset(labelled, tmp_path / "short.extxyz.gz", decimals=5)
    back = dataset.read_dataset(short)
    for a, b, pos in zip(labelled, back, before, strict=True):
        np.testing.assert_array_equal(a.positions, pos)  # the caller's frames are untouched
        dp, df = b.positions - a.positions, b.get_forces() - a.get_forces()
        assert np.abs(dp).max() <= 5.01e-6 and np.abs(df).max() <= 5.01e-6
        assert np.abs(dp).max() > 1e-7  # rounding did happen
        assert b.get_potential_energy() == pytest.approx(a.get_potential_energy(), abs=1e-8)
        np.testing.assert_allclose(b.get_stress(), a.get_stress(), atol=1e-10)
        assert b.info["labeller"] == "EMT (test)"
    assert short.stat().st_size < 0.85 * full.stat().st_size
    with pytest.raises(ValueError, match="decimals must be an integer from 1 to 8, got 0"):
        dataset.write_dataset(labelled, tmp_path / "bad.extxyz", decimals=0)


def test_unlabelled_frames_are_refused(tmp_path):
    atoms = bulk("Cu", cubic=True)
    with pytest.raises(dataset.DatasetError, match="frame 0 is not labelled"):
        dataset.write_dataset([atoms], tmp_path / "x.extxyz")
    atoms.write(tmp_path / "plain.extxyz")
    with pytest.raises(dataset.DatasetError, match="frame 0 lacks energy"):
        dataset.read_dataset(tmp_path / "plain.extxyz")
    with pytest.raises(FileNotFoundError):
        dataset.read_dataset(tmp_path / "absent.extxyz")


def test_stretched_bonds_pull_only_the_chosen_hydrogens_to_the_asked_lengths(crystal):
    frames = dataset.perturbed_configurations(crystal, 3, rattle_A=0.02, max_strain=0.0, seed=4)
    out = dataset.stretched_bonds(frames, ("C", "H"), (1.3, 1.7), bonds_per_frame=3, seed=11)
    assert len(out) == 3
    for before, after in zip(frames, out, strict=True):
        moved = [int(a) for a in after.info["stretched_atoms"]]
        assert len(set(moved)) == 3
        assert all(after[a].symbol == "H" for a in moved)
        shift = np.linalg.norm(after.positions - before.positions, axis=1)
        assert set(np.flatnonzero(shift > 1e-12)) == set(moved)
        for a in moved:
            carbons = [c for c in range(len(after)) if after[c].symbol == "C"]
            d_after = after.get_distances(a, carbons, mic=True)
            d_before = before.get_distances(a, carbons, mic=True)
            c = carbons[int(np.argmin(d_before))]  # the carbon it was bonded to
            assert 1.3 <= after.get_distance(a, c, mic=True) <= 1.7
            # pulled straight out: same direction from its carbon
            v0 = before.get_distance(c, a, mic=True, vector=True)
            v1 = after.get_distance(c, a, mic=True, vector=True)
            assert np.dot(v0, v1) / np.linalg.norm(v0) / np.linalg.norm(v1) > 0.9999
            assert d_after.min() >= 1.3 - 1e-9
    again = dataset.stretched_bonds(frames, ("C", "H"), (1.3, 1.7), bonds_per_frame=3, seed=11)
    assert all(np.array_equal(a.positions, b.positions) for a, b in zip(out, again, strict=True))
    other = dataset.stretched_bonds(frames, ("C", "H"), (1.3, 1.7), bonds_per_frame=3, seed=12)
    assert not np.array_equal(out[0].positions, other[0].positions)
    # ring C–N bonds (the N moves), picked below 1.6 Å as `distil_student.py stretch --pair C N` does
    ring = dataset.stretched_bonds(frames, ("C", "N"), (2.0, 2.4), bonds_per_frame=2, seed=3,
                                   bond_cutoff_A=1.6)
    for before, after in zip(frames, ring, strict=True):
        moved = [int(a) for a in after.info["stretched_atoms"]]
        assert len(set(moved)) == 2 and all(after[a].symbol == "N" for a in moved)
        for a in moved:
            carbons = [c for c in range(len(after)) if after[c].symbol == "C"]
            d_before = before.get_distances(a, carbons, mic=True)
            d_after = after.get_distances(a, carbons, mic=True)
            # one of its two ring carbons is now 2.0–2.4 Å away; it was a 1.3–1.4 Å bond
            pulled = np.flatnonzero(np.abs(d_after - d_before) > 1e-9)
            assert len(pulled) >= 1
            assert np.any((d_after >= 2.0 - 1e-9) & (d_after <= 2.4 + 1e-9) & (d_before < 1.6))
    with pytest.raises(ValueError, match="0 Zn-H bonds shorter than 1.35 A, need 1"):
        dataset.stretched_bonds(frames[:1], ("Zn", "H"), bonds_per_frame=1)
    with pytest.raises(ValueError, match="lengths_A must satisfy"):
        dataset.stretched_bonds(frames[:1], lengths_A=(1.8, 1.2))


def test_oversample_repeats_the_chosen_state_points_and_nothing_else():
    frames = []
    for point in ("liquid_1500K_v100", "glass_1500K_glass01", "glass_300K_glass01",
                  "glass_1750K_glass02", "crystal_300K"):
        atoms = bulk("Cu", "fcc", a=3.6)
        atoms.info["state_point"] = point
        frames.append(atoms)
    out = dataset.oversample(frames, {"glass_1500K": 3, "glass_1750K": 2, "glass_": 1})
    names = [f.info["state_point"] for f in out]
    assert out[:5] == frames  # the original set first, in order
    assert len(out) == 5 + 2 + 1
    assert names.count("glass_1500K_glass01") == 3
    assert names.count("glass_1750K_glass02") == 2
    assert names.count("glass_300K_glass01") == 1  # matched only by the factor-1 key
    assert names.count("liquid_1500K_v100") == names.count("crystal_300K") == 1
    # several keys match: the largest factor wins
    assert len(dataset.oversample(frames, {"glass": 2, "glass_1500K": 4})) == 5 + 3 + 2
    assert dataset.oversample(frames, {}) == frames


@pytest.mark.parametrize("factors, message", [({"glass": 0}, "integer >= 1"),
                                              ({"glass": 1.5}, "integer >= 1"),
                                              ({"galss": 2}, "matches no state point")])
def test_oversample_refuses_bad_factors_and_keys_that_match_nothing(factors, message):
    atoms = bulk("Cu", "fcc", a=3.6)
    atoms.info["state_point"] = "glass_1500K_glass01"
    with pytest.raises(ValueError, match=message):
        dataset.oversample([atoms], factors)


def test_check_recipe_records_then_refuses_a_changed_recipe(tmp_path):
    path = tmp_path / "run" / "recipe.json"
    recipe = {"extra": ["a.extxyz.gz", "b.extxyz.gz"], "oversample": {"glass_1500K": 3},
              "n_val": 30, "seed": 7}
    assert dataset.check_recipe(path, recipe) == path and path.is_file()
    dataset.check_recipe(path, dict(recipe, extra=("a.extxyz.gz", "b.extxyz.gz")))  # same
    with pytest.raises(ValueError, match=r"oversample: recorded \{'glass_1500K': 3\}, "
                                         r"requested \{'glass_1500K': 5\}"):
        dataset.check_recipe(path, dict(recipe, oversample={"glass_1500K": 5}))
    with pytest.raises(ValueError, match=r"extra: recorded .*requested \['a.extxyz.gz'\]"):
        dataset.check_recipe(path, dict(recipe, extra=["a.extxyz.gz"]))
    with pytest.raises(ValueError, match="new_field: recorded None, requested 1"):
        dataset.check_recipe(path, dict(recipe, new_field=1))
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a JSON recipe"):
        dataset.check_recipe(path, recipe)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object .* found list"):
        dataset.check_recipe(path, recipe)
