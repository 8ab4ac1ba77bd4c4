"""Replaying a recorded metric stream: the dashboard's snapshot source without an engine.

A stream is a JSON-lines file of :func:`snapshot_to_dict` records, oldest first.  Each call
of a :class:`RecordedStream` returns the next snapshot; after the last one it keeps
returning the last one, so a dashboard fed from it settles on a fixed picture (which is
what screenshot tests need).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from ..engine.snapshot import MetricsSnapshot, snapshot_from_dict


class RecordedStream:
    def __init__(self, snapshots: Iterable[MetricsSnapshot]) -> None:
        self.snapshots = tuple(snapshots)
        if not self.snapshots:
            raise ValueError("a recorded stream needs at least one snapshot")
        self.position = 0

    @classmethod
    def from_jsonl(cls, path: Path | str) -> RecordedStream:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return cls(snapshot_from_dict(json.loads(line)) for line in lines if line.strip())

    def __call__(self) -> MetricsSnapshot:
        snapshot = self.snapshots[min(self.position, len(self.snapshots) - 1)]
        self.position += 1
        return snapshot

    @property
    def exhausted(self) -> bool:
        return self.position >= len(self.snapshots)

    def __len__(self) -> int:
        return len(self.snapshots)
