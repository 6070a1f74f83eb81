"""The one module of the nequip 0.5.6 architecture that nequip 0.19 lacks.

Kept apart from :mod:`zifhelpers.legacy_arch` and importing only torch,
e3nn's ``Irreps`` and nequip's data keys and graph-module mixin (as
``nequip.nn`` modules do), so that ``torch.package`` can intern it into a
nequip package file without pulling in nequip's training stack.
"""

from __future__ import annotations

import torch
from e3nn.o3._irreps import Irreps
from nequip.data import AtomicDataDict
from nequip.nn._graph_mixin import GraphModuleMixin

__all__ = ["OneHotTypeEncoding"]


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
