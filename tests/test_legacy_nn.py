"""FusedTensorProductScatter computes exactly e3nn's tensor product + scatter."""

from __future__ import annotations

import pytest
import torch
from e3nn.o3 import Irreps
from nequip.nn._tp_scatter_base import TensorProductScatter
from nequip.utils.dtype import torch_default_dtype

from zifhelpers.potentials.tensor_products import FusedTensorProductScatter


def _interaction_paths(features_in: str, edge_sh: str, features_out: str):
    """The tensor-product paths of a nequip interaction block (as nequip builds them)."""
    fin, sh, fout = Irreps(features_in), Irreps(edge_sh), Irreps(features_out)
    mid, instructions = [], []
    for i, (mul, ir_in) in enumerate(fin):
        for j, (_, ir_edge) in enumerate(sh):
            for ir_out in ir_in * ir_edge:
                if ir_out in fout:
                    instructions.append((i, j, len(mid), "uvu", True))
                    mid.append((mul, ir_out))
    mid, perm, _ = Irreps(mid).sort()
    instructions = [(a, b, perm[c], mode, train) for a, b, c, mode, train in instructions]
    return fin, sh, mid, instructions


CASES = [  # first, middle and (pruned) last block of the published model; odd parity
    ("32x0e", "1x0e+1x1e+1x2e", "32x0e+32x1e+32x2e"),
    ("32x0e+32x1e+32x2e", "1x0e+1x1e+1x2e", "32x0e+32x1e+32x2e"),
    ("32x0e+32x1e+32x2e", "1x0e+1x1e+1x2e", "32x0e"),
    ("8x0e+4x1o+2x2e", "1x0e+1x1o+1x2e", "8x0e+4x1e+3x1o+2x2e"),
]


@pytest.mark.parametrize("irreps", CASES)
def test_fused_equals_e3nn_values_and_gradients(irreps):
    with torch_default_dtype(torch.float64):
        args = _interaction_paths(*irreps)
        reference = TensorProductScatter(*args)
        fused = FusedTensorProductScatter(*args)
    gen = torch.Generator().manual_seed(0)
    nodes, edges = 40, 600
    x = torch.randn(nodes, args[0].dim, generator=gen, dtype=torch.float64)
    attr = torch.randn(edges, args[1].dim, generator=gen, dtype=torch.float64)
    weight = torch.randn(edges, reference.tp.weight_numel, generator=gen, dtype=torch.float64)
    dst = torch.randint(0, nodes, (edges,), generator=gen)
    src = torch.randint(0, nodes, (edges,), generator=gen)
    outs, grads = [], []
    for module in (reference, fused):
        inputs = [t.clone().requires_grad_() for t in (x, attr, weight)]
        out = module(inputs[0], inputs[1], inputs[2], dst, src)
        # a random linear functional of the output: checks every channel's gradient
        probe = torch.randn(out.shape, generator=torch.Generator().manual_seed(1),
                            dtype=torch.float64)
        grads.append(torch.autograd.grad((out * probe).sum(), inputs))
        outs.append(out.detach())
    assert outs[1].shape == (nodes, args[2].dim)
    scale = outs[0].abs().max()
    assert scale > 1.0  # not trivially zero
    assert torch.allclose(outs[1], outs[0], rtol=0, atol=1e-12 * scale)
    for g_ref, g_fused in zip(*grads, strict=True):
        assert torch.allclose(g_fused, g_ref, rtol=0, atol=1e-12 * g_ref.abs().max())


def test_weights_on_the_wrong_paths_are_detected():
    """The comparison above can fail: feeding each path another path's radial
    weights (same shapes) breaks the agreement."""
    with torch_default_dtype(torch.float64):
        args = _interaction_paths(*CASES[1])
        reference = TensorProductScatter(*args)
        fused = FusedTensorProductScatter(*args)
    g = next(i for i, group in enumerate(fused.groups) if len(group[3]) > 1)
    block, first, mul, w_starts, d3 = fused.groups[g]
    fused.groups[g] = (block, first, mul, w_starts[::-1], d3)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(10, args[0].dim, generator=gen, dtype=torch.float64)
    attr = torch.randn(50, args[1].dim, generator=gen, dtype=torch.float64)
    weight = torch.randn(50, reference.tp.weight_numel, generator=gen, dtype=torch.float64)
    idx = torch.randint(0, 10, (2, 50), generator=gen)
    assert not torch.allclose(fused(x, attr, weight, idx[0], idx[1]),
                              reference(x, attr, weight, idx[0], idx[1]), atol=1e-3)


def test_state_dict_is_that_of_the_e3nn_module():
    args = _interaction_paths(*CASES[1])
    assert set(FusedTensorProductScatter(*args).state_dict()) == set(
        TensorProductScatter(*args).state_dict())


def test_unsupported_paths_are_refused_by_name():
    fin, sh, mid, instructions = _interaction_paths(*CASES[0])
    instructions = [(a, b, c, "uvw", t) for a, b, c, _, t in instructions]
    with pytest.raises(ValueError, match="'uvu' paths only, found 'uvw'"):
        FusedTensorProductScatter(fin, sh, Irreps([(32, ir) for _, ir in mid]), instructions)
