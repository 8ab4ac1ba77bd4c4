"""Presets: a named load, engine config and model in one TOML file.

::

    name = "steady"                 # optional; must match the file name
    description = "one line"        # required
    slo_p99_ms = 50                 # optional; also an implicit alert: p99_ms above it
    backend_url = "http://host:8000" # optional: run the model on an Open Inference Protocol server
    backend_model = "name"          # optional: the model's name there (default: its only model)
    backend_urls = ["http://a:8000", "http://b:8000"]  # optional, instead of backend_url:
                                    # several replicas, batches spread over them
    [engine]                        # OptimizationConfig fields (optional)
    batch_size = 8
    [load]                          # LoadProfile fields (required)
    mode = "open"
    shape = "poisson"
    rate_rps = 200
    duration_s = 30
    [load.keys]                     # KeySpec fields (optional)
    distribution = "zipf"
    key_count = 1000
    [model]                         # clawlet_tui.models.build_model spec (optional; default MLP)
    kind = "mlp"                    # or: target = "mymodel:predict" (mymodel.py next to this file)
    [[alerts]]                      # optional, repeatable: see clawlet_tui.engine.alerts
    metric = "p99_ms"
    above = 50
    for_s = 5
    [warmup]                        # optional: warm the cache before the load (see load/warmup.py)
    top_keys = 500                  # the 500 most likely keys; or keys_file = "hot.txt"

A preset is looked up by name in :func:`preset_dirs`, first match wins, so a user's file
shadows a shipped one of the same name.  Anything wrong with a file is a
:class:`~clawlet_tui.engine.errors.PresetError` whose message is one line,
``FILE: FIELD: reason`` (``FILE: line L, column C: reason`` for TOML syntax), and loading
validates everything a run would use, including building the model once.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..engine.alerts import AlertRule, parse_alerts
from ..engine.config import ALIASES, OptimizationConfig
from ..engine.errors import ConfigError, PresetError
from ..engine.rules import Rule, did_you_mean, unknown_field
from .profiles import LoadProfile
from .warmup import WarmupPlan, parse_warmup

#: environment variable naming an extra preset directory, searched first
PRESETS_DIR_ENV = "CLAWLET_PRESETS_DIR"

_TOP_LEVEL = frozenset(
    {
        "name", "description", "slo_p99_ms", "backend_url", "backend_urls", "backend_model",
        "engine", "load", "model", "alerts", "warmup",
    }
)
_ENGINE_FIELDS = frozenset(f.name for f in fields(OptimizationConfig)) | frozenset(ALIASES)

_TEXT = Rule(str, non_empty=True, says="a non-empty string")
#: the top-level values (see engine/rules.py); the tables have rules of their own
_RULES: dict[str, Rule] = {
    "name": _TEXT,
    "description": _TEXT,
    "slo_p99_ms": Rule(float, 0.0, above=True, optional=True, says="a number > 0"),
    "backend_url": Rule(str, optional=True, non_empty=True, says="a non-empty string"),
    "backend_model": Rule(str, optional=True, non_empty=True, says="a non-empty string"),
}


@dataclass(frozen=True)
class Preset:
    name: str
    #: one line
    description: str
    #: the file it was read from
    path: Path
    load: LoadProfile
    config: OptimizationConfig
    #: the ``[model]`` table, for :func:`clawlet_tui.models.build_model` (treat as read-only)
    model_spec: dict[str, Any] = field(default_factory=dict, hash=False)
    #: latency objective: p99 at or below this many milliseconds
    slo_p99_ms: float | None = None
    #: remote Open Inference Protocol server that runs the model (None: in process)
    backend_url: str | None = None
    #: model name on that server (None: the server's only model)
    backend_model: str | None = None
    #: several servers of the model, batches spread over them (empty: ``backend_url`` or in process)
    backend_urls: tuple[str, ...] = ()
    #: the ``[[alerts]]`` rules (``slo_p99_ms`` adds one: see :func:`~clawlet_tui.engine.alerts.preset_alert_rules`)
    alerts: tuple[AlertRule, ...] = ()
    #: the ``[warmup]`` table's keys (None: the preset has none)
    warmup: WarmupPlan | None = None
    #: one line the CLI prints before a run, from the model (an ONNX model with a fixed
    #: batch of 1 runs unbatched), None if it has nothing to say
    model_notice: str | None = field(default=None, compare=False)

    def build_model(self) -> Any:
        """A fresh model per the preset's spec (models keep state, so runs do not share one)."""
        from ..models import build_model

        return build_model(copy.deepcopy(self.model_spec), source=str(self.path), base_dir=self.path.parent)


def preset_dirs() -> list[Path]:
    """Existing preset directories in search order, without duplicates.

    ``$CLAWLET_PRESETS_DIR``, then ``$XDG_CONFIG_HOME/clawlet-tui/presets`` (default
    ``~/.config``), the presets packaged in a wheel (``clawlet_tui/_data/presets``), and
    the repository's ``presets/`` for an editable install.
    """
    candidates: list[Path] = []
    env = os.environ.get(PRESETS_DIR_ENV)
    if env:
        candidates.append(Path(env).expanduser())
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    candidates.append(Path(config_home) / "clawlet-tui" / "presets")
    here = Path(__file__).resolve()
    candidates.append(here.parents[1] / "_data" / "presets")
    repo = here.parents[2]
    if (repo / "pyproject.toml").is_file():  # a source checkout, not site-packages
        candidates.append(repo / "presets")
    seen: set[Path] = set()
    dirs: list[Path] = []
    for candidate in candidates:
        try:
            resolved = candidate.resolve()
        except OSError:
            continue
        if resolved not in seen and resolved.is_dir():
            seen.add(resolved)
            dirs.append(candidate)
    return dirs


def preset_names() -> list[str]:
    """Names of every preset found (file stems), sorted; no file is parsed."""
    return sorted(_index())


def load_preset(name_or_path: str | os.PathLike[str]) -> Preset:
    """Load a preset by name (searched in :func:`preset_dirs`) or by path.

    A name containing ``/`` or ending in ``.toml`` (or any ``Path``) is a path.
    """
    text = os.fspath(name_or_path)
    if isinstance(name_or_path, os.PathLike) or "/" in text or text.endswith(".toml") or os.sep in text:
        return _load_file(Path(text).expanduser())
    index = _index()
    if text not in index:
        hint = did_you_mean(text, index, listed="available", always_list=True)
        raise PresetError(reason=f"unknown preset{hint}", field="name", sep=None, source=text)
    return _load_file(index[text])


def list_presets(*, skip_invalid: bool = False) -> list[Preset]:
    """Every preset found, sorted by name.  A broken file raises, or is left out with ``skip_invalid``."""
    presets = []
    for _name, path in sorted(_index().items()):
        try:
            presets.append(_load_file(path))
        except PresetError:
            if not skip_invalid:
                raise
    return presets


# -- parsing ----------------------------------------------------------------------------


def _index() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory in preset_dirs():
        for path in sorted(directory.glob("*.toml")):
            found.setdefault(path.stem, path)
    return found


def _load_file(path: Path) -> Preset:
    source = str(path)
    try:
        with path.open("rb") as fp:
            data = tomllib.load(fp)
    except OSError as exc:
        raise PresetError(reason=f"cannot read: {exc.strerror or exc}", source=source) from None
    except UnicodeDecodeError:
        raise PresetError(reason="not UTF-8 text", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(reason=_toml_reason(str(exc)), source=source) from None
    return parse_preset(data, path=path)


def parse_preset(data: Mapping[str, Any], *, path: Path) -> Preset:
    """Validate a parsed preset table (``path`` names it in errors and gives the default name)."""
    source = str(path)

    def fail(where: str, reason: str) -> PresetError:
        return PresetError(reason=reason, field=where, sep=": ", source=source)

    def check(key: str, value: Any) -> Any:
        reason = _RULES[key].violation(value)
        if reason is not None:
            raise fail(key, reason)
        return value

    for key in data:
        if key not in _TOP_LEVEL:
            raise fail(key, unknown_field(key, _TOP_LEVEL))

    name = check("name", data.get("name", path.stem))
    if name != path.stem:
        raise fail("name", f"{name!r} does not match the file name {path.name!r} (presets are found by file name)")

    if "description" not in data:
        raise fail("description", "is required (one line saying what the preset shows)")
    description = check("description", data["description"])
    if "\n" in description.strip():
        raise fail("description", "must be one line")

    slo = check("slo_p99_ms", data.get("slo_p99_ms"))
    slo = None if slo is None else float(slo)
    url = check("backend_url", data.get("backend_url"))
    backend_model = check("backend_model", data.get("backend_model"))
    if url is not None and not url.startswith(("http://", "https://")):
        raise fail("backend_url", f"must start with http:// or https://, got {url!r}")
    urls = _backend_urls(data.get("backend_urls", []), fail)
    if urls and url is not None:
        raise fail("backend_urls", "give backend_url (one server) or backend_urls (several), not both")

    engine = data.get("engine", {})
    if not isinstance(engine, Mapping):
        raise fail("engine", f"must be a table, got {type(engine).__name__}")
    for key in engine:
        if key not in _ENGINE_FIELDS:
            raise fail(f"engine.{key}", unknown_field(key, _ENGINE_FIELDS - frozenset(ALIASES)))
    try:
        config = OptimizationConfig.from_mapping(engine)
    except ConfigError as exc:
        raise fail(f"engine.{exc.field}", exc.reason) from None

    if "load" not in data:
        raise fail("load", "is required (a [load] table)")
    load = LoadProfile.from_mapping(data["load"], source=source)
    warmup = None
    if "warmup" in data:
        warmup = parse_warmup(data["warmup"], keys=load.keys, base_dir=path.parent, source=source)

    model_spec = data.get("model", {})
    if not isinstance(model_spec, Mapping):
        raise fail("model", f"must be a table, got {type(model_spec).__name__}")
    model_spec = copy.deepcopy(dict(model_spec))
    notice = _check_model(model_spec, fail, base_dir=path.parent)

    try:
        alerts = parse_alerts(data.get("alerts", []))
    except ConfigError as exc:
        raise fail(exc.field or "alerts", exc.reason) from None

    return Preset(
        name=name,
        description=description.strip(),
        path=path,
        load=load,
        config=config,
        model_spec=model_spec,
        slo_p99_ms=slo,
        backend_url=url,
        backend_model=backend_model,
        backend_urls=urls,
        alerts=alerts,
        warmup=warmup,
        model_notice=notice,
    )


def _backend_urls(value: Any, fail: Any) -> tuple[str, ...]:
    """``backend_urls``: a list of distinct http(s) URLs (one is allowed: it is ``backend_url``)."""
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        raise fail("backend_urls", f"must be a list of URL strings, got {value!r}")
    for position, url in enumerate(value):
        if not url.startswith(("http://", "https://")):
            raise fail(f"backend_urls[{position}]", f"must start with http:// or https://, got {url!r}")
        if url in value[:position]:
            raise fail(f"backend_urls[{position}]", f"{url!r} is listed twice")
    return tuple(value)


def _check_model(spec: dict[str, Any], fail: Any, *, base_dir: Path) -> str | None:
    """Build the model once, so a bad ``[model]`` table fails at load time, not mid-run;
    returns what the model has to say before a run (its ``notice``), if anything.

    ``base_dir`` (the preset's folder) is where a user model's file is looked for.
    """
    from ..models import build_model

    try:
        model = build_model(copy.deepcopy(spec), base_dir=base_dir)
    except ConfigError as exc:
        where = exc.field or "model"
        # "unknown field model.x for kind 'mlp'" -> model.x: "unknown field for kind 'mlp'"
        reason = exc.reason.replace(f" {where} ", " ", 1)
        leaf = where.rpartition(".")[2]
        faults = spec.get("faults")
        # build_model names fault parameters model.<name>; point at the table they are in
        if isinstance(faults, Mapping) and leaf in faults and leaf not in spec and not where.startswith("model.faults"):
            where = f"model.faults.{leaf}"
        raise fail(where, reason) from None
    except Exception as exc:  # e.g. a user model module that fails to import
        raise fail("model", f"cannot build the model: {type(exc).__name__}: {exc}") from None
    notice = getattr(model, "notice", None)
    return notice if isinstance(notice, str) else None


_TOML_POSITION = re.compile(r"^(?P<reason>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)$")


def _toml_reason(message: str) -> str:
    """``line 3, column 9: invalid value`` from tomllib's ``Invalid value (at line 3, column 9)``."""
    match = _TOML_POSITION.match(message)
    if match:
        reason = match["reason"]
        return f"line {match['line']}, column {match['col']}: invalid TOML: {reason[:1].lower()}{reason[1:]}"
    return f"invalid TOML: {message}"
