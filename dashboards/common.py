"""What every dashboard shares: who is looking (owner or viewer of a shared copy), the wording of the parts
each one has, the error a form raises, and the HTML of a list of problems and of a table."""

from __future__ import annotations

import html
from typing import Callable, Mapping, TypeVar

import pandas as pd

from profiler.inputs import InputError

# Set by the hub for a published dashboard's (Voila-only) server: spawner/sharing.py VIEWER_VARIABLE.
VIEWER_ENV = "WORKBENCH_DASHBOARD_VIEWER"
INSPECT_TITLE = "Inspect the data"
NOT_YET = "<p class='workbench-muted'>Run the comparison to see this.</p>"
RUN_IN_PROGRESS = "A run is in progress: wait for it to finish."
T = TypeVar("T")


class FormError(ValueError):
    """What is wrong with a dashboard's form: every problem found, not only the first, each a sentence that
    names the field to change. :func:`problems_html` shows them."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def is_viewer(environ: Mapping[str, str]) -> bool:
    return environ.get(VIEWER_ENV, "").strip().lower() in {"1", "true", "yes"}


def problems_html(problems: list[str], *, warning: bool = False) -> str:
    items = "".join(f"<li>{html.escape(problem)}</li>" for problem in problems)
    if warning:
        return f"<ul class='workbench-warning' role='status'>{items}</ul>"
    return f"<ul class='workbench-error' role='alert'>{items}</ul>"


def read_form(message, read: Callable[[], T]) -> T | None:
    """What ``read()`` makes of a form, with the ``message`` widget next to it emptied; None, with every problem
    shown in ``message``, when it raises :class:`FormError` (or an engine's :class:`InputError`)."""
    try:
        value = read()
    except (FormError, InputError) as error:  # an engine's own check of a value says it in the same words
        message.value = problems_html(error.problems)
        return None
    message.value = ""
    return value


def table_html(frame: pd.DataFrame, columns: Mapping[str, str] | None = None, *, classes: str = "workbench-table",
               **options) -> str:
    """``frame`` as an HTML table; ``columns`` picks the columns it has (in that order) and titles them."""
    if columns is not None:
        frame = frame[[column for column in columns if column in frame]].rename(columns=columns)
    options = {"float_format": lambda v: f"{v:,.2f}", "na_rep": "—", **options}
    # pandas names every table "dataframe", a class nothing here styles: the table keeps only the page's own.
    return frame.to_html(classes=classes, border=0, **options).replace('class="dataframe ', 'class="', 1)
