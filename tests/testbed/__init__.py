"""The real-test-server harness: locally built images and SSH test-server containers.

- ``images``: ``ensure_image(name)`` builds ``moorage-test/<name>:latest`` (cached by inputs hash).
- ``servers``: ``Testbed`` starts ``TestServer`` containers (sshd, or sshd + dockerd) on
  loopback ports; ``write_inventory`` points an inventory at them.

Tests get these through the fixtures in ``tests/conftest.py``.
"""

from .images import ensure_image, image_ref
from .servers import Testbed, TestServer, write_inventory

__all__ = ["TestServer", "Testbed", "ensure_image", "image_ref", "write_inventory"]
