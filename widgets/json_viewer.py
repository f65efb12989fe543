"""JsonViewer: an interactive tree over any Python data that loads children from the kernel when expanded.

The data stays in the kernel. The widget's state holds only the root row and, for a small root, its first
level (so the first paint needs no round trip). Everything else is asked for by the browser with anywidget
commands (request/response messages matched by id): the children of one node in one range of at most
``PAGE_SIZE``, the matches of a search, the pages that lead down to one match, the JSON text of one node for
"copy value". Commands rather than traits because many requests can be in flight at once, each with its own
answer; a request trait would serialise them and a later request would overwrite an earlier one. Every answer
carries the data's revision, so an answer about data that has since been replaced is ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets
from anywidget.experimental import command

from widgets.json_tree import PAGE_SIZE, JsonTree, PathError

HERE = Path(__file__).parent
MIN_HEIGHT, MAX_HEIGHT = 80, 5000  # pixels: under 80 not one row shows, over 5000 it is no longer a viewer


class JsonViewer(anywidget.AnyWidget):
    _esm = HERE / "json_viewer.js"
    _css = HERE / "json_viewer.css"

    _root = traitlets.Dict().tag(sync=True)  # {"revision", "page_size", "row", "children": rows | None}
    height = traitlets.Int(420, help="Largest height of the tree in pixels; it scrolls inside.").tag(sync=True)

    def __init__(self, data: Any = None, *, root_name: str = "data", dynamodb: bool = True, **kwargs: Any):
        """Show ``data``; ``root_name`` starts every copied path; ``dynamodb`` shows {"N": "1"} as the number 1."""
        super().__init__(**kwargs)
        if not isinstance(root_name, str) or not root_name.isidentifier():
            raise ValueError(f"root_name must be a Python identifier, got {root_name!r}"[:200])
        if not isinstance(dynamodb, bool):
            raise ValueError(f"dynamodb must be True or False, got {dynamodb!r}"[:200])
        self._root_name = root_name
        self._dynamodb = dynamodb
        self._revision = 0
        self.data = data

    @traitlets.validate("height")
    def _valid_height(self, proposal) -> int:
        if not MIN_HEIGHT <= proposal["value"] <= MAX_HEIGHT:
            raise traitlets.TraitError(f"height must be from {MIN_HEIGHT} to {MAX_HEIGHT} pixels, "
                                       f"got {proposal['value']}")
        return proposal["value"]

    @property
    def data(self) -> Any:
        return self.tree.data

    @data.setter
    def data(self, value: Any) -> None:
        self.tree = JsonTree(value, self._root_name, self._dynamodb)
        self._revision += 1
        root = self.tree.root_row()
        first_level = self.tree.children([], 0, PAGE_SIZE) if root.get("n", 0) <= PAGE_SIZE and "n" in root else None
        self._root = {"revision": self._revision, "page_size": PAGE_SIZE, "row": root, "children": first_level}

    def _answer(self, msg: dict, work) -> tuple[dict, list]:
        if msg.get("revision") != self._revision:
            return {"stale": True}, []
        try:
            return {"revision": self._revision, **work()}, []
        except (PathError, ValueError, TypeError) as error:
            return {"error": str(error)}, []
        except Exception as error:  # noqa: BLE001 - without an answer the browser would wait for its timeout
            return {"error": f"{type(error).__name__}: {error}"}, []

    @command
    def _children(self, msg: dict, buffers: list) -> tuple[dict, list]:
        return self._answer(msg, lambda: {"rows": self.tree.children(*_fields(msg, "path", "start", "stop"))})

    @command
    def _reveal(self, msg: dict, buffers: list) -> tuple[dict, list]:
        return self._answer(msg, lambda: {"pages": self.tree.reveal(*_fields(msg, "path"))})

    @command
    def _search(self, msg: dict, buffers: list) -> tuple[dict, list]:
        return self._answer(msg, lambda: self.tree.search(str(*_fields(msg, "query"))))

    @command
    def _value(self, msg: dict, buffers: list) -> tuple[dict, list]:
        return self._answer(msg, lambda: {"text": self.tree.value_text(*_fields(msg, "path"))})


def _fields(msg: dict, *names: str) -> list:
    """The request's fields ``names``, checked: a request from the page is input like any other."""
    missing = [name for name in names if name not in msg]
    if missing:
        raise ValueError(f"the request has no {', '.join(missing)}")
    if "path" in names and (not isinstance(msg["path"], list)
                            or not all(isinstance(p, int) and not isinstance(p, bool) for p in msg["path"])):
        raise ValueError("path must be a list of child positions (whole numbers)")
    for name in ("start", "stop"):
        if name in names and (not isinstance(msg[name], int) or isinstance(msg[name], bool)):
            raise ValueError(f"{name} must be a whole number, got {msg[name]!r}"[:200])
    return [msg[name] for name in names]
