"""What a cache entry holds, and what a hit therefore costs: the three ways the cache can keep a result.

- ``orm``: each statement's ORM result (a ``FrozenResult`` of objects), put back with ``merge_frozen_result``
  (SQLAlchemy's dogpile-caching example). It merges every row's whole object graph anew, so a joined eager
  load, which repeats each parent once per child row, merges each parent as many times.
- ``merge``: the same entries, put back with ``session.merge(obj, load=False)`` once per distinct object of
  the result. Still ORM objects in the session, so still the ORM's per-object work, but never twice.
- ``rows``: the workload's result itself, the plain rows (tuples, dicts, column values) it returns and the page
  renders. A hit is one read and one unpickle: no statement and no ORM object at all. Its cost is coarseness:
  it is keyed on the whole workload and stale after a write to any table the workload read.

Each is invalidated the same way (the tables read, eager and lazy loads included, recorded when the entry is
stored; see ``orm``): a write through this engine, rolled back or not, makes an entry stale at once, and a
write by anyone else (another process, psql) is noticed by none of them until the entry expires.
"""

from __future__ import annotations

from dataclasses import dataclass

from profiler.inputs import InputError, refuse


@dataclass(frozen=True)
class CacheStrategy:
    key: str
    title: str  # what a table's row says
    holds: str  # what an entry holds
    hit: str  # what a hit costs
    stale_after: str  # what a write makes stale


CACHE_STRATEGIES: dict[str, CacheStrategy] = {strategy.key: strategy for strategy in (
    CacheStrategy("orm", "ORM objects, merge_frozen_result",
                  "each statement's ORM result (objects and the relationships loaded with them)",
                  "unpickle, then merge every row's objects into the session (a parent once per child row of a "
                  "joined load)",
                  "the statements that read the written table"),
    CacheStrategy("merge", "ORM objects, session.merge(load=False)",
                  "each statement's ORM result, as for merge_frozen_result",
                  "unpickle, then session.merge(obj, load=False) once per distinct object",
                  "the statements that read the written table"),
    CacheStrategy("rows", "Plain rows (the workload's result)",
                  "what the workload returns: tuples and column values, no ORM object",
                  "one read and one unpickle; no statement, no object, no merge",
                  "the whole result, whichever of the tables it read was written"),
)}

CACHE_STRATEGIES_EXPLAINED = """\
**What the cache keeps decides what a hit costs.**

**ORM objects, merge_frozen_result** (SQLAlchemy's caching example): each statement's result is stored as ORM
objects and merged back into the session on a hit. The merge rebuilds every object, and every object loaded
with it; a joined eager load repeats each parent once per child row and merges its whole graph each time.

**ORM objects, session.merge(load=False)**: the same entries, each distinct object merged once. The repeated
merges go; the ORM's per-object work stays.

**Plain rows**: the workload's own result (the tuples and column values the page shows) is stored. A hit reads
and unpickles it: no statement, no object, no merge. It is keyed on the whole workload, so a write to any table
the workload read makes all of it stale, where the ORM strategies re-run only the statements that read it.

**Invalidation.** All three record the tables each entry read (eager and lazy loads included) and notice every
write made through this engine at once, even one rolled back. A write made elsewhere (another process, psql)
is noticed by none of them until the entry expires.

**Why the distance to the database matters.** A hit saves round trips. Next to the server (0 ms) a statement
costs tens of microseconds, less than merging the objects it returns, so ORM caching can be slower than no
cache. At 0.5–2 ms a round trip, where a production database on another host is, every saved statement is
worth that much, and the lazy N+1 walk's thousand statements are worth a second or more.
"""


def checked_cache_strategies(value) -> tuple[str, ...]:
    """One strategy name or a sequence of distinct names, as a tuple; InputError naming the field otherwise."""
    names = (value,) if isinstance(value, str) else value
    allowed = f"one of {', '.join(CACHE_STRATEGIES)} or a list of them"
    if not isinstance(names, (list, tuple)) or not names:
        raise refuse("cache_strategies", allowed, value)
    for name in names:
        if not isinstance(name, str) or name not in CACHE_STRATEGIES:
            raise refuse("cache_strategies", allowed, name)
    if len(set(names)) != len(names):
        raise InputError(f"cache_strategies: each strategy once, got {list(names)}", "cache_strategies")
    return tuple(names)
