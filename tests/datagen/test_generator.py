"""The generator alone: same rows for the same seed and size everywhere, a consistent structure, clear errors."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from profiler.datagen import MESSAGES_PER_BATCH, DatasetSpec, generate_batch, iter_batches, setup_rows
from profiler.datagen.generator import BINARY_TABLES, COLUMNS, generate_copy_batch
from profiler.datagen.markov import MarkovChain, shipped_chain
from profiler.datagen.writers import rows_as_copy_text

ROOT = Path(__file__).resolve().parents[2]
DIGEST_SCRIPT = """
import hashlib, sys
from profiler.datagen import DatasetSpec, iter_batches, setup_rows
spec = DatasetSpec(int(sys.argv[1]), int(sys.argv[2]))
digest = hashlib.sha256(repr(setup_rows(spec)).encode())
for batch in iter_batches(spec):
    digest.update(repr(batch.rows).encode())
print(digest.hexdigest())
"""


def dataset_digest(spec: DatasetSpec) -> str:
    digest = hashlib.sha256(repr(setup_rows(spec)).encode())
    for batch in iter_batches(spec):
        digest.update(repr(batch.rows).encode())
    return digest.hexdigest()


def test_same_seed_and_size_give_the_same_rows_in_another_process_with_another_hash_seed():
    spec = DatasetSpec(messages=MESSAGES_PER_BATCH + 700, seed=11)
    here = dataset_digest(spec)
    other = subprocess.run(
        [sys.executable, "-c", DIGEST_SCRIPT, str(spec.messages), str(spec.seed)],
        cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "4242"}, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert other == here


def test_another_seed_or_size_gives_other_rows():
    base = dataset_digest(DatasetSpec(1_000, seed=1))
    assert dataset_digest(DatasetSpec(1_000, seed=2)) != base
    assert dataset_digest(DatasetSpec(1_001, seed=1)) != base


def test_a_batch_made_on_its_own_equals_the_same_batch_made_in_sequence():
    spec = DatasetSpec(messages=3 * MESSAGES_PER_BATCH - 10, seed=5)
    in_sequence = list(iter_batches(spec))
    assert [batch.index for batch in in_sequence] == [0, 1, 2]
    assert generate_batch(spec, 2).rows == in_sequence[2].rows
    assert [batch.rows for batch in iter_batches(spec, [1])] == [in_sequence[1].rows]


def test_batches_cover_every_message_id_once_and_only_whole_conversations():
    spec = DatasetSpec(messages=2 * MESSAGES_PER_BATCH + 123, seed=3)
    seen = []
    for batch in iter_batches(spec):
        ids = [row[0] for row in batch.rows["messages"]]
        assert ids == list(spec.message_ids(batch.index))
        conversation_ids = {row[0] for row in batch.rows["conversations"]}
        assert {row[1] for row in batch.rows["messages"]} == conversation_ids
        seen.extend(ids)
    assert seen == list(range(1, spec.messages + 1))


def test_conversations_threads_and_reactions_are_consistent():
    spec = DatasetSpec(messages=4_000, seed=9)
    bots = {row[0]: row for row in setup_rows(spec)["bots"]}
    personas = {row[0] for row in setup_rows(spec)["personas"]}
    assert all(bot[3] in personas for bot in bots.values())
    (batch,) = iter_batches(spec)
    conversations = {row[0]: row for row in batch.rows["conversations"]}
    members = defaultdict(set)
    for conversation_id, bot_id in batch.rows["conversation_participants"]:
        members[conversation_id].add(bot_id)
    messages = {row[0]: row for row in batch.rows["messages"]}
    positions = defaultdict(list)
    for message_id, conversation_id, author_id, parent_id, position, sent_at, body in messages.values():
        assert author_id in members[conversation_id]
        positions[conversation_id].append(position)
        if position == 0:
            # a conversation is opened by its starter, and its id is its opening message's id
            assert message_id == conversation_id and parent_id is None
            assert author_id == conversations[conversation_id][3]
            assert sent_at == conversations[conversation_id][2]
        if parent_id is not None:
            parent = messages[parent_id]
            assert parent[1] == conversation_id and parent_id < message_id and parent[5] <= sent_at
        assert body.strip() and not any(character in body for character in "\t\n\r\\")
    assert all(sorted(found) == list(range(len(found))) for found in positions.values())
    assert all(2 <= len(bots_in) <= 5 for bots_in in members.values())
    reactions = [(message_id, bot_id) for message_id, bot_id, _emoji in batch.rows["reactions"]]
    assert len(set(reactions)) == len(reactions), "a bot reacts at most once to a message"
    for message_id, bot_id in reactions:
        assert bot_id != messages[message_id][2], "nobody reacts to their own message"
        assert bot_id in members[messages[message_id][1]]
    # replies exist, new threads inside a conversation exist, and so do messages nobody reacted to
    assert any(row[3] is not None for row in messages.values())
    assert any(row[3] is None and row[4] > 0 for row in messages.values())
    assert len({message_id for message_id, _bot in reactions}) < len(messages)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"messages": 0}, ValueError, "messages must be between 1 and 10,000,000, got 0"),
        ({"messages": 10_000_001}, ValueError, "got 10,000,001"),
        ({"messages": "1000"}, TypeError, "messages must be an integer"),
        ({"messages": 1000, "seed": 1.5}, TypeError, "seed must be an integer"),
        ({"messages": 1000, "seed": -1}, ValueError, "seed must be between 0 and 2,147,483,647, got -1"),
    ],
)
def test_bad_sizes_and_seeds_are_refused_with_a_clear_message(arguments, error, message):
    with pytest.raises(error, match=message):
        DatasetSpec(**arguments)


def test_the_chain_babbles_sentences_made_of_corpus_words():
    chain = shipped_chain()
    corpus_words = set(chain.words) | set(chain.first_words)
    rng = random.Random(1)
    sentences = [chain.sentence(rng, max_words=12) for _ in range(200)]
    for sentence in sentences:
        words = sentence.split()
        assert 2 <= len(words) <= 12
        assert sentence[0].isupper() and sentence[-1] in ".!?'"
        # the first word may have been capitalised and the last one given a full stop
        words[0] = words[0] if words[0] in corpus_words else words[0][0].lower() + words[0][1:]
        assert set(words[:-1]) <= corpus_words, sentence
    assert len(set(sentences)) > 150, "a chain that repeats itself is not much of a chat"


def test_a_corpus_without_a_sentence_cannot_train_a_chain():
    with pytest.raises(ValueError, match="nothing to train on"):
        MarkovChain.train(["Hello"])


def binary_copy_rows(data: bytes, types: tuple[str, ...]) -> list[tuple]:
    """Rows of COPY's binary format (without its header and trailer), read back as the generator's values."""
    rows, at = [], 0
    while at < len(data):
        fields, at = int.from_bytes(data[at:at + 2], "big"), at + 2
        assert fields == len(types)
        row = []
        for kind in types:
            length, at = int.from_bytes(data[at:at + 4], "big", signed=True), at + 4
            if length < 0:
                row.append(None)
                continue
            value, at = data[at:at + length], at + length
            if kind == "int":
                row.append(int.from_bytes(value, "big", signed=True))
            elif kind == "timestamp":
                row.append(datetime(2000, 1, 1) + timedelta(microseconds=int.from_bytes(value, "big", signed=True)))
            else:
                row.append(value.decode())
        rows.append(tuple(row))
    return rows


def test_the_rows_encoded_for_copy_are_the_rows_of_the_batch():
    spec = DatasetSpec(messages=MESSAGES_PER_BATCH + 321, seed=13)
    types = {"conversation_participants": ("int", "int"),
             "messages": ("int", "int", "int", "int", "int", "timestamp", "text"),
             "reactions": ("int", "int", "text")}
    for index in range(spec.batches):
        batch, encoded = generate_batch(spec, index), generate_copy_batch(spec, index)
        assert (encoded.index, encoded.message_count, encoded.row_count) == (index, batch.message_count,
                                                                            batch.row_count)
        for name, rows in batch.rows.items():
            if name in BINARY_TABLES:
                assert binary_copy_rows(encoded.data[name], types[name]) == rows, name
            else:
                assert encoded.data[name] == rows_as_copy_text(rows, len(COLUMNS[name])).encode(), name
