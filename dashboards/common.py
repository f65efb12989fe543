"""What every dashboard shares: who is looking (owner or viewer of a shared copy), the wording of the parts
each one has, and the HTML of a list of problems."""

from __future__ import annotations

import html
from typing import Mapping

# Set by the hub for a published dashboard's (Voila-only) server: spawner/sharing.py VIEWER_VARIABLE.
VIEWER_ENV = "WORKBENCH_DASHBOARD_VIEWER"
INSPECT_TITLE = "Inspect the data"
NOT_YET = "<p class='workbench-muted'>Run the comparison to see this.</p>"


def is_viewer(environ: Mapping[str, str]) -> bool:
    return environ.get(VIEWER_ENV, "").strip().lower() in {"1", "true", "yes"}


def problems_html(problems: list[str], *, warning: bool = False) -> str:
    items = "".join(f"<li>{html.escape(problem)}</li>" for problem in problems)
    if warning:
        return f"<ul class='workbench-warning' role='status'>{items}</ul>"
    return f"<ul class='workbench-error' role='alert'>{items}</ul>"
