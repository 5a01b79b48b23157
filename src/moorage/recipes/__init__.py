"""Recipes: what each command does, as a short sequence of named steps (Kamal's shape).

A CLI task parses its flags and calls one recipe with typed arguments; the recipe loads the
inventory and the playbook once, runs the engine (``executor.Runner``) and the server-side steps
(lock, ledger, audit: ``operations/server_state.py``), and returns what the task exits with.

- ``play``        any playbook on a host or environment (also: ``make_request``'s shared loading)
- ``deploy``      preflight -> lock -> deploy.yml -> roll back on a failure after the switch -> audit
- ``rollback``    lock -> find the release -> [restore checks] -> rollback.yml -> [restore] -> audit
- ``day2``        releases, status, logs: read-only views of a host's app
- ``backup``      backup.yml; ``--list``, ``--verify``, ``--fetch`` (``fetch``)
- ``restore``     lock -> choose -> verify -> guard -> safety backup -> restore.yml -> audit
- ``onboard``     first contact -> log in -> base roles -> prove -> hardening -> prove -> audit
- ``swarm``       a swarm environment's Docker Swarm: init on the first manager -> joins -> node labels
- ``sync_media``  sync-media.yml
- ``trust``       pin a host key (``connection/hostkey.py``)
- ``check``       validate a project's files and, with a host, its role variables and preflight
- ``preflight``, ``compose_ports``  the production checks deploy and check share
- ``data_settings``  a host's backup settings, from the backup playbook's defaults
- ``outcome``     how one host's recipe ended, and the end of the report
"""
