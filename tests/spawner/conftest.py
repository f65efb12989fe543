"""Fixtures of the playground spawner's tests: a moto server as AWS, and the hub's own (secret) AWS keys."""

from __future__ import annotations

import os

import boto3
import pytest
from moto.server import ThreadedMotoServer

HUB_KEY_ID = "AKIAHUBOWNKEYNEVERSHARE"
HUB_SECRET = "hub-own-secret-never-share"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint():
    """A real HTTP endpoint (so the user's server process can reach it too), with the hub's keys set."""
    saved = {key: os.environ.get(key) for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = HUB_KEY_ID, HUB_SECRET
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def aws(moto_endpoint):
    """The hub's view of the moto server: ``aws("dynamodb")`` is a client."""
    session = boto3.session.Session(region_name=REGION)
    return lambda service: session.client(service, endpoint_url=moto_endpoint)
