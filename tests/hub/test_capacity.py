"""The crowd simulator (benchmarks/capacity.py) on a small crowd: every user gets through every step on a real
default hub, and its last line says what the benchmark promises. Timings are the benchmark's to report, not
asserted here (they depend on what else runs on the machine)."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from testing.support import REPO_ROOT

pytestmark = [pytest.mark.hub, pytest.mark.slow]

KEYS = ("users", "failures", "login_ready_p95_s", "dashboard_tti_p95_s", "action_p95_s", "idle_user_pss_mib",
        "active_user_pss_mib", "peak_memory_gib", "hub_loop_lag_max_s", "hub_loop_stalls_over_100ms")


def load_benchmark():
    # benchmarks/ is a folder of scripts, not a package
    spec = importlib.util.spec_from_file_location("capacity_benchmark", REPO_ROOT / "benchmarks" / "capacity.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_three_users_sign_up_start_open_a_dashboard_press_it_idle_and_come_back(tmp_path, capsys):
    capacity = load_benchmark()
    # a share that makes exactly one of the three active
    result = capacity.main(["--users", "3", "--ramp-seconds", "2", "--idle-seconds", "4", "--active-share", "0.34",
                            "--timeout", "120", "--out", str(tmp_path)])
    last_line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last_line == result
    assert result["failures"] == 0, result["failure_list"]
    assert set(KEYS) <= set(result)
    assert result["users"] == result["reached_ready"] == result["reached_dashboard"] == 3
    assert result["steps"]["return_tti"]["n"] == 3 and result["steps"]["action"]["n"] == 1
    assert result["idle_user_pss_mib"] > 0 and result["active_user_pss_mib"] > 0
    assert result["leftover_processes"] == 0
    # the hub's event loop, from its own metrics scraped with an operator's token
    assert result["steps"]["metrics_scrape"]["n"] >= 1
    assert result["hub_loop_lag_max_s"] >= 0 and result["hub_loop_stalls_over_100ms"] >= 0
    assert (tmp_path / "capacity-3.json").exists()
    assert any(tmp_path.glob("capacity-3.[cp][sn][vg]"))
