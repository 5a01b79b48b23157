#!/usr/bin/env bash
# The project's test command: prepare the machine (idempotent), then run pytest.
# Arguments go to pytest, e.g. `bash scripts/test.sh tests/integration -x` (then nothing is added).
# Without arguments, the whole suite runs on MOORAGE_TEST_WORKERS pytest-xdist workers (default 2;
# 0 = one process): the integration tests mostly wait on test servers, so two at a time halve the
# wall time even on 2 cores. `--dist loadfile` keeps each module on one worker: its module-scoped
# test servers are started once and its tests keep their order. `--no-loadscope-reorder` keeps the
# collection order (modules marked `long` first) instead of xdist's "most tests first", which put
# the interruption matrix (few tests, many minutes) last, alone on one worker.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ $# -eq 0 ]; then
  workers=${MOORAGE_TEST_WORKERS:-2}
  set -- --durations=30
  if [ "$workers" != 0 ]; then set -- -n "$workers" --dist loadfile --no-loadscope-reorder "$@"; fi
fi
exec .venv/bin/pytest "$@"
