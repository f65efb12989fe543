"""Scoped, temporary AWS credentials for a user's server, and how they stay fresh.

The hub never hands its own keys to a user's server. It calls STS ``AssumeRole`` on the role of the user's
stack (whose policy reaches only that stack's tables and target group) and adds a *session policy* naming the
same resources, so even a role edited by hand cannot give the session more.

Refresh, for sessions longer than the credentials' lifetime (``file`` delivery, the default):

1. The hub writes the credentials as ``credential_process`` JSON into ``credentials.json`` (mode 0600) in a
   folder of its own per user, and an AWS config file whose ``[default]`` profile runs
   ``cat <that file>`` as its ``credential_process``. The server gets ``AWS_CONFIG_FILE`` pointing at it and
   ``AWS_SHARED_CREDENTIALS_FILE`` pointing at an empty file, so no other credentials are found first.
2. botocore treats process credentials that carry an ``Expiration`` as refreshable: every client in the
   user's server (boto3 default session, Locust workers...) re-runs the process when fewer than 15 minutes
   remain, without any code on the user side.
3. The hub re-assumes the role ``refresh_margin`` seconds (default 20 min, more than botocore's 15) before
   expiry and atomically replaces ``credentials.json``; a restarted hub resumes this from ``poll()``.

``environment`` delivery (for spawners whose servers cannot see the hub's files, e.g. Kubernetes) puts the
same scoped keys in ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``: they are not
refreshed, so the server must be restarted before ``PLAYGROUND_CREDENTIALS_EXPIRE`` (up to 12 hours).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from spawner import environment

DYNAMODB_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
)
# How much of the playground a server gets: no credentials, read-only ones, or all the session policy allows.
ACCESS_NONE, ACCESS_READ, ACCESS_WRITE = "none", "read", "write"
ACCESS_LEVELS = (ACCESS_NONE, ACCESS_READ, ACCESS_WRITE)
# What a read-only session may do: read the tables, never write them nor touch the target group.
DYNAMODB_READ_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
)
CREDENTIALS_JSON, CONFIG, SHARED_CREDENTIALS = "credentials.json", "config", "credentials"  # the files' names
MAX_READ = 64 * 1024  # a credentials.json the hub wrote is under 2 KB
TARGET_GROUP_ACTIONS = ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets")


@dataclass(frozen=True)
class ScopedCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: dt.datetime  # aware, UTC

    @property
    def expiration_iso(self) -> str:
        return self.expiration.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")

    def process_output(self) -> dict[str, Any]:
        """The JSON a ``credential_process`` prints (botocore refreshes it before ``Expiration``)."""
        return {
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expiration_iso,
        }


def session_policy(outputs: Mapping[str, str], read_only: bool = False) -> dict[str, Any]:
    """The session policy: only this playground's two tables (and their indexes) and its target group; with
    ``read_only``, only reading the tables (what a published dashboard's kernel gets unless its owner chose
    more)."""
    tables = [outputs["LoadTestTableArn"], outputs["RunsTableArn"]]
    statements = [
        {
            "Sid": "OwnTables",
            "Effect": "Allow",
            "Action": list(DYNAMODB_READ_ACTIONS if read_only else DYNAMODB_ACTIONS),
            "Resource": tables + [f"{arn}/index/*" for arn in tables],
        },
    ]
    if not read_only:
        statements.append({
            "Sid": "OwnTargetGroup",
            "Effect": "Allow",
            "Action": list(TARGET_GROUP_ACTIONS),
            "Resource": [outputs["TargetGroupArn"]],
        })
    return {"Version": "2012-10-17", "Statement": statements}


def assume(sts: Any, role_arn: str, session_name: str, policy: Mapping[str, Any],
           duration_seconds: int) -> ScopedCredentials:
    """STS AssumeRole with the session policy. Blocking: call it from a worker thread."""
    response = sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName=session_name[:64],
        Policy=json.dumps(policy, separators=(",", ":")),
        DurationSeconds=duration_seconds,
    )
    issued = response["Credentials"]
    expiration = issued["Expiration"]
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=dt.timezone.utc)
    return ScopedCredentials(
        access_key_id=issued["AccessKeyId"],
        secret_access_key=issued["SecretAccessKey"],
        session_token=issued["SessionToken"],
        expiration=expiration,
    )


def seconds_until_refresh(credentials: ScopedCredentials, margin_seconds: float,
                          now: dt.datetime | None = None) -> float:
    """How long the hub may wait before re-assuming the role (0: now)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (credentials.expiration - now).total_seconds() - margin_seconds)


@dataclass(frozen=True)
class CredentialFiles:
    """The files of ``file`` delivery, in one folder per user that only the hub's OS user can read."""

    directory: Path

    @property
    def credentials_json(self) -> Path:
        return self.directory / CREDENTIALS_JSON

    @property
    def config(self) -> Path:
        return self.directory / CONFIG

    @property
    def shared_credentials(self) -> Path:
        return self.directory / SHARED_CREDENTIALS

    def write(self, credentials: ScopedCredentials, region: str, owner: tuple[int, int] | None = None) -> None:
        """Write (or atomically replace) the files; a reader never sees a half-written file.

        ``owner`` (uid, gid): the OS account the server runs as when it is not the hub's own (system accounts).
        The files become theirs (0600); every folder stays root's and only traversable (0711), so the user can
        read their files by name but can neither list the folders nor plant a link where the hub writes.
        """
        if owner is None:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        else:
            root = self.directory.parent.parent
            for folder in (root, self.directory.parent, self.directory):
                folder.mkdir(parents=True, exist_ok=True, mode=0o711)
                found = os.lstat(folder)
                if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.geteuid():
                    raise PermissionError(f"{folder} is not the hub's own folder")
                folder.chmod(0o711)
            closed = [str(folder) for folder in root.parents if not folder.stat().st_mode & stat.S_IXOTH]
            if closed:
                raise PermissionError(
                    f"the server's OS user cannot reach {self.directory}: {closed[0]} is not traversable by others "
                    "(chmod o+x it, or set PlaygroundSpawner.credentials_dir to a folder under a traversable path)"
                )
        for name, text in delivery_files(credentials, region, self.directory).items():
            _write_private(self.directory / name, text, owner)

    def read(self) -> ScopedCredentials | None:
        """The credentials written last, or None. With system accounts the file is the user's to change: the
        hub reads at most :data:`MAX_READ` bytes of it, never through a link, and takes nothing malformed."""
        try:
            descriptor = os.open(self.credentials_json, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(descriptor, "rb") as stream:
                data = json.loads(stream.read(MAX_READ))
            return ScopedCredentials(
                access_key_id=str(data["AccessKeyId"]),
                secret_access_key=str(data["SecretAccessKey"]),
                session_token=str(data["SessionToken"]),
                expiration=parse_expiration(str(data["Expiration"])),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def remove(self) -> None:
        for path in (self.credentials_json, self.config, self.shared_credentials):
            path.unlink(missing_ok=True)
        for folder in (self.directory, self.directory.parent):  # the server's folder, then the user's if empty
            try:
                folder.rmdir()
            except OSError:
                break

    def environment(self, credentials: ScopedCredentials) -> dict[str, str]:
        return {
            environment.AWS_CONFIG_FILE: str(self.config),
            environment.AWS_SHARED_CREDENTIALS_FILE: str(self.shared_credentials),
            environment.CREDENTIALS_FILE: str(self.credentials_json),
            environment.CREDENTIALS_EXPIRE: credentials.expiration_iso,
        }


def delivery_files(credentials: ScopedCredentials, region: str, directory: Path) -> dict[str, str]:
    """The files of ``file`` delivery by name, as they read once in ``directory`` (written there by the hub, or
    mounted there from a Kubernetes Secret): the credentials, a config whose credential_process reads them, and an
    empty shared-credentials file."""
    return {
        CREDENTIALS_JSON: json.dumps(credentials.process_output()),
        CONFIG: "# Written by the hub: scoped playground credentials, refreshed before they expire.\n"
                "[default]\n"
                f"region = {region}\n"
                f"credential_process = cat {shlex.quote(str(directory / CREDENTIALS_JSON))}\n",
        SHARED_CREDENTIALS: "# Intentionally empty: credentials come from the config file.\n",
    }


def parse_expiration(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def environment_delivery(credentials: ScopedCredentials) -> dict[str, str]:
    return {
        environment.AWS_ACCESS_KEY_ID: credentials.access_key_id,
        environment.AWS_SECRET_ACCESS_KEY: credentials.secret_access_key,
        environment.AWS_SESSION_TOKEN: credentials.session_token,
        environment.CREDENTIALS_EXPIRE: credentials.expiration_iso,
    }


def _write_private(path: Path, text: str, owner: tuple[int, int] | None = None) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        # mode and owner through the descriptor: no path is followed after the file was made
        os.fchmod(handle, 0o600)
        if owner is not None:
            os.fchown(handle, *owner)
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
