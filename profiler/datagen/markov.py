"""A word-level Markov chain trained on the public-domain corpus shipped in ``corpus/``.

States are pairs of words (order 2) numbered in first-seen order, and each state keeps the tuple of the
states that followed it in the corpus (repeats included, so a frequent continuation is picked more often).
Walking the chain is then one list index and one ``rng.random()`` per word: fast enough to write millions of
messages, and the same words for the same random stream on every machine (no dict or set iteration order
and no ``hash()`` is involved in training or walking).
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from dataclasses import dataclass
from importlib import resources

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


@dataclass(frozen=True)
class MarkovChain:
    first_words: tuple[str, ...]  # the first word of each state's pair
    words: tuple[str, ...]  # the second word of each state's pair: the one a walk emits
    successors: tuple[tuple[int, ...], ...]  # the states that may follow each state
    ends_sentence: tuple[bool, ...]
    # For a state with one possible successor: the words the walk must emit from there (joined), how many,
    # and the state it reaches. Most states of a small corpus are forced, so the walk jumps over them.
    forced_runs: tuple[tuple[str, int, int, tuple[str, ...], tuple[int, ...]] | None, ...]
    starts: tuple[int, ...]  # states that open a sentence in the corpus
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
            for first, second in zip(tokens, tokens[1:]):
                number = state((first, second))
                if previous_ended:
                    starts.append(number)
                previous_ended = _ends_sentence(first)
            for first, second, third in zip(tokens, tokens[1:], tokens[2:]):
                successors[state_ids[(first, second)]].append(state_ids[(second, third)])
        if not starts:
            raise ValueError("the corpus holds no sentence of two words or more: nothing to train on")
        # A state whose successors are all the same state has one successor: no random draw is spent on it.
        unique = tuple(tuple(following) if len(set(following)) > 1 else tuple(following[:1]) for following in successors)
        ends = tuple(_ends_sentence(word) for word in words)
        return cls(
            first_words=tuple(first_words),
            words=tuple(words),
            successors=unique,
            ends_sentence=ends,
            forced_runs=_forced_runs(unique, tuple(words), ends),
            starts=tuple(starts),
            digest=digest.hexdigest(),
        )

    def sentence(self, rng: random.Random, max_words: int = 24) -> str:
        """One sentence: a corpus sentence opening, then the chain until a sentence end or ``max_words``."""
        random_ = rng.random
        successors, words, ends = self.successors, self.words, self.ends_sentence
        state = self.starts[int(random_() * len(self.starts))]
        runs = self.forced_runs
        out = [self.first_words[state], words[state]]
        count = 2
        while not ends[state] and count < max_words:
            following = successors[state]
            if not following:
                break
            run = runs[state]
            if run is not None:
                text, length, end, run_words, run_states = run
                if count + length <= max_words:
                    out.append(text)
                    count += length
                    state = end
                else:  # cut short: the sentence stops at max_words anyway
                    allowed = max_words - count
                    out.extend(run_words[:allowed])
                    count = max_words
                    state = run_states[allowed - 1]
                continue
            state = following[int(random_() * len(following))] if len(following) > 1 else following[0]
            out.append(words[state])
            count += 1
        text = " ".join(out)
        if not ends[state]:
            text = text.rstrip(",;:-") + "."
        return text[0].upper() + text[1:]


def _forced_runs(successors, words, ends) -> tuple:
    runs: list = []
    for state, following in enumerate(successors):
        if len(following) != 1:
            runs.append(None)
            continue
        emitted, visited = [], []
        current = state
        # a forced cycle cannot exist in a finite text; the bound only guards against a malformed chain
        while len(successors[current]) == 1 and not ends[current] and len(emitted) < 10_000:
            current = successors[current][0]
            emitted.append(words[current])
            visited.append(current)
        runs.append((" ".join(emitted), len(emitted), current, tuple(emitted), tuple(visited)))
    return tuple(runs)


@functools.cache
def shipped_chain() -> MarkovChain:
    """The chain trained on the shipped corpus (trained once per process, in a few milliseconds)."""
    return MarkovChain.train([text for _name, text in corpus_texts()])
