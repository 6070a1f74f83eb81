"""The model class every shipped NequIP student is built from.

:func:`ResidualNequIPGNNModel` is nequip 0.19's ``NequIPGNNModel`` with two
additions: a chosen list of residual layers (``x <- x + f(x)``; nequip makes
every hidden layer residual or none), which
:func:`zifhelpers.training.surgery.insert_residual_layer` uses to deepen a
trained student without changing its predictions, and fused edge tensor
products for fast CPU inference
(:class:`zifhelpers.potentials.tensor_products.FusedTensorProductScatter`). It
is usable as a ``_target_`` in nequip configs (:data:`BUILDER`), so
``nequip-compile``, ``ModelFromCheckpoint`` and ``NequIPCalculator`` rebuild it.

Reference: S. Batzner et al., Nat. Commun. 13, 2453 (2022) (NequIP).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from nequip.data import AtomicDataDict
from nequip.model import NequIPGNNModel
from nequip.model.utils import model_builder

#: The ``_target_`` of this model class in nequip configs and checkpoints.
BUILDER = "zifhelpers.potentials.students.ResidualNequIPGNNModel"
#: The same class under its former module path, as the shipped checkpoints name it
#: (resolved by the aliases of :mod:`zifhelpers`).
LEGACY_BUILDERS = ("zifhelpers.deepening.ResidualNequIPGNNModel",)


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
        :class:`zifhelpers.potentials.tensor_products.FusedTensorProductScatter` (the same
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

        from .legacy_model import _fused

        replace_submodules(model, TensorProductScatter, _fused)
    return model


