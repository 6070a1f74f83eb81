"""The reproduction report: the paper's values beside ours, from committed results only.

``python -m zifhelpers report`` writes ``REPRODUCTION.md`` at the top of the
repository from the results JSONs committed under ``results/`` and the paper's
values in :mod:`zifhelpers.data.paper`; ``--check`` fails when the committed file
differs from what the results give (CI runs it, so the report never drifts).

For each of the paper's quantities, every measurement we have: our value ± its
error, the potential and the run that produced it, the difference in units of the
combined uncertainty ``z = (ours − paper) / sqrt(error² + spread²)``, and a
verdict: ``agrees`` (the issue's target is met; without a target, ``|z| ≤ 2``),
``differs``, or ``not measured``.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.paper import TABLE1, VALUES, PaperValue

__all__ = ["Measurement", "MEASUREMENTS", "VERDICTS", "collect", "drift_note", "offset_note", "seeds_note", "sampler_checks", "table1_checks", "validation_checks", "zero_kelvin_checks",
           "render", "write_report", "repo_root"]


@dataclass(frozen=True)
class Measurement:
    """Where one of our numbers for a paper value lives.

    ``path`` is a results JSON relative to the repository root; ``value`` and
    ``error`` are dotted paths into it. ``potential`` and ``run`` say what
    produced the number. A note for the row is read from ``notes.<key>`` in the
    JSON when present (e.g. the measured cause of a miss), else ``note``.
    ``bound="lower"`` marks a value that only bounds the quantity from below
    (e.g. a barrier whose top no frame sampled): shown as "≥ value", its verdict
    is ``consistent (bound)`` when the paper's value, within its target, is not
    excluded by it, else ``differs``. ``resolved``, a dotted path to a bool, makes
    such a row an ordinary estimate (with ``error``) when the file says it is
    resolved (e.g. pooled counts that reached the barrier's top). ``members``, a
    dotted path to a list of names, says which systems a group's mean is over
    ("over 2: glass01, glass02").
    """

    key: str
    path: str
    value: str
    error: str | None
    potential: str
    run: str
    note: str = ""
    bound: str = ""
    members: str | None = None
    resolved: str | None = None


_PV_GPU = "results/gpu/05_pv_reference_h200.json"
_MECH_CPU = "results/cpu/results/05_mechanics.json"
_REF_ON_STUDENT = "reference on frames of the student nequip-w32m's MD"
_PV_CPU = "cpu profile: 7 volumes (±4.5 %), 2 + 10 ps each, 300 K, 20 reference frames per volume"
_SS_CPU = ("cpu profile: ±2 % Voigt strains at the zero-pressure volume, 12 runs of 1 + 6 ps per "
           "seed (seeds: `stress_strain_settings` of the JSON), 300 K (stress–strain; the paper: "
           "cell fluctuations)")


def _table2(key: str, group: str, quantity: str, unit: str) -> Measurement:
    base = f"values.table2_summary.reference_on_frames.{group}"
    return Measurement(key, _MECH_CPU, f"{base}.{quantity}_mean_{unit}", f"{base}.{quantity}_err_{unit}",
                       _REF_ON_STUDENT, _PV_CPU,
                       members=f"{base}.members" if group != "crystal" else None)


def _table3(key: str, quantity: str) -> Measurement:
    return Measurement(key, _MECH_CPU, f"values.stress_strain.crystal.{quantity}",
                       f"values.stress_strain.crystal.{quantity}_err", _REF_ON_STUDENT, _SS_CPU)


_FLUCT_CPU = ("cpu profile: one NσT run of 2 + 20 ps, 300 K, cell fluctuations (the paper's route, "
              "over 5–10 ns); errors: jackknife over 5 time blocks")


def _table3_fluct(key: str, quantity: str) -> Measurement:
    """The crystal's Hill modulus from the student's own NσT cell fluctuations."""
    return Measurement(key, _MECH_CPU, f"values.crystal_{quantity}", f"values.crystal_{quantity}_err",
                       "student nequip-w32m (its own NσT MD; no reference on cells)", _FLUCT_CPU)


def _table3_glasses(key: str, quantity: str, unit: str, fluct: bool = False) -> Measurement:
    """The ab initio glasses' mean Hill modulus by stress–strain (``values.table3_summary``)
    or, with ``fluct``, by the student's NσT cell fluctuations (``values.table3_fluct_summary``)."""
    base = f"values.{'table3_fluct_summary' if fluct else 'table3_summary'}.abinitio_glasses"
    suffix = f"_{unit}" if unit else ""
    who, run = (("student nequip-w32m (its own NσT MD; no reference on cells)", _FLUCT_CPU) if fluct
                else (_REF_ON_STUDENT, _SS_CPU))
    return Measurement(key, _MECH_CPU, f"{base}.{quantity}_mean{suffix}", f"{base}.{quantity}_err{suffix}",
                       who, run, members=f"{base}.members")
_REF_GPU = ("reference (published model), its own MD on an H200")


def _table2_own(key: str, group: str, quantity: str, unit: str) -> Measurement:
    """A group's Table 2 mean from the reference's own P(V) (H200 runs, fitted by notebook 05)."""
    base = f"values.table2_summary.reference_own_md.{group}"
    return Measurement(key, _MECH_CPU, f"{base}.{quantity}_mean_{unit}", f"{base}.{quantity}_err_{unit}",
                       _REF_GPU, "7 volumes (±4.5 %), 2 ps equilibration + 0.73 ps each, 300 K "
                       "(`results/gpu/05_pv_reference_h200.json`, fitted in notebook 05)",
                       members=f"{base}.members")


#: Every measurement the report knows of; one whose file is absent is listed as not measured.
MEASUREMENTS: list[Measurement] = [
    Measurement("K_crystal", _PV_GPU, "fits.crystal.K0_GPa", "fits.crystal.K0_err_GPa",
                _REF_GPU, "7 volumes (±4.5 %), 2 ps equilibration + 4.2 ps each, 300 K"),
    Measurement("rho0_crystal", _PV_GPU, "fits.crystal.rho0_g_cm3",
                "fits.crystal.rho0_err_g_cm3", _REF_GPU,
                "7 volumes (±4.5 %), 2 ps equilibration + 4.2 ps each, 300 K"),
    _table2("K_crystal", "crystal", "K0", "GPa"),
    _table2("rho0_crystal", "crystal", "rho0", "g_cm3"),
    _table2_own("K_abinitio_glasses", "abinitio_glasses", "K0", "GPa"),
    _table2_own("rho0_abinitio_glasses", "abinitio_glasses", "rho0", "g_cm3"),
    _table2("K_abinitio_glasses", "abinitio_glasses", "K0", "GPa"),
    _table2("rho0_abinitio_glasses", "abinitio_glasses", "rho0", "g_cm3"),
    _table2("K_mlp_glasses", "mlp_glasses", "K0", "GPa"),
    _table2("rho0_mlp_glasses", "mlp_glasses", "rho0", "g_cm3"),
    _table3("K_fluct_crystal", "K_H"),
    _table3("E_crystal", "E_H"),
    _table3("G_crystal", "G_H"),
    _table3("nu_crystal", "nu_H"),
    _table3_fluct("K_fluct_crystal", "K_H"),
    _table3_fluct("E_crystal", "E_H"),
    _table3_fluct("G_crystal", "G_H"),
    _table3_fluct("nu_crystal", "nu_H"),
    _table3_glasses("K_fluct_abinitio_glasses", "K_H", "GPa"),
    _table3_glasses("E_abinitio_glasses", "E_H", "GPa"),
    _table3_glasses("G_abinitio_glasses", "G_H", "GPa"),
    _table3_glasses("nu_abinitio_glasses", "nu_H", ""),
    _table3_glasses("K_fluct_abinitio_glasses", "K_H", "GPa", fluct=True),
    _table3_glasses("E_abinitio_glasses", "E_H", "GPa", fluct=True),
    _table3_glasses("G_abinitio_glasses", "G_H", "GPa", fluct=True),
    _table3_glasses("nu_abinitio_glasses", "nu_H", "", fluct=True),
    Measurement("cn_mlp_glass", "results/cpu/04_melt_quench_campaign.json",
                "values.cn_Zn_N_melt_quench.mean", "values.cn_Zn_N_melt_quench.sem",
                "student nequip-w32m (MD)", "cpu profile: melt-quenched glasses, one cell each"),
    Measurement("cn_abinitio_glass", "results/cpu/results/00_data_and_models.json",
                "values.glass_cn_Zn_N_mean", None, "none (static structures)",
                "the 10 ab initio glass files, Zn–N within 2.5 Å",
                note="ours: the static structure files; the paper's value may be their 300 K MD average"),
    Measurement("pore_mlp_glass", "results/cpu/04_melt_quench_campaign.json",
                "values.pore_melt_quench_cm3_kg.mean", "values.pore_melt_quench_cm3_kg.sem",
                "student nequip-w32m (MD)", "cpu profile: melt-quenched glasses, one cell each",
                note="each glass is one 272-atom cell (the paper: one 2×2×2 supercell); "
                     "ours ± is the standard error over the seeds"),
    Measurement("barrier_ZnN_mlp_glass", "results/cpu/04_melt_quench_campaign.json",
                "values.barrier_ZnN_kJ_mol.mean", "values.barrier_ZnN_kJ_mol.sem",
                "student nequip-w32m (MD)", "cpu profile: melt-quenched glasses, one cell each"),
    Measurement("barrier_ZnN_mlp_glass", "results/cpu/04_melt_quench_campaign.json",
                "values.barrier_ZnN_pooled.lower_bound", None, "student nequip-w32m (MD)",
                "cpu profile: Zn–N pair counts of the seeds' 300 K runs pooled", bound="lower",
                note="no Zn–N pair was sampled at the barrier's top in any run, so the histogram "
                     "bounds the barrier from below (one count in the emptiest bin between 2.5 "
                     "and 3.2 Å; `analysis.barrier_lower_bound`); resolving it needs "
                     "e^((26 − bound)/kT) times more bond samples"),
    Measurement("barrier_ZnN_mlp_glass", "results/cpu/04_glass_barrier.json",
                "values.pooled.lower_bound", "values.pooled.err_kJ_mol", "student nequip-w32m (MD)",
                "cpu profile: the seeds' 300 K runs continued from their glasses "
                "(`python -m zifhelpers glass-barrier`), Zn–N pair counts pooled with notebook 04's",
                bound="lower", resolved="values.pooled.resolved"),
    Measurement("pore_crystal", "results/cpu/04_melt_quench_campaign.json",
                "values.pore_crystal_cm3_kg.mean", None, "none (static structure)",
                "the crystal structure file, Zeo++ He probe 1.2 Å"),
    Measurement("pore_abinitio_glasses", "results/cpu/04_melt_quench_campaign.json",
                "values.pore_abinitio_glasses_cm3_kg.mean", None, "none (static structures)",
                "the 10 ab initio glass files, Zeo++ He probe 1.2 Å",
                note="ours: one Zeo++ estimate of each of the 10 static structure files"),
]


def repo_root() -> Path:
    """The repository holding this package (where ``results/`` and the report live)."""
    return Path(__file__).resolve().parents[2]


def _lookup(record: dict, dotted: str) -> Any:
    node: Any = record
    for part in dotted.split("."):
        if node is None:  # a group the run wrote as null (measured nothing there)
            return None
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def _number(raw: Any, path: Path, field: str, key: str) -> float:
    """A finite number from a results JSON, or an error naming the file and the field."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: field {field!r} (for the paper's {key}) is {raw!r}, "
                         "expected a number or null") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}: field {field!r} (for the paper's {key}) is {value}, "
                         "expected a finite number or null")
    return value


def _z(ours: float, err: float | None, paper: PaperValue) -> float | None:
    scale = math.hypot(err or 0.0, paper.spread or 0.0)
    return (ours - paper.value) / scale if scale > 0 else None


VERDICTS = ("agrees", "consistent (bound)", "undecided", "differs", "not measured")


def _tolerance(paper: PaperValue) -> float | None:
    """The half-width of the paper value's target window (None without a target)."""
    if paper.target is None:
        return None
    kind, tol = paper.target
    return {"abs": tol, "rel": (tol or 0.0) * abs(paper.value), "spread": paper.spread or 0.0}.get(kind)


def _bound_verdict(bound: float, paper: PaperValue) -> str:
    """A lower bound is consistent when some value inside the paper's target is above it."""
    return "consistent (bound)" if bound <= paper.value + (_tolerance(paper) or 0.0) else "differs"


def _verdict(ours: float, z: float | None, paper: PaperValue, err: float | None = None) -> str:
    """``agrees`` inside the target window, ``differs`` outside it, unless our error is wider
    than the window itself: such an estimate cannot tell whether the target is met, and is
    ``undecided`` unless it is more than 2σ (|z| > 2) from the paper."""
    met = paper.within_target(ours)
    if met is not None:
        tol = _tolerance(paper)
        if err is not None and tol is not None and err > tol:
            return "differs" if z is not None and abs(z) > 2 else "undecided"
        return "agrees" if met else "differs"
    if z is None:
        return "agrees" if math.isclose(ours, paper.value, rel_tol=0.05) else "differs"
    return "agrees" if abs(z) <= 2 else "differs"


def offset_note(bias: dict[str, Any], system: str) -> str:
    """A report note for a sampling bias measured by :func:`~zifhelpers.analysis.elastic.pressure_offset`.

    ``bias`` holds ``offset_GPa``, ``offset_err_GPa``, ``n`` and ``chi2_dof``
    (the reference's pressure on the sampler's frames minus the reference's
    own MD at the same volumes) and, optionally, ``source`` (which run of the
    reference's own MD). The offset is called a sampling bias when it is over
    twice its error. A constant offset δ shifts the fitted P(V) by δ, so the
    zero-pressure volume moves by about δ / K0 and the modulus there by about
    −K′ δ (K′ = 4 in the second-order Birch–Murnaghan form).
    """
    for field in ("offset_GPa", "offset_err_GPa", "n"):
        if field not in bias:
            raise KeyError(f"offset_note: the bias of {system} has no {field!r} "
                           f"(found {sorted(bias)}); pass elastic.pressure_offset's result")
    n, offset, err = int(bias["n"]), float(bias["offset_GPa"]), float(bias["offset_err_GPa"])
    where = (f"at the same {n} volumes (χ²/dof {float(bias['chi2_dof']):.1f})" if n > 1
             else "at the one volume both ran")
    source = f" ({bias['source']})" if bias.get("source") else ""
    text = (f"{system}: the reference reads {offset:+.3f} ± {err:.3f} GPa more on the student's "
            f"frames than in its own MD{source} {where}")
    if abs(offset) > 2 * err:
        text += (f": a sampling bias, which moves V0 by about offset/K0 and K0 by about "
                 f"−K′·offset = {-4 * offset:+.2f} GPa (BM2, K′ = 4)")
    return text


def drift_note(drift: dict[str, Any], system: str, window_ps: float = 10.0) -> str:
    """A report note for a long run at one volume: does the pressure still move after equilibration?

    ``drift`` is one entry of notebook 05's ``values.drift``: ``blocks_GPa``
    (block means of the sampler's pressure, in time order over the production),
    ``production_ps``, ``strain``, and the fitted ``slope_GPa_per_ps`` ±
    ``slope_err_GPa_per_ps``. The note gives the slope and the pressure of the
    last ``window_ps`` against the first (the window a P(V) volume of the
    campaign averages over, 10 ps after 2 ps of equilibration), its error from
    the blocks' scatter about their linear trend (a run of fewer than 4 blocks,
    e.g. a smoke run, gets the slope only). A shift is called a drift when it is over twice its
    error; a shift δ common to every volume moves K0 by about −K′δ (K′ = 4),
    the same reading as :func:`offset_note`.
    """
    for field in ("blocks_GPa", "production_ps", "slope_GPa_per_ps", "slope_err_GPa_per_ps"):
        if field not in drift:
            raise KeyError(f"drift_note: the drift run of {system} has no {field!r} "
                           f"(found {sorted(drift)}); pass an entry of notebook 05's values.drift")
    blocks, total = [float(b) for b in drift["blocks_GPa"]], float(drift["production_ps"])
    slope, slope_err = float(drift["slope_GPa_per_ps"]), float(drift["slope_err_GPa_per_ps"])
    text = (f"{system}, one {total:g} ps run at strain {float(drift.get('strain', 0.0)):+.3f} "
            f"(student): pressure slope {1e3 * slope:+.2f} ± {1e3 * slope_err:.2f} MPa/ps")
    if len(blocks) < 4 or total <= 0:  # a smoke run: too few blocks for a trend and its noise
        return text + f" ({len(blocks)} blocks: too few to compare its start and end)"
    per_block = total / len(blocks)
    n = min(max(1, round(window_ps / per_block)), len(blocks) // 2)
    shift = statistics.fmean(blocks[-n:]) - statistics.fmean(blocks[:n])
    # the blocks' scatter about their linear trend (conservative if the trend is curved)
    times = [(i + 0.5) * per_block for i in range(len(blocks))]
    fit = statistics.linear_regression(times, blocks)
    residuals = [b - (fit.intercept + fit.slope * t) for t, b in zip(times, blocks, strict=True)]
    err = math.sqrt(sum(r * r for r in residuals) / (len(blocks) - 2)) * math.sqrt(2.0 / n)
    text += (f"; the last {n * per_block:.3g} ps read {shift:+.3f} ± {err:.3f} GPa against the "
             f"first {n * per_block:.3g} ps")
    if abs(shift) > 2 * err:
        text += (f": the pressure still drifts after equilibration; were every volume to shift alike, "
                 f"K0 would move by about {-4 * shift:+.2f} GPa (BM2, K′ = 4)")
    else:
        text += ": no drift beyond the noise, so the short equilibration is not what sets K0"
    return text


def path_note(check: dict[str, Any], system: str) -> str:
    """A report note for one system's P(V) with its volumes visited as a path.

    ``check`` is one entry of notebook 05's ``values.path_check``: ``path`` (the
    :func:`~zifhelpers.analysis.elastic.fit_birch_murnaghan2` result of the path,
    Castel et al.'s protocol: each volume from its neighbour's last frame,
    deformed over ``deform_ps``, then ``equilibrate_ps`` + ``production_ps``),
    ``independent`` (the same fit of the volumes started each from the file, or
    None) and ``n_volumes``. The note gives both K0 and ρ0 and the shift of K0
    in units of the two fits' errors combined.
    """
    for field in ("path", "deform_ps", "equilibrate_ps", "production_ps"):
        if field not in check:
            raise KeyError(f"path_note: the path check of {system} has no {field!r} "
                           f"(found {sorted(check)}); pass notebook 05's values.path_check entry")
    path, indep = check["path"], check.get("independent")
    text = (f"{system} with its volumes visited as a path (each from its neighbour, deformed over "
            f"{float(check['deform_ps']):g} ps, then {float(check['equilibrate_ps']):g} + "
            f"{float(check['production_ps']):g} ps; the paper: 100 + 100 ps"
            + (f"; {check['n_volumes']} volumes" if check.get("n_volumes") else "")
            + f"): K0 {path['K0_GPa']:.2f} ± {path['K0_err_GPa']:.2f} GPa, "
            f"ρ0 {path['rho0_g_cm3']:.3f} g/cm³")
    if not indep:
        return text
    shift = path["K0_GPa"] - indep["K0_GPa"]
    err = math.hypot(path["K0_err_GPa"], indep["K0_err_GPa"])
    text += (f", against {indep['K0_GPa']:.2f} ± {indep['K0_err_GPa']:.2f} GPa and "
             f"{indep['rho0_g_cm3']:.3f} g/cm³ from volumes started each from the file: ")
    if abs(shift) > 2 * err:
        return text + f"the protocol moves K0 by {shift:+.2f} ± {err:.2f} GPa"
    return text + f"K0 moves by {shift:+.2f} ± {err:.2f} GPa, no more than twice its error"


def seeds_note(by_seed: dict[str, dict[str, float]], system: str) -> str:
    """A report note for stress–strain runs repeated with independent seeds.

    ``by_seed`` is one system's entry of notebook 05's
    ``values.stress_strain_by_seed`` (:func:`~zifhelpers.simulation.mechanics.stress_strain_by_seed`):
    per seed, Hill K, E, G (GPa) and ν with their errors. The note lists each
    seed's values and compares the seeds' standard deviation with each seed's
    own error: seeds that agree within their errors mean that a gap to the
    paper larger than the error is not noise of these runs. Fewer than two
    seeds with values give an empty note.
    """
    quantities = [("K_H", "K", " GPa"), ("E_H", "E", " GPa"), ("G_H", "G", " GPa"), ("nu_H", "ν", "")]
    seeds = {s: v for s, v in by_seed.items() if "error" not in v}
    for s, v in seeds.items():
        for q, _, _ in quantities:
            if q not in v or f"{q}_err" not in v:
                raise KeyError(f"seeds_note: seed {s!r} of {system} has no {q!r} or {q + '_err'!r} "
                               f"(found {sorted(v)}); pass an entry of notebook 05's values.stress_strain_by_seed")
    if len(seeds) < 2:
        return ""
    parts, agree = [], True
    for q, label, unit in quantities:
        vals = [seeds[s][q] for s in seeds]
        sd = statistics.stdev(vals)
        own = min(seeds[s][f"{q}_err"] for s in seeds)
        agree = agree and sd <= own
        parts.append(f"{label} {', '.join(f'{x:.2f}' for x in vals)}{unit} (sd {sd:.2f}, each ± ≥ {own:.2f})")
    text = (f"{system} stress–strain, each seed's 12 runs fitted alone ({', '.join(seeds)}): "
            + "; ".join(parts))
    if agree:
        return text + ": the seeds agree within their own errors, so a gap to the paper wider than the error is not noise of these runs"
    return text + ": the seeds scatter more than their own errors say"


def collect(root: str | os.PathLike | None = None,
            measurements: list[Measurement] | None = None) -> list[dict[str, Any]]:
    """One row per (paper value, measurement); paper values without one get a row too."""
    root = Path(root) if root else repo_root()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for m in measurements if measurements is not None else MEASUREMENTS:
        if m.key not in VALUES:
            raise KeyError(f"measurement of {m.path}: no paper value {m.key!r} in zifhelpers.data.paper")
        paper = VALUES[m.key]
        path = root / m.path
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from err
        try:
            raw = _lookup(record, m.value)
        except KeyError:
            raise KeyError(f"{path}: no field {m.value!r} (for the paper's {m.key})") from None
        if raw is None:  # measured, not resolved (e.g. a barrier no frame sampled)
            rows.append({"key": m.key, "paper": paper, "ours": None, "error": None, "z": None,
                         "verdict": "not measured", "potential": m.potential, "run": m.run,
                         "source": m.path, "note": record.get("notes", {}).get(
                             m.key, f"`{m.value}` is null in `{m.path}`: that run did not "
                             "measure or resolve it")})
            seen.add(m.key)
            continue
        ours = _number(raw, path, m.value, m.key)
        err = None
        if m.error:
            try:
                raw = _lookup(record, m.error)
            except KeyError:
                raise KeyError(f"{path}: no field {m.error!r} (error of {m.key})") from None
            err = None if raw is None else _number(raw, path, m.error, m.key)
            if err is not None and err < 0:
                raise ValueError(f"{path}: field {m.error!r} (error of {m.key}) is negative: {err}")
        note = record.get("notes", {}).get(m.key, m.note) if isinstance(record, dict) else m.note
        if m.members:
            try:
                names = _lookup(record, m.members)
            except KeyError:
                names = None
            if isinstance(names, list) and names:
                over = f"over {len(names)}: {', '.join(map(str, names))}"
                note = f"{over}; {note}" if note else over
        if m.bound not in ("", "lower"):
            raise ValueError(f"measurement of {m.key}: bound must be '' or 'lower', got {m.bound!r}")
        bound = m.bound
        if bound and m.resolved:
            try:
                flag = _lookup(record, m.resolved)
            except KeyError:
                raise KeyError(f"{path}: no field {m.resolved!r} (for the paper's {m.key})") from None
            if not isinstance(flag, bool):
                raise ValueError(f"{path}: field {m.resolved!r} must be true or false, got {flag!r}")
            bound = "" if flag else bound
        err = None if bound else err
        z = None if bound else _z(ours, err, paper)
        verdict = _bound_verdict(ours, paper) if bound else _verdict(ours, z, paper, err)
        rows.append({"key": m.key, "paper": paper, "ours": ours, "error": err, "z": z,
                     "verdict": verdict, "potential": m.potential, "bound": bound,
                     "run": m.run, "source": m.path, "note": note})
        seen.add(m.key)
    for key, paper in VALUES.items():
        if key not in seen:
            rows.append({"key": key, "paper": paper, "ours": None, "error": None, "z": None,
                         "verdict": "not measured", "potential": "", "run": "", "source": "",
                         "note": ""})
    measured = {r["key"] for r in rows if r["ours"] is not None}
    rows = [r for r in rows if r["ours"] is not None or r["key"] not in measured]
    order = list(VALUES)
    rows.sort(key=lambda r: order.index(r["key"]))
    return rows


def _results_records(root: Path, pattern: str = "**/*.json"):
    """(path, record) of each readable results JSON under ``root/results`` (run folders skipped)."""
    for path in sorted((root / "results").glob(pattern)):
        if "/md/" in path.as_posix():
            continue
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(record, dict):
            yield path, record


def sampler_checks(root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Every committed measurement of a sampler against the reference on its own frames.

    Read from the ``values.reference_on_frames`` of the results JSONs under
    ``results/`` (notebook 04 writes it for each made glass): how many frames,
    the sampler's mean force error and its static-pressure bias.
    """
    root = Path(root) if root else repo_root()
    rows = []
    for path, record in _results_records(root):
        checked = (record.get("values") or {}).get("reference_on_frames")
        if isinstance(checked, dict) and checked.get("n_frames"):
            rows.append({"source": path.relative_to(root).as_posix(),
                         "potential": record["values"].get("potential", ""), **checked})
    return rows


def timestep_checks(root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Every committed check of the campaign's time step against real masses at 0.5 fs.

    Read from the ``timestep_validation.json`` files under ``results/``
    (``benchmarks/validate_timestep.py``): per system, how many configurational
    observables agree within 2σ, those that do not (with z), the ratio of the
    dynamical ones (mean square displacements) and the NVE drift of each setting.
    """
    root = Path(root) if root else repo_root()
    rows = []
    for path in sorted((root / "results").glob("**/timestep_validation.json")):
        if "/md/" in path.as_posix():
            continue
        record = json.loads(path.read_text())
        for system, entry in sorted((record.get("systems") or {}).items()):
            comparison = entry.get("comparison") or []
            static = [c for c in comparison if c.get("kind", "configurational") == "configurational"]
            rows.append({
                "source": path.relative_to(root).as_posix(), "system": system,
                "potential": entry.get("potential", ""), "cpu": record.get("cpu", ""),
                "production_ps": entry.get("production_ps"),
                "setting": comparison[0]["setting"] if comparison else "",
                "n_static": len(static), "n_within": sum(bool(c["within_error"]) for c in static),
                "outside": [(c["observable"], c.get("z")) for c in static if not c["within_error"]],
                "msd_ratios": {c["observable"]: c["ratio"] for c in comparison
                               if c.get("kind") == "dynamical" and c.get("ratio") is not None},
                "nve_drift": {label: d["drift_meV_atom_ps"] for label, d in (entry.get("nve") or {}).items()},
            })
    return rows


def zero_kelvin_checks(root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Every committed 0 K P(V) fit (notebook 05's cross-check of relaxed structures).

    Read from ``values.zero_k`` of the results JSONs under ``results/``: per
    structure and per potential (``sampler`` relaxes and measures; ``reference``
    measures on the sampler's relaxed structures), K0 (GPa) and ρ0 (g/cm³).
    """
    root = Path(root) if root else repo_root()
    rows = []
    for path, record in _results_records(root):
        values = record.get("values")
        zero_k = values.get("zero_k") if isinstance(values, dict) else None
        if not isinstance(zero_k, dict):
            continue
        for system, by in zero_k.items():
            rows.append({"source": path.relative_to(root).as_posix(), "system": system,
                         "potential": values.get("potential", ""), "profile": record.get("profile", ""),
                         **{f"{who}_{k}": (by.get(who) or {}).get(k) for who in ("sampler", "reference")
                            for k in ("K0_GPa", "rho0_g_cm3")}})
    return rows


def validation_checks(root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Every committed MD validation of a model against the reference (notebook 03, Fig. 4).

    Read from ``values.overlaps_model_vs_reference`` of the results JSONs under
    ``results/``: per system, the overlap (0–1, 1 identical) of the two
    potentials' Zn–N and Zn–Zn RDFs and N–Zn–N angle distributions, and the
    Zn–N coordination under each (null where the run did not measure it);
    from ``values.structure`` (Tables S5, S6), when the run wrote it, the pore
    volume (cm³/kg, Zeo++, He 1.2 Å), the Zn–imidazolate ring counts per
    cell, the healed C–H excursions of the run (``transients``) and its
    restarts after a confirmed linker break (``restarts``) under each
    potential (None otherwise).
    """
    root = Path(root) if root else repo_root()
    rows = []
    for path, record in _results_records(root, "**/03_validation.json"):
        values = record.get("values") or {}
        overlaps = values.get("overlaps_model_vs_reference")
        if not isinstance(overlaps, dict):
            continue
        md = values.get("md") or {}
        for system, o in overlaps.items():
            rows.append({"source": path.relative_to(root).as_posix(), "profile": record.get("profile", ""),
                         "model": values.get("model_under_test", ""), "system": system,
                         "md": md, **{k: o.get(k) for k in ("g_ZnN", "g_ZnZn", "p_NZnN")},
                         "cn_reference": values.get(f"cn_{system}_reference"),
                         "cn_model": values.get(f"cn_{system}_model"),
                         **{f"{what}_{who}": ((values.get("structure") or {}).get(system, {}).get(label) or {}).get(key)
                            for what, key in (("pore", "pore_cm3_kg"), ("rings", "rings"),
                                              ("transients", "transients"), ("restarts", "restarts"))
                            for who, label in (("model", "model under test"), ("reference", "reference"))}})
    return rows


def spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation of two equally long lists (None for fewer than 3 pairs)."""
    from scipy.stats import spearmanr

    if len(a) != len(b):
        raise ValueError(f"spearman: lists of {len(a)} and {len(b)} values")
    if len(a) < 3:
        return None
    rho = spearmanr(a, b).statistic
    return None if math.isnan(rho) else float(rho)


def table1_checks(root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Every committed Table 1 screen (notebook 02's ``values.table1``) beside the paper's.

    Per results file: the profile, and for each of the paper's rows that the
    screen trained, our energy (meV/atom), force (meV/Å) and stress (MPa)
    errors against the reference beside the paper's against DFT, and
    Spearman's rank correlation of the force errors over those rows (whether
    the screen orders the hyper-parameters as the paper did).
    """
    root = Path(root) if root else repo_root()
    out = []
    for path, record in _results_records(root, "**/02_training.json"):
        table = (record.get("values") or {}).get("table1") or {}
        rows = [{"row": name, **{f"{col}_{who}": src.get(col) for col in
                                 ("energy_mae_meV_atom", "force_mae_meV_A", "stress_mae_MPa")
                                 for who, src in (("ours", table[name]), ("paper", TABLE1[name]))}}
                for name in TABLE1 if name in table]
        if not rows:
            continue
        pairs = [(r["force_mae_meV_A_ours"], r["force_mae_meV_A_paper"]) for r in rows
                 if r["force_mae_meV_A_ours"] is not None]
        out.append({"source": path.relative_to(root).as_posix(), "profile": record.get("profile", ""),
                    "rows": rows, "force_rank_correlation": spearman([p[0] for p in pairs],
                                                                     [p[1] for p in pairs])})
    return out


def _fmt(x: float | None, ref: float) -> str:
    if x is None:
        return ""
    digits = 3 if abs(ref) < 10 else 1
    return f"{x:.{digits}f}"


def render(rows: list[dict[str, Any]], checks: list[dict[str, Any]] | None = None,
           timesteps: list[dict[str, Any]] | None = None,
           zero_k: list[dict[str, Any]] | None = None,
           table1: list[dict[str, Any]] | None = None,
           validation: list[dict[str, Any]] | None = None) -> str:
    """The report as Markdown (``checks``: :func:`sampler_checks`; ``timesteps``:
    :func:`timestep_checks`; ``zero_k``: :func:`zero_kelvin_checks`; ``table1``:
    :func:`table1_checks`; ``validation``: :func:`validation_checks`)."""
    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    lines = [
        "# Reproduction report",
        "",
        "Generated by `python -m zifhelpers report` from the results JSONs committed under "
        "`results/` and the paper's values in `zifhelpers/data/paper.py`; do not edit by hand "
        "(CI fails when this file and the results disagree).",
        "",
        "Paper: N. Castel *et al.*, Digital Discovery 2024, 3, 355. Every paper value below was "
        "computed with the authors' production NequIP model, which this compendium ships as its "
        "**reference**; no number here comes from DFT. *Student* means a fast CPU potential "
        "distilled from the reference (`data/models/README.md`).",
        "",
        f"**{counts['agrees']} agree, {counts['consistent (bound)']} consistent with a bound, "
        f"{counts['undecided']} undecided, {counts['differs']} differ, {counts['not measured']} "
        "not measured yet.** A paper ± is "
        "the spread over its glass models; ours is the standard error of our estimate. "
        "z = (ours − paper) / √(error² + spread²). Verdict: the campaign's target where there "
        "is one, else |z| ≤ 2; with an error wider than the target itself, undecided unless "
        "|z| > 2; a bound (≥) is consistent when the paper's value within its "
        "target is not excluded by it.",
        "",
        "| quantity | paper | source | ours | potential | run | z | target | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes: dict[str, list[str]] = {}
    for r in rows:
        p: PaperValue = r["paper"]
        unit = f" {p.unit}" if p.unit else ""
        paper_txt = f"{p.value:g}" + (f" ± {p.spread:g}" if p.spread else "") + unit
        if r["ours"] is None:
            ours_txt = "—"
        else:
            ours_txt = ("≥ " if r.get("bound") == "lower" else "") + _fmt(r["ours"], p.value)
            if r["error"] is not None:
                ours_txt += f" ± {_fmt(r['error'], p.value)}"
            ours_txt += unit
        z_txt = "" if r["z"] is None else f"{r['z']:+.1f}"
        verdict = r["verdict"] if r["verdict"] != "differs" else "**differs**"
        lines.append(f"| {p.quantity} | {paper_txt} | {p.source} | {ours_txt} | "
                     f"{r['potential']} | {r['run']} | {z_txt} | {p.target_text()} | {verdict} |")
        if r["note"]:  # one line per distinct note, naming every row it is on
            quantities = notes.setdefault(r["note"], [])
            if p.quantity not in quantities:
                quantities.append(p.quantity)
    sources = sorted({r["source"] for r in rows if r["source"]} |
                     {c["source"] for c in checks or []} | {t["source"] for t in timesteps or []} |
                     {z["source"] for z in zero_k or []} | {t["source"] for t in table1 or []} |
                     {v["source"] for v in validation or []})
    if notes:
        lines += ["", "## Notes on the rows", "",
                  *(f"- {'; '.join(f'*{q}*' for q in quantities)}: {note}"
                    for note, quantities in notes.items())]
    if checks:
        lines += ["", "## The sampler against the reference, on the sampler's own frames", "",
                  "Whether a student's glasses can be trusted: both potentials evaluated on "
                  "frames of the student's runs (static pressures, no kinetic term).", "",
                  "| run | sampler | frames | force error (meV/Å) | static pressure, reference "
                  "(GPa) | sampler − reference (GPa) |", "|---|---|---|---|---|---|"]
        for c in checks:
            err = c.get("pressure_bias_err_GPa")
            bias = f"{c['pressure_bias_GPa']:+.3f}" + (f" ± {err:.3f}" if err else "")
            lines.append(f"| `{c['source']}` | {c['potential']} | {c['n_frames']} | "
                         f"{c['force_mae_mean_meV_A']:.1f} | {c['pressure_ref_mean_GPa']:+.3f} | "
                         f"{bias} |")
    if timesteps:
        lines += ["", "## The sampling's time step against 0.5 fs with real masses", "",
                  "The campaign samples with hydrogens of 4 amu and 2 fs steps. Configurational "
                  "averages (energy, pressure, bonds, angles, distributions) must not change; "
                  "mean square displacements (MSD) may, since masses set the dynamics. "
                  f"Measured on {timesteps[0]['cpu'] or 'an unnamed CPU'}.", "",
                  "| system | sampler | production | configurational within 2σ | outside 2σ (z) "
                  "| MSD ratio at 1 ps: Zn, N, H | NVE drift (meV/atom/ps) |",
                  "|---|---|---|---|---|---|---|"]
        for t in timesteps:
            outside = ", ".join(f"{name} ({z:+.1f})" if z is not None else name
                                for name, z in t["outside"]) or "none"
            ratios = ", ".join(f"{t['msd_ratios'][k]:.2f}" for k in
                               (f"msd_{sp}_1ps" for sp in ("Zn", "N", "H")) if k in t["msd_ratios"])
            drift = ", ".join(f"{v:+.3f} ({k})" for k, v in t["nve_drift"].items())
            lines.append(f"| {t['system']} | {t['potential']} | {t['production_ps']:g} ps each | "
                         f"{t['n_within']} of {t['n_static']} | {outside} | {ratios or '—'} | "
                         f"{drift or '—'} |")
    if zero_k:
        lines += ["", "## 0 K cross-check: relaxed structures", "",
                  "No thermal motion: the sampler relaxes the positions at 5 volumes (±4 %) and "
                  "the reference measures the pressure on the same structures; second-order "
                  "Birch–Murnaghan fits. The paper reports 300 K moduli only; the gap to the "
                  "300 K rows above is how much thermal motion softens the framework.", "",
                  "| structure | sampler | K0, sampler (GPa) | K0, reference (GPa) | ρ0, sampler "
                  "(g/cm³) | ρ0, reference (g/cm³) |", "|---|---|---|---|---|---|"]
        for z in zero_k:
            cells = [f"{z[k]:.3f}" if z[k] is not None else "—" for k in
                     ("sampler_K0_GPa", "reference_K0_GPa", "sampler_rho0_g_cm3",
                      "reference_rho0_g_cm3")]
            lines.append(f"| {z['system']} | {z['potential']} | {' | '.join(cells)} |")
        glasses = [z for z in zero_k
                   if z["system"].startswith("glass") and z["reference_K0_GPa"] is not None]
        if len(glasses) > 1:
            k = [z["reference_K0_GPa"] for z in glasses]
            rho = [z["reference_rho0_g_cm3"] for z in glasses]
            lines.append(f"| *ab initio* glasses, mean ± sd ({len(glasses)}) | | | "
                         f"{statistics.mean(k):.3f} ± {statistics.stdev(k):.3f} | | "
                         f"{statistics.mean(rho):.3f} ± {statistics.stdev(rho):.3f} |")
    if validation:
        lines += ["", "## Fig. 4: the student against the reference, each in its own MD", "",
                  "Each potential runs its own MD of the same system (notebook 03); the overlap of "
                  "their distributions is 1 for identical shapes (the shared area of the two "
                  "normalised histograms). The paper compared its model with AIMD this way, by eye; "
                  "here the reference stands in for AIMD.", "",
                  "| system | model under test | MD | overlap: Zn–N RDF, Zn–Zn RDF, N–Zn–N angles | "
                  "Zn–N coordination: model, reference | pore volume (cm³/kg): model, reference | "
                  "rings per cell (members: count): model; reference | "
                  "healed linker-check failures (C–H excursions): model, reference | "
                  "restarts after a confirmed break: model, reference |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for v in validation:
            md = v["md"]
            md_txt = (f"H {md['hydrogen_mass_amu']:g} amu, {md['timestep_fs']:g} fs"
                      if md.get("hydrogen_mass_amu") else f"real masses, {md.get('timestep_fs', 0.5):g} fs")
            over = ", ".join("—" if v[k] is None else f"{v[k]:.3f}" for k in ("g_ZnN", "g_ZnZn", "p_NZnN"))
            cn = ", ".join("—" if v[k] is None else f"{v[k]:.3f}" for k in ("cn_model", "cn_reference"))
            pore = ", ".join("—" if v.get(k) is None else f"{v[k]:.1f}" for k in ("pore_model", "pore_reference"))
            rings = "; ".join("—" if not v.get(k) else ", ".join(f"{m}: {c:g}" for m, c in v[k].items())
                              for k in ("rings_model", "rings_reference"))
            excursions = ", ".join("—" if v.get(k) is None else f"{v[k]:d}"
                                   for k in ("transients_model", "transients_reference"))
            restarts = ", ".join("—" if v.get(k) is None else f"{v[k]:d}" for k in ("restarts_model", "restarts_reference"))
            lines.append(f"| {v['system']} | {v['model']} | {md_txt} (`{v['profile']}`) | {over} | {cn} | {pore} | {rings} "
                         f"| {excursions} | {restarts} |")
    for t in table1 or []:
        rho = t["force_rank_correlation"]
        lines += ["", f"## Table 1: the hyper-parameter screen (`{t['profile']}` profile)", "",
                  "Ours: errors against the reference on a held-out test set, at this profile's "
                  "training scale; the paper's: against DFT, trained on 1000 frames. The absolute "
                  "numbers are not comparable; the order of the rows is. Spearman's rank "
                  "correlation of the force errors over the rows both have: "
                  + (f"**{rho:+.2f}**." if rho is not None else "too few rows."), "",
                  "| row | energy (meV/atom): ours, paper | force (meV/Å): ours, paper | "
                  "stress (MPa): ours, paper |", "|---|---|---|---|"]
        for r in t["rows"]:
            cells = [", ".join("—" if r[f"{col}_{who}"] is None else f"{r[f'{col}_{who}']:.{d}f}"
                               for who in ("ours", "paper"))
                     for col, d in (("energy_mae_meV_atom", 2), ("force_mae_meV_A", 1),
                                    ("stress_mae_MPa", 0))]
            lines.append(f"| {r['row']} | {' | '.join(cells)} |")
    lines += ["", "## Results files read", "", *[f"- `{s}`" for s in sources], ""]
    return "\n".join(lines)


def write_report(root: str | os.PathLike | None = None, check: bool = False) -> tuple[Path, bool]:
    """Write (or, with ``check``, compare) ``REPRODUCTION.md``; returns (path, up to date)."""
    root = Path(root) if root else repo_root()
    text = render(collect(root), sampler_checks(root), timestep_checks(root),
                  zero_kelvin_checks(root), table1_checks(root), validation_checks(root))
    path = root / "REPRODUCTION.md"
    current = path.read_text() if path.is_file() else None
    if check:
        return path, current == text
    path.write_text(text)
    return path, True
