"""DataTable on the kernel side: column specs, rows as they travel, a selection that only names rows that exist."""

from __future__ import annotations

import json
import math

import pytest
import traitlets

from widgets.data_table import DataTable

COLUMNS = [
    "name",
    {"key": "when", "kind": "datetime"},
    {"key": "p99", "label": "p99", "kind": "number", "unit": "ms", "digits": 2},
    {"key": "duration", "kind": "duration"},
]
ROWS = [
    {"id": "r1", "name": "smoke", "when": "2026-12-07T10:40:00+00:00", "p99": 12.5, "duration": 30.0},
    {"id": "r2", "name": "soak", "when": "2026-12-07T11:00:00+00:00", "p99": math.nan, "duration": 600.0},
]


def test_columns_are_normalised_and_bad_ones_refused():
    table = DataTable(columns=COLUMNS)
    assert table.columns[0] == {"key": "name", "label": "name", "kind": "text"}
    assert table.columns[2] == {"key": "p99", "label": "p99", "kind": "number", "unit": "ms", "digits": 2}
    with pytest.raises(traitlets.TraitError, match="kind must be one of"):
        DataTable(columns=[{"key": "p99", "kind": "float"}])
    with pytest.raises(traitlets.TraitError, match="unique, repeated: \\['name'\\]"):
        DataTable(columns=["name", "name"])
    with pytest.raises(traitlets.TraitError, match="digits must be an integer from 0 to 6"):
        DataTable(columns=[{"key": "p99", "kind": "number", "digits": 1.5}])
    with pytest.raises(traitlets.TraitError, match="unknown keys \\['align'\\]"):
        DataTable(columns=[{"key": "p99", "align": "right"}])
    with pytest.raises(traitlets.TraitError, match="non-empty string 'key'"):
        DataTable(columns=[{"label": "no key"}])


def test_rows_need_unique_keys_and_travel_as_json():
    table = DataTable(columns=COLUMNS, rows=ROWS)
    assert table.rows[1]["p99"] is None  # NaN is not JSON: it goes as "no value", shown as a dash
    json.dumps(table.rows, allow_nan=False)
    run_table = DataTable(columns=COLUMNS, rows=[{"run_id": 7, "name": "x"}], row_key="run_id")
    assert run_table.rows[0]["run_id"] == "7"  # keys are compared with the page's selection, which sends strings
    with pytest.raises(traitlets.TraitError, match="row #1 has no 'id'"):
        DataTable(columns=COLUMNS, rows=[ROWS[0], {"name": "keyless"}])
    with pytest.raises(traitlets.TraitError, match="'r1' is repeated"):
        DataTable(columns=COLUMNS, rows=[ROWS[0], ROWS[0]])


def test_selection_keeps_the_order_picked_and_only_rows_that_exist():
    table = DataTable(columns=COLUMNS, rows=ROWS, selection=["r2", "gone", "r1", "r2"])
    assert table.selection == ["r2", "r1"]
    assert [row["name"] for row in table.selected_rows] == ["soak", "smoke"]
    seen = []
    table.observe(lambda change: seen.append(change["new"]), "selection")
    table.rows = [ROWS[0]]  # r2 was replaced: it leaves the selection, and observers hear of it
    assert table.selection == ["r1"] and seen == [["r1"]]
    single = DataTable(columns=COLUMNS, rows=ROWS, selectable="single", selection=["r1", "r2"])
    assert single.selection == ["r2"]
    assert DataTable(columns=COLUMNS, rows=ROWS, selectable="none", selection=["r1"]).selection == []


def test_sort_names_a_column():
    table = DataTable(columns=COLUMNS, rows=ROWS, sort_by="when", descending=True)
    assert (table.sort_by, table.descending) == ("when", True)
    with pytest.raises(traitlets.TraitError, match="sort_by must be a column key"):
        table.sort_by = "p95"


def test_booleans_long_text_and_the_opened_row():
    table = DataTable(columns=[{"key": "same", "kind": "bool"}, {"key": "columns", "wrap": True}],
                      rows=[{"id": "a", "same": True}, {"id": "b", "same": False}], activated="b")
    assert table.columns[0]["kind"] == "bool" and table.columns[1]["wrap"] is True
    assert table.activated == "b" and table.activated_row == {"id": "b", "same": False}
    table.activated = "gone"  # a row the kernel has just replaced opens nothing
    assert table.activated == "" and table.activated_row is None
    table.activated = "a"
    table.rows = [{"id": "c", "same": True}]
    assert table.activated == ""
    with pytest.raises(traitlets.TraitError, match="wrap must be True or False"):
        DataTable(columns=[{"key": "x", "wrap": "yes"}])


def test_paging_and_search_are_settings_of_the_table():
    table = DataTable(columns=COLUMNS, rows=ROWS, page_size=10, searchable=True, openable=True)
    assert (table.page_size, table.searchable, table.openable) == (10, True, True)
    with pytest.raises(traitlets.TraitError):
        table.page_size = -1
