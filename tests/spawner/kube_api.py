"""A Kubernetes API server at the HTTP level, for KubeSpawner's real start path without a cluster.

It answers what KubeSpawner and the workbench's Kubernetes spawner call in one namespace, as the API server does:
list and watch (a stream of newline-delimited watch events) of pods, events, secrets and persistent volume
claims; create (409 when the name is taken), read, replace and delete (404 when there is nothing). A pod is
"scheduled" as soon as it is created: its watchers see it Running and ready with an IP, so the spawn completes.
Every request body is recorded as the client sent it (``posted``), to be validated against Kubernetes' schema.

:func:`kubeconfig` writes the kubeconfig that points the kubernetes_asyncio client at it.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from aiohttp import web

KINDS = {"pods": "Pod", "events": "Event", "secrets": "Secret", "persistentvolumeclaims": "PersistentVolumeClaim"}
POD_IP = "10.1.2.3"


class FakeKubernetes:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, dict]] = defaultdict(dict)  # plural -> name -> object
        self.posted: dict[str, list[tuple[str, dict]]] = defaultdict(list)  # plural -> (method, body) in order
        self.requests: list[tuple[str, str]] = []
        self._versions = itertools.count(1)
        self._watchers: dict[str, list[asyncio.Queue]] = defaultdict(list)
        self._runner: web.AppRunner | None = None
        self.forbidden: set[tuple[str, str]] = set()  # (method, plural) the hub's role may not do: 403
        self.url = ""

    # ---- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        prefix = "/api/v1/namespaces/{namespace}/{plural}"
        app.router.add_get(prefix, self._list)
        app.router.add_post(prefix, self._create)
        app.router.add_get(prefix + "/{name}", self._read)
        app.router.add_put(prefix + "/{name}", self._replace)
        app.router.add_delete(prefix + "/{name}", self._delete)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        for queues in self._watchers.values():
            for queue in queues:
                queue.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- what the tests read -----------------------------------------------------------------------------

    def sent(self, plural: str, method: str = "POST") -> list[dict]:
        """The bodies the client sent to create (POST) or replace (PUT) objects of ``plural``, in order."""
        return [body for sent_with, body in self.posted[plural] if sent_with == method]

    # ---- the API -----------------------------------------------------------------------------------------

    def _version(self) -> str:
        return str(next(self._versions))

    def _notify(self, plural: str, kind: str, obj: dict) -> None:
        for queue in self._watchers[plural]:
            queue.put_nowait({"type": kind, "object": obj})

    @staticmethod
    def _status(code: int, reason: str, message: str) -> web.Response:
        body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason,
                "code": code}
        return web.json_response(body, status=code)

    def _check(self, request: web.Request) -> str:
        plural = request.match_info["plural"]
        if plural not in KINDS:
            raise web.HTTPNotFound(text=f"no {plural} here")
        self.requests.append((request.method, request.path_qs))
        if (request.method, plural) in self.forbidden:
            status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
                      "message": f"{plural} is forbidden: the hub's role may not {request.method} it"}
            raise web.HTTPForbidden(text=json.dumps(status), content_type="application/json")
        return plural

    async def _list(self, request: web.Request) -> web.StreamResponse:
        plural = self._check(request)
        selected = [obj for obj in self.objects[plural].values() if _selected(obj, request.query.get("labelSelector"))]
        if request.query.get("watch") not in ("true", "1", "True"):
            return web.json_response({"kind": f"{KINDS[plural]}List", "apiVersion": "v1",
                                      "metadata": {"resourceVersion": self._version()}, "items": selected})
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        queue: asyncio.Queue = asyncio.Queue()
        self._watchers[plural].append(queue)
        timeout = float(request.query.get("timeoutSeconds", 30))
        try:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout)
                except asyncio.TimeoutError:
                    break
                if event is None:
                    break
                if _selected(event["object"], request.query.get("labelSelector")):
                    await response.write(json.dumps(event).encode() + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._watchers[plural].remove(queue)
        return response

    async def _create(self, request: web.Request) -> web.Response:
        plural = self._check(request)
        body = await request.json()
        self.posted[plural].append(("POST", json.loads(json.dumps(body))))
        name = body["metadata"]["name"]
        if name in self.objects[plural]:
            return self._status(409, "AlreadyExists", f'{plural} "{name}" already exists')
        obj = self._stored(request, body)
        if plural == "pods":
            obj["status"] = {"phase": "Running", "podIP": POD_IP, "containerStatuses": [
                {"name": container["name"], "image": container["image"], "imageID": "", "ready": True,
                 "restartCount": 0, "state": {"running": {}}} for container in obj["spec"]["containers"]]}
        self.objects[plural][name] = obj
        self._notify(plural, "ADDED", obj)
        return web.json_response(obj, status=201)

    def _stored(self, request: web.Request, body: dict) -> dict:
        obj = json.loads(json.dumps(body))
        metadata = obj.setdefault("metadata", {})
        metadata.update(namespace=request.match_info["namespace"], uid=str(uuid.uuid4()),
                        resourceVersion=self._version())
        if obj.get("kind") == "Secret" and "stringData" in obj:
            # the API server keeps stringData as base64 data, as a real one does
            obj["data"] = {key: base64.b64encode(text.encode()).decode() for key, text in obj.pop("stringData").items()}
        return obj

    async def _read(self, request: web.Request) -> web.Response:
        plural = self._check(request)
        obj = self.objects[plural].get(request.match_info["name"])
        if obj is None:
            return self._status(404, "NotFound", f'{plural} "{request.match_info["name"]}" not found')
        return web.json_response(obj)

    async def _replace(self, request: web.Request) -> web.Response:
        plural = self._check(request)
        body = await request.json()
        self.posted[plural].append(("PUT", json.loads(json.dumps(body))))
        name = request.match_info["name"]
        if name not in self.objects[plural]:
            return self._status(404, "NotFound", f'{plural} "{name}" not found')
        obj = self._stored(request, body)
        self.objects[plural][name] = obj
        self._notify(plural, "MODIFIED", obj)
        return web.json_response(obj)

    async def _delete(self, request: web.Request) -> web.Response:
        plural = self._check(request)
        obj = self.objects[plural].pop(request.match_info["name"], None)
        if obj is None:
            return self._status(404, "NotFound", f'{plural} "{request.match_info["name"]}" not found')
        self._notify(plural, "DELETED", obj)
        return web.json_response(obj)


def _selected(obj: dict, selector: str | None) -> bool:
    """Equality-based label selectors (``a=b,c=d``), the only kind KubeSpawner's reflectors send."""
    if not selector:
        return True
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(labels.get(key) == value for key, _, value in (part.partition("=") for part in selector.split(",")))


def kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig for ``server`` (a token, as a service account would have: no client certificate)."""
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "hub", "user": {"token": "hub-service-account-token"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "hub", "namespace": "workbench"}}],
        "current-context": "fake",
    }
    path.write_text(json.dumps(config))
    return path
