"""Helpers for the observability tests: render a registry and read its samples back."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families


def parse(text: str) -> dict[str, Any]:
    """``{family name: {"type": ..., "samples": {(sample name, sorted label items): value}}}``."""
    families: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
        families[family.name] = {"type": family.type, "samples": samples}
    return families


def sample(families: dict[str, Any], family: str, name: str | None = None, **labels: str) -> float:
    """The value of one sample: ``sample(f, "clawlet_requests", "clawlet_requests_total", outcome="ok")``."""
    return families[family]["samples"][(name or family, tuple(sorted(labels.items())))]


def buckets(families: dict[str, Any], family: str) -> list[tuple[float, float]]:
    """``[(le, cumulative count), ...]`` of a histogram, in ``le`` order."""
    out = [
        (float(dict(labels)["le"]), value)
        for (name, labels), value in families[family]["samples"].items()
        if name == family + "_bucket"
    ]
    return sorted(out)


@pytest.fixture
def scrape():
    """``scrape(registry)``: the registry rendered as the text format, parsed back."""

    def render(registry) -> dict[str, Any]:
        return parse(generate_latest(registry).decode())

    return render
