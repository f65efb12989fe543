"""Message on the kernel side: one kind at a time, the text a person reads, raw library messages put in words."""

from __future__ import annotations

import ast

import pytest

from widgets.message import Message, plain_reason, syntax_reason


def test_a_message_is_one_kind_with_its_sentences():
    message = Message()
    assert (message.kind, message.value) == ("", "")
    message.error(["Concurrency must be from 1 to 500, not 0.", "Duration must be > 0."], title="The form:")
    assert message.kind == "error" and message.items == ["Concurrency must be from 1 to 500, not 0.",
                                                          "Duration must be > 0."]
    assert message.value == "The form: Concurrency must be from 1 to 500, not 0. Duration must be > 0."
    message.success("Created customers.")  # a new message replaces the last one: never two at once
    assert (message.kind, message.title, message.items) == ("success", "", ["Created customers."])
    message.clear()
    assert (message.kind, message.value) == ("", "")
    with pytest.raises(ValueError, match="kind must be one of"):
        message.show("fatal", "no")
    with pytest.raises(ValueError, match="a title or at least one sentence"):
        message.warning([])


@pytest.mark.parametrize("raw, said", [
    ("(sqlite3.OperationalError) attempt to write a readonly database\n[SQL: INSERT INTO books]",
     "This data is read-only here"),
    ("OperationalError: database is locked", "The database is busy with another change"),
    ("(psycopg.errors.ReadOnlySqlTransaction) cannot execute INSERT in a read-only transaction",
     "This data is read-only here"),
    ("no such table: orders", "The table orders is not in this database any more"),
    ("CacheUnavailable: cannot reach the Redis cache at redis://x", "cannot reach the Redis cache at redis://x"),
])
def test_raw_library_messages_are_said_in_words(raw, said):
    assert plain_reason(raw).startswith(said)
    assert "Error" not in plain_reason(raw)


def test_a_syntax_error_names_the_field_and_line():
    with pytest.raises(SyntaxError) as caught:
        ast.parse("for x in\n  y(")
    assert syntax_reason("Workload", caught.value).startswith("Workload, line 1, column")
    assert "<unknown>" not in plain_reason(caught.value, field="Workload")


def test_an_exception_stored_as_its_repr_reads_as_its_message():
    from widgets.message import plain_reason

    assert plain_reason("ConnectionError('the endpoint went away')") == "the endpoint went away"
    assert plain_reason('TimeoutError("no answer in 5 s",)') == "no answer in 5 s"
