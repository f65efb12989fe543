"""The auto strategy: find a loading plan by making every unplanned lazy load raise, then fixing it.

Each round runs the workload with the current plan plus ``raiseload("*")`` below every planned path and on
the root. The first relationship touched without a loader raises SQLAlchemy's
``'<Class>.<key>' is not available due to lazy='raise'``; we add select-in (collections) or joined
(many-to-one) for it under the longest planned path that ends at ``<Class>``, and run again, until a round
finishes clean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect

from .plans import LoadPlan, Path

_RAISED = re.compile(r"'(?P<owner>\w+)\.(?P<key>\w+)' is not available due to lazy='raise(?:_on_sql)?'")


@dataclass
class AutoPlan:
    plan: LoadPlan
    rounds: int  # workload runs it took
    notes: list[str] = field(default_factory=list)  # why the plan may be incomplete, whole and actionable


def derive_plan(context, max_rounds: int = 12) -> AutoPlan:
    """The plan, found round by round. It never fails on a workload that runs lazily: when a round fails for
    another reason than a planned-out lazy load (the workload's own options clash, a raise the plan cannot
    reach), the plan found so far is kept if the workload runs with it, else no plan at all, with a note."""
    plan = LoadPlan({root: {} for root in (context.tree.paths or {})})
    stopped = None
    for round_number in range(1, max_rounds + 1):
        try:
            context.run(plan, raise_elsewhere=True)
        except sa_exc.InvalidRequestError as error:
            match = _RAISED.search(str(error))
            try:
                placed = (_add_loader(plan, context.models, match["owner"], match["key"], context.tree)
                          if match else None)
            except Exception as failure:  # noqa: BLE001 - auto never fails a workload that runs lazily
                stopped = (f"placing {match['owner']}.{match['key']} failed "
                           f"({type(failure).__name__}: {_whole(failure)})")
                break
            if placed is not None:
                plan = placed
                continue
            stopped = (
                f"round {round_number} stopped on {type(error).__name__}: {_whole(error)}"
                if match is None else
                f"{match['owner']}.{match['key']} was touched on objects that no planned query loads"
            )
        else:
            return AutoPlan(plan, round_number)
        break
    else:
        stopped = f"no clean round after {max_rounds} (AutoStrategy(max_rounds=...) allows more)"
    return _fallback(context, plan, round_number, stopped)


def _fallback(context, plan: LoadPlan, rounds: int, stopped: str) -> AutoPlan:
    """The plan so far, run without raising, so relationships it does not cover load lazily as before."""
    try:
        context.run(plan)
    except Exception as error:  # noqa: BLE001 - the workload ran lazily in discovery, so no plan still works
        return AutoPlan(LoadPlan(), rounds + 1, [
            f"auto found no plan: {stopped}; and its plan so far failed ({type(error).__name__}: {_whole(error)}), "
            "so it loads everything lazily. Give a CustomStrategy(loaders=...) for this workload instead."
        ])
    return AutoPlan(plan, rounds + 1, [
        f"auto's plan may be incomplete: {stopped}. What it does not cover still loads lazily; its N+1 findings "
        "below say what is left."
    ])


def _whole(error: BaseException) -> str:
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__


def _add_loader(plan: LoadPlan, models: dict[str, type], owner: str, key: str, tree=None) -> LoadPlan | None:
    """The plan with a loader for ``owner.key``, or None when every planned path ending at ``owner`` has it.

    Objects of ``owner`` may come from several roots and paths, and the error does not say which one loaded
    the object that raised. The path the lazy discovery run walked to ``owner.key`` goes first; otherwise the
    longest planned path ending at ``owner`` that does not have the loader yet."""
    # every path the lazy discovery run loaded it along, at once: the same relationship walked from two roots
    # needs a loader on each root's query
    walked_all = [(root, path) for root, path in (tree.placements.get(f"{owner}.{key}", []) if tree else [])
                  if root in models and path not in plan.paths_for(root)]
    if walked_all:
        for root, path in walked_all:
            relationship = inspect(models[_class_name_at(models, root, path[:-1])]).relationships[key]
            plan = plan.with_loader(root, path, "selectin" if relationship.uselist else "joined")
        return plan
    candidates: list[tuple[str, Path]] = []
    for root, paths in plan.loaders.items():
        if root == owner:
            candidates.append((root, ()))
        for path in paths:
            if _class_at(models, root, path) == owner:
                candidates.append((root, path))
    for root in models:
        if root == owner and (root, ()) not in candidates:
            candidates.append((root, ()))
    walked = tree.located.get(f"{owner}.{key}") if tree is not None else None
    if walked is not None and walked[1][:-1] and (walked[0], walked[1][:-1]) not in candidates:
        # reached through the query's own loader options, which are not in the plan
        if walked[0] in models and _class_at(models, walked[0], walked[1][:-1]) == owner:
            candidates.append((walked[0], walked[1][:-1]))
    candidates = [(root, prefix) for root, prefix in candidates if prefix + (key,) not in plan.paths_for(root)]
    if not candidates:
        return None
    if walked is not None and (walked[0], walked[1][:-1]) in candidates:
        root, prefix = walked[0], walked[1][:-1]
    else:
        root, prefix = max(candidates, key=lambda candidate: len(candidate[1]))
    relationship = inspect(models[_class_name_at(models, root, prefix)]).relationships[key]
    kind = "selectin" if relationship.uselist else "joined"
    return plan.with_loader(root, prefix + (key,), kind)


def _class_at(models: dict[str, type], root: str, path: Path) -> str | None:
    current = models.get(root)
    for key in path:
        if current is None:
            return None
        relationships = inspect(current).relationships
        current = relationships[key].mapper.class_ if key in relationships else None
    return current.__name__ if current is not None else None


def _class_name_at(models: dict[str, type], root: str, path: Path) -> str:
    name = _class_at(models, root, path)
    if name is None or name not in models:
        # classes reached only through relationships are not in `models`; look them up from the root
        current = models[root]
        for key in path:
            current = inspect(current).relationships[key].mapper.class_
        models.setdefault(current.__name__, current)
        return current.__name__
    return name
