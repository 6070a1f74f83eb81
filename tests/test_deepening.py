"""Inserting a zero-initialised residual layer: same predictions, then it trains."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import copper_spec  # tests/ is on sys.path (pytest rootdir conftest)

from zifhelpers import training
from zifhelpers.potentials import checkpoints
from zifhelpers.potentials.students import BUILDER, ResidualNequIPGNNModel
from zifhelpers.training.surgery import insert_residual_layer

pytestmark = pytest.mark.slow


def _predict(path, frames):
    from nequip.integrations.ase import NequIPCalculator

    calc = NequIPCalculator._from_saved_model(str(path), device="cpu")
    out = []
    for atoms in frames:
        atoms = atoms.copy()
        atoms.calc = calc
        out.append((atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()))
    return out


def _assert_same(a, b, atol):
    for (e1, f1, s1), (e2, f2, s2) in zip(a, b, strict=True):
        assert abs(e1 - e2) < atol
        np.testing.assert_allclose(f1, f2, rtol=0, atol=atol)
        np.testing.assert_allclose(s1, s2, rtol=0, atol=atol)


def _new_layer_output_weight(path, layer):
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    state = ckpt["state_dict"]
    return next(v for k, v in state.items()
                if k.endswith(f"layer{layer}_convnet.conv.linear_2.weight"))


def test_deepened_student_predicts_as_its_parent_then_learns(tmp_path, copper_sets):
    _, paths, frames = copper_sets
    test_frames = frames[20:23]
    parent = training.train(copper_spec(paths, 2), tmp_path / "parent")
    deep = insert_residual_layer(parent, tmp_path / "deep.ckpt", after_layer=0)

    model = torch.load(deep, map_location="cpu", weights_only=False)["hyper_parameters"]["model"]
    assert model["_target_"] == BUILDER
    assert model["num_layers"] == 3 and model["residual_layers"] == [1]
    assert float(_new_layer_output_weight(deep, 1).abs().max()) == 0.0
    before = _predict(parent, test_frames)
    _assert_same(_predict(deep, test_frames), before, atol=1e-5)  # eV, eV/Å, eV/Å³

    # the same weights with fused tensor products (what compile_model builds for a CPU)
    for source in (parent, deep):
        fused = checkpoints.fused_checkpoint(source, tmp_path / f"{source.stem}_fused.ckpt")
        built = checkpoints.build_model(checkpoints.checkpoint_model_config(fused))
        assert any(type(m).__name__ == "FusedTensorProductScatter" for m in built.modules())
        _assert_same(_predict(fused, test_frames), before, atol=1e-5)
    with pytest.raises(ValueError, match="not a package file"):
        checkpoints.fused_checkpoint(tmp_path / "model.nequip.zip", tmp_path / "out.ckpt")
    loaded = torch.load(parent, map_location="cpu", weights_only=False)
    model = dict(loaded["hyper_parameters"]["model"], _target_="allegro.model.AllegroModel")
    other = checkpoints.save_with_model(loaded, model, tmp_path / "allegro.ckpt")
    with pytest.raises(ValueError, match="needs a NequIP model.*AllegroModel"):
        checkpoints.fused_checkpoint(other, tmp_path / "out.ckpt")

    # fine-tuning uses the new layer: its zeroed output weights move, the predictions change
    tuned = training.train(replace(copper_spec(paths, 2), init_from=str(deep)), tmp_path / "tuned")
    assert float(_new_layer_output_weight(tuned, 1).abs().max()) > 1e-4
    after = _predict(tuned, test_frames)
    assert max(abs(a[0] - b[0]) for a, b in zip(after, before, strict=True)) > 1e-6

    # deepening a fine-tune follows it to its root config and keeps the earlier residual layer
    deeper = insert_residual_layer(tuned, tmp_path / "deeper.ckpt", after_layer=1)
    model = torch.load(deeper, map_location="cpu", weights_only=False)["hyper_parameters"]["model"]
    assert model["num_layers"] == 4 and model["residual_layers"] == [1, 2]
    _assert_same(_predict(deeper, test_frames), after, atol=1e-5)

    with pytest.raises(ValueError, match=r"after_layer=1: expected 0..0 for a 2-layer model"):
        insert_residual_layer(parent, tmp_path / "bad.ckpt", after_layer=1)


def test_residual_layers_must_keep_their_features():
    from nequip.utils.global_state import set_global_state

    set_global_state()
    kwargs = dict(seed=0, model_dtype="float32", type_names=["Cu"], r_max=4.0, num_layers=3,
                  l_max=1, parity=False, num_features=4, radial_mlp_width=8,
                  per_type_energy_scales=1.0,
                  per_type_energy_shifts=0.0, avg_num_neighbors=10.0)
    layers = [m for n, m in ResidualNequIPGNNModel(residual_layers=[1], **kwargs).named_modules()
              if n.endswith("_convnet")]
    assert [bool(m.resnet) for m in layers] == [False, True, False]
    with pytest.raises(ValueError, match=r"layer 0 maps .* onto .*; a residual layer must keep"):
        ResidualNequIPGNNModel(residual_layers=[0], **kwargs)
    with pytest.raises(ValueError, match=r"no layer 5 in a 3-layer model"):
        ResidualNequIPGNNModel(residual_layers=[5], **kwargs)

