"""DataTable: a sortable table of records whose rows the user can select or open, for any dashboard's tables.

Rows are plain dicts (one key per column plus the row's key); the browser sorts them when a header is clicked and
formats each cell by its column's kind, so the kernel sends raw values and the sort stays numeric. The selection
(row keys, in the order the user picked them) and the sort come back as traits, so a dashboard reacts to them with
``observe``. A long table gets a search box (``searchable``) and pages (``page_size``); a row the user opens
(``openable``: a click or Enter) is named by ``activated``.
"""

from __future__ import annotations

import math
import pathlib
from typing import Any, Mapping, Sequence

import anywidget
import traitlets

KINDS = ("text", "number", "datetime", "duration", "bool")
SELECTABLE = ("none", "single", "multiple")


def _normalise_column(entry, index: int) -> dict:
    spec = {"key": entry} if isinstance(entry, str) else dict(entry)
    key = spec.get("key")
    if not isinstance(key, str) or not key:
        raise traitlets.TraitError(f"column #{index} needs a non-empty string 'key', got {entry!r}")
    spec.setdefault("label", key)
    spec.setdefault("kind", "text")
    if spec["kind"] not in KINDS:
        raise traitlets.TraitError(f"column {key!r}: kind must be one of {KINDS}, got {spec['kind']!r}")
    digits = spec.get("digits")
    if digits is not None and (not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 6):
        raise traitlets.TraitError(f"column {key!r}: digits must be an integer from 0 to 6, got {digits!r}")
    if not isinstance(spec.get("wrap", False), bool):
        raise traitlets.TraitError(f"column {key!r}: wrap must be True or False, got {spec['wrap']!r}")
    unknown = set(spec) - {"key", "label", "kind", "unit", "digits", "wrap"}
    if unknown:
        raise traitlets.TraitError(f"column {key!r}: unknown keys {sorted(unknown)}")
    return spec


def _cell(value: Any) -> Any:
    # NaN and infinities are not JSON: they travel as "no value", which the view shows as a dash.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class DataTable(anywidget.AnyWidget):
    """``DataTable(columns=[{"key": "p99", "label": "p99", "kind": "number", "unit": "ms"}], rows=[...])``.

    Column kinds: ``text`` (``wrap: True`` lets long text run onto more lines); ``number`` (right-aligned,
    ``unit`` and ``digits`` optional); ``datetime`` (an ISO 8601 string, shown in the viewer's local time);
    ``duration`` (seconds); ``bool`` (✓ or ✗). Each row needs ``row_key``'s value.
    """

    _esm = pathlib.Path(__file__).with_suffix(".js")
    _css = pathlib.Path(__file__).with_suffix(".css")

    columns = traitlets.List().tag(sync=True)
    rows = traitlets.List().tag(sync=True)
    row_key = traitlets.Unicode("id").tag(sync=True)
    selectable = traitlets.Enum(SELECTABLE, "multiple").tag(sync=True)
    selection = traitlets.List(traitlets.Unicode(), help="keys of the selected rows, in the order picked").tag(
        sync=True)
    sort_by = traitlets.Unicode("", help="the column key the rows are sorted by; '' keeps the given order").tag(
        sync=True)
    descending = traitlets.Bool(False).tag(sync=True)
    label = traitlets.Unicode("", help="the table's accessible name (the page gives it a visible heading)").tag(
        sync=True)
    empty_text = traitlets.Unicode("Nothing to show yet.").tag(sync=True)
    max_height = traitlets.Int(360, help="pixels; taller tables scroll under a fixed header").tag(sync=True)
    searchable = traitlets.Bool(False, help="a search box that keeps the rows containing its text").tag(sync=True)
    page_size = traitlets.Int(0, min=0, help="rows per page; 0 shows them all").tag(sync=True)
    openable = traitlets.Bool(False, help="a click on a row (or Enter on it) opens it: see activated").tag(
        sync=True)
    activated = traitlets.Unicode("", help="the key of the row the user opened last; '' for none").tag(sync=True)

    def __init__(self, columns: Sequence[str | Mapping] = (), rows: Sequence[Mapping] = (), **kwargs):
        # Rows are checked against row_key, and the selection and the sort against rows and columns: set in that order.
        later = {name: kwargs.pop(name) for name in ("sort_by", "selection", "activated") if name in kwargs}
        super().__init__(**kwargs)
        with self.hold_sync():
            self.columns = list(columns)
            self.rows = list(rows)
            for name, value in later.items():
                setattr(self, name, value)

    @traitlets.validate("columns")
    def _validate_columns(self, proposal):
        specs = [_normalise_column(entry, index) for index, entry in enumerate(proposal["value"])]
        keys = [spec["key"] for spec in specs]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise traitlets.TraitError(f"column keys must be unique, repeated: {duplicates}")
        return specs

    @traitlets.validate("rows")
    def _validate_rows(self, proposal):
        rows, seen = [], set()
        for index, row in enumerate(proposal["value"]):
            if not isinstance(row, Mapping):
                raise traitlets.TraitError(f"row #{index} must be a mapping, got {type(row).__name__}")
            key = row.get(self.row_key)
            if key is None or key == "":
                raise traitlets.TraitError(f"row #{index} has no {self.row_key!r} (the row_key)")
            key = str(key)
            if key in seen:
                raise traitlets.TraitError(f"row keys must be unique, {key!r} is repeated")
            seen.add(key)
            rows.append({**{name: _cell(value) for name, value in row.items()}, self.row_key: key})
        return rows

    @traitlets.validate("selection")
    def _validate_selection(self, proposal):
        # A selection from the page can name a row the kernel has just replaced: only rows that exist stay.
        known = {row[self.row_key] for row in self.rows}
        picked = list(dict.fromkeys(key for key in proposal["value"] if key in known))
        if self.selectable == "none":
            return []
        return picked[-1:] if self.selectable == "single" else picked

    @traitlets.validate("sort_by")
    def _validate_sort_by(self, proposal):
        key = proposal["value"]
        if key and key not in {spec["key"] for spec in self.columns}:
            raise traitlets.TraitError(f"sort_by must be a column key or '', got {key!r}")
        return key

    @traitlets.validate("activated")
    def _validate_activated(self, proposal):
        key = proposal["value"]
        return key if key in {row[self.row_key] for row in self.rows} else ""

    @traitlets.observe("rows")
    def _forget_activated(self, _change):
        if self.activated and self.activated not in {row[self.row_key] for row in self.rows}:
            self.activated = ""

    @traitlets.observe("rows", "selectable")
    def _prune_selection(self, _change):
        pruned = self._validate_selection({"value": self.selection})
        if pruned != self.selection:
            self.selection = pruned

    @property
    def selected_rows(self) -> list[dict]:
        """The selected rows, in the order they were picked."""
        by_key = {row[self.row_key]: row for row in self.rows}
        return [by_key[key] for key in self.selection]

    @property
    def activated_row(self) -> dict | None:
        """The row the user opened last, or None."""
        return next((row for row in self.rows if row[self.row_key] == self.activated), None)
