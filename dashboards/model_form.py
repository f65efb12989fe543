"""The "define a model" form of the data-models dashboard: a name, typed columns, a primary key and
relationships to existing models. It only builds a :class:`~profiler.catalog.spec.Model`; every check (and every
message) is the spec's own, so the form and ``Model(...)`` in a cell can never disagree.
"""

from __future__ import annotations

from typing import Any, Callable

import ipywidgets as w

from profiler.catalog.spec import TYPES, Field, Model, ModelError

NARROW = {"description_width": "initial"}
STARTING_COLUMNS = (("id", "integer"), ("name", "text"))


class ColumnRow:
    def __init__(self, name: str = "", type_: str = "text"):
        self.name = w.Text(value=name, placeholder="column name", style=NARROW, layout=w.Layout(width="17em"))
        self.type = w.Dropdown(options=list(TYPES), value=type_, description="type", style=NARROW,
                               layout=w.Layout(width="11em"))
        self.required = w.Checkbox(value=False, description="required (NOT NULL)", indent=False,
                                   layout=w.Layout(width="12em"))
        self.remove = w.Button(description="Remove", icon="times", layout=w.Layout(width="7em"))
        self.box = w.HBox([self.name, self.type, self.required, self.remove])
        self.inputs = (self.name, self.type, self.required)

    def field(self) -> Field:
        return Field(self.name.value.strip(), self.type.value, nullable=not self.required.value)


class RelationshipRow:
    def __init__(self, targets: list[str]):
        self.name = w.Text(placeholder="e.g. customer", style=NARROW, layout=w.Layout(width="20em"))
        self.target = w.Dropdown(options=targets, value=None, description="points to", style=NARROW,
                                 layout=w.Layout(width="17em"))
        self.remove = w.Button(description="Remove", icon="times", layout=w.Layout(width="7em"))
        self.box = w.HBox([self.name, self.target, self.remove])
        self.inputs = (self.name, self.target)


class ModelForm:
    """``form.model()`` is the model the form describes, or a :class:`ModelError` saying what is wrong."""

    def __init__(self, on_change: Callable[[], None]):
        self._on_change = None  # set once the form is built: building it changes values too
        self._targets: list[str] = []
        self.name = w.Text(description="Model name", placeholder="e.g. customers", style=NARROW,
                           layout=w.Layout(width="24em"))
        self.name.observe(self._changed, "value")
        self.column_rows: list[ColumnRow] = []
        self.relationship_rows: list[RelationshipRow] = []
        self.columns_box = w.VBox()
        self.relationships_box = w.VBox()
        self.primary_key = w.Dropdown(description="Primary key", style=NARROW, layout=w.Layout(width="20em"))
        self.primary_key.observe(self._changed, "value")
        self.add_column_button = w.Button(description="Add column", icon="plus")
        self.add_relationship_button = w.Button(description="Add relationship", icon="link")
        self.add_column_button.on_click(lambda _button: self.add_column())
        self.add_relationship_button.on_click(lambda _button: self.add_relationship())
        self.reset()
        self._on_change = on_change

    def widget(self) -> w.Widget:
        return w.VBox([
            self.name,
            w.HTML("<b>Columns</b> <span class='workbench-muted'>(types: " + ", ".join(TYPES) + ")</span>"),
            self.columns_box, w.HBox([self.add_column_button, self.primary_key]),
            w.HTML("<b>Relationships</b> <span class='workbench-muted'>(each adds a column &lt;name&gt;_id pointing "
                   "at the target's key, and a collection on the target named after this model)</span>"),
            self.relationships_box, self.add_relationship_button,
        ])

    def _changed(self, _change: Any = None) -> None:
        if self._on_change is not None:
            self._on_change()

    # --- rows -------------------------------------------------------------------------------------------------
    def add_column(self, name: str = "", type_: str = "text") -> ColumnRow:
        row = ColumnRow(name, type_)
        row.remove.on_click(lambda _button: self._remove(self.column_rows, row))
        for control in row.inputs:
            control.observe(self._columns_changed, "value")
        self.column_rows.append(row)
        self._columns_changed()
        return row

    def add_relationship(self, name: str = "", target: str | None = None) -> RelationshipRow:
        row = RelationshipRow(self._targets)
        row.name.value = name
        row.target.value = target if target in self._targets else None
        row.remove.on_click(lambda _button: self._remove(self.relationship_rows, row))
        for control in row.inputs:
            control.observe(self._changed, "value")
        self.relationship_rows.append(row)
        self._show_rows()
        self._changed()
        return row

    def _remove(self, rows: list, row) -> None:
        rows.remove(row)
        self._columns_changed()

    def _show_rows(self) -> None:
        for kind, rows in (("Column", self.column_rows), ("Relationship", self.relationship_rows)):
            for number, row in enumerate(rows, start=1):  # numbered as shown, after a removal too
                row.name.description, row.remove.tooltip = f"{kind} {number}", f"Remove {kind.lower()} {number}"
        self.columns_box.children = [row.box for row in self.column_rows]
        self.relationships_box.children = [row.box for row in self.relationship_rows]

    def _columns_changed(self, _change: Any = None) -> None:
        self._show_rows()
        names = [row.name.value.strip() for row in self.column_rows if row.name.value.strip()]
        chosen = self.primary_key.value
        with self.primary_key.hold_sync():
            self.primary_key.options = names
            self.primary_key.value = chosen if chosen in names else (names[0] if names else None)
        self._changed()

    def set_targets(self, targets: list[str]) -> None:
        """The models a relationship may point to (yours and the built-ins)."""
        self._targets = list(targets)
        for row in self.relationship_rows:
            chosen = row.target.value
            row.target.options = self._targets
            row.target.value = chosen if chosen in self._targets else None

    def reset(self) -> None:
        self.name.value = ""
        self.column_rows, self.relationship_rows = [], []
        for name, type_ in STARTING_COLUMNS:
            self.add_column(name, type_)
        self.column_rows[0].required.value = True

    def set_disabled(self, disabled: bool) -> None:
        controls = [self.name, self.primary_key, self.add_column_button, self.add_relationship_button]
        for row in [*self.column_rows, *self.relationship_rows]:
            controls += [*row.inputs, row.remove]
        for control in controls:
            control.disabled = disabled

    # --- the model ----------------------------------------------------------------------------------------------
    def model(self) -> Model:
        fields = [row.field() for row in self.column_rows]
        relationships: dict[str, str] = {}
        for row in self.relationship_rows:
            name = row.name.value.strip()
            if row.target.value is None:
                raise ModelError(f"relationship {name or len(relationships) + 1!r}: choose the model it points to")
            if name in relationships:
                raise ModelError(f"two relationships are named {name!r}")
            relationships[name] = row.target.value
        return Model(self.name.value.strip(), fields, primary_key=self.primary_key.value or "",
                     relationships=relationships)

    @property
    def untouched(self) -> bool:
        return not self.name.value.strip()
