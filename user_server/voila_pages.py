"""What the dashboards' Voila pages load: no front-end extension they do not use.

Voila loads every JupyterLab extension installed in the environment into every page. Three of them do nothing
for the dashboards, whose plots are the Figure widget (``widgets/figure.py``, plotly.js once per page):
``jupyterlab-plotly`` (plotly's renderer for ``fig.show()`` output, a 4.8 MB script downloaded and parsed on
every page load), Notebook 7's own lab extension and the workbench's own (the launcher's section and a light
plotly renderer). Nor do they need MathJax, which Voila fetches from a CDN. Leaving these out of the dashboards'
pages measured, for a preheated query-optimization page over 12 alternating loads: median 2.62 vs 2.84 s to
interactive, fastest 1.19 vs 1.62 s. Other notebooks keep them.

A notebook the user published (``dashboards/published/``, a snapshot of their own) is not one of ours: its page
draws ``fig.show()`` figures with the light renderer of the workbench's extension (in ``jupyter_data``; plotly's
basic bundle, run and drawn in tasks of their own as the page starts), so it keeps that extension and never loads
plotly's. The report of ``benchmarks/dashboard.py --published-only`` from a preheated published
server, over 8 loads alternating between the two page configurations on one 2-core machine (load average 1.6-3.7):
median 3.84 s to interactive with ``jupyterlab-plotly``, 2.54 s with the light renderer, and 2.32 s when the
chart's script was held back so it never ran (the page without the chart's cost). It keeps MathJax when its text
holds a ``$``; otherwise it loads as lightly as the built-in ones.

A study (the manifest's ``studies``, such as the deployment's cost comparison) is ours and shown from the same
folder, but draws its charts with ``fig.show()`` like a published notebook: it keeps the light renderer, and its
``$`` are prices, not mathematics.

Configured for users' servers in ``user_server/jupyter_config/jupyter_server_config.py`` as Voila's
``page_config_hook``.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from user_server.workbench_lab import shipped_notebooks

# The folder the hub fills with the dashboards at every start (spawner/dashboards.py FOLDER).
DASHBOARDS_FOLDER = "dashboards"
PLOTLY_EXTENSION = "jupyterlab-plotly"
WORKBENCH_EXTENSION = "profiler-workbench-launcher"
UNUSED_BY_DASHBOARDS = (PLOTLY_EXTENSION, "@jupyter-notebook/lab-extension", WORKBENCH_EXTENSION)
# Where the hub puts the snapshots of the notebooks users publish (spawner/published.py OWN_FOLDER).
PUBLISHED_FOLDER = DASHBOARDS_FOLDER + "/published"


def is_dashboard(notebook_path: str | None) -> bool:
    return bool(notebook_path) and notebook_path.replace("\\", "/").lstrip("/").startswith(DASHBOARDS_FOLDER + "/")


def is_published(notebook_path: str) -> bool:
    return notebook_path.replace("\\", "/").lstrip("/").startswith(PUBLISHED_FOLDER + "/")


@functools.lru_cache(maxsize=1)
def _study_paths() -> frozenset[str]:
    shipped = shipped_notebooks()
    return frozenset(f"{DASHBOARDS_FOLDER}/{study['notebook']}" for study in shipped[2]) if shipped else frozenset()


def is_study(notebook_path: str) -> bool:
    return notebook_path.replace("\\", "/").lstrip("/") in _study_paths()


@functools.lru_cache(maxsize=64)
def _has_math(path: str, _version: tuple[int, int]) -> bool:
    try:
        with open(path, encoding="utf-8") as file:
            cells = json.load(file).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return True  # unreadable here: Voila will say so; load MathJax rather than guess
    return "$" in "\n".join("".join(cell.get("source", "")) for cell in cells
                            if isinstance(cell, dict) and cell.get("cell_type") == "markdown")


def published_has_math(notebook_path: str, root_dir: str) -> bool:
    """Whether a published notebook's page needs MathJax (its text is read once per snapshot)."""
    path = os.path.join(root_dir, notebook_path)
    try:
        found = os.stat(path)
    except OSError:
        return True
    return _has_math(path, (found.st_mtime_ns, found.st_size))


def _workbench_last(extensions: list[dict]) -> list[dict]:
    # Voila registers the mime renderers in this order and a later renderer of a MIME type replaces an earlier
    # one whatever their ranks (RenderMimeRegistry.addFactory); Jupyter lists this extension first (JUPYTER_PATH
    # comes before the environment's folder), which left fig.show() to plotly's renderer on other notebooks' pages.
    # There plotly's extension is loaded anyway, yet drawing with the light renderer measured better: the
    # benchmark's report unpublished, in a user's server with nothing preheated, 8 alternating loads: median 4.63
    # vs 5.51 s to interactive (from the kernel's websocket opening: 0.63 vs 1.59 s).
    return ([ext for ext in extensions if ext.get("name") != WORKBENCH_EXTENSION]
            + [ext for ext in extensions if ext.get("name") == WORKBENCH_EXTENSION])


def dashboard_page_config(page_config: dict[str, Any], *, notebook_path: str | None = None,
                          settings: dict | None = None, **_: Any) -> dict[str, Any]:
    """Voila's ``page_config_hook``: the page configuration without the extensions dashboards do not use, and the
    workbench's plotly renderer registered after plotly's own where a page loads both."""
    if "federated_extensions" in page_config:
        page_config["federated_extensions"] = _workbench_last(page_config["federated_extensions"])
    if not is_dashboard(notebook_path):
        return page_config
    unused = UNUSED_BY_DASHBOARDS
    math = False
    if is_published(notebook_path) or is_study(notebook_path):
        unused = tuple(name for name in UNUSED_BY_DASHBOARDS if name != WORKBENCH_EXTENSION)
    if is_published(notebook_path):
        math = published_has_math(notebook_path, (settings or {}).get("server_root_dir") or os.getcwd())
    extensions = page_config.get("federated_extensions", [])
    page_config["federated_extensions"] = [ext for ext in extensions if ext.get("name") not in unused]
    if not math:  # Voila's front end skips its MathJax plugin (fetched from a CDN) when both are "null"
        page_config["fullMathjaxUrl"] = page_config["mathjaxConfig"] = "null"
    return page_config
