"""What a training run is: :class:`TrainingSpec` and the nequip 0.19 config it writes.

:class:`TrainingSpec` holds the hyper-parameters the paper screened (l_max,
r_max, parity, layers, features, loss weights) and everything else a run
needs; :func:`write_config` turns it into a nequip 0.19 (Hydra) config that
runs on this project's machines (CPU accelerator unless a GPU is visible, CSV
logger, no worker processes, no ``torch.compile``). Running it is
:mod:`zifhelpers.training.run`, scoring it :mod:`zifhelpers.training.scoring`.

References: S. Batzner et al., Nat. Commun. 13, 2453 (2022) (NequIP);
A. Musaelian et al., Nat. Commun. 14, 579 (2023) (Allegro).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["TrainingSpec", "write_config"]


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
    ``core_repulsion``: add :class:`zifhelpers.potentials.repulsion.SwitchedZBL` as the
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

    def __post_init__(self):
        problems = []
        positive_int = ("num_layers", "num_features", "radial_mlp_depth", "radial_mlp_width",
                        "num_bessels", "max_epochs", "batch_size")
        for name in positive_int:
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                problems.append(f"{name} must be a whole number >= 1, got {value!r}")
        if not isinstance(self.l_max, (int, np.integer)) or self.l_max < 0:
            problems.append(f"l_max must be a whole number >= 0, got {self.l_max!r}")
        for name in ("r_max", "learning_rate", "huber_delta_eV_A"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                problems.append(f"{name} must be a finite number > 0, got {value!r}")
        weights = (self.energy_weight, self.forces_weight, self.stress_weight)
        if any(not np.isfinite(w) or w < 0 for w in weights) or not any(weights):
            problems.append(f"loss weights (energy, forces, stress) must be >= 0 and not all "
                            f"zero, got {weights}")
        choices = {"model": ("nequip", "allegro"), "forces_loss": ("mse", "huber"),
                   "lr_schedule": ("plateau", "cosine"), "model_dtype": ("float32", "float64")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                options = " or ".join(repr(a) for a in allowed)
                problems.append(f"{name} must be {options}, got {getattr(self, name)!r}")
        inner, outer = self.core_repulsion_fractions
        if not 0 < inner < outer:
            problems.append(f"core_repulsion_fractions must be 0 < inner < outer, got "
                            f"{self.core_repulsion_fractions}")
        if not self.chemical_symbols:
            problems.append("chemical_symbols is empty")
        if problems:
            raise ValueError("TrainingSpec: " + "; ".join(problems))

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
    path.write_text("# written by zifhelpers.training.spec.write_config\n"
                    + yaml.safe_dump(config, sort_keys=False))
    return path


def _core_repulsion_block(chemical_species, fractions, written_as=None) -> dict:
    """Model-config ``pair_potential`` entry of :class:`zifhelpers.potentials.repulsion.SwitchedZBL`.

    Checks ``fractions`` and the symbols now (clear error before training);
    ``written_as`` replaces the species list in the config (e.g. a Hydra
    interpolation).
    """
    from ..potentials.repulsion import switch_distances

    switch_distances(chemical_species, fractions)
    return {"_target_": "zifhelpers.potentials.repulsion.SwitchedZBL",
            "chemical_species": written_as if written_as is not None else list(chemical_species),
            "units": "metal", "fractions": [float(f) for f in fractions]}
