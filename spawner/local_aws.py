"""Local AWS for the embedded defaults: a moto server run by the hub as a managed service.

The hub starts ``python -m spawner.local_aws --port N`` with its other services and stops it at shutdown.
Before each spawn the hub waits until the endpoint answers, so no user server starts against an AWS that is
not there yet.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

SERVICE_NAME = "local-aws"

# moto accepts any credentials; these make it obvious in logs that nothing real is used.
FAKE_HUB_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local-hub", "AWS_SECRET_ACCESS_KEY": "local-hub"}


WARM_SERVICES = ("cloudformation", "dynamodb", "ec2", "elbv2", "iam", "sts")


class LocalAwsUnavailable(RuntimeError):
    pass


def service_definition(port: int) -> dict:
    """The JupyterHub managed-service entry that runs moto on 127.0.0.1:``port``."""
    return {
        "name": SERVICE_NAME,
        "command": [sys.executable, "-m", "spawner.local_aws", "--port", str(port)],
        "display": False,
    }


async def answers(endpoint: str, timeout: float = 2.0) -> bool:
    """True when something answers HTTP at ``endpoint`` (any status: a 404 is still a live server)."""
    try:
        await AsyncHTTPClient().fetch(f"{endpoint}/moto-api/", request_timeout=timeout, raise_error=True)
    except HTTPClientError as error:
        return error.code != 599  # 599: tornado's own timeout or refused connection, nothing answered
    except (OSError, asyncio.TimeoutError):
        return False
    return True


async def wait_until_healthy(endpoint: str, timeout: float = 30.0, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while not await answers(endpoint):
        if time.monotonic() > deadline:
            raise LocalAwsUnavailable(
                f"The local AWS at {endpoint} did not answer within {timeout:.0f} s. "
                f"Check the hub log for the '{SERVICE_NAME}' service."
            )
        await asyncio.sleep(interval)


def wait_until_healthy_hook(endpoint: str, timeout: float = 30.0):
    """A ``Spawner.pre_spawn_hook`` that holds the spawn until the AWS endpoint answers."""

    async def hook(spawner) -> None:
        await wait_until_healthy(endpoint, timeout)

    return hook


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run moto as the workbench's local AWS.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    from moto.backends import get_backend
    from moto.server import main as moto_main

    # moto loads a service's models on its first request, ~10 s for CloudFormation: do it before serving, so
    # the first login does not wait for it (the hub holds spawns until this server answers).
    for service in WARM_SERVICES:
        get_backend(service)

    moto_main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main()
