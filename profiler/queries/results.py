"""Results as plain data: dataclasses that become pandas DataFrames and JSON-able dicts."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .analysis import NPlusOneFinding, StatementGroup, collapse_in_lists
from .capture import StatementRecord
from .explain import ExplainPlan
from .fingerprint import Fingerprint
from .strategies import STRATEGY_INFO

if TYPE_CHECKING:  # imported where a frame is made: the dashboards open without it (dashboards/common.py)
    import pandas as pd


@dataclass
class RunMeasurement:
    """One captured run. ``python_s`` is what is left of the wall time after the database and the fetching."""

    wall_s: float
    execute_s: float
    fetch_s: float
    statements: int
    rows: int

    @property
    def python_s(self) -> float:
        return max(0.0, self.wall_s - self.execute_s - self.fetch_s)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _spread(values: list[float]) -> float | None:
    return max(values) - min(values) if len(values) > 1 else None


@dataclass
class Overhead:
    """The profiler's own cost on this workload: captured runs against the same runs with capture off,
    interleaved. Both are the fastest of their runs: other processes only ever add time, so the minimum
    is the steadiest estimate of each on a shared machine."""

    captured_wall_s: float
    uncaptured_wall_s: float
    statements: int

    @property
    def ratio(self) -> float:
        return self.captured_wall_s / self.uncaptured_wall_s if self.uncaptured_wall_s else math.nan

    @property
    def per_statement_us(self) -> float | None:
        """The capture's cost per statement; None when the captured runs were not slower at all.

        Capturing only adds work, so a captured run that was faster than an uncaptured one measured the
        machine's noise, not a saving: dividing that by one statement showed "−1,248 µs/stmt" for a joined load.
        """
        if not self.statements or self.captured_wall_s <= self.uncaptured_wall_s:
            return None
        return (self.captured_wall_s - self.uncaptured_wall_s) / self.statements * 1e6

    def measurable(self, noise_s: float) -> bool:
        """Whether the captured runs were slower by more than ``noise_s``, the runs' own run-to-run noise."""
        return self.captured_wall_s - self.uncaptured_wall_s > noise_s


@dataclass
class StrategyResult:
    """One strategy's outcome. ``cold`` is its first run in this process (its statements not yet in
    SQLAlchemy's compiled-statement cache, the database's caches as the previous strategy left them);
    ``warm`` are the repeats after it. ``statements`` and the analyses are of the last warm run."""

    key: str
    label: str
    status: str = "ok"  # "ok", "error" or "timeout"
    error: str | None = None
    cold: RunMeasurement | None = None
    warm: list[RunMeasurement] = field(default_factory=list)
    overhead: Overhead | None = None
    statements: list[StatementRecord] = field(default_factory=list, repr=False)  # of the last captured run
    nplusone: list[NPlusOneFinding] = field(default_factory=list)
    duplicates: list[StatementGroup] = field(default_factory=list, repr=False)
    similar: list[StatementGroup] = field(default_factory=list, repr=False)
    unused_eager_loads: list[str] = field(default_factory=list)
    explains: list[ExplainPlan] = field(default_factory=list, repr=False)
    code: str | None = None
    plan_rounds: int | None = None
    fingerprint: Fingerprint | None = None  # of the data of the last warm run
    fingerprint_s: float = 0.0  # spent fingerprinting this strategy's data, outside its runs' times
    data_matches: bool | None = None  # against the reference strategy; None when not comparable
    data_note: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def _warm(self, attribute: str) -> float | None:
        return _median([getattr(run, attribute) for run in self.warm])

    def _overhead_us(self) -> float | None:
        """The profiler's cost per statement, or None when it is below the noise of these runs.

        The overhead is the fastest captured run minus the fastest uncaptured one, divided by the statements. On
        the authors → books workload at 50 authors (2-core machine, 3 repeats, two rounds) the lazy strategy's
        306 statements gave a steady 6–9 µs each, while strategies of 1–4 statements swung from −336 to +2,170 µs:
        a difference of a few hundred µs in 6 ms runs, inside the spread of their own captured runs (0.3 to 65 ms
        while other tests ran). A difference within that spread (the wall spread the table shows) is reported as
        below noise rather than as a number."""
        if self.overhead is None or self.overhead.per_statement_us is None:
            return None
        if not self.overhead.measurable(_spread([run.wall_s for run in self.warm]) or 0.0):
            return None
        return round(self.overhead.per_statement_us, 2)

    def summary(self) -> dict[str, Any]:
        """One row of the comparison table (times in milliseconds)."""
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value * 1000, 3)

        walls = [run.wall_s for run in self.warm]
        return {
            "strategy": self.label,
            "kind": self.key,
            "status": self.status,
            "statements": self.warm[-1].statements if self.warm else None,
            "rows_fetched": self.warm[-1].rows if self.warm else None,
            "wall_ms": ms(_median(walls)),
            "wall_spread_ms": ms(_spread(walls)),
            "db_ms": ms(self._warm("execute_s")),
            "fetch_ms": ms(self._warm("fetch_s")),
            "python_ms": ms(self._warm("python_s")),
            "cold_wall_ms": ms(self.cold.wall_s if self.cold else None),
            "repeats": len(self.warm),
            "nplusone": sum(1 for finding in self.nplusone if not finding.ignored),
            "ignored": sum(1 for finding in self.nplusone if finding.ignored),
            "duplicate_groups": len(self.duplicates),
            "similar_groups": sum(1 for group in self.similar if group.count > 1),
            "unused_eager_loads": len(self.unused_eager_loads),
            "data_matches": self.data_matches,
            "fingerprint": self.fingerprint.unordered if self.fingerprint else None,
            "fingerprint_ms": ms(self.fingerprint_s) if self.fingerprint else None,
            "overhead_ratio": round(self.overhead.ratio, 3) if self.overhead else None,
            "overhead_us_per_statement": self._overhead_us(),
            "overhead_below_noise": self.overhead is not None and self._overhead_us() is None,
            "error": self.error,
        }


@dataclass
class Comparison:
    """What ``profile`` returns: one StrategyResult per strategy, compared against a reference."""

    workload: str
    dialect: str
    results: list[StrategyResult]
    reference: str | None  # label of the strategy whose data the others are checked against
    notes: list[str] = field(default_factory=list)  # about the whole run: e.g. ignore entries matching nothing

    def __getitem__(self, label: str) -> StrategyResult:
        for result in self.results:
            if result.label == label:
                return result
        raise KeyError(f"no strategy {label!r}; have {[result.label for result in self.results]}")

    @property
    def mismatches(self) -> list[str]:
        return [result.label for result in self.results if result.data_matches is False]

    @property
    def errors(self) -> dict[str, str]:
        return {result.label: result.error for result in self.results if not result.ok}

    def summary_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([result.summary() for result in self.results]).set_index("strategy")

    def statements_frame(self, label: str | None = None) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for result in self.results:
            if label is not None and result.label != label:
                continue
            for record in result.statements:
                rows.append(
                    {
                        "strategy": result.label,
                        "index": record.index,
                        "loader": record.loader,
                        "relationship": record.relationship,
                        "sql": collapse_in_lists(record.sql),
                        "execute_ms": record.execute_s * 1000,
                        "fetch_ms": record.fetch_s * 1000,
                        "rows": record.rows,
                        "source": record.source,
                        "error": record.error,
                    }
                )
        return pd.DataFrame(rows)

    def findings_frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = [
            {"strategy": result.label, **dataclasses.asdict(finding), "message": finding.message}
            for result in self.results
            for finding in result.nplusone
        ]
        return pd.DataFrame(rows)

    def to_dict(self, statements: bool = False) -> dict[str, Any]:
        """JSON-able (for the JSON viewer); ``statements=True`` includes every captured statement."""
        strategies = []
        for result in self.results:
            entry = result.summary()
            entry.update(
                description=STRATEGY_INFO[result.key].summary if result.key in STRATEGY_INFO else None,
                code=result.code,
                plan_rounds=result.plan_rounds,
                data_note=result.data_note,
                warnings=result.warnings,
                nplusone=[{**dataclasses.asdict(finding), "message": finding.message} for finding in result.nplusone],
                duplicates=[dataclasses.asdict(group) for group in result.duplicates],
                similar=[dataclasses.asdict(group) for group in result.similar],
                unused_eager_loads=result.unused_eager_loads,
                explains=[_explain_dict(plan) for plan in result.explains],
                overhead=dataclasses.asdict(result.overhead) if result.overhead else None,
            )
            if statements:
                entry["statements"] = [_statement_dict(record) for record in result.statements]
            strategies.append(entry)
        return json.loads(
            json.dumps(
                {
                    "workload": self.workload,
                    "dialect": self.dialect,
                    "reference": self.reference,
                    "notes": self.notes,
                    "strategies": strategies,
                },
                default=_jsonable,
            )
        )

    def figure(self):
        from .figures import comparison_figure

        return comparison_figure(self)

    def report(self) -> str:
        """A plain-text summary: one line per strategy, then N+1 findings, data mismatches and errors."""
        lines = [f"{self.workload} on {self.dialect}"] + [f"  note: {note}" for note in self.notes]
        for result in self.results:
            if not result.ok:
                lines.append(f"  {result.label:<12} {result.status.upper()}: {result.error}")
                continue
            row = result.summary()
            overhead = f", profiler overhead ×{row['overhead_ratio']}" if row["overhead_ratio"] is not None else ""
            lines.append(
                f"  {result.label:<12} {row['statements']:>6} statements  {row['wall_ms']:>9.1f} ms "
                f"(db {row['db_ms']:.1f}, fetch {row['fetch_ms']:.1f}, python {row['python_ms']:.1f}){overhead}"
                f"; its data fingerprinted in {row['fingerprint_ms'] or 0:.1f} ms more"
            )
            lines += [f"      {finding.message}" for finding in result.nplusone]
            lines += [f"      unused eager load: {option}" for option in result.unused_eager_loads]
            if result.data_note:
                lines.append(f"      {result.data_note}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        labels = ", ".join(f"{result.label}: {result.status}" for result in self.results)
        return f"Comparison({self.workload!r} on {self.dialect}; {labels})"

    def _repr_html_(self) -> str:
        return self.summary_frame().to_html()


def _explain_dict(plan: ExplainPlan) -> dict:
    data = dataclasses.asdict(plan)
    data["raw"] = plan.raw if plan.dialect == "postgresql" else [list(row) for row in plan.raw or []]
    return data


def _statement_dict(record: StatementRecord) -> dict:
    data = dataclasses.asdict(record)
    data["sql"] = collapse_in_lists(record.sql)
    data["params"] = _jsonable(record.params)
    return data


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
