"""Local AWS for the embedded defaults: a moto server run by the hub as a managed service.

The hub starts ``python -m hub.services.local_aws --port N`` with its other services and stops it at shutdown.
Before a playground's first AWS call the spawner waits until the endpoint answers
(:func:`spawner.stacks.wait_until_answering`), so no spawn runs against an AWS that is not there yet.
"""

from __future__ import annotations

import argparse
import sys

SERVICE_NAME = "local-aws"

# moto accepts any credentials; these make it obvious in logs that nothing real is used.
FAKE_HUB_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local-hub", "AWS_SECRET_ACCESS_KEY": "local-hub"}


WARM_SERVICES = ("cloudformation", "dynamodb", "ec2", "elbv2", "iam", "sts")


def service_definition(port: int) -> dict:
    """The JupyterHub managed-service entry that runs moto on 127.0.0.1:``port``."""
    return {
        "name": SERVICE_NAME,
        "command": [sys.executable, "-m", "hub.services.local_aws", "--port", str(port)],
        "display": False,
    }


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
