"""Publishing a user's own notebook from the hub's home page: ``POST /hub/workbench/publish``.

The JSON body names the notebook (a path in the owner's home), the title and the URL name; ``republish: true``
replaces the snapshot of a dashboard already published under that URL name (same server, so same URL and same
shares). ``playground`` says how much of the owner's AWS playground the dashboard's kernels get (``none``, the
default; ``read``; ``write``; a republish keeps the previous choice unless it names one). ``share_with``
(``{"users": [...], "groups": [...]}``) names who the page shares it with right after publishing, through
JupyterHub's sharing API like any other share: they are checked to exist here first, so a typo is refused before
anything is published. The request's form is checked first (:func:`spawner.own_dashboards.check_request`), then
the owner's limit, then the snapshot is taken as the owner; only then is the server ``dash-<URL name>``
(re)started, with the publication in its ``user_options``. Every refusal is a 400 (409 while the server is
starting or stopping) with ``{"message": ...}`` saying what to change. Unpublishing is JupyterHub's own
``DELETE /hub/api/users/{owner}/servers/dash-<URL name>`` with ``{"remove": true}``: the server and its shares go.

May import jupyterhub, tornado and :mod:`spawner`.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from jupyterhub import orm
from jupyterhub.handlers import BaseHandler
from tornado import web

from spawner.credentials import ACCESS_LEVELS, ACCESS_NONE
from spawner.dashboards import Dashboard
from spawner.own_dashboards import check_request, snapshot
from spawner.published import OWN_OPTION, PublishError, own_publication

ROUTE = r"/workbench/publish"


def own_publications(orm_user) -> dict[str, dict]:
    """The user's own published notebooks: server name -> publication."""
    found = {}
    for name, orm_spawner in orm_user.orm_spawners.items():
        record = own_publication(name, orm_spawner.user_options)
        if record is not None:
            found[name] = record
    return found


class PublishHandler(BaseHandler):
    def initialize(self, offered: list[Dashboard], limit: int) -> None:
        self.offered = offered
        self.limit = limit

    def refuse(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    def unknown_audience(self, share_with: object) -> str | None:
        """Why ``share_with`` cannot be shared with (a malformed list, a user or group the hub does not know), or
        None. Knowing a name is all it checks: the share itself goes through JupyterHub's API and its rules."""
        if share_with is None:
            return None
        lists = [share_with.get(kind, []) for kind in ("users", "groups")] if isinstance(share_with, dict) else [None]
        if not all(isinstance(names, list) and all(isinstance(name, str) for name in names) for names in lists):
            return 'Name who sees it as {"users": [names], "groups": [names]}'
        missing_users = [name for name in share_with.get("users", []) if self.find_user(name) is None]
        missing_groups = [name for name in share_with.get("groups", []) if orm.Group.find(self.db, name=name) is None]
        if missing_users:
            return (f"No user named {', '.join(map(repr, missing_users))} on this hub (people can be chosen once they "
                    "have logged in once): nothing was published")
        if missing_groups:
            return f"No group named {', '.join(map(repr, missing_groups))} on this hub: nothing was published"
        return None

    @web.authenticated
    async def post(self) -> None:
        user = self.current_user
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self.refuse(400, "Send the publication as a JSON object")
        try:
            request = check_request(body.get("notebook"), body.get("title"), body.get("url_name"), self.offered)
        except PublishError as error:
            return self.refuse(400, str(error))
        republish = body.get("republish") is True
        playground = body.get("playground")
        if playground is not None and playground not in ACCESS_LEVELS:
            return self.refuse(400, f"AWS playground access {playground!r}: choose one of {', '.join(ACCESS_LEVELS)}")
        unknown = self.unknown_audience(body.get("share_with"))
        if unknown:
            return self.refuse(400, unknown)

        mine = own_publications(user.orm_user)
        previous = mine.get(request.server)
        if previous is None and request.server in user.orm_user.orm_spawners:
            return self.refuse(400, f"URL name {request.url_name!r} is already the name of another server of yours "
                                    "(not a published notebook): choose another")
        if previous is not None and not republish:
            return self.refuse(400, f"URL name {request.url_name!r} is already used by your dashboard "
                                    f"{previous.get('title')!r}: republish that one, or choose another name")
        if previous is None and republish:
            return self.refuse(400, f"Nothing is published under {request.url_name!r} to republish")
        if previous is None and self.limit and len(mine) >= self.limit:
            return self.refuse(400, f"You already publish {len(mine)} notebooks, this hub's limit per person: "
                                    "unpublish one first")
        if previous is not None and user.spawners[request.server].pending:
            return self.refuse(409, f"{request.server} is {user.spawners[request.server].pending}: try again "
                                    "in a moment")

        try:  # the owner's default server knows their account and home; the copy is made as them
            copied = await snapshot(user.spawner, request)
        except PublishError as error:
            return self.refuse(400, str(error))

        version = int(previous.get("version", 0)) + 1 if previous else 1
        if playground is None:
            playground = previous.get("playground", ACCESS_NONE) if previous else ACCESS_NONE
        publication = {"source": request.source, "title": request.title, "version": version,
                       "published_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "playground": playground, **copied}
        spawner = user.get_or_create_spawner(request.server, "", replace_failed=True)
        if spawner.active:  # its preheated kernels ran the previous snapshot
            await (await self.stop_single_user(user, request.server))  # the whole stop, not its first seconds
        self.log.info("%s publishes %s as %s (version %s)", user.name, request.source, request.server, version)
        await self.spawn_single_user(user, request.server, options={OWN_OPTION: publication})
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"server": request.server, "url": user.server_url(request.server),
                                "publication": publication}))


def handlers(offered: list[Dashboard], limit: int) -> list[tuple]:
    """For ``JupyterHub.extra_handlers`` (routed below the hub's prefix): publishing, and the owner's "My
    dashboards" page with the counting of views it shows."""
    from hub.sharing import my_dashboards, views

    # here, while the configuration is read: the views' table must be known before the hub opens its database
    views.install()
    return [(ROUTE, PublishHandler, {"offered": offered, "limit": limit}), *my_dashboards.handlers(offered, limit)]
