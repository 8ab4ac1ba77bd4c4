"""Config editor: one input per OptimizationConfig field (a switch for a bool, a choice list
for a field with fixed values such as ``batch_policy``), validated as you type and on submit.

Every text is parsed with the same rules as ``--set field=value`` and the result goes
through :meth:`OptimizationConfig.replace`, so the editor accepts exactly what the engine
would.  A field's error line always describes what the field holds now: it is re-checked
on every edit, so an error never outlives the text it was about.  On a failed submit
nothing is returned and the first bad field gets the focus; on success the screen
dismisses with ``{field: new value}`` for the fields that changed (an empty dict if none
did), and the app applies them with ``engine.update``.

The editor opens with a field focused and its text selected, so typing replaces the
value at once: the field the last knob key changed (``b`` -> ``batch_size``), else the first.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, Switch

from ...engine.config import CHOICES, OptimizationConfig, parse_assignment
from ...engine.errors import ConfigError


def _error_text(exc: ConfigError) -> str:
    """The error without its source (``--set``): the field and the rule it broke."""
    return exc.message


def _field_text(value: Any) -> str:
    return "" if value is None else str(value)


class ConfigEditorScreen(ModalScreen[dict[str, Any] | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Apply"),
    ]

    def __init__(self, config: OptimizationConfig, focus_field: str | None = None) -> None:
        """``focus_field``: the field to focus on opening (None or unknown: the first)."""
        super().__init__()
        self.config = config
        names = [f.name for f in fields(OptimizationConfig)]
        self.focus_field = focus_field if focus_field in names else names[0]
        #: field -> message shown under it now
        self.errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="editor-box") as box:
            box.border_title = "Edit config"
            box.border_subtitle = "ctrl+s applies · esc cancels"
            with VerticalScroll(id="editor-fields"):
                for f in fields(OptimizationConfig):
                    value = getattr(self.config, f.name)
                    with Horizontal(classes="editor-row", id=f"row-{f.name}"):
                        yield Label(f.name, classes="editor-label")
                        if isinstance(value, bool):
                            yield Switch(value=value, id=f"field-{f.name}")
                            yield Static("on" if value else "off", classes="switch-state", id=f"state-{f.name}")
                        elif f.name in CHOICES:
                            yield Select(
                                [(choice, choice) for choice in CHOICES[f.name]],
                                value=value,
                                allow_blank=False,
                                id=f"field-{f.name}",
                            )
                        else:
                            yield Input(value=_field_text(value), id=f"field-{f.name}", placeholder="auto" if value is None else "")
                    yield Static("", classes="editor-error", id=f"error-{f.name}")
            with Horizontal(id="editor-buttons"):
                yield Button("Apply", variant="primary", id="editor-apply")
                yield Button("Cancel", id="editor-cancel")

    def on_mount(self) -> None:
        self.query_one(f"#field-{self.focus_field}").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "editor-apply":
            self.action_submit()
        else:
            self.action_cancel()

    def on_switch_changed(self, event: Switch.Changed) -> None:
        name = (event.switch.id or "").removeprefix("field-")
        self.query_one(f"#state-{name}", Static).update("on" if event.value else "off")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def on_input_changed(self, event: Input.Changed) -> None:
        name = (event.input.id or "").removeprefix("field-")
        if name:
            self._show_error(name, self._check_field(name, event.value))

    def _check_field(self, name: str, text: str) -> str:
        """The error for ``name`` holding ``text`` on its own ("" if it is valid)."""
        try:
            _, value = parse_assignment(f"{name}={text.strip()}")
            self.config.replace(**{name: value})
        except ConfigError as exc:
            return _error_text(exc)
        return ""

    def _show_error(self, name: str, message: str) -> None:
        if message:
            self.errors[name] = message
        else:
            self.errors.pop(name, None)
        error = self.query_one(f"#error-{name}", Static)
        error.update(f"✗ {message}" if message else "")
        error.set_class(bool(message), "-shown")
        self.query_one(f"#row-{name}").set_class(bool(message), "-invalid")

    def action_cancel(self) -> None:
        self.dismiss(None)

    def read_changes(self) -> tuple[dict[str, Any], dict[str, str]]:
        """``(changes, errors)`` from the form, both keyed by field name."""
        changes: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for f in fields(OptimizationConfig):
            widget = self.query_one(f"#field-{f.name}")
            if isinstance(widget, (Switch, Select)):
                value: Any = widget.value
            else:
                assert isinstance(widget, Input)
                try:
                    _, value = parse_assignment(f"{f.name}={widget.value.strip()}")
                except ConfigError as exc:
                    errors[f.name] = _error_text(exc)
                    continue
            if value != getattr(self.config, f.name):
                changes[f.name] = value
        if not errors:
            try:
                self.config.replace(**changes)
            except ConfigError as exc:
                errors[exc.field or "batch_size"] = _error_text(exc)
        return changes, errors

    def action_submit(self) -> None:
        changes, errors = self.read_changes()
        for f in fields(OptimizationConfig):
            self._show_error(f.name, errors.get(f.name, ""))
        if errors:
            first = next(iter(errors))
            self.query_one(f"#field-{first}").focus()
            self.notify(
                f"Config not applied: {errors[first]}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""),
                severity="error",
                title="Invalid config",
            )
            return
        self.dismiss(changes)
