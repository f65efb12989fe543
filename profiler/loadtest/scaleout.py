"""Scale-out mode: the same spec run by a Locust master and N Locust workers, each a separate process started
with ``python -m locust`` (gevent never enters the kernel), their statistics merged per interval by the master
and fed into the same record stream, subscribers and run store as :class:`~profiler.loadtest.engine.LoadTest`.

On one machine the workers are local processes (``workers=2`` by default). On Kubernetes this is how load grows
beyond one machine: start this class with ``workers=N, local_workers=0, bind_host="0.0.0.0"`` (the master then
waits up to ``start_timeout`` for N workers), and run the workers as pods of the same image with
``python -m locust -f <site-packages>/profiler/loadtest/locustfile.py --worker --master-host <kernel pod IP>
--master-port <port>``, ``PROFILER_LOADTEST_JOB`` set to ``json.dumps(test.job())`` and AWS credentials scoped to
the user's playground (a Kubernetes Job per run does this, spawner/kube_jobs.py; there is no cluster here, but its
pods run as containers of the users' image in tests/images/test_loadtest_worker_container.py). Every
worker sends HDR histograms, not Locust's bucketed response times, so merged percentiles stay exact to 3
significant digits. Local workers get the kernel's credentials frozen at start in their environment (a run longer
than the playground's credentials live must be split); a Job's workers read the mounted credentials Secret through
botocore, which the hub refreshes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..inputs import shown
from ..playground import Playground
from .engine import CANCELLED, FAILED, RunBase, Subscriber
from .spec import SpecError, WorkloadSpec, checked_spec
from .store import RunStore

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# The names the locustfile reads; kept in step with it by tests/loadtest (it cannot be imported here).
JOB_VARIABLE = "PROFILER_LOADTEST_JOB"
RECORD_PREFIX = "PROFILER-LOADTEST "
OPEN_MODEL_USERS = 64
MAX_WORKERS = 64  # worker processes of one run: far more than a user's server has cores to run them


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LocustLoadTest(RunBase):
    """Start, stop and cancel like :class:`LoadTest`; ``workers`` Locust workers (``local_workers`` of them
    started here as subprocesses)."""

    mode = "locust"

    def __init__(self, spec: WorkloadSpec, *, workers: int = 2, local_workers: int | None = None,
                 bind_host: str = "127.0.0.1", playground: Playground | None = None, store: RunStore | None = None,
                 on_interval: Subscriber | None = None, start_timeout: float = 60.0):
        checked_spec(spec)
        if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= MAX_WORKERS:
            raise SpecError([f"workers must be an integer >= 1 and at most {MAX_WORKERS}, got {shown(workers)}"])
        if local_workers is not None and (not isinstance(local_workers, int) or isinstance(local_workers, bool)
                                          or not 0 <= local_workers <= workers):
            raise SpecError([f"local_workers must be an integer from 0 to workers ({workers}) or None, "
                             f"got {shown(local_workers)}"])
        if not isinstance(start_timeout, (int, float)) or isinstance(start_timeout, bool) \
                or not 0 < start_timeout <= 600:
            raise SpecError([f"start_timeout must be a number of seconds above 0 and at most 600, "
                             f"got {shown(start_timeout)}"])
        users = spec.concurrency if not spec.open_model else min(spec.max_in_flight, OPEN_MODEL_USERS)
        if users < workers:
            raise SpecError([f"{workers} workers need at least {workers} users: raise concurrency (or max_in_flight "
                             f"for target_rate) to >= {workers}"])
        super().__init__(spec, playground=playground, store=store, on_interval=on_interval)
        self.workers = workers
        self.local_workers = workers if local_workers is None else local_workers
        self.users = max(users, workers)
        self.bind_host = bind_host
        self.start_timeout = start_timeout
        self.processes: list[subprocess.Popen] = []
        self._logs = Path(tempfile.mkdtemp(prefix="loadtest-locust-"))
        self._cancelled = False

    def job(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), "target": self.target.to_dict(), "region": self.playground.region,
                "endpoint_url": self.playground.endpoint_url, "workers": self.workers, "users": self.users,
                "run_id": self.run_id}

    def _environment(self) -> dict[str, str]:
        credentials = self._session.get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials for the playground")
        frozen = credentials.get_frozen_credentials()
        env = dict(os.environ, **{JOB_VARIABLE: json.dumps(self.job()), "AWS_ACCESS_KEY_ID": frozen.access_key,
                                  "AWS_SECRET_ACCESS_KEY": frozen.secret_key, "PYTHONUNBUFFERED": "1"})
        if frozen.token:
            env["AWS_SESSION_TOKEN"] = frozen.token
        else:
            env.pop("AWS_SESSION_TOKEN", None)
        # The workers import profiler from the same place the kernel does.
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        return env

    def start(self) -> str:
        self._prepare()
        env = self._environment()
        port = self.master_port = _free_port(self.bind_host)
        locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--loglevel", "WARNING"]
        master = subprocess.Popen(
            locust + ["--master", "--master-bind-host", self.bind_host, "--master-bind-port", str(port),
                      "--expect-workers", str(self.workers), "--expect-workers-max-wait", str(int(self.start_timeout)),
                      "-u", str(self.users), "-r", str(self.users), "--only-summary"],
            env=env, stdout=subprocess.PIPE, stderr=open(self._logs / "master.log", "wb"), text=True)
        self.processes.append(master)
        master_host = "127.0.0.1" if self.bind_host in ("0.0.0.0", "::") else self.bind_host
        for index in range(self.local_workers):
            self.processes.append(subprocess.Popen(
                locust + ["--worker", "--master-host", master_host, "--master-port", str(port)],
                env=env, stdout=subprocess.DEVNULL, stderr=open(self._logs / f"worker-{index}.log", "wb")))
        self._t0 = time.perf_counter()
        self._wall0 = time.time()
        threading.Thread(target=self._read_master, args=(master,), name=f"loadtest-{self.run_id}", daemon=True).start()
        return self.run_id

    def stop(self) -> None:
        """Workers send no more requests; the run ends after their last interval arrived."""
        if self.processes and self.processes[0].poll() is None:
            self.processes[0].send_signal(signal.SIGUSR1)

    def cancel(self) -> None:
        """Kill the master and workers now; every interval already received is kept."""
        self._cancelled = True
        for process in self.processes:
            if process.poll() is None:
                process.kill()

    def _read_master(self, master: subprocess.Popen) -> None:
        status = None
        for line in master.stdout:
            if not line.startswith(RECORD_PREFIX):
                continue
            record = json.loads(line[len(RECORD_PREFIX):])
            if record.pop("kind") == "end":
                status = record["status"]
                continue
            phase, seconds, elapsed = record.pop("phase"), record.pop("seconds"), record.pop("elapsed")
            if not record["requests"] and seconds < 0.05:
                continue  # the workers' last, empty sliver after their part was done
            self._publish(record, phase, self._wall0 + max(0.0, elapsed - seconds), seconds, elapsed,
                          workers=record.pop("workers"))
        master.wait()
        for process in self.processes[1:]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if status is not None:
            shutil.rmtree(self._logs, ignore_errors=True)
        if self._cancelled:
            self._finish(CANCELLED, workers=self.workers)
        elif status is None:
            self._finish(FAILED, workers=self.workers, error=f"Locust master exited with code {master.returncode}: "
                         + self._log_tail("master.log"))
        else:
            self._finish(status, workers=self.workers)

    def _log_tail(self, name: str, lines: int = 15) -> str:
        try:
            return "\n".join((self._logs / name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
