"""A signed-up user attacks the hub and a neighbour from their own kernel, on a hub run as root with its default
spawner: every user's server is a system account of their own. Each test asserts the refusal the user sees."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from testing.isolation import isolated_hub
from testing.kernel import UserKernel

pytestmark = [pytest.mark.hub,
              pytest.mark.skipif(os.geteuid() != 0, reason="the hub makes system accounts only as root, as in CI")]

MEMORY_LIMIT_BYTES = 1024**3
OPEN_FILES = 2048


@pytest.fixture(scope="module")
def hub():
    with isolated_hub(WORKBENCH_SERVER_MEMORY_LIMIT="1G", WORKBENCH_SERVER_MAX_OPEN_FILES=str(OPEN_FILES)) as hub:
        hub.browsers = {}
        for name in ("alice", "bob"):
            hub.browsers[name] = hub.signup_and_login(name)
            progress = hub.start_server(hub.browsers[name], name)
            assert progress.ready, progress.messages
        yield hub


@pytest.fixture(scope="module")
def kernels(hub):
    opened = {name: UserKernel(hub, hub.browsers[name], name) for name in ("alice", "bob")}
    yield opened
    for kernel in opened.values():
        kernel.close()


def attempt(kernel: UserKernel, action: str) -> str:
    """What happens when the user's kernel tries ``action`` (an expression): "allowed" or the error's name."""
    return kernel.run(f"""
        try:
            {action}
            print("allowed")
        except Exception as error:
            print(type(error).__name__)
    """).strip()


def facts(kernel: UserKernel) -> dict:
    return json.loads(kernel.run("""
        import json, os, pwd, stat, sys
        me = pwd.getpwuid(os.getuid())
        home = os.stat(me.pw_dir)
        print(json.dumps({"uid": os.getuid(), "account": me.pw_name, "shell": me.pw_shell, "home": me.pw_dir,
                          "home_owner": home.st_uid, "home_mode": stat.S_IMODE(home.st_mode),
                          "aws_config": os.environ.get("AWS_CONFIG_FILE"),
                          "credentials": os.environ.get("PLAYGROUND_CREDENTIALS_FILE"),
                          "python": sys.executable}))
    """))


def hub_processes(hub) -> dict[str, psutil.Process]:
    found = {}
    for process in hub.descendants():
        command = " ".join(process.cmdline())
        if "-m hub.app -f" in command:
            found["hub"] = process
        elif "configurable-http-proxy" in command:
            found["proxy"] = process
    return found


def test_each_users_servers_run_as_an_account_of_their_own_with_a_private_home(hub, kernels):
    alice, bob = facts(kernels["alice"]), facts(kernels["bob"])
    assert alice["account"] == f"{hub.account_prefix}alice" and bob["account"] == f"{hub.account_prefix}bob"
    assert 0 not in (alice["uid"], bob["uid"]) and alice["uid"] != bob["uid"]
    for user in (alice, bob):
        assert user["shell"].endswith("nologin")  # nobody logs in to these accounts
        assert user["home"] == str(hub.homes_dir / user["account"])
        assert user["home_owner"] == user["uid"] and user["home_mode"] == 0o700


def test_a_user_cannot_read_the_hubs_state_or_its_processes_secrets(hub, kernels):
    alice = kernels["alice"]
    state = hub.state_dir
    processes = hub_processes(hub)
    assert set(processes) == {"hub", "proxy"}
    for action in (
        f"open({str(state / 'jupyterhub_cookie_secret')!r}).read()",
        f"open({str(state / 'jupyterhub.sqlite')!r}, 'rb').read(100)",
        f"open({str(state / 'jupyterhub.sqlite')!r}, 'ab')",
        f"os.listdir({str(state)!r})",
        f"os.listdir({str(state / 'credentials')!r})",
        # the hub's and the proxy's environments: AWS keys, the proxy's token, database URLs
        f"open('/proc/{processes['hub'].pid}/environ').read()",
        f"open('/proc/{processes['proxy'].pid}/environ').read()",
        # and no signal reaches them
        f"os.kill({processes['hub'].pid}, 0)",
    ):
        assert attempt(alice, f"import os; {action}") == "PermissionError", action
    # what every user needs from the state folder is readable by name, and only that
    assert attempt(alice, f"open({str(state / 'builtin.sqlite')!r}, 'rb').read(16)") == "allowed"


def test_a_user_cannot_reach_a_neighbours_home_kernels_or_credentials(hub, kernels):
    alice, bob = kernels["alice"], facts(kernels["bob"])
    assert bob["credentials"], "bob's server has playground credentials to protect"
    runtime = Path(bob["home"]) / ".local/share/jupyter/runtime"
    for action in (
        f"os.listdir({bob['home']!r})",
        f"os.listdir({str(runtime)!r})",
        f"open({str(Path(bob['home']) / 'dashboards' / 'caching.ipynb')!r}).read()",
        f"open({bob['credentials']!r}).read()",
        f"open({bob['aws_config']!r}, 'a')",
        f"os.listdir({str(Path(bob['credentials']).parent)!r})",
    ):
        assert attempt(alice, f"import os; {action}") == "PermissionError", action
    # bob's own server reads its credentials (the AWS config's credential_process) as bob
    assert "AccessKeyId" in kernels["bob"].run(f"print(open({bob['credentials']!r}).read())")


def test_a_user_cannot_change_the_code_every_server_runs(hub, kernels):
    alice = kernels["alice"]
    targets = json.loads(alice.run("""
        import json, sysconfig, spawner, user_server, notebooks, jupyterhub
        from pathlib import Path
        print(json.dumps([spawner.__file__, user_server.__file__, jupyterhub.__file__,
                          str(Path(notebooks.__file__).parent / "dashboards.json"), sysconfig.get_paths()["purelib"]]))
    """))
    for target in targets[:-1]:
        assert attempt(alice, f"open({target!r}, 'a')") == "PermissionError", target
    assert attempt(alice, f"open({targets[-1] + '/planted.pth'!r}, 'w')") == "PermissionError"


def test_a_servers_limits_hold_its_kernels_in(hub, kernels):
    alice = kernels["alice"]
    assert alice.run("import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE))").strip() == \
        f"({OPEN_FILES}, {OPEN_FILES})"
    # a kernel may come back to the normal CPU priority (a preheated one is niced) but never rise above it; it
    # can come back only where the hub (root) may raise the limit that allows it (not without CAP_SYS_RESOURCE)
    may_raise = subprocess.run([sys.executable, "-c", "import resource; resource.setrlimit(resource.RLIMIT_NICE, "
                                "(20, 20))"], capture_output=True).returncode == 0
    back_to_normal = alice.run("""
        import os
        os.nice(5)
        try:
            os.setpriority(os.PRIO_PROCESS, 0, 0)
        except PermissionError:
            pass
        print(os.getpriority(os.PRIO_PROCESS, 0))
    """).strip()
    assert back_to_normal == ("0" if may_raise else "5")
    assert attempt(alice, "import os; os.setpriority(os.PRIO_PROCESS, 0, -1)") == "PermissionError"
    # more memory than the server's limit, in a process the kernel starts: the kernel's control group stops it
    too_much = MEMORY_LIMIT_BYTES + 512 * 1024**2
    outcome = alice.run(f"""
        import subprocess, sys
        done = subprocess.run([sys.executable, "-c", "b = bytearray({too_much}); print('held')"],
                              capture_output=True, text=True)
        print(done.returncode, done.stdout.strip())
    """).strip()
    assert outcome == "-9", outcome
    assert alice.run("print(1 + 1)").strip() == "2"  # the server and the kernel themselves survive it


def test_root_never_follows_links_a_user_planted_in_their_home(hub, kernels):
    """alice points her dashboards folder and a notebook at root's files, then restarts her server: the hub
    refreshes her dashboards as her, so root's files stay as they were and she gets real copies."""
    decoy = Path(tempfile.mkdtemp(prefix="root-decoy-", dir="/var/tmp"))
    try:
        decoy.chmod(0o755)
        (decoy / "caching.ipynb").write_text("root's own file\n")
        (decoy / "caching.ipynb").chmod(0o644)
        target = decoy / "system.conf"
        target.write_text("root's configuration\n")
        target.chmod(0o644)
        alice = kernels["alice"]
        home = facts(alice)["home"]
        alice.run(f"""
            import os, shutil
            shutil.rmtree({home!r} + "/dashboards")
            os.symlink({str(decoy)!r}, {home!r} + "/dashboards")
        """)
        # a hard link to root's file is refused by the kernel itself (fs.protected_hardlinks)
        assert attempt(alice, f"import os; os.link({str(target)!r}, {home!r} + '/planted')") == "PermissionError"
        kernels["alice"].close()
        browser = hub.browsers["alice"]
        assert hub.hub_api(browser, "DELETE", "/users/alice/server").status_code in (202, 204)
        _wait_stopped(hub, browser)
        progress = hub.start_server(browser, "alice")
        assert progress.ready, progress.messages

        assert (decoy / "caching.ipynb").read_text() == "root's own file\n"
        assert sorted(path.name for path in decoy.iterdir()) == ["caching.ipynb", "system.conf"]
        assert stat.S_IMODE(decoy.stat().st_mode) == 0o755 and decoy.stat().st_uid == 0
        dashboards = hub.homes_dir / f"{hub.account_prefix}alice" / "dashboards"
        assert not dashboards.is_symlink() and (dashboards / "caching.ipynb").stat().st_uid != 0
        kernels["alice"] = UserKernel(hub, browser, "alice")
    finally:
        import shutil

        shutil.rmtree(decoy)


def _wait_stopped(hub, browser) -> None:
    from testing.support import wait_for

    def stopped() -> bool:
        model = hub.hub_api(browser, "GET", "/users/alice").json()
        return not model["servers"]

    wait_for(stopped, 60, "alice's server to stop")
