"""Facts: what a host looks like, gathered in as few round trips as possible.

Each fact module pairs one remote command with one parser, mirroring the
operation modules (``facts/files.py`` <-> ``operations/files.py``).
"""
