"""Where load-test runs are kept: every record is written as soon as it is produced, so a killed kernel loses at
most the interval it was in.

Decision: when the server has a playground (always, under the workbench hub: real AWS, or the hub's moto server
in the embedded setup), runs go to the user's **runs table** in it (:class:`DynamoRunStore`): the user owns it,
AWS enforces that nobody else reads it, and it outlives the notebook server. Without a playground (plain Python,
pytest, a laptop), or when asked, runs go to a **local JSON-lines file** per run (:class:`FileRunStore`, under
:data:`DEFAULT_RUNS_DIR`), each line flushed and fsynced. In the embedded setup the runs table lives as long as
the hub's moto server, as the rest of the playground does.

A run is: one ``config`` record (spec, target table, mode, warnings, start time), one record per interval
(figures + encoded HDR histogram), and an ``end`` record (status and cumulative figures). A run without an
``end`` record loads with status ``"incomplete"``: it is still running, or its process died (killed kernel,
machine gone) mid-run; either way every interval written so far loads and summarises.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

from .stats import PERCENTILES, merge_snapshots

DEFAULT_RUNS_DIR = Path.home() / ".profiler-workbench" / "loadtest-runs"
INCOMPLETE = "incomplete"


@dataclass
class Run:
    run_id: str
    config: dict[str, Any]
    intervals: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        return self.end["status"] if self.end else INCOMPLETE

    @property
    def measured(self) -> list[dict[str, Any]]:
        return [record for record in self.intervals if record.get("phase") != "warmup"]

    def summary(self) -> dict[str, Any]:
        """Cumulative figures of the measured phase, recomputed from the stored intervals and histograms (so an
        incomplete run has a summary too)."""
        measured = self.measured
        merged = merge_snapshots(measured)
        seconds = sum(record.get("seconds", 0) for record in measured)
        merged.pop("histogram", None)
        merged["seconds"] = round(seconds, 3)
        merged["throughput"] = round(merged["requests"] / seconds, 2) if seconds else 0.0
        return merged


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    name: str
    started: str
    status: str


class RunStore(Protocol):
    def begin(self, run_id: str, config: dict[str, Any]) -> None: ...
    def append(self, run_id: str, record: dict[str, Any]) -> None: ...
    def finish(self, run_id: str, end: dict[str, Any]) -> None: ...
    def list_runs(self) -> list[RunInfo]: ...
    def load(self, run_id: str) -> Run: ...


class UnknownRun(KeyError):
    def __str__(self):
        return f"no load-test run {self.args[0]!r} in this store"


class FileRunStore:
    """One ``<run_id>.jsonl`` file per run in ``directory``."""

    def __init__(self, directory: str | os.PathLike = DEFAULT_RUNS_DIR):
        self.directory = Path(directory)

    def _path(self, run_id: str) -> Path:
        return self.directory / f"{run_id}.jsonl"

    def _write(self, run_id: str, record: dict[str, Any], mode: str = "a") -> None:
        with open(self._path(run_id), mode, encoding="utf-8") as handle:
            handle.write(json.dumps(record, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def begin(self, run_id: str, config: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write(run_id, {"kind": "config", **config}, mode="x")

    def append(self, run_id: str, record: dict[str, Any]) -> None:
        self._write(run_id, {"kind": "interval", **record})

    def finish(self, run_id: str, end: dict[str, Any]) -> None:
        self._write(run_id, {"kind": "end", **end})

    def _records(self, run_id: str) -> Iterable[dict[str, Any]]:
        try:
            lines = self._path(run_id).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise UnknownRun(run_id) from None
        for line in lines:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                return  # the process died while writing this line: everything before it stands

    def load(self, run_id: str) -> Run:
        run = None
        for record in self._records(run_id):
            kind = record.pop("kind")
            if kind == "config":
                run = Run(run_id, record)
            elif kind == "interval" and run:
                run.intervals.append(record)
            elif kind == "end" and run:
                run.end = record
        if run is None:
            raise UnknownRun(run_id)
        return run

    def list_runs(self) -> list[RunInfo]:
        if not self.directory.exists():
            return []
        infos = []
        for path in sorted(self.directory.glob("*.jsonl")):
            run = self.load(path.stem)
            infos.append(RunInfo(run.run_id, run.config.get("name", ""), run.config.get("started", ""), run.status))
        return infos


class DynamoRunStore:
    """The user's runs table. Items: partition ``run#<id>`` holds ``0-config``, ``1-interval-<seq>`` and
    ``2-end``; partition ``runs`` holds one index item per run (sort key = run id, which sorts by start time),
    so listing is one Query, not a Scan. The key attribute names come from ``describe_table``."""

    INDEX = "runs"

    def __init__(self, client, table: str):
        self.client = client
        self.table = table
        self._keys: tuple[str, str] | None = None

    def _key_names(self) -> tuple[str, str]:
        if self._keys is None:
            description = self.client.describe_table(TableName=self.table)["Table"]
            keys = {k["KeyType"]: k["AttributeName"] for k in description["KeySchema"]}
            types = {a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]}
            if "RANGE" not in keys or types[keys["HASH"]] != "S" or types[keys["RANGE"]] != "S":
                raise ValueError(f"runs table {self.table!r} needs a string partition key and a string sort key; "
                                 f"it has {description['KeySchema']}")
            self._keys = (keys["HASH"], keys["RANGE"])
        return self._keys

    def _put(self, partition: str, sort: str, body: dict[str, Any], **extra: str) -> None:
        hash_key, range_key = self._key_names()
        item = {hash_key: {"S": partition}, range_key: {"S": sort},
                "body": {"S": json.dumps(body, separators=(",", ":"))}}
        item.update({name: {"S": value} for name, value in extra.items()})
        self.client.put_item(TableName=self.table, Item=item)

    def begin(self, run_id: str, config: dict[str, Any]) -> None:
        self._put(f"run#{run_id}", "0-config", config)
        self._put(self.INDEX, run_id, {}, name=config.get("name", ""), started=config.get("started", ""),
                  status="running")

    def append(self, run_id: str, record: dict[str, Any]) -> None:
        self._put(f"run#{run_id}", f"1-interval-{record['seq']:07d}", record)

    def finish(self, run_id: str, end: dict[str, Any]) -> None:
        self._put(f"run#{run_id}", "2-end", end)
        hash_key, range_key = self._key_names()
        self.client.update_item(TableName=self.table, Key={hash_key: {"S": self.INDEX}, range_key: {"S": run_id}},
                                UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                                ExpressionAttributeValues={":s": {"S": end["status"]}})

    def _query(self, partition: str) -> Iterable[dict[str, Any]]:
        hash_key, _ = self._key_names()
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table, KeyConditionExpression="#h = :h", ExpressionAttributeNames={"#h": hash_key},
            ExpressionAttributeValues={":h": {"S": partition}}, ConsistentRead=True)
        for page in pages:
            yield from page["Items"]

    def load(self, run_id: str) -> Run:
        _, range_key = self._key_names()
        run = None
        for item in self._query(f"run#{run_id}"):
            sort, body = item[range_key]["S"], json.loads(item["body"]["S"])
            if sort == "0-config":
                run = Run(run_id, body)
            elif run and sort.startswith("1-interval-"):
                run.intervals.append(body)
            elif run and sort == "2-end":
                run.end = body
        if run is None:
            raise UnknownRun(run_id)
        return run

    def list_runs(self) -> list[RunInfo]:
        _, range_key = self._key_names()
        infos = []
        for item in self._query(self.INDEX):
            status = item["status"]["S"]
            infos.append(RunInfo(item[range_key]["S"], item["name"]["S"], item["started"]["S"],
                                 INCOMPLETE if status == "running" else status))
        return infos


def compare(runs: Iterable[Run]) -> list[dict[str, Any]]:
    """One row per run (measured phase): what a side-by-side table or a pandas DataFrame needs."""
    rows = []
    for run in runs:
        summary = run.summary()
        spec = run.config.get("spec", {})
        row = {
            "run_id": run.run_id, "name": run.config.get("name", ""), "status": run.status,
            "mode": run.config.get("mode", ""),
            "model": f"open {spec.get('target_rate')}/s" if spec.get("target_rate") else
                     f"closed x{spec.get('concurrency')}",
            "requests": summary["requests"], "throughput": summary["throughput"],
            "errors": sum(summary["errors"].values()), "throttles": sum(summary["throttles"].values()),
            "retries": summary["retries"],
        }
        latency = summary["latency_us"]
        row.update({f"{name}_us": latency.get(name) for name in PERCENTILES})
        rows.append(row)
    return rows


class BackgroundJobs:
    """Runs jobs one after another in a background thread, in the order submitted: the run store's writes, and
    the subscribers' calls, so neither a slow store nor a slow display stalls the load (or inflates its
    latencies). A failing job is recorded in ``failures`` and the next one runs."""

    def __init__(self, name: str):
        self.failures: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, job, *args) -> None:
        self._queue.put((job, args))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job, args = item
            try:
                job(*args)
            except Exception as exc:  # noqa: BLE001 - reported with the run, the load goes on
                self.failures.append(f"{getattr(job, '__name__', job)}: {exc!r}")

    def close(self, timeout: float = 30.0) -> None:
        """Run what was submitted, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)
