"""The files of an MD run folder that every part of a run shares: errors, atomic writes, checkpoints.

Kept apart from :mod:`zifhelpers.simulation.md` so that the run itself and its archives
(:mod:`zifhelpers.simulation.archive`) import them without importing each other.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

__all__ = ["RunFolderBusy", "RunFolderError"]


class RunFolderError(RuntimeError):
    """A run folder that cannot be used as asked: in use, damaged, or made with other inputs."""


class RunFolderBusy(RunFolderError):
    """The run folder is being run by another process (its lock is held)."""


def _dump_checkpoint(state: dict) -> bytes:
    payload = pickle.dumps(state)
    return pickle.dumps({"format": 2, "sha256": hashlib.sha256(payload).hexdigest(),
                         "state": payload})


def _read_checkpoint(path: Path | str, data: bytes | None = None) -> dict:
    """A checkpoint's state; :class:`RunFolderError` naming the file when it is damaged.

    ``data``: the checkpoint's bytes, read elsewhere (e.g. from a run archive); ``path``
    then only names it in errors.
    """
    try:
        if data is None:
            with open(path, "rb") as handle:
                data = handle.read()
        outer = pickle.loads(data)
    except Exception as err:  # truncated, overwritten, not a pickle
        raise RunFolderError(f"{path}: unreadable checkpoint ({type(err).__name__}: {err})") \
            from None
    if isinstance(outer, dict) and outer.get("format") == 2:
        payload = outer.get("state", b"")
        if hashlib.sha256(payload).hexdigest() != outer.get("sha256"):
            raise RunFolderError(f"{path}: checkpoint content does not match its SHA-256")
        return pickle.loads(payload)
    if isinstance(outer, dict) and {"step", "positions", "momenta"} <= set(outer):
        return outer  # written before checkpoints carried a checksum
    raise RunFolderError(f"{path}: not an MD checkpoint (found {type(outer).__name__})")




def _atomic_write(path: Path, payload: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
