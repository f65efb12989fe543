"""Where the files every user's server runs with are: found, never imported (the hub side does not import the
user side).

``user_server/jupyter_config/`` configures the Jupyter server (Server-Timing headers, kernel preheating, prompt
kernel websockets, the dashboards' Voila template, JupyterLab's defaults, and the copies of the shipped notebooks
in ``~/workbench-notebooks``) and ``user_server/jupyter_data/`` holds that template, those defaults
(``lab/settings/overrides.json``) and the launcher's "Profiler" section (a prebuilt JupyterLab extension). They only
work together: the configuration names a template and a settings folder that Jupyter finds through the data path.
Both are package data of ``user_server``, so they are found the same way in a checkout and in an installed wheel.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def user_server_folder() -> Path:
    # find_spec locates a top-level package without running it
    spec = importlib.util.find_spec("user_server")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The user_server package is not installed beside the hub")
    return Path(spec.submodule_search_locations[0])


def jupyter_environment(folder: Path | None = None) -> dict[str, str]:
    folder = folder or user_server_folder()
    return {
        "JUPYTER_CONFIG_PATH": str(folder / "jupyter_config"),
        "JUPYTER_PATH": str(folder / "jupyter_data"),
    }
