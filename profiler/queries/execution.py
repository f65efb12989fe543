"""One isolated run of a workload: its own connection and transaction (always rolled back, so a workload that
writes changes nothing), the strategy's loader options injected into its top-level queries, optional
capture, and a deadline."""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Callable, Sequence

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from .analysis import RelationshipTree
from .capture import QueryCapture
from .fingerprint import Fingerprint, fingerprint
from .guard import Deadline, WorkloadTimeout
from .plans import LoadPlan


@dataclass
class RunOutcome:
    wall_s: float
    fingerprint: Fingerprint
    capture: QueryCapture | None


class _OptionInjector:
    """A ``do_orm_execute`` hook adding the plan's options (and the user's raw options) to top-level ORM
    SELECTs, the way SQLAlchemy documents global query options. It also learns the mapped classes the
    workload queries, which plans and code need by name. Results of queries with joined eager loads are
    uniqued, as the legacy Query did and as SQLAlchemy 2 requires; a workload whose query returns duplicate
    parents on purpose would then return different data, which the fingerprint check reports."""

    def __init__(self, plan: LoadPlan, options: Sequence[Any], raise_elsewhere: bool, models: dict[str, type]):
        self.plan, self.options, self.raise_elsewhere, self.models = plan, options, raise_elsewhere, models
        self._per_root: dict[type, list] = {}

    def __call__(self, state):
        if not state.is_select or state.is_column_load or state.is_relationship_load:
            return
        descriptions = state.statement.column_descriptions
        if not descriptions:
            return
        root = descriptions[0].get("entity")
        if root is None or descriptions[0].get("expr") is not root:
            return  # a column or expression query: loader options do not apply
        self.models.setdefault(root.__name__, root)
        cached = self._per_root.get(root)
        if cached is None:
            options = self.plan.options_for(root, raise_elsewhere=self.raise_elsewhere)
            user_options = [option for option in self.options if _applies_to(option, root)]
            unique = self.plan.needs_unique(root) or bool(user_options)
            cached = self._per_root[root] = (options + user_options, unique)
        options, unique = cached
        if options:
            state.statement = state.statement.options(*options)
        if unique:
            # the remaining do_orm_execute hooks (the capture) still run inside invoke_statement
            return state.invoke_statement().unique()
        return None


def _applies_to(option, root: type) -> bool:
    path = getattr(option, "path", None)
    try:
        first = path[0] if path is not None and len(path) else None
    except (TypeError, IndexError):
        first = None
    mapper = getattr(first, "mapper", first)
    isa = getattr(mapper, "isa", None)
    return True if isa is None else bool(isa(root.__mapper__))


def execute_workload(
    engine: Engine,
    function: Callable[[Session], Any],
    *,
    plan: LoadPlan | None = None,
    options: Sequence[Any] = (),
    raise_elsewhere: bool = False,
    capture: bool = True,
    source_lines: bool = False,
    timeout: float | None = None,
    on_statement: Callable[[int], None] | None = None,
    models: dict[str, type] | None = None,
    session_setup: Callable[[Session], None] | None = None,
) -> RunOutcome:
    """Run ``function(session)`` once in a transaction that is rolled back; raise what it raises, or
    ``WorkloadTimeout`` past ``timeout`` seconds. ``session_setup(session)`` runs after the strategy's
    options hook is registered and before the capture's, so its own ``do_orm_execute`` hooks see the final
    statement (e.g. the query cache in ``profiler.cache``)."""
    models = models if models is not None else {}
    injector = _OptionInjector(plan or LoadPlan(), options, raise_elsewhere, models)
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="rollback_only")
        capturer = QueryCapture(source_lines=source_lines, on_statement=on_statement) if capture else None
        event.listen(session, "do_orm_execute", injector)
        if session_setup is not None:
            session_setup(session)
        deadline = Deadline(timeout, connection.connection.dbapi_connection)
        try:
            if capturer is not None:
                capturer.attach(connection, session)
            try:
                with deadline:
                    started = perf_counter()
                    data = _materialized(function(session))
                    wall_s = perf_counter() - started
                    print_ = fingerprint(data)
            except WorkloadTimeout:
                raise
            except BaseException:
                if deadline.fired:
                    raise WorkloadTimeout() from None
                raise
        finally:
            if capturer is not None:
                capturer.detach()
            session.close()
            if transaction.is_active:
                transaction.rollback()
    return RunOutcome(wall_s, print_, capturer)


def _materialized(data):
    """A workload that returns a Result or a generator has not fetched its rows yet: fetch them now, inside
    the timed run, so the rows count and the fingerprint sees data rather than a cursor."""
    if isinstance(data, (list, tuple, dict, set, frozenset, str, bytes)) or not hasattr(data, "__iter__"):
        return data
    if hasattr(data, "_sa_instance_state"):
        return data
    return list(data)


@dataclass
class StrategyContext:
    """What strategies may use while preparing: the walked relationship tree, the models by name, and a way
    to run the workload (the auto strategy runs it repeatedly)."""

    engine: Engine
    function: Callable[[Session], Any]
    tree: RelationshipTree
    models: dict[str, type] = field(default_factory=dict)
    timeout: float | None = None

    def first_root(self) -> type | None:
        for root in self.tree.paths or self.models:
            if root in self.models:
                return self.models[root]
        return next(iter(self.models.values()), None)

    def run(self, plan: LoadPlan, *, raise_elsewhere: bool = False) -> RunOutcome:
        return execute_workload(
            self.engine,
            self.function,
            plan=plan,
            raise_elsewhere=raise_elsewhere,
            capture=False,
            timeout=self.timeout,
            models=self.models,
        )
