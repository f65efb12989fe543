"""How one Python value looks in the JSON viewer: a scalar with exact text, or a container with entries.

Pure data, no widget code, so the tree, search and copy logic is testable on its own. Everything the viewer
shows goes through :func:`shape_of`, which never raises: anything it cannot show becomes a readable
placeholder scalar.

Numbers travel as text with a kind tag (``"int"``, ``"decimal"``, ...) so big integers and decimals are never
rounded through a JavaScript number.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

import json

# DynamoDB attribute-value type descriptors as the low-level boto3 client returns them ({"N": "1.5"}).
DYNAMODB_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"})
MAX_REPR = 200  # characters of repr() shown for an object the viewer cannot walk into


@dataclass(frozen=True)
class Scalar:
    kind: str  # string | int | float | decimal | bool | null | datetime | bytes | opaque | circular
    text: str  # exactly what the viewer shows, e.g. the full digits of a big integer
    json: str  # the value as JSON text, used when the user copies it
    badge: str = ""  # where the value came from when that is not obvious: "Decimal", "DynamoDB N", ...


@dataclass(frozen=True)
class Entry:
    key: str | int  # the label shown before the value: a dict key, or a position in an array
    accessor: str  # Python source that reaches this child from its parent, e.g. '["runs"]' or '[3]'
    value: Any
    wrapper: str = ""  # a function the parent must go through first, e.g. "sorted" for members of a set

    def path_from(self, parent_path: str) -> str:
        if self.wrapper:
            return f"{self.wrapper}({parent_path}){self.accessor}"
        return parent_path + self.accessor


@dataclass(frozen=True)
class Container:
    kind: str  # object | array
    length: int
    label: str  # "dict", "list", "DataFrame 3×4", "DynamoDB M", ...
    entries: Callable[[int, int], list[Entry]]  # entries in [start, stop), in display order
    source: Any  # the Python object, so cycles can be recognised by identity

    def iter_entries(self, chunk: int = 1000) -> Iterator[Entry]:
        for start in range(0, self.length, chunk):
            yield from self.entries(start, min(start + chunk, self.length))


Shape = Scalar | Container


def key_accessor(key: object) -> str:
    if isinstance(key, str):
        return "[" + json.dumps(key, ensure_ascii=False) + "]"
    if isinstance(key, (int, float, bool)) or key is None:
        return f"[{key!r}]"
    return f"[{safe_repr(key)}]"


def key_label(key: object) -> str | int:
    if isinstance(key, (str, int)) and not isinstance(key, bool):
        return key
    return safe_repr(key)


def safe_repr(value: object, limit: int = MAX_REPR) -> str:
    try:
        text = repr(value)
    except Exception as error:  # noqa: BLE001 - a broken __repr__ must not break the viewer
        text = f"<{type(value).__name__} (repr failed: {error.__class__.__name__})>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _string(text: str, badge: str = "") -> Scalar:
    return Scalar("string", text, json.dumps(text, ensure_ascii=False), badge)


def _number_text(kind: str, text: str, badge: str = "") -> Scalar:
    return Scalar(kind, text, text, badge)


def _decimal(value: decimal.Decimal, badge: str = "Decimal") -> Scalar:
    if not value.is_finite():
        return Scalar("decimal", str(value), json.dumps(str(value)), badge)
    # str() keeps every digit and the exponent; JSON accepts "1E+3" and "1.50" as numbers.
    return Scalar("decimal", str(value), str(value), badge)


def _float(value: float, badge: str = "") -> Scalar:
    text = float.__repr__(value)  # numpy's float64 is a float whose repr is "np.float64(0.1)"
    if math.isfinite(value):
        return Scalar("float", text, text, badge)
    return Scalar("float", text, json.dumps(text), badge)  # JSON has no NaN/Infinity


def _bytes(value: bytes, badge: str = "bytes") -> Scalar:
    preview = value[:32].hex(" ")
    text = f"{len(value)} bytes: {preview}" + (" …" if len(value) > 32 else "")
    return Scalar("bytes", text, json.dumps(base64.b64encode(value).decode("ascii")), badge)


def _sequence(items: Sequence[Any], label: str, accessor_prefix: str = "", wrapper: str = "") -> Container:
    def entries(start: int, stop: int) -> list[Entry]:
        return [Entry(i, f"{accessor_prefix}[{i}]", items[i], wrapper) for i in range(start, min(stop, len(items)))]

    return Container("array", len(items), label, entries, items)


def _mapping(mapping: Mapping, label: str, accessor_prefix: str = "") -> Container:
    keys: list | None = None

    def entries(start: int, stop: int) -> list[Entry]:
        nonlocal keys
        if keys is None:
            keys = list(mapping.keys())
        return [Entry(key_label(k), accessor_prefix + key_accessor(k), mapping[k]) for k in keys[start:stop]]

    return Container("object", len(mapping), label, entries, mapping)


def _dynamodb(value: dict) -> Shape | None:
    """The shape of a DynamoDB attribute value such as {"N": "1.5"}, or None if ``value`` is not one."""
    if len(value) != 1:
        return None
    (tag, inner), = value.items()
    if tag not in DYNAMODB_TYPES:
        return None
    badge = f"DynamoDB {tag}"
    try:
        if tag == "S" and isinstance(inner, str):
            return _string(inner, badge)
        if tag == "N" and isinstance(inner, str):
            return _number_text("decimal", str(decimal.Decimal(inner)), badge)
        if tag == "B" and isinstance(inner, (bytes, bytearray)):
            return _bytes(bytes(inner), badge)
        if tag == "BOOL" and isinstance(inner, bool):
            return Scalar("bool", "true" if inner else "false", "true" if inner else "false", badge)
        if tag == "NULL" and inner is True:
            return Scalar("null", "null", "null", badge)
        if tag == "M" and isinstance(inner, dict):
            return _mapping(inner, badge, accessor_prefix='["M"]')
        if tag == "L" and isinstance(inner, list):
            return _sequence(inner, badge, accessor_prefix='["L"]')
        if tag in {"SS", "NS", "BS"} and isinstance(inner, list):
            element = {"SS": str, "NS": str, "BS": (bytes, bytearray)}[tag]
            if all(isinstance(item, element) for item in inner):
                if tag == "NS":
                    for item in inner:
                        decimal.Decimal(item)  # validates: raises if not a number
                wrapped = [{tag[0]: item} for item in inner]
                return Container("array", len(inner), badge, _typed_members(wrapped), inner)
    except (decimal.InvalidOperation, ValueError):
        return None
    return None


def _typed_members(wrapped: list) -> Callable[[int, int], list[Entry]]:
    # Members of SS/NS/BS are shown typed ({"N": "1"} -> 1); in the raw data they sit in the list under the tag.
    tag = lambda i: '["' + next(iter(wrapped[i])) + 'S"]'  # noqa: E731 - "N" -> the parent's "NS" key
    return lambda start, stop: [Entry(i, f"{tag(i)}[{i}]", wrapped[i]) for i in range(start, min(stop, len(wrapped)))]


def _pandas(value: Any) -> Shape | None:
    module = type(value).__module__
    if not module.startswith("pandas"):
        return None
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        frame = value

        def rows(start: int, stop: int) -> list[Entry]:
            return [
                Entry(key_label(frame.index[i]), f".iloc[{i}]", frame.iloc[i])
                for i in range(start, min(stop, len(frame)))
            ]

        rows_, columns = frame.shape
        return Container("array", len(frame), f"DataFrame {rows_}×{columns}", rows, frame)
    if isinstance(value, pd.Series):
        series = value

        def items(start: int, stop: int) -> list[Entry]:
            out = []
            for i in range(start, min(stop, len(series))):
                label = series.index[i]
                accessor = key_accessor(label) if isinstance(label, str) else f".iloc[{i}]"
                out.append(Entry(key_label(label), accessor, series.iloc[i]))
            return out

        return Container("object", len(series), f"Series {series.dtype}", items, series)
    if value is pd.NaT:
        return Scalar("null", "NaT", "null", "pandas NaT")
    if value is pd.NA:
        return Scalar("null", "<NA>", "null", "pandas NA")
    if isinstance(value, pd.Timedelta):
        return _string(str(value), "Timedelta")
    if isinstance(value, pd.Index):
        return _sequence(value.tolist(), f"Index {value.dtype}")
    return None


def _numpy(value: Any) -> Shape | None:
    if not type(value).__module__.startswith("numpy"):
        return None
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return shape_of(value.item())
        # Indexed lazily: value[i] is a numpy scalar or a sub-array, so a page never converts the whole array.
        return _sequence(value, f"ndarray {value.dtype} {value.shape}")
    if isinstance(value, np.generic):
        return shape_of(value.item())
    return None


def shape_of(value: Any, dynamodb: bool = True) -> Shape:
    """How ``value`` is shown. Never raises: unknown objects become an ``opaque`` scalar with their repr."""
    try:
        return _shape_of(value, dynamodb)
    except Exception as error:  # noqa: BLE001 - a hostile object must show as a placeholder, not crash the view
        return Scalar("opaque", f"<{type(value).__name__}: cannot be shown ({error})>", json.dumps(safe_repr(value)))


def _shape_of(value: Any, dynamodb: bool) -> Shape:
    if value is None:
        return Scalar("null", "null", "null")
    if isinstance(value, bool):
        return Scalar("bool", "true" if value else "false", "true" if value else "false")
    if isinstance(value, int):
        return _number_text("int", int.__repr__(value))
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, decimal.Decimal):
        return _decimal(value)
    if isinstance(value, dict):
        if dynamodb and (typed := _dynamodb(value)) is not None:
            return typed
        return _mapping(value, "dict" if type(value) is dict else type(value).__name__)
    if isinstance(value, (list, tuple)):
        return _sequence(value, type(value).__name__)
    if (special := _pandas(value)) is not None or (special := _numpy(value)) is not None:
        return special  # before datetime: pandas' NaT is a datetime too
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return Scalar("datetime", value.isoformat(), json.dumps(value.isoformat()), type(value).__name__)
    if isinstance(value, dt.timedelta):
        return Scalar("string", str(value), json.dumps(value.total_seconds()), "timedelta")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes(bytes(value))
    if isinstance(value, uuid.UUID):
        return _string(str(value), "UUID")
    if type(value).__name__ == "Binary" and isinstance(getattr(value, "value", None), (bytes, bytearray)):
        return _bytes(bytes(value.value), "DynamoDB Binary")  # boto3.dynamodb.types.Binary, without importing boto3
    if isinstance(value, (set, frozenset)):
        try:
            return _sequence(sorted(value), f"{type(value).__name__} (sorted)", wrapper="sorted")
        except TypeError:
            return _sequence(list(value), type(value).__name__, wrapper="list")
    if isinstance(value, Mapping):
        return _mapping(value, type(value).__name__)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
        shape = _mapping(fields, type(value).__name__)
        return Container("object", shape.length, shape.label, _attribute_entries(fields), value)
    return Scalar("opaque", safe_repr(value), json.dumps(safe_repr(value)), f"{type(value).__name__}, not JSON")


def _attribute_entries(fields: dict) -> Callable[[int, int], list[Entry]]:
    names = list(fields)
    return lambda start, stop: [Entry(name, f".{name}", fields[name]) for name in names[start:stop]]
