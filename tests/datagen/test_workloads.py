"""The built-in workloads over the conversations dataset, alone and under the query profiler."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from profiler.datagen import dataset_engine, load
from profiler.datagen.workloads import PAGE_MESSAGES, RECENT_CONVERSATIONS, WORKLOADS, conversation_page
from profiler.models.conversations import ConversationsBase
from profiler.queries import profile


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('workloads') / 'conversations.db'}"
    load(url, 3_000, seed=2)
    engine = dataset_engine(url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_each_workload_walks_the_dataset(engine, name):
    with Session(engine) as session:
        walked = WORKLOADS[name](session)
    assert walked and all(walked)


def test_the_conversation_page_shows_a_long_conversation_with_everything_a_page_needs(engine):
    with Session(engine) as session:
        page = conversation_page(session)
    assert len(page) >= PAGE_MESSAGES
    assert [message[0] for message in page] == list(range(len(page)))
    author, persona, body = page[0][1], page[0][2], page[0][4]
    assert author and persona and body.strip()
    assert any(reactions for *_rest, reactions in page)


def test_inbox_lists_the_latest_conversations_newest_first(engine):
    with Session(engine) as session:
        inbox = WORKLOADS["inbox → conversations → starter, participants, messages"](session)
    assert len(inbox) == RECENT_CONVERSATIONS
    for _title, starter, participants, count, _last in inbox:
        assert starter in participants and count >= 1


def test_the_profiler_finds_the_n_plus_one_of_a_conversation_page_and_the_fix_removes_it(engine):
    comparison = profile(conversation_page, ["lazy", "selectin"], engine=engine, repeats=1, explain_plans=False)
    assert comparison.mismatches == [] and comparison.errors == {}
    by_key = {result.key: result for result in comparison.results}
    lazy, selectin = by_key["lazy"], by_key["selectin"]
    found = {finding.relationship for finding in lazy.nplusone}
    assert {"Message.reactions", "Message.author"} <= found
    assert selectin.nplusone == []
    assert len(selectin.statements) < len(lazy.statements) / 3


def test_workloads_on_an_empty_database_say_what_is_missing(tmp_path):
    empty = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    ConversationsBase.metadata.create_all(empty)
    with Session(empty) as session, pytest.raises(LookupError, match="load the dataset first"):
        conversation_page(session)
    empty.dispose()
