"""The corpus's schema: a small community site with every kind of relationship the profiler must read right.

Many-to-one (Post.author), one-to-many (User.comments), many-to-many (Post.tags), self-referential
(User.manager / User.reports), polymorphic (Media → Image, Video, joined-table inheritance), an association
object with a composite key (Membership between User and Group), lazy="dynamic" relationships with and
without a secondary table (User.posts, Post.tag_query), and a lazy="write_only" one (User.comment_log).
Every collection has an order_by, so every loading strategy returns the same data in the same order.

The data is deterministic and small on purpose (``SIZES``): the corpus states its statement counts from it.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, insert
from sqlalchemy.orm import DeclarativeBase, DynamicMapped, Mapped, WriteOnlyMapped, mapped_column, relationship


class CorpusBase(DeclarativeBase):
    pass


post_tags = Table(
    "post_tags",
    CorpusBase.metadata,
    Column("post_id", ForeignKey("posts.id"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True),
)


class User(CorpusBase):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    manager: Mapped[User | None] = relationship(remote_side=[id], back_populates="reports")
    reports: Mapped[list[User]] = relationship(back_populates="manager", order_by="User.id")
    posts: DynamicMapped[Post] = relationship(lazy="dynamic", order_by="Post.id", viewonly=True)
    post_list: Mapped[list[Post]] = relationship(back_populates="author", order_by="Post.id")
    comments: Mapped[list[Comment]] = relationship(back_populates="user", order_by="Comment.id")
    comment_log: WriteOnlyMapped[Comment] = relationship(order_by="Comment.id", viewonly=True)
    memberships: Mapped[list[Membership]] = relationship(back_populates="user", order_by="Membership.group_id")


class Post(CorpusBase):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    author: Mapped[User] = relationship(back_populates="post_list")
    comments: Mapped[list[Comment]] = relationship(back_populates="post", order_by="Comment.id")
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, back_populates="posts", order_by="Tag.id")
    tag_query: DynamicMapped[Tag] = relationship(secondary=post_tags, lazy="dynamic", order_by="Tag.id",
                                                 viewonly=True)
    media: Mapped[list[Media]] = relationship(back_populates="post", order_by="Media.id")


class Comment(CorpusBase):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(String(80))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    post: Mapped[Post] = relationship(back_populates="comments")
    user: Mapped[User] = relationship(back_populates="comments")


class Tag(CorpusBase):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))

    posts: Mapped[list[Post]] = relationship(secondary=post_tags, back_populates="tags", order_by="Post.id")


class Group(CorpusBase):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))

    memberships: Mapped[list[Membership]] = relationship(back_populates="group", order_by="Membership.user_id")


class Membership(CorpusBase):
    """An association object: the link between a user and a group carries data of its own."""

    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))

    user: Mapped[User] = relationship(back_populates="memberships")
    group: Mapped[Group] = relationship(back_populates="memberships")


class Media(CorpusBase):
    __tablename__ = "media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    caption: Mapped[str] = mapped_column(String(80))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))

    post: Mapped[Post] = relationship(back_populates="media")

    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "media"}


class Image(Media):
    __tablename__ = "images"

    id: Mapped[int] = mapped_column(ForeignKey("media.id"), primary_key=True)
    width: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"polymorphic_identity": "image"}


class Video(Media):
    __tablename__ = "videos"

    id: Mapped[int] = mapped_column(ForeignKey("media.id"), primary_key=True)
    seconds: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"polymorphic_identity": "video"}


# 12 users in 3 teams of 4 (user 1, 5, 9 manage the others of their team), 3 posts each, 2 comments per post by
# other users, 5 tags with 2 per post, 3 groups with each user in 2 of them, and one picture or video per post
USERS, POSTS_PER_USER, COMMENTS_PER_POST, TAGS, GROUPS = 12, 3, 2, 5, 3
SIZES = dict(users=USERS, posts=USERS * POSTS_PER_USER, comments=USERS * POSTS_PER_USER * COMMENTS_PER_POST,
             tags=TAGS, groups=GROUPS, memberships=USERS * 2, media=USERS * POSTS_PER_USER)


def rows() -> dict[str, list[dict]]:
    users = [{"id": key, "name": f"user {key}", "manager_id": None if key % 4 == 1 else (key - 1) // 4 * 4 + 1}
             for key in range(1, USERS + 1)]
    posts = [{"id": key, "title": f"post {key}", "user_id": (key - 1) // POSTS_PER_USER + 1}
             for key in range(1, SIZES["posts"] + 1)]
    comments = [{"id": key, "body": f"comment {key}", "post_id": (key - 1) // COMMENTS_PER_POST + 1,
                 "user_id": key % USERS + 1} for key in range(1, SIZES["comments"] + 1)]
    tags = [{"id": key, "name": f"tag {key}"} for key in range(1, TAGS + 1)]
    links = [{"post_id": post["id"], "tag_id": tag} for post in posts
             for tag in sorted({post["id"] % TAGS + 1, (post["id"] + 2) % TAGS + 1})]
    groups = [{"id": key, "name": f"group {key}"} for key in range(1, GROUPS + 1)]
    memberships = [{"user_id": user["id"], "group_id": group, "role": "owner" if group == 1 else "member"}
                   for user in users for group in sorted({user["id"] % GROUPS + 1, (user["id"] + 1) % GROUPS + 1})]
    media = [{"id": post["id"], "kind": "image" if post["id"] % 2 else "video", "caption": f"media {post['id']}",
              "post_id": post["id"]} for post in posts]
    images = [{"id": item["id"], "width": 100 + item["id"]} for item in media if item["kind"] == "image"]
    videos = [{"id": item["id"], "seconds": 10 + item["id"]} for item in media if item["kind"] == "video"]
    return {"users": users, "posts": posts, "comments": comments, "tags": tags, "post_tags": links,
            "groups": groups, "memberships": memberships, "media": media, "images": images, "videos": videos}


def create_corpus(engine) -> None:
    CorpusBase.metadata.create_all(engine)
    tables = CorpusBase.metadata.tables
    with engine.begin() as connection:
        for name, values in rows().items():
            connection.execute(insert(tables[name]), values)
