"""Error types of the engine.

Every request submitted to :class:`~clawlet_tui.engine.engine.ClawletEngine` ends in
exactly one outcome: a result, or one of these errors.  The monitor counts errors by
class name, and the CLI maps :class:`ClawletError` subclasses to one-line messages
and exit codes (bad user input -> 2).
"""

from __future__ import annotations


class ClawletError(Exception):
    """Base class of every error clawlet raises on purpose."""

    #: process exit code the CLI uses when this error ends a command
    exit_code: int = 1


class ConfigError(ClawletError, ValueError):
    """A configuration value broke a rule.  The message names the field, the value and the rule."""

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None) -> None:
        self.field = field
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


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
