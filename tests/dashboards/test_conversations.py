"""The conversations dashboard, driven the way its form is: choose a dataset, a workload and strategies, run,
read the results, pick a conversation. Datasets stay small (one batch) so the module runs in seconds."""

from __future__ import annotations

import hashlib
import stat
import threading
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from dashboards.conversations import (
    INSPECT_TITLE, LATEST, MAX_SAMPLE_MESSAGES, VIEWER_MAX_SAMPLE_MESSAGES, ConversationsDashboard, DatasetTarget,
    builtin_target, wait,
)
from dashboards.common import VIEWER_ENV
from profiler.datagen import MESSAGES_PER_BATCH, dataset_counts, load, loaded_batches
from profiler.datagen.workloads import WORKLOADS
from profiler.datagen.builtins import install_builtins
from profiler.playground import BUILTIN_DATA_URL, DATA_URL

MESSAGES = 2_000
INBOX = "inbox → conversations → starter, participants, messages"
PAGE = "conversation page → messages → author, persona, reactions"
NO_HUB: dict[str, str] = {}


def dashboard_for(**kwargs) -> ConversationsDashboard:
    kwargs.setdefault("environ", NO_HUB)
    dashboard = ConversationsDashboard(repeats=1, **kwargs)
    dashboard.widget()
    return dashboard


def choose(dashboard: ConversationsDashboard, *strategies: str) -> None:
    for key, box in dashboard.strategy_boxes.items():
        box.value = key in strategies


def messages_seen(dashboard: ConversationsDashboard) -> list[str]:
    seen: list[str] = []
    dashboard.progress.observe(lambda change: seen.append(change["new"]), "message")
    return seen


def all_messages(threads: list[dict]) -> list[dict]:
    return [m for thread in threads for m in (thread, *all_messages(thread["replies"]))]


@pytest.fixture
def sqlite_builtin(tmp_path):
    """A built-in SQLite file as the hub leaves it (bookstore + conversations, mode 0444)."""
    path = tmp_path / "hub" / "builtin.sqlite"
    path.parent.mkdir()
    install_builtins(f"sqlite:///{path}", scale=5, messages=MESSAGES)
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    return path


@pytest.fixture
def postgres_schema(postgres_url):
    """A schema of its own on the shared server, dropped at the end."""
    schema = f"conv_dash_{uuid.uuid4().hex[:12]}"
    yield schema
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


# --- the form ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("messages, seed, problem", [
    (0, 0, "Messages: a sample holds at least 1 message, not 0."),
    (-5, 0, "at least 1 message, not -5"),
    (MAX_SAMPLE_MESSAGES + 1, 0, f"at most {MAX_SAMPLE_MESSAGES:,} messages here, not {MAX_SAMPLE_MESSAGES + 1:,}"),
    (100, -1, "Seed: a whole number from 0 to 2,147,483,647, not -1."),
    (100, 2**31, "Seed: a whole number from 0 to 2,147,483,647, not 2,147,483,648."),
])
def test_nonsense_sample_sizes_are_explained_as_typed_and_nothing_runs(messages, seed, problem):
    dashboard = dashboard_for()
    dashboard.messages.value, dashboard.seed.value = messages, seed
    assert problem in dashboard.form_message.value and dashboard.form_message.kind == "error"
    # Run is off while the form is wrong, and says why where the pointer is
    assert dashboard.run_button.disabled and problem in dashboard.run_button.tooltip
    assert dashboard.start() is None
    assert problem in dashboard.form_message.value
    assert dashboard.progress.layout.display == "none"
    assert dashboard._sample_folder is None  # no temporary file was even made


def test_a_valid_size_clears_the_message():
    dashboard = dashboard_for()
    dashboard.messages.value = 0
    assert dashboard.form_message.value
    dashboard.messages.value = 10_000
    assert dashboard.form_message.value == ""


def test_no_strategy_chosen_is_refused():
    dashboard = dashboard_for()
    choose(dashboard)
    assert dashboard.start() is None
    assert "Choose at least one strategy" in dashboard.form_message.value


def test_viewers_are_told_their_samples_are_capped_and_the_cap_holds_in_python():
    dashboard = dashboard_for(environ={VIEWER_ENV: "1"})
    assert dashboard.viewer_mode
    notice = dashboard.notice.value
    assert "Shared view" in notice and f"{VIEWER_MAX_SAMPLE_MESSAGES:,} messages" in notice
    dashboard.messages.value = VIEWER_MAX_SAMPLE_MESSAGES + 1
    assert "this is a shared view" in dashboard.form_message.value
    assert dashboard.start() is None  # what a forged click on Run would reach
    dashboard.messages.value = VIEWER_MAX_SAMPLE_MESSAGES
    assert dashboard.form_message.value == ""
    # the owner's own page allows far more
    assert "Shared view" not in dashboard_for().notice.value


def test_building_the_page_reads_no_data_and_makes_no_file(sqlite_builtin):
    before = hashlib.sha256(sqlite_builtin.read_bytes()).hexdigest()
    user_file = sqlite_builtin.parent / "user" / "models.sqlite"
    dashboard = dashboard_for(environ={BUILTIN_DATA_URL: f"sqlite:///{sqlite_builtin}", DATA_URL: f"sqlite:///{user_file}"})
    assert dashboard.source.options[0] == (f"Built-in dataset ({MESSAGES:,} messages, read-only)", "builtin")
    assert dashboard.source.value == "builtin" and dashboard.sample_box.layout.display == "none"
    assert dashboard.comparison is None and dashboard._engine is None and dashboard._sample_folder is None
    assert sorted(path.name for path in sqlite_builtin.parent.iterdir()) == ["builtin.sqlite"]
    assert hashlib.sha256(sqlite_builtin.read_bytes()).hexdigest() == before


# --- where the built-in dataset is --------------------------------------------------------------------------------
def test_a_user_server_reaches_the_builtin_dataset_through_the_hubs_environment():
    assert builtin_target({}) is None
    local = builtin_target({DATA_URL: "sqlite:////srv/u/models.sqlite", BUILTIN_DATA_URL: "sqlite:////srv/builtin.sqlite"})
    assert local == DatasetTarget("sqlite:///file:/srv/builtin.sqlite?mode=ro&uri=true")
    pg = "postgresql+psycopg://u_alice:secret@db/workbench"
    assert builtin_target({DATA_URL: pg, "WORKBENCH_DATA_SCHEMA": "u_alice"}) == DatasetTarget(pg, "builtin")


@pytest.mark.parametrize("case, note", [
    ("missing file", "The built-in dataset cannot be read: OperationalError"),
    ("no conversations", "The hub installed no conversations dataset"),
    ("unfinished", "The hub installed no conversations dataset (or is still installing it)"),
    ("no hub", "not started by the workbench hub"),
])
def test_without_a_builtin_dataset_the_page_says_why_and_offers_a_sample(tmp_path, case, note):
    environ = {}
    if case == "missing file":
        environ = {BUILTIN_DATA_URL: f"sqlite:///{tmp_path / 'nowhere.sqlite'}"}
    elif case == "no conversations":
        install_builtins(f"sqlite:///{tmp_path / 'builtin.sqlite'}", scale=5)  # the bookstore only
        environ = {BUILTIN_DATA_URL: f"sqlite:///{tmp_path / 'builtin.sqlite'}"}
    elif case == "unfinished":
        def interrupt(progress):
            if progress.batches_done:
                raise RuntimeError("the hub stopped mid-install")
        with pytest.raises(RuntimeError, match="mid-install"):
            load(f"sqlite:///{tmp_path / 'builtin.sqlite'}", 2 * MESSAGES_PER_BATCH, progress=interrupt,
                 batches_per_commit=1)
        environ = {BUILTIN_DATA_URL: f"sqlite:///{tmp_path / 'builtin.sqlite'}"}
        assert loaded_batches(environ[BUILTIN_DATA_URL]) == 1  # half of it is there, but not the whole
    dashboard = dashboard_for(environ=environ)
    assert note in dashboard.notice.value and "You can generate a sample" in dashboard.notice.value
    assert dashboard.source.options == (("Generate a sample", "sample"),)
    assert not (tmp_path / "nowhere.sqlite").exists()


def test_the_builtin_dataset_is_profiled_read_only(sqlite_builtin):
    before = hashlib.sha256(sqlite_builtin.read_bytes()).hexdigest()
    dashboard = dashboard_for(environ={BUILTIN_DATA_URL: f"sqlite:///{sqlite_builtin}"})
    choose(dashboard, "lazy", "selectin")
    wait(dashboard.start(), timeout=120)
    assert dashboard.progress.state == "success", dashboard.progress.message
    assert f"Built-in dataset ({MESSAGES:,} messages, seed 0)" in dashboard.source_note.value
    assert dashboard.dataset_counts == dataset_counts(f"sqlite:///{sqlite_builtin}")
    # SQLite itself refuses to write through the dashboard's connection (even for root, who ignores 0444)
    with pytest.raises(OperationalError, match="readonly"), dashboard._engine.begin() as connection:
        connection.execute(text("DELETE FROM reactions"))
    assert hashlib.sha256(sqlite_builtin.read_bytes()).hexdigest() == before


def test_the_builtin_dataset_in_a_postgresql_schema(postgres_url, postgres_schema):
    load(postgres_url, MESSAGES, seed=3, schema=postgres_schema)
    dashboard = dashboard_for(builtin=DatasetTarget(postgres_url, postgres_schema))
    assert dashboard.source.value == "builtin"
    dashboard.workload.value = INBOX
    choose(dashboard, "lazy", "joined")
    wait(dashboard.start(), timeout=120)
    assert dashboard.progress.state == "success", dashboard.progress.message
    assert "seed 3" in dashboard.source_note.value and dashboard.dataset_counts["messages"] == MESSAGES
    assert "<b>lazy</b>: N+1 on Conversation.participants" in dashboard.findings.value
    assert dashboard.comparison.dialect == "postgresql"


# --- a run ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_run_on_a_generated_sample_fills_every_section_and_scrolls_to_the_data(request, backend):
    sample = None
    if backend == "postgresql":
        sample = DatasetTarget(request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_schema"))
    dashboard = dashboard_for(sample=sample)
    dashboard.messages.value, dashboard.seed.value = MESSAGES, 7
    assert dashboard.workload.value == PAGE and "messages → author → persona" in dashboard.workload_help.content
    seen = messages_seen(dashboard)
    wait(dashboard.start(), timeout=120)

    assert dashboard.progress.state == "success", dashboard.progress.message
    assert dashboard.progress.message.startswith(f"Compared 3 strategies on {MESSAGES:,} messages in ")
    assert dashboard.timer.elapsed and dashboard.timer.elapsed > 0
    assert f"Generating the sample: {MESSAGES:,} of {MESSAGES:,} messages" in " | ".join(seen)
    assert any(message.startswith("Profiling lazy (1 of 3)") for message in seen)
    # the counts of the dataset
    assert "Generated sample (2,000 messages, seed 7)" in dashboard.source_note.value
    assert dashboard.counts.rows == [{"table": table, "rows": dashboard.dataset_counts[table]}
                                     for table in ("bots", "conversations", "messages", "reactions")]
    assert dashboard.dataset_counts["messages"] == MESSAGES
    # the comparison: table, N+1 with its fix, the chart of time and statements
    assert [result.label for result in dashboard.comparison.results] == ["lazy", "joined", "selectin"]
    assert dashboard.comparison.errors == {} and dashboard.comparison.mismatches == []
    assert [row["strategy"] for row in dashboard.table.rows] == ["lazy", "joined", "selectin"]
    assert "<b>lazy</b>: N+1 on Conversation.messages → Message.reactions" in dashboard.findings.value
    fix = "Fix: add .options(selectinload(Conversation.messages).selectinload(Message.reactions))"
    assert fix in dashboard.findings.value
    assert "<b>selectin</b>: N+1" not in dashboard.findings.value
    statements = next(trace for trace in dashboard.figure.spec["data"] if trace["name"] == "statements")
    assert list(statements["x"]) == ["lazy", "joined", "selectin"] and statements["y"][0] > statements["y"][2]
    assert {trace["name"] for trace in dashboard.figure.spec["data"]} >= {"database", "fetch", "Python / ORM"}
    compared = [entry["strategy"] for entry in dashboard.comparison_viewer.data["strategies"]]
    assert compared == ["lazy", "joined", "selectin"]
    # highlighted: the keyword and its parenthesis are separate tokens
    assert '<span class="workbench-sql-k">IN</span> <span class="workbench-sql-p">(</span>' in \
        dashboard.learn_more["selectin"].content
    # "Inspect the data": the latest conversations, a long one shown, and the page asked to go there
    listed = dashboard.latest.rows
    assert 0 < len(listed) <= LATEST and {"id", "title", "started_by", "started_at", "messages"} <= set(listed[0])
    assert dashboard.latest.openable and dashboard.latest.page_size == 10 and dashboard.latest.searchable
    shown = dashboard.viewer.data
    assert str(shown["id"]) == dashboard.latest.activated and shown["messages"] >= 20
    assert len(all_messages(shown["threads"])) == shown["messages"]
    assert dashboard.scroller._request["target"] == INSPECT_TITLE
    assert not dashboard.run_button.disabled and not dashboard.messages.disabled


def test_picking_a_conversation_shows_its_threads_replies_and_reactions():
    dashboard = dashboard_for()
    dashboard.messages.value = MESSAGES
    choose(dashboard, "selectin")
    wait(dashboard.start(), timeout=120)
    assert dashboard.progress.state == "success", dashboard.progress.message
    other = dashboard.latest.rows[-1]
    dashboard.latest.activated = other["id"]  # what clicking its row in the table does
    shown = dashboard.viewer.data
    assert str(shown["id"]) == other["id"] and shown["title"] == other["title"]
    messages = all_messages(shown["threads"])
    assert len(messages) == shown["messages"] and sorted(m["position"] for m in messages) == list(range(len(messages)))
    for message in messages:  # a reply answers an earlier message
        assert all(reply["id"] > message["id"] for reply in message["replies"])
    assert {participant["handle"] for participant in shown["participants"]} >= {m["author"] for m in messages}
    assert shown["started_by"] == shown["threads"][0]["author"]


def test_a_conversation_page_with_many_reactions_shows_who_reacted():
    dashboard = dashboard_for()
    dashboard.messages.value = MESSAGES
    choose(dashboard, "selectin")
    wait(dashboard.start(), timeout=120)
    reactions = [r for m in all_messages(dashboard.viewer.data["threads"]) for r in m["reactions"]]
    assert reactions and all(r["by"] and r["emoji"] for r in reactions)
    assert dashboard.inspect(10**9) is None and "there is no conversation 1000000000" in dashboard.browse_message.value


# --- bad things ----------------------------------------------------------------------------------------------
def test_a_failing_run_says_why_and_the_form_stays_usable(tmp_path):
    dashboard = dashboard_for(sample=DatasetTarget(f"sqlite:///{tmp_path / 'no-such-folder' / 'sample.sqlite'}"))
    wait(dashboard.start())
    assert dashboard.form_message.kind == "error" and dashboard.form_message.title == "The run failed:"
    assert "the database refused the load (unable to open database file)" in dashboard.form_message.value
    assert dashboard.progress.layout.display == "none"
    assert not dashboard.run_button.disabled and dashboard.table.rows == [] and dashboard.latest.rows == []


def test_the_form_is_off_while_a_run_goes_on_and_a_second_start_is_refused():
    dashboard = dashboard_for()
    gate = threading.Event()
    dashboard.run = lambda *args: gate.wait(30)
    thread = dashboard.start()
    try:
        assert dashboard.run_button.disabled and dashboard.messages.disabled and dashboard.workload.disabled
        assert dashboard.start() is None
        assert "A run is in progress" in dashboard.form_message.value
    finally:
        gate.set()
        wait(thread)


def test_every_workload_runs_on_a_sample():
    dashboard = dashboard_for()
    dashboard.messages.value = MESSAGES
    choose(dashboard, "lazy", "selectin")
    for name in WORKLOADS:
        dashboard.workload.value = name
        wait(dashboard.start(), timeout=120)
        assert dashboard.progress.state == "success", (name, dashboard.progress.message)
        assert dashboard.comparison.workload and dashboard.comparison.mismatches == []


def test_another_sample_replaces_the_first_and_the_same_one_is_not_generated_again():
    dashboard = dashboard_for()
    choose(dashboard, "selectin")
    dashboard.messages.value = MESSAGES
    wait(dashboard.start(), timeout=120)
    sample_file = dashboard._sample_target.url
    dashboard.messages.value, dashboard.seed.value = 1_000, 5
    wait(dashboard.start(), timeout=120)
    assert dashboard.progress.state == "success", dashboard.progress.message
    assert dashboard._sample_target.url == sample_file and dataset_counts(sample_file)["messages"] == 1_000
    assert "Generated sample (1,000 messages, seed 5)" in dashboard.source_note.value
    seen = messages_seen(dashboard)
    wait(dashboard.start(), timeout=120)
    assert "Generating the sample: 1,000 of 1,000 messages, 0 rows written" in seen  # already there
