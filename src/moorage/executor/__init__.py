"""The executor: plays -> hosts -> tasks; plan against facts, batch, apply, handlers."""

from moorage.executor.options import RunOptions
from moorage.executor.results import RunResult, TaskRecord
from moorage.executor.runner import Runner, batches

__all__ = ["RunOptions", "RunResult", "Runner", "TaskRecord", "batches"]
