"""Choosing training and test frames: random and flat-histogram sampling.

Castel et al. (Digital Discovery 2024) drew their training and test sets from
long AIMD trajectories in two ways: at random, and by *flat-histogram*
sampling, inspired by Wang–Landau-type methods (F. Wang and D. P. Landau,
Phys. Rev. Lett. 86, 2050 (2001)): the energies are binned into as many
equal-width bins as samples requested and one frame is drawn at random from
each non-empty bin, so rare high- and low-energy frames are as likely to be
picked as common ones. Empty bins make the sample smaller than requested
(the paper: 2500 → 2357 and 200 → 190).
"""

from __future__ import annotations

import numpy as np

__all__ = ["flat_histogram", "random_sample", "split"]


def _energies(energies) -> np.ndarray:
    values = np.asarray(energies, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"energies must be one-dimensional, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("energies contain NaN or infinite values")
    return values


def flat_histogram(
    energies, n_samples: int, seed: int | None = None, candidates=None
) -> np.ndarray:
    """Flat-histogram sample of frame indices.

    Parameters
    ----------
    energies : array-like, shape (n_frames,)
        One energy per frame (any unit; per atom when systems differ in size).
    n_samples : int
        Number of bins, i.e. the largest possible sample.
    seed : int, optional
        Seed of the random draw inside each bin.
    candidates : array-like of int, optional
        Frame indices allowed (default: all); bins span their energy range.

    Returns
    -------
    numpy.ndarray of int
        Sorted frame indices, one per non-empty bin (at most ``n_samples``).
    """
    values = _energies(energies)
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    pool = np.arange(len(values)) if candidates is None else np.asarray(candidates, dtype=int)
    if len(pool) == 0:
        return np.zeros(0, dtype=int)
    rng = np.random.default_rng(seed)
    e = values[pool]
    lo, hi = e.min(), e.max()
    if hi == lo:
        return np.sort(rng.choice(pool, size=min(n_samples, len(pool)), replace=False))
    bins = np.minimum(((e - lo) / (hi - lo) * n_samples).astype(int), n_samples - 1)
    chosen = []
    for b in np.unique(bins):
        members = pool[bins == b]
        chosen.append(rng.choice(members))
    return np.sort(np.array(chosen, dtype=int))


def random_sample(n_frames: int, n_samples: int, seed: int | None = None, candidates=None) -> np.ndarray:
    """Uniformly random sample of frame indices, without replacement (sorted)."""
    pool = np.arange(n_frames) if candidates is None else np.asarray(candidates, dtype=int)
    if n_samples > len(pool):
        raise ValueError(f"asked for {n_samples} frames from a pool of {len(pool)}")
    return np.sort(np.random.default_rng(seed).choice(pool, size=n_samples, replace=False))


def split(
    energies, n_train: int, n_test: int, method: str = "flat", seed: int = 0
) -> dict[str, np.ndarray]:
    """Training, test and validation sets, the paper's way.

    The training set is drawn first; the test set is then drawn from the
    leftovers (with a fresh binning for ``method="flat"``); every frame not
    drawn is the validation pool.

    Returns
    -------
    dict
        ``train``, ``test``, ``validation``: disjoint sorted index arrays.
    """
    values = _energies(energies)
    everything = np.arange(len(values))
    if method == "flat":
        train = flat_histogram(values, n_train, seed=seed)
        rest = np.setdiff1d(everything, train)
        test = flat_histogram(values, n_test, seed=seed + 1, candidates=rest)
    elif method == "random":
        train = random_sample(len(values), n_train, seed=seed)
        rest = np.setdiff1d(everything, train)
        test = random_sample(len(values), n_test, seed=seed + 1, candidates=rest)
    else:
        raise ValueError(f"method must be 'flat' or 'random', got {method!r}")
    validation = np.setdiff1d(everything, np.concatenate([train, test]))
    return {"train": train, "test": test, "validation": validation}
