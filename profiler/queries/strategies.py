"""Loading strategies: the one registry of what each is (read by the dashboard's "learn more"), and the
objects that turn a strategy into loader options for a workload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from profiler.inputs import InputError, refuse, shown

from .plans import LOADER_FUNCTIONS, LoadPlan, leaf_paths


@dataclass(frozen=True)
class StrategyInfo:
    key: str
    title: str
    summary: str  # one line, for tables and legends
    description: str  # the "learn more" text (Markdown)
    django: str  # the closest Django idiom, for people coming from there
    docs_url: str


_DOCS = "https://docs.sqlalchemy.org/en/20/orm/queryguide/relationships.html"

STRATEGY_INFO: dict[str, StrategyInfo] = {
    info.key: info
    for info in (
        StrategyInfo(
            "lazy",
            "Lazy (no optimization)",
            "one SELECT per parent object the first time a relationship is touched",
            "Nothing is loaded until the code touches a relationship; then SQLAlchemy emits one SELECT for that "
            "one object. Walking N authors and their books costs 1 + N statements — the **N+1 problem**. "
            "Many-to-one relationships whose target is already in the session's identity map cost nothing. "
            "This is the model's default (`lazy='select'`), so it is the baseline every other strategy is "
            "compared with.",
            "plain attribute access (no select_related / prefetch_related)",
            f"{_DOCS}#lazy-loading",
        ),
        StrategyInfo(
            "joined",
            "Joined eager loading",
            "one SELECT with LEFT OUTER JOINs to the related tables",
            "`joinedload()` adds LEFT OUTER JOINs to the main query, so parents and children arrive in one "
            "result. Ideal for many-to-one; for collections the parent's columns repeat once per child row and "
            "nested collections multiply (a cartesian product), so rows fetched can grow far beyond objects "
            "loaded.",
            "select_related()",
            f"{_DOCS}#joined-eager-loading",
        ),
        StrategyInfo(
            "selectin",
            "Select-IN eager loading",
            "one extra SELECT per relationship level, parents' keys in an IN list",
            "`selectinload()` runs the main query, then one SELECT per relationship level with the parents' "
            "primary keys in an `IN (...)` list (batches of 500 keys). No duplicated rows, a predictable number "
            "of statements: the usual best choice for collections.",
            "prefetch_related()",
            f"{_DOCS}#select-in-eager-loading",
        ),
        StrategyInfo(
            "subquery",
            "Subquery eager loading",
            "one extra SELECT per relationship level, re-running the main query as a subquery",
            "`subqueryload()` loads each relationship level with one SELECT that joins the children to the "
            "original query wrapped as a subquery. Statement count is like select-in, but the database re-runs "
            "the main query for every level; SQLAlchemy documents it as legacy, superseded by select-in.",
            "no direct equivalent (closest: prefetch_related with a Prefetch queryset)",
            f"{_DOCS}#subquery-eager-loading",
        ),
        StrategyInfo(
            "custom",
            "Custom (yours)",
            "your own loader options, loader plan, or query function",
            "Your own optimization: loader options you pass (`options=[...]`), a loader per relationship path "
            "(`loaders={'books': 'selectin', 'books.publisher': 'joined'}`), or a whole query function that "
            "replaces the workload. Its data is checked against the other strategies', so an optimization that "
            "changes the result (a filter, a missing row) is flagged.",
            "your own select_related / prefetch_related / Prefetch combination",
            f"{_DOCS}#relationship-loader-api",
        ),
        StrategyInfo(
            "auto",
            "Auto (derived plan)",
            "a plan found by turning lazy loads into errors and fixing them one by one",
            "The profiler runs the workload with `raiseload('*')` so that every lazy load raises, adds the right "
            "option for the relationship that raised (select-in for collections, joined for many-to-one), and "
            "repeats until the workload runs clean. The resulting plan is shown as code you can paste.",
            "what django-auto-prefetch does automatically",
            f"{_DOCS}#preventing-unwanted-lazy-loads-using-raiseload",
        ),
    )
}

DEFAULT_STRATEGIES = ("lazy", "joined", "selectin", "subquery", "auto")


@dataclass
class Preparation:
    """What a strategy does to a run: a plan, raw loader options, or a function replacing the workload."""

    plan: LoadPlan = field(default_factory=LoadPlan)
    options: Sequence[Any] = ()
    function: Callable | None = None
    code: str | None = None  # what to paste to reproduce it
    rounds: int | None = None  # auto: how many runs it took to find the plan
    notes: list[str] = field(default_factory=list)  # shown with the result (e.g. why auto's plan is partial)


class Strategy:
    """Base: a key into STRATEGY_INFO and a label (two custom strategies may share a key)."""

    key = "lazy"

    def __init__(self, label: str | None = None):
        self.label = label or self.key

    @property
    def info(self) -> StrategyInfo:
        return STRATEGY_INFO[self.key]

    def prepare(self, context) -> Preparation:
        return Preparation(code=LoadPlan().to_code())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label!r})"


class LazyStrategy(Strategy):
    key = "lazy"


class UniformStrategy(Strategy):
    """One loader kind on every relationship path the workload walks (found by the lazy discovery run)."""

    def __init__(self, kind: str, label: str | None = None):
        self.key = kind
        super().__init__(label)

    def prepare(self, context) -> Preparation:
        plan = LoadPlan.uniform(context.tree.paths, self.key)
        code = plan.without(context.own_paths).to_code(context.models)
        own = LoadPlan({root: dict(paths) for root, paths in context.own_paths.items()})
        kept = [own.option_code(root, path, context.models) for root, paths in own.loaders.items()
                for path in leaf_paths(paths)]
        if kept:
            code += "\n# with the workload's own options, kept as they are: " + ", ".join(kept)
        return Preparation(plan=plan, code=code)


class CustomStrategy(Strategy):
    """The user's own optimization: ``loaders`` (path -> kind, from ``root``), ``options`` (loader options
    added to every top-level query of their root entity) or ``query`` (a function ``query(session)`` run
    instead of the workload)."""

    key = "custom"

    def __init__(
        self,
        label: str = "custom",
        *,
        loaders: Mapping[str, str] | None = None,
        options: Sequence[Any] = (),
        query: Callable | None = None,
        root: type | None = None,
    ):
        if not isinstance(label, str) or not 1 <= len(label.strip()) <= 80:
            raise refuse("label", "a name of 1 to 80 characters", label)
        super().__init__(label)
        if loaders is not None:
            if not isinstance(loaders, Mapping) or not all(isinstance(path, str) and path for path in loaders):
                raise refuse("loaders", "a dict of relationship path -> loader kind, e.g. {'books': 'selectin', "
                             "'books.stores': 'joined'}", loaders)
            for path, kind in loaders.items():
                if kind not in LOADER_FUNCTIONS:
                    raise InputError(f"loaders[{path!r}] must be one of {', '.join(sorted(LOADER_FUNCTIONS))}, "
                                     f"got {shown(kind)}", "loaders")
        if isinstance(options, (str, bytes)) or not isinstance(options, (Sequence, tuple, list)):
            raise refuse("options", "a list of loader options, e.g. [selectinload(Author.books)]", options)
        if query is not None and not callable(query):
            raise refuse("query", "a function query(session) run instead of the workload, or None", query)
        if root is not None and not isinstance(root, type):
            raise refuse("root", "a mapped class, e.g. Author, or None for the workload's first entity", root)
        if loaders is None and not options and query is None:
            raise InputError("a custom strategy needs loaders=, options= or query=", "loaders")
        self.loaders, self.options, self.query, self.root = loaders, tuple(options), query, root

    def prepare(self, context) -> Preparation:
        plan = LoadPlan()
        if self.loaders is not None:
            root = self.root or context.first_root()
            if root is None:
                raise ValueError("custom loaders need root= (the workload ran no ORM query to take it from)")
            plan = LoadPlan.from_spec(root, self.loaders)
        code = plan.to_code(context.models) if plan else None
        if self.query is not None:
            code = f"# your query function {getattr(self.query, '__name__', 'query')}() replaces the workload"
        elif self.options and not plan:
            code = "select(...).options(" + ", ".join(repr(option) for option in self.options) + ")"
        return Preparation(plan=plan, options=self.options, function=self.query, code=code)


class AutoStrategy(Strategy):
    key = "auto"

    def __init__(self, label: str | None = None, max_rounds: int = 12):
        super().__init__(label)
        self.max_rounds = max_rounds

    def prepare(self, context) -> Preparation:
        from .analysis import find_get_loops
        from .auto import derive_plan

        found = derive_plan(context, self.max_rounds)
        code = found.plan.to_code(context.models)
        # a loop of session.get() is not something loader options change: its fix is code the user writes
        for loop in find_get_loops(context.statements):
            code += (f"\n\n# {loop.relationship} is loaded one primary key at a time ({loop.statements} statements): "
                     f"load them in one statement before the loop\n{loop.fix}")
        return Preparation(plan=found.plan, code=code, rounds=found.rounds, notes=found.notes)


def strategy_from(spec: str | Strategy) -> Strategy:
    """A Strategy from its key ("lazy", "joined", "selectin", "subquery", "auto") or as given."""
    if isinstance(spec, Strategy):
        return spec
    if spec == "lazy" or spec == "none":
        return LazyStrategy()
    if spec in {"joined", "selectin", "subquery"}:
        return UniformStrategy(spec)
    if spec == "auto":
        return AutoStrategy()
    if spec == "custom":
        raise ValueError(
            "a custom strategy needs your options: pass CustomStrategy(loaders=..., options=..., query=...)"
        )
    raise ValueError(f"unknown strategy {spec!r}; use one of {sorted(STRATEGY_INFO)} or a Strategy object")
