"""The nequip 0.5.6 -> 0.19 converter reproduces the published model exactly."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from zifhelpers.data.public import published_model_path
from zifhelpers.potentials import convert as cv
from zifhelpers.potentials.calculators import LegacyNequIPCalculator
from zifhelpers.potentials.registry import load_calculator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def legacy():
    return cv.read_legacy_model(published_model_path())


@pytest.fixture(scope="module")
def frames():
    every = cv.verification_structures()
    return [every[0], every[3], every[-1]]  # crystal, glass03, rattled crystal


def test_read_legacy_model_finds_the_architecture(legacy):
    cfg = legacy["config"]
    assert legacy["type_names"] == ["H", "C", "N", "Zn"]
    assert legacy["r_max"] == 6.0
    assert cfg["num_layers"] == 5 and cfg["l_max"] == 2 and cfg["parity"] is False
    assert cfg["irreps_edge_sh"] == "1x0e+1x1e+1x2e"  # all-even: not 0.19's 1o
    assert cfg["avg_num_neighbors"] == pytest.approx(56.33303451538086)
    kw = cv.legacy_builder_kwargs(legacy)
    # global RescaleEnergyEtc scale folded into the per-type scale and shift
    assert kw["per_type_energy_scales"]["Zn"] == pytest.approx(1.698693871, rel=1e-6)
    assert kw["per_type_energy_shifts"]["H"] == pytest.approx(-129.9633 * 1.698693871,
                                                              rel=1e-5)


@pytest.mark.parametrize(
    "key, value, words",
    [("parity", True, "parity: true"),
     ("nonlinearity_type", "norm", "nonlinearity_type"),
     ("model_builders", ["allegro.model.Allegro", "PerSpeciesRescale"], "Allegro"),
     ("use_sc", False, "use_sc"),
     ("nonlinearity_scalars", {"e": "ssp", "o": "tanh"}, "nonlinearity_scalars")],
)
def test_unsupported_legacy_configs_are_refused_by_name(legacy, key, value, words):
    bad = copy.copy(legacy)
    bad["config"] = dict(legacy["config"], **{key: value})
    with pytest.raises(cv.UnsupportedLegacyModel, match=words):
        cv.legacy_builder_kwargs(bad)


def test_non_legacy_file_is_refused(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a model")
    with pytest.raises(cv.UnsupportedLegacyModel, match="not a TorchScript model"):
        cv.read_legacy_model(junk)


@pytest.mark.parametrize("scalar_last_layer,fused", [(False, False), (False, True), (True, True)])
def test_conversion_is_exact_in_float64(frames, published64, scalar_last_layer, fused):
    """Same weights, same maths: float64 outputs agree to rounding, far below
    the refusal thresholds (a mis-mapped weight gives differences of order 1),
    with e3nn's tensor products and with the fused ones."""
    model, kw = cv.convert_legacy_model(published_model_path(), model_dtype="float64",
                                        scalar_last_layer=scalar_last_layer,
                                        fused_tensor_product=fused)
    assert kw.get("fused_tensor_product", False) is fused
    kinds = {type(m).__name__ for m in model.modules()}
    assert ("FusedTensorProductScatter" in kinds) is fused
    some = frames if scalar_last_layer else frames[:1]
    worst = cv.verify_conversion(cv.eager_calculator(model), published64, some)
    assert worst["energy_per_atom"] < 1e-7
    assert worst["forces"] < 1e-5
    assert worst["stress"] < 1e-7


def test_pruned_last_layer_is_smaller(legacy):
    full, _ = cv.convert_legacy_model(published_model_path(), scalar_last_layer=False)
    pruned, kw = cv.convert_legacy_model(published_model_path())
    assert kw["scalar_last_layer"] is True
    size = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert size(pruned) < size(full)
    tp = dict(pruned.named_modules())["model.func.layer4_convnet.conv.tp_scatter"].tp
    assert len(tp.instructions) == 3  # 0e x 0e, 1e x 1e, 2e x 2e -> 0e (of 15)


def test_a_wrong_weight_is_refused_with_the_size_of_the_error(frames, published64):
    model, _ = cv.convert_legacy_model(published_model_path(), model_dtype="float64")
    with torch.no_grad():
        dict(model.named_parameters())[
            "model.func.layer2_convnet.conv.linear_2.weight"].mul_(1.01)
    with pytest.raises(cv.ConversionError, match=r"crystal \(272 atoms\): \w+ differs by"):
        cv.verify_conversion(cv.eager_calculator(model), published64, frames[:1])


def test_published_is_the_converted_compiled_model(frames, published64):
    calc = load_calculator("published", device="cpu")
    assert type(calc).__name__ == "NequIPCalculator"
    worst = cv.verify_conversion(calc, published64, frames)
    assert all(worst[k] < cv.TOLERANCES[k] for k in worst)
    # cached with its verification record; a second call reuses it
    path = cv.converted_published_model(device="cpu")
    record = json.loads(path.with_name(path.name.replace(".nequip.pt2", ".json")).read_text())
    package = path.parent / record["package"]
    assert cv.converted_published_package() == package
    package_record = json.loads(package.with_name(
        package.name.replace(".nequip.zip", ".package.json")).read_text())
    for rec in (record, package_record):
        assert rec["source_sha256"] == cv._sha256(published_model_path())
        assert rec["converter"] == cv.CONVERTER_VERSION
    for key, limit in cv.TOLERANCES.items():
        assert package_record["max_differences_eager"][key] < limit
        assert record["max_differences_compiled"][key] < limit
    # cached in the user cache, never inside the repository
    repo = Path(__file__).resolve().parents[1]
    assert repo not in path.resolve().parents


def test_package_file_runs_with_nequip_alone(published64, crystal, tmp_path):
    """The .nequip.zip loads and runs in a process where zifhelpers cannot be
    imported (its one module is interned), giving the legacy model's energy."""
    package = cv.converted_published_package()
    crystal.write(tmp_path / "crystal.extxyz")
    script = (
        "import sys; sys.modules['zifhelpers'] = None\n"
        "from ase.io import read\n"
        "from nequip.integrations.ase import NequIPCalculator\n"
        f"atoms = read({str(tmp_path / 'crystal.extxyz')!r})\n"
        f"atoms.calc = NequIPCalculator._from_saved_model({str(package)!r})\n"
        "print(atoms.get_potential_energy())\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    energy = float(proc.stdout.strip().splitlines()[-1])
    atoms = crystal.copy()
    atoms.calc = published64
    reference = atoms.get_potential_energy()
    assert energy == pytest.approx(reference, abs=len(atoms) * cv.TOLERANCES["energy_per_atom"])


def test_package_refuses_a_wrong_extension(tmp_path):
    with pytest.raises(ValueError, match="must end in .nequip.zip"):
        cv.package_converted(None, {}, tmp_path / "model.zip", None)


def test_published_legacy_is_still_available(crystal):
    calc = load_calculator("published-legacy", device="cpu")
    assert isinstance(calc, LegacyNequIPCalculator)
    atoms = crystal.copy()
    atoms.calc = calc
    assert atoms.get_potential_energy() == pytest.approx(-60083.21, abs=0.05)


def test_converted_model_forces_are_energy_gradients(crystal):
    """Central differences on the compiled float32 model (loose: float32)."""
    calc = load_calculator("published", device="cpu")
    atoms = crystal.copy()
    atoms.calc = calc
    forces = atoms.get_forces()
    i, h = int(np.argmax(np.abs(forces[:, 0]))), 1e-3
    energies = []
    for sign in (1, -1):
        moved = crystal.copy()
        moved.positions[i, 0] += sign * h
        moved.calc = calc
        energies.append(moved.get_potential_energy())
    assert forces[i, 0] == pytest.approx(-(energies[0] - energies[1]) / (2 * h), abs=0.05)


def test_command_line_copies_the_verified_package(tmp_path, capsys):
    from zifhelpers.__main__ import main

    out = tmp_path / "published.nequip.zip"
    assert main(["convert-published", "--output", str(out)]) == 0
    assert out.read_bytes() == cv.converted_published_package().read_bytes()
    assert main(["convert-published", "--output", str(tmp_path / "model.zip")]) == 2
    assert "expected a path ending in .nequip.zip" in capsys.readouterr().err
