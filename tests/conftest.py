"""Shared fixtures. Points the data mirror at ``../shared/data`` when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SHARED = ROOT.parent / "shared" / "data"
if not os.environ.get("ZIFHELPERS_DATA_MIRROR") and _SHARED.is_dir():
    os.environ["ZIFHELPERS_DATA_MIRROR"] = str(_SHARED)


@pytest.fixture(scope="session")
def crystal():
    from zifhelpers.data import load_structure

    return load_structure("crystal")


@pytest.fixture(scope="session")
def published32():
    from zifhelpers.calculators import load_calculator

    return load_calculator("published-legacy", device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def published64():
    from zifhelpers.calculators import load_calculator

    return load_calculator("published-legacy", device="cpu", dtype="float64")
