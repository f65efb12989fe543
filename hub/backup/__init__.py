"""Backups of a whole hub, to keep or to move to another machine: ``workbench backup DIR`` and
``workbench restore DIR``.

- :mod:`hub.backup.commands`: what a backup holds, the checks before it is taken or put back, and the work.
- :mod:`hub.backup.databases`: the hub's and the workbench's databases (SQLite's online backup API, pg_dump and
  pg_restore with the password in their environment only).
- :mod:`hub.backup.archives`: folders as tar archives, never following a link; run as a user's own account
  (``python -I -m hub.backup.archives pack|unpack``) for their home, so root never reads or writes a home itself.

This package file imports nothing, so that the part a user's account runs starts fast. The package may import
:mod:`hub.settings`, :mod:`hub.services` and :mod:`spawner` (accounts, names, database); never the user side.
"""
