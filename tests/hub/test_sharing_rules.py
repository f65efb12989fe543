"""The rules behind published dashboards, without a hub: server names, what a published server answers, and
which shares make the "Shared with me" list. (test_sharing.py checks the same through a real hub.)"""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from spawner.dashboards import Dashboard, load_manifest
from user_server.dashboard_only import OutsideDashboard, allowed_paths
from hub.sharing.pages import shared_with
from spawner.published import PublishError, published_dashboard, published_server, server_name
from testing.support import REPO_ROOT

QUERY = Dashboard("query_optimization.ipynb", "Query optimization", "...")
LOAD = Dashboard("load_test.ipynb", "Load test", "...")
BASE = "/user/alice/dash-query-optimization/"
KERNEL = "0b5f6f3e-8c6a-4f0e-9d8e-2a1b3c4d5e6f"


def test_every_offered_dashboard_has_a_server_name_jupyterhub_accepts():
    names = [server_name(d) for d in load_manifest(REPO_ROOT / "notebooks" / "dashboards.json")]
    assert "dash-query-optimization" in names and len(set(names)) == len(names)
    assert all(name == name.lower() and "_" not in name for name in names)


def test_a_server_name_maps_back_to_its_dashboard_and_unknown_ones_are_refused_by_name():
    assert published_dashboard("dash-load-test", [QUERY, LOAD]) == LOAD
    assert published_dashboard("", [QUERY]) is None  # the default (Lab) server publishes nothing
    assert published_dashboard("experiments", [QUERY]) is None
    with pytest.raises(PublishError, match="dash-nope.*dash-query-optimization"):
        published_dashboard("dash-nope", [QUERY])
    with pytest.raises(PublishError, match="Odd Name.ipynb"):
        server_name(Dashboard("Odd Name.ipynb", "t", "d"))


def test_the_published_server_is_started_restricted_and_marked_as_viewed():
    published = published_server(QUERY, auth_cache_seconds=7, pool_size=1, max_viewers=12)
    assert published.default_url == "/voila/render/dashboards/query_optimization.ipynb"
    assert published.environment == {"WORKBENCH_PUBLISHED_DASHBOARD": "query_optimization.ipynb",
                                     "WORKBENCH_DASHBOARD_VIEWER": "1",
                                     "WORKBENCH_DASHBOARD_MAX_VIEWERS": "12",
                                     # its viewers' pages come from a kernel that already ran this dashboard only
                                     "WORKBENCH_PREHEAT_NOTEBOOKS": "dashboards/query_optimization.ipynb",
                                     "WORKBENCH_PREHEAT_POOL_SIZE": "1"}
    unheated = published_server(QUERY, auth_cache_seconds=7, pool_size=0)
    assert unheated.environment["WORKBENCH_PREHEAT_NOTEBOOKS"] == ""
    assert "--ServerApp.jpserver_extensions=user_server.dashboard_only=True" in published.args
    assert "--ServerApp.jpserver_extensions=jupyterlab=False" in published.args
    assert "--HubOAuth.cache_max_age=7" in published.args
    assert "--ServerApp.reraise_server_extension_failures=True" in published.args
    allowed = {a.split("=", 1)[1] for a in published.args if a.startswith("--MappingKernelManager.allowed_message")}
    assert "execute_request" not in allowed and {"comm_open", "comm_msg"} <= allowed


def refused(path: str, method: str = "GET") -> bool:
    matcher = OutsideDashboard(BASE, allowed_paths("query_optimization.ipynb"))
    start = RequestStartLine(method, path, "HTTP/1.1")
    request = HTTPServerRequest(start_line=start, headers=HTTPHeaders({"Host": "127.0.0.1"}))
    return matcher.match(request) is not None


@pytest.mark.parametrize("path", [
    BASE, BASE[:-1], BASE + "api", BASE + "oauth_callback",
    BASE + "voila/render/dashboards/query_optimization.ipynb",
    BASE + "voila/static/voila.js", BASE + "voila/labextensions/@jupyter-widgets/x.js",
    BASE + f"api/kernels/{KERNEL}/channels", BASE + f"api/kernels/{KERNEL}",
])
def test_the_dashboard_page_and_what_it_needs_answer(path):
    assert not refused(path)


@pytest.mark.parametrize("path,method", [
    ("lab", "GET"), ("tree", "GET"), ("api/contents", "GET"), ("api/contents/dashboards", "PUT"),
    ("api/terminals", "POST"), ("terminals/websocket/1", "GET"), ("api/kernels", "POST"), ("api/sessions", "POST"),
    (f"api/kernels/{KERNEL}", "DELETE"), (f"api/kernels/{KERNEL}/restart", "POST"),
    (f"api/kernels/{KERNEL}/interrupt", "POST"), ("files/dashboards/query_optimization.ipynb", "GET"),
    ("voila/tree", "GET"), ("voila/render/dashboards/load_test.ipynb", "GET"),
    ("voila/render/dashboards/query_optimization.ipynb/../load_test.ipynb", "GET"),
    ("voila/render/dashboards/query_optimization.ipynb%2F..%2Fload_test.ipynb", "GET"),
    ("voila/files/data/secret.png", "GET"), ("voila/api/contents/", "GET"), ("/api/contents", "GET"),
])
def test_everything_else_is_refused(path, method):
    assert refused(BASE + path, method)


def test_another_servers_paths_are_refused():
    assert refused("/user/alice/lab") and refused("/user/alice/dash-load-test/voila/static/voila.js")


def share(owner: str, server: str):
    return SimpleNamespace(owner=SimpleNamespace(name=owner), spawner=SimpleNamespace(name=server))


def test_shared_with_me_lists_each_published_dashboard_once_and_leaves_other_servers_out():
    shares = [share("carol", "dash-load-test"), share("alice", "dash-query-optimization"),
              share("alice", "dash-query-optimization"),  # shared with the user and with one of their groups
              share("alice", ""), share("alice", "scratch")]
    listed = shared_with(shares, [QUERY, LOAD], base_url="/")
    assert [(d.title, d.owner, d.url) for d in listed] == [
        ("Load test", "carol", "/user/carol/dash-load-test/"),
        ("Query optimization", "alice", "/user/alice/dash-query-optimization/"),
    ]
    assert shared_with([share("o'brien", "dash-load-test")], [LOAD])[0].url == "/user/o%27brien/dash-load-test/"


def test_a_published_server_that_is_not_told_its_dashboard_refuses_to_start(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "WORKBENCH_PUBLISHED_DASHBOARD"}
    server = subprocess.run(
        [sys.executable, "-m", "jupyter_server", "--ServerApp.jpserver_extensions=user_server.dashboard_only=True",
         "--ServerApp.reraise_server_extension_failures=True", "--ServerApp.port=0", "--ServerApp.open_browser=False",
         f"--ServerApp.root_dir={tmp_path}"],
        env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert server.returncode != 0
    assert "WORKBENCH_PUBLISHED_DASHBOARD is not set: refusing to run a published server unrestricted" in server.stderr
