"""One error hierarchy for everything core refuses.

Each error has a stable ``code`` for programs and a message ``key`` with ``params`` that a
transport renders in the user's language through :func:`core.messages.render`.
``str(error)`` is the English text, good for logs and the command line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar


class BrigadierError(Exception):
    code: ClassVar[str] = "error"

    def __init__(self, key: str, /, **params: Any) -> None:
        self.key = key
        self.params: Mapping[str, Any] = params
        super().__init__(self.message("en"))

    def message(self, language: str = "en") -> str:
        from core.messages import render

        return render(self.key, language, **self.params)


class NotFound(BrigadierError):
    code = "not_found"


class InvalidInput(BrigadierError):
    """Input that cannot be used; ``field`` and ``value`` say which and what."""

    code = "invalid_input"

    def __init__(self, key: str, /, *, field: str, value: object, **params: Any) -> None:
        self.field = field
        self.value = value
        super().__init__(key, field=field, value=value, **params)


class Conflict(BrigadierError):
    code = "conflict"


class SlotTaken(Conflict):
    """The requested start is no longer free; ``alternatives`` are the nearest free ones."""

    code = "slot_taken"

    def __init__(self, *, start: str, alternatives: Sequence[Any]) -> None:
        self.alternatives = tuple(alternatives)
        super().__init__("slot_taken", start=start)


class TransitionRefused(BrigadierError):
    """A workflow transition or an edit the order's status does not allow."""

    code = "transition_refused"


class Forbidden(BrigadierError):
    code = "forbidden"


class ConfigError(BrigadierError):
    code = "config"


class DatabaseNotReady(BrigadierError):
    code = "database_not_ready"
