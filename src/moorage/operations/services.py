"""The ``service`` operation: a daemon running (and started at boot), whatever runs the host.

systemd when it is PID 1's manager, else sysvinit scripts when ``init`` is PID 1, else — a
container, where PID 1 is the container's own command — the daemon is started directly in the
background with ``without_init``, and the task says it will not come back after a reboot.
"""

from __future__ import annotations

from moorage.operations.base import register
from moorage.operations.scripted import DID, ScriptedOperation
from moorage.operations.shell import sh


@register
class Service(ScriptedOperation):
    """Ensure a service is running (``started``) or restart it (``restarted``, for handlers), and
    that it starts at boot (``enabled``).

    ``running`` is a command that succeeds once the service really works (e.g. ``docker info``):
    the task waits up to ``wait`` seconds for it after starting.  On a host without a service
    manager the service is started with ``without_init`` (e.g. ``dockerd``) in the background,
    its output in /var/log/NAME.log; without ``without_init`` that is an error.
    """

    name = "service"
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9@_.-]+$",
                     "description": "The service's name (systemd unit or /etc/init.d script), e.g. docker."},
            "state": {"enum": ["started", "restarted"], "default": "started",
                      "description": "started (default): running; restarted: restart it now (handlers)."},
            "enabled": {"type": "boolean", "default": True, "description": "Start it at boot."},
            "running": {"type": "string", "minLength": 1,
                        "description": "Command that succeeds once the service works (default: the "
                                       "service manager's status)."},
            "without_init": {"type": "string", "minLength": 1,
                             "description": "Command that runs the daemon in the foreground, used when the "
                                            "host has no service manager (a container)."},
            "wait": {"type": "integer", "minimum": 1, "default": 60,
                     "description": "Seconds to wait for `running` to succeed after a start."},
        },
    }

    @property
    def service(self) -> str:
        return str(self.args["name"])

    @property
    def pidfile(self) -> str:
        return f"/run/moorage-{self.service}.pid"

    def summary(self) -> str:
        verb = "restart" if self.args.get("state") == "restarted" else "start"
        return f"{verb} {self.service}" + (" (and at boot)" if self.args.get("enabled", True) else "")

    def _manager(self) -> str:
        name = sh(self.service)
        return ("if [ -d /run/systemd/system ]; then m=systemd; "
                f"elif [ -x /etc/init.d/{name} ] && [ \"$(cat /proc/1/comm 2>/dev/null)\" = init ]; then m=sysv; "
                "else m=none; fi")

    def _up(self) -> str:
        """Whether it runs: the manager's status (and ``running``); without a manager, ``running``
        or the pid moorage recorded when it started it."""
        name, running = sh(self.service), self.args.get("running")
        works = f" && ( {running} )" if running else ""
        started = f"{{ [ -s {self.pidfile} ] && kill -0 \"$(cat {self.pidfile})\"; }}"
        own = f"{{ ( {running} ) || {started}; }}" if running else started
        return (f"case $m in systemd) systemctl is-active -q {name}{works} ;; "
                f"sysv) service {name} status >/dev/null 2>&1{works} ;; *) {own} ;; esac")

    def _enabled(self) -> str:
        name = sh(self.service)
        return (f"case $m in systemd) systemctl is-enabled -q {name} ;; "
                f"sysv) ls /etc/rc[2-5].d/S??{name} >/dev/null 2>&1 ;; *) : ;; esac")

    def check(self) -> str:
        if self.args.get("state") == "restarted":
            return "false"
        enabled = f" && {self._enabled()}" if self.args.get("enabled", True) else ""
        return f"{self._manager()}\n{self._up()}{enabled}"

    def script(self) -> str:
        name, restart = sh(self.service), self.args.get("state") == "restarted"
        lines = [self._manager(), "note=''"]
        if self.args.get("enabled", True):
            lines += [
                f"if [ \"$m\" = systemd ] && ! systemctl is-enabled -q {name}; then",
                f"  systemctl enable -q {name} && echo '{DID}enable '{name}' at boot (systemd)'",
                f"elif [ \"$m\" = sysv ] && ! ls /etc/rc[2-5].d/S??{name} >/dev/null 2>&1; then",
                f"  update-rc.d {name} defaults >/dev/null && echo '{DID}enable '{name}' at boot (sysvinit)'",
                "fi",
            ]
        action = "restart" if restart else "start"
        # A restart of a service that isn't running is reported as what it is: a start.
        lines.append(f"if {self._up()}; then was=restart; else was=start; fi" if restart
                     else f"was=''; {self._up()} || was=start")
        lines += [
            'if [ -n "$was" ]; then',
            "  case $m in",
            f"    systemd) systemctl {action} {name} || {{ echo \"systemctl {action} {self.service} failed: see "
            f"journalctl -u {self.service}\" >&2; exit 1; }} ;;",
            f"    sysv) service {name} {action} >&2 || {{ echo \"service {self.service} {action} failed\" >&2; "
            "exit 1; } ;;",
            f"    *) {self._without_init(restart)} ;;",
            "  esac",
            f"  echo \"{DID}$was \"{name}\"$note\"",
            "fi",
            self._wait(),
        ]
        return "\n".join(lines)

    def _without_init(self, restart: bool) -> str:
        command = self.args.get("without_init")
        if not command:
            return (f"echo \"{self.service} can not be started: this host has no service manager (neither systemd "
                    "nor sysvinit is PID 1); give the task without_init\" >&2; exit 1")
        pid, log = self.pidfile, sh(f"/var/log/{self.service}.log")
        stop = ""
        if restart:
            stop = (f"if [ \"$was\" = restart ] && [ ! -s {pid} ]; then echo \"{self.service} runs without a "
                    "service manager and was not started by moorage: restart it yourself\" >&2; exit 1; fi; "
                    f"if [ -s {pid} ] && kill \"$(cat {pid})\" 2>/dev/null; then i=0; while kill -0 \"$(cat {pid})\" "
                    f"2>/dev/null; do i=$((i+1)); [ $i -le 300 ] || {{ echo \"{self.service} did not stop within "
                    "30 s\" >&2; exit 1; }; sleep 0.1; done; fi; ")
        return (stop + f"nohup sh -c {sh('exec ' + command)} </dev/null >>{log} 2>&1 & echo $! >{pid}; "
                "note=' without a service manager (none on this host): it will not start again after a reboot'")

    def _wait(self) -> str:
        running = self.args.get("running")
        if not running:
            return ":"
        wait = int(self.args.get("wait", 60))
        return (f"i=0; until ( {running} ) >/dev/null 2>&1; do i=$((i+1)); if [ $i -gt {wait * 5} ]; then "
                f"echo \"{self.service} did not answer within {wait} s ({running} fails); see "
                f"/var/log/{self.service}.log or its service manager's log\" >&2; exit 1; fi; sleep 0.2; done")
