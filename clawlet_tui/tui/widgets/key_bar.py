"""The key bar: the dashboard's footer, one row of key bindings.

Textual's stock :class:`~textual.widgets.Footer` is one scrolling row, so at 100 columns
half the keys would be off screen with no sign of it.  This bar shows the same active
bindings (grouped like the Footer: ``bB batch``) in binding order while they fit, and
always ends with ``? help`` (``? all keys`` when some were left out) and ``q quit``.  It
never takes more than one row: at 80x24 every row is wanted by the panels.
"""

from __future__ import annotations

from collections import defaultdict

from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

#: actions the bar always shows, at the end of the line: how to see the rest, and how to leave
ALWAYS = ("help", "quit")


class KeyBar(Static):
    """One row of ``keys action`` items; what does not fit is behind ``? all keys``."""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self) -> None:
        self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Screen) -> None:
        self.update(self.render_keys(self.content_size.width or self.app.size.width))

    def items(self) -> list[tuple[str, Content]]:
        """``(action, "keys description")`` per action (or per binding group), in binding order."""
        by_action: dict[str, list[Binding]] = defaultdict(list)
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.show and enabled:
                by_action[binding.action].append(binding)
        items: list[tuple[str, Content]] = []
        pending_group: Binding.Group | None = None
        group_keys: list[str] = []
        group_action = ""

        def flush() -> None:
            nonlocal pending_group, group_keys
            if pending_group is not None:
                items.append((group_action, _item("".join(group_keys), pending_group.description)))
            pending_group, group_keys = None, []

        for action, bindings in by_action.items():
            binding = bindings[0]
            key = self.app.get_key_display(binding)
            if binding.group is not None:
                if binding.group != pending_group:
                    flush()
                    pending_group = binding.group
                    group_action = action
                group_keys.append(key)
                continue
            flush()
            items.append((action, _item(key, binding.description)))
        flush()
        items.append(("command_palette", _item("^p", "palette")))
        return items

    def render_keys(self, width: int) -> Content:
        """One line of at most ``width`` cells: items in binding order while they fit, then help and quit.

        When items had to be left out, the help item reads ``all keys``: the help screen
        (and the command palette) list every key, so a narrow terminal hides none for good.
        """
        items = self.items()
        always = [(action, item) for action, item in items if action in ALWAYS]
        others = [item for action, item in items if action not in ALWAYS]
        everything = Content(" ").join(others + [item for _, item in always])
        if everything.cell_length <= width:
            return everything
        tail = [_item(item.plain.split(" ", 1)[0], "all keys") if action == "help" else item for action, item in always]
        room = width - sum(item.cell_length + 1 for item in tail)
        shown: list[Content] = []
        for item in others:
            room -= item.cell_length + (1 if shown else 0)
            if room < 0:
                break
            shown.append(item)
        return Content(" ").join(shown + tail)


def _item(keys: str, description: str) -> Content:
    return Content.from_markup("[b $accent]$keys[/] $description", keys=keys, description=description)
