"""The checks ``profile`` and ``compare_caching`` run on their arguments before any workload runs, and the hard
bounds every run honours: a time limit per run and a bounded number of runs."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from sqlalchemy import Engine

from profiler.inputs import InputError, flag, refuse, seconds, shown, whole_number

from .strategies import STRATEGY_INFO, Strategy, strategy_from
from .workloads import Workload, as_workload

# A run that needs more than ten minutes is not a profile any more: the bound keeps a typo (timeout=6000) from
# holding a kernel and a database connection for hours.
MAX_TIMEOUT_S = 600.0
# profile runs each strategy 1 + 2 x repeats times, compare_caching 3 x repeats times; medians settle well
# before these counts, and a million (a slipped finger) would run for days.
MAX_PROFILE_REPEATS = 20
MAX_CACHE_REPEATS = 50


def checked_workload(workload: Any) -> Workload:
    try:
        return as_workload(workload)
    except TypeError:
        raise refuse("workload", "a Workload or a function fn(session)", workload) from None


def checked_strategies(strategies: Any) -> list[Strategy]:
    if isinstance(strategies, (str, Strategy)):
        strategies = [strategies]
    if not isinstance(strategies, Sequence) or not strategies:
        raise refuse("strategies", f"a non-empty list of strategy keys ({', '.join(sorted(STRATEGY_INFO))}) "
                     "or Strategy objects", strategies)
    return [checked_strategy(spec, "strategies") for spec in strategies]


def checked_strategy(spec: Any, field: str = "strategy") -> Strategy:
    if not isinstance(spec, (str, Strategy)):
        raise refuse(field, f"a strategy key ({', '.join(sorted(STRATEGY_INFO))}) or a Strategy object", spec)
    try:
        return strategy_from(spec)
    except ValueError as error:
        raise InputError(f"{field}: {error}", field) from None


def checked_engine(engine: Any) -> Engine:
    """The engine to run on: the in-memory bookstore when None."""
    if engine is None:
        from .workloads import default_engine

        return default_engine()
    if not isinstance(engine, Engine):
        raise refuse("engine", "a SQLAlchemy Engine (create_engine(url)) or None for the sample bookstore", engine)
    return engine


def checked_callback(field: str, value: Any) -> Callable | None:
    if value is not None and not callable(value):
        raise refuse(field, "a function or None", value)
    return value


def check_run_arguments(*, repeats: Any, max_repeats: int, timeout: Any, **flags: Any) -> None:
    """``repeats`` and ``timeout`` within their bounds and every flag a real bool. ``timeout`` is required: every
    run has a deadline."""
    whole_number("repeats", repeats, 1, max_repeats)
    seconds("timeout", timeout, MAX_TIMEOUT_S)
    for name, value in flags.items():
        flag(name, value)


__all__ = ["MAX_CACHE_REPEATS", "MAX_PROFILE_REPEATS", "MAX_TIMEOUT_S", "check_run_arguments", "checked_callback",
           "checked_engine", "checked_strategies", "checked_strategy", "checked_workload", "shown"]
