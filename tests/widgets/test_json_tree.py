"""The JSON viewer's data side: rows, pages, search, copy, exact numbers, odd values, bad input."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json

import numpy as np
import pandas as pd
import pytest
from boto3.dynamodb.types import TypeDeserializer

from widgets.json_shapes import Container
from widgets.json_tree import PAGE_SIZE, JsonTree, PathError


def joined_path(tree: JsonTree, positions: list[int]) -> str:
    """The copied path exactly as the browser builds it: the root's accessor, then each row's accessor."""
    path = tree.root_row()["a"]
    for depth in range(len(positions)):
        (row,) = tree.children(positions[:depth], positions[depth], positions[depth] + 1)
        path = f'{row["w"]}({path}){row["a"]}' if "w" in row else path + row["a"]
    return path


def all_positions(tree: JsonTree, limit: int = 200) -> list[list[int]]:
    """Position paths of the first ``limit`` nodes, breadth-first."""
    queue, found = [[]], []
    while queue and len(found) < limit:
        current = queue.pop(0)
        found.append(current)
        node, _ = tree.locate(current)
        if isinstance(node.shape, Container):
            queue.extend(current + [i] for i in range(min(node.shape.length, PAGE_SIZE)))
    return found


SAMPLE = {
    "runs": [{"run": i, "p99": decimal.Decimal(f"{i}.5"), "ok": i % 2 == 0} for i in range(3)],
    "odd key": {"a/b": [1, 2], "quote\"d": None},
    3: "int key",
    "frame": pd.DataFrame({"p50": [1.5, 2.5], "name": ["x", "y"]}, index=["first", "second"]),
    "series": pd.Series([10, 20], index=["a", "b"]),
    "tags": {"b", "a"},
}


def test_first_level_rows_describe_keys_kinds_and_sizes():
    tree = JsonTree(SAMPLE)
    assert tree.root_row() == {"k": "data", "a": "data", "t": "object", "n": 6, "l": "dict"}
    rows = tree.children([], 0, PAGE_SIZE)
    assert [(row["k"], row["t"], row.get("n")) for row in rows] == [
        ("runs", "array", 3),
        ("odd key", "object", 2),
        (3, "string", None),
        ("frame", "array", 2),
        ("series", "object", 2),
        ("tags", "array", 2),
    ]
    assert rows[3]["l"] == "DataFrame 2×2"


def test_every_copied_path_evaluates_to_the_value_it_names():
    tree = JsonTree(SAMPLE)
    for positions in all_positions(tree):
        path = joined_path(tree, positions)
        node, _ = tree.locate(positions)
        assert node.path == path
        value = eval(path, {"data": SAMPLE})  # the point: a copied path is usable Python
        expected = tree.value_text(positions)
        assert JsonTree(value).value_text([]) == expected, path
    assert joined_path(tree, [1, 1]) == 'data["odd key"]["quote\\"d"]'
    assert joined_path(tree, [3, 1, 0]) == 'data["frame"].iloc[1]["p50"]'
    assert joined_path(tree, [5, 0]) == 'sorted(data["tags"])[0]'


def test_large_arrays_come_in_pages_of_at_most_page_size():
    tree = JsonTree({"events": list(range(250))})
    assert len(tree.children([0], 0, 10_000)) == PAGE_SIZE
    last = tree.children([0], 200, 300)
    assert [row["v"] for row in last] == [str(i) for i in range(200, 250)]
    with pytest.raises(PathError, match="out of range"):
        tree.children([1], 0, 10)
    with pytest.raises(PathError, match="no children"):
        tree.children([0, 3], 0, 10)


def test_reveal_sends_the_aligned_page_at_each_level_down_to_a_match():
    tree = JsonTree({"events": [{"n": i} for i in range(250)]})
    pages = tree.reveal([0, 142, 0])
    assert [page["start"] for page in pages] == [0, 100, 0]
    assert pages[1]["rows"][42] == {"k": 142, "a": "[142]", "t": "object", "n": 1, "l": "dict"}
    assert pages[2]["rows"] == [{"k": "n", "a": '["n"]', "t": "int", "v": "142"}]


def test_search_finds_keys_and_values_case_insensitively_in_display_order():
    tree = JsonTree({"a": {"Needle": 1, "b": "has needle inside"}, "c": ["x", "NEEDLE"], "needle": "key match"})
    found = tree.search("needle")
    assert found == {"paths": [[0, 0], [0, 1], [1, 1], [2]], "total": 4}
    assert tree.search("") == {"paths": [], "total": 0}
    assert tree.search("absent") == {"paths": [], "total": 0}


def test_search_caps_the_paths_but_counts_every_match():
    tree = JsonTree(["match"] * 30)
    found = tree.search("match", limit=10)
    assert len(found["paths"]) == 10 and found["total"] == 30


@pytest.mark.slow
def test_a_3000_deep_document_is_searched_copied_and_paged_without_recursion():
    deep = leaf = {}
    for level in range(3000):
        leaf[f"l{level}"] = {}
        leaf = leaf[f"l{level}"]
    leaf["bottom"] = "reached"
    tree = JsonTree(deep)
    found = tree.search("bottom")
    assert found["paths"] == [[0] * 3001]
    pages = tree.reveal(found["paths"][0])
    assert len(pages) == 3001 and all(len(page["rows"]) == 1 for page in pages)
    text = tree.value_text([])
    assert text.startswith('{"l0":{"l1":') and text.endswith('"bottom":"reached"' + "}" * 3001)


def test_big_integers_and_decimals_stay_exact_as_text_and_in_copied_json():
    data = {"big": 2**80 + 1, "dec": decimal.Decimal("12345678901234567890.123456789"), "f": 0.1, "neg": -(10**30)}
    tree = JsonTree(data)
    rows = tree.children([], 0, 10)
    assert [row["v"] for row in rows] == [
        "1208925819614629174706177", "12345678901234567890.123456789", "0.1", "-" + "1" + "0" * 30
    ]
    assert [row["t"] for row in rows] == ["int", "decimal", "float", "int"]
    copied = json.loads(tree.value_text([]), parse_float=decimal.Decimal)
    assert copied == {**data, "f": decimal.Decimal("0.1")}


def test_values_json_cannot_hold_are_copied_as_readable_json():
    tree = JsonTree(
        {"nan": float("nan"), "when": dt.datetime(2024, 5, 1, 12, 30), "raw": b"\x00\xff", "d": dt.date(2024, 1, 2)}
    )
    assert json.loads(tree.value_text([])) == {
        "nan": "nan", "when": "2024-05-01T12:30:00", "raw": "AP8=", "d": "2024-01-02"
    }
    assert tree.value_text([2]) == "AP8="
    assert tree.value_text([1]) == "2024-05-01T12:30:00"


def test_dynamodb_attribute_values_are_shown_as_plain_values_with_their_type():
    item = {
        "id": {"S": "user#1"},
        "score": {"N": "98765432109876543210.5"},
        "active": {"BOOL": True},
        "nothing": {"NULL": True},
        "tags": {"SS": ["a", "b"]},
        "nested": {"M": {"deep": {"L": [{"N": "1"}]}}},
    }
    tree = JsonTree(item)
    rows = tree.children([], 0, 10)
    assert [(row["t"], row.get("v"), row.get("b", row.get("l"))) for row in rows] == [
        ("string", "user#1", "DynamoDB S"),
        ("decimal", "98765432109876543210.5", "DynamoDB N"),
        ("bool", "true", "DynamoDB BOOL"),
        ("null", "null", "DynamoDB NULL"),
        ("array", None, "DynamoDB SS"),
        ("object", None, "DynamoDB M"),
    ]
    assert joined_path(tree, [5, 0, 0]) == 'data["nested"]["M"]["deep"]["L"][0]'
    assert joined_path(tree, [4, 1]) == 'data["tags"]["SS"][1]'
    copied = json.loads(tree.value_text([]), parse_float=decimal.Decimal)
    assert copied["score"] == decimal.Decimal("98765432109876543210.5")
    raw = JsonTree(item, dynamodb=False).children([], 0, 1)[0]
    assert raw["t"] == "object" and raw["n"] == 1


def test_look_alikes_of_dynamodb_values_stay_plain_dicts():
    tree = JsonTree({"a": {"N": "not a number"}, "b": {"S": 5}, "c": {"S": "x", "N": "1"}})
    assert [row["t"] for row in tree.children([], 0, 10)] == ["object", "object", "object"]


def test_boto3_deserialized_items_show_decimals_binary_and_sets():
    item = TypeDeserializer().deserialize(
        {"M": {"n": {"N": "1.50"}, "b": {"B": b"hi"}, "ns": {"NS": ["2", "1"]}}}
    )
    rows = JsonTree(item).children([], 0, 10)
    assert [(row["k"], row["t"], row.get("v")) for row in rows] == [
        ("n", "decimal", "1.50"),
        ("b", "bytes", "2 bytes: 68 69"),
        ("ns", "array", None),
    ]
    assert [row["v"] for row in JsonTree(item).children([2], 0, 10)] == ["1", "2"]


def test_pandas_and_numpy_values():
    frame = pd.DataFrame({"t": [pd.Timestamp("2024-01-01 10:00"), pd.NaT], "n": np.array([1, 2], dtype="int64")})
    tree = JsonTree({"frame": frame, "arr": np.arange(3), "scalar": np.float32(0.5), "big": np.int64(2**62)})
    first_row = tree.children([0, 0], 0, 10)
    assert [(row["k"], row["t"], row["v"]) for row in first_row] == [
        ("t", "datetime", "2024-01-01T10:00:00"), ("n", "int", "1")
    ]
    assert tree.children([0, 1], 0, 10)[0]["v"] == "NaT"
    assert [row["v"] for row in tree.children([1], 0, 10)] == ["0", "1", "2"]
    assert [row["v"] for row in tree.children([], 2, 4)] == ["0.5", str(2**62)]
    assert json.loads(tree.value_text([0])) == [{"t": "2024-01-01T10:00:00", "n": 1}, {"t": None, "n": 2}]
    grid = JsonTree(np.arange(6).reshape(2, 3))
    assert grid.root_row()["l"] == "ndarray int64 (2, 3)"
    assert [row["v"] for row in grid.children([1], 0, 10)] == ["3", "4", "5"]
    assert grid.value_text([]) == "[[0,1,2],[3,4,5]]"


class Unserialisable:
    def __repr__(self):
        return "<Unserialisable thing>"


class BrokenRepr:
    def __repr__(self):
        raise RuntimeError("boom")


@dataclasses.dataclass
class Point:
    x: int
    y: decimal.Decimal


def test_objects_json_cannot_show_become_placeholders_not_errors():
    tree = JsonTree({"obj": Unserialisable(), "broken": BrokenRepr(), "point": Point(1, decimal.Decimal("2.5"))})
    obj, broken, point = tree.children([], 0, 10)
    assert obj["t"] == "opaque" and obj["v"] == "<Unserialisable thing>" and "not JSON" in obj["b"]
    assert broken["t"] == "opaque" and "repr failed: RuntimeError" in broken["v"]
    assert point["t"] == "object" and joined_path(tree, [2, 1]) == 'data["point"].y'
    assert json.loads(tree.value_text([])) == {
        "obj": "<Unserialisable thing>", "broken": broken["v"], "point": {"x": 1, "y": 2.5}
    }


def test_cycles_become_a_placeholder_naming_the_ancestor():
    data = {"runs": [{"name": "a"}]}
    data["runs"][0]["parent"] = data
    data["runs"].append(data["runs"])
    tree = JsonTree(data)
    parent, = [row for row in tree.children([0, 0], 0, 10) if row["k"] == "parent"]
    assert parent == {"k": "parent", "a": '["parent"]', "t": "circular", "v": "↻ circular reference to data"}
    assert tree.children([0], 1, 2)[0]["v"] == '↻ circular reference to data["runs"]'
    assert json.loads(tree.value_text([])) == {
        "runs": [{"name": "a", "parent": "<circular: data>"}, '<circular: data["runs"]>']
    }
    assert tree.search("name")["total"] == 1  # found once: the search does not walk around the cycle


def test_shared_but_acyclic_objects_are_shown_in_full_each_time():
    shared = {"v": 1}
    tree = JsonTree({"a": shared, "b": shared})
    assert [row["t"] for row in tree.children([], 0, 2)] == ["object", "object"]


def test_long_strings_are_truncated_in_rows_but_copied_whole():
    tree = JsonTree({"log": "x" * 5000})
    (row,) = tree.children([], 0, 1)
    assert len(row["v"]) == 1000 and row["x"] == 5000
    assert tree.value_text([0]) == "x" * 5000
