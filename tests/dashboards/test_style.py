"""Every CSS class the dashboards emit is defined in their one stylesheet, and the stylesheet defines nothing else.

Two looks: the source (every class written in a dashboard module, whether or not a test reaches the code that
emits it) and the pages themselves (each dashboard built in-process, and the HTML its results are shown in).
"""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import ipywidgets as w
import pytest

import dashboards
from dashboards import caching
from dashboards.caching import CachingDashboard
from dashboards.conversations import ConversationsDashboard
from dashboards.data_models import DataModelsDashboard
from dashboards.load_test import LoadTestDashboard
from dashboards.query_optimization import QueryOptimizationDashboard
from dashboards.style import STYLESHEET
from profiler.cache import CacheComparison, InvalidationDemo, RunStats
from profiler.loadtest import FileRunStore
from profiler.queries import default_engine

DASHBOARDS = sorted(Path(dashboards.__file__).parent.glob("*.py"))
# A class a dashboard names; "workbench-models-" (a folder's prefix) and "workbench:..." (a key) are not.
CLASS_NAME = re.compile(r"workbench-[a-z0-9]+(?:-[a-z0-9]+)*")
CLASS_ATTRIBUTE = re.compile(r"""class=(['"])([^'"]*)\1""")


def defined_classes() -> set[str]:
    css = re.sub(r"/\*.*?\*/", "", STYLESHEET, flags=re.S)
    selectors = re.sub(r"\{[^}]*\}", " ", css)  # declarations hold numbers like 0.3em, not classes
    return set(re.findall(r"\.(-?[_a-zA-Z][\w-]*)", selectors))


class _Classes(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "class" and value:
                self.found.update(value.split())


def classes_in_html(text: str) -> set[str]:
    parser = _Classes()
    parser.feed(text)
    return parser.found


def classes_in_source(path: Path) -> set[str]:
    """Classes in HTML written in the module, given to ``to_html(classes=...)``/``add_class``, or held in a string
    of nothing but class names (``"workbench-verdict workbench-verdict-saved"``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            for _quote, value in CLASS_ATTRIBUTE.findall(text):
                found.update(value.split())
            words = text.split()
            if words and all(CLASS_NAME.fullmatch(word) for word in words):
                found.update(words)
        elif isinstance(node, ast.Call):
            arguments = [keyword.value for keyword in node.keywords if keyword.arg == "classes"]
            if isinstance(node.func, ast.Attribute) and node.func.attr == "add_class":
                arguments += node.args
            for argument in arguments:
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    found.update(argument.value.split())
    return found


def test_the_scanner_sees_the_classes_it_must():
    found = set().union(*(classes_in_source(path) for path in DASHBOARDS))
    assert {"workbench-error", "workbench-muted", "workbench-findings", "workbench-verdict-saved",
            "workbench-conversation"} <= found
    assert classes_in_html("<p class='a b'><span class=\"c\">x</span></p>") == {"a", "b", "c"}
    assert defined_classes() >= {"workbench-findings", "workbench-verdict-slower"}
    assert "3em" not in defined_classes()


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_every_class_written_in_a_dashboard_module_is_defined(path):
    undefined = classes_in_source(path) - defined_classes()
    assert not undefined, f"{path.name} emits classes the stylesheet (dashboards/style.py) does not define"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_every_chart_a_dashboard_makes_can_turn_dark(path):
    """A widgets.Figure without the dark template keeps its light one on a dark page: dark text on black."""
    calls = [node for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Figure"]
    bare = [call.lineno for call in calls if "dark_template" not in {keyword.arg for keyword in call.keywords}]
    assert not bare, f"{path.name}: Figure(...) without dark_template= on lines {bare}"


def test_the_stylesheet_defines_only_classes_a_dashboard_emits():
    emitted = set().union(*(classes_in_source(path) for path in DASHBOARDS))
    assert defined_classes() - emitted == set()


# --- the pages --------------------------------------------------------------------------------------------------------
def descendants(widget: w.Widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from descendants(child)


def page_classes(page: w.Widget) -> set[str]:
    found: set[str] = set()
    for widget in descendants(page):
        found.update(widget._dom_classes)
        if isinstance(widget, w.HTML | w.HTMLMath):
            found |= classes_in_html(widget.value)
    return found


def stylesheets_in(page: w.Widget) -> int:
    return sum(isinstance(widget, w.HTML) and widget.value == f"<style>{STYLESHEET}</style>"
               for widget in descendants(page))


@pytest.fixture
def pages(tmp_path):
    return {
        "query optimization": QueryOptimizationDashboard(),
        "caching": CachingDashboard(environ={}),
        "conversations": ConversationsDashboard(environ={}),
        "data models": DataModelsDashboard(environ={}),
        "load test": LoadTestDashboard(environ={}, store=FileRunStore(tmp_path)),
    }


def test_every_page_carries_the_stylesheet_once_and_uses_only_its_classes(pages):
    for name, dashboard in pages.items():
        page = dashboard.widget()
        assert stylesheets_in(page) == 1, name
        assert page_classes(page) <= defined_classes(), name


def test_the_results_are_shown_with_defined_classes_only():
    dashboard = QueryOptimizationDashboard(default_engine(10))
    page = dashboard.widget()
    assert dashboard.start() is not None, dashboard.message.value
    dashboard.job.wait(120)
    assert dashboard.progress.state == "success", dashboard.progress.message
    shown = page_classes(page)
    assert {"workbench-findings", "workbench-explain"} <= shown
    assert shown <= defined_classes()

    comparison = CacheComparison("authors", "joined", "in-process memory", "sqlite")
    for round_ in (1, 2, 3):
        comparison.runs += [RunStats("uncached", round_, 20.0, 1, 2.0, fingerprint="same"),
                            RunStats("cold", round_, 23.0, 1, 2.0, misses=1, fingerprint="same"),
                            RunStats("warm", round_, 5.0, 0, 0.0, hits=1, fingerprint="same")]
    verdicts = [caching.verdict_html(comparison)]
    for run in comparison.runs[2::3]:
        run.wall_ms = 60.0
    verdicts.append(caching.verdict_html(comparison))
    comparison.runs[-1].fingerprint = "other"
    verdicts.append(caching.verdict_html(comparison))
    demo = InvalidationDemo("publishers", {"authors": ("miss", "hit", "hit"), "publishers": ("miss", "hit", "stale")})
    for text in (*verdicts, caching.invalidation_html(demo)):
        assert classes_in_html(text) <= defined_classes(), text
    assert {"workbench-verdict-saved", "workbench-verdict-slower", "workbench-error"} <= set().union(
        *map(classes_in_html, verdicts))
