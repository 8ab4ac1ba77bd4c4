"""build_session: the one builder behind run, compare, serve and the dashboard."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pytest

from clawlet_tui.engine import ClawletEngine, ConfigError, OptimizationConfig
from clawlet_tui.load import LoadGenerator, LoadProfile, Preset
from clawlet_tui.session import build_session, resolve_config

TINY_MODEL = {"kind": "latency", "fixed_ms": 0.5, "per_item_ms": 0.01}


@pytest.fixture
def preset(tmp_path: Path) -> Preset:
    return Preset(
        name="tiny",
        description="a tiny preset",
        path=tmp_path / "tiny.toml",
        load=LoadProfile(rate_rps=50.0, duration_s=1.0),
        config=OptimizationConfig(batch_size=4, max_concurrent=2),
        model_spec=dict(TINY_MODEL),
    )


@pytest.fixture(autouse=True)
def _temp_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def _l2_dirs(root: Path) -> list[Path]:
    return sorted(root.glob("clawlet-l2-*"))


def test_builds_engine_and_generator_with_overrides_and_duration(preset: Preset, tmp_path: Path) -> None:
    with build_session(preset, overrides={"batch_size": 8}, duration_s=0.5) as session:
        assert isinstance(session.engine, ClawletEngine) and isinstance(session.generator, LoadGenerator)
        assert session.config.batch_size == 8 and session.engine.config.batch_size == 8
        assert session.profile.duration_s == 0.5 and preset.load.duration_s == 1.0
        assert session.mode == "optimized" and session.backend is None
        (l2,) = _l2_dirs(tmp_path)
        assert session.config.l2_cache_dir == session.l2_dir == str(l2)
    assert _l2_dirs(tmp_path) == []


def test_baseline_switches_optimizations_off_and_keeps_other_limits(preset: Preset) -> None:
    with build_session(preset, overrides={"max_queue_size": 77}, mode="baseline") as session:
        assert session.engine.mode == "baseline"
        assert session.config.batch_size == 1 and not session.config.enable_cache
        assert session.config.max_queue_size == 77


def test_a_named_l2_dir_is_kept_unless_fresh_l2(preset: Preset, tmp_path: Path) -> None:
    mine = str(tmp_path / "mine")
    named = dataclasses.replace(preset, config=preset.config.replace(l2_cache_dir=mine))
    with build_session(named) as session:
        assert session.config.l2_cache_dir == mine and session.l2_dir is None
    assert _l2_dirs(tmp_path) == []
    with build_session(named, fresh_l2=True) as session:
        assert session.config.l2_cache_dir != mine and session.l2_dir is not None


def test_a_failed_build_leaves_no_temporary_dir(preset: Preset, tmp_path: Path) -> None:
    def broken(spec, source):
        raise ConfigError("model: broken", source=source)

    with pytest.raises(ConfigError, match="broken"):
        build_session(preset, model_builder=broken)
    assert _l2_dirs(tmp_path) == []


def test_overrides_are_set_errors_with_aliases_accepted(preset: Preset) -> None:
    assert resolve_config(preset, {"batch_timeout": 0.01}).batch_timeout_s == 0.01
    with pytest.raises(ConfigError, match=r"^--set: batch_size must be >= 1, got 0$"):
        resolve_config(preset, {"batch_size": 0})
    with pytest.raises(ConfigError, match="mode must be one of"):
        resolve_config(preset, mode="fast")


def test_a_backend_url_builds_a_remote_engine_without_connecting(preset: Preset) -> None:
    with build_session(preset, backend_url="http://127.0.0.1:1", model_name="m") as session:
        assert session.backend is not None and session.backend.model_name == "m"
        assert session.model is session.backend.model_info
        assert session.engine.model is session.backend.model_info
        # the dashboard's preset switch builds further engines on the same backend
        assert session.engine_factory(session.config, None).model is session.backend.model_info


def test_several_backend_urls_build_one_balanced_engine(preset: Preset) -> None:
    from clawlet_tui.remote import BalancedBackend, RemoteBackend

    urls = ["http://127.0.0.1:1", "http://127.0.0.1:2"]
    with build_session(preset, backend_url=urls, model_name="m") as session:
        assert isinstance(session.backend, BalancedBackend) and session.backend.servers == 2
        assert session.engine.model is session.backend.model_info
        session.engine.log_event("x", "y")
        session.backend.on_event("backend", "ejected")  # wired to the engine's event log
        assert [e.message for e in session.engine.snapshot().events][-1] == "ejected"
    # from the preset, and a single URL given stays a plain RemoteBackend
    listed = dataclasses.replace(preset, backend_urls=tuple(urls))
    with build_session(listed) as session:
        assert isinstance(session.backend, BalancedBackend)
    with build_session(listed, backend_url=[urls[0]]) as session:
        assert isinstance(session.backend, RemoteBackend)
