"""The benchmark workloads, written once as data and emitted for each tool.

W1 (the headline workload): 3 directories, a 15-variable ``.env`` (mode 0600),
10 small config files and a ``compose.yml``.  The scale variant: the same kinds
of tasks in a 5-task and a 50-task play, to show how a no-change rerun's SSH
commands grow (or not) with the number of tasks.

Every tool gets the same tasks, the same source files and produces byte-identical
files on the server (the peers' ``.env`` template renders exactly what moorage's
``env_file`` writes).  The 15th variable, ``bench_release``, is the one the
"one variable changed" run changes, from the command line of each tool.

``python -m bench.workload`` regenerates the committed files under ``bench/w1/``
and ``bench/scale/``; ``--check`` exits 1 if they are out of date.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parent
W1_DIR = BENCH / "w1"
SCALE_DIR = BENCH / "scale"
SCALE_SIZES = (5, 50)

# moorage's env_file header, so the peers' .env is byte-identical to moorage's.
ENV_HEADER = "# Managed by moorage: edits here are replaced on the next deploy."

# The 15 .env variables.  All but BENCH_RELEASE are fixed; BENCH_RELEASE comes from
# the variable ``bench_release`` (inventory default "1", overridden per run).
ENV_VALUES = {
    "APP_NAME": "w1bench",
    "APP_ENV": "production",
    "APP_PORT": "8000",
    "APP_WORKERS": "4",
    "DB_HOST": "db",
    "DB_PORT": "5432",
    "DB_NAME": "w1bench",
    "DB_USER": "w1bench",
    "CACHE_URL": "redis://cache:6379/0",
    "LOG_LEVEL": "info",
    "TZ": "UTC",
    "MEDIA_ROOT": "/srv/app/media",
    "STATIC_ROOT": "/srv/app/static",
    "ALLOWED_HOSTS": "w1.example.test",
}
RELEASE_KEY = "BENCH_RELEASE"
RELEASE_VAR = "bench_release"

CONFIG_FILES = (
    "nginx-site.conf", "gunicorn.conf", "logging.yml", "app.ini", "celery.conf",
    "redis.conf", "postgres-tuning.conf", "crontab.txt", "healthcheck.sh", "robots.txt",
)


# -- the source files ------------------------------------------------------------
def config_text(index: int, name: str) -> str:
    """A small, plausible config file (a few hundred bytes), deterministic per name."""
    lines = [f"# {name}: W1 benchmark config file {index + 1} of {len(CONFIG_FILES)}"]
    for section in range(3):
        lines.append(f"[section_{section + 1}]")
        for key in range(5):
            lines.append(f"option_{section + 1}_{key + 1} = value-{index + 1}-{section + 1}-{key + 1}")
        lines.append("")
    return "\n".join(lines)


COMPOSE = {
    "name": "w1bench",
    "services": {
        "web": {
            "image": "w1bench/web:1",
            "env_file": [".env"],
            "ports": ["127.0.0.1:8000:8000"],
            "volumes": ["./config/gunicorn.conf:/etc/app/gunicorn.conf:ro",
                        "./config/logging.yml:/etc/app/logging.yml:ro", "./data:/srv/app/media"],
            "depends_on": ["db", "cache"],
        },
        "worker": {"image": "w1bench/web:1", "env_file": [".env"], "command": ["celery", "worker"],
                   "volumes": ["./config/celery.conf:/etc/app/celery.conf:ro"]},
        "nginx": {"image": "w1bench/nginx:1", "ports": ["127.0.0.1:8080:80"],
                  "volumes": ["./config/nginx-site.conf:/etc/nginx/conf.d/default.conf:ro"]},
        "db": {"image": "w1bench/postgres:15", "env_file": [".env"],
               "volumes": ["db:/var/lib/postgresql/data"]},
        "cache": {"image": "w1bench/redis:7",
                  "volumes": ["./config/redis.conf:/usr/local/etc/redis/redis.conf:ro"]},
    },
    "volumes": {"db": {}},
}


def env_template() -> str:
    """The peers' Jinja2 template for the .env: the same bytes moorage's env_file writes."""
    lines = [ENV_HEADER]
    lines += [f"{key}={{{{ {key.lower()} }}}}" for key in ENV_VALUES]
    lines.append(f"{RELEASE_KEY}={{{{ {RELEASE_VAR} }}}}")
    return "\n".join(lines) + "\n"


APP_TEMPLATE = "# {{ app_name }} settings, rendered from a template\nlisten = {{ app_port }}\n" \
               "release = {{ bench_release }}\n"
TEMPLATE_VARS = {"app_name": "w1bench", "app_port": "8000"}  # what app.conf.j2 uses besides bench_release


# -- tasks as data -----------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """One task: ``kind`` is dir / env / template / file; ``path`` is relative to the workload's folder."""

    kind: str
    path: str
    src: str = ""

    @property
    def mode(self) -> str:
        return {"dir": "0755", "env": "0600"}.get(self.kind, "0644")

    @property
    def name(self) -> str:
        return f"{self.kind} {self.path or 'folder'}"


def w1_tasks() -> list[Task]:
    """W1: 3 directories, the .env, 10 config files, compose.yml (15 tasks)."""
    tasks = [Task("dir", ""), Task("dir", "config"), Task("dir", "data"), Task("env", ".env")]
    tasks += [Task("file", f"config/{name}", name) for name in CONFIG_FILES]
    tasks.append(Task("file", "compose.yml", "compose.yml"))
    return tasks


def scale_tasks(count: int) -> list[Task]:
    """``count`` tasks of every kind: ~1 dir in 12, 1 template in 10, one .env, the rest files.

    5 -> 1 dir, .env, 1 template, 2 files; 50 -> 4 dirs, .env, 5 templates, 40 files.
    """
    dirs, templates = max(1, count // 12), max(1, count // 10)
    files = count - dirs - templates - 1
    if files < 1:
        raise ValueError(f"a scale play needs at least 4 tasks, not {count}")
    subdirs = [f"d{i}" for i in range(1, dirs)]
    tasks = [Task("dir", "")] + [Task("dir", d) for d in subdirs] + [Task("env", ".env")]
    tasks += [Task("template", f"app-{i + 1:02d}.conf", "app.conf.j2") for i in range(templates)]
    where = subdirs or [""]
    for i in range(files):
        folder = where[i % len(where)]
        src = CONFIG_FILES[i % len(CONFIG_FILES)]
        name = f"{i + 1:02d}-{src}"
        tasks.append(Task("file", f"{folder}/{name}" if folder else name, src))
    return tasks


def _dest(folder: str, task: Task) -> str:
    return f"{{{{ bench_root }}}}/{folder}" + (f"/{task.path}" if task.path else "")


# -- moorage -----------------------------------------------------------------------
def moorage_playbook(title: str, folder: str, tasks: list[Task]) -> str:
    """A moorage playbook (DESIGN.md format); bench_root and bench_release come from the inventory."""
    out = []
    for t in tasks:
        if t.kind == "dir":
            out.append({"name": t.name, "dir": {"path": _dest(folder, t), "mode": t.mode}})
        elif t.kind == "env":
            values = {**ENV_VALUES, RELEASE_KEY: f"{{{{ {RELEASE_VAR} }}}}"}
            out.append({"name": t.name, "env_file": {"path": _dest(folder, t), "values": values, "mode": t.mode}})
        elif t.kind == "template":
            out.append({"name": t.name, "template": {"src": t.src, "dest": _dest(folder, t), "mode": t.mode}})
        else:
            out.append({"name": t.name, "file": {"path": _dest(folder, t), "src": t.src, "mode": t.mode}})
    play = [{"name": title, "hosts": "all", "tasks": out}]
    return _yaml(play)


# -- ansible -----------------------------------------------------------------------
def ansible_playbook(title: str, folder: str, tasks: list[Task]) -> str:
    """The same tasks with ansible.builtin file / template / copy; no fact gathering."""
    out = []
    for t in tasks:
        if t.kind == "dir":
            args = {"path": _dest(folder, t), "state": "directory", "mode": t.mode}
            out.append({"name": t.name, "ansible.builtin.file": args})
        elif t.kind in ("env", "template"):
            src = "env.j2" if t.kind == "env" else t.src
            out.append({"name": t.name, "ansible.builtin.template": {"src": src, "dest": _dest(folder, t),
                                                                     "mode": t.mode}})
        else:
            out.append({"name": t.name, "ansible.builtin.copy": {"src": t.src, "dest": _dest(folder, t),
                                                                 "mode": t.mode}})
    variables = {key.lower(): value for key, value in ENV_VALUES.items()}
    variables.update(TEMPLATE_VARS)
    play = [{"name": title, "hosts": "all", "gather_facts": False, "vars": variables, "tasks": out}]
    return _yaml(play)


# -- pyinfra -----------------------------------------------------------------------
def pyinfra_deploy(title: str, folder: str, tasks: list[Task]) -> str:
    """A pyinfra deploy file: files.directory / files.template / files.put, run from its folder."""
    variables = {key.lower(): value for key, value in ENV_VALUES.items()}
    variables.update(TEMPLATE_VARS)
    lines = [
        f'"""{title} for pyinfra (generated by bench/workload.py: edit that, not this)."""',
        "",
        "from pyinfra import host",
        "from pyinfra.operations import files",
        "",
        f'BASE = f"{{host.data.bench_root}}/{folder}"',
        f"RELEASE = str(host.data.{RELEASE_VAR})",
        "VARS = {",
        *[f"    {k!r}: {v!r}," for k, v in variables.items()],
        "}",
        "",
    ]
    for t in tasks:
        dest = "BASE" if not t.path else f'f"{{BASE}}/{t.path}"'
        mode = t.mode.lstrip("0")
        if t.kind == "dir":
            lines.append(f'files.directory(name="{t.name}", path={dest}, mode="{mode}")')
        elif t.kind in ("env", "template"):
            src = "env.j2" if t.kind == "env" else t.src
            lines.append(f'files.template(name="{t.name}", src="templates/{src}",\n'
                         f'               dest={dest}, mode="{mode}", {RELEASE_VAR}=RELEASE, **VARS)')
        else:
            lines.append(f'files.put(name="{t.name}", src="files/{t.src}",\n'
                         f'          dest={dest}, mode="{mode}")')
    return "\n".join(lines) + "\n"


def _yaml(data: object) -> str:
    return "# Generated by bench/workload.py: edit that, not this.\n" + yaml.safe_dump(
        data, sort_keys=False, default_flow_style=False, width=110)


# -- the committed tree ------------------------------------------------------------
def expected_files() -> dict[Path, str]:
    """Every generated file under bench/ with its content."""
    out: dict[Path, str] = {}
    for i, name in enumerate(CONFIG_FILES):
        out[W1_DIR / "files" / name] = config_text(i, name) + "\n"
    out[W1_DIR / "files" / "compose.yml"] = yaml.safe_dump(COMPOSE, sort_keys=False, default_flow_style=False)
    out[W1_DIR / "templates" / "env.j2"] = env_template()
    out[W1_DIR / "moorage" / "w1.yml"] = moorage_playbook("W1", "w1", w1_tasks())
    out[W1_DIR / "ansible" / "w1.yml"] = ansible_playbook("W1", "w1", w1_tasks())
    out[W1_DIR / "pyinfra" / "deploy.py"] = pyinfra_deploy("W1", "w1", w1_tasks())
    out[SCALE_DIR / "templates" / "app.conf.j2"] = APP_TEMPLATE
    for n in SCALE_SIZES:
        title = f"scale {n} tasks"
        out[SCALE_DIR / "moorage" / f"tasks{n}.yml"] = moorage_playbook(title, f"scale{n}", scale_tasks(n))
        out[SCALE_DIR / "ansible" / f"tasks{n}.yml"] = ansible_playbook(title, f"scale{n}", scale_tasks(n))
        out[SCALE_DIR / "pyinfra" / f"deploy{n}.py"] = pyinfra_deploy(title, f"scale{n}", scale_tasks(n))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workload", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in expected_files().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path.relative_to(BENCH.parent))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    verb = "out of date" if args.check else "written"
    for path in stale:
        print(f"{verb}: {path}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
