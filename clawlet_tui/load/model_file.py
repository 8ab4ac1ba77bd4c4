"""``--model PATH.onnx``: run a preset's load against a model file instead of its ``[model]``.

The shortcut a user with an exported model reaches for first: every command that takes a
preset (the dashboard, ``run``, ``compare``, ``serve``) takes ``--model`` and runs the
file in process, with the preset's load and engine config.  The file is checked here,
before any load starts, exactly as a preset's ``[model]`` table is (errors name
``--model``, exit 2), and the preset's ``backend_url`` no longer applies: the model runs
here, not on that server.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..engine.errors import ConfigError

#: the model file types ``--model`` takes
SUFFIXES = (".onnx",)


def with_model_file(preset: Any, path: str) -> Any:
    """``preset`` with its model replaced by the file at ``path`` (absolute, so it is found from anywhere)."""
    from ..models import build_model

    file = Path(path).expanduser()
    if file.suffix not in SUFFIXES:
        raise ConfigError(
            reason=f"must be an {' or '.join(SUFFIXES)} file, got {path!r}", field="--model", sep=": "
        )
    spec: dict[str, Any] = {"kind": "onnx", "path": str(file.resolve())}
    try:
        model = build_model(dict(spec))
    except ConfigError as exc:
        raise ConfigError(reason=exc.reason, field="--model", sep=": ") from None
    notice = getattr(model, "notice", None)
    return dataclasses.replace(
        preset, model_spec=spec, backend_url=None, backend_model=None,
        model_notice=notice if isinstance(notice, str) else None,
    )
