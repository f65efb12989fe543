"""Bad input to data generation, the JSON viewer and the query and caching dashboards' forms: one message naming
the field before anything is written; a user loading the conversations into the schema they own is not refused
by the database; whatever data the viewer is handed, and whatever a page asks it, it answers with a sentence."""

from __future__ import annotations

import decimal
import math
from html import unescape

import pytest
import traitlets

from dashboards.caching import CachingDashboard
from dashboards.query_optimization import QueryOptimizationDashboard
from profiler.datagen import dataset_counts, load
from profiler.datagen.loader import DatasetLoadError
from profiler.inputs import InputError
from tests.dashboards.test_data_models import workbench_database  # noqa: F401 - a fixture
from widgets import JsonViewer


@pytest.fixture
def workbench_admin(workbench_database) -> str:  # noqa: F811 - the fixture imported above
    """The admin URL of a database of this module's own on the shared server, prepared as the hub prepares one."""
    return workbench_database

LOADS = [
    ({"messages": 0}, "messages must be between 1 and 10,000,000, got 0"),
    ({"messages": -1}, "messages must be between 1 and 10,000,000, got -1"),
    ({"messages": 10**8}, "messages must be between 1 and 10,000,000, got 100,000,000"),
    ({"messages": "100"}, "messages must be an integer, got '100'"),
    ({"messages": 1.5}, "messages must be an integer, got 1.5"),
    ({"messages": True}, "messages must be an integer, got True"),
    ({"seed": -1}, "seed must be between 0 and 2,147,483,647, got -1"),
    ({"seed": 2**31}, "seed must be between 0 and 2,147,483,647, got 2,147,483,648"),
    ({"seed": "0"}, "seed must be an integer, got '0'"),
    ({"workers": -1}, "workers must be a whole number of processes (0 or more, at most 64), got -1"),
    ({"workers": 65}, "workers must be a whole number of processes (0 or more, at most 64), got 65"),
    ({"workers": "2"}, "workers must be a whole number of processes (0 or more, at most 64), got '2'"),
    ({"batches_per_commit": 0}, "batches_per_commit must be a whole number, 1 or more, got 0"),
    ({"replace": "yes"}, "replace must be True or False, got 'yes'"),
    ({"progress": 5}, "progress must be a function progress(LoadProgress) or None, got 5"),
    ({"schema": "mine"}, "schema='mine': only PostgreSQL has schemas; on SQLite the file is the space"),
    ({"target": 5}, "target must be a database URL or an Engine, got 5"),
    ({"target": "not a url"}, "target must be a database URL such as sqlite:////path/file.db"),
    ({"target": "mysql://someone@localhost/db"}, "target: the conversations dataset loads into PostgreSQL or SQLite, "
                                                 "not mysql"),
]


@pytest.mark.parametrize("arguments, message", LOADS, ids=[repr(a)[:50] for a, _ in LOADS])
def test_a_bad_load_is_refused_naming_the_field_and_writes_nothing(tmp_path, arguments, message):
    target = tmp_path / "conversations.db"
    call = {"target": f"sqlite:///{target}", "messages": 50, "workers": 0, **arguments}
    with pytest.raises(InputError) as refused:
        load(**call)
    assert message in str(refused.value)
    assert not target.exists()


@pytest.mark.parametrize("schema, message", [
    ("Bad-Name", "schema must be a lower-case identifier (letters, digits, _; at most 63), got 'Bad-Name'"),
    ("x" * 64, "schema must be a lower-case identifier"),
    (5, "schema must be a lower-case identifier (letters, digits, _; at most 63), got 5"),
])
def test_a_bad_schema_is_refused_on_postgresql(workbench_admin, schema, message):
    with pytest.raises(InputError) as refused:
        load(workbench_admin, 50, schema=schema, workers=0)
    assert message in str(refused.value)


def test_a_user_loads_the_conversations_into_the_schema_they_own(workbench_admin):
    """The user's role may not create schemas; naming the one it owns must not need that right."""
    from spawner import database
    from spawner.names import for_user

    names = for_user("loader_of_own_schema")
    access = database.provision_user(workbench_admin, names, lock_other_databases=False)
    try:
        report = load(access.url, 40, schema=access.schema, workers=0)
        assert report.spec.messages == 40
        assert dataset_counts(access.url, schema=access.schema)["messages"] == 40
        with pytest.raises(InputError, match="schema must be a lower-case identifier"):
            load(access.url, 40, schema="Builtin", workers=0)
    finally:
        database.deprovision_user(workbench_admin, names)


class Unprintable:
    def __repr__(self):
        raise RuntimeError("no repr for you")


class BrokenMapping(dict):
    def __len__(self):
        raise RuntimeError("len fails")


def _deep(levels: int) -> list:
    root = current = []
    for _ in range(levels):
        current.append([])
        current = current[0]
    return root


def _circular() -> dict:
    data: dict = {"name": "loop"}
    data["self"] = data
    return data


VIEWER_DATA = [
    ("nan", math.nan, '"nan"'),
    ("infinities", [math.inf, -math.inf], '["inf","-inf"]'),
    ("bytes", b"\xff\x00", "/wA="),
    ("a 400-digit integer", 10**400, "1" + "0" * 400),
    ("an object whose repr fails", Unprintable(), "repr failed: RuntimeError"),
    ("a mapping whose len fails", BrokenMapping(a=1), "cannot be shown (len fails)"),
    ("a decimal NaN", decimal.Decimal("NaN"), '"NaN"'),
    ("keys that are not strings", {(1, 2): 3, None: 4}, '{"(1, 2)":3,"None":4}'),
    ("a lone surrogate", "\ud800", "\ud800"),
    ("a cycle", _circular(), '"self":"<circular: data>"'),
    ("5,000 levels deep", _deep(5000), "[[[[[[[["),
    ("a function", print, "<built-in function print>"),
]


@pytest.mark.parametrize("data, text", [(d, t) for _, d, t in VIEWER_DATA], ids=[n for n, _, _ in VIEWER_DATA])
def test_the_viewer_shows_any_data_and_copies_it_as_text(data, text):
    viewer = JsonViewer(data)
    answer, _ = viewer._value({"revision": viewer._revision, "path": []}, [])
    assert "error" not in answer and text in answer["text"]
    children, _ = viewer._children({"revision": viewer._revision, "path": [], "start": 0, "stop": 100}, [])
    assert "rows" in children or children["error"].startswith("data is a ")


VIEWER_SETTINGS = [
    ({"root_name": 5}, ValueError, "root_name must be a Python identifier, got 5"),
    ({"root_name": "1st"}, ValueError, "root_name must be a Python identifier, got '1st'"),
    ({"root_name": "a b"}, ValueError, "root_name must be a Python identifier, got 'a b'"),
    ({"dynamodb": "no"}, ValueError, "dynamodb must be True or False, got 'no'"),
    ({"height": -5}, traitlets.TraitError, "height must be from 80 to 5000 pixels, got -5"),
    ({"height": 10**6}, traitlets.TraitError, "height must be from 80 to 5000 pixels, got 1000000"),
]


@pytest.mark.parametrize("settings, error, message", VIEWER_SETTINGS, ids=[repr(s) for s, _, _ in VIEWER_SETTINGS])
def test_the_viewer_refuses_bad_settings_naming_them(settings, error, message):
    with pytest.raises(error) as refused:
        JsonViewer({"a": 1}, **settings)
    assert message in str(refused.value)


PAGE_REQUESTS = [
    ({}, "the request has no path, start, stop"),
    ({"path": "0", "start": 0, "stop": 5}, "path must be a list of child positions (whole numbers)"),
    ({"path": [True], "start": 0, "stop": 5}, "path must be a list of child positions"),
    ({"path": [99], "start": 0, "stop": 5}, "position 99 is out of range"),
    ({"path": [0], "start": "a", "stop": 5}, "start must be a whole number, got 'a'"),
    ({"path": [0], "start": 0, "stop": None}, "stop must be a whole number, got None"),
    ({"path": [0], "start": -5, "stop": 10**12}, "bad range -5..1000000000000"),
]


@pytest.mark.parametrize("request_, message", PAGE_REQUESTS, ids=[repr(r)[:50] for r, _ in PAGE_REQUESTS])
def test_a_bad_request_from_the_page_gets_a_sentence_and_the_data_stays(request_, message):
    viewer = JsonViewer({"runs": [1, 2, 3]})
    answer, _ = viewer._children({"revision": viewer._revision, **request_}, [])
    assert answer == {"error": answer["error"]} and message in answer["error"]
    assert viewer.data == {"runs": [1, 2, 3]}


QUERY_FORM = [
    ({"strategies": []}, "Choose at least one strategy."),
    ({"custom": "books: eager"}, "Custom optimization must be a dictionary like"),
    ({"custom": "{'books': 'eager'}"}, "Custom optimization: 'books': unknown loader kind 'eager'; use one of"),
    ({"custom": "{}"}, "Custom optimization must be a non-empty dictionary like"),
    ({"custom": "{'books': 5}"}, "paths and loader kinds are both strings"),
    ({"custom": "__import__('os').system('true')"}, "Custom optimization must be a dictionary like"),
    ({"custom": "-" * 1500 + "1"}, "Custom optimization must be a dictionary like"),
    ({"custom": "not " * 20_000 + "1"}, "Custom optimization is 80,001 characters long; at most 2,000"),
    ({"custom": "{'books': 'joined'}" + " " * 3000}, "Custom optimization is 3,019 characters long; at most 2,000"),
    ({"custom": "{'nosuch': 'joined'}"}, None),  # readable: the run itself names the real relationships
]


@pytest.mark.parametrize("form, message", QUERY_FORM, ids=[repr(f)[:40] for f, _ in QUERY_FORM])
def test_the_query_form_says_what_is_wrong_and_runs_nothing(form, message):
    dashboard = QueryOptimizationDashboard()
    if "strategies" in form:
        for box in dashboard.strategy_boxes.values():
            box.value = False
        dashboard.custom_enabled.value = False
    if "custom" in form:
        dashboard.custom_enabled.value = True
        dashboard.custom_text.value = form["custom"]
    thread = dashboard.start()
    if message is None:
        thread.join(120)
        result = dashboard.comparison["custom"]
        assert result.status == "error" and "Author has no relationship 'nosuch'" in result.error
        return
    assert thread is None and dashboard.comparison is None
    assert message in unescape(dashboard.message.value)


CACHING_FORM = [
    ({"authors": 0}, "Authors must be from 1 to"),
    ({"authors": 10**7}, "Authors must be from 1 to"),
    ({"rounds": 0}, "Rounds must be from 1 to"),
    ({"rounds": 10**6}, "Rounds must be from 1 to"),
    ({"lazy_loads": True, "strategy": "selectin"}, "Caching lazy loads only applies to lazy loading"),
]


@pytest.mark.parametrize("form, message", CACHING_FORM, ids=[repr(f) for f, _ in CACHING_FORM])
def test_the_caching_form_says_what_is_wrong_and_runs_nothing(form, message):
    dashboard = CachingDashboard(environ={})
    for name, value in form.items():
        getattr(dashboard, name).value = value
    assert dashboard.start() is None and dashboard.comparison is None
    assert message in unescape(dashboard.form_message.value)


def test_a_load_into_a_sqlite_file_that_is_not_a_database_says_so(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("these are my notes, not a database")
    with pytest.raises(DatasetLoadError, match=r"^target: the database refused the load \(file is not a database\)"):
        load(f"sqlite:///{target}", 50, workers=0)
    assert target.read_text() == "these are my notes, not a database"
