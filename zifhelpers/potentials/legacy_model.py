"""The nequip 0.5.6 ``EnergyModel`` architecture, built from nequip 0.19 modules.

Built from nequip 0.19 modules plus one of ours,
:class:`zifhelpers.potentials.tensor_products.OneHotTypeEncoding`, which imports only what a
nequip package file may intern: a converted model saved by
:func:`zifhelpers.potentials.convert.package_converted` loads, compiles and runs with
nequip alone, without this compendium.
See :mod:`zifhelpers.potentials.convert` for the weight mapping and the verification.

References: S. Batzner et al., Nat. Commun. 13, 2453 (2022) (NequIP).
"""

from __future__ import annotations

import math

from e3nn.o3 import Irreps
from nequip.data import AtomicDataDict
from nequip.model.energy_modules import _append_energy_modules
from nequip.model.utils import model_builder
from nequip.nn import (
    ApplyFactor,
    AtomwiseLinear,
    ConvNetLayer,
    ForceStressOutput,
    PerTypeScaleShift,
    SequentialGraphNetwork,
)
from nequip.nn._tp_scatter_base import TensorProductScatter
from nequip.nn.embedding import (
    BesselEdgeLengthEncoding,
    EdgeLengthNormalizer,
    PolynomialCutoff,
    SphericalHarmonicEdgeAttrs,
)
from nequip.nn.model_modifier_utils import replace_submodules
from nequip.utils.dtype import torch_default_dtype

from .tensor_products import FusedTensorProductScatter, OneHotTypeEncoding

__all__ = ["OneHotTypeEncoding", "LegacyNequIPModel"]


@model_builder
def LegacyNequIPModel(
    r_max: float,
    type_names: list[str],
    feature_irreps_hidden: str,
    irreps_edge_sh: str,
    num_layers: int,
    chemical_embedding_irreps_out: str,
    conv_to_output_hidden_irreps_out: str,
    num_basis: int,
    polynomial_cutoff_p: int,
    invariant_layers: int,
    invariant_neurons: int,
    avg_num_neighbors: float | None,
    per_type_energy_scales: dict[str, float],
    per_type_energy_shifts: dict[str, float],
    scalar_last_layer: bool = False,
    fused_tensor_product: bool = False,
):
    """nequip model builder: the nequip 0.5.6 ``EnergyModel`` architecture.

    Takes ``seed``, ``model_dtype``, ``type_names``, ``r_max`` and the
    architecture keys below (what :func:`zifhelpers.potentials.convert.legacy_builder_kwargs`
    returns). Weights are random until
    :func:`zifhelpers.potentials.convert.convert_legacy_model` maps the legacy ones in.

    ``scalar_last_layer=True`` builds the last interaction block with scalar
    outputs only. The readout of nequip 0.5.6 (``conv_to_output_hidden``, a
    linear map to scalars) reads only the scalar channels of the last block,
    so its vector and tensor outputs (and the tensor-product paths, gates and
    self-connection weights that make them) are dead computation; dropping
    them changes no output and saves about a sixth of the work.

    ``fused_tensor_product=True`` computes each block's edge tensor product
    and scatter with :class:`zifhelpers.potentials.tensor_products.FusedTensorProductScatter`
    (the same function as e3nn's, regrouped into a few large ops; 2 to 2.5
    times as fast on a CPU after AOT Inductor). The state dict is the same
    either way.
    """
    one_hot = OneHotTypeEncoding(type_names=type_names)
    spharm = SphericalHarmonicEdgeAttrs(irreps_edge_sh=irreps_edge_sh,
                                        irreps_in=one_hot.irreps_out)
    edge_norm = EdgeLengthNormalizer(r_max=r_max, type_names=type_names,
                                     irreps_in=spharm.irreps_out)
    bessel = BesselEdgeLengthEncoding(
        num_bessels=num_basis, trainable=True, cutoff=PolynomialCutoff(polynomial_cutoff_p),
        irreps_in=edge_norm.irreps_out)
    factor = ApplyFactor(in_field=AtomicDataDict.EDGE_EMBEDDING_KEY,
                         factor=2 * math.pi / (r_max * r_max), irreps_in=bessel.irreps_out)
    embed = AtomwiseLinear(irreps_in=factor.irreps_out,
                           irreps_out=chemical_embedding_irreps_out)
    modules = {"one_hot": one_hot, "spharm": spharm, "edge_norm": edge_norm,
               "bessel_encode": bessel, "factor": factor, "chemical_embedding": embed}
    prev = embed.irreps_out

    scalars = str(Irreps([(m, ir) for m, ir in Irreps(feature_irreps_hidden) if ir.l == 0]))
    for i in range(num_layers):
        last = scalar_last_layer and i == num_layers - 1
        layer = ConvNetLayer(
            irreps_in=prev,
            feature_irreps_hidden=scalars if last else feature_irreps_hidden,
            convolution_kwargs={
                "radial_mlp_depth": invariant_layers,
                "radial_mlp_width": invariant_neurons,
                "use_sc": True,
                "is_first_layer": i == 0,
                "avg_num_neighbors": avg_num_neighbors,
                "type_names": type_names,
            },
            resnet=False,
        )
        prev = layer.irreps_out
        modules[f"layer{i}_convnet"] = layer
    hidden = AtomwiseLinear(irreps_in=prev, irreps_out=conv_to_output_hidden_irreps_out)
    out = AtomwiseLinear(irreps_in=hidden.irreps_out, irreps_out="1x0e",
                         out_field=AtomicDataDict.PER_ATOM_ENERGY_KEY)
    scale_shift = PerTypeScaleShift(
        type_names=type_names, field=AtomicDataDict.PER_ATOM_ENERGY_KEY,
        out_field=AtomicDataDict.PER_ATOM_ENERGY_KEY,
        scales=per_type_energy_scales, shifts=per_type_energy_shifts,
        irreps_in=out.irreps_out)
    modules.update({"conv_to_output_hidden": hidden, "output_hidden_to_scalar": out,
                    "per_type_energy_scale_shift": scale_shift})
    network = SequentialGraphNetwork(modules)
    if fused_tensor_product:
        network = replace_submodules(network, TensorProductScatter, _fused)
    energy = _append_energy_modules(model=network,
                                    type_names=type_names, pair_potential=None)
    return ForceStressOutput(energy, True)


def _fused(old: TensorProductScatter) -> FusedTensorProductScatter:
    with torch_default_dtype(old.model_dtype):
        new = FusedTensorProductScatter(old.feature_irreps_in, old.irreps_edge_attr,
                                        old.irreps_mid, old.instructions)
    new.tp = old.tp  # same (persistent) buffers: same state dict
    return new
