"""A fast DynamoDB-compatible stub for measuring load *generators*: answers PutItem and GetItem (and DescribeTable,
which the engine reads first) in the JSON protocol over
HTTP/1.1 keep-alive, from memory without checking signatures, so the client is what costs CPU.

    python benchmarks/dynamo_stub.py PORT      # prints "ready PORT" and serves until killed
"""

from __future__ import annotations

import asyncio
import json
import sys

GET_TARGET = b"DynamoDB_20120810.GetItem"
PUT_TARGET = b"DynamoDB_20120810.PutItem"
DESCRIBE_TARGET = b"DynamoDB_20120810.DescribeTable"


def _key(item: dict) -> str:
    return json.dumps(item, sort_keys=True)


class StubProtocol(asyncio.Protocol):
    table: dict[str, dict] = {}

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end]
            length, target = 0, b""
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"x-amz-target":
                    target = value.strip()
            total = head_end + 4 + length
            if len(self.buffer) < total:
                return
            body, self.buffer = self.buffer[head_end + 4:total], self.buffer[total:]
            self.respond(target, body)

    def respond(self, target: bytes, body: bytes) -> None:
        request = json.loads(body)
        capacity = {"TableName": request.get("TableName", ""), "CapacityUnits": 1.0}
        if target == PUT_TARGET:
            item = request["Item"]
            self.table[_key({k: item[k] for k in list(item)[:2]})] = item
            reply = {"ConsumedCapacity": capacity}
            status = b"200 OK"
        elif target == GET_TARGET:
            item = self.table.get(_key(request["Key"]))
            reply = {"ConsumedCapacity": {**capacity, "CapacityUnits": 0.5}}
            if item:
                reply["Item"] = item
            status = b"200 OK"
        elif target == DESCRIBE_TARGET:  # what the engine reads before a run: the key schema
            reply = {"Table": {
                "TableName": request["TableName"], "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                         {"AttributeName": "sk", "AttributeType": "S"}]}}
            status = b"200 OK"
        else:
            reply = {"__type": "com.amazon.coral.service#UnknownOperationException", "message": target.decode()}
            status = b"400 Bad Request"
        payload = json.dumps(reply).encode()
        self.transport.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/x-amz-json-1.0\r\n"
                             b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(StubProtocol, "127.0.0.1", port)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
