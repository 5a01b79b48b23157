"""Data safety: verified backups, their catalog on the server, restores, and the guard that every
destructive path must pass (``guard.authorize``).

- ``naming``   backup file names: ``PROJECT-ENV-LABEL-YYYYmmddTHHMMSSZ.dump`` (or ``.tar.gz`` for media)
- ``scripts``  the POSIX sh the server runs: dump + verify + retention, verify again, restore
- ``catalog``  what a backup directory holds (one listing command), ages, newest verified
- ``settings`` a host's data settings, resolved from the inventory and the postgres_backup role
- ``guard``    named + fresh verified backup + typed confirmation, or refused
- ``restore``  the restore recipe (``invoke restore``, ``invoke rollback --restore-db``)
- ``fetch``    copy backups to the controller, checked against their recorded sha256
"""
