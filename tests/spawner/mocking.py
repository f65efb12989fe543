"""Reusable doubles for the playground spawner's tests.

- :func:`make_spawner`: a real spawner for a real JupyterHub ``User`` over an in-memory hub database (the
  way JupyterHub's own tests build spawners), whose "server" is a tiny process that dumps its environment.
- :class:`ScriptedCloudFormation`: moto never rolls back, never reports per-resource events and never gets
  stuck on purpose, so the failure paths replay the event sequences real CloudFormation sends.
- :class:`StandInKubeSpawner`: the part of KubeSpawner's interface the Kubernetes composition relies on, for
  tests of how the layers are put together (the real KubeSpawner runs in tests/spawner/test_kube.py).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sys
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import ClientError
from jupyterhub import orm
from jupyterhub.objects import Hub
from jupyterhub.spawner import Spawner
from jupyterhub.user import User
from traitlets import Dict

# The user's "server": writes its environment where the test can read it, then idles like a server.
DUMP_ENV_AND_WAIT = (
    "import json, os, sys, time; "
    "json.dump(dict(os.environ), open(sys.argv[1], 'w')); "
    "time.sleep(120)"
)


def hub_database():
    return orm.new_session_factory("sqlite:///:memory:")()


def make_spawner(spawner_class: type, username: str, tmp_path: Path, db=None, server_name: str = "",
                 user: User | None = None, **traits) -> Spawner:
    """A spawner of ``spawner_class`` for ``username``'s server ``server_name`` as the hub makes it; its
    server dumps its env. Pass ``user`` (another spawner's ``.user``) for a second server of the same user."""
    if user is None:
        db = db or hub_database()
        orm_user = db.query(orm.User).filter_by(name=username).one_or_none()
        if orm_user is None:
            orm_user = orm.User(name=username)
            db.add(orm_user)
            db.commit()
        user = User(orm_user, {})
    env_file = tmp_path / f"env-{len(list(tmp_path.glob('env-*')))}.json"
    traits.setdefault("cmd", [sys.executable, "-c", DUMP_ENV_AND_WAIT, str(env_file)])
    traits.setdefault("hub", Hub())
    traits.setdefault("home_dir_template", str(tmp_path / "home" / "{username}"))
    traits.setdefault("credentials_dir", str(tmp_path / "credentials"))
    traits.setdefault("interrupt_timeout", 1)
    traits.setdefault("term_timeout", 1)
    traits.setdefault("kill_timeout", 1)
    traits.setdefault("stack_poll_interval", 0.01)
    known = set(spawner_class.class_trait_names())
    if server_name not in user.orm_spawners:
        user._new_orm_spawner(server_name, server_name)
    spawner = user._new_spawner(server_name, spawner_class=spawner_class,
                                **{name: value for name, value in traits.items() if name in known})
    user.spawners[server_name] = spawner
    spawner.env_file = env_file
    return spawner


async def hub_start(spawner) -> tuple[str, int]:
    """Start a server the way ``User.spawn`` does around ``start()``: it gets a server record (so it is active).
    Returns where the server listens, as ``start()`` tells the hub."""
    from jupyterhub.objects import Server

    record = orm.Server(proto="http", ip="127.0.0.1", port=0, base_url="/", cookie_name="test")
    spawner.user.db.add(record)
    spawner.user.db.commit()
    spawner.server = Server(orm_server=record)
    return await spawner.start()


async def hub_stop(spawner) -> None:
    """Stop a server in ``User.stop``'s order: stop() only if poll() says running, then always the hook."""
    if await spawner.poll() is None:
        await spawner.stop()
    spawner.server = None
    await spawner.run_post_stop_hook()
    spawner.clear_state()


def server_environment(spawner, timeout: float = 10.0) -> dict[str, str]:
    from testing.support import wait_for

    return wait_for(lambda: spawner.env_file.exists() and json.loads(spawner.env_file.read_text()),
                    timeout, "the server's environment dump")


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}},
                       operation)


_ids = itertools.count(1)


def event(stack: str, logical_id: str, status: str, resource_type: str = "AWS::CloudFormation::Stack",
          reason: str | None = None) -> dict:
    """One stack event as describe_stack_events returns it."""
    record = {
        "EventId": f"{logical_id}-{status}-{next(_ids)}",
        "StackName": stack,
        "LogicalResourceId": stack if resource_type == "AWS::CloudFormation::Stack" else logical_id,
        "ResourceType": resource_type,
        "ResourceStatus": status,
        "Timestamp": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=next(_ids)),
    }
    if reason:
        record["ResourceStatusReason"] = reason
    return record


def rollback_sequence(stack: str) -> list[tuple[str, list[dict]]]:
    """A real create that fails on one table and rolls back, as (stack status, events since last poll) frames."""
    table = "AWS::DynamoDB::Table"
    return [
        ("CREATE_IN_PROGRESS", [event(stack, stack, "CREATE_IN_PROGRESS", reason="User Initiated")]),
        ("CREATE_IN_PROGRESS", [event(stack, "Vpc", "CREATE_IN_PROGRESS", "AWS::EC2::VPC"),
                                event(stack, "LoadTestTable", "CREATE_IN_PROGRESS", table)]),
        ("CREATE_IN_PROGRESS", [event(stack, "Vpc", "CREATE_COMPLETE", "AWS::EC2::VPC")]),
        ("ROLLBACK_IN_PROGRESS", [
            event(stack, "LoadTestTable", "CREATE_FAILED", table,
                  reason="Resource handler returned message: \"Table already exists: profiler-alice-loadtest\" "
                         "(HandlerErrorCode: AlreadyExists)"),
            event(stack, stack, "ROLLBACK_IN_PROGRESS",
                  reason="The following resource(s) failed to create: [LoadTestTable]. Rollback requested by user."),
        ]),
        ("ROLLBACK_COMPLETE", [event(stack, "Vpc", "DELETE_COMPLETE", "AWS::EC2::VPC"),
                               event(stack, "LoadTestTable", "DELETE_COMPLETE", table),
                               event(stack, stack, "ROLLBACK_COMPLETE")]),
    ]


def success_sequence(stack: str, resources: list[tuple[str, str]]) -> list[tuple[str, list[dict]]]:
    """A real create reporting each resource in turn (moto reports none)."""
    frames = [("CREATE_IN_PROGRESS", [event(stack, stack, "CREATE_IN_PROGRESS", reason="User Initiated")])]
    for logical_id, kind in resources:
        frames.append(("CREATE_IN_PROGRESS", [event(stack, logical_id, "CREATE_IN_PROGRESS", kind)]))
        frames.append(("CREATE_IN_PROGRESS", [event(stack, logical_id, "CREATE_COMPLETE", kind)]))
    frames.append(("CREATE_COMPLETE", [event(stack, stack, "CREATE_COMPLETE")]))
    return frames


def stuck_sequence(stack: str) -> list[tuple[str, list[dict]]]:
    """A create that never finishes (a resource waiting on something that never comes)."""
    return [("CREATE_IN_PROGRESS", [event(stack, stack, "CREATE_IN_PROGRESS", reason="User Initiated"),
                                    event(stack, "Vpc", "CREATE_IN_PROGRESS", "AWS::EC2::VPC")])]


class ScriptedCloudFormation:
    """A CloudFormation client double that replays ``frames`` after create_stack, one frame per status look.

    The last frame repeats forever. ``create_error`` makes create_stack raise; delete_stack is recorded and
    makes the stack gone on the next look (as a quick real deletion would). ``outputs`` are returned once
    the stack is complete. ``existing`` is the status of a stack already there, made by the hub for
    ``existing_owner`` (its ``owner`` tag, as every playground carries).
    """

    def __init__(self, frames: list[tuple[str, list[dict]]] | None = None, *, create_error: Exception | None = None,
                 outputs: dict[str, str] | None = None, existing: str | None = None,
                 existing_owner: str | None = None):
        self.frames = frames or []
        self.create_error = create_error
        self.outputs = outputs or {}
        self.calls: list[str] = []
        self.deleted: list[str] = []
        self.created = 0
        self._frame = -1
        self._events: list[dict] = []
        self._status: str | None = existing
        self._stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/scripted/1" if existing else None
        self._name: str | None = None
        self._tags = [{"Key": "owner", "Value": existing_owner}] if existing_owner else []

    def _missing(self, name: str) -> ClientError:
        return client_error("ValidationError", f"Stack with id {name} does not exist", "DescribeStacks")

    def update_stack(self, StackName: str, Tags: list[dict], **_) -> dict:  # boto3's parameter names
        """An update that changes nothing but the tags (the scripted resources stay as they are)."""
        self.calls.append("update_stack")
        self._tags = list(Tags)
        self._status = "UPDATE_COMPLETE"
        return {"StackId": self._stack_id}

    def describe_stacks(self, StackName: str) -> dict:  # boto3's parameter names
        self.calls.append("describe_stacks")
        if self._status is None:
            raise self._missing(StackName)
        if self._status == "DELETE_IN_PROGRESS":
            self._status = "DELETE_COMPLETE"
        elif 0 <= self._frame < len(self.frames) - 1:
            self._frame += 1
            self._status, fresh = self.frames[self._frame]
            self._events.extend(fresh)
        stack = {"StackName": self._name or StackName, "StackId": self._stack_id, "StackStatus": self._status,
                 "Tags": list(self._tags)}
        if self._status == "CREATE_COMPLETE":
            stack["Outputs"] = [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()]
        return {"Stacks": [stack]}

    def describe_stack_events(self, StackName: str) -> dict:  # boto3's parameter names
        self.calls.append("describe_stack_events")
        return {"StackEvents": list(reversed(self._events))}  # newest first, like CloudFormation

    def create_stack(self, **kwargs: Any) -> dict:
        self.calls.append("create_stack")
        if self.create_error is not None:
            raise self.create_error
        self.created += 1
        self._name = kwargs["StackName"]
        self._tags = list(kwargs.get("Tags", []))
        self._stack_id = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{self._name}/{self.created}"
        self._frame = 0
        self._status, fresh = self.frames[0] if self.frames else ("CREATE_COMPLETE", [])
        self._events = list(fresh)
        return {"StackId": self._stack_id}

    def delete_stack(self, StackName: str) -> dict:  # boto3's parameter names
        self.calls.append("delete_stack")
        self.deleted.append(StackName)
        self._status = "DELETE_IN_PROGRESS"
        self._frame = -1
        return {}


class StandInKubeSpawner(Spawner):
    """KubeSpawner's surface that KubePlaygroundMixin uses: extra pod labels/annotations, env, start/stop."""

    extra_labels = Dict()
    extra_annotations = Dict()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pod_env: dict[str, str] | None = None
        self.pod_annotations: dict[str, str] | None = None
        self.running = False

    async def start(self):
        # KubeSpawner builds the pod manifest from get_env() and extra_* at this point.
        self.pod_env = self.get_env()
        self.pod_annotations = dict(self.extra_annotations)
        self.running = True
        return "http://10.0.0.7:8888"

    async def stop(self, now=False):
        self.running = False

    async def poll(self):
        return None if self.running else 0


def recorder() -> tuple[list[Any], Callable[[Any], None]]:
    seen: list[Any] = []
    return seen, seen.append
