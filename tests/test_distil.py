"""The distillation steps (zifhelpers.training.distil) and their command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones

from zifhelpers.data import datasets
from zifhelpers.training import distil


@pytest.fixture()
def labelled(tmp_path):
    """Two labelled copper sets: 12 frames of a 'liquid' and 8 of a 'glass' (EMT)."""
    atoms = bulk("Cu", cubic=True).repeat(2)
    frames = datasets.perturbed_configurations(atoms, 20, rattle_A=0.08, max_strain=0.02, seed=1)
    for i, f in enumerate(frames):
        f.info["state_point"] = "liquid_1500K" if i < 12 else "glass_300K"
    frames = datasets.label(frames, EMT(), "EMT (test)", progress=False)
    return (datasets.write_dataset(frames[:12], tmp_path / "liquid.extxyz"),
            datasets.write_dataset(frames[12:], tmp_path / "glass.extxyz"))


@pytest.mark.parametrize("field, value, message", [
    ("features", 0, "features must be >= 1"),
    ("l_max", -1, "l_max must be >= 0"),
    ("r_max_A", 0.0, "r_max_A must be > 0"),
    ("learning_rate", -1e-3, "learning_rate must be > 0"),
    ("forces_loss", "mae", "forces_loss must be 'mse' or 'huber'"),
    ("weights", (0.0, 0.0, 0.0), "not all zero"),
    ("oversample", {"liquid": 0}, "oversample factors"),
    ("deepen_after", 1, "deepen_after needs init_from"),
])
def test_a_bad_recipe_names_its_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        distil.StudentRecipe(**{field: value})


def test_the_spec_carries_every_field_of_the_recipe(tmp_path):
    recipe = distil.StudentRecipe(features=32, layers=4, l_max=2, r_max_A=6.0, epochs=7, seed=3,
                                  learning_rate=5e-4, batch_size=4, forces_loss="huber",
                                  huber_delta_eV_A=0.02, weights=(0.1, 1.0, 0.5),
                                  core_repulsion=True)
    spec = distil.student_spec(recipe, tmp_path / "t.extxyz", tmp_path / "v.extxyz", "p.ckpt")
    assert (spec.num_features, spec.num_layers, spec.l_max, spec.r_max) == (32, 4, 2, 6.0)
    assert (spec.max_epochs, spec.seed, spec.learning_rate, spec.batch_size) == (7, 3, 5e-4, 4)
    assert (spec.energy_weight, spec.forces_weight, spec.stress_weight) == (0.1, 1.0, 0.5)
    assert (spec.forces_loss, spec.huber_delta_eV_A, spec.core_repulsion) == ("huber", 0.02, True)
    assert spec.init_from == "p.ckpt" and spec.lr_schedule == "cosine"


def test_training_sets_split_deduplicate_oversample_and_record_the_recipe(tmp_path, labelled):
    liquid, glass = labelled
    recipe = distil.StudentRecipe(n_val=4, oversample={"glass_300K": 3}, extra=(str(glass),))
    folder = tmp_path / "student_a"
    # the liquid set given twice: each frame counts once
    train, val = distil.training_sets(folder, [liquid, liquid], recipe)
    train_frames, val_frames = datasets.read_dataset(train), datasets.read_dataset(val)
    assert len(val_frames) == 4
    n_glass_train = 8 - sum(f.info["state_point"] == "glass_300K" for f in val_frames)
    assert len(train_frames) == (20 - 4) + 2 * n_glass_train  # glass frames three times
    assert json.loads((folder / "recipe.json").read_text())["oversample"] == {"glass_300K": 3}
    # asked again with the same recipe: the same files, unchanged
    assert distil.training_sets(folder, [liquid], recipe) == (train, val)
    # asked with another recipe: refused, naming the difference
    with pytest.raises(ValueError, match="oversample"):
        distil.training_sets(folder, [liquid], distil.StudentRecipe(n_val=4, extra=(str(glass),)))


def test_frames_inside_the_core_wall_are_left_out(tmp_path, labelled):
    liquid, _ = labelled
    squeezed = bulk("Cu", cubic=True).repeat(2)
    squeezed.positions[1] = squeezed.positions[0] + [0.6, 0.0, 0.0]  # Cu-Cu at 0.6 Å
    squeezed.info["state_point"] = "collapsed"
    bad = datasets.write_dataset(datasets.label([squeezed], LennardJones(), "LJ", progress=False),
                                 tmp_path / "bad.extxyz")
    train, val = distil.training_sets(tmp_path / "s", [liquid, bad], distil.StudentRecipe(n_val=2))
    kept = datasets.read_dataset(train) + datasets.read_dataset(val)
    assert len(kept) == 12 and all(f.info["state_point"] != "collapsed" for f in kept)
    with pytest.raises(ValueError, match="not more than the 30 validation frames"):
        distil.training_sets(tmp_path / "t", [liquid], distil.StudentRecipe())


def test_teacher_labels_are_the_teachers_and_a_finished_step_is_read_back(tmp_path, labelled):
    liquid, _ = labelled
    frames = datasets.read_dataset(liquid)[:3]
    out = distil.write_teacher_labels(frames, tmp_path / "labels.extxyz", teacher=LennardJones())
    again = datasets.read_dataset(out)
    lj = LennardJones()
    for f, g in zip(frames, again, strict=True):
        work = f.copy()
        work.calc = lj
        assert g.get_potential_energy() == pytest.approx(work.get_potential_energy())
        assert g.info["labeller"] == "LennardJones"  # never the published model's name
    with pytest.raises(ValueError, match="no frames to label"):
        distil.write_teacher_labels([], tmp_path / "empty.extxyz", teacher=lj)


def test_stretch_pulls_bonds_out_and_labels_them(tmp_path, crystal):
    frames = datasets.label([crystal.copy(), crystal.copy()], LennardJones(), "LJ", progress=False)
    source = datasets.write_dataset(frames, tmp_path / "crystal.extxyz")
    out = distil.stretch(tmp_path, "s1", [source], per_source=2, seed=0, teacher=LennardJones())
    stretched = datasets.read_dataset(out)
    assert len(stretched) == 2
    longest = []
    for f in stretched:
        i, j = np.nonzero((f.numbers[:, None] == 6) & (f.numbers[None, :] == 1))
        d = f.get_distances(i, j, mic=True)
        longest.append(np.sort(d[d < 2.0])[-2:])
    assert np.all((np.concatenate(longest) > 1.19) & (np.concatenate(longest) < 1.91))
    # resumable: the finished file is returned as it is
    mtime = out.stat().st_mtime_ns
    assert distil.stretch(tmp_path, "s1", [source], teacher=LennardJones()).stat().st_mtime_ns == mtime


@pytest.mark.parametrize("argv, message", [
    (["train", "x", "--oversample", "glass=three"], "--oversample expects KEY=K"),
    (["train", "x", "--init-from", "p.ckpt", "--l-max", "2"], "keeps its parent's"),
    (["train", "x", "--weights", "0", "0", "0"], "not all zero"),
    (["train", "x", "--deepen-after", "1"], "deepen_after needs init_from"),
    (["train", "x", "--r-max", "-1"], "r_max_A must be > 0"),
])
def test_the_command_line_refuses_bad_options_before_any_work(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit):
        distil.main(["--work", str(tmp_path / "w"), *argv])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "w").exists()  # nothing written
