"""The interruption matrix (see interruptkit.py), cut by dropping the controller's SSH connection (the
server-side sshd session killed by PID): a deploy and a restore interrupted at each of their steps
are finished by the same command run again."""

from __future__ import annotations

import pytest

from .interruptkit import MODES, deploy_matrix, deploy_steps, restore_matrix, restore_steps, site

__all__ = ["deploy_steps", "restore_steps", "site"]  # the module's fixtures
pytestmark = pytest.mark.long  # ~8 min
MODE = MODES[1]  # SSH connection dropped


def test_a_deploy_interrupted_at_any_step_is_finished_by_the_same_command(site, deploy_steps):
    deploy_matrix(site, deploy_steps, MODE)


def test_a_restore_interrupted_at_any_step_ends_with_the_app_up(site, restore_steps):
    restore_matrix(site, restore_steps, MODE)
