"""The local AWS's state on disk, so that a restart, a crash or ``kill -9`` keeps every user's playground.

moto keeps everything in memory and has no store of its own. Of the ways to make it durable (a durable store
behind the same endpoint, replaying moto's request recorder, saving its backends), replay cannot give back the
same ids: moto draws stack ids, role ids and STS keys at random on every call, so a replayed CreateStack or
AssumeRole would make new ones and users' servers would hold keys the restored service no longer knows. This
module saves moto's backends themselves, every object as it is:

- **What**: every moto backend that holds something (``{service: {account: {region: backend}}}``), pickled in
  one piece so that objects shared between services stay shared.
- **When**: within :data:`SNAPSHOT_INTERVAL` of a request that may have changed something (:func:`may_change`;
  reads such as GetItem, Query or DescribeStacks never cause one), and at a clean stop.
- **How, without stopping the service**: under the service's request lock (no request half done) the process
  forks; the child, a frozen copy of the state, pickles it at low priority into a private draft, fsyncs it and
  renames it over the snapshot, while the parent serves on. The request lock is held only for the fork.
- **What a crash can lose**: the changes made since the last snapshot that completed, so about
  :data:`SNAPSHOT_INTERVAL` plus the time one snapshot takes. Measured here (moto 5.2, in-process, pickle
  protocol 5): 20,000 DynamoDB items of ~250 bytes pickle to 4 MB in 0.1 s; 100,000 to 20 MB in 0.9 s, which
  take 2.7 s to load back. ``benchmarks/load_generator.py`` (``durable_ratio``) measures what it costs the
  requests being served.

The snapshot is read with :mod:`pickle`, which runs code named in the file: it lives in the hub's owner-only
state folder (0600, made by this process, never followed through a link), where nobody but the hub's account
can write.
"""

from __future__ import annotations

import logging
import os
import pickle
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs

log = logging.getLogger("workbench.local_aws")

SNAPSHOT_FILE = "local-aws.snapshot"
SNAPSHOT_INTERVAL = 1.0  # seconds: a crash loses at most about this much (plus one snapshot's duration)
FORMAT_VERSION = 1

# Actions that only read. Anything else a request may ask for counts as a change (an unknown action included).
READ_PREFIXES = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "TransactGet")


def action_of(environ: dict, body: bytes) -> str:
    """The AWS action a request asks for: ``X-Amz-Target`` for JSON APIs (DynamoDB), ``Action=`` in the form
    body for query APIs (IAM, STS, CloudFormation, EC2, ELBv2); "" when neither says."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rpartition(".")[2]
    try:
        form = parse_qs(body.decode("ascii"), max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        return ""
    return (form.get("Action") or [""])[0]


def may_change(action: str) -> bool:
    return not action.startswith(READ_PREFIXES)


# --- what is saved ---------------------------------------------------------------------------------------------
def backends_in_use() -> dict:
    """Every moto backend that holds something: ``{service: {account: {region: backend}}}``."""
    from moto.core.base_backend import BackendDict

    return {
        backends.service_name: {account: dict(regions) for account, regions in backends.items()}
        for backends in list(BackendDict._instances)
        if len(backends)
    }


def put_back(saved: dict) -> None:
    """Place saved backends where moto looks them up (its module-level BackendDicts), replacing what is there."""
    from moto.backends import get_backend

    for service, accounts in saved.items():
        backends = get_backend(service)
        for account, regions in accounts.items():
            account_backends = backends[account]  # made (empty) by the lookup
            for region, backend in regions.items():
                dict.__setitem__(account_backends, region, backend)


def write_snapshot(path: Path, saved: dict) -> None:
    """Write ``saved`` to ``path`` whole or not at all: a private draft (0600), fsynced, renamed into place."""
    path = Path(path)
    handle, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            pickle.dump({"version": FORMAT_VERSION, "backends": saved, "saved_at": time.time()}, stream,
                        protocol=pickle.HIGHEST_PROTOCOL)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(draft, path)  # rename replaces a link at `path` itself, never what it points to
    except BaseException:
        os.unlink(draft)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def read_snapshot(path: Path) -> dict | None:
    """The backends saved in ``path``; None when there is no snapshot. Refuses a link, a file of another
    account or one others may write (it is unpickled: whoever can write it runs code here)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    with os.fdopen(descriptor, "rb") as stream:
        status = os.fstat(stream.fileno())
        if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid() or status.st_mode & 0o077:
            raise PermissionError(f"{path} must be a regular file of this account that only it can read and write")
        data = pickle.load(stream)
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path} was written in snapshot format {data.get('version')!r}; this version reads "
                         f"format {FORMAT_VERSION}")
    return data["backends"]


# --- when it is saved --------------------------------------------------------------------------------------------
class Snapshots:
    """Keeps ``path`` within :data:`SNAPSHOT_INTERVAL` of the served state.

    ``lock`` is the lock every request to moto holds (:class:`hub.services.local_aws.AwsApiOnly`); call
    :meth:`changed` after a request that may have changed something, :meth:`final` at a clean stop.
    """

    def __init__(self, path: Path, lock: threading.Lock, interval: float = SNAPSHOT_INTERVAL,
                 collect: Callable[[], dict] = backends_in_use):
        self.path = Path(path)
        self.lock = lock
        self.interval = interval
        self.collect = collect
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshots", daemon=True)
        self.completed = 0
        self.last_duration = 0.0

    def restore(self) -> bool:
        """Put the saved state back into moto; False when there is none (a first start)."""
        started = time.monotonic()
        saved = read_snapshot(self.path)
        if saved is None:
            return False
        put_back(saved)
        log.info("Local AWS state restored from %s in %.2f s", self.path, time.monotonic() - started)
        return True

    def start(self) -> None:
        self._thread.start()

    def changed(self) -> None:
        self._dirty.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._dirty.wait()
            if self._stopping.is_set():
                return
            self._dirty.clear()
            started = time.monotonic()
            try:
                self._in_child()
            except Exception:  # a failed snapshot is logged and retried; serving goes on
                log.exception("Could not save the local AWS state to %s; trying again", self.path)
                self._dirty.set()
            self.last_duration = time.monotonic() - started
            self._stopping.wait(max(0.0, self.interval - self.last_duration))

    def _in_child(self) -> None:
        """Fork under the request lock (a state no request is changing), pickle in the child."""
        with self.lock:
            child = os.fork()
            if child == 0:  # pragma: no cover - runs in the forked child, reported through its exit status
                status = 1
                try:
                    os.nice(10)
                    write_snapshot(self.path, self.collect())
                    status = 0
                finally:
                    os._exit(status)
        _, status = os.waitpid(child, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"the snapshot process ended with status {os.waitstatus_to_exitcode(status)}")
        self.completed += 1

    def final(self) -> None:
        """At a clean stop: no more requests are served; save what is there, in this process."""
        self._stopping.set()
        self._dirty.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
        with self.lock:
            write_snapshot(self.path, self.collect())
        log.info("Local AWS state saved to %s", self.path)


# --- outliving the hub ------------------------------------------------------------------------------------------
# A hub stopped for a restart leaves its local AWS serving (users' servers and their runs use it meanwhile); the
# service the next hub starts then stands in for it instead of serving a second copy of the state.
SERVING_SUFFIX = ".serving"


def serving_record(state_file: Path) -> Path:
    return Path(str(state_file) + SERVING_SUFFIX)


def record_serving(state_file: Path, port: int) -> None:
    """Say that this process serves ``state_file`` on ``port`` (owner-only, replaced whole)."""
    record = serving_record(state_file)
    handle, draft = tempfile.mkstemp(dir=record.parent, prefix=f".{record.name}.")
    with os.fdopen(handle, "w") as stream:
        stream.write(f"{os.getpid()} {port}\n")
    os.replace(draft, record)


def forget_serving(state_file: Path) -> None:
    record = serving_record(state_file)
    try:
        pid, _ = _read_serving(record)
    except (OSError, ValueError):
        return
    if pid == os.getpid():
        record.unlink(missing_ok=True)


def _read_serving(record: Path) -> tuple[int, int]:
    descriptor = os.open(record, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor) as stream:
        status = os.fstat(stream.fileno())
        if status.st_uid != os.geteuid() or status.st_mode & 0o022:
            raise PermissionError(f"{record} is not this account's own")
        pid, port = stream.read().split()
    return int(pid), int(port)


def still_serving(state_file: Path, port: int) -> int | None:
    """The pid of a local AWS process that serves ``state_file`` on ``port`` (left running by a hub that stopped
    for a restart), or None."""
    try:
        pid, recorded_port = _read_serving(serving_record(state_file))
        process = Path(f"/proc/{pid}")
        owner = process.stat().st_uid
        command = (process / "cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    # The recorded process may be gone and its pid reused: only a process of this account (users' processes are
    # other accounts') running this service on this state file counts.
    if (recorded_port != port or owner != os.geteuid() or b"hub.services.local_aws" not in command
            or str(state_file).encode() not in command):
        return None
    return pid


def stand_in_for(pid: int, poll_seconds: float = 1.0) -> int:
    """Stand in for the serving process ``pid`` for as long as it lives (the hub sees its service running); a
    stop of this process stops it too (it saves its state first). Returns the exit status: 0 after a stop, 1 when
    the serving process ended on its own (the hub then starts the service again, which serves the saved state)."""
    import signal

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    log.info("The local AWS of an earlier run of the hub (pid %s) still serves; this process stands in for it", pid)
    while not stopping.is_set():
        if not Path(f"/proc/{pid}").exists():
            log.warning("The local AWS this process stood in for (pid %s) has ended; starting it again", pid)
            return 1
        stopping.wait(poll_seconds)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return 0
