"""``--out FILE.toml``: the tuned preset, a file ``clawlet-tui run --preset FILE`` runs as is.

It is the original preset file with the chosen values written into its ``[engine]``
table: the same load, model and other engine fields, ``name`` set to the new file's
stem (presets are found by file name) and ``slo_p99_ms`` to the SLO tuned for.  A
user model named relative to the original preset (``path = "./m.py"`` or a
``target`` module beside it) is pointed at by absolute path, so the new file works
from any folder.  The file is loaded back with :func:`load_preset` before this
returns, so a file that would not load is never left claiming to be a preset.
"""

from __future__ import annotations

import math
import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..engine.errors import ConfigError


def tuned_preset_table(preset: Any, chosen: Mapping[str, Any], *, name: str, description: str, slo_p99_ms: float) -> dict[str, Any]:
    """The preset's TOML table with ``chosen`` in ``[engine]``."""
    with Path(preset.path).open("rb") as fp:
        data: dict[str, Any] = tomllib.load(fp)
    data["name"] = name
    data["description"] = description
    data["slo_p99_ms"] = slo_p99_ms
    engine = dict(data.get("engine", {}))
    for alias, field in (("batch_timeout", "batch_timeout_s"), ("cache_ttl", "cache_ttl_s")):
        if alias in engine and field in chosen:
            del engine[alias]
    engine.update(chosen)
    data["engine"] = engine
    model = data.get("model")
    if isinstance(model, dict):
        data["model"] = _absolute_model(dict(model), Path(preset.path).resolve().parent)
    # keys in a stable order: name, description, scalars, then the tables
    order = ["name", "description", "slo_p99_ms"]
    return {k: data[k] for k in order if k in data} | {k: v for k, v in data.items() if k not in order}


def _absolute_model(model: dict[str, Any], folder: Path) -> dict[str, Any]:
    path = model.get("path")
    if isinstance(path, str) and not Path(path).expanduser().is_absolute():
        model["path"] = str((folder / path).resolve())
    target = model.get("target")
    if isinstance(target, str) and ":" in target and "path" not in model:
        module, _, function = target.partition(":")
        beside = folder / (module.replace(".", "/") + ".py")
        if beside.is_file():
            del model["target"]
            model["path"], model["function"] = str(beside), function
    return model


def write_tuned_preset(path: str | Path, preset: Any, chosen: Mapping[str, Any], *, slo_p99_ms: float, summary: str) -> Path:
    """Write the tuned preset to ``path`` (``.toml``) and check it loads; returns the path."""
    from ..load import load_preset

    path = Path(path)
    if path.suffix != ".toml":
        raise ConfigError(f"--out must name a .toml file, got {str(path)!r}", field="out")
    description = f"{preset.description.rstrip('.')}; tuned by clawlet-tui tune: {summary}"
    table = tuned_preset_table(preset, chosen, name=path.stem, description=" ".join(description.split()), slo_p99_ms=slo_p99_ms)
    path.write_text(dumps(table), encoding="utf-8")
    load_preset(path)  # raises PresetError if what we wrote would not run
    return path


# -- a small TOML writer: the value types a preset holds ----------------------------------------


def dumps(table: Mapping[str, Any]) -> str:
    lines: list[str] = []
    _table(lines, table, ())
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(lines: list[str], table: Mapping[str, Any], prefix: tuple[str, ...], *, array: bool = False) -> None:
    arrays = {k: v for k, v in table.items() if _is_array_of_tables(v)}
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping) and k not in arrays}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    name = ".".join(_key(k) for k in prefix)
    if array:
        lines += ["", f"[[{name}]]"]
    elif prefix and (scalars or not tables):
        lines += ["", f"[{name}]"]
    for key, value in scalars.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in tables.items():
        _table(lines, value, (*prefix, key))
    for key, items in arrays.items():  # [[alerts]]: one header per table
        for item in items:
            _table(lines, item, (*prefix, key), array=True)


def _is_array_of_tables(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, Mapping) for v in value)


_BARE = frozenset(string.ascii_letters + string.digits + "_-")


def _key(key: str) -> str:
    return key if key and set(key) <= _BARE else _string(key)


def _string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for c in text:
        if c in ('"', "\\"):
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} to TOML")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
