"""Train, compile and evaluate NequIP (and Allegro) potentials with nequip 0.19.

:class:`TrainingSpec` holds the hyper-parameters the paper screened (l_max,
r_max, parity, layers, features, loss weights) and everything else a run
needs; :func:`write_config` turns it into a nequip 0.19 (Hydra) config that
runs on this project's machines (CPU accelerator unless a GPU is visible, CSV
logger, no worker processes, no ``torch.compile``); :func:`train` runs
``nequip-train`` in a run folder and resumes from ``last.ckpt`` when one
exists; :func:`compile_model` calls ``nequip-compile`` (TorchScript or AOT
Inductor) so that :func:`zifhelpers.calculators.load_calculator` can load the
result; :func:`learning_curve` and :func:`evaluate` read the logs and score a
calculator on held-out frames.

References: S. Batzner et al., Nat. Commun. 13, 2453 (2022) (NequIP);
A. Musaelian et al., Nat. Commun. 14, 579 (2023) (Allegro).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .paper import TABLE1

__all__ = ["TrainingSpec", "write_config", "train", "compile_model", "learning_curve", "evaluate",
           "add_core_repulsion"]


@dataclass
class TrainingSpec:
    """Hyper-parameters and files of one training run.

    Defaults are a small, fast CPU student; the paper's deployed NequIP model is
    ``l_max=2, r_max=6.0, parity=False, num_layers=5, num_features=32``.
    Loss weights apply to per-atom energy, forces and stress (MSE).
    ``forces_loss``: ``"mse"`` (nequip's default) or ``"huber"``, the Huber
    loss with ``huber_delta_eV_A`` (quadratic below it, linear above): with a
    small delta it is close to the mean absolute error, the metric students
    are judged on, and it lets a few large errors of hot frames steer the fit
    less than a squared loss does.
    ``lr_schedule``: ``"plateau"`` (nequip's usual ReduceLROnPlateau on the
    validation loss: factor 0.6, patience 5 epochs) or ``"cosine"`` (cosine
    decay from ``learning_rate`` to ``learning_rate / 100`` over
    ``max_epochs``, better when only a few tens of epochs are affordable).
    ``init_from``: a nequip checkpoint to fine-tune (nequip's
    ``ModelFromCheckpoint``): architecture, weights and per-type scales come
    from it and the model fields of this spec are ignored. The new checkpoint
    refers to that file; :func:`standalone_checkpoint` removes the reference.
    ``core_repulsion``: add :class:`zifhelpers.repulsion.SwitchedZBL` as the
    model's pair potential, ZBL repulsion switched off between
    ``core_repulsion_fractions`` (inner, outer) of the covalent-radii sum of
    each pair, so hot MD cannot collapse two atoms while the fit to
    bonding-distance data is untouched.
    """

    train_file: str
    val_file: str
    test_file: str | None = None
    chemical_symbols: list[str] = field(default_factory=lambda: ["H", "C", "N", "Zn"])
    model: str = "nequip"  # or "allegro"
    l_max: int = 1
    r_max: float = 5.0
    parity: bool = False
    num_layers: int = 3
    num_features: int = 16
    radial_mlp_depth: int = 2
    radial_mlp_width: int = 32
    num_bessels: int = 8
    energy_weight: float = 1.0
    forces_weight: float = 1.0
    stress_weight: float = 1.0
    forces_loss: str = "mse"
    huber_delta_eV_A: float = 0.01
    seed: int = 0
    max_epochs: int = 100
    batch_size: int = 2
    learning_rate: float = 0.005
    lr_schedule: str = "plateau"
    init_from: str | None = None
    core_repulsion: bool = False
    core_repulsion_fractions: tuple[float, float] = (0.5, 0.75)
    model_dtype: str = "float32"
    accelerator: str = "auto"

    def to_dict(self) -> dict:
        return asdict(self)


def _accelerator(spec: TrainingSpec) -> str:
    if spec.accelerator != "auto":
        return spec.accelerator
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def _model_block(spec: TrainingSpec) -> dict:
    if spec.init_from:
        path = Path(spec.init_from).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"TrainingSpec.init_from: no checkpoint at {path}")
        return {"_target_": "nequip.model.ModelFromCheckpoint", "checkpoint_path": str(path),
                "compile_mode": "eager"}
    common = {
        "seed": spec.seed,
        "model_dtype": spec.model_dtype,
        "type_names": "${chemical_symbols}",
        "r_max": spec.r_max,
        "l_max": spec.l_max,
        "avg_num_neighbors": "${training_data_stats:num_neighbors_mean}",
        "per_type_energy_scales": "${training_data_stats:per_type_forces_rms}",
        "per_type_energy_shifts": "${training_data_stats:per_atom_energy_mean}",
        "per_type_energy_scales_trainable": False,
        "per_type_energy_shifts_trainable": False,
    }
    if spec.core_repulsion:
        common["pair_potential"] = _core_repulsion_block(
            spec.chemical_symbols, spec.core_repulsion_fractions, written_as="${chemical_symbols}")
    if spec.model == "nequip":
        return {
            "_target_": "nequip.model.NequIPGNNModel",
            **common,
            "num_bessels": spec.num_bessels,
            "bessel_trainable": False,
            "polynomial_cutoff_p": 6,
            "num_layers": spec.num_layers,
            "parity": spec.parity,
            "num_features": spec.num_features,
            "radial_mlp_depth": spec.radial_mlp_depth,
            "radial_mlp_width": spec.radial_mlp_width,
        }
    if spec.model == "allegro":
        return {
            "_target_": "allegro.model.AllegroModel",
            **common,
            "parity": spec.parity,
            "radial_chemical_embed": {
                "_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
                "num_bessels": spec.num_bessels,
                "bessel_trainable": False,
                "polynomial_cutoff_p": 6,
            },
            "radial_chemical_embed_dim": spec.num_features,
            "scalar_embed_mlp_hidden_layers_depth": 1,
            "scalar_embed_mlp_hidden_layers_width": spec.radial_mlp_width,
            "scalar_embed_mlp_nonlinearity": "silu",
            "num_layers": spec.num_layers,
            "num_scalar_features": spec.num_features,
            "num_tensor_features": max(4, spec.num_features // 4),
            "allegro_mlp_hidden_layers_depth": 1,
            "allegro_mlp_hidden_layers_width": spec.radial_mlp_width,
            "allegro_mlp_nonlinearity": "silu",
            "tp_path_channel_coupling": True,
        }
    raise ValueError(f"model must be 'nequip' or 'allegro', got {spec.model!r}")


def _lr_scheduler(spec: TrainingSpec) -> dict:
    if spec.lr_schedule == "cosine":
        return {"scheduler": {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR",
                              "T_max": spec.max_epochs, "eta_min": spec.learning_rate / 100},
                "interval": "epoch", "frequency": 1}
    return {"scheduler": {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
                          "factor": 0.6, "patience": 5, "threshold": 0.2, "min_lr": 1e-6},
            "monitor": "${monitored_metric}", "interval": "epoch", "frequency": 1}


def _loss_block(spec: TrainingSpec) -> dict:
    coeffs = {"total_energy": spec.energy_weight, "forces": spec.forces_weight,
              "stress": spec.stress_weight}
    if spec.forces_loss == "mse":
        return {"_target_": "nequip.train.EnergyForceStressLoss", "per_atom_energy": True,
                "coeffs": coeffs}
    if spec.huber_delta_eV_A <= 0:
        raise ValueError(f"TrainingSpec.huber_delta_eV_A must be > 0 eV/Å, "
                         f"got {spec.huber_delta_eV_A}")
    def mse() -> dict:  # a fresh dict each (no YAML alias in the written config)
        return {"_target_": "nequip.train.MeanSquaredError"}

    return {"_target_": "nequip.train.MetricsManager", "metrics": [
        {"name": "per_atom_energy_mse", "coeff": spec.energy_weight, "metric": mse(),
         "field": {"_target_": "nequip.data.PerAtomModifier", "field": "total_energy"}},
        {"name": "forces_huber", "field": "forces", "coeff": spec.forces_weight,
         "metric": {"_target_": "nequip.train.HuberLoss", "delta": spec.huber_delta_eV_A}},
        {"name": "stress_mse", "field": "stress", "coeff": spec.stress_weight, "metric": mse()},
    ]}


def write_config(spec: TrainingSpec, path: str | os.PathLike) -> Path:
    """Write a nequip 0.19 training config for ``spec`` to ``path`` (YAML)."""
    import yaml

    if spec.lr_schedule not in ("plateau", "cosine"):
        raise ValueError(f"TrainingSpec.lr_schedule must be 'plateau' or 'cosine', "
                         f"got {spec.lr_schedule!r}")
    if spec.forces_loss not in ("mse", "huber"):
        raise ValueError(f"TrainingSpec.forces_loss must be 'mse' or 'huber', "
                         f"got {spec.forces_loss!r}")
    for label, file in (("train_file", spec.train_file), ("val_file", spec.val_file)):
        if not Path(file).is_file():
            raise FileNotFoundError(f"TrainingSpec.{label}: no data set at {file}")
    metrics = {
        "_target_": "nequip.train.EnergyForceStressMetrics",
        "coeffs": {"per_atom_energy_mae": 1.0, "forces_mae": 1.0, "stress_mae": 1.0,
                   "total_energy_rmse": None, "forces_rmse": None, "stress_rmse": None},
    }
    data_files = {"train_file_path": str(Path(spec.train_file).resolve()),
                  "val_file_path": str(Path(spec.val_file).resolve())}
    if spec.test_file:
        data_files["test_file_path"] = str(Path(spec.test_file).resolve())
    config = {
        "run": ["train", "test"] if spec.test_file else ["train"],
        "chemical_symbols": list(spec.chemical_symbols),
        "monitored_metric": "val0_epoch/weighted_sum",
        "data": {
            "_target_": "nequip.data.datamodule.ASEDataModule",
            "seed": spec.seed,
            **data_files,
            "transforms": [
                {"_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper",
                 "model_type_names": "${chemical_symbols}",
                 "chemical_species_to_atom_type_map": {s: s for s in spec.chemical_symbols}},
                {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": spec.r_max},
            ],
            "train_dataloader": {"_target_": "torch.utils.data.DataLoader",
                                 "batch_size": spec.batch_size, "num_workers": 0, "shuffle": True},
            "val_dataloader": {"_target_": "torch.utils.data.DataLoader",
                               "batch_size": spec.batch_size, "num_workers": 0},
            "test_dataloader": "${data.val_dataloader}",
            "stats_manager": {"_target_": "nequip.data.CommonDataStatisticsManager",
                              "dataloader_kwargs": {"batch_size": spec.batch_size},
                              "type_names": "${chemical_symbols}"},
        },
        "trainer": {
            "_target_": "lightning.Trainer",
            "accelerator": _accelerator(spec),
            "enable_checkpointing": True,
            "max_epochs": spec.max_epochs,
            "check_val_every_n_epoch": 1,
            "log_every_n_steps": 1,
            "enable_progress_bar": False,
            "logger": {"_target_": "lightning.pytorch.loggers.CSVLogger",
                       "save_dir": "${hydra:runtime.output_dir}", "name": "logs", "version": ""},
            "callbacks": [
                {"_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
                 "monitor": "${monitored_metric}", "dirpath": "${hydra:runtime.output_dir}",
                 "filename": "best", "save_last": True},
            ],
        },
        "training_module": {
            "_target_": "nequip.train.EMALightningModule",
            "ema_decay": 0.99,
            "loss": _loss_block(spec),
            "val_metrics": metrics,
            "test_metrics": metrics,
            "optimizer": {"_target_": "torch.optim.Adam", "lr": spec.learning_rate},
            "lr_scheduler": _lr_scheduler(spec),
            "model": _model_block(spec),
        },
        "global_options": {"allow_tf32": False},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# written by zifhelpers.training.write_config\n"
                    + yaml.safe_dump(config, sort_keys=False))
    return path


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


def standalone_checkpoint(checkpoint: str | os.PathLike, output: str | os.PathLike,
                          slim: bool = False) -> Path:
    """Copy a fine-tuned checkpoint so that it no longer needs its parent file.

    A run started with ``TrainingSpec(init_from=...)`` stores
    ``ModelFromCheckpoint(checkpoint_path=parent)`` as its model, so loading,
    compiling or shipping it needs the parent at that path (and its parent, if
    it was fine-tuned too). This writes ``output`` with the model config of the
    first ancestor that is not a fine-tune (same architecture, hence the same
    parameter names) and the weights of ``checkpoint``.

    ``slim=True`` makes a file to ship: the optimizer and scheduler states are
    dropped and the raw training weights are replaced by the EMA weights (what
    nequip loads for inference and for a fine-tune), stored once, so the file
    is about a third of a training checkpoint's size. Training cannot resume
    from it with the same optimizer state; fine-tuning from it can.
    """
    import torch

    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = _root_model_config(ckpt, checkpoint)
    if slim:
        for key in ("optimizer_states", "lr_schedulers"):
            ckpt.pop(key, None)
        prefix, weights = _deployed_weights(ckpt["state_dict"], model, checkpoint)
        for name, w in weights.items():  # EMA tensors twice in the dict: torch.save writes them once
            ckpt["state_dict"][prefix + name] = w
    return _save_with_model(ckpt, model, output)


def _build_model(config: dict):
    """An eager model from a root model config (``_target_`` and its arguments)."""
    from hydra.utils import instantiate
    from nequip.utils.global_state import set_global_state
    from omegaconf import OmegaConf

    set_global_state()
    return instantiate(OmegaConf.create(config), _recursive_=False, _convert_="all")


def _deployed_weights(state: dict, config: dict, path) -> tuple[str, dict]:
    """The weights nequip deploys from a checkpoint's ``state_dict``: EMA ones when it has them.

    Returns the prefix of the model's parameters in ``state`` and
    ``{parameter name: tensor}`` in the order of the model built from ``config``
    (the order of nequip's ``ema.ema_weight_<i>`` buffers).
    """
    names = [n for n, _ in _build_model(config).named_parameters()]
    prefix = next((k[: -len(n)] for n in names for k in state
                   if k.endswith("." + n) and not k.startswith("ema.")), None)
    if prefix is None:
        raise ValueError(f"{path}: no parameter names in common with its model config")
    n_ema = sum(1 for k in state if k.startswith("ema.ema_weight_"))
    if n_ema not in (0, len(names)):
        raise ValueError(f"{path}: {n_ema} EMA weights for {len(names)} parameters")
    return prefix, {n: state[f"ema.ema_weight_{i}"] if n_ema else state[prefix + n]
                    for i, n in enumerate(names)}


def add_core_repulsion(checkpoint: str | os.PathLike, output: str | os.PathLike,
                       fractions: tuple[float, float] = (0.5, 0.75)) -> Path:
    """Copy a checkpoint with :class:`zifhelpers.repulsion.SwitchedZBL` added as its pair potential.

    The switched ZBL term has no parameters and is exactly zero beyond
    ``fractions[1]`` of each covalent-radii sum, so on every frame whose
    shortest distances lie beyond it the new model predicts what the old one
    did; below, it adds the ZBL wall. This lets a trained student gain the
    core repulsion (then be fine-tuned with ``TrainingSpec(init_from=output)``)
    without training from scratch. ``output`` is standalone.
    """
    import copy

    import torch

    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = copy.deepcopy(_root_model_config(ckpt, checkpoint))
    if model.get("pair_potential"):
        raise ValueError(f"{checkpoint}: the model already has a pair potential "
                         f"({model['pair_potential'].get('_target_')})")
    model["pair_potential"] = _core_repulsion_block(list(model["type_names"]), fractions)
    new_state = _build_model(model).state_dict()
    state = ckpt["state_dict"]
    match = next(((o, n) for n in new_state for o in state if o.endswith("." + n)), None)
    if match is None:
        raise ValueError(f"{checkpoint}: no parameter names in common with the rebuilt model")
    prefix = match[0][: -len(match[1])]
    missing = [n for n in new_state if prefix + n not in state]
    if any("pair_potential" not in n for n in missing):
        raise ValueError(f"{checkpoint}: rebuilt model differs beyond the pair potential: {missing}")
    for n in missing:
        state[prefix + n] = new_state[n]
    return _save_with_model(ckpt, model, output)


def _core_repulsion_block(chemical_species, fractions, written_as=None) -> dict:
    """Model-config ``pair_potential`` entry of :class:`zifhelpers.repulsion.SwitchedZBL`.

    Checks ``fractions`` and the symbols now (clear error before training);
    ``written_as`` replaces the species list in the config (e.g. a Hydra
    interpolation).
    """
    from .repulsion import switch_distances

    switch_distances(chemical_species, fractions)
    return {"_target_": "zifhelpers.repulsion.SwitchedZBL",
            "chemical_species": written_as if written_as is not None else list(chemical_species),
            "units": "metal", "fractions": [float(f) for f in fractions]}


def _save_with_model(ckpt: dict, model: dict, output) -> Path:
    """Write a loaded checkpoint to ``output`` with ``model`` as its model config."""
    import torch

    ckpt["hyper_parameters"]["model"] = model
    ckpt["hyper_parameters"]["info_dict"]["training_module"]["model"] = model
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, output)
    return output


def _root_model_config(ckpt: dict, path) -> dict:
    """Model config of a loaded checkpoint, following ``ModelFromCheckpoint`` to its root."""
    import torch

    model = ckpt["hyper_parameters"]["info_dict"]["training_module"]["model"]
    chain = [str(path)]
    while model.get("_target_") == "nequip.model.ModelFromCheckpoint":
        parent = str(model["checkpoint_path"])
        if parent in chain or not Path(parent).is_file():
            raise FileNotFoundError(f"{chain[-1]}: its parent checkpoint {parent} is "
                                    f"{'a cycle' if parent in chain else 'missing'}")
        chain.append(parent)
        model = torch.load(parent, map_location="cpu", weights_only=False)[
            "hyper_parameters"]["info_dict"]["training_module"]["model"]
    return model


def _checkpoint_model_config(checkpoint) -> dict:
    """The model block of a nequip 0.19 checkpoint's config (type names, r_max, ...)."""
    import torch

    return _root_model_config(torch.load(checkpoint, map_location="cpu", weights_only=False),
                              checkpoint)


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
        from .data import load_structure

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


def compile_model(
    checkpoint: str | os.PathLike, output: str | os.PathLike, mode: str = "aotinductor",
    device: str = "cpu", example_atoms=None, target: str = "ase",
    fused_tensor_product: bool = False,
) -> Path:
    """``nequip-compile`` a checkpoint or a package file (``.nequip.zip``).

    Runs nequip-compile through :mod:`zifhelpers.inductor`, which backports
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
    :class:`zifhelpers.legacy_nn.FusedTensorProductScatter`
    (:func:`zifhelpers.deepening.ResidualNequIPGNNModel`): the same weights and,
    to float32 round-off, the same outputs, about a fifth faster on a CPU for
    the 32-feature students.
    """
    output = Path(output)
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
        _fused_checkpoint(checkpoint, fused)
        checkpoint = fused
    # nequip-compile with a backported Inductor CPU fix (see zifhelpers.inductor)
    cmd = [sys.executable, "-m", "zifhelpers.inductor", str(checkpoint), str(output),
           "--mode", mode, "--device", device]
    if mode == "aotinductor":
        cmd += ["--target", target]
        model_config = ({} if str(checkpoint).endswith(".nequip.zip")
                        else _checkpoint_model_config(checkpoint))
        if model_config and (example_atoms is not None
                             or {"H", "C", "N", "Zn"} >= set(model_config["type_names"])):
            example = _example_data_file(model_config, output.with_suffix(".example.pt"),
                                         example_atoms)
            cmd += ["--data-path", str(example)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    output.with_suffix(".example.pt").unlink(missing_ok=True)
    if fused is not None:
        fused.unlink(missing_ok=True)
    if proc.returncode != 0 or not output.is_file():
        raise RuntimeError(f"nequip-compile failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return output


def _fused_checkpoint(checkpoint: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Copy of a NequIP checkpoint whose model is built with fused tensor products."""
    import copy

    import torch

    from .deepening import BUILDER

    if str(checkpoint).endswith(".nequip.zip"):
        raise ValueError(f"{checkpoint}: fused_tensor_product needs a checkpoint (.ckpt), "
                         "not a package file")
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = copy.deepcopy(_root_model_config(ckpt, checkpoint))
    if model.get("_target_") not in ("nequip.model.NequIPGNNModel", BUILDER):
        raise ValueError(f"{checkpoint}: fused_tensor_product needs a NequIP model "
                         f"(_target_ nequip.model.NequIPGNNModel or {BUILDER}), "
                         f"found {model.get('_target_')!r}")
    model["_target_"] = BUILDER
    model["fused_tensor_product"] = True
    return _save_with_model(ckpt, model, output)


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


def evaluate(calc, frames) -> dict[str, float]:
    """Errors of ``calc`` against labelled frames.

    Returns energy MAE (meV/atom), force MAE (meV/Å) and stress MAE (MPa),
    plus their RMSEs.
    """
    de, df, ds = [], [], []
    for frame in frames:
        ref = frame.calc.results
        work = frame.copy()
        work.calc = calc
        de.append((work.get_potential_energy() - ref["energy"]) / len(frame))
        df.append((work.get_forces() - ref["forces"]).ravel())
        if "stress" in ref:
            ds.append(work.get_stress(voigt=True) - ref["stress"])
    de, df = np.array(de) * 1000, np.concatenate(df) * 1000
    out = {"energy_mae_meV_atom": float(np.abs(de).mean()),
           "energy_rmse_meV_atom": float(np.sqrt((de**2).mean())),
           "force_mae_meV_A": float(np.abs(df).mean()),
           "force_rmse_meV_A": float(np.sqrt((df**2).mean()))}
    if ds:
        ds = np.concatenate(ds) * 160.21766208e3  # eV/A^3 -> MPa
        out["stress_mae_MPa"] = float(np.abs(ds).mean())
        out["stress_rmse_MPa"] = float(np.sqrt((ds**2).mean()))
    return out


#: Table 1 of Castel et al. (2024): errors against held-out AIMD and V100 cost
#: (kept in :mod:`zifhelpers.paper`).
PAPER_TABLE1 = TABLE1


def screen(variants: dict[str, dict], base: TrainingSpec, workdir: str | os.PathLike,
           test_frames, timing_atoms, progress: bool = True):
    """Train, compile, evaluate and time one model per variant (Table 1 style).

    ``variants`` maps a label (e.g. ``"l=2, r=5"``) to :class:`TrainingSpec`
    overrides (``{"l_max": 2, "r_max": 5.0}``; ``train_file`` to change the
    data, ``model="allegro"``). Each variant trains in ``workdir/<slug>``
    and resumes there; a compiled model already present is reused. Returns a
    DataFrame: energy (meV/atom), force (meV/Å), stress (MPa) MAE against
    ``test_frames`` and µs/atom/call on ``timing_atoms`` (this machine).
    """
    import dataclasses
    import re

    import pandas as pd
    from tqdm.auto import tqdm

    from .calculators import load_calculator, time_per_atom_call

    rows = {}
    for label, overrides in tqdm(variants.items(), desc="screen", disable=not progress):
        slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
        spec = dataclasses.replace(base, **overrides)
        folder = Path(workdir) / slug
        best = train(spec, folder)
        model = folder / f"{slug}.nequip.pt2"
        if not model.is_file():
            compile_model(best, model)
        calc = load_calculator(str(model), device="cpu")
        errors = evaluate(calc, test_frames)
        rows[label] = {"energy_mae_meV_atom": errors["energy_mae_meV_atom"],
                       "force_mae_meV_A": errors["force_mae_meV_A"],
                       "stress_mae_MPa": errors["stress_mae_MPa"],
                       "us_per_atom_call": time_per_atom_call(calc, timing_atoms),
                       "epochs": len(learning_curve(folder)), "model_path": str(model)}
    return pd.DataFrame(rows).T


def table1(ours, paper: dict | None = None):
    """Our screen beside the paper's Table 1 (columns: ours / paper per metric)."""
    import pandas as pd

    paper = PAPER_TABLE1 if paper is None else paper
    cols = ["energy_mae_meV_atom", "force_mae_meV_A", "stress_mae_MPa", "us_per_atom_call"]
    labels = list(dict.fromkeys(list(ours.index) + list(paper)))
    out = {}
    for col in cols:
        out[(col, "this work")] = [ours[col].get(k) if k in ours.index else None for k in labels]
        out[(col, "paper")] = [paper.get(k, {}).get(col) for k in labels]
    return pd.DataFrame(out, index=labels)


#: Students shipped in ``data/models`` (see its README), name -> file: the round-1
#: NequIP and Allegro students of the active-learning loop; ``nequip-zbl3``, the
#: 16-feature NequIP student with the core-repulsion wall after three distillation
#: rounds (the fastest that holds 10 ps at 1500 K); and ``nequip-w32m``, the
#: 32-feature, 4-layer student closest to the published model.
DEPLOYED = {"nequip": "student_nequip.ckpt", "allegro": "student_allegro.ckpt",
            "nequip-zbl3": "student_nequip_zbl3.ckpt",
            "nequip-w32m": "student_nequip_w32m.ckpt"}

#: Intermediate students of the distillation lineage, retired from ``data/models``
#: to keep the checkout lean (their benchmark files stay in ``benchmarks/results``).
#: Each is in the git history at its commit in :data:`RETIRED_AT`; restore the file into
#: ``data/models`` and :func:`deployed_model` accepts its name again.
RETIRED = {"nequip-distilled": "student_nequip_distilled.ckpt",
           "nequip-zbl": "student_nequip_zbl.ckpt", "nequip-zbl2": "student_nequip_zbl2.ckpt",
           "nequip-w32": "student_nequip_w32.ckpt", "nequip-w32b": "student_nequip_w32b.ckpt",
           "nequip-w32h": "student_nequip_w32h.ckpt", "nequip-w32d": "student_nequip_w32d.ckpt",
           "nequip-w32e": "student_nequip_w32e.ckpt", "nequip-w32g": "student_nequip_w32g.ckpt",
           "nequip-w32j": "student_nequip_w32j.ckpt", "nequip-w32k": "student_nequip_w32k.ckpt"}
#: Retired student name -> a commit whose ``data/models`` still holds its file.
RETIRED_AT = {name: "72ec5c9" for name in RETIRED} | {"nequip-w32k": "bb3d115"}


def deployed_model(name: str = "nequip", models_dir: str | os.PathLike | None = None,
                   device: str = "cpu") -> Path:
    """Compiled path of a student shipped in ``data/models`` (compiled once, cached).

    Checkpoints are committed (small, platform independent); the AOT Inductor
    file is built on first use into ``<cache>/students/`` (about a minute)
    and rebuilt when the checkpoint changes. NequIP students compiled for the
    CPU get fused tensor products (``compile_model(..., fused_tensor_product=True)``).
    Load it with ``load_calculator(deployed_model("nequip"))``.
    """
    import hashlib

    import torch

    from .data import cache_dir
    from .inductor import COMPILE_RECIPE

    if name not in DEPLOYED and name not in RETIRED:
        raise ValueError(f"no deployed student {name!r}; have {sorted(DEPLOYED)} "
                         f"(retired, in git history: {sorted(RETIRED)})")
    folder = Path(models_dir) if models_dir else Path(__file__).resolve().parents[1] / "data" / "models"
    ckpt = folder / (DEPLOYED.get(name) or RETIRED[name])
    if name in RETIRED and not ckpt.is_file():
        raise FileNotFoundError(
            f"{ckpt}: student {name!r} was retired from data/models to keep the repository "
            f"lean; restore it with `git show {RETIRED_AT[name]}:data/models/{ckpt.name} > "
            f"{ckpt}` (or use one of {sorted(DEPLOYED)})")
    if not ckpt.is_file():
        raise FileNotFoundError(f"{ckpt}: deployed {name} student not found (made by "
                                "notebooks/02_training.ipynb with deploy=True)")
    digest = hashlib.sha256(ckpt.read_bytes()).hexdigest()[:16]
    tag = torch.__version__.split("+")[0]
    # NequIP students on a CPU: fused tensor products (same outputs, about a fifth faster)
    from .deepening import BUILDER

    fused = device == "cpu" and _checkpoint_model_config(ckpt)["_target_"] in (
        "nequip.model.NequIPGNNModel", BUILDER)
    out = (Path(cache_dir()) / "students" / f"{ckpt.stem}-{digest}-{device}-torch{tag}-"
           f"{COMPILE_RECIPE}{'-fused' if fused else ''}.nequip.pt2")
    if not out.is_file():
        tmp = out.with_name(out.name.replace(".nequip.pt2", ".tmp.nequip.pt2"))
        compile_model(ckpt, tmp, device=device, fused_tensor_product=fused)
        os.replace(tmp, out)
    return out


#: What a fast CPU student has to reach (issue targets), against the published model.
STUDENT_TARGETS = {"speed-up over the published TorchScript model (×)": (">=", 50.0),
                   "force MAE, held-out liquid (meV/Å)": ("<=", 40.0),
                   "force MAE, held-out glass (meV/Å)": ("<=", 40.0),
                   "NVT at 1500 K without a broken linker (ps)": (">=", 10.0)}


def student_targets(benchmark: dict):
    """A student's benchmark (``benchmarks/bench_student.py`` JSON) against :data:`STUDENT_TARGETS`.

    Returns a DataFrame with the measured value, the target and whether it is
    met. A held-out group the benchmark did not have gives NaN (not met); the
    NVT target is met only by a run that finished with every linker intact.
    """
    import pandas as pd

    missing = [k for k in ("speedup_vs_published_legacy", "held_out_errors", "nvt_stability")
               if k not in benchmark]
    if missing:
        raise ValueError(f"not a benchmarks/bench_student.py result: no {', '.join(missing)} "
                         f"(found keys: {', '.join(sorted(benchmark)) or 'none'})")
    errors = benchmark["held_out_errors"]
    nvt = benchmark["nvt_stability"]
    measured = [benchmark["speedup_vs_published_legacy"],
                errors.get("liquid", {}).get("force_mae_meV_A", float("nan")),
                errors.get("glass", {}).get("force_mae_meV_A", float("nan")),
                nvt["reached_ps"]]
    rows = []
    for (name, (sense, target)), value in zip(STUDENT_TARGETS.items(), measured, strict=True):
        met = value >= target if sense == ">=" else value <= target
        rows.append({"quantity": name, "this work": value, "target": f"{sense} {target:g}",
                     "met": bool(met)})
    rows[-1]["met"] = bool(rows[-1]["met"] and nvt["finished"]
                           and nvt["broken_linkers_at_end"] == 0)
    return pd.DataFrame(rows).set_index("quantity")
