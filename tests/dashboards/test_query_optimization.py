"""The query-optimization dashboard, driven the way its form is: choose, run, read the results."""

from __future__ import annotations

import pytest

from dashboards.background import wait
from dashboards.common import FormError
from dashboards.query_optimization import (
    INSPECT_TITLE,
    QueryOptimizationDashboard,
    parse_custom_loaders,
)


@pytest.mark.parametrize(
    "text, message",
    [
        ("__import__('os').system('id')", "must be a dictionary"),
        ("[1, 2]", "non-empty dictionary"),
        ("{}", "non-empty dictionary"),
        ('{"books": "eager"}', "unknown loader kind 'eager'"),
        ('{"books": 1}', "paths and loader kinds are both strings"),
        ('{"books": "joined"', "line 1, column 1: '{' was never closed"),
    ],
)
def test_custom_optimization_text_is_parsed_never_executed(text, message):
    with pytest.raises(FormError, match=message):
        parse_custom_loaders(text)


def test_bad_custom_optimization_shows_a_message_and_starts_nothing():
    dashboard = QueryOptimizationDashboard()
    dashboard.custom_text.value = "{'books': 'eager'}"
    # said as soon as it is typed, and Run says why it is off
    assert dashboard.message.kind == "error" and "unknown loader kind" in dashboard.message.value
    assert dashboard.run_button.disabled and "unknown loader kind" in dashboard.run_button.tooltip
    assert dashboard.start() is None
    assert dashboard.progress.layout.display == "none"
    dashboard.custom_text.value = "{'books': 'joined'}"
    assert dashboard.message.kind == "" and not dashboard.run_button.disabled


def test_a_syntax_error_names_the_field_and_the_line_not_python():
    dashboard = QueryOptimizationDashboard()
    dashboard.custom_text.value = "{'books': 'joined',\n 'books.stores' 'selectin'}"
    text = dashboard.message.value
    assert dashboard.message.kind == "error" and text.startswith("Custom optimization must be a dictionary like")
    assert "line 2" in text and "SyntaxError" not in text and "<unknown>" not in text


def test_no_strategy_chosen_is_refused():
    dashboard = QueryOptimizationDashboard()
    for box in dashboard.strategy_boxes.values():
        box.value = False
    dashboard.custom_enabled.value = False
    assert dashboard.start() is None
    assert "Choose at least one strategy" in dashboard.message.value


def test_a_run_fills_every_section_and_scrolls_to_the_data(engine):
    dashboard = QueryOptimizationDashboard(engine)
    dashboard.widget()
    wait(dashboard.start(), timeout=240)

    assert dashboard.progress.state == "success", dashboard.progress.message
    assert dashboard.timer.elapsed and dashboard.timer.elapsed > 0
    labels = [result.label for result in dashboard.comparison.results]
    assert labels == ["lazy", "joined", "selectin", "subquery", "auto", "custom"]
    table = dashboard.table
    assert [row["strategy"] for row in table.rows] == labels
    labels_by_key = {column["key"]: column for column in table.columns}
    assert labels_by_key["db_ms"]["label"] == "Database" and labels_by_key["db_ms"]["unit"] == "ms"
    assert labels_by_key["data_matches"]["kind"] == "bool"
    assert all(row["data_matches"] is True for row in table.rows)
    # a cost of the profiler is a positive number of µs, or said to be below the runs' noise
    for row in table.rows:
        cost = row["overhead_us_per_statement"]
        assert cost == "below noise" or cost > 0, row
    assert dashboard.message.kind == ""
    # the N+1 of the lazy run is explained with its fix; the eager strategies have none
    assert "<b>lazy</b>: N+1 on Author.books" in dashboard.findings.value
    assert "selectinload(Author.books)" in dashboard.findings.value
    assert "<b>joined</b>: N+1" not in dashboard.findings.value
    assert "<details>" in dashboard.explains.value
    assert {trace['name'] for trace in dashboard.figure.spec['data']} >= {'database', 'fetch', 'Python / ORM'}
    # "Inspect the data": the whole comparison with every statement, and the page is asked to go there
    strategies = dashboard.viewer.data["strategies"]
    assert [entry["strategy"] for entry in strategies] == labels
    assert strategies[0]["statements"] and "SELECT" in strategies[0]["statements"][0]["sql"]
    assert dashboard.scroller._request["target"] == INSPECT_TITLE
    # "learn more" now shows the SQL each strategy emitted for this workload
    assert "The SQL it emitted for this workload" in dashboard.learn_more["selectin"].content
    # highlighted: the keyword and its parenthesis are separate tokens
    assert '<span class="workbench-sql-k">IN</span> <span class="workbench-sql-p">(</span>' in \
        dashboard.learn_more["selectin"].content
    assert not dashboard.run_button.disabled


def test_a_failing_run_says_why_and_the_form_stays_usable():
    class Broken:
        dialect = None

    dashboard = QueryOptimizationDashboard(engine=Broken())
    dashboard.table.rows = [{"strategy": "lazy", "wall_ms": 12.0}]  # an earlier run's results
    wait(dashboard.start())
    assert dashboard.message.kind == "error" and dashboard.message.title == "The comparison failed:"
    assert "Error:" not in dashboard.message.value  # the reason, not the exception's class
    assert dashboard.progress.layout.display == "none"
    assert dashboard.table.rows == [] and dashboard.comparison is None
    assert not dashboard.run_button.disabled
