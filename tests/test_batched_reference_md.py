"""tools/batched_reference_md.py: the torch-only batched MD used on a borrowed GPU."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms

from zifhelpers.analysis.neighbors import neighbor_list

_SPEC = importlib.util.spec_from_file_location(
    "batched_reference_md", Path(__file__).resolve().parents[1] / "tools" / "batched_reference_md.py")
bmd = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bmd)


def _replicas(crystal, strains, rattle=0.05, seed=0):
    rng = np.random.default_rng(seed)
    pos, cells = [], []
    for s in strains:
        a = crystal.copy()
        a.set_cell(crystal.cell.array * (1 + s) ** (1 / 3), scale_atoms=True)
        pos.append(a.positions + rng.normal(scale=rattle, size=a.positions.shape))
        cells.append(a.cell.array)
    return np.array(pos), np.array(cells)


def test_neighbour_graph_is_vesins_for_every_replica(crystal):
    pos, cells = _replicas(crystal, [-0.045, 0.03])
    pos[:, :7] += cells[:, 0][:, None, :] * 1.3  # atoms outside the cell are wrapped
    pos_t, cell_t = torch.tensor(pos), torch.tensor(cells)
    edge_index, shift = bmd.neighbour_graph(torch, pos_t, cell_t, torch.linalg.inv(cell_t),
                                            6.0, len(crystal))
    n = len(crystal)
    for r in range(2):
        atoms = Atoms(numbers=crystal.numbers, positions=pos[r], cell=cells[r], pbc=True)
        i, j, s = neighbor_list(atoms, 6.0)
        keep = (edge_index[0] // n == r).numpy()
        ours = sorted(zip((edge_index[0][keep] % n).tolist(), (edge_index[1][keep] % n).tolist(),
                          map(tuple, shift[keep].round().int().tolist()), strict=True))
        assert ours == sorted(zip(i.tolist(), j.tolist(), map(tuple, s.tolist()), strict=True))


@pytest.mark.slow
def test_run_and_analyse_on_a_cpu(tmp_path, crystal, published32):
    """Two replicas, one step: per-replica pressures match the calculator; files are complete."""
    from zifhelpers.data.public import published_model_path

    pos, cells = _replicas(crystal, [-0.03, 0.03], rattle=0.0)
    np.savez(tmp_path / "in.npz", positions=pos, cells=cells, numbers=crystal.numbers,
             labels=np.array(["crystal -0.030", "crystal +0.030"]))
    out = tmp_path / "out.npz"
    bmd.main(["run", "--input", str(tmp_path / "in.npz"), "--model", str(published_model_path()),
              "--output", str(out), "--steps", "1", "--save-every", "1", "--frame-every", "1",
              "--device", "cpu"])
    data = np.load(out)
    meta = json.loads(str(data["meta"]))
    assert meta["finished"] and meta["steps"] == 1 and meta["hydrogen_mass_amu"] == 4.0
    assert data["pressure_GPa"].shape == (1, 2) and data["frames"].shape == (1, 2, len(crystal), 3)
    # the static pressure of each replica (first step ~ the starting cell) has the
    # calculator's sign and size: compressed positive, expanded negative
    for r, sign in ((0, 1), (1, -1)):
        atoms = Atoms(numbers=crystal.numbers, positions=pos[r], cell=cells[r], pbc=True)
        atoms.calc = published32
        static = -atoms.get_stress()[:3].mean() * bmd.EV_PER_A3_TO_GPA
        assert np.sign(static) == sign
        assert data["pressure_GPa"][0, r] == pytest.approx(static, abs=0.6)
    with pytest.raises(ValueError, match="too few"):
        bmd.main(["analyse", "--input", str(out), "--output", str(tmp_path / "r.json")])
