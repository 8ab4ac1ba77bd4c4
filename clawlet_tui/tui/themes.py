"""Theme files: TOML tables with the fields of :class:`textual.theme.Theme`.

A theme file looks like ``themes/dark.toml``::

    name = "clawlet-dark"
    dark = true
    primary = "#4FA3E0"
    background = "#11151C"
    ...

Guarantees:

* :func:`load_theme_file` either returns a :class:`Theme` whose every colour parses with
  :meth:`textual.color.Color.parse`, or raises :class:`ThemeError` with the message
  ``"<dir>/<file>: <field>: <reason>"`` (e.g. ``themes/x.toml: primary: not a colour: 'blurple'``).
* :func:`discover_themes` never raises for a bad file: it collects the error and goes on,
  so one broken user theme never takes the dashboard down.
* Later directories override earlier ones by theme name (the user's config dir wins).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from ..engine.errors import ThemeError

#: colour fields of a theme file (all optional except ``primary``)
COLOR_FIELDS: tuple[str, ...] = (
    "primary",
    "secondary",
    "accent",
    "background",
    "surface",
    "panel",
    "foreground",
    "success",
    "warning",
    "error",
    "boost",
)
THEME_FIELDS: frozenset[str] = frozenset({"name", "dark", *COLOR_FIELDS})

#: the theme used when none is asked for, or the one asked for is broken
DEFAULT_THEME = "clawlet-dark"
#: textual's own theme, used if even the shipped theme files are missing
FALLBACK_THEME = "textual-dark"


def theme_dirs() -> list[Path]:
    """Where theme files are looked for, lowest priority first.

    The packaged copy (``clawlet_tui/_data/themes``, present in wheels), the repository's
    top-level ``themes/`` (a source checkout), then ``~/.config/clawlet-tui/themes``.
    """
    package = Path(__file__).resolve().parents[1]
    return [
        package / "_data" / "themes",
        package.parent / "themes",
        Path.home() / ".config" / "clawlet-tui" / "themes",
    ]


def display_path(path: Path) -> str:
    """``themes/x.toml``: the file and its directory, short enough for a log line."""
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _error(path: Path, field: str, reason: str) -> ThemeError:
    return ThemeError(f"{field}: {reason}", field=field, source=display_path(path))


def load_theme_file(path: Path | str) -> Theme:
    """Read and validate one theme file.  Raises :class:`ThemeError` on any problem."""
    path = Path(path)
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _error(path, "file", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise _error(path, "file", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise _error(path, "toml", str(exc)) from None
    return theme_from_mapping(data, path)


def theme_from_mapping(data: dict[str, Any], path: Path) -> Theme:
    """Validate a parsed theme table (``path`` is only used in error messages)."""
    for key in data:
        if key not in THEME_FIELDS:
            raise _error(path, key, f"unknown field (expected one of {', '.join(sorted(THEME_FIELDS))})")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _error(path, "name", f"must be a non-empty string, got {name!r}")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise _error(path, "dark", f"must be true or false, got {dark!r}")
    if "primary" not in data:
        raise _error(path, "primary", "is required")
    # keyword arguments for Theme: colour strings only, but Theme also takes floats and bools,
    # which a dict[str, str] splatted into it would (to mypy) be able to fill
    colors: dict[str, Any] = {}
    for key in COLOR_FIELDS:
        if key not in data:
            continue
        value = data[key]
        if not isinstance(value, str):
            raise _error(path, key, f"must be a colour string, got {value!r}")
        try:
            Color.parse(value)
        except ColorParseError:
            raise _error(path, key, f"not a colour: {value!r}") from None
        colors[key] = value
    return Theme(name=name.strip(), dark=dark, **colors)


@dataclass(frozen=True)
class ThemeSet:
    """Themes found in the theme directories, and the files that could not be used."""

    themes: tuple[Theme, ...]
    errors: tuple[ThemeError, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(theme.name for theme in self.themes)


def discover_themes(dirs: Iterable[Path] | None = None) -> ThemeSet:
    """Load every ``*.toml`` in ``dirs`` (default :func:`theme_dirs`), sorted by file name."""
    by_name: dict[str, Theme] = {}
    errors: list[ThemeError] = []
    seen_errors: set[str] = set()
    for directory in theme_dirs() if dirs is None else dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeError as exc:
                # the packaged copy and the checkout hold the same files: report once
                if str(exc) not in seen_errors:
                    seen_errors.add(str(exc))
                    errors.append(exc)
                continue
            by_name[theme.name] = theme
    return ThemeSet(themes=tuple(by_name.values()), errors=tuple(errors))


def is_theme_path(text: str) -> bool:
    """``--theme`` names a file (``my.toml``, ``dir/x``) rather than a registered theme."""
    return text.endswith(".toml") or "/" in text


def resolve_theme_name(requested: str, available: Sequence[str]) -> str | None:
    """``dark`` finds ``clawlet-dark``; an exact name always wins.  None if nothing matches."""
    if requested in available:
        return requested
    prefixed = f"clawlet-{requested}"
    return prefixed if prefixed in available else None
