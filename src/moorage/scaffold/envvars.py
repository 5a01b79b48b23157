"""The app's ``.env`` (``app_env``) and the production preflight mapping, from a compose app's
variables.

Every variable the compose file interpolates (``${VAR}``), and every ``environment:`` key
written without a value (compose takes it from the environment, .env included), becomes an
``app_env`` entry:

- a name that looks like a password, secret, key or token (``SECRET_NAME``) gets a secret
  generated once on the server: ``{generate: 32}`` for passwords, ``{generate: 50}`` else;
- a hosts/origins list gets the environment's ``{{ domain }}`` (what the preflight checks);
- any other keeps the compose file's default, or a visible placeholder when it has none.

``preflight`` maps the generic checks of CONTRACT (debug_off, secret_strong, allowed_hosts,
csrf_https, tls_on, db_port_closed, env_untracked) to these names, or to ``false`` with the
reason when no name fits.  Pure functions; the ``why`` texts become comments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moorage.scaffold import PLACEHOLDER
from moorage.scaffold.compose import ComposeApp, Variable

SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|KEY|TOKEN|SALT", re.IGNORECASE)
PASSWORD_NAME = re.compile(r"PASSWORD|PASSWD", re.IGNORECASE)
PASSWORD_LENGTH = 32
SECRET_LENGTH = 50
# Set by the compose_app role itself.
_ROLE_SET = ("COMPOSE_PROJECT_NAME",)
_HOSTS_LIST = re.compile(r"ALLOWED_HOST", re.IGNORECASE)
_ORIGINS = re.compile(r"CSRF.*ORIGIN|TRUSTED_ORIGIN", re.IGNORECASE)
_DEBUG = re.compile(r"(^|_)DEBUG($|_)", re.IGNORECASE)
_TLS = re.compile(r"(^|_)(SSL|TLS|HTTPS)($|_)", re.IGNORECASE)
_TLS_FILE = re.compile(r"CERT|KEY|FILE|PATH|DIR", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One proposed value (``app_env`` entry or preflight check) and the reason for it."""

    name: str
    value: Any
    why: str


def env_entries(app: ComposeApp, image_vars: Mapping[str, str] | None = None) -> list[Entry]:
    """The proposed ``app_env``, in name order; ``image_vars`` (``APP_IMAGE`` -> its default) are
    the variables that name a whole image: their entry refers to the inventory variable holding it."""
    names = dict(app.variables)
    for key in _passthrough_keys(app):
        names.setdefault(key, Variable(key))
    source = app.path.name
    images = image_vars or {}
    return [Entry(name, "{{ " + name.lower() + " }}", f"the image: set by {name.lower()} (above)") if name in images
            else _entry(names[name], source) for name in sorted(names) if name not in _ROLE_SET]


def preflight(entries: list[Entry], db_ports: list[str]) -> list[Entry]:
    """The preflight mapping for ``entries`` (the proposed app_env); ``db_ports`` are the
    database ports the compose file publishes ("db: 5432:5432")."""
    generated = [e.name for e in entries if isinstance(e.value, Mapping) and not PASSWORD_NAME.search(e.name)]
    secret = sorted(generated, key=lambda n: ("SECRET_KEY" not in n.upper(), "SECRET" not in n.upper(), n))
    plain = [e.name for e in entries if not isinstance(e.value, Mapping)]
    tls = [n for n in plain if _TLS.search(n) and not _TLS_FILE.search(n)]
    checks = [
        _mapped("debug_off", [n for n in plain if _DEBUG.search(n)], "a DEBUG variable"),
        _mapped("secret_strong", secret, "a generated secret key"),
        _mapped("allowed_hosts", [n for n in plain if _HOSTS_LIST.search(n)], "an allowed-hosts list"),
        _mapped("csrf_https", [n for n in plain if _ORIGINS.search(n)], "a list of trusted origins"),
        _mapped("tls_on", tls, "a TLS switch (when moorage's Traefik terminates TLS: {var: tls})"),
    ]
    if db_ports:
        why = (f"no database port published in the compose files; WARNING: {'; '.join(db_ports)} is published, "
               "so a production deploy stops here until it isn't")
    else:
        why = "no database port published in the compose files (none is)"
    checks.append(Entry("db_port_closed", True, why))
    checks.append(Entry("env_untracked", True, "no .env tracked by git in the project"))
    return checks


def _mapped(check: str, names: list[str], looked_for: str) -> Entry:
    if names:
        return Entry(check, {"env": names[0]}, f"app_env's {names[0]}")
    return Entry(check, False, f"disabled: no variable of the compose file looks like {looked_for}")


def _entry(variable: Variable, source: str) -> Entry:
    name = variable.name
    if SECRET_NAME.search(name):
        size = PASSWORD_LENGTH if PASSWORD_NAME.search(name) else SECRET_LENGTH
        kind = "a password" if size == PASSWORD_LENGTH else "a secret"
        return Entry(name, {"generate": size}, f"looks like {kind}: generated on the server once, kept")
    default = f"{source}'s default is {variable.default!r}; " if variable.default else ""
    if _HOSTS_LIST.search(name):
        return Entry(name, "{{ domain }}", f"{default}the environment's domain (the preflight checks it is here)")
    if _ORIGINS.search(name):
        return Entry(name, "https://{{ domain }}", f"{default}the environment's domain over HTTPS "
                     "(the preflight checks it is here)")
    if variable.default:
        return Entry(name, variable.default, f"{source}'s default")
    required = "required by" if variable.required else "no default in"
    return Entry(name, PLACEHOLDER, f"placeholder: {required} {source}, set it")


def _passthrough_keys(app: ComposeApp) -> list[str]:
    """``environment:`` keys written without a value (``- NAME`` or ``NAME:``)."""
    keys = []
    for service in app.services.values():
        environment = service.get("environment") or {}
        if isinstance(environment, Mapping):
            keys += [k for k, v in environment.items() if v is None]
        else:
            keys += [str(item) for item in environment if "=" not in str(item)]
    return keys
