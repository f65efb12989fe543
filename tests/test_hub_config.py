"""The hub's configuration file only assigns: loading it changes nothing on disk or in a database, and the
spawner it names is a registered entry point of this package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from testing.support import REPO_ROOT

LOAD_CONFIG = """
import json, sys
from traitlets.config import Config
from jupyterhub.app import JupyterHub
app = JupyterHub()
app.load_config_file(sys.argv[1])
c = app.config
print(json.dumps({"spawner_class": c.JupyterHub.spawner_class, "db_url": c.JupyterHub.db_url,
                  "admins": sorted(c.Authenticator.admin_users),
                  "pool": c.WorkbenchSpawnerMixin.dashboard_pool_size,
                  "named_server_limit": c.JupyterHub.named_server_limit_per_user,
                  "services": [s["name"] for s in c.JupyterHub.services],
                  "mem_limit": c.Spawner.mem_limit, "cpu_limit": c.Spawner.cpu_limit,
                  "args": list(c.Spawner.get("args", [])),
                  "accounts": {key: c.SystemAccountSpawnerMixin.get(key) for key in
                               ("homes_dir", "account_prefix", "max_processes", "max_open_files")}}))
"""


def tree(root):
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def load_config(tmp_path, **env) -> dict:
    state = tmp_path / "state"
    out = subprocess.run(
        [sys.executable, "-c", LOAD_CONFIG, str(REPO_ROOT / "hub" / "jupyterhub_config.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "WORKBENCH_STATE_DIR": str(state), **env},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # loads the configuration in a new Python
def test_loading_the_configuration_changes_nothing(tmp_path):
    before = tree(tmp_path)
    config = load_config(tmp_path, WORKBENCH_ADMIN_USERS="alice, bob")
    assert tree(tmp_path) == before, "loading the configuration made files"
    assert not (tmp_path / "state").exists()
    assert config["admins"] == ["alice", "bob"]
    assert config["db_url"] == f"sqlite:///{tmp_path / 'state' / 'jupyterhub.sqlite'}"
    assert config["services"] == ["local-aws", "playground-reaper", "idle-culler"]
    assert config["named_server_limit"] == 10


@pytest.mark.postgres
def test_loading_the_configuration_touches_no_database(tmp_path, private_cluster):
    """On a cluster of its own: the machine's shared one gains roles from tests running beside this one."""
    import psycopg

    admin = private_cluster.url(database="postgres").replace("+psycopg", "")
    with psycopg.connect(admin) as connection:
        roles = connection.execute("SELECT count(*) FROM pg_roles").fetchone()
        schemas = connection.execute("SELECT count(*) FROM pg_namespace").fetchone()
    load_config(tmp_path, WORKBENCH_DATA_ADMIN_URL=private_cluster.url(database="never_made"))
    with psycopg.connect(admin) as connection:
        assert connection.execute("SELECT count(*) FROM pg_roles").fetchone() == roles
        assert connection.execute("SELECT count(*) FROM pg_namespace").fetchone() == schemas
        made = connection.execute("SELECT 1 FROM pg_database WHERE datname = 'never_made'").fetchone()
    assert made is None


@pytest.mark.parametrize("choice, cls", [("local", "SharedAccountSpawner"), ("system-users", "SystemUserSpawner")])
@pytest.mark.slow  # loads the configuration in a new Python
def test_the_spawner_the_hub_uses_is_a_registered_entry_point(tmp_path, choice, cls):
    import spawner.workbench
    from hub.configure import SPAWNERS

    if choice == "local" and os.geteuid() == 0:
        name = SPAWNERS[choice]  # as root the configuration refuses it (below): the name it would have given
    else:
        name = load_config(tmp_path, WORKBENCH_SPAWNER=choice)["spawner_class"]
    (point,) = [p for p in entry_points(group="jupyterhub.spawners") if p.name == name]
    assert point.load() is getattr(spawner.workbench, cls)


@pytest.mark.slow  # loads the configuration in a new Python
def test_the_default_hub_as_root_runs_each_user_as_their_own_limited_account(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the default depends on running as root")
    config = load_config(tmp_path, WORKBENCH_HOMES_DIR="/srv/homes", WORKBENCH_SERVER_MEMORY_LIMIT="2G",
                         WORKBENCH_SERVER_MAX_PROCESSES="300")
    assert config["spawner_class"] == "workbench-system-users"
    assert "--allow-root" not in config["args"]  # no server ever runs as root
    assert config["accounts"] == {"homes_dir": "/srv/homes", "account_prefix": "wb-", "max_processes": 300,
                                  "max_open_files": 4096}
    assert config["mem_limit"] == "2G" and config["cpu_limit"] == 2.0


@pytest.mark.slow  # loads the configuration in a new Python
def test_a_hub_run_as_root_never_runs_users_servers_as_root(tmp_path):
    """The hub's account runs every server with `local`: as root the configuration refuses it, whoever starts
    JupyterHub with it, and says what to do."""
    if os.geteuid() != 0:
        pytest.skip("only root can be refused")
    from hub.settings import LOCAL_AS_ROOT

    out = subprocess.run(
        [sys.executable, "-c", LOAD_CONFIG, str(REPO_ROOT / "hub" / "jupyterhub_config.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "WORKBENCH_STATE_DIR": str(tmp_path / "state"),
             "WORKBENCH_SPAWNER": "local"},
    )
    assert out.returncode != 0 and LOCAL_AS_ROOT in out.stderr, out.stderr[-2000:]
    assert not (tmp_path / "state").exists()
