"""An upgrade keeps everything: the state a hub of the previous release made (its database, the local AWS with a
user's playground, items and recorded runs, the user's home and models) is started under this code, and the user
logs in to find all of it; their playground, made from the previous release's template, is updated in place.

The previous release is this repository's code at ``PREVIOUS_RELEASE`` (the main branch as it was deployed before
this work), taken from git history, run with this environment's packages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from testing.hub import Hub
from testing.isolation import reachable
from testing.kernel import UserKernel
from testing.support import REPO_ROOT
from tests.reliability.test_hub_restart import RECORD_A_RUN, WHAT_IS_THERE

pytestmark = [pytest.mark.hub, pytest.mark.slow]

PREVIOUS_RELEASE = "d8cdfde91c7089a8547b8eae901bf9b8fabf06a1"
PASSWORD = "correct horse battery"

WRITE_A_FILE_AND_A_MODEL = """
from pathlib import Path
from profiler.catalog.catalog import Catalog, Model
Path("notes.txt").write_text("written under the previous release")
catalog = Catalog.connect()
catalog.create(Model("readings", {"id": "integer", "value": "decimal"}))
print(catalog.fill("readings", 250))
"""

READ_THE_FILE_AND_THE_MODEL = """
import json
from pathlib import Path
from profiler.catalog.catalog import Catalog
catalog = Catalog.connect()
with catalog.engine.connect() as connection:
    rows = connection.exec_driver_sql("SELECT count(*) FROM readings").scalar()
print(json.dumps({"notes": Path("notes.txt").read_text(), "models": catalog.names(), "rows": rows}))
"""


@pytest.fixture
def previous_release():
    """The previous release's source tree, where users' accounts can read it."""
    if subprocess.run(["git", "-C", str(REPO_ROOT), "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"],
                      capture_output=True).returncode != 0:
        pytest.skip(f"this checkout has no history back to {PREVIOUS_RELEASE[:7]} (a shallow clone)")
    tree = Path(tempfile.mkdtemp(prefix="previous-release-", dir="/var/tmp"))
    tree.chmod(0o755)
    archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", PREVIOUS_RELEASE], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    with reachable(tree):
        yield tree
    shutil.rmtree(tree, ignore_errors=True)


def test_a_hub_of_the_previous_release_is_started_under_this_code_and_keeps_everything(tmp_path, previous_release):
    state = tmp_path / "state"
    old = {"PYTHONPATH": str(previous_release),
           "WORKBENCH_PROXY_COMMAND": str(REPO_ROOT / "node_modules" / ".bin" / "configurable-http-proxy")}
    with Hub(state, extra_env=old, command=[sys.executable, "-m", "hub.cli", "hub"], cwd=previous_release) as hub:
        assert f"{previous_release}/hub/" in hub_module_file(hub), "the hub did not run the previous release's code"
        browser = hub.signup_and_login("ada", PASSWORD)
        assert hub.start_server(browser, "ada", timeout=300).ready
        kernel = UserKernel(hub, browser, "ada")
        run_id = kernel.run(RECORD_A_RUN).strip().splitlines()[-1]
        assert kernel.run(WRITE_A_FILE_AND_A_MODEL).strip().splitlines()[-1] == "250"
        before = json.loads(kernel.run(WHAT_IS_THERE).strip().splitlines()[-1])
        kernel.close()
        assert before["runs"][run_id]["status"] == "finished" and before["items"] > 50, before
        assert not hub.stop(), "Ctrl-C left processes running"

    with Hub(state) as hub:  # this release, on the same state folder
        assert f"{REPO_ROOT}/hub/" in hub_module_file(hub)
        browser, login = hub.login("ada", PASSWORD)
        assert login.status_code == 302, "the password made under the previous release no longer works"
        progress = hub.start_server(browser, "ada", timeout=300)
        assert progress.ready, progress.messages
        if template_changed():
            assert any("Updating your playground" in message for message in progress.messages), progress.messages
        kernel = UserKernel(hub, browser, "ada")
        assert json.loads(kernel.run(WHAT_IS_THERE).strip().splitlines()[-1]) == before
        assert json.loads(kernel.run(READ_THE_FILE_AND_THE_MODEL).strip().splitlines()[-1]) == {
            "notes": "written under the previous release", "models": ["readings"], "rows": 250}
        kernel.close()


def hub_module_file(hub: Hub) -> str:
    """Where the running JupyterHub process loaded the ``hub`` package from (its command line names the config
    file of the package it runs)."""
    for process in hub.descendants():
        command = process.cmdline()
        if "hub.app" in command:
            return command[command.index("-f") + 1]
    raise AssertionError("no JupyterHub process")


def template_changed() -> bool:
    previous = subprocess.run(["git", "-C", str(REPO_ROOT), "show", f"{PREVIOUS_RELEASE}:stacks/playground.yaml"],
                              capture_output=True, text=True, check=True).stdout
    return previous != (REPO_ROOT / "stacks" / "playground.yaml").read_text()
