"""PlaygroundSpawner: every login brings up the user's own CloudFormation playground, then their server.

:class:`PlaygroundSpawnerMixin` works over any JupyterHub spawner; :mod:`spawner.workbench` composes it with the
user's data space and the dashboards into the spawners the hub uses.

On start: create the user's stack or adopt the existing one (names from :mod:`spawner.names`), stream its
progress to the spawn page, wait with :attr:`playground_timeout`, repair drift (:mod:`spawner.drift`), assume
the stack's role with a session policy (:mod:`spawner.credentials`), then start the base server with the
playground's outputs and the scoped credentials in its environment (:mod:`spawner.environment`).
Every AWS call runs in a worker thread. Failures become a ``SpawnException`` with the reason; a stack that
failed is deleted so the next try starts clean, and a healthy stack (the user's data) is never deleted on error.

Lifecycle: ``retention = "keep"`` (default) keeps the playground across server stops; ``"delete"`` deletes it
when the user's last server stops. :meth:`delete_forever` (the user was deleted from the hub) always deletes
it. ``python -m hub.services.reaper`` removes what a crash or a deleted user left behind.
"""

from __future__ import annotations

import asyncio
import importlib.util
import tempfile
from pathlib import Path
from typing import Any

from jupyterhub.spawner import SimpleLocalProcessSpawner, SpawnException, Spawner
from jupyterhub.utils import maybe_future
from traitlets import Any as AnyTrait
from traitlets import Bool, Enum, Float, Integer, List, Unicode, default, validate

from spawner import credentials, drift, environment, names, stacks
from spawner.stacks import (
    AwsClients,
    PlaygroundError,
    Progress,
    StackClient,
    build_request,
    call,
    create_or_adopt,
    delete_stack,
    outputs_of,
    stack_lock,
    watch,
)

STATE_KEY = "playground"
STATE_VERSION = 1
# Stacks that never held a finished playground, so deleting them after a failed spawn loses no data.
NEVER_COMPLETED = stacks.BROKEN | stacks.ROLLING_BACK | {"CREATE_IN_PROGRESS", "REVIEW_IN_PROGRESS"}
# The template ships as package data of the `stacks` package, beside the code in a checkout or a wheel.
DEFAULT_TEMPLATE = Path(importlib.util.find_spec("stacks").submodule_search_locations[0]) / "playground.yaml"
# The spawn page's bar: the playground fills PLAYGROUND_SHARE of it, the base server's start the rest.
PLAYGROUND_SHARE = 85
BASE_START = 5


class PlaygroundSpawnerMixin(Spawner):
    """Brings up the user's playground before the base spawner's server. Put it first in the bases."""

    playground_enabled = Bool(
        True,
        help="Make the user's playground before each start. False: servers start without one (they still never "
        "receive the hub's own AWS settings).",
    ).tag(config=True)

    endpoint_restart_timeout = Float(
        90.0,
        help="With aws_endpoint_url set: when the endpoint stops answering in the middle of a spawn (the local AWS "
        "crashed), seconds to wait for it to answer again before the spawn fails. The hub notices a dead managed "
        "service at its next poll (every 30 s) and starts it again, which takes a few seconds more.",
    ).tag(config=True)

    endpoint_wait_timeout = Float(
        30.0,
        help="With aws_endpoint_url set (the local AWS, a managed service that may still be starting), seconds "
        "to wait for it to answer before the first AWS call of a spawn.",
    ).tag(config=True)

    aws_region = Unicode(
        "us-east-1",
        help="AWS region in which playgrounds are created. The hub config sets it from WORKBENCH_AWS_REGION.",
    ).tag(config=True)

    aws_endpoint_url = Unicode(
        "",
        help="AWS endpoint override for every AWS call of the hub and of the user's server (the local moto "
        "server in the embedded setup). Empty: real AWS. With an endpoint and no hub credentials configured, "
        "placeholder credentials are used (moto does not check them).",
    ).tag(config=True)

    name_prefix = Unicode(
        names.DEFAULT_PREFIX,
        help="First part of every playground resource name (stack, tables, role, target group); a lowercase "
        f"letter and at most {names.MAX_PREFIX - 1} lowercase letters or digits. Changing it orphans existing "
        "playgrounds (the reaper removes them).",
    ).tag(config=True)

    hub_id = Unicode(
        stacks.DEFAULT_HUB_ID,
        help="Value of the `hub` tag on every playground. The orphan reaper only touches stacks with its own "
        "hub id, so hubs sharing one AWS account must use different ids.",
    ).tag(config=True)

    template_path = Unicode(
        str(DEFAULT_TEMPLATE),
        help="Path of the CloudFormation template made for each user (stacks/playground.yaml).",
    ).tag(config=True)

    vpc_id = Unicode(
        "",
        help="The hub deployment's VPC (stacks/deployment.yaml's VpcId output): playgrounds make their target "
        "group there. Empty: each playground makes a minimal VPC of its own.",
    ).tag(config=True)

    subnet_ids = List(
        Unicode(),
        help="The hub deployment's private subnets (its PrivateSubnetIds output), handed to playgrounds with "
        "vpc_id.",
    ).tag(config=True)

    permissions_boundary = Unicode(
        "",
        help="ARN of the permissions boundary every playground's server role carries (stacks/deployment.yaml's "
        "PlaygroundPermissionsBoundaryArn output): the deployment's hub role may only create roles that carry it. "
        "Empty: none (the local AWS).",
    ).tag(config=True)

    playground_timeout = Float(
        600.0,
        help="Seconds the playground may take to become ready before the spawn fails (and the half-made stack "
        "is deleted). Keep it below Spawner.start_timeout, which also covers the server's own start.",
    ).tag(config=True)

    stack_poll_interval = Float(
        2.0, help="Seconds between two looks at the stack's status and events while it is being made or deleted."
    ).tag(config=True)

    patience_interval = Float(
        15.0,
        help="While nothing changes, the spawn page gets a 'still creating' message this often (seconds).",
    ).tag(config=True)

    retention = Enum(
        ["keep", "delete"],
        "keep",
        help="What happens to the playground when the user's server stops: `keep` (tables and their data "
        "survive until the next login) or `delete` (deleted once the user's last server stops). Deleting the "
        "user from the hub always deletes it.",
    ).tag(config=True)

    delete_timeout = Float(
        300.0,
        help="Seconds to wait for a playground's deletion (on stop, on user deletion, after a failed create). "
        "A deletion still running then is left to CloudFormation and checked by the reaper.",
    ).tag(config=True)

    credentials_duration = Integer(
        3600,
        help="Lifetime in seconds of the scoped credentials given to the user's server (STS AssumeRole "
        "DurationSeconds, 900 to the role's 43200 maximum).",
    ).tag(config=True)

    credentials_refresh_margin = Integer(
        1200,
        help="With `file` delivery (and Kubernetes' `secret`), the hub re-assumes the role this many seconds "
        "before the credentials expire. Must exceed botocore's 15-minute refresh window and be below "
        "credentials_duration.",
    ).tag(config=True)

    role_propagation_wait = Float(
        30.0,
        help="Seconds to keep retrying STS AssumeRole when it refuses the playground's role: a role IAM has "
        "just created can be refused for a few seconds while it propagates.",
    ).tag(config=True)

    credentials_delivery = Enum(
        ["file", "environment"],
        "file",
        help="How scoped credentials reach the server: `file` (an AWS config whose credential_process reads a "
        "file the hub refreshes before expiry; needs the server to see the hub's files, as local processes "
        "do) or `environment` (AWS_ACCESS_KEY_ID etc., not refreshed: the server must restart before they "
        "expire).",
    ).tag(config=True)

    credentials_dir = Unicode(
        "",
        help="Folder under which `file` delivery keeps one private subfolder per user. Empty: "
        "<system temp>/profiler-workbench-credentials.",
    ).tag(config=True)

    aws = AnyTrait(
        None,
        allow_none=True,
        help="The AwsClients to use; None (normal): connect from aws_region and aws_endpoint_url. Tests "
        "inject doubles here.",
    )

    @validate("name_prefix")
    def _valid_prefix(self, proposal):
        return names.check_prefix(proposal["value"])

    @validate("credentials_duration")
    def _valid_duration(self, proposal):
        if not 900 <= proposal["value"] <= 43200:
            raise ValueError("credentials_duration must be between 900 and 43200 seconds (STS limits)")
        return proposal["value"]

    @default("start_timeout")
    def _start_timeout_default(self):
        return int(self.playground_timeout) + 120  # CloudFormation needs minutes, not JupyterHub's 60 s

    # ---- state -------------------------------------------------------------------------------------------

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._playground: dict[str, Any] | None = None  # stack name, id and outputs, once ready
        self._playground_env: dict[str, str] = {}
        self._playground_starting = False
        self._events: list[dict] = []
        self._events_changed = asyncio.Event()
        self._playground_done = asyncio.Event()
        self._refresh_task: asyncio.Task | None = None

    @property
    def playground_names(self) -> names.PlaygroundNames:
        current = names.for_user(self.user.name, prefix=self.name_prefix)
        saved = (self._playground or {}).get("stack_name")
        if saved and saved != current.stack:
            legacy = names.for_user(self.user.name, prefix=self.name_prefix, legacy=True)
            if saved == legacy.stack:
                return legacy  # made by a release that named it so: it keeps its name for its whole life
        return current

    async def _adopt_legacy_playground(self, client: StackClient) -> None:
        """A hashed username's playground made by an earlier release (a 32-bit name) is used under that name
        while it lives, when it is theirs (owner tag) and none has been made under the current name."""
        if self._playground or not names.has_legacy_names(self.user.name):
            return
        legacy = names.for_user(self.user.name, prefix=self.name_prefix, legacy=True)
        current = names.for_user(self.user.name, prefix=self.name_prefix)
        found = await call(client.describe, legacy.stack, doing="looking for your playground's earlier name")
        if found is None or stacks.foreign_owner(found, self.user.name, self.hub_id) is not None:
            return
        if await call(client.describe, current.stack, doing="looking for your playground") is not None:
            return
        self.log.info("Using %s's playground under the name an earlier release gave it: %s", self.user.name,
                      legacy.stack)
        self._playground = {"stack_name": legacy.stack}

    def load_state(self, state):
        super().load_state(state)
        saved = state.get(STATE_KEY)
        if not saved:
            return
        if saved.get("version") != STATE_VERSION:
            # Names are deterministic: the next start adopts the stack by name whatever the state said.
            self.log.warning("Ignoring playground state of version %r (this hub writes %d)",
                             saved.get("version"), STATE_VERSION)
            return
        self._playground = {key: saved[key] for key in ("stack_name", "stack_id", "outputs") if key in saved}

    def get_state(self):
        state = super().get_state()
        if self._playground:
            state[STATE_KEY] = {"version": STATE_VERSION, **self._playground}
        return state

    # clear_state is inherited unchanged on purpose: the playground outlives a server stop (retention).

    # ---- progress ----------------------------------------------------------------------------------------

    def _emit(self, message: str, fraction: float | None = None) -> None:
        event: dict[str, Any] = {"message": message}
        if fraction is not None:
            event["progress"] = BASE_START + int(PLAYGROUND_SHARE * fraction)
        self._events.append(event)
        changed, self._events_changed = self._events_changed, asyncio.Event()
        changed.set()
        self.log.info("Playground for %s: %s", self.user.name, message)

    def _on_stack_progress(self, progress: Progress) -> None:
        self._emit(f"{progress.message} [{progress.done}/{progress.total} resources, "
                   f"{round(100 * progress.fraction)}% of your playground]", progress.fraction)

    async def progress(self):
        """Playground events as they happen (replayed for a page opened late), then the base spawner's."""
        sent = 0
        while True:
            changed = self._events_changed
            while sent < len(self._events):
                yield self._events[sent]
                sent += 1
            if self._playground_done.is_set():
                break
            try:
                await asyncio.wait_for(changed.wait(), timeout=1.0)
            except asyncio.TimeoutError:
                pass
        async for event in super().progress():
            if "progress" in event:
                event = {**event, "progress": BASE_START + PLAYGROUND_SHARE + int(event["progress"] * 0.1)}
            yield event

    # ---- start / poll / stop -----------------------------------------------------------------------------

    async def _clients(self) -> AwsClients:
        if self.aws is None:
            self.aws = await asyncio.to_thread(AwsClients.connect, self.aws_region, self.aws_endpoint_url or None)
        return self.aws

    def _reset_progress(self) -> None:
        self._events = []
        self._playground_done = asyncio.Event()

    async def run_pre_spawn_hook(self):
        # The spawn page may subscribe while the pre-spawn hook runs: it must not see the last spawn's end.
        self._reset_progress()
        return await maybe_future(super().run_pre_spawn_hook())

    def playground_access(self) -> str:
        """How much of the playground this server gets (:data:`credentials.ACCESS_LEVELS`): everything here;
        a published dashboard's server gets what its owner chose (spawner/workbench.py)."""
        return credentials.ACCESS_WRITE

    @property
    def uses_playground(self) -> bool:
        """Whether this server is started with the playground and credentials for it."""
        return self.playground_enabled and self.playground_access() != credentials.ACCESS_NONE

    async def start(self):
        self._reset_progress()
        if not self.uses_playground:
            self._playground_done.set()
            return await super().start()
        self._playground_starting = True
        try:
            try:
                await self._start_playground()
            except PlaygroundError as error:
                if not (error.reason == "aws-unreachable" and self.aws_endpoint_url):
                    raise
                # The hub's own local AWS died under the spawn (it keeps the state of its last whole request):
                # the hub starts it again, so wait for it and go on, rather than send the user away.
                self.log.warning("Lost the AWS endpoint while making %s's playground: %s", self.user.name, error)
                self._emit("The hub's local AWS stopped answering while your playground was being made; waiting "
                           "for it to come back (nothing of yours is lost).")
                await stacks.wait_until_answering(self.aws_endpoint_url, self.endpoint_restart_timeout)
                await self._start_playground()
        except PlaygroundError as error:
            self._emit(f"Your playground could not be made: {error}")
            raise SpawnException(str(error), reason=error.reason) from error
        finally:
            self._playground_starting = False
            self._playground_done.set()
        return await super().start()

    async def _start_playground(self) -> None:
        if self.aws_endpoint_url:
            await stacks.wait_until_answering(self.aws_endpoint_url, self.endpoint_wait_timeout)
        aws = await self._clients()
        client = StackClient(aws.cloudformation, aws.elbv2)
        await self._adopt_legacy_playground(client)
        playground = self.playground_names
        try:
            template_body = await asyncio.to_thread(Path(self.template_path).read_text)
        except OSError as error:
            raise PlaygroundError(f"The hub cannot read the playground template {self.template_path}: {error}",
                                  reason="playground-template") from error
        request = build_request(playground, template_body, self.hub_id, vpc_id=self.vpc_id,
                                subnet_ids=tuple(self.subnet_ids), permissions_boundary=self.permissions_boundary)
        total = request.total_resources
        self._emit(f"Preparing your playground {playground.stack} ({total} resources).", 0.0)
        async with stack_lock(playground.stack):
            stack_id, created = await create_or_adopt(
                client, request, delete_timeout=self.delete_timeout, poll_interval=self.stack_poll_interval,
                report=lambda message: self._emit(message),
            )
            try:
                stack = await watch(
                    client, stack_id, playground.stack, total=total, timeout=self.playground_timeout,
                    poll_interval=self.stack_poll_interval, patience_interval=self.patience_interval,
                    report=self._on_stack_progress,
                )
            except PlaygroundError:
                await self._remove_failed_stack(client, playground, stack_id)
                raise
        outputs = await call(client.complete_outputs, playground, outputs_of(stack),
                             doing="reading your playground's target group")
        self._playground = {"stack_name": playground.stack, "stack_id": stack_id, "outputs": outputs}
        repairs = await call(drift.check_and_repair, aws.elbv2, aws.dynamodb, outputs, dict(request.tags),
                             doing="checking your playground against its template")
        for repair in repairs:
            self.log.warning("Playground %s drifted from its template; repaired %s", playground.stack, repair)
        if repairs:
            self._emit(f"Repaired {len(repairs)} difference(s) from the template.")
        scoped = await self._assume_role(outputs)
        try:
            self._playground_env = await asyncio.to_thread(self._environment_for, outputs, scoped)
        except OSError as error:
            raise PlaygroundError(f"The hub cannot hand credentials to your server: {error}",
                                  reason="credentials") from error
        if self.credentials_delivery == "file":
            self._start_refresh()
        self._emit("Playground ready; starting your server.", 1.0)

    async def _remove_failed_stack(self, client: StackClient, playground: names.PlaygroundNames, stack_id: str):
        try:
            current = await call(client.describe, stack_id, doing="checking the failed playground")
        except PlaygroundError as error:
            self.log.error("Could not check failed playground %s (the reaper will): %s", playground.stack, error)
            return
        if current is not None and current["StackStatus"] not in NEVER_COMPLETED:
            # e.g. an update that outlived our timeout: the stack holds the user's data, leave it be.
            self.log.warning("Not deleting playground %s (%s): it was complete once", playground.stack,
                             current["StackStatus"])
            return
        self._emit("Removing the partly made playground so that a retry starts clean.")
        try:
            await delete_stack(client, playground, stack=stack_id, timeout=self.delete_timeout,
                               poll_interval=self.stack_poll_interval)
        except PlaygroundError as error:
            self.log.error("Could not remove failed playground %s (the reaper will): %s", playground.stack, error)

    async def _assume_role(self, outputs: dict[str, str]) -> credentials.ScopedCredentials:
        aws = await self._clients()
        # A role IAM has just made can be refused by STS for a few seconds (IAM is eventually consistent).
        deadline = asyncio.get_running_loop().time() + self.role_propagation_wait
        while True:
            try:
                return await call(
                    credentials.assume, aws.sts, outputs["ServerRoleArn"], self.playground_names.session_name,
                    credentials.session_policy(outputs, read_only=self.playground_access() == credentials.ACCESS_READ),
                    self.credentials_duration,
                    doing="getting scoped credentials for your server",
                )
            except PlaygroundError as error:
                if error.reason != "aws-auth" or asyncio.get_running_loop().time() >= deadline:
                    raise
                self.log.info("STS refused %s's new role (%s); retrying while IAM propagates", self.user.name, error)
                await asyncio.sleep(min(2.0, self.role_propagation_wait))

    @property
    def credential_files(self) -> credentials.CredentialFiles:
        root = Path(self.credentials_dir or Path(tempfile.gettempdir()) / "profiler-workbench-credentials")
        # One folder per server: stopping one of a user's named servers must not pull another's credentials.
        return credentials.CredentialFiles(root / self.playground_names.slug / (self.name or "default"))

    def credentials_owner(self) -> tuple[int, int] | None:
        """(uid, gid) of the OS account the server runs as when it is not the hub's own (system accounts
        override this): the credential files must be theirs to read."""
        return None

    def _environment_for(self, outputs: dict[str, str], scoped: credentials.ScopedCredentials) -> dict[str, str]:
        values: dict[str, str | None] = {
            environment.STACK_NAME: self.playground_names.stack,
            environment.LOADTEST_TABLE: outputs["LoadTestTableName"],
            environment.RUNS_TABLE: outputs["RunsTableName"],
            environment.TARGET_GROUP_ARN: outputs.get("TargetGroupArn"),
            environment.ROLE_ARN: outputs.get("ServerRoleArn"),
            environment.AWS_REGION: self.aws_region,
            environment.AWS_ENDPOINT_URL: self.aws_endpoint_url or None,
        }
        if self.credentials_delivery == "file":
            files = self.credential_files
            files.write(scoped, self.aws_region, self.credentials_owner())
            values.update(files.environment(scoped))
        else:
            values.update(credentials.environment_delivery(scoped))
        return environment.build(values)

    def get_env(self):
        env = super().get_env()
        # Never pass on the hub's own AWS settings (keys, profile, config): only what the playground grants.
        for key in [key for key in env if key.startswith("AWS_")]:
            del env[key]
        env.update(self._playground_env)
        return env

    async def poll(self):
        if self._playground_starting:
            return None  # JupyterHub: a spawner that has not finished starting counts as running
        status = await super().poll()
        if status is None and self._playground and self.credentials_delivery == "file":
            self._start_refresh()  # after a hub restart, keep the running server's credentials fresh
        return status

    async def stop(self, now=False):
        self._stop_refresh()
        return await super().stop(now=now)

    async def run_post_stop_hook(self):
        """Runs after every stop, even when stop() was skipped because the server had already died."""
        self._stop_refresh()
        await asyncio.to_thread(self.credential_files.remove)
        if self.playground_enabled and self.retention == "delete" and not self._other_servers_active():
            try:
                await self.delete_playground()
            except PlaygroundError as error:
                self.log.error("Could not delete %s's playground on stop (the reaper will): %s",
                               self.user.name, error)
        return await maybe_future(super().run_post_stop_hook())

    async def delete_forever(self):
        """The user is deleted from the hub: their playground goes too, whatever the retention. JupyterHub also
        calls this when one named server is removed: then only that server's credential files go (the
        playground is the user's, shared by all their servers)."""
        self._stop_refresh()
        await asyncio.to_thread(self.credential_files.remove)
        if self.playground_enabled and not self.name:
            await self.delete_playground()
        await maybe_future(super().delete_forever())

    async def delete_playground(self) -> None:
        playground = self.playground_names
        aws = await self._clients()
        client = StackClient(aws.cloudformation, aws.elbv2)
        stack_id = (self._playground or {}).get("stack_id")
        async with stack_lock(playground.stack):
            found = await call(client.describe, stack_id or playground.stack, doing="looking for your playground")
            owner = None if found is None else stacks.foreign_owner(found, self.user.name, self.hub_id)
            if owner is not None:
                # a stack that carries the user's playground name but is someone else's is never deleted
                self.log.warning("Not deleting %s: it belongs to %s, not to %s", playground.stack, owner,
                                 self.user.name)
                self._playground = None
                return
            await delete_stack(client, playground, stack=stack_id, timeout=self.delete_timeout,
                               poll_interval=self.stack_poll_interval)
        self._playground = None
        self.log.info("Deleted %s's playground %s", self.user.name, playground.stack)

    def _other_servers_active(self) -> bool:
        spawners = getattr(self.user, "spawners", {}) or {}
        return any(other is not self and other.active for other in spawners.values())

    # ---- credential refresh ------------------------------------------------------------------------------

    def _start_refresh(self) -> None:
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = asyncio.ensure_future(self._refresh_credentials_forever())

    def _stop_refresh(self) -> None:
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            self._refresh_task = None

    async def _refresh_credentials_forever(self) -> None:
        files = self.credential_files
        while self._playground:
            current = await asyncio.to_thread(files.read)
            wait = credentials.seconds_until_refresh(current, self.credentials_refresh_margin) if current else 0
            await asyncio.sleep(wait)
            try:
                scoped = await self._assume_role(self._playground["outputs"])
                await asyncio.to_thread(files.write, scoped, self.aws_region, self.credentials_owner())
                self.log.info("Refreshed %s's playground credentials (valid until %s)",
                              self.user.name, scoped.expiration_iso)
            except Exception as error:  # noqa: BLE001 - keep refreshing whatever went wrong once
                self.log.error("Refreshing %s's playground credentials failed, retrying in a minute: %s",
                               self.user.name, error)
                await asyncio.sleep(60)


class PlaygroundSpawner(PlaygroundSpawnerMixin, SimpleLocalProcessSpawner):
    """The embedded default: the user's playground, then a local single-user server process."""
