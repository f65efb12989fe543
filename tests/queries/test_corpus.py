"""The corpus (tests/queries/corpus/cases.py) on SQLite and PostgreSQL: each workload runs the statements it
states, gets exactly the findings it states (no false positive, no false negative), every fix the profiler
can check removes its finding, and every loading strategy (joined, select-in, subquery, auto) runs it without
raising and without a lazy N+1 left. A get or dynamic loop's fix is checked by running its batched query with
the loop's keys: one statement, the same rows."""

from __future__ import annotations

import pytest

from profiler.queries import profile

from .corpus.cases import CASES


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_case(corpus_engine, case):
    comparison = profile(case.workload, strategies=("lazy", "joined", "selectin", "subquery", "auto"),
                         engine=corpus_engine, repeats=1, explain_plans=False, measure_overhead=False)
    assert comparison.errors == {}
    lazy = comparison["lazy"]
    assert lazy.warm[-1].statements == case.statements
    found = {finding.key: (finding.kind, finding.statements) for finding in lazy.nplusone}
    false_positives = {key: found[key] for key in found.keys() - case.findings.keys()}
    false_negatives = {key: case.findings[key] for key in case.findings.keys() - found.keys()}
    assert (false_positives, false_negatives) == ({}, {})
    assert found == case.findings
    for finding in lazy.nplusone:
        if finding.kind == "dynamic" and finding.fix.startswith("#"):
            assert finding.fixed is None  # the fix is a model change (a read-only twin): not something to run
            continue
        assert finding.fixed is True, finding.message
        assert finding.after < finding.before or finding.kind == "unused", finding.message
    not_for_loaders = {key: kind for key, (kind, _) in case.findings.items() if kind != "lazy"}
    for label in ("joined", "selectin", "subquery", "auto"):
        result = comparison[label]
        assert result.data_matches is True, result.data_note
        assert result.warnings == []
        assert {finding.key: finding.kind for finding in result.nplusone} == not_for_loaders, label
    # a uniform strategy may cost more than lazy loading (select-in per get() of a many-to-one the session
    # already holds); the plan auto derives never does
    assert comparison["auto"].warm[-1].statements <= lazy.warm[-1].statements
