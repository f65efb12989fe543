"""What every engine's public function does with a value a user gives it: check it before any work starts and,
when it cannot be used, raise :class:`InputError` naming the field and saying what is allowed.

The engines' own errors for bad input (``ModelError``, ``SpecError``) are InputErrors too, so a dashboard shows
any of them the same way: ``error.problems``, each a sentence that names the field to change.

May import nothing but the standard library (every engine imports it).
"""

from __future__ import annotations

import math
from typing import Any, Iterable

_SHOWN = 60  # characters of a bad value quoted back: enough to recognise it, never a page of it


class InputError(ValueError):
    """A value that cannot be used. ``field`` names it (None when the message names several); ``problems`` are
    the sentences to show, one per problem."""

    def __init__(self, message: str, field: str | None = None, problems: Iterable[str] | None = None):
        super().__init__(message)
        self.field = field
        self.problems = list(problems) if problems is not None else [message]


class InputTypeError(InputError, TypeError):
    """A value of the wrong type (a TypeError too, for callers that catch those)."""


def shown(value: Any) -> str:
    """``repr(value)``, cut short: a message quotes what was given without echoing a huge value."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails is still named by its type
        text = f"<{type(value).__name__}>"
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def refuse(field: str, allowed: str, value: Any) -> InputError:
    return InputError(f"{field} must be {allowed}, got {shown(value)}", field)


def is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def whole_number(field: str, value: Any, minimum: int, maximum: int) -> int:
    """``value`` if it is an int from ``minimum`` to ``maximum``."""
    if not is_whole(value) or not minimum <= value <= maximum:
        raise refuse(field, f"a whole number from {minimum:,} to {maximum:,}", value)
    return value


def seconds(field: str, value: Any, maximum: float, *, optional: bool = False) -> float | None:
    """A positive, finite number of seconds up to ``maximum`` (None too when ``optional``)."""
    if value is None and optional:
        return None
    if not is_real(value) or not 0 < value <= maximum:
        none = " (or None for no limit)" if optional else ""
        raise refuse(field, f"a number of seconds above 0 and at most {maximum:g}{none}", value)
    return float(value)


def flag(field: str, value: Any) -> bool:
    """True or False, nothing that merely looks like one (``"no"`` is a non-empty string, hence true)."""
    if not isinstance(value, bool):
        raise refuse(field, "True or False", value)
    return value


def choice(field: str, value: Any, options: Iterable[str]) -> str:
    options = list(options)
    if not isinstance(value, str) or value not in options:
        raise refuse(field, f"one of {', '.join(options)}", value)
    return value
