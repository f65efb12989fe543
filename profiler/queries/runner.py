"""``profile``: run one workload under several loading strategies and compare them truthfully."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from sqlalchemy import Engine, select, tuple_
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Load, selectin_polymorphic

from profiler.inputs import InputError, whole_number

from .analysis import NPlusOneFinding, apply_ignores, find_nplusone, relationship_tree, statement_groups
from .arguments import (
    MAX_PROFILE_REPEATS, check_run_arguments, checked_callback, checked_engine, checked_strategies, checked_workload,
)
from .execution import RunOutcome, StrategyContext, execute_workload
from .explain import explain
from .guard import WorkloadTimeout
from .plans import EAGER_KINDS, LOADER_FUNCTIONS, LoadPlan, Path
from .results import Comparison, Overhead, RunMeasurement, StrategyResult
from .strategies import DEFAULT_STRATEGIES, Preparation, Strategy
from .workloads import Workload


@dataclass
class ProgressEvent:
    """Pushed to the ``progress`` callback: strategy k of n, what it is doing, statements so far."""

    index: int  # 1-based
    total: int
    strategy: str
    # "discovering", "checking eager loads", "preparing", "running", "checking fixes", "explaining", "done"
    phase: str
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
    )


def _describe(error: BaseException) -> str:
    """The whole message: its later lines often say what to change (SQLAlchemy's, the auto strategy's)."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def profile(
    workload: Workload | Callable,
    strategies: Sequence[str | Strategy] = DEFAULT_STRATEGIES,
    engine: Engine | None = None,
    *,
    repeats: int = 3,
    timeout: float = 60.0,
    explain_plans: bool = True,
    max_explains: int = 8,
    find_unused: bool = True,
    measure_overhead: bool = True,
    source_lines: bool = False,
    nplusone_threshold: int = 2,
    progress: Callable[[ProgressEvent], None] | None = None,
    ignore: Mapping[str, str] | None = None,
    verify_fixes: bool = True,
) -> Comparison:
    """Run ``workload`` under each strategy on ``engine`` and compare them.

    ``workload`` is a ``Workload`` or a function ``fn(session)`` that queries, walks relationships and
    returns what it walked (plain data or ORM objects). Strategies are keys ("lazy", "joined", "selectin",
    "subquery", "auto") or Strategy objects (e.g. ``CustomStrategy(loaders={"books": "selectin"})``).
    Each strategy runs once cold, then ``repeats`` times warm with capture, interleaved with ``repeats``
    runs without capture that measure the profiler's own overhead. Every run is a rolled-back transaction.
    A strategy that fails, times out (``timeout`` seconds per run, at most 600) or writes data gets a clear
    error in its result; the others still run. Arguments are checked before anything runs: a bad one raises
    ``InputError`` naming it.

    ``ignore`` accepts known findings: ``{"Author.books.stores": "admin page, 5 authors at most"}``, keyed as
    each finding's ``key`` shows (the root entity and the relationships walked from it; a get loop's entity).
    Ignored findings stay in the results, marked with their reason, and do not count as open findings.
    With ``verify_fixes`` each lazy N+1's fix is checked by running the workload once more with it applied:
    the finding then tells the statements before and after, and says so when the fix is not enough.
    """
    check_run_arguments(repeats=repeats, max_repeats=MAX_PROFILE_REPEATS, timeout=timeout,
                        explain_plans=explain_plans, find_unused=find_unused, measure_overhead=measure_overhead,
                        source_lines=source_lines, verify_fixes=verify_fixes)
    whole_number("max_explains", max_explains, 0, 100)
    whole_number("nplusone_threshold", nplusone_threshold, 2, 10_000)
    checked_callback("progress", progress)
    ignore = _checked_ignore(ignore)
    workload = checked_workload(workload)
    chosen = checked_strategies(strategies)
    engine = checked_engine(engine)
    total = len(chosen)

    def notify(index: int, label: str, phase: str, statements: int = 0, message: str = "") -> None:
        if progress is not None:
            progress(ProgressEvent(index, total, label, phase, statements, message))

    # Discovery: a captured lazy run shows which relationships the workload walks, from which roots.
    models: dict[str, type] = {}
    own_paths: dict[str, dict] = {}  # root -> {path: kind} the workload's queries load by options of their own
    notify(1, chosen[0].label, "discovering")
    discovery: RunOutcome | None = None
    discovery_error: BaseException | None = None
    try:
        discovery = execute_workload(
            engine, workload.run, source_lines=source_lines, timeout=timeout, models=models, fingerprint_data=False,
            own_paths=own_paths, track_paths=True,
            on_statement=lambda count: notify(1, chosen[0].label, "discovering", count),
        )
        tree = relationship_tree(discovery.capture.statements, own_paths, models)
    except Exception as error:  # noqa: BLE001 - reported on every strategy that needed it
        discovery_error = error
        tree = relationship_tree([])
    context = StrategyContext(engine, workload.run, tree, models, timeout,
                              discovery.capture.statements if discovery is not None else [], own_paths)

    unused_own: list[NPlusOneFinding] = []
    if find_unused and discovery is not None and own_paths:
        notify(1, chosen[0].label, "checking eager loads")
        unused_own = _unused_own_loads(context, own_paths, discovery.capture.count, timeout)

    results = []
    reruns: dict[int, Callable[[], RunOutcome]] = {}  # id(result) -> one more fingerprinted run of it
    for index, strategy in enumerate(chosen, start=1):
        result = StrategyResult(key=strategy.key, label=strategy.label)
        try:
            if discovery_error is not None and strategy.key != "custom":
                raise discovery_error
            reruns[id(result)] = _run_strategy(
                strategy, result, context, engine, workload, index, notify,
                reuse=discovery if strategy.key == "lazy" else None,
                repeats=repeats, timeout=timeout, source_lines=source_lines, explain_plans=explain_plans,
                max_explains=max_explains, find_unused=find_unused, measure_overhead=measure_overhead,
                threshold=nplusone_threshold, unused_own=unused_own, verify_fixes=verify_fixes,
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
    reference = _check_data(results, reruns)
    matched = set()
    for result in results:
        matched |= apply_ignores(result.nplusone, ignore)
    notes = [f"ignore entry {key!r} matched no finding: it may be fixed, or the key may be misspelt (the keys are "
             f"the findings' key values)" for key in ignore if key not in matched]
    return Comparison(workload.name, engine.dialect.name, results, reference, notes)


def _run_strategy(
    strategy, result, context, engine, workload, index, notify, *, reuse, repeats, timeout, source_lines,
    explain_plans, max_explains, find_unused, measure_overhead, threshold, unused_own=(), verify_fixes=False,
) -> Callable[[], RunOutcome]:
    """Fill ``result``; return a function running the strategy once more, uncaptured and fingerprinted, for
    the data check's second look."""
    notify(index, strategy.label, "preparing")
    preparation: Preparation = strategy.prepare(context)
    result.code, result.plan_rounds = preparation.code, preparation.rounds
    result.warnings.extend(preparation.notes)
    function = preparation.function or workload.run

    def run(capture: bool, fingerprint_data: bool = False, track_paths: bool = False) -> RunOutcome:
        return execute_workload(
            engine, function, plan=preparation.plan, options=preparation.options, capture=capture,
            source_lines=source_lines, timeout=timeout, models=context.models, fingerprint_data=fingerprint_data,
            on_statement=(lambda count: notify(index, strategy.label, "running", count)) if capture else None,
            track_paths=track_paths,
        )

    cold = run(True)
    result.cold = _measurement(cold)
    _refuse_writes(strategy.label, cold)
    # the analysed run is one more, apart from the timed ones: it tracks where each load happened, which costs
    # SQLAlchemy time per lazy load (see execute_workload's track_paths); the lazy strategy's is the discovery run. It
    # comes before the warm runs, so that the last of them, whose data is fingerprinted, and a second look at
    # the data (``_check_data``) are consecutive runs of the strategy
    analysed = reuse if reuse is not None and preparation.function is None else run(True, track_paths=True)
    uncaptured = []
    last = cold
    for repeat in range(repeats):
        # once per strategy, on the run whose statements are analysed: the data is the same on every run of a
        # deterministic workload, and fingerprinting 100,000 rows costs a good part of a second
        last = run(True, fingerprint_data=repeat == repeats - 1)
        result.warm.append(_measurement(last))
        notify(index, strategy.label, "running", last.capture.count)
        if measure_overhead:
            uncaptured.append(run(False).wall_s)
    statements = analysed.capture.statements
    result.statements = statements
    # this run's own paths first (SQLAlchemy reports where each load happened), the discovery run's for the rest
    tree = relationship_tree(statements, context.own_paths, context.models)
    if preparation.function is None:
        for name, edge in context.tree.edges.items():
            tree.edges.setdefault(name, edge)
        for relationship, place in context.tree.located.items():
            tree.located.setdefault(relationship, place)
    result.nplusone = find_nplusone(statements, tree, threshold)
    if preparation.function is None:  # the workload as written: its own eager loads are its own
        result.nplusone += [dataclasses.replace(finding) for finding in unused_own]
    if verify_fixes and preparation.function is None:
        notify(index, strategy.label, "checking fixes", len(statements))
        for finding in result.nplusone:
            if finding.kind == "lazy" and finding.place is not None:
                _verify_fix(finding, tree, context, preparation, len(statements), last.fingerprint, timeout)
            elif finding.kind in ("get", "dynamic"):
                _verify_batched(finding, statements, context, timeout)
            elif finding.kind == "columns":
                _verify_subclass_fix(finding, tree, context, preparation, len(statements), last.fingerprint, timeout)
    result.duplicates = statement_groups(statements, "duplicate")
    result.similar = statement_groups(statements, "similar")
    result.fingerprint, result.fingerprint_s = last.fingerprint, last.fingerprint_s
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
    return lambda: run(False, fingerprint_data=True)


def _verify_batched(finding, statements, context, timeout) -> None:
    """Run the batched query a get or dynamic loop's fix writes, with the keys the loop asked for: it must
    be one statement fetching every row the loop fetched. (A dynamic relationship through a secondary table
    is fixed by a model change, which is not run here.)"""
    if finding.kind == "get":
        records = [record for record in statements if record.loader == "get" and record.entity == finding.relationship]
        entity, columns = context.models.get(finding.relationship), records[0].lookup
    else:
        records = [record for record in statements
                   if record.loader == "dynamic" and record.relationship == finding.relationship]
        if records[0].lookup is None:
            return
        entity, columns = context.models.get(records[0].target), records[0].lookup[1:]
    if entity is None or not columns:
        return
    by_key = {}
    for record in records:  # a key asked for again (the session let go of its object) is fetched once
        by_key.setdefault(_values(record.params), record.rows)
    if any(len(key) != len(columns) for key in by_key):
        return
    keys = [key[0] if len(columns) == 1 else key for key in by_key]

    def batched(session):
        attributes = [getattr(entity, column) for column in columns]
        column = attributes[0] if len(attributes) == 1 else tuple_(*attributes)
        return session.scalars(select(entity).where(column.in_(keys))).all()

    before = len(statements)
    try:
        outcome = execute_workload(context.engine, batched, timeout=timeout, models={}, fingerprint_data=False)
    except Exception as error:  # noqa: BLE001 - a fix that fails is reported as such
        finding.before, finding.fixed = before, False
        finding.remaining_note = f" (no: the batched query failed, {_describe(error)})"
        return
    finding.before, finding.after = before, before - len(records) + outcome.capture.count
    finding.fixed = outcome.capture.count == 1 and outcome.capture.rows == sum(by_key.values())
    if not finding.fixed:
        finding.remaining_note = (f" (the batched query ran {outcome.capture.count} statements for "
                                  f"{outcome.capture.rows} rows; the loop fetched {sum(by_key.values())})")


def _verify_subclass_fix(finding, tree, context, preparation, before: int, data, timeout) -> None:
    """Run the workload with ``selectin_polymorphic`` where the base objects load, as the finding's fix says."""
    subclasses = finding.fix.rsplit("[", 1)[1].rstrip("])").split(", ")
    try:
        if finding.place is None:
            base = _mapped_class(context.models, finding.relationship)
            option = selectin_polymorphic(base, [_subclass(base, name) for name in subclasses])
        else:
            root, path = finding.place
            planned = preparation.plan.paths_for(root)
            option, current = Load(context.models[root]), context.models[root]
            for depth, (_, key, kind) in enumerate(tree.fix_steps(finding.place), start=1):
                # the strategy's own loader where it has one: a second, different one is refused
                option = getattr(option, LOADER_FUNCTIONS[planned.get(path[:depth], kind)])(getattr(current, key))
                current = sa_inspect(current).relationships[key].mapper.class_
            option = option.selectin_polymorphic([_subclass(current, name) for name in subclasses])
        outcome = execute_workload(
            context.engine, context.function, plan=preparation.plan, options=[*preparation.options, option],
            timeout=timeout, models=context.models,
        )
    except Exception as error:  # noqa: BLE001 - a fix that breaks the workload is reported as such
        finding.before, finding.fixed = before, False
        finding.remaining_note = f" (no: the workload failed with it, {_describe(error)})"
        return
    remaining = sum(1 for record in outcome.capture.statements
                    if record.loader == "columns" and record.lookup == (finding.relationship,)
                    and record.entity in subclasses)
    same = data is None or outcome.fingerprint.same_data(data)
    finding.before, finding.after, finding.fixed = before, outcome.capture.count, remaining == 0 and same
    if remaining:
        finding.remaining_note = f" and still {remaining} subclass loads"
    elif not same:
        finding.remaining_note = " but returned different data"


def _mapped_class(models: dict, name: str) -> type:
    if name in models:
        return models[name]
    for cls in models.values():
        for mapper in sa_inspect(cls).registry.mappers:
            if mapper.class_.__name__ == name:
                return mapper.class_
    raise LookupError(f"no mapped class {name}")


def _subclass(base: type, name: str) -> type:
    return next(mapper.class_ for mapper in sa_inspect(base).self_and_descendants if mapper.class_.__name__ == name)


def _values(params) -> tuple:
    return tuple(params.values()) if isinstance(params, Mapping) else tuple(params or ())


def _verify_fix(finding, tree, context, preparation, before: int, data, timeout) -> None:
    """Run the workload with ``finding``'s fix added to the strategy's plan; record what it changed."""
    root, path = finding.place
    plan = preparation.plan
    for depth, (_, _, kind) in enumerate(tree.fix_steps(finding.place), start=1):
        plan = plan.with_loader(root, path[:depth], kind)
    try:
        outcome = execute_workload(
            context.engine, context.function, plan=plan, options=preparation.options, timeout=timeout,
            models=context.models, track_paths=True,
        )
    except Exception as error:  # noqa: BLE001 - a fix that breaks the workload is reported as such
        finding.before, finding.fixed = before, False
        finding.remaining_note = f" (no: the workload failed with it, {_describe(error)})"
        return
    place = (root, *path)
    remaining = sum(1 for record in outcome.capture.statements
                    if record.loader == "lazy" and record.relationship == finding.relationship and record.path == place)
    same = data is None or outcome.fingerprint.same_data(data)
    finding.before, finding.after, finding.fixed = before, outcome.capture.count, remaining == 0 and same
    if remaining:
        finding.remaining_note = f" and still {remaining} lazy loads here"
    elif not same:
        finding.remaining_note = " but returned different data"


def _checked_ignore(ignore) -> dict[str, str]:
    if ignore is None:
        return {}
    if not isinstance(ignore, Mapping):
        raise InputError(f"ignore must map a finding's key to the reason it is accepted, e.g. "
                        f"{{'Author.books': 'at most 5 authors'}}; got {type(ignore).__name__}")
    for key, reason in ignore.items():
        if not isinstance(key, str) or not _FINDING_KEY.fullmatch(key):
            raise InputError(f"ignore: {key!r} is not a finding's key; use the root entity and the relationships "
                             "walked from it, as the finding's key shows it, e.g. 'Author.books.stores'")
        if not isinstance(reason, str) or not reason.strip():
            raise InputError(f"ignore[{key!r}]: give the reason this finding is accepted, e.g. "
                             f"{{{key!r}: 'admin page, 5 rows at most'}}")
    return dict(ignore)


_FINDING_KEY = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _unused_own_loads(context: StrategyContext, own_paths: dict, before: int, timeout) -> list[NPlusOneFinding]:
    """The workload's own eager loads it never touches, by elimination: each in turn becomes ``raiseload``;
    if the workload still runs, nothing touched what it loads. A path below an unused one is not tried."""
    findings: list[NPlusOneFinding] = []
    for root, paths in own_paths.items():
        own = LoadPlan({root: dict(paths)})
        unused: list[Path] = []
        for path in sorted(paths, key=len):
            if paths[path] not in EAGER_KINDS or any(path[: len(done)] == done for done in unused):
                continue
            try:
                trial = execute_workload(
                    context.engine, context.function, timeout=timeout, models=context.models,
                    fingerprint_data=False, drop_own=(root, path),
                )  # captured: its statements are the "after" of removing the load
            except Exception:  # noqa: BLE001 - raising means the workload touches it
                continue
            unused.append(path)
            chain = own.option_code(root, path, context.models)
            last = chain.rsplit(").", 1)[-1]
            fix = (f"remove {chain} from the query's options" if len(path) == 1
                   else f"remove .{last if last.endswith(')') else last + ')'} from the query's {chain}")
            relationship = f"{_class_name(context.models, root, path[:-1])}.{path[-1]}"
            findings.append(NPlusOneFinding(
                relationship=relationship, path=" → ".join(_steps(context.models, root, path)),
                statements=before - trial.capture.count, execute_s=0.0, fetch_s=0.0, rows=0, example_sql="",
                fix=fix, kind="unused", key=".".join((root, *path)), before=before, after=trial.capture.count,
                fixed=True,
            ))
    return findings


def _class_name(models: dict, root: str, path: Path) -> str:
    current = models[root]
    for key in path:
        current = sa_inspect(current).relationships[key].mapper.class_
    return current.__name__


def _steps(models: dict, root: str, path: Path) -> list[str]:
    return [f"{_class_name(models, root, path[:depth])}.{key}" for depth, key in enumerate(path)]


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
        if path in context.own_paths.get(root, {}):
            continue  # the workload's own loader stands in for it, and is checked as the workload's own
        trial = plan.with_loader(root, path, "raise")
        try:
            execute_workload(
                context.engine, context.function, plan=trial, options=preparation.options, capture=False,
                timeout=timeout, models=context.models, fingerprint_data=False,
            )
        except Exception:  # noqa: BLE001 - raising means the workload needs this load
            continue
        unused.append(plan.option_code(root, path, context.models))
    return unused


def _check_data(results: list[StrategyResult], reruns: dict[int, Callable[[], RunOutcome]]) -> str | None:
    """Compare every strategy's data with the first successful one; flag, never silently compare.

    A strategy whose data differs is looked at twice before anything is claimed: the reference and it each
    run once more. Only a strategy that returns different data on two runs of its own makes the workload
    "not deterministic"; if both repeat themselves, the data really differs.
    """
    ok = [result for result in results if result.ok and result.fingerprint is not None]
    if not ok:
        return None
    reference = ok[0]
    reference.data_matches = True
    differing = []
    for result in ok[1:]:
        if result.fingerprint.same_data(reference.fingerprint):
            result.data_matches = True
            if not result.fingerprint.same_order(reference.fingerprint):
                result.data_note = f"same data as {reference.label}, in a different order"
        else:
            differing.append(result)
    if not differing:
        return reference.label
    unstable = {id(result) for result in [reference, *differing] if not _repeats_itself(result, reruns)}
    for result in differing:
        if id(reference) in unstable:
            result.data_note = (
                f"not compared: {reference.label}, the reference, returned different data on two runs of its own, "
                "so the workload is not deterministic (it reads random numbers, the clock, or rows in no set "
                "order); make it return the same data every time to compare strategies"
            )
        elif id(result) in unstable:
            result.data_note = (
                "not compared: this strategy returned different data on two runs of its own, so the workload is "
                "not deterministic; make it return the same data every time to compare strategies"
            )
        else:
            result.data_matches = False
            result.data_note = (
                f"DIFFERENT DATA from {reference.label} ({result.fingerprint.items} vs "
                f"{reference.fingerprint.items} top-level items), the same on a second run of each: its timings "
                "are not comparable"
            )
    for result in [reference, *differing]:
        if id(result) in unstable:
            result.warnings.append(
                "the data differed between two runs of this strategy: the workload is not deterministic"
            )
    if id(reference) in unstable:
        reference.data_matches = None
    return reference.label


def _repeats_itself(result: StrategyResult, reruns: dict[int, Callable[[], RunOutcome]]) -> bool:
    """Whether one more run of ``result``'s strategy returns the data it returned before. A second run that
    fails proves nothing either way, so the data is taken as it was."""
    try:
        again = reruns[id(result)]()
    except Exception:  # noqa: BLE001 - the first run's data stands
        return True
    result.fingerprint_s += again.fingerprint_s
    return again.fingerprint.same_data(result.fingerprint)
