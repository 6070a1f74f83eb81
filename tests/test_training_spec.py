"""TrainingSpec refuses bad hyper-parameters before nequip sees them (fast, no training)."""

from __future__ import annotations

import pytest

from zifhelpers import training


@pytest.mark.parametrize("field, value, message", [
    ("r_max", -5.0, "r_max must be a finite number > 0"),
    ("batch_size", 0, "batch_size must be a whole number >= 1"),
    ("learning_rate", -0.01, "learning_rate must be a finite number > 0"),
    ("max_epochs", 0, "max_epochs must be"),
    ("l_max", -1, "l_max must be"),
    ("num_features", 2.5, "num_features must be a whole number"),
    ("forces_weight", float("nan"), "loss weights"),
    ("model", "mace", "model must be 'nequip' or 'allegro', got 'mace'"),
    ("lr_schedule", "step", "lr_schedule must be 'plateau' or 'cosine', got 'step'"),
    ("core_repulsion_fractions", (0.8, 0.5), "0 < inner < outer"),
])
def test_a_training_spec_refuses_what_nequip_would_fail_on_later(field, value, message):
    with pytest.raises(ValueError, match=message):
        training.TrainingSpec("train.extxyz", "val.extxyz", **{field: value})
    with pytest.raises(ValueError, match="not all zero"):
        training.TrainingSpec("t", "v", energy_weight=0, forces_weight=0, stress_weight=0)
