"""A private PostgreSQL cluster (the tests' ``private_cluster`` fixture) with password (scram-sha-256)
authentication, for isolation tests that mean it.

The machine's own server trusts every local connection, so a test there cannot show that one user is unable
to act as another. This cluster is made with the installed ``initdb``/``pg_ctl`` in a temporary directory, on
a free port, and trusts nobody: every connection, the admin's included, needs its password.

pytest-postgresql (10.0.0) was evaluated and not used: it runs ``initdb``/``pg_ctl`` as the current user (the
tests here run as root, which ``initdb`` refuses) and its password mode is ``--auth=password``, not
scram-sha-256. PostgreSQL refuses to run as root, so as root the cluster runs as the system user ``wbpg``
(created if missing).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy.engine import URL

from testing.support import free_port, wait_for

PG_BIN = Path(os.environ.get("WORKBENCH_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
CLUSTER_OS_USER = "wbpg"
ADMIN_ROLE = "wbadmin"
DATABASE = "workbench"


@dataclass(frozen=True)
class PrivateCluster:
    host: str
    port: int
    admin_password: str

    def url(self, role: str = ADMIN_ROLE, password: str | None = None, database: str = DATABASE) -> str:
        """A SQLAlchemy URL; the admin's password unless another role's is given."""
        password = self.admin_password if password is None and role == ADMIN_ROLE else password
        return URL.create(
            "postgresql+psycopg", username=role, password=password, host=self.host, port=self.port, database=database
        ).render_as_string(hide_password=False)


def reachable_by_all(folder: str | Path) -> bool:
    """Every folder from / down to ``folder`` can be entered by any system user."""
    path = Path(folder).resolve()
    return all(os.stat(part).st_mode & stat.S_IXOTH for part in (path, *path.parents))


def reachable_temp_folder() -> str | None:
    """A temporary folder other system users can reach, or None. Not /tmp first: it is 1700 on these machines,
    and the test hubs open it (o+x) only while a hub needs it (a clone made by ``mktemp -d`` lives there), so a
    cluster made there while it was open lost its data folder when it closed again ("could not stat data
    directory: Permission denied" in the cluster's log, mid-run)."""
    if os.geteuid() != 0:
        return None  # the cluster runs as ourselves: any temporary folder will do
    for base in ("/var/tmp", tempfile.gettempdir(), "/dev/shm"):
        if reachable_by_all(base):
            return base
    raise RuntimeError("no temporary folder here that the PostgreSQL system user can enter")


def _as_cluster_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    try:
        pwd.getpwnam(CLUSTER_OS_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", CLUSTER_OS_USER],
                       check=True, capture_output=True)
    return ["runuser", "-u", CLUSTER_OS_USER, "--", *command]


@contextlib.contextmanager
def running_cluster() -> Iterator[PrivateCluster]:
    """A private cluster for as long as the block runs; it must still be running at the end."""
    root = Path(tempfile.mkdtemp(prefix="workbench-pg-", dir=reachable_temp_folder()))
    data, log = root / "data", root / "server.log"
    password = secrets.token_urlsafe(24)
    pwfile = root / "pwfile"
    pwfile.write_text(password)
    if os.geteuid() == 0:
        _as_cluster_user(["true"])  # makes sure the system user exists before chown
        shutil.chown(root, CLUSTER_OS_USER)
        shutil.chown(pwfile, CLUSTER_OS_USER)
    port = free_port()
    subprocess.run(
        _as_cluster_user([str(PG_BIN / "initdb"), "-D", str(data), "-U", ADMIN_ROLE, f"--pwfile={pwfile}",
                          "--auth=scram-sha-256", "--encoding=UTF8", "--no-sync"]),
        check=True, capture_output=True,
    )
    pwfile.unlink()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40"
    subprocess.run(
        _as_cluster_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
        check=True, capture_output=True,
    )
    cluster = PrivateCluster("127.0.0.1", port, password)
    try:
        import psycopg

        wait_for(lambda: psycopg.connect(cluster.url(database="postgres").replace("+psycopg", "")).close() or True,
                 20, "private PostgreSQL cluster")
        with psycopg.connect(cluster.url(database="postgres").replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
        yield cluster
        # A cluster that stopped under the tests fails them with "connection refused": say why it stopped.
        status = subprocess.run(_as_cluster_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "status"]),
                                capture_output=True, text=True)
        assert status.returncode == 0, ("the private PostgreSQL cluster stopped before the tests ended; its log:\n"
                                        + log.read_text(errors="replace")[-3000:])
    finally:
        subprocess.run(_as_cluster_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
