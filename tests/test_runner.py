"""The papermill runner: profiles, output folder, failure report, results."""

from __future__ import annotations

import json

import nbformat
import pytest

from zifhelpers.compendium import profiles, runner
from zifhelpers.compendium.results import comparison_table, read_results, write_results


def _notebook(path, body):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('profile = "smoke"\nresults_dir = "."\nfigures_dir = "."')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)
    return path


def test_failing_notebook_is_reported_with_its_cell(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    good = _notebook(
        src / "01_good.ipynb",
        "from zifhelpers.compendium.results import write_results\n"
        "write_results('01_good', profile, {'answer': 42}, results_dir)",
    )
    bad = _notebook(src / "02_bad.ipynb", "x = 1\nraise RuntimeError('boom in the cell')")
    out = tmp_path / "out"
    outcomes = runner.run_notebooks([str(good), str(bad)], profile="quick", output_dir=out, progress=False)
    assert [o.ok for o in outcomes] == [True, False]
    failed = outcomes[1]
    assert "boom in the cell" in failed.error
    assert "raise RuntimeError" in failed.failing_source
    assert failed.failing_cell is not None
    merged = json.loads((out / "results.json").read_text())
    assert merged["01_good"]["values"] == {"answer": 42}
    assert merged["01_good"]["profile"] == "quick"
    # the committed notebooks are untouched
    assert nbformat.read(bad, as_version=4).cells[1].outputs == []


def test_output_folder_cannot_be_the_notebook_folder(tmp_path):
    nb = _notebook(tmp_path / "01_x.ipynb", "pass")
    with pytest.raises(ValueError, match="overwrite the committed notebooks"):
        runner.run_notebooks([str(nb)], output_dir=tmp_path, progress=False)


def test_unknown_notebook_and_profile():
    with pytest.raises(ValueError, match="00_data_and_models"):
        runner.find_notebooks(["99"])
    with pytest.raises(ValueError, match="smoke"):
        profiles.check_profile("fast")
    assert runner.find_notebooks(["00"])[0].stem == "00_data_and_models"


def test_results_round_trip_and_table(tmp_path):
    path = write_results("nb", "smoke", {"k_GPa": 1.5, "nan": float("nan")}, tmp_path, {"k_GPa": 1.69})
    record = read_results(path)
    assert record["values"] == {"k_GPa": 1.5, "nan": None}
    assert record["environment"]["torch"].startswith("2.13")
    table = comparison_table([("K", 1.5, 1.69, "GPa"), ("x", 2.0, None, "")])
    assert table.loc["K", "difference (%)"] == pytest.approx(-11.2)
    (tmp_path / "broken.json").write_text('{"notebook": "x"}')
    with pytest.raises(ValueError, match="lacks the field 'profile'"):
        read_results(tmp_path / "broken.json")


def test_aggregate_over_seeds(tmp_path):
    from zifhelpers.compendium.results import aggregate

    paths = [write_results(f"nb{k}", "quick", {"cn": 3.9 + 0.02 * k, "tag": "x", "ok": True},
                           tmp_path / str(k)) for k in range(3)]
    table = aggregate(paths)
    assert list(table.index) == ["cn"]
    assert table.loc["cn", "mean"] == pytest.approx(3.92)
    assert table.loc["cn", "sd"] == pytest.approx(0.02)
    assert table.loc["cn", "n"] == 3
    with pytest.raises(ValueError, match="no results"):
        aggregate([])


@pytest.mark.parametrize("profile", ["smoke", "quick", "cpu", "paper"])
def test_notebooks_03_and_06_share_validation_runs_only_with_the_same_settings(profile):
    """Both run the reference on the same systems in md/validation: a run folder is reused only
    with identical inputs (MDRun refuses otherwise), so the two notebooks' settings must agree."""
    from zifhelpers.compendium import profiles

    v = profiles.settings("03_validation", profile)
    s = profiles.settings("06_allegro_scaling", profile)
    if "md" in v:  # 03 samples with heavy hydrogens in its own folder (md/validation_H4_2fs)
        assert "md" not in s
        return
    shared = set(v["systems"]) & set(s["structure_systems"])
    assert shared, "no shared system: then nothing to check"
    assert s["structure_ps"] == v["production_ps"]
    assert s["structure_frame_every"] == v["frame_every"]


def test_the_runner_refuses_parameters_it_sets_itself(tmp_path):
    from zifhelpers.compendium.runner import run_notebooks

    with pytest.raises(ValueError, match="results_dir itself: use --output"):
        run_notebooks(["00"], "smoke", tmp_path / "out", parameters={"results_dir": "x"})
    assert not (tmp_path / "out").exists()


def test_results_json_keeps_the_notebooks_of_earlier_runs(tmp_path):
    from zifhelpers.compendium.runner import _merge_results

    path = tmp_path / "results.json"
    _merge_results(path, {"00_data_and_models": {"a": 1}})
    _merge_results(path, {"03_validation": {"b": 2}})
    _merge_results(path, {"00_data_and_models": {"a": 3}})
    assert json.loads(path.read_text()) == {"00_data_and_models": {"a": 3}, "03_validation": {"b": 2}}
    path.write_text("{not json")
    with pytest.warns(UserWarning, match="could not be read"):
        _merge_results(path, {"04_melt_quench": {}})
    assert json.loads(path.read_text()) == {"04_melt_quench": {}}
    assert [p.read_text() for p in tmp_path.glob("results.json.unreadable-*")] == ["{not json"]


@pytest.mark.parametrize("param, message", [
    ("a=[1,", "cannot read the value '[1,'"),
    ("seed", "not of the form key=value"),
    ("bad key=1", "is not a parameter name"),
])
def test_a_bad_parameter_on_the_command_line_is_named(capsys, param, message):
    from zifhelpers.__main__ import main

    with pytest.raises(SystemExit):
        main(["run", "00", "-p", param])
    assert message in capsys.readouterr().err


def test_select_a_subset_of_a_profiles_items():
    from zifhelpers.compendium.profiles import select

    items = {"crystal": 1, "glass01": 2, "glass02": 3}
    assert select(items) == items and select(items, "") == items
    assert list(select(items, "glass02, crystal")) == ["glass02", "crystal"]
    with pytest.raises(ValueError, match="glass09"):
        select(items, "crystal,glass09")
    with pytest.raises(ValueError, match="no names"):
        select(items, " , ")


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_table1_screen_has_the_papers_design_and_row_names(profile):
    from zifhelpers.data.paper import TABLE1

    screen = profiles.settings("02_training", profile)["screen"]
    assert set(screen) <= set(TABLE1), set(screen) - set(TABLE1)  # every row pairs with the paper's
    flat = {"l=2, r=6, flat histogram", "Allegro deployed"}
    for name, over in screen.items():  # hyper-parameters on the random set, production on the flat one
        assert (over.get("train_file") == "random_train.extxyz") == (name not in flat), name
    assert screen["l=2, r=6"]["parity"] and not screen["l=2, r=6, no parity"]["parity"]
    same = {k: v for k, v in screen["l=2, r=6"].items() if k != "train_file"}
    assert same == screen["l=2, r=6, flat histogram"]  # the flat row differs only in its data


def test_per_system_settings_and_the_cpu_stress_strain_systems():
    from zifhelpers.compendium.profiles import per_system, settings

    assert per_system([0, 1], "glass01") == [0, 1] and per_system(None, "crystal") is None
    assert per_system({"crystal": [0, 1, 2]}, "crystal") == [0, 1, 2]
    assert per_system({"crystal": [0, 1, 2]}, "glass01") is None
    cpu = settings("05_mechanics", "cpu")
    ss = cpu["stress_strain"]
    for name, volume_strain in ss["systems"].items():  # each a system of the profile, near V0
        assert name in cpu["systems"] and -0.1 < volume_strain < 0.1
        assert per_system(ss["seeds"], name), f"{name} has no stress-strain seeds"
    assert set(cpu["reference_md"]["systems"]) <= set(cpu["systems"])
