"""The contract between the hub side and the user's server: the environment variables the spawner sets.

The user side reads the same variables in ``profiler/playground.py``; the two sides never import each other,
so ``tests/test_environment_contract.py`` checks that both name exactly the same variables.
"""

from __future__ import annotations

from typing import Mapping

# Names of what the spawner hands to the user's server. Values are strings.
STACK_NAME = "PLAYGROUND_STACK_NAME"
LOADTEST_TABLE = "PLAYGROUND_LOADTEST_TABLE"
RUNS_TABLE = "PLAYGROUND_RUNS_TABLE"
TARGET_GROUP_ARN = "PLAYGROUND_TARGET_GROUP_ARN"
ROLE_ARN = "PLAYGROUND_ROLE_ARN"
CREDENTIALS_EXPIRE = "PLAYGROUND_CREDENTIALS_EXPIRE"  # ISO 8601, UTC
CREDENTIALS_FILE = "PLAYGROUND_CREDENTIALS_FILE"  # refreshed by the hub before expiry (see spawner docs)
AWS_CONFIG_FILE = "AWS_CONFIG_FILE"  # profile whose credential_process reads CREDENTIALS_FILE
AWS_SHARED_CREDENTIALS_FILE = "AWS_SHARED_CREDENTIALS_FILE"  # empty: no other credentials found first
AWS_REGION = "AWS_DEFAULT_REGION"
AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"  # read natively by boto3 >= 1.28; absent on real AWS
AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
AWS_SESSION_TOKEN = "AWS_SESSION_TOKEN"
DATA_URL = "WORKBENCH_DATA_URL"  # the user's own database (SQLite file or their PostgreSQL role + schema)
DATA_SCHEMA = "WORKBENCH_DATA_SCHEMA"  # PostgreSQL: the user's schema
BUILTIN_DATA_URL = "WORKBENCH_BUILTIN_DATA_URL"  # the read-only built-in models
CACHE_URL = "WORKBENCH_CACHE_URL"  # empty: in-process memory; redis://...: Redis

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


def build(values: Mapping[str, str | None]) -> dict[str, str]:
    """The environment for a user's server: only contract variables, only those with a value."""
    unknown = set(values) - set(ALL)
    if unknown:
        raise KeyError(f"not part of the hub/user contract: {sorted(unknown)}")
    return {name: str(value) for name, value in values.items() if value not in (None, "")}
