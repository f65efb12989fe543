"""The auto strategy: find a loading plan by making every unplanned lazy load raise, then fixing it.

Each round runs the workload with the current plan plus ``raiseload("*")`` below every planned path and on
the root. The first relationship touched without a loader raises SQLAlchemy's
``'<Class>.<key>' is not available due to lazy='raise'``; we add select-in (collections) or joined
(many-to-one) for it under the longest planned path that ends at ``<Class>``, and run again, until a round
finishes clean.
"""

from __future__ import annotations

import re

from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect

from .plans import LoadPlan, Path

_RAISED = re.compile(r"'(?P<owner>\w+)\.(?P<key>\w+)' is not available due to lazy='raise'")


class AutoPlanError(RuntimeError):
    """The auto strategy could not find a plan."""


def derive_plan(context, max_rounds: int = 12) -> tuple[LoadPlan, int]:
    """The plan and how many workload runs it took."""
    plan = LoadPlan({root: {} for root in (context.tree.paths or {})})
    for round_number in range(1, max_rounds + 1):
        try:
            context.run(plan, raise_elsewhere=True)
        except sa_exc.InvalidRequestError as error:
            match = _RAISED.search(str(error))
            if match is None:
                raise
            plan = _add_loader(plan, context.models, match["owner"], match["key"])
            continue
        return plan, round_number
    raise AutoPlanError(f"no clean plan after {max_rounds} rounds; last plan:\n{plan.to_code(context.models)}")


def _add_loader(plan: LoadPlan, models: dict[str, type], owner: str, key: str) -> LoadPlan:
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
    if not candidates:
        raise AutoPlanError(f"{owner}.{key} raised, but no planned path reaches {owner}")
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
