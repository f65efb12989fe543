"""Settings: every WORKBENCH_* variable is parsed, checked and documented in README.md."""

from __future__ import annotations

import os

import subprocess
import sys
from pathlib import Path

import pytest

from hub.settings import SettingsError, default_state_dir, describe, load, markdown_table, options, variable
from testing.support import REPO_ROOT


def test_defaults_are_the_embedded_ones():
    settings = load({})
    assert settings.public_url == "http://hub.localhost:8000" and settings.user_subdomains  # users get origins
    assert load({"WORKBENCH_USER_SUBDOMAINS": "false"}).public_url == "http://127.0.0.1:8000"
    assert settings.local_aws is True
    assert settings.effective_aws_endpoint == "http://127.0.0.1:5000"
    assert settings.auth == "local" and settings.min_password_length == 8
    assert settings.start_timeout >= 600, "CloudFormation needs minutes, not JupyterHub's 60 s"
    assert settings.state_path == default_state_dir()
    assert REPO_ROOT not in settings.state_path.parents, "the hub's state never lives inside the code"


def test_the_state_folder_is_outside_the_code_for_root_and_for_a_person():
    assert default_state_dir(euid=0) == Path("/var/lib/profiler-workbench")
    home = default_state_dir(euid=1000, environ={"HOME": "/home/ada"})
    assert home == Path("/home/ada/.local/state/profiler-workbench")
    xdg = default_state_dir(euid=1000, environ={"XDG_STATE_HOME": "/srv/state"})
    assert xdg == Path("/srv/state/profiler-workbench")


def test_every_port_can_be_moved_so_hubs_run_side_by_side():
    ports = {variable(name) for name, trait in options() if trait.metadata.get("port")}
    assert ports == {
        "WORKBENCH_PORT",
        "WORKBENCH_HUB_PORT",
        "WORKBENCH_PROXY_API_PORT",
        "WORKBENCH_LOCAL_AWS_PORT",
    }
    settings = load({"WORKBENCH_LOCAL_AWS_PORT": "5123", "WORKBENCH_PORT": "9000"})
    assert settings.effective_aws_endpoint == "http://127.0.0.1:5123"
    assert settings.effective_oauth_callback_url == "http://hub.localhost:9000/hub/oauth_callback"


def test_real_aws_has_no_endpoint_override():
    assert load({"WORKBENCH_LOCAL_AWS": "false"}).effective_aws_endpoint is None
    assert load({"WORKBENCH_AWS_ENDPOINT_URL": "http://aws.test:4566"}).effective_aws_endpoint == "http://aws.test:4566"


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("WORKBENCH_PORT", "80000", "WORKBENCH_PORT='80000': 80000 is not a TCP port"),
        ("WORKBENCH_DASHBOARD_POOL_SIZE", "-1", "expected 0 or a positive whole number"),
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
        [sys.executable, "-m", "hub.cli", "hub"],
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
    assert markdown_table() in readme, "README's settings table is stale: workbench settings --markdown"


def test_the_default_spawner_isolates_users_whenever_it_can(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert load({}).spawner == "system-users" and load({}).isolated
    assert load({}).effective_open_signup is True
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # a laptop: servers can only run as the hub's own account
    assert load({}).spawner == "local" and not load({}).isolated
    assert load({}).effective_open_signup is False, "servers share one account: strangers are not let in"


def test_open_sign_up_needs_isolated_users_or_an_explicit_yes():
    assert load({"WORKBENCH_SPAWNER": "local"}).effective_open_signup is False
    assert load({"WORKBENCH_SPAWNER": "system-users"}).effective_open_signup is True
    assert load({"WORKBENCH_SPAWNER": "local", "WORKBENCH_OPEN_SIGNUP": "true"}).effective_open_signup is True
    assert load({"WORKBENCH_SPAWNER": "system-users", "WORKBENCH_OPEN_SIGNUP": "false"}).effective_open_signup is False


def test_lists_are_parsed_once_whatever_the_spacing():
    settings = load({"WORKBENCH_ADMIN_USERS": "alice, bob,,  carol ", "WORKBENCH_OIDC_SCOPES": "openid"})
    assert settings.admin_users == ["alice", "bob", "carol"]
    assert settings.oidc_scopes == ["openid"]
    assert load({}).admin_users == []


def test_secrets_are_masked_when_settings_are_shown():
    settings = load({
        "WORKBENCH_OAUTH_CLIENT_SECRET": "hunter2-client",
        "WORKBENCH_DATA_ADMIN_URL": "postgresql+psycopg://admin:hunter2-db@db.internal:5432/workbench",
        "WORKBENCH_DB_URL": "postgresql://hub:hunter2-hub@db.internal/hub",
    })
    shown = "\n".join(describe(settings))
    assert "hunter2" not in shown
    assert "WORKBENCH_OAUTH_CLIENT_SECRET=********" in shown
    assert "WORKBENCH_DATA_ADMIN_URL=postgresql+psycopg://admin:********@db.internal:5432/workbench" in shown
    printed = subprocess.run([sys.executable, "-m", "hub.cli", "settings"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "WORKBENCH_DB_URL":
                                                         "postgresql://hub:hunter2-hub@db/hub"})
    assert printed.returncode == 0, printed.stderr
    assert "hunter2" not in printed.stdout and "WORKBENCH_DB_URL=postgresql://hub:********@db/hub" in printed.stdout


def test_every_option_has_help_and_a_documented_default():
    for name, trait in options():
        assert len(trait.help) > 20, name
    assert markdown_table().count("\n") == len(list(options())) + 1
