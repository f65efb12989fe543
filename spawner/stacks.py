"""A user's playground stack in CloudFormation: create or adopt, watch it as progress, read outputs, delete.

The blocking boto3 calls live in :class:`StackClient` (plain, synchronous, easy to stub); :func:`watch` is the
only async part and runs each call in a worker thread, so the hub's event loop never waits on AWS.
Every AWS failure becomes a :class:`PlaygroundError` whose message is meant for the person who logged in.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from spawner.names import PlaygroundNames

log = logging.getLogger(__name__)

HEALTHY = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"})
IN_PROGRESS = frozenset(
    {
        "CREATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "REVIEW_IN_PROGRESS",
        "IMPORT_IN_PROGRESS",
    }
)
# Creation failed and CloudFormation is undoing it: wait for the end (it cannot be deleted meanwhile).
ROLLING_BACK = frozenset({"ROLLBACK_IN_PROGRESS", "IMPORT_ROLLBACK_IN_PROGRESS"})
# A stack in one of these will never become usable: it is deleted and made anew.
BROKEN = frozenset(
    {
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "DELETE_FAILED",
        "UPDATE_ROLLBACK_FAILED",
        "UPDATE_FAILED",
        "IMPORT_ROLLBACK_COMPLETE",
        "IMPORT_ROLLBACK_FAILED",
    }
)
DELETING = frozenset({"DELETE_IN_PROGRESS"})
# CloudFormation refuses DeleteStack while an operation other than a create runs: wait for it to settle.
NOT_DELETABLE_YET = ROLLING_BACK | (IN_PROGRESS - {"CREATE_IN_PROGRESS"})
GONE = frozenset({"DELETE_COMPLETE"})

THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "LimitExceeded"}
)
AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InsufficientCapabilitiesException",
    }
)


class PlaygroundError(RuntimeError):
    """Creating, adopting or deleting a playground failed; ``str(error)`` is the reason to show the user.

    ``reason`` is a short label for metrics (JupyterHub's ``SpawnException(reason=...)``).
    """

    def __init__(self, message: str, reason: str = "playground"):
        super().__init__(message)
        self.reason = reason


def explain(error: Exception, doing: str) -> PlaygroundError:
    """A message a person can act on, for an AWS error raised while ``doing`` something."""
    if isinstance(error, PlaygroundError):
        return error
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        detail = error.response.get("Error", {}).get("Message", "") or code
        if code in THROTTLING_CODES:
            return PlaygroundError(
                f"AWS is throttling requests while {doing} ({detail}). Nothing was lost; try again in a minute.",
                reason="aws-throttled",
            )
        if code in AUTH_CODES:
            return PlaygroundError(
                f"AWS refused the hub's credentials while {doing} ({code}: {detail}). "
                "An administrator needs to fix the hub's AWS access; your data is untouched.",
                reason="aws-auth",
            )
        if code == "ValidationError":
            return PlaygroundError(f"CloudFormation rejected the playground template while {doing}: {detail}",
                                   reason="playground-template")
        return PlaygroundError(f"AWS error while {doing}: {code}: {detail}", reason="aws-error")
    if isinstance(error, BotoCoreError):
        return PlaygroundError(f"Could not reach AWS while {doing} ({error}). Nothing of yours is lost; try again "
                               "in a minute.", reason="aws-unreachable")
    return PlaygroundError(f"Unexpected error while {doing}: {error!r}", reason="aws-error")


class _AnyTagLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML (``!Ref``, ``!Sub``...) just far enough to count its resources."""


_AnyTagLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def resource_count(template_body: str) -> int:
    """How many resources the template declares: the denominator of honest progress."""
    try:
        template = yaml.load(template_body, Loader=_AnyTagLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise PlaygroundError(f"The playground template is not valid YAML: {error}") from None
    resources = (template or {}).get("Resources") if isinstance(template, dict) else None
    if not resources:
        raise PlaygroundError("The playground template declares no Resources.")
    return len(resources)


@dataclass(frozen=True)
class StackRequest:
    """Everything ``create_stack`` needs for one user's playground (built by :func:`build_request`)."""

    names: PlaygroundNames
    template_body: str
    parameters: tuple[tuple[str, str], ...]
    tags: tuple[tuple[str, str], ...]

    @property
    def total_resources(self) -> int:
        return resource_count(self.template_body)


DEFAULT_HUB_ID = "profiler-workbench"
TAG_OWNER = "owner"
TAG_HUB = "hub"
TAG_CREATED_BY = "created-by"
# Which template and parameters made the stack (a digest): a hub with a newer template updates it in place.
TAG_TEMPLATE = "template"
CREATED_BY = "PlaygroundSpawner"


def template_digest(template_body: str, parameters: tuple[tuple[str, str], ...]) -> str:
    return hashlib.sha256(repr((template_body, sorted(parameters))).encode()).hexdigest()[:16]


def build_request(names: PlaygroundNames, template_body: str, hub_id: str, vpc_id: str = "",
                  subnet_ids: tuple[str, ...] = (), permissions_boundary: str = "") -> StackRequest:
    """From the hub deployment (stacks/deployment.yaml's outputs): ``vpc_id``/``subnet_ids``, the network where the
    playground's target group is made (unset: the playground makes a VPC of its own); ``permissions_boundary``, the
    boundary its server role must carry for the hub's role to create it. Each is passed only when set, so the
    parameters (and the digest of playgrounds made without them) stay as they were."""
    parameters = (
        ("NamePrefix", names.prefix),
        ("UserSlug", names.slug),
        ("Owner", names.username),
        ("Hub", hub_id),
        ("CreatedBy", CREATED_BY),
    )
    if vpc_id:
        parameters += (("DeploymentVpcId", vpc_id), ("DeploymentSubnetIds", ",".join(subnet_ids)))
    if permissions_boundary:
        parameters += (("PermissionsBoundaryArn", permissions_boundary),)
    tags = ((TAG_OWNER, names.username), (TAG_HUB, hub_id), (TAG_CREATED_BY, CREATED_BY),
            (TAG_TEMPLATE, template_digest(template_body, parameters)))
    return StackRequest(names=names, template_body=template_body, parameters=parameters, tags=tags)


@dataclass
class Progress:
    """What to show on the spawn page: ``done`` of ``total`` resources finished, and the latest news."""

    status: str
    done: int
    total: int
    message: str

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


@dataclass
class EventLog:
    """Stack events seen so far, oldest first; tells which resources are done and why one failed."""

    seen: set[str] = field(default_factory=set)
    completed: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)

    def add(self, events: list[dict], stack_name: str) -> list[dict]:
        """Record new events (any order, duplicates allowed) and return the new ones, oldest first."""
        fresh = [event for event in events if event["EventId"] not in self.seen]
        fresh.sort(key=lambda event: event["Timestamp"])
        for event in fresh:
            self.seen.add(event["EventId"])
            logical_id = event.get("LogicalResourceId", "")
            status = event.get("ResourceStatus", "")
            if logical_id == stack_name:
                continue
            if status in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}:
                self.completed.add(logical_id)
            elif status.endswith("_FAILED"):
                reason = event.get("ResourceStatusReason") or "no reason given"
                self.failures.append(f"{logical_id} ({event.get('ResourceType', '?')}): {reason}")
        return fresh


def describe_event(event: dict) -> str:
    what = event.get("LogicalResourceId", "?")
    status = event.get("ResourceStatus", "?").replace("_", " ").lower()
    kind = event.get("ResourceType", "")
    reason = event.get("ResourceStatusReason")
    text = f"{what} ({kind}): {status}" if kind and kind != "AWS::CloudFormation::Stack" else f"Stack: {status}"
    return f"{text} - {reason}" if reason and "FAILED" in event.get("ResourceStatus", "") else text


class StackClient:
    """Synchronous CloudFormation + ELBv2 calls for playgrounds. Run its methods in a worker thread."""

    def __init__(self, cloudformation: Any, elbv2: Any):
        self.cloudformation = cloudformation
        self.elbv2 = elbv2

    def describe(self, stack: str) -> dict | None:
        """The stack (by name or id), or None when there is none (deleted stacks count as none)."""
        try:
            found = self.cloudformation.describe_stacks(StackName=stack)["Stacks"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationError" and "does not exist" in str(error):
                return None
            raise
        if not found or found[0]["StackStatus"] in GONE:
            return None
        return found[0]

    def create(self, request: StackRequest) -> str:
        """Start creating the stack; returns its id. Raises AlreadyExistsException's ClientError on a race."""
        # The token makes botocore's own retries of this call idempotent; AlreadyExists covers other callers.
        token = f"{request.names.stack}-{uuid.uuid4().hex}"[:128]
        response = self.cloudformation.create_stack(
            StackName=request.names.stack,
            TemplateBody=request.template_body,
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in request.parameters],
            Tags=[{"Key": key, "Value": value} for key, value in request.tags],
            Capabilities=["CAPABILITY_NAMED_IAM"],
            OnFailure="ROLLBACK",
            ClientRequestToken=token,
        )
        return response["StackId"]

    def update(self, request: StackRequest, stack_id: str) -> bool:
        """Start updating the stack in place to ``request``'s template, parameters and tags (its resources, the
        tables with their items included, are kept where the template keeps them); False when CloudFormation
        finds nothing to change."""
        try:
            self.cloudformation.update_stack(
                StackName=stack_id,
                TemplateBody=request.template_body,
                Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in request.parameters],
                Tags=[{"Key": key, "Value": value} for key, value in request.tags],
                Capabilities=["CAPABILITY_NAMED_IAM"],
            )
        except ClientError as error:
            if "No updates are to be performed" in str(error):
                return False
            raise
        return True

    def events(self, stack_id: str) -> list[dict]:
        """The newest page of the stack's events (enough to follow progress between two polls)."""
        return self.cloudformation.describe_stack_events(StackName=stack_id).get("StackEvents", [])

    def start_delete(self, stack: str) -> None:
        self.cloudformation.delete_stack(StackName=stack)

    def leftover_target_groups(self, names: PlaygroundNames) -> list[str]:
        """ARNs of this playground's target group if it outlived its stack (moto's delete leaves it)."""
        try:
            groups = self.elbv2.describe_target_groups(Names=[names.target_group])["TargetGroups"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"TargetGroupNotFound", "TargetGroupNotFoundException"}:
                return []
            raise
        return [group["TargetGroupArn"] for group in groups]

    def complete_outputs(self, names: PlaygroundNames, outputs: dict[str, str]) -> dict[str, str]:
        """``outputs`` with the target group's, when the backend lost them: moto (5.2.6, the local AWS) forgets
        after UpdateStack every output that depends on a resource with a Condition or an ``!If`` property (the
        target group and its VPC), while the resources themselves are still there (measured by updating a
        playground made from the previous template). They are read from the target group, found by its name."""
        if "TargetGroupArn" in outputs:
            return outputs
        groups = self.elbv2.describe_target_groups(Names=[names.target_group])["TargetGroups"]
        return {**outputs, "TargetGroupArn": groups[0]["TargetGroupArn"], "VpcId": groups[0]["VpcId"]}

    def delete_target_group(self, arn: str) -> None:
        try:
            self.elbv2.delete_target_group(TargetGroupArn=arn)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code not in {"TargetGroupNotFound", "TargetGroupNotFoundException"}:
                raise


def outputs_of(stack: Mapping[str, Any]) -> dict[str, str]:
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def tags_of(stack: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in stack.get("Tags", [])}


def foreign_owner(stack: Mapping[str, Any], username: str, hub_id: str) -> str | None:
    """Who else ``stack`` belongs to, or None when it is ``username``'s on the hub ``hub_id``. A user is the owner
    tag *and* the hub tag: a user of the same name on another hub sharing the AWS account is someone else (a stack
    with no hub tag at all is judged by its owner alone)."""
    tags = tags_of(stack)
    owner, hub = tags.get(TAG_OWNER), tags.get(TAG_HUB)
    if owner == username and hub in (None, hub_id):
        return None
    if owner and hub and hub != hub_id:
        return f"{owner} of the hub {hub}"
    return owner or "nobody known"


async def call(function: Callable, *args, doing: str, **kwargs):
    """Run one blocking AWS call in a worker thread; AWS errors become :class:`PlaygroundError`."""
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except (ClientError, BotoCoreError) as error:
        raise explain(error, doing) from error


async def create_or_adopt(client: StackClient, request: StackRequest, *, delete_timeout: float, poll_interval: float,
                          report: Callable[[str], None]) -> tuple[str, bool]:
    """The id of the user's stack, creating it unless a usable one exists; ``(id, created)``.

    Idempotent: a second login, a restarted hub or a second tab finds the stack by its deterministic name and
    adopts it (even while it is still being created); a broken stack (rolled back, failed) is deleted first
    so the retry starts clean. A stack of that name whose ``owner`` or ``hub`` tag names someone else (or another
    hub) is neither adopted nor deleted.
    """
    name = request.names.stack
    for _attempt in range(3):
        stack = await call(client.describe, name, doing="looking for your playground")
        if stack is not None:
            owner = foreign_owner(stack, request.names.username, dict(request.tags)[TAG_HUB])
            if owner is not None:
                # Never adopt, nor delete, a stack that carries the name but is not this user's on this hub.
                raise PlaygroundError(
                    f"A stack named {name} exists but belongs to {owner}, not to you: nothing was "
                    "changed. Ask the hub's operator to look at it.", reason="playground-owner")
            status = stack["StackStatus"]
            wanted = dict(request.tags)[TAG_TEMPLATE]
            if status in HEALTHY and tags_of(stack).get(TAG_TEMPLATE) != wanted:
                # made by an earlier release of the hub, or with other parameters: updated, never replaced
                if await call(client.update, request, stack["StackId"], doing="updating your playground"):
                    report(f"Updating your playground {name} to this hub's template; your tables and their items "
                           "are kept.")
                return stack["StackId"], False
            if status in HEALTHY or status in IN_PROGRESS:
                report(f"Found your playground {name} ({status.replace('_', ' ').lower()}); reusing it.")
                return stack["StackId"], False
            if status in BROKEN or status in ROLLING_BACK:
                report(f"Your previous playground {name} is {status.replace('_', ' ').lower()}; removing it first.")
            await delete_stack(client, request.names, timeout=delete_timeout, poll_interval=poll_interval)
        else:
            # A stack deleted by hand or by moto may leave its target group, whose name the new stack needs.
            for arn in await call(client.leftover_target_groups, request.names, doing="checking leftovers"):
                log.warning("Removing target group %s left behind by an earlier %s", arn, name)
                await call(client.delete_target_group, arn, doing="removing a leftover target group")
        try:
            stack_id = await asyncio.to_thread(client.create, request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "AlreadyExistsException":
                continue  # someone else created it between our describe and create: adopt theirs
            raise explain(error, "creating your playground") from error
        except BotoCoreError as error:
            raise explain(error, "creating your playground") from error
        report(f"Creating your playground {name}.")
        return stack_id, True
    raise PlaygroundError(f"Your playground {name} kept changing while the hub tried to create it; try again.")


async def watch(client: StackClient, stack_id: str, stack_name: str, *, total: int, timeout: float,
                poll_interval: float, patience_interval: float, report: Callable[[Progress], None]) -> dict:
    """Follow the stack until it is usable and return it; :class:`PlaygroundError` when it fails or stalls.

    Reports ``done/total`` from per-resource events where the backend sends them (moto sends none: it is
    already complete). While nothing changes, repeats a patience message every ``patience_interval`` s.
    """
    started = time.monotonic()
    deadline = started + timeout
    events = EventLog()
    last_news = started
    rollback_reported = False
    while True:
        stack = await call(client.describe, stack_id, doing="checking your playground")
        if stack is None:
            raise PlaygroundError(f"Your playground {stack_name} was deleted while it was being created; try again.")
        status = stack["StackStatus"]
        fresh = events.add(await call(client.events, stack_id, doing="reading your playground's events"), stack_name)
        done = total if status in HEALTHY else min(len(events.completed), total)
        for event in fresh:
            report(Progress(status, done, total, describe_event(event)))
            last_news = time.monotonic()
        if status in HEALTHY:
            report(Progress(status, total, total, f"Playground {stack_name} is ready."))
            return stack
        if status in ROLLING_BACK and not rollback_reported:
            report(Progress(status, done, total, "Creating your playground failed; CloudFormation is undoing it."))
            rollback_reported = True
        if status in BROKEN or status in DELETING:
            reasons = "; ".join(events.failures) or stack.get("StackStatusReason") or "no reason given"
            raise PlaygroundError(
                f"Creating your playground failed ({status.replace('_', ' ').lower()}): {reasons}. "
                "Its partial resources are being removed; you can try again.",
                reason="playground-failed",
            )
        now = time.monotonic()
        if now >= deadline:
            raise PlaygroundError(
                f"Your playground {stack_name} was still {status.replace('_', ' ').lower()} after {timeout:g} s, "
                f"with {done} of {total} resources ready. It is being removed; please try again later.",
                reason="playground-timeout",
            )
        if now - last_news >= patience_interval:
            report(
                Progress(status, done, total,
                         f"Still creating your playground ({now - started:.0f} s so far, {done} of {total} resources "
                         "ready); CloudFormation usually needs one to three minutes.")
            )
            last_news = now
        await asyncio.sleep(min(poll_interval, max(0.0, deadline - now)))


async def delete_stack(client: StackClient, names: PlaygroundNames, *, timeout: float, poll_interval: float,
                       stack: str | None = None) -> None:
    """Delete the playground and what the backend leaves behind, waiting up to ``timeout`` seconds."""
    target = stack or names.stack
    current = await call(client.describe, target, doing="looking for your playground to delete")
    leftovers: list[str] = []
    if current is not None:
        tg = outputs_of(current).get("TargetGroupArn")
        leftovers = [tg] if tg else []
        stack_id = current["StackId"]
        deadline = time.monotonic() + timeout
        requested = False
        while current is not None:
            status = current["StackStatus"]
            if status == "DELETE_FAILED" and requested:
                raise PlaygroundError(
                    f"Deleting playground {names.stack} failed: {current.get('StackStatusReason', 'no reason given')}",
                    reason="playground-delete",
                )
            if not requested and status not in DELETING and status not in NOT_DELETABLE_YET:
                await call(client.start_delete, stack_id, doing="deleting your playground")
                requested = True
            elif time.monotonic() >= deadline:
                raise PlaygroundError(f"Playground {names.stack} was still {status.replace('_', ' ').lower()} "
                                      f"after {timeout:.0f} s of waiting for its deletion.", reason="playground-delete")
            else:
                await asyncio.sleep(poll_interval)
            current = await call(client.describe, stack_id, doing="waiting for your playground to be deleted")
    leftovers += await call(client.leftover_target_groups, names, doing="checking leftovers")
    for arn in dict.fromkeys(leftovers):
        await call(client.delete_target_group, arn, doing="removing the playground's target group")


_locks: dict[tuple[int, str], asyncio.Lock] = {}
_locks_guard = threading.Lock()



async def endpoint_answers(endpoint: str, timeout: float = 2.0) -> bool:
    """True when something answers HTTP at ``endpoint`` (any status: a 404 is still a live server).

    One unsigned GET of ``/``: any AWS endpoint answers it with an error of its own (the hub's local AWS with a
    403 ``MissingAuthenticationToken`` from its gate, without reaching moto: ``hub/services/local_aws.py``),
    which needs no credentials, no admin route and no AWS call. The local AWS serves only once it is warm and
    its IAM is set up, so an answer means it is ready.
    """
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    try:
        await AsyncHTTPClient().fetch(f"{endpoint}/", request_timeout=timeout, raise_error=True)
    except HTTPClientError as error:
        return error.code != 599  # 599: tornado's own timeout or refused connection, nothing answered
    except (OSError, asyncio.TimeoutError):
        return False
    return True


async def wait_until_answering(endpoint: str, timeout: float = 30.0, interval: float = 0.25) -> None:
    """Hold on until the AWS endpoint answers (the local AWS is a service the hub may still be starting)."""
    deadline = time.monotonic() + timeout
    while not await endpoint_answers(endpoint):
        if time.monotonic() > deadline:
            raise PlaygroundError(
                f"The AWS endpoint {endpoint} did not answer within {timeout:.0f} s; the hub's log says why "
                "(the 'local-aws' service when the hub runs its own).",
                reason="aws-unavailable",
            )
        await asyncio.sleep(interval)


def stack_lock(stack_name: str) -> asyncio.Lock:
    """One lock per stack name in this hub, so two servers of one user never race to create its playground."""
    key = (id(asyncio.get_running_loop()), stack_name)  # a lock belongs to one event loop
    with _locks_guard:
        return _locks.setdefault(key, asyncio.Lock())


PLACEHOLDER_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class AwsClients:
    """The hub's own AWS clients (botocore clients are thread-safe; one set per region and endpoint)."""

    cloudformation: Any
    elbv2: Any
    dynamodb: Any
    sts: Any

    @classmethod
    def connect(cls, region: str, endpoint_url: str | None) -> "AwsClients":
        key = (region, endpoint_url)
        with _clients_guard:
            if key not in _clients:
                _clients[key] = cls._make(region, endpoint_url)
            return _clients[key]

    @classmethod
    def _make(cls, region: str, endpoint_url: str | None) -> "AwsClients":
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(region_name=region)
        extra: dict[str, str] = {}
        if endpoint_url and session.get_credentials() is None:
            extra = dict(PLACEHOLDER_CREDENTIALS)  # a local endpoint (moto) does not check them
        config = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=50)

        def client(service: str):
            return session.client(service, endpoint_url=endpoint_url, config=config, **extra)

        return cls(client("cloudformation"), client("elbv2"), client("dynamodb"), client("sts"))


_clients: dict[tuple[str, str | None], AwsClients] = {}
_clients_guard = threading.Lock()
