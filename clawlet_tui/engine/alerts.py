"""Alerts as thresholds: rules on the monitor's window figures, judged snapshot by snapshot.

A preset's ``[[alerts]]`` tables (and its ``slo_p99_ms``, an implicit ``p99_ms`` rule)
become :class:`AlertRule` records; an :class:`AlertEvaluator` is fed every
:class:`~.snapshot.MetricsSnapshot` a run or the dashboard takes and says when each rule
fires and resolves.  Guarantees:

* **The clock is the snapshot's.**  Time is ``snapshot.time_s``, the engine clock when the
  figures were measured, never the time the reader got them: an alert's ``for_s`` means
  the same in ``run`` (4 snapshots a second), in the dashboard (2 a second, across a
  pipe) and in a test that builds snapshots by hand.  Times shown and reported are run
  time (``snapshot.uptime_s``).
* **Debounced both ways** (``for_s``): a rule fires once its condition has held for
  ``for_s`` seconds without a break, and a firing rule resolves once the condition has
  been clear for ``for_s`` seconds, so a value hovering at the threshold does not print
  a line every tick.  ``for_s = 0`` fires and resolves on the first snapshot.
* **No data is not a breach.**  A latency rule with no request finished in the window has
  no value; it counts as clear (a paused load resolves a latency alert).
* **Bounded**: one state per rule, and one :class:`AlertEvent` per firing.

Metrics (all over the monitor's window, ``window_s``, except the two gauges):

=============  ===========================================================  ======
metric         value                                                        unit
=============  ===========================================================  ======
p99_ms         P99 latency of the window                                    ms
p50_ms         P50 latency of the window                                    ms
success_rate   succeeded / (succeeded + failed, rejected, timed out)        ratio
error_rate     1 - success_rate                                             ratio
throughput     completed requests per second                                req/s
queue_depth    requests waiting in the batcher's queue now (gauge)          requests
memory_usage   process RSS / memory budget now (gauge; may pass 1)          ratio
=============  ===========================================================  ======

The rates and memory_usage are fractions, not percentages: ``below = 0.99`` is 99%.  A threshold above 1
for them is refused (``99`` is almost surely meant as 99%), which a percentage scale
could not catch for ``0.99`` meant as 0.99%.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .rules import Rule, unknown_field
from .snapshot import MetricsSnapshot


@dataclass(frozen=True)
class AlertMetric:
    """One metric a rule may watch: how to read it from a snapshot, its unit, its range."""

    name: str
    unit: str
    #: the value, or None when the window has nothing to say (no latency measured)
    read: Callable[[MetricsSnapshot], float | None] = field(compare=False, repr=False)
    #: a fraction (0..1): thresholds above 1 are refused
    fraction: bool = False


def _latency(pick: Callable[[MetricsSnapshot], float]) -> Callable[[MetricsSnapshot], float | None]:
    def read(s: MetricsSnapshot) -> float | None:
        return pick(s) if s.window_latency.count else None

    return read


def _error_rate(s: MetricsSnapshot) -> float:
    finished = s.window_throughput_rps + s.window_error_rps
    return s.window_error_rps / finished if finished > 0 else 0.0


#: every metric a rule may name, in the order the docs list them
METRICS: dict[str, AlertMetric] = {
    m.name: m
    for m in (
        AlertMetric("p99_ms", "ms", _latency(lambda s: s.window_latency.p99_ms)),
        AlertMetric("p50_ms", "ms", _latency(lambda s: s.window_latency.p50_ms)),
        AlertMetric("success_rate", "ratio", lambda s: 1.0 - _error_rate(s), fraction=True),
        AlertMetric("error_rate", "ratio", _error_rate, fraction=True),
        AlertMetric("throughput", "req/s", lambda s: s.window_throughput_rps),
        AlertMetric("queue_depth", "requests", lambda s: float(s.concurrency.queue_depth)),
        AlertMetric("memory_usage", "ratio", lambda s: s.memory.usage_fraction, fraction=True),
    )
}

#: the fields of an ``[[alerts]]`` table
RULE_FIELDS = ("metric", "above", "below", "for_s")

_THRESHOLD = Rule(float, 0.0, optional=True, says="a number >= 0")
_RULES: dict[str, Rule] = {
    "metric": Rule(str, choices=tuple(METRICS), typed=False),
    "above": _THRESHOLD,
    "below": _THRESHOLD,
    "for_s": Rule(float, 0.0, says="a number of seconds >= 0"),
}


@dataclass(frozen=True)
class AlertRule:
    """``metric`` above (or below) a threshold for ``for_s`` seconds.  Exactly one of
    ``above`` and ``below`` is set; a bad rule raises :class:`ConfigError` naming the field."""

    metric: str
    above: float | None = None
    below: float | None = None
    for_s: float = 0.0
    #: where the rule came from, for messages and reports (``alerts[2]``, ``slo_p99_ms``)
    origin: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for name, rule in _RULES.items():
            value = rule.check(name, getattr(self, name))
            if rule.kind is float and value is not None:
                object.__setattr__(self, name, value)
        if (self.above is None) == (self.below is None):
            which = "both" if self.above is not None else "neither"
            raise ConfigError(reason=f"give one of above or below, got {which}", field="above", sep=": ")
        if METRICS[self.metric].fraction and self.threshold > 1.0:
            raise ConfigError(
                reason=f"{self.metric} is a fraction (0.99 = 99%): must be <= 1, got {self.threshold:g}",
                field=self.direction, sep=": ",
            )

    @property
    def direction(self) -> str:
        """``"above"`` or ``"below"``."""
        return "above" if self.above is not None else "below"

    @property
    def threshold(self) -> float:
        value = self.above if self.above is not None else self.below
        assert value is not None  # __post_init__ checked one is set
        return value

    @property
    def unit(self) -> str:
        return METRICS[self.metric].unit

    def breached(self, value: float | None) -> bool:
        """The condition holds for ``value`` (None, no data, never does)."""
        if value is None:
            return False
        return value > self.threshold if self.above is not None else value < self.threshold

    def value(self, snapshot: MetricsSnapshot) -> float | None:
        return METRICS[self.metric].read(snapshot)

    def describe(self) -> str:
        """``p99_ms > 50 ms for 5 s``: what the rule says, in one short line."""
        sign = ">" if self.above is not None else "<"
        held = f" for {self.for_s:g} s" if self.for_s else ""
        return f"{self.metric} {sign} {format_alert_value(self.threshold, self.unit)}{held}"

    def to_dict(self) -> dict[str, Any]:
        """The rule as an ``[[alerts]]`` table (reports, tuned presets)."""
        table: dict[str, Any] = {"metric": self.metric, self.direction: self.threshold}
        if self.for_s:
            table["for_s"] = self.for_s
        return table

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], *, origin: str = "") -> AlertRule:
        """A rule from an ``[[alerts]]`` table; ConfigError names the field (unknown ones too)."""
        if not isinstance(table, Mapping):
            raise ConfigError(reason=f"must be a table, got {type(table).__name__}", field="", sep=None)
        for key in table:
            if key not in RULE_FIELDS:
                raise ConfigError(reason=unknown_field(key, RULE_FIELDS), field=str(key), sep=": ")
        if "metric" not in table:
            raise ConfigError(reason=f"is required (one of {', '.join(METRICS)})", field="metric", sep=" ")
        return cls(
            metric=table["metric"], above=table.get("above"), below=table.get("below"),
            for_s=table.get("for_s", 0.0), origin=origin,
        )


def format_alert_value(value: float, unit: str) -> str:
    """``62.1 ms``, ``412 req/s``, ``97.5%`` for a fraction (unit ``ratio``)."""
    if unit == "ratio":
        return f"{value * 100:.4g}%"
    if unit == "requests":
        return f"{value:g}"
    return f"{value:.4g} {unit}"


def parse_alerts(value: Any) -> tuple[AlertRule, ...]:
    """The rules of a preset's ``alerts`` value (an array of tables).

    Raises ConfigError whose field is the place in the file: ``alerts[2].above`` (tables
    counted from 1, as a reader counts them).
    """
    if not isinstance(value, list):
        raise ConfigError(
            reason=f"must be an array of tables ([[alerts]]), got {type(value).__name__}", field="alerts", sep=": "
        )
    rules = []
    for number, table in enumerate(value, start=1):
        where = f"alerts[{number}]"
        try:
            rules.append(AlertRule.from_mapping(table, origin=where))
        except ConfigError as exc:
            inner = f"{where}.{exc.field}" if exc.field else where
            raise ConfigError(reason=exc.reason, field=inner, sep=": ") from None
    return tuple(rules)


def preset_alert_rules(preset: Any) -> tuple[AlertRule, ...]:
    """Every rule a preset asks for: its ``[[alerts]]``, then ``slo_p99_ms`` as an implicit
    ``p99_ms > slo`` rule (held 0 s) unless an explicit rule says exactly that already."""
    rules: tuple[AlertRule, ...] = tuple(getattr(preset, "alerts", ()) or ())
    slo = getattr(preset, "slo_p99_ms", None)
    if slo is not None:
        implicit = AlertRule("p99_ms", above=float(slo), origin="slo_p99_ms")
        if not any(r.metric == "p99_ms" and r.above == implicit.above for r in rules):
            rules += (implicit,)
    return rules


@dataclass(frozen=True)
class AlertEvent:
    """One firing of a rule: when it fired, when (if) it resolved, the worst value meanwhile."""

    rule: AlertRule
    #: run time (``snapshot.uptime_s``) when it fired
    fired_at_s: float
    #: the value that made it fire
    fired_value: float
    #: the worst value while it was pending or firing (highest for ``above``, lowest for ``below``)
    peak: float
    #: run time when it resolved; None while it fires (or if the run ended with it firing)
    resolved_at_s: float | None = None
    #: the value when it resolved (None: no data, e.g. no latency measured in the window)
    resolved_value: float | None = None

    @property
    def firing(self) -> bool:
        return self.resolved_at_s is None

    def line(self) -> str:
        """``12.3s FIRING   p99_ms > 50 ms for 5 s: 62.1 ms``, or the RESOLVED line."""
        unit = self.rule.unit
        if self.firing:
            return f"{self.fired_at_s:.1f}s FIRING   {self.rule.describe()}: {format_alert_value(self.fired_value, unit)}"
        now = "no data" if self.resolved_value is None else format_alert_value(self.resolved_value, unit)
        assert self.resolved_at_s is not None
        return (
            f"{self.resolved_at_s:.1f}s RESOLVED {self.rule.describe()}: {now} "
            f"(peak {format_alert_value(self.peak, unit)}, fired at {self.fired_at_s:.1f}s)"
        )


@dataclass(frozen=True)
class AlertState:
    """What readers (the dashboard's widgets) need: the alerts firing now, and the history."""

    #: rules being judged
    rules: tuple[AlertRule, ...] = ()
    #: the events of the rules firing now, in firing order
    firing: tuple[AlertEvent, ...] = ()
    #: every event so far, in firing order (firing ones included)
    events: tuple[AlertEvent, ...] = ()

    def firing_metrics(self) -> frozenset[str]:
        return frozenset(event.rule.metric for event in self.firing)


class _Track:
    """One rule's state: clear, pending (breached since ``since``), firing, or resolving."""

    __slots__ = ("rule", "since", "clear_since", "peak", "event", "index")

    def __init__(self, rule: AlertRule) -> None:
        self.rule = rule
        #: engine time the current breach began (None: not breached)
        self.since: float | None = None
        #: firing: engine time the condition last became clear (None: still breached)
        self.clear_since: float | None = None
        #: the worst value since the breach began
        self.peak: float | None = None
        #: the firing event (None: not firing) and its place in the evaluator's history
        self.event: AlertEvent | None = None
        self.index = -1

    def worse(self, value: float) -> float:
        if self.peak is None:
            return value
        return max(self.peak, value) if self.rule.above is not None else min(self.peak, value)


class AlertEvaluator:
    """Judges rules on successive snapshots; see the module doc for the guarantees."""

    def __init__(self, rules: Iterable[AlertRule] = ()) -> None:
        self._tracks: list[_Track] = []
        self._events: list[AlertEvent] = []
        self.set_rules(rules)

    @property
    def rules(self) -> tuple[AlertRule, ...]:
        return tuple(track.rule for track in self._tracks)

    def set_rules(self, rules: Iterable[AlertRule]) -> None:
        """Judge ``rules`` from now on (a preset switch).  A rule kept keeps its state; a rule
        dropped while firing stays in the history as it was (it stopped being judged)."""
        old = {track.rule: track for track in self._tracks}
        self._tracks = [old.get(rule) or _Track(rule) for rule in dict.fromkeys(rules)]

    def observe(self, snapshot: MetricsSnapshot) -> tuple[AlertEvent, ...]:
        """Judge every rule on ``snapshot``; returns the events that fired or resolved on it."""
        changes = [change for track in self._tracks if (change := self._judge(track, snapshot)) is not None]
        return tuple(changes)

    def _judge(self, track: _Track, snapshot: MetricsSnapshot) -> AlertEvent | None:
        now, rule = snapshot.time_s, track.rule
        value = rule.value(snapshot)
        if rule.breached(value):
            assert value is not None
            track.peak = track.worse(value)
            track.clear_since = None
            if track.since is None:
                track.since = now
            if track.event is not None:  # firing: keep its peak up to date
                if track.peak != track.event.peak:
                    self._record(track, dataclasses.replace(track.event, peak=track.peak))
                return None
            if now - track.since < rule.for_s:  # pending
                return None
            event = AlertEvent(rule, fired_at_s=snapshot.uptime_s, fired_value=value, peak=track.peak)
            track.event, track.index = event, len(self._events)
            self._events.append(event)
            return event
        track.since = None
        if track.event is None:  # clear (a pending breach ended before for_s)
            track.peak = None
            return None
        if track.clear_since is None:
            track.clear_since = now
        if now - track.clear_since < rule.for_s:  # resolving
            return None
        resolved = dataclasses.replace(track.event, resolved_at_s=snapshot.uptime_s, resolved_value=value)
        self._record(track, resolved)
        track.event = None
        track.peak = track.clear_since = None
        return resolved

    def _record(self, track: _Track, event: AlertEvent) -> None:
        self._events[track.index] = event
        track.event = event

    @property
    def events(self) -> tuple[AlertEvent, ...]:
        """Every firing so far, in order; those still firing have ``resolved_at_s`` None."""
        return tuple(self._events)

    @property
    def fired(self) -> bool:
        return bool(self._events)

    def state(self) -> AlertState:
        firing = sorted((t for t in self._tracks if t.event is not None), key=lambda t: t.index)
        return AlertState(
            rules=self.rules, firing=tuple(t.event for t in firing if t.event is not None), events=self.events
        )


def alert_lines(events: Sequence[AlertEvent]) -> list[str]:
    """One line per event (what ``run`` prints)."""
    return [event.line() for event in events]


__all__ = [
    "METRICS",
    "AlertEvaluator",
    "AlertEvent",
    "AlertMetric",
    "AlertRule",
    "AlertState",
    "alert_lines",
    "format_alert_value",
    "parse_alerts",
    "preset_alert_rules",
]
