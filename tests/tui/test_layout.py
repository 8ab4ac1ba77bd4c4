"""80x24, the default terminal, is a first-class layout: panels do not overlap, no readout is
cut off at the bottom of its panel, the status line keeps ``sent``, the key bar is one row,
and the help screen fits without scrolling."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from clawlet_tui.tui.screens import HelpScreen
from clawlet_tui.tui.widgets import MetricPanel
from clawlet_tui.tui.widgets.key_bar import KeyBar
from clawlet_tui.tui.widgets.packing import cell_width, pack
from clawlet_tui.tui.widgets.status_line import StatusLine

from .conftest import OPEN_LOAD, feed_stream, make_replay_app

SIZES = [(80, 24), (100, 30), (160, 48)]


def text_of(widget: Static) -> str:
    return str(widget.render())


@pytest.mark.parametrize("size", SIZES)
async def test_panels_tile_the_screen_and_no_readout_is_cut(size: tuple[int, int]) -> None:
    app = make_replay_app(load=OPEN_LOAD)
    async with app.run_test(size=size) as pilot:
        await feed_stream(pilot)
        width, height = size
        panels = list(app.screen.query(MetricPanel))
        assert len(panels) == 9
        for i, a in enumerate(panels):
            assert a.region.y >= 1 and a.region.bottom <= height - 1 and a.region.right <= width, (a.id, a.region)
            for b in panels[i + 1 :]:
                assert not a.region.overlaps(b.region), (a.id, b.id)
        # every text readout (not the event log and config table, which scroll) ends inside its panel
        for panel in panels:
            if panel.id in ("events", "config"):
                continue
            inside = panel.content_region
            for static in panel.query(Static):
                if static.display and static.region.height:
                    assert static.region.bottom <= inside.bottom, (panel.id, static.id, static.region, inside)
                    assert static.region.right <= inside.right, (panel.id, static.id)


@pytest.mark.parametrize("size", SIZES)
async def test_status_line_keeps_sent_and_key_bar_is_one_row(size: tuple[int, int]) -> None:
    app = make_replay_app(load=OPEN_LOAD)
    async with app.run_test(size=size) as pilot:
        await feed_stream(pilot)
        status = app.screen.query_one(StatusLine)
        line = text_of(status)
        assert "sent 6,125 this preset" in line
        assert "\n" not in line and cell_width(line) <= status.content_size.width
        keys = app.screen.query_one(KeyBar)
        assert keys.region.height == 1 and keys.region.bottom == size[1]
        bar = text_of(keys)
        assert "\n" not in bar and len(bar) <= size[0] - 2
        assert bar.endswith("q quit") and ("? help" in bar or "? all keys" in bar)


async def test_narrow_cache_table_is_not_truncated() -> None:
    app = make_replay_app(load=OPEN_LOAD)
    async with app.run_test(size=(80, 24)) as pilot:
        await feed_stream(pilot)
        table = text_of(app.screen.query_one("#cache-table", Static))
        assert "…" not in table
        header, l1, l2 = table.splitlines()
        assert header.split() == ["hit", "size", "evict"]
        assert l1.split()[0] == "L1" and l1.split()[-1] == f"{app.last_snapshot.cache.l1.evictions:,}"


async def test_help_fits_80x24_without_scrolling_and_lists_ctrl_c() -> None:
    app = make_replay_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await feed_stream(pilot)
        await pilot.press("question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        assert any("ctrl+c" in keys for keys, _ in help_screen.rows)
        box = help_screen.query_one("#help-box")
        table = help_screen.query_one("#help-table")
        assert box.region.height <= 24
        assert table.region.bottom <= box.content_region.bottom
        assert table.parent.max_scroll_y == 0, "help must not need scrolling at 80x24"


def test_pack_breaks_between_chunks_only() -> None:
    chunks = ["P50 0.74 ms", "P99 9.41 ms", "mean 1.45 ms", "SLO [b]50.0 ms over[/b]"]
    for width in range(16, 60):
        lines = pack(chunks, width).split("\n")
        assert all(cell_width(line) <= width for line in lines), width
        assert any(line.endswith("SLO [b]50.0 ms over[/b]") for line in lines), "SLO, value, verdict stay together"
    assert pack(chunks, 0) == "  ".join(chunks)
