"""The caching dashboard, driven the way its form and buttons are: choose, run, read the results."""

from __future__ import annotations

import html

import pytest
from sqlalchemy.orm import Session

import dashboards.caching as caching
from dashboards.caching import (
    INSPECT_TITLE,
    VIEWER_MAX_AUTHORS,
    VIEWER_MAX_ROUNDS,
    CachingDashboard,
    verdict_html,
)
from dashboards.common import VIEWER_ENV
from profiler.cache import CACHE_STRATEGIES_EXPLAINED, MODES_EXPLAINED, CacheComparison, QueryCache, RunStats
from profiler.playground import CACHE_URL, DATA_URL
from profiler.queries import AUTHORS_BOOKS, default_engine

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")

VIEWER = {VIEWER_ENV: "1"}


def run(dashboard: CachingDashboard, **form):
    for name, value in form.items():
        getattr(dashboard, name).value = value
    thread = dashboard.start()
    assert thread is not None, dashboard.form_message.value
    dashboard.wait(240)
    assert dashboard.progress.state == "success", dashboard.progress.message
    return dashboard.comparison


def test_building_the_page_measures_nothing(monkeypatch):
    """What rendering the notebook does: no sample database, no cache, no comparison."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("rendering the dashboard must not measure anything")

    for name in ("compare_caching", "default_engine", "QueryCache", "demonstrate_invalidation"):
        monkeypatch.setattr(caching, name, refuse)
    dashboard = CachingDashboard(environ={})
    dashboard.widget()
    assert dashboard.comparison is None and dashboard.progress.layout.display == "none"
    assert dashboard.learn_more.content == MODES_EXPLAINED  # the engine's wording, not a copy


@pytest.mark.parametrize(
    "form, message",
    [
        ({"authors": 0}, "Authors must be from 1 to 1,000, not 0."),
        ({"authors": -5}, "Authors must be from 1 to 1,000, not -5."),
        ({"authors": 5000}, "Authors must be from 1 to 1,000, not 5,000."),
        ({"rounds": 0}, "Rounds must be from 1 to 20, not 0."),
        ({"rounds": 100}, "Rounds must be from 1 to 20, not 100."),
        ({"lazy_loads": True}, "Caching lazy loads only applies to lazy loading"),
    ],
)
def test_nonsense_is_explained_as_it_is_typed_and_nothing_runs(form, message):
    dashboard = CachingDashboard(environ={})
    for name, value in form.items():
        getattr(dashboard, name).value = value
    assert message in dashboard.form_message.value and dashboard.form_message.kind == "error"
    # Run and Write are off while the form is wrong, saying why where the pointer is
    assert dashboard.run_button.disabled and message in dashboard.run_button.tooltip
    assert dashboard.write_button.disabled and message in dashboard.write_button.tooltip
    assert dashboard.start() is None and dashboard.start_write() is None
    assert dashboard.progress.layout.display == "none" and dashboard.comparison is None


def test_lazy_loads_can_be_cached_under_lazy_loading():
    dashboard = CachingDashboard(environ={})
    dashboard.strategy.value = "lazy"
    dashboard.lazy_loads.value = True
    assert dashboard.form_message.value == "" and dashboard.settings().lazy_loads


@pytest.mark.parametrize(
    "url, reason",
    [("", "no Redis is configured for this server (WORKBENCH_CACHE_URL is empty)"),
     ("memory://", "WORKBENCH_CACHE_URL (memory://) is not a Redis URL")],
)
def test_redis_is_shown_disabled_with_the_reason_when_not_configured(url, reason):
    dashboard = CachingDashboard(environ={CACHE_URL: url})
    assert [value for _label, value in dashboard.backend.options] == ["memory"]
    assert dashboard.redis_off.disabled and dashboard.redis_off.layout.display is None
    assert dashboard.redis_off.tooltip == reason and reason in html.unescape(dashboard.redis_reason.value)


def test_redis_is_offered_when_configured_with_its_password_hidden():
    dashboard = CachingDashboard(environ={CACHE_URL: "redis://user:secret@cache.example:6379/0"})
    assert dashboard.backend.options[1] == ("Redis (redis://user:***@cache.example:6379/0)", "redis")
    assert dashboard.redis_off.layout.display == "none" and dashboard.redis_reason.value == ""


def test_a_run_fills_every_section_and_scrolls_to_the_data(engine):
    dashboard = CachingDashboard(engine, environ={})
    dashboard.widget()
    messages, button_states = [], []
    dashboard.progress.observe(lambda change: messages.append(change["new"]), "message")
    dashboard.run_button.observe(lambda change: button_states.append(change["new"]), "disabled")
    comparison = run(dashboard, rounds=2, strategy="selectin")

    # progress was pushed before every run of every round, and Run was off meanwhile
    for round_ in (1, 2):
        for mode in ("uncached", "cold", "warm"):
            assert f"Round {round_} of 2: {mode} run" in messages
    assert button_states == [True, False] and not dashboard.run_button.disabled
    assert dashboard.progress.message.startswith("Compared 2 round(s) of uncached, cold and warm runs")
    assert dashboard.timer.ended_at is not None and dashboard.timer.elapsed > 0
    # the verdict, the medians table, every round in the plot, the data
    assert comparison.data_matches and html.escape(comparison.verdict) in dashboard.verdict.value
    assert [row["mode"] for row in dashboard.table.rows] == ["uncached", "cold", "warm"]
    labels = [column["label"] for column in dashboard.table.columns]
    assert {"Wall", "Statements", "Hits", "Misses", "Merge", "Same data"} <= set(labels)
    assert all(row["same data"] is True and row["wall_ms"] > 0 for row in dashboard.table.rows)
    assert dashboard.table.rows[2]["statements"] == 0  # warm: every query came from the cache
    assert engine.dialect.name in dashboard.summary.value
    traces = dashboard.figure.spec["data"]
    assert [trace["name"] for trace in traces] == ["uncached", "cold", "warm"]
    assert all(trace["x"] == ["round 1", "round 2"] and all(y > 0 for y in trace["y"]) for trace in traces)
    assert "merge into session" in {trace["name"] for trace in dashboard.breakdown.spec["data"]}
    assert dashboard.viewer.data["verdict"] == comparison.verdict and len(dashboard.viewer.data["runs"]) == 6
    assert dashboard.viewer.data["medians"]["warm"]["statements"] == 0
    assert dashboard.scroller._request["target"] == INSPECT_TITLE


def test_a_second_click_while_running_is_refused():
    dashboard = CachingDashboard(environ={})
    dashboard.authors.value, dashboard.rounds.value = 10, 1
    refused = []

    def click_again(change):
        if change["new"].startswith("Round 1") and not refused:
            refused.append(dashboard.start())

    dashboard.progress.observe(click_again, "message")
    dashboard.start()
    dashboard.wait(60)
    assert refused == [None] and "A run is in progress" in dashboard.message.value
    assert dashboard.progress.state == "success"


def test_the_write_demonstration_shows_what_went_stale(engine):
    dashboard = CachingDashboard(engine, environ={})
    dashboard.write_table.value = "publishers"
    assert dashboard.write_button.description == "Write to publishers"
    dashboard.start_write()
    dashboard.wait(60)
    assert dashboard.progress.state == "success", dashboard.progress.message
    assert dashboard.demo.stale == ["publishers"]
    assert dashboard.demo.kept_hitting == ["authors", "books with their author (select-in)", "stores"]
    shown = html.unescape(dashboard.invalidation.value)
    assert "<b>stale</b>: publishers;" in shown and "<b>kept hitting</b>: authors, books" in shown
    assert "rolled back: the data did not change" in shown
    outcomes = {row["query"]: row["after the write"] for row in dashboard.invalidation_table.rows}
    assert outcomes["publishers"] == "stale" and outcomes["authors"] == "hit"


def fake_comparison(uncached_ms: float, warm_ms: float) -> CacheComparison:
    comparison = CacheComparison("authors", "joined", "in-process memory", "sqlite")
    for round_, jitter in enumerate((0.0, 0.2, -0.2), start=1):
        comparison.runs += [
            RunStats("uncached", round_, uncached_ms + jitter, 1, 2.0, fingerprint="same"),
            RunStats("cold", round_, uncached_ms + 3, 1, 2.0, misses=1, stores=1, store_ms=2.0, fingerprint="same"),
            RunStats("warm", round_, warm_ms + jitter, 0, 0.0, hits=1, objects_merged=620, merge_ms=warm_ms - 1,
                     fingerprint="same"),
        ]
    return comparison


def test_merging_that_costs_more_than_the_query_is_said_plainly():
    shown = verdict_html(fake_comparison(uncached_ms=20.0, warm_ms=60.0))
    assert "Caching made this workload slower: merging costs more than the query." in shown
    assert "caching cost 40.0 ms more than querying: merging 620 objects" in shown
    assert "Caching saved time." in verdict_html(fake_comparison(uncached_ms=60.0, warm_ms=20.0))
    different = fake_comparison(20.0, 60.0)
    different.runs[-1].fingerprint = "other"
    assert "role='alert'><b>Different data.</b>" in verdict_html(different)


def test_redis_unreachable_is_said_in_the_page_and_the_form_stays_usable():
    dashboard = CachingDashboard(environ={CACHE_URL: "redis://127.0.0.1:1/0"})
    dashboard.backend.value = "redis"
    dashboard.authors.value = 10
    dashboard.start()
    dashboard.wait(60)
    # one error, in the message under the form; no red bar, no exception class, no results of an earlier run
    assert dashboard.progress.layout.display == "none"
    assert dashboard.message.kind == "error" and dashboard.message.title == "The comparison failed:"
    assert "cannot reach the Redis cache at redis://127.0.0.1:1/0" in dashboard.message.value
    assert "CacheUnavailable" not in dashboard.message.value
    assert dashboard.table.rows == [] and "Run the comparison to see this." in dashboard.verdict.value
    assert not dashboard.run_button.disabled and dashboard.comparison is None


def test_a_viewer_runs_capped_and_says_so():
    dashboard = CachingDashboard(environ=VIEWER)
    assert "Shared view." in dashboard.notice.value and "capped to 50 authors and 3 rounds" in dashboard.notice.value
    assert dashboard.authors.value <= VIEWER_MAX_AUTHORS
    dashboard.authors.value, dashboard.rounds.value = VIEWER_MAX_AUTHORS + 1, VIEWER_MAX_ROUNDS + 1
    shown = html.unescape(dashboard.form_message.value)
    assert "Authors must be from 1 to 50 in a shared view, not 51." in shown
    assert "Rounds must be from 1 to 3 in a shared view, not 4." in shown
    assert dashboard.start() is None
    comparison = run(dashboard, authors=10, rounds=VIEWER_MAX_ROUNDS)
    assert len(comparison.runs) == 3 * VIEWER_MAX_ROUNDS


def test_a_viewer_on_a_shared_redis_clears_only_its_own_space(redis_url):
    engine = default_engine(10)
    # the owner's entries for the same database under the default prefix: what a cold run of a cache with the
    # defaults would empty (the in-memory database's namespace names this process, so nobody else's keys)
    owner = QueryCache(engine, redis_url)
    try:
        with Session(engine) as session:
            owner.attach(session, every_query=True)
            AUTHORS_BOOKS.run(session)
        client = owner.store.region.backend.writer_client
        pattern = f"{owner.store.prefix}{owner.namespace}:*"
        owned = sorted(client.scan_iter(match=pattern))
        assert owned

        dashboard = CachingDashboard(environ={**VIEWER, CACHE_URL: redis_url})
        comparison = run(dashboard, backend="redis", authors=10, rounds=2)
        assert comparison.backend.startswith("Redis at") and comparison.median("warm")["hits"] == 1
        assert sorted(client.scan_iter(match=pattern)) == owned
        assert not list(client.scan_iter(match=dashboard.prefix + "*"))  # and it left nothing behind
    finally:
        owner.clear()
        owner.close()


def test_the_distances_offered_are_the_round_trips_production_sees():
    dashboard = CachingDashboard(environ={})
    assert [value for _label, value in dashboard.distance.options] == [0.0, 0.5, 1.0, 2.0]
    assert [label for label, _value in dashboard.distance.options] == ["0 ms", "0.5 ms", "1 ms", "2 ms"]
    assert dashboard.distance.value == 0.0 and dashboard.settings().round_trip_ms == 0.0
    assert [value for _label, value in dashboard.cache_strategy.options] == ["orm", "merge", "rows", "all"]
    assert dashboard.strategies_help.content == CACHE_STRATEGIES_EXPLAINED
    assert dashboard.database.layout.display == "none"  # one database: nothing to choose


def test_a_distance_needs_a_database_server():
    dashboard = CachingDashboard(environ={})
    dashboard.distance.value = 1.0
    message = "Distance: the sqlite database lives in this process, so there is no network to put a distance on"
    assert message in dashboard.form_message.value and dashboard.form_message.kind == "error"
    assert dashboard.run_button.disabled and message in dashboard.run_button.tooltip
    assert dashboard.start() is None and dashboard.start_write() is None

    with_postgres = CachingDashboard(environ={DATA_URL: "postgresql+psycopg://me:secret@db.example/workbench"})
    assert [value for _label, value in with_postgres.database.options] == ["sample", "builtin"]
    assert with_postgres.database.layout.display is None
    with_postgres.distance.value = 2.0
    assert "choose 0 ms, or the PostgreSQL bookstore." in with_postgres.form_message.value
    with_postgres.database.value = "builtin"
    assert with_postgres.form_message.value == "" and not with_postgres.run_button.disabled
    settings = with_postgres.settings()
    assert (settings.database, settings.round_trip_ms) == ("builtin", 2.0)


@pytest.fixture
def postgres_bookstore(postgres_url, tmp_path):
    from tests.cache.conftest import SCALE
    from tests.support import bookstore_database

    with bookstore_database("postgresql", SCALE, tmp_path, postgres_url, label="caching_dashboard") as engine:
        yield engine


def test_a_run_at_a_distance_pays_real_round_trips_and_stops_its_proxy(postgres_bookstore, monkeypatch):
    import profiler.cache.distance as distance

    proxies = []

    class Recorded(distance.LatencyProxy):
        def start(self):
            proxies.append(self)
            return super().start()

    monkeypatch.setattr(distance, "LatencyProxy", Recorded)
    dashboard = CachingDashboard(postgres_bookstore, environ={})
    dashboard.widget()
    messages = []
    dashboard.progress.observe(lambda change: messages.append(change["new"]), "message")
    comparison = run(dashboard, rounds=1, distance=1.0, cache_strategy="all")

    assert [proxy.round_trip_ms for proxy in proxies] == [1.0] and not proxies[0].running
    assert comparison.round_trip_ms >= 1.0 and comparison.data_matches
    assert "1 ms away (SELECT 1: " in dashboard.summary.value
    assert "Round 1 of 1: warm run (Plain rows (the workload's result))" in messages
    titles = [row["title"] for row in dashboard.strategies_table.rows]
    assert titles == ["ORM objects, merge_frozen_result", "ORM objects, session.merge(load=False)",
                      "Plain rows (the workload's result)"]
    assert all(row["same_data"] and row["warm_ms"] > 0 for row in dashboard.strategies_table.rows)
    assert [row["mode"] for row in dashboard.table.rows] == [
        "uncached", "cold · orm", "warm · orm", "cold · merge", "warm · merge", "cold · rows", "warm · rows"]
    assert len(dashboard.figure.spec["data"]) == 7
    assert dashboard.viewer.data["round_trip_ms"] == comparison.round_trip_ms


def test_the_write_demonstration_compares_what_each_strategy_makes_stale(engine):
    dashboard = CachingDashboard(engine, environ={})
    dashboard.cache_strategy.value = "all"
    dashboard.write_table.value = "stores"
    dashboard.start_write()
    dashboard.wait(120)
    assert dashboard.progress.state == "success", dashboard.progress.message
    rows = {row["title"]: row for row in dashboard.write_strategies.rows}
    assert len(rows) == 3 and all(row["stale"] == "stores" for row in rows.values())
    assert rows["Plain rows (the workload's result)"]["walk"].startswith("stale as a whole: all ")
    assert "statements ran again (those that read stores)" in rows["ORM objects, merge_frozen_result"]["walk"]
