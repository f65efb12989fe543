"""Query-optimization profiler: one workload, several loading strategies, compared truthfully.

From a notebook cell::

    from profiler.queries import profile, AUTHORS_BOOKS
    comparison = profile(AUTHORS_BOOKS, engine=engine)
    comparison.summary_frame(); comparison.figure()

May import SQLAlchemy, pandas, plotly and :mod:`profiler.models` (the sample workloads' schema) and
:mod:`profiler.inputs` (the checks of arguments).
"""

from .analysis import NPlusOneFinding, StatementGroup, collapse_in_lists, find_nplusone
from .budget import TooManyQueries, assert_max_queries
from .capture import QueryCapture, StatementRecord
from .explain import ExplainPlan, PlanNode, explain
from .fingerprint import Fingerprint, fingerprint
from .guard import WorkloadTimeout
from .plans import LoadPlan, UnknownRelationshipError
from .results import Comparison, StrategyResult
from .runner import ProgressEvent, profile
from .strategies import (
    DEFAULT_STRATEGIES,
    STRATEGY_INFO,
    AutoStrategy,
    CustomStrategy,
    LazyStrategy,
    Strategy,
    UniformStrategy,
)
from .workloads import AUTHORS_BOOKS, BUILTIN_WORKLOADS, Workload, default_engine

__all__ = [
    "AUTHORS_BOOKS", "BUILTIN_WORKLOADS", "DEFAULT_STRATEGIES", "STRATEGY_INFO", "AutoStrategy", "Comparison",
    "CustomStrategy", "ExplainPlan", "Fingerprint", "LazyStrategy", "LoadPlan", "NPlusOneFinding", "PlanNode",
    "ProgressEvent", "QueryCapture", "StatementGroup", "StatementRecord", "Strategy", "StrategyResult",
    "TooManyQueries", "UniformStrategy", "UnknownRelationshipError", "Workload", "WorkloadTimeout",
    "assert_max_queries", "collapse_in_lists", "comparison_figure", "default_engine", "explain", "find_nplusone",
    "fingerprint", "profile",
]


def comparison_figure(comparison: Comparison):
    """The comparison as a plotly figure (:mod:`profiler.queries.figures`, imported here on first use: plotly is
    not needed to run or open a comparison)."""
    from .figures import comparison_figure as build

    return build(comparison)
