"""Conversations dataset into PostgreSQL: our generate-and-COPY load against a plain COPY of the same rows.

    python benchmarks/datagen.py            # ratio rounds at 200k messages, then 1M messages end to end
    python benchmarks/datagen.py --quick    # 20k and 100k

1. Ratio: ``profiler.datagen.load`` into a fresh schema (generating every row on the way) against the anchor,
   a plain ``COPY ... FROM STDIN`` of the very same rows from files written beforehand (PostgreSQL's own
   text format, dumped from a loaded schema). Both create the same tables and finish the same way (foreign
   keys, indexes, ANALYZE), so the ratio is the price of generating. Rounds alternate; medians. Goal >= 0.7
   for both ``ratio`` (rows per second) and ``cpu_ratio`` (CPU seconds of the anchor over ours: this process,
   its generator thread or workers, and the PostgreSQL backends; contention on a shared machine stretches
   wall time, much less CPU time). Ours sends three tables in COPY's binary format, which the server reads
   for less CPU than the anchor's text (measured at 200,000 messages, COPY alone: 0.72-0.77 CPU-s against
   0.74-0.97); generating overlaps with copying in a second thread, which helps the wall-time ratio only.
2. End to end: one ``load`` call of 1M messages into a fresh schema. Goal < 40 s.

The machine's load average is printed with the figures: on a shared machine it moves every number.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, create_engine, event, text

from profiler.datagen import DatasetSpec, dataset_counts, dataset_engine, load
from profiler.datagen.loader import DATA_TABLES, add_keys_and_indexes, create_tables
from profiler.datagen.writers import qualified_name

DEFAULT_URL = os.environ.get("WORKBENCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CHUNK = 1 << 20


class CpuMeter:
    """CPU seconds of this process, its finished children (generator workers) and the PostgreSQL backends
    an engine used: contention on a shared machine stretches wall time, not CPU time."""

    def __init__(self, engine: Engine):
        self.backends: dict[int, float] = {}
        event.listen(engine, "connect", self._remember)
        event.listen(engine, "checkin", self._measure)
        self.started = os.times()

    @staticmethod
    def _remember(dbapi_connection, record) -> None:
        record.info["pid"] = dbapi_connection.info.backend_pid

    def _measure(self, _dbapi_connection, record) -> None:
        pid = record.info.get("pid")
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            self.backends[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass  # another machine or no /proc: client CPU only

    def seconds(self) -> float:
        now = os.times()
        client = sum(getattr(now, name) - getattr(self.started, name)
                     for name in ("user", "system", "children_user", "children_system"))
        return client + sum(self.backends.values())


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def fresh_schema() -> str:
    return f"bench_datagen_{uuid.uuid4().hex[:10]}"


def drop(url: str, schema: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


def dump_rows(url: str, schema: str, folder: Path) -> dict[str, Path]:
    """Every table of a loaded schema as a COPY text file: the anchor's input."""
    files = {}
    engine = dataset_engine(url, schema)
    try:
        with engine.connect() as connection:
            driver = connection.connection.driver_connection
            for name, table in DATA_TABLES.items():
                files[name] = folder / f"{name}.tsv"
                with files[name].open("wb") as out, driver.cursor() as cursor:
                    with cursor.copy(f"COPY {qualified_name(connection, table)} TO STDOUT") as copy:
                        for data in copy:
                            out.write(data)
    finally:
        engine.dispose()
    return files


def anchor_copy(url: str, schema: str, files: dict[str, Path]) -> tuple[float, float]:
    """Plain COPY of the files into the same tables, finished like ours; returns wall and CPU seconds."""
    base = create_engine(url)
    meter = CpuMeter(base)
    engine = dataset_engine(base, schema)
    started = time.perf_counter()
    try:
        with engine.connect() as connection:
            with connection.begin():
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
                create_tables(connection)
            driver = connection.connection.driver_connection
            for name, table in DATA_TABLES.items():  # parents first
                with connection.begin():
                    with driver.cursor() as cursor, files[name].open("rb") as source:
                        with cursor.copy(f"COPY {qualified_name(connection, table)} FROM STDIN") as copy:
                            while data := source.read(CHUNK):
                                copy.write(data)
            with connection.begin():
                add_keys_and_indexes(connection)
            for table in DATA_TABLES.values():
                connection.exec_driver_sql(f"ANALYZE {qualified_name(connection, table)}")
            connection.commit()
        wall = time.perf_counter() - started
    finally:
        base.dispose()
    return wall, meter.seconds()


def ours(url: str, schema: str, messages: int, seed: int) -> tuple[float, float]:
    engine = create_engine(url)
    meter = CpuMeter(engine)
    started = time.perf_counter()
    try:
        load(engine, messages, seed, schema=schema)
        wall = time.perf_counter() - started
    finally:
        engine.dispose()
    return wall, meter.seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for CI")
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--ratio-messages", type=int, default=None)
    parser.add_argument("--messages", type=int, default=None, help="end-to-end size (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    ratio_messages = args.ratio_messages or (20_000 if args.quick else 200_000)
    messages = args.messages or (100_000 if args.quick else 1_000_000)
    spec = DatasetSpec(ratio_messages, args.seed)
    print(f"load average before: {load_average()} on {os.cpu_count()} cores", flush=True)

    source = fresh_schema()
    created: list[str] = [source]
    try:
        load(args.url, spec.messages, spec.seed, schema=source)
        rows = sum(dataset_counts(args.url, source).values())
        with tempfile.TemporaryDirectory() as folder:
            files = dump_rows(args.url, source, Path(folder))
            drop(args.url, source)
            ours_s, anchor_s, ours_cpu, anchor_cpu = [], [], [], []
            for round_ in range(args.rounds):
                for label, run in (("ours", ours), ("copy", anchor_copy)) if round_ % 2 == 0 else (
                        ("copy", anchor_copy), ("ours", ours)):
                    schema = fresh_schema()
                    created.append(schema)
                    seconds, cpu = (run(args.url, schema, spec.messages, spec.seed) if label == "ours"
                                    else run(args.url, schema, files))
                    (ours_s if label == "ours" else anchor_s).append(seconds)
                    (ours_cpu if label == "ours" else anchor_cpu).append(cpu)
                    print(f"round {round_ + 1} {label:4}: {rows:,} rows in {seconds:6.2f} s "
                          f"({rows / seconds:,.0f} rows/s), {cpu:5.2f} CPU s  load {load_average()}", flush=True)
                    drop(args.url, schema)
        ours_rate = rows / statistics.median(ours_s)
        anchor_rate = rows / statistics.median(anchor_s)
        print(f"medians: ratio {ours_rate / anchor_rate:.3f} (rows/s), cpu_ratio "
              f"{statistics.median(anchor_cpu) / statistics.median(ours_cpu):.3f} (CPU s)", flush=True)

        schema = fresh_schema()
        created.append(schema)
        before = load_average()
        engine = create_engine(args.url)
        meter = CpuMeter(engine)
        started = time.perf_counter()
        try:
            report = load(engine, messages, args.seed, schema=schema)
            end_to_end = time.perf_counter() - started
        finally:
            engine.dispose()
        cpu_s = meter.seconds()
        print(f"end to end: {messages:,} messages ({report.rows_written:,} rows) in {end_to_end:.1f} s, "
              f"{cpu_s:.1f} CPU s (ours + PostgreSQL), load {before} -> {load_average()}", flush=True)
    finally:
        for schema in created:
            drop(args.url, schema)

    print(json.dumps({
        "benchmark": "datagen",
        "ratio_messages": spec.messages,
        "rows": rows,
        "ours_rows_per_s": round(ours_rate),
        "copy_rows_per_s": round(anchor_rate),
        "ours_s": [round(value, 2) for value in ours_s],
        "copy_s": [round(value, 2) for value in anchor_s],
        "end_to_end_messages": messages,
        "end_to_end_s": round(end_to_end, 2),
        "end_to_end_cpu_s": round(cpu_s, 2),
        "ours_cpu_s": round(statistics.median(ours_cpu), 2),
        "copy_cpu_s": round(statistics.median(anchor_cpu), 2),
        "cpu_ratio": round(statistics.median(anchor_cpu) / statistics.median(ours_cpu), 3),
        "end_to_end_goal_s": 40,
        "ratio_goal": 0.7,
        "load_average": load_average(),
        "cores": os.cpu_count(),
        "ratio": round(ours_rate / anchor_rate, 3),
    }))


if __name__ == "__main__":
    main()
