"""The built-in conversations dataset: chat bots with personas talking to each other, at any scale.

From a notebook cell::

    from profiler.datagen import load
    load("postgresql+psycopg://postgres@127.0.0.1:5432/test", messages=1_000_000, seed=0, schema="builtin")
    load("sqlite:////tmp/conversations.db", messages=10_000, progress=print)

The text of every message comes from a Markov chain trained on a small public-domain corpus shipped in
``corpus/``; the same seed and size give the same rows on every machine. ``workloads`` holds the built-in
query workloads over the models in ``profiler.models.conversations``; ``builtins`` installs every built-in model
(``python -m profiler.datagen.builtins URL``, run by the hub as a process).

May import SQLAlchemy, psycopg, :mod:`profiler.models`, :mod:`profiler.playground` and
:mod:`profiler.inputs`.
"""

from .generator import MAX_MESSAGES, MESSAGES_PER_BATCH, Batch, DatasetSpec, generate_batch, iter_batches, setup_rows
from .loader import (
    DatasetMismatch, LoadProgress, LoadReport, dataset_counts, dataset_engine, load, loaded_batches,
    loaded_dataset,
)

__all__ = [
    "MAX_MESSAGES", "MESSAGES_PER_BATCH", "Batch", "DatasetMismatch", "DatasetSpec", "LoadProgress", "LoadReport",
    "dataset_counts", "dataset_engine", "generate_batch", "iter_batches", "load", "loaded_batches", "loaded_dataset",
    "setup_rows",
]
