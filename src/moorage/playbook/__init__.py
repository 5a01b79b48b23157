"""Playbooks: plays -> roles -> tasks, each task one operation with its arguments.

``load_playbook(path)`` reads a playbook (validated against
``schemas/playbook.schema.json``), loads the roles it names from
``playbook_dir/roles`` then ``playbook_dir/../roles`` (``roles/NAME/tasks.yml``,
optional ``handlers.yml``, ``defaults.yml``, ``variables.yml``, ``templates/``, ``files/``), checks each
task's operation and arguments against ``moorage.operations.REGISTRY``, the
handlers each task notifies, the Jinja2 syntax of ``when`` and arguments, and the
local files that ``template``/``file`` tasks name.  Arguments stay unrendered:
the executor renders them per host.
"""

from moorage.playbook.loader import default_roles_paths, find_roles, load_playbook, load_role, read_role
from moorage.playbook.model import Play, Playbook, Role, Task

__all__ = ["Play", "Playbook", "Role", "Task", "default_roles_paths", "find_roles", "load_playbook",
           "load_role", "read_role"]
