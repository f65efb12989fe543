"""Orphan reaper: deletes the playgrounds this hub no longer needs, and what the backend left behind.

A playground stack is reaped when it carries this hub's ``hub`` tag and

- its owner no longer exists on the hub (deleted while the hub was down, or ``delete_forever`` failed), or
- its owner has no server running or starting, and the stack is broken (rolled back, failed), stuck in
  progress longer than ``--stuck-minutes`` (a hub killed mid-spawn), older than ``--ttl-hours``, or the hub
  deletes playgrounds on stop (``--delete-idle``, matching ``retention = "delete"``).

A playground whose owner has a server running or starting is never touched. Target groups tagged by this hub
whose stack is gone (moto's ``delete_stack`` leaves them) are deleted too. If the hub's API cannot be read,
nothing is deleted.

The hub runs it as a managed service (:func:`service_definition` and :data:`ROLE`; the hub gives it
``JUPYTERHUB_API_URL`` and ``JUPYTERHUB_API_TOKEN``), or once by hand:
``python -m hub.services.reaper --once --dry-run``. Region and endpoint come from the ``WORKBENCH_*`` settings
unless given.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from botocore.exceptions import BotoCoreError, ClientError

from spawner import names, stacks

log = logging.getLogger("hub.services.reaper")


@dataclass(frozen=True)
class HubUser:
    name: str
    active: bool  # a server running or starting: its playground is in use


@dataclass
class Report:
    deleted: list[tuple[str, str]] = field(default_factory=list)  # (stack, reason)
    target_groups: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"deleted": self.deleted, "target_groups": self.target_groups, "errors": self.errors}


class HubUnavailable(RuntimeError):
    pass


def hub_users(api_url: str, token: str, timeout: float = 30.0) -> dict[str, HubUser]:
    """Every user of the hub and whether they have a server running or starting (paginated API)."""
    found: dict[str, HubUser] = {}
    offset = 0
    while True:
        url = f"{api_url.rstrip('/')}/users?" + urllib.parse.urlencode({"offset": offset, "limit": 200})
        request = urllib.request.Request(url, headers={"Authorization": f"token {token}",
                                                       "Accept": "application/jupyterhub-pagination+json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # the hub's own URL
                page = json.load(response)
        except (OSError, ValueError) as error:
            raise HubUnavailable(f"cannot list the hub's users at {url}: {error}") from error
        items = page["items"] if isinstance(page, dict) else page
        for user in items:
            servers = (user.get("servers") or {}).values()
            active = bool(user.get("pending")) or any(s.get("ready") or s.get("pending") for s in servers)
            found[user["name"]] = HubUser(user["name"], active)
        following = page.get("_pagination", {}).get("next") if isinstance(page, dict) else None
        if not following:
            return found
        offset = following["offset"]


def _age_seconds(stack: Mapping[str, Any], now: dt.datetime) -> float:
    changed = stack.get("LastUpdatedTime") or stack["CreationTime"]
    if changed.tzinfo is None:
        changed = changed.replace(tzinfo=dt.timezone.utc)
    return (now - changed).total_seconds()


def verdict(stack: Mapping[str, Any], users: Mapping[str, HubUser], now: dt.datetime, *,
            ttl_seconds: float | None, stuck_seconds: float, delete_idle: bool) -> str | None:
    """Why this stack should be deleted, or None to keep it. Pure: the whole policy is here."""
    owner = stacks.tags_of(stack).get(stacks.TAG_OWNER)
    if owner not in users:
        return f"its owner {owner!r} no longer exists on the hub"
    if users[owner].active:
        return None
    status = stack["StackStatus"]
    age = _age_seconds(stack, now)
    if status in stacks.BROKEN:
        return f"it is {status} and {owner!r} has no server starting"
    if (status in stacks.IN_PROGRESS or status in stacks.ROLLING_BACK) and age > stuck_seconds:
        return f"it has been {status} for {age / 60:.0f} min and {owner!r} has no server starting"
    if ttl_seconds is not None and age > ttl_seconds:
        return f"it is {age / 3600:.1f} h old, past the {ttl_seconds / 3600:.1f} h TTL, and {owner!r} is not using it"
    if delete_idle and status in stacks.HEALTHY:
        return f"playgrounds are deleted on stop and {owner!r} has no server running"
    return None


def hub_stacks(cloudformation: Any, hub_id: str) -> list[dict]:
    """Live stacks carrying this hub's tag."""
    found = []
    for page in cloudformation.get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            if stack["StackStatus"] not in stacks.GONE and stacks.tags_of(stack).get(stacks.TAG_HUB) == hub_id:
                found.append(stack)
    return found


def _names_of(stack: Mapping[str, Any]) -> names.PlaygroundNames:
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    owner = stacks.tags_of(stack).get(stacks.TAG_OWNER, "")
    return names.PlaygroundNames(username=owner, prefix=parameters.get("NamePrefix", names.DEFAULT_PREFIX),
                                 slug=parameters.get("UserSlug", names.slug(owner) if owner else "unknown"))


def _tagged_target_groups(elbv2: Any, hub_id: str) -> Iterable[tuple[str, str]]:
    groups = [g for page in elbv2.get_paginator("describe_target_groups").paginate() for g in page["TargetGroups"]]
    for start in range(0, len(groups), 20):  # describe_tags takes at most 20 ARNs
        batch = {g["TargetGroupArn"]: g["TargetGroupName"] for g in groups[start:start + 20]}
        for description in elbv2.describe_tags(ResourceArns=list(batch))["TagDescriptions"]:
            tags = {tag["Key"]: tag["Value"] for tag in description.get("Tags", [])}
            if tags.get(stacks.TAG_HUB) == hub_id:
                yield description["ResourceArn"], batch[description["ResourceArn"]]


def reap(clients: stacks.AwsClients, users: Callable[[], Mapping[str, HubUser]], *, hub_id: str,
         now: dt.datetime | None = None, ttl_seconds: float | None = None, stuck_seconds: float = 3600.0,
         delete_idle: bool = False, dry_run: bool = False, delete_timeout: float = 600.0,
         poll_interval: float = 5.0) -> Report:
    """One pass: delete the stacks :func:`verdict` condemns, then target groups whose stack is gone.

    ``users`` is called *after* the stacks are listed: someone who signs up and logs in between the two
    looks is then in the user list, so their brand-new stack is never taken for an orphan.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    report = Report()
    client = stacks.StackClient(clients.cloudformation, clients.elbv2)
    live = hub_stacks(clients.cloudformation, hub_id)
    known = users()
    for stack in live:
        reason = verdict(stack, known, now, ttl_seconds=ttl_seconds, stuck_seconds=stuck_seconds,
                         delete_idle=delete_idle)
        if reason is None:
            continue
        log.info("%s %s: %s", "Would delete" if dry_run else "Deleting", stack["StackName"], reason)
        if dry_run:
            report.deleted.append((stack["StackName"], reason))
            continue
        try:
            asyncio.run(stacks.delete_stack(client, _names_of(stack), stack=stack["StackId"],
                                            timeout=delete_timeout, poll_interval=poll_interval))
            report.deleted.append((stack["StackName"], reason))
        except stacks.PlaygroundError as error:
            report.errors.append(f"{stack['StackName']}: {error}")
            log.error("Could not delete %s: %s", stack["StackName"], error)
    kept = {stack["StackName"] for stack in hub_stacks(clients.cloudformation, hub_id)}
    for arn, name in _tagged_target_groups(clients.elbv2, hub_id):
        if name in kept:
            continue
        log.info("%s target group %s: its stack is gone", "Would delete" if dry_run else "Deleting", name)
        if not dry_run:
            client.delete_target_group(arn)
        report.target_groups.append(arn)
    return report


SERVICE_NAME = "playground-reaper"
ROLE = {"name": SERVICE_NAME, "services": [SERVICE_NAME], "scopes": ["list:users", "read:users:name", "read:servers"]}


def service_definition(settings) -> dict:
    """The managed-service entry for a hub with these settings (a ``hub.settings.WorkbenchSettings``)."""
    endpoint = settings.effective_aws_endpoint
    return {
        "name": SERVICE_NAME,
        "command": [
            sys.executable, "-m", "hub.services.reaper", "--interval", str(settings.reaper_interval),
            "--hub-id", settings.hub_id, "--region", settings.aws_region,
            *(["--endpoint-url", endpoint] if endpoint else []),
            *(["--delete-idle"] if settings.playground_retention == "delete" else []),
        ],
        # A managed service starts with an almost empty environment: hand it the hub's AWS access, which the
        # runner put in the hub's environment.
        "environment": {name: value for name, value in os.environ.items() if name.startswith("AWS_")},
        "display": False,
    }


def main(argv: list[str] | None = None) -> None:
    from hub import settings as workbench_settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true", help="one pass, then exit (default: every --interval)")
    parser.add_argument("--interval", type=float, default=600.0, help="seconds between passes (default 600)")
    parser.add_argument("--hub-id", default=stacks.DEFAULT_HUB_ID,
                        help=f"value of the `hub` tag to reap (default {stacks.DEFAULT_HUB_ID})")
    parser.add_argument("--ttl-hours", type=float, default=None, help="reap unused playgrounds older than this")
    parser.add_argument("--stuck-minutes", type=float, default=60.0,
                        help="reap unused stacks in progress for longer than this (default 60)")
    parser.add_argument("--delete-idle", action="store_true",
                        help="reap every playground whose owner has no server (the spawner's retention=delete)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be deleted; delete nothing")
    parser.add_argument("--region", default=None, help="AWS region (default: WORKBENCH_AWS_REGION)")
    parser.add_argument("--endpoint-url", default=None, help="AWS endpoint (default: from WORKBENCH_* settings)")
    parser.add_argument("--api-url", default=os.environ.get("JUPYTERHUB_API_URL", ""),
                        help="the hub's API (default: $JUPYTERHUB_API_URL, set for hub-managed services)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s reaper %(levelname)s %(message)s")
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not args.api_url or not token:
        parser.error("needs the hub's API: run it as a hub-managed service or set JUPYTERHUB_API_URL and "
                     "JUPYTERHUB_API_TOKEN")
    config = workbench_settings.load()
    clients = stacks.AwsClients.connect(args.region or config.aws_region,
                                        args.endpoint_url or config.effective_aws_endpoint)
    while True:
        try:
            report = reap(clients, lambda: hub_users(args.api_url, token), hub_id=args.hub_id,
                          ttl_seconds=None if args.ttl_hours is None else args.ttl_hours * 3600,
                          stuck_seconds=args.stuck_minutes * 60, delete_idle=args.delete_idle, dry_run=args.dry_run)
            print(json.dumps(report.as_dict()), flush=True)
        except HubUnavailable as error:
            log.error("Skipping this pass, nothing deleted: %s", error)
        except (BotoCoreError, ClientError) as error:
            # e.g. the local AWS still starting beside us, or throttling: the next pass tries again
            log.error("AWS did not answer, nothing deleted this pass: %s", error)
        if args.once:
            return
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
