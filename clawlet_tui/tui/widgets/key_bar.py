"""The key bar: the dashboard's footer, listing every key binding and wrapping onto a second line.

Textual's stock :class:`~textual.widgets.Footer` is one scrolling row, so at 100 columns
half the keys would be off screen.  This bar shows the same active bindings (grouped like
the Footer: ``bB batch``) as wrapping text, so every key is visible at every supported size.
"""

from __future__ import annotations

from collections import defaultdict

from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static



class KeyBar(Static):
    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self) -> None:
        self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Screen) -> None:
        self.update(self.render_keys(self.content_size.width or self.app.size.width))

    def items(self) -> list[Content]:
        """One ``keys description`` item per action (or per binding group)."""
        by_action: dict[str, list[Binding]] = defaultdict(list)
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.show and enabled:
                by_action[binding.action].append(binding)
        items: list[Content] = []
        pending_group: Binding.Group | None = None
        group_keys: list[str] = []

        def flush() -> None:
            nonlocal pending_group, group_keys
            if pending_group is not None:
                items.append(_item("".join(group_keys), pending_group.description))
            pending_group, group_keys = None, []

        for bindings in by_action.values():
            binding = bindings[0]
            key = self.app.get_key_display(binding)
            if binding.group is not None:
                if binding.group != pending_group:
                    flush()
                    pending_group = binding.group
                group_keys.append(key)
                continue
            flush()
            items.append(_item(key, binding.description))
        flush()
        items.append(_item("^p", "palette"))
        return items

    def render_keys(self, width: int) -> Content:
        """The items packed into lines of at most ``width`` cells, never splitting an item."""
        lines: list[list[Content]] = [[]]
        used = 0
        for item in self.items():
            needed = item.cell_length + (1 if lines[-1] else 0)
            if lines[-1] and used + needed > width:
                lines.append([])
                used, needed = 0, item.cell_length
            lines[-1].append(item)
            used += needed
        return Content("\n").join(Content(" ").join(line) for line in lines)


def _item(keys: str, description: str) -> Content:
    return Content.from_markup("[b $accent]$keys[/] $description", keys=keys, description=description)
