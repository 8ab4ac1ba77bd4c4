"""Load profiles: how many requests to send and when.

A :class:`LoadProfile` is a frozen, validated description of a load, as a preset's
``[load]`` table holds it.  *Open-loop* profiles send on a schedule regardless of how
fast the engine answers (the way real users arrive); *closed-loop* profiles run N
clients that each send the next request when the last one returns.

Open-loop arrival times come from the rate function ``rate_at(t)`` integrated over time,
so a ramp from 100 to 300 req/s over 10 s issues 2000 requests, not 100 * 10 or 300 *
10.  The n-th arrival (n = 0, 1, ...) is the time the cumulative rate reaches n + 0.5
(deterministic shapes; a constant rate r for T seconds issues exactly round(r * T)), or
reaches the running sum of unit-exponential gaps (``poisson``).  Times are seconds from
the start of the load, excluding pauses.

Shapes (open loop):

=========  ============================================================================
constant   ``rate_rps`` evenly spaced
poisson    ``rate_rps`` on average, exponential gaps
ramp       ``start_rps`` to ``end_rps`` linearly over ``duration_s`` (required)
step       ``steps = [[at_s, rps], ...]``: rate ``rps`` from ``at_s`` on; the first at 0
sine       ``rate_rps`` + ``amplitude_rps`` * sin(2 pi t / ``period_s``)
bursts     ``rate_rps`` evenly spaced (may be 0) plus ``burst_size`` requests at once
           every ``burst_every_s`` (at burst_every_s, 2 * burst_every_s, ...)
=========  ============================================================================

The load ends after ``duration_s`` seconds or ``requests`` requests, whichever comes
first; at least one must be set.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..engine.errors import ConfigError, PresetError
from ..engine.rules import Rule, check_all, unknown_field
from .keys import KeySpec

MODES: tuple[str, ...] = ("open", "closed")
SHAPES: tuple[str, ...] = ("constant", "poisson", "ramp", "step", "sine", "bursts")

#: shape-specific fields: which shapes use them (and which require them)
_SHAPE_FIELDS: dict[str, tuple[str, ...]] = {
    "rate_rps": ("constant", "poisson", "sine", "bursts"),
    "start_rps": ("ramp",),
    "end_rps": ("ramp",),
    "steps": ("step",),
    "amplitude_rps": ("sine",),
    "period_s": ("sine",),
    "burst_size": ("bursts",),
    "burst_every_s": ("bursts",),
}

_MAX_RATE = 10_000_000.0

#: likely misspellings of [load] fields that difflib would not guess
_HINTS = {"rps": "rate_rps", "rate": "rate_rps", "duration": "duration_s", "clients": "concurrency", "count": "requests"}


@dataclass(frozen=True)
class LoadProfile:
    """What load to send.  Fields that do not apply to the mode or shape must stay None."""

    #: "open" (send on a schedule) or "closed" (N clients, next request when the last returns)
    mode: str = "open"
    #: open-loop arrival shape, one of :data:`SHAPES`
    shape: str = "constant"
    #: requests per second (constant, poisson), mean rate (sine), base rate (bursts)
    rate_rps: float | None = None
    #: ramp: rate at t = 0 and at t = duration_s
    start_rps: float | None = None
    end_rps: float | None = None
    #: step: ``((at_s, rps), ...)`` with increasing at_s, the first at 0
    steps: tuple[tuple[float, float], ...] | None = None
    #: sine: swing around rate_rps (<= rate_rps) and its period
    amplitude_rps: float | None = None
    period_s: float | None = None
    #: bursts: requests sent at once, and seconds between bursts
    burst_size: int | None = None
    burst_every_s: float | None = None
    #: closed loop: number of clients
    concurrency: int | None = None
    #: seconds of load (pauses do not count); None: until ``requests`` are sent
    duration_s: float | None = None
    #: requests to send; None: until ``duration_s`` has passed
    requests: int | None = None
    #: which keys the requests ask for
    keys: KeySpec = field(default_factory=KeySpec)
    #: seed of the arrival process (poisson gaps)
    seed: int = 0

    def __post_init__(self) -> None:
        _validate(self)

    # -- rates --------------------------------------------------------------------------

    def rate_at(self, t: float) -> float:
        """Intended requests per second at ``t`` seconds into the load (open loop; bursts excluded)."""
        if self.mode == "closed":
            return 0.0
        t = max(0.0, t)
        shape = self.shape
        if shape in ("constant", "poisson", "bursts"):
            return float(self.rate_rps or 0.0)
        if shape == "ramp":
            a, b, d = self._ramp()
            return a + (b - a) * min(t, d) / d
        if shape == "step":
            rate = 0.0
            for at_s, rps in self.steps or ():
                if at_s > t:
                    break
                rate = rps
            return rate
        # sine
        m, amp, period = self._sine()
        return max(0.0, m + amp * math.sin(2.0 * math.pi * t / period))

    @property
    def nominal_rps(self) -> float:
        """A representative rate: the rate, the ramp's or steps' highest, bursts averaged in."""
        if self.mode == "closed":
            return 0.0
        if self.shape == "ramp":
            return max(self._ramp()[:2])
        if self.shape == "step":
            return max(rps for _, rps in self.steps or ((0.0, 0.0),))
        if self.shape == "bursts":
            return float(self.rate_rps or 0.0) + (self.burst_size or 0) / float(self.burst_every_s or 1.0)
        return float(self.rate_rps or 0.0)

    def cumulative(self, t: float) -> float:
        """Integral of ``rate_at`` over ``[0, t]``: the requests intended by ``t`` (bursts excluded)."""
        t = max(0.0, t)
        shape = self.shape
        if shape in ("constant", "poisson", "bursts"):
            return float(self.rate_rps or 0.0) * t
        if shape == "ramp":
            a, b, d = self._ramp()
            if t <= d:
                return a * t + (b - a) * t * t / (2.0 * d)
            return (a + b) * d / 2.0 + b * (t - d)
        if shape == "step":
            total, steps = 0.0, self.steps or ()
            for i, (at_s, rps) in enumerate(steps):
                end = steps[i + 1][0] if i + 1 < len(steps) else math.inf
                if t <= at_s:
                    break
                total += rps * (min(t, end) - at_s)
            return total
        m, amp, period = self._sine()
        return m * t + amp * period / (2.0 * math.pi) * (1.0 - math.cos(2.0 * math.pi * t / period))

    def time_at(self, target: float) -> float:
        """The earliest ``t`` with ``cumulative(t) >= target`` (``inf`` if the rate never gets there)."""
        if target <= 0.0:
            return 0.0
        shape = self.shape
        if shape in ("constant", "poisson", "bursts"):
            rate = float(self.rate_rps or 0.0)
            return target / rate if rate > 0 else math.inf
        if shape == "ramp":
            a, b, d = self._ramp()
            at_end = (a + b) * d / 2.0
            if target > at_end:
                return d + (target - at_end) / b if b > 0 else math.inf
            k = (b - a) / d
            # root of k/2 t^2 + a t - target = 0, in the form that is stable for k of either sign
            return 2.0 * target / (a + math.sqrt(max(0.0, a * a + 2.0 * k * target)))
        if shape == "step":
            total, steps = 0.0, self.steps or ()
            for i, (at_s, rps) in enumerate(steps):
                end = steps[i + 1][0] if i + 1 < len(steps) else math.inf
                span = rps * (end - at_s) if rps > 0 else 0.0
                if total + span >= target:
                    return at_s + (target - total) / rps
                total += span
            return math.inf
        m, amp, period = self._sine()
        if m <= 0:
            return math.inf
        # cumulative(t) lies in [m t, m t + amp period / pi]: bracket, then safeguarded Newton
        lo, hi = max(0.0, (target - amp * period / math.pi) / m), target / m
        t = (lo + hi) / 2.0
        for _ in range(100):
            value = self.cumulative(t) - target
            if abs(value) < 1e-9 * max(1.0, target):
                return t
            if value > 0:
                hi = t
            else:
                lo = t
            rate = self.rate_at(t)
            guess = t - value / rate if rate > 0 else (lo + hi) / 2.0
            t = guess if lo < guess < hi else (lo + hi) / 2.0
            if hi - lo < 1e-12:
                break
        return t

    # -- schedules ----------------------------------------------------------------------

    def arrivals(self, rng: np.random.Generator | None = None) -> Iterator[float]:
        """Intended send times (seconds from the start) of every request, in order."""
        schedule = ArrivalSchedule(self, rng)
        while (t := schedule.pop()) is not None:
            yield t

    def expected_requests(self) -> float | None:
        """Requests an open-loop profile intends to send (None when unbounded or closed loop)."""
        if self.mode == "closed":
            return float(self.requests) if self.requests is not None else None
        if self.duration_s is None:
            return float(self.requests) if self.requests is not None else None
        expected = self.cumulative(self.duration_s)
        if self.shape == "bursts":
            expected += math.ceil(self.duration_s / float(self.burst_every_s or 1.0) - 1) * (self.burst_size or 0)
        return min(expected, self.requests) if self.requests is not None else expected

    # -- text ---------------------------------------------------------------------------

    def describe(self) -> str:
        """One line, e.g. ``open loop, poisson 200 req/s, 30 s, zipf(1.1) over 1000 keys``."""
        if self.mode == "closed":
            clients = "client" if self.concurrency == 1 else "clients"
            what = f"closed loop, {self.concurrency} {clients}"
        else:
            what = f"open loop, {self._describe_shape()}"
        ends = []
        if self.duration_s is not None:
            ends.append(format_duration(self.duration_s))
        if self.requests is not None:
            ends.append(f"{self.requests} requests")
        return f"{what}, {' or '.join(ends)}, {self.keys.describe()}"

    def _describe_shape(self) -> str:
        shape = self.shape
        if shape in ("constant", "poisson"):
            return f"{shape} {_fmt_rate(self.rate_rps)} req/s"
        if shape == "ramp":
            a, b, _ = self._ramp()
            return f"ramp {_fmt_rate(a)}->{_fmt_rate(b)} req/s"
        if shape == "step":
            rates = "/".join(_fmt_rate(rps) for _, rps in self.steps or ())
            times = "/".join(f"{at_s:g}" for at_s, _ in self.steps or ())
            return f"steps {rates} req/s at {times} s"
        if shape == "sine":
            return f"sine {_fmt_rate(self.rate_rps)}±{_fmt_rate(self.amplitude_rps)} req/s every {self.period_s:g} s"
        bursts = f"bursts of {self.burst_size} every {self.burst_every_s:g} s"
        return f"{_fmt_rate(self.rate_rps)} req/s + {bursts}" if self.rate_rps else bursts

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], *, source: str | None = None) -> LoadProfile:
        """Build a profile from a preset's ``[load]`` table.

        Errors are :class:`PresetError` reading ``SOURCE: load.FIELD: reason``.
        """
        if not isinstance(table, Mapping):
            raise _preset_error("load", f"must be a table, got {type(table).__name__}", source)
        values: dict[str, Any] = {}
        if table.get("mode") == "closed" and "shape" in table:
            raise _preset_error("load.shape", "is for open loop, not mode 'closed'", source)
        for name, value in table.items():
            if name not in _FIELD_NAMES:
                raise _preset_error(f"load.{name}", unknown_field(name, _FIELD_NAMES, hints=_HINTS), source)
            if name == "keys":
                value = _keys_from_mapping(value, source)
            elif name == "steps":
                value = _steps_from_value(value, source)
            values[name] = value
        try:
            return cls(**values)
        except ConfigError as exc:
            raise _preset_error(f"load.{exc.field}", exc.reason, source) from None

    # -- internals ----------------------------------------------------------------------

    def _ramp(self) -> tuple[float, float, float]:
        return float(self.start_rps or 0.0), float(self.end_rps or 0.0), float(self.duration_s or 1.0)

    def _sine(self) -> tuple[float, float, float]:
        return float(self.rate_rps or 0.0), float(self.amplitude_rps or 0.0), float(self.period_s or 1.0)


class ArrivalSchedule:
    """The open-loop arrival times of a profile, one at a time, with a live rate scale.

    :meth:`set_scale` multiplies the profile's rate (and burst sizes) from a given time
    on (the dashboard's "faster / slower"); arrivals before that time keep their times.
    Times are seconds of load time (pauses excluded); ``None`` means the load has ended.
    """

    def __init__(self, profile: LoadProfile, rng: np.random.Generator | None = None) -> None:
        if profile.mode != "open":
            raise ValueError("closed-loop profiles have no arrival schedule")
        self.profile = profile
        self._rng = rng if rng is not None else np.random.default_rng(profile.seed)
        self._poisson = profile.shape == "poisson"
        #: the scaled cumulative rate at which the next evenly spaced / poisson arrival is due
        self._threshold = self._gap() if self._poisson else 0.5
        # piecewise-constant scale: from load time _t0 on,
        # scaled cumulative(t) = _u0 + scale * (profile.cumulative(t) - _lam0)
        self.scale = 1.0
        self._t0 = 0.0
        self._lam0 = 0.0
        self._u0 = 0.0
        self._next_smooth: float | None = None
        every = profile.burst_every_s  # validation requires it for "bursts"
        self._every = float(every) if profile.shape == "bursts" and every is not None else math.inf
        #: the next burst is due at _burst_index * burst_every_s; _burst_left of it remain (0: not started)
        self._burst_index = 1
        self._burst_left = 0
        #: arrivals popped so far
        self.issued = 0

    def rate_at(self, t: float) -> float:
        """The scaled rate at load time ``t`` (bursts excluded)."""
        return self.scale * self.profile.rate_at(t)

    def set_scale(self, t: float, scale: float) -> None:
        """Multiply the profile's rate by ``scale`` from load time ``t`` on."""
        if not math.isfinite(scale) or scale < 0:
            raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
        lam = self.profile.cumulative(t)
        self._u0 += self.scale * (lam - self._lam0)
        self._t0, self._lam0, self.scale = t, lam, scale
        self._next_smooth = None
        if self._burst_left == 0 and self._burst_index * self._every < t:
            # bursts skipped while scaled to nothing are not sent late
            self._burst_index = max(1, math.ceil(t / self._every))

    def peek(self) -> float | None:
        """Time of the next arrival without consuming it."""
        nxt = self._peek()
        return nxt[0] if nxt else None

    def pop(self) -> float | None:
        """The next arrival time, consumed."""
        nxt = self._peek()
        if nxt is None:
            return None
        t, is_burst = nxt
        self.issued += 1
        if is_burst:
            if self._burst_left == 0:
                self._burst_left = self._burst_size()
            self._burst_left -= 1
            if self._burst_left == 0:
                self._burst_index += 1
        else:
            self._threshold += self._gap() if self._poisson else 1.0
            self._next_smooth = None
        return t

    def _peek(self) -> tuple[float, bool] | None:
        profile = self.profile
        if profile.requests is not None and self.issued >= profile.requests:
            return None
        t, is_burst = self._smooth_time(), False
        if math.isfinite(self._every) and (self._burst_left > 0 or self._burst_size() > 0):
            burst_t = self._burst_index * self._every
            if burst_t <= t:
                t, is_burst = burst_t, True
        if not math.isfinite(t) or (profile.duration_s is not None and t >= profile.duration_s):
            return None
        return t, is_burst

    def _smooth_time(self) -> float:
        if self._next_smooth is None:
            if self.scale <= 0:
                self._next_smooth = math.inf
            else:
                self._next_smooth = self.profile.time_at(self._lam0 + (self._threshold - self._u0) / self.scale)
        return self._next_smooth

    def _burst_size(self) -> int:
        return round((self.profile.burst_size or 0) * self.scale)

    def _gap(self) -> float:
        return float(self._rng.exponential(1.0))


# -- validation -------------------------------------------------------------------------

_FIELD_NAMES = frozenset(f.name for f in fields(LoadProfile))

#: every profile, then each mode's, then each open-loop shape's value rules (see
#: engine/rules.py); which fields a mode or shape needs is :data:`_SHAPE_FIELDS`
_COMMON_RULES: dict[str, Rule] = {
    "mode": Rule(object, choices=MODES),
    "keys": Rule(KeySpec, typed=False),
    "seed": Rule(int, typed=False),
    "duration_s": Rule(float, 0.0, above=True, optional=True, typed=False),
    "requests": Rule(int, 1, optional=True, typed=False),
}
_CLOSED_RULES: dict[str, Rule] = {"concurrency": Rule(int, 1, 100_000, typed=False)}
_SHAPE_RULE: dict[str, Rule] = {"shape": Rule(object, choices=SHAPES)}
_RATE = Rule(float, 0.0, _MAX_RATE, typed=False)
_POSITIVE_RATE = Rule(float, 0.0, _MAX_RATE, above=True, typed=False)
_SHAPE_RULES: dict[str, dict[str, Rule]] = {
    "constant": {"rate_rps": _POSITIVE_RATE},
    "poisson": {"rate_rps": _POSITIVE_RATE},
    "sine": {
        "rate_rps": _POSITIVE_RATE,
        "amplitude_rps": Rule(float, 0.0, typed=False),
        "period_s": Rule(float, 0.0, above=True, typed=False),
    },
    "bursts": {
        "rate_rps": _RATE,
        "burst_size": Rule(int, 1, 10_000_000, typed=False),
        "burst_every_s": Rule(float, 0.0, above=True, typed=False),
    },
    "ramp": {"start_rps": _RATE, "end_rps": _RATE},
    "step": {},
}


def _validate(p: LoadProfile) -> None:
    check_all(_COMMON_RULES, p)
    if p.duration_s is None and p.requests is None:
        raise ConfigError(reason="is missing: set duration_s or requests (the load has to end)", field="duration_s")

    if p.mode == "closed":
        for name in _SHAPE_FIELDS:
            if getattr(p, name) is not None:
                raise ConfigError(reason="is for open loop, not mode 'closed'", field=name)
        if p.concurrency is None:
            raise ConfigError(reason="is required for mode 'closed'", field="concurrency")
        check_all(_CLOSED_RULES, p)
        return

    if p.concurrency is not None:
        raise ConfigError(reason="is for mode 'closed', not open loop", field="concurrency")
    check_all(_SHAPE_RULE, p)
    for name, shapes in _SHAPE_FIELDS.items():
        if p.shape in shapes:
            if getattr(p, name) is None:
                raise ConfigError(reason=f"is required for shape {p.shape!r}", field=name)
        elif getattr(p, name) is not None:
            users = " or ".join(repr(s) for s in shapes)
            raise ConfigError(reason=f"is not used by shape {p.shape!r} (only by {users})", field=name)
    check_all(_SHAPE_RULES[p.shape], p)

    if p.shape == "ramp":
        if p.start_rps == 0 and p.end_rps == 0:
            raise ConfigError(reason="must be > 0 when start_rps is 0", field="end_rps")
        if p.duration_s is None:
            raise ConfigError(reason="is required for shape 'ramp' (the ramp spans it)", field="duration_s")
    elif p.shape == "step":
        _validate_steps(p)
    # both fields are Optional, but "sine" requires them (checked above)
    elif p.shape == "sine" and p.amplitude_rps > p.rate_rps:  # type: ignore[operator]
        raise ConfigError(
            reason=f"must be <= rate_rps ({p.rate_rps:g}) so the rate stays >= 0, got {p.amplitude_rps!r}",
            field="amplitude_rps",
        )


def _validate_steps(p: LoadProfile) -> None:
    """``steps`` is a list of pairs, so its messages name the item (``steps[1] must be ...``)."""

    def invalid(reason: str) -> ConfigError:
        return ConfigError(reason=reason, field="steps", sep=None)

    steps = p.steps
    if not isinstance(steps, (tuple, list)) or not steps:
        raise invalid(f"steps must be a non-empty list of [at_s, rps] pairs, got {steps!r}")
    clean: list[tuple[float, float]] = []
    for i, step in enumerate(steps):
        if (
            not isinstance(step, (tuple, list))
            or len(step) != 2
            or not all(_is_number(v) and math.isfinite(v) for v in step)
        ):
            raise invalid(f"steps[{i}] must be a pair [at_s, rps] of numbers, got {step!r}")
        at_s, rps = float(step[0]), float(step[1])
        if rps < 0 or rps > _MAX_RATE:
            raise invalid(f"steps[{i}] rps must be in [0, {_MAX_RATE:g}], got {step[1]!r}")
        if i == 0 and at_s != 0:
            raise invalid(f"steps[0] must start at 0 s, got {step[0]!r}")
        if i > 0 and at_s <= clean[-1][0]:
            raise invalid(f"steps[{i}] at_s must be greater than the previous step's, got {step[0]!r}")
        clean.append((at_s, rps))
    if all(rps == 0 for _, rps in clean):
        raise ConfigError(reason="must have a rate > 0 somewhere", field="steps")
    object.__setattr__(p, "steps", tuple(clean))


def _keys_from_mapping(value: Any, source: str | None) -> KeySpec:
    if not isinstance(value, Mapping):
        raise _preset_error("load.keys", f"must be a table, got {type(value).__name__}", source)
    names = frozenset(f.name for f in fields(KeySpec))
    for name in value:
        if name not in names:
            raise _preset_error(f"load.keys.{name}", unknown_field(name, names), source)
    try:
        return KeySpec(**value)
    except ConfigError as exc:
        raise _preset_error(f"load.keys.{exc.field}", exc.reason, source) from None


def _steps_from_value(value: Any, source: str | None) -> Any:
    if isinstance(value, list):
        return tuple(tuple(step) if isinstance(step, list) else step for step in value)
    return value


def _preset_error(path: str, reason: str, source: str | None) -> PresetError:
    """``SOURCE: load.FIELD: reason``."""
    return PresetError(reason=reason, field=path, sep=": ", source=source)


def _fmt_rate(value: float | None) -> str:
    return f"{value or 0.0:g}"


def format_duration(seconds: float) -> str:
    """``90 s``, ``5 min``, ``2 h``: how a load's length reads everywhere."""
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
