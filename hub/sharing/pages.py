"""The hub's pages about shared dashboards: what is shared with me, what I publish and with whom.

Values for ``JupyterHub.template_vars`` (called with the page's hub user) and the scopes that let users share.
May import jupyterhub and :mod:`spawner` (what a published dashboard's server is); never the user side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import quote

from spawner.dashboards import Dashboard
from spawner.published import OWN_OPTION, own_dashboard, own_publication, server_name

# Added to the default `user` role (JupyterHub.extra_user_scopes): share one's own servers, and name the users
# and groups to share with. The scope covers any of their servers; hub/sharing/rules.py narrows it to
# published dashboards.
SHARING_SCOPES = ("shares!user", "read:users:name", "read:groups:name")


@dataclass(frozen=True)
class SharedDashboard:
    owner: str
    server: str
    title: str
    url: str
    version: int | None = None  # one of the owner's notebooks: its version, when published, its thumbnail
    published_at: str | None = None
    thumbnail: str | None = None  # base64 PNG, checked by the hub when it was published


def _shown(publication: dict | None) -> dict:
    """What the lists show of one of the owner's notebooks' publication."""
    if publication is None:
        return {}
    version = publication.get("version")
    when = publication.get("published_at")
    thumbnail = publication.get("thumbnail")
    return {"version": version if isinstance(version, int) else None,
            "published_at": when if isinstance(when, str) else None,
            "thumbnail": thumbnail if isinstance(thumbnail, str) else None}


def shared_with(shares: Iterable[Any], offered: Iterable[Dashboard], base_url: str = "/") -> list[SharedDashboard]:
    """The published dashboards among shares (``orm.Share`` rows or objects with ``owner.name`` and
    ``spawner.name``), one entry per server, titled from the manifest; shares of other servers are left out."""
    by_server = {server_name(d): d for d in offered}
    found: dict[tuple[str, str], SharedDashboard] = {}
    for share in shares:
        owner, server = share.owner.name, share.spawner.name
        user_options = getattr(share.spawner, "user_options", None)
        dashboard = by_server.get(server) or own_dashboard(server, user_options)
        if dashboard is None or (owner, server) in found:
            continue
        url = f"{base_url}user/{quote(owner, safe='')}/{quote(server, safe='')}/"
        own = None if server in by_server else own_publication(server, user_options)
        found[(owner, server)] = SharedDashboard(owner, server, dashboard.title, url, **_shown(own))
    return sorted(found.values(), key=lambda d: (d.title, d.owner))


@dataclass(frozen=True)
class Publication:
    """One offered dashboard as its owner sees it on the home page: published or not, and with whom."""

    dashboard: Dashboard
    server: str
    exists: bool  # started at least once: only then can it be shared
    running: bool
    users: list[str]
    groups: list[str]
    own: dict | None = None  # for one of the owner's own notebooks: its publication (source, version, when)


def _hub_user_shares(user) -> list[Any]:
    from jupyterhub import orm
    from sqlalchemy import or_

    from hub.sharing.rules import EVERYONE

    orm_user = user.orm_user
    group_ids = [group.id for group in orm_user.groups]
    everyone = orm.Group.find(user.db, name=EVERYONE)
    if everyone is not None:
        group_ids.append(everyone.id)
    query = user.db.query(orm.Share).filter(or_(orm.Share.user_id == orm_user.id, orm.Share.group_id.in_(group_ids)))
    # the owner's own dashboards shared with everyone are theirs, not shared with them
    return [share for share in query if share.owner is None or share.owner.id != orm_user.id]


def shared_with_me(offered: list[Dashboard], base_url: str):
    """A ``template_vars`` value: called with the page's hub user, it lists the dashboards shared with them."""

    def for_user(user) -> list[SharedDashboard]:
        return shared_with(_hub_user_shares(user), offered, base_url) if user is not None else []

    return for_user


def my_publications(offered: list[Dashboard]):
    """A ``template_vars`` value: called with the page's hub user, it lists their dashboards' publication: the
    built-in ones, then their own published notebooks."""

    def for_user(user) -> list[Publication]:
        if user is None:
            return []
        from jupyterhub import orm

        publications = []
        spawners = user.orm_user.orm_spawners
        built_in = [(server_name(dashboard), dashboard) for dashboard in offered]
        taken = {name for name, _ in built_in}
        own = [(name, own_dashboard(name, spawners[name].user_options)) for name in sorted(spawners)
               if name not in taken and own_dashboard(name, spawners[name].user_options) is not None]
        for name, dashboard in [*built_in, *own]:
            spawner = spawners.get(name)
            shares = user.db.query(orm.Share).filter_by(spawner_id=spawner.id).all() if spawner is not None else []
            publications.append(
                Publication(
                    dashboard,
                    name,
                    exists=spawner is not None,
                    running=spawner is not None and spawner.server is not None,
                    users=sorted(share.user.name for share in shares if share.user is not None),
                    groups=sorted(share.group.name for share in shares if share.group is not None),
                    own=None if name in taken else spawner.user_options[OWN_OPTION],
                )
            )
        return publications

    return for_user
