"""How much load one core generates: our engine vs Locust users calling boto3 and vs Locust's FastHttpUser, and
what the engine reaches against the local moto server compared with that server's own ceiling.

1. Client cost: three generators drive the same requests (PutItem/GetItem 50/50, 200-byte items, 64 in flight,
   built by the same RequestFactory) against ``dynamo_stub.py``, a fast DynamoDB-compatible stub in its own
   process: our engine; Locust users calling boto3 (``load_generator_locust_boto3.py``); and Locust's
   FastHttpUser (geventhttpclient, ``load_generator_locust_fasthttp.py``) posting the JSON itself, SigV4-signed
   with the engine's signer (botocore's Authorization header, computed without botocore's per-request
   overhead, so that anchor measures Locust's HTTP client and framework rather than signing) and decoding
   the replies. Each generator reports (completed requests, its process CPU time) every second; the
   steady-state window (first sample dropped) gives CPU per request and requests per CPU-second ("per core").
   Rounds alternate ours / Locust+boto3 / FastHttpUser; medians are reported: ``ratio`` is ours / Locust+boto3
   and ``ratio_fasthttp`` ours / FastHttpUser, per CPU-second.
2. moto: the engine (closed model, 8 in flight) against a ``moto_server`` process, vs the server's ceiling
   measured with 8 boto3 threads in a plain loop (moto, not the client, is the limit there); alternating rounds,
   medians.
3. What keeping the local AWS's state costs: the engine (8 in flight, the hub's keys, IAM enforced) against the
   workbench's own local AWS (``hub.services.local_aws``) keeping its state in memory only and keeping it on
   disk (``--state-file``: a forked snapshot within a second of a change), alternating rounds, medians;
   ``durable_ratio`` is durable / memory-only requests per second (1.0: free). It also reports the size of the
   state file and how long a clean stop took, its last snapshot included (``stop_with_snapshot_seconds``).

    python benchmarks/load_generator.py [--quick]

Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3  # noqa: E402 - below the fake credentials, so no AWS client can pick up the machine's

from profiler.loadtest import FileRunStore, LoadTest, WorkloadSpec  # noqa: E402 - needs the sys.path entry above
from profiler.playground import Playground  # noqa: E402 - needs the sys.path entry above

CONCURRENCY = 64
WORKLOAD = dict(operations={"put": 1, "get": 1}, item_size=200, key_space=10_000)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def steady_state(samples: list[tuple[int, float]]) -> tuple[float, float]:
    """(requests per CPU-second, CPU µs per request) between the second and the last sample."""
    (requests_a, cpu_a), (requests_b, cpu_b) = samples[1], samples[-1]
    requests, cpu = requests_b - requests_a, cpu_b - cpu_a
    return requests / cpu, cpu / requests * 1e6


def playground_for(endpoint: str, table: str = "bench") -> Playground:
    return Playground(stack_name="bench", loadtest_table=table, runs_table="unused", region="us-east-1",
                      endpoint_url=endpoint)


def run_ours(endpoint: str, seconds: float, concurrency: int = CONCURRENCY) -> dict:
    samples: list[tuple[int, float]] = []
    completed = 0

    def sample(record):
        nonlocal completed
        if record["kind"] == "interval":
            completed += record["requests"]
            samples.append((completed, time.process_time()))

    spec = WorkloadSpec(**WORKLOAD, concurrency=concurrency, duration=seconds, seed=1)
    with tempfile.TemporaryDirectory() as runs:
        test = LoadTest(spec, playground=playground_for(endpoint), store=FileRunStore(runs), on_interval=sample)
        test.start()
        end = test.wait()
    samples = samples[:-1]  # the last record is the partial interval after the deadline
    per_core, cpu_us = steady_state(samples)
    return {"rps_per_core": per_core, "cpu_us": cpu_us, "rps": end["cumulative"]["throughput"],
            "errors": sum(end["cumulative"]["errors"].values())}


def run_locust(endpoint: str, seconds: float, locustfile: str = "load_generator_locust_boto3.py") -> dict:
    command = [sys.executable, "-m", "locust", "-f", str(REPO / "benchmarks" / locustfile),
               "--headless", "-u", str(CONCURRENCY), "-r", str(CONCURRENCY),
               "--only-summary", "--loglevel", "ERROR"]
    env = dict(os.environ, BENCH_ENDPOINT=endpoint, BENCH_SECONDS=str(seconds), PYTHONPATH=str(REPO))
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    samples = [(int(parts[1]), float(parts[2])) for parts in
               (line.split() for line in result.stdout.splitlines() if line.startswith("BENCH "))]
    if len(samples) < 3:
        raise RuntimeError("Locust reported too little: " + result.stderr[-2000:])
    per_core, cpu_us = steady_state(samples)
    rate = (samples[-1][0] - samples[1][0]) / (len(samples) - 2)
    return {"rps_per_core": per_core, "cpu_us": cpu_us, "rps": rate}


def run_fasthttp(endpoint: str, seconds: float) -> dict:
    return run_locust(endpoint, seconds, "load_generator_locust_fasthttp.py")


def start_process(command: list[str], ready_marker: str | None = None, port: int | None = None):
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if ready_marker:
        line = process.stdout.readline()
        assert line.startswith(ready_marker), line
        return process, int(line.split()[1])
    deadline = time.monotonic() + 30
    import socket

    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command[0]} did not start")


def moto_ceiling(endpoint: str, seconds: float, threads: int = 8) -> float:
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                          config=boto3.session.Config(max_pool_connections=threads))
    done = [0] * threads
    deadline = time.perf_counter() + seconds

    def loop(index: int):
        while time.perf_counter() < deadline:
            key = {"pk": {"S": f"c{index}-{done[index] % 500}"}, "sk": {"S": "s"}}
            if done[index] % 2:
                client.get_item(TableName="bench", Key=key)
            else:
                client.put_item(TableName="bench", Item={**key, "payload": {"S": "x" * 180}})
            done[index] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / (time.perf_counter() - started)


def moto_rounds(rounds: int, seconds: float, concurrency: int = 8) -> tuple[float, float]:
    """Medians of (our rate, the ceiling), alternating, with the same number of requests in flight."""
    port = free_port()
    process, _ = start_process([sys.executable, "-m", "moto.server", "-p", str(port)], port=port)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        client.create_table(
            TableName="bench", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])
        ours, ceiling = [], []
        for _ in range(rounds):
            ceiling.append(moto_ceiling(endpoint, seconds, threads=concurrency))
            ours.append(run_ours(endpoint, seconds, concurrency=concurrency)["rps"])
        return statistics.median(ours), statistics.median(ceiling)
    finally:
        process.kill()
        process.wait()


def local_aws_rounds(rounds: int, seconds: float, concurrency: int = 8) -> dict:
    """The engine against the workbench's local AWS, memory only vs kept on disk (alternating rounds)."""
    from hub.services import aws_state
    from testing.local_aws import LocalAwsProcess

    rates: dict[str, list[float]] = {"memory": [], "durable": []}
    with tempfile.TemporaryDirectory() as folder:
        state_file = Path(folder) / aws_state.SNAPSHOT_FILE
        services = {"memory": LocalAwsProcess(Path(folder)), "durable": LocalAwsProcess(Path(folder),
                                                                                          state_file=state_file)}
        saved = {name: os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        try:
            for service in services.values():
                service.start()
                os.environ.update(service.keys)
                boto3.client("dynamodb", endpoint_url=service.endpoint, region_name="us-east-1",
                             aws_access_key_id=service.keys["AWS_ACCESS_KEY_ID"],
                             aws_secret_access_key=service.keys["AWS_SECRET_ACCESS_KEY"]).create_table(
                    TableName="bench", BillingMode="PAY_PER_REQUEST",
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                               {"AttributeName": "sk", "KeyType": "RANGE"}],
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                          {"AttributeName": "sk", "AttributeType": "S"}])
            for _ in range(rounds):
                for kind, service in services.items():
                    os.environ.update(service.keys)
                    rates[kind].append(run_ours(service.endpoint, seconds, concurrency=concurrency)["rps"])
            started = time.perf_counter()
            services["durable"].stop()  # a clean stop writes one last snapshot of everything
            last_snapshot = time.perf_counter() - started
            size = state_file.stat().st_size
        finally:
            for service in services.values():
                if service.process is not None and service.process.poll() is None:
                    service.stop()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    memory, durable = statistics.median(rates["memory"]), statistics.median(rates["durable"])
    return {"local_aws_memory_rps": round(memory, 1), "local_aws_durable_rps": round(durable, 1),
            "durable_ratio": round(durable / memory, 2), "state_file_bytes": size,
            "stop_with_snapshot_seconds": round(last_snapshot, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized: 2 rounds of 4 s (moto: 3 s)")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 3)
    seconds = args.seconds or (4.0 if args.quick else 8.0)

    stub, port = start_process([sys.executable, str(REPO / "benchmarks" / "dynamo_stub.py"), "0"], ready_marker="ready")
    endpoint = f"http://127.0.0.1:{port}"
    ours, locust, fasthttp = [], [], []
    try:
        for round_number in range(rounds):
            ours.append(run_ours(endpoint, seconds))
            locust.append(run_locust(endpoint, seconds))
            fasthttp.append(run_fasthttp(endpoint, seconds))
            print(f"round {round_number + 1}: " + "; ".join(
                f"{name} {run['rps_per_core']:,.0f} req/CPU-s ({run['cpu_us']:.0f} µs/req, {run['rps']:,.0f} req/s)"
                for name, run in (("ours", ours[-1]), ("Locust+boto3", locust[-1]),
                                  ("FastHttpUser", fasthttp[-1]))), flush=True)
    finally:
        stub.kill()
        stub.wait()

    moto_ours, moto_limit = moto_rounds(rounds, 3.0 if args.quick else 5.0)
    print(f"moto: ours {moto_ours:,.0f} req/s, ceiling (8 boto3 threads) {moto_limit:,.0f} req/s (medians)",
          flush=True)

    durable = local_aws_rounds(rounds, 3.0 if args.quick else 5.0)
    print(f"local AWS: memory only {durable['local_aws_memory_rps']:,.0f} req/s, kept on disk "
          f"{durable['local_aws_durable_rps']:,.0f} req/s (medians); state file "
          f"{durable['state_file_bytes'] / 1e6:.1f} MB", flush=True)

    def median(runs, key):
        return round(statistics.median(run[key] for run in runs), 1)

    ours_per_core, locust_per_core = median(ours, "rps_per_core"), median(locust, "rps_per_core")
    fasthttp_per_core = median(fasthttp, "rps_per_core")
    ratio, ratio_fasthttp = round(ours_per_core / locust_per_core, 2), round(ours_per_core / fasthttp_per_core, 2)
    print(f"ours per CPU-second: {ratio}x Locust+boto3, {ratio_fasthttp}x Locust FastHttpUser (medians)", flush=True)
    print(json.dumps({
        "benchmark": "load_generator", "rounds": rounds, "seconds": seconds, "concurrency": CONCURRENCY,
        "ours_rps_per_core": ours_per_core, "ours_cpu_us_per_request": median(ours, "cpu_us"),
        "ours_rps": median(ours, "rps"),
        "locust_boto3_rps_per_core": locust_per_core, "locust_boto3_cpu_us_per_request": median(locust, "cpu_us"),
        "locust_boto3_rps": median(locust, "rps"),
        "fasthttp_rps_per_core": fasthttp_per_core, "fasthttp_cpu_us_per_request": median(fasthttp, "cpu_us"),
        "fasthttp_rps": median(fasthttp, "rps"),
        "moto_ours_rps": round(moto_ours, 1), "moto_ceiling_rps": round(moto_limit, 1),
        "moto_ratio": round(moto_ours / moto_limit, 2),
        "ratio": ratio, "ratio_fasthttp": ratio_fasthttp,
        **durable,
    }))


if __name__ == "__main__":
    main()
