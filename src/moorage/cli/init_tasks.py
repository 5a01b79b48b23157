"""``init``: write a first moorage project (an inventory) for an existing compose app."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from moorage.cli.flags import reports_errors
from moorage.scaffold import COMPOSE_NAMES, DEFAULT_ENVIRONMENTS, PLACEHOLDER


@task(auto_shortflags=False, iterable=["env"], help={
    "from_": f"The app's compose file (default: the first of {', '.join(COMPOSE_NAMES)} in --dir).",
    "env": f"An environment to create; repeatable (default: {' and '.join(DEFAULT_ENVIRONMENTS)}). One named "
           "production or prod is marked production.",
    "dir_": "The project directory to write inventory/ in (default: the current directory).",
    "name": "The project name (default: the compose file's name:, else the directory's name).",
})
@reports_errors
def init(c: Context, from_: str = "", env: list[str] | None = None, dir_: str = ".", name: str = "") -> None:
    """Write inventory/ for an existing compose app: environments, images, databases, .env, preflight."""
    from moorage.scaffold.project import init_project
    from moorage.yamlsrc import display_path

    scaffold, written = init_project(dir_, from_, env or [], name)
    for path in written:
        print(f"wrote {display_path(path)}")
    plan = scaffold.services
    print(f"web service: {plan.web or 'none found'}; databases: {', '.join(plan.databases) or 'none'}; "
          f"images: {plan.image_source}"
          f"{', built ones shipped' if any(isinstance(i, dict) for i in plan.images) else ''}")
    print(f"next: replace the placeholders (203.0.113.x addresses, example.com domains, {PLACEHOLDER}) "
          "and run `moorage check`")
