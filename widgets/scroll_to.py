"""ScrollTo: scroll the page to a named section when Python asks, in Voila and in JupyterLab.

The browser finds the section by element id or by heading text (case, spaces, hyphens and underscores
ignored, so "Inspect the data", "inspect-the-data" and JupyterLab's "Inspect-the-data" anchor all match) and
calls ``scrollIntoView`` on it, which scrolls whichever element actually scrolls: ``div#rendered_cells`` in
Voila, the notebook panel in JupyterLab, the window elsewhere.

A request is a synced trait with a sequence number rather than a one-off message, so a request made before
the widget is on the page (a cell that runs during Voila's execution) is carried out when it appears.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import traitlets

HERE = Path(__file__).parent


class ScrollTo(anywidget.AnyWidget):
    _esm = HERE / "scroll_to.js"

    _request = traitlets.Dict().tag(sync=True)  # {"seq", "target", "smooth", "focus"}
    last_result = traitlets.Dict(
        help='Set by the browser after each request: {"seq", "target", "found"}; found is False if no section matched.'
    ).tag(sync=True)

    def scroll_to(self, target: str, *, smooth: bool = True, focus: bool = True) -> None:
        """Scroll to the element with id ``target`` or the heading whose text is ``target``.

        ``focus`` moves keyboard focus to the section too, so keyboard and screen-reader users land there.
        """
        if not isinstance(target, str) or not target.strip():
            raise ValueError(f"target must be a section id or heading text, got {target!r}")
        seq = self._request.get("seq", 0) + 1
        self._request = {"seq": seq, "target": target.strip(), "smooth": smooth, "focus": focus}


def section_id(title: str) -> str:
    """The anchor id for a section title: "Inspect the data" -> "inspect-the-data"."""
    slug = re.sub(r"[^\w]+", "-", title.strip().lower(), flags=re.UNICODE).strip("-")
    if not slug:
        raise ValueError(f"cannot make a section id from {title!r}")
    return slug


def section_anchor(title: str, *, anchor: str | None = None, level: int = 2, **kwargs: Any) -> ipywidgets.HTML:
    """A heading widget that ScrollTo can target by its id (``section_id(title)`` unless given) or its text."""
    if not 1 <= level <= 6:
        raise ValueError(f"heading level must be 1..6, got {level}")
    anchor = anchor or section_id(title)
    return ipywidgets.HTML(f'<h{level} id="{html.escape(anchor)}">{html.escape(title)}</h{level}>', **kwargs)
