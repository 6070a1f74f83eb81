"""X-ray total scattering of a model: F(Q) and D(r), in the convention of the
experimental ZIF-4 data of Gaillac et al. (Nature Mater. 2017).

Normalisation (Faber–Ziman, Q-dependent X-ray form factors):

    S_ab(Q) − 1 = ρ₀ ∫ 4πr² [g_ab(r) − 1] sin(Qr)/(Qr) M(r) dr
    F(Q) = Σ_ab c_a c_b f_a(Q) f_b(Q) [S_ab(Q) − 1] / (Σ_a c_a f_a(Q))²
    D(r) = (2/π) ∫_{Q_min}^{Q_max} Q F(Q) sin(Qr) dQ

with ρ₀ the number density, c_a atomic fractions, f_a the Cromer–Mann form
factors (International Tables for Crystallography, Vol. C, Table 6.1.1.4) and
M(r) the Lorch window sin(πr/R)/(πr/R) that damps the truncation of g at R.
F(Q) → −1-like values at low Q and oscillates about 0 at high Q, like the
experimental ``.int01`` curves; D(r) = 4πρ₀ r G(r) is obtained from F(Q) over
the experiment's own Q range, so that both carry the same termination ripples
and resolution. With Q-dependent weights, D(r) is only approximately the
Z-weighted sum of partial g(r): peak positions are exact, heights are not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from .structure import _frames, rdf

__all__ = ["CROMER_MANN", "form_factor", "xray_fq", "xray_dr", "peak_positions"]

#: a1, b1, a2, b2, a3, b3, a4, b4, c with f(s) = Σ a_i exp(−b_i s²) + c, s = Q/4π.
CROMER_MANN = {
    "H": (0.489918, 20.6593, 0.262003, 7.74039, 0.196767, 49.5519, 0.049879, 2.20159, 0.001305),
    "C": (2.31, 20.8439, 1.02, 10.2075, 1.5886, 0.5687, 0.865, 51.6512, 0.2156),
    "N": (12.2126, 0.0057, 3.1322, 9.8933, 2.0125, 28.9975, 1.1663, 0.5826, -11.529),
    "O": (3.0485, 13.2771, 2.2868, 5.7011, 1.5463, 0.3239, 0.867, 32.9089, 0.2508),
    "Zn": (14.0743, 3.2655, 7.0318, 0.2333, 5.1652, 10.3163, 2.41, 58.7097, 1.3041),
}


def form_factor(symbol: str, q: np.ndarray) -> np.ndarray:
    """X-ray form factor f(Q) (electrons) of a neutral atom; ``q`` in Å⁻¹."""
    try:
        coeffs = CROMER_MANN[symbol]
    except KeyError:
        raise ValueError(
            f"no X-ray form factor for {symbol!r}; known: {', '.join(CROMER_MANN)}"
        ) from None
    s2 = (np.asarray(q, dtype=float) / (4 * np.pi)) ** 2
    a, b, c = np.array(coeffs[0:8:2]), np.array(coeffs[1:8:2]), coeffs[8]
    return np.exp(-np.multiply.outer(s2, b)) @ a + c


def xray_fq(
    frames: Atoms | Sequence[Atoms],
    q: np.ndarray,
    r_max: float = 20.0,
    dr: float = 0.01,
    stride: int = 1,
    lorch: bool = True,
) -> np.ndarray:
    """Model X-ray F(Q) (Faber–Ziman, Q-dependent form factors).

    Parameters
    ----------
    frames : ase.Atoms or sequence of Atoms
    q : numpy.ndarray
        Scattering vectors in Å⁻¹ (e.g. the experimental grid).
    r_max : float
        Range (Å) of the partial g(r) used in the transform.
    dr : float
        Bin width (Å) of the partial g(r).
    lorch : bool
        Apply the Lorch window to damp the truncation at ``r_max``.
    """
    selected = _frames(frames, stride)
    if not selected:
        raise ValueError("xray_fq: no frames")
    first = selected[0]
    if len(first) == 0:
        raise ValueError("xray_fq: the structure has no atoms")
    if not all(a.pbc.all() and abs(np.linalg.det(a.cell.array)) > 1.0 for a in selected):
        raise ValueError("xray_fq: needs periodic frames with a cell (a bulk structure)")
    if not (r_max > 0 and dr > 0 and r_max > dr):
        raise ValueError(f"xray_fq: need r_max > dr > 0 Å, got r_max={r_max}, dr={dr}")
    symbols = sorted(set(first.get_chemical_symbols()))
    counts = {s: first.get_chemical_symbols().count(s) for s in symbols}
    n_atoms = len(first)
    conc = {s: counts[s] / n_atoms for s in symbols}
    rho = np.mean([len(a) / a.get_volume() for a in selected])
    q = np.asarray(q, dtype=float)
    f = {s: form_factor(s, q) for s in symbols}
    mean_f = sum(conc[s] * f[s] for s in symbols)
    n_bins = int(round(r_max / dr))
    total = np.zeros_like(q)
    for ia, a in enumerate(symbols):
        for b in symbols[ia:]:
            if counts[a] - (a == b) <= 0 or counts[b] == 0:
                continue
            r, g = rdf(selected, a, b, r_max=r_max, n_bins=n_bins)
            window = np.sinc(r / r_max) if lorch else 1.0  # np.sinc(x) = sin(pi x)/(pi x)
            kernel = np.sinc(np.outer(q, r) / np.pi)  # sin(Qr)/(Qr)
            s_minus_1 = rho * (kernel * (4 * np.pi * r**2 * (g - 1) * window)).sum(axis=1) * dr
            weight = conc[a] * conc[b] * f[a] * f[b] * (1 if a == b else 2)
            total += weight * s_minus_1
    return total / mean_f**2


def xray_dr(q: np.ndarray, fq: np.ndarray, r: np.ndarray) -> np.ndarray:
    """D(r) = (2/π) ∫ Q F(Q) sin(Qr) dQ over the given Q grid (trapezoid rule)."""
    q, fq, r = (np.asarray(x, dtype=float) for x in (q, fq, r))
    integrand = q * fq * np.sin(np.outer(r, q))
    return 2.0 / np.pi * np.trapezoid(integrand, q, axis=1)


def peak_positions(
    x: np.ndarray, y: np.ndarray, windows: Sequence[tuple[float, float]]
) -> list[float]:
    """Position of the maximum of ``y`` inside each (lo, hi) window of ``x``,
    refined by a parabola through the top three points."""
    x, y = np.asarray(x), np.asarray(y)
    out = []
    for lo, hi in windows:
        idx = np.flatnonzero((x >= lo) & (x <= hi))
        if len(idx) < 3:
            raise ValueError(f"window ({lo}, {hi}) holds fewer than 3 points")
        k = idx[np.argmax(y[idx])]
        k = min(max(k, idx[0] + 1), idx[-1] - 1)
        y0, y1, y2 = y[k - 1], y[k], y[k + 1]
        denom = y0 - 2 * y1 + y2
        shift = 0.5 * (y0 - y2) / denom if denom != 0 else 0.0
        out.append(float(x[k] + shift * (x[k + 1] - x[k])))
    return out
