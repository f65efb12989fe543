"""The hub side and the user side agree on the environment they share, variable for variable."""

import profiler.playground as user_side
import user_server.voila_preheat as user_side_preheat
import pytest
import spawner.dashboards as hub_side_dashboards
import spawner.environment as hub_side


def test_both_sides_name_the_same_variables():
    assert hub_side.ALL == user_side.ALL
    for name in ("STACK_NAME", "LOADTEST_TABLE", "RUNS_TABLE", "DATA_URL", "CACHE_URL", "AWS_ENDPOINT_URL"):
        assert getattr(hub_side, name) == getattr(user_side, name)


def test_what_the_hub_writes_the_user_side_reads():
    env = hub_side.build(
        {
            hub_side.STACK_NAME: "profiler-alice",
            hub_side.LOADTEST_TABLE: "profiler-alice-loadtest",
            hub_side.RUNS_TABLE: "profiler-alice-runs",
            hub_side.AWS_REGION: "eu-west-1",
            hub_side.AWS_ENDPOINT_URL: "http://127.0.0.1:5000",
            hub_side.ROLE_ARN: None,
        }
    )
    playground = user_side.current(env)
    assert playground.loadtest_table == "profiler-alice-loadtest"
    assert playground.region == "eu-west-1"
    assert playground.endpoint_url == "http://127.0.0.1:5000"
    assert playground.role_arn is None


def test_the_hub_cannot_leak_a_variable_outside_the_contract():
    with pytest.raises(KeyError, match="HUB_SECRET"):
        hub_side.build({"HUB_SECRET": "x"})


def test_a_server_without_a_playground_says_why():
    with pytest.raises(user_side.NoPlayground, match="PLAYGROUND_STACK_NAME"):
        user_side.current({})


def test_the_dashboards_to_preheat_reach_the_user_side():
    env = hub_side_dashboards.preheat_environment(
        [hub_side_dashboards.Dashboard("load_test.ipynb", "Load test", "")], pool_size=2
    )
    assert hub_side_dashboards.PREHEAT_VARIABLE == user_side_preheat.PREHEAT_VARIABLE
    assert hub_side_dashboards.POOL_SIZE_VARIABLE == user_side_preheat.POOL_SIZE_VARIABLE
    assert user_side_preheat.notebooks_from_environment(env) == ["dashboards/load_test.ipynb"]
    assert hub_side_dashboards.preheat_environment([hub_side_dashboards.Dashboard("a.ipynb", "A", "")], 0) == {}


def test_warm_kernels_reach_the_user_side_instead_of_pools():
    env = hub_side_dashboards.preheat_environment(
        [hub_side_dashboards.Dashboard("load_test.ipynb", "Load test", "")], pool_size=1, warming="kernels")
    assert hub_side_dashboards.WARM_KERNELS_VARIABLE == user_side_preheat.WARM_KERNELS_VARIABLE
    assert env[user_side_preheat.WARM_KERNELS_VARIABLE] == "1" and env[user_side_preheat.POOL_SIZE_VARIABLE] == "0"
    assert user_side_preheat.notebooks_from_environment(env) == ["dashboards/load_test.ipynb"]


def test_the_operators_busy_threshold_reaches_the_user_side_only_when_set():
    dashboards = [hub_side_dashboards.Dashboard("load_test.ipynb", "Load test", "")]
    assert hub_side_dashboards.BUSY_THRESHOLD_VARIABLE == user_side_preheat.BUSY_THRESHOLD_VARIABLE
    env = hub_side_dashboards.preheat_environment(dashboards, pool_size=1, busy_threshold=1)
    assert float(env[user_side_preheat.BUSY_THRESHOLD_VARIABLE]) == 1.0
    unset = hub_side_dashboards.preheat_environment(dashboards, pool_size=1)
    assert user_side_preheat.BUSY_THRESHOLD_VARIABLE not in unset, "the server's own default applies"


def test_the_operators_release_time_reaches_the_user_side_only_when_set():
    dashboards = [hub_side_dashboards.Dashboard("load_test.ipynb", "Load test", "")]
    assert hub_side_dashboards.RELEASE_AFTER_VARIABLE == user_side_preheat.RELEASE_AFTER_VARIABLE
    env = hub_side_dashboards.preheat_environment(dashboards, pool_size=1, release_after=0)
    assert float(env[user_side_preheat.RELEASE_AFTER_VARIABLE]) == 0.0, "0 (never) is a value, not unset"
    unset = hub_side_dashboards.preheat_environment(dashboards, pool_size=1)
    assert user_side_preheat.RELEASE_AFTER_VARIABLE not in unset, "the server's own default applies"


def test_dashboards_know_a_viewer_by_the_variable_the_hub_sets():
    from dashboards.common import VIEWER_ENV, is_viewer
    from spawner.published import VIEWER_VARIABLE, published_server

    assert VIEWER_ENV == VIEWER_VARIABLE
    published = published_server(hub_side_dashboards.Dashboard("load_test.ipynb", "Load test", ""), 10)
    assert is_viewer(published.environment)


def test_a_published_server_reads_the_dashboard_the_spawner_names():
    import user_server.dashboard_only as user_side_published
    from spawner.published import DASHBOARD_VARIABLE, published_server

    assert user_side_published.DASHBOARD_VARIABLE == DASHBOARD_VARIABLE
    published = published_server(hub_side_dashboards.Dashboard("load_test.ipynb", "Load test", ""), 10)
    assert published.environment[user_side_published.DASHBOARD_VARIABLE] == "load_test.ipynb"


def test_a_published_server_reads_its_viewer_limit_from_the_spawners_variable():
    import user_server.dashboard_only as user_side_published
    from spawner.published import MAX_VIEWERS_VARIABLE, published_server

    assert user_side_published.MAX_VIEWERS_VARIABLE == MAX_VIEWERS_VARIABLE
    published = published_server(hub_side_dashboards.Dashboard("load_test.ipynb", "Load test", ""), 10, max_viewers=3)
    assert user_side_published.max_viewers(published.environment) == 3


def test_the_built_in_schema_has_one_name_on_both_sides():
    from spawner import database

    assert database.BUILTIN_SCHEMA == user_side.BUILTIN_SCHEMA == "builtin"


def test_the_built_in_installer_reads_the_url_the_hub_hands_it():
    from profiler.datagen import builtins
    from spawner import database

    assert builtins.INSTALL_URL_VARIABLE == database.INSTALL_URL_VARIABLE
