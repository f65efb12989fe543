"""Message: the one way a dashboard tells the user something: an error, a warning, a note or a success.

Every dashboard shows its outcomes through this widget, so they look and read the same everywhere: an error is
announced to screen readers at once (``role="alert"``), the rest politely (``role="status"``). The text is what
the user reads; :func:`plain_reason` turns the raw messages of libraries (SQLite, Python's parser) into
sentences that say what to change.
"""

from __future__ import annotations

import pathlib
import re
from typing import Iterable

import anywidget
import traitlets

KINDS = ("error", "warning", "info", "success")


class Message(anywidget.AnyWidget):
    """``message.error("Concurrency must be from 1 to 500, not 0.")``; ``message.clear()``.

    ``items`` are the sentences (several problems of one form are listed together); ``title`` an optional
    bold lead. ``value`` is the whole text as one string ("" when nothing is shown), for cells and tests.
    """

    _esm = pathlib.Path(__file__).with_suffix(".js")
    _css = pathlib.Path(__file__).with_suffix(".css")

    kind = traitlets.Enum(("", *KINDS), "", help="'' shows nothing").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    items = traitlets.List(traitlets.Unicode()).tag(sync=True)

    def show(self, kind: str, items: str | Iterable[str], *, title: str = "") -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        items = [items] if isinstance(items, str) else [str(item) for item in items]
        if not items and not title:
            raise ValueError("a message needs a title or at least one sentence")
        with self.hold_sync():
            self.title, self.items, self.kind = title, items, kind

    def error(self, items: str | Iterable[str], *, title: str = "") -> None:
        self.show("error", items, title=title)

    def warning(self, items: str | Iterable[str], *, title: str = "") -> None:
        self.show("warning", items, title=title)

    def info(self, items: str | Iterable[str], *, title: str = "") -> None:
        self.show("info", items, title=title)

    def success(self, items: str | Iterable[str], *, title: str = "") -> None:
        self.show("success", items, title=title)

    def clear(self) -> None:
        with self.hold_sync():
            self.kind, self.title, self.items = "", "", []

    @property
    def value(self) -> str:
        return " ".join(part for part in (self.title, *self.items) if part)


_SQLITE_READ_ONLY = re.compile(r"attempt to write a readonly database", re.IGNORECASE)
_POSTGRES_READ_ONLY = re.compile(r"read-only transaction|permission denied for (table|schema|relation)", re.I)
_LOCKED = re.compile(r"database is locked", re.IGNORECASE)
_NO_TABLE = re.compile(r"no such table: (\w+)|relation \"(\w+)\" does not exist", re.IGNORECASE)


def syntax_reason(field: str, error: SyntaxError) -> str:
    """``Workload, line 3: invalid syntax`` rather than ``SyntaxError: invalid syntax (<unknown>, line 3)``."""
    where = f"line {error.lineno}" if error.lineno else "its text"
    if error.lineno and error.offset:
        where += f", column {error.offset}"
    return f"{field}, {where}: {error.msg or 'invalid syntax'}"


def plain_reason(error: BaseException | str, *, field: str = "") -> str:
    """What to tell the user about ``error``: a known raw library message in words that say what to do; any
    other error's own message, without the exception's class name or a traceback."""
    if isinstance(error, SyntaxError):
        return syntax_reason(field or "The text", error)
    text = str(error).strip()
    # "ProgrammingError: (sqlite3.OperationalError) ..." keeps its last, most specific part.
    text = re.sub(r"^\(?(?:[a-z_]\w*\.)*[A-Z]\w*(Error|Exception|Unavailable|Timeout)\)?:?\s*", "", text)
    text = re.sub(r"^\([\w.]+\)\s*", "", text)
    # an exception's repr, as engines store it: ConnectionError('the endpoint went away') says its message
    quoted = re.fullmatch(r"\((['\"])(.*)\1,?\)", text, flags=re.DOTALL)
    if quoted:
        text = quoted.group(2)
    text = text.split("\n[SQL:")[0].split("\n(Background on this error")[0].strip()
    if _SQLITE_READ_ONLY.search(text) or _POSTGRES_READ_ONLY.search(text):
        return ("This data is read-only here: the database refused the change. Work on a copy you own (your "
                "own models or a generated sample).")
    if _LOCKED.search(text):
        return "The database is busy with another change: try again in a moment."
    missing = _NO_TABLE.search(text)
    if missing:
        table = missing.group(1) or missing.group(2)
        return f"The table {table} is not in this database any more: refresh the page's lists and try again."
    return text or type(error).__name__
