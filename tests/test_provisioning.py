"""Provisioning, the explicit step before the hub starts: it makes what is missing, says so in the log, and a
second run changes nothing."""

from __future__ import annotations

import logging
import os
import stat

from hub.services import provisioning
from hub.settings import load


def test_provisioning_twice_installs_the_built_ins_once_and_says_what_it_did(tmp_path, caplog):
    settings = load({"WORKBENCH_STATE_DIR": str(tmp_path / "state"), "WORKBENCH_BUILTIN_MESSAGES": "40"})
    with caplog.at_level(logging.INFO, logger="workbench.provisioning"):
        provisioning.provision(settings)
    first = caplog.text
    assert "Making the state folder" in first and "The built-in models are installed" in first
    state = settings.state_path
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    builtins = provisioning.builtin_file(settings)
    made = builtins.stat().st_mtime_ns

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="workbench.provisioning"):
        provisioning.provision(settings)
    assert "Installing" not in caplog.text and f"The built-in models are installed ({builtins})" in caplog.text
    assert builtins.stat().st_mtime_ns == made


def test_the_data_secret_is_made_once_owner_only_and_never_through_a_planted_link(tmp_path):
    secret = tmp_path / "workbench-data-secret"
    provisioning.make_data_secret(secret)
    first = secret.read_bytes()
    assert len(first) == 32 and stat.S_IMODE(secret.stat().st_mode) == 0o600
    provisioning.make_data_secret(secret)
    assert secret.read_bytes() == first

    target = tmp_path / "elsewhere"
    target.write_text("not yours")
    planted = tmp_path / "planted-secret"
    os.symlink(target, planted)
    provisioning.make_data_secret(planted)
    assert target.read_text() == "not yours"
