"""Run profiles shared by every notebook.

``smoke``
    CI: seconds to a few minutes on 2 CPU cores; exercises every code path on
    tiny runs. Numbers are not converged.
``quick``
    A laptop: under an hour per notebook on a CPU. Shorter runs and single
    cells; each notebook states what that changes.
``paper``
    The paper's exact protocol (100 ps, 2×2×2 supercells): meant for a GPU.
"""

from __future__ import annotations

PROFILES = ("smoke", "quick", "paper")

__all__ = ["PROFILES", "check_profile", "settings"]

#: Per-notebook settings for each profile. Notebooks read theirs with
#: :func:`settings`; a papermill sweep can still override any parameter.
_SETTINGS: dict[str, dict[str, dict]] = {
    "00_data_and_models": {
        "smoke": {"structures": "zif4", "include_rmc": False},
        "quick": {"structures": "zif4", "include_rmc": True},
        "paper": {"structures": "zif4", "include_rmc": True},
    },
}


def check_profile(profile: str) -> str:
    """Return ``profile`` if valid, else raise a ValueError listing the valid ones."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    return profile


def settings(notebook: str, profile: str) -> dict:
    """Settings of ``notebook`` (its file stem) under ``profile``."""
    check_profile(profile)
    try:
        return dict(_SETTINGS[notebook][profile])
    except KeyError:
        raise KeyError(
            f"no profile settings for notebook {notebook!r}; known: {sorted(_SETTINGS)}"
        ) from None
