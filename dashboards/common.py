"""What every dashboard shares: who is looking (owner or viewer of a shared copy), the wording of the parts
each one has, the error a form raises, how a form's problems reach its message, and a frame's rows as a table's."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Mapping, TypeVar

import ipywidgets as w

from profiler.inputs import InputError
from widgets.message import Message

# No dashboard needs pandas to open: importing it cost a kernel 0.52 CPU-s more than ipykernel and IPython alone
# (`/usr/bin/time python -c "import ipykernel.kernelapp, IPython, pandas"`, best of 3, on a 2-core machine), a
# third of what opening a dashboard cost. Modules on the dashboards' import path import it where a frame is made.
if TYPE_CHECKING:
    import pandas as pd

# Set by the hub for a published dashboard's (Voila-only) server: spawner/sharing.py VIEWER_VARIABLE.
VIEWER_ENV = "WORKBENCH_DASHBOARD_VIEWER"
INSPECT_TITLE = "Inspect the data"
NOT_YET = "<p class='workbench-muted'>Run the comparison to see this.</p>"
RUN_IN_PROGRESS = "A run is in progress: wait for it to finish."
T = TypeVar("T")


class FormError(ValueError):
    """What is wrong with a dashboard's form: every problem found, not only the first, each a sentence that
    names the field to change. :func:`read_form` shows them."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def is_viewer(environ: Mapping[str, str]) -> bool:
    return environ.get(VIEWER_ENV, "").strip().lower() in {"1", "true", "yes"}


def read_form(message: Message, read: Callable[[], T]) -> T | None:
    """What ``read()`` makes of a form, with the ``message`` next to it cleared; None, with every problem
    shown in ``message`` as one error, when it raises :class:`FormError` (or an engine's :class:`InputError`)."""
    try:
        value = read()
    except (FormError, InputError) as error:  # an engine's own check of a value says it in the same words
        message.error(error.problems)
        return None
    message.clear()
    return value


def hold_action(button: w.Button, reason: str | None, ready_tooltip: str = "") -> None:
    """Turn an action off while it cannot run, saying why where the pointer is; on again with its own tooltip."""
    with button.hold_sync():  # one update of the page's button, not one per trait
        button.disabled = bool(reason)
        button.tooltip = reason or ready_tooltip


def frame_rows(frame: pd.DataFrame, key: str) -> list[dict[str, Any]]:
    """A frame's rows as a :class:`~widgets.data_table.DataTable` takes them: its index as column ``key``, plain
    Python values (numpy's are not JSON), no NaN."""
    def plain(value: Any) -> Any:
        if hasattr(value, "item"):
            value = value.item()
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return [{key: str(index), **{str(name): plain(value) for name, value in row.items()}}
            for index, row in frame.iterrows()]
