"""Edit trained checkpoints without retraining: make one standalone, add the core
repulsion, insert a residual layer.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

from ..potentials.checkpoints import (
    build_model,
    deployed_weights,
    load_checkpoint,
    root_model_config,
    save_with_model,
)
from ..potentials.students import BUILDER, LEGACY_BUILDERS
from .spec import _core_repulsion_block

__all__ = ["standalone_checkpoint", "add_core_repulsion", "insert_residual_layer"]


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

    ckpt = load_checkpoint(checkpoint)
    model = root_model_config(ckpt, checkpoint)
    if slim:
        for key in ("optimizer_states", "lr_schedulers"):
            ckpt.pop(key, None)
        prefix, weights = deployed_weights(ckpt["state_dict"], model, checkpoint)
        for name, w in weights.items():  # EMA tensors twice in the dict: torch.save writes them once
            ckpt["state_dict"][prefix + name] = w
    return save_with_model(ckpt, model, output)


def add_core_repulsion(checkpoint: str | os.PathLike, output: str | os.PathLike,
                       fractions: tuple[float, float] = (0.5, 0.75)) -> Path:
    """Copy a checkpoint with :class:`zifhelpers.potentials.repulsion.SwitchedZBL` added as its pair potential.

    The switched ZBL term has no parameters and is exactly zero beyond
    ``fractions[1]`` of each covalent-radii sum, so on every frame whose
    shortest distances lie beyond it the new model predicts what the old one
    did; below, it adds the ZBL wall. This lets a trained student gain the
    core repulsion (then be fine-tuned with ``TrainingSpec(init_from=output)``)
    without training from scratch. ``output`` is standalone.
    """
    import copy


    ckpt = load_checkpoint(checkpoint)
    model = copy.deepcopy(root_model_config(ckpt, checkpoint))
    if model.get("pair_potential"):
        raise ValueError(f"{checkpoint}: the model already has a pair potential "
                         f"({model['pair_potential'].get('_target_')})")
    model["pair_potential"] = _core_repulsion_block(list(model["type_names"]), fractions)
    new_state = build_model(model).state_dict()
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
    return save_with_model(ckpt, model, output)


_LAYER = re.compile(r"(^|\.)layer(\d+)_convnet\.")


# the weights that make a convolution layer's output: zero them and the layer adds nothing
_OUTPUT_WEIGHTS = ("conv.linear_2.weight", "conv.linear_2.bias", "conv.sc.weight")


def _shifted(name: str, after_layer: int) -> tuple[str | None, bool]:
    """Parent parameter name of a deepened model's parameter, and whether it is new."""
    m = _LAYER.search(name)
    if m is None:
        return name, False
    j = int(m.group(2))
    if j == after_layer + 1:
        return None, True
    old = j if j <= after_layer else j - 1
    return name[: m.start(2)] + str(old) + name[m.end(2):], False


def insert_residual_layer(checkpoint: str | os.PathLike, output: str | os.PathLike,
                          after_layer: int = 1, seed: int | None = None) -> Path:
    """Copy a NequIP checkpoint with a zero-initialised residual layer inserted after ``after_layer``.

    Parameters
    ----------
    checkpoint
        A nequip 0.19 training checkpoint of a ``NequIPGNNModel`` (or of a
        model this function deepened before; a fine-tune is followed to its
        root config). Its EMA weights, when present, are the ones copied (they
        are what nequip deploys).
    output
        The new checkpoint: standalone, with model ``_target_`` :data:`BUILDER`,
        ``num_layers`` one more, and no optimizer state (the shapes changed);
        fine-tune it with ``TrainingSpec(init_from=output)``.
    after_layer
        The new layer goes after this one (0-based); it must lie before the last
        layer, which outputs scalars.
    seed
        Seed of the new layer's other weights (default: the model's seed + 1).

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    ValueError
        For an architecture other than NequIP, a position outside
        ``0 .. num_layers - 2``, or weights that do not fit the rebuilt model.
    """
    import torch

    from ..potentials.checkpoints import (
        build_model,
        deployed_weights,
        root_model_config,
        save_with_model,
    )

    ckpt = load_checkpoint(checkpoint)
    root = copy.deepcopy(root_model_config(ckpt, checkpoint))
    if root.get("_target_") not in ("nequip.model.NequIPGNNModel", BUILDER, *LEGACY_BUILDERS):
        raise ValueError(f"{checkpoint}: model _target_ {root.get('_target_')!r}; expected "
                         f"nequip.model.NequIPGNNModel or {BUILDER}")
    num_layers = int(root.get("num_layers", 4))
    if not 0 <= after_layer <= num_layers - 2:
        raise ValueError(f"after_layer={after_layer}: expected 0..{num_layers - 2} for a "
                         f"{num_layers}-layer model (the last layer outputs scalars only)")

    state = ckpt["state_dict"]
    prefix, old = deployed_weights(state, root, checkpoint)
    has_ema = any(k.startswith("ema.ema_weight_") for k in state)

    new_cfg = copy.deepcopy(root)
    new_cfg["_target_"] = BUILDER
    new_cfg["num_layers"] = num_layers + 1
    kept = [int(i) + (1 if int(i) > after_layer else 0) for i in root.get("residual_layers", [])]
    new_cfg["residual_layers"] = sorted(kept + [after_layer + 1])
    new_cfg["seed"] = int(root.get("seed", 0)) + 1 if seed is None else int(seed)
    new_model = build_model(new_cfg)

    params = []
    with torch.no_grad():
        for name, p in new_model.named_parameters():
            src, fresh = _shifted(name, after_layer)
            if fresh:
                if name.split("_convnet.", 1)[1] in _OUTPUT_WEIGHTS:
                    p.zero_()
            else:
                if src not in old or old[src].shape != p.shape:
                    raise ValueError(f"{checkpoint}: no weight {src} of shape {tuple(p.shape)} "
                                     f"for {name} of the deepened model")
                p.copy_(old[src])
            params.append(p.detach().clone())

    out_state = {k: v for k, v in state.items()
                 if not k.startswith(prefix) and not k.startswith("ema.ema_weight_")}
    out_state.update({prefix + k: v for k, v in new_model.state_dict().items()})
    if has_ema:
        out_state.update({f"ema.ema_weight_{i}": p for i, p in enumerate(params)})
    ckpt["state_dict"] = out_state
    for key in ("optimizer_states", "lr_schedulers"):
        ckpt.pop(key, None)
    return save_with_model(ckpt, new_cfg, output)
