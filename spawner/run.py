"""``python -m spawner.run``: start the hub on the settings' address and say how to log in.

JupyterHub runs as a child process from the state folder. Ctrl-C or SIGTERM is passed on to it, and it stops
what it started: the proxy, the managed services (the local AWS) and every user server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from spawner.settings import SettingsError, load


def hub_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/hub/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def instructions(settings) -> str:
    url = settings.public_url
    if settings.auth == "local":
        login = (
            f"  New here? Create an account at {url}/hub/signup, then log in at {url}/hub/login.\n"
            + ("" if settings.open_signup else "  Each new account waits for an admin's approval at /hub/authorize.\n")
        )
    else:
        login = f"  Log in with {settings.auth} at {url}/hub/login.\n"
    aws = (
        f"  Local AWS (moto) on {settings.effective_aws_endpoint}.\n"
        if settings.local_aws and not settings.aws_endpoint_url
        else f"  AWS endpoint: {settings.effective_aws_endpoint or 'real AWS'}.\n"
    )
    return f"\nThe Profiler Workbench is running at {url}\n{login}{aws}  Stop it with Ctrl-C.\n"


def main() -> int:
    try:
        settings = load()
    except SettingsError as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        return 2
    proxy = settings.repo_root / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        print(f"Cannot start: {proxy} is missing; run `npm ci` in {settings.repo_root}.", file=sys.stderr)
        return 2
    state = settings.state_path
    state.mkdir(parents=True, exist_ok=True)
    hub = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(settings.repo_root / "hub" / "jupyterhub_config.py")],
        cwd=state,
        # Its own session: a terminal's Ctrl-C reaches only us, and the hub alone then stops what it started.
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(settings.repo_root), os.environ.get("PYTHONPATH")]))},
    )

    def pass_on(signum, _frame):
        if hub.poll() is None:
            hub.send_signal(signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)

    deadline = time.monotonic() + 120
    while hub.poll() is None and not hub_answers(settings.public_url):
        if time.monotonic() > deadline:
            print("The hub did not answer within 120 s; see its log above.", file=sys.stderr)
            break
        time.sleep(0.25)
    if hub.poll() is None:
        print(instructions(settings), flush=True)
    while True:
        try:
            return hub.wait()
        except KeyboardInterrupt:  # a second Ctrl-C while the hub is stopping: keep waiting for it
            continue


if __name__ == "__main__":
    sys.exit(main())
