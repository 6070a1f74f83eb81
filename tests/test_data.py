"""Tests for zifhelpers.data.public: registry, checksums, loaders and their errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from zifhelpers import data


def test_registry_covers_the_mirror_and_pins_the_commit():
    reg = data.registry()
    sums = Path(__file__).resolve().parents[1].parent / "shared/data/SHA256SUMS"
    if sums.is_file():
        listed = {
            line.split()[1][2:]: line.split()[0]
            for line in sums.read_text().splitlines()
        }
        listed.pop("README.md")
        assert {k: e.sha256 for k, e in reg.items()} == listed
    entry = reg["castel2024_mlp/nequip_l2r6stress0.pth"]
    assert entry.url == (
        "https://raw.githubusercontent.com/fxcoudert/citable-data/"
        "86fa8c27af2d60e4e79b572fe6da62b2ae51b125/"
        "162-Castel_DigitalDiscovery_2024/nequip_l2r6stress0.pth"
    )
    rmc = reg["castel2023_mechanics/RMC_glass_mqgzif4.xyz"].url
    assert rmc.endswith("156-Castel_ChemMater_2023/Structures/RMC%20glass/mqgzif4.xyz")


def test_fetch_verifies_the_hash():
    path = data.fetch("castel2024_mlp/crystal.lmp")
    assert data.sha256sum(path) == data.registry()["castel2024_mlp/crystal.lmp"].sha256


def test_corrupt_file_names_file_and_both_hashes(tmp_path, monkeypatch):
    name = "castel2024_mlp/crystal.lmp"
    bad = tmp_path / name
    bad.parent.mkdir(parents=True)
    shutil.copy(data.fetch(name), bad)
    with open(bad, "a") as handle:
        handle.write("# tampered\n")
    monkeypatch.setenv(data.MIRROR_ENV, str(tmp_path))
    with pytest.raises(data.ChecksumMismatchError) as err:
        data.fetch(name)
    message = str(err.value)
    assert name in message
    assert data.registry()[name].sha256 in message
    assert data.sha256sum(bad) in message
    assert "fetch it again" in message


def test_missing_file_in_mirror_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(data.MIRROR_ENV, str(tmp_path))
    with pytest.raises(data.DataFileError, match=data.MIRROR_ENV):
        data.fetch("castel2024_mlp/crystal.lmp")


def test_offline_download_failure_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(data, "BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setattr(
        data.RegistryEntry, "url", property(lambda self: "http://127.0.0.1:9/x")
    )
    with pytest.raises(data.DataFileError, match=data.MIRROR_ENV):
        data.fetch("castel2024_mlp/crystal.lmp")


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(KeyError, match="glass10"):
        data.load_structure("glass11")
    with pytest.raises(KeyError, match="registry"):
        data.fetch("nope/missing.cif")
    with pytest.raises(KeyError, match="589"):
        data.load_xray("FQ", 1000)
    with pytest.raises(ValueError, match="'FQ' or 'Dr'"):
        data.load_xray("Sq", 31)


@pytest.mark.parametrize(
    "name", ["crystal", "crystal_lewis2009", "glass01", "glass05", "glass10"]
)
def test_zif4_cells_have_the_zif4_composition(name):
    atoms = data.load_structure(name)
    assert len(atoms) == 272
    assert atoms.get_chemical_formula() == "C96H96N64Zn16"  # Zn(C3H3N2)2 x 16
    assert atoms.pbc.all()
    # crystallographic density of the model cell: 1.21 g/cm3
    density = atoms.get_masses().sum() / atoms.get_volume() * 1.66053907
    assert density == pytest.approx(1.210, abs=0.002)
    assert atoms.info["citation"]


def test_crystal_lmp_and_lewis_cif_share_lattice_and_bonding():
    """crystal.lmp is the paper's MD start, a re-optimised Lewis 2009 cell."""
    lmp = data.load_structure("crystal")
    cif = data.load_structure("crystal_lewis2009")
    assert np.allclose(lmp.cell.lengths(), cif.cell.lengths(), atol=1e-3)
    for atoms in (lmp, cif):
        d = atoms.get_all_distances(mic=True)[atoms.numbers == 30][:, atoms.numbers == 7]
        assert (d < 2.5).sum() == 64  # 16 tetrahedral Zn
        assert d[d < 2.5].min() > 1.85 and d[d < 2.5].max() < 2.3


def test_rmc_glass():
    atoms = data.load_structure("rmc_glass")
    assert len(atoms) == 8704
    assert atoms.get_chemical_formula() == "C3072H3072N2048Zn512"
    assert atoms.cell.lengths() == pytest.approx([47.5225] * 3)
    assert "occ" not in atoms.arrays


def test_xray_curves():
    temps = data.xray_temperatures()
    assert temps[0] == 31 and temps[-1] == 589 and len(temps) == 20
    fq = data.load_xray("FQ", 31)
    assert list(fq.columns) == ["Q", "F", "error"]
    assert fq["Q"].iloc[0] == pytest.approx(0.6125)
    assert np.all(np.diff(fq["Q"]) > 0)
    dr = data.load_xray("Dr", 31)
    assert list(dr.columns) == ["r", "D", "error"]
    # the Zn-N / C-N first peaks of ZIF-4 lie between 1 and 2.2 A
    first = dr[(dr.r > 0.8) & (dr.r < 2.5)]
    assert 1.0 < first.r[first.D.idxmax()] < 2.2


def test_published_model_path():
    path = data.published_model_path()
    assert path.name == "nequip_l2r6stress0.pth"
    assert path.stat().st_size == 2058674
