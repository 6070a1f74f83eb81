"""Training NequIP/Allegro students against the reference.

``spec``        :class:`~zifhelpers.training.spec.TrainingSpec` and its nequip 0.19 config
``run``         ``nequip-train`` in a resumable folder; learning curves
``surgery``     checkpoint edits: standalone copies, core repulsion, an inserted residual layer
``scoring``     errors against labelled frames, the Table 1 screen, the students' targets
``active``      the active-learning loop
``sampling``    choosing frames for training (flat histogram, farthest point)
"""

from .run import learning_curve, train
from .scoring import (
           PAPER_TABLE1,
           STUDENT_TARGETS,
           evaluate,
           screen,
           student_targets,
           table1,
)
from .spec import TrainingSpec, write_config
from .surgery import add_core_repulsion, insert_residual_layer, standalone_checkpoint

__all__ = ["TrainingSpec", "write_config", "train", "learning_curve", "standalone_checkpoint",
           "add_core_repulsion", "insert_residual_layer", "evaluate", "screen", "table1",
           "PAPER_TABLE1", "STUDENT_TARGETS", "student_targets"]
