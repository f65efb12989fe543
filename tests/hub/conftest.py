"""Fixtures that start real hubs (see harness.py). Every hub gets free ports and its own state folder."""

from __future__ import annotations

import pytest

from testing.hub import Hub


@pytest.fixture
def start_hub(tmp_path, request):
    """``hub = start_hub(**{"WORKBENCH_OPEN_SIGNUP": "false"})``: a running hub, stopped after the test."""
    hubs: list[Hub] = []

    def start(**settings: str) -> Hub:
        hub = Hub(tmp_path / f"hub{len(hubs)}", extra_env=settings)
        hubs.append(hub)
        return hub

    yield start
    for hub in hubs:
        leftovers = hub.stop()
        assert not leftovers, f"the hub left processes behind: {leftovers}"


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory):
    """One hub for the tests of a module that only add users of their own (faster than a hub per test)."""
    hub = Hub(tmp_path_factory.mktemp("shared-hub"))
    yield hub
    leftovers = hub.stop()
    assert not leftovers, f"the hub left processes behind: {leftovers}"
