"""The conversations dashboard in a real Voila page, on a server the hub would have handed a built-in dataset: the
form offers it, a sample generated from the browser shows its progress, the comparison, the N+1 findings and the
chart appear, the page lands on "Inspect the data", and a picked conversation opens in the JSON viewer."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from dashboards.common import VIEWER_ENV
from profiler.datagen import load
from profiler.playground import BUILTIN_DATA_URL, DATA_URL
from testing.support import REPO_ROOT
from tests.support import INSPECT_SECTION_IN_VIEW, artifact_path, drawn_points

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = REPO_ROOT / "notebooks" / "conversations.ipynb"
INBOX = "inbox → conversations → starter, participants, messages"
SAMPLE = 60_000  # twelve batches: long enough to watch the progress, about a second to generate


@pytest.fixture
def builtin_environment(tmp_path, monkeypatch):
    """A built-in dataset file, named in the environment the Voila process (started by the test) inherits."""
    path = tmp_path / "hub" / "builtin.sqlite"
    path.parent.mkdir()
    load(f"sqlite:///{path}", 2_000, seed=1)
    monkeypatch.setenv(BUILTIN_DATA_URL, f"sqlite:///{path}")
    monkeypatch.delenv(DATA_URL, raising=False)
    monkeypatch.delenv(VIEWER_ENV, raising=False)
    return path


def test_generate_run_and_inspect_from_the_browser(voila, page, builtin_environment):
    server = voila({"conversations.ipynb": NOTEBOOK})
    page.goto(server.url("conversations.ipynb"), wait_until="commit", timeout=120_000)
    run = page.get_by_role("button", name="Run comparison")
    run.wait_for(timeout=90_000)
    expect(page.get_by_role("radio", name="Built-in dataset (2,000 messages, read-only)")).to_be_checked()

    # what the dataset is and what the workload walks, before running
    page.get_by_role("combobox", name="Workload").select_option(label=INBOX)
    page.locator(".widget-hbox").filter(has=page.get_by_role("combobox", name="Workload")) \
        .get_by_role("button", name="Learn more").click()
    dialog = page.get_by_role("dialog", name="The dataset and this workload")
    expect(dialog).to_contain_text("conversations → starter, participants, messages")
    expect(dialog).to_contain_text("N+1 at scale")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # a sample instead: nonsense is explained as it is typed
    page.get_by_role("radio", name="Generate a sample").check()
    messages = page.get_by_role("spinbutton", name="Messages")
    messages.fill("0")
    messages.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("a sample holds at least 1 message, not 0")
    messages.fill(str(SAMPLE))
    messages.press("Enter")
    expect(page.get_by_role("alert")).to_have_count(0)
    page.get_by_role("checkbox", name="Subquery eager loading").check()
    page.screenshot(path=str(artifact_path("conversations-dashboard-form.png")), full_page=False)

    run.click()
    expect(run).to_be_disabled()
    expect(page.locator(".pw-progress-message")).to_contain_text("Generating the sample", timeout=30_000)
    expect(page.locator(".pw-progress-message")).to_contain_text(
        f"Compared 4 strategies on {SAMPLE:,} messages", timeout=180_000)
    page.wait_for_function(INSPECT_SECTION_IN_VIEW, timeout=15_000)
    assert page.locator("#rendered_cells").evaluate("el => el.scrollTop") > 0
    expect(run).to_be_enabled()

    counts = page.locator(".pw-data-table").filter(has_text="reactions").first
    expect(counts.locator("tr").filter(has_text="messages")).to_contain_text(f"{SAMPLE:,}")
    comparison = page.locator(".pw-data-table").filter(has_text="Profiler cost per statement")
    for strategy in ("lazy", "joined", "selectin", "subquery"):
        expect(comparison.locator("tbody td", has_text=strategy).first).to_be_visible()
    expect(page.locator(".workbench-findings li").filter(has_text="N+1 on Conversation.participants")).to_have_count(1)
    # the chart: per strategy three stacked time bars and one statements bar
    assert drawn_points(page.locator(".workbench-figure .barlayer .point"), 4 * 4) >= 4 * 4

    # the latest conversations: headers over their own columns, ten to a page, and the count of them all
    latest = page.locator(".pw-data-table").filter(has_text="Started by")
    headers = [text.strip(" ▲▼") for text in latest.locator("thead th").all_inner_texts()]
    assert headers == ["#", "Title", "Started by", "Started at", "Messages"]
    expect(latest.locator("tbody tr")).to_have_count(10)
    expect(latest.locator(".pw-dt-status")).to_contain_text(re.compile(r"Showing 1–10 of \d+"))
    assert latest.locator("tbody td").nth(4).evaluate("el => getComputedStyle(el).textAlign") == "right"

    # the page opened a long conversation; clicking another row opens that one in the viewer instead
    viewer = page.locator(".workbench-conversation")
    opened = latest.locator("tbody tr[aria-current=true]")
    expect(opened).to_have_count(1)
    first = opened.locator("td").nth(1).inner_text()
    expect(viewer.locator(".jv-row").filter(has_text="threads")).to_have_count(1)
    expect(viewer).to_contain_text(first)
    page.screenshot(path=str(artifact_path("conversations-dashboard-after-run.png")), full_page=False)
    other = latest.locator("tbody tr:not([aria-current=true])").last
    other_title = other.locator("td").nth(1).inner_text()  # a locator re-resolves: keep it
    other.click()
    expect(viewer).to_contain_text(other_title)
    expect(viewer).not_to_contain_text(first)
