"""A crowd on one machine: N users against a real default hub, played the way JupyterHub's traffic simulator
(hubtraf) plays them, as asyncio tasks in this one process.

    python benchmarks/capacity.py                 # 100 users over a 300 s ramp, a third of them active
    python benchmarks/capacity.py --users 10
    python benchmarks/capacity.py --quick         # 5 users, short ramp and idle time

Each user, arriving at their point of the ramp: signs up, logs in (``login``), asks for their server and follows
the spawn page's progress stream to "ready" (``login_ready``: from the login form's POST to the ready event);
opens a dashboard's Voila page (``dashboard_tti``, see below); an active user then presses its main control and
waits for its progress bar to say it succeeded (``action``); everyone closes the page (as a browser tab closes: its
kernel is shut down), goes idle for ``--idle-seconds``, and comes back to the same page (``return_tti``).

Time to interactive without a browser: the Voila page's GET (the notebook has run when its last byte arrives),
then what the page's script does before its controls answer: the kernel's websocket opened, ``kernel_info_reply``
received, and the widgets' states fetched over the ``jupyter.widget.control`` comm (the browser cannot draw the
button before it has them); the clock stops when the main control's state has arrived. The control is pressed
as the browser's widget manager presses it: a ``custom`` ``click`` message to the button's comm.

Also sampled every second from /proc: the machine's used memory (MemTotal - MemAvailable) and CPU busy share,
written as CSV (and a PNG if matplotlib is installed) beside the JSON. Memory per user: the PSS of their processes
(/proc/<pid>/smaps_rollup), found by the system account their server runs as (a hub run as root, the default)
or by JUPYTERHUB_USER in the environment of the hub's descendants; read halfway through each user's idle time.
The hub's own event loop: an operator's token (an administrator, ``read:metrics`` only) scrapes the hub's
``/hub/metrics`` every 15 s, as Prometheus would, and the last scrape's ``workbench_hub_event_loop_lag_seconds``
gives the largest lag of the run (``hub_loop_lag_max_s``) and how many of the hub's ten checks a second found it
held for more than 0.1 s (``hub_loop_stalls_over_100ms``); ``metrics_scrape`` times the scrapes themselves.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import pwd
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
import yarl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spawner import names  # noqa: E402
from testing.hub import Hub, xsrf_from  # noqa: E402 - the hub the tests start

PASSWORD = "correct horse battery"
DASHBOARD = "caching.ipynb"  # light: in-process memory cache on the built-in SQLite, seconds per run
CONTROL = "Run comparison"  # its main control's description
PROGRESS = "Caching comparison"  # the label of the progress bar that says how the run ended
STEPS = ("signup", "login", "login_ready", "dashboard_tti", "action", "return_tti", "metrics_scrape")
OPERATOR = "crowdoperator"  # an administrator (WORKBENCH_ADMIN_USERS), whose token reads the metrics
SCRAPE_INTERVAL = 15.0  # Prometheus' default
STALL_SECONDS = 0.1


@dataclass
class Crowd:
    hub: Hub
    idle_seconds: float
    timeout: float
    steps: dict[str, list[float]] = field(default_factory=lambda: {step: [] for step in STEPS})
    failures: list[dict] = field(default_factory=list)
    pss_mib: dict[str, list[float]] = field(default_factory=lambda: {"idle": [], "active": []})
    reached: dict[str, set] = field(default_factory=lambda: {"ready": set(), "dashboard": set()})

    def fail(self, user: str, step: str, error: BaseException | str) -> None:
        self.failures.append({"user": user, "step": step, "error": repr(error)[:300]})
        print(f"{user}: {step} failed: {error!r}"[:400], file=sys.stderr, flush=True)


# --- one user, over HTTP and the kernel websocket -------------------------------------------------------------
class User:
    def __init__(self, crowd: Crowd, name: str, active: bool):
        self.crowd, self.hub, self.name, self.active = crowd, crowd.hub, name, active
        self.http: aiohttp.ClientSession | None = None

    def hub_xsrf(self) -> str:
        cookie = self.http.cookie_jar.filter_cookies(yarl.URL(f"{self.hub.url}/hub/")).get("_xsrf")
        return cookie.value if cookie else ""

    async def timed(self, step: str, action):
        began = time.monotonic()
        try:
            result = await asyncio.wait_for(action(), self.crowd.timeout)
        except BaseException as error:
            self.crowd.fail(self.name, step, error)
            raise
        self.crowd.steps[step].append(time.monotonic() - began)
        return result

    async def run(self) -> None:
        # unsafe: the cookie jar would otherwise drop cookies from hosts it takes for IP addresses
        jar = aiohttp.CookieJar(unsafe=True)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=self.crowd.timeout)
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=timeout) as self.http:
            with contextlib.suppress(BaseException):
                await self.timed("signup", self.signup)
                await self.timed("login", self.login)
                await self.timed("login_ready", self.start_server)
                self.crowd.reached["ready"].add(self.name)
                page = await self.timed("dashboard_tti", self.open_dashboard)
                self.crowd.reached["dashboard"].add(self.name)
                try:
                    if self.active:
                        await self.timed("action", lambda: self.press(page))
                finally:
                    await page.close()
                await asyncio.sleep(self.crowd.idle_seconds / 2)
                await self.measure_memory()
                await asyncio.sleep(self.crowd.idle_seconds / 2)
                page = await self.timed("return_tti", self.open_dashboard)
                await page.close()

    async def form(self, path: str, data: dict) -> aiohttp.ClientResponse:
        async with self.http.get(f"{self.hub.url}{path}") as page:
            page.raise_for_status()
            text = await page.text()
        response = await self.http.post(f"{self.hub.url}{path}", data={"_xsrf": xsrf_from(text), **data},
                                        allow_redirects=False)
        await response.read()
        return response

    async def signup(self) -> None:
        response = await self.form("/hub/signup", {"username": self.name, "signup_password": PASSWORD,
                                                   "signup_password_confirmation": PASSWORD})
        text = await response.text()
        if "signup was successful" not in text and "already exists" not in text.lower():
            raise RuntimeError(f"sign-up refused ({response.status}): {text[-300:]}")

    async def login(self) -> None:
        response = await self.form("/hub/login", {"username": self.name, "password": PASSWORD})
        if response.status != 302:
            raise RuntimeError(f"login answered {response.status}")

    async def start_server(self) -> None:
        async with self.http.get(f"{self.hub.url}/hub/spawn/{self.name}", allow_redirects=False) as response:
            if response.status not in (302, 303):
                raise RuntimeError(f"spawn answered {response.status}: {(await response.text())[:300]}")
        url = f"{self.hub.url}/hub/api/users/{self.name}/server/progress"
        headers = {"Accept": "text/event-stream", "X-XSRFToken": self.hub_xsrf()}
        last: dict = {}
        async with self.http.get(url, headers=headers) as stream:
            if stream.status != 200:
                raise RuntimeError(f"progress answered {stream.status}")
            async for raw in stream.content:
                line = raw.decode().strip()
                if line.startswith("data:"):
                    last = json.loads(line[len("data:"):])
                    if last.get("ready"):
                        return
                    if last.get("failed"):
                        break
        raise RuntimeError(f"no ready server: {last.get('message')}")

    async def open_dashboard(self) -> "VoilaPage":
        url = f"{self.hub.user_url(self.name)}voila/render/dashboards/{DASHBOARD}"
        async with self.http.get(url) as response:
            text = await response.text()
            if response.status != 200 or str(response.url).rstrip("/") != url:
                raise RuntimeError(f"the page answered {response.status} at {response.url}")
        found = re.search(r'"kernelId":\s*"([0-9a-f-]+)"', text)
        if not found:
            title = re.search(r"<title>(.*?)</title>", text, re.S)
            raise RuntimeError(f"the Voila page names no kernel ({len(text)} characters, title "
                               f"{title.group(1).strip() if title else None!r}): {text[-200:]!r}")
        page = VoilaPage(self, found.group(1))
        try:
            await page.connect()
            await page.fetch_widgets()
        except BaseException:
            await page.close()
            raise
        return page

    async def press(self, page: "VoilaPage") -> None:
        await page.click_and_wait()

    async def measure_memory(self) -> None:
        pss = await asyncio.to_thread(user_pss_mib, self.hub, self.name)
        if pss:
            self.crowd.pss_mib["active" if self.active else "idle"].append(pss)


class VoilaPage:
    """What a Voila page's script does with its kernel: connect, ask its info, fetch the widgets, press one."""

    def __init__(self, user: User, kernel_id: str):
        self.user, self.kernel_id = user, kernel_id
        self.session = uuid.uuid4().hex
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.states: dict[str, dict] = {}

    async def connect(self) -> None:
        base = self.user.hub.user_url(self.user.name).replace("http://", "ws://")
        self.socket = await self.user.http.ws_connect(
            f"{base}api/kernels/{self.kernel_id}/channels?session_id={self.session}", max_msg_size=0)
        reply = await self.request("shell", "kernel_info_request", {})
        if reply["content"].get("status") != "ok":
            raise RuntimeError(f"kernel_info_reply: {reply['content']}")

    def message(self, channel: str, kind: str, content: dict, metadata: dict | None = None) -> dict:
        return {"header": {"msg_id": uuid.uuid4().hex, "username": self.user.name, "session": self.session,
                           "msg_type": kind, "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": metadata or {}, "channel": channel, "buffers": [],
                "content": content}

    async def send(self, message: dict) -> str:
        await self.socket.send_str(json.dumps(message))
        return message["header"]["msg_id"]

    async def receive(self) -> dict:
        frame = await self.socket.receive()
        if frame.type == aiohttp.WSMsgType.BINARY:
            # a message with buffers (jupyter_server's legacy framing, no subprotocol asked): the count of parts,
            # their offsets (big-endian 32-bit), then the parts; the first is the message's JSON
            data = frame.data
            count = int.from_bytes(data[:4], "big")
            offsets = [int.from_bytes(data[4 * (i + 1):4 * (i + 2)], "big") for i in range(count)] + [len(data)]
            return json.loads(data[offsets[0]:offsets[1]])
        if frame.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"the kernel's websocket ended ({frame.type.name})")
        return json.loads(frame.data)

    async def request(self, channel: str, kind: str, content: dict) -> dict:
        msg_id = await self.send(self.message(channel, kind, content))
        while True:
            message = await self.receive()
            if message.get("parent_header", {}).get("msg_id") == msg_id and message["msg_type"].endswith("_reply"):
                return message

    async def fetch_widgets(self) -> None:
        comm_id = uuid.uuid4().hex
        await self.send(self.message("shell", "comm_open", {
            "comm_id": comm_id, "target_name": "jupyter.widget.control", "data": {}},
            # ipywidgets refuses a control comm that does not say its protocol's version, as the page's does
            metadata={"version": "1.0.0"}))
        await self.send(self.message("shell", "comm_msg", {"comm_id": comm_id, "data": {"method": "request_states"}}))
        while True:
            message = await self.receive()
            content = message.get("content", {})
            if message["msg_type"] == "comm_msg" and content.get("comm_id") == comm_id:
                data = content.get("data", {})
                if data.get("method") == "update_states":
                    self.states = {model: entry.get("state", {}) for model, entry in data["states"].items()}
                    break
        await self.send(self.message("shell", "comm_close", {"comm_id": comm_id, "data": {}}))
        if not self.control():
            raise RuntimeError(f"no {CONTROL!r} among the page's {len(self.states)} widgets")

    def control(self) -> str | None:
        return next((model for model, state in self.states.items()
                     if state.get("_model_name") == "ButtonModel" and state.get("description") == CONTROL), None)

    async def click_and_wait(self) -> None:
        progress = next((model for model, state in self.states.items() if state.get("label") == PROGRESS), None)
        if progress is None:
            raise RuntimeError(f"no progress bar labelled {PROGRESS!r} on the page")
        await self.send(self.message("shell", "comm_msg", {
            "comm_id": self.control(), "data": {"method": "custom", "content": {"event": "click"}}}))
        while True:
            message = await self.receive()
            content = message.get("content", {})
            if message["msg_type"] == "error":
                raise RuntimeError(f"the kernel raised {content.get('ename')}: {content.get('evalue')}")
            ours = message["msg_type"] == "comm_msg" and content.get("comm_id") == progress
            state = content.get("data", {}).get("state", {}) if ours else {}
            # the dashboard's progress widget ends a run in "success" or "error", with what happened
            if state.get("state") == "success":
                return
            if state.get("state") == "error":
                raise RuntimeError(f"the run failed: {state.get('message')}")

    async def close(self) -> None:
        """What the page does as its tab closes (Voila's ``beforeunload``): a beacon asking the server to shut its
        kernel down, then the websocket closed. A refused beacon is a failure: the kernel would stay, and with it
        the memory an idle user is measured by."""
        base = self.user.hub.user_url(self.user.name)
        xsrf = self.user.http.cookie_jar.filter_cookies(yarl.URL(base)).get("_xsrf")
        form = aiohttp.FormData({"_xsrf": xsrf.value if xsrf else ""})
        try:
            async with self.user.http.post(f"{base}voila/api/shutdown/{self.kernel_id}", data=form,
                                           allow_redirects=False) as response:
                if response.status != 204:
                    raise RuntimeError(f"the page's kernel shutdown answered {response.status}")
        except (aiohttp.ClientError, RuntimeError) as error:
            self.user.crowd.fail(self.user.name, "page_close", error)
        if self.socket is not None:
            await self.socket.close()


# --- memory and CPU ---------------------------------------------------------------------------------------------
def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def user_processes(hub: Hub, username: str) -> list[int]:
    if hub.isolated:
        try:
            uid = pwd.getpwnam(names.account_name(username, hub.account_prefix)).pw_uid
        except KeyError:
            return []
        found = []
        for process in psutil.process_iter(["uids"]):
            with contextlib.suppress(psutil.Error):
                if process.info["uids"] and process.info["uids"].real == uid:
                    found.append(process.pid)
        return found
    # every server runs as the hub's account: the server is the descendant with this user's JUPYTERHUB_USER
    for process in hub.descendants():
        with contextlib.suppress(psutil.Error):
            if process.environ().get("JUPYTERHUB_USER") == username and "singleuser" in " ".join(process.cmdline()):
                return [process.pid] + [child.pid for child in process.children(recursive=True)]
    return []


def user_pss_mib(hub: Hub, username: str) -> float:
    return sum(pss_kib(pid) for pid in user_processes(hub, username)) / 1024


def meminfo() -> dict[str, int]:
    values = {}
    with open("/proc/meminfo") as source:
        for line in source:
            key, rest = line.split(":", 1)
            values[key] = int(rest.split()[0])
    return values


def cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as source:
        fields = [int(value) for value in source.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


async def sample_machine(rows: list[dict], began: float) -> None:
    busy, total = cpu_times()
    while True:
        await asyncio.sleep(1)
        now_busy, now_total = cpu_times()
        memory = meminfo()
        rows.append({"t_s": round(time.monotonic() - began, 1),
                     "used_gib": round((memory["MemTotal"] - memory["MemAvailable"]) / 2**20, 3),
                     "cpu_busy": round((now_busy - busy) / max(1, now_total - total), 3)})
        busy, total = now_busy, now_total


async def scrape_metrics(crowd: Crowd, token: str, last: dict) -> None:
    """Scrape the hub's metrics page every :data:`SCRAPE_INTERVAL` s; ``last["text"]`` is the latest page."""
    async with aiohttp.ClientSession(headers={"Authorization": f"token {token}"}) as http:
        while True:
            began = time.monotonic()
            try:
                async with http.get(f"{crowd.hub.url}/hub/metrics") as page:
                    page.raise_for_status()
                    last["text"] = await page.text()
                crowd.steps["metrics_scrape"].append(time.monotonic() - began)
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                crowd.fail(OPERATOR, "metrics_scrape", error)
            await asyncio.sleep(SCRAPE_INTERVAL)


def loop_lag(metrics_text: str) -> tuple[float | None, int | None]:
    """The largest event loop lag since the hub started and the checks that found it held over 0.1 s."""
    from prometheus_client.parser import text_string_to_metric_families

    largest, buckets, count = None, {}, None
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "workbench_hub_event_loop_lag_max_seconds":
                largest = sample.value
            elif sample.name == "workbench_hub_event_loop_lag_seconds_bucket":
                buckets[sample.labels["le"]] = sample.value
            elif sample.name == "workbench_hub_event_loop_lag_seconds_count":
                count = sample.value
    within = buckets.get(repr(STALL_SECONDS))
    stalls = None if count is None or within is None else int(count - within)
    return (None if largest is None else round(largest, 3)), stalls


def save_samples(rows: list[dict], stem: Path) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        path = stem.with_suffix(".csv")
        with open(path, "w", newline="") as target:
            writer = csv.DictWriter(target, fieldnames=["t_s", "used_gib", "cpu_busy"])
            writer.writeheader()
            writer.writerows(rows)
        return path
    path = stem.with_suffix(".png")
    figure, (memory_axis, cpu_axis) = pyplot.subplots(1, 2, figsize=(12, 4))
    times = [row["t_s"] for row in rows]
    memory_axis.plot(times, [row["used_gib"] for row in rows])
    memory_axis.set(xlabel="time (s)", ylabel="used memory (GiB)", title="Memory")
    cpu_axis.plot(times, [100 * row["cpu_busy"] for row in rows])
    cpu_axis.set(xlabel="time (s)", ylabel="CPU busy (%)", title="CPU", ylim=(0, 100))
    figure.tight_layout()
    figure.savefig(path)
    return path


# --- the run ----------------------------------------------------------------------------------------------------
def quantiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"n": len(values), "p50": round(statistics.median(ordered), 2), "p95": round(p95, 2),
            "max": round(ordered[-1], 2)}


async def play(crowd: Crowd, users: int, ramp_seconds: float, active_share: float, seed: int,
               operator_token: str, metrics: dict) -> list[dict]:
    active = set(random.Random(seed).sample(range(users), round(users * active_share)))
    samples: list[dict] = []
    sampler = asyncio.create_task(sample_machine(samples, time.monotonic()))
    scraper = asyncio.create_task(scrape_metrics(crowd, operator_token, metrics))

    async def arrive(number: int) -> None:
        await asyncio.sleep(ramp_seconds * number / max(1, users))
        await User(crowd, f"crowd{number:03d}", number in active).run()

    try:
        await asyncio.gather(*(arrive(number) for number in range(users)))
    finally:
        sampler.cancel()
        scraper.cancel()
    # one scrape after the crowd, so the figures cover all of it
    async with aiohttp.ClientSession(headers={"Authorization": f"token {operator_token}"}) as http:
        async with http.get(f"{crowd.hub.url}/hub/metrics") as page:
            if page.status == 200:
                metrics["text"] = await page.text()
    return samples


def run(users: int, ramp_seconds: float, active_share: float, idle_seconds: float, timeout: float = 600,
        out: Path | None = None, settings: dict | None = None, seed: int = 0) -> dict:
    """Start a hub, play the crowd against it, stop it; the result (also the JSON line's content)."""
    scratch = Path(tempfile.mkdtemp(prefix="capacity-bench-", dir="/var/tmp"))
    out = out or ROOT / "test-artifacts" / "capacity"
    out.mkdir(parents=True, exist_ok=True)
    # None: the hub's own default, where the test harness chooses otherwise (it turns preheating off)
    hub = Hub(scratch / "state", extra_env={"WORKBENCH_DASHBOARD_POOL_SIZE": None, "WORKBENCH_ADMIN_USERS": OPERATOR,
                                            **(settings or {})})
    metrics: dict = {}
    try:
        operator = hub.admin_login(OPERATOR, PASSWORD)
        made = hub.hub_api(operator, "POST", f"/users/{OPERATOR}/tokens",
                           json={"scopes": ["read:metrics"], "note": "capacity benchmark"})
        made.raise_for_status()
        crowd = Crowd(hub, idle_seconds, timeout)
        began = time.monotonic()
        samples = asyncio.run(play(crowd, users, ramp_seconds, active_share, seed, made.json()["token"], metrics))
        elapsed = time.monotonic() - began
    finally:
        leftovers = hub.stop()
        if hub.accounts is not None:
            hub.accounts.remove()
        shutil.rmtree(scratch, ignore_errors=True)
    stem = out / f"capacity-{users}"
    samples_path = save_samples(samples, stem)
    steps = {step: quantiles(values) for step, values in crowd.steps.items()}

    def mean(values: list[float]) -> float | None:
        return round(statistics.mean(values), 1) if values else None

    lag_max, stalls = loop_lag(metrics.get("text", ""))

    result = {
        "benchmark": "capacity",
        "users": users,
        "active_users": round(users * active_share),
        "ramp_seconds": ramp_seconds,
        "idle_seconds": idle_seconds,
        "dashboard": DASHBOARD,
        "isolated": hub.isolated,
        "warming": (settings or {}).get("WORKBENCH_DASHBOARD_WARMING") or "default",
        "release_after": (settings or {}).get("WORKBENCH_PREHEAT_RELEASE_AFTER") or "default",
        "seconds": round(elapsed, 1),
        "reached_ready": len(crowd.reached["ready"]),
        "reached_dashboard": len(crowd.reached["dashboard"]),
        "steps": steps,
        "failure_list": crowd.failures[:20],
        "leftover_processes": len(leftovers),
        "peak_cpu_busy": max((row["cpu_busy"] for row in samples), default=None),
        "samples": str(samples_path.relative_to(ROOT) if samples_path.is_relative_to(ROOT) else samples_path),
        "failures": len(crowd.failures),
        "login_ready_p95_s": steps["login_ready"]["p95"],
        "dashboard_tti_p95_s": steps["dashboard_tti"]["p95"],
        "action_p95_s": steps["action"]["p95"],
        "idle_user_pss_mib": mean(crowd.pss_mib["idle"]),
        "active_user_pss_mib": mean(crowd.pss_mib["active"]),
        "peak_memory_gib": max((row["used_gib"] for row in samples), default=None),
        "hub_loop_lag_max_s": lag_max,
        "hub_loop_stalls_over_100ms": stalls,
    }
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=None, help="how many users (default 100; 5 with --quick)")
    parser.add_argument("--ramp-seconds", type=float, default=None,
                        help="users arrive evenly over this time (default 3 s per user; 1 with --quick)")
    parser.add_argument("--active-share", type=float, default=1 / 3,
                        help="the share of users who press the dashboard's control (default 1/3)")
    parser.add_argument("--idle-seconds", type=float, default=None,
                        help="how long each user stays idle before coming back (default 120; 10 with --quick)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds any one step may take")
    parser.add_argument("--quick", action="store_true", help="5 users, 1 s apart, 10 s idle")
    parser.add_argument("--warming", choices=("pools", "kernels"), default=None,
                        help="WORKBENCH_DASHBOARD_WARMING of the hub (default: the hub's own default)")
    parser.add_argument("--release-after", type=float, default=None,
                        help="WORKBENCH_PREHEAT_RELEASE_AFTER of the hub: seconds without use after which a server "
                             "shuts down the kernels it keeps ready (default: the hub's own default); shorter than "
                             "half of --idle-seconds to measure idle users after the release")
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON and the samples "
                                                               "(default test-artifacts/capacity)")
    args = parser.parse_args(argv)
    users = args.users or (5 if args.quick else 100)
    ramp = args.ramp_seconds if args.ramp_seconds is not None else (1.0 if args.quick else 3.0) * users
    idle = args.idle_seconds if args.idle_seconds is not None else (10.0 if args.quick else 120.0)
    settings = {"WORKBENCH_DASHBOARD_WARMING": args.warming} if args.warming else {}
    if args.release_after is not None:
        settings["WORKBENCH_PREHEAT_RELEASE_AFTER"] = str(args.release_after)
    result = run(users, ramp, args.active_share, idle, args.timeout, args.out, settings)
    for step, numbers in result["steps"].items():
        print(f"{step:14s} n={numbers['n']:4d}  p50 {numbers['p50']}  p95 {numbers['p95']}  max {numbers['max']} s",
              flush=True)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
