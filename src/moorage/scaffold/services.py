"""What a compose app's services say about deploying it: which one serves the web, which
are PostgreSQL databases, who uses them, which images they run, where health is checked.

Pure functions of a ``ComposeApp`` (no docker, no files): ``propose_services`` returns a
``ServicePlan`` whose ``why`` texts become the comments of the written inventory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moorage.scaffold.compose import ComposeApp

# Images whose repository is PostgreSQL or a PostgreSQL distribution (pg_dump works in them).
_POSTGRES_REPO = re.compile(r"(^|/)(postgres|postgis|timescaledb[\w-]*)(:|@|$)")
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_PROXY_LABEL = re.compile(r"^(traefik\.|caddy)")
_TRAEFIK_HOST = re.compile(r"Host\(`([^`]+)`\)")
_URL_PATH = re.compile(r"https?://[^/\s\"']+(/[^\s\"']*)")
_HEALTH_ARG = re.compile(r"^/[\w./-]*health[\w./-]*$", re.IGNORECASE)

_WHOLE_VARIABLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}$")

@dataclass(frozen=True)
class Port:
    """A published port: ``host_ip`` ("" = every interface), ``published`` on the host, ``target``."""

    host_ip: str
    published: str
    target: str

    @property
    def public(self) -> bool:
        return bool(self.published) and self.host_ip not in _LOOPBACK


@dataclass
class ServicePlan:
    """The proposals about services, each with the reason written beside it."""

    web: str = ""
    web_why: str = ""
    databases: list[str] = field(default_factory=list)
    restore_stop: list[str] = field(default_factory=list)
    images: list[str | dict[str, str]] = field(default_factory=list)   # a ref, or {ref, source: ship}
    image_source: str = "pull"
    images_why: list[str] = field(default_factory=list)
    image_commands: list[str] = field(default_factory=list)   # to run on this machine before a deploy
    health_url: str = ""
    health_why: str = ""
    domain: str = ""                     # from a Traefik Host(`...`) rule; "" when none
    db_ports: list[str] = field(default_factory=list)   # "db: 127.0.0.1:5432" for each published one
    reads_dotenv: list[str] = field(default_factory=list)  # services with env_file: .env
    # named volumes mounted by a service that is not a database (uploads, media): service -> volumes
    media_volumes: dict[str, list[str]] = field(default_factory=dict)
    # ${VAR} that is a whole image reference (image: ${APP_IMAGE:-app:1.0}) -> its default: one
    # variable (app_image) then feeds both the .env and app_images, so a new version is one --set
    image_vars: dict[str, str] = field(default_factory=dict)


def propose_services(app: ComposeApp, project: str, compose_ref: str = "") -> ServicePlan:
    """Everything ``init`` proposes about ``app``'s services for the compose project ``project``;
    ``compose_ref`` is the compose file as the user names it (default: its file name)."""
    plan = ServicePlan()
    plan.databases = [name for name, svc in app.services.items() if is_postgres(app, svc)]
    plan.restore_stop = [name for name, svc in app.services.items()
                         if name not in plan.databases and _uses_any(app, svc, plan.databases)]
    plan.db_ports = [f"{name}: {_show(port)}" for name in plan.databases
                     for port in published_ports(app, app.services[name]) if port.published]
    plan.reads_dotenv = [name for name, svc in app.services.items() if _reads_dotenv(svc)]
    plan.media_volumes = {name: vols for name, svc in app.services.items()
                          if name not in plan.databases and (vols := named_volumes(svc))}
    plan.web, plan.web_why = choose_web(app, plan.databases)
    plan.domain = _traefik_domain(app, app.services.get(plan.web, {}))
    plan.health_url, plan.health_why = health_url(app, plan.web)
    _propose_images(app, project, compose_ref or app.path.name, plan)
    return plan


def is_postgres(app: ComposeApp, service: Mapping[str, Any]) -> bool:
    """Whether the service runs a PostgreSQL image (by its repository name)."""
    return bool(_POSTGRES_REPO.search(app.interpolate(str(service.get("image") or "")).lower()))


def published_ports(app: ComposeApp, service: Mapping[str, Any]) -> list[Port]:
    """The service's ports, long syntax (compose's normal form) or short ``[IP:]HOST:TARGET``
    (left as written when it holds a variable, which init reads with the variable's default)."""
    ports = []
    for entry in service.get("ports") or []:
        if isinstance(entry, Mapping):
            ports.append(Port(str(entry.get("host_ip") or ""), app.interpolate(str(entry.get("published") or "")),
                              str(entry.get("target") or "")))
            continue
        parts = app.interpolate(str(entry)).split("/")[0].rsplit(":", 2)
        ip, published, target = ["", "", *parts][-3:] if len(parts) > 1 else ["", "", parts[0]]
        ports.append(Port(ip, published, target))
    return ports


def choose_web(app: ComposeApp, databases: list[str]) -> tuple[str, str]:
    """The service the world reaches (a public port or proxy labels), and why; a healthcheck
    breaks a tie.  ``("", why)`` when no service is reachable."""
    candidates = []
    for name, svc in app.services.items():
        public = [p for p in published_ports(app, svc) if p.public]
        labels = _proxy_labels(svc)
        if name in databases or not (public or labels):
            continue
        candidates.append((not _has_healthcheck(svc), not labels, name, public, labels))
    if not candidates:
        return "", "no service publishes a port or carries proxy labels"
    _, _, name, public, labels = sorted(candidates)[0]
    reasons = [f"publishes {', '.join(_show(p) for p in public)}"] if public else []
    reasons += ["carries proxy labels"] if labels else []
    reasons += ["has a healthcheck"] if _has_healthcheck(app.services[name]) else []
    others = [c[2] for c in sorted(candidates)[1:]]
    also = f" (also reachable: {', '.join(others)})" if others else ""
    return name, f"{name} {' and '.join(reasons)}{also}"


def health_url(app: ComposeApp, web: str) -> tuple[str, str]:
    """The health gate URL (``{{ domain }}`` standing for the server) and why, or ``""`` and why not."""
    if not web:
        return "", "no web service found: only the containers' healthchecks gate a deploy"
    svc = app.services[web]
    path = _health_path(app, svc)
    if not path:
        return "", (f"{web}'s healthcheck shows no URL path: only the containers' healthchecks gate a "
                    "deploy; set an http(s) URL that answers 200 to gate on it too")
    public = [p for p in published_ports(app, svc) if p.public]
    if public:
        port = public[0].published
        base = {"80": "http://{{ domain }}", "443": "https://{{ domain }}"}.get(port, f"http://{{{{ domain }}}}:{port}")
        return base + path, f"{web} publishes port {port}; {path} is the path its healthcheck requests"
    if _traefik_domain(app, svc):
        scheme = "https" if _traefik_tls(svc) else "http"
        return f"{scheme}://{{{{ domain }}}}{path}", f"{web} is routed by Traefik; {path} is from its healthcheck"
    return "", f"{web} is reachable only through a proxy moorage can't see: set the URL it answers on"


def _propose_images(app: ComposeApp, project: str, compose_ref: str, plan: ServicePlan) -> None:
    built = [name for name, svc in app.services.items() if svc.get("build")]
    built_refs: list[str] = []
    for name, svc in app.services.items():
        image = app.interpolate(str(svc.get("image") or ""))
        whole = _WHOLE_VARIABLE.match(str(svc.get("image") or ""))
        if whole and image:
            plan.image_vars[whole.group(1)] = image
            image = "{{ " + image_variable(whole.group(1)) + " }}"
        if not image and name in built:
            image = f"{project}-{name}"     # compose's name for a built image without image:
        if image and name in built and image not in built_refs:
            built_refs.append(image)
        if image and image not in plan.images:
            plan.images.append(image)
        elif not image:
            plan.images_why.append(f"{name}'s image is a variable with no default: add it once set.")
    if built:
        _ship_built(project, compose_ref, built, built_refs, plan)
    else:
        plan.images_why[:0] = ["every service names a published image, so pull: the server pulls them by tag."]


def _ship_built(project: str, compose_ref: str, built: list[str], built_refs: list[str], plan: ServicePlan) -> None:
    """Images built from source travel by ``ship``: the deploy sends the compose file and .env, not
    a build context, so ``build`` on the server works only where the sources are already there.
    The published images are still pulled by the server, each built one says ``source: ship``
    (all of them built: ``image_source: ship``)."""
    command = f"docker compose -p {project} -f {compose_ref}"
    plan.image_commands = [f"{command} build"]
    who = f"{', '.join(built)} {'is' if len(built) == 1 else 'are'} built from source (build:)"
    if all(image in built_refs for image in plan.images):
        plan.image_source = "ship"
        plan.images_why[:0] = [f"{who}, so ship: the images go from this machine to the server (docker save | "
                               "docker load over SSH). Build them here before a deploy:"]
    else:
        plan.images = [{"ref": image, "source": "ship"} if image in built_refs else image for image in plan.images]
        them = ("it is", "it") if len(built_refs) == 1 else ("those are", "them")
        plan.images_why[:0] = [f"{who}, so {them[0]} shipped (source: ship: docker save here, docker load on the "
                               f"server over SSH) and the server pulls the others by tag. Build {them[1]} here "
                               "before a deploy:"]
    plan.images_why.insert(1, "Use pull instead once a registry holds them (image: names them there; "
                              "registry_login for a private one), or build to run `docker compose build` on the "
                              "server (only where the sources are there too).")


def image_variable(env_name: str) -> str:
    """The inventory variable standing for the image ``${ENV_NAME}``: ``APP_IMAGE`` -> ``app_image``."""
    return env_name.lower()


def _uses_any(app: ComposeApp, service: Mapping[str, Any], databases: list[str]) -> bool:
    """Whether the service depends on a database or names one as a host in its environment."""
    depends = service.get("depends_on") or {}
    if any(db in depends for db in databases):
        return True
    environment = service.get("environment") or {}
    values = environment.values() if isinstance(environment, Mapping) else environment
    text = " ".join(app.interpolate(str(v)) for v in values if v is not None)
    return any(re.search(rf"(^|[\s@/=]){re.escape(db)}(:\d|/|\s|$)", text) for db in databases)


def named_volumes(service: Mapping[str, Any]) -> list[str]:
    """The named volumes a service mounts (``type: volume`` with a source; anonymous ones and
    bind mounts are not data moorage can name), in the compose file's order."""
    found: list[str] = []
    for mount in service.get("volumes") or []:
        if isinstance(mount, Mapping) and mount.get("type") == "volume" and mount.get("source"):
            source = str(mount["source"])
            if source not in found:
                found.append(source)
    return found


def _reads_dotenv(service: Mapping[str, Any]) -> bool:
    files = service.get("env_file") or []
    files = [files] if isinstance(files, str | Mapping) else files
    paths = [f.get("path") if isinstance(f, Mapping) else f for f in files]
    return any(str(p).removeprefix("./") == ".env" for p in paths)


def _has_healthcheck(service: Mapping[str, Any]) -> bool:
    check = service.get("healthcheck") or {}
    return bool(check.get("test")) and not check.get("disable") and check.get("test") != ["NONE"]


def _health_path(app: ComposeApp, service: Mapping[str, Any]) -> str:
    if not _has_healthcheck(service):
        return ""
    test = service["healthcheck"]["test"]
    args = [app.interpolate(str(a)) for a in (test if isinstance(test, list) else [test])]
    found = _URL_PATH.search(" ".join(args))
    if found:
        return found.group(1)
    return next((a for a in args if _HEALTH_ARG.match(a)), "")


def _proxy_labels(service: Mapping[str, Any]) -> dict[str, str]:
    labels = service.get("labels") or {}
    if not isinstance(labels, Mapping):
        labels = dict(str(item).partition("=")[::2] for item in labels)
    return {k: str(v) for k, v in labels.items() if _PROXY_LABEL.match(k)}


def _traefik_domain(app: ComposeApp, service: Mapping[str, Any]) -> str:
    for key, value in _proxy_labels(service).items():
        if key.endswith(".rule"):
            found = _TRAEFIK_HOST.search(app.interpolate(value))
            if found and found.group(1):
                return found.group(1)
    return ""


def _traefik_tls(service: Mapping[str, Any]) -> bool:
    return any(k.endswith(".tls.certresolver") or (k.endswith(".tls") and v == "true")
               for k, v in _proxy_labels(service).items())


def _show(port: Port) -> str:
    host = f"{port.host_ip}:" if port.host_ip else ""
    return f"{host}{port.published}:{port.target}" if port.published else port.target
