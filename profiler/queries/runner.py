"""``profile``: run one workload under several loading strategies and compare them truthfully."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from sqlalchemy import Engine

from .analysis import find_nplusone, relationship_tree, statement_groups
from .execution import RunOutcome, StrategyContext, execute_workload
from .explain import explain
from .guard import WorkloadTimeout
from .plans import LoadPlan
from .results import Comparison, Overhead, RunMeasurement, StrategyResult
from .strategies import DEFAULT_STRATEGIES, Preparation, Strategy, strategy_from
from .workloads import Workload, as_workload


@dataclass
class ProgressEvent:
    """Pushed to the ``progress`` callback: strategy k of n, what it is doing, statements so far."""

    index: int  # 1-based
    total: int
    strategy: str
    phase: str  # "discovering", "preparing", "running", "explaining", "checking eager loads", "done"
    statements: int = 0
    message: str = ""


def _measurement(outcome: RunOutcome) -> RunMeasurement:
    capture = outcome.capture
    return RunMeasurement(
        wall_s=outcome.wall_s,
        execute_s=capture.execute_s,
        fetch_s=capture.fetch_s,
        statements=capture.count,
        rows=capture.rows,
        fingerprint=outcome.fingerprint,
    )


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def profile(
    workload: Workload | Callable,
    strategies: Sequence[str | Strategy] = DEFAULT_STRATEGIES,
    engine: Engine | None = None,
    *,
    repeats: int = 3,
    timeout: float | None = 60.0,
    explain_plans: bool = True,
    max_explains: int = 8,
    find_unused: bool = True,
    measure_overhead: bool = True,
    source_lines: bool = False,
    nplusone_threshold: int = 2,
    progress: Callable[[ProgressEvent], None] | None = None,
) -> Comparison:
    """Run ``workload`` under each strategy on ``engine`` and compare them.

    ``workload`` is a ``Workload`` or a function ``fn(session)`` that queries, walks relationships and
    returns what it walked (plain data or ORM objects). Strategies are keys ("lazy", "joined", "selectin",
    "subquery", "auto") or Strategy objects (e.g. ``CustomStrategy(loaders={"books": "selectin"})``).
    Each strategy runs once cold, then ``repeats`` times warm with capture, interleaved with ``repeats``
    runs without capture that measure the profiler's own overhead. Every run is a rolled-back transaction.
    A strategy that fails, times out (``timeout`` seconds per run) or writes data gets a clear error in its
    result; the others still run.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    workload = as_workload(workload)
    if engine is None:
        from .workloads import default_engine

        engine = default_engine()
    chosen = [strategy_from(spec) for spec in strategies]
    if not chosen:
        raise ValueError("give at least one strategy")
    total = len(chosen)

    def notify(index: int, label: str, phase: str, statements: int = 0, message: str = "") -> None:
        if progress is not None:
            progress(ProgressEvent(index, total, label, phase, statements, message))

    # Discovery: a captured lazy run shows which relationships the workload walks, from which roots.
    models: dict[str, type] = {}
    notify(1, chosen[0].label, "discovering")
    discovery: RunOutcome | None = None
    discovery_error: BaseException | None = None
    try:
        discovery = execute_workload(
            engine, workload.run, source_lines=source_lines, timeout=timeout, models=models,
            on_statement=lambda count: notify(1, chosen[0].label, "discovering", count),
        )
        tree = relationship_tree(discovery.capture.statements)
    except Exception as error:  # noqa: BLE001 - reported on every strategy that needed it
        discovery_error = error
        tree = relationship_tree([])
    context = StrategyContext(engine, workload.run, tree, models, timeout)

    results = []
    for index, strategy in enumerate(chosen, start=1):
        result = StrategyResult(key=strategy.key, label=strategy.label)
        try:
            if discovery_error is not None and strategy.key != "custom":
                raise discovery_error
            _run_strategy(
                strategy, result, context, engine, workload, index, notify,
                reuse=discovery if strategy.key == "lazy" else None,
                repeats=repeats, timeout=timeout, source_lines=source_lines, explain_plans=explain_plans,
                max_explains=max_explains, find_unused=find_unused, measure_overhead=measure_overhead,
                threshold=nplusone_threshold,
            )
        except WorkloadTimeout:
            result.status = "timeout"
            result.error = (
                f"{strategy.label}: did not finish within {timeout:g} s; it was cancelled and its transaction "
                "rolled back"
            )
        except Exception as error:  # noqa: BLE001 - one strategy's failure must not hide the others
            result.status = "error"
            result.error = f"{strategy.label}: {_describe(error)}"
        results.append(result)
        notify(index, strategy.label, "done", len(result.statements), result.error or "")
    reference = _check_data(results)
    return Comparison(workload.name, engine.dialect.name, results, reference)


def _run_strategy(
    strategy, result, context, engine, workload, index, notify, *, reuse, repeats, timeout, source_lines,
    explain_plans, max_explains, find_unused, measure_overhead, threshold,
) -> None:
    notify(index, strategy.label, "preparing")
    preparation: Preparation = strategy.prepare(context)
    result.code, result.plan_rounds = preparation.code, preparation.rounds
    function = preparation.function or workload.run

    def run(capture: bool) -> RunOutcome:
        return execute_workload(
            engine, function, plan=preparation.plan, options=preparation.options, capture=capture,
            source_lines=source_lines, timeout=timeout, models=context.models,
            on_statement=(lambda count: notify(index, strategy.label, "running", count)) if capture else None,
        )

    cold = reuse if reuse is not None and preparation.function is None else run(True)
    result.cold = _measurement(cold)
    _refuse_writes(strategy.label, cold)
    uncaptured = []
    last = cold
    for _ in range(repeats):
        last = run(True)
        result.warm.append(_measurement(last))
        notify(index, strategy.label, "running", last.capture.count)
        if measure_overhead:
            uncaptured.append(run(False).wall_s)
    statements = last.capture.statements
    result.statements = statements
    tree = relationship_tree(statements) if preparation.function is not None else context.tree
    if not tree.edges:
        tree = relationship_tree(statements)
    result.nplusone = find_nplusone(statements, tree, threshold)
    result.duplicates = statement_groups(statements, "duplicate")
    result.similar = statement_groups(statements, "similar")
    prints = {run.fingerprint.unordered for run in [result.cold, *result.warm]}
    if len(prints) > 1:
        result.warnings.append("the data differed between repeats of this strategy: the workload is not deterministic")
    if measure_overhead:
        result.overhead = Overhead(min(run.wall_s for run in result.warm), min(uncaptured), len(statements))
    if explain_plans:
        notify(index, strategy.label, "explaining", len(statements))
        for group in result.similar[:max_explains]:
            record = statements[group.first_index]
            plan = explain(engine, record.sql, record.params)
            result.explains.append(plan)
    if find_unused and preparation.plan and preparation.function is None:
        notify(index, strategy.label, "checking eager loads", len(statements))
        result.unused_eager_loads = _unused_eager_loads(context, preparation, timeout)


def _refuse_writes(label: str, outcome: RunOutcome) -> None:
    writes = [record for record in outcome.capture.statements if record.is_write]
    if writes:
        verbs = sorted({record.sql.split()[0].upper() for record in writes})
        raise PermissionError(
            f"the workload wrote to the database ({len(writes)} {'/'.join(verbs)} statement(s), first: "
            f"{writes[0].sql.splitlines()[0][:120]!r}); its changes were rolled back and a workload that writes "
            "cannot be compared — profile read-only code"
        )


def _unused_eager_loads(context: StrategyContext, preparation: Preparation, timeout) -> list[str]:
    """Eager loads found unused by elimination: swap one for raiseload; if the workload still runs, unused."""
    unused = []
    plan: LoadPlan = preparation.plan
    for root, path in plan.eager_paths():
        trial = plan.with_loader(root, path, "raise")
        try:
            execute_workload(
                context.engine, context.function, plan=trial, options=preparation.options, capture=False,
                timeout=timeout, models=context.models,
            )
        except Exception:  # noqa: BLE001 - raising means the workload needs this load
            continue
        unused.append(plan.option_code(root, path, context.models))
    return unused


def _check_data(results: list[StrategyResult]) -> str | None:
    """Compare every strategy's data with the first successful one; flag, never silently compare."""
    ok = [result for result in results if result.ok and result.fingerprint is not None]
    if not ok:
        return None
    reference = ok[0]
    for result in ok:
        if result is reference:
            result.data_matches = True
            continue
        if result.fingerprint.same_data(reference.fingerprint):
            result.data_matches = True
            if not result.fingerprint.same_order(reference.fingerprint):
                result.data_note = f"same data as {reference.label}, in a different order"
        else:
            result.data_matches = False
            result.data_note = (
                f"DIFFERENT DATA from {reference.label} ({result.fingerprint.items} vs "
                f"{reference.fingerprint.items} top-level items): its timings are not comparable"
            )
    return reference.label

