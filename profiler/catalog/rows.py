"""Generated rows for a user's model: plausible values per column type, deterministic for a seed."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Callable

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, Integer, Numeric, Table
from sqlalchemy.types import TypeEngine

_WORDS = ("amber", "birch", "cobalt", "delta", "ember", "fjord", "granite", "harbor", "indigo", "juniper",
          "kestrel", "lumen", "meadow", "nimbus", "onyx", "pine", "quartz", "river", "saffron", "tundra")
_EPOCH = dt.datetime(2020, 1, 1)

GENERATORS: dict[str, Callable[[random.Random, str, int], Any]] = {
    "integer": lambda rng, column, i: rng.randrange(1, 10_000),
    "bigint": lambda rng, column, i: rng.randrange(1, 10**12),
    "float": lambda rng, column, i: round(rng.uniform(0, 1000), 3),
    "decimal": lambda rng, column, i: round(rng.uniform(1, 500), 2),
    "text": lambda rng, column, i: f"{column} {rng.choice(_WORDS)} {i}",
    "boolean": lambda rng, column, i: rng.random() < 0.5,
    "date": lambda rng, column, i: (_EPOCH + dt.timedelta(days=rng.randrange(1500))).date(),
    "datetime": lambda rng, column, i: _EPOCH + dt.timedelta(seconds=rng.randrange(4 * 365 * 86400)),
}


def type_key(sql_type: TypeEngine) -> str:
    """The workbench type of a (reflected) column type, e.g. INTEGER -> "integer"; "text" when unsure."""
    for cls, key in ((Boolean, "boolean"), (BigInteger, "bigint"), (Integer, "integer"), (Float, "float"),
                     (Numeric, "decimal"), (DateTime, "datetime"), (Date, "date")):
        if isinstance(sql_type, cls):
            return key
    return "text"


def generate(
    table: Table,
    count: int,
    seed: int,
    first_key: int,
    references: dict[str, list[Any]],
) -> list[dict[str, Any]]:
    """``count`` rows for ``table``. Integer keys run from ``first_key``; text keys are unique random tokens;
    a column in ``references`` takes one of the listed values (the keys of the row it points to)."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        row = {}
        for column in table.columns:
            if column.name in references:
                row[column.name] = rng.choice(references[column.name])
            elif column.primary_key:
                key = type_key(column.type)
                row[column.name] = (
                    first_key + i if key in ("integer", "bigint") else f"{table.name}-{rng.getrandbits(64):016x}"
                )
            else:
                row[column.name] = GENERATORS[type_key(column.type)](rng, column.name, first_key + i)
        rows.append(row)
    return rows
