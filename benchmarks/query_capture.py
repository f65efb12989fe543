"""What statement capture costs: the lazy N+1 workload with capture vs without, and sqltap side by side.

The workload is the built-in authors → books → publisher, stores walk under lazy loading at 200 authors × 5
books, 20 publishers, 20 stores: 1,221 statements, which took 572 ms wall, 24 ms of it in the cursor, measured on
a 2-core machine. It runs on in-memory SQLite, where the per-statement cost of a profiler shows most (the
database answers in microseconds). Every round runs each mode once, in rotating order; medians over rounds.
Each run is the same isolated run the profiler makes (own connection, rolled-back transaction), so the only
difference between modes is the capture.

    python benchmarks/query_capture.py            # 15 rounds
    python benchmarks/query_capture.py --quick    # 5 rounds, for CI
    python benchmarks/query_capture.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

sqltap (the anchor) is measured if it is installed (``pip install sqltap``, in the ``bench`` extra).
The last line printed is one JSON object with the figures: ``ratio`` and ``cpu_ratio`` are capture without
source lines vs off, ``capture_source_ratio`` and ``capture_source_cpu_ratio`` with them.

Times on a busy machine move by several percent between runs. Instruction counts do not: ``--only MODE``
runs one mode (one warm-up run, then ``--rounds``) and prints no ratios, for counting under callgrind. The
difference between the totals of a mode and of ``off``, divided by the statements of all runs (4 x 1,221
below), is what capture adds per statement:

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python benchmarks/query_capture.py --only off --rounds 3
    (the same with --only capture+source)

``--instructions`` does that in the same run, for every mode, and adds the ratios of instructions per run to the
JSON (``instructions_ratio``, ``instructions_source_ratio``): each mode is counted in a process that runs it 6
times and one that runs it twice, and their difference divided by 4, so imports, setup and the warm-up cancel
out. Counts are not exact between processes (the same command counted 3.5 M apart, about 0.4% of a run, here),
hence 4 runs of difference. About 8 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import statistics
import sys
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from time import perf_counter, thread_time

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from profiler.models.bookstore import create_bookstore
from profiler.queries.capture import QueryCapture
from profiler.queries.workloads import authors_books_publisher_stores

SCALE = 200  # authors: the lazy walk issues 1,221 statements at this size


def run_once(engine, mode: str, sqltap_module=None) -> tuple[float, float, int]:
    """Wall time and CPU time (of this thread) of one lazy walk, and the statements it ran."""
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection)
        capture = tap = None
        if mode in {"capture", "capture+source"}:
            capture = QueryCapture(source_lines=mode == "capture+source").attach(connection, session)
        elif mode == "sqltap":
            tap = sqltap_module.start(engine)
        started, cpu_started = perf_counter(), thread_time()
        authors_books_publisher_stores(session)
        wall, cpu = perf_counter() - started, thread_time() - cpu_started
        statements = 0
        if capture is not None:
            capture.detach()
            statements = capture.count
        if tap is not None:
            tap.stop()
            statements = len(tap.collect())
        session.close()
        transaction.rollback()
    return wall, cpu, statements


def make_engine(postgres_url: str | None):
    if postgres_url is None:
        engine = create_engine("sqlite://", poolclass=StaticPool)
        create_bookstore(engine, SCALE)
        return engine, None
    schema = f"bench_capture_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    create_bookstore(engine, SCALE)

    def drop():
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return engine, drop


def instructions(mode: str, rounds: int, postgres: str | None) -> int:
    """Instructions callgrind counts in a process that runs ``mode`` once as a warm-up, then ``rounds`` times."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
               "--only", mode, "--rounds", str(rounds)] + (["--postgres", postgres] if postgres else [])
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
                          timeout=3600)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"callgrind of {mode} failed ({done.returncode}): {done.stderr[-1000:]}")
    return int(found.group(1).replace(",", ""))


def instructions_per_run(modes: list[str], postgres: str | None) -> dict[str, float]:
    """Each mode's instructions for one run, by difference: (1 + 5 runs) - (1 + 1 run), over 4."""
    jobs = [(mode, rounds) for mode in modes for rounds in (5, 1)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counted = dict(zip(jobs, pool.map(lambda job: instructions(job[0], job[1], postgres), jobs), strict=True))
    return {mode: (counted[mode, 5] - counted[mode, 1]) / 4 for mode in modes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 15")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--postgres", metavar="URL", default=None, help="run on PostgreSQL instead of SQLite")
    parser.add_argument("--only", choices=["off", "capture", "capture+source"], default=None,
                        help="run just this mode, --rounds times after one warm-up, for counting instructions")
    parser.add_argument("--instructions", action="store_true",
                        help="also count each mode's instructions per run under callgrind (~8 min)")
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 15)
    if args.only:
        engine, cleanup = make_engine(args.postgres)
        try:
            for _ in range(rounds + 1):
                run_once(engine, args.only)
        finally:
            if cleanup:
                cleanup()
        print(json.dumps({"benchmark": "query_capture", "mode": args.only, "runs": rounds + 1}))
        return

    try:
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import sqltap
    except ImportError:
        sqltap = None
    engine, cleanup = make_engine(args.postgres)
    modes = ["off", "capture", "capture+source"] + (["sqltap"] if sqltap else [])
    walls: dict[str, list[float]] = {mode: [] for mode in modes}
    cpus: dict[str, list[float]] = {mode: [] for mode in modes}
    counts: dict[str, int] = {}
    try:
        for mode in modes:  # warm-up: compiled-statement caches, imports
            run_once(engine, mode, sqltap)
        for round_number in range(rounds):
            order = modes[round_number % len(modes):] + modes[: round_number % len(modes)]
            for mode in order:
                wall, cpu, statements = run_once(engine, mode, sqltap)
                walls[mode].append(wall)
                cpus[mode].append(cpu)
                counts[mode] = statements
    finally:
        if cleanup:
            cleanup()

    median = {mode: statistics.median(values) for mode, values in walls.items()}
    cpu = {mode: statistics.median(values) for mode, values in cpus.items()}
    statements = counts["capture"]
    print(f"lazy N+1 workload, {SCALE} authors, {engine.dialect.name}, {rounds} rounds, {statements} statements")
    print("wall = elapsed time; cpu = this thread's CPU time (less disturbed by other processes)")
    print(f"{'mode':<16}{'wall ms':>9}{'min ms':>9}{'ratio':>8}{'µs/stmt':>9}{'cpu ms':>9}{'cpu ratio':>10}")
    for mode in modes:
        added = (median[mode] - median["off"]) / statements * 1e6
        print(
            f"{mode:<16}{median[mode] * 1000:>9.1f}{min(walls[mode]) * 1000:>9.1f}"
            f"{median[mode] / median['off']:>8.3f}{added:>9.1f}{cpu[mode] * 1000:>9.1f}{cpu[mode] / cpu['off']:>10.3f}"
        )
    figures = {
        "benchmark": "query_capture",
        "database": engine.dialect.name,
        "rounds": rounds,
        "statements": statements,
        "off_ms": round(median["off"] * 1000, 2),
        "capture_ms": round(median["capture"] * 1000, 2),
        "capture_source_ms": round(median["capture+source"] * 1000, 2),
        "added_us_per_statement": round((median["capture"] - median["off"]) / statements * 1e6, 2),
        "added_us_per_statement_source": round((median["capture+source"] - median["off"]) / statements * 1e6, 2),
        "capture_source_ratio": round(median["capture+source"] / median["off"], 3),
        "capture_cpu_ratio": round(cpu["capture"] / cpu["off"], 3),
        "added_cpu_us_per_statement": round((cpu["capture"] - cpu["off"]) / statements * 1e6, 2),
    }
    if sqltap:
        figures.update(
            sqltap_ms=round(median["sqltap"] * 1000, 2),
            sqltap_statements=counts["sqltap"],
            sqltap_ratio=round(median["sqltap"] / median["off"], 3),
            sqltap_cpu_ratio=round(cpu["sqltap"] / cpu["off"], 3),
            sqltap_added_us_per_statement=round((median["sqltap"] - median["off"]) / statements * 1e6, 2),
        )
    figures["cpu_ratio"] = figures["capture_cpu_ratio"]
    figures["capture_source_cpu_ratio"] = round(cpu["capture+source"] / cpu["off"], 3)
    figures["ratio"] = round(median["capture"] / median["off"], 3)
    if args.instructions:
        per_run = instructions_per_run(["off", "capture", "capture+source"], args.postgres)
        print("instructions per run (callgrind): " + ", ".join(f"{mode} {count / 1e6:,.1f} M"
                                                                for mode, count in per_run.items()))
        figures.update(
            instructions_off_per_statement=round(per_run["off"] / statements),
            instructions_added_per_statement=round((per_run["capture"] - per_run["off"]) / statements),
            instructions_added_per_statement_source=round((per_run["capture+source"] - per_run["off"]) / statements),
            instructions_ratio=round(per_run["capture"] / per_run["off"], 4),
            instructions_source_ratio=round(per_run["capture+source"] / per_run["off"], 4),
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
