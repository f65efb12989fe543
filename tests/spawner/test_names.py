"""Usernames become resource names that every AWS service and PostgreSQL accept, never collide, never change."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spawner import names

CLOUDFORMATION_STACK = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
DYNAMODB_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
IAM_ROLE = re.compile(r"^[\w+=,.@-]{1,64}$")
TARGET_GROUP = re.compile(r"^(?!.*--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
POSTGRES_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

usernames = st.text(min_size=1, max_size=80)
# JupyterHub's default normalisation lowercases; odd characters still arrive from OAuth providers.
realistic = st.one_of(
    usernames,
    st.from_regex(r"[a-z][a-z0-9._@+-]{0,30}", fullmatch=True),
    st.emails(),
)


@pytest.mark.parametrize(
    ("username", "stack", "loadtest", "schema"),
    [
        # Pinned: changing any of these orphans every existing playground (names are a stable contract).
        ("alice", "profiler-alice", "profiler-alice-loadtest", "profiler_alice"),
        ("Alice Smith", "profiler-alice-rlqq37e2nh4x2", "profiler-alice-rlqq37e2nh4x2-loadtest",
         "profiler_alice_rlqq37e2nh4x2"),
        ("bob@example.com", "profiler-bob-ex-l74gbpyrsbmwy", "profiler-bob-ex-l74gbpyrsbmwy-loadtest",
         "profiler_bob_ex_l74gbpyrsbmwy"),
        ("张伟", "profiler-user-uoqlv7il53ke2", "profiler-user-uoqlv7il53ke2-loadtest", "profiler_user_uoqlv7il53ke2"),
        ("élodie", "profiler-elodie-g25meyy5c5dd2", "profiler-elodie-g25meyy5c5dd2-loadtest",
         "profiler_elodie_g25meyy5c5dd2"),
    ],
)
def test_names_are_stable_across_releases(username, stack, loadtest, schema):
    playground = names.for_user(username)
    assert (playground.stack, playground.loadtest_table, playground.schema) == (stack, loadtest, schema)
    assert playground.runs_table == stack + "-runs"
    assert playground.role == stack + "-server"


@pytest.mark.parametrize(
    ("username", "stack", "schema"),
    [
        # Pinned: what releases with a 32-bit hash named, so their playgrounds and data are still found.
        ("alice", "profiler-alice", "profiler_alice"),
        ("Alice Smith", "profiler-alice-smith-8ae10dfc", "profiler_alice_smith_8ae10dfc"),
        ("bob@example.com", "profiler-bob-example-5ff860bf", "profiler_bob_example_5ff860bf"),
        ("张伟", "profiler-user-a3a0bafd", "profiler_user_a3a0bafd"),
        ("élodie", "profiler-elodie-36bac263", "profiler_elodie_36bac263"),
    ],
)
def test_the_names_earlier_releases_gave_are_still_known(username, stack, schema):
    legacy = names.for_user(username, legacy=True)
    assert (legacy.stack, legacy.schema) == (stack, schema)
    assert names.has_legacy_names(username) == (username != "alice")


def test_hashed_slugs_carry_64_bits():
    hashed = names.slug("Alice Smith")
    assert names.HASHED.search(hashed) and len(hashed.rsplit("-", 1)[1]) * 5 >= 64


def test_a_clean_username_stays_readable_without_a_hash():
    assert names.slug("dev-team-7") == "dev-team-7"


@given(realistic)
@settings(max_examples=200, deadline=None)
def test_every_name_is_valid_for_its_service(username):
    playground = names.for_user(username)
    assert CLOUDFORMATION_STACK.match(playground.stack)
    for table in (playground.loadtest_table, playground.runs_table):
        assert DYNAMODB_TABLE.match(table)
    assert IAM_ROLE.match(playground.role)
    assert IAM_ROLE.match(playground.session_name) and len(playground.session_name) >= 2
    assert TARGET_GROUP.match(playground.target_group)
    assert POSTGRES_IDENTIFIER.match(playground.schema) and len(playground.schema.encode()) <= 63


@given(realistic, realistic)
@settings(max_examples=300, deadline=None)
def test_different_usernames_never_share_a_name(first, second):
    if first != second:
        assert names.slug(first) != names.slug(second)
        assert names.for_user(first).schema != names.for_user(second).schema


@pytest.mark.parametrize("username", ["Alice", "alice ", "alice.", "ALICE", "al--ice", "a" * 21])
def test_usernames_that_slug_like_a_clean_one_get_a_hash(username):
    clean_lookalike = username.lower().strip(" .").replace("--", "-")[:20]
    assert names.slug(username) != names.slug(clean_lookalike)
    assert names.LOOKS_HASHED.search(names.slug(username))


def test_a_clean_username_that_looks_hashed_cannot_take_another_users_names():
    for hashed in (names.slug("Alice Smith"), names.legacy_slug("Alice Smith")):
        assert hashed in ("alice-rlqq37e2nh4x2", "alice-smith-8ae10dfc")
        assert names.slug(hashed) != hashed  # neither a new nor an old hashed slug can be claimed as a username


@given(realistic)
@settings(max_examples=100, deadline=None)
def test_the_slug_keeps_what_it_can_of_the_username(username):
    readable = names.LOOKS_HASHED.sub("", names.slug(username))
    if readable != "user":
        assert readable.replace("-", "") in names._ascii_readable(username).replace("-", "")


@pytest.mark.parametrize("bad", ["", None, 7])
def test_a_missing_username_is_refused_clearly(bad):
    with pytest.raises(ValueError, match="non-empty string"):
        names.slug(bad)


@pytest.mark.parametrize("prefix", ["", "Profiler", "9lives", "much-too-long-prefix", "pro_filer"])
def test_a_prefix_that_would_break_a_name_is_refused(prefix):
    with pytest.raises(ValueError, match="name prefix"):
        names.for_user("alice", prefix=prefix)


def test_the_longest_prefix_still_fits_the_target_group_limit():
    playground = names.for_user("x" * 200, prefix="a" * names.MAX_PREFIX)
    assert len(playground.target_group) == 32
