"""Invoke entry point for this repository: `invoke --list` shows every moorage task."""

from moorage.cli import ns  # noqa: F401
