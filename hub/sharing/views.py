"""How often a published dashboard was opened by the people it is shared with, for its owner's "My dashboards" page.

Viewers' requests go from the proxy straight to the dashboard's server; the hub only sees a viewer when the
server sends them through its OAuth login, which ends with the hub issuing them a token for that server (an
``orm.APIToken`` whose ``oauth_client`` is the server's). That issuance is the view counted here: one per viewer
per browser session (or after the server's login cookie expires), so reloads within a session are not counted
and the numbers are a lower bound of page loads. The tokens themselves cannot be counted afterwards, as
JupyterHub deletes them at logout and when they expire; a row is written beside each instead, in a table of the
hub's own database, which goes with the server (unpublished) or the viewer (deleted) through its foreign keys.
The owner's own opens are not views.

May import jupyterhub, sqlalchemy and tornado.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from jupyterhub import orm
from sqlalchemy import Column, DateTime, ForeignKey, Integer, Table, event, func, select
from sqlalchemy.exc import SQLAlchemyError
from tornado.log import app_log

from spawner.published import PREFIX

# On JupyterHub's metadata, so that the hub creates it with its own tables when it opens its database.
VIEWS = Table(
    "workbench_dashboard_views",
    orm.Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("spawner_id", Integer, ForeignKey("spawners.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("viewer_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("viewed_at", DateTime, index=True, nullable=False),
)

_installed_marker = "_workbench_counts_views"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)  # JupyterHub stores naive UTC


def _count_token(mapper, connection, token) -> None:
    if token.client_id is None or token.user_id is None or token.client_id == "jupyterhub":
        return
    try:
        spawners = orm.Spawner.__table__
        server = select(spawners.c.id, spawners.c.user_id, spawners.c.name)
        row = connection.execute(server.where(spawners.c.oauth_client_id == token.client_id)).first()
        if row is None or not (row.name or "").startswith(PREFIX) or row.user_id == token.user_id:
            return
        now = _utcnow()
        connection.execute(VIEWS.insert().values(spawner_id=row.id, viewer_id=token.user_id, viewed_at=now))
        # the page shows a week at most: older rows would only grow the table
        connection.execute(VIEWS.delete().where(VIEWS.c.viewed_at < now - timedelta(days=8)))
    except SQLAlchemyError:  # a view not counted must not cost the viewer their login
        app_log.exception("Could not count a view of the server with OAuth client %s", token.client_id)


def install() -> None:
    """Count views from now on in this (the hub's) process; idempotent. Must run before the hub opens its
    database, so that the table is created with JupyterHub's."""
    if getattr(orm.APIToken, _installed_marker, False):
        return
    event.listen(orm.APIToken, "after_insert", _count_token)
    setattr(orm.APIToken, _installed_marker, True)


def counts(db, spawner_ids: list[int], now: datetime | None = None) -> dict[int, dict[str, int]]:
    """Views per server id in the last day and the last week: ``{id: {"day": n, "week": n}}``."""
    now = now or _utcnow()
    found = {spawner_id: {"day": 0, "week": 0} for spawner_id in spawner_ids}
    if not spawner_ids:
        return found
    for window, since in (("day", now - timedelta(days=1)), ("week", now - timedelta(days=7))):
        query = (select(VIEWS.c.spawner_id, func.count()).where(VIEWS.c.spawner_id.in_(spawner_ids))
                 .where(VIEWS.c.viewed_at >= since).group_by(VIEWS.c.spawner_id))
        for spawner_id, number in db.execute(query):
            found[spawner_id][window] = number
    return found
