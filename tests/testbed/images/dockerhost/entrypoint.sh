#!/bin/sh
# Test server PID 1 with an inner Docker engine: start dockerd in the background,
# then become sshd.  On cgroup v1 the inner engine's containers are nested under
# this container's own cgroup, so removing the test server leaves nothing behind.
set -eu
cg=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3; exit}' /proc/self/cgroup)
[ -n "$cg" ] || cg=$(awk -F: '$1 == "0" {print $3; exit}' /proc/self/cgroup)
set --
if [ -n "$cg" ] && [ "$cg" != "/" ]; then
  set -- --cgroup-parent="$cg"
fi
dockerd "$@" >/var/log/dockerd.log 2>&1 &
exec /usr/local/sbin/moorage-sshd-entry
