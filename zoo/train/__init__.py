"""Training one Job: the loop, its state in checkpoints, evaluation and logs."""

from zoo.train.loop import RunResult, train

__all__ = ["RunResult", "train"]
