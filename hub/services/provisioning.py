"""Provisioning: everything a hub needs made before it starts, done once, explicitly and idempotently.

``workbench hub`` runs :func:`provision` before it starts JupyterHub (and ``workbench provision`` runs it alone):
the state folder (owner-only), the workbench's PostgreSQL database made safe to hand out, and the built-in
models installed. Each step says in the log what it did or that
there was nothing to do; running it again changes nothing. Loading the hub's configuration does none of this.

May import :mod:`hub.settings` and :mod:`spawner.database`; the built-ins are installed by a separate process,
so the hub never imports the user side.
"""

from __future__ import annotations

import logging
import stat
import subprocess
from pathlib import Path

from hub.settings import WorkbenchSettings
from spawner import database

log = logging.getLogger("workbench.provisioning")


def data_passwords_dir(settings: WorkbenchSettings) -> Path:
    return settings.state_path / "data-passwords"


def builtin_file(settings: WorkbenchSettings) -> Path:
    return settings.state_path / "builtin.sqlite"


# What users' own accounts must reach in the state folder (system-users): by exact path, never by listing.
SHARED_WITH_USERS = ("credentials", "builtin.sqlite")


def make_state_folder(settings: WorkbenchSettings) -> None:
    """The state folder, root's alone. With system accounts others may pass through it (0711) to reach their
    own credential files and the built-in models by name; everything else in it is made owner-only."""
    state = settings.state_path
    if state.is_dir():
        log.info("State folder %s is there", state)
    else:
        log.info("Making the state folder %s", state)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not settings.isolated:
        state.chmod(0o700)
        return
    state.chmod(0o711)
    for entry in state.iterdir():
        if entry.name in SHARED_WITH_USERS:
            continue
        mode = entry.lstat().st_mode
        if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & 0o077:
            log.info("Making %s readable by its owner only", entry)
            entry.chmod(stat.S_IMODE(mode) & 0o700)


def install_builtins(target: str, messages: int) -> None:
    install = database.builtin_install(target, messages=messages or None)
    log.info("Installing the built-in models (%s messages in the conversations dataset); this can take a while "
             "the first time", messages)
    subprocess.run(install.command, env=install.environment, check=True)
    log.info("The built-in models are installed")


def provision(settings: WorkbenchSettings) -> None:
    """Make what the hub needs; safe to run at every start."""
    make_state_folder(settings)
    if settings.data_admin_url:
        log.info("Preparing the workbench database (roles, the read-only built-in schema)")
        database.prepare_database(settings.data_admin_url)
        # the installer itself adds only what is missing
        install_builtins(settings.data_admin_url, settings.builtin_messages)
        return
    target = builtin_file(settings)
    if target.exists():
        log.info("The built-in models are installed (%s)", target)
    else:
        install_builtins(f"sqlite:///{target}", settings.builtin_messages)
