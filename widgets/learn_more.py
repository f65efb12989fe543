"""LearnMore: a button that opens an accessible modal with rich content (markdown or HTML).

The modal is the browser's own ``<dialog>`` opened with ``showModal()``: it sits in the top layer above
JupyterLab's and Voila's panels and makes the rest of the page inert. The ES module adds what ``<dialog>``
leaves out: closing on a click outside, Esc even where JupyterLab claims the key, a focus trap that never
lets Tab reach the browser's toolbar, and focus returned to the button.

The content is trusted: it is written by the notebook's author and inserted as HTML, like any HTML output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import anywidget
import mistune
import traitlets

HERE = Path(__file__).parent


def markdown_to_html(text: str) -> str:
    return mistune.html(text)


class LearnMore(anywidget.AnyWidget):
    _esm = HERE / "learn_more.js"
    _css = HERE / "learn_more.css"

    label = traitlets.Unicode("Learn more", help="Text of the button that opens the modal.").tag(sync=True)
    title = traitlets.Unicode(help="Heading of the modal; also its accessible name.").tag(sync=True)
    content = traitlets.Unicode(help="Body of the modal, in the format named by content_format.")
    content_format = traitlets.Enum(["markdown", "html"], default_value="markdown")
    is_open = traitlets.Bool(
        False, help="Whether the modal is open; set it to open or close from Python."
    ).tag(sync=True)
    _html = traitlets.Unicode().tag(sync=True)

    def __init__(
        self,
        content: str = "",
        *,
        title: str,
        label: str = "Learn more",
        content_format: Literal["markdown", "html"] = "markdown",
        **kwargs: Any,
    ):
        if not title.strip():
            raise ValueError("a LearnMore modal needs a title: it is the dialog's accessible name")
        super().__init__(content=content, title=title, label=label, content_format=content_format, **kwargs)
        self._render_content()

    @traitlets.observe("content", "content_format")
    def _render_content(self, change: dict | None = None) -> None:
        self._html = markdown_to_html(self.content) if self.content_format == "markdown" else self.content

    def show_modal(self) -> None:
        self.is_open = True

    def hide_modal(self) -> None:
        self.is_open = False
