"""A real moto server (one per test session) and, per test, the two DynamoDB tables a playground holds, created
with the key schema and billing mode that ``stacks/playground.yaml`` gives them."""

from __future__ import annotations

import os
import uuid

import pytest
import yaml
from moto.server import ThreadedMotoServer

from profiler.playground import Playground
from testing.support import REPO_ROOT

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def aws_credentials():
    """Fake credentials in the environment, where the engine (and its subprocesses) look for them."""
    names = [*FAKE_CREDENTIALS, "AWS_SESSION_TOKEN"]
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def moto_url(aws_credentials):
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def template_table(resource: str) -> dict:
    """A table's key schema and billing mode as the playground template declares them."""
    loader = type("TemplateLoader", (yaml.SafeLoader,), {})
    loader.add_multi_constructor("!", lambda *_: None)  # CloudFormation's !Sub, !Ref...: not needed here
    template = yaml.load((REPO_ROOT / "stacks" / "playground.yaml").read_text(), Loader=loader)
    properties = template["Resources"][resource]["Properties"]
    return {name: properties[name] for name in ("KeySchema", "AttributeDefinitions", "BillingMode")}


def create_table(client, name: str, resource: str = "LoadTestTable", **overrides) -> None:
    client.create_table(TableName=name, **{**template_table(resource), **overrides})


@pytest.fixture
def playground(moto_url) -> Playground:
    suffix = uuid.uuid4().hex[:8]
    playground = Playground(stack_name=f"playground-{suffix}", loadtest_table=f"loadtest-{suffix}",
                            runs_table=f"runs-{suffix}", region="us-east-1", endpoint_url=moto_url)
    client = playground.client("dynamodb")
    create_table(client, playground.loadtest_table, "LoadTestTable")
    create_table(client, playground.runs_table, "RunsTable")
    yield playground
    for table in (playground.loadtest_table, playground.runs_table):
        client.delete_table(TableName=table)


def table_count(playground: Playground) -> int:
    client = playground.client("dynamodb")
    pages = client.get_paginator("scan").paginate(TableName=playground.loadtest_table, Select="COUNT")
    return sum(page["Count"] for page in pages)
