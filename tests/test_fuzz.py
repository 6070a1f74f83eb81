"""Fuzzing the public API: every bad input gives a clean Python exception with a message or a
correct result, never a dead interpreter, a lost file or a silent NaN.

Generated inputs (Hypothesis) for structures, fits, schedules and specs; hand-written cases for
files and folders. Calls into native code that once took the interpreter down (matscipy rings,
Zeo++ pores) run in a subprocess, so the suite survives them and can tell a crash from an error.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from ase import Atoms
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from zifhelpers import analysis
from zifhelpers.analysis import elastic
from zifhelpers.data import datasets
from zifhelpers.simulation.md import Schedule, read_trajectory
from zifhelpers.training import TrainingSpec

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
#: the exceptions a user may see: each names what was wrong
CLEAN = (ValueError, TypeError, KeyError, FileNotFoundError, RuntimeError)


def _clean_or_result(fn, *args, **kwargs):
    """The result of ``fn``, or None when it raised a clean exception with a message."""
    try:
        return fn(*args, **kwargs)
    except CLEAN as err:
        assert str(err).strip(), f"{type(err).__name__} without a message from {fn.__name__}"
        return None


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
elements = st.sampled_from(["Zn", "N", "C", "H", "Cu"])


@st.composite
def structures(draw):
    n = draw(st.integers(0, 12))
    symbols = draw(st.lists(elements, min_size=n, max_size=n))
    scale = draw(st.sampled_from([0.0, 1e-8, 3.0, 8.0, 15.0]))
    cell = np.diag([scale, draw(st.sampled_from([scale, 9.0])), 9.0])
    positions = draw(st.lists(st.tuples(*[st.floats(-5, 20)] * 3), min_size=n, max_size=n))
    pbc = draw(st.booleans())
    return Atoms(symbols, positions=np.array(positions, float).reshape(n, 3), cell=cell, pbc=pbc)


@FAST
@given(structures())
@example(Atoms("ZnN2", positions=np.zeros((3, 3)), cell=[0, 0, 9]))  # atoms on top of each other
def test_structure_analysis_never_crashes_nor_returns_nan(atoms):
    cn = _clean_or_result(analysis.coordination, atoms)
    if cn is not None:
        assert np.all(np.isfinite(cn)) and np.all(np.asarray(cn) >= 0)
    rho = _clean_or_result(analysis.density, atoms)
    if rho is not None:
        assert np.isfinite(rho) and rho > 0
    angles = _clean_or_result(analysis.bond_angles, atoms)
    if angles is not None:
        assert np.all((np.asarray(angles) >= 0) & (np.asarray(angles) <= 180))
    g = _clean_or_result(analysis.rdf, [atoms], "Zn", "N", r_max=4.0, n_bins=20)
    if g is not None:
        assert np.all(np.isfinite(g[1]))


@FAST
@given(st.lists(st.tuples(floats, floats), min_size=0, max_size=8))
def test_birch_murnaghan_fit_gives_a_finite_fit_or_a_clear_error(points):
    v = np.array([p[0] for p in points])
    p = np.array([p[1] for p in points])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = _clean_or_result(elastic.fit_birch_murnaghan2, v, p)
    if fit is not None:
        assert isinstance(fit["physical"], bool)
        if fit["physical"]:
            assert np.isfinite(fit["K0_GPa"]) and fit["K0_GPa"] > 0 and np.isfinite(fit["V0_A3"])


@FAST
@given(st.lists(floats, min_size=36, max_size=36))
def test_hill_averages_only_of_a_symmetric_positive_definite_tensor(values):
    c = np.array(values).reshape(6, 6)
    out = _clean_or_result(elastic.hill_average, c)
    if out is not None:
        assert np.allclose(c, c.T) and np.all(np.linalg.eigvalsh(c) > 0)
        assert all(np.isfinite(v) for v in out.values())


@FAST
@given(floats, floats, floats, floats)
def test_a_schedule_is_valid_or_refused(dt, temperature, duration, rate):
    def build():
        s = Schedule(dt).plateau("a", temperature, duration)
        return s.ramp("b", temperature, temperature + 100.0, rate) if np.isfinite(temperature) else s

    schedule = _clean_or_result(build)
    if schedule is not None:
        assert schedule.total_steps >= 1 and dt > 0 and duration > 0


@FAST
@given(st.fixed_dictionaries({}, optional={
    "r_max": floats, "l_max": st.integers(-2, 3), "batch_size": st.integers(-1, 3),
    "learning_rate": floats, "num_features": st.integers(-1, 8), "forces_weight": floats,
    "model": st.sampled_from(["nequip", "allegro", "mace", ""]),
}))
def test_a_training_spec_is_valid_or_refused(tmp_path_factory, overrides):
    from zifhelpers.training.spec import write_config

    folder = tmp_path_factory.mktemp("cfg")
    for name in ("train.extxyz", "val.extxyz"):
        (folder / name).write_text("")
    spec = _clean_or_result(TrainingSpec, str(folder / "train.extxyz"), str(folder / "val.extxyz"),
                            **overrides)
    if spec is not None:
        path = write_config(spec, folder / "config.yaml")
        assert path.stat().st_size > 0


@FAST
@given(st.lists(floats, min_size=0, max_size=30))
def test_pmf_barrier_of_any_curve(values):
    free = np.array(values)
    r = np.linspace(1.5, 6.0, len(free)) if len(free) else np.array([])
    out = _clean_or_result(analysis.pmf_barrier, r, free)
    if out is not None:
        assert not np.isnan(out["barrier"]) or not np.isfinite(free).all()


# ---------------------------------------------------------------- files and folders
@pytest.mark.parametrize("content", [b"", b"\x00\xff garbage", b"3\n", b"2\nx\nH 0 0 0\n",
                                     b"not a number\nfoo\n"])
def test_damaged_trajectories_give_an_error_or_frames(tmp_path, content):
    path = tmp_path / "trajectory.extxyz"
    path.write_bytes(content)
    try:
        frames = read_trajectory(path)
    except (ValueError, UnicodeDecodeError) as err:
        assert "trajectory.extxyz" in str(err) or isinstance(err, UnicodeDecodeError)
    else:
        assert frames == [] or all(len(f) for f in frames)


@pytest.mark.parametrize("content", [b"", b"hello", gzip.compress(b"2\nLattice\n", mtime=0)])
def test_damaged_datasets_give_an_error_naming_the_file(tmp_path, content):
    path = tmp_path / "set.extxyz.gz"
    path.write_bytes(content)
    with pytest.raises(datasets.DatasetError, match="set.extxyz.gz"):
        datasets.read_dataset(path)


def test_a_text_file_named_like_a_model_is_an_error_not_a_crash(tmp_path):
    from zifhelpers.potentials.registry import load_calculator

    fake = tmp_path / "model.nequip.pt2"
    fake.write_text("not a model")
    with pytest.raises(ValueError, match="model.nequip.pt2 is not a model file"):
        load_calculator(fake, device="cpu")
    assert fake.read_text() == "not a model"  # nothing overwritten
    (tmp_path / "empty.nequip.pt2").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.nequip.pt2 is empty"):
        load_calculator(tmp_path / "empty.nequip.pt2", device="cpu")


def test_a_structure_without_atoms_is_refused_by_name_not_by_the_compiled_model():
    from zifhelpers.potentials.registry import load_calculator

    atoms = Atoms(cell=[10, 10, 10], pbc=True)
    atoms.calc = load_calculator("nequip-w32m")
    with pytest.raises(ValueError, match="no atoms"):
        atoms.get_potential_energy()


def test_an_unknown_structure_name_lists_the_known_ones():
    from zifhelpers.data import load_structure

    with pytest.raises((KeyError, ValueError), match="glass01"):
        load_structure("glass99")


# ------------------------------------------------------- native code, in a subprocess
_NATIVE = textwrap.dedent("""
    import json, sys
    import numpy as np
    from ase import Atoms
    from ase.build import bulk, molecule
    from zifhelpers import analysis
    from zifhelpers.analysis import rings
    from zifhelpers.data import load_structure

    rng = np.random.default_rng(0)
    crystal = load_structure("crystal")
    cases = {
        "copper": bulk("Cu", cubic=True).repeat(2),
        "water box": Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.2, 0.9, 0]],
                           cell=[6, 6, 6], pbc=True),
        "crystal, tiny Zn-N cutoff": crystal,
        "crystal, not periodic": Atoms(crystal, pbc=False),
        "empty": Atoms(cell=[5, 5, 5], pbc=True),
        "random ZIF-like gas": Atoms(rng.choice(["Zn", "N", "C", "H"], 40),
                                     positions=rng.uniform(0, 12, (40, 3)), cell=[12] * 3, pbc=True),
    }
    out = {}
    for name, atoms in cases.items():
        for fn, kwargs in ((rings.ring_statistics, {"zn_n_cutoff": 0.5} if "tiny" in name else {}),
                           (analysis.pore_volume, {"samples_per_atom": 50})):
            try:
                value = fn(atoms, **kwargs)
                out[f"{name} / {fn.__name__}"] = "ok " + json.dumps(
                    {str(k): v for k, v in value.items()})[:80]
            except Exception as err:
                out[f"{name} / {fn.__name__}"] = f"{type(err).__name__}: {err}"[:200]
    print(json.dumps(out))
""")


def test_native_libraries_never_take_the_interpreter_down():
    proc = subprocess.run([sys.executable, "-c", _NATIVE], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"the interpreter died (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(results) == 12
    for case, outcome in results.items():
        # a clean error with a message, or a result
        assert outcome.startswith("ok ") or ": " in outcome, (case, outcome)
    assert results["copper / ring_statistics"].startswith("ValueError")
    assert results["crystal, not periodic / pore_volume"].startswith("ValueError")
    assert results["random ZIF-like gas / pore_volume"].startswith("ok ")


# ------------------------------------------------------------- the other public modules
@FAST
@given(structures(), st.floats(0.0, 8.0))
# a cell 1e-8 A thin: 1e9 images within the cutoff once took 14 GB before an error
@example(Atoms("ZnN", positions=[[0, 0, 0], [0, 2, 0]], cell=np.diag([1e-8, 9.0, 9.0]), pbc=True), 8.0)
def test_neighbors_linkers_and_xray_of_any_structure(atoms, cutoff):
    from zifhelpers.analysis import linkers, xray
    from zifhelpers.analysis.neighbors import neighbor_list

    pairs = _clean_or_result(neighbor_list, atoms, cutoff, "ijd")
    if pairs is not None:
        assert np.all(pairs[2] <= cutoff + 1e-9)
    report = _clean_or_result(linkers.check_integrity, atoms)
    if report is not None:
        assert 0 <= report.n_intact <= max(report.n_expected, len(atoms))
    fq = _clean_or_result(xray.xray_fq, atoms, np.linspace(0.5, 10, 20), r_max=5.0)
    if fq is not None:
        assert np.all(np.isfinite(fq))


@FAST
@given(st.lists(floats, min_size=0, max_size=40), st.integers(-3, 50), st.integers(-3, 20))
def test_training_set_sampling_of_any_energies(energies, n_train, n_test):
    from zifhelpers.training import sampling

    for method in ("flat", "random"):
        sets = _clean_or_result(sampling.split, energies, n_train, n_test, method=method, seed=0)
        if sets is not None:
            drawn = np.concatenate([sets["train"], sets["test"]])
            assert len(set(drawn.tolist())) == len(drawn)  # no frame twice
            assert np.all((drawn >= 0) & (drawn < len(energies)))


@FAST
@given(st.lists(st.floats(-10, 1e6), min_size=0, max_size=8),
       st.lists(st.floats(-10, 1e3), min_size=0, max_size=8))
def test_power_law_fit_of_any_timings(atoms, seconds):
    from zifhelpers.potentials import scaling

    fit = _clean_or_result(scaling.fit_power_law, atoms, seconds)
    if fit is not None:
        assert all(np.isfinite(v) for v in fit.values() if isinstance(v, float))


@pytest.mark.parametrize("notebook, profile, message", [
    ("04_melt_quench", "fast", "profile"), ("99_nothing", "smoke", "99_nothing")])
def test_unknown_profiles_and_notebooks_are_named(notebook, profile, message):
    from zifhelpers.compendium import profiles

    with pytest.raises((KeyError, ValueError), match=message):
        profiles.settings(notebook, profile)


def test_unknown_paper_values_and_bad_results_files_are_named(tmp_path):
    from zifhelpers.compendium.results import read_results
    from zifhelpers.data import paper

    with pytest.raises(KeyError, match="K_nothing"):
        paper.value("K_nothing")
    bad = tmp_path / "r.json"
    bad.write_text("{oops")
    with pytest.raises(ValueError, match="r.json"):
        read_results(bad)


def test_lammps_inputs_refuse_what_lammps_would_fail_on(tmp_path, crystal):
    from zifhelpers.simulation.lammps import write_lammps_inputs

    schedule = Schedule(0.5).plateau("eq", 300, 1.0)
    with pytest.raises(ValueError):
        write_lammps_inputs(crystal, schedule, tmp_path, ensemble="nothing")
    with pytest.raises(ValueError):
        write_lammps_inputs(crystal[:0], schedule, tmp_path)


def test_the_viewer_refuses_an_empty_trajectory():
    from zifhelpers.compendium import viewer

    with pytest.raises(ValueError, match="no frames"):
        viewer.show_trajectory([])


def _bad_simulation_calls(tmp):
    """(label, call, words the message must contain): the simulation layer's public functions."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from zifhelpers.simulation import mechanics, meltquench, reaxff, robustness

    cu = bulk("Cu", cubic=True)
    gas = Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]])
    plateau = Schedule(0.25).plateau("a", 300.0, 0.001)
    tiny = {"prepare_ps": 0.001, "plateau_ps": 0.0, "equilibrate_ps": 0.001, "rate_K_per_ps": 1e6}
    return [
        ("rate of -1 events", lambda: robustness.breaking_rate(-1, 10.0), "events"),
        ("rate over NaN ps", lambda: robustness.breaking_rate(1, float("nan")), "total_ps"),
        ("rate per 0 ps", lambda: robustness.breaking_rate(1, 10.0, per_ps=0.0), "per_ps"),
        ("scan of no temperature", lambda: robustness.linker_breaking_scan(cu, [], 1.0, tmp / "s"),
         "no temperatures"),
        ("scan of no seed", lambda: robustness.linker_breaking_scan(cu, [300.0], 1.0, tmp / "s", seeds=()),
         "no seeds"),
        ("melt below its start", lambda: meltquench.MeltQuench(t_max_K=200.0).schedule(), "t_max_K"),
        ("supercell of 0", lambda: meltquench.MeltQuench(supercell=(0, 1, 1), **tiny).run(
            cu, tmp / "mq", calculator="emt", progress=False), "supercell"),
        ("melt-quench of nothing", lambda: meltquench.MeltQuench(supercell=(1, 1, 1), **tiny).run(
            Atoms(), tmp / "mq2", calculator="emt", progress=False), "no atoms"),
        ("verdict of NaN disorder", lambda: meltquench.verdict({"ring_disorder": float("nan")}),
         "not finite"),
        ("verdict without disorder", lambda: meltquench.verdict({}), "ring_disorder"),
        ("glass at -1 ps", lambda: meltquench.glass_at_300K(cu, tmp / "g", "emt", -1.0), "duration"),
        ("ReaxFF files into a file", lambda: reaxff.reaxff_files(__file__), "is a file"),
        ("ReaxFF of nothing", lambda: reaxff.run_reaxff(Atoms(), plateau, tmp / "r"), "no atoms"),
        ("ReaxFF of copper", lambda: reaxff.run_reaxff(cu, plateau, tmp / "r"), "Cu"),
        ("ReaxFF frames every 0 steps", lambda: reaxff.run_reaxff(
            Atoms("ZnN", positions=[[0, 0, 0], [2, 0, 0]], cell=[9, 9, 9], pbc=True), plateau, tmp / "r",
            frame_every=0), "frame_every"),
        ("local structure of no frame", lambda: reaxff.local_structure({"a": []}), "no frames"),
        ("P(V) of no strain", lambda: mechanics.finite_strain_runs(cu, tmp / "f", calculator="emt",
                                                                   strains=()), "no strains"),
        ("P(V) at -100 %", lambda: mechanics.finite_strain_runs(cu, tmp / "f", calculator="emt",
                                                                strains=(-1.0,)), "strains"),
        ("P(V) at NaN", lambda: mechanics.finite_strain_runs(cu, tmp / "f", calculator="emt",
                                                             strains=(float("nan"),)), "strains"),
        ("P(V) frames every 0 steps", lambda: mechanics.finite_strain_runs(
            cu, tmp / "f", calculator="emt", strains=(0.0,), frame_every=0), "frame_every"),
        ("P(V) of a gas", lambda: mechanics.finite_strain_runs(gas, tmp / "f", calculator="emt"),
         "not periodic"),
        ("stress-strain at 30 %", lambda: mechanics.stress_strain_runs(cu, tmp / "e", strain=0.3), "strain"),
        ("stress-strain, 1 reference frame", lambda: mechanics.stress_strain_runs(
            cu, tmp / "e", reference=EMT(), reference_frames=1), "reference_frames"),
        ("NsT of nothing", lambda: mechanics.strain_fluctuation_run(Atoms(), tmp / "n", calculator="emt"),
         "no atoms"),
        ("0 K P(V) of no strain", lambda: mechanics.zero_kelvin_pv(cu, EMT(), strains=()), "no strains"),
        ("0 K P(V) of a gas", lambda: mechanics.zero_kelvin_pv(gas, EMT(), strains=(0.0,)), "not periodic"),
    ]


def test_the_simulation_layer_refuses_bad_input_by_name(tmp_path):
    for label, call, words in _bad_simulation_calls(tmp_path):
        with pytest.raises(CLEAN) as err:
            call()
        assert words in str(err.value), f"{label}: {type(err.value).__name__}: {err.value}"
        assert not list(tmp_path.glob("**/trajectory.extxyz")), f"{label}: ran MD before refusing"


@FAST
@given(events=st.one_of(st.integers(-5, 50), floats), total_ps=floats)
def test_a_breaking_rate_is_finite_and_ordered_or_refused(events, total_ps):
    from zifhelpers.simulation import robustness

    out = _clean_or_result(robustness.breaking_rate, events, total_ps)
    if out is not None:
        assert all(np.isfinite(v) for v in out.values())
        assert out["rate_low"] <= out["rate"] <= out["rate_high"]


@FAST
@given(st.lists(st.lists(floats, min_size=6, max_size=6), min_size=0, max_size=14),
       st.lists(st.lists(floats, min_size=6, max_size=6), min_size=0, max_size=14))
def test_stress_strain_fits_of_any_data(strains, stresses):
    out = _clean_or_result(elastic.elastic_from_stress_strain, np.array(strains).reshape(-1, 6)
                           if strains else np.zeros((0, 6)), np.array(stresses).reshape(-1, 6)
                           if stresses else np.zeros((0, 6)))
    if out is not None:
        c, _ = out
        assert np.isfinite(c).all() and np.allclose(c, c.T)


def _bad_calls_elsewhere(tmp):
    """(label, call, words the message must contain): data, potentials, training, compendium."""
    import matplotlib.pyplot as plt
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from zifhelpers.compendium import plotting, results
    from zifhelpers.data import cp2k
    from zifhelpers.potentials import checkpoints, timing
    from zifhelpers.potentials.compile import compile_model
    from zifhelpers.potentials.convert import read_legacy_model
    from zifhelpers.potentials.repulsion import switch_distances
    from zifhelpers.simulation.validation import run_system
    from zifhelpers.training import active, scoring, surgery

    garbage = tmp / "garbage.ckpt"
    garbage.write_bytes(b"\x00\x01 not a checkpoint")
    text = tmp / "text.cell"
    text.write_text("hello\nworld\n")
    cu = bulk("Cu", cubic=True)
    return [
        ("CP2K cell file of words", lambda: cp2k.read_cp2k_cell(text), "text.cell"),
        ("results of an unknown profile", lambda: results.write_results("x", "nope", {}, tmp), "profile"),
        ("results named by a path", lambda: results.write_results("a/b", "smoke", {}, tmp), "file stem"),
        ("figure without a name", lambda: plotting.savefig(plt.figure(), "", tmp), "file stem"),
        ("garbage checkpoint", lambda: checkpoints.checkpoint_model_config(garbage), "garbage.ckpt"),
        ("garbage checkpoint, fused", lambda: checkpoints.fused_checkpoint(garbage, tmp / "o.ckpt"),
         "not a readable"),
        ("garbage checkpoint, surgery", lambda: surgery.standalone_checkpoint(garbage, tmp / "o.ckpt"),
         "not a readable"),
        ("missing checkpoint", lambda: checkpoints.checkpoint_model_config(tmp / "nope.ckpt"), "nope.ckpt"),
        ("timing of nothing", lambda: timing.time_per_atom_call(EMT(), Atoms()), "no atoms"),
        ("speed-up over a zero time", lambda: timing.speedup({"a": [1.0], "b": [0.0]}, "a", "b"), "> 0"),
        ("speed-up of unequal rounds", lambda: timing.speedup({"a": [1.0], "b": [1.0, 2.0]}, "a", "b"),
         "same number"),
        ("errors on no frame", lambda: scoring.evaluate(EMT(), []), "no frames"),
        ("errors on an unlabelled frame", lambda: scoring.evaluate(EMT(), [cu]), "frame 0"),
        ("Table 1 of a dict", lambda: scoring.table1({}), "DataFrame"),
        ("select -1 frames", lambda: active.select_frames(np.ones(3), -1), "n must"),
        ("select among NaN scores", lambda: active.select_frames(np.array([np.nan, 1.0]), 1), "finite"),
        ("state point at NaN K", lambda: active.state_points(temperatures_K=(float("nan"),)), "temperatures"),
        ("state point at 3x the volume", lambda: active.state_points(volume_factors=(3.0,)), "factors"),
        ("compile a garbage checkpoint", lambda: compile_model(garbage, tmp / "o.nequip.pt2"), "not a readable"),
        ("convert a garbage legacy model", lambda: read_legacy_model(garbage), "not a TorchScript"),
        ("repulsion with one fraction", lambda: switch_distances(["Zn"], (0.5,)), "(inner, outer)"),
        ("validation of an unknown system", lambda: run_system("nope", "published", tmp, 1.0), "known:"),
    ]


def test_the_other_layers_refuse_bad_input_by_name(tmp_path):
    for label, call, words in _bad_calls_elsewhere(tmp_path):
        with pytest.raises(CLEAN) as err:
            call()
        assert words in str(err.value), f"{label}: {type(err.value).__name__}: {err.value}"


@pytest.mark.parametrize("args, words", [
    (["run", "99"], "not found"),
    (["run", "00", "-p", "a=[1,"], "cannot read the value"),
    (["md-resume", "/nonexistent/run"], "not an MD run folder"),
    (["convert-published", "--device", "tpu"], "expected cpu or cuda"),
])
def test_the_command_line_answers_bad_arguments_without_a_traceback(args, words):
    done = subprocess.run([sys.executable, "-m", "zifhelpers", *args], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and words in done.stderr
