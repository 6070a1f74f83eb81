"""CP2K AIMD reader, on small files written in CP2K's own formats."""

from __future__ import annotations

import numpy as np
import pytest
from ase.units import Bohr as BOHR_A  # noqa: E402  (ASE's CODATA set, as the reader uses)
from ase.units import Hartree as HARTREE_EV  # noqa: E402

from zifhelpers.data import cp2k
from zifhelpers.data.public import fetch


def _write_xyz(path, symbols, values, energies, steps):
    with open(path, "w") as handle:
        for vals, e, s in zip(values, energies, steps, strict=True):
            handle.write(f"{len(symbols):8d}\n i = {s:8d}, time = {0.5 * s:12.3f}, E = {e:20.10f}\n")
            for sym, v in zip(symbols, vals, strict=True):
                handle.write(f"{sym:>3s} {v[0]:20.10f} {v[1]:20.10f} {v[2]:20.10f}\n")


@pytest.fixture
def run_files(tmp_path, crystal):
    rng = np.random.default_rng(0)
    n_frames, steps = 4, [0, 10, 20, 30]
    symbols = crystal.get_chemical_symbols()
    positions = crystal.positions + rng.normal(scale=0.05, size=(n_frames, len(crystal), 3))
    forces = rng.normal(scale=0.02, size=(n_frames, len(crystal), 3))  # Ha/bohr
    energies = -1500.0 + rng.normal(scale=0.01, size=n_frames)  # Ha
    _write_xyz(tmp_path / "zif-pos-1.xyz", symbols, positions, energies, steps)
    _write_xyz(tmp_path / "zif-frc-1.xyz", symbols, forces, energies, steps)
    with open(tmp_path / "zif-1.ener", "w") as handle:
        handle.write("#     Step Nr.          Time[fs]        Kin.[a.u.]          Temp[K]            Pot.[a.u.]        Cons Qty[a.u.]        UsedTime[s]\n")
        for s, e in zip(steps, energies, strict=True):
            handle.write(f"{s:10d} {0.5 * s:16.6f} {1.2:20.10f} {300.0:16.6f} {e:20.10f} {e + 1.2:20.10f} {1.0:12.3f}\n")
    cell = crystal.cell.array
    with open(tmp_path / "zif-1.cell", "w") as handle:
        handle.write("#   Step   Time [fs]       Ax [Angstrom]       Ay [Angstrom]       Az [Angstrom]       Bx [Angstrom]       By [Angstrom]       Bz [Angstrom]       Cx [Angstrom]       Cy [Angstrom]       Cz [Angstrom]      Volume [Angstrom^3]\n")
        for s in steps:
            handle.write(f"{s:8d} {0.5 * s:12.3f} " + " ".join(f"{x:20.10f}" for x in cell.ravel()) + f" {crystal.get_volume():20.10f}\n")
    stress_bar = np.tile(np.array([[1000.0, 10.0, 0.0], [10.0, 2000.0, 5.0], [0.0, 5.0, 3000.0]]), (n_frames, 1, 1))
    with open(tmp_path / "zif-1.stress", "w") as handle:
        handle.write("#   Step   Time [fs]   xx [bar] xy [bar] xz [bar] yx [bar] yy [bar] yz [bar] zx [bar] zy [bar] zz [bar]\n")
        for s, st in zip(steps, stress_bar, strict=True):
            handle.write(f"{s:8d} {0.5 * s:12.3f} " + " ".join(f"{x:20.10f}" for x in st.ravel()) + "\n")
    return tmp_path, positions, forces, energies


def test_units_and_provenance(run_files, crystal):
    folder, positions, forces, energies = run_files
    frames = cp2k.read_cp2k_md(folder / "zif-pos-1.xyz", folder / "zif-frc-1.xyz",
                               cell=folder / "zif-1.cell", ener=folder / "zif-1.ener",
                               stress=folder / "zif-1.stress", state_point="crystal 300 K")
    assert len(frames) == 4
    f = frames[2]
    assert f.get_chemical_symbols() == crystal.get_chemical_symbols()
    np.testing.assert_allclose(f.positions, positions[2], atol=1e-9)
    assert f.get_potential_energy() == pytest.approx(energies[2] * HARTREE_EV, abs=1e-6)
    np.testing.assert_allclose(f.get_forces(), forces[2] * HARTREE_EV / BOHR_A, atol=1e-7)
    # 1000 bar = 0.1 GPa of compression -> ASE stress -0.1 GPa on xx
    assert f.get_stress()[0] == pytest.approx(-0.1 / 160.21766208, rel=1e-6)
    assert f.get_stress()[5] == pytest.approx(-0.001 / 160.21766208, rel=1e-6)
    assert f.info["step"] == 20 and f.info["time_fs"] == 10.0
    assert f.info["labeller"] == "CP2K" and f.info["state_point"] == "crystal 300 K"
    np.testing.assert_allclose(f.cell.array, crystal.cell.array, atol=1e-9)
    assert len(cp2k.read_cp2k_md(folder / "zif-pos-1.xyz", folder / "zif-frc-1.xyz",
                                 cell=crystal.cell.array, stride=2)) == 2


def test_cell_from_the_papers_cp2k_input():
    cell = cp2k.read_cp2k_cell(fetch("cp2k/input_CP2K_ZIF4.in"))
    np.testing.assert_allclose(np.diag(cell), [15.4231, 15.4042, 18.4379])


def test_cell_from_abc(tmp_path):
    inp = tmp_path / "in.inp"
    inp.write_text("&FORCE_EVAL\n &SUBSYS\n  &CELL\n   ABC 10 11 12\n   ALPHA_BETA_GAMMA 90 90 120\n  &END CELL\n &END SUBSYS\n&END FORCE_EVAL\n")
    cell = cp2k.read_cp2k_cell(inp)
    assert cell[1, 0] == pytest.approx(-5.5)
    assert np.linalg.norm(cell[2]) == pytest.approx(12)


def test_mismatched_and_malformed_files(run_files):
    folder, *_ = run_files
    pos, frc = folder / "zif-pos-1.xyz", folder / "zif-frc-1.xyz"
    lines = frc.read_text().splitlines(keepends=True)
    short = folder / "short-frc-1.xyz"
    short.write_text("".join(lines[: 3 * 274]))
    with pytest.raises(cp2k.CP2KFormatError, match="frame counts differ: .* 4 frames, .* 3"):
        cp2k.read_cp2k_md(pos, short, cell=folder / "zif-1.cell")
    cut = folder / "cut-frc-1.xyz"
    cut.write_text("".join(lines[:-5]))
    with pytest.raises(cp2k.CP2KFormatError, match="frame 3 is truncated"):
        cp2k.read_cp2k_md(pos, cut, cell=folder / "zif-1.cell")
    ev = folder / "ev-frc-1.xyz"
    ev.write_text("".join(ln if len(ln.split()) != 4 else ln.split()[0] + " 9.0 0.0 0.0\n" for ln in lines))
    with pytest.raises(cp2k.CP2KFormatError, match="implausible in Hartree/bohr"):
        cp2k.read_cp2k_md(pos, ev, cell=folder / "zif-1.cell")
    ener = (folder / "zif-1.ener").read_text().replace("-1500", "-1499")
    (folder / "bad.ener").write_text(ener)
    with pytest.raises(cp2k.CP2KFormatError, match="differ from those in"):
        cp2k.read_cp2k_md(pos, frc, cell=folder / "zif-1.cell", ener=folder / "bad.ener")
    bad = folder / "bad-pos-1.xyz"
    bad.write_text("1\nnot a cp2k comment\nH 0.0 0.0 0.0\n")
    with pytest.raises(cp2k.CP2KFormatError, match="comment line"):
        cp2k.read_cp2k_xyz(bad)


def test_nan_forces_repeated_steps_and_flat_cells_are_refused_with_file_and_line(run_files, crystal):
    folder, *_ = run_files
    pos, frc = folder / "zif-pos-1.xyz", folder / "zif-frc-1.xyz"
    per_frame = len(crystal) + 2
    lines = frc.read_text().splitlines(keepends=True)
    nan = list(lines)
    nan[2 * per_frame + 5] = "  H nan 0.0 0.0\n"  # frame 2
    (folder / "nan-frc-1.xyz").write_text("".join(nan))
    with pytest.raises(cp2k.CP2KFormatError,
                       match=f"non-finite forces in frame 2 \\(MD step 20, line {2 * per_frame + 1}\\)"):
        cp2k.read_cp2k_md(pos, folder / "nan-frc-1.xyz", cell=folder / "zif-1.cell")
    # a restart that wrote steps 10 and 20 again: both files agree, the steps go back
    symbols = crystal.get_chemical_symbols()
    rng = np.random.default_rng(1)
    values = crystal.positions + rng.normal(scale=0.05, size=(4, len(crystal), 3))
    _write_xyz(folder / "re-pos-1.xyz", symbols, values, [-1500.0] * 4, [0, 10, 10, 20])
    _write_xyz(folder / "re-frc-1.xyz", symbols, 0.01 * values / values.max(), [-1500.0] * 4,
               [0, 10, 10, 20])
    with pytest.raises(cp2k.CP2KFormatError, match="do not increase at frame 2 .*step 10 after 10"):
        cp2k.read_cp2k_md(folder / "re-pos-1.xyz", folder / "re-frc-1.xyz", cell=crystal.cell.array)
    with pytest.raises(cp2k.CP2KFormatError, match="zero or non-finite volume"):
        cp2k.read_cp2k_md(pos, frc, cell=np.zeros((3, 3)))
