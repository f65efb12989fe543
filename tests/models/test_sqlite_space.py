"""The embedded default: each user's SQLite file private to them, the built-in file read-only for everyone."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from profiler.datagen.builtins import install_builtins
from profiler.catalog.catalog import Catalog
from profiler.catalog.space import SpaceError, open_space, sqlite_space
from profiler.catalog.spec import Model
from testing.postgres import reachable_temp_folder

OTHER_OS_USER = "nobody"
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or "python3"


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)



def test_each_users_file_is_0600_in_a_0700_folder_and_the_built_in_file_is_read_only(tmp_path, sqlite_builtin):
    for user in ("alice", "bob"):
        catalog = Catalog(sqlite_space(tmp_path / user / "models.sqlite", sqlite_builtin))
        catalog.create(Model("notes", {"id": "integer", "body": "text"}))
        catalog.fill("notes", 2 if user == "alice" else 5)
        assert mode(tmp_path / user) == 0o700 and mode(tmp_path / user / "models.sqlite") == 0o600
    assert mode(sqlite_builtin) == 0o444
    alice = Catalog(sqlite_space(tmp_path / "alice" / "models.sqlite", sqlite_builtin))
    assert [(i.name, i.rows) for i in alice.list(builtins=False)] == [("notes", 2)]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another system user")
def test_another_system_user_can_read_the_built_ins_but_not_a_users_file_and_cannot_write_either(tmp_path_factory):
    """What local mode relies on when the spawner runs each user as their own system user."""
    root = Path(tempfile.mkdtemp(prefix="workbench-space-", dir=reachable_temp_folder()))
    try:
        os.chmod(root, 0o755)
        builtin = root / "builtin.sqlite"
        install_builtins(f"sqlite:///{builtin}", scale=2)
        catalog = Catalog(sqlite_space(root / "alice" / "models.sqlite", builtin))
        catalog.create(Model("secrets", {"id": "integer", "body": "text"}))

        def as_other_user(code: str) -> subprocess.CompletedProcess:
            command = ["runuser", "-u", OTHER_OS_USER, "--", SYSTEM_PYTHON, "-c", f"import sqlite3; {code}"]
            return subprocess.run(command, capture_output=True, text=True, timeout=30)

        readable = as_other_user(f"print(sqlite3.connect({str(builtin)!r}).execute('SELECT count(*) FROM books')"
                                 ".fetchone()[0])")
        assert readable.returncode == 0 and readable.stdout.strip() == "10", readable.stderr
        private = as_other_user(f"sqlite3.connect({str(root / 'alice' / 'models.sqlite')!r})"
                                ".execute('SELECT * FROM secrets')")
        assert private.returncode != 0 and "unable to open database file" in private.stderr, private.stderr
        shared = as_other_user(f"sqlite3.connect({str(builtin)!r}).execute('DROP TABLE books')")
        assert shared.returncode != 0 and "readonly database" in shared.stderr, shared.stderr
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_space_comes_from_the_hubs_environment(tmp_path, sqlite_builtin):
    space = open_space(environ={"WORKBENCH_DATA_URL": f"sqlite:///{tmp_path / 'u' / 'data.sqlite'}",
                                "WORKBENCH_BUILTIN_DATA_URL": f"sqlite:///{sqlite_builtin}"})
    assert (tmp_path / "u" / "data.sqlite").exists() and "books" in Catalog(space).builtin_names()


@pytest.mark.parametrize("environ, message", [
    ({"WORKBENCH_DATA_URL": "postgresql+psycopg://u:p@db/workbench"}, "WORKBENCH_DATA_SCHEMA is not set"),
    ({"WORKBENCH_DATA_URL": "sqlite://"}, "must name a SQLite file"),
    ({"WORKBENCH_DATA_URL": "mysql://u@db/x"}, "PostgreSQL or SQLite, not 'mysql'"),
    ({"WORKBENCH_DATA_URL": "sqlite:////tmp/x.sqlite", "WORKBENCH_BUILTIN_DATA_URL": "sqlite:////nonexistent.sqlite"},
     "the built-in models file /nonexistent.sqlite does not exist"),
])
def test_a_misconfigured_space_says_what_is_missing(environ, message):
    with pytest.raises(SpaceError, match=message):
        open_space(environ=environ)


def test_the_built_in_file_is_attached_read_only_even_for_its_owner(tmp_path, sqlite_builtin):
    os.chmod(sqlite_builtin, 0o644)  # even if the file mode allowed it, mode=ro does not
    try:
        catalog = Catalog(sqlite_space(tmp_path / "models.sqlite", sqlite_builtin))
        with pytest.raises(sqlite3.OperationalError, match="readonly database"):
            raw = catalog.engine.raw_connection()
            try:
                raw.driver_connection.execute("DELETE FROM builtin.books")
            finally:
                raw.close()
    finally:
        os.chmod(sqlite_builtin, 0o444)
