"""Settings: every WORKBENCH_* variable is parsed, checked and documented in README.md."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hub.settings import SETTINGS, SettingsError, load, markdown_table
from tests.support import REPO_ROOT


def test_defaults_are_the_embedded_ones():
    settings = load({})
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.local_aws is True
    assert settings.effective_aws_endpoint == "http://127.0.0.1:5000"
    assert settings.auth == "local" and settings.open_signup is True and settings.min_password_length == 8
    assert settings.start_timeout >= 600, "CloudFormation needs minutes, not JupyterHub's 60 s"
    assert settings.state_path == REPO_ROOT / ".state"


def test_every_port_can_be_moved_so_hubs_run_side_by_side():
    ports = {s.variable for s in SETTINGS if s.parse.__name__ == "_port"}
    assert ports == {
        "WORKBENCH_PORT",
        "WORKBENCH_HUB_PORT",
        "WORKBENCH_PROXY_API_PORT",
        "WORKBENCH_LOCAL_AWS_PORT",
    }
    settings = load({"WORKBENCH_LOCAL_AWS_PORT": "5123", "WORKBENCH_PORT": "9000"})
    assert settings.effective_aws_endpoint == "http://127.0.0.1:5123"
    assert settings.effective_oauth_callback_url == "http://127.0.0.1:9000/hub/oauth_callback"


def test_real_aws_has_no_endpoint_override():
    assert load({"WORKBENCH_LOCAL_AWS": "false"}).effective_aws_endpoint is None
    assert load({"WORKBENCH_AWS_ENDPOINT_URL": "http://aws.test:4566"}).effective_aws_endpoint == "http://aws.test:4566"


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("WORKBENCH_PORT", "80000", "WORKBENCH_PORT='80000': 80000 is not a TCP port"),
        ("WORKBENCH_PORT", "http", "WORKBENCH_PORT='http'"),
        ("WORKBENCH_AUTH", "ldap", "expected one of local, github, oidc"),
        ("WORKBENCH_OPEN_SIGNUP", "maybe", "expected true or false"),
        ("WORKBENCH_START_TIMEOUT", "-5", "expected a positive whole number"),
    ],
)
def test_bad_values_name_the_variable_and_what_is_expected(variable, value, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        load({variable: value})


def test_run_refuses_bad_settings_before_starting_anything():
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli"],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "WORKBENCH_AUTH": "ldap"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Cannot start: WORKBENCH_AUTH='ldap'" in result.stderr


def test_readme_documents_every_setting_exactly():
    readme = (REPO_ROOT / "README.md").read_text()
    assert markdown_table() in readme, "README's settings table is stale: python -m hub.settings --markdown"
