"""A stable hash of the data a workload returns, so strategies that return different data are caught.

Two hashes: ``ordered`` (lists compared in order) and ``unordered`` (every list sorted by the canonical form of
its items). Equal unordered but different ordered hashes mean the same data in another order (an unordered
relationship loaded by a JOIN vs by a separate SELECT); different unordered hashes mean different data.
ORM objects count with their loaded column values only: following their relationships here would itself run
lazy loads, and what the workload walked is what it returned. Other objects count by their data too (a
dataclass's fields, an instance's attributes, a function's qualified name), never by a repr that carries a memory
address: two runs returning the same data must fingerprint alike.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import dataclasses
import hashlib
import inspect as pyinspect
import json
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import inspect
from sqlalchemy.exc import NoInspectionAvailable


@dataclass(frozen=True)
class Fingerprint:
    ordered: str
    unordered: str
    items: int  # top-level items (e.g. rows) in the data

    def same_data(self, other: Fingerprint) -> bool:
        return self.unordered == other.unordered

    def same_order(self, other: Fingerprint) -> bool:
        return self.ordered == other.ordered


def _canonical(value, ordered: bool):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {"{}": sorted(([_canonical(k, ordered), _canonical(v, ordered)] for k, v in value.items()), key=_dump)}
    if isinstance(value, (set, frozenset)):
        return {"set": sorted((_canonical(item, ordered) for item in value), key=_dump)}
    if isinstance(value, (list, tuple)) or hasattr(value, "_fields"):
        items = [_canonical(item, ordered) for item in value]
        return items if ordered else sorted(items, key=_dump)
    try:
        state = inspect(value)
    except NoInspectionAvailable:
        return _plain_object(value, ordered)
    mapper = getattr(state, "mapper", None)
    if mapper is None:
        return _plain_object(value, ordered)
    loaded = state.dict
    columns = {attr.key: _canonical(loaded[attr.key], ordered) for attr in mapper.column_attrs if attr.key in loaded}
    return {"entity": mapper.class_.__name__, "columns": columns}


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _plain_object(value, ordered: bool):
    """A value that is not an ORM object, by what it holds rather than where it lives in memory."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: _canonical(getattr(value, field.name), ordered) for field in dataclasses.fields(value)}
        return {"object": type(value).__qualname__, "fields": fields}
    if callable(value) and (pyinspect.isroutine(value) or isinstance(value, type)):
        return {"callable": f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}"}
    attributes = getattr(value, "__dict__", None)
    if attributes is not None and type(value).__repr__ is object.__repr__:
        return {"object": type(value).__qualname__,
                "fields": {key: _canonical(item, ordered) for key, item in attributes.items()}}
    return {"repr": _ADDRESS.sub("", repr(value))}


def _dump(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def fingerprint(data) -> Fingerprint:
    """Fingerprint of ``data`` (lists, tuples, dicts, scalars, rows, ORM objects, nested)."""
    items = len(data) if hasattr(data, "__len__") and not isinstance(data, (str, bytes)) else 1
    ordered = hashlib.sha256(_dump(_canonical(data, True)).encode()).hexdigest()[:16]
    unordered = hashlib.sha256(_dump(_canonical(data, False)).encode()).hexdigest()[:16]
    return Fingerprint(ordered, unordered, items)
