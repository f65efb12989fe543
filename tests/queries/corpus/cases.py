"""The corpus: workloads in the shapes applications write (nplusone's and Django's N+1 scenarios, re-expressed
in SQLAlchemy), each with the statements it runs as written and the findings it must get, no more, no fewer.

Every case comes from a family run over several sizes (the first 1, 2, 3, 5, 8 or 12 rows of its root): one
row is a lone lazy load, which must stay silent (an N+1 needs two); expected counts follow from the corpus's
data (``models.rows``), worked out below per family from what SQLAlchemy does:

* a collection (one-to-many, many-to-many) loads lazily once per parent object;
* a many-to-one loads once per distinct target not already in the session (its identity map answers the
  rest), so a walk back to an object already loaded costs nothing;
* a lazy="dynamic" relationship is one query per parent each time it is iterated, and so is a
  lazy="write_only" one each time its select() runs;
* ``session.get()`` runs one statement per key not already in the session;
* a workload's own eager options are one statement per select-in level and none for a join;
* a joined-table subclass object loaded as its base class loads its own columns with one statement each.

``findings`` maps a finding's key (the root entity and the relationship keys walked from it; a get loop's
entity) to its kind and its statements (for an unused eager load, the statements it costs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import (
    aliased,
    contains_eager,
    joinedload,
    load_only,
    selectinload,
    with_loader_criteria,
    with_polymorphic,
)

from .models import Comment, Group, Image, Media, Post, Tag, User, Video, rows

DATA = rows()
SIZES = (1, 2, 3, 5, 8, 12)


@dataclass(frozen=True)
class Case:
    name: str
    workload: Callable = field(repr=False)
    statements: int  # as written (the lazy strategy)
    findings: dict[str, tuple[str, int]]
    family: str = ""


def _finding(key: str, kind: str, statements: int) -> dict[str, tuple[str, int]]:
    """A lazy N+1 needs two loads at least (the profiler's default threshold); unused loads always count."""
    return {key: (kind, statements)} if statements >= 2 or kind == "unused" else {}


def first(table: str, count: int, key: str = "id") -> list[dict]:
    return sorted(DATA[table], key=lambda row: row[key])[:count]


def distinct(values) -> int:
    return len({value for value in values if value is not None})


def _users(session, count, *options):
    return session.scalars(select(User).options(*options).order_by(User.id).limit(count)).all()


def _posts(session, count, *options):
    return session.scalars(select(Post).options(*options).order_by(Post.id).limit(count)).all()


# -- the families: each returns the case for the first `n` rows of its root ------------------------------------
def users_comments(n):
    def workload(session):
        return [(user.name, [comment.body for comment in user.comments]) for user in _users(session, n)]
    return Case(f"one-to-many: users → comments [{n}]", workload, 1 + n, _finding("User.comments", "lazy", n))


def users_posts_list(n):
    def workload(session):
        return [(user.name, [post.title for post in user.post_list]) for user in _users(session, n)]
    return Case(f"one-to-many: users → posts [{n}]", workload, 1 + n, _finding("User.post_list", "lazy", n))


def posts_author(n):
    def workload(session):
        return [(post.title, post.author.name) for post in _posts(session, n)]
    loads = distinct(post["user_id"] for post in first("posts", n))
    return Case(f"many-to-one: posts → author [{n}]", workload, 1 + loads, _finding("Post.author", "lazy", loads))


def posts_tags(n):
    def workload(session):
        return [(post.title, [tag.name for tag in post.tags]) for post in _posts(session, n)]
    return Case(f"many-to-many: posts → tags [{n}]", workload, 1 + n, _finding("Post.tags", "lazy", n))


def tags_posts(n):
    def workload(session):
        tags = session.scalars(select(Tag).order_by(Tag.id).limit(n)).all()
        return [(tag.name, [post.title for post in tag.posts]) for tag in tags]
    n = min(n, len(DATA["tags"]))
    return Case(f"many-to-many, reverse: tags → posts [{n}]", workload, 1 + n, _finding("Tag.posts", "lazy", n))


def managers_from_the_end(n):
    def workload(session):
        users = session.scalars(select(User).order_by(User.id.desc()).limit(n)).all()
        return [(user.name, user.manager.name if user.manager else None) for user in users]
    users = sorted(DATA["users"], key=lambda row: -row["id"])[:n]
    loaded = {user["id"] for user in users}
    loads = distinct(user["manager_id"] for user in users if user["manager_id"] not in loaded)
    return Case(f"self-referential many-to-one: users → manager [{n}]", workload, 1 + loads,
                _finding("User.manager", "lazy", loads))


def users_reports(n):
    def workload(session):
        return [(user.name, [report.name for report in user.reports]) for user in _users(session, n)]
    return Case(f"self-referential one-to-many: users → reports [{n}]", workload, 1 + n,
                _finding("User.reports", "lazy", n))


def groups_members(n):
    def workload(session):
        groups = session.scalars(select(Group).order_by(Group.id).limit(n)).all()
        return [(group.name, [(member.role, member.user.name) for member in group.memberships]) for group in groups]
    n = min(n, len(DATA["groups"]))
    groups = {group["id"] for group in first("groups", n)}
    loads = distinct(row["user_id"] for row in DATA["memberships"] if row["group_id"] in groups)
    return Case(f"association object: groups → memberships → user [{n}]", workload, 1 + n + loads,
                {**_finding("Group.memberships", "lazy", n), **_finding("Group.memberships.user", "lazy", loads)})


def users_groups(n):
    def workload(session):
        return [[(member.role, member.group.name) for member in user.memberships] for user in _users(session, n)]
    users = {user["id"] for user in first("users", n)}
    loads = distinct(row["group_id"] for row in DATA["memberships"] if row["user_id"] in users)
    return Case(f"association object: users → memberships → group [{n}]", workload, 1 + n + loads,
                {**_finding("User.memberships", "lazy", n), **_finding("User.memberships.group", "lazy", loads)})


def posts_media(n):
    def workload(session):
        return [(post.title, [item.caption for item in post.media]) for post in _posts(session, n)]
    return Case(f"polymorphic one-to-many: posts → media [{n}]", workload, 1 + n, _finding("Post.media", "lazy", n))


def _subclass_loads(media_ids) -> int:
    """Subclass column loads that make a loop: those of a subclass read at least twice."""
    kinds = [row["kind"] for row in DATA["media"] if row["id"] in media_ids]
    return sum(count for count in (kinds.count("image"), kinds.count("video")) if count >= 2)


def posts_media_subclass_columns(n):
    def workload(session):
        return [[(item.caption, getattr(item, "width", None), getattr(item, "seconds", None)) for item in post.media]
                for post in _posts(session, n)]
    loops = _subclass_loads({post["id"] for post in first("posts", n)})  # post k has media k
    return Case(f"polymorphic, subclass columns: posts → media → width, seconds [{n}]", workload, 1 + n + n,
                {**_finding("Post.media", "lazy", n), **_finding("Post.media.subclasses", "columns", loops)})


def media_subclass_columns(n):
    def workload(session):
        items = session.scalars(select(Media).order_by(Media.id).limit(n)).all()
        return [(item.caption, getattr(item, "width", None), getattr(item, "seconds", None)) for item in items]
    loops = _subclass_loads({row["id"] for row in first("media", n)})
    return Case(f"polymorphic root, subclass columns: media → width, seconds [{n}]", workload, 1 + n,
                _finding("Media.subclasses", "columns", loops))


def users_dynamic_posts(n):
    def workload(session):
        return [(user.name, [post.title for post in user.posts]) for user in _users(session, n)]
    return Case(f"dynamic: users → posts [{n}]", workload, 1 + n, _finding("User.posts", "dynamic", n))


def posts_dynamic_tags(n):
    def workload(session):
        return [(post.title, [tag.name for tag in post.tag_query]) for post in _posts(session, n)]
    return Case(f"dynamic through a secondary table: posts → tags [{n}]", workload, 1 + n,
                _finding("Post.tag_query", "dynamic", n))


def users_write_only_comments(n):
    def workload(session):
        return [(user.name, [comment.body for comment in session.scalars(user.comment_log.select())])
                for user in _users(session, n)]
    return Case(f"write-only: users → comments [{n}]", workload, 1 + n, _finding("User.comment_log", "dynamic", n))


def get_posts(n):
    def workload(session):
        return [session.get(Post, key).title for key in range(1, n + 1)]
    return Case(f"get in a loop: posts [{n}]", workload, n, _finding("Post", "get", n))


def get_posts_then_authors(n):
    def workload(session):
        posts = [session.get(Post, key) for key in range(1, n + 1)]
        return [(post.title, post.author.name) for post in posts]
    loads = distinct(post["user_id"] for post in first("posts", n))
    return Case(f"get in a loop, then many-to-one: posts → author [{n}]", workload, n + loads,
                {**_finding("Post", "get", n), **_finding("Post.author", "lazy", loads)})


def users_posts_comments(n):
    def workload(session):
        return [[[comment.body for comment in post.comments] for post in user.post_list] for user in _users(session, n)]
    posts = n * 3
    return Case(f"nested loops: users → posts → comments [{n}]", workload, 1 + n + posts,
                {**_finding("User.post_list", "lazy", n), **_finding("User.post_list.comments", "lazy", posts)})


def comments_post_author(n):
    def workload(session):
        comments = session.scalars(select(Comment).order_by(Comment.id).limit(n)).all()
        return [(comment.body, comment.post.title, comment.post.author.name) for comment in comments]
    comments = first("comments", n)
    post_ids = {comment["post_id"] for comment in comments}
    authors = distinct(post["user_id"] for post in DATA["posts"] if post["id"] in post_ids)
    return Case(f"nested many-to-one: comments → post → author [{n}]", workload, 1 + len(post_ids) + authors,
                {**_finding("Comment.post", "lazy", len(post_ids)), **_finding("Comment.post.author", "lazy", authors)})


def users_comments_post(n):
    def workload(session):
        return [[comment.post.title for comment in user.comments] for user in _users(session, n)]
    users = {user["id"] for user in first("users", n)}
    loads = distinct(comment["post_id"] for comment in DATA["comments"] if comment["user_id"] in users)
    return Case(f"one-to-many then many-to-one: users → comments → post [{n}]", workload, 1 + n + loads,
                {**_finding("User.comments", "lazy", n), **_finding("User.comments.post", "lazy", loads)})


def users_posts_tags(n):
    def workload(session):
        return [[[tag.name for tag in post.tags] for post in user.post_list] for user in _users(session, n)]
    return Case(f"nested one-to-many, many-to-many: users → posts → tags [{n}]", workload, 1 + n + 3 * n,
                {**_finding("User.post_list", "lazy", n), **_finding("User.post_list.tags", "lazy", 3 * n)})


def users_posts_media(n):
    def workload(session):
        return [[[item.caption for item in post.media] for post in user.post_list] for user in _users(session, n)]
    return Case(f"nested, polymorphic: users → posts → media [{n}]", workload, 1 + n + 3 * n,
                {**_finding("User.post_list", "lazy", n), **_finding("User.post_list.media", "lazy", 3 * n)})


def both_directions(n):
    def workload(session):
        return [[(post.title, post.author.name) for post in user.post_list] for user in _users(session, n)]
    return Case(f"both directions: users → posts → author [{n}]", workload, 1 + n,
                _finding("User.post_list", "lazy", n))


def own_selectin_used(n):
    def workload(session):
        return [[comment.body for comment in user.comments] for user in _users(session, n, selectinload(User.comments))]
    return Case(f"own options, used (eager negative): users + selectinload(comments) [{n}]", workload, 2, {})


def own_joined_used(n):
    def workload(session):
        posts = session.scalars(select(Post).options(joinedload(Post.author)).order_by(Post.id).limit(n)).all()
        return [(post.title, post.author.name) for post in posts]
    return Case(f"own options, used (eager negative): posts + joinedload(author) [{n}]", workload, 1, {})


def own_chain_used(n):
    def workload(session):
        options = (selectinload(User.post_list).selectinload(Post.tags), selectinload(User.reports))
        return [([[tag.name for tag in post.tags] for post in user.post_list], [report.name for report in user.reports])
                for user in _users(session, n, *options)]
    return Case(f"own options, used (eager negative): users + posts.tags, reports [{n}]", workload, 4, {})


def own_selectin_then_lazy(n):
    def workload(session):
        users = _users(session, n, selectinload(User.post_list))
        return [[[comment.body for comment in post.comments] for post in user.post_list] for user in users]
    return Case(f"own options, lazy below them: users + selectinload(posts) → comments [{n}]", workload,
                2 + 3 * n, _finding("User.post_list.comments", "lazy", 3 * n))


def own_selectin_unused(n):
    def workload(session):
        return [user.name for user in _users(session, n, selectinload(User.comments))]
    return Case(f"own options, unused: users + selectinload(comments) never read [{n}]", workload, 2,
                _finding("User.comments", "unused", 1))


def own_joined_unused(n):
    def workload(session):
        return [post.title for post in _posts(session, n, joinedload(Post.author))]
    return Case(f"own options, unused: posts + joinedload(author) never read [{n}]", workload, 1,
                _finding("Post.author", "unused", 0))


def two_roots(n):
    """Comments reached from two roots: the first n users' posts, then every tag's posts. A post already in the
    session keeps the path it was loaded on, so its comments are the users' finding; the rest are the tags'."""
    def workload(session):
        users = _users(session, n)  # kept: the session holds its objects only while something refers to them
        by_user = [[[comment.body for comment in post.comments] for post in user.post_list] for user in users]
        tags = session.scalars(select(Tag).order_by(Tag.id)).all()
        by_tag = [[[comment.body for comment in post.comments] for post in tag.posts] for tag in tags]
        return by_user, by_tag
    mine = 3 * n
    others = len(DATA["posts"]) - mine  # every post has tags
    tags = len(DATA["tags"])
    return Case(f"two roots reach one class: users → posts → comments, tags → posts → comments [{n}]", workload,
                1 + n + mine + 1 + tags + others,
                {**_finding("User.post_list", "lazy", n), **_finding("User.post_list.comments", "lazy", mine),
                 **_finding("Tag.posts", "lazy", tags), **_finding("Tag.posts.comments", "lazy", others)})


def legacy_query(n):
    def workload(session):
        users = session.query(User).order_by(User.id).limit(n)
        return [(user.name, [comment.body for comment in user.comments]) for user in users]
    return Case(f"legacy Query: users → comments [{n}]", workload, 1 + n, _finding("User.comments", "lazy", n))


def aliased_root(n):
    def workload(session):
        alias = aliased(User)
        users = session.scalars(select(alias).order_by(alias.id).limit(n))
        return [(user.name, [comment.body for comment in user.comments]) for user in users]
    return Case(f"aliased root: users → comments [{n}]", workload, 1 + n, _finding("User.comments", "lazy", n))


def polymorphic_root(n):
    def workload(session):
        media = with_polymorphic(Media, [Image, Video])
        items = session.scalars(select(media).order_by(media.id).limit(n)).all()
        return [(item.caption, getattr(item, "width", None), item.post.title) for item in items]
    return Case(f"with_polymorphic root: media → post [{n}]", workload, 1 + n, _finding("Media.post", "lazy", n))


def contains_eager_then_lazy(n):
    def workload(session):
        statement = (select(User).join(User.post_list).options(contains_eager(User.post_list))
                     .where(User.id <= n).order_by(User.id, Post.id))
        return [[(post.title, [comment.body for comment in post.comments]) for post in user.post_list]
                for user in session.scalars(statement).unique()]
    return Case(f"contains_eager, lazy below it: users ⋈ posts → comments [{n}]", workload, 1 + 3 * n,
                _finding("User.post_list.comments", "lazy", 3 * n))


def loader_criteria(n):
    def workload(session):
        statement = select(User).options(with_loader_criteria(Comment, Comment.id > 10)).order_by(User.id).limit(n)
        return [(user.name, [comment.body for comment in user.comments]) for user in session.scalars(statement)]
    return Case(f"with_loader_criteria: users → some comments [{n}]", workload, 1 + n,
                _finding("User.comments", "lazy", n))


def load_only_root(n):
    def workload(session):
        users = _users(session, n, load_only(User.name))
        return [(user.name, [comment.body for comment in user.comments]) for user in users]
    return Case(f"load_only root: users → comments [{n}]", workload, 1 + n, _finding("User.comments", "lazy", n))


FAMILIES = {
    "one-to-many": [users_comments, users_posts_list, users_reports],
    "many-to-one": [posts_author, managers_from_the_end],
    "many-to-many": [posts_tags, tags_posts],
    "association": [groups_members, users_groups],
    "polymorphic": [posts_media, users_posts_media, posts_media_subclass_columns, media_subclass_columns],
    "dynamic": [users_dynamic_posts, posts_dynamic_tags, users_write_only_comments],
    "get": [get_posts, get_posts_then_authors],
    "nested": [users_posts_comments, comments_post_author, users_comments_post, users_posts_tags, both_directions,
               two_roots],
    "query styles": [legacy_query, aliased_root, polymorphic_root, contains_eager_then_lazy, loader_criteria,
                     load_only_root],
    "own options": [own_selectin_used, own_joined_used, own_chain_used, own_selectin_then_lazy, own_selectin_unused,
                    own_joined_unused],
}


def all_cases() -> list[Case]:
    cases, seen = [], set()
    for family, makers in FAMILIES.items():
        for maker in makers:
            for size in SIZES:
                case = maker(size)
                if case.name not in seen:  # a family capped by its table repeats its last size
                    seen.add(case.name)
                    cases.append(Case(case.name, case.workload, case.statements, case.findings, family))
    return cases


CASES = all_cases()
