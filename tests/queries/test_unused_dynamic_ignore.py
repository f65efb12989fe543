"""Findings beyond lazy N+1: eager loads asked for and never touched, loops over lazy="dynamic" relationships,
and the ignore list that accepts a known finding without hiding it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from profiler.queries import assert_max_queries, profile

from .corpus.models import SIZES, Comment, Post, User

QUICK = dict(repeats=1, explain_plans=False, measure_overhead=False)


def names_with_unused_comments(session):
    return [user.name for user in session.scalars(select(User).options(selectinload(User.comments)).order_by(User.id))]


def bodies_with_unused_commenters(session):
    statement = select(Post).options(selectinload(Post.comments).joinedload(Comment.user)).order_by(Post.id)
    return [[comment.body for comment in post.comments] for post in session.scalars(statement)]


def commenters(session):
    statement = select(Post).options(selectinload(Post.comments).joinedload(Comment.user)).order_by(Post.id)
    return [[comment.user.name for comment in post.comments] for post in session.scalars(statement)]


def test_an_eager_load_never_touched_is_a_finding_with_its_fix(corpus_engine):
    comparison = profile(names_with_unused_comments, strategies=("lazy", "selectin"), engine=corpus_engine, **QUICK)
    for result in comparison.results:
        [finding] = result.nplusone
        assert (finding.kind, finding.key, finding.path) == ("unused", "User.comments", "User.comments")
        assert finding.message == ("Unused eager load User.comments: loaded, never touched. "
                                   "Fix: remove selectinload(User.comments) from the query's options.")
        assert finding.statements == 1  # the select-in it costs, measured by running without it
        assert result.unused_eager_loads == []  # the strategy added nothing of its own to report


def test_an_unused_step_at_the_end_of_the_workloads_chain_is_named_alone(corpus_engine):
    comparison = profile(bodies_with_unused_commenters, strategies=("lazy",), engine=corpus_engine, **QUICK)
    [finding] = comparison["lazy"].nplusone
    assert (finding.key, finding.path) == ("Post.comments.user", "Post.comments → Comment.user")
    assert finding.fix == ("remove .joinedload(Comment.user) from the query's "
                           "selectinload(Post.comments).joinedload(Comment.user)")
    assert finding.statements == 0  # a joined load costs rows, not statements


def test_eager_loads_that_are_used_stay_silent(corpus_engine):
    comparison = profile(commenters, strategies=("lazy", "joined", "selectin", "auto"), engine=corpus_engine, **QUICK)
    assert comparison.errors == {}
    for result in comparison.results:
        assert result.nplusone == [] and result.unused_eager_loads == [], result.label
        assert result.warm[-1].statements == 2


def posts_by_dynamic(session):
    users = session.scalars(select(User).order_by(User.id))
    return [(user.name, [post.title for post in user.posts]) for user in users]


def test_a_loop_over_a_dynamic_relationship_is_a_finding_whose_code_runs_as_one_statement(corpus_engine):
    comparison = profile(posts_by_dynamic, strategies=("lazy", "selectin", "auto"), engine=corpus_engine, **QUICK)
    assert comparison.errors == {}
    for result in comparison.results:
        [finding] = result.nplusone
        assert (finding.kind, finding.key, finding.statements) == ("dynamic", "User.posts", SIZES["users"])
        assert "select(Post).where(Post.user_id.in_(user_keys))" in finding.message
        assert result.data_matches is True
    with Session(corpus_engine) as session:
        expected = {user.id: [post.title for post in user.posts] for user in session.scalars(select(User))}
        namespace = {"session": session, "user_keys": list(expected), "Post": Post}
        with assert_max_queries(1, corpus_engine):
            exec(finding.fix, namespace)
        assert {key: [post.title for post in posts] for key, posts in namespace["posts_by_user"].items()} == expected


def test_a_dynamic_relationship_through_a_secondary_table_gets_a_read_only_twin(corpus_engine):
    def tags_by_dynamic(session):
        return [[tag.name for tag in post.tag_query] for post in session.scalars(select(Post).order_by(Post.id))]

    [finding] = profile(tags_by_dynamic, strategies=("lazy",), engine=corpus_engine, **QUICK)["lazy"].nplusone
    assert (finding.kind, finding.statements) == ("dynamic", SIZES["posts"])
    assert "tag_query_list = relationship(..., viewonly=True)" in finding.fix
    assert "selectinload(Post.tag_query_list)" in finding.fix


def test_a_filtered_dynamic_query_is_the_users_own_query_not_a_loop_over_the_relationship(corpus_engine):
    def recent_posts(session):
        return [[post.title for post in user.posts.filter(Post.id > 30)]
                for user in session.scalars(select(User).order_by(User.id))]

    assert profile(recent_posts, strategies=("lazy",), engine=corpus_engine, **QUICK)["lazy"].nplusone == []


def comments_per_post(session):
    users = session.scalars(select(User).order_by(User.id))
    return [[[comment.body for comment in post.comments] for post in user.post_list] for user in users]


def test_an_ignored_finding_is_shown_as_ignored_with_its_reason(corpus_engine):
    comparison = profile(comments_per_post, strategies=("lazy",), engine=corpus_engine,
                         ignore={"User.post_list.comments": "a report run once a night", "User.memberships": "old"},
                         **QUICK)
    result = comparison["lazy"]
    findings = {finding.key: finding for finding in result.nplusone}
    assert set(findings) == {"User.post_list", "User.post_list.comments"}
    ignored = findings["User.post_list.comments"]
    assert ignored.ignored == "a report run once a night"
    assert ignored.message.startswith("IGNORED (a report run once a night): N+1 on User.post_list → Post.comments")
    assert findings["User.post_list"].ignored is None
    assert result.summary()["nplusone"] == 1 and result.summary()["ignored"] == 1
    assert comparison.notes == ["ignore entry 'User.memberships' matched no finding: it may be fixed, or the key may "
                                "be misspelt (the keys are the findings' key values)"]
    assert "IGNORED (a report run once a night)" in comparison.report()


@pytest.mark.parametrize(("ignore", "message"), [
    ({"Post comments": "x"}, "ignore: 'Post comments' is not a finding's key; use the root entity and the "
                             "relationships walked from it"),
    ({"Post.comments": " "}, "ignore['Post.comments']: give the reason this finding is accepted"),
    (["Post.comments"], "ignore must map a finding's key to the reason it is accepted"),
])
def test_a_bad_ignore_list_is_refused_with_what_to_change(ignore, message):
    with pytest.raises((ValueError, TypeError)) as error:  # before anything runs: no engine is needed
        profile(comments_per_post, strategies=("lazy",), ignore=ignore, **QUICK)
    assert str(error.value).startswith(message)


def test_subclass_columns_read_per_object_are_a_finding_whose_fix_is_checked(corpus_engine):
    def media_sizes(session):
        posts = session.scalars(select(Post).options(selectinload(Post.media)).order_by(Post.id))
        return [[getattr(item, "width", None) or getattr(item, "seconds", None) for item in post.media]
                for post in posts]

    comparison = profile(media_sizes, strategies=("lazy",), engine=corpus_engine, **QUICK)
    [finding] = comparison["lazy"].nplusone
    assert (finding.kind, finding.key, finding.statements) == ("columns", "Post.media.subclasses", SIZES["media"])
    assert finding.fix == "selectinload(Post.media).selectin_polymorphic([Image, Video])"
    assert (finding.before, finding.after, finding.fixed) == (2 + SIZES["media"], 4, True)  # + images, videos
    assert finding.message.startswith(f"Subclass columns loaded one object at a time: {SIZES['media']} statements "
                                      "for the Media objects loaded along Post.media")
