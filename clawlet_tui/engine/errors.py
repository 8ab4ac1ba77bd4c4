"""Error types of the engine.

Every request submitted to :class:`~clawlet_tui.engine.engine.ClawletEngine` ends in
exactly one outcome: a result, or one of these errors.  The monitor counts errors by
class name, and the CLI maps :class:`ClawletError` subclasses to one-line messages
and exit codes (bad user input -> 2).
"""

from __future__ import annotations

from typing import Any


class ClawletError(Exception):
    """Base class of every error clawlet raises on purpose."""

    #: process exit code the CLI uses when this error ends a command
    exit_code: int = 1


class ConfigError(ClawletError, ValueError):
    """A configuration value broke a rule.

    Three parts are kept apart, so nothing downstream has to take the text to pieces:

    * ``field``: what is wrong, a field name or a dotted path (``engine.batch_size``), or None;
    * ``reason``: the rule and the value, without field or source (``must be >= 1, got 0``);
    * ``source``: where the value came from (a file, ``--set``), or None.

    ``str()`` renders them ``SOURCE: FIELD<sep>REASON``: ``sep`` is ``" "`` for a rule
    about a field (``batch_size must be >= 1, got 0``), ``": "`` for a place in a file
    (``engine.batch_size: must be >= 1, got 0``), and None when the reason names the
    field itself or there is none (``unknown config field 'x'``).

    ``ConfigError(reason=..., field=..., sep=...)`` says so explicitly.  The older form
    ``ConfigError(message, field=...)`` (still used by models and generators) is read once,
    here: a message that starts with its field and a separator is split there.
    """

    exit_code = 2

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        source: str | None = None,
        reason: str | None = None,
        sep: str | None = " ",
    ) -> None:
        if reason is None:
            reason, sep = _split_message(message or "", field)
        elif field is None:
            sep = None
        self.field = field
        self.reason = reason
        self.source = source
        self.sep = sep
        super().__init__(f"{source}: {self.message}" if source else self.message)

    @property
    def message(self) -> str:
        """The text without the source: what a form shows under the field."""
        return f"{self.field}{self.sep}{self.reason}" if self.sep is not None else self.reason

    def __reduce__(self) -> tuple[Any, ...]:
        # keep the parts across pickling (a child process raising for its parent)
        parts = {"field": self.field, "source": self.source, "reason": self.reason, "sep": self.sep}
        return (_rebuild, (type(self), parts))


def _split_message(message: str, field: str | None) -> tuple[str, str | None]:
    """``(reason, sep)`` of an old-style whole message (see :class:`ConfigError`)."""
    if field:
        for sep in (": ", " "):
            if message.startswith(field + sep):
                return message[len(field) + len(sep) :], sep
    return message, None


def _rebuild(cls: type[ConfigError], parts: dict[str, Any]) -> ConfigError:
    return cls(**parts)


class PresetError(ConfigError):
    """A preset file is malformed or names an unknown field or value."""


class ThemeError(ConfigError):
    """A theme file is malformed or names an unknown field or value."""


class RejectedError(ClawletError):
    """The engine refused the request without running it (queue full, engine stopping)."""


class PredictedLate(RejectedError):
    """Refused at once: the fitted batch cost shows the request cannot finish within its
    ``request_timeout_s`` behind the queue ahead of it (``shed_late``), so it is not left to
    wait and time out."""


class RequestTimeout(ClawletError, TimeoutError):
    """The request did not finish within its per-request timeout."""


class BackendError(ClawletError):
    """The model or remote backend failed while computing a batch that held this request.

    ``kind`` names what went wrong underneath (the model's exception class, ``Hang``, ...);
    the monitor counts errors by it.
    """

    def __init__(self, message: str, *, kind: str = "BackendError") -> None:
        self.kind = kind
        super().__init__(message)


class EngineStopped(ClawletError):
    """The engine stopped before the request could finish (drain deadline passed)."""
