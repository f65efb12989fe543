"""The conversations dataset as a deterministic stream of batches.

A dataset is defined by ``DatasetSpec(messages, seed)``. Its rows are cut into batches of a fixed
``MESSAGES_PER_BATCH`` messages: batch ``k`` always holds messages ``k * MESSAGES_PER_BATCH + 1`` onwards,
whole conversations only (the last one is cut short at the batch's end), their participants and the
reactions to those messages. Each batch draws from its own ``random.Random`` seeded with a string naming the
dataset and the batch, so any batch can be made on its own (a resumed load skips the finished ones without
generating them) and the rows are the same on every machine and every run. Memory stays bounded by one
batch whatever the size.

Rows are tuples in the column order of ``COLUMNS``, with Python values (int, str, datetime, None).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable, Iterator, Sequence

from profiler.inputs import InputError, InputTypeError, shown

from .markov import shipped_chain
from .personas import ADJECTIVES, NOUNS, PERSONAS

# Move it whenever the generated rows change for a given seed and size (a new field, another distribution).
FORMAT_VERSION = 1
MESSAGES_PER_BATCH = 5_000
MIN_MESSAGES = 1
MAX_MESSAGES = 10_000_000
MAX_SEED = 2**31 - 1  # a database INTEGER
EPOCH = datetime(2024, 1, 1)
SPAN_SECONDS = 2 * 365 * 24 * 3600  # conversations start within two years of EPOCH

COLUMNS: dict[str, tuple[str, ...]] = {
    "personas": ("id", "name", "tagline"),
    "bots": ("id", "handle", "display_name", "persona_id", "created_at"),
    "conversations": ("id", "title", "started_at", "starter_id"),
    "conversation_participants": ("conversation_id", "bot_id"),
    "messages": ("id", "conversation_id", "author_id", "parent_id", "position", "sent_at", "body"),
    "reactions": ("message_id", "bot_id", "emoji"),
}
SETUP_TABLES = ("personas", "bots")
BATCH_TABLES = ("conversations", "conversation_participants", "messages", "reactions")


@dataclass(frozen=True)
class DatasetSpec:
    """Which dataset: ``messages`` in total (1 to 10 million), generated from ``seed``."""

    messages: int
    seed: int = 0

    def __post_init__(self):
        for name in ("messages", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputTypeError(f"{name} must be an integer, got {shown(value)}", name)
        if not 0 <= self.seed <= MAX_SEED:
            raise InputError(f"seed must be between 0 and {MAX_SEED:,}, got {self.seed:,}", "seed")
        if not MIN_MESSAGES <= self.messages <= MAX_MESSAGES:
            raise InputError(
                f"messages must be between {MIN_MESSAGES:,} and {MAX_MESSAGES:,}, got {self.messages:,}", "messages"
            )

    @property
    def batches(self) -> int:
        return -(-self.messages // MESSAGES_PER_BATCH)

    @property
    def bots(self) -> int:
        """How many bots talk: one per 400 messages, at least 12 and at most 5,000."""
        return min(5_000, max(12, self.messages // 400))

    def message_ids(self, batch: int) -> range:
        if not 0 <= batch < self.batches:
            raise IndexError(f"batch {batch} is outside 0..{self.batches - 1} for {self}")
        first = batch * MESSAGES_PER_BATCH + 1
        return range(first, min(first + MESSAGES_PER_BATCH, self.messages + 1))

    @property
    def identity(self) -> dict[str, str | int]:
        """Everything the rows depend on; a database holding another identity holds another dataset."""
        return {"format": FORMAT_VERSION, "corpus": shipped_chain().digest, "seed": self.seed,
                "messages": self.messages}

    def _stream(self, part: str) -> random.Random:
        return random.Random(f"conversations/{FORMAT_VERSION}/{self.seed}/{self.messages}/{part}")


@dataclass
class Batch:
    index: int
    rows: dict[str, list[tuple]] = field(default_factory=lambda: {name: [] for name in BATCH_TABLES})

    @property
    def row_count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    @property
    def message_count(self) -> int:
        return len(self.rows["messages"])


def persona_rows() -> list[tuple]:
    return [(number, persona.name, persona.tagline) for number, persona in enumerate(PERSONAS, start=1)]


@functools.cache
def _cast(spec: DatasetSpec) -> tuple[tuple[int, ...], tuple[str, ...], list[tuple]]:
    """Each bot's persona index (0-based) and handle, and the bot rows; made once per spec and process."""
    rng = spec._stream("bots")
    personas, handles, rows = [], [], []
    for bot_id in range(1, spec.bots + 1):
        adjective, noun = ADJECTIVES[int(rng.random() * len(ADJECTIVES))], NOUNS[int(rng.random() * len(NOUNS))]
        persona = int(rng.random() * len(PERSONAS))
        handle = f"{adjective}_{noun}_{bot_id}"
        created = EPOCH - timedelta(seconds=int(rng.random() * SPAN_SECONDS))
        personas.append(persona)
        handles.append(handle)
        rows.append((bot_id, handle, f"{adjective.title()} {noun.title()}", persona + 1, created))
    return tuple(personas), tuple(handles), rows


def bot_rows(spec: DatasetSpec) -> list[tuple]:
    return list(_cast(spec)[2])


def setup_rows(spec: DatasetSpec) -> dict[str, list[tuple]]:
    """The rows every batch refers to: personas and bots."""
    return {"personas": persona_rows(), "bots": bot_rows(spec)}


def generate_batch(spec: DatasetSpec, index: int) -> Batch:
    """Batch ``index`` of ``spec``: whole conversations covering its message ids, with their reactions."""
    ids = spec.message_ids(index)
    rng = spec._stream(f"batch/{index}")
    batch = Batch(index)
    writer = _ConversationWriter(spec, rng, batch)
    next_id = ids.start
    while next_id < ids.stop:
        # Only random() and products: transcendental functions (log, exp) may round differently elsewhere.
        length = min(ids.stop - next_id, 1 + int(rng.random() * rng.random() * 60))
        writer.conversation(next_id, length)
        next_id += length
    return batch


def iter_batches(spec: DatasetSpec, indexes: Iterable[int] | None = None) -> Iterator[Batch]:
    """The batches of ``spec`` in order (or only ``indexes``), one at a time."""
    for index in range(spec.batches) if indexes is None else indexes:
        yield generate_batch(spec, index)


_GAPS = tuple(timedelta(seconds=5 + seconds) for seconds in range(600))  # between two messages


def _distinct(random_: Callable[[], float], items: Sequence[int], count: int) -> list[int]:
    """``count`` different items picked at random (``count`` is small next to ``len(items)`` here).

    Only ``random()`` draws: of the random module, only ``random()`` is promised to give the same sequence
    on every Python version (``sample`` and ``randrange`` may change), so the dataset never depends on them.
    """
    picked: list[int] = []
    while len(picked) < count:
        item = items[int(random_() * len(items))]
        if item not in picked:
            picked.append(item)
    return picked


class _ConversationWriter:
    """Appends one conversation's rows to a batch; the hot loop of the generator."""

    def __init__(self, spec: DatasetSpec, rng: random.Random, batch: Batch):
        self.rng = rng
        self.bots = spec.bots
        self.bot_ids = range(1, spec.bots + 1)
        personas, self.handles, _rows = _cast(spec)
        self.persona_of = (None, *(PERSONAS[persona] for persona in personas))  # by bot id
        self.chain = shipped_chain()
        self.rows = batch.rows

    def conversation(self, first_id: int, length: int) -> None:
        rng, random_ = self.rng, self.rng.random
        members = _distinct(random_, self.bot_ids, min(self.bots, 2 + int(random_() * 4)))
        started = EPOCH + timedelta(seconds=int(random_() * SPAN_SECONDS))
        title = self.chain.sentence(rng, 8).rstrip(".!?")
        self.rows["conversations"].append((first_id, title, started, members[0]))
        self.rows["conversation_participants"].extend((first_id, bot) for bot in sorted(members))
        messages, reactions = self.rows["messages"], self.rows["reactions"]
        authors: list[int] = []
        sent = started
        for position in range(length):
            message_id = first_id + position
            if position == 0:
                author, parent = members[0], None
            else:
                author = members[int(random_() * len(members))]
                if author == authors[-1]:
                    author = members[(members.index(author) + 1) % len(members)]
                draw = random_()
                if draw < 0.55:
                    parent = message_id - 1
                elif draw < 0.85:
                    parent = first_id + int(random_() * position)
                else:
                    parent = None
                sent += _GAPS[int(random_() * random_() * len(_GAPS))]
            answering = authors[parent - first_id] if parent is not None else None
            authors.append(author)
            messages.append((message_id, first_id, author, parent, position, sent, self._body(author, answering)))
            draw = random_()
            if draw >= 0.55 and len(members) > 1:
                wanted = 1 if draw < 0.8 else 2 if draw < 0.93 else 3
                others = [bot for bot in members if bot != author]
                reacting = sorted(_distinct(random_, others, min(wanted, len(others))))
                for bot in reacting:
                    emojis = self.persona_of[bot].emojis
                    reactions.append((message_id, bot, emojis[int(random_() * len(emojis))]))

    def _body(self, author: int, answering: int | None) -> str:
        random_ = self.rng.random
        persona = self.persona_of[author]
        low, high = persona.sentences
        text = self.chain.sentences(self.rng, low + int(random_() * (high - low + 1)), persona.max_words)
        if random_() < persona.chattiness:
            text = persona.openers[int(random_() * len(persona.openers))] + " " + text
        if random_() < persona.chattiness / 2:
            text = text + " " + persona.closers[int(random_() * len(persona.closers))]
        if answering is not None and answering != author and random_() < persona.chattiness:
            text = "@" + self.handles[answering - 1] + " " + text
        return text
