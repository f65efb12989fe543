"""The conversations dataset as a deterministic stream of batches.

A dataset is defined by ``DatasetSpec(messages, seed)``. Its rows are cut into batches of a fixed
``MESSAGES_PER_BATCH`` messages: batch ``k`` always holds messages ``k * MESSAGES_PER_BATCH + 1`` onwards,
whole conversations only (the last one is cut short at the batch's end), their participants and the
reactions to those messages. Each batch draws from its own random stream (PCG64) seeded with a string naming
the dataset and the batch, so any batch can be made on its own (a resumed load skips the finished ones
without generating them) and the rows are the same on every machine and every run. Memory stays bounded by
one batch whatever the size. The bots are drawn once per dataset, from ``random.Random``.

A batch is drawn as arrays, a whole batch per numpy operation (``_Plan``), from which come either its rows,
tuples in the column order of ``COLUMNS`` with Python values (int, str, datetime, None), or the same rows
already encoded for PostgreSQL's COPY (``generate_copy_batch``), without a Python object per row.
"""

from __future__ import annotations

import functools
import hashlib
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable, Iterator

import numpy as np

from profiler.inputs import InputError, InputTypeError, shown

from .markov import shipped_chain
from .personas import ADJECTIVES, NOUNS, PERSONAS

# Move it whenever the generated rows change for a given seed and size (a new field, another distribution).
FORMAT_VERSION = 2
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


@dataclass
class CopyBatch:
    """A batch encoded for ``COPY ... FROM STDIN`` (text format), one byte string per table."""

    index: int
    message_count: int
    row_count: int
    data: dict[str, bytes]


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
    return _Plan(spec, index).batch()


def generate_copy_batch(spec: DatasetSpec, index: int) -> CopyBatch:
    """The rows of ``generate_batch(spec, index)`` encoded for PostgreSQL's COPY, one byte string per table
    (COPY's binary format for ``BINARY_TABLES``, without its header and trailer; its text format for the
    others), made without building a tuple per row: the PostgreSQL loader's path."""
    return _Plan(spec, index).copy_batch()


def iter_batches(spec: DatasetSpec, indexes: Iterable[int] | None = None) -> Iterator[Batch]:
    """The batches of ``spec`` in order (or only ``indexes``), one at a time."""
    for index in range(spec.batches) if indexes is None else indexes:
        yield generate_batch(spec, index)


_SECOND = np.timedelta64(1, "s")
_EPOCH64 = np.datetime64(EPOCH.isoformat(), "s")
_RAW_TO_UNIT = 2.0**-53


def _uniform_source(name: str) -> Callable[[int | tuple[int, int]], np.ndarray]:
    """Draws in [0, 1) from PCG64 seeded with the sha256 of ``name``. Made from the raw 64-bit outputs (the
    top 53 bits, as CPython's random() does): numpy promises the PCG64 bit stream and SeedSequence stay the
    same across versions, not the conversions of its Generator methods, so the dataset depends on nothing
    else. Draws are then only multiplied and floored: transcendental functions (log, exp) may round
    differently on another machine."""
    bits = np.random.PCG64(int.from_bytes(hashlib.sha256(name.encode()).digest()[:16], "big"))

    def uniforms(shape: int | tuple[int, int]) -> np.ndarray:
        return (bits.random_raw(shape) >> np.uint64(11)) * _RAW_TO_UNIT

    return uniforms


def _segment_cumsum(values: np.ndarray, starts: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Running sums that restart at each segment (``starts``: each segment's first index; ``owner``: each
    value's segment)."""
    total = np.cumsum(values)
    return total - (total[starts] - values[starts])[owner]


@dataclass(frozen=True, eq=False)
class _Pieces:
    """Every bit of text a message body is made of, made once per process: each hop of the chain cut after
    each of its words (so a piece is one list index, whatever the cut), persona openers and closers. Four
    variants of each: followed by a space or not (the body's last piece), given the full stop of an
    unfinished sentence or not; variant v of base piece i is at ``v * base + i``.

    Whole hops come first, made first, so that they lie together in memory: they are most of the pieces a
    batch joins, and the join is bound by memory (measured: a batch's 50,000 pieces join in about twice the
    time they take from a table of 2,000 objects)."""

    table: np.ndarray  # of bytes objects: joining table[order].tolist() is about twice as fast as a map
    lengths: np.ndarray
    base: int
    entry_piece: np.ndarray  # per word entry of the walk tables: its base piece
    opener_first: np.ndarray  # per persona: its first opener piece
    opener_count: np.ndarray
    closer_first: np.ndarray
    closer_count: np.ndarray

    FULL_STOP = 1  # variant offsets, in units of ``base``
    LAST = 2

    @classmethod
    @functools.cache
    def shipped(cls) -> _Pieces:
        walk = shipped_chain().walk_tables
        whole = [" ".join(words) for words in walk.hop_words]
        cuts = [" ".join(words[:cut]) for words in walk.hop_words for cut in range(1, len(words))]
        plain = whole + cuts
        entry_piece = np.empty(len(walk.word_state), dtype=np.int64)
        ends = walk.word_base + walk.hop_length - 1
        entry_piece[ends] = np.arange(len(whole))
        cut = np.ones(len(entry_piece), dtype=bool)
        cut[ends] = False
        entry_piece[cut] = np.arange(len(whole), len(plain))
        stopped = [text.rstrip(",;:-") + "." for text in plain]
        opener_first, closer_first = [], []
        for persona in PERSONAS:
            opener_first.append(len(plain))
            plain += persona.openers
            closer_first.append(len(plain))
            plain += persona.closers
        stopped += plain[len(stopped):]
        texts = [text + " " for text in plain] + [text + " " for text in stopped] + plain + stopped
        table = np.fromiter((text.encode() for text in texts), dtype=object, count=len(texts))
        return cls(
            table=table,
            lengths=np.array([len(piece) for piece in table], dtype=np.int64),
            base=len(plain),
            entry_piece=entry_piece,
            opener_first=np.array(opener_first, dtype=np.int64),
            opener_count=np.array([len(persona.openers) for persona in PERSONAS], dtype=np.int64),
            closer_first=np.array(closer_first, dtype=np.int64),
            closer_count=np.array([len(persona.closers) for persona in PERSONAS], dtype=np.int64),
        )


@dataclass(frozen=True, eq=False)
class _Cast:
    """Per dataset: each bot's persona as arrays, and the pieces of text that name a bot ("@handle ")."""

    persona: np.ndarray  # by bot id (index 0 unused)
    table: np.ndarray  # of bytes objects: the shipped pieces, then one "@handle " per bot
    lengths: np.ndarray  # of each piece, in bytes
    handle_first: int
    per_thread: threading.local = field(default_factory=threading.local)

    def table_with_room(self) -> tuple[np.ndarray, int]:
        """``table`` with room for one batch's rows after it, and where that room starts: a batch puts its
        message heads there, to join heads and bodies in one pass. One per thread (two loads may run at once
        in one process); made once, as copying the table for each batch costs about a quarter of the join
        (measured: 1.4 ms against 5.5 ms per batch)."""
        made = getattr(self.per_thread, "table", None)
        if made is None:
            made = self.per_thread.table = np.concatenate([self.table, np.full(MESSAGES_PER_BATCH, b"", dtype=object)])
        return made, len(self.table)

    @classmethod
    @functools.lru_cache(maxsize=4)  # a kernel making samples of many sizes keeps only the latest few
    def of(cls, spec: DatasetSpec) -> _Cast:
        personas, handles, _rows = _cast(spec)
        pieces = _Pieces.shipped()
        named = np.fromiter((f"@{handle} ".encode() for handle in handles), dtype=object, count=len(handles))
        table = np.concatenate([pieces.table, named])
        return cls(np.array((0, *personas), dtype=np.int64), table,
                   np.array([len(piece) for piece in table], dtype=np.int64), len(pieces.table))


_PERSONA_LOW = np.array([persona.sentences[0] for persona in PERSONAS], dtype=np.int64)
_PERSONA_SPAN = np.array([persona.sentences[1] - persona.sentences[0] + 1 for persona in PERSONAS], dtype=np.int64)
_PERSONA_WORDS = np.array([persona.max_words for persona in PERSONAS], dtype=np.int64)
_PERSONA_CHATTINESS = np.array([persona.chattiness for persona in PERSONAS])
_EMOJIS = tuple(emoji for persona in PERSONAS for emoji in persona.emojis)
_EMOJI_COUNT = np.array([len(persona.emojis) for persona in PERSONAS], dtype=np.int64)
_EMOJI_FIRST = np.cumsum(_EMOJI_COUNT) - _EMOJI_COUNT
_MOST_MEMBERS = 5
_TITLE_WORDS = 8


class _Plan:
    """One batch as arrays, drawn all at once (numpy), from which both its tuples and its COPY encoding are made.

    Each conversation: 2 to 5 different members (the first starts it), a start time, a title. Each message:
    its author a member other than the previous message's (the first message's is the starter), its parent
    the previous message (55%), an earlier one (30%) or none (a new thread), 5 s to 10 min after the previous
    one, its body a few sentences of the chain in its author's persona (length, opener, closer, naming the
    author it answers). Each message draws 0 to 3 reactions from other members, each with an emoji of the
    reacting bot's persona."""

    def __init__(self, spec: DatasetSpec, index: int):
        ids = spec.message_ids(index)
        uniforms = _uniform_source(f"conversations/{FORMAT_VERSION}/{spec.seed}/{spec.messages}/batch/{index}")
        self.cast = cast = _Cast.of(spec)
        count = len(ids)
        self.index = index
        self.first = ids.start
        self.message_count = count

        # Conversations: lengths 1 + int(a * b * 60), the last one cut at the batch's end.
        a, b = uniforms(count), uniforms(count)
        lengths = 1 + (a * b * 60).astype(np.int64)
        ends = np.cumsum(lengths)
        conversations = int(np.searchsorted(ends, count)) + 1
        lengths = lengths[:conversations]
        lengths[-1] -= ends[conversations - 1] - count
        opening = np.cumsum(lengths) - lengths  # each conversation's first message, as an offset in the batch
        self.conversation_ids = ids.start + opening
        self.member_count = np.minimum(spec.bots, 2 + (uniforms(conversations) * 4).astype(np.int64))
        self.members = self._members(uniforms((conversations, _MOST_MEMBERS)), spec.bots)
        self.started = (uniforms(conversations) * SPAN_SECONDS).astype(np.int64)

        # Messages
        owner = np.repeat(np.arange(conversations), lengths)
        self.owner = owner
        self.position = position = np.arange(count) - opening[owner]
        first = position == 0
        sizes = self.member_count[owner]
        steps = 1 + (uniforms(count) * (sizes - 1)).astype(np.int64)
        steps[first] = 0
        slot = _segment_cumsum(steps, opening, owner) % sizes
        self.author = author = self.members[owner, slot]
        draw, earlier = uniforms(count), uniforms(count)
        offset = np.arange(count)
        parent = np.where(draw < 0.55, offset - 1, np.where(draw < 0.85, opening[owner] + (earlier * position).astype(
            np.int64), -1))
        parent[first] = -1
        self.parent = np.where(parent >= 0, parent + ids.start, -1)
        gaps = 5 + (uniforms(count) * uniforms(count) * 600).astype(np.int64)
        gaps[first] = 0
        self.sent = self.started[owner] + _segment_cumsum(gaps, opening, owner)

        # Bodies: sentences of the chain, then the persona's touches.
        persona = cast.persona[author]
        sentences = _PERSONA_LOW[persona] + (uniforms(count) * _PERSONA_SPAN[persona]).astype(np.int64)
        chattiness = _PERSONA_CHATTINESS[persona]
        pieces = _Pieces.shipped()
        opener = np.where(uniforms(count) < chattiness, pieces.opener_first[persona] + (
            uniforms(count) * pieces.opener_count[persona]).astype(np.int64), -1)
        closer = np.where(uniforms(count) < chattiness / 2, pieces.closer_first[persona] + (
            uniforms(count) * pieces.closer_count[persona]).astype(np.int64), -1)
        answered = np.where(parent >= 0, author[np.maximum(parent, 0)], 0)
        naming = (parent >= 0) & (answered != author) & (uniforms(count) < chattiness)
        handle = np.where(naming, cast.handle_first + answered - 1, -1)
        self.body = (handle, opener, sentences, closer,
                     shipped_chain().walk_tables.walk(np.repeat(_PERSONA_WORDS[persona], sentences), uniforms))
        self.titles = shipped_chain().walk_tables.walk(np.full(conversations, _TITLE_WORDS), uniforms)

        # Reactions: ``wanted`` other members, those with the smallest random keys.
        draw = uniforms(count)
        wanted = np.where(draw < 0.55, 0, np.where(draw < 0.8, 1, np.where(draw < 0.93, 2, 3)))
        wanted = np.minimum(wanted, sizes - 1)
        keys = uniforms((count, _MOST_MEMBERS))
        keys[np.arange(_MOST_MEMBERS) >= sizes[:, None]] = 2.0
        keys[np.arange(count), slot] = 2.0
        chosen = np.argsort(keys, axis=1, kind="stable")[:, :3]
        taken = np.arange(3) < wanted[:, None]
        bots = np.sort(np.where(taken, self.members[owner[:, None], chosen], np.iinfo(np.int64).max), axis=1)
        reacting = bots[taken]
        self.reaction_messages = np.repeat(offset + ids.start, wanted)
        self.reaction_bots = reacting
        reactor = cast.persona[reacting]
        self.reaction_emojis = _EMOJI_FIRST[reactor] + (uniforms(len(reacting)) * _EMOJI_COUNT[reactor]).astype(
            np.int64)

    @staticmethod
    def _members(draws: np.ndarray, bots: int) -> np.ndarray:
        """Candidates ``1 + int(u * bots)``; a candidate already taken in its row moves to the next bot id
        (rare once there are hundreds of bots; small datasets have 12)."""
        members = 1 + (draws * bots).astype(np.int64)
        clash = np.zeros(len(members), dtype=bool)
        for later in range(1, _MOST_MEMBERS):
            clash |= (members[:, :later] == members[:, later:later + 1]).any(axis=1)
        for row in np.flatnonzero(clash):
            picked: list[int] = []
            for bot in members[row].tolist():
                while bot in picked:
                    bot = bot % bots + 1
                picked.append(bot)
            members[row] = picked
        return members

    def _body_pieces(self, framed: bool) -> tuple[np.ndarray, np.ndarray]:
        """The pieces of every body in order, and where each body starts; ``framed`` leaves a slot before each
        body (then where each body starts is that slot) for the row's other columns, holding piece 0 until
        the caller fills it."""
        handle, opener, sentences, closer, walk = self.body
        pieces = _Pieces.shipped()
        extra = 1 if framed else 0
        entry = pieces.entry_piece[walk.entry]
        entry[walk.last[walk.unfinished]] += pieces.FULL_STOP * pieces.base
        has_handle, has_opener, has_closer = handle >= 0, opener >= 0, closer >= 0
        handles, openers, closers = (flags.astype(np.int64) for flags in (has_handle, has_opener, has_closer))
        message_of_walker = np.repeat(np.arange(self.message_count), sentences)
        first_walker = np.cumsum(sentences) - sentences
        walker_pieces = np.bincount(message_of_walker, weights=walk.pieces, minlength=self.message_count).astype(
            np.int64)
        body = handles + openers + walker_pieces + closers
        size = body + extra
        start = np.cumsum(size) - size
        out = np.zeros(int(size.sum()), dtype=np.int64)
        inside = start + extra
        out[inside[has_handle]] = handle[has_handle]
        out[(inside + handles)[has_opener]] = opener[has_opener]
        before = np.cumsum(walk.pieces) - walk.pieces
        walker_start = (inside + handles + openers)[message_of_walker] + before - before[first_walker][
            message_of_walker]
        out[walker_start[walk.walker] + walk.step] = entry
        out[(inside + body - 1)[has_closer]] = closer[has_closer]
        out[inside + body - 1] += pieces.LAST * pieces.base
        return out, start

    def _titles(self) -> list[str]:
        walk = self.titles
        pieces = _Pieces.shipped()
        entry = pieces.entry_piece[walk.entry]
        entry[walk.last[walk.unfinished]] += pieces.FULL_STOP * pieces.base
        before = np.cumsum(walk.pieces) - walk.pieces
        order = np.empty_like(entry)
        order[before[walk.walker] + walk.step] = entry
        encoded = b"".join(pieces.table[order].tolist())
        bounds = [0, *np.cumsum(pieces.lengths[order])[before + walk.pieces - 1].tolist()]
        # a title is the sentence without its closing punctuation
        return [encoded[bounds[i]:bounds[i + 1]].decode().rstrip(" ").rstrip(".!?") for i in range(len(before))]

    def _participants(self) -> tuple[np.ndarray, np.ndarray]:
        taken = np.arange(_MOST_MEMBERS) < self.member_count[:, None]
        bots = np.sort(np.where(taken, self.members, np.iinfo(np.int64).max), axis=1)
        return np.repeat(self.conversation_ids, self.member_count), bots[taken]

    def batch(self) -> Batch:
        batch = Batch(self.index)
        cast = self.cast
        starts = [EPOCH + timedelta(seconds=seconds) for seconds in self.started.tolist()]
        batch.rows["conversations"] = list(zip(self.conversation_ids.tolist(), self._titles(), starts,
                                               self.members[:, 0].tolist(), strict=True))
        batch.rows["conversation_participants"] = list(zip(*(column.tolist() for column in self._participants()),
                                                           strict=True))
        order, first = self._body_pieces(framed=False)
        encoded = b"".join(cast.table[order].tolist())
        bounds = [*(np.cumsum(cast.lengths[order]) - cast.lengths[order])[first].tolist(), len(encoded)]
        bodies = [encoded[bounds[i]:bounds[i + 1]].decode() for i in range(len(first))]
        sent = [EPOCH + timedelta(seconds=seconds) for seconds in self.sent.tolist()]
        ids = range(self.first, self.first + self.message_count)
        parents = [None if parent < 0 else parent for parent in self.parent.tolist()]
        batch.rows["messages"] = list(zip(ids, (self.conversation_ids[self.owner]).tolist(), self.author.tolist(),
                                          parents, self.position.tolist(), sent, bodies, strict=True))
        batch.rows["reactions"] = list(zip(self.reaction_messages.tolist(), self.reaction_bots.tolist(),
                                           map(_EMOJIS.__getitem__, self.reaction_emojis.tolist()), strict=True))
        return batch

    def copy_batch(self) -> CopyBatch:
        from .writers import rows_as_copy_text  # here: writers imports this module

        conversations = rows_as_copy_text(list(zip(self.conversation_ids.tolist(), self._titles(),
                                                   _copy_times(self.started), self.members[:, 0].tolist(),
                                                   strict=True)), len(COLUMNS["conversations"])).encode()
        conversation_ids, bots = self._participants()
        participants = np.empty(len(bots), dtype=_PARTICIPANT_ROW)
        participants["fields"], participants["conversation_id_length"], participants["bot_id_length"] = 2, 4, 4
        participants["conversation_id"], participants["bot_id"] = conversation_ids, bots
        data = {"conversations": conversations, "conversation_participants": participants.tobytes(),
                "messages": self._messages(), "reactions": self._reactions()}
        rows = len(self.conversation_ids) + len(bots) + self.message_count + len(self.reaction_bots)
        return CopyBatch(self.index, self.message_count, rows, data)

    def _messages(self) -> bytes:
        """The message rows in COPY's binary format: each row's head (``_message_heads``), then its body's
        pieces, joined at once."""
        order, heads_at = self._body_pieces(framed=True)
        lengths = self.cast.lengths
        heads = self._message_heads(np.add.reduceat(lengths[order], heads_at) - lengths[0])
        table, first_head = self.cast.table_with_room()
        table[first_head:first_head + len(heads)] = heads
        order[heads_at] = np.arange(first_head, first_head + len(heads))
        return b"".join(table[order].tolist())

    def _message_heads(self, body_lengths: np.ndarray) -> list[bytes]:
        """Each message row in COPY's binary format up to its body: the field count, then each field's
        length and value (big-endian), the parent's length -1 and no value when it has none."""
        count = self.message_count
        head = np.empty(count, dtype=_MESSAGE_HEAD)
        head["fields"] = len(COLUMNS["messages"])
        for name in ("id", "conversation_id", "author_id", "parent_id", "position"):
            head[f"{name}_length"] = 4
        head["id"] = np.arange(self.first, self.first + count)
        head["conversation_id"] = self.conversation_ids[self.owner]
        head["author_id"] = self.author
        head["parent_id"] = self.parent
        head["position"] = self.position
        head["sent_at_length"] = 8
        head["sent_at"] = (self.sent + _EPOCH_AFTER_2000) * 1_000_000
        head["body_length"] = body_lengths
        orphan = self.parent < 0
        head["parent_id_length"][orphan] = -1
        keep = np.ones((count, _MESSAGE_HEAD.itemsize), dtype=bool)
        keep[orphan, _PARENT_VALUE] = False  # no value after a length of -1
        ends = np.cumsum(keep.sum(axis=1)).tolist()
        packed = head.view(np.uint8).reshape(count, -1)[keep].tobytes()
        return [packed[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]

    def _reactions(self) -> bytes:
        """The reaction rows in COPY's binary format: fixed-size rows whose emoji is padded, the padding then
        dropped."""
        count = len(self.reaction_bots)
        rows = np.empty(count, dtype=_REACTION_ROW)
        rows["fields"], rows["message_id_length"], rows["bot_id_length"] = 3, 4, 4
        rows["message_id"], rows["bot_id"] = self.reaction_messages, self.reaction_bots
        rows["emoji_length"] = _EMOJI_LENGTH[self.reaction_emojis]
        rows["emoji"] = _EMOJI_BYTES[self.reaction_emojis]
        keep = np.ones((count, _REACTION_ROW.itemsize), dtype=bool)
        keep[:, _REACTION_ROW.fields["emoji"][1]:] = np.arange(_EMOJI_ROOM) < rows["emoji_length"][:, None]
        return rows.view(np.uint8).reshape(count, -1)[keep].tobytes()


# COPY's binary format: a timestamp is microseconds since 2000-01-01 (PostgreSQL's integer datetimes).
_EPOCH_AFTER_2000 = int((EPOCH - datetime(2000, 1, 1)).total_seconds())
_MESSAGE_HEAD = np.dtype([
    ("fields", ">i2"), ("id_length", ">i4"), ("id", ">i4"), ("conversation_id_length", ">i4"),
    ("conversation_id", ">i4"), ("author_id_length", ">i4"), ("author_id", ">i4"), ("parent_id_length", ">i4"),
    ("parent_id", ">i4"), ("position_length", ">i4"), ("position", ">i4"), ("sent_at_length", ">i4"),
    ("sent_at", ">i8"), ("body_length", ">i4"),
])
_PARENT_VALUE = slice(_MESSAGE_HEAD.fields["parent_id"][1], _MESSAGE_HEAD.fields["parent_id"][1] + 4)
_PARTICIPANT_ROW = np.dtype([
    ("fields", ">i2"), ("conversation_id_length", ">i4"), ("conversation_id", ">i4"), ("bot_id_length", ">i4"),
    ("bot_id", ">i4"),
])
_EMOJI_ROOM = 8  # bytes: the longest emoji of the personas is 7 (a symbol and its variation selector)
_EMOJI_LENGTH = np.array([len(emoji.encode()) for emoji in _EMOJIS], dtype=np.int64)
assert _EMOJI_LENGTH.max() <= _EMOJI_ROOM, "an emoji longer than the room made for it"
_EMOJI_BYTES = np.array([tuple(emoji.encode().ljust(_EMOJI_ROOM, b"\0")) for emoji in _EMOJIS], dtype=np.uint8)
_REACTION_ROW = np.dtype([
    ("fields", ">i2"), ("message_id_length", ">i4"), ("message_id", ">i4"), ("bot_id_length", ">i4"),
    ("bot_id", ">i4"), ("emoji_length", ">i4"), ("emoji", "u1", (_EMOJI_ROOM,)),
])
BINARY_TABLES = frozenset({"conversation_participants", "messages", "reactions"})


def _copy_times(seconds: np.ndarray) -> list[str]:
    """Times after EPOCH as ``str(datetime)`` writes them (what COPY reads): YYYY-MM-DD HH:MM:SS."""
    text = np.datetime_as_string(_EPOCH64 + seconds * _SECOND, unit="s").astype("S19")
    text.view(np.uint8).reshape(-1, 19)[:, 10] = ord(" ")
    return [value.decode() for value in text.tolist()]
