"""The owner's "My dashboards" page, ``GET /hub/workbench/dashboards``: every dashboard they publish (built-in or
their own notebook), who can see it, how often it was opened (:mod:`hub.sharing.views`), whether it runs, and
how much of their limits is used.

The page is always the requester's own: it takes no user name, so nobody can ask for someone else's list. Its
actions go through the paths that already hold the rules: republishing through :mod:`hub.sharing.publishing`,
the audience through JupyterHub's sharing API (narrowed by :mod:`hub.sharing.rules`), unpublishing through
``DELETE /hub/api/users/{owner}/servers/{server}`` with ``{"remove": true}``, which deletes the server with its
shares and share codes, so its viewers are refused within the server's auth cache age.

May import jupyterhub, tornado and :mod:`spawner`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from jupyterhub import orm
from jupyterhub.handlers import BaseHandler
from tornado import web

from hub.sharing import views
from hub.sharing.rules import EVERYONE
from spawner.dashboards import Dashboard
from spawner.published import OWN_OPTION, own_dashboard, server_name

ROUTE = r"/workbench/dashboards"


@dataclass
class Audience:
    users: list[dict] = field(default_factory=list)  # {"name", "expires_at"}
    groups: list[dict] = field(default_factory=list)  # {"name", "expires_at"}
    codes: list[dict] = field(default_factory=list)  # {"id", "created_at", "expires_at", "used"}
    everyone: str | None = None  # a shared group that holds every other user of the hub


@dataclass
class MyDashboard:
    server: str
    title: str
    url: str
    own: dict | None  # one of the owner's notebooks: its publication (source, version, when); None: built-in
    running: bool
    pending: str | None
    audience: Audience
    views_day: int = 0
    views_week: int = 0


@dataclass
class Limit:
    used: int
    limit: int  # 0: none

    @property
    def reached(self) -> bool:
        return bool(self.limit) and self.used >= self.limit


def _when(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=timezone.utc).isoformat(timespec="minutes") if moment else None


def _audience(db, orm_user, orm_spawner) -> Audience:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    alive = [share for share in orm_spawner.shares if share.expires_at is None or share.expires_at > now]
    audience = Audience(
        users=sorted(({"name": s.user.name, "expires_at": _when(s.expires_at)} for s in alive if s.user is not None),
                     key=lambda entry: entry["name"]),
        groups=sorted(({"name": s.group.name, "expires_at": _when(s.expires_at)} for s in alive if s.group is not None),
                      key=lambda entry: entry["name"]),
        codes=[{"id": code.id, "created_at": _when(code.created_at), "expires_at": _when(code.expires_at),
                "used": code.exchange_count or 0}
               for code in sorted(orm_spawner.share_codes, key=lambda code: code.id)
               if code.expires_at is None or code.expires_at > now],
    )
    # the hub's everyone group counts for every user (hub.sharing.rules); another group that happens to hold
    # every other user says so only while it does (people who sign up later are not in it unless added)
    others = {row.id for row in db.query(orm.User.id).filter(orm.User.id != orm_user.id)}
    for share in alive:
        if share.group is not None and (share.group.name == EVERYONE or (
                others and others <= {member.id for member in share.group.users})):
            audience.everyone = share.group.name
            break
    return audience


def my_dashboards(user, offered: list[Dashboard]) -> list[MyDashboard]:
    """The dashboards ``user`` (a hub user) publishes: the built-in ones they started at least once, then their
    own notebooks, each with its audience and views."""
    orm_user = user.orm_user
    built_in = {server_name(dashboard): dashboard for dashboard in offered}
    found = []
    for name, orm_spawner in sorted(orm_user.orm_spawners.items(), key=lambda item: (item[0] not in built_in, item[0])):
        dashboard = built_in.get(name) or own_dashboard(name, orm_spawner.user_options)
        if dashboard is None:
            continue
        spawner = user.spawners[name]
        found.append(MyDashboard(
            server=name,
            title=dashboard.title,
            url=user.server_url(name),
            own=None if name in built_in else orm_spawner.user_options[OWN_OPTION],
            running=orm_spawner.server is not None and not spawner.pending,
            pending=spawner.pending,
            audience=_audience(user.db, orm_user, orm_spawner),
        ))
    ids = {entry.server: orm_user.orm_spawners[entry.server].id for entry in found}
    counted = views.counts(user.db, list(ids.values()))
    for entry in found:
        entry.views_day, entry.views_week = counted[ids[entry.server]]["day"], counted[ids[entry.server]]["week"]
    return found


class MyDashboardsHandler(BaseHandler):
    def initialize(self, offered: list[Dashboard], limit: int) -> None:
        self.offered = offered
        self.limit = limit

    @web.authenticated
    async def get(self) -> None:
        user = self.current_user
        dashboards = my_dashboards(user, self.offered)
        own = Limit(sum(1 for entry in dashboards if entry.own is not None), self.limit)
        named = [name for name in user.orm_user.orm_spawners if name]
        servers = Limit(len(named), await self.get_current_user_named_server_limit() or 0)
        html = await self.render_template("my_dashboards.html", user=user, workbench_my_dashboards=dashboards,
                                          workbench_own_limit=own, workbench_server_limit=servers)
        self.finish(html)


def handlers(offered: list[Dashboard], limit: int) -> list[tuple]:
    return [(ROUTE, MyDashboardsHandler, {"offered": offered, "limit": limit})]
