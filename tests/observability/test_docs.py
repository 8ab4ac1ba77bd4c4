"""docs/observability.md lists every metric the exporter emits."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import generate_latest

from clawlet_tui.observability import make_registry

from .conftest import parse
from .test_prometheus import rich_snapshot

DOC = Path(__file__).resolve().parents[2] / "docs" / "observability.md"


def test_every_metric_is_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(clawlet_\w+)", doc))
    families = parse(generate_latest(make_registry(lambda: rich_snapshot())[0]).decode())
    emitted = {
        name + "_total" if family["type"] == "counter" else name for name, family in families.items()
    }
    assert sorted(emitted - documented) == []
