"""What caching ORM query results saves on the bookstore workload: ours (cold and warm, merge included)
against the anchor, the same workload with no cache, alternating in every round (medians).

    python benchmarks/cache.py            # 200 authors (~1,200 objects), 5 rounds, memory and Redis
    python benchmarks/cache.py --quick    # 50 authors, 3 rounds, select-in only

The last line is one JSON object; "ratio" is warm / uncached wall time for select-in on the memory cache
(above 1: a cache hit is slower than querying).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from profiler.cache import CacheUnavailable, QueryCache, compare_caching
from profiler.queries import AUTHORS_BOOKS, default_engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI size: 50 authors, 3 rounds, select-in only")
    parser.add_argument("--authors", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--redis", default=os.environ.get("WORKBENCH_CACHE_URL") or "redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    authors = args.authors or (50 if args.quick else 200)
    rounds = args.rounds or (3 if args.quick else 5)
    # (strategy, cache lazy loads too)
    cases = [("selectin", False)] if args.quick else [("selectin", False), ("joined", False), ("lazy", True)]

    engine = default_engine(authors)
    prefix = f"workbench:benchmark:{os.getpid()}:"
    caches = [QueryCache(engine, "memory://", prefix=prefix)]
    try:
        caches.append(QueryCache(engine, args.redis, prefix=prefix))
    except CacheUnavailable as error:
        print(f"Redis skipped: {error}")

    results = {}
    print(f"{'case':<34}{'uncached':>10}{'cold':>10}{'warm':>10}{'merge':>9}{'read':>9}{'objects':>9}{'saved':>10}")
    for cache in caches:
        for strategy, relationship_loads in cases:
            if relationship_loads and cache is not caches[0]:
                continue  # one backend is enough to show it; Redis would add ~1,200 round trips per run
            comparison = compare_caching(AUTHORS_BOOKS, engine, cache=cache, strategy=strategy, repeats=rounds,
                                         relationship_loads=relationship_loads)
            uncached, cold, warm = (comparison.median(mode) for mode in ("uncached", "cold", "warm"))
            name = f"{cache.store.backend}/{strategy}{' + lazy loads' if relationship_loads else ''}"
            results[name] = {
                "uncached_ms": round(uncached["wall_ms"], 2), "cold_ms": round(cold["wall_ms"], 2),
                "warm_ms": round(warm["wall_ms"], 2), "merge_ms": round(warm["merge_ms"], 2),
                "cache_read_ms": round(warm["cache_read_ms"], 2), "objects_merged": int(warm["objects_merged"]),
                "rows_merged": int(warm["rows_merged"]),
                "statements_saved": int(uncached["statements"] - warm["statements"]),
                "same_data": comparison.data_matches, "verdict": comparison.verdict,
            }
            print(f"{name:<34}{uncached['wall_ms']:>10.1f}{cold['wall_ms']:>10.1f}{warm['wall_ms']:>10.1f}"
                  f"{warm['merge_ms']:>9.1f}{warm['cache_read_ms']:>9.1f}{int(warm['objects_merged']):>9}"
                  f"{comparison.saved_ms:>10.1f}")
    for cache in caches:
        cache.clear()
        cache.close()
    anchor = results["memory/selectin"]
    print(json.dumps({
        "benchmark": "cache", "authors": authors, "rounds": rounds, "results": results,
        "ratio": round(anchor["warm_ms"] / anchor["uncached_ms"], 3),
    }))


if __name__ == "__main__":
    main()
