"""The one module of the nequip 0.5.6 architecture that nequip 0.19 lacks.

Kept apart from :mod:`zifhelpers.potentials.legacy_model` and importing only torch,
e3nn's ``Irreps`` and nequip's data keys and graph-module mixin (as
``nequip.nn`` modules do), so that ``torch.package`` can intern it into a
nequip package file without pulling in nequip's training stack.
"""

from __future__ import annotations

import math

import torch
from e3nn.o3._irreps import Irreps
from nequip.data import AtomicDataDict
from nequip.nn._graph_mixin import GraphModuleMixin
from nequip.nn._tp_scatter_base import TensorProductScatter
from nequip.nn.utils import scatter

__all__ = ["OneHotTypeEncoding", "FusedTensorProductScatter"]


class OneHotTypeEncoding(GraphModuleMixin, torch.nn.Module):
    """Node attributes and initial features = one-hot atom types (nequip 0.5)."""

    num_types: int

    def __init__(self, type_names, irreps_in=None):
        super().__init__()
        self.num_types = len(type_names)
        self._output_dtype = torch.get_default_dtype()  # the model dtype
        irreps = Irreps([(self.num_types, (0, 1))])
        self._init_irreps(irreps_in=irreps_in, irreps_out={
            AtomicDataDict.NODE_ATTRS_KEY: irreps,
            AtomicDataDict.NODE_FEATURES_KEY: irreps})

    def forward(self, data):
        types = data[AtomicDataDict.ATOM_TYPE_KEY].view(-1)
        one_hot = torch.nn.functional.one_hot(types, num_classes=self.num_types).to(
            self._output_dtype)
        data[AtomicDataDict.NODE_ATTRS_KEY] = one_hot
        data[AtomicDataDict.NODE_FEATURES_KEY] = one_hot
        return data


class FusedTensorProductScatter(TensorProductScatter):
    """Edge tensor product + scatter of an interaction block, in a few large ops.

    Computes exactly what nequip's ``TensorProductScatter`` computes with
    e3nn's ``TensorProduct`` (weighted ``"uvu"`` paths with per-edge weights,
    one output block per path, summed onto the receiving atom), arranged for
    a CPU. Per input irrep, the edge attributes are contracted with the
    Wigner 3j symbols and path weights of all its paths (one small ``mm``
    with a constant matrix) and the gathered input features are multiplied
    by these per-edge matrices, written as a sum of d1 broadcast products
    (d1 = 2 l1 + 1 <= 5), which Inductor fuses with what follows; ``bmm`` on
    such small matrices was 5-10 % slower after the backported Inductor fix
    of :mod:`zifhelpers.potentials.inductor`, and much slower before it. The paths are
    grouped by (input irrep, output irrep); each group is a slice of those
    products, scaled by its radial weights and summed onto atoms, where the
    (u, path) axes are swapped into e3nn's order. The groups tile e3nn's
    sorted output blocks in order, so the result is a concatenation. e3nn
    instead runs several small kernels per path (15 paths per layer in the
    published ZIF-4 model): after AOT Inductor, this module makes the
    converted model 2 to 2.5 times as fast on 2 CPU cores.

    Input features are gathered with ``torch.gather`` on an expanded index
    rather than with ``index_select``: the gradient is then a ``scatter_add``,
    which Inductor leaves to ATen's kernel, instead of an ``index_put`` that
    it compiles with one atomic add per element (15 % of the run time of the
    compiled published model on 2 CPU cores).

    The constants are float buffers only: an earlier version that gathered
    with constant integer ``index_select`` indices crashed (SIGSEGV) in
    nequip-compile's check run of the AOT Inductor build (torch 2.13, CPU).
    ``self.tp`` is kept (unused) so that the state dict is the same with and
    without this module, as nequip's own accelerated variants do.
    """

    def __init__(self, feature_irreps_in, irreps_edge_attr, irreps_mid, instructions) -> None:
        super().__init__(feature_irreps_in, irreps_edge_attr, irreps_mid, instructions)
        from e3nn.o3._wigner import wigner_3j

        irreps1 = Irreps(feature_irreps_in)
        irreps2 = Irreps(irreps_edge_attr)
        irreps_out = Irreps(irreps_mid)
        in1_off = _offsets([mul * ir.dim for mul, ir in irreps1])
        in2_off = _offsets([mul * ir.dim for mul, ir in irreps2])
        w_off = _offsets([math.prod(ins.path_shape) if ins.has_weight else 0
                          for ins in self.tp.instructions])

        groups: dict[tuple[int, object], list[int]] = {}  # (i_in1, ir_out) -> paths
        for k, ins in enumerate(self.tp.instructions):
            if ins.connection_mode != "uvu" or not ins.has_weight:
                raise ValueError("FusedTensorProductScatter supports weighted 'uvu' paths "
                                 f"only, found {ins.connection_mode!r} "
                                 f"(has_weight={ins.has_weight})")
            if irreps2[ins.i_in2].mul != 1:
                raise ValueError("FusedTensorProductScatter needs multiplicity-1 edge "
                                 f"attributes, found {irreps2}")
            groups.setdefault((ins.i_in1, irreps_out[ins.i_out].ir), []).append(k)
        # the groups, each in e3nn's output order, must tile e3nn's output blocks
        # in order (true of nequip's sorted interaction-block paths): the output
        # is then a concatenation, with no permutation to undo on the backward pass
        ordered = sorted(groups.values(), key=lambda ks: self.tp.instructions[ks[0]].i_out)
        ordered = [sorted(ks, key=lambda k: self.tp.instructions[k].i_out) for ks in ordered]
        blocks = [self.tp.instructions[k].i_out for ks in ordered for k in ks]
        if blocks != list(range(len(irreps_out))):
            raise ValueError("FusedTensorProductScatter: the paths grouped by (input, "
                             f"output irrep) do not tile the output {irreps_mid} in order "
                             f"(blocks {blocks})")

        # per group: (input block, first column there, mul, weight starts of its
        # paths, d3); per input block: (input start, mul, d1, columns). The
        # groups' Wigner 3j matrices are concatenated per input block: one mm and
        # one product per input irrep, each group a slice of its block's columns
        self.groups: list[tuple[int, int, int, list[int], int]] = []
        per_block: dict[int, list[torch.Tensor]] = {}  # i_in1 -> group matrices
        for ks in ordered:
            i1 = self.tp.instructions[ks[0]].i_in1
            mul, ir1 = irreps1[i1]
            d3 = irreps_out[self.tp.instructions[ks[0]].i_out].ir.dim
            cg = torch.zeros(in2_off[-1], ir1.dim, len(ks), d3, dtype=torch.float64)
            for p, k in enumerate(ks):
                ins = self.tp.instructions[k]
                ir2 = irreps2[ins.i_in2].ir
                ir3 = irreps_out[ins.i_out].ir
                w3j = wigner_3j(ir1.l, ir2.l, ir3.l, dtype=torch.float64)  # (d1, d2, d3)
                cg[in2_off[ins.i_in2]:in2_off[ins.i_in2 + 1], :, p, :] = (
                    ins.path_weight * w3j.permute(1, 0, 2))
            mats = per_block.setdefault(i1, [])
            first = sum(mat.shape[-1] for mat in mats)
            mats.append(cg.reshape(in2_off[-1], ir1.dim, len(ks) * d3))
            self.groups.append((list(per_block).index(i1), first, mul,
                                [w_off[k] for k in ks], d3))
        self.inputs: list[tuple[int, int, int, int]] = []
        for b, (i1, mats) in enumerate(per_block.items()):
            cg = torch.cat(mats, dim=2)
            self.register_buffer(f"cg{b}", cg.reshape(in2_off[-1], -1).to(self.model_dtype),
                                 persistent=False)
            self.inputs.append((in1_off[i1], irreps1[i1].mul, irreps1[i1].ir.dim, cg.shape[2]))

    def forward(self, x, edge_attr, edge_weight, edge_dst, edge_src):
        num_edges = edge_attr.size(0)
        num_nodes = x.size(0)
        products = []  # per input block: (edges, mul, columns of all its groups)
        for b, (start, mul, d1, columns) in enumerate(self.inputs):
            source = torch.gather(x[:, start:start + mul * d1], 0, edge_src.unsqueeze(-1)
                                  .expand(num_edges, mul * d1)).reshape(num_edges, mul, d1)
            m = torch.mm(edge_attr, getattr(self, f"cg{b}")).reshape(num_edges, d1, columns)
            product = source[:, :, 0:1] * m[:, 0:1, :]  # (edges, mul, columns)
            for i in range(1, d1):
                product = product + source[:, :, i:i + 1] * m[:, i:i + 1, :]
            products.append(product)
        nodes = []
        for b, first, mul, w_starts, d3 in self.groups:
            paths = len(w_starts)
            y = products[b][:, :, first:first + paths * d3].reshape(num_edges, mul, paths, d3)
            w = torch.stack([edge_weight[:, i:i + mul] for i in w_starts], dim=2)
            y = (y * w.unsqueeze(-1)).reshape(num_edges, mul * paths * d3)
            node = scatter(y, edge_dst, dim=0, dim_size=num_nodes)
            # e3nn's blocks are (path, u, m3): transpose on atoms, not on edges
            nodes.append(node.reshape(num_nodes, mul, paths, d3).transpose(1, 2).reshape(
                num_nodes, paths * mul * d3))
        return torch.cat(nodes, dim=1)


def _offsets(sizes: list[int]) -> list[int]:
    out = [0]
    for size in sizes:
        out.append(out[-1] + size)
    return out
