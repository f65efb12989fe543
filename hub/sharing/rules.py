"""What the hub itself enforces about sharing, on top of JupyterHub 6.1.1's sharing API (installed by
:func:`hub.configure.configure_sharing` through :func:`install`, so it holds however the hub is started).

1. Group shares reach the members' servers. JupyterHub records a group share and counts it in a member's own
   scopes (``scopes.get_scopes_for(user)``), but not in their tokens: for an ``orm.APIToken`` it adds only
   ``owner.shared_with_me`` — the user's own shares — to the owner's scopes before intersecting them with the
   token's, so the ``access:servers!server=owner/name`` that a member's OAuth token for the shared server asks
   for is discarded ("discarding scopes ... not present in roles of owner") and the server refuses them with
   "missing required scopes". No upstream issue or fix was found (JupyterHub's stored issues searched for it);
   :func:`install` therefore wraps ``get_scopes_for`` to add, for tokens, the token's scopes that the owner's
   groups' shares grant — what upstream does for user shares. The hub works this out on every request, so a
   member removed from the group, or a revoked group share, is refused once the server's cache of the hub's
   answer expires (``WORKBENCH_SHARE_REVOCATION_SECONDS``), as for a revoked user.
   tests/hub/test_sharing_hub_rules.py has a test that fails once upstream includes group shares itself.

   Sharing with everyone on the hub is a share with the group :data:`EVERYONE` (made by the hub at start, after
   its own groups: not through ``JupyterHub.load_groups``, which a hub whose authenticator manages groups refuses
   to start with; and named in the sharing forms): it counts for every user, members or not, present and future,
   since JupyterHub has no share with everyone and a group that lists every user would miss each one who signs up
   later.

2. Only published dashboards can be shared. ``shares!user`` lets a user share any of their servers, their full
   JupyterLab server included, and the single-user server has no notion of a viewer: a share is the whole server.
   So granting a share (``POST /hub/api/shares/{owner}/{server}``) or making a share code
   (``POST /hub/api/share-codes/{owner}/{server}``) is refused with 403 unless the server is a published
   dashboard (``dash-*``, restricted by :mod:`user_server.dashboard_only`): one named in the manifest, or one
   of the owner's own notebooks, published through :mod:`hub.sharing.publishing`. Revoking
   (``PATCH``, which in JupyterHub only takes permissions away, and ``DELETE``) stays open for every server, so
   old shares can always be removed. Whoever holds the unfiltered ``shares`` scope (admins) keeps every ability.
   JupyterHub offers no hook to refuse a share: ``extra_handlers`` are routed after its own handlers, so the two
   handler classes are replaced in JupyterHub's handler list before the hub builds its routes.
"""

from __future__ import annotations

import functools
from typing import Callable, Iterable

from spawner.dashboards import Dashboard
from spawner.published import PREFIX, PublishError, published_dashboard

# Set on our wrapper, so that installing twice does not wrap twice.
_installed_marker = "_workbench_group_shares"
# A share with this group is a share with every user of the hub (see the docstring).
EVERYONE = "everyone"


def everyone_shares(db) -> list:
    """The shares with everyone on the hub: those of the group :data:`EVERYONE`."""
    from jupyterhub import orm

    group = orm.Group.find(db, name=EVERYONE)
    return list(group.shared_with_me) if group is not None else []


def with_group_shares(get_scopes_for: Callable) -> Callable:
    """``get_scopes_for`` that also grants a token what its owner's groups' shares grant (see the docstring)."""
    from jupyterhub import orm, scopes

    import sqlalchemy as sa

    @functools.wraps(get_scopes_for)
    def get_scopes_for_with_group_shares(orm_object):
        # for group members JupyterHub still logs "discarding scopes [access:servers!server=...]": we add them back
        granted = get_scopes_for(orm_object)
        user = getattr(orm_object, "orm_user", orm_object)  # the User wrapper or the orm.User
        if isinstance(user, orm.User):  # a person's own scopes: JupyterHub counts their groups', not everyone's
            for share in everyone_shares(sa.inspect(user).session):
                granted = set(granted) | scopes.expand_share_scopes(share)
            return granted
        if not isinstance(orm_object, orm.APIToken) or orm_object.user is None:
            return granted
        token, owner = orm_object, orm_object.user
        shared = set()
        for share in [share for group in owner.groups for share in group.shared_with_me] + everyone_shares(
                sa.inspect(token).session):
            shared |= scopes.expand_share_scopes(share)
        if not shared:
            return granted
        if "inherit" in token.scopes:  # the token holds whatever its owner holds
            return set(granted) | shared
        # the token's own scopes as JupyterHub computes them before intersecting them with its owner's
        asked = set(scopes.expand_scopes(token.scopes, owner=owner, oauth_client=token.oauth_client))
        if token.client_id != "jupyterhub":
            asked |= scopes.access_scopes(token.oauth_client)
        return set(granted) | set(scopes._intersect_expanded_scopes(asked, shared, db=None))

    setattr(get_scopes_for_with_group_shares, _installed_marker, True)
    return get_scopes_for_with_group_shares


def refusal(owner: str, server: str, offered: Iterable[Dashboard], user_options: dict | None = None) -> str | None:
    """Why sharing this server (started with these ``user_options``) is refused, or None for a published
    dashboard's server."""
    try:
        if published_dashboard(server, offered, user_options) is not None:
            return None
    except PublishError:  # dash-<something not offered>: not a published dashboard either
        pass
    what = "the default (JupyterLab) server" if server == "" else f"the server {server!r}"
    return (
        f"Only published dashboards can be shared: {what} of {owner} is not one. Publish a dashboard from the "
        f"home page and share its server ({PREFIX}<dashboard>) instead."
    )


def _published_only(handler_class: type, offered: list[Dashboard]) -> type:
    """``handler_class`` whose POST (grant a share, make a share code) refuses servers that are not published
    dashboards, unless the requester holds the unfiltered ``shares`` scope."""
    from jupyterhub.scopes import Scope, needs_scope
    from tornado import web

    class PublishedDashboardsOnly(handler_class):
        @needs_scope("shares")  # permission first, as JupyterHub answers it, then our rule
        async def post(self, user_name, server_name=None):
            if server_name is not None and self.parsed_scopes.get("shares") is not Scope.ALL:
                owner = self.find_user(user_name)
                orm_spawner = owner.orm_user.orm_spawners.get(server_name) if owner is not None else None
                user_options = orm_spawner.user_options if orm_spawner is not None else None
                reason = refusal(user_name, server_name, offered, user_options)
                if reason:
                    raise web.HTTPError(403, reason)
            return await super().post(user_name, server_name)

    PublishedDashboardsOnly.__name__ = PublishedDashboardsOnly.__qualname__ = f"PublishedOnly{handler_class.__name__}"
    return PublishedDashboardsOnly


def with_everyone_group(init_groups: Callable) -> Callable:
    """``JupyterHub.init_groups`` that also makes the group :data:`EVERYONE` when the database lacks it."""
    from jupyterhub import orm

    @functools.wraps(init_groups)
    async def init_groups_and_everyone(app):
        await init_groups(app)
        if orm.Group.find(app.db, name=EVERYONE) is None:
            app.log.info("Creating group %s: a share with it is a share with every user", EVERYONE)
            app.db.add(orm.Group(name=EVERYONE))
            app.db.commit()

    setattr(init_groups_and_everyone, _installed_marker, True)
    return init_groups_and_everyone


def install(offered: list[Dashboard]) -> None:
    """Apply both rules in this (the hub's) process; idempotent. Raises if JupyterHub no longer has the pieces
    this relies on, so the hub refuses to start rather than share servers it should not."""
    from jupyterhub import apihandlers, scopes
    from jupyterhub.apihandlers.shares import ServerShareAPIHandler, ServerShareCodeAPIHandler
    from jupyterhub.app import JupyterHub

    if not getattr(scopes.get_scopes_for, _installed_marker, False):
        scopes.get_scopes_for = with_group_shares(scopes.get_scopes_for)
    if not getattr(JupyterHub.init_groups, _installed_marker, False):
        JupyterHub.init_groups = with_everyone_group(JupyterHub.init_groups)

    replaced = 0
    for index, (pattern, handler, *rest) in enumerate(apihandlers.default_handlers):
        for original in (ServerShareAPIHandler, ServerShareCodeAPIHandler):
            if handler is original:
                apihandlers.default_handlers[index] = (pattern, _published_only(original, offered), *rest)
                replaced += 1
            elif isinstance(handler, type) and handler.__name__ == f"PublishedOnly{original.__name__}":
                replaced += 1
    if replaced != 4:  # /api/shares/{owner}, /api/shares/{owner}/{server} and the same for share codes
        raise RuntimeError(
            f"JupyterHub's sharing handlers are not where hub/sharing/rules.py expects them ({replaced} of 4 "
            "found): refusing to start a hub that would let users share any server"
        )
