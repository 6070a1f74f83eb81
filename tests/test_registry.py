"""The model registry: one name per potential, shipped students loadable by name."""

from __future__ import annotations

import pytest
import torch

from zifhelpers.potentials import registry
from zifhelpers.potentials.students import BUILDER, LEGACY_BUILDERS


def test_every_shipped_student_has_a_name_a_small_standalone_file_and_a_description():
    assert set(registry.DEPLOYED) <= set(registry.MODELS)
    assert registry.BEST_STUDENT in registry.DEPLOYED
    assert {"published", "published-legacy"} <= set(registry.model_names())
    for name, file in registry.DEPLOYED.items():
        path = registry.MODELS_DIR / file
        assert path.is_file(), name
        assert path.stat().st_size < 2_000_000, name  # the repository stays lean
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        model = ckpt["hyper_parameters"]["info_dict"]["training_module"]["model"]
        # no reference to a parent checkpoint that only existed on the training machine
        assert model["_target_"] in ("nequip.model.NequIPGNNModel", "allegro.model.AllegroModel",
                                     BUILDER, *LEGACY_BUILDERS), name
        assert model["type_names"] == ["H", "C", "N", "Zn"] or "chemical_symbols" in str(
            model["type_names"]), name


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="no shipped student 'mace'.*nequip-w32m"):
        registry.deployed_model("mace")
    with pytest.raises(FileNotFoundError, match="neither a model name .*published.*nequip-w32m"):
        registry.load_calculator("mace")


def test_a_student_of_the_lineage_restored_from_git_is_found_by_name(tmp_path):
    # a student no longer shipped is looked up as student_<name>.ckpt in the models folder
    with pytest.raises(ValueError, match="student_nequip_w32k.ckpt"):
        registry.deployed_model("nequip-w32k", models_dir=tmp_path)


def test_checkpoints_naming_former_module_paths_still_build():
    """The shipped w32m checkpoint names zifhelpers.deepening (the class's former home)."""
    import importlib

    from zifhelpers.potentials import checkpoints, students

    assert importlib.import_module("zifhelpers.deepening") is students
    assert importlib.import_module("zifhelpers.repulsion").SwitchedZBL.__module__.endswith(
        "potentials.repulsion")
    path = registry.MODELS_DIR / registry.DEPLOYED[registry.BEST_STUDENT]
    config = checkpoints.checkpoint_model_config(path)
    model = checkpoints.build_model(config)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params > 10_000


def test_two_processes_asking_for_a_student_at_once_compile_it_once(tmp_path, monkeypatch):
    """pytest -n 2 on a fresh machine: both workers want the student; one compiles, one waits."""
    import threading
    import time

    monkeypatch.setenv("ZIFHELPERS_CACHE", str(tmp_path))
    calls = []

    def slow_compile(ckpt, out, **kwargs):
        calls.append(out)
        time.sleep(0.3)  # long enough for the other caller to arrive meanwhile
        out.write_bytes(b"compiled")

    monkeypatch.setattr(registry, "compile_model", slow_compile)
    paths = []
    threads = [threading.Thread(target=lambda: paths.append(registry.deployed_model()))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(paths) == 2 and paths[0] == paths[1]
    assert paths[0].read_bytes() == b"compiled" and paths[0].parent == tmp_path / "students"


def test_a_student_is_built_once_per_thread_count(tmp_path, monkeypatch):
    """A build for one thread has no OpenMP loop: a two-thread process must not be handed it."""
    monkeypatch.setenv("ZIFHELPERS_CACHE", str(tmp_path))
    built = {}

    def fake_compile(ckpt, out, threads=None, **kwargs):
        built[out.name] = threads
        out.write_bytes(b"compiled")

    monkeypatch.setattr(registry, "compile_model", fake_compile)
    before = torch.get_num_threads()
    try:
        paths = {}
        for n in (1, 2, 1):
            torch.set_num_threads(n)
            paths.setdefault(n, set()).add(registry.deployed_model())
    finally:
        torch.set_num_threads(before)
    (one,), (two,) = paths[1], paths[2]
    assert "-t1" in one.name and "-t2" in two.name
    assert sorted(built.values()) == [1, 2]  # the third call found the first's build
