"""Guard rails before a run, and how throttles, retries and errors are counted during one."""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import pytest
from aiohttp import web

from profiler.loadtest import CapacityWarning, FileRunStore, LoadTest, WorkloadSpec, protocol
from profiler.loadtest.guard import capacity_warnings
from profiler.loadtest.workload import Target
from profiler.playground import Playground

from .conftest import create_table

ON_DEMAND = Target(table="t", hash_key="pk", hash_type="S", range_key="sk", range_type="S")


def test_a_rate_one_partition_cannot_take_is_warned_about():
    spec = WorkloadSpec(operations={"put": 1}, target_rate=3_000, distribution="hot_key", hot_key_share=0.5)
    [message] = capacity_warnings(spec, ON_DEMAND)
    assert message.startswith("hot partition: the most used key gets ~1,500 write units/s")
    assert "above DynamoDB's 1,000 per partition" in message


def test_on_demand_table_warns_above_what_it_takes_at_once():
    assert capacity_warnings(WorkloadSpec(operations={"put": 1}, target_rate=3_000), ON_DEMAND) == []
    [message] = capacity_warnings(WorkloadSpec(operations={"put": 1}, target_rate=5_000), ON_DEMAND)
    assert "takes about 4,000 write units/s at once" in message and "double its previous peak within 30" in message
    warm = Target(**{**ON_DEMAND.to_dict(), "warm_write_units": 10_000})
    assert capacity_warnings(WorkloadSpec(operations={"put": 1}, target_rate=5_000), warm) == []


def test_closed_model_has_no_rate_to_check():
    assert capacity_warnings(WorkloadSpec(operations={"put": 1}, concurrency=500), ON_DEMAND) == []


def test_provisioned_playground_table_warns_before_the_run(playground, tmp_path):
    client = playground.client("dynamodb")
    name = "provisioned-" + playground.stack_name
    create_table(client, name, BillingMode="PROVISIONED",
                 ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
    try:
        # the playground's load-test table, provisioned (only that table of a playground may be loaded)
        spec = WorkloadSpec(operations={"put": 1}, target_rate=20, requests=4, item_size=2048)
        test = LoadTest(spec, playground=dataclasses.replace(playground, loadtest_table=name),
                        store=FileRunStore(tmp_path))
        with pytest.warns(CapacityWarning, match="provisioned for 5 write capacity units/s but the workload needs ~40"):
            test.start()
        test.wait(30)
        assert test.store.load(test.run_id).config["warnings"] == test.warnings
        assert test.warnings[0].endswith("(on real AWS; a local endpoint does not throttle)")
    finally:
        client.delete_table(TableName=name)


class ThrottlingDynamo:
    """A fake DynamoDB endpoint: every other PutItem attempt is throttled (with DynamoDB's reason), GetItem is
    always invalid."""

    def __init__(self):
        self.puts = 0
        self.ready = threading.Event()

    async def handle(self, request):
        api = request.headers["X-Amz-Target"].rpartition(".")[2]
        body = await request.json()
        if api == "DescribeTable":
            return web.json_response({"Table": {
                "TableName": body["TableName"], "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}})
        if api == "PutItem":
            self.puts += 1
            if self.puts % 2:
                return web.json_response({
                    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                    "message": "slow down", "ThrottlingReasons": [
                        {"reason": "TableWriteKeyRangeThroughputExceeded", "resource": "arn:t"}]}, status=400)
            return web.json_response({"ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1.0}})
        return web.json_response({"__type": "com.amazon.coral.validate#ValidationException", "message": "no"},
                                 status=400)

    def serve(self):
        async def main():
            runner = web.AppRunner(web.Application())
            runner.app.router.add_post("/", self.handle)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            self.ready.set()
            await asyncio.Event().wait()

        threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
        self.ready.wait(10)
        return f"http://127.0.0.1:{self.port}"


def test_throttles_retries_and_errors_are_counted_by_type(monkeypatch, tmp_path, aws_credentials):
    monkeypatch.setattr(protocol.random, "random", lambda: 0.001)  # keep the retry back-off short
    endpoint = ThrottlingDynamo().serve()
    playground = Playground(stack_name="fake", loadtest_table="t", runs_table="r", region="us-east-1",
                            endpoint_url=endpoint)
    spec = WorkloadSpec(operations={"put": 1, "get": 1}, concurrency=1, requests=30, seed=3)
    test = LoadTest(spec, playground=playground, store=FileRunStore(tmp_path))
    test.start()
    end = test.wait(30)
    puts = sum(r["by_operation"].get("put", 0) for r in test.intervals)
    gets = sum(r["by_operation"].get("get", 0) for r in test.intervals)
    cumulative = end["cumulative"]
    assert puts + gets == 30 and puts and gets
    assert cumulative["errors"] == {"ValidationException": gets}
    assert cumulative["throttles"] == {"TableWriteKeyRangeThroughputExceeded": puts}
    assert cumulative["retries"] == puts and cumulative["ok"] == puts


def test_a_request_throttled_on_every_attempt_fails_after_three(monkeypatch):
    monkeypatch.setattr(protocol.random, "random", lambda: 0.001)
    attempts = protocol.Attempts()
    throttled = {"__type": "x#ThrottlingException", "message": "rate"}
    assert attempts.after(400, throttled, "ThrottlingException") is None
    assert attempts.after(400, throttled, "ThrottlingException") is None
    final = attempts.after(400, throttled, "ThrottlingException")
    assert (final.error, final.retries, final.throttles) == ("ThrottlingException", 2, ["ThrottlingException"] * 3)
    assert protocol.Attempts().after(400, {}, "ValidationException").retries == 0
