"""A server the hub never recorded (its hub was killed mid-spawn) is stopped when the hub starts again; another
hub's servers on the same machine are left alone."""

from __future__ import annotations

import os
import secrets
import subprocess

import psutil
import pytest

from spawner import limits
from testing.isolation import isolated_hub
from testing.support import wait_for

pytestmark = [pytest.mark.hub, pytest.mark.skipif(os.geteuid() != 0 or limits.available() is not None,
                                                  reason="needs root and control groups, as the default hub has")]


def running_in(group: limits.ServerGroup) -> psutil.Process:
    """A process in the group whose parent is gone, as a server whose hub died is."""
    group.create(limits.ServerLimits())
    started = subprocess.run(["sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!"], preexec_fn=group.join,
                             capture_output=True, text=True, check=True)
    return psutil.Process(int(started.stdout))


def test_a_server_no_hub_recorded_is_stopped_when_the_hub_starts():
    prefix = f"t{secrets.token_hex(3)}-"
    orphan_group = limits.ServerGroup(f"{prefix}ghost.default")
    neighbour_group = limits.ServerGroup(f"n{secrets.token_hex(3)}-someone.default")
    orphan, neighbour = running_in(orphan_group), running_in(neighbour_group)
    try:
        with isolated_hub(WORKBENCH_ACCOUNT_PREFIX=prefix, WORKBENCH_PLAYGROUND="false") as hub:
            wait_for(lambda: not orphan.is_running(), 30, "the orphaned server to be stopped")
            assert not any(folder.exists() for folder in orphan_group.folders)
            assert "Stopping an orphaned server" in hub.log()
            assert neighbour.is_running(), "another hub's server was stopped"
    finally:
        for process in (orphan, neighbour):
            if process.is_running():
                process.kill()
        for group in (orphan_group, neighbour_group):
            group.remove()
