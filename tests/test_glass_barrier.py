"""The made glasses' Zn-N barrier from more 300 K sampling (compendium.glass_barrier)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import units
from ase.calculators.lj import LennardJones

from zifhelpers.__main__ import main
from zifhelpers.analysis.structure import EV_TO_KJ_PER_MOL, pair_counts
from zifhelpers.compendium import glass_barrier as gb
from zifhelpers.data.public import load_structure


def _campaign(root, seeds=(0, 1)):
    """A notebook-04 campaign folder of crystal 'glasses' (one per seed)."""
    crystal = load_structure("crystal")
    r, counts = pair_counts([crystal], "Zn", "N", r_max=4.0, bin_width=0.05)
    for seed in seeds:
        res = root / f"04_seed{seed}" / "results"
        res.mkdir(parents=True)
        crystal.write(res / f"04_glass_seed{seed}.extxyz")
        values = {"seed": seed, "potential": "soft", "glass_300K_ps": 0.004, "timestep_fs": 1.0,
                  "hydrogen_mass_amu": 4.0,
                  "ZnN_pair_counts": {"r_A": r.tolist(), "counts": counts.tolist()}}
        (res / "04_melt_quench.json").write_text(json.dumps({"values": values}))
    return counts


def test_counts_of_every_glass_are_pooled_with_the_notebooks(tmp_path):
    notebook = _campaign(tmp_path)
    soft = LennardJones(sigma=0.5, epsilon=1e-4, rc=1.5)
    path = gb.glass_barrier(tmp_path, "smoke", seeds=[0], progress=False, calc=soft)
    v = json.loads(path.read_text())["values"]
    assert v["missing"] == [1]  # seed 1 not run yet: its notebook counts only
    first = np.array(v["glasses"][0]["extension_counts"])
    assert v["glasses"][0]["extension_frames"] == 4  # 0.008 ps at 1 fs, a frame every 2 steps
    assert np.array_equal(v["counts_pooled"], 2 * notebook + first)
    assert v["pooled_ps"] == pytest.approx(0.004 * 2 + 0.008)
    path = gb.glass_barrier(tmp_path, "smoke", seeds=[1], progress=False, calc=soft)
    v = json.loads(path.read_text())["values"]
    second = np.array(v["glasses"][1]["extension_counts"])
    assert v["missing"] == [] and np.array_equal(v["counts_pooled"], 2 * notebook + first + second)
    assert [row["barrier"]["resolved"] for row in v["glasses"]] == [False, False]  # each glass's own
    # a crystal at 300 K never fills the bins between the shells: a bound, higher with more frames
    assert not v["pooled"]["resolved"] and v["pooled"]["err_kJ_mol"] is None
    kt = units.kB * 300 * EV_TO_KJ_PER_MOL
    more = v["pooled"]["lower_bound"] - v["notebook_only"]["lower_bound"]  # both in 0.1 Å bins
    assert more == pytest.approx(kt * np.log(v["pooled"]["count_peak"] / v["notebook_only"]["count_peak"]))
    assert (tmp_path / "md" / "04_glass_barrier" / "seed1" / "summary.json").is_file()
    fig = gb.plot_pooled_pmf(v)
    (bound,) = [line for line in fig.axes[0].lines if line.get_marker() == "^"]
    assert bound.get_ydata()[0] == pytest.approx(v["pooled"]["lower_bound"])
    pmf = fig.axes[0].lines[1].get_ydata()  # the pooled PMF: 0 at the first peak, none where empty
    coarse = gb.coarser(v["r_A"], v["counts_pooled"], 2)[1]  # 0.1 Å bins, as the estimate's
    assert np.nanmin(pmf) == pytest.approx(0.0) and np.isnan(pmf[coarse == 0]).all()
    assert v["barrier_bin_A"] == 0.1 and v["pooled"]["count_peak"] > v["pooled_fine"]["count_peak"]


def test_a_run_that_another_process_finishes_meanwhile_is_pooled(tmp_path, monkeypatch):
    """Two processes, one glass each: the one that ends last pools both."""
    notebook = _campaign(tmp_path)
    md = tmp_path / "md" / "04_glass_barrier"

    def other_process_finishes_seed0(glass, folder, *args, **kw):  # during this process's run
        (md / "seed0").mkdir(parents=True)
        (md / "seed0" / "summary.json").write_text(json.dumps(
            {"r_A": (np.arange(80) * 0.05 + 0.025).tolist(), "counts": [1] * 80, "production_ps": 0.008,
             "n_frames": 4}))
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text((md / "seed0" / "summary.json").read_text())

    monkeypatch.setattr(gb, "glass_pair_counts", other_process_finishes_seed0)
    v = json.loads(gb.glass_barrier(tmp_path, "smoke", seeds=[1], progress=False).read_text())["values"]
    assert v["missing"] == [] and np.array_equal(v["counts_pooled"], 2 * notebook + 2)


def test_resolved_barrier_and_its_error():
    r = np.arange(0.025, 4.0, 0.05)
    counts = np.zeros_like(r)
    counts[np.argmin(abs(r - 2.025))] = 1000
    counts[(r > 2.5) & (r < 3.2)] = 10
    counts[np.argmin(abs(r - 2.725))] = 4  # the emptiest bin
    out = gb.pooled_barrier_estimate(r, counts)
    kt = units.kB * 300 * EV_TO_KJ_PER_MOL
    assert out["resolved"] and out["r_empty_A"] == pytest.approx(2.725)
    assert out["lower_bound"] == pytest.approx(kt * np.log((1000 / 2.025**2) / (4 / 2.725**2)))
    assert out["err_kJ_mol"] == pytest.approx(kt * np.sqrt(1 / 4 + 1 / 1000))


def test_coarser_bins_sum_neighbours():
    r = np.arange(0.025, 0.4, 0.05)  # 8 bins
    r2, c2 = gb.coarser(r, np.arange(8), 2)
    assert np.allclose(r2, [0.05, 0.15, 0.25, 0.35]) and c2.tolist() == [1, 5, 9, 13]
    r3, c3 = gb.coarser(r, np.arange(8), 3)  # the last, shorter group is dropped
    assert c3.tolist() == [3, 12] and len(r3) == 2
    with pytest.raises(ValueError, match="factor >= 1"):
        gb.coarser(r, np.arange(7), 2)


def test_bad_campaigns_are_refused_with_the_reason(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="04_melt_quench.json"):
        gb.campaign_glasses(tmp_path)
    _campaign(tmp_path, seeds=(3,))
    with pytest.raises(ValueError, match=r"seeds \[5\] are not in .*\[3\]"):
        gb.glass_barrier(tmp_path, "smoke", seeds=[5], progress=False)
    with pytest.raises(ValueError, match="profile 'quick' has no 'barrier_extension'"):
        gb.glass_barrier(tmp_path, "quick", progress=False)
    (tmp_path / "04_seed3" / "results" / "04_glass_seed3.extxyz").unlink()
    assert main(["glass-barrier", str(tmp_path), "--no-progress"]) == 2
    assert "04_glass_seed3.extxyz: the glass of" in capsys.readouterr().err
    data = json.loads((tmp_path / "04_seed3" / "results" / "04_melt_quench.json").read_text())
    del data["values"]["ZnN_pair_counts"]
    (tmp_path / "04_seed3" / "results" / "04_melt_quench.json").write_text(json.dumps(data))
    with pytest.raises(KeyError, match="values.ZnN_pair_counts"):
        gb.campaign_glasses(tmp_path)
