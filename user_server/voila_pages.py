"""What the dashboards' Voila pages load: no front-end extension they do not use.

Voila loads every JupyterLab extension installed in the environment into every page. Two of them do nothing
for the dashboards, whose plots are the Figure widget (``widgets/figure.py``, plotly.js once per page):
``jupyterlab-plotly`` (plotly's renderer for ``fig.show()`` output, a 4.8 MB script downloaded and parsed on
every page load) and Notebook 7's own lab extension. Nor do they need MathJax, which Voila fetches from a CDN.
Leaving these out of the dashboards' pages measured, for a preheated query-optimization page over 12
alternating loads: median 2.62 vs 2.84 s to interactive, fastest 1.19 vs 1.62 s. Other notebooks keep them: a
notebook of the user's own that shows a plotly figure in Voila needs ``jupyterlab-plotly``.

A notebook the user published (``dashboards/published/``, a snapshot of their own) is not one of ours: its page
keeps ``jupyterlab-plotly`` when its code names plotly, and MathJax when its text holds a ``$``; otherwise it
loads as lightly as the built-in ones.

Configured for users' servers in ``user_server/jupyter_config/jupyter_server_config.py`` as Voila's
``page_config_hook``.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

# The folder the hub fills with the dashboards at every start (spawner/dashboards.py FOLDER).
DASHBOARDS_FOLDER = "dashboards"
UNUSED_BY_DASHBOARDS = ("jupyterlab-plotly", "@jupyter-notebook/lab-extension", "profiler-workbench-launcher")
PLOTLY_EXTENSION = "jupyterlab-plotly"
# Where the hub puts the snapshots of the notebooks users publish (spawner/published.py OWN_FOLDER).
PUBLISHED_FOLDER = DASHBOARDS_FOLDER + "/published"


def is_dashboard(notebook_path: str | None) -> bool:
    return bool(notebook_path) and notebook_path.replace("\\", "/").lstrip("/").startswith(DASHBOARDS_FOLDER + "/")


def is_published(notebook_path: str) -> bool:
    return notebook_path.replace("\\", "/").lstrip("/").startswith(PUBLISHED_FOLDER + "/")


@functools.lru_cache(maxsize=64)
def _needs(path: str, _version: tuple[int, int]) -> tuple[bool, bool]:
    try:
        with open(path, encoding="utf-8") as file:
            cells = json.load(file).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return True, True  # unreadable here: Voila will say so; load everything rather than guess
    def text(kind: str) -> str:
        return "\n".join("".join(cell.get("source", "")) for cell in cells
                         if isinstance(cell, dict) and cell.get("cell_type") == kind)
    return "plotly" in text("code"), "$" in text("markdown")


def published_needs(notebook_path: str, root_dir: str) -> tuple[bool, bool]:
    """Whether a published notebook's page needs plotly's renderer and MathJax (read once per snapshot)."""
    path = os.path.join(root_dir, notebook_path)
    try:
        found = os.stat(path)
    except OSError:
        return True, True
    return _needs(path, (found.st_mtime_ns, found.st_size))


def dashboard_page_config(page_config: dict[str, Any], *, notebook_path: str | None = None,
                          settings: dict | None = None, **_: Any) -> dict[str, Any]:
    """Voila's ``page_config_hook``: the page configuration without the extensions dashboards do not use."""
    if not is_dashboard(notebook_path):
        return page_config
    plotly = math = False
    if is_published(notebook_path):
        plotly, math = published_needs(notebook_path, (settings or {}).get("server_root_dir") or os.getcwd())
    unused = [name for name in UNUSED_BY_DASHBOARDS if not (plotly and name == PLOTLY_EXTENSION)]
    extensions = page_config.get("federated_extensions", [])
    page_config["federated_extensions"] = [ext for ext in extensions if ext.get("name") not in unused]
    if not math:  # Voila's front end skips its MathJax plugin (fetched from a CDN) when both are "null"
        page_config["fullMathjaxUrl"] = page_config["mathjaxConfig"] = "null"
    return page_config
