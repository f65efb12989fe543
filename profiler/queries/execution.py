"""One isolated run of a workload: its own connection and transaction (always rolled back, so a workload that
writes changes nothing: on SQLite DDL included, and ending the transaction is refused, by SQLite's authorizer
or by PostgreSQL itself, see ``guard``), the
strategy's loader options injected into its top-level queries, optional capture, and a deadline that is kept
even by a workload blocked in a C call (it is abandoned, its transaction ended)."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Callable, Sequence

from sqlalchemy import Engine, event, inspect
from sqlalchemy.orm import Load, RelationshipProperty, Session, UserDefinedOption

from .analysis import RelationshipTree
from .capture import QueryCapture
from .fingerprint import Fingerprint, fingerprint
from .guard import ABANDON_GRACE_S, Deadline, PostgresGuard, SqliteSandbox, TransactionGuard, WorkloadTimeout
from .plans import LoadPlan


@dataclass
class RunOutcome:
    """``wall_s`` is the workload's own time; fingerprinting its data comes after, in ``fingerprint_s``
    (``fingerprint`` is None when the run was not asked to fingerprint)."""

    wall_s: float
    fingerprint: Fingerprint | None
    capture: QueryCapture | None
    fingerprint_s: float = 0.0


class _OptionInjector:
    """A ``do_orm_execute`` hook adding the plan's options (and the user's raw options) to top-level ORM
    SELECTs, the way SQLAlchemy documents global query options. It also learns the mapped classes the
    workload queries, which plans and code need by name. Results of queries with joined eager loads are
    uniqued, as the legacy Query did and as SQLAlchemy 2 requires; a workload whose query returns duplicate
    parents on purpose would then return different data, which the fingerprint check reports.

    A query that already carries loader options of its own keeps them: the plan's loaders merge in around
    them (see ``LoadPlan.options_for``), since two loaders for one path make SQLAlchemy refuse the query."""

    def __init__(self, plan: LoadPlan, options: Sequence[Any], raise_elsewhere: bool, models: dict[str, type],
                 own_paths: dict[str, dict] | None = None, drop_own: tuple[str, tuple] | None = None,
                 track_paths: bool = False):
        self.plan, self.options, self.raise_elsewhere, self.models = plan, options, raise_elsewhere, models
        self.own_paths, self.drop_own = own_paths, drop_own
        self.tracking = [_TRACK_PATHS] if track_paths else []
        self._per_root: dict[tuple, tuple] = {}

    def __call__(self, state):
        if not state.is_select or state.is_column_load or state.is_relationship_load:
            return
        descriptions = state.statement.column_descriptions
        if not descriptions:
            return
        root, expr = descriptions[0].get("entity"), descriptions[0].get("expr")
        if root is None or expr is not root:
            return  # a column or expression query: loader options do not apply
        entity = None
        aliased = inspect(root, raiseerr=False)
        if getattr(aliased, "is_aliased_class", False):
            # aliased(User), with_polymorphic(Media, ...): the options start from the alias, the plan is the class's
            entity, root = root, aliased.mapper.class_
        self.models.setdefault(root.__name__, root)
        own = _own_loader_paths(state.statement, root)
        if own and self.own_paths is not None:
            self.own_paths.setdefault(root.__name__, {}).update(own)
        cached = self._per_root.get((root, own, entity))
        if cached is None:
            options = self.tracking + self.plan.options_for(root, raise_elsewhere=self.raise_elsewhere,
                                                            own=frozenset(path for path, _ in own), entity=entity)
            user_options = [option for option in self.options if _applies_to(option, root)]
            unique = self.plan.needs_unique(root) or bool(user_options)
            cached = self._per_root[(root, own, entity)] = (options + user_options, unique)
        options, unique = cached
        if (self.drop_own is not None and entity is None and self.drop_own[0] == root.__name__
                and self.drop_own[1] in dict(own)):
            state.statement = _raise_instead_of_own(state.statement, root, self.drop_own[1])
        if options:
            state.statement = state.statement.options(*options)
        if unique:
            # the remaining do_orm_execute hooks (the capture) still run inside invoke_statement
            return state.invoke_statement().unique()
        return None


class _TrackPaths(UserDefinedOption):
    """An option that does nothing but propagate to lazy loads. SQLAlchemy then loads each lazily loaded object
    along the whole path from the query's root entity ("Author" → books → publisher), and reports that path
    with every lazy load (``ORMExecuteState.loader_strategy_path``): the same relationship reached from two
    roots is two findings, each with a fix for its own query. Without any propagating option it reports only
    the last step (a lazily loaded Book knows nothing of the Author it came from)."""

    propagate_to_loaders = True


_TRACK_PATHS = _TrackPaths()


# SQLAlchemy's loader strategy names (relationship(lazy=...)) -> the plans' loader kinds
_OWN_KINDS = {"joined": "joined", "selectin": "selectin", "subquery": "subquery", "immediate": "immediate",
              "select": "lazy", "raise": "raise", "raise_on_sql": "raise"}


def _own_loader_paths(statement, root: type) -> frozenset:
    """(path, kind) of the relationship paths from ``root`` that the statement's own options give a loader
    (``selectinload``, ``joinedload``, ...; not ``defaultload``, which only leads further down).

    SQLAlchemy has no public accessor for a statement's options: they are read from ``_with_options`` and
    each ``Load``'s ``context`` elements (their ``path`` and ``strategy``), as held since SQLAlchemy 1.4 and
    checked on 2.1. Should that change, nothing is found and the plan applies whole, as before merging."""
    options = getattr(statement, "_with_options", ())
    if not options:
        return frozenset()
    mapper = inspect(root)
    paths = {}
    for option in options:
        for element in getattr(option, "context", None) or ():
            strategy = getattr(element, "strategy", None) or ()
            lazy = next((pair[1] for pair in strategy if isinstance(pair, tuple) and pair[:1] == ("lazy",)), None)
            if lazy is None:
                continue
            natural = getattr(getattr(element, "path", None), "natural_path", ())
            if not natural or not hasattr(natural[0], "isa") or not mapper.isa(natural[0]):
                continue
            steps = natural[1::2]
            if steps and all(isinstance(step, RelationshipProperty) for step in steps):
                paths[tuple(step.key for step in steps)] = _OWN_KINDS.get(lazy, "default")
    return frozenset(paths.items())


def _raise_instead_of_own(statement, root: type, path: tuple):
    """``statement`` with its own loader for ``path`` replaced by ``raiseload``: if the workload still runs,
    it never touches what that loader loads. Its other options stay, chained ones included. Works on the
    same private structures as ``_own_loader_paths``."""
    kept = []
    for option in statement._with_options:
        context = getattr(option, "context", None)
        if not context:
            kept.append(option)
            continue
        elements = tuple(element for element in context if _element_path(element) != path)
        if len(elements) == len(context):
            kept.append(option)
        elif elements:
            trimmed = option._generate()
            trimmed.context = elements
            kept.append(trimmed)
    replaced = statement._generate()
    replaced._with_options = tuple(kept)
    attributes = []
    current = root
    for key in path:
        attributes.append(getattr(current, key))
        current = inspect(current).relationships[key].mapper.class_
    option = Load(root)
    for attribute in attributes[:-1]:
        option = option.defaultload(attribute)
    return replaced.options(option.raiseload(attributes[-1]))


def _element_path(element) -> tuple | None:
    if not getattr(element, "strategy", None):
        return None
    steps = getattr(getattr(element, "path", None), "natural_path", ())[1::2]
    return tuple(getattr(step, "key", None) for step in steps)


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
    fingerprint_data: bool = True,
    own_paths: dict[str, dict] | None = None,
    drop_own: tuple[str, tuple] | None = None,
    track_paths: bool = False,
) -> RunOutcome:
    """Run ``function(session)`` once in a transaction that is rolled back; raise what it raises, or
    ``WorkloadTimeout`` past ``timeout`` seconds. ``session_setup(session)`` runs after the strategy's
    options hook is registered and before the capture's, so its own ``do_orm_execute`` hooks see the final
    statement (e.g. the query cache in ``profiler.cache``). ``own_paths`` (root name -> {path: kind}) learns
    the loader options the workload's own queries carry; ``drop_own`` (root name, path) replaces one of them
    with ``raiseload`` (the unused-eager-load check). ``track_paths`` makes every load report its whole path
    from the query's root entity (see ``_TrackPaths``); it costs SQLAlchemy about 6% more CPU on a lazy N+1
    walk (authors → books → publisher, stores at 200 authors: 401 → 424 ms of thread CPU time, median of 12
    runs, measured on a 2-core machine), so timed runs go without it.

    The returned data is fingerprinted (``fingerprint_data``) after the deadline is disarmed and the capture
    detached: it is the profiler's work, not the workload's, so it counts neither against ``timeout`` nor in
    ``wall_s``. It runs before the session closes, while the ORM objects still hold what they loaded."""
    models = models if models is not None else {}
    injector = _OptionInjector(plan or LoadPlan(), options, raise_elsewhere, models, own_paths, drop_own, track_paths)
    with engine.connect() as connection:
        transaction = connection.begin()
        dbapi_connection = connection.connection.dbapi_connection
        sandbox = SqliteSandbox(dbapi_connection) if isinstance(dbapi_connection, sqlite3.Connection) else None
        server_guard = PostgresGuard(dbapi_connection) if engine.dialect.driver in _GUARDED_DRIVERS else None
        session = Session(bind=connection, join_transaction_mode="rollback_only")
        capturer = QueryCapture(source_lines=source_lines, on_statement=on_statement) if capture else None
        event.listen(session, "do_orm_execute", injector)
        if session_setup is not None:
            session_setup(session)
        run = _BoundedRun(lambda: _materialized(function(session)), timeout, dbapi_connection)
        try:
            if sandbox is not None:
                sandbox.enter()
            if server_guard is not None:
                server_guard.enter()  # before the capture is attached: its statements are not the workload's
            if capturer is not None:
                capturer.attach(connection, session)
            try:
                with TransactionGuard(connection):
                    data, wall_s = run.result()
            except WorkloadTimeout:
                raise
            except BaseException as error:
                if run.fired:
                    raise WorkloadTimeout() from None
                if isinstance(error, PermissionError):
                    raise
                refusal = server_guard.refusal(error) if server_guard is not None else None
                if refusal is not None:
                    raise PermissionError(refusal) from error
                if sandbox is not None and sandbox.refused:
                    raise PermissionError(
                        f"the workload tried to {sandbox.refused[0]}, which SQLite was told to refuse: every run "
                        "is one transaction that the profiler rolls back, so that nothing it writes stays"
                    ) from error
                raise
            # a workload that swallowed PostgreSQL's refusal returns as if nothing happened
            refusal = server_guard.refusal(None) if server_guard is not None else None
            if refusal is not None:
                raise PermissionError(refusal)
            if capturer is not None:
                capturer.detach()  # again in `finally`: a second detach changes nothing
            print_, fingerprint_s = None, 0.0
            if fingerprint_data:
                started = perf_counter()
                print_ = fingerprint(data)
                fingerprint_s = perf_counter() - started
        finally:
            if capturer is not None:
                capturer.detach()
            if sandbox is not None:
                sandbox.leave()
            if run.abandoned and sandbox is None:
                connection.invalidate()  # closed: the server ends its transaction and releases its locks
                transaction.rollback()  # SQLAlchemy's side of it: nothing is sent on an invalidated connection
            else:
                # SQLite: the rollback may come from this thread (closing would lose an in-memory database)
                session.close()
                if transaction.is_active:
                    transaction.rollback()
                # and on the driver itself: after a refused commit SQLAlchemy may count the transaction as over
                # (and its pool then skips the reset on return), while the database still holds it
                _rollback_driver(dbapi_connection)
                if sandbox is not None:
                    sandbox.restore()
                if server_guard is not None and not server_guard.leave():
                    connection.invalidate()  # a session left read-only must not go back to the pool
    return RunOutcome(wall_s, print_, capturer, fingerprint_s)


# The drivers whose connections PostgresGuard knows how to drive (autocommit, cursor, SQLSTATE on errors).
_GUARDED_DRIVERS = frozenset({"psycopg", "psycopg2"})


def _rollback_driver(dbapi_connection) -> None:
    try:
        dbapi_connection.rollback()  # sqlite3 and psycopg do nothing when no transaction is open
    except Exception:  # noqa: BLE001 - a connection already closed has no transaction left
        pass


class _BoundedRun:
    """``call()`` within ``timeout`` seconds: in a thread of its own when the connection may be used from another
    thread, so that a workload blocked in a C call is abandoned on time (see ``guard``); in this thread
    otherwise (a sqlite3 connection made with check_same_thread, e.g. SQLAlchemy's ``sqlite://`` memory pool)."""

    def __init__(self, call: Callable[[], Any], timeout: float | None, dbapi_connection):
        self.call, self.timeout, self.dbapi_connection = call, timeout, dbapi_connection
        self.fired = False
        self.abandoned = False

    def _timed(self) -> tuple[Any, float]:
        deadline = Deadline(self.timeout, self.dbapi_connection)
        try:
            with deadline:
                started = perf_counter()
                data = self.call()
                return data, perf_counter() - started
        finally:
            self.fired = self.fired or deadline.fired

    def _usable_from_another_thread(self) -> bool:
        if not isinstance(self.dbapi_connection, sqlite3.Connection):
            return True
        try:
            self.dbapi_connection.cursor().close()  # sqlite3 checks the thread here (ProgrammingError)
        except sqlite3.ProgrammingError:
            return False
        return True

    def result(self) -> tuple[Any, float]:
        if self.timeout is None:
            return self._timed()
        outcome: dict[str, Any] = {}
        inline = threading.Event()

        def work():
            if not self._usable_from_another_thread():
                inline.set()
                return
            try:
                outcome["value"] = self._timed()
            except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
                outcome["error"] = error

        worker = threading.Thread(target=work, name="workload", daemon=True)
        worker.start()
        worker.join(self.timeout + ABANDON_GRACE_S)
        if inline.is_set():
            return self._timed()
        if worker.is_alive():
            # Blocked where neither the cancel nor the exception reaches it: its transaction is ended from here
            # (see execute_workload) and the thread ends when its C call returns, at the exception waiting for it.
            self.fired = self.abandoned = True
            raise WorkloadTimeout()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]


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
    statements: list = field(default_factory=list)  # the discovery run's StatementRecords
    own_paths: dict[str, dict] = field(default_factory=dict)  # root -> {path: kind} of the workload's own options

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
            fingerprint_data=False,
        )
