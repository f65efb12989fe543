"""Which notebooks' Voila pages leave out the front-end extensions the dashboards do not use."""

from __future__ import annotations

from user_server.voila_pages import UNUSED_BY_DASHBOARDS, dashboard_page_config
from spawner.dashboards import FOLDER


def page_config() -> dict:
    names = ["@jupyter-widgets/jupyterlab-manager", "anywidget", *UNUSED_BY_DASHBOARDS]
    extensions = [{"name": name, "load": f"{name}/remoteEntry.js"} for name in names]
    return {"baseUrl": "/", "federated_extensions": extensions}


def names(config: dict) -> list[str]:
    return [extension["name"] for extension in config["federated_extensions"]]


def test_a_dashboard_page_keeps_the_widgets_and_drops_the_rest():
    config = dashboard_page_config(page_config(), notebook_path=f"{FOLDER}/query_optimization.ipynb", base_url="/")
    assert names(config) == ["@jupyter-widgets/jupyterlab-manager", "anywidget"]
    assert config["fullMathjaxUrl"] == config["mathjaxConfig"] == "null"  # Voila's front end: no MathJax
    assert config["baseUrl"] == "/"


def test_other_notebooks_keep_every_extension():
    for path in ("analysis.ipynb", "work/dashboards/copy.ipynb", "dashboards_old/x.ipynb", None):
        assert dashboard_page_config(page_config(), notebook_path=path) == page_config()
