"""The local username policy and the sign-up reasons, without a hub (the real hub tests are in tests/hub)."""

from __future__ import annotations

import pytest

from hub.auth.local import username_problem


@pytest.mark.parametrize("name", ["alice", "a", "zoe.obrien", "ada_lovelace-2", "0xdeadbeef", "a" * 64])
def test_safe_readable_names_are_accepted(name):
    assert username_problem(name) is None


@pytest.mark.parametrize(
    "name, reason",
    [
        ("zoë o'brien+test", "contains a space, “'”, “+”, “ë”."),
        ("-dash-first", "must start with a letter or digit"),
        (".hidden", "must start with a letter or digit"),
        ("a" * 65, "has 65 characters"),
        ("", "Choose a username."),
        ("x/y", "“/”"),
        ("robert'); drop table users;--", "a space, “'”, “)”, “;”"),
    ],
)
def test_unsafe_names_are_refused_with_the_reason(name, reason):
    problem = username_problem(name)
    assert problem is not None and reason in problem
