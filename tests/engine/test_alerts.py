"""Alert rules and their evaluator, on snapshots built by hand: the clock is ``time_s``."""

from __future__ import annotations

import pytest

from clawlet_tui.engine.alerts import (
    AlertEvaluator,
    AlertRule,
    parse_alerts,
    preset_alert_rules,
)
from clawlet_tui.engine.errors import ConfigError
from clawlet_tui.engine.snapshot import ConcurrencyStats, LatencyStats, MemoryStats, MetricsSnapshot

START = 1000.0


def snap(t: float, *, p99: float | None = None, p50: float = 1.0, rps: float = 100.0, errors: float = 0.0,
         queue: int = 0, memory: float = 0.1) -> MetricsSnapshot:
    """A snapshot at run time ``t`` (engine clock START + t); ``p99=None``: no latency in the window."""
    latency = LatencyStats() if p99 is None else LatencyStats(count=50, p50_ms=p50, p99_ms=p99)
    return MetricsSnapshot(
        time_s=START + t, uptime_s=t, window_latency=latency, window_throughput_rps=rps, window_error_rps=errors,
        concurrency=ConcurrencyStats(queue_depth=queue), memory=MemoryStats(usage_fraction=memory),
    )


def test_fires_after_for_s_and_resolves_after_for_s_clear():
    rule = AlertRule("p99_ms", above=50, for_s=5)
    ev = AlertEvaluator([rule])
    assert ev.observe(snap(0.0, p99=10)) == ()
    assert ev.observe(snap(1.0, p99=60)) == ()  # pending since 1.0
    assert ev.observe(snap(5.5, p99=80)) == ()  # 4.5 s: still pending
    (fired,) = ev.observe(snap(6.0, p99=70))
    assert fired.firing and fired.fired_at_s == 6.0 and fired.fired_value == 70 and fired.peak == 80
    assert ev.state().firing == (fired,)
    assert ev.observe(snap(7.0, p99=90)) == ()
    assert ev.state().firing[0].peak == 90  # the peak follows while it fires
    assert ev.observe(snap(8.0, p99=40)) == ()  # clear since 8.0: resolving
    assert ev.observe(snap(12.9, p99=45)) == ()
    (resolved,) = ev.observe(snap(13.0, p99=42))
    assert not resolved.firing
    assert (resolved.fired_at_s, resolved.resolved_at_s, resolved.resolved_value, resolved.peak) == (6.0, 13.0, 42, 90)
    assert ev.events == (resolved,) and ev.state().firing == ()
    assert "RESOLVED p99_ms > 50 ms for 5 s: 42 ms (peak 90 ms, fired at 6.0s)" in resolved.line()
    assert fired.line() == "6.0s FIRING   p99_ms > 50 ms for 5 s: 70 ms"


def test_a_break_in_the_breach_restarts_the_wait():
    """Hysteresis: pending needs for_s without a break; firing needs for_s clear to resolve."""
    ev = AlertEvaluator([AlertRule("p99_ms", above=50, for_s=3)])
    ev.observe(snap(0.0, p99=60))
    ev.observe(snap(2.5, p99=40))  # the breach breaks before 3 s
    assert ev.observe(snap(3.5, p99=60)) == ()  # pending again from 3.5
    assert ev.observe(snap(6.0, p99=60)) == ()
    (fired,) = ev.observe(snap(6.5, p99=60))
    assert fired.fired_at_s == 6.5
    # a dip shorter than for_s does not resolve it, and the next breach keeps the same event
    assert ev.observe(snap(7.0, p99=10)) == ()
    assert ev.observe(snap(9.0, p99=70)) == ()
    assert ev.observe(snap(11.5, p99=10)) == ()
    assert len(ev.events) == 1 and ev.events[0].firing


def test_for_s_zero_fires_and_resolves_on_the_first_snapshot():
    ev = AlertEvaluator([AlertRule("throughput", below=100)])
    (fired,) = ev.observe(snap(1.0, rps=50))
    assert fired.fired_at_s == 1.0 and fired.peak == 50
    (resolved,) = ev.observe(snap(1.25, rps=150))
    assert resolved.resolved_at_s == 1.25
    (again,) = ev.observe(snap(2.0, rps=20))
    assert len(ev.events) == 2 and ev.events[1] == again and again.peak == 20  # lowest for a below-rule


def test_no_latency_in_the_window_counts_as_clear():
    ev = AlertEvaluator([AlertRule("p99_ms", above=5)])
    (fired,) = ev.observe(snap(1.0, p99=9))
    (resolved,) = ev.observe(snap(2.0, p99=None))
    assert resolved.resolved_value is None and "no data" in resolved.line()


@pytest.mark.parametrize(
    ("rule", "kwargs", "value"),
    [
        (AlertRule("p50_ms", above=2), {"p99": 9, "p50": 3}, 3),
        (AlertRule("error_rate", above=0.2), {"rps": 60, "errors": 40}, 0.4),
        (AlertRule("success_rate", below=0.9), {"rps": 60, "errors": 40}, 0.6),
        (AlertRule("queue_depth", above=10), {"queue": 30}, 30),
        (AlertRule("memory_usage", above=0.5), {"memory": 0.75}, 0.75),
    ],
)
def test_each_metric_reads_its_window_figure(rule: AlertRule, kwargs: dict, value: float):
    ev = AlertEvaluator([rule])
    (fired,) = ev.observe(snap(1.0, **kwargs))
    assert fired.fired_value == pytest.approx(value)


def test_nothing_finished_in_the_window_is_no_error_rate():
    ev = AlertEvaluator([AlertRule("success_rate", below=0.99), AlertRule("error_rate", above=0.0)])
    assert ev.observe(snap(1.0, rps=0, errors=0)) == ()


def test_rules_kept_across_set_rules_keep_their_state():
    p99 = AlertRule("p99_ms", above=50)
    ev = AlertEvaluator([p99])
    (fired,) = ev.observe(snap(1.0, p99=60))
    ev.set_rules([AlertRule("p99_ms", above=50, origin="slo_p99_ms"), AlertRule("queue_depth", above=5)])
    assert ev.observe(snap(2.0, p99=70)) == ()  # still the same firing, not a new one
    assert [e.rule.metric for e in ev.state().firing] == ["p99_ms"]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"metric": "p95_ms", "above": 1}, "alerts[1].metric: must be one of p99_ms, p50_ms"),
        ({"above": 1}, "alerts[1].metric: is required"),
        ({"metric": "p99_ms"}, "alerts[1].above: give one of above or below, got neither"),
        ({"metric": "p99_ms", "above": 1, "below": 0}, "got both"),
        ({"metric": "p99_ms", "above": -1}, "alerts[1].above: must be a number >= 0, got -1"),
        ({"metric": "p99_ms", "above": True}, "alerts[1].above: must be a number >= 0, got True"),
        ({"metric": "success_rate", "below": 99}, "alerts[1].below: success_rate is a fraction (0.99 = 99%)"),
        ({"metric": "p99_ms", "above": 1, "for_s": -2}, "alerts[1].for_s: must be a number of seconds >= 0"),
        ({"metric": "p99_ms", "above": 1, "for": 5}, "alerts[1].for: unknown field (did you mean 'for_s'?)"),
    ],
)
def test_bad_rules_name_the_table_and_field(table: dict, message: str):
    with pytest.raises(ConfigError) as info:
        parse_alerts([table])
    assert message in str(info.value)


def test_alerts_must_be_an_array_of_tables():
    with pytest.raises(ConfigError, match=r"alerts: must be an array of tables \(\[\[alerts\]\]\), got dict"):
        parse_alerts({"metric": "p99_ms"})
    with pytest.raises(ConfigError, match=r"alerts\[2\]: must be a table, got int"):
        parse_alerts([{"metric": "p99_ms", "above": 1}, 3])


def test_slo_is_an_implicit_p99_rule():
    class P:
        slo_p99_ms = 50.0
        alerts = (AlertRule("queue_depth", above=100, for_s=2),)

    rules = preset_alert_rules(P())
    assert [r.describe() for r in rules] == ["queue_depth > 100 for 2 s", "p99_ms > 50 ms"]
    assert rules[1].origin == "slo_p99_ms"
    P.alerts = (AlertRule("p99_ms", above=50),)  # said already: not twice
    assert preset_alert_rules(P()) == (AlertRule("p99_ms", above=50),)
