"""The load-test dashboard against a real moto server, driven the way its form and buttons are."""

from __future__ import annotations

import dataclasses
import re

import pytest

from dashboards.common import VIEWER_ENV
from dashboards.load_test import LoadTestDashboard
from profiler.loadtest import CapacityWarning, FileRunStore
from profiler.loadtest.stats import drawn_intervals
from testing.support import wait_for
from tests.loadtest.conftest import create_table, table_count

# Every test runs timed load tests against a moto server: seconds each.
pytestmark = pytest.mark.slow


def short_run(dashboard: LoadTestDashboard, **form) -> None:
    """Fill the form for a run of a few seconds against moto (small keys and items, short intervals)."""
    dashboard.item_size.value = 200
    dashboard.key_space.value = 200
    dashboard.interval.value = 0.3
    dashboard.concurrency.value = 3
    for name, value in form.items():
        getattr(dashboard, name).value = value


def test_a_short_run_writes_items_streams_stats_and_is_stored(playground):
    dashboard = LoadTestDashboard(playground=playground)
    dashboard.widget()
    assert dashboard.table.value == playground.loadtest_table  # the playground's table by default
    assert "No playground" not in dashboard.notice.value
    # before the first run the graph says what will appear, and does not claim to be live
    assert not dashboard.graph.live and dashboard.graph.caption == ""
    assert dashboard.graph.empty_text.startswith("Start a load test: requests per second and latency percentiles")
    assert dashboard.runs.rows == [] and "No recorded runs yet" in dashboard.runs.empty_text
    short_run(dashboard, length="requests", requests=120, warmup=0.3, name="smoke")
    dashboard.weights["get"].value = 1
    dashboard.weights["put"].value = 3
    test = dashboard.start()
    assert test is not None and dashboard.stop_button.disabled is False and dashboard.start_button.disabled
    end = dashboard.wait(60)

    assert end["status"] == "finished" and end["cumulative"]["requests"] == 120
    assert end["distinct_items_written"] == table_count(playground) > 0
    assert dashboard.progress.state == "success"
    assert dashboard.progress.message.startswith("Finished: 120 requests")
    assert dashboard.timer.elapsed and dashboard.timer.ended_at is not None
    # the graph received one point per interval that had time in it, on both axes
    history = dashboard.graph._history
    assert len(history) >= 2
    names = dashboard.graph.names
    assert all(history.values[:, names.index("throughput")] > 0)
    assert (history.values[:, names.index("p99")] >= history.values[:, names.index("p50")]).all()
    # the run's last interval is a sliver (the requests in flight at the last tick): drawn merged with the one
    # before, so its rate is over a real length and does not jump; the replay draws exactly the same points
    drawn = drawn_intervals(dashboard.store.load(test.run_id).intervals, interval=0.3)
    assert history.values[:, names.index("throughput")].tolist() == [record["throughput"] for record in drawn]
    assert all(record["seconds"] >= 0.15 for record in drawn)
    # the JSON view holds the stored run, and it is listed first among past runs
    assert dashboard.viewer.data["run_id"] == test.run_id and dashboard.viewer.data["status"] == "finished"
    assert dashboard.viewer.data["summary"]["requests"] == 120
    assert "histogram" not in dashboard.viewer.data["intervals"][0]
    row = dashboard.runs.rows[0]
    assert (row["run_id"], row["name"], row["status"], row["requests"]) == (test.run_id, "smoke", "finished", 120)
    assert row["mix"] == "put 75% · get 25%" and row["load"] == "closed ×3"
    assert row["throughput"] > 0 and row["p99"] >= row["p50"] > 0 and row["errors"] == 0 and row["duration"] > 0
    assert not dashboard.start_button.disabled and dashboard.stop_button.disabled
    # the run is over: the graph names it instead of saying Live
    assert not dashboard.graph.live
    assert re.fullmatch(r"Run 'smoke' · finished \{t:\d+\.\d{3}\}", dashboard.graph.caption)


def test_live_stats_reach_the_widgets_while_the_run_goes_on(playground):
    dashboard = LoadTestDashboard(playground=playground)
    short_run(dashboard, duration=20.0)
    seen = []
    dashboard.progress.observe(lambda change: seen.append(change["new"]), "message")
    test = dashboard.start()
    try:
        wait_for(lambda: len(dashboard.viewer.data["intervals"]) >= 2, 20, "two intervals in the JSON view")
        assert dashboard.running and test.status == "running"
        assert dashboard.graph.live and re.fullmatch(r"Unnamed run · started \{t:\d+\.\d{3}\}", dashboard.graph.caption)
        assert dashboard.viewer.data["cumulative"]["requests"] > 0
        assert any("requests measured" in message for message in seen)
        assert all(widget.disabled for widget in (dashboard.duration, dashboard.table, dashboard.start_button))
        # held still for exploring: later intervals do not replace what the user is reading, until re-ticked
        dashboard.viewer_follows.value = False
        held = len(dashboard.viewer.data["intervals"])
        wait_for(lambda: len(dashboard.graph._history) > held + 1, 20, "more intervals in the graph")
        assert len(dashboard.viewer.data["intervals"]) == held
        dashboard.viewer_follows.value = True
        assert len(dashboard.viewer.data["intervals"]) > held
    finally:
        dashboard.stop()
        dashboard.wait(30)


def test_stop_mid_run_keeps_every_recorded_interval(playground):
    dashboard = LoadTestDashboard(playground=playground)
    short_run(dashboard, duration=60.0)
    dashboard.start()
    wait_for(lambda: len(dashboard.graph._history) >= 2, 20, "two points in the graph")
    dashboard.stop_button.click()
    end = dashboard.wait(20)

    assert end["status"] == "stopped"
    assert dashboard.progress.state == "success" and dashboard.progress.message.startswith("Stopped:")
    assert 0 < dashboard.progress.value < dashboard.progress.total == 60  # the bar stays where the run stopped
    stored = dashboard.store.load(end["run_id"])
    assert stored.status == "stopped" and len(stored.intervals) == end["intervals"] >= 2
    assert dashboard.viewer.data["summary"]["requests"] == end["cumulative"]["requests"] > 0
    assert dashboard.runs.rows[0]["run_id"] == end["run_id"] and dashboard.runs.rows[0]["status"] == "stopped"
    assert not dashboard.graph.live and " · stopped {t:" in dashboard.graph.caption


def test_past_runs_load_into_the_graph_and_compare(playground):
    dashboard = LoadTestDashboard(playground=playground)
    short_run(dashboard, length="requests", requests=40, name="closed x3")
    dashboard.start()
    first = dashboard.wait(60)
    short_run(dashboard, model="open", target_rate=60.0, name="open 60/s")
    dashboard.start()
    second = dashboard.wait(60)

    rows = {row["run_id"]: row for row in dashboard.runs.rows}
    assert rows[first["run_id"]]["load"] == "closed ×3" and rows[second["run_id"]]["load"] == "open 60/s"
    assert (dashboard.runs.sort_by, dashboard.runs.descending) == ("when", True)  # newest first

    # ticking one run loads it: the graph replays it and names it
    dashboard.runs.selection = [first["run_id"]]
    assert dashboard.viewer.data["run_id"] == first["run_id"]
    stored = dashboard.run.intervals
    assert 1 <= len(dashboard.graph._history) <= len([r for r in stored if r["seconds"] > 0])
    assert "Loaded closed x3 (finished)" in dashboard.runs_message.value
    assert not dashboard.graph.live and dashboard.graph.caption.startswith("Run 'closed x3' · finished {t:")
    assert dashboard.graph.x_axis == "clock" and dashboard.figure.layout.display == "none"

    # ticking a second compares them: table, percentile bars and the graph, all labelled by the runs' names
    dashboard.runs.selection = [first["run_id"], second["run_id"]]
    compared = dashboard.comparison.rows
    assert [row["name"] for row in compared] == ["closed x3", "open 60/s"] and compared[1]["model"] == "open 60.0/s"
    assert all(row["p99_ms"] >= row["p50_ms"] > 0 for row in compared)
    p99 = {"key": "p99_ms", "label": "p99", "kind": "number", "unit": "ms", "digits": 2}
    assert p99 in dashboard.comparison.columns
    bars = dashboard.figure.spec["data"]
    assert [bar["name"] for bar in bars] == ["closed x3 (finished)", "open 60/s (finished)"]
    assert all(bar["y"][0] > 0 and bar["y"][3] >= bar["y"][0] for bar in bars)  # p99 >= p50, in ms
    assert [series["label"] for series in dashboard.graph.series] == [
        "closed x3 req/s", "closed x3 p99", "open 60/s req/s", "open 60/s p99"]
    assert dashboard.graph.x_axis == "elapsed" and not dashboard.graph.live
    assert dashboard.graph.caption == "Comparing: closed x3, open 60/s · time since each run's start"
    history = dashboard.graph._history
    assert history.x[0] >= 0 and history.x[-1] < 60  # seconds since each run's start, not clock time
    assert (history.values[:, 0] > 0).sum() >= 1 and (history.values[:, 2] > 0).sum() >= 1

    # back to one run: the graph shows every series of it on the clock again
    dashboard.runs.selection = [second["run_id"]]
    assert dashboard.graph.names[0] == "throughput" and dashboard.graph.x_axis == "clock"
    assert dashboard.graph.caption.startswith("Run 'open 60/s' · finished")
    assert dashboard.figure.layout.display == "none" and dashboard.comparison.rows == []
    assert dashboard.comparison.layout.display == "none"
    assert dashboard.compare_runs([second["run_id"]]) is None
    assert "Select two or more runs" in dashboard.runs_message.value


@pytest.mark.parametrize(
    "form, message",
    [
        ({"item_size": 10}, "item_size must be an integer number of bytes from 64"),
        ({"concurrency": 0}, "concurrency must be an integer from 1 to 10000"),
        ({"model": "open", "target_rate": -5.0}, "target_rate must be a number of requests per second > 0"),
        ({"duration": 0.0}, "duration must be a number of seconds > 0"),
        ({"length": "requests", "requests": 0}, "requests must be an integer >= 1"),
        ({"warmup": -1.0}, "warmup must be a number of seconds >= 0"),
        ({"table": "x"}, "table must be a DynamoDB table name"),
    ],
)
def test_nonsense_in_the_form_is_explained_and_starts_nothing(playground, form, message):
    dashboard = LoadTestDashboard(playground=playground)
    for name, value in form.items():
        getattr(dashboard, name).value = value
    assert message in dashboard.form_message.value  # shown as soon as the field changes
    assert dashboard.form_message.kind == "error"
    # Start is off while the form is wrong, and says why where the pointer is
    assert dashboard.start_button.disabled and message in dashboard.start_button.tooltip
    assert dashboard.start() is None and dashboard.test is None
    assert dashboard.store.list_runs() == []


def test_every_problem_is_listed_and_a_missing_table_is_refused(playground):
    # the playground's own table is missing (another table is refused before AWS is asked: see
    # tests/reliability/test_bad_input_loadtest.py)
    dashboard = LoadTestDashboard(playground=dataclasses.replace(playground, loadtest_table="no-such-table"))
    for box in dashboard.weights.values():
        box.value = 0
    dashboard.item_size.value = 1_000_000
    assert dashboard.form_message.items[:2] == [
        "at least one operation needs a weight > 0",
        "item_size must be an integer number of bytes from 64 to 409600 (DynamoDB's item limit), got 1000000"]
    dashboard.weights["get"].value = 1
    dashboard.item_size.value = 100
    assert dashboard.form_message.value == "" and not dashboard.start_button.disabled
    dashboard.table.value = "no-such-table"
    assert dashboard.start() is None
    assert "table 'no-such-table' does not exist" in dashboard.form_message.value
    assert dashboard.store.list_runs() == [] and not dashboard.start_button.disabled


def test_capacity_warnings_are_shown_when_the_run_starts(playground):
    dashboard = LoadTestDashboard(playground=playground)
    short_run(dashboard, model="open", target_rate=20_000.0, distribution="hot_key", length="requests", requests=5)
    dashboard.weights["get"].value = 0
    with pytest.warns(CapacityWarning):
        assert dashboard.start() is not None
    assert "hot partition" in dashboard.form_message.value and dashboard.form_message.kind == "warning"
    assert dashboard.wait(30)["status"] == "finished"


def test_read_only_viewers_cannot_start_but_can_replay(playground, monkeypatch):
    owner = LoadTestDashboard(playground=playground)
    short_run(owner, length="requests", requests=20)
    owner.start()
    recorded = owner.wait(60)

    monkeypatch.setenv(VIEWER_ENV, "1")  # what the sharing setup sets for a viewer's server
    viewer = LoadTestDashboard(playground=playground)
    viewer.widget()
    assert viewer.start_button.disabled and "spend the owner's AWS" in viewer.start_button.tooltip
    assert "Read-only" in viewer.notice.value
    # a click message can still reach the kernel by hand: it must not start anything either
    viewer.start_button._handle_button_msg(None, {"event": "click"}, [])
    assert viewer.test is None and "spend the owner's AWS" in viewer.form_message.value
    assert [info.run_id for info in viewer.store.list_runs()] == [recorded["run_id"]]
    assert viewer.load_run(recorded["run_id"]).status == "finished"
    assert len(viewer.graph._history) >= 1
    assert LoadTestDashboard(playground=playground, allow_runs=False).start() is None


def test_without_a_playground_it_says_so_and_runs_on_a_named_table(moto_url, tmp_path):
    import boto3

    client = boto3.client("dynamodb", endpoint_url=moto_url, region_name="us-east-1")
    create_table(client, "my-own-table")
    try:
        dashboard = LoadTestDashboard(environ={"AWS_ENDPOINT_URL": moto_url}, store=FileRunStore(tmp_path))
        assert "No playground." in dashboard.notice.value and "PLAYGROUND_STACK_NAME" in dashboard.notice.value
        assert dashboard.table.value == "" and "name the table to load" in dashboard.form_message.value
        assert dashboard.start() is None
        short_run(dashboard, length="requests", requests=30, table="my-own-table")
        assert dashboard.form_message.value == ""
        dashboard.start()
        end = dashboard.wait(60)
        assert end["status"] == "finished" and end["cumulative"]["requests"] == 30
        assert [info.run_id for info in dashboard.store.list_runs()] == [end["run_id"]]
        assert (tmp_path / f"{end['run_id']}.jsonl").is_file()
    finally:
        client.delete_table(TableName="my-own-table")


def test_without_a_playground_or_aws_the_start_says_why(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    dashboard = LoadTestDashboard(environ={}, store=FileRunStore(tmp_path))
    dashboard.table.value = "some-table"
    assert dashboard.start() is None
    assert "Could not start" in dashboard.form_message.value and "credentials" in dashboard.form_message.value
    assert dashboard.test is None and not dashboard.start_button.disabled
