"""The training loop (d2l's helpers) and runs: config, checkpoints, resume."""

from .loop import (  # noqa: F401
    Accumulator, Diverged, accuracy, evaluate_accuracy, predict, train, train_epoch,
)
