"""A word-level Markov chain trained on the public-domain corpus shipped in ``corpus/``.

States are pairs of words (order 2) numbered in first-seen order, and each state keeps the tuple of the
states that followed it in the corpus (repeats included, so a frequent continuation is picked more often).
Walking the chain is then one list index and one ``rng.random()`` per word: fast enough to write millions of
messages, and the same words for the same random stream on every machine (no dict or set iteration order
and no ``hash()`` is involved in training or walking). ``MarkovChain.walk_tables`` holds the same hops as
arrays, to walk thousands of sentences at once with numpy (what the dataset generator does).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import random
import re
from dataclasses import dataclass
from typing import Callable
from importlib import resources

import numpy as np

# Characters that would need escaping in PostgreSQL's COPY text format or that make babble unbalanced.
_DROPPED = re.compile(r'["“”_()\[\]\\\t]')
_SENTENCE_END = re.compile(r"[.!?][’']?$")
_NOT_AN_END = frozenset({"Mr.", "Mrs.", "Dr.", "St."})


def _ends_sentence(word: str) -> bool:
    return word not in _NOT_AN_END and bool(_SENTENCE_END.search(word))


def corpus_texts() -> list[tuple[str, str]]:
    """The (file name, text) pairs of the shipped corpus, in file-name order."""
    folder = resources.files("profiler.datagen").joinpath("corpus")
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".txt"))
    return [(name, folder.joinpath(name).read_text(encoding="utf-8")) for name in names]


def words_of(text: str) -> list[str]:
    """The words of ``text`` as the chain sees them: split on white space, curly quotes straightened,
    double quotes, brackets, underscores and backslashes dropped."""
    text = _DROPPED.sub(" ", text.replace("‘", "'").replace("’", "'").replace("—", " - "))
    return [word for word in text.split() if any(character.isalnum() for character in word)]


# A hop: its words joined, how many, the state reached, the words, the state after each word.
Hop = tuple[str, int, int, tuple[str, ...], tuple[int, ...]]


@dataclass(frozen=True)
class MarkovChain:
    first_words: tuple[str, ...]  # the first word of each state's pair
    openings: tuple[str, ...]  # the same, capitalised: how a sentence starting at the state begins
    words: tuple[str, ...]  # the second word of each state's pair: the one a walk emits
    successors: tuple[tuple[int, ...], ...]  # the states that may follow each state
    ends_sentence: tuple[bool, ...]
    starts: tuple[int, ...]  # states that open a sentence in the corpus
    # The walk moves by hops: one random step, then every forced step after it (most states of a small
    # corpus have a single successor). hops[state] lists one hop per entry of successors[state].
    hops: tuple[tuple[Hop, ...], ...]
    start_hops: tuple[Hop, ...]  # one per entry of starts, the capitalised opening word included
    digest: str  # sha256 of the training text: datasets made from another corpus are other datasets

    @classmethod
    def train(cls, texts: list[str]) -> MarkovChain:
        state_ids: dict[tuple[str, str], int] = {}
        first_words: list[str] = []
        words: list[str] = []
        successors: list[list[int]] = []
        starts: list[int] = []

        def state(pair: tuple[str, str]) -> int:
            number = state_ids.get(pair)
            if number is None:
                number = state_ids[pair] = len(words)
                first_words.append(pair[0])
                words.append(pair[1])
                successors.append([])
            return number

        digest = hashlib.sha256()
        for text in texts:
            digest.update(text.encode("utf-8"))
            tokens = words_of(text)
            previous_ended = True
            for first, second in itertools.pairwise(tokens):
                number = state((first, second))
                if previous_ended:
                    starts.append(number)
                previous_ended = _ends_sentence(first)
            # Sliding window of three: the shifted slices are meant to be shorter and end the zip.
            for first, second, third in zip(tokens, tokens[1:], tokens[2:], strict=False):
                successors[state_ids[(first, second)]].append(state_ids[(second, third)])
        if not starts:
            raise ValueError("the corpus holds no sentence of two words or more: nothing to train on")
        # A state whose successors are all the same state has one successor: no random draw is spent on it.
        unique = tuple(
            tuple(following) if len(set(following)) > 1 else tuple(following[:1]) for following in successors
        )
        ends = tuple(_ends_sentence(word) for word in words)
        openings = tuple(word[:1].upper() + word[1:] for word in first_words)
        hop_to = [_hop(state, unique, words, ends) for state in range(len(words))]
        return cls(
            first_words=tuple(first_words),
            openings=openings,
            words=tuple(words),
            successors=unique,
            ends_sentence=ends,
            starts=tuple(starts),
            hops=tuple(tuple(hop_to[following] for following in unique[state]) for state in range(len(words))),
            start_hops=tuple(_hop(state, unique, words, ends, openings[state]) for state in starts),
            digest=digest.hexdigest(),
        )

    @functools.cached_property
    def walk_tables(self) -> WalkTables:
        return WalkTables.of(self)

    def sentence(self, rng: random.Random, max_words: int = 24) -> str:
        """One sentence: a corpus sentence opening, then the chain until a sentence end or ``max_words``."""
        return self.sentences(rng, 1, max_words)

    def sentences(self, rng: random.Random, count: int, max_words: int = 24) -> str:
        """``count`` sentences joined by spaces (one call for a whole message: this is the generator's hot
        loop, so it is written for speed)."""
        random_ = rng.random
        hops, ends, start_hops = self.hops, self.ends_sentence, self.start_hops
        out: list[str] = []
        for _ in range(count):
            hop = start_hops[int(random_() * len(start_hops))]
            length = 0
            while True:
                text, hop_length, state, hop_words, hop_states = hop
                if length + hop_length <= max_words:
                    out.append(text)
                    length += hop_length
                else:  # cut short at max_words
                    allowed = max_words - length
                    out.extend(hop_words[:allowed])
                    state = hop_states[allowed - 1]
                    break
                if ends[state] or length >= max_words:
                    break
                following = hops[state]
                if not following:
                    break
                hop = following[int(random_() * len(following))]
            if not ends[state]:
                out[-1] = out[-1].rstrip(",;:-") + "."
        return " ".join(out)


def _hop(state: int, successors, words, ends, opening: str | None = None) -> Hop:
    """Enter ``state`` (emitting its word, after ``opening`` for a sentence start), then take every forced
    step; each emitted word is paired with the state the walk is in after it (to cut a hop short)."""
    emitted = [words[state]] if opening is None else [opening, words[state]]
    visited = [state] * len(emitted)
    current = state
    # a forced cycle cannot exist in a finite text; the bound only guards against a malformed chain
    while len(successors[current]) == 1 and not ends[current] and len(emitted) < 10_000:
        current = successors[current][0]
        emitted.append(words[current])
        visited.append(current)
    return " ".join(emitted), len(emitted), current, tuple(emitted), tuple(visited)


@dataclass(frozen=True, eq=False)
class WalkTables:
    """The chain's hops as arrays. Hop ``h < states`` enters state ``h`` (the hop every walk takes into it);
    hop ``states + i`` opens a sentence at ``starts[i]``, its capitalised opening word first. Each word of
    each hop has an entry in the per-word arrays, so "the first k words of hop h" is one number,
    ``word_base[h] + k - 1``: the generator turns those numbers into text pieces made once."""

    hop_words: tuple[tuple[str, ...], ...]
    word_base: np.ndarray  # per hop: its first word's entry
    hop_length: np.ndarray  # per hop: how many words
    word_state: np.ndarray  # per word entry: the state the walk is in after it
    ends: np.ndarray  # per state: its word ends a sentence
    successor_start: np.ndarray  # per state: where its successors begin in successor_hop
    successor_count: np.ndarray  # per state
    successor_hop: np.ndarray  # the hops that may follow, repeats included (the hop entering a state is its id)
    start_hops: np.ndarray
    terminal: np.ndarray  # per state: a walk stops there (a sentence end, or no successor)

    @classmethod
    def of(cls, chain: MarkovChain) -> WalkTables:
        states = len(chain.words)
        hops = [_hop(state, chain.successors, chain.words, chain.ends_sentence) for state in range(states)]
        hops += list(chain.start_hops)
        lengths = np.array([hop[1] for hop in hops], dtype=np.int64)
        counts = np.array([len(following) for following in chain.successors], dtype=np.int64)
        return cls(
            hop_words=tuple(hop[3] for hop in hops),
            word_base=np.cumsum(lengths) - lengths,
            hop_length=lengths,
            word_state=np.array([state for hop in hops for state in hop[4]], dtype=np.int64),
            ends=np.array(chain.ends_sentence, dtype=bool),
            successor_start=np.cumsum(counts) - counts,
            successor_count=counts,
            successor_hop=np.array([state for following in chain.successors for state in following], dtype=np.int64),
            start_hops=np.arange(states, states + len(chain.starts), dtype=np.int64),
            terminal=np.array(chain.ends_sentence, dtype=bool) | (counts == 0),
        )

    def walk(self, max_words: np.ndarray, uniforms: Callable[[int], np.ndarray]) -> Walk:
        """One sentence per entry of ``max_words``, all walked together, step by step, as ``sentences``
        walks one: a start, then one hop per step until a sentence end, a state without successors or the
        word limit (the last hop then cut short). ``uniforms(n)`` gives n draws in [0, 1)."""
        count = len(max_words)
        walker = np.arange(count)
        hop = self.start_hops[(uniforms(count) * len(self.start_hops)).astype(np.int64)]
        room = np.array(max_words, dtype=np.int64)  # words left
        walkers, entries = [], []
        last = np.empty(count, dtype=np.int64)
        final = np.empty(count, dtype=np.int64)
        emitted = 0
        while walker.size:
            taken = np.minimum(self.hop_length[hop], room)
            entry = self.word_base[hop] + taken - 1
            state = self.word_state[entry]
            room -= taken
            walkers.append(walker)
            entries.append(entry)
            # a hop cut short leaves no room either
            stop = self.terminal[state] | (room == 0)
            stopped = np.flatnonzero(stop)
            last[walker[stopped]] = emitted + stopped
            final[walker[stopped]] = state[stopped]
            emitted += walker.size
            going = np.flatnonzero(~stop)
            walker, room, state = walker[going], room[going], state[going]
            pick = (uniforms(walker.size) * self.successor_count[state]).astype(np.int64)
            hop = self.successor_hop[self.successor_start[state] + pick]
        steps = np.repeat(np.arange(len(walkers)), [len(step) for step in walkers])
        walker = np.concatenate(walkers)
        return Walk(walker, np.concatenate(entries), steps, np.bincount(walker, minlength=count), last,
                    ~self.ends[final])


@dataclass(frozen=True)
class Walk:
    """What ``WalkTables.walk`` emitted: one piece (a word entry) per walker and step, in step order."""

    walker: np.ndarray
    entry: np.ndarray  # the hop's last emitted word: the piece is the hop's words up to it
    step: np.ndarray  # the piece's place in its sentence
    pieces: np.ndarray  # per walker: how many pieces
    last: np.ndarray  # per walker: the index of its last piece
    unfinished: np.ndarray  # per walker: its last word does not end a sentence (it is given a full stop)


@functools.cache
def shipped_chain() -> MarkovChain:
    """The chain trained on the shipped corpus (trained once per process, in a few milliseconds)."""
    return MarkovChain.train([text for _name, text in corpus_texts()])
