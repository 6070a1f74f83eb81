"""Run folders that outlive the machine: a consistent snapshot in one file git can keep.

An MD run folder (:class:`~zifhelpers.simulation.md.MDRun`) lives in a git-ignored
``md/`` tree, so a campaign moved to a new machine loses its runs. :func:`pack_run`
writes ``run.tar.gz`` in the folder: the recipe, the starting structure, the last
checkpoint, and the trajectory and thermo log cut at the bytes that checkpoint
recorded, so the snapshot is consistent even while the run is writing (no lock is
taken). Commit it; on the new machine :func:`restore_run` (called by
:meth:`MDRun.run`, :meth:`MDRun.from_workdir`, :func:`read_trajectory` and
:func:`read_thermo`) unpacks it when the folder holds no run, or an older one, and
the run resumes from its checkpoint as after a kill.

:func:`pack_runs` packs every run folder under a directory that a new machine
would need: unfinished runs, and finished ones that left no ``summary.json``
(whose frames a notebook still reads). Runs read back from their summary need no
archive, and a stale one is removed.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

from .runfolder import RunFolderError, _atomic_write, _read_checkpoint

__all__ = ["ARCHIVE_FILE", "list_runs", "pack_run", "pack_runs", "restore_run"]

#: The archive's name inside a run folder (the only other file of it that git keeps
#: besides notebook 05's ``summary.json``).
ARCHIVE_FILE = "run.tar.gz"

_CUT = {"trajectory.extxyz": "trajectory_bytes", "thermo.csv": "thermo_bytes"}
_SKIP = {".lock", ARCHIVE_FILE, "checkpoint.prev.pkl"}


def _checkpoint_state(payload: bytes, where: str) -> dict:
    return _read_checkpoint(where, data=payload)


def pack_run(workdir: str | os.PathLike) -> Path | None:
    """Write ``workdir/run.tar.gz``, a consistent snapshot of the run at its last checkpoint.

    Returns the archive's path, or None when the run has no checkpoint yet (nothing
    a new machine could resume from). The trajectory and thermo log are cut at the
    sizes the checkpoint recorded; frames written after it are left out, as a
    resumed run would cut them.
    """
    workdir = Path(workdir)
    if not (workdir / "run.json").is_file():
        raise FileNotFoundError(f"{workdir} is not an MD run folder: no run.json")
    checkpoint = workdir / "checkpoint.pkl"
    if not checkpoint.is_file():
        return None
    payload = checkpoint.read_bytes()  # written atomically: whole or the previous one
    state = _checkpoint_state(payload, str(checkpoint))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(workdir.iterdir()):
            if path.name in _SKIP or path.is_dir() or path.name.endswith(".tmp"):
                continue
            if path.name == "checkpoint.pkl":
                data = payload
            elif path.name in _CUT:
                size = int(state[_CUT[path.name]])
                with open(path, "rb") as handle:
                    data = handle.read(size)
                if len(data) < size:
                    raise RunFolderError(f"{path} is shorter ({len(data)} bytes) than at the "
                                         f"checkpoint of step {state['step']} ({size} bytes)")
            else:
                data = path.read_bytes()
            info = tarfile.TarInfo(path.name)
            info.size, info.mtime = len(data), int(path.stat().st_mtime)
            tar.addfile(info, io.BytesIO(data))
    target = workdir / ARCHIVE_FILE
    _atomic_write(target, buffer.getvalue())
    return target


def _archive_members(archive: Path) -> dict[str, bytes]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {}
            for member in tar.getmembers():
                if not member.isfile() or "/" in member.name or member.name.startswith("."):
                    raise RunFolderError(f"{archive}: unexpected member {member.name!r}")
                members[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise RunFolderError(f"{archive}: unreadable run archive ({type(err).__name__}: {err})") \
            from None
    for needed in ("run.json", "checkpoint.pkl"):
        if needed not in members:
            raise RunFolderError(f"{archive}: no {needed} in the archive")
    return members


def restore_run(workdir: str | os.PathLike) -> bool:
    """Unpack ``workdir/run.tar.gz`` when the folder holds no run, or one at an earlier step.

    Returns True when files were restored. A folder whose own checkpoint is at the
    archive's step or later is left alone (it is the live copy).
    """
    workdir = Path(workdir)
    archive = workdir / ARCHIVE_FILE
    if not archive.is_file():
        return False
    members = _archive_members(archive)
    checkpoint = workdir / "checkpoint.pkl"
    if (workdir / "run.json").is_file() and checkpoint.is_file():
        archived = _checkpoint_state(members["checkpoint.pkl"], str(archive))["step"]
        if _read_checkpoint(checkpoint)["step"] >= archived:
            return False
    stored = json.loads(members["run.json"])
    if (workdir / "run.json").is_file() and json.loads((workdir / "run.json").read_text()) != stored:
        raise RunFolderError(f"{archive} holds a run with another recipe than {workdir}/run.json; "
                             "delete one of them")
    (workdir / "checkpoint.prev.pkl").unlink(missing_ok=True)  # of the run the archive replaces
    for name, data in members.items():
        _atomic_write(workdir / name, data)
    return True


def _needs_archive(folder: Path) -> bool:
    status = folder / "status.json"
    finished = status.is_file() and json.loads(status.read_text()).get("state") == "finished"
    return not (finished and (folder / "summary.json").is_file())


def pack_runs(root: str | os.PathLike, progress: bool = True) -> dict[str, list[Path]]:
    """Pack every run folder under ``root`` that a new machine needs; drop archives it does not.

    Returns ``{"packed": [...], "removed": [...], "skipped": [...]}`` (skipped: no
    checkpoint yet). Commit the packed archives (``git add``) to carry the runs over.
    """
    from tqdm.auto import tqdm

    root = Path(root)
    out: dict[str, list[Path]] = {"packed": [], "removed": [], "skipped": []}
    folders = sorted(p.parent for p in root.rglob("run.json"))
    for folder in tqdm(folders, desc="packing runs", disable=not progress):
        if not _needs_archive(folder):
            if (folder / ARCHIVE_FILE).is_file():
                (folder / ARCHIVE_FILE).unlink()
                out["removed"].append(folder / ARCHIVE_FILE)
            continue
        path = pack_run(folder)
        out["packed" if path else "skipped"].append(path or folder)
    return out


def list_runs(root: str | os.PathLike):
    """Every run folder under ``root`` and how far it got, as a DataFrame.

    Columns: ``run`` (path relative to ``root``), ``state`` (``finished``,
    ``running``, ``paused``, ``stopped``, ``failed``, ...; ``summary`` for a
    folder that holds only the summary of a finished run, ``archived`` for one
    that holds only its archive), ``step``, ``total_steps``, ``summary`` and
    ``archive`` (whether those files are there). Folders from other machines are
    listed from what git carried over.
    """
    import pandas as pd

    root = Path(root)
    folders = sorted({p.parent for name in ("run.json", "summary.json", ARCHIVE_FILE)
                      for p in root.rglob(name)})
    rows = []
    for folder in folders:
        row = {"run": folder.relative_to(root).as_posix(), "state": "", "step": None,
               "total_steps": None, "summary": (folder / "summary.json").is_file(),
               "archive": (folder / ARCHIVE_FILE).is_file()}
        status = folder / "status.json"
        if status.is_file():
            data = json.loads(status.read_text())
            row.update(state=data.get("state", ""), step=data.get("step"),
                       total_steps=data.get("total_steps"))
            if row["state"] == "running" and (folder / "checkpoint.pkl").is_file():
                try:  # status.json says when it started; the checkpoint how far it is
                    row["step"] = _read_checkpoint(folder / "checkpoint.pkl")["step"]
                except RunFolderError:
                    pass  # being replaced this instant: keep the status's step
        elif row["archive"]:
            members = _archive_members(folder / ARCHIVE_FILE)
            data = json.loads(members.get("status.json", b"{}"))
            row.update(state="archived", step=_checkpoint_state(members["checkpoint.pkl"],
                                                                str(folder / ARCHIVE_FILE))["step"],
                       total_steps=data.get("total_steps"))
        elif row["summary"]:
            row["state"] = "summary"
        rows.append(row)
    return pd.DataFrame(rows, columns=["run", "state", "step", "total_steps", "summary", "archive"])
