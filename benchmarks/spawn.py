"""Login -> ready server, with the user's playground (PlaygroundSpawner on the local moto AWS) vs the same hub
without it (WORKBENCH_PLAYGROUND=false), alternating, several rounds, medians; then N concurrent spawns on each.
As root both run as the default hub does, each user as a system account of their own, and a third hub without
a playground run by an ordinary account, as on a laptop (every server runs as that account), measures what
that isolation costs (``isolation_ratio``). A fourth hub, the first's twin with no dashboard preheating
(WORKBENCH_DASHBOARD_POOL_SIZE=0), takes the same N concurrent logins: ``pool_ratio`` is the 95th percentile of
login -> ready with the pool over that without it, so preheating that slowed logins would show there.

    python benchmarks/spawn.py            # 3 rounds, 20 concurrent
    python benchmarks/spawn.py --quick    # 1 round, 5 concurrent

Each timed login is a fresh user: sign-up and password check are not timed (they are the authenticator's),
the clock runs from the spawn request to the server's "ready" event on the progress stream, as the spawn
page sees it (for concurrent logins, each user's own spawn request to ready). The last line is one JSON object;
``ratio`` = playground / plain login-to-ready median.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testing.hub import Hub
from testing.isolation import isolated_hub, unprivileged_hub

ADMIN = "boss"


def timed_login(hub: Hub, username: str) -> float:
    browser = hub.signup_and_login(username)
    began = time.monotonic()
    progress = hub.start_server(browser, username, timeout=300)
    elapsed = time.monotonic() - began
    if not progress.ready:
        raise RuntimeError(f"{username} did not get a server: {progress.messages[-3:]}")
    hub.hub_api(browser, "DELETE", f"/users/{username}/server")  # keep the machine quiet for the next round
    return elapsed


def concurrent_spawns(hub: Hub, admin, prefix: str, count: int) -> tuple[float, list[float]]:
    """``count`` users' servers asked for at once: seconds until all are ready, and each one's request -> ready."""
    usernames = [f"{prefix}{number:02d}" for number in range(count)]
    created = hub.hub_api(admin, "POST", "/users", json={"usernames": usernames})
    if created.status_code != 201:
        raise RuntimeError(f"could not create users: {created.text}")

    def spawn(name: str) -> float | None:
        asked = time.monotonic()
        hub.hub_api(admin, "POST", f"/users/{name}/server")
        ready = hub.follow_progress(admin, name, timeout=600).ready
        return time.monotonic() - asked if ready else None

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=count) as pool:
        each = list(pool.map(spawn, usernames))
    elapsed = time.monotonic() - began
    if None in each:
        raise RuntimeError(f"{each.count(None)} of {count} concurrent spawns failed")
    # servers left running would keep preheating their dashboards while the other hub is measured
    for name in usernames:
        hub.hub_api(admin, "DELETE", f"/users/{name}/server")
    return elapsed, each


def percentile_95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 round and 5 concurrent spawns")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--concurrent", type=int, default=None)
    parser.add_argument("--dashboard-pool-size", default="1",
                        help="WORKBENCH_DASHBOARD_POOL_SIZE on both hubs (default 1, a hub's default; the test "
                             "harness uses 0): each server starts running its dashboards in advance as it starts")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    concurrent = args.concurrent or (5 if args.quick else 20)

    isolated = os.geteuid() == 0
    kinds = ("playground", "plain", "shared") if isolated else ("playground", "plain")
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    totals: dict[str, float] = {}
    each: dict[str, list[float]] = {}
    common = {"WORKBENCH_DASHBOARD_POOL_SIZE": str(args.dashboard_pool_size), "WORKBENCH_ADMIN_USERS": ADMIN}
    settings = {"playground": common, "plain": {**common, "WORKBENCH_PLAYGROUND": "false"},
                "shared": {**common, "WORKBENCH_PLAYGROUND": "false"}}
    with tempfile.TemporaryDirectory(prefix="spawn-bench-") as scratch, contextlib.ExitStack() as stack:
        hubs = {}
        for kind in kinds:
            if kind == "shared":  # a hub of an ordinary account: every server runs as it, nobody isolated
                hubs[kind] = stack.enter_context(unprivileged_hub(**settings[kind]))
            elif isolated:
                hubs[kind] = stack.enter_context(isolated_hub(**settings[kind]))
            else:
                hubs[kind] = stack.enter_context(Hub(Path(scratch) / kind, settings[kind]))
        unheated = {**common, "WORKBENCH_DASHBOARD_POOL_SIZE": "0"}
        hubs["no_pool"] = stack.enter_context(
            isolated_hub(**unheated) if isolated else Hub(Path(scratch) / "no_pool", unheated))
        admins = {kind: hub.admin_login(ADMIN) for kind, hub in hubs.items()}
        # The first spawn after a hub starts pays once for what no later login pays (a cold page cache for the
        # server's imports: 9.2 s for an isolated hub's first login, then 3.6 and 4.9 s, measured 2026-12-07):
        # one untimed login per hub first, so the medians compare logins as users meet them.
        for hub in hubs.values():
            timed_login(hub, "warmup")
        for number in range(rounds):
            order = kinds if number % 2 == 0 else tuple(reversed(kinds))
            for kind in order:
                seconds = timed_login(hubs[kind], f"bench{number:02d}")
                times[kind].append(seconds)
                print(f"round {number + 1}: {kind:10s} login -> ready {seconds:6.2f} s", flush=True)
        for kind in ("playground", "plain", "no_pool"):
            totals[kind], each[kind] = concurrent_spawns(hubs[kind], admins[kind], "crowd", concurrent)
            print(f"{concurrent} concurrent spawns, {kind:10s}: all ready in {totals[kind]:6.2f} s, "
                  f"95th percentile {percentile_95(each[kind]):6.2f} s", flush=True)

    with_playground = statistics.median(times["playground"])
    without = statistics.median(times["plain"])
    result = {
        "benchmark": "spawn",
        "rounds": rounds,
        "dashboard_pool_size": int(args.dashboard_pool_size),
        "login_to_ready_playground_s": round(with_playground, 2),
        "login_to_ready_plain_s": round(without, 2),
        "playground_overhead_s": round(with_playground - without, 2),
        "concurrent_spawns": concurrent,
        "concurrent_total_playground_s": round(totals["playground"], 2),
        "concurrent_total_plain_s": round(totals["plain"], 2),
        "concurrent_ratio": round(totals["playground"] / totals["plain"], 2),
        "concurrent_p95_pool_s": round(percentile_95(each["playground"]), 2),
        "concurrent_p95_no_pool_s": round(percentile_95(each["no_pool"]), 2),
        "pool_ratio": round(percentile_95(each["playground"]) / percentile_95(each["no_pool"]), 2),
        "isolated": isolated,
        **({"login_to_ready_shared_account_s": round(statistics.median(times["shared"]), 2),
            "isolation_ratio": round(without / statistics.median(times["shared"]), 2)} if isolated else {}),
        "ratio": round(with_playground / without, 2),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
