"""What an operator scrapes from a real hub: JupyterHub's metrics and the workbench's own on /hub/metrics, for a
token holding ``read:metrics`` only, with a user's server running; nobody else reads them."""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from testing.hub import Hub

pytestmark = [pytest.mark.hub, pytest.mark.slow]


def samples(text: str) -> dict[tuple, float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("metrics-hub"),
              extra_env={"WORKBENCH_PLAYGROUND": "false", "WORKBENCH_ADMIN_USERS": "boss"})
    yield hub
    leftovers = hub.stop()
    assert not leftovers, f"the hub left processes behind: {leftovers}"


def test_an_operator_token_scrapes_the_workbench_metrics_and_nobody_else_does(hub):
    anonymous = requests.get(f"{hub.url}/hub/metrics", timeout=30)
    assert anonymous.status_code == 403, anonymous.status_code
    assert "workbench_" not in anonymous.text

    session = hub.signup_and_login("ada")
    assert hub.start_server(session, "ada").ready
    # a user who is no administrator holds no read:metrics: their login does not open the page either
    assert session.get(f"{hub.url}/hub/metrics", timeout=30).status_code == 403

    admin = hub.admin_login("boss")
    made = hub.hub_api(admin, "POST", "/users/boss/tokens", json={"scopes": ["read:metrics"], "note": "prometheus"})
    assert made.status_code == 201, made.text
    token = made.json()["token"]

    deadline = time.monotonic() + 60
    # The hub probes its local AWS before it serves: it is up once a probe after that answers. Memory is read
    # from /proc every few seconds, off the event loop: ada's shows from the first reading after her start.
    while True:
        page = requests.get(f"{hub.url}/hub/metrics", headers={"Authorization": f"token {token}"}, timeout=30)
        assert page.status_code == 200, page.text[:500]
        values = samples(page.text)
        ready = values.get(("workbench_local_aws_up", ())) == 1 and ("workbench_user_memory_bytes",
                                                                      (("user", "ada"),)) in values
        if ready or time.monotonic() > deadline:
            break
        time.sleep(1)

    assert ("jupyterhub_running_servers", ()) in values  # JupyterHub's own, on the same page
    assert values[("workbench_user_servers", (("kind", "own"),))] >= 1
    assert values[("workbench_user_servers", (("kind", "dashboard"),))] == 0
    ada = values[("workbench_user_memory_bytes", (("user", "ada"),))]
    assert 10 * 2**20 < ada < 4 * 2**30, ada
    assert values[("workbench_user_memory_bytes_total", ())] >= ada
    assert values[("workbench_kernels", ())] >= 0 and values[("workbench_warm_kernels", ())] >= 0
    assert values[("workbench_local_aws_up", ())] == 1, page.text
    assert 0 < values[("workbench_local_aws_response_seconds", ())] < 5
    # the hub's event loop watched from its start, ten times a second
    assert values[("workbench_hub_event_loop_lag_seconds_count", ())] > 10
    assert 0 <= values[("workbench_hub_event_loop_lag_max_seconds", ())] < 60
    for name in ("workbench_user_servers", "workbench_user_memory_bytes", "workbench_local_aws_up",
                 "workbench_hub_event_loop_lag_seconds"):
        assert f"# HELP {name} " in page.text
