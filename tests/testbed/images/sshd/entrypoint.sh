#!/bin/sh
# Test server PID 1: a host key of its own, the run's authorized key, sshd in the foreground.
set -eu
if [ ! -s /etc/ssh/ssh_host_ed25519_key ]; then
  ssh-keygen -q -t ed25519 -N '' -C '' -f /etc/ssh/ssh_host_ed25519_key
fi
if [ -n "${AUTHORIZED_KEYS:-}" ]; then
  install -d -m 0700 /root/.ssh
  printf '%s\n' "$AUTHORIZED_KEYS" >/root/.ssh/authorized_keys
  chmod 0600 /root/.ssh/authorized_keys
fi
install -d -m 0755 /run/sshd
exec /usr/sbin/sshd -D -e
