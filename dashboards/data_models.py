"""The data-models dashboard: list your models beside the built-ins, define, fill, alter and drop your own,
profile a relationship walk under several loading strategies, inspect the data.

A composition of the model catalog (``profiler.catalog``), the query profiler (``profiler.queries``) and the
widgets (``widgets``); the notebook ``notebooks/data_models.ipynb`` only builds and shows it. Filling and
profiling run in the dashboard's background job and reach the page by setting widget traits (nothing polls).

Building the dashboard only reads (it lists the models), because a dashboard may be pre-rendered and viewers
open it. Viewers of a shared dashboard (``WORKBENCH_DASHBOARD_VIEWER=1``) may list, inspect and profile, which
only read; creating, filling, altering and dropping are off, refused in Python even if a click message arrives,
and refused by the database too, whose connections are made read-only for them.

A change that a stopped kernel cut short (the database rolled it back) is said at the top when the dashboard
opens, until the owner dismisses it: without that, a fill that "did nothing" would be a mystery.

This module owns the reading side (the listing of your models and the built-ins, the changes cut short, the
profile and the inspector) and what every part shares (the catalog, the background job, who may write); the
define, fill, alter and drop forms are :mod:`dashboards.model_changes`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import threading
from typing import Any, Mapping

import ipywidgets as w

from dashboards.background import BackgroundJob
from dashboards.common import INSPECT_TITLE, hold_action, is_viewer
from dashboards.model_changes import NO_MODELS, WIDE, ModelChanges, describe
from dashboards.model_changes import parse_default  # noqa: F401 - for callers
from dashboards.style import stylesheet
from dashboards.walk_profile import WalkProfile, set_options
from profiler.catalog.catalog import Catalog, ModelInfo
from profiler.catalog.journal import InterruptedChange
from profiler.playground import DATA_URL
from profiler.queries import Comparison
from widgets import JsonViewer, RequestTiming, ScrollTo, section_anchor
from widgets.data_table import DataTable
from widgets.message import Message

READ_ONLY_NOTE = ("This is a shared view: creating, filling, altering and dropping would change the owner's "
                  "models, so they are off. You can list, inspect and profile them.")
BUSY_NOTE = "Wait until the fill or the profile run in progress has finished."
SAMPLE_ROWS = 20


def json_ready(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))  # dates and decimals as text, like the SQL shows them


def open_catalog(environ: Mapping[str, str]) -> tuple[Catalog, tempfile.TemporaryDirectory | None]:
    """The space the hub handed this server; without the hub a scratch SQLite space, gone with the kernel
    (the same fallback as the tutorial notebook, so trying the dashboard never touches ~/.workbench)."""
    if environ.get(DATA_URL):
        return Catalog.connect(environ=environ), None
    scratch = tempfile.TemporaryDirectory(prefix="workbench-models-")
    return Catalog.local(scratch.name), scratch


CATALOGUE_COLUMNS = [
    {"key": "name", "label": "Model"},
    {"key": "kind", "label": "Kind"},
    {"key": "rows", "label": "Rows", "kind": "number", "digits": 0},
    {"key": "columns", "label": "Columns"},
    {"key": "primary_key", "label": "Primary key"},
    {"key": "relationships", "label": "Relationships"},
]


def catalogue_rows(own: list[ModelInfo], builtins: list[ModelInfo]) -> list[dict[str, Any]]:
    def row(info: ModelInfo) -> dict[str, Any]:
        return {"name": info.name, "kind": "built-in" if info.builtin else "yours",
                "rows": None if info.rows < 0 else info.rows,
                "columns": ", ".join(f"{name} {type_.lower()}" for name, type_ in info.columns.items()),
                "primary_key": ", ".join(info.primary_key),
                "relationships": ", ".join(f"{name} → {target}" for name, target in info.relationships.items())}

    return [row(info) for info in [*own, *builtins]]


class DataModelsDashboard(ModelChanges):
    """Builds the widgets; the methods the buttons call (:meth:`create_model`, :meth:`fill_model`,
    :meth:`add_column`, :meth:`drop_column`, :meth:`ask_drop` / :meth:`confirm_drop`, :meth:`start_profile`,
    :meth:`show_rows`) work from a cell too; the writing ones come from :class:`ModelChanges`."""

    def __init__(self, catalog: Catalog | None = None, *, allow_writes: bool | None = None,
                 environ: Mapping[str, str] | None = None):
        environ = os.environ if environ is None else environ
        self.allow_writes = not is_viewer(environ) if allow_writes is None else allow_writes
        self._scratch = None  # a scratch space's folder lives as long as the dashboard
        self.space_problem: str | None = None
        if catalog is None:
            try:
                catalog, self._scratch = open_catalog(environ)
            except Exception as error:  # noqa: BLE001 - said at the top; every action stays off
                self.space_problem = describe(error)
        self.catalog = catalog
        if catalog is not None and not self.allow_writes:
            catalog.space.make_read_only()
        self.infos: dict[str, ModelInfo] = {}
        # a fill and a profile run never overlap: a profile would measure a table the fill is still writing
        self.job = BackgroundJob("data-models", on_busy=lambda _busy: self._set_buttons(), describe=describe)

        # --- your models and the built-ins ---------------------------------------------------------------------
        self.notice = Message()
        self.interrupted: list[InterruptedChange] = []
        self.interrupted_notice = Message()
        self.dismiss_button = w.Button(description="Dismiss", icon="check")
        self.dismiss_button.on_click(lambda _button: self.dismiss_interrupted())
        self.interrupted_box = w.VBox([self.interrupted_notice, self.dismiss_button],
                                      layout=w.Layout(display="none"))
        self.listing = DataTable(columns=CATALOGUE_COLUMNS, row_key="name", selectable="none", searchable=True,
                                 page_size=15, label="Your models and the built-ins",
                                 empty_text="You have no models yet: define one below.")
        self.listing_message = Message()
        self._builtin_rows: dict[str, int] = {}  # built-ins are read-only: counted once, they stay counted
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _button: self.refresh())

        # --- define and change ---------------------------------------------------------------------------------------
        self._build_changes()

        # --- profile (reading only) --------------------------------------------------------------------------------
        self.profiler = WalkProfile(start_job=self.job.start, on_result=self._profiled)
        self.profiler.button.on_click(lambda _button: self.start_profile())

        # --- inspect -----------------------------------------------------------------------------------------------
        self.inspect_choice = w.Dropdown(description="Model", style=WIDE, layout=w.Layout(width="28em"))
        self.show_rows_button = w.Button(description=f"Show its first {SAMPLE_ROWS} rows", icon="table",
                                          layout=w.Layout(width="auto"))
        self.show_rows_button.on_click(lambda _button: self.show_rows())
        self.viewer = JsonViewer({"note": "Show a model's rows, or profile one, to inspect the data here."},
                                 root_name="data", height=440)
        self.scroller = ScrollTo()
        self._show_notice()
        if not self.allow_writes:
            self.form.set_disabled(True)
        self.refresh()
        self.validate()

    # --- layout ----------------------------------------------------------------------------------------------------
    def widget(self) -> w.Widget:
        return w.VBox([
            self.notice, self.interrupted_box,
            section_anchor("Your models and the built-ins"),
            self.listing, self.listing_message, self.refresh_button,
            section_anchor("Define a model"),
            self.form.widget(), self.create_button, self.form_message,
            section_anchor("Fill, alter or drop a model"),
            self.model_choice,
            w.HBox([self.fill_rows, self.fill_button]), self.fill_progress,
            w.HBox([self.new_column, self.new_column_type, self.new_column_required, self.new_column_default,
                    self.add_column_button]),
            w.HBox([self.column_choice, self.drop_column_button]),
            self.drop_button, self.confirmation, self.change_message,
            section_anchor("Profile a relationship walk"),
            self.profiler.widget(),
            section_anchor(INSPECT_TITLE),
            w.HBox([self.inspect_choice, self.show_rows_button]), self.viewer,
            RequestTiming(label="Server time for this dashboard"), self.scroller,
            stylesheet(),
        ])

    def _show_notice(self) -> None:
        if self.space_problem:
            self.notice.error(self.space_problem, title="Your data space cannot be opened.")
            return
        notes = []
        if self._scratch is not None:
            notes.append(f"Scratch space: this server was not given a database space by the hub ({DATA_URL} is not "
                         "set), so your models live in a temporary SQLite space that is deleted when this "
                         "dashboard's kernel stops.")
        if not self.allow_writes:
            notes.append(f"Read-only: {READ_ONLY_NOTE}")
        if notes:
            self.notice.info(notes)

    # --- state ---------------------------------------------------------------------------------------------------
    def _refusal(self) -> str | None:
        return ("Your data space cannot be opened." if self.catalog is None else READ_ONLY_NOTE
                if not self.allow_writes else BUSY_NOTE if self.job.busy else None)

    def _set_buttons(self) -> None:
        no_space = self.catalog is None
        refusal = self._refusal()
        hold_action(self.create_button, refusal or self._form_problem, "Create the model the form describes")
        # Only your own models are offered for a change: the built-ins are read-only.
        change = refusal or (None if self.model_choice.value in self.infos else NO_MODELS)
        for button in (self.fill_button, self.add_column_button, self.drop_column_button, self.drop_button,
                       self.confirm_drop_button):
            hold_action(button, change)
        self.profiler.button.disabled = no_space or self.job.busy
        self.refresh_button.disabled = self.show_rows_button.disabled = no_space

    def _refused(self, message: Message, model: str | None = None) -> bool:
        """Viewers', busy and built-in clicks are refused here too: a click message can arrive for a disabled
        button or an option that is not offered."""
        reason = self._refusal()
        info = self.infos.get(model) if model else None
        if reason is None and info is not None and info.builtin:
            reason = f"{model} is a built-in model: it is read-only. Fill, alter or drop one of your own models."
        if reason:
            message.error(reason)
        return reason is not None

    def refresh(self, select: str | None = None) -> None:
        """Read the models again (the database is the truth: a fresh kernel sees the same) and update the choices."""
        self._set_buttons()
        if self.catalog is None:
            return
        problems = []
        try:
            own = self.catalog.list(builtins=False)
            builtins = self._builtins()
        except Exception as error:  # noqa: BLE001 - the dashboard must open whatever is in the space
            own, builtins = [], []
            problems.append(f"Your models could not be read: {describe(error)}")
        classes = {}
        try:
            classes = dict(self.catalog.classes()) if own else {}
        except Exception as error:  # noqa: BLE001 - e.g. a model made before a clash was checked for
            problems.append(f"Your models could not be mapped to classes, so they cannot be profiled: "
                            f"{describe(error)}. Listing, filling and dropping still work: drop the model named "
                            "there to profile again.")
        self._show_interrupted()
        self.infos = {info.name: info for info in [*own, *builtins]}
        self.listing.rows = catalogue_rows(own, builtins)
        if problems:
            self.listing_message.error(problems)
        else:
            self.listing_message.clear()
        set_options(self.model_choice, [(info.name, info.name) for info in own], select)
        set_options(self.inspect_choice, [(info.name, info.name) for info in own] + [
            (f"{info.name} (built-in, read-only)", info.name) for info in builtins], select)
        self._chosen_model_changed()  # its columns may have changed even if the choice did not
        self.form.set_targets([info.name for info in [*own, *builtins]])
        self.profiler.set_models(classes, [info.name for info in builtins], select)

    def _builtins(self) -> list[ModelInfo]:
        """The built-in models with their row counts, which never change: they are counted on the first listing
        only (a large built-in takes a while to count), so a refresh after each change stays quick."""
        infos = self.catalog.list(count_rows=not self._builtin_rows)
        builtins = [info for info in infos if info.builtin]
        if not self._builtin_rows:
            self._builtin_rows = {info.name: info.rows for info in builtins}
        return [dataclasses.replace(info, rows=self._builtin_rows.get(info.name, -1)) for info in builtins]

    def _show_interrupted(self) -> None:
        """The owner's changes that a stopped kernel cut short; viewers are not told of the owner's work."""
        if not self.allow_writes:
            return
        try:
            self.interrupted = self.catalog.interrupted()
        except Exception:  # noqa: BLE001 - e.g. a space that cannot be read is said by the listing already
            self.interrupted = []
        if self.interrupted:
            self.interrupted_notice.warning([change.message() for change in self.interrupted])
        else:
            self.interrupted_notice.clear()
        self.interrupted_box.layout.display = None if self.interrupted else "none"

    def dismiss_interrupted(self) -> None:
        """Forget the changes cut short that were shown (the user has read about them)."""
        if self._refused(self.change_message):
            return
        try:
            self.catalog.dismiss_interrupted(self.interrupted)
        except Exception as error:  # noqa: BLE001 - said where the changes are said
            self.interrupted_notice.error([*self.interrupted_notice.items,
                                           f"They could not be dismissed: {describe(error)}"])
            return
        self.interrupted = []
        self.interrupted_notice.clear()
        self.interrupted_box.layout.display = "none"

    # --- reading (everyone) ----------------------------------------------------------------------------------------
    def show_rows(self, name: str | None = None) -> list[dict[str, Any]] | None:
        """The first rows of ``name`` (default: the model chosen under "Inspect the data") in the JSON viewer."""
        name = name or self.inspect_choice.value
        try:
            rows = json_ready(self.catalog.rows(name, SAMPLE_ROWS))
        except Exception as error:  # noqa: BLE001 - e.g. a dropped table; the viewer says why
            self.viewer.data = {"error": describe(error)}
            return None
        self.viewer.data = {"model": name, "first_rows": rows}
        return rows

    @property
    def comparison(self) -> Comparison | None:
        return self.profiler.comparison

    def start_profile(self) -> threading.Thread | None:
        """Profile the chosen walk in the background job (reading only); None when it cannot start (it says why)."""
        refusal = "Your data space cannot be opened." if self.catalog is None else BUSY_NOTE if self.job.busy else None
        return self.profiler.start(self.catalog.engine if self.catalog else None, refusal)

    def _profiled(self, root: str, comparison: Comparison) -> None:
        try:
            sample: Any = json_ready(self.catalog.rows(root, SAMPLE_ROWS))
        except Exception as error:  # noqa: BLE001 - the comparison is still worth inspecting
            sample = {"error": describe(error)}
        self.viewer.data = {"model": root, "first_rows": sample, "comparison": comparison.to_dict(statements=True)}
        self.scroller.scroll_to(INSPECT_TITLE)

    def wait(self, timeout: float = 120) -> None:
        """Block until the fill or profile run in progress is over (for cells run top to bottom, and tests)."""
        self.job.wait(timeout)
