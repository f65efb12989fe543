"""The EC2 / Fargate / Lambda cost model: its arithmetic, its inputs read from benchmarks' output, its limits."""

from __future__ import annotations

import json
import math

import pytest

from profiler.costs import SOURCES, Assumptions, Measured, Prices, compare, fargate_task_size, invocations_needed, \
    last_json_line, recommendation
from testing.support import REPO_ROOT


def option(options, platform, use):
    return next(o for o in options if o.platform == platform and o.use == use)


def test_lambda_cost_per_million_requests_is_cpu_time_at_one_vcpu_priced_per_gb_second():
    measured = Measured(generator_cpu_us_per_request=500.0)
    prices = Prices(lambda_gb_second=0.00002, lambda_per_million_invocations=0.0)
    assume = Assumptions(worker_busy=0.5, worker_memory_gb=2.0)
    lambda_ = option(compare(measured, prices, assume), "Lambda", "load-test worker")
    # a million requests at 500 µs of CPU each, a core kept half busy: 1,000 s of a 2 GB function
    assert lambda_.usd_per_million_requests == pytest.approx(1000 * 2.0 * 0.00002)


def test_worker_costs_scale_with_the_generators_cpu_per_request():
    cheap = compare(Measured(generator_cpu_us_per_request=300.0))
    dear = compare(Measured(generator_cpu_us_per_request=900.0))
    for platform in ("EC2", "Fargate", "Lambda"):
        ratio = (option(dear, platform, "load-test worker").usd_per_million_requests
                 / option(cheap, platform, "load-test worker").usd_per_million_requests)
        assert ratio == pytest.approx(3.0, rel=1e-3)


def test_ec2_servers_per_host_follow_the_measured_memory():
    prices = Prices(ec2_hourly=1.0, ec2_memory_gib=16.0)
    assume = Assumptions(host_memory_usable=1.0, host_average_use=1.0, server_memory_headroom=1.0)
    ec2 = option(compare(Measured(server_memory_mib=1024.0), prices, assume), "EC2", "user server")
    assert ec2.usd_per_user_hour == pytest.approx(1 / 16)
    assert "16 servers per" in ec2.limits
    bigger = option(compare(Measured(server_memory_mib=3000.0), prices, assume), "EC2", "user server")
    assert bigger.usd_per_user_hour == pytest.approx(1 / 5)  # floor(16 GiB / 2.93 GiB)


def test_a_server_larger_than_a_host_is_not_feasible_on_ec2():
    ec2 = option(compare(Measured(server_memory_mib=40_000.0)), "EC2", "user server")
    assert not ec2.feasible and ec2.usd_per_user_hour is None


@pytest.mark.parametrize("vcpu, memory, expected", [
    (0.25, 0.3, (0.25, 0.5)), (0.5, 0.87, (0.5, 1.0)), (0.5, 1.2, (0.5, 2.0)), (0.25, 3.0, (0.5, 3.0)),
    (1.0, 1.769, (1.0, 2.0)), (2.0, 16.5, (4.0, 17.0)),
])
def test_fargate_tasks_take_the_smallest_valid_size(vcpu, memory, expected):
    assert fargate_task_size(vcpu, memory) == expected


def test_fargate_server_cost_is_its_task_size_priced_per_hour():
    prices = Prices(fargate_vcpu_hourly=0.04, fargate_gb_hourly=0.004)
    fargate = option(compare(Measured(server_memory_mib=600.0), prices, Assumptions(server_memory_headroom=1.5)),
                     "Fargate", "user server")
    assert fargate.usd_per_user_hour == pytest.approx(0.5 * 0.04 + 1.0 * 0.004)  # 0.88 GB -> 0.5 vCPU, 1 GB
    assert fargate.start_s == pytest.approx(Assumptions().fargate_start_s + Measured().spawn_s)


def test_lambda_cannot_host_a_users_server_and_says_why():
    lambda_ = option(compare(), "Lambda", "user server")
    assert not lambda_.feasible and "15 min" in lambda_.limits


def test_long_tests_need_successive_lambda_invocations():
    assert invocations_needed(60) == 1
    assert invocations_needed(890) == 1
    assert invocations_needed(891) == 2
    assert invocations_needed(3600) == math.ceil(3600 / 890)


def test_the_recommendation_follows_the_prices():
    default = recommendation(compare())
    assert default.startswith("Users' servers: EC2")
    dear_hosts = recommendation(compare(prices=Prices(ec2_hourly=5.0)))
    assert dear_hosts.startswith("Users' servers: Fargate")
    cheap_lambda = recommendation(compare(prices=Prices(lambda_gb_second=1e-7)))
    assert "beyond them Lambda is cheapest" in cheap_lambda


def test_measured_figures_are_read_from_benchmarks_last_json_lines():
    load_generator = "round 1: ours ...\n" + json.dumps({"benchmark": "load_generator",
                                                         "ours_cpu_us_per_request": 400.0})
    user_server = json.dumps({"benchmark": "user_server", "preheated_memory_mib": 700.5, "preheated_start_cpu_s": 6})
    measured = Measured.from_benchmark_output(load_generator, user_server)
    assert measured.generator_cpu_us_per_request == 400.0
    assert measured.server_memory_mib == 700.5 and measured.server_start_cpu_s == 6.0
    assert measured.spawn_s == Measured().spawn_s  # not given: the default stays


def test_output_without_a_benchmark_line_is_refused():
    with pytest.raises(ValueError, match="no output"):
        last_json_line("\n")
    with pytest.raises(ValueError, match="not a benchmark's JSON object"):
        last_json_line('{"ratio": 1}')


def test_a_negative_or_missing_figure_is_refused():
    with pytest.raises(ValueError, match="server_memory_mib must be a number >= 0"):
        Measured(server_memory_mib=-1)


def test_every_figure_names_a_benchmark_that_prints_its_key():
    for name, figure in SOURCES.items():
        script = REPO_ROOT / "benchmarks" / f"{figure.benchmark}.py"
        assert script.is_file(), name
        assert f'"{figure.key}"' in script.read_text(), (name, figure.key)
        assert figure.command.startswith(f"python benchmarks/{figure.benchmark}.py"), name


def test_the_notebooks_editable_parameters_start_at_the_models_figures():
    import nbformat

    notebook = nbformat.read(REPO_ROOT / "notebooks" / "serverless_comparison.ipynb", as_version=4)
    parameters = next(cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", []))
    namespace: dict = {}
    exec(parameters.source, namespace)  # the notebook's own first code cell: constructors only, no I/O
    assert namespace["measured"] == Measured()
    assert namespace["prices"] == Prices()
    assert namespace["assumptions"] == Assumptions()
