"""The writing half of the data-models dashboard: define a model (the form of :mod:`dashboards.model_form` and its
Create button), fill one with generated rows, add or drop a column, and drop a model after asking.

:class:`ModelChanges` builds these widgets and the methods their buttons call; it is mixed into
:class:`~dashboards.data_models.DataModelsDashboard`, which owns what they share with the listing, the profile and
the inspector: the catalog, the background job, the models listed (``infos``) and the refusals of viewers and of
busy or built-in clicks (``_refused``). Every change is one transaction of the catalog, so a failure leaves nothing
half made; after one, the dashboard lists the models again.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any, Callable

import ipywidgets as w

from dashboards.model_form import ModelForm
from dashboards.walk_profile import set_options
from profiler.catalog.spec import TYPES, ModelError
from profiler.inputs import InputError
from widgets import Progress
from widgets.message import Message, plain_reason

WIDE = {"description_width": "initial"}
NO_MODELS = "You have no models to change yet: define one above."


def describe(error: BaseException) -> str:
    """What the catalog says (its messages name the model and what to do); other errors in plain words."""
    return str(error) if isinstance(error, (InputError, PermissionError)) else plain_reason(error)


def parse_default(text: str, type_: str) -> Any:
    """A new column's default from the form's text: None when empty; the spec then checks it for the type."""
    text = text.strip()
    if not text:
        return None
    try:
        if type_ in ("integer", "bigint"):
            return int(text)
        if type_ in ("float", "decimal"):
            return float(text)
    except ValueError:
        raise ModelError(f"default {text!r} is not a number (the column is {type_})") from None
    if type_ == "boolean":
        if text.lower() not in ("true", "false"):
            raise ModelError(f"default {text!r} is not a boolean: write true or false")
        return text.lower() == "true"
    return text


class ModelChanges:
    """Define, fill, alter and drop: the widgets of the two forms and what their buttons call (usable from a
    cell too)."""

    def _build_changes(self) -> None:
        # --- define ------------------------------------------------------------------------------------------------
        self.form = ModelForm(on_change=self.validate)
        self.create_button = w.Button(description="Create model", button_style="primary", icon="plus-square")
        self.create_button.on_click(lambda _button: self.create_model())
        self.form_message = Message()
        self._form_problem: str | None = "Name the model, then create it."

        # --- change ------------------------------------------------------------------------------------------------
        self.model_choice = w.Dropdown(description="Model", style=WIDE, layout=w.Layout(width="28em"))
        self.model_choice.observe(lambda _change: self._chosen_model_changed(), "value")
        self.fill_rows = w.BoundedIntText(value=100, min=1, max=1_000_000, description="Rows to add", style=WIDE,
                                          layout=w.Layout(width="14em"))
        self.fill_button = w.Button(description="Fill", icon="database")
        self.fill_button.on_click(lambda _button: self.fill_model())
        self.fill_progress = Progress(label="Fill", layout=w.Layout(display="none"))  # shown once a fill starts
        self.new_column = w.Text(description="New column", placeholder="name", style=WIDE,
                                 layout=w.Layout(width="17em"))
        self.new_column_type = w.Dropdown(options=list(TYPES), value="text", description="type", style=WIDE,
                                          layout=w.Layout(width="11em"))
        self.new_column_required = w.Checkbox(description="required", indent=False, layout=w.Layout(width="7em"))
        self.new_column_default = w.Text(description="default", placeholder="for existing rows", style=WIDE,
                                         layout=w.Layout(width="16em"))
        self.add_column_button = w.Button(description="Add column", icon="plus")
        self.add_column_button.on_click(lambda _button: self.add_column())
        self.column_choice = w.Dropdown(description="Column", style=WIDE, layout=w.Layout(width="17em"))
        self.drop_column_button = w.Button(description="Drop column", icon="minus")
        self.drop_column_button.on_click(lambda _button: self.drop_column())
        self.drop_button = w.Button(description="Drop model…", button_style="danger", icon="trash")
        self.drop_button.on_click(lambda _button: self.ask_drop())
        self.drop_question = Message()
        self.confirm_drop_button = w.Button(button_style="danger", icon="trash")
        self.confirm_drop_button.on_click(lambda _button: self.confirm_drop())
        self.cancel_drop_button = w.Button(description="Cancel")
        self.cancel_drop_button.on_click(lambda _button: self.cancel_drop())
        self.confirmation = w.HBox([self.drop_question, self.confirm_drop_button, self.cancel_drop_button],
                                   layout=w.Layout(display="none"))
        self.change_message = Message()
        self._drop_pending: str | None = None  # the model Drop model… asked about

    def _chosen_model_changed(self) -> None:
        info = self.infos.get(self.model_choice.value)
        set_options(self.column_choice, list(info.columns) if info else [], None)
        self.cancel_drop()
        self._set_buttons()

    def validate(self) -> None:
        """Say what is wrong with the definition as it is typed (the spec's own message)."""
        if self.form.untouched:
            self._form_problem = "Name the model, then create it."
            self.form_message.clear()
        else:
            try:
                self.form.model()
            except ModelError as error:
                self._form_problem = f"Correct the definition first: {error}"
                self.form_message.error(str(error))
            else:
                self._form_problem = None
                self.form_message.clear()
        self._set_buttons()

    # --- writing (owners only) -------------------------------------------------------------------------------------
    def _write(self, message: Message, action: Callable[[], str], model: str | None = None) -> bool:
        """Run one change (``action`` returns what to tell the user); False with the reason shown otherwise."""
        if self._refused(message, model):
            return False
        try:
            done = action()
        except Exception as error:  # noqa: BLE001 - said next to the form; nothing was half-made (one transaction)
            message.error(describe(error))
            return False
        message.success(done)
        return True

    def create_model(self) -> str | None:
        """Create the model the form describes; its name, or None (the form says why)."""
        model = None

        def create() -> str:
            nonlocal model
            model = self.form.model()
            self.catalog.create(model)
            return f"Created {model.name}: fill it with rows below."

        if not self._write(self.form_message, create):
            return None
        self.form.reset()
        self.refresh(select=model.name)
        self.form_message.success(f"Created {model.name}: fill it with rows below.")
        return model.name

    def add_column(self) -> bool:
        name, column, type_ = self.model_choice.value, self.new_column.value.strip(), self.new_column_type.value

        def add() -> str:
            default = parse_default(self.new_column_default.value, type_)
            self.catalog.add_column(name, column, type_, nullable=not self.new_column_required.value, default=default)
            return f"Added column {column} ({type_}) to {name}."

        done = self._write(self.change_message, add, name)
        if done:
            self.new_column.value = self.new_column_default.value = ""
            self.refresh(select=name)
        return done

    def drop_column(self) -> bool:
        name, column = self.model_choice.value, self.column_choice.value

        def drop() -> str:
            self.catalog.drop_column(name, column)
            return f"Dropped column {column} of {name}."

        done = self._write(self.change_message, drop, name)
        if done:
            self.refresh(select=name)
        return done

    def ask_drop(self) -> None:
        """Dropping loses the rows: show what would go and ask first."""
        name = self.model_choice.value
        if name is None:
            self.change_message.error(NO_MODELS)
            return
        if self._refused(self.change_message, name):
            return
        info = self.infos[name]
        rows = "" if info.rows < 0 else f" and its {info.rows:,} rows"
        self.drop_question.warning(f"Drop {name}{rows}? This cannot be undone.")
        self.confirm_drop_button.description = f"Drop {name}"
        self.confirmation.layout.display = None
        self._drop_pending = name

    def cancel_drop(self) -> None:
        self.confirmation.layout.display = "none"
        self._drop_pending = None

    def confirm_drop(self) -> bool:
        name = self._drop_pending
        if self._refused(self.change_message, name):
            return False
        if name is None:
            self.change_message.error("Choose Drop model… first, then confirm.")
            return False
        self.cancel_drop()

        def drop() -> str:
            self.catalog.drop(name)
            return f"Dropped {name} and its rows."

        done = self._write(self.change_message, drop, name)
        if done:
            self.refresh()
        return done

    def fill_model(self) -> threading.Thread | None:
        """Add generated rows to the chosen model in the background job, with progress; None if it cannot start."""
        name, rows = self.model_choice.value, self.fill_rows.value
        if name is None:
            self.change_message.error(NO_MODELS)
            return None
        if self._refused(self.change_message, name):
            return None
        self.change_message.clear()
        self.fill_progress.layout.display = None
        self.fill_progress.update(0, total=rows, message=f"Generating {rows:,} rows for {name}…")
        return self.job.start(self._fill, name, rows, on_error=lambda reason: self._fill_failed(name, reason))

    def _fill_failed(self, name: str, reason: str) -> None:
        self.fill_progress.layout.display = "none"
        self.change_message.error(f"{reason} No rows were added: a fill is one transaction.",
                                  title=f"Filling {name} failed:")

    def _fill(self, name: str, rows: int) -> None:
        def on_chunk(done: int, total: int) -> None:
            self.fill_progress.update(done, message=f"{done:,} of {total:,} rows inserted into {name}…")

        # a failure is said in fill_progress; the fill was one transaction, so nothing was added
        self.catalog.fill(name, rows, seed=secrets.randbelow(2**31), progress=on_chunk)
        self.fill_progress.succeed(f"Filled {name} with {rows:,} rows")
        self.refresh(select=name)
        self.show_rows(name)
