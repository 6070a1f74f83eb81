"""Run ``nequip-train`` in a resumable run folder and read its learning curve."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .spec import TrainingSpec, write_config
from .surgery import standalone_checkpoint

__all__ = ["train", "learning_curve"]


def _nequip_script(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _pinned_parent(init_from: str | os.PathLike, workdir: Path) -> Path:
    """``workdir/parent.ckpt``: a standalone copy of a fine-tune's parent, made once."""
    pinned = workdir / "parent.ckpt"
    if Path(init_from).resolve() == pinned or pinned.is_file():
        return pinned
    if not Path(init_from).is_file():
        raise FileNotFoundError(f"TrainingSpec.init_from: no checkpoint at {Path(init_from).resolve()}")
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = pinned.with_name("parent.tmp.ckpt")
    standalone_checkpoint(init_from, tmp)
    os.replace(tmp, pinned)  # a crash mid-copy leaves no half-written parent.ckpt
    return pinned


def train(spec: TrainingSpec, workdir: str | os.PathLike, log: bool = True) -> Path:
    """Train (or resume) in ``workdir``; returns the path of ``best.ckpt``.

    A run folder holding ``last.ckpt`` is resumed from it (same config).
    A fine-tune (``spec.init_from``) first copies its parent into
    ``workdir/parent.ckpt`` with :func:`standalone_checkpoint` and starts from
    that copy, so the run folder never depends on a file outside it (a parent
    moved, deleted or retired later does not orphan the run's checkpoints).
    Raises RuntimeError with the tail of nequip's log when training fails.
    """
    from dataclasses import replace

    workdir = Path(workdir).resolve()
    if spec.init_from:
        spec = replace(spec, init_from=str(_pinned_parent(spec.init_from, workdir)))
    config = write_config(spec, workdir / "config.yaml")
    part = len(list((workdir / "logs").glob("part*")))  # one CSV log per (re)start
    cmd = [_nequip_script("nequip-train"), "-cp", str(workdir), "-cn", config.stem,
           f"hydra.run.dir={workdir}", f"trainer.logger.version=part{part:02d}"]
    last = workdir / "last.ckpt"
    if last.is_file():
        cmd.append(f"++ckpt_path={last}")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(workdir / "train.log", "a") as handle:
        proc = subprocess.run(cmd, cwd=workdir, stdout=handle, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = (workdir / "train.log").read_text().splitlines()[-25:]
        raise RuntimeError(f"nequip-train failed in {workdir} (exit {proc.returncode}):\n"
                           + "\n".join(tail))
    best = workdir / "best.ckpt"
    if not best.is_file():
        raise RuntimeError(f"nequip-train finished but wrote no best.ckpt in {workdir}")
    return best


def learning_curve(workdir: str | os.PathLike):
    """Per-epoch validation metrics of a run, across restarts, as a DataFrame.

    Reads ``logs/part*/metrics.csv`` (one per start or resume of :func:`train`).
    """
    import pandas as pd

    paths = sorted((Path(workdir) / "logs").glob("part*/metrics.csv"))
    if not paths:
        raise FileNotFoundError(f"no training log in {Path(workdir) / 'logs'}")
    frame = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    cols = [c for c in frame.columns if c.startswith("val0_epoch/")]
    return frame.dropna(subset=cols, how="all")[["epoch", *cols]].groupby("epoch").last()
