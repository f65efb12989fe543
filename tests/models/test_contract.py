"""The hub side and the user side agree on the built-in schema's name without importing each other."""

from __future__ import annotations

import subprocess
import sys

from profiler import playground
from profiler.catalog.catalog import Catalog
from profiler.catalog.spec import Model
from spawner import database
from testing.support import REPO_ROOT


def test_both_sides_name_the_same_built_in_schema():
    assert database.BUILTIN_SCHEMA == playground.BUILTIN_SCHEMA == "builtin"


def test_the_hub_side_never_imports_the_user_side():
    script = ("import sys, spawner.database; "
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('profiler', 'widgets')))")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_local_mode_environment_opens_the_users_file_beside_the_built_ins(tmp_path):
    """The hub's SQLite variables and command, read by the user side as a server would."""
    builtin = tmp_path / "hub" / "builtin.sqlite"
    builtin.parent.mkdir()
    install = database.builtin_install(f"sqlite:///{builtin}", scale=2, messages=50)
    subprocess.run(install.command, env=install.environment, cwd=REPO_ROOT, check=True, capture_output=True,
                   timeout=60)
    environ = database.sqlite_environment(tmp_path / "home" / "alice" / ".workbench", builtin)
    catalog = Catalog.connect(environ=environ)
    catalog.create(Model("notes", {"id": "integer"}))
    assert (tmp_path / "home" / "alice" / ".workbench" / "models.sqlite").exists()
    rows = {i.name: i.rows for i in catalog.list()}
    assert (rows["notes"], rows["books"], rows["messages"]) == (0, 10, 50)


def test_the_admins_database_url_never_reaches_a_command_line():
    """Every account on the machine can read a process's command line (``ps``); the URL carries a password."""
    url = "postgresql+psycopg://admin:hunter2@db.internal/workbench"
    install = database.builtin_install(url, messages=10, base_environment={"PATH": "/usr/bin"})
    assert not any("hunter2" in part for part in install.command)
    assert "hunter2" not in repr(install)
    assert install.environment[database.INSTALL_URL_VARIABLE] == url
