"""Elastic constants from MD data: equation-of-state fits and strain fluctuations.

* **Finite strain differences**: the mean pressure of NVT runs at several
  volumes, fitted with the second-order Birch–Murnaghan equation of state
  (K′ = 4; F. Birch, Phys. Rev. 71, 809 (1947)) →
  :func:`fit_birch_murnaghan2` gives K0 and V0 with uncertainties.
* **Strain fluctuations** in the NσT ensemble (M. Parrinello and A. Rahman,
  J. Chem. Phys. 76, 2662 (1982)): the compliance tensor is
  S = ⟨V⟩/(k_B T) · cov(ε) with ε the Lagrangian strain of each frame's cell
  with respect to the mean cell, in Voigt notation with engineering shears
  (ε4 = 2ε23, …), and C = S⁻¹ → :func:`elastic_from_cell_fluctuations`; the
  bulk modulus also follows from the volume fluctuations alone,
  K = k_B T ⟨V⟩/⟨δV²⟩ → :func:`bulk_modulus_from_volume_fluctuations`.

* **Stress–strain** at finite temperature (or at 0 K after relaxing the
  positions): mean stresses of runs at small ± strains of each Voigt component,
  C_ij = ∂σ_i/∂e_j from a least-squares fit → :func:`elastic_from_stress_strain`,
  the deformation gradient of each strain from :func:`voigt_deformation`.

Voigt, Reuss and Hill averages (R. Hill, Proc. Phys. Soc. A 65, 349 (1952)) of
K, G, E and ν → :func:`hill_average`. Units: GPa, Å³, K. The runs that make
the data are in :mod:`zifhelpers.simulation.mechanics`.
"""

from __future__ import annotations

import numpy as np
from ase.units import kB

__all__ = [
    "EV_PER_A3_TO_GPA",
    "birch_murnaghan2",
    "fit_birch_murnaghan2",
    "block_average",
    "lagrangian_strain",
    "elastic_from_cell_fluctuations",
    "hill_from_cell_fluctuations",
    "bulk_modulus_from_volume_fluctuations",
    "cumulative_elastic",
    "hill_average",
    "hill_average_with_errors",
    "voigt_deformation",
    "elastic_from_stress_strain",
    "summarize_fits",
    "summarize_elastic",
    "pressure_offset",
]


EV_PER_A3_TO_GPA = 160.21766208


_VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


def birch_murnaghan2(volume, k0_GPa: float, v0_A3: float):
    """Second-order Birch–Murnaghan pressure (GPa) at ``volume`` (Å³), K′ = 4.

    P(V) = 3K0/2 · [(V0/V)^(7/3) − (V0/V)^(5/3)]
    """
    x = v0_A3 / np.asarray(volume, dtype=float)
    return 1.5 * k0_GPa * (x ** (7.0 / 3.0) - x ** (5.0 / 3.0))


def fit_birch_murnaghan2(volumes, pressures, pressure_errors=None, mass_amu: float | None = None) -> dict:
    """Fit P(V) data (Å³, GPa) with the second-order Birch–Murnaghan EOS.

    Parameters
    ----------
    volumes, pressures : array-like
        Mean volume (Å³) and mean pressure (GPa) of each run; at least 3.
    pressure_errors : array-like, optional
        Standard errors of the pressures (GPa), used as weights.
    mass_amu : float, optional
        Mass of the cell (amu), to report ρ0 in g/cm³.

    Returns
    -------
    dict
        ``K0_GPa``, ``K0_err_GPa``, ``V0_A3``, ``V0_err_A3`` (1σ from the fit's
        covariance) and, with ``mass_amu``, ``rho0_g_cm3`` and ``rho0_err_g_cm3``;
        with ``pressure_errors``, ``chi2_dof`` (the scatter of the points about
        the fit in units of their errors) and, where it exceeds 1, errors scaled
        by √(χ²/dof) (the Birge ratio, ``errors_scaled_by``): a glass whose
        volumes relax into different local structures scatters more than the
        block errors of single runs say;
        ``physical`` is False (and a warning says why) when the pressure does
        not fall as the volume grows or the fitted K0 is not positive: such a
        K0 is not a bulk modulus, however small its error bar.
    """
    import warnings

    from scipy.optimize import curve_fit

    v = np.asarray(volumes, dtype=float)
    p = np.asarray(pressures, dtype=float)
    if v.shape != p.shape or v.ndim != 1:
        raise ValueError(f"volumes and pressures must be 1-D of equal length, got {v.shape} and {p.shape}")
    if len(v) < 3:
        raise ValueError(f"need at least 3 (V, P) points to fit K0 and V0, got {len(v)}")
    if not (np.isfinite(v).all() and np.isfinite(p).all() and (v > 0).all()):
        raise ValueError(f"volumes must be finite and > 0 Å³ and pressures finite; got V={v}, P={p}")
    sigma = None if pressure_errors is None else np.asarray(pressure_errors, dtype=float)
    # initial guess from a straight line: K = -V dP/dV, V0 where P = 0
    slope, intercept = np.polyfit(v, p, 1)
    v0_guess = -intercept / slope if slope < 0 else v.mean()
    k0_guess = max(-slope * v0_guess, 1e-3)
    params, cov = curve_fit(
        birch_murnaghan2, v, p, p0=[k0_guess, v0_guess], sigma=sigma,
        absolute_sigma=sigma is not None, maxfev=10000,
    )
    err = np.sqrt(np.diag(cov))
    extra = {}
    if sigma is not None and len(v) > 2:
        chi2_dof = float((((p - birch_murnaghan2(v, *params)) / sigma) ** 2).sum() / (len(v) - 2))
        scale = float(np.sqrt(max(1.0, chi2_dof)))
        err = err * scale
        extra = {"chi2_dof": chi2_dof, "errors_scaled_by": scale}
    out = {"K0_GPa": float(params[0]), "K0_err_GPa": float(err[0]),
           "V0_A3": float(params[1]), "V0_err_A3": float(err[1]), "physical": True, **extra}
    by_volume = p[np.argsort(v)]
    problems = []
    if params[0] <= 0:
        problems.append(f"K0 = {params[0]:.3g} GPa is not positive")
    if not (np.diff(by_volume) < 0).all():
        problems.append("the pressure does not fall at every step of volume "
                        f"(P by increasing V: {np.round(by_volume, 4).tolist()} GPa)")
    if problems:
        out["physical"] = False
        warnings.warn("fit_birch_murnaghan2: " + "; ".join(problems)
                      + ": longer runs or a wider volume range are needed", stacklevel=2)
    if mass_amu is not None:
        rho = mass_amu / params[1] * 1.66053906660
        out["rho0_g_cm3"] = float(rho)
        out["rho0_err_g_cm3"] = float(rho * err[1] / params[1])
    return out


def block_average(series, n_blocks: int = 10) -> tuple[float, float]:
    """Mean and its standard error from ``n_blocks`` contiguous blocks."""
    x = np.asarray(series, dtype=float)
    if len(x) < n_blocks:
        raise ValueError(f"{len(x)} samples cannot make {n_blocks} blocks")
    blocks = np.array([b.mean() for b in np.array_split(x, n_blocks)])
    return float(x.mean()), float(blocks.std(ddof=1) / np.sqrt(n_blocks))


def lagrangian_strain(cells, reference=None) -> np.ndarray:
    """Lagrangian strain of each cell against ``reference`` (default: the mean).

    Cells are ASE-style (rows are the lattice vectors), shape (n, 3, 3). With
    H = cellᵀ and F = H H_ref⁻¹, ε = ½ (FᵀF − I). Returns (n, 3, 3).
    """
    h = np.transpose(np.asarray(cells, dtype=float), (0, 2, 1))
    h_ref = h.mean(axis=0) if reference is None else np.asarray(reference, dtype=float).T
    f = h @ np.linalg.inv(h_ref)
    return 0.5 * (np.transpose(f, (0, 2, 1)) @ f - np.eye(3))


def _voigt_strain(eps: np.ndarray) -> np.ndarray:
    factors = np.array([1, 1, 1, 2, 2, 2])
    return np.stack([eps[:, i, j] for i, j in _VOIGT], axis=1) * factors


def elastic_from_cell_fluctuations(cells, temperature: float) -> np.ndarray:
    """Elastic stiffness C (6×6, GPa, Voigt) from NσT cell fluctuations.

    S = ⟨V⟩/(k_B T) · cov(ε_Voigt), C = S⁻¹ (Parrinello & Rahman 1982).

    Parameters
    ----------
    cells : array-like, shape (n_frames, 3, 3)
        Cells (Å, rows are lattice vectors) of an equilibrated NσT run.
    temperature : float
        Temperature in K.
    """
    cells = np.asarray(cells, dtype=float)
    if cells.ndim != 3 or cells.shape[1:] != (3, 3) or len(cells) < 7:
        raise ValueError(f"cells must have shape (n >= 7, 3, 3), got {cells.shape}")
    volume = np.abs(np.linalg.det(cells)).mean()
    eps = _voigt_strain(lagrangian_strain(cells))
    compliance = volume / (kB * temperature) * np.cov(eps, rowvar=False) / EV_PER_A3_TO_GPA
    return np.linalg.inv(compliance)


def bulk_modulus_from_volume_fluctuations(volumes, temperature: float) -> float:
    """K = k_B T ⟨V⟩ / ⟨δV²⟩ in GPa, from NPT volumes (Å³) at ``temperature`` (K)."""
    v = np.asarray(volumes, dtype=float)
    return float(kB * temperature * v.mean() / v.var(ddof=1) * EV_PER_A3_TO_GPA)


def cumulative_elastic(cells, temperature: float, n_points: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Elastic tensors from growing prefixes of a run, for convergence plots.

    Returns the prefix lengths (frames) and the stack of 6×6 C (GPa).
    """
    cells = np.asarray(cells, dtype=float)
    lengths = np.unique(np.linspace(max(20, len(cells) // n_points), len(cells), n_points).astype(int))
    return lengths, np.array([elastic_from_cell_fluctuations(cells[:n], temperature) for n in lengths])


def hill_from_cell_fluctuations(cells, temperature: float, n_blocks: int = 5) -> dict[str, float]:
    """Hill averages from NσT cell fluctuations, with errors that include convergence.

    Two estimates of the error of each Hill modulus; the larger is returned as
    ``<key>_err``:

    - the jackknife over ``n_blocks`` contiguous time blocks: C computed again
      with each block left out (:func:`elastic_from_cell_fluctuations`),
      ``sqrt((n − 1)/n · Σ (θ_i − θ̄)²)`` (Efron & Stein, Ann. Stat. 9, 586,
      1981), also returned as ``<key>_jackknife_err``;
    - the convergence shift: the full run's value minus the mean of its two
      halves' (``<key>_halves_shift``). A run too short for the slow modes of
      the cell fluctuates more over its whole length than within its halves,
      which shifts the estimate by more than the jackknife can see.

    Returns the keys of :func:`hill_average`, the three errors of each, and
    ``n_frames`` and ``n_blocks``.
    """
    cells = np.asarray(cells, dtype=float)
    if not isinstance(n_blocks, (int, np.integer)) or n_blocks < 2:
        raise ValueError(f"n_blocks must be an integer >= 2, got {n_blocks!r}")
    if cells.ndim != 3 or cells.shape[1:] != (3, 3) or len(cells) < 14 or (
            len(cells) - len(cells) // n_blocks - 1 < 7):
        raise ValueError(f"cells must have shape (n, 3, 3) with n >= 14 and large enough that leaving "
                         f"one of {n_blocks} blocks out keeps 7 frames, got {cells.shape}")

    def hill(part):
        return hill_average(elastic_from_cell_fluctuations(part, temperature))

    full = hill(cells)
    left_out = [hill(np.delete(cells, b, axis=0)) for b in np.array_split(np.arange(len(cells)), n_blocks)]
    halves = [hill(part) for part in np.array_split(cells, 2)]
    out = dict(full)
    for key in full:
        values = np.array([h[key] for h in left_out])
        jackknife = float(np.sqrt((n_blocks - 1) / n_blocks * ((values - values.mean()) ** 2).sum()))
        shift = float(full[key] - 0.5 * (halves[0][key] + halves[1][key]))
        out.update({f"{key}_err": max(jackknife, abs(shift)), f"{key}_jackknife_err": jackknife,
                    f"{key}_halves_shift": shift})
    return {**out, "n_frames": len(cells), "n_blocks": int(n_blocks)}


def hill_average(C) -> dict[str, float]:
    """Voigt, Reuss and Hill averages of an elastic tensor (6×6, GPa).

    Returns ``K_V``, ``K_R``, ``K_H``, ``G_V``, ``G_R``, ``G_H`` and, from the
    Hill values, Young's modulus ``E_H`` = 9KG/(3K+G) and Poisson's ratio
    ``nu_H`` = (3K − 2G)/(2(3K + G)).
    """
    c = np.asarray(C, dtype=float)
    if c.shape != (6, 6):
        raise ValueError(f"C must be 6x6 (Voigt), got {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("C has non-finite elements")
    asym = np.abs(c - c.T).max()
    if asym > 1e-6 * max(np.abs(c).max(), 1e-12):
        i, j = np.unravel_index(np.argmax(np.abs(c - c.T)), c.shape)
        raise ValueError(f"C is not symmetric: C[{i + 1}{j + 1}] = {c[i, j]:.4g} but "
                         f"C[{j + 1}{i + 1}] = {c[j, i]:.4g} GPa")
    eig = np.linalg.eigvalsh(0.5 * (c + c.T))
    if eig.min() <= 0:
        raise ValueError(f"C is not positive definite (eigenvalues {np.round(eig, 4).tolist()} "
                         "GPa): the structure is mechanically unstable or the fluctuations are "
                         "not converged; no Hill average")
    s = np.linalg.inv(c)
    k_v = (c[0, 0] + c[1, 1] + c[2, 2] + 2 * (c[0, 1] + c[0, 2] + c[1, 2])) / 9
    g_v = (c[0, 0] + c[1, 1] + c[2, 2] - (c[0, 1] + c[0, 2] + c[1, 2])
           + 3 * (c[3, 3] + c[4, 4] + c[5, 5])) / 15
    k_r = 1 / (s[0, 0] + s[1, 1] + s[2, 2] + 2 * (s[0, 1] + s[0, 2] + s[1, 2]))
    g_r = 15 / (4 * (s[0, 0] + s[1, 1] + s[2, 2]) - 4 * (s[0, 1] + s[0, 2] + s[1, 2])
                + 3 * (s[3, 3] + s[4, 4] + s[5, 5]))
    k_h, g_h = (k_v + k_r) / 2, (g_v + g_r) / 2
    return {
        "K_V": float(k_v), "K_R": float(k_r), "K_H": float(k_h),
        "G_V": float(g_v), "G_R": float(g_r), "G_H": float(g_h),
        "E_H": float(9 * k_h * g_h / (3 * k_h + g_h)),
        "nu_H": float((3 * k_h - 2 * g_h) / (2 * (3 * k_h + g_h))),
    }


def hill_average_with_errors(C, C_err, n_samples: int = 2000, seed: int = 0) -> dict[str, float]:
    """:func:`hill_average` of ``C`` and the standard error of each average.

    The errors are propagated linearly (first-order, the "delta method"): the
    gradient of each average with respect to the 21 independent elements of
    ``C`` (central differences), combined with their independent Gaussian errors
    ``C_err`` (6×6, GPa, symmetric; 0 for an element fixed by symmetry). Unlike
    sampling and discarding the tensors that are not positive definite, this
    does not shrink the errors of a noisy tensor. ``unstable_fraction`` is the
    share of ``n_samples`` Gaussian draws (``seed``) that are not positive
    definite: how often the data alone cannot exclude a mechanically unstable
    solid. Keys: those of :func:`hill_average`, the same with ``_err``
    appended, and ``unstable_fraction``.
    """
    c = np.asarray(C, dtype=float)
    err = np.asarray(C_err, dtype=float)
    if err.shape != (6, 6) or not np.isfinite(err).all() or (err < 0).any():
        raise ValueError(f"C_err must be a 6x6 array of finite errors >= 0, got shape {err.shape}")
    centre = hill_average(c)
    upper = np.triu_indices(6)
    keys = list(centre)
    variance = dict.fromkeys(keys, 0.0)
    step = 1e-5 * max(float(np.abs(c).max()), 1e-12)
    for i, j in zip(*upper, strict=True):
        if err[i, j] == 0.0:
            continue
        shifted = []
        for sign in (1.0, -1.0):
            trial = c.copy()
            trial[i, j] += sign * step
            trial[j, i] = trial[i, j]
            shifted.append(hill_average(trial))
        for key in keys:
            variance[key] += ((shifted[0][key] - shifted[1][key]) / (2 * step) * err[i, j]) ** 2
    out = dict(centre)
    out.update({f"{key}_err": float(np.sqrt(variance[key])) for key in keys})
    rng = np.random.default_rng(seed)
    unstable = 0
    for _ in range(n_samples):
        noise = np.zeros((6, 6))
        noise[upper] = rng.normal(size=len(upper[0])) * err[upper]
        noise = noise + np.triu(noise, 1).T
        unstable += np.linalg.eigvalsh(c + noise).min() <= 0
    out["unstable_fraction"] = unstable / n_samples if n_samples else float("nan")
    return out


def voigt_deformation(component: int, strain: float) -> np.ndarray:
    """Deformation gradient F (3×3) of a Voigt strain ``strain`` on one component.

    ``component`` is 0–5 (xx, yy, zz, yz, xz, xy). Shears are engineering
    strains (e4 = 2ε23, …), applied symmetrically: F = I + ε. A cell transforms
    as ``cell @ F.T`` (ASE rows are lattice vectors).
    """
    if component not in range(6):
        raise ValueError(f"component must be 0-5 (xx, yy, zz, yz, xz, xy), got {component!r}")
    if not np.isfinite(strain) or abs(strain) >= 0.2:
        raise ValueError(f"strain must be finite and small (|strain| < 0.2), got {strain}")
    i, j = _VOIGT[component]
    eps = np.zeros((3, 3))
    if i == j:
        eps[i, i] = strain
    else:
        eps[i, j] = eps[j, i] = strain / 2
    return np.eye(3) + eps


ORTHORHOMBIC_ZEROS = [(i, j) for i in range(6) for j in range(6)
                      if not ((i < 3 and j < 3) or i == j)]
"""Voigt elements (0-based) that orthorhombic symmetry sets to zero, cell axes = crystal axes."""


def elastic_from_stress_strain(strains, stresses_GPa, stress_errors_GPa=None,
                               symmetry: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Elastic stiffness from the mean stresses of strained runs (least squares).

    Fits σ_i = σ0_i + Σ_j C_ij e_j for each Voigt stress component i, over all
    runs, then symmetrises C (the mean of C and Cᵀ). With ± strains of each
    component this is the central finite difference; the unstrained run, when
    given, only sets σ0.

    Parameters
    ----------
    strains : array-like, shape (n_runs, 6)
        Voigt strains of the runs (engineering shears).
    stresses_GPa : array-like, shape (n_runs, 6)
        Mean Voigt stresses (GPa), ASE's sign: positive is tensile (so that
        C is positive for a stable solid).
    stress_errors_GPa : array-like, shape (n_runs, 6), optional
        Standard errors of those means; they weight the fit and give the errors.
    symmetry : {None, "triclinic", "orthorhombic"}
        ``"orthorhombic"`` sets the 12 elements that this class forbids (C14,
        C15, …, C56) to zero, with zero error, keeping the 9 independent ones:
        for a crystal whose cell axes are its crystallographic axes (ZIF-4,
        *Pbca*; Nye, *Physical Properties of Crystals*, 1957, ch. VIII).
        Their fitted values are noise, and removing them makes the Hill
        averages less noisy. ``None`` or ``"triclinic"`` keep all 21.

    Returns
    -------
    C, C_err : numpy.ndarray, shape (6, 6)
        Stiffness (GPa) and its standard errors; without ``stress_errors_GPa``
        the errors are NaN.
    """
    if symmetry not in (None, "triclinic", "orthorhombic"):
        raise ValueError(f"symmetry must be None, 'triclinic' or 'orthorhombic', got {symmetry!r}")
    e = np.asarray(strains, dtype=float)
    s = np.asarray(stresses_GPa, dtype=float)
    if e.ndim != 2 or e.shape[1] != 6 or s.shape != e.shape:
        raise ValueError(f"strains and stresses must both have shape (n_runs, 6); got {e.shape} and {s.shape}")
    if not (np.isfinite(e).all() and np.isfinite(s).all()):
        raise ValueError("strains and stresses must be finite")
    design = np.hstack([np.ones((len(e), 1)), e])
    if np.linalg.matrix_rank(design) < 7:
        raise ValueError(f"the {len(e)} strains do not span the 6 Voigt components (and an unstrained "
                         "offset): strain each component at least once on top of a second state")
    C = np.zeros((6, 6))
    var = np.full((6, 6), np.nan)
    if stress_errors_GPa is not None:
        w_err = np.asarray(stress_errors_GPa, dtype=float)
        if w_err.shape != s.shape or not np.isfinite(w_err).all() or (w_err <= 0).any():
            raise ValueError(f"stress_errors_GPa must have shape {s.shape} with finite values > 0")
    for i in range(6):
        if stress_errors_GPa is None:
            beta = np.linalg.lstsq(design, s[:, i], rcond=None)[0]
        else:
            w = 1.0 / w_err[:, i] ** 2
            normal = design.T @ (design * w[:, None])
            cov = np.linalg.inv(normal)
            beta = cov @ (design.T @ (w * s[:, i]))
            var[i] = np.diag(cov)[1:]
        C[i] = beta[1:]
    C_sym = 0.5 * (C + C.T)
    C_err = 0.5 * np.sqrt(var + var.T)
    np.fill_diagonal(C_err, np.sqrt(np.diag(var)))  # one estimate each, not two
    if symmetry == "orthorhombic":
        for i, j in ORTHORHOMBIC_ZEROS:
            C_sym[i, j] = 0.0
            C_err[i, j] = 0.0
    return C_sym, C_err


def pressure_offset(volumes_A3, pressures_GPa, errors_GPa, other_volumes_A3, other_pressures_GPa,
                    other_errors_GPa, rel_tol: float = 1e-3) -> dict[str, float]:
    """Mean pressure difference of two P(V) series at the volumes they share.

    E.g. the reference's pressures on a student's frames against the
    reference's own MD at the same volumes: the bias of sampling with the
    student. Volumes match within ``rel_tol``. Returns ``offset_GPa`` (the
    inverse-variance weighted mean of first − second), ``offset_err_GPa``,
    ``n`` (shared volumes) and ``chi2_dof`` (scatter of the differences about
    the mean, in units of their errors: ≈ 1 for a constant offset).
    """
    v1, p1, e1 = (np.asarray(x, dtype=float) for x in (volumes_A3, pressures_GPa, errors_GPa))
    v2, p2, e2 = (np.asarray(x, dtype=float) for x in (other_volumes_A3, other_pressures_GPa,
                                                        other_errors_GPa))
    if not (v1.shape == p1.shape == e1.shape and v2.shape == p2.shape == e2.shape):
        raise ValueError("pressure_offset: each series needs volumes, pressures and errors of one length")
    diffs, errs = [], []
    for v, p, e in zip(v1, p1, e1, strict=True):
        match = np.flatnonzero(np.abs(v2 - v) <= rel_tol * v)
        if match.size:
            k = int(match[0])
            diffs.append(p - p2[k])
            errs.append(np.hypot(e, e2[k]))
    if not diffs:
        raise ValueError("pressure_offset: the two series share no volume (within "
                         f"{rel_tol:g} relative)")
    d, err = np.array(diffs), np.array(errs)
    if not (np.isfinite(err).all() and (err > 0).all()):
        raise ValueError("pressure_offset: errors must be finite and > 0")
    w = 1.0 / err ** 2
    mean = float((w * d).sum() / w.sum())
    chi2 = float((w * (d - mean) ** 2).sum() / (len(d) - 1)) if len(d) > 1 else float("nan")
    return {"offset_GPa": mean, "offset_err_GPa": float(1.0 / np.sqrt(w.sum())), "n": len(d),
            "chi2_dof": chi2}


def _summarize(entries: dict[str, dict], groups: dict[str, list[str]],
               quantities: list[tuple[str, str, str]]) -> dict[str, dict]:
    """Mean, spread and standard error of each ``(value key, error key, out key)`` per group."""
    out = {}
    for group, names in groups.items():
        members = [n for n in names if n in entries and entries[n] is not None]
        if not members:
            continue
        entry: dict = {"n": len(members), "members": members}
        flagged = [n for n in members if entries[n].get("physical") is False]
        if flagged:  # a fit whose pressure did not fall at every volume step (fit_birch_murnaghan2)
            entry["unphysical"] = flagged
        for key, err_key, stem in quantities:
            missing = [n for n in members if entries[n].get(key) is None]
            if missing:
                raise ValueError(f"summarize: {', '.join(missing)} of group {group!r} has no "
                                 f"{key!r} (found {sorted(entries[missing[0]])})")
            values = np.array([entries[n][key] for n in members], dtype=float)
            errors = np.array([entries[n].get(err_key) or 0.0 for n in members], dtype=float)
            sd = float(values.std(ddof=1)) if len(values) > 1 else None
            fit_err = float(np.sqrt((errors ** 2).sum()) / len(values))
            entry[stem.format("mean")] = float(values.mean())
            entry[stem.format("sd")] = sd
            entry[stem.format("err")] = max(fit_err, sd / np.sqrt(len(values)) if sd is not None else 0.0)
        out[group] = entry
    return out


def summarize_fits(fits: dict[str, dict], groups: dict[str, list[str]]) -> dict[str, dict]:
    """Mean K0 and ρ0 of groups of :func:`fit_birch_murnaghan2` results (e.g. the glasses).

    For each group with at least one fitted member: ``n``, ``members``,
    ``K0_mean_GPa``, ``K0_sd_GPa`` (spread over the members, None for one),
    ``K0_err_GPa`` (standard error of the mean: the larger of the spread's
    sd/√n and the members' fit errors combined, √Σerr²/n) and the same for
    ``rho0_*_g_cm3``. Comparable with a paper's mean ± spread over models.
    Members whose fit is flagged ``physical: False`` stay in the mean and are
    listed under ``unphysical``.
    """
    return _summarize(fits, groups, [("K0_GPa", "K0_err_GPa", "K0_{}_GPa"),
                                     ("rho0_g_cm3", "rho0_err_g_cm3", "rho0_{}_g_cm3")])


def summarize_elastic(moduli: dict[str, dict], groups: dict[str, list[str]]) -> dict[str, dict]:
    """Mean Hill moduli of groups of systems, as :func:`summarize_fits` does for K0 and ρ0.

    ``moduli`` maps each system to :func:`hill_average_with_errors`'s result
    (``K_H``, ``E_H``, ``G_H`` in GPa, ``nu_H``, each with ``*_err``); a system
    whose tensor had no Hill average (None) is left out. Per group: ``n``,
    ``members`` and ``K_H_mean_GPa``, ``K_H_sd_GPa``, ``K_H_err_GPa``, the
    same for E and G, and ``nu_H_mean``, ``nu_H_sd``, ``nu_H_err``.
    """
    usable = {n: m for n, m in moduli.items() if m is not None and m.get("K_H") is not None}
    return _summarize(usable, groups, [("K_H", "K_H_err", "K_H_{}_GPa"), ("E_H", "E_H_err", "E_H_{}_GPa"),
                                       ("G_H", "G_H_err", "G_H_{}_GPa"), ("nu_H", "nu_H_err", "nu_H_{}")])
