"""Every dashboard key against a real engine: the engine's config or the load changes as promised,
and refused values show an error instead of crashing."""

from __future__ import annotations

from typing import Any

import pytest

from clawlet_tui.tui.app import BURST_SIZE, CONTROLS, ClawletApp
from clawlet_tui.tui.screens import ConfigEditorScreen, DashboardScreen, HelpScreen, PresetPickerScreen
from clawlet_tui.tui.widgets.key_bar import KeyBar

SIZE = (160, 48)


def messages(app: ClawletApp, severity: str | None = None) -> list[str]:
    return [n.message for n in app._notifications if severity is None or n.severity == severity]


async def wait_until(pilot: Any, predicate: Any, timeout_s: float = 5.0) -> None:
    """Let the app run until ``predicate()`` holds (bounded; fails the test if it never does)."""
    for _ in range(int(timeout_s / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    assert predicate(), "condition not reached"


async def test_starts_live_engine_and_shows_it(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        live = live_app.live
        assert live is not None and live.engine.running
        await wait_until(pilot, lambda: live.engine.snapshot().outcomes.succeeded > 0)
        await wait_until(pilot, lambda: (live_app.last_snapshot or live.engine.snapshot()).outcomes.succeeded > 0)
        assert isinstance(live_app.screen, DashboardScreen)


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
        ("a", "batch_policy", "eager"),
        ("aa", "batch_policy", "timeout"),
        ("aaa", "batch_policy", "adaptive"),
    ],
)
async def test_knob_keys_change_engine_config(live_app: ClawletApp, keys: str, field: str, expected: Any) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        await pilot.press(*keys)
        assert getattr(live_app.live.engine.config, field) == expected
        assert not messages(live_app, "error")


async def test_batch_size_below_one_is_refused_with_a_visible_error(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        live_app.live.engine.update(batch_size=1)
        await pilot.press("B")
        await pilot.pause()
        assert live_app.live.engine.config.batch_size == 1
        assert any("batch_size must be >= 1, got 0" in m for m in messages(live_app, "error"))
        assert live_app.is_running and isinstance(live_app.screen, DashboardScreen)
        await pilot.press("C", "C")  # max_concurrent 2 -> 1 -> refused
        assert live_app.live.engine.config.max_concurrent == 1
        assert any("max_concurrent must be >= 1" in m for m in messages(live_app, "error"))


async def test_load_keys_pause_burst_and_rate(live_app: ClawletApp) -> None:
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
        assert live.target_rps == pytest.approx(250.0)
        assert live.generator.stats().target_rps == pytest.approx(250.0, rel=0.05)
        await pilot.press("R", "R")
        assert live.target_rps == pytest.approx(160.0)


async def test_engine_keys_gc_clear_reset(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        engine = live_app.live.engine
        manual = engine.snapshot().memory.manual_gc
        await pilot.press("g")
        assert engine.snapshot().memory.manual_gc == manual + 1
        await pilot.press("x", "z")
        kinds = [e.message for e in engine.snapshot().events]
        assert "cache cleared" in kinds and "metrics reset" in kinds


async def test_switch_preset_restarts_load_with_its_config(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        live = live_app.live
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


async def test_config_editor_refuses_text_in_batch_size_then_applies(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        editor = live_app.screen
        assert isinstance(editor, ConfigEditorScreen)
        editor.query_one("#field-batch_size").value = "abc"
        await pilot.press("ctrl+s")
        assert live_app.screen is editor, "invalid input keeps the editor open"
        assert "batch_size must be an integer, got 'abc'" in str(editor.query_one("#error-batch_size").render())
        assert editor.query_one("#error-batch_size").has_class("-shown")
        assert live_app.live.engine.config.batch_size == 4
        assert messages(live_app, "error")

        editor.query_one("#field-batch_size").value = "0"
        await pilot.press("ctrl+s")
        assert "batch_size must be >= 1, got 0" in str(editor.query_one("#error-batch_size").render())

        editor.query_one("#field-batch_size").value = "16"
        editor.query_one("#field-enable_cache").value = False
        await pilot.press("ctrl+s")
        assert isinstance(live_app.screen, DashboardScreen)
        config = live_app.live.engine.config
        assert config.batch_size == 16 and config.enable_cache is False


async def test_config_editor_opens_with_the_first_field_focused_and_typing_replaces_it(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        editor = live_app.screen
        assert isinstance(editor, ConfigEditorScreen)
        assert editor.focused is editor.query_one("#field-batch_size")
        await pilot.press("1", "6", "enter")
        assert isinstance(live_app.screen, DashboardScreen)
        assert live_app.live.engine.config.batch_size == 16


@pytest.mark.parametrize(("key", "field"), [("t", "batch_timeout_s"), ("L", "l1_cache_size"), ("a", "batch_policy")])
async def test_config_editor_focuses_the_field_of_the_last_key(live_app: ClawletApp, key: str, field: str) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        await pilot.press(key, "e")
        editor = live_app.screen
        assert isinstance(editor, ConfigEditorScreen)
        assert editor.focused is editor.query_one(f"#field-{field}")


async def test_config_editor_error_follows_the_text_not_the_last_submit(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        editor = live_app.screen
        error = editor.query_one("#error-batch_size")
        await pilot.press("backspace", "ctrl+s")  # the selected text is deleted: an empty field
        assert "got ''" in str(error.render()) and error.has_class("-shown")
        await pilot.press("x")
        assert "got 'x'" in str(error.render()), "the message is about what the field holds now"
        await pilot.press("backspace", "8")
        assert not error.has_class("-shown") and str(error.render()) == ""
        assert not editor.query_one("#row-batch_size").has_class("-invalid")
        await pilot.press("ctrl+s")
        assert live_app.live.engine.config.batch_size == 8


async def test_config_editor_offers_batch_policy_as_a_choice_and_shed_late_as_a_switch(live_app: ClawletApp) -> None:
    from textual.widgets import Select, Switch

    async with live_app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        editor = live_app.screen
        policy = editor.query_one("#field-batch_policy", Select)
        assert policy.value == "adaptive"
        policy.value = "timeout"
        shed = editor.query_one("#field-shed_late", Switch)
        shed.value = not shed.value
        await pilot.press("ctrl+s")
        config = live_app.live.engine.config
        assert config.batch_policy == "timeout" and config.shed_late is shed.value


async def test_config_editor_blas_threads_change_is_refused_and_nothing_changes(live_app: ClawletApp) -> None:
    """The engine refuses a live blas_threads change; the editor's other edits are not applied either."""
    async with live_app.run_test(size=SIZE) as pilot:
        before = live_app.live.engine.config
        await pilot.press("e")
        editor = live_app.screen
        editor.query_one("#field-blas_threads").value = "2"
        editor.query_one("#field-batch_size").value = "32"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: any("blas_threads cannot change" in m for m in messages(live_app, "error")))
        assert live_app.live.engine.config == before
        assert live_app.is_running


async def test_config_editor_escape_changes_nothing(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        before = live_app.live.engine.config
        await pilot.press("e")
        live_app.screen.query_one("#field-batch_size").value = "64"
        await pilot.press("escape")
        assert isinstance(live_app.screen, DashboardScreen)
        assert live_app.live.engine.config == before


async def test_help_lists_every_key_and_closes(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(live_app.screen, HelpScreen)
        listed = {key for keys, _ in live_app.screen.rows for key in keys.split(" / ")}
        for control in CONTROLS:
            assert (control.key_display or control.key) in listed, control.key
        assert "ctrl+c" in listed
        await pilot.press("b")  # dashboard keys are off while a dialog is open
        assert live_app.live.engine.config.batch_size == 4
        await pilot.press("escape")
        assert isinstance(live_app.screen, DashboardScreen)


@pytest.mark.parametrize("width", [80, 100, 160, 220])
async def test_footer_is_one_row_of_keys_in_order_and_every_key_is_in_the_palette(
    live_app: ClawletApp, width: int
) -> None:
    async with live_app.run_test(size=(width, 30)) as pilot:
        await pilot.pause()
        footer = live_app.screen.query_one(KeyBar)
        text = str(footer.render())
        assert footer.region.height == 1 and "\n" not in text and len(text) <= width - 2
        assert text.startswith("bB batch tT timeout cC workers lL L1 a policy")
        assert text.endswith("q quit")
        grouped = {"b", "B", "t", "T", "c", "C", "l", "L", "r", "R"}
        missing = [c for c in CONTROLS if c.key not in grouped and f"{c.key_display or c.key} {c.label}" not in text]
        # what does not fit is behind "? all keys" (help and palette list it), never silently gone
        assert ("? all keys" in text) == bool([c for c in missing if c.action not in ("help", "quit")])
        if width >= 220:
            assert "? help" in text and not missing
        titles = [c.title for c in live_app.get_system_commands(live_app.screen)]
        for control in CONTROLS:
            assert any(control.help in t for t in titles), control.help


async def test_theme_key_cycles_file_themes(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        assert live_app.theme == "clawlet-dark"
        seen = [live_app.theme]
        for _ in live_app.file_themes:
            await pilot.press("v")
            seen.append(live_app.theme)
        assert set(seen) == {"clawlet-dark", "clawlet-light", "clawlet-high-contrast"}
        assert seen[-1] == seen[0]


async def test_export_writes_a_report(live_app: ClawletApp, tmp_path: Any) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        await pilot.pause()
        notes = messages(live_app)
        (report,) = tmp_path.glob("clawlet-report-20250101-120000.md")
        assert any(f"report written to {report.resolve()}" in m for m in notes), notes
        assert "steady" in report.read_text() or report.stat().st_size > 0


async def test_quit_stops_load_and_drains_engine(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        live = live_app.live
        await wait_until(pilot, lambda: live.generator.stats().sent > 0)
        await pilot.press("q")
    assert live.stopped
    assert not live.engine.running
    assert live_app.return_code == 0
    outcomes = live.engine.snapshot().outcomes
    assert outcomes.in_flight == 0


async def test_ctrl_c_quits_cleanly_with_a_summary_of_what_was_in_flight(live_app: ClawletApp) -> None:
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
