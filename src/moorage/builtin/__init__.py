"""What the engine ships besides code: the built-in roles, the standard playbooks, the JSON Schemas.

Read from the installed package (``importlib.resources``), so a wheel installed anywhere finds
them; a project's own ``roles/`` and ``playbooks/`` come first (``moorage.project``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

ROOT = Path(str(resources.files(__name__)))
ROLES = ROOT / "roles"
PLAYBOOKS = ROOT / "playbooks"
SCHEMAS = ROOT / "schemas"


def contains(path: Path) -> bool:
    """Whether ``path`` lies inside the built-in roles or playbooks."""
    return ROOT in path.resolve().parents
