"""Forming a Docker Swarm: ``swarm_node`` (this engine initialises the swarm or joins it) and
``swarm_labels`` (node labels set from a manager).

A join token is a secret: it reaches the joining node on stdin (``read -r``), never in the command
moorage sends, its output or the report; the tokens the first manager hands out are registered
with the masker the moment they are read.  The join goes to the Engine API (``POST /swarm/join``,
the token in the JSON body curl reads from stdin), so the token is in no process's arguments; a
node without curl falls back to ``docker swarm join --token``, whose argument is visible in that
node's process list while it joins.
"""

from __future__ import annotations

from typing import Any

from moorage.connection.base import Connection
from moorage.operations.base import Change, Check, Facts, Operation, OpResult, Shell, TaskFailed, register
from moorage.operations.scripted import DID, PATH_PRELUDE, apply_fed, failure_sentence
from moorage.operations.shell import Raw, sh

NODE = "@@node "
TOKEN = "@@token "
_ADDR = {"type": "string", "minLength": 1, "maxLength": 253, "pattern": "^[^\\s'\"]+$"}
# LocalNodeState: inactive, pending, active, error, locked.
_STATE = "state=$(docker info --format '{{.Swarm.LocalNodeState}}') || { echo 'docker does not answer' >&2; exit 1; }"
_ACTIVE_CHECK = "[ \"$(docker info --format '{{.Swarm.LocalNodeState}}')\" = active ]"


@register
class SwarmNode(Operation):
    """This host's engine a node of the swarm: without ``join``, ``docker swarm init`` (the first
    manager) unless the engine already is in a swarm, then the join tokens are read (and masked);
    with ``join``, ``docker swarm join`` as ``role`` through ``manager`` with ``token`` (read from
    stdin) unless it already is in one.  Either way the task's data holds the node's ID
    (``swarm_node_ids``) for the labels a manager sets.  An engine in a swarm (active) is left
    as it is (``changed=0``); one ``pending``, ``error`` or ``locked`` fails the task, named."""

    name = "swarm_node"
    batched = False
    invalidates_facts = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["advertise_addr"],
        "properties": {
            "advertise_addr": {**_ADDR, "description": "The address the other nodes reach this one at."},
            "join": {"type": "boolean", "description": "Join an existing swarm (default false: initialise one)."},
            "role": {"enum": ["manager", "worker"], "description": "What a joining node becomes."},
            "manager": {**_ADDR, "description": "A manager's address[:port] to join through (port 2377 by default)."},
            "token": {"type": "string", "pattern": "^[A-Za-z0-9-]*$",
                      "description": "The join token for ``role``: sent on stdin, never shown."},
            "addr_pool": {"type": "string", "pattern": "^([0-9./]+)?$",
                          "description": "A new swarm's default address pool for overlay networks, e.g. "
                                         "10.77.0.0/16 (empty: Docker's 10.0.0.0/8)."},
            "addr_pool_mask": {"type": "integer", "minimum": 8, "maximum": 30,
                               "description": "The subnet size carved from addr_pool (default 24)."},
        },
    }

    def validate(self) -> None:
        """A join names its role, its manager and its token."""
        if self.args.get("join"):
            missing = [key for key in ("role", "manager", "token") if not self.args.get(key)]
            if missing:
                raise ValueError(f"a join needs {', '.join(missing)}")

    def plan(self, facts: Facts) -> Change | None:
        """A ``Check`` (exit 0 when the engine already is in a swarm) and the script that inits or
        joins otherwise; both end by printing the node's ID (and, on init, the tokens)."""
        joining = bool(self.args.get("join"))
        if joining:
            self.context.register_secret(self.args["token"])
        act = _join_script(self.args) if joining else _init_script(self.args)
        summary = (f"joined the swarm as a {self.args['role']} through {self.args['manager']}" if joining
                   else f"swarm initialised (advertised at {self.args['advertise_addr']})")
        stdin = f"{self.args['token']}\n".encode() if joining else None
        return Change(summary, [Check(_ACTIVE_CHECK), Shell(act, stdin=stdin, timeout=120)])

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """The script; changed when it initialised or joined.  Data: ``swarm_node_ids`` and, on
        init, ``swarm_tokens`` ({worker, manager}, registered as secrets)."""
        act = change.shell()
        if act is None:  # check mode
            probe = conn.run(f"{PATH_PRELUDE}\n{change.required_check().script}")
            return OpResult(changed=probe.exit_code != 0)
        result = conn.run(f"{PATH_PRELUDE}\n{act.script}", stdin=act.stdin, timeout=act.timeout)
        if not result.ok:
            raise TaskFailed(failure_sentence(self.name, result), change.summary, result.exit_code,
                             result.stderr_tail())
        lines = result.text.splitlines()
        did = [line[len(DID):] for line in lines if line.startswith(DID)]
        data: dict[str, Any] = {"swarm_node_ids": [line[len(NODE):] for line in lines if line.startswith(NODE)]}
        tokens = dict(line[len(TOKEN):].split(" ", 1) for line in lines if line.startswith(TOKEN))
        for token in tokens.values():
            self.context.register_secret(token)
        if tokens:
            data["swarm_tokens"] = [tokens]
        if did:
            change.summary = "; ".join(did)
        return OpResult(changed=bool(did), message="" if did else "already in the swarm", data=data)


def _init_script(args: dict[str, Any]) -> str:
    addr, pool = args["advertise_addr"], args.get("addr_pool") or ""
    pools = ["--default-addr-pool", pool, "--default-addr-pool-mask-length", str(args.get("addr_pool_mask", 24))]
    return "\n".join([
        _STATE,
        'case "$state" in',
        "  active) [ \"$(docker info --format '{{.Swarm.ControlAvailable}}')\" = true ] || { echo "
        "'this engine is a worker of a swarm already; the first manager must be a manager' >&2; exit 1; } ;;",
        "  inactive)",
        sh(Raw("    docker swarm init --advertise-addr"), addr, pools if pool else None,
           Raw(">/dev/null || exit 1")),
        sh(Raw("    echo"), f"{DID}swarm initialised (advertised at {addr})", Raw(";;")),
        _bad_state(),
        "esac",
        "echo \"@@token worker $(docker swarm join-token -q worker)\"",
        "echo \"@@token manager $(docker swarm join-token -q manager)\"",
        _print_node_id(),
    ])


def _join_script(args: dict[str, Any]) -> str:
    manager = args["manager"] if ":" in args["manager"] else f"{args['manager']}:2377"
    return "\n".join([
        "IFS= read -r token",
        _STATE,
        'case "$state" in',
        "  active) ;;",
        "  inactive)",
        # The Engine API's POST /swarm/join with the token in the body on curl's stdin (printf is a
        # shell builtin): the token never is in a process's arguments.  Without curl, the CLI (whose
        # --token is an argument, visible in that node's process list while it joins).
        "    if command -v curl >/dev/null 2>&1 && [ -S /var/run/docker.sock ]; then",
        sh(Raw("      printf '{\"ListenAddr\":\"0.0.0.0:2377\",\"AdvertiseAddr\":\"%s\",\"RemoteAddrs\":[\"%s\"],"
               "\"JoinToken\":\"%s\"}'"), args["advertise_addr"], manager, Raw('"$token"'),
           Raw("| curl -sS --fail-with-body --unix-socket /var/run/docker.sock -H 'Content-Type: application/json'"),
           Raw("--data-binary @- http://localhost/swarm/join >&2 || exit 1")),  # Docker's error, if any
        "    else",
        sh(Raw("      docker swarm join --advertise-addr"), args["advertise_addr"], Raw('--token "$token"'), manager,
           Raw(">/dev/null || exit 1")),
        "    fi",
        sh(Raw("    echo"), f"{DID}joined the swarm as a {args['role']} through {manager}", Raw(";;")),
        _bad_state(),
        "esac",
        "token=",
        _print_node_id(),
    ])


def _bad_state() -> str:
    return ("  *) echo \"this engine's swarm state is $state (not active, not inactive): see docker info; "
            "moorage changes nothing\" >&2; exit 1 ;;")


def _print_node_id() -> str:
    return "echo \"@@node $(docker info --format '{{.Swarm.NodeID}}')\""


@register
class SwarmLabels(Operation):
    """Node labels for placement (``node.labels.NAME == VALUE`` constraints), set from a manager
    with ``docker node update --label-add`` where a node's label differs; labels the inventory
    doesn't name are left alone."""

    name = "swarm_labels"
    batched = False
    invalidates_facts = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["nodes"],
        "properties": {
            "nodes": {"type": "object", "propertyNames": {"pattern": "^[a-z0-9]+$"},
                      "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"},
                                               "propertyNames": {"pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"}},
                      "description": "Node ID -> {label: value}."},
        },
    }

    def plan(self, facts: Facts) -> Change | None:
        """One script: for each label, read the node's value and update it when it differs.
        No label asked for: nothing to do."""
        wanted = [(node, key, value) for node, labels in sorted(self.args["nodes"].items())
                  for key, value in sorted(labels.items())]
        if not wanted:
            return None
        tests = [sh(Raw('[ "$(docker node inspect --format'), f'{{{{index .Spec.Labels "{key}"}}}}', node,
                    Raw(')" ='), value, Raw("]")) for node, key, value in wanted]
        acts = [sh(Raw(test), Raw("|| {"), "docker", "node", "update", "--label-add", f"{key}={value}", node,
                   Raw(">/dev/null && echo"), f"{DID}node {node[:12]}: {key}={value}", Raw("; }"))
                for test, (node, key, value) in zip(tests, wanted, strict=True)]
        check = "\n".join(f"{test} || exit 1" for test in tests)
        return Change("swarm node labels", [Check(check), Shell("set -e\n" + "\n".join(acts))])

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """The script (check mode: the ``Check`` alone); changed when a label was set."""
        return apply_fed(self.name, change, conn, "labels already set")
