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


def test_the_workbench_renderer_is_registered_after_plotlys_own():
    # Jupyter lists the workbench's extension first (its data folder comes first); Voila registers mime renderers
    # in the list's order, and of two renderers of one type the later one draws
    listed = page_config()
    listed["federated_extensions"].sort(key=lambda ext: ext["name"] != "profiler-workbench-launcher")
    assert names(listed)[0] == "profiler-workbench-launcher"
    config = dashboard_page_config(listed, notebook_path="analysis.ipynb")
    assert sorted(names(config)) == sorted(names(page_config()))
    assert names(config)[-1] == "profiler-workbench-launcher"


def test_a_published_notebook_draws_plotly_with_the_light_renderer_and_keeps_math_only_when_it_uses_it(tmp_path):
    import nbformat

    folder = tmp_path / FOLDER / "published"
    folder.mkdir(parents=True)

    def published(name: str, code: str, text: str) -> dict:
        book = nbformat.v4.new_notebook()
        book.cells = [nbformat.v4.new_markdown_cell(text), nbformat.v4.new_code_cell(code)]
        (folder / name).write_text(nbformat.writes(book))
        return dashboard_page_config(page_config(), notebook_path=f"{FOLDER}/published/{name}",
                                     settings={"server_root_dir": str(tmp_path)})

    # the workbench's extension holds the renderer of fig.show() output that replaces plotly's own
    charted = published("chart.ipynb", "import plotly.express as px\npx.bar(x=[1], y=[2]).show()", "# Sales")
    assert names(charted) == ["@jupyter-widgets/jupyterlab-manager", "anywidget", "profiler-workbench-launcher"]
    assert charted["fullMathjaxUrl"] == charted["mathjaxConfig"] == "null"
    plain = published("plain.ipynb", "print('hello')", "Costs in $ per request")
    assert "jupyterlab-plotly" not in names(plain) and "profiler-workbench-launcher" in names(plain)
    assert plain.get("fullMathjaxUrl") != "null"  # its text may hold math
    # republished under the same name with math: the page follows the new snapshot
    again = published("chart.ipynb", "print('no chart now')", "Sales in $")
    assert again.get("fullMathjaxUrl") != "null"
    assert "jupyterlab-plotly" not in names(again)


def test_a_study_draws_its_figures_with_the_light_renderer_and_its_dollars_are_prices():
    config = dashboard_page_config(page_config(), notebook_path=f"{FOLDER}/serverless_comparison.ipynb")
    assert names(config) == ["@jupyter-widgets/jupyterlab-manager", "anywidget", "profiler-workbench-launcher"]
    assert config["fullMathjaxUrl"] == config["mathjaxConfig"] == "null"
    # a user's notebook of the same name elsewhere is no study
    assert dashboard_page_config(page_config(), notebook_path="serverless_comparison.ipynb") == page_config()
