"""Validation rules: one table per record, one checker, one "did you mean".

Every record that takes user input (``OptimizationConfig``, ``LoadProfile``, a preset's
top level, ``RemoteBackend``'s arguments) describes each value with a :class:`Rule` in a
table and checks it with :meth:`Rule.check`, which raises a
:class:`~clawlet_tui.engine.errors.ConfigError` whose ``field`` is the value's name and
whose ``reason`` says the rule and the value (``must be >= 1, got 0``).  Rules that relate
two values (a ramp needs a duration, closed loop needs no rate) stay code next to the
table.  :func:`did_you_mean` is the one place that suggests a name for a misspelt one.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

#: how a message names each kind
KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


@dataclass(frozen=True)
class Rule:
    """What one value must be.  The messages read ``must be >= 1, got 0``."""

    #: bool, int, float, str (bool is never an int or a float here), another class, or
    #: ``object`` for any value (with ``choices``, the choices are the whole rule)
    kind: type
    low: float | None = None
    high: float | None = None
    #: the value must be greater than ``low``, not equal to it
    above: bool = False
    #: None is allowed
    optional: bool = False
    #: a str must be one of these
    choices: tuple[str, ...] = ()
    #: a str must hold more than white space
    non_empty: bool = False
    #: a type error names the value's type (``got str '0.1'``); False: the value only
    #: (``got 'fast'``), and a float's type error says ``a finite number``
    typed: bool = True
    #: the whole rule in a few words (``an integer >= 1``): every violation then reads
    #: ``must be <says>, got <value>``
    says: str | None = None

    def check(self, name: str, value: Any) -> Any:
        """``value`` if it keeps the rule (a float rule's as a float); else a ConfigError for ``name``."""
        reason = self.violation(value)
        if reason is not None:
            raise ConfigError(reason=reason, field=name)
        if self.kind is float and value is not None:
            return float(value)
        return value

    def violation(self, value: Any) -> str | None:
        """The reason ``value`` breaks the rule, or None."""
        reason = self._violation(value)
        if reason is not None and self.says is not None:
            return f"must be {self.says}, got {value!r}"
        return reason

    def _violation(self, value: Any) -> str | None:
        kind = self.kind
        if value is None:
            if self.optional:
                return None
            if self.typed:
                return "must be set, got None"
        if not _is_kind(value, kind):
            what = KIND_NAMES.get(kind, f"a {kind.__name__}")
            if self.typed:
                return f"must be {what}, got {type(value).__name__} {value!r}"
            return f"must be {'a finite number' if kind is float else what}, got {value!r}"
        if kind is float and not _finite(value):
            return f"must be a finite number, got {value!r}"

        def bound(b: float) -> str:
            return f"{b:g}" if kind is float else f"{int(b)}"

        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return f"must be {'>' if self.above else '>='} {bound(self.low)}, got {value!r}"
        if self.high is not None and value > self.high:
            return f"must be <= {bound(self.high)}, got {value!r}"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}, got {value!r}"
        if self.non_empty and not value.strip():
            return "must not be empty"
        return None


def check_all(rules: Mapping[str, Rule], record: object) -> None:
    """Check every field of a frozen dataclass ``record`` against its rule, in table order;
    float fields are stored as floats."""
    for name, rule in rules.items():
        value = rule.check(name, getattr(record, name))
        if rule.kind is float and value is not None:
            object.__setattr__(record, name, value)


def did_you_mean(
    name: str,
    known: Iterable[str],
    *,
    hints: Mapping[str, str] | None = None,
    also: Iterable[str] = (),
    listed: str = "known",
    always_list: bool = False,
) -> str:
    """The hint after an unknown name: `` (did you mean 'x'?)``, else `` (known: a, b)``.

    ``hints`` maps misspellings difflib would not guess (``rps`` -> ``rate_rps``);
    ``also`` are further names to suggest but not to list (aliases); ``always_list``
    lists the known names after the suggestion too (``did you mean 'x'? available: ...``).
    """
    known = sorted(known)
    if hints and name in hints:
        close = [hints[name]]
    else:
        close = difflib.get_close_matches(str(name), sorted({*known, *also}), n=1)
    names = f"{listed}: {', '.join(known) or 'none'}"
    if always_list:
        return f" (did you mean {close[0]!r}? {names})" if close else f" ({names})"
    return f" (did you mean {close[0]!r}?)" if close else f" ({names})"


def unknown_field(name: str, known: Iterable[str], *, hints: Mapping[str, str] | None = None) -> str:
    """``unknown field (did you mean 'x'?)``: the reason for a misspelt key in a file."""
    return "unknown field" + did_you_mean(name, known, hints=hints)


def _is_kind(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False
