"""Copying an example project for a test server: shared by the example tests and the demo.

``copy_example("stratum", dest)`` -> ``dest`` holding examples/stratum without its ``app/`` (the
stand-ins' sources); ``pin_host(server, dest)`` writes ``dest/inventory/known_hosts`` with the
server's host key; ``edit_yaml(path)`` reads a YAML file and writes it back when the block ends.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .servers import TestServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def copy_example(name: str, dest: Path) -> Path:
    """examples/NAME copied to ``dest`` (which must not exist), without its stand-ins' sources."""
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns("app"))
    return dest


def pin_host(server: TestServer, root: Path) -> None:
    """The server's host key in the project's inventory/known_hosts (what `moorage trust` writes)."""
    (root / "inventory" / "known_hosts").write_text(server.known_hosts_file.read_text())


def host_entry(server: TestServer, key: Path | None = None) -> dict[str, Any]:
    """An inventory host entry for ``server`` (``key``: the private key, default the testbed's)."""
    return {"address": server.address, "port": server.port, "ssh_key": str(key or server.key_file)}


@contextlib.contextmanager
def edit_yaml(path: Path) -> Iterator[Any]:
    """Yield the parsed file; write it back (key order kept) when the block ends without error."""
    data = yaml.safe_load(path.read_text())
    yield data
    path.write_text(yaml.safe_dump(data, sort_keys=False))
