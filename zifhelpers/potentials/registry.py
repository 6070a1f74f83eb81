"""One name per potential: the published model and the shipped students.

:func:`load_calculator` turns a name (:data:`MODELS`) or a model file into an
ASE calculator. :func:`deployed_model` compiles a shipped student once and
caches it. Which student came from which (recipe, data, errors, speed) is in
``data/models/lineage.md``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from ase.calculators.calculator import Calculator

from .calculators import (
    LegacyNequIPCalculator,
    compiled_calculator,
    default_device,
    read_legacy_metadata,
)
from .checkpoints import checkpoint_model_config
from .compile import build_threads, compile_model
from .students import BUILDER, LEGACY_BUILDERS

__all__ = ["MODELS", "DEPLOYED", "BEST_STUDENT", "MODELS_DIR", "load_calculator",
           "deployed_model", "student_checkpoint", "model_names"]


#: Folder of the shipped students' checkpoints (``data/models`` of the repository).
MODELS_DIR = Path(__file__).resolve().parents[2] / "data" / "models"

#: Students shipped in :data:`MODELS_DIR`, name -> checkpoint file. Their lineage
#: (parent, recipe, data, errors, speed and CPU) is in ``data/models/lineage.md``.
DEPLOYED = {"nequip": "student_nequip.ckpt", "allegro": "student_allegro.ckpt",
            "nequip-zbl3": "student_nequip_zbl3.ckpt",
            "nequip-w32m": "student_nequip_w32m.ckpt"}

#: The student the notebooks sample with by default: the most accurate shipped one
#: that holds 10 ps at 1500 K (``data/models/lineage.md``).
BEST_STUDENT = "nequip-w32m"

#: Every potential with a name, name -> what it is. A path to a model file works too.
MODELS = {
    "published": "the paper's production NequIP model (l=2, r=6 Å), converted to nequip 0.19 "
                 "and compiled on first use: the reference of this compendium",
    "published-legacy": "the same model through its nequip 0.5.6 TorchScript file "
                        "(slower; what the conversion is checked against)",
    "emt": "ASE's effective-medium toy potential (metals; for tests and teaching only)",
    "nequip": "round-1 NequIP student of the active-learning loop (16 features, l=1)",
    "allegro": "round-1 Allegro student of the active-learning loop",
    "nequip-zbl3": "16-feature NequIP student with a ZBL core wall, three distillation rounds",
    "nequip-w32m": "32-feature, 4-layer NequIP student, the most accurate shipped one "
                   "(the campaign's sampler)",
}


def model_names() -> list[str]:
    """Names :func:`load_calculator` accepts (besides model file paths)."""
    return list(MODELS)


def student_checkpoint(name: str, models_dir: str | os.PathLike | None = None) -> Path:
    """Checkpoint file of the student called ``name``: shipped (:data:`DEPLOYED`) or saved
    by notebook 02 (``deploy=name``) as ``<models_dir>/student_<name, - as _>.ckpt``."""
    folder = Path(models_dir) if models_dir else MODELS_DIR
    return folder / DEPLOYED.get(name, f"student_{name.replace('-', '_')}.ckpt")


def deployed_model(name: str = BEST_STUDENT, models_dir: str | os.PathLike | None = None,
                   device: str = "cpu") -> Path:
    """Compiled path of a student shipped in ``data/models`` (compiled once, cached).

    Checkpoints are committed (small, platform independent); the AOT Inductor
    file is built on first use into ``<cache>/students/`` (about a minute)
    and rebuilt when the checkpoint changes, one build per thread count
    (:func:`~zifhelpers.potentials.compile.compile_model`, ``threads``). NequIP students compiled for the
    CPU get fused tensor products (``compile_model(..., fused_tensor_product=True)``).
    ``load_calculator(name)`` does this for you. A student saved by notebook 02
    or restored from git (``data/models/lineage.md`` names each earlier
    student's commit) is found by name too (:func:`student_checkpoint`).
    """
    import hashlib

    import torch

    from ..data.public import cache_dir
    from .inductor import COMPILE_RECIPE

    ckpt = student_checkpoint(name, models_dir)
    if not ckpt.is_file():
        if name in DEPLOYED:
            raise FileNotFoundError(f"{ckpt}: shipped student {name!r} not found (its checkpoint "
                                    "is committed in data/models)")
        raise ValueError(f"no shipped student {name!r}: have {sorted(DEPLOYED)}; a student of "
                         f"data/models/lineage.md or one saved by notebook 02 (deploy=...) is "
                         f"looked for as {ckpt}")
    digest = hashlib.sha256(ckpt.read_bytes()).hexdigest()[:16]
    tag = torch.__version__.split("+")[0]
    # NequIP students on a CPU: fused tensor products (same outputs, about a fifth faster)
    fused = device == "cpu" and checkpoint_model_config(ckpt)["_target_"] in (
        "nequip.model.NequIPGNNModel", BUILDER, *LEGACY_BUILDERS)
    threads = build_threads(device)  # a one-thread build has no OpenMP loop
    out = (Path(cache_dir()) / "students" / f"{ckpt.stem}-{digest}-{device}-torch{tag}-"
           f"{COMPILE_RECIPE}-t{threads}{'-fused' if fused else ''}.nequip.pt2")
    if not out.is_file():
        from filelock import FileLock

        out.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{out}.lock"):  # processes starting at once (pytest -n 2) compile it once
            if not out.is_file():
                tmp = out.with_name(out.name.replace(".nequip.pt2", ".tmp.nequip.pt2"))
                compile_model(ckpt, tmp, device=device, fused_tensor_product=fused,
                              threads=threads)
                os.replace(tmp, out)
    return out


def _refuse_empty(calc: Calculator) -> Calculator:
    """Make ``calc`` refuse a structure without atoms with a clear error (instead of an error
    from inside the compiled model)."""
    inner = calc.calculate

    def calculate(atoms=None, *args, **kwargs):
        if atoms is not None and len(atoms) == 0:
            raise ValueError("the structure has no atoms: nothing to compute")
        return inner(atoms, *args, **kwargs)

    calc.calculate = calculate
    return calc


def _model_file_kind(path: Path) -> None:
    """Refuse a file that cannot be a model (naming it) before a loader fails obscurely."""
    import zipfile

    if path.stat().st_size == 0:
        raise ValueError(f"load_calculator: {path} is empty")
    if path.suffix in (".pt2", ".pth", ".pt") and not zipfile.is_zipfile(path):
        raise ValueError(f"load_calculator: {path} is not a model file (TorchScript and AOT "
                         "Inductor models are zip archives; this file is not one)")


def load_calculator(
    spec: str | os.PathLike = "published",
    device: str | None = None,
    dtype: str = "float32",
    **kwargs,
) -> Calculator:
    """Return an ASE calculator for a potential named by ``spec``.

    Parameters
    ----------
    spec : str or path-like
        ``"published"``: the paper's production NequIP model, fetched and
        checksummed by :mod:`zifhelpers.data.public`, converted to nequip 0.19 and
        compiled with AOT Inductor on first use (:mod:`zifhelpers.potentials.convert`;
        identical outputs, cached, a few minutes once); if that fails, a
        warning and the legacy path. ``"published-legacy"``: the same model
        through its nequip 0.5.6 TorchScript file
        (:class:`LegacyNequIPCalculator`).
        ``"emt"``: ASE's effective-medium potential, a fast toy for tests and
        teaching (metals; meaningless for ZIFs).
        A shipped student's name (:data:`DEPLOYED`, e.g. ``"nequip-w32m"``,
        :data:`BEST_STUDENT`): compiled on first use and cached
        (:func:`deployed_model`). :data:`MODELS` lists every name.
        A path: a nequip 0.5.x/0.6.x deployed TorchScript model (read by
        :class:`LegacyNequIPCalculator`), or a nequip >= 0.7 compiled model
        (``.nequip.pth`` TorchScript or ``.nequip.pt2`` AOT Inductor, NequIP or
        Allegro) handed to ``nequip.integrations.ase.NequIPCalculator``.
    device : str, optional
        ``"cuda"`` or ``"cpu"``; default: CUDA when available.
    dtype : {"float32", "float64"}
        Precision of the published model (converted or legacy) and of legacy
        model files.
    **kwargs
        Passed on to the calculator.
    """
    if str(spec) == "emt":
        from ase.calculators.emt import EMT

        return EMT()
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if str(spec) == "published-legacy":
        from ..data.public import published_model_path

        return _refuse_empty(LegacyNequIPCalculator(
            published_model_path(), device=device, dtype=dtype, **kwargs
        ))

    if str(spec) in DEPLOYED or (isinstance(spec, str) and "/" not in spec
                                 and student_checkpoint(spec).is_file()):
        # a student in data/models: shipped (e.g. "nequip-w32m") or saved by notebook 02
        return load_calculator(deployed_model(str(spec), device=device or "cpu"),
                               device=device, dtype=dtype, **kwargs)
    if str(spec) == "published":
        from .convert import converted_published_model

        device = device or default_device()
        try:
            path = converted_published_model(device=device, model_dtype=dtype)
        except Exception as err:  # no compiler, unsupported platform, ...
            warnings.warn(
                f"could not convert/compile the published model for nequip 0.19 "
                f"({type(err).__name__}: {err}); using the legacy TorchScript file",
                stacklevel=2,
            )
            return load_calculator("published-legacy", device=device, dtype=dtype, **kwargs)
        return _refuse_empty(compiled_calculator(path, device=device, **kwargs))
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(
            f"load_calculator: {spec!r} is neither a model name ({', '.join(MODELS)}) "
            "nor an existing model file"
        )
    _model_file_kind(path)
    device = device or default_device()
    if path.suffix in (".pth", ".pt") and not path.name.endswith(".nequip.pth"):
        meta = read_legacy_metadata(path)
        if meta["nequip_version"].startswith(("0.5", "0.6")):
            return _refuse_empty(LegacyNequIPCalculator(path, device=device, dtype=dtype, **kwargs))
    if path.name.endswith((".nequip.pth", ".nequip.pt2", ".pth", ".pt2")):
        return _refuse_empty(compiled_calculator(path, device=device, **kwargs))
    raise ValueError(
        f"load_calculator: cannot tell what kind of model {path} is: expected a "
        "deployed nequip 0.5/0.6 TorchScript file (.pth) or a nequip >= 0.7 "
        "compiled model (.nequip.pth or .nequip.pt2)"
    )
