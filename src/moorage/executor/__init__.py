"""The executor: plays -> hosts -> tasks; plan against facts, batch, apply, handlers."""

from moorage.executor.options import RunOptions
from moorage.executor.runner import Runner, RunResult, batches

__all__ = ["RunOptions", "RunResult", "Runner", "batches"]
