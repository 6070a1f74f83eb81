"""Read, rebuild and write nequip 0.19 checkpoints (``.ckpt``).

A fine-tuned checkpoint stores ``ModelFromCheckpoint(checkpoint_path=parent)``
as its model; :func:`root_model_config` follows that chain to the model config
that builds the weights. Used by compiling (:mod:`zifhelpers.potentials.compile`)
and by the checkpoint edits of :mod:`zifhelpers.training.surgery`.
"""

from __future__ import annotations

import os
from pathlib import Path

from .students import BUILDER, LEGACY_BUILDERS

__all__ = ["load_checkpoint", "root_model_config", "checkpoint_model_config", "build_model", "deployed_weights",
           "save_with_model", "fused_checkpoint"]


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A nequip checkpoint (``.ckpt``) as a dict, or an error naming the file.

    A missing file stays a :class:`FileNotFoundError`; a file that is not a
    PyTorch checkpoint (empty, truncated, text, a package) or one without
    nequip's ``hyper_parameters`` is a :class:`ValueError` saying so.
    """
    import pickle
    import zipfile

    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (pickle.UnpicklingError, EOFError, RuntimeError, zipfile.BadZipFile, ValueError) as err:
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else 'no detail'})") from None
    if not isinstance(ckpt, dict) or "hyper_parameters" not in ckpt:
        raise ValueError(f"{path}: a PyTorch file but not a nequip checkpoint "
                         "(no 'hyper_parameters')")
    return ckpt


def build_model(config: dict):
    """An eager model from a root model config (``_target_`` and its arguments)."""
    from hydra.utils import instantiate
    from nequip.utils.global_state import set_global_state
    from omegaconf import OmegaConf

    set_global_state()
    return instantiate(OmegaConf.create(config), _recursive_=False, _convert_="all")


def deployed_weights(state: dict, config: dict, path) -> tuple[str, dict]:
    """The weights nequip deploys from a checkpoint's ``state_dict``: EMA ones when it has them.

    Returns the prefix of the model's parameters in ``state`` and
    ``{parameter name: tensor}`` in the order of the model built from ``config``
    (the order of nequip's ``ema.ema_weight_<i>`` buffers).
    """
    names = [n for n, _ in build_model(config).named_parameters()]
    prefix = next((k[: -len(n)] for n in names for k in state
                   if k.endswith("." + n) and not k.startswith("ema.")), None)
    if prefix is None:
        raise ValueError(f"{path}: no parameter names in common with its model config")
    n_ema = sum(1 for k in state if k.startswith("ema.ema_weight_"))
    if n_ema not in (0, len(names)):
        raise ValueError(f"{path}: {n_ema} EMA weights for {len(names)} parameters")
    return prefix, {n: state[f"ema.ema_weight_{i}"] if n_ema else state[prefix + n]
                    for i, n in enumerate(names)}


def save_with_model(ckpt: dict, model: dict, output) -> Path:
    """Write a loaded checkpoint to ``output`` with ``model`` as its model config."""
    import torch

    ckpt["hyper_parameters"]["model"] = model
    ckpt["hyper_parameters"]["info_dict"]["training_module"]["model"] = model
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, output)
    return output


def root_model_config(ckpt: dict, path) -> dict:
    """Model config of a loaded checkpoint, following ``ModelFromCheckpoint`` to its root."""

    model = ckpt["hyper_parameters"]["info_dict"]["training_module"]["model"]
    chain = [str(path)]
    while model.get("_target_") == "nequip.model.ModelFromCheckpoint":
        parent = str(model["checkpoint_path"])
        if parent in chain or not Path(parent).is_file():
            raise FileNotFoundError(f"{chain[-1]}: its parent checkpoint {parent} is "
                                    f"{'a cycle' if parent in chain else 'missing'}")
        chain.append(parent)
        model = load_checkpoint(parent)[
            "hyper_parameters"]["info_dict"]["training_module"]["model"]
    return model


def checkpoint_model_config(checkpoint) -> dict:
    """The model block of a nequip 0.19 checkpoint's config (type names, r_max, ...)."""
    return root_model_config(load_checkpoint(checkpoint), checkpoint)


def fused_checkpoint(checkpoint: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Copy of a NequIP checkpoint whose model is built with fused tensor products."""
    import copy


    if str(checkpoint).endswith(".nequip.zip"):
        raise ValueError(f"{checkpoint}: fused_tensor_product needs a checkpoint (.ckpt), "
                         "not a package file")
    ckpt = load_checkpoint(checkpoint)
    model = copy.deepcopy(root_model_config(ckpt, checkpoint))
    if model.get("_target_") not in ("nequip.model.NequIPGNNModel", BUILDER, *LEGACY_BUILDERS):
        raise ValueError(f"{checkpoint}: fused_tensor_product needs a NequIP model "
                         f"(_target_ nequip.model.NequIPGNNModel or {BUILDER}), "
                         f"found {model.get('_target_')!r}")
    model["_target_"] = BUILDER
    model["fused_tensor_product"] = True
    return save_with_model(ckpt, model, output)
