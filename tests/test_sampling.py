"""Flat-histogram and random sampling."""

from __future__ import annotations

import numpy as np
import pytest

from zifhelpers.training.sampling import flat_histogram, random_sample, split


def _skewed(n=20000, seed=1):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 1, n), rng.normal(8, 0.5, n // 100)])


def test_one_frame_per_non_empty_bin():
    energies = _skewed()
    chosen = flat_histogram(energies, 300, seed=0)
    edges = np.linspace(energies.min(), energies.max(), 301)
    occupied = np.count_nonzero(np.histogram(energies, edges)[0])
    assert len(chosen) == occupied < 300  # empty bins: fewer samples than asked
    per_bin = np.histogram(energies[chosen], edges)[0]
    assert per_bin.max() == 1
    assert len(np.unique(chosen)) == len(chosen)


def test_flatter_than_random_on_a_skewed_distribution():
    energies = _skewed()
    flat = flat_histogram(energies, 200, seed=3)
    rand = random_sample(len(energies), len(flat), seed=3)
    edges = np.linspace(energies.min(), energies.max(), 11)
    # the rare high-energy tail is represented
    assert np.sum(energies[flat] > 6) > 10 * max(1, np.sum(energies[rand] > 6))
    assert np.histogram(energies[flat], edges)[0].std() < np.histogram(energies[rand], edges)[0].std()


def test_split_is_disjoint_complete_and_reproducible():
    energies = _skewed(5000)
    a = split(energies, 250, 100, method="flat", seed=5)
    b = split(energies, 250, 100, method="flat", seed=5)
    c = split(energies, 250, 100, method="flat", seed=6)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["train"], c["train"])
    parts = np.concatenate([a["train"], a["test"], a["validation"]])
    assert len(parts) == len(energies) == len(np.unique(parts))
    assert len(a["train"]) <= 250 and len(a["test"]) <= 100
    r = split(energies, 250, 100, method="random", seed=5)
    assert (len(r["train"]), len(r["test"])) == (250, 100)
    assert not set(r["train"]) & set(r["test"])


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        flat_histogram([1.0, np.nan], 2)
    with pytest.raises(ValueError, match="one-dimensional"):
        flat_histogram(np.zeros((2, 2)), 2)
    with pytest.raises(ValueError, match="method"):
        split([1.0, 2.0], 1, 1, method="wang-landau")
    with pytest.raises(ValueError, match="pool of 2"):
        random_sample(2, 3)
