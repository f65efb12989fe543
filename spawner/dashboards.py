"""The dashboards the hub offers: read from ``notebooks/dashboards.json`` and put in each user's server.

The notebooks and their manifest are package data of ``notebooks`` (found, not imported: :func:`shipped_folder`).

The manifest lists the dashboards (pages to operate, preheated) and the studies (pages to read, such as the
deployment's cost comparison: opened cold, never preheated). The hub never imports the user side; it only reads
this manifest (for the home page's banners) and copies the listed notebooks of both into ``<home>/dashboards/``
before each start, so Voila serves them at
``/user/<name>/voila/render/dashboards/<notebook>``. That folder is refreshed at every start, like application
code: to change a dashboard, copy it elsewhere in your home.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

FOLDER = "dashboards"
# Read by the user side's preheating server extension (user_server/voila_preheat.py; a test checks the names match).
PREHEAT_VARIABLE = "WORKBENCH_PREHEAT_NOTEBOOKS"
POOL_SIZE_VARIABLE = "WORKBENCH_PREHEAT_POOL_SIZE"
WARM_KERNELS_VARIABLE = "WORKBENCH_WARM_KERNELS"
BUSY_THRESHOLD_VARIABLE = "WORKBENCH_PREHEAT_BUSY_THRESHOLD"
RELEASE_AFTER_VARIABLE = "WORKBENCH_PREHEAT_RELEASE_AFTER"
# How a user's server keeps dashboards quick to open: a kernel per dashboard that already ran it, or kernels that
# only imported the dashboards' code and run whichever one is opened (user_server/warm_kernels.py).
WARMING = ("pools", "kernels")


@dataclass(frozen=True)
class Dashboard:
    notebook: str
    title: str
    description: str


class ManifestError(ValueError):
    pass


def shipped_folder() -> Path:
    """The folder of the shipped notebooks and their manifest, in a checkout or an installed wheel alike."""
    spec = importlib.util.find_spec("notebooks")
    if spec is None or not spec.submodule_search_locations:
        raise ManifestError("The notebooks package is not installed beside the hub")
    return Path(spec.submodule_search_locations[0])


def shipped_manifest() -> Path:
    return shipped_folder() / "dashboards.json"


def load_manifest(path: Path, section: str = "dashboards") -> list[Dashboard]:
    """The manifest's dashboards, or with ``section="studies"`` its studies (a manifest without any: none)."""
    try:
        data = json.loads(path.read_text())
        entries = data["dashboards"] if section == "dashboards" else data.get(section, [])
        dashboards = [Dashboard(d["notebook"], d["title"], d["description"]) for d in entries]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ManifestError(f"{path}: {error!r}") from None
    for dashboard in dashboards:
        if Path(dashboard.notebook).name != dashboard.notebook or not dashboard.notebook.endswith(".ipynb"):
            raise ManifestError(f"{path}: {dashboard.notebook!r} is not a notebook file name in that folder")
        if not (path.parent / dashboard.notebook).is_file():
            raise ManifestError(f"{path}: {dashboard.notebook} is listed but missing")
    return dashboards


def load_studies(path: Path) -> list[Dashboard]:
    return load_manifest(path, "studies")


def install(dashboards: list[Dashboard], source: Path, home: Path) -> Path:
    """Copy the dashboards into ``home/dashboards`` (replacing older copies); return that folder."""
    target = home / FOLDER
    target.mkdir(parents=True, exist_ok=True)
    for dashboard in dashboards:
        shutil.copyfile(source / dashboard.notebook, target / dashboard.notebook)
    return target


def preheat_environment(dashboards: list[Dashboard], pool_size: int, warming: str = "pools",
                        busy_threshold: float | None = None, release_after: float | None = None) -> dict[str, str]:
    """What tells a user's server to keep ``pool_size`` kernels ready: per dashboard, having run it ("pools"), or
    for all of them, having imported their code ("kernels"); nothing when 0. ``busy_threshold``: the machine's CPU
    share in use above which they wait to start; ``release_after``: seconds without use after which they are shut
    down until the next use (None: the server's own default for either)."""
    if pool_size <= 0 or not dashboards:
        return {}
    notebooks = " ".join(f"{FOLDER}/{dashboard.notebook}" for dashboard in dashboards)
    if warming == "kernels":
        environment = {PREHEAT_VARIABLE: notebooks, POOL_SIZE_VARIABLE: "0", WARM_KERNELS_VARIABLE: str(pool_size)}
    else:
        environment = {PREHEAT_VARIABLE: notebooks, POOL_SIZE_VARIABLE: str(pool_size)}
    if busy_threshold is not None:
        environment[BUSY_THRESHOLD_VARIABLE] = repr(float(busy_threshold))
    if release_after is not None:
        environment[RELEASE_AFTER_VARIABLE] = repr(float(release_after))
    return environment
