"""Loading into SQLite and PostgreSQL: counts, integrity, same rows everywhere, resumption, idempotence."""

from __future__ import annotations

import hashlib
import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from profiler.datagen import (
    MESSAGES_PER_BATCH, DatasetMismatch, DatasetSpec, dataset_counts, dataset_engine, iter_batches, load,
    loaded_batches, setup_rows,
)
from profiler.datagen.writers import rows_as_copy_text
from profiler.models.conversations import Conversation, ConversationsBase

MESSAGES = 2 * MESSAGES_PER_BATCH + 500  # three batches: enough to stop in the middle


def expected_counts(spec: DatasetSpec) -> dict[str, int]:
    counts = {name: len(rows) for name, rows in setup_rows(spec).items()}
    for batch in iter_batches(spec):
        for name, rows in batch.rows.items():
            counts[name] = counts.get(name, 0) + len(rows)
    return counts


def content_digest(target) -> str:
    """A digest of every row of every table, read back in primary-key order."""
    engine = dataset_engine(target.url, target.schema)
    digest = hashlib.sha256()
    try:
        with engine.connect() as connection:
            for table in ConversationsBase.metadata.sorted_tables:
                for row in connection.execute(select(table).order_by(*table.primary_key.columns)):
                    digest.update(repr(tuple(row)).encode())
    finally:
        engine.dispose()
    return digest.hexdigest()


class Interrupt(Exception):
    pass


def test_a_load_holds_what_the_generator_made_and_every_reference_resolves(target):
    progress = []
    report = load(target.url, MESSAGES, seed=3, progress=progress.append, workers=1, batches_per_commit=2,
                  **target.where)
    spec = DatasetSpec(MESSAGES, 3)
    assert dataset_counts(target.url, **target.where) == expected_counts(spec)
    assert (report.batches_loaded, report.batches_skipped) == (3, 0)
    # one event before the first commit, then one per commit of two batches
    assert [(event.messages_done, event.batches_done) for event in progress] == [
        (0, 0), (2 * MESSAGES_PER_BATCH, 2), (MESSAGES, 3)
    ]
    assert progress[-1].fraction == 1 and progress[-1].rows_written == report.rows_written
    orphans = {
        "message without its conversation": "SELECT count(*) FROM messages m LEFT JOIN conversations c "
                                            "ON c.id = m.conversation_id WHERE c.id IS NULL",
        "reply outside its parent's conversation": "SELECT count(*) FROM messages m JOIN messages p "
                                                   "ON p.id = m.parent_id WHERE p.conversation_id <> m.conversation_id",
        "author who is not a participant": "SELECT count(*) FROM messages m LEFT JOIN conversation_participants cp "
                                           "ON cp.conversation_id = m.conversation_id AND cp.bot_id = m.author_id "
                                           "WHERE cp.bot_id IS NULL",
        "reaction to a missing message": "SELECT count(*) FROM reactions r LEFT JOIN messages m "
                                         "ON m.id = r.message_id WHERE m.id IS NULL",
        "bot without its persona": "SELECT count(*) FROM bots b LEFT JOIN personas p ON p.id = b.persona_id "
                                   "WHERE p.id IS NULL",
    }
    engine = create_engine(target.url, connect_args=(
        {"options": f"-csearch_path={target.schema}"} if target.schema else {}))
    try:
        with engine.connect() as connection:
            found = {what: connection.exec_driver_sql(sql).scalar_one() for what, sql in orphans.items()}
            if target.schema:
                # the foreign keys were added after the rows, so PostgreSQL itself checked every reference
                foreign_keys = connection.execute(text(
                    "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                    "WHERE n.nspname = :schema AND c.contype = 'f'"), {"schema": target.schema}).scalar_one()
                assert foreign_keys == sum(len(t.foreign_key_constraints)
                                           for t in ConversationsBase.metadata.sorted_tables)
    finally:
        engine.dispose()
    assert found == dict.fromkeys(orphans, 0)


def test_the_models_read_the_loaded_data(target):
    load(target.url, 1_000, seed=4, **target.where)
    engine = dataset_engine(target.url, target.schema)
    try:
        with Session(engine) as session:
            conversation = session.scalars(select(Conversation).order_by(Conversation.id).limit(1)).one()
            opening = conversation.messages[0]
            assert (opening.id, opening.position, opening.author) == (conversation.id, 0, conversation.starter)
            assert opening.author in conversation.participants
            assert opening.author.persona.name
            replies = [message for message in conversation.messages if message.parent is not None]
            assert all(reply in reply.parent.replies for reply in replies)
            assert session.scalar(select(func.count(Conversation.id))) == dataset_counts(
                target.url, **target.where)["conversations"]
    finally:
        engine.dispose()


def test_sqlite_and_postgresql_hold_the_same_rows_and_a_reload_elsewhere_is_identical(
    sqlite_target, postgres_target, tmp_path
):
    for place in (sqlite_target, postgres_target):
        load(place.url, 1_500, seed=8, **place.where)
    digest = content_digest(sqlite_target)
    assert content_digest(postgres_target) == digest
    again = type(sqlite_target)(f"sqlite:///{tmp_path / 'again.db'}")
    load(again.url, 1_500, seed=8)
    assert content_digest(again) == digest


@pytest.mark.slow  # a generator worker process
def test_an_interrupted_load_resumes_where_it_stopped_without_duplicates(target, tmp_path):
    def stop_after_two_batches(event):
        if event.batches_done == 2:
            raise Interrupt("the kernel was interrupted")

    with pytest.raises(Interrupt):
        # a worker process generates ahead; stopping the load must stop it too
        load(target.url, MESSAGES, seed=5, progress=stop_after_two_batches, workers=1, batches_per_commit=1,
             **target.where)
    assert multiprocessing.active_children() == []
    assert loaded_batches(target.url, **target.where) == 2
    assert dataset_counts(target.url, **target.where)["messages"] == 2 * MESSAGES_PER_BATCH

    seen = []
    report = load(target.url, MESSAGES, seed=5, progress=seen.append, **target.where)
    assert (report.batches_loaded, report.batches_skipped) == (1, 2)
    assert seen[0].messages_done == 2 * MESSAGES_PER_BATCH and seen[-1].messages_done == MESSAGES
    assert dataset_counts(target.url, **target.where) == expected_counts(DatasetSpec(MESSAGES, 5))

    uninterrupted = type(target)(f"sqlite:///{tmp_path / 'uninterrupted.db'}")
    load(uninterrupted.url, MESSAGES, seed=5)
    assert content_digest(target) == content_digest(uninterrupted)


def test_loading_the_same_dataset_again_changes_nothing(target):
    load(target.url, 1_200, seed=6, **target.where)
    before = content_digest(target)
    report = load(target.url, 1_200, seed=6, **target.where)
    assert (report.batches_loaded, report.batches_skipped, report.rows_written) == (0, 1, 0)
    assert content_digest(target) == before


def test_another_dataset_is_refused_unless_replace_is_asked(target):
    load(target.url, 1_000, seed=1, **target.where)
    refusal = r"holds seed=1, messages=1,000 .*wanted seed=2, messages=1,000.*replace=True"
    with pytest.raises(DatasetMismatch, match=refusal):
        load(target.url, 1_000, seed=2, **target.where)
    assert dataset_counts(target.url, **target.where)["messages"] == 1_000
    load(target.url, 1_100, seed=2, replace=True, **target.where)
    assert dataset_counts(target.url, **target.where) == expected_counts(DatasetSpec(1_100, 2))


def test_targets_the_loader_cannot_use_are_refused_clearly(sqlite_target):
    with pytest.raises(ValueError, match="only PostgreSQL has schemas"):
        load(sqlite_target.url, 1_000, schema="builtin")
    with pytest.raises(ValueError, match="messages must be between"):
        load(sqlite_target.url, 0)
    with pytest.raises(ValueError, match="workers must be a whole number of processes"):
        load(sqlite_target.url, 1_000, workers=-1)
    with pytest.raises(ValueError, match="batches_per_commit must be a whole number, 1 or more, got 0"):
        load(sqlite_target.url, 1_000, batches_per_commit=0)
    with pytest.raises(ValueError, match="loads into PostgreSQL or SQLite, not mysql"):
        load("mysql://nobody@127.0.0.1/none", 1_000)


def test_a_schema_name_that_is_not_a_plain_identifier_is_refused(postgres_url):
    with pytest.raises(ValueError, match="schema must be a lower-case identifier"):
        load(postgres_url, 1_000, schema='x"; DROP TABLE users; --')


def test_copy_text_escapes_what_generated_text_never_holds(postgres_url):
    rows = [(1, "tab\there", None), (2, "back\\slash, \\N and\nnew line\r", 3), (3, "plain", 4)]
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("CREATE TEMPORARY TABLE copy_check (id int, body text, n int)")
            driver = connection.connection.driver_connection
            with driver.cursor() as cursor, cursor.copy("COPY copy_check FROM STDIN") as copy:
                copy.write(rows_as_copy_text(rows, 3).encode())
            assert [tuple(row) for row in connection.exec_driver_sql(
                "SELECT id, body, n FROM copy_check ORDER BY id")] == rows
    finally:
        engine.dispose()


def test_two_loads_into_one_schema_at_once_do_not_collide(postgres_target):
    spec = DatasetSpec(2_000, 12)
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: load(postgres_target.url, spec.messages, spec.seed,
                                               schema=postgres_target.schema), range(2)))
    assert sorted(report.batches_loaded for report in reports) == [0, 1]
    assert dataset_counts(postgres_target.url, postgres_target.schema) == expected_counts(spec)
