"""Compile a nequip 0.19 checkpoint or package file for inference (AOT Inductor).

:func:`compile_model` runs ``nequip-compile`` through
:mod:`zifhelpers.potentials.inductor` (a backported Inductor CPU fix) with an
example frame of its own (:func:`example_data`), so a checkpoint compiles
without its training data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .checkpoints import checkpoint_model_config, fused_checkpoint

__all__ = ["build_threads", "compile_model", "example_data"]


def example_data(atoms, type_names, r_max: float):
    """One frame as a nequip data dict (types mapped, neighbour list, batch), float64.

    The example input of AOT export; float64 whatever the model's dtype, as
    nequip's data pipeline makes it.
    """
    import torch
    from nequip.data import AtomicDataDict, from_ase
    from nequip.data.transforms import (
        ChemicalSpeciesToAtomTypeMapper,
        NeighborListTransform,
    )
    from nequip.utils.dtype import torch_default_dtype

    types = list(type_names)
    with torch_default_dtype(torch.float64):
        data = from_ase(atoms)
        data = ChemicalSpeciesToAtomTypeMapper(
            model_type_names=types, chemical_species_to_atom_type_map={t: t for t in types})(data)
        return AtomicDataDict.with_batch_(NeighborListTransform(r_max=float(r_max))(data))


def _example_data_file(model_config: dict, path: Path, atoms=None) -> Path:
    """Example input for AOT export, so compiling needs no training data files.

    nequip-compile otherwise rebuilds the training data module to get one
    frame, which fails for a checkpoint moved away from its data (a shipped
    student). The frame is ``atoms`` (default: the ZIF-4 crystal).
    """
    import torch

    if atoms is None:
        from ..data.public import load_structure

        atoms = load_structure("crystal")
    data = example_data(atoms, model_config["type_names"], model_config["r_max"])

    class _Holder(torch.nn.Module):
        def __init__(self, tensors):
            super().__init__()
            for key, value in tensors.items():
                self.register_buffer(key, value)

        def forward(self) -> int:
            return 0

    torch.jit.script(_Holder(data)).save(str(path))
    return path


def build_threads(device: str = "cpu") -> int:
    """Threads a model compiled now is built for: this process's ``torch.get_num_threads()``
    on a CPU (a one-thread build has no OpenMP loop at all), 1 elsewhere. Part of cached
    build names (``-t<n>``)."""
    import torch

    return torch.get_num_threads() if device == "cpu" else 1


def compile_model(
    checkpoint: str | os.PathLike, output: str | os.PathLike, mode: str = "aotinductor",
    device: str = "cpu", example_atoms=None, target: str = "ase",
    fused_tensor_product: bool = False, threads: int | None = None,
) -> Path:
    """``nequip-compile`` a checkpoint or a package file (``.nequip.zip``).

    Runs nequip-compile through :mod:`zifhelpers.potentials.inductor`, which backports
    a PyTorch Inductor fix for CPU kernels (same outputs, fewer OpenMP forks).

    ``mode="aotinductor"`` writes a ``.nequip.pt2`` (about a minute to build
    on 2 cores) for ``target`` (``"ase"``: one frame per call; ``"batch"``:
    several frames per call, for TorchSim); ``"torchscript"`` a ``.nequip.pth``
    (refused by nequip 0.19 under torch >= 2.10). For a checkpoint the example
    frame for the export is ``example_atoms`` (default: the ZIF-4 crystal; for
    other chemistries pass one), so the training data need not be present; a
    package carries its own. Returns the output path.

    ``fused_tensor_product=True`` (a NequIP checkpoint) compiles the model with
    its edge tensor products and scatters computed by
    :class:`zifhelpers.potentials.tensor_products.FusedTensorProductScatter`
    (:func:`zifhelpers.potentials.students.ResidualNequIPGNNModel`): the same weights and,
    to float32 round-off, the same outputs, about a fifth faster on a CPU for
    the 32-feature students.

    ``threads`` (default: this process's ``torch.get_num_threads()``, i.e.
    ``OMP_NUM_THREADS`` or the cores) is the number of threads Inductor builds
    the C++ kernels for. A model built for one thread has no OpenMP loop at all
    and stays serial wherever it runs; one built for n threads runs correctly
    on fewer. Cached builds carry it in their names (``-t<n>``).
    """
    output = Path(output)
    threads = int(threads or build_threads(device))
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    suffix = {"torchscript": ".nequip.pth", "aotinductor": ".nequip.pt2"}.get(mode)
    if suffix is None:
        raise ValueError(f"mode must be 'torchscript' or 'aotinductor', got {mode!r}")
    if not output.name.endswith(suffix):
        raise ValueError(f"{output}: a {mode} model must end with {suffix}")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)  # never mistake a leftover file for the new build
    fused = None
    if fused_tensor_product:
        fused = output.with_name(output.name[: -len(suffix)] + ".fused.ckpt")
        fused_checkpoint(checkpoint, fused)
        checkpoint = fused
    # nequip-compile with a backported Inductor CPU fix (see zifhelpers.potentials.inductor)
    cmd = [sys.executable, "-m", "zifhelpers.potentials.inductor", str(checkpoint), str(output),
           "--mode", mode, "--device", device]
    if mode == "aotinductor":
        cmd += ["--target", target]
        model_config = ({} if str(checkpoint).endswith(".nequip.zip")
                        else checkpoint_model_config(checkpoint))
        if model_config and (example_atoms is not None
                             or {"H", "C", "N", "Zn"} >= set(model_config["type_names"])):
            example = _example_data_file(model_config, output.with_suffix(".example.pt"),
                                         example_atoms)
            cmd += ["--data-path", str(example)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}  # what Inductor specialises for
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    output.with_suffix(".example.pt").unlink(missing_ok=True)
    if fused is not None:
        fused.unlink(missing_ok=True)
    if proc.returncode != 0 or not output.is_file():
        raise RuntimeError(f"nequip-compile failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return output
