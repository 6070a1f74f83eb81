"""Deepen a trained NequIP student by one interaction layer without changing what it predicts.

A student at the capacity of its architecture needs more layers, and training
a deeper network from scratch costs days on a CPU. :func:`insert_residual_layer`
instead inserts a new convolution layer after layer ``k`` of a trained
checkpoint as a residual update, ``x <- x + f(x)``, with the output weights of
``f`` (the second linear and the self-connection) set to zero. Then ``f(x) = 0``
exactly (the gate nonlinearity maps zero to zero), so the deeper model predicts
the parent's energies, forces and stress to round-off, while the gradients on
the zeroed weights are not zero: fine-tuning starts from the parent's accuracy
and uses the new layer from the first step. This is the zero-initialised
residual block of Goyal et al., arXiv:1706.02677 (2017), applied to
growing a network as in Net2Net (Chen, Goodfellow and Shlens, ICLR 2016).

nequip 0.19's ``NequIPGNNModel`` can make every hidden layer residual or none
(``convnet_resnet``), not a chosen one, and the parent's layers were trained
without a residual; :func:`ResidualNequIPGNNModel` is that model with a list of
residual layers, usable as a ``_target_`` in nequip configs (so
``nequip-compile``, ``ModelFromCheckpoint`` and ``NequIPCalculator`` rebuild it).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Sequence
from pathlib import Path

from nequip.data import AtomicDataDict
from nequip.model import NequIPGNNModel
from nequip.model.utils import model_builder

BUILDER = "zifhelpers.deepening.ResidualNequIPGNNModel"
_LAYER = re.compile(r"(^|\.)layer(\d+)_convnet\.")
# the weights that make a convolution layer's output: zero them and the layer adds nothing
_OUTPUT_WEIGHTS = ("conv.linear_2.weight", "conv.linear_2.bias", "conv.sc.weight")


@model_builder
def ResidualNequIPGNNModel(residual_layers: Sequence[int] = (), fused_tensor_product: bool = False,
                           **kwargs):
    """``nequip.model.NequIPGNNModel`` whose layers ``residual_layers`` add their input to their output.

    Parameters
    ----------
    residual_layers
        Indices (from 0) of the convolution layers that become ``x + f(x)``.
        Each must map the hidden features onto themselves (not the first layer,
        which embeds the species, nor the last, which outputs scalars only).
    fused_tensor_product
        Compute each layer's edge tensor product and scatter with
        :class:`zifhelpers.legacy_nn.FusedTensorProductScatter` (the same
        function as nequip's e3nn-based one, regrouped into a few large
        operations that AOT Inductor compiles into faster CPU code). Same
        parameters and state dict; the outputs agree to float32 round-off.
        For inference (``training.compile_model(..., fused_tensor_product=True)``).
    **kwargs
        Everything ``NequIPGNNModel`` takes (``num_layers``, ``l_max``,
        ``num_features``, ``seed``, ``model_dtype``, ``type_names``, ...).

    Raises
    ------
    ValueError
        For a layer index out of range or a layer whose input and output
        features differ.
    """
    model = NequIPGNNModel(**kwargs)
    layers = {int(m.group(2)): module for name, module in model.named_modules()
              if (m := re.search(r"(^|\.)layer(\d+)_convnet$", name))}
    for i in residual_layers:
        i = int(i)
        if i not in layers:
            raise ValueError(f"residual_layers: no layer {i} in a {len(layers)}-layer model "
                             f"(expected 1..{len(layers) - 2})")
        layer = layers[i]
        feat_in = layer.irreps_in[AtomicDataDict.NODE_FEATURES_KEY]
        feat_out = layer.irreps_out[AtomicDataDict.NODE_FEATURES_KEY]
        if feat_in != feat_out:
            raise ValueError(f"residual_layers: layer {i} maps {feat_in} onto {feat_out}; "
                             f"a residual layer must keep its features (expected 1..{len(layers) - 2})")
        layer.resnet = True
    if fused_tensor_product:
        from nequip.nn._tp_scatter_base import TensorProductScatter
        from nequip.nn.model_modifier_utils import replace_submodules

        from .legacy_arch import _fused

        replace_submodules(model, TensorProductScatter, _fused)
    return model


def _shifted(name: str, after_layer: int) -> tuple[str | None, bool]:
    """Parent parameter name of a deepened model's parameter, and whether it is new."""
    m = _LAYER.search(name)
    if m is None:
        return name, False
    j = int(m.group(2))
    if j == after_layer + 1:
        return None, True
    old = j if j <= after_layer else j - 1
    return name[: m.start(2)] + str(old) + name[m.end(2):], False


def insert_residual_layer(checkpoint: str | os.PathLike, output: str | os.PathLike,
                          after_layer: int = 1, seed: int | None = None) -> Path:
    """Copy a NequIP checkpoint with a zero-initialised residual layer inserted after ``after_layer``.

    Parameters
    ----------
    checkpoint
        A nequip 0.19 training checkpoint of a ``NequIPGNNModel`` (or of a
        model this function deepened before; a fine-tune is followed to its
        root config). Its EMA weights, when present, are the ones copied (they
        are what nequip deploys).
    output
        The new checkpoint: standalone, with model ``_target_`` :data:`BUILDER`,
        ``num_layers`` one more, and no optimizer state (the shapes changed);
        fine-tune it with ``TrainingSpec(init_from=output)``.
    after_layer
        The new layer goes after this one (0-based); it must lie before the last
        layer, which outputs scalars.
    seed
        Seed of the new layer's other weights (default: the model's seed + 1).

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    ValueError
        For an architecture other than NequIP, a position outside
        ``0 .. num_layers - 2``, or weights that do not fit the rebuilt model.
    """
    import torch

    from .training import (
        _build_model,
        _deployed_weights,
        _root_model_config,
        _save_with_model,
    )

    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    root = copy.deepcopy(_root_model_config(ckpt, checkpoint))
    if root.get("_target_") not in ("nequip.model.NequIPGNNModel", BUILDER):
        raise ValueError(f"{checkpoint}: model _target_ {root.get('_target_')!r}; expected "
                         f"nequip.model.NequIPGNNModel or {BUILDER}")
    num_layers = int(root.get("num_layers", 4))
    if not 0 <= after_layer <= num_layers - 2:
        raise ValueError(f"after_layer={after_layer}: expected 0..{num_layers - 2} for a "
                         f"{num_layers}-layer model (the last layer outputs scalars only)")

    state = ckpt["state_dict"]
    prefix, old = _deployed_weights(state, root, checkpoint)
    has_ema = any(k.startswith("ema.ema_weight_") for k in state)

    new_cfg = copy.deepcopy(root)
    new_cfg["_target_"] = BUILDER
    new_cfg["num_layers"] = num_layers + 1
    kept = [int(i) + (1 if int(i) > after_layer else 0) for i in root.get("residual_layers", [])]
    new_cfg["residual_layers"] = sorted(kept + [after_layer + 1])
    new_cfg["seed"] = int(root.get("seed", 0)) + 1 if seed is None else int(seed)
    new_model = _build_model(new_cfg)

    params = []
    with torch.no_grad():
        for name, p in new_model.named_parameters():
            src, fresh = _shifted(name, after_layer)
            if fresh:
                if name.split("_convnet.", 1)[1] in _OUTPUT_WEIGHTS:
                    p.zero_()
            else:
                if src not in old or old[src].shape != p.shape:
                    raise ValueError(f"{checkpoint}: no weight {src} of shape {tuple(p.shape)} "
                                     f"for {name} of the deepened model")
                p.copy_(old[src])
            params.append(p.detach().clone())

    out_state = {k: v for k, v in state.items()
                 if not k.startswith(prefix) and not k.startswith("ema.ema_weight_")}
    out_state.update({prefix + k: v for k, v in new_model.state_dict().items()})
    if has_ema:
        out_state.update({f"ema.ema_weight_{i}": p for i, p in enumerate(params)})
    ckpt["state_dict"] = out_state
    for key in ("optimizer_states", "lr_schedulers"):
        ckpt.pop(key, None)
    return _save_with_model(ckpt, new_cfg, output)
