#!/usr/bin/env bash
# W1 benchmark: moorage vs ansible-core vs pyinfra on real sshd test servers.
# Usage: bash bench/run.sh [-n RUNS] [--hosts 1,10] [--tools moorage,ansible,pyinfra] [--no-scale] ...
# (all flags: bash bench/run.sh --help).  Writes bench/results/w1.md and w1.json.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "bench: .venv is missing; run: bash scripts/bootstrap.sh" >&2
  exit 2
fi
exec .venv/bin/python -m bench.w1 "$@"
