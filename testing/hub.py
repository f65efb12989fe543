"""A real Profiler Workbench hub for end-to-end tests and benchmarks: `python -m hub.cli` with the npm proxy and
the moto service, on free ports and a private state folder, driven over HTTP the way a browser would."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from hub.services import local_aws
from spawner import names
from testing.isolation import TestAccounts
from testing.support import REPO_ROOT, free_port, resolve_localhost_names, wait_for

resolve_localhost_names()

# The keys test hubs get for their local AWS (IAM enforced there): known to the tests, secret to anyone else.
LOCAL_AWS_KEYS = {local_aws.KEY_ID_VARIABLE: "local-hub", local_aws.SECRET_VARIABLE: secrets.token_urlsafe(30)}
XSRF_FIELD = re.compile(r'name="_xsrf"\s+value="([^"]+)"')


def xsrf_from(html: str) -> str:
    match = XSRF_FIELD.search(html)
    assert match, "the page has no _xsrf field"
    return match.group(1)


@dataclass
class SpawnProgress:
    events: list[dict] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return bool(self.events) and bool(self.events[-1].get("ready"))

    @property
    def failed(self) -> bool:
        return bool(self.events) and bool(self.events[-1].get("failed"))

    @property
    def messages(self) -> list[str]:
        return [event.get("message", "") for event in self.events]


class Hub:
    """One running hub. Use as a context manager, or call :meth:`stop`."""

    def __init__(self, state_dir: Path, extra_env: dict[str, str | None] | None = None,
                 command: list[str] | None = None,
                 cwd: Path | None = None):
        """``command`` runs the hub (default: this checkout's ``workbench hub``) from ``cwd`` (the checkout)."""
        self.state_dir = state_dir
        self.port = free_port()
        self.env = {
            **os.environ,
            "WORKBENCH_STATE_DIR": str(state_dir),
            "WORKBENCH_PORT": str(self.port),
            "WORKBENCH_HUB_PORT": str(free_port()),
            "WORKBENCH_PROXY_API_PORT": str(free_port()),
            "WORKBENCH_LOCAL_AWS_PORT": str(free_port()),
            # a test hub must never use real AWS, whatever the machine has configured; with its own local AWS
            # these are its administrator's keys there (`workbench hub` reads them from the state folder: below)
            **LOCAL_AWS_KEYS,
            # every server would run each dashboard in advance: tests that need it turn it on
            "WORKBENCH_DASHBOARD_POOL_SIZE": "0",
            # what the hub itself chooses, said explicitly: as root each user's server runs as a system account
            # of their own (made for the test and removed after: testing.isolation.TestAccounts); an ordinary
            # account can only run them all as itself
            "WORKBENCH_SPAWNER": "system-users" if os.geteuid() == 0 else "local",
            "WORKBENCH_OPEN_SIGNUP": "true",
            **(extra_env or {}),
        }
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "WORKBENCH_DB_URL"):
            if name not in (extra_env or {}):
                self.env.pop(name, None)
        # a setting given as None is left unset, so the hub's own default applies
        self.env = {name: value for name, value in self.env.items() if value is not None}
        self.port = int(self.env["WORKBENCH_PORT"])
        self.run_as: list[str] = []  # what runs a command as the hub's own account (the operator's commands)
        self.accounts = None
        if os.geteuid() == 0 and self.env.get("WORKBENCH_SPAWNER") == "system-users":
            self.accounts = TestAccounts.for_state(state_dir, self.env.get("WORKBENCH_ACCOUNT_PREFIX"))
            self.env.update(self.accounts.settings())
            self.state_dir = state_dir = self.accounts.state_dir
            self.env["WORKBENCH_STATE_DIR"] = str(state_dir)
        self.account_prefix = self.env.get("WORKBENCH_ACCOUNT_PREFIX", names.DEFAULT_ACCOUNT_PREFIX)
        self.homes_dir = Path(self.env.get("WORKBENCH_HOMES_DIR", "/home"))
        # where people open the hub: its public address (hub.localhost) when users' servers have origins of their
        # own, else where it listens
        self.user_subdomains = self.env.get("WORKBENCH_USER_SUBDOMAINS", "true").lower() not in ("false", "0", "no")
        self.url = f"http://hub.localhost:{self.port}" if self.user_subdomains else f"http://127.0.0.1:{self.port}"
        self.aws_endpoint = f"http://127.0.0.1:{self.env['WORKBENCH_LOCAL_AWS_PORT']}"
        state_dir.mkdir(parents=True, exist_ok=True)
        try:
            local_aws.write_hub_credentials(state_dir / local_aws.HUB_KEY_FILE, LOCAL_AWS_KEYS)
        except FileExistsError:
            pass  # a hub run again on this state folder: the same keys
        self.log_path = state_dir / "hub.log"
        self._log = open(self.log_path, "ab")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            command or [sys.executable, "-m", "hub.cli", "hub"],
            cwd=cwd or REPO_ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(self._health, 90, f"hub on {self.url} (log: {self.log_path})", interval=0.2)
        except BaseException:
            self.stop()
            raise
        self.ready_seconds = time.monotonic() - self.started

    PORTS = ("WORKBENCH_PORT", "WORKBENCH_HUB_PORT", "WORKBENCH_PROXY_API_PORT", "WORKBENCH_LOCAL_AWS_PORT")

    def same_ports(self) -> dict[str, str]:
        """Settings that start another hub where this one listened (a restart of it)."""
        return {name: self.env[name] for name in self.PORTS}

    def _health(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the hub exited with {self.process.returncode}:\n{self.log()}")
        return requests.get(f"{self.url}/hub/health", timeout=2).status_code == 200

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def isolated(self) -> bool:
        return self.env.get("WORKBENCH_SPAWNER") == "system-users"

    def home_of(self, username: str) -> Path:
        """The user's home folder: their own account's, or their folder in the state folder when all servers
        share the hub's account."""
        if self.isolated:
            return self.homes_dir / names.account_name(username, self.account_prefix)
        return self.state_dir / "users" / username

    # --- what a person does, over HTTP --------------------------------------------------------------------------
    def signup(self, username: str, password: str, confirmation: str | None = None) -> requests.Response:
        browser = requests.Session()
        form = browser.get(f"{self.url}/hub/signup", timeout=10)
        form.raise_for_status()
        response = browser.post(
            f"{self.url}/hub/signup",
            data={
                "_xsrf": xsrf_from(form.text),
                "username": username,
                "signup_password": password,
                "signup_password_confirmation": password if confirmation is None else confirmation,
            },
            timeout=10,
        )
        # the page declares utf-8 in a <meta> tag, as browsers read it; requests only looks at the header
        response.encoding = "utf-8"
        return response

    def login(self, username: str, password: str) -> tuple[requests.Session, requests.Response]:
        browser = requests.Session()
        form = browser.get(f"{self.url}/hub/login", timeout=10)
        form.raise_for_status()
        response = browser.post(
            f"{self.url}/hub/login",
            data={"_xsrf": xsrf_from(form.text), "username": username, "password": password},
            timeout=10,
            allow_redirects=False,
        )
        return browser, response

    def signup_and_login(self, username: str, password: str = "correct horse battery") -> requests.Session:
        response = self.signup(username, password)
        assert "signup was successful" in response.text, response.text
        browser, response = self.login(username, password)
        assert response.status_code == 302, response.text
        return browser

    def admin_login(self, username: str, password: str = "correct horse battery") -> requests.Session:
        """An administrator (named in WORKBENCH_ADMIN_USERS) gets their account from the operator's
        ``workbench password NAME``, as sign-up refuses their name; then they log in."""
        made = subprocess.run([*self.run_as, sys.executable, "-m", "hub.cli", "password", username],
                              input=password + "\n",
                              env=self.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        browser, response = self.login(username, password)
        assert response.status_code == 302, response.text
        return browser

    def start_server(self, browser: requests.Session, username: str, timeout: float = 120) -> SpawnProgress:
        """Ask for the user's server as the home page's button does and follow the progress stream."""
        response = browser.get(f"{self.url}/hub/spawn/{username}", timeout=30, allow_redirects=False)
        assert response.status_code in (302, 303), (response.status_code, response.text[:500])
        return self.follow_progress(browser, username, timeout)

    def follow_progress(self, browser: requests.Session, username: str, timeout: float = 120) -> SpawnProgress:
        progress = SpawnProgress()
        url = f"{self.url}/hub/api/users/{username}/server/progress"
        headers = {"Accept": "text/event-stream", "X-XSRFToken": self.hub_xsrf(browser)}
        with browser.get(url, stream=True, timeout=timeout, headers=headers) as stream:
            assert stream.status_code == 200, (stream.status_code, stream.text[:500])
            for line in stream.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    progress.events.append(json.loads(line[len("data:") :]))
                    if progress.ready or progress.failed:
                        break
        return progress

    @staticmethod
    def hub_xsrf(browser: requests.Session) -> str:
        """The hub's XSRF token (the user's server sets its own cookie of the same name on /user/NAME/)."""
        return browser.cookies.get("_xsrf", path="/hub/") or ""

    @property
    def listening_url(self) -> str:
        """The proxy's own address, for processes that cannot resolve the hub's public name (``*.localhost``)."""
        return f"http://127.0.0.1:{self.port}"

    def user_url(self, username: str, server: str = "") -> str:
        """Where the user's server (or named server) answers: on an origin of their own unless the hub was told
        otherwise (simple usernames only: JupyterHub encodes others into the subdomain)."""
        path = f"/user/{username}/{server + '/' if server else ''}"
        if not self.user_subdomains:
            return f"{self.url}{path}"
        return f"http://{username}.hub.localhost:{self.port}{path}"

    def hub_api(self, browser: requests.Session, method: str, path: str, **kwargs) -> requests.Response:
        """Call the hub's REST API with the browser's login cookie, as the hub's own pages do."""
        headers = {"X-XSRFToken": self.hub_xsrf(browser), **kwargs.pop("headers", {})}
        return browser.request(method, f"{self.url}/hub/api{path}", headers=headers, timeout=60, **kwargs)

    # --- processes ------------------------------------------------------------------------------------------------
    def descendants(self) -> list[psutil.Process]:
        """The processes the hub started that are alive (exited ones the hub has not reaped yet left out)."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        alive = []
        for child in children:
            try:
                if child.status() != psutil.STATUS_ZOMBIE:
                    alive.append(child)
            except psutil.NoSuchProcess:
                continue
        return alive

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> list[psutil.Process]:
        """Stop the hub as Ctrl-C would; return the processes it started that are still alive afterwards (and
        then killed). The users' accounts stay for a hub started again on the same state folder (removed when
        the tests of the module end: :meth:`TestAccounts.remove_all`)."""
        children = self.descendants()
        self._end(sig, timeout)
        _, alive = psutil.wait_procs(children, timeout=15)
        for process in alive:
            process.kill()
        return alive

    def restart_stop(self, timeout: float = 60) -> list[psutil.Process]:
        """Stop the hub as a service manager restarting it does (SIGTERM); return what it left running, alive."""
        children = self.descendants()
        self._end(signal.SIGTERM, timeout)
        return [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]

    def _end(self, sig: int, timeout: float) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self) -> "Hub":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
