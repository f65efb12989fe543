"""JupyterLab as the workbench opens it: the shipped notebooks in the person's file browser and the list the
launcher's "Profiler" section shows (jupyter_data/labextensions/profiler-workbench-launcher).

A server extension rather than configuration, so reading the configuration does no work: the copies are made when
the server starts, as the user, in their own home. Imports only the standard library and user_server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

from user_server.dashboard_only import DASHBOARD_VARIABLE

# Shipped notebooks a user gets a copy of in their file browser, beside the dashboards; each left out when missing.
TUTORIALS = ("data_models_tutorial.ipynb", "widgets_live_demo.ipynb", "widgets_inspect_demo.ipynb")
# Copies to read and change: the dashboards Voila shows are those in ~/dashboards, which the hub replaces at every
# start, so an edit there would be lost and one here never breaks a dashboard.
OWN_COPIES = "workbench-notebooks"


def shipped_notebooks() -> tuple[Path, list[dict], list[dict]] | None:
    """The folder of the shipped notebooks, its dashboards and its studies; found, never imported (as the hub
    does, spawner/dashboards.py)."""
    spec = importlib.util.find_spec("notebooks")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(spec.submodule_search_locations[0])
    try:
        manifest = json.loads((folder / "dashboards.json").read_text())
        return folder, manifest["dashboards"], manifest.get("studies", [])
    except (OSError, ValueError, KeyError, AttributeError):
        return None


def copy_missing(source: Path, names: list[str], target: Path) -> None:
    """Copy what is not there yet: a user's edited copy, or a file they put in its place, is theirs to keep; one
    they delete comes back, as shipped, at the next start."""
    target.mkdir(exist_ok=True)
    for name in names:
        if (source / name).is_file() and not os.path.lexists(target / name):
            shutil.copyfile(source / name, target / name)


def _jupyter_server_extension_points():
    return [{"module": "user_server.workbench_lab"}]


def _load_jupyter_server_extension(server_app) -> None:
    # a published dashboard's server shows one dashboard and no JupyterLab
    shipped = None if os.environ.get(DASHBOARD_VARIABLE) else shipped_notebooks()
    if shipped is None:
        return
    folder, dashboards, studies = shipped
    page_config = server_app.web_app.settings.setdefault("page_config_data", {})
    page_config["workbenchDashboards"] = [
        {"notebook": d["notebook"], "title": d["title"], "description": d["description"]} for d in dashboards]
    # Only a person's own server, started by the hub, fills their home.
    if not os.environ.get("JUPYTERHUB_SERVICE_PREFIX"):
        return
    try:
        copy_missing(folder, [d["notebook"] for d in dashboards + studies] + list(TUTORIALS),
                     Path.home() / OWN_COPIES)
    except OSError as error:  # a full disk or a file in the folder's place: JupyterLab opens all the same
        server_app.log.warning("The workbench notebooks were not copied into your home: %s", error)
