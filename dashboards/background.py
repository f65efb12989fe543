"""A dashboard's background job: the one worker thread its slow work runs in, whether it is busy, a cooperative
cancel, and what the user is told when the work fails.

The work reaches the page the way it always did, by setting widget traits from the worker thread (the engines
push their progress events; nothing here polls or waits on a timer).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)
# A kernel sends its stderr to the notebook's page: without a handler here, logging's last resort would print the
# traceback there, under a cell. Handlers an application configures still receive it.
log.addHandler(logging.NullHandler())


def describe_error(error: BaseException) -> str:
    """What the user reads when a job fails: the kind of error and its message, never a traceback."""
    return f"{type(error).__name__}: {error}"


def wait(thread: threading.Thread | None, timeout: float = 120) -> None:
    """Block until a started job is over (for cells run top to bottom, and tests): ``wait(dashboard.start())``."""
    if thread is not None:
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"{thread.name} did not finish within {timeout} s")


class BackgroundJob:
    """Runs one job at a time in a daemon thread, so the kernel stays free to deliver the page's messages.

    ``on_busy(True)`` is called before the thread starts (a second click finds the controls off) and
    ``on_busy(False)`` once the job is over, whatever its outcome. A job that raises is reported to ``on_error``
    as :func:`describe_error` (or ``describe``) words it; the traceback goes to this module's logger.
    """

    def __init__(self, name: str, *, on_busy: Callable[[bool], None] | None = None,
                 on_error: Callable[[str], None] | None = None,
                 describe: Callable[[BaseException], str] = describe_error):
        self.name = name
        self._on_busy = on_busy
        self._on_error = on_error
        self._describe = describe
        self._busy = False
        # Held while busy changes and on_busy runs: a start cannot slip between a job's end and its on_busy(False).
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def thread(self) -> threading.Thread | None:
        """The thread of the job last started (alive while it runs)."""
        return self._thread

    @property
    def cancelled(self) -> threading.Event:
        """Set by :meth:`cancel`; the running job checks it between steps and returns early."""
        return self._cancel

    def start(self, target: Callable[..., Any], /, *args: Any,
              on_error: Callable[[str], None] | None = None) -> threading.Thread | None:
        """Run ``target(*args)`` in a new thread; None, starting nothing, while a job is running.

        ``on_error`` hears this job's failure instead of the one given to the constructor.
        """
        with self._lock:
            if self._busy:
                return None
            self._busy = True
            self._cancel = threading.Event()  # a cancel meant for an earlier job does not stop this one
            try:
                self._notify_busy(True)
            except BaseException:
                self._busy = False
                raise
            thread = threading.Thread(target=self._run, args=(target, args, on_error or self._on_error),
                                      daemon=True, name=f"{self.name}: {_name(target)}")
            self._thread = thread
            thread.start()
        return thread

    def cancel(self) -> bool:
        """Ask the running job to stop (it decides when); False when nothing runs."""
        if not self._busy:
            return False
        self._cancel.set()
        return True

    def wait(self, timeout: float = 120) -> None:
        """Block until the job last started is over; TimeoutError if it is still running after ``timeout`` s."""
        wait(self._thread, timeout)

    def _run(self, target: Callable[..., Any], args: tuple, on_error: Callable[[str], None] | None) -> None:
        try:
            target(*args)
        except Exception as error:  # the user reads what failed; the dashboard stays usable
            log.exception("%s: %s failed", self.name, _name(target))
            if on_error is not None:
                try:
                    on_error(self._describe(error))
                except Exception:  # showing the failure failed too: keep it for whoever reads logs
                    log.exception("%s: showing the failure failed", self.name)
        finally:
            with self._lock:
                self._busy = False
                try:
                    self._notify_busy(False)
                except Exception:  # an uncaught error in a thread would print to the page
                    log.exception("%s: turning the controls back on failed", self.name)

    def _notify_busy(self, busy: bool) -> None:
        if self._on_busy is not None:
            self._on_busy(busy)


def _name(target: Callable[..., Any]) -> str:
    return getattr(target, "__name__", "job").strip("_")
