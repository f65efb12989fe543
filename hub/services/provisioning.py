"""Provisioning: everything a hub needs made before it starts, done once, explicitly and idempotently.

``workbench hub`` runs :func:`provision` before it starts JupyterHub (and ``workbench provision`` runs it alone):
the state folder (owner-only), the secret users' database passwords derive from, the workbench's PostgreSQL
database made safe to hand out, and the built-in models installed. Each step says in the log what it did or that
there was nothing to do; running it again changes nothing. Loading the hub's configuration does none of this.

May import :mod:`hub.settings` and :mod:`spawner.database`; the built-ins are installed by a separate process,
so the hub never imports the user side.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
from pathlib import Path

from hub.settings import WorkbenchSettings
from spawner import database

log = logging.getLogger("workbench.provisioning")


def data_secret_path(settings: WorkbenchSettings) -> Path:
    return settings.state_path / "workbench-data-secret"


def builtin_file(settings: WorkbenchSettings) -> Path:
    return settings.state_path / "builtin.sqlite"


def make_state_folder(settings: WorkbenchSettings) -> None:
    state = settings.state_path
    if state.is_dir():
        log.info("State folder %s is there", state)
    else:
        log.info("Making the state folder %s", state)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)


def make_data_secret(path: Path) -> None:
    """The secret user database passwords derive from: made once, readable by the hub's account only."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        log.info("The workbench data secret is there (%s)", path)
        return
    with os.fdopen(descriptor, "wb") as secret:
        secret.write(secrets.token_bytes(32))
    log.info("Made the workbench data secret (%s)", path)


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
        make_data_secret(data_secret_path(settings))
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
