"""Provisioning, the explicit step before the hub starts: it makes what is missing, says so in the log, and a
second run changes nothing."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from hub.services import provisioning
from hub.settings import load


@pytest.mark.slow  # installs the built-in models in a subprocess
def test_provisioning_twice_installs_the_built_ins_once_and_says_what_it_did(tmp_path, caplog):
    settings = load({"WORKBENCH_STATE_DIR": str(tmp_path / "state"), "WORKBENCH_BUILTIN_MESSAGES": "40",
                     "WORKBENCH_SPAWNER": "local"})
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


def test_with_system_accounts_users_pass_through_the_state_folder_to_what_is_theirs_only(tmp_path):
    settings = load({"WORKBENCH_STATE_DIR": str(tmp_path / "state"), "WORKBENCH_SPAWNER": "system-users"})
    state = settings.state_path
    state.mkdir()
    (state / "jupyterhub.sqlite").write_text("")
    (state / "jupyterhub.sqlite").chmod(0o644)  # as an older hub left it
    (state / "data-passwords").mkdir(mode=0o755)
    (state / "data-passwords").chmod(0o755)
    provisioning.make_state_folder(settings)
    assert stat.S_IMODE(state.stat().st_mode) == 0o711  # traversable, not listable
    assert stat.S_IMODE((state / "jupyterhub.sqlite").stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "data-passwords").stat().st_mode) == 0o700


def test_a_users_database_password_is_random_kept_and_never_read_through_a_planted_link(tmp_path):
    from spawner import database, names

    folder = tmp_path / "data-passwords"
    first = database.stored_password(folder, names.for_user("ada"))
    assert len(first) >= 40 and first == database.stored_password(folder, names.for_user("ada"))
    assert first != database.stored_password(folder, names.for_user("bob"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / database.role_name(names.for_user("ada"))).stat().st_mode) == 0o600
    assert "ada" not in first

    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("not a password of ours")
    os.symlink(elsewhere, folder / database.role_name(names.for_user("eve")))
    try:
        database.stored_password(folder, names.for_user("eve"))
    except OSError:
        pass  # refusing to follow the link is the point
    else:
        raise AssertionError("a planted link was followed")
    assert elsewhere.read_text() == "not a password of ours"
