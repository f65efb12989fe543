"""What the hub handed to this user's server: their playground's names, scoped AWS access and databases.

The hub side writes these variables in ``spawner/environment.py``; the two sides never import each other and
``tests/test_environment_contract.py`` checks that they name the same variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

STACK_NAME = "PLAYGROUND_STACK_NAME"
LOADTEST_TABLE = "PLAYGROUND_LOADTEST_TABLE"
RUNS_TABLE = "PLAYGROUND_RUNS_TABLE"
TARGET_GROUP_ARN = "PLAYGROUND_TARGET_GROUP_ARN"
ROLE_ARN = "PLAYGROUND_ROLE_ARN"
CREDENTIALS_EXPIRE = "PLAYGROUND_CREDENTIALS_EXPIRE"
CREDENTIALS_FILE = "PLAYGROUND_CREDENTIALS_FILE"
AWS_CONFIG_FILE = "AWS_CONFIG_FILE"
AWS_SHARED_CREDENTIALS_FILE = "AWS_SHARED_CREDENTIALS_FILE"
AWS_REGION = "AWS_DEFAULT_REGION"
AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
AWS_SESSION_TOKEN = "AWS_SESSION_TOKEN"
DATA_URL = "WORKBENCH_DATA_URL"
DATA_SCHEMA = "WORKBENCH_DATA_SCHEMA"
BUILTIN_DATA_URL = "WORKBENCH_BUILTIN_DATA_URL"
CACHE_URL = "WORKBENCH_CACHE_URL"
# The schema of the built-in models on PostgreSQL (spawner/database.py names the same; a test keeps them equal).
BUILTIN_SCHEMA = "builtin"

ALL = (
    STACK_NAME,
    LOADTEST_TABLE,
    RUNS_TABLE,
    TARGET_GROUP_ARN,
    ROLE_ARN,
    CREDENTIALS_EXPIRE,
    CREDENTIALS_FILE,
    AWS_CONFIG_FILE,
    AWS_SHARED_CREDENTIALS_FILE,
    AWS_REGION,
    AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
    DATA_URL,
    DATA_SCHEMA,
    BUILTIN_DATA_URL,
    CACHE_URL,
)


class NoPlayground(RuntimeError):
    """This server was not started by the workbench hub, so there is no playground to use."""


@dataclass(frozen=True)
class Playground:
    stack_name: str
    loadtest_table: str
    runs_table: str
    region: str
    endpoint_url: str | None
    target_group_arn: str | None = None
    role_arn: str | None = None
    credentials_expire: str | None = None

    def boto3_session(self):
        """A boto3 session with the scoped credentials the hub handed over (never the hub's own)."""
        import boto3

        return boto3.session.Session(region_name=self.region)

    def client(self, service: str, **kwargs):
        return self.boto3_session().client(service, endpoint_url=self.endpoint_url, **kwargs)


def current(environ: Mapping[str, str] | None = None) -> Playground:
    """The playground of the user whose server this is; :class:`NoPlayground` with the reason otherwise."""
    environ = os.environ if environ is None else environ
    missing = [name for name in (STACK_NAME, LOADTEST_TABLE, RUNS_TABLE) if not environ.get(name)]
    if missing:
        raise NoPlayground(
            "This server has no AWS playground: " + ", ".join(missing) + " not set. Log in through the "
            "workbench hub (which creates your playground) or set them yourself."
        )
    return Playground(
        stack_name=environ[STACK_NAME],
        loadtest_table=environ[LOADTEST_TABLE],
        runs_table=environ[RUNS_TABLE],
        region=environ.get(AWS_REGION) or "us-east-1",
        endpoint_url=environ.get(AWS_ENDPOINT_URL) or None,
        target_group_arn=environ.get(TARGET_GROUP_ARN) or None,
        role_arn=environ.get(ROLE_ARN) or None,
        credentials_expire=environ.get(CREDENTIALS_EXPIRE) or None,
    )
