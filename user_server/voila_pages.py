"""What the dashboards' Voila pages load: no front-end extension they do not use.

Voila loads every JupyterLab extension installed in the environment into every page. Two of them do nothing
for the dashboards, whose plots are the Figure widget (``widgets/figure.py``, plotly.js once per page):
``jupyterlab-plotly`` (plotly's renderer for ``fig.show()`` output, a 4.8 MB script downloaded and parsed on
every page load) and Notebook 7's own lab extension. Nor do they need MathJax, which Voila fetches from a CDN.
Leaving these out of the dashboards' pages measured, for a preheated query-optimization page over 12
alternating loads: median 2.62 vs 2.84 s to interactive, fastest 1.19 vs 1.62 s. Other notebooks keep them: a
notebook of the user's own that shows a plotly figure in Voila needs ``jupyterlab-plotly``.

Configured for users' servers in ``user_server/jupyter_config/jupyter_server_config.py`` as Voila's
``page_config_hook``.
"""

from __future__ import annotations

from typing import Any

# The folder the hub fills with the dashboards at every start (spawner/dashboards.py FOLDER).
DASHBOARDS_FOLDER = "dashboards"
UNUSED_BY_DASHBOARDS = ("jupyterlab-plotly", "@jupyter-notebook/lab-extension", "profiler-workbench-launcher")


def is_dashboard(notebook_path: str | None) -> bool:
    return bool(notebook_path) and notebook_path.replace("\\", "/").lstrip("/").startswith(DASHBOARDS_FOLDER + "/")


def dashboard_page_config(page_config: dict[str, Any], *, notebook_path: str | None = None, **_: Any) -> dict[str, Any]:
    """Voila's ``page_config_hook``: the page configuration without the extensions dashboards do not use."""
    if not is_dashboard(notebook_path):
        return page_config
    extensions = page_config.get("federated_extensions", [])
    page_config["federated_extensions"] = [ext for ext in extensions if ext.get("name") not in UNUSED_BY_DASHBOARDS]
    # No math in the dashboards: Voila's front end skips its MathJax plugin (fetched from a CDN) when both are "null"
    page_config["fullMathjaxUrl"] = page_config["mathjaxConfig"] = "null"
    return page_config
