"""Screenshots of every dashboard for the README: ``.venv/bin/python docs/screenshots.py``.

Each dashboard is rendered by one Voila server, started as the browser tests start theirs, at 1400×900 in Voila's
light and dark themes; its cheapest main action is run to its end so the picture shows results, and the page is
scrolled to the first chart. The pictures go to docs/screenshots/<dashboard>-<theme>.png.

The load-test dashboard needs a DynamoDB table and the conversations dashboard a built-in dataset: like the tests,
this script gives them a moto server and a small generated SQLite file, so it needs no AWS account and no hub.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a file, the script's own folder would be the only one on the path

from moto.server import ThreadedMotoServer  # noqa: E402 - after the path is set
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from dashboards.common import VIEWER_ENV  # noqa: E402
from profiler import playground as playground_env  # noqa: E402
from profiler.datagen import load  # noqa: E402
from profiler.playground import BUILTIN_DATA_URL, CACHE_URL, DATA_URL, Playground  # noqa: E402
from tests.browser.conftest import VoilaServer  # noqa: E402
from tests.loadtest.conftest import FAKE_CREDENTIALS, create_table  # noqa: E402
from tests.support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

OUT = REPO_ROOT / "docs" / "screenshots"
DASHBOARDS = ["query_optimization", "load_test", "data_models", "caching", "conversations"]
THEMES = ["light", "dark"]
VIEWPORT = {"width": 1400, "height": 900}
MAIN_BUTTON = {"load_test": "Start", "data_models": "Profile"}
TIMEOUT = 60_000  # each action takes a few seconds here; a minute means something is wrong


def button(page, name: str):
    return page.get_by_role("button", name=re.compile(rf"^\W*{re.escape(name)}$"))  # after the icon's glyph


def enter(field, value: str) -> None:
    field.fill(value)
    field.blur()  # a widget reads its text when it is left


def run_cheapest_action(page, dashboard: str) -> None:
    progress = page.locator(".pw-progress-message")
    if dashboard == "load_test":
        enter(page.get_by_role("spinbutton", name="Duration (s)"), "8")
        button(page, "Start").click()
        expect(progress).to_contain_text("Finished:", timeout=TIMEOUT)
    elif dashboard == "data_models":
        button(page, "Profile").click()
        expect(progress.filter(has_text="Compared")).to_have_count(1, timeout=TIMEOUT)
    else:
        if dashboard == "caching":
            enter(page.get_by_role("spinbutton", name="Rounds"), "2")
        button(page, "Run comparison").click()
        expect(progress).to_contain_text("Compared", timeout=TIMEOUT)


def first_chart_in_view(page) -> None:
    """Scroll Voila's scroller so the first chart sits just below the top, its section's heading above it."""
    page.evaluate("""() => {
        const chart = document.querySelector('.pw-live-graph, .workbench-figure');
        const cells = document.querySelector('#rendered_cells');
        if (!chart || !cells) return;
        cells.scrollTop += chart.getBoundingClientRect().top - cells.getBoundingClientRect().top - 90;
    }""")
    page.wait_for_timeout(500)  # scroll-triggered redraws


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request the run makes
    moto = ThreadedMotoServer(port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    suffix = uuid.uuid4().hex[:8]
    playground = Playground(stack_name=f"playground-{suffix}", loadtest_table=f"loadtest-{suffix}",
                            runs_table=f"runs-{suffix}", region="us-east-1", endpoint_url=f"http://{host}:{port}")
    client = playground.client("dynamodb")
    create_table(client, playground.loadtest_table, "LoadTestTable")
    create_table(client, playground.runs_table, "RunsTable")
    with tempfile.TemporaryDirectory(prefix="workbench-screenshots-") as scratch:
        folder = Path(scratch)
        builtin = folder / "builtin.sqlite"
        load(f"sqlite:///{builtin}", 2_000, seed=1)
        os.environ.update({
            playground_env.STACK_NAME: playground.stack_name,
            playground_env.LOADTEST_TABLE: playground.loadtest_table,
            playground_env.RUNS_TABLE: playground.runs_table,
            playground_env.AWS_ENDPOINT_URL: playground.endpoint_url,
            playground_env.AWS_REGION: playground.region,
            BUILTIN_DATA_URL: f"sqlite:///{builtin}",
        })
        for name in (VIEWER_ENV, DATA_URL, CACHE_URL):
            os.environ.pop(name, None)
        notebooks = folder / "notebooks"
        notebooks.mkdir()
        for name in DASHBOARDS:
            shutil.copy(REPO_ROOT / "notebooks" / f"{name}.ipynb", notebooks / f"{name}.ipynb")
        server = VoilaServer(notebooks, folder / "voila.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                for dashboard in DASHBOARDS:
                    for theme in THEMES:
                        context = browser.new_context(viewport=VIEWPORT)
                        page = context.new_page()
                        # Voila streams the page while the kernel runs the notebook: wait for the widgets
                        page.goto(server.url(f"{dashboard}.ipynb") + f"?theme={theme}", wait_until="commit",
                                  timeout=120_000)
                        button(page, MAIN_BUTTON.get(dashboard, "Run comparison")).wait_for(timeout=90_000)
                        run_cheapest_action(page, dashboard)
                        first_chart_in_view(page)
                        path = OUT / f"{dashboard}-{theme}.png"
                        page.screenshot(path=str(path))
                        print(f"{path.relative_to(REPO_ROOT)}: {path.stat().st_size // 1024} KB")
                        context.close()
                browser.close()
        finally:
            server.stop()
            moto.stop()


if __name__ == "__main__":
    main()
