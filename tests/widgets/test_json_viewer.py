"""JsonViewer's kernel side: the state it syncs and the answers to the browser's requests."""

from __future__ import annotations

import pytest

from widgets.json_tree import PAGE_SIZE
from widgets.json_viewer import JsonViewer


def ask(viewer: JsonViewer, command: str, **msg) -> dict:
    answer, buffers = getattr(viewer, command)({"revision": viewer._root["revision"], **msg}, [])
    assert buffers == []
    return answer


def test_a_small_document_syncs_its_first_level_and_nothing_deeper():
    viewer = JsonViewer({"runs": [{"p99": 1}], "name": "x"})
    state = viewer._root
    assert state["row"]["n"] == 2 and state["page_size"] == PAGE_SIZE
    assert [row["k"] for row in state["children"]] == ["runs", "name"]
    assert "children" not in state["children"][0], "grandchildren must wait for an expand"


def test_a_large_root_syncs_only_its_size_and_the_browser_pages_it():
    viewer = JsonViewer(list(range(10_000)))
    assert viewer._root["children"] is None and viewer._root["row"]["n"] == 10_000
    rows = ask(viewer, "_children", path=[], start=9_900, stop=10_000)["rows"]
    assert [row["v"] for row in rows] == [str(i) for i in range(9_900, 10_000)]


def test_answers_about_replaced_data_are_marked_stale():
    viewer = JsonViewer({"a": 1})
    old_revision = viewer._root["revision"]
    viewer.data = {"b": 2}
    assert viewer._root["revision"] == old_revision + 1
    assert viewer._children({"revision": old_revision, "path": [], "start": 0, "stop": 1}, []) == ({"stale": True}, [])
    assert ask(viewer, "_children", path=[], start=0, stop=1)["rows"][0]["k"] == "b"


def test_search_reveal_and_value_commands():
    viewer = JsonViewer({"events": [{"note": "needle" if i == 150 else "plain"} for i in range(200)]})
    found = ask(viewer, "_search", query="NEEDLE")
    assert found["paths"] == [[0, 150, 0]] and found["total"] == 1
    pages = ask(viewer, "_reveal", path=[0, 150, 0])["pages"]
    assert [page["start"] for page in pages] == [0, 100, 0]
    assert ask(viewer, "_value", path=[0, 150]) ["text"] == '{"note":"needle"}'


def test_bad_requests_get_an_error_message_not_an_exception():
    viewer = JsonViewer({"a": [1, 2]})
    assert "out of range" in ask(viewer, "_children", path=[5], start=0, stop=10)["error"]
    assert "no children" in ask(viewer, "_children", path=[0, 1], start=0, stop=10)["error"]
    assert "bad range" in ask(viewer, "_children", path=[0], start=5, stop=1)["error"]


def test_root_name_starts_the_copied_paths_and_must_be_an_identifier():
    assert JsonViewer([1], root_name="result")._root["row"]["a"] == "result"
    with pytest.raises(ValueError, match="identifier"):
        JsonViewer([1], root_name="not a name")


class ExplodingMapping(dict):
    def __getitem__(self, key):
        raise RuntimeError("backend gone")


def test_an_object_failing_while_listed_gives_the_browser_an_error_answer():
    viewer = JsonViewer({"broken": ExplodingMapping(a=1)})
    assert ask(viewer, "_children", path=[0], start=0, stop=10) == {"error": "RuntimeError: backend gone"}


def test_a_scalar_root_is_one_row_that_search_can_still_find():
    viewer = JsonViewer(2**64)
    assert viewer._root["row"] == {"k": "data", "a": "data", "t": "int", "v": "18446744073709551616"}
    assert viewer._root["children"] is None
    assert ask(viewer, "_search", query="4467")["paths"] == [[]]
    assert ask(viewer, "_value", path=[])["text"] == "18446744073709551616"
