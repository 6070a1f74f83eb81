"""nequip 0.19 training pipeline: config, train + resume, compile, load, evaluate.

A tiny model on EMT copper keeps this under two minutes on 2 cores.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from zifhelpers import training
from zifhelpers.potentials.compile import compile_model
from zifhelpers.potentials.registry import load_calculator

pytestmark = pytest.mark.slow


def _spec(paths, epochs):
    from conftest import copper_spec  # tests/ is on sys.path (pytest rootdir conftest)

    return copper_spec(paths, epochs)


def test_config_is_what_the_spec_says(tmp_path, copper_sets):
    _, paths, _ = copper_sets
    spec = _spec(paths, 5)
    spec.l_max, spec.parity, spec.stress_weight = 2, True, 0.5
    config = yaml.safe_load(training.write_config(spec, tmp_path / "c.yaml").read_text())
    model = config["training_module"]["model"]
    assert model["_target_"] == "nequip.model.NequIPGNNModel"
    assert (model["l_max"], model["parity"], model["r_max"]) == (2, True, 4.0)
    assert config["training_module"]["loss"]["coeffs"]["stress"] == 0.5
    assert config["trainer"]["accelerator"] in ("cpu", "gpu")
    assert config["data"]["train_dataloader"]["num_workers"] == 0
    assert config["trainer"]["logger"]["_target_"].endswith("CSVLogger")
    assert "pair_potential" not in model
    # a Huber force loss keeps the loss coefficients (distil_student.py train --weights E F S)
    spec.forces_loss, spec.forces_weight, spec.energy_weight = "huber", 4.0, 0.25
    loss = yaml.safe_load(training.write_config(spec, tmp_path / "h.yaml").read_text())[
        "training_module"]["loss"]
    coeffs = {m["name"]: m["coeff"] for m in loss["metrics"]}
    assert coeffs == {"per_atom_energy_mse": 0.25, "forces_huber": 4.0, "stress_mse": 0.5}
    spec.forces_loss, spec.forces_weight, spec.energy_weight = "mse", 1.0, 1.0
    spec.core_repulsion = True
    config = yaml.safe_load(training.write_config(spec, tmp_path / "r.yaml").read_text())
    wall = config["training_module"]["model"]["pair_potential"]
    assert wall["_target_"] == "zifhelpers.potentials.repulsion.SwitchedZBL" and wall["fractions"] == [0.5, 0.75]
    spec.core_repulsion_fractions = (0.9, 0.6)
    with pytest.raises(ValueError, match="0 < inner < outer"):
        training.write_config(spec, tmp_path / "bad.yaml")
    with pytest.raises(FileNotFoundError, match="train_file"):
        training.write_config(training.TrainingSpec("absent.xyz", str(paths["val"])), tmp_path / "x.yaml")
    with pytest.raises(ValueError, match="lr_schedule must be 'plateau' or 'cosine', got 'step'"):
        training.write_config(training.TrainingSpec(str(paths["train"]), str(paths["val"]),
                                                    lr_schedule="step"), tmp_path / "z.yaml")
    with pytest.raises(ValueError, match="'nequip' or 'allegro'"):
        training.write_config(training.TrainingSpec(str(paths["train"]), str(paths["val"]), model="mace"),
                              tmp_path / "y.yaml")
    spec.core_repulsion, spec.forces_loss, spec.huber_delta_eV_A = False, "huber", 0.02
    loss = yaml.safe_load(training.write_config(spec, tmp_path / "h.yaml").read_text())[
        "training_module"]["loss"]
    metrics = {m["name"]: m for m in loss["metrics"]}
    assert metrics["forces_huber"]["metric"] == {"_target_": "nequip.train.HuberLoss", "delta": 0.02}
    assert metrics["stress_mse"]["coeff"] == 0.5
    assert metrics["per_atom_energy_mse"]["field"]["field"] == "total_energy"
    spec.forces_loss = "mae"
    with pytest.raises(ValueError, match="forces_loss must be 'mse' or 'huber', got 'mae'"):
        training.write_config(spec, tmp_path / "m.yaml")


def test_train_resume_compile_load_evaluate(tmp_path, copper_sets):
    _, paths, frames = copper_sets
    run = tmp_path / "run"
    best = training.train(_spec(paths, 3), run)
    curve = training.learning_curve(run)
    assert list(curve.index) == [0, 1, 2]
    assert curve["val0_epoch/forces_mae"].iloc[-1] < curve["val0_epoch/forces_mae"].iloc[0]
    # resuming from last.ckpt continues the same run
    training.train(_spec(paths, 4), run)
    assert list(training.learning_curve(run).index) == [0, 1, 2, 3]

    # a shipped checkpoint no longer sees its training files: compile from an example frame
    import torch

    ckpt = torch.load(best, map_location="cpu", weights_only=False)
    data_cfg = ckpt["hyper_parameters"]["info_dict"]["data"]
    for key in ("train_file_path", "val_file_path", "test_file_path"):
        data_cfg[key] = str(tmp_path / "moved_away" / f"{key}.extxyz")
    moved = tmp_path / "shipped.ckpt"
    torch.save(ckpt, moved)
    # with fused tensor products, as deployed_model and distil_student compile NequIP students
    model = compile_model(moved, tmp_path / "cu.nequip.pt2", mode="aotinductor",
                                   example_atoms=frames[0], fused_tensor_product=True)
    assert not (tmp_path / "cu.nequip.example.pt").exists()
    assert not (tmp_path / "cu.fused.ckpt").exists()
    calc = load_calculator(str(model), device="cpu")
    atoms = frames[21].copy()
    atoms.calc = calc
    forces = atoms.get_forces()
    from nequip.integrations.ase import NequIPCalculator

    eager = atoms.copy()  # the checkpoint itself, e3nn tensor products, not compiled
    eager.calc = NequIPCalculator._from_saved_model(str(best), device="cpu")
    np.testing.assert_allclose(forces, eager.get_forces(), rtol=0, atol=1e-4)  # eV/Å
    assert atoms.get_potential_energy() == pytest.approx(eager.get_potential_energy(), abs=1e-4)
    h = 2e-3
    for atom, axis in [(0, 0), (5, 2)]:
        energies = []
        for sign in (1, -1):
            moved = atoms.copy()
            moved.positions[atom, axis] += sign * h
            moved.calc = calc
            energies.append(moved.get_potential_energy())
        assert forces[atom, axis] == pytest.approx(-(energies[0] - energies[1]) / (2 * h), abs=2e-2)
    errors = training.evaluate(calc, frames[20:])
    assert set(errors) >= {"energy_mae_meV_atom", "force_mae_meV_A", "stress_mae_MPa"}
    assert all(np.isfinite(v) and v >= 0 for v in errors.values())
    with pytest.raises(ValueError, match="must end with .nequip.pt2"):
        compile_model(best, tmp_path / "cu.pth")


def test_allegro_trains_compiles_and_gives_gradient_forces(tmp_path, copper_sets):
    """The same pipeline with nequip-allegro (the paper's scalable model), with the core wall."""
    _, paths, frames = copper_sets
    spec = _spec(paths, 2)
    spec.model, spec.core_repulsion = "allegro", True
    config = yaml.safe_load(training.write_config(spec, tmp_path / "a.yaml").read_text())
    assert config["training_module"]["model"]["_target_"] == "allegro.model.AllegroModel"
    best = training.train(spec, tmp_path / "allegro")
    curve = training.learning_curve(tmp_path / "allegro")
    assert list(curve.index) == [0, 1]
    model = compile_model(best, tmp_path / "cu_allegro.nequip.pt2")
    calc = load_calculator(str(model), device="cpu")
    atoms = frames[22].copy()
    atoms.calc = calc
    forces = atoms.get_forces()
    energies = []
    for sign in (1, -1):
        moved = atoms.copy()
        moved.positions[3, 1] += sign * 2e-3
        moved.calc = calc
        energies.append(moved.get_potential_energy())
    assert forces[3, 1] == pytest.approx(-(energies[0] - energies[1]) / 4e-3, abs=2e-2)
    assert np.isfinite(training.evaluate(calc, frames[20:])["force_mae_meV_A"])
    # the compiled model carries the ZBL wall: two Cu atoms at 1.0 Å cost ~130 eV
    squeezed = atoms.copy()
    bond = squeezed.get_distance(0, 1, mic=True, vector=True)
    squeezed.positions[1] = squeezed.positions[0] + bond / np.linalg.norm(bond) * 1.0
    squeezed.calc = calc
    assert squeezed.get_potential_energy() - atoms.get_potential_energy() > 50.0


def test_screen_and_table1_side_by_side(tmp_path, copper_sets):
    _, paths, frames = copper_sets
    ours = training.screen({"l=1, r=4": {"max_epochs": 1}}, _spec(paths, 1), tmp_path,
                           frames[20:], frames[0], progress=False)
    assert list(ours.index) == ["l=1, r=4"]
    assert ours.loc["l=1, r=4", "epochs"] == 1
    assert ours.loc["l=1, r=4", "us_per_atom_call"] > 0
    table = training.table1(ours)
    assert table.loc["l=1, r=4", ("force_mae_meV_A", "this work")] == pytest.approx(
        ours.loc["l=1, r=4", "force_mae_meV_A"])
    assert table.loc["NequIP deployed", ("force_mae_meV_A", "paper")] == 15.0
    assert table.loc["Allegro deployed", ("force_mae_meV_A", "paper")] == 30.1
    assert np.isnan(table.loc["l=1, r=6", ("force_mae_meV_A", "this work")])  # not screened


def test_cosine_schedule_decays_to_one_hundredth_over_max_epochs(tmp_path, copper_sets):
    import hydra
    import torch

    _, paths, _ = copper_sets
    spec = _spec(paths, 8)
    spec.lr_schedule, spec.learning_rate = "cosine", 0.01
    config = yaml.safe_load(training.write_config(spec, tmp_path / "c.yaml").read_text())
    block = config["training_module"]["lr_scheduler"]
    assert block["interval"] == "epoch" and "monitor" not in block
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=spec.learning_rate)
    sched = hydra.utils.instantiate(block["scheduler"], optimizer=opt)
    lrs = []
    for _ in range(spec.max_epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.01)
    assert lrs[4] == pytest.approx(1e-4 + 0.5 * (0.01 - 1e-4) * (1 + np.cos(np.pi * 4 / 8)))
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-4)


def test_student_targets_reads_the_benchmark_and_judges_each_target():
    bench = {"speedup_vs_published_legacy": 120.0,
             "held_out_errors": {"liquid": {"force_mae_meV_A": 38.0},
                                 "glass": {"force_mae_meV_A": 41.0}},
             "nvt_stability": {"reached_ps": 10.0, "target_ps": 10.0, "finished": True,
                               "broken_linkers_at_end": 0}}
    table = training.student_targets(bench)
    assert table["met"].tolist() == [True, True, False, True]
    assert table["this work"].iloc[1] == 38.0 and table["target"].iloc[1] == "<= 40"
    bench["nvt_stability"].update(finished=False, reached_ps=0.4, broken_linkers_at_end=2)
    del bench["held_out_errors"]["glass"]
    table = training.student_targets(bench)
    assert table["met"].tolist() == [True, True, False, False]
    assert np.isnan(table["this work"].iloc[2])
    with pytest.raises(ValueError, match="not a benchmarks/bench_student.py result: no "
                                         "held_out_errors, nvt_stability"):
        training.student_targets({"speedup_vs_published_legacy": 1.0, "variants": {}})


def test_fine_tune_then_standalone_checkpoint_needs_no_parent(tmp_path, copper_sets):
    from dataclasses import replace

    import torch
    from nequip.integrations.ase import NequIPCalculator

    _, paths, frames = copper_sets
    parent = training.train(_spec(paths, 1), tmp_path / "parent")
    spec = replace(_spec(paths, 2), init_from=str(parent), num_features=999,  # ignored
                   forces_loss="huber")  # nequip builds the Huber loss config
    config = yaml.safe_load(training.write_config(spec, tmp_path / "ft.yaml").read_text())
    assert config["training_module"]["model"]["_target_"] == "nequip.model.ModelFromCheckpoint"
    tuned = training.train(spec, tmp_path / "tuned")
    flat = training.standalone_checkpoint(tuned, tmp_path / "flat.ckpt")

    def energies(path):
        calc = NequIPCalculator._from_saved_model(str(path), device="cpu")
        out = []
        for atoms in frames[20:23]:
            atoms = atoms.copy()
            atoms.calc = calc
            out.append(atoms.get_potential_energy())
        return np.array(out)

    e_parent, e_tuned = energies(parent), energies(tuned)
    assert np.abs(e_tuned - e_parent).max() > 1e-6  # fine-tuning changed the weights
    saved = torch.load(flat, map_location="cpu", weights_only=False)
    assert saved["hyper_parameters"]["model"]["_target_"] == "nequip.model.NequIPGNNModel"
    assert saved["hyper_parameters"]["model"]["num_features"] == 8
    (tmp_path / "parent").rename(tmp_path / "moved_away")
    np.testing.assert_allclose(energies(flat), e_tuned, rtol=0, atol=1e-5)
    # the fine-tune started from its own standalone copy of the parent: the run folder
    # still loads with the parent gone, and only losing that copy orphans it
    used = yaml.safe_load((tmp_path / "tuned" / "config.yaml").read_text())
    assert used["training_module"]["model"]["checkpoint_path"] == str(tmp_path / "tuned" / "parent.ckpt")
    np.testing.assert_allclose(energies(tuned), e_tuned, rtol=0, atol=1e-5)
    (tmp_path / "tuned" / "parent.ckpt").unlink()
    with pytest.raises(FileNotFoundError, match="parent checkpoint .* is missing"):
        training.standalone_checkpoint(tuned, tmp_path / "again.ckpt")
    # a file to ship: EMA weights stored once, no optimizer state, the same predictions
    slim = training.standalone_checkpoint(flat, tmp_path / "slim.ckpt", slim=True)
    assert slim.stat().st_size < 0.6 * flat.stat().st_size
    assert "optimizer_states" not in torch.load(slim, map_location="cpu", weights_only=False)
    np.testing.assert_allclose(energies(slim), e_tuned, rtol=0, atol=1e-5)

    # grafting the core wall changes nothing at bonding distances, and walls off short ones
    walled = training.add_core_repulsion(flat, tmp_path / "walled.ckpt")
    np.testing.assert_allclose(energies(walled), e_tuned, rtol=0, atol=1e-5)
    squeezed = frames[20].copy()
    bond = squeezed.get_distance(0, 1, mic=True, vector=True)
    squeezed.positions[1] = squeezed.positions[0] + bond / np.linalg.norm(bond) * 1.0
    e_squeezed = []
    for path in (flat, walled):
        squeezed.calc = NequIPCalculator._from_saved_model(str(path), device="cpu")
        e_squeezed.append(squeezed.get_potential_energy())
    assert e_squeezed[1] - e_squeezed[0] > 50.0  # eV: ZBL of Cu-Cu at 1.0 Å is ~130 eV
    with pytest.raises(ValueError, match="already has a pair potential"):
        training.add_core_repulsion(walled, tmp_path / "twice.ckpt")
