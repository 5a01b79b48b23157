"""What the backup operations (``postgres_backup``, ``postgres_restore``, ``backup_job``) and the data
recipes share: backup file names (``naming``), the scripts run on the host (``scripts``), the
listing of a backup directory (``catalog``), and the gate every destructive path goes through
(``guard``)."""
