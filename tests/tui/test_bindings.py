"""Every dashboard key: the call it makes, with which arguments, and what the screen then shows;
refused values show an error instead of crashing.

Most tests drive :class:`~.fakes.FakeControls` (an :class:`EngineControls` that answers at once
and records every call), so each takes a fraction of a second.  The three tests marked
``live_engine`` at the end drive a real engine and load generator through the same keys: a
config change reaches the engine, the load keys move the generator, a switch keeps the engine
and replaces the generator, and quitting drains every request.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from textual.widgets import Select, Switch

from clawlet_tui.tui.app import BURST_SIZE, CONTROLS, ClawletApp
from clawlet_tui.tui.controls import EngineControls
from clawlet_tui.tui.screens import ConfigEditorScreen, DashboardScreen, HelpScreen, PresetPickerScreen
from clawlet_tui.tui.widgets.config_panel import ConfigPanel
from clawlet_tui.tui.widgets.event_log import EventLogPanel
from clawlet_tui.tui.widgets.key_bar import KeyBar
from clawlet_tui.tui.widgets.status_line import StatusLine

from .conftest import notified
from .fakes import Call, FakeControls

SIZE = (160, 48)


def messages(app: ClawletApp, severity: str | None = None) -> list[str]:
    return notified(app, severity)


def updates(fake: FakeControls) -> list[dict[str, Any]]:
    """The arguments of every ``update`` the dashboard called, in order."""
    return [dict(call.kwargs) for call in fake.calls if call.name == "update"]


def status(app: ClawletApp) -> str:
    return str(app.screen.query_one(StatusLine).render())


def event_lines(app: ClawletApp) -> list[str]:
    return [line.plain for line in app.screen.query_one(EventLogPanel).lines]


async def wait_until(pilot: Any, predicate: Any, timeout_s: float = 5.0) -> None:
    """Let the app run until ``predicate()`` holds (bounded; fails the test if it never does)."""
    for _ in range(int(timeout_s / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    assert predicate(), "condition not reached"


# -- the fake itself --------------------------------------------------------------------------


def test_the_fake_satisfies_engine_controls_member_for_member(fake: FakeControls) -> None:
    """isinstance checks names only; the signatures (sync or async, property or method,
    parameters) must match too, or these tests would drive an app the real one is not."""
    assert isinstance(fake, EngineControls)
    members = [name for name in dir(EngineControls) if not name.startswith("_")]
    assert {"update", "switch_preset", "burst", "stop", "problem"} <= set(members)
    for name in members:
        declared = inspect.getattr_static(EngineControls, name)
        ours = inspect.getattr_static(FakeControls, name)
        assert isinstance(ours, property) == isinstance(declared, property), name
        if isinstance(declared, property):
            continue
        assert inspect.iscoroutinefunction(ours) == inspect.iscoroutinefunction(declared), name
        ours_params = [(p.name, p.kind) for p in inspect.signature(ours).parameters.values()]
        declared_params = [(p.name, p.kind) for p in inspect.signature(declared).parameters.values()]
        assert ours_params == declared_params, name


async def test_the_fake_refuses_what_the_engine_refuses(fake: FakeControls) -> None:
    from clawlet_tui.engine import ConfigError

    with pytest.raises(ConfigError, match="batch_size must be >= 1, got 0"):
        fake.update(batch_size=0)
    await fake.start()
    with pytest.raises(ConfigError, match="blas_threads cannot change while the engine runs"):
        fake.update(blas_threads=2, batch_size=8)
    assert fake.config.batch_size == 4 and fake.snapshot().config == fake.config


# -- start and show ---------------------------------------------------------------------------


async def test_mount_starts_the_run_and_shows_its_snapshot(fake_app: ClawletApp, fake: FakeControls) -> None:
    async with fake_app.run_test(size=SIZE):
        assert fake.names() == ["start"]
        assert fake_app.last_snapshot is not None and fake_app.last_snapshot.outcomes.succeeded > 0
        assert fake_app.last_snapshot.config == fake.config
        assert isinstance(fake_app.screen, DashboardScreen)
        line = status(fake_app)
        assert "engine running" in line and "load tiny-steady open 20 req/s live" in line


# -- engine controls --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "field", "expected"),
    [
        ("b", "batch_size", 8),
        ("bB", "batch_size", 4),
        ("t", "batch_timeout_s", 0.1),
        ("T", "batch_timeout_s", 0.025),
        ("c", "max_concurrent", 3),
        ("C", "max_concurrent", 1),
        ("l", "l1_cache_size", 128),
        ("L", "l1_cache_size", 32),
        ("1", "enable_batching", False),
        ("11", "enable_batching", True),
        ("2", "enable_cache", False),
        ("o", "batch_policy", "eager"),
        ("oo", "batch_policy", "timeout"),
        ("ooo", "batch_policy", "adaptive"),
    ],
)
async def test_knob_keys_change_engine_config(
    fake_app: ClawletApp, fake: FakeControls, keys: str, field: str, expected: Any
) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        await pilot.press(*keys)
        calls = updates(fake)
        assert len(calls) == len(keys) and all(list(c) == [field] for c in calls)
        assert calls[-1] == {field: expected}
        assert getattr(fake.config, field) == expected
        assert not messages(fake_app, "error")
        assert messages(fake_app)[-1] == f"{field}={expected}"
        # the dashboard shows the new config at once, the changed field highlighted
        assert getattr(fake_app.last_snapshot.config, field) == expected
        assert fake_app.screen.query_one(ConfigPanel).changed_fields == (field,)


async def test_batch_size_below_one_is_refused_with_a_visible_error(fake_app: ClawletApp, fake: FakeControls) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        fake.update(batch_size=1)
        await pilot.press("B")
        await pilot.pause()
        assert updates(fake)[-1] == {"batch_size": 0}, "the key asks; the engine's validation says no"
        assert fake.config.batch_size == 1
        assert any("batch_size must be >= 1, got 0" in m for m in messages(fake_app, "error"))
        assert fake_app.is_running and isinstance(fake_app.screen, DashboardScreen)
        await pilot.press("C", "C")  # max_concurrent 2 -> 1 -> refused
        assert updates(fake)[-2:] == [{"max_concurrent": 1}, {"max_concurrent": 0}]
        assert fake.config.max_concurrent == 1
        assert any("max_concurrent must be >= 1" in m for m in messages(fake_app, "error"))


async def test_engine_keys_gc_clear_reset(fake_app: ClawletApp, fake: FakeControls) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        manual = fake_app.last_snapshot.memory.manual_gc
        await pilot.press("g")
        assert fake.names()[-1] == "trigger_gc"
        assert "GC triggered" in messages(fake_app)
        assert fake_app.last_snapshot.memory.manual_gc == manual + 1, "the dashboard refreshed after the call"
        await pilot.press("x", "z")
        assert fake.names()[-2:] == ["clear_cache", "reset_metrics"]
        assert {"cache cleared", "metrics reset"} <= set(messages(fake_app))
        lines = event_lines(fake_app)
        assert any("cache cleared" in line for line in lines) and any("metrics reset" in line for line in lines)


# -- load controls ----------------------------------------------------------------------------


async def test_u_starts_a_warm_up(fake_app: ClawletApp, fake: FakeControls) -> None:
    """The preset has no [warmup]: the likeliest keys its L1 (64 entries) holds."""
    async with fake_app.run_test(size=SIZE) as pilot:
        await pilot.press("u")
        assert fake.names()[-1] == "warm_up"
        assert not messages(fake_app, "error")
        # the event log, not the notification, is checked: a notification expires after 3 s,
        # which a loaded machine can take between the key and the assertion
        assert any("warmed 64 keys" in line for line in event_lines(fake_app))


async def test_load_keys_pause_burst_and_rate(fake_app: ClawletApp, fake: FakeControls) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        assert fake.calls[-1] == Call("toggle_pause") and fake.paused
        assert "load paused" in messages(fake_app) and "paused" in status(fake_app)
        await pilot.press("f")
        assert fake.calls[-1] == Call("burst", (BURST_SIZE,))
        assert f"burst: {BURST_SIZE} requests sent" in messages(fake_app)
        assert f"sent {BURST_SIZE} this preset" in status(fake_app)
        await pilot.press("p")
        assert not fake.paused and "load resumed" in messages(fake_app)
        assert "20 req/s live" in status(fake_app)
        await pilot.press("r")
        assert fake.calls[-1] == Call("set_rate", (25.0,))
        assert "arrival rate 25 req/s" in messages(fake_app) and "25 req/s" in status(fake_app)
        await pilot.press("R", "R")
        assert [c.args for c in fake.calls[-2:]] == [(20.0,), (16.0,)]
        assert fake.target_rps == pytest.approx(16.0)
        assert "16 req/s" in status(fake_app)


async def test_switch_preset_restarts_load_with_its_config(fake_app: ClawletApp, fake: FakeControls) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        fake.update(batch_size=32)
        await pilot.press("s")
        picker = fake_app.screen
        assert isinstance(picker, PresetPickerScreen)
        await pilot.press("down", "enter")  # tiny-steady is highlighted; the next is tiny-closed
        assert fake.calls[-1] == Call("switch_preset", ("tiny-closed",))
        assert isinstance(fake_app.screen, DashboardScreen)
        assert "preset tiny-closed" in messages(fake_app), "same model: no new engine"
        # the dashboard shows the new preset's config and its closed loop at once
        assert fake_app.last_snapshot.config.batch_size == 4
        assert "load tiny-closed closed 4 clients" in status(fake_app)
        await pilot.press("r")
        assert fake.calls[-1] == Call("set_rate", (5,)), "closed loop: one client more"
        assert "closed loop: 5 clients" in messages(fake_app) and "5 clients" in status(fake_app)


async def test_switch_preset_escape_switches_nothing(fake_app: ClawletApp, fake: FakeControls) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "escape")
        assert isinstance(fake_app.screen, DashboardScreen)
        assert "switch_preset" not in fake.names() and fake.preset_name == "tiny-steady"


# -- the config editor ------------------------------------------------------------------------


async def test_config_editor_refuses_text_in_batch_size_then_applies(fake_app: ClawletApp, fake: FakeControls) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        editor = fake_app.screen
        assert isinstance(editor, ConfigEditorScreen)
        editor.query_one("#field-batch_size").value = "abc"
        await pilot.press("ctrl+s")
        assert fake_app.screen is editor, "invalid input keeps the editor open"
        assert "batch_size must be an integer, got 'abc'" in str(editor.query_one("#error-batch_size").render())
        assert editor.query_one("#error-batch_size").has_class("-shown")
        assert updates(fake) == [], "nothing reaches the engine"
        assert fake.config.batch_size == 4
        assert messages(fake_app, "error")

        editor.query_one("#field-batch_size").value = "0"
        await pilot.press("ctrl+s")
        assert "batch_size must be >= 1, got 0" in str(editor.query_one("#error-batch_size").render())
        assert updates(fake) == []

        editor.query_one("#field-batch_size").value = "16"
        editor.query_one("#field-enable_cache").value = False
        await pilot.press("ctrl+s")
        assert isinstance(fake_app.screen, DashboardScreen)
        assert updates(fake) == [{"batch_size": 16, "enable_cache": False}], "one update, only what changed"
        config = fake.config
        assert config.batch_size == 16 and config.enable_cache is False
        assert fake_app.last_snapshot.config == config


async def test_config_editor_opens_with_the_first_field_focused_and_typing_replaces_it(
    fake_app: ClawletApp, fake: FakeControls
) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        editor = fake_app.screen
        assert isinstance(editor, ConfigEditorScreen)
        assert editor.focused is editor.query_one("#field-batch_size")
        await pilot.press("1", "6", "enter")
        assert isinstance(fake_app.screen, DashboardScreen)
        assert updates(fake) == [{"batch_size": 16}]
        assert fake.config.batch_size == 16


@pytest.mark.parametrize(("key", "field"), [("t", "batch_timeout_s"), ("L", "l1_cache_size"), ("o", "batch_policy")])
async def test_config_editor_focuses_the_field_of_the_last_key(fake_app: ClawletApp, key: str, field: str) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        await pilot.press(key, "e")
        editor = fake_app.screen
        assert isinstance(editor, ConfigEditorScreen)
        assert editor.focused is editor.query_one(f"#field-{field}")


async def test_config_editor_error_follows_the_text_not_the_last_submit(
    fake_app: ClawletApp, fake: FakeControls
) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        editor = fake_app.screen
        error = editor.query_one("#error-batch_size")
        await pilot.press("backspace", "ctrl+s")  # the selected text is deleted: an empty field
        assert "got ''" in str(error.render()) and error.has_class("-shown")
        await pilot.press("x")
        assert "got 'x'" in str(error.render()), "the message is about what the field holds now"
        await pilot.press("backspace", "8")
        assert not error.has_class("-shown") and str(error.render()) == ""
        assert not editor.query_one("#row-batch_size").has_class("-invalid")
        await pilot.press("ctrl+s")
        assert updates(fake) == [{"batch_size": 8}]
        assert fake.config.batch_size == 8


async def test_config_editor_offers_batch_policy_as_a_choice_and_shed_late_as_a_switch(
    fake_app: ClawletApp, fake: FakeControls
) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        editor = fake_app.screen
        policy = editor.query_one("#field-batch_policy", Select)
        assert policy.value == "adaptive"
        policy.value = "timeout"
        shed = editor.query_one("#field-shed_late", Switch)
        shed.value = not shed.value
        await pilot.press("ctrl+s")
        assert updates(fake) == [{"batch_policy": "timeout", "shed_late": shed.value}]
        config = fake.config
        assert config.batch_policy == "timeout" and config.shed_late is shed.value


async def test_config_editor_blas_threads_change_is_refused_and_nothing_changes(
    fake_app: ClawletApp, fake: FakeControls
) -> None:
    """The engine refuses a live blas_threads change; the editor's other edits are not applied either."""
    async with fake_app.run_test(size=SIZE) as pilot:
        before = fake.config
        await pilot.press("e")
        editor = fake_app.screen
        editor.query_one("#field-blas_threads").value = "2"
        editor.query_one("#field-batch_size").value = "32"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert updates(fake) == [{"batch_size": 32, "blas_threads": 2}], "one call: all of it or nothing"
        assert any("blas_threads cannot change" in m for m in messages(fake_app, "error"))
        assert fake.config == before and fake_app.last_snapshot.config == before
        assert fake_app.is_running


async def test_config_editor_escape_changes_nothing(fake_app: ClawletApp, fake: FakeControls) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        before = fake.config
        await pilot.press("e")
        fake_app.screen.query_one("#field-batch_size").value = "64"
        await pilot.press("escape")
        assert isinstance(fake_app.screen, DashboardScreen)
        assert updates(fake) == []
        assert fake.config == before


# -- help, footer, palette, themes, export ----------------------------------------------------


async def test_help_lists_every_key_and_closes(fake_app: ClawletApp, fake: FakeControls) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(fake_app.screen, HelpScreen)
        listed = {key for keys, _ in fake_app.screen.rows for key in keys.split(" / ")}
        for control in CONTROLS:
            assert (control.key_display or control.key) in listed, control.key
        assert "ctrl+c" in listed
        await pilot.press("b")  # dashboard keys are off while a dialog is open
        assert updates(fake) == [] and fake.config.batch_size == 4
        await pilot.press("escape")
        assert isinstance(fake_app.screen, DashboardScreen)


@pytest.mark.parametrize("width", [80, 100, 160, 220])
async def test_footer_is_one_row_of_keys_in_order_and_every_key_is_in_the_palette(
    fake_app: ClawletApp, width: int
) -> None:
    async with fake_app.run_test(size=(width, 30)) as pilot:
        await pilot.pause()
        footer = fake_app.screen.query_one(KeyBar)
        text = str(footer.render())
        assert footer.region.height == 1 and "\n" not in text and len(text) <= width - 2
        assert text.startswith("bB batch tT timeout cC workers lL L1 o policy a tune")
        assert text.endswith("q quit")
        grouped = {"b", "B", "t", "T", "c", "C", "l", "L", "r", "R"}
        missing = [c for c in CONTROLS if c.key not in grouped and f"{c.key_display or c.key} {c.label}" not in text]
        # what does not fit is behind "? all keys" (help and palette list it), never silently gone
        assert ("? all keys" in text) == bool([c for c in missing if c.action not in ("help", "quit")])
        if width >= 220:
            assert "? help" in text and not missing
        titles = [c.title for c in fake_app.get_system_commands(fake_app.screen)]
        for control in CONTROLS:
            assert any(control.help in t for t in titles), control.help


async def test_theme_key_cycles_file_themes(fake_app: ClawletApp) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        assert fake_app.theme == "clawlet-dark"
        seen = [fake_app.theme]
        for _ in fake_app.file_themes:
            await pilot.press("v")
            seen.append(fake_app.theme)
        assert set(seen) == {"clawlet-dark", "clawlet-light", "clawlet-high-contrast"}
        assert seen[-1] == seen[0]


async def test_export_writes_a_report(fake_app: ClawletApp, tmp_path: Any) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        await pilot.pause()
        notes = messages(fake_app)
        (report,) = tmp_path.glob("clawlet-report-20250101-120000.md")
        assert any(f"report written to {report.resolve()}" in m for m in notes), notes
        assert "steady" in report.read_text() or report.stat().st_size > 0
        assert any(f"report written to {report.resolve()}" in line for line in event_lines(fake_app))


# -- quitting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_quit_stops_the_run_once_and_sums_up_what_was_in_flight(
    fake_app: ClawletApp, fake: FakeControls, key: str
) -> None:
    async with fake_app.run_test(size=SIZE) as pilot:
        in_flight = fake.snapshot().outcomes.in_flight
        assert in_flight > 0
        await pilot.press(key)
    assert fake.names().count("stop") == 1 and fake.stopped
    assert fake_app.return_code == 0
    outcomes = fake.snapshot().outcomes
    summary = fake_app.exit_summary
    assert summary is not None
    assert f"{outcomes.submitted:,} requests" in summary and f"{in_flight:,} in flight at quit" in summary
    assert "still unaccounted" not in summary


# -- with a live engine: what the keys do to a real engine and load -----------------------------


@pytest.mark.live_engine
async def test_live_engine_starts_shows_and_takes_the_engine_keys(live_app: ClawletApp) -> None:
    """The engine starts and the dashboard shows what it serves; a knob change, GC, clear and
    reset reach the engine; the engine itself refuses a live blas_threads change."""
    async with live_app.run_test(size=SIZE) as pilot:
        live = live_app.live
        assert live is not None and live.engine.running
        await wait_until(pilot, lambda: live.engine.snapshot().outcomes.succeeded > 0)
        await wait_until(pilot, lambda: (live_app.last_snapshot or live.engine.snapshot()).outcomes.succeeded > 0)
        assert isinstance(live_app.screen, DashboardScreen)

        await pilot.press("b")
        assert live.engine.config.batch_size == 8
        assert not messages(live_app, "error")

        engine = live.engine
        manual = engine.snapshot().memory.manual_gc
        await pilot.press("g")
        assert engine.snapshot().memory.manual_gc == manual + 1
        await pilot.press("x", "z")
        kinds = [e.message for e in engine.snapshot().events]
        assert "cache cleared" in kinds and "metrics reset" in kinds

        before = live.engine.config
        await pilot.press("e")
        editor = live_app.screen
        editor.query_one("#field-blas_threads").value = "2"
        editor.query_one("#field-batch_size").value = "32"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: any("blas_threads cannot change" in m for m in messages(live_app, "error")))
        assert live.engine.config == before
        assert live_app.is_running


@pytest.mark.live_engine
async def test_live_load_keys_move_the_generator_and_a_switch_keeps_the_engine(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        live = live_app.live
        await pilot.press("p")
        assert live.generator.paused
        sent = live.generator.stats().sent
        await pilot.press("f")
        assert live.generator.stats().sent == sent + BURST_SIZE
        await pilot.press("p")
        assert not live.generator.paused
        await pilot.press("r")
        assert live.target_rps == pytest.approx(25.0)
        assert live.generator.stats().target_rps == pytest.approx(25.0, rel=0.05)

        engine, generator = live.engine, live.generator
        live.engine.update(batch_size=32)
        await pilot.press("s")
        assert isinstance(live_app.screen, PresetPickerScreen)
        await pilot.press("down", "enter")  # tiny-steady is highlighted; the next is tiny-closed
        await wait_until(pilot, lambda: live.preset_name == "tiny-closed")
        assert isinstance(live_app.screen, DashboardScreen)
        assert live.engine is engine, "same model spec: the engine is kept and reconfigured"
        assert live.generator is not generator
        assert live.engine.config.batch_size == 4
        assert not live.open_loop and live.clients == 4
        await pilot.press("r")
        assert live.clients == 5 and live.generator.stats().concurrency == 5


@pytest.mark.live_engine
async def test_live_ctrl_c_quits_cleanly_with_a_summary_of_what_was_in_flight(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        live = live_app.live
        await wait_until(pilot, lambda: live.generator.stats().sent > 0)
        await pilot.press("ctrl+c")
    assert live.stopped and not live.engine.running
    assert live_app.return_code == 0
    outcomes = live.engine.snapshot().outcomes
    assert outcomes.in_flight == 0
    assert outcomes.submitted == outcomes.finished
    summary = live_app.exit_summary
    assert summary is not None
    assert f"{outcomes.submitted:,} requests" in summary and "in flight at quit" in summary


@pytest.mark.live_engine
async def test_live_u_warms_the_cache_and_the_load_figures_start_after_it(live_app: ClawletApp) -> None:
    """With the load paused, what the engine counts after the warm-up is nothing: its 64
    requests are counted apart; L1 holds their values."""
    async with live_app.run_test(size=SIZE) as pilot:
        live = live_app.live
        assert live is not None
        await pilot.press("p")
        await wait_until(pilot, lambda: live.generator.paused and live.engine.snapshot().outcomes.in_flight == 0)
        await pilot.press("u")
        assert not messages(live_app, "error")
        await wait_until(pilot, lambda: any(e.message.startswith("warmed 64 keys") for e in live.engine.snapshot().events))
        snap = live.engine.snapshot()
        assert snap.outcomes.submitted == 0 and snap.batches.count == 0
        assert snap.cache.l1.size == 64 and snap.cache.l1.hits + snap.cache.l1.misses == 0
        assert "64 ok" in next(e.message for e in snap.events if e.message.startswith("warmed"))
