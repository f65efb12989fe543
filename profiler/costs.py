"""Where users' servers and load-test workers should run on AWS: EC2, Fargate or Lambda, compared by cost per
user-hour, cost per million load-test requests, start latency and limits. A pure model, no AWS calls: its
inputs are this project's own measured figures (each read from a benchmark's last JSON line, the command named
beside it) and public prices and platform limits, all plain parameters a notebook can change.

    from profiler.costs import Measured, Prices, Assumptions, compare, recommendation
    measured = Measured.from_benchmark_output(open("load_generator.out").read())   # or Measured() for defaults
    rows = compare(measured, Prices(), Assumptions())

What the model leaves out, because it is the same wherever the compute runs: DynamoDB's own request charges,
the playground's stack, the hub, its databases and load balancer. Data transfer is left out too: it assumes
a DynamoDB gateway endpoint in the deployment's VPC (free), so no request crosses a NAT gateway.

May import only the standard library.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Iterable

HOUR_S = 3600.0
MILLION = 1_000_000


@dataclass(frozen=True)
class Figure:
    """Where a measured figure comes from: the benchmark, its JSON key and the command that printed it."""

    benchmark: str
    key: str
    command: str


# Each measured figure, the benchmark key it is read from, and the run that gave its default (2026-12-07,
# the project's 2-core machine with other work running: medians, so upper bounds for CPU and time).
SOURCES = {
    "generator_cpu_us_per_request": Figure("load_generator", "ours_cpu_us_per_request",
                                           "python benchmarks/load_generator.py --quick"),
    "server_memory_mib": Figure("user_server", "preheated_memory_mib", "python benchmarks/user_server.py"),
    "server_start_cpu_s": Figure("user_server", "preheated_start_cpu_s", "python benchmarks/user_server.py"),
    "spawn_s": Figure("spawn", "login_to_ready_playground_s", "python benchmarks/spawn.py --rounds 11 --concurrent 5"),
}


@dataclass(frozen=True)
class Measured:
    """This project's figures; the defaults are the last runs of the commands in :data:`SOURCES`."""

    generator_cpu_us_per_request: float = 295.2  # load_generator: ours_cpu_us_per_request
    server_memory_mib: float = 584.8  # user_server: preheated_memory_mib
    server_start_cpu_s: float = 10.73  # user_server: preheated_start_cpu_s
    spawn_s: float = 5.22  # spawn: login_to_ready_playground_s

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
                    or value < 0:
                raise ValueError(f"{field.name} must be a number >= 0, got {value!r}")

    @classmethod
    def from_benchmarks(cls, results: Iterable[dict[str, Any]], base: "Measured | None" = None) -> "Measured":
        """``base`` (the defaults) with every figure the given benchmark results carry."""
        changes = {}
        for result in results:
            for name, figure in SOURCES.items():
                if result.get("benchmark") == figure.benchmark and figure.key in result:
                    changes[name] = float(result[figure.key])
        return dataclasses.replace(base or cls(), **changes)

    @classmethod
    def from_benchmark_output(cls, *outputs: str, base: "Measured | None" = None) -> "Measured":
        """The same from benchmarks' printed output: the last line of each is its JSON object."""
        return cls.from_benchmarks((last_json_line(output) for output in outputs), base)


def last_json_line(output: str) -> dict[str, Any]:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    if not lines:
        raise ValueError("no output: a benchmark prints its JSON object as its last line")
    result = json.loads(lines[-1])
    if not isinstance(result, dict) or "benchmark" not in result:
        raise ValueError("the last line is not a benchmark's JSON object (it has no \"benchmark\" key)")
    return result


@dataclass(frozen=True)
class Prices:
    """Public on-demand list prices in USD, Linux on x86, no savings plan. Change them for your region and date:
    the defaults are us-east-1 prices read on 2026-12-07, each with its source beside it. AWS's pricing pages
    (aws.amazon.com/ec2/pricing/on-demand/, /fargate/pricing/, /lambda/pricing/) fill in their rate tables in the
    browser, so the EC2 and Fargate rates are as third-party price listings quote them; the Lambda rates are also
    in the text of AWS's "How AWS Pricing Works" whitepaper."""

    region: str = "us-east-1"
    as_of: str = ("read 2026-12-07 from the AWS pricing pages for EC2 On-Demand, Fargate and Lambda; EC2 and "
                  "Fargate rates as third-party listings quote those pages (sources beside each price)")
    ec2_instance: str = "m7i.xlarge"
    ec2_vcpu: int = 4  # m7i.xlarge size; not confirmed from a published page (read 2026-12-07)
    ec2_memory_gib: float = 16.0  # m7i.xlarge size; not confirmed from a published page (read 2026-12-07)
    # https://aws.amazon.com/ec2/pricing/on-demand/ (Linux, us-east-1), read 2026-12-07; the page's table is filled
    # in by the browser, so the rate is as quoted by https://c3x.dev/blog/m5-vs-m6i-vs-m7i-cost-performance
    ec2_hourly: float = 0.2016
    # https://aws.amazon.com/fargate/pricing/ (Linux/X86, us-east-1), read 2026-12-07; the page's table is filled
    # in by the browser, so both rates are as quoted by https://www.vantage.sh/blog/fargate-pricing
    fargate_vcpu_hourly: float = 0.04048
    fargate_gb_hourly: float = 0.004445
    # https://aws.amazon.com/lambda/pricing/ (x86, first tier), read 2026-12-07: $0.00001667 per GB-second in
    # https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html; unrounded as here in
    # https://cloudchipr.com/blog/aws-lambda-pricing
    lambda_gb_second: float = 0.0000166667
    # $0.20 per 1M requests: https://aws.amazon.com/lambda/pricing/ and
    # https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html, read 2026-12-07
    lambda_per_million_invocations: float = 0.20


@dataclass(frozen=True)
class Assumptions:
    """What the model assumes and nobody here measured; each is a documented AWS limit or a judgement. The limits
    were read on 2026-12-07 from the AWS pages named beside them."""

    host_memory_usable: float = 0.8  # of an EC2 host's memory, for users' servers (the OS and hub keep the rest)
    host_average_use: float = 0.6  # EC2 hosts are sized for the peak: on average 60% of their room is used
    server_memory_headroom: float = 1.5  # a server's memory limit over its measured footprint (users do work)
    fargate_server_vcpu: float = 0.5  # Fargate task size for a user's server (it idles; start-up is CPU-bound)
    # task provisioning and image pull before the server's own start, 30-60 s: a judgement, not confirmed from a
    # published page (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-recommendations.html gives
    # no figure; read 2026-12-07)
    fargate_start_s: float = 45.0
    ec2_boot_s: float = 90.0  # a new EC2 host to ready, when the hosts running are full (a judgement)
    # a Python zip function with boto3 and numpy, first invocation: not confirmed from a published page (read
    # 2026-12-07)
    lambda_cold_start_s: float = 1.5
    # Lambda's hard limit on one invocation, 900 s (15 min):
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html, read 2026-12-07
    lambda_max_s: float = 900.0
    lambda_margin_s: float = 10.0  # left to return the histogram before the limit
    # default concurrent executions per account and region, shared by all functions (new accounts may start lower):
    # https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html, read 2026-12-07
    lambda_concurrency: int = 1000
    # Fargate On-Demand vCPU quota of a new account (Service Quotas; raise it): not confirmed from a published page
    # (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html says only that new accounts
    # may start lower; read 2026-12-07)
    fargate_vcpu_quota: int = 6
    worker_busy: float = 0.7  # share of its core a load-test worker is kept at, so the client adds no latency
    # a worker with one full vCPU: at 1,769 MB a function has the equivalent of one vCPU,
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html, read 2026-12-07
    worker_memory_gb: float = 1.769


# Fargate's valid task sizes: vCPU -> (smallest, largest, step) memory in GB. Read 2026-12-07 from
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-cpu-memory-error.html
FARGATE_SIZES = {0.25: (0.5, 2.0, 0.5), 0.5: (1.0, 4.0, 1.0), 1.0: (2.0, 8.0, 1.0), 2.0: (4.0, 16.0, 1.0),
                 4.0: (8.0, 30.0, 1.0), 8.0: (16.0, 60.0, 4.0), 16.0: (32.0, 120.0, 8.0)}


def fargate_task_size(vcpu: float, memory_gb: float) -> tuple[float, float]:
    """The smallest valid Fargate size with at least ``vcpu`` and ``memory_gb``."""
    for size_vcpu, (smallest, largest, step) in FARGATE_SIZES.items():
        if size_vcpu < vcpu or memory_gb > largest:
            continue
        return size_vcpu, max(smallest, math.ceil(round(memory_gb / step, 9)) * step)
    raise ValueError(f"no Fargate task has {vcpu} vCPU and {memory_gb} GB")


@dataclass(frozen=True)
class Option:
    """One platform for one use, with its figures (None where the platform cannot do it)."""

    platform: str
    use: str  # "user server" or "load-test worker"
    feasible: bool
    usd_per_user_hour: float | None = None
    usd_per_million_requests: float | None = None
    start_s: float | None = None
    limits: str = ""
    how: str = ""  # the arithmetic, in words, so a reader can check it


def server_options(measured: Measured, prices: Prices, assume: Assumptions) -> list[Option]:
    server_gb = measured.server_memory_mib * assume.server_memory_headroom / 1024
    per_host = math.floor(prices.ec2_memory_gib * assume.host_memory_usable / server_gb)
    ec2 = Option(
        "EC2", "user server", per_host >= 1,
        usd_per_user_hour=prices.ec2_hourly / per_host / assume.host_average_use if per_host else None,
        start_s=measured.spawn_s,
        limits=f"{per_host} servers per {prices.ec2_instance}; a login when every host is full waits "
               f"~{assume.ec2_boot_s:.0f} s for a new host; {per_host} logins at once need "
               f"{per_host * measured.server_start_cpu_s / prices.ec2_vcpu:.0f} s of the host's cores to warm up",
        how=f"{prices.ec2_hourly} $/h / {per_host} servers ({server_gb:.2f} GB each in "
            f"{assume.host_memory_usable:.0%} of {prices.ec2_memory_gib} GiB) / {assume.host_average_use:.0%} used")
    vcpu, memory = fargate_task_size(assume.fargate_server_vcpu, server_gb)
    fargate = Option(
        "Fargate", "user server", True,
        usd_per_user_hour=vcpu * prices.fargate_vcpu_hourly + memory * prices.fargate_gb_hourly,
        start_s=assume.fargate_start_s + measured.spawn_s,
        limits=f"{assume.fargate_vcpu_quota / vcpu:.0f} servers at once on the default vCPU quota; "
               f"start-up CPU {measured.server_start_cpu_s:.1f} s on {vcpu} vCPU",
        how=f"{vcpu} vCPU x {prices.fargate_vcpu_hourly} + {memory} GB x {prices.fargate_gb_hourly} $/h, "
            "billed only while the server runs")
    lambda_ = Option(
        "Lambda", "user server", False,
        limits=f"an invocation ends after {assume.lambda_max_s / 60:.0f} min and accepts no connection: a "
               "Jupyter server (websockets, kernels living for hours) cannot run there",
        how="not possible")
    return [ec2, fargate, lambda_]


def worker_options(measured: Measured, prices: Prices, assume: Assumptions) -> list[Option]:
    """Cost of a million requests by workers each kept at ``worker_busy`` of one core."""
    rate_per_worker = assume.worker_busy * MILLION / measured.generator_cpu_us_per_request
    worker_s = MILLION / rate_per_worker  # seconds of one worker per million requests
    core_hourly = prices.ec2_hourly / prices.ec2_vcpu
    ec2 = Option(
        "EC2", "load-test worker", True,
        usd_per_million_requests=worker_s / HOUR_S * core_hourly / assume.host_average_use,
        start_s=0.0,
        limits=f"{rate_per_worker:,.0f} requests/s per core; beyond a host's {prices.ec2_vcpu} cores, hosts must "
               "be running already (or boot first)",
        how=f"{worker_s:,.0f} core-s per million x {core_hourly:.4f} $/core-h / {assume.host_average_use:.0%} "
            "used (hosts running whether or not a test does)")
    vcpu, memory = fargate_task_size(1.0, assume.worker_memory_gb)
    task_hourly = vcpu * prices.fargate_vcpu_hourly + memory * prices.fargate_gb_hourly
    fargate = Option(
        "Fargate", "load-test worker", True,
        usd_per_million_requests=worker_s / HOUR_S * task_hourly,
        start_s=assume.fargate_start_s,
        limits=f"{assume.fargate_vcpu_quota / vcpu * rate_per_worker:,.0f} requests/s on the default quota of "
               f"{assume.fargate_vcpu_quota} vCPU; a minute billed at least per task",
        how=f"{worker_s:,.0f} task-s per million x {task_hourly:.4f} $/h ({vcpu} vCPU, {memory} GB)")
    invocations = math.ceil(worker_s / (assume.lambda_max_s - assume.lambda_margin_s))
    lambda_ = Option(
        "Lambda", "load-test worker", True,
        usd_per_million_requests=worker_s * assume.worker_memory_gb * prices.lambda_gb_second
        + invocations * prices.lambda_per_million_invocations / MILLION,
        start_s=assume.lambda_cold_start_s,
        limits=f"{assume.lambda_concurrency * rate_per_worker:,.0f} requests/s at the account's "
               f"{assume.lambda_concurrency} concurrent executions; each worker stops after "
               f"{assume.lambda_max_s - assume.lambda_margin_s:.0f} s (longer tests: successive invocations, "
               "their histograms merged)",
        how=f"{worker_s:,.0f} s x {assume.worker_memory_gb} GB x {prices.lambda_gb_second} $/GB-s "
            f"+ {invocations} invocation(s)")
    return [ec2, fargate, lambda_]


def compare(measured: Measured | None = None, prices: Prices | None = None,
            assumptions: Assumptions | None = None) -> list[Option]:
    measured, prices, assumptions = measured or Measured(), prices or Prices(), assumptions or Assumptions()
    return server_options(measured, prices, assumptions) + worker_options(measured, prices, assumptions)


def invocations_needed(seconds: float, assumptions: Assumptions | None = None) -> int:
    """Successive Lambda invocations one worker needs to load a table for ``seconds``."""
    assume = assumptions or Assumptions()
    return max(1, math.ceil(seconds / (assume.lambda_max_s - assume.lambda_margin_s)))


def recommendation(options: list[Option]) -> str:
    """The cheapest platform for users' servers; for workers, the elastic platforms (started per test) compared
    with EC2 hosts that are running anyway."""
    servers = [o for o in options if o.use == "user server" and o.feasible]
    workers = {o.platform: o for o in options if o.use == "load-test worker" and o.feasible}
    server = min(servers, key=lambda o: o.usd_per_user_hour)
    others = ", ".join(f"{o.platform} ${o.usd_per_user_hour:.4f}" for o in servers if o is not server)
    elastic = [o for name, o in workers.items() if name != "EC2"]
    cheapest = min(elastic, key=lambda o: o.usd_per_million_requests)
    fastest = min(elastic, key=lambda o: o.start_s)
    text = (f"Users' servers: {server.platform} at ${server.usd_per_user_hour:.4f} per user-hour ({others}; Lambda "
            f"cannot host them), ready in ~{server.start_s:.0f} s. Load-test workers: on the EC2 hosts' spare cores "
            f"first (${workers['EC2'].usd_per_million_requests:.4f} per million requests, nothing to start); "
            f"beyond them {cheapest.platform} is cheapest (${cheapest.usd_per_million_requests:.4f})")
    if fastest is not cheapest:
        text += (f" and {fastest.platform} starts fastest (~{fastest.start_s:.1f} s vs ~{cheapest.start_s:.0f} s, "
                 f"${fastest.usd_per_million_requests:.4f})")
    return text + "."
