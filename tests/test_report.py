"""The reproduction report: built from committed results only, never out of date."""

from __future__ import annotations

import json

import pytest

from zifhelpers.compendium import report
from zifhelpers.data.paper import VALUES


def _write(root, rel, record):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def test_committed_report_matches_the_committed_results():
    path, current = report.write_report(check=True)
    assert current, f"{path} is out of date: run `python -m zifhelpers report` and commit it"


def test_rows_verdicts_and_z(tmp_path):
    ms = [report.Measurement("K_crystal", "results/a.json", "fits.K", "fits.dK", "ref", "run A"),
          report.Measurement("cn_mlp_glass", "results/b.json", "v.cn", None, "student", "run B"),
          report.Measurement("K_mlp_glasses", "results/c.json", "v.k", "v.dk", "student", "C"),
          report.Measurement("rho0_crystal", "results/missing.json", "x", None, "ref", "D")]
    _write(tmp_path, "results/a.json", {"fits": {"K": 1.30, "dK": 0.25}})
    _write(tmp_path, "results/b.json", {"v": {"cn": 3.80}, "notes": {"cn_mlp_glass": "too short"}})
    _write(tmp_path, "results/c.json", {"v": {"k": 3.5, "dk": 0.3},
                                        "notes": {"K_mlp_glasses": "too short"}})
    rows = {r["key"]: r for r in report.collect(tmp_path, ms)}
    assert len(rows) == len(VALUES)
    assert rows["K_crystal"]["verdict"] == "agrees"  # 23 % low, target 25 %
    assert rows["K_crystal"]["z"] == pytest.approx((1.30 - 1.69) / 0.25)
    assert rows["cn_mlp_glass"]["verdict"] == "differs"  # 0.13 off, target 0.05
    assert rows["K_mlp_glasses"]["z"] == pytest.approx((3.5 - 3.24) / (0.3**2 + 0.72**2) ** 0.5)
    assert rows["rho0_crystal"]["verdict"] == "not measured"
    text = report.render(list(rows.values()))
    assert "too short" in text and "**differs**" in text and "`results/a.json`" in text
    # one line per distinct note, naming each row it is on
    (line,) = [t for t in text.splitlines() if t.endswith(": too short")]
    assert line == (f"- *{VALUES['K_mlp_glasses'].quantity}*; *{VALUES['cn_mlp_glass'].quantity}*: "
                    "too short")


def test_inside_the_target_with_an_error_wider_than_it_is_undecided(tmp_path):
    """A 20 ps NσT run: K inside ± 30 % of 1.58 GPa, but ± 1.3 GPa cannot tell."""
    ms = [report.Measurement("K_fluct_crystal", "results/a.json", "v.K", "v.dK", "student", "NsT"),
          report.Measurement("E_crystal", "results/a.json", "v.E", "v.dE", "student", "NsT"),
          report.Measurement("G_crystal", "results/a.json", "v.G", "v.dG", "student", "NsT"),
          report.Measurement("nu_crystal", "results/a.json", "v.nu", "v.dnu", "student", "NsT"),
          report.Measurement("K_mlp_glasses", "results/a.json", "v.Kg", "v.dKg", "student", "PV")]
    _write(tmp_path, "results/a.json", {"v": {"K": 1.78, "dK": 1.31, "E": 2.21, "dE": 0.32,
                                              "G": 0.50, "dG": 0.10, "nu": 0.60, "dnu": 0.10,
                                              "Kg": 2.43, "dKg": 1.48}})
    rows = {r["key"]: r for r in report.collect(tmp_path, ms)}
    assert rows["K_fluct_crystal"]["verdict"] == "undecided"  # inside, but window ± 0.47 GPa
    assert rows["E_crystal"]["verdict"] == "agrees"  # -11 %, error 0.32 < window 0.75
    assert rows["G_crystal"]["verdict"] == "differs"  # outside the window, error inside it
    assert rows["nu_crystal"]["verdict"] == "differs"  # error over the window, but z = +3.6
    assert rows["K_mlp_glasses"]["verdict"] == "undecided"  # outside the spread, z = -0.5
    text = report.render(list(rows.values()))
    assert "1 agree, 0 consistent with a bound, 2 undecided, 2 differ," in text


def test_a_results_file_without_the_named_field_is_an_error(tmp_path):
    ms = [report.Measurement("K_crystal", "results/a.json", "fits.K", None, "ref", "run")]
    _write(tmp_path, "results/a.json", {"fits": {"K0": 1.3}})
    with pytest.raises(KeyError, match="results/a.json.*fits.K"):
        report.collect(tmp_path, ms)
    (tmp_path / "results/a.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        report.collect(tmp_path, ms)


def test_check_mode_sees_a_stale_report(tmp_path):
    (tmp_path / "REPRODUCTION.md").write_text("old\n")
    _, current = report.write_report(tmp_path, check=True)
    assert not current
    report.write_report(tmp_path)
    assert report.write_report(tmp_path, check=True)[1]


def test_sampler_checks_are_listed(tmp_path):
    _write(tmp_path, "results/cpu/04_seed0/results/04_melt_quench.json",
           {"notebook": "04", "profile": "cpu", "values": {
               "potential": "nequip-w32m", "reference_on_frames": {
                   "n_frames": 50, "force_mae_mean_meV_A": 31.2, "pressure_ref_mean_GPa": 0.05,
                   "pressure_bias_GPa": -0.02, "pressure_bias_err_GPa": 0.004}}})
    _write(tmp_path, "results/cpu/04_seed0/md/run.json", {"values": {"reference_on_frames": {}}})
    checks = report.sampler_checks(tmp_path)
    assert [c["source"] for c in checks] == ["results/cpu/04_seed0/results/04_melt_quench.json"]
    text = report.render(report.collect(tmp_path, []), checks)
    assert "| nequip-w32m | 50 | 31.2 | +0.050 | -0.020 ± 0.004 |" in text


def test_a_null_value_is_not_measured_with_a_note(tmp_path):
    ms = [report.Measurement("barrier_ZnN_mlp_glass", "results/c.json", "v.b.mean", None,
                             "student", "run")]
    _write(tmp_path, "results/c.json", {"v": {"b": {"mean": None}}})
    row = next(r for r in report.collect(tmp_path, ms) if r["key"] == "barrier_ZnN_mlp_glass")
    assert row["verdict"] == "not measured" and "did not measure or resolve" in row["note"]


@pytest.mark.parametrize("value, message", [("abc", "expected a number"), ([1, 2], "expected a number"),
                                            (float("nan"), "finite"), ({"a": 1}, "expected a number")])
def test_a_results_field_that_is_not_a_number_names_the_file_and_field(tmp_path, value, message):
    ms = [report.Measurement("K_crystal", "results/c.json", "v.k", None, "student", "run")]
    (tmp_path / "results").mkdir()
    (tmp_path / "results/c.json").write_text(json.dumps({"v": {"k": value}}))
    with pytest.raises(ValueError, match=message) as err:
        report.collect(tmp_path, ms)
    assert "c.json" in str(err.value) and "'v.k'" in str(err.value)


def test_a_null_group_is_not_measured_and_another_measurement_wins(tmp_path):
    ms = [report.Measurement("K_crystal", "results/a.json", "v.group.K", "v.group.K_err", "student", "cpu"),
          report.Measurement("K_crystal", "results/b.json", "v.K", None, "reference", "gpu")]
    _write(tmp_path, "results/a.json", {"v": {"group": None}})
    rows = [r for r in report.collect(tmp_path, ms) if r["key"] == "K_crystal"]
    assert [r["verdict"] for r in rows] == ["not measured"]  # b.json absent: the null row stays
    _write(tmp_path, "results/b.json", {"v": {"K": 1.6}})
    rows = [r for r in report.collect(tmp_path, ms) if r["key"] == "K_crystal"]
    assert [(r["ours"], r["verdict"]) for r in rows] == [(1.6, "agrees")]  # no empty row beside it
    _write(tmp_path, "results/a.json", {"v": {"group": {"K": 1.7, "K_err": -0.1}}})
    with pytest.raises(ValueError, match="negative"):
        report.collect(tmp_path, ms)


def test_a_lower_bound_is_consistent_only_while_it_does_not_exclude_the_paper(tmp_path):
    ms = [report.Measurement("barrier_ZnN_mlp_glass", "results/c.json", "v.mean", None, "student", "run"),
          report.Measurement("barrier_ZnN_mlp_glass", "results/c.json", "v.pooled.lower_bound", None,
                             "student", "pooled", bound="lower")]
    _write(tmp_path, "results/c.json", {"v": {"mean": None, "pooled": {"lower_bound": 24.6}}})
    rows = [r for r in report.collect(tmp_path, ms) if r["key"] == "barrier_ZnN_mlp_glass"]
    assert [(r["ours"], r["verdict"], r["z"]) for r in rows] == [(24.6, "consistent (bound)", None)]
    text = report.render(rows)
    assert "≥ 24.6 kJ/mol" in text and "1 consistent with a bound" in text
    _write(tmp_path, "results/c.json", {"v": {"mean": None, "pooled": {"lower_bound": 31.5}}})
    rows = [r for r in report.collect(tmp_path, ms) if r["key"] == "barrier_ZnN_mlp_glass"]
    assert rows[0]["verdict"] == "differs"  # paper 26 with target +-5: 31.5 excludes it
    bad = [report.Measurement("barrier_ZnN_mlp_glass", "results/c.json", "v.pooled.lower_bound", None,
                              "student", "run", bound="upper")]
    with pytest.raises(ValueError, match="bound must be"):
        report.collect(tmp_path, bad)


def test_a_bound_that_the_file_says_is_resolved_is_an_estimate(tmp_path):
    ms = [report.Measurement("barrier_ZnN_mlp_glass", "results/c.json", "v.p.lower_bound", "v.p.err",
                             "student", "pooled", bound="lower", resolved="v.p.resolved")]
    _write(tmp_path, "results/c.json", {"v": {"p": {"lower_bound": 27.0, "err": None, "resolved": False}}})
    (row,) = [r for r in report.collect(tmp_path, ms) if r["key"] == "barrier_ZnN_mlp_glass"]
    assert (row["bound"], row["verdict"], row["z"]) == ("lower", "consistent (bound)", None)
    _write(tmp_path, "results/c.json", {"v": {"p": {"lower_bound": 33.0, "err": 1.0, "resolved": True}}})
    (row,) = [r for r in report.collect(tmp_path, ms) if r["key"] == "barrier_ZnN_mlp_glass"]
    assert (row["bound"], row["error"], row["verdict"]) == ("", 1.0, "differs")  # 26 +- 5 misses 33
    assert row["z"] == pytest.approx(7.0) and "≥ 33" not in report.render([row])
    _write(tmp_path, "results/c.json", {"v": {"p": {"lower_bound": 27.0, "err": 1.0, "resolved": "yes"}}})
    with pytest.raises(ValueError, match="must be true or false"):
        report.collect(tmp_path, ms)


def test_timestep_checks_count_only_configurational_rows(tmp_path):
    rows = [{"setting": "H 4 amu, 2 fs", "observable": "pressure_GPa", "kind": "configurational",
             "within_error": True, "z": 0.4, "ratio": 1.0},
            {"setting": "H 4 amu, 2 fs", "observable": "r_ZnN_A", "kind": "configurational",
             "within_error": False, "z": -3.0, "ratio": 1.0},
            {"setting": "H 4 amu, 2 fs", "observable": "msd_Zn_1ps", "kind": "dynamical",
             "within_error": False, "z": 5.0, "ratio": 0.8},
            {"setting": "H 4 amu, 2 fs", "observable": "g_ZnN overlap", "kind": "configurational",
             "within_error": True, "z": None, "ratio": None}]
    _write(tmp_path, "results/cpu/results/timestep_validation.json",
           {"cpu": "AMD EPYC (avx2)", "systems": {"liquid_1500K": {
               "potential": "nequip-w32m", "production_ps": 10.0, "comparison": rows,
               "nve": {"real H, 0.5 fs": {"drift_meV_atom_ps": -0.001}}}}})
    checks = report.timestep_checks(tmp_path)
    assert checks[0]["n_static"] == 3 and checks[0]["n_within"] == 2  # the MSD is not counted
    text = report.render(report.collect(tmp_path, []), [], checks)
    assert ("| liquid_1500K | nequip-w32m | 10 ps each | 2 of 3 | r_ZnN_A (-3.0) | 0.80 | "
            "-0.001 (real H, 0.5 fs) |") in text
    assert "AMD EPYC (avx2)" in text and "`results/cpu/results/timestep_validation.json`" in text


def test_offset_note_calls_a_significant_offset_a_sampling_bias():
    from zifhelpers.analysis.elastic import pressure_offset

    # the reference on the student's frames reads 0.06 GPa more at each of 3 shared volumes
    bias = pressure_offset([4000.0, 4100.0, 4200.0], [0.16, 0.11, 0.06], [0.01] * 3,
                           [4000.0, 4100.0, 4200.0, 4300.0], [0.10, 0.05, 0.0, -0.05], [0.01] * 4)
    assert bias["n"] == 3 and bias["offset_GPa"] == pytest.approx(0.06)
    note = report.offset_note(bias, "crystal")
    assert note.startswith("crystal: the reference reads +0.060 ± 0.008 GPa")
    assert "same 3 volumes" in note and "sampling bias" in note
    assert "K0 by about −K′·offset = -0.24 GPa" in note  # K(P) = K0 + 4P near P = 0
    one = report.offset_note({**bias, "n": 1, "offset_GPa": 0.005, "chi2_dof": float("nan"),
                              "source": "this CPU"}, "glass01")
    assert "one volume" in one and "(this CPU)" in one and "sampling bias" not in one
    with pytest.raises(KeyError, match="glass01 has no 'offset_err_GPa'"):
        report.offset_note({"offset_GPa": 0.1, "n": 1}, "glass01")


def test_drift_note_compares_the_first_and_last_window_of_a_long_run():
    import numpy as np

    rng = np.random.default_rng(0)
    t = (np.arange(10) + 0.5) * 5.0  # 10 blocks of 5 ps, as notebook 05 writes a 50 ps run
    flat = {"blocks_GPa": (0.02 + 0.01 * rng.standard_normal(10)).tolist(), "production_ps": 50.0,
            "strain": 0.0, "slope_GPa_per_ps": 1e-5, "slope_err_GPa_per_ps": 1e-4}
    note = report.drift_note(flat, "glass01")
    assert note.startswith("glass01, one 50 ps run at strain +0.000 (student)")
    assert "no drift beyond the noise" in note
    # the pressure relaxes by 0.1 GPa over the run: last 10 ps against the first 10 ps
    relaxing = {**flat, "blocks_GPa": (0.1 * np.exp(-t / 10.0) + 0.002 * rng.standard_normal(10)).tolist()}
    note = report.drift_note(relaxing, "glass01")
    first, last = np.mean(relaxing["blocks_GPa"][:2]), np.mean(relaxing["blocks_GPa"][-2:])
    assert f"read {last - first:+.3f} ±" in note and "still drifts" in note
    assert f"K0 would move by about {-4 * (last - first):+.2f} GPa" in note
    assert "3 blocks: too few" in report.drift_note({**flat, "blocks_GPa": [0.0] * 3}, "glass01")
    with pytest.raises(KeyError, match="glass01 has no 'blocks_GPa'"):
        report.drift_note({"production_ps": 50.0}, "glass01")


def test_seeds_note_lists_each_seed_and_says_whether_they_agree():
    def seed(k, e, g, nu, err=0.3):
        return {"K_H": k, "E_H": e, "G_H": g, "nu_H": nu, "K_H_err": err, "E_H_err": err,
                "G_H_err": err, "nu_H_err": 0.05}

    agree = {"seed0": seed(1.6, 3.28, 1.42, 0.15), "seed1": seed(2.0, 3.26, 1.33, 0.22)}
    note = report.seeds_note(agree, "crystal")
    assert note.startswith("crystal stress–strain, each seed's 12 runs fitted alone (seed0, seed1): "
                           "K 1.60, 2.00 GPa (sd 0.28, each ± ≥ 0.30); E 3.28, 3.26 GPa")
    assert note.endswith("not noise of these runs")
    scatter = {**agree, "seed2": seed(1.8, 4.5, 1.4, 0.2)}  # E: sd 0.70 against errors of 0.3
    assert report.seeds_note(scatter, "crystal").endswith("the seeds scatter more than their own errors say")
    # one seed, or one with values beside one whose tensor failed: nothing to compare
    assert report.seeds_note({"seed0": agree["seed0"]}, "crystal") == ""
    assert report.seeds_note({"seed0": agree["seed0"], "seed1": {"error": "not positive definite"}}, "crystal") == ""
    with pytest.raises(KeyError, match="seed 'seed1' of crystal has no 'E_H'"):
        report.seeds_note({"seed0": agree["seed0"], "seed1": {"K_H": 1.0, "K_H_err": 0.1}}, "crystal")


def test_path_note_compares_the_path_with_independent_volumes():
    """The note on a glass's P(V) visited as a path, fitted both ways from the same BM2 law."""
    import numpy as np

    from zifhelpers.analysis import elastic

    volumes = 4380.0 * (1.0 + np.array([-0.045, -0.03, -0.015, 0.0, 0.015, 0.03, 0.045]))
    mass = 4380.0 * 1.21 / 1.66054  # amu of a cell of 1.21 g/cm3
    fits = {k0: elastic.fit_birch_murnaghan2(
        volumes, elastic.birch_murnaghan2(volumes, k0, 4500.0) + 0.004 * np.sin(volumes),
        np.full(7, 0.01), mass_amu=mass) for k0 in (1.4, 3.0)}
    assert fits[3.0]["K0_GPa"] == pytest.approx(3.0, abs=0.1)  # the fits recover their law
    check = {"path": fits[3.0], "independent": fits[1.4], "n_volumes": 7, "deform_ps": 5.0,
             "equilibrate_ps": 3.0, "production_ps": 10.0}
    note = report.path_note(check, "glass01")
    assert note.startswith("glass01 with its volumes visited as a path (each from its neighbour, "
                           "deformed over 5 ps, then 3 + 10 ps; the paper: 100 + 100 ps; 7 volumes)")
    shift = fits[3.0]["K0_GPa"] - fits[1.4]["K0_GPa"]
    assert f"the protocol moves K0 by {shift:+.2f} ±" in note
    assert f"ρ0 {fits[3.0]['rho0_g_cm3']:.3f} g/cm³" in note
    same = report.path_note({**check, "independent": fits[3.0]}, "glass01")
    assert "K0 moves by +0.00" in same and "no more than twice its error" in same
    alone = report.path_note({**check, "independent": None}, "glass01")
    assert alone.endswith(f"ρ0 {fits[3.0]['rho0_g_cm3']:.3f} g/cm³")
    with pytest.raises(KeyError, match="glass01 has no 'deform_ps'"):
        report.path_note({"path": fits[3.0]}, "glass01")


def test_zero_kelvin_checks_list_each_structure_and_the_glasses_mean(tmp_path):
    fit = {"sampler": {"K0_GPa": 2.0, "V0_A3": 4400.0, "rho0_g_cm3": 1.2},
           "reference": {"K0_GPa": 2.2, "V0_A3": 4390.0, "rho0_g_cm3": 1.21}}
    zero_k = {"crystal": fit, "glass01": fit,
              "glass02": {**fit, "reference": {"K0_GPa": 2.6, "V0_A3": 4300.0, "rho0_g_cm3": 1.23}}}
    _write(tmp_path, "results/cpu/results/05_mechanics.json",
           {"notebook": "05", "profile": "cpu", "values": {"potential": "nequip-w32m", "zero_k": zero_k}})
    rows = report.zero_kelvin_checks(tmp_path)
    assert [r["system"] for r in rows] == ["crystal", "glass01", "glass02"]
    assert rows[2]["reference_K0_GPa"] == 2.6 and rows[0]["sampler_rho0_g_cm3"] == 1.2
    text = report.render(report.collect(tmp_path, []), zero_k=rows)
    assert "| glass02 | nequip-w32m | 2.000 | 2.600 | 1.200 | 1.230 |" in text
    assert "| *ab initio* glasses, mean ± sd (2) | | | 2.400 ± 0.283 | | 1.220 ± 0.014 |" in text
    assert "`results/cpu/results/05_mechanics.json`" in text


def test_table1_checks_pair_the_screen_with_the_papers_rows_and_rank_them(tmp_path):
    from zifhelpers.data.paper import TABLE1

    # a screen whose force errors are the paper's plus 5 meV/A keeps the paper's order exactly
    names = ["l=1, r=6", "l=2, r=4", "l=2, r=5", "l=2, r=6"]
    table1 = {n: {"energy_mae_meV_atom": 1.0, "force_mae_meV_A": TABLE1[n]["force_mae_meV_A"] + 5,
                  "stress_mae_MPa": 400.0} for n in names}
    table1["this notebook's student"] = {"energy_mae_meV_atom": 2.0, "force_mae_meV_A": 40.0}
    _write(tmp_path, "results/cpu/results/02_training.json",
           {"notebook": "02", "profile": "quick", "values": {"table1": table1}})
    (check,) = report.table1_checks(tmp_path)
    assert [r["row"] for r in check["rows"]] == names  # the paper's rows only, in its order
    assert check["force_rank_correlation"] == pytest.approx(1.0)
    assert check["rows"][0]["force_mae_meV_A_paper"] == 20.5
    text = report.render(report.collect(tmp_path, []), table1=[check])
    assert "Table 1: the hyper-parameter screen (`quick` profile)" in text and "**+1.00**" in text
    assert "| l=2, r=5 | 1.00, 0.70 | 21.3, 16.3 | 400, 320 |" in text
    assert report.spearman([1.0, 2.0], [2.0, 1.0]) is None
    assert report.spearman([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)


def test_a_group_row_names_the_systems_its_mean_is_over(tmp_path):
    """The glasses' Table 3 rows come from table3_summary and say which glasses they average."""
    ms = [m for m in report.MEASUREMENTS if m.key in ("E_abinitio_glasses", "nu_abinitio_glasses")
          and ".table3_summary." in m.value]
    assert len(ms) == 2 and all(m.members for m in ms)
    group = {"n": 2, "members": ["glass01", "glass02"], "E_H_mean_GPa": 3.9, "E_H_err_GPa": 0.3,
             "nu_H_mean": 0.30, "nu_H_err": 0.02}
    _write(tmp_path, ms[0].path, {"values": {"table3_summary": {"abinitio_glasses": group}},
                                  "notes": {"E_abinitio_glasses": "one seed each"}})
    rows = {r["key"]: r for r in report.collect(tmp_path, ms)}
    assert rows["E_abinitio_glasses"]["ours"] == 3.9
    assert rows["E_abinitio_glasses"]["z"] == pytest.approx((3.9 - 2.93) / (0.3**2 + 0.78**2) ** 0.5)
    assert rows["E_abinitio_glasses"]["note"] == "over 2: glass01, glass02; one seed each"
    assert rows["nu_abinitio_glasses"]["note"] == "over 2: glass01, glass02"
    assert rows["nu_abinitio_glasses"]["verdict"] == "agrees"


def test_the_glasses_nst_route_gets_its_own_rows_beside_stress_strain(tmp_path):
    ms = [m for m in report.MEASUREMENTS if m.key == "G_abinitio_glasses"]
    assert len(ms) == 2
    ss = {"n": 1, "members": ["glass01"], "G_H_mean_GPa": 1.3, "G_H_err_GPa": 0.3}
    nst = {"n": 1, "members": ["glass01"], "G_H_mean_GPa": 0.9, "G_H_err_GPa": 0.5}
    _write(tmp_path, ms[0].path, {"values": {"table3_summary": {"abinitio_glasses": ss},
                                             "table3_fluct_summary": {"abinitio_glasses": nst}}})
    rows = [r for r in report.collect(tmp_path, ms) if r["key"] == "G_abinitio_glasses"]
    assert sorted(r["ours"] for r in rows) == [0.9, 1.3]
    (fluct,) = [r for r in rows if r["ours"] == 0.9]
    assert "NσT" in fluct["potential"] and fluct["note"] == "over 1: glass01"
    _write(tmp_path, ms[0].path, {"values": {"table3_summary": {"abinitio_glasses": ss},
                                             "table3_fluct_summary": {"abinitio_glasses": None}}})
    rows = [r for r in report.collect(tmp_path, ms) if r["key"] == "G_abinitio_glasses"]
    assert [r["ours"] for r in rows] == [1.3]  # not run: no empty row


def test_the_glasses_table2_gets_a_row_from_the_references_own_md(tmp_path):
    """Table 2 of the ab initio glasses: the reference's own P(V) beside the student-sampled one."""
    ms = [m for m in report.MEASUREMENTS if m.key == "K_abinitio_glasses"]
    assert len(ms) == 2
    group = {"n": 3, "members": ["glass01", "glass02", "glass03"]}
    own = {**group, "K0_mean_GPa": 1.33, "K0_err_GPa": 0.40}
    sampled = {**group, "K0_mean_GPa": 1.60, "K0_err_GPa": 0.46}
    _write(tmp_path, ms[0].path, {"values": {"table2_summary": {
        "reference_own_md": {"abinitio_glasses": own},
        "reference_on_frames": {"abinitio_glasses": sampled}}}})
    rows = {r["potential"]: r for r in report.collect(tmp_path, ms) if r["key"] == "K_abinitio_glasses"}
    assert len(rows) == 2
    (mine,) = [r for p, r in rows.items() if "its own MD" in p]
    assert mine["ours"] == 1.33 and "0.73 ps" in mine["run"]
    assert mine["note"] == "over 3: glass01, glass02, glass03"
    assert mine["z"] == pytest.approx((1.33 - 3.43) / (0.40**2 + 1.23**2) ** 0.5)
    assert mine["verdict"] == "differs"  # 1.33 is outside 3.43 ± 1.23


def test_validation_checks_list_each_systems_overlaps_and_coordination(tmp_path):
    values = {"model_under_test": "nequip-w32m", "md": {"timestep_fs": 2.0, "hydrogen_mass_amu": 4.0},
              "overlaps_model_vs_reference": {
                  "crystal_300K": {"g_ZnN": 0.991, "g_ZnZn": 0.987, "p_NZnN": 0.976},
                  "liquid_1500K": {"g_ZnN": 0.962, "g_ZnZn": 0.951, "p_NZnN": 0.944}},
              "cn_crystal_300K_reference": 4.0, "cn_crystal_300K_model": 4.0,
              "cn_liquid_1500K_reference": 3.71, "cn_liquid_1500K_model": None,
              "structure": {"crystal_300K": {
                  "model under test": {"pore_cm3_kg": 55.55, "rings": {"8": 4.0, "12": 16.0, "16": 32.0}},
                  "reference": {"pore_cm3_kg": 55.1, "rings": {"8": 4.0, "12": 16.0, "16": 31.5},
                                "transients": 3, "restarts": 0}}}}
    _write(tmp_path, "results/cpu/results/03_validation.json",
           {"notebook": "03", "profile": "cpu", "values": values})
    rows = report.validation_checks(tmp_path)
    assert [r["system"] for r in rows] == ["crystal_300K", "liquid_1500K"]
    assert rows[1]["cn_reference"] == 3.71 and rows[1]["cn_model"] is None
    text = report.render(report.collect(tmp_path, []), validation=rows)
    assert "## Fig. 4: the student against the reference" in text
    assert rows[0]["pore_model"] == 55.55 and rows[0]["rings_reference"]["16"] == 31.5
    assert rows[1]["pore_model"] is None and rows[1]["rings_reference"] is None  # not in "structure"
    assert ("| liquid_1500K | nequip-w32m | H 4 amu, 2 fs (`cpu`) | 0.962, 0.951, 0.944 | —, 3.710 | —, — | —; — "
            "| —, — | —, — |" in text)
    assert "| 4.000, 4.000 | 55.5, 55.1 | 8: 4, 12: 16, 16: 32; 8: 4, 12: 16, 16: 31.5 | —, 3 | —, 0 |" in text
    assert rows[0]["transients_reference"] == 3 and rows[0]["transients_model"] is None  # an older run: not counted
    assert "`results/cpu/results/03_validation.json`" in text
    assert report.validation_checks(tmp_path / "nothing") == []
