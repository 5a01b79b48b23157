"""``moorage init``: a first moorage project for an existing compose app.

``init_project`` reads the compose file with ``docker compose`` (``compose``), proposes the
web service, databases, images, health URL, ``.env`` and preflight (``services``,
``envvars``: pure), and writes ``inventory/hosts.yml`` and ``inventory/group_vars/all.yml``
(``render``).  It never overwrites a file: when one exists, nothing is written.

The package itself holds only the names the CLI's help shows, so ``moorage --help`` doesn't
import the scaffold (``project`` has ``init_project``).
"""

DEFAULT_ENVIRONMENTS = ("staging", "production")
# compose's default file names, in its order of preference
# (https://docs.docker.com/compose/intro/compose-application-model/#the-compose-file)
COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
PLACEHOLDER = "CHANGE-ME"  # what `init` writes where only the user knows the value
