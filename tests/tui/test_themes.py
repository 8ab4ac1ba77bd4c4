"""Theme files: the shipped ones load; a bad one is named precisely and never breaks the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from clawlet_tui.engine.errors import ThemeError
from clawlet_tui.tui.themes import DEFAULT_THEME, discover_themes, load_theme_file, resolve_theme_name

from .conftest import REPO_THEMES, feed_stream, make_replay_app, notified


def test_shipped_themes_load() -> None:
    found = discover_themes([REPO_THEMES])
    assert not found.errors
    assert set(found.names) == {"clawlet-dark", "clawlet-light", "clawlet-high-contrast"}
    light = load_theme_file(REPO_THEMES / "light.toml")
    assert light.dark is False and light.primary.startswith("#")


def write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    directory = tmp_path / "themes"
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\nprimary = "blurple"\n', "themes/x.toml: primary: not a colour: 'blurple'"),
        ('name = "x"\nprimary = "#fff"\nsparkle = "#fff"\n', "themes/x.toml: sparkle: unknown field"),
        ('name = "x"\nprimary = "#fff"\ndark = "yes"\n', "themes/x.toml: dark: must be true or false, got 'yes'"),
        ('primary = "#fff"\n', "themes/x.toml: name: must be a non-empty string, got None"),
        ('name = "x"\n', "themes/x.toml: primary: is required"),
        ('name = "x"\nprimary = 3\n', "themes/x.toml: primary: must be a colour string, got 3"),
        ('name = "x\nprimary = \n', "themes/x.toml: toml: "),
    ],
)
def test_bad_theme_file_is_named_precisely(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ThemeError) as info:
        load_theme_file(write(tmp_path, text))
    assert str(info.value).startswith(message)


def test_resolve_theme_name() -> None:
    names = ["clawlet-dark", "nord"]
    assert resolve_theme_name("dark", names) == "clawlet-dark"
    assert resolve_theme_name("nord", names) == "nord"
    assert resolve_theme_name("sepia", names) is None


async def test_bad_theme_file_is_reported_and_default_used(tmp_path: Path) -> None:
    bad = write(tmp_path, 'name = "broken"\nprimary = "blurple"\n', "broken.toml")
    app = make_replay_app(theme="broken", theme_dirs=[REPO_THEMES, bad.parent])
    async with app.run_test(size=(120, 36)) as pilot:
        await feed_stream(pilot)
        assert app.theme == DEFAULT_THEME
        errors = notified(app, "error")
        assert any("themes/broken.toml: primary: not a colour: 'blurple'" in m for m in errors)
        assert any("unknown theme 'broken'" in m for m in errors)
        log = app.screen.query_one("#events")
        assert any("themes/broken.toml: primary: not a colour" in line.plain for line in log.lines)


async def test_requested_theme_is_applied() -> None:
    app = make_replay_app(theme="light")
    async with app.run_test(size=(120, 36)):
        assert app.theme == "clawlet-light"


async def test_a_theme_file_given_by_path_is_loaded_and_applied(tmp_path: Path) -> None:
    """``--theme path/to/mine.toml``: a file outside the theme directories."""
    mine = write(tmp_path, 'name = "mine"\ndark = false\nprimary = "#336699"\n', "mine.toml")
    app = make_replay_app(theme=str(mine))
    async with app.run_test(size=(120, 36)):
        assert app.theme == "mine"
        assert "mine" in app.file_themes  # reachable again when cycling with v


async def test_a_bad_theme_file_given_by_path_falls_back_to_the_default(tmp_path: Path) -> None:
    bad = write(tmp_path, 'name = "bad"\nprimary = "blurple"\n', "bad.toml")
    app = make_replay_app(theme=str(bad))
    async with app.run_test(size=(120, 36)):
        assert app.theme == DEFAULT_THEME
        errors = notified(app, "error")
        assert any("themes/bad.toml: primary: not a colour: 'blurple'" in m for m in errors)
