"""The spawners the hub uses: dashboards put into the user's server, a dash-* server started as that one
published dashboard, the user-server configuration and preheating handed over, the hub's AWS keys never."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.web import HTTPError

from spawner import dashboards, environment
from spawner.published import DASHBOARD_VARIABLE, VIEWER_VARIABLE
from spawner.user_server_files import user_server_folder
from spawner.workbench import SharedAccountSpawner
from tests.spawner.conftest import HUB_KEY_ID
from tests.spawner.mocking import make_spawner

OFFERED = dashboards.load_manifest(dashboards.shipped_manifest())
STUDIES = dashboards.load_studies(dashboards.shipped_manifest())


def workbench_spawner(tmp_path, server_name: str = "", **traits):
    return make_spawner(SharedAccountSpawner, "alice", tmp_path, server_name=server_name,
                        **{"playground_enabled": False, **traits})


async def test_a_lab_server_gets_the_dashboards_the_configuration_and_preheating(tmp_path):
    spawner = workbench_spawner(tmp_path, dashboard_pool_size=2)
    await spawner.run_pre_spawn_hook()
    folder = tmp_path / "home" / "alice" / dashboards.FOLDER
    # the studies are put beside the dashboards, to be opened cold: only the dashboards are preheated
    assert STUDIES
    assert sorted(p.name for p in folder.iterdir()) == sorted(d.notebook for d in OFFERED + STUDIES)
    env = spawner.get_env()
    assert env["JUPYTER_CONFIG_PATH"] == str(user_server_folder() / "jupyter_config")
    assert env[dashboards.POOL_SIZE_VARIABLE] == "2"
    assert env[dashboards.PREHEAT_VARIABLE].split() == [f"dashboards/{d.notebook}" for d in OFFERED]
    assert DASHBOARD_VARIABLE not in env and VIEWER_VARIABLE not in env
    assert spawner.get_args() == list(spawner.args)


async def test_a_dash_server_runs_as_its_published_dashboard_only(tmp_path):
    spawner = workbench_spawner(tmp_path, server_name="dash-load-test", dashboard_pool_size=1)
    await spawner.run_pre_spawn_hook()
    env = spawner.get_env()
    assert (env[DASHBOARD_VARIABLE], env[VIEWER_VARIABLE]) == ("load_test.ipynb", "1")
    assert env[dashboards.PREHEAT_VARIABLE] == "dashboards/load_test.ipynb"
    assert env["JUPYTERHUB_DEFAULT_URL"] == "/voila/render/dashboards/load_test.ipynb"
    args = spawner.get_args()
    assert "--ServerApp.jpserver_extensions=user_server.dashboard_only=True" in args
    assert "--ServerApp.reraise_server_extension_failures=True" in args
    assert "--MappingKernelManager.allowed_message_types=comm_msg" in args
    assert not any("execute_request" in arg for arg in args)
    assert args.count("--ServerApp.terminals_enabled=False") == 1
    assert spawner.get_args() == args, "asking twice adds nothing"


async def test_a_dash_name_that_publishes_nothing_is_refused_with_the_names_that_exist(tmp_path):
    spawner = workbench_spawner(tmp_path, server_name="dash-nothing")
    with pytest.raises(HTTPError) as refused:
        await spawner.run_pre_spawn_hook()
    assert refused.value.status_code == 400
    assert "dash-query-optimization" in refused.value.log_message


async def test_without_a_playground_the_server_still_never_sees_the_hubs_aws_keys(tmp_path, moto_endpoint):
    spawner = workbench_spawner(tmp_path, env_keep=["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
    await spawner.run_pre_spawn_hook()
    await spawner.start()
    try:
        for _ in range(200):
            if spawner.env_file.exists() and spawner.env_file.stat().st_size:
                break
            await asyncio.sleep(0.05)
        seen = json.loads(spawner.env_file.read_text())
        assert HUB_KEY_ID not in json.dumps(seen)
        assert environment.AWS_ACCESS_KEY_ID not in seen
        assert seen[environment.DATA_URL].startswith("sqlite:///")
    finally:
        await spawner.stop()


async def test_deleting_a_user_of_a_shared_account_hub_cleans_up_without_an_error(tmp_path):
    # JupyterHub only logs what delete_forever raises: an error here would go unseen by the admin who deleted them
    for server_name in ("", "scratch"):
        await workbench_spawner(tmp_path, server_name=server_name).delete_forever()


@pytest.mark.parametrize(("server_name", "options", "access"), [
    ("", None, "write"),  # the person's own server: their whole playground
    ("dash-load-test", None, "read"),  # a built-in dashboard shows runs; its viewers start nothing
    ("dash-report", {"workbench_own_dashboard": {"title": "Report"}}, "none"),  # the owner chose nothing
    ("dash-report", {"workbench_own_dashboard": {"title": "Report", "playground": "read"}}, "read"),
    ("dash-report", {"workbench_own_dashboard": {"title": "Report", "playground": "write"}}, "write"),
    ("dash-report", {"workbench_own_dashboard": {"title": "Report", "playground": "admin"}}, "none"),
])
def test_a_published_server_gets_only_the_playground_access_its_owner_chose(tmp_path, server_name, options, access):
    spawner = workbench_spawner(tmp_path, server_name=server_name, playground_enabled=True)
    spawner.user_options = options or {}
    assert spawner.playground_access() == access
    # no access: the spawn makes no playground and hands no credentials at all
    assert spawner.uses_playground is (access != "none")


async def test_a_published_server_is_told_its_viewer_limit(tmp_path):
    spawner = workbench_spawner(tmp_path, server_name="dash-load-test", dashboard_max_viewers=7)
    await spawner.run_pre_spawn_hook()
    assert spawner.get_env()["WORKBENCH_DASHBOARD_MAX_VIEWERS"] == "7"
