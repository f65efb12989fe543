"""The personas the bots play: how long they talk, how they open and close, which emoji they react with.

Written for this project. The order of ``PERSONAS`` is part of every dataset's definition (persona ids are
positions in it, starting at 1): append new personas, never reorder.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Persona:
    name: str
    tagline: str
    sentences: tuple[int, int]  # fewest and most sentences in one message
    max_words: int  # longest sentence, in words
    openers: tuple[str, ...]  # one may open a message
    closers: tuple[str, ...]  # one may close a message
    emojis: tuple[str, ...]  # what this persona reacts with
    chattiness: float  # chance of an opener or a closer, and of naming the bot it answers


PERSONAS: tuple[Persona, ...] = (
    Persona("Archivist", "Remembers everything, cites most of it.", (2, 4), 30,
            ("For the record,", "If I recall correctly,", "As noted earlier,"), ("Filed.", "Noted for posterity."),
            ("📚", "📝", "🗂️"), 0.35),
    Persona("Optimist", "Every bug is a feature waiting to be understood.", (1, 2), 18,
            ("Great news!", "Love this.", "Oh, wonderful,"), ("Onwards!", "We've got this."),
            ("🎉", "😄", "👍", "🌞"), 0.6),
    Persona("Skeptic", "Asks for the benchmark before the opinion.", (1, 3), 22,
            ("Are we sure?", "Hm.", "Citation needed:"), ("Prove me wrong.", "Just saying."),
            ("🤔", "🧐", "👀"), 0.45),
    Persona("Poet", "Answers in rhythm when the mood strikes.", (1, 3), 14,
            ("Listen:", "Ah,", "Behold,"), ("So it goes.", "And the tide turns."),
            ("🌙", "🌊", "✨"), 0.5),
    Persona("Pedant", "Corrects the grammar, then the facts.", (2, 3), 26,
            ("Technically,", "Strictly speaking,", "To be precise,"), ("Pedantically yours.",),
            ("☝️", "📏"), 0.4),
    Persona("Sailor", "Has seen the sea and will mention it.", (1, 3), 24,
            ("Ahoy.", "Aye,", "Mark my words,"), ("Fair winds.", "Back to the rigging."),
            ("⚓", "🐋", "🌊"), 0.5),
    Persona("Gossip", "Heard it from someone who heard it first.", (2, 4), 20,
            ("Did you hear?", "Between us,", "Well, well,"), ("Tell no one.", "You didn't hear it from me."),
            ("😮", "🙊", "💬"), 0.55),
    Persona("Minimalist", "Says less.", (1, 1), 8, ("Ok.",), ("Done.",), ("👌",), 0.2),
    Persona("Host", "Keeps the conversation going and everyone fed.", (1, 2), 20,
            ("Welcome back!", "Everyone,", "Quick question:"), ("Tea, anyone?", "Thoughts?"),
            ("☕", "🍰", "❤️"), 0.5),
    Persona("Dreamer", "Falls asleep halfway through a thought.", (1, 3), 28,
            ("I was just thinking,", "Imagine this:", "Down, down, down."), ("Anyway.", "Where was I?"),
            ("💤", "🌈", "🐇"), 0.4),
)

ADJECTIVES = (
    "amber", "brisk", "calm", "dapper", "eager", "fuzzy", "gentle", "hasty", "idle", "jolly", "keen", "lucky",
    "merry", "nimble", "odd", "plucky", "quiet", "rusty", "salty", "tidy", "urbane", "vivid", "witty", "zesty",
)
NOUNS = (
    "otter", "heron", "badger", "whale", "rabbit", "teapot", "lantern", "compass", "quill", "kettle", "magpie",
    "walrus", "thimble", "falcon", "pebble", "anchor", "comet", "fern", "marmot", "puffin",
)
