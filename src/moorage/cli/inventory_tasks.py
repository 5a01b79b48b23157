"""The ``check``, ``inventory``, ``roles`` and ``playbooks`` tasks: is the input valid, and what will a host get."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from moorage.cli.flags import (
    HOST_HELP,
    INVENTORY_HELP,
    PROJECT_HELP,
    SET_HELP,
    exit_with,
    project_from_flags,
    reports_errors,
    request,
    required_host,
)


@task(auto_shortflags=False, help={
    "inventory": INVENTORY_HELP,
    "project": PROJECT_HELP,
    "host": "Also resolve this target's variables (so missing secrets show): " + HOST_HELP,
})
@reports_errors
def check(c: Context, inventory: str = "", project: str = "", host: str = "") -> None:
    """Validate the inventory, every playbook and every role; exit 2 naming file:line on problems."""
    from moorage.recipes import check as check_recipe

    exit_with(check_recipe.check(project_from_flags(project, inventory), host))


@task(auto_shortflags=False, iterable=["set_"], help={
    "host": HOST_HELP + " Required.",
    "inventory": INVENTORY_HELP,
    "project": PROJECT_HELP,
    "set_": SET_HELP,
    "json_": "Print one JSON object per host instead of a table.",
})
@reports_errors
def inventory(c: Context, host: str = "", inventory: str = "", project: str = "", set_: list[str] | None = None,
              json_: bool = False) -> None:
    """Show a host's resolved variables, secrets masked, with the level and file:line of each."""
    from moorage.recipes import inspect

    asked = request(required_host(host, "name a host, an environment or all (e.g. --host vps)"), project,
                    inventory, set_)
    exit_with(inspect.show_inventory(asked, json_=json_))


@task(auto_shortflags=False, help={"inventory": INVENTORY_HELP, "project": PROJECT_HELP})
@reports_errors
def roles(c: Context, inventory: str = "", project: str = "") -> None:
    """List the roles a playbook can use and where each comes from (the project's, or built in)."""
    from moorage.recipes import inspect

    exit_with(inspect.list_roles(project_from_flags(project, inventory)))


@task(auto_shortflags=False, help={"inventory": INVENTORY_HELP, "project": PROJECT_HELP})
@reports_errors
def playbooks(c: Context, inventory: str = "", project: str = "") -> None:
    """List the playbooks `play NAME` can run and where each comes from (the project's, or built in)."""
    from moorage.recipes import inspect

    exit_with(inspect.list_playbooks(project_from_flags(project, inventory)))
