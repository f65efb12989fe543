"""What caching ORM query results saves on the bookstore workload, by what the cache keeps and how far the
database is: ours (cold and warm, merge included) against the anchor, the same workload with no cache,
alternating in every round (medians).

    python benchmarks/cache.py            # 200 authors (~1,240 objects), 3 rounds, 0 and 1 ms, memory and Redis
    python benchmarks/cache.py --quick    # 50 authors, 2 rounds, select-in only

The bookstore is a PostgreSQL schema of its own (dropped after). At 0 ms the engine connects directly, a database
on the same host; at 1 ms every connection goes through the latency proxy (``profiler.netdelay``), half a
millisecond each way, a managed database in another availability zone. Each workload is cached three ways
(``profiler.cache.CACHE_STRATEGIES``): ORM objects merged with merge_frozen_result, ORM objects merged once each
with session.merge(load=False), and the workload's plain rows.

The last line is one JSON object. "ratio" is warm / uncached wall time for select-in on the memory cache with
ORM objects (merge_frozen_result) at 0 ms (above 1: a hit is slower than querying); "best_warm_speedup_1ms" and
"best_warm_speedup_0ms" are, over every workload, the smallest uncached / warm ratio of that workload's fastest
cache strategy (at least 1: caching was never slower).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import create_engine, text

from profiler.cache import CACHE_STRATEGIES, CacheUnavailable, QueryCache, compare_caching, database_at
from profiler.models.bookstore import create_bookstore
from profiler.queries import AUTHORS_BOOKS

POSTGRES_URL = os.environ.get("WORKBENCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KEPT = tuple(CACHE_STRATEGIES)


def figures(comparison, name: str) -> dict:
    uncached, cold, warm = (comparison.median(mode, name) for mode in ("uncached", "cold", "warm"))
    return {
        "uncached_ms": round(uncached["wall_ms"], 2), "cold_ms": round(cold["wall_ms"], 2),
        "warm_ms": round(warm["wall_ms"], 2), "merge_ms": round(warm["merge_ms"], 2),
        "cache_read_ms": round(warm["cache_read_ms"], 2), "objects_merged": int(warm["objects_merged"]),
        "rows_merged": int(warm["rows_merged"]),
        "statements_saved": int(uncached["statements"] - warm["statements"]),
        "warm_speedup": round(comparison.speedup(name), 2),
        "same_data": comparison.only(name).data_matches, "verdict": comparison.only(name).verdict,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI size: 50 authors, 2 rounds, select-in only")
    parser.add_argument("--authors", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--distances", default="0,1", help="round trips in ms, comma-separated (default 0,1)")
    parser.add_argument("--postgres", default=POSTGRES_URL)
    parser.add_argument("--redis", default=os.environ.get("WORKBENCH_CACHE_URL") or "redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    authors = args.authors or (50 if args.quick else 200)
    rounds = args.rounds or (2 if args.quick else 3)
    distances = [float(value) for value in args.distances.split(",")]
    # (strategy, cache lazy loads too)
    cases = [("selectin", False)] if args.quick else [("selectin", False), ("joined", False), ("lazy", True)]

    schema = f"bench_cache_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.postgres)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        setup = create_engine(args.postgres, connect_args={"options": f"-csearch_path={schema}"})
        create_bookstore(setup, authors)
        setup.dispose()
        results, best, round_trips = {}, {}, {}
        print(f"bookstore: {authors} authors in PostgreSQL; {rounds} rounds; load average "
              f"{' '.join(f'{value:.2f}' for value in os.getloadavg())}")
        for distance in distances:
            with database_at(args.postgres, distance, schema=schema) as engine:
                results_here = run_distance(engine, distance, cases, rounds, args.redis, results)
            round_trips[f"{distance:g}"] = results_here["round_trip_ms"]
            best[f"{distance:g}"] = results_here["best"]
        print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    explain(results, distances)
    anchor = results.get("memory/selectin")
    summary = {
        "benchmark": "cache", "database": "postgresql", "authors": authors, "rounds": rounds, "results": results,
        "round_trip_ms": round_trips,
        "ratio": round(anchor["warm_ms"] / anchor["uncached_ms"], 3) if anchor else None,
    }
    for distance, per_workload in best.items():
        label = distance.replace(".", "_")
        summary[f"best_warm_speedup_{label}ms"] = round(min(speedup for _name, speedup in per_workload.values()), 2)
        summary[f"best_strategy_{label}ms"] = {workload: name for workload, (name, _s) in per_workload.items()}
    summary["load_average"] = [round(value, 2) for value in os.getloadavg()]
    print(json.dumps(summary))


def run_distance(engine, distance: float, cases, rounds: int, redis_url: str, results: dict) -> dict:
    prefix = f"workbench:benchmark:{os.getpid()}:"
    caches = [QueryCache(engine, "memory://", prefix=prefix)]
    try:
        caches.append(QueryCache(engine, redis_url, prefix=prefix))
    except CacheUnavailable as error:
        print(f"Redis skipped: {error}")
    best: dict[str, tuple[str, float]] = {}
    round_trip = None
    print(f"\n--- database {distance:g} ms away"
          f"{' (direct connection)' if distance == 0 else ' (through the latency proxy)'} ---")
    print(f"{'case':<30}{'cache keeps':<40}{'uncached':>10}{'cold':>10}{'warm':>10}{'merge':>9}{'objects':>9}"
          f"{'warm x':>9}")
    try:
        for cache in caches:
            for strategy, relationship_loads in cases:
                if relationship_loads and cache is not caches[0]:
                    continue  # one backend is enough to show it; Redis would add ~1,200 round trips per run
                comparison = compare_caching(AUTHORS_BOOKS, engine, cache=cache, strategy=strategy, repeats=rounds,
                                             relationship_loads=relationship_loads, cache_strategies=KEPT)
                round_trip = comparison.round_trip_ms if round_trip is None else round_trip
                case = f"{cache.store.backend}/{strategy}{' + lazy loads' if relationship_loads else ''}"
                name = case if distance == 0 else f"{distance:g}ms/{case}"
                by_strategy = {kept: figures(comparison, kept) for kept in KEPT}
                # the keys a run before the cache strategies existed had: the ORM objects, merge_frozen_result
                results[name] = {**by_strategy["orm"], "round_trip_ms": round(comparison.round_trip_ms, 3),
                                 "strategies": by_strategy, "best_strategy": comparison.best_cache_strategy}
                fastest = comparison.best_cache_strategy
                best[case] = (fastest, comparison.speedup(fastest))
                for kept, row in by_strategy.items():
                    print(f"{case:<30}{CACHE_STRATEGIES[kept].title:<40}{row['uncached_ms']:>10.1f}"
                          f"{row['cold_ms']:>10.1f}{row['warm_ms']:>10.1f}{row['merge_ms']:>9.1f}"
                          f"{row['objects_merged']:>9}{row['warm_speedup']:>9.2f}")
    finally:
        for cache in caches:
            cache.clear()
            cache.close()
    print(f"SELECT 1 through this engine: {round_trip:.2f} ms (median of 30)")
    return {"best": best, "round_trip_ms": round(round_trip, 3)}


def explain(results: dict, distances: list[float]) -> None:
    """Say in words why the ORM strategies lose next to the database and what the distance changes."""
    print()
    local = results.get("memory/selectin")
    if local is not None:
        orm = local["strategies"]["orm"]
        print(f"Next to the database (0 ms), ORM objects: a warm select-in run merges {orm['objects_merged']:,} "
              f"objects in {orm['merge_ms']:.1f} ms to save {orm['statements_saved']} statements: warm "
              f"{orm['warm_ms']:.1f} ms vs {orm['uncached_ms']:.1f} ms uncached. {orm['verdict']}")
        joined = results.get("memory/joined")
        if joined is not None:
            frozen, once = joined["strategies"]["orm"], joined["strategies"]["merge"]
            print(f"Joined: merge_frozen_result merges {frozen['rows_merged']:,} cached rows, each parent's graph once "
                  f"per child row ({frozen['merge_ms']:.1f} ms); merging each object once takes "
                  f"{once['merge_ms']:.1f} ms, still the ORM's work per object.")
        rows = local["strategies"]["rows"]
        print(f"Plain rows skip the ORM: one read and one unpickle, {rows['warm_ms']:.2f} ms warm.")
    for distance in distances:
        if distance == 0:
            continue
        lazy = results.get(f"{distance:g}ms/memory/lazy + lazy loads")
        if lazy is not None:
            orm = lazy["strategies"]["orm"]
            print(f"At {distance:g} ms, every statement costs a round trip: the lazy N+1 walk's "
                  f"{orm['statements_saved']:,} statements take {orm['uncached_ms']:.0f} ms uncached, and even "
                  f"merging ORM objects wins ({orm['warm_speedup']:.1f}x); plain rows win "
                  f"{lazy['strategies']['rows']['warm_speedup']:.0f}x.")


if __name__ == "__main__":
    main()
