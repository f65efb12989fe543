"""The repository's files every user's server runs with, named in one place for the hub, tests and benchmarks.

``jupyter-config/`` configures the Jupyter server (Server-Timing headers, kernel preheating, prompt kernel
websockets, the dashboards' Voila template) and ``jupyter-data/`` holds that template. They only work together:
the configuration names a template that Jupyter finds through the data path.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def jupyter_environment(repo_root: Path = REPO_ROOT) -> dict[str, str]:
    return {
        "JUPYTER_CONFIG_PATH": str(repo_root / "jupyter-config"),
        "JUPYTER_PATH": str(repo_root / "jupyter-data"),
    }
