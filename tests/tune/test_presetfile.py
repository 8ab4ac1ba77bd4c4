"""``--out``: the tuned preset loads with load_preset and carries the chosen [engine] fields."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clawlet_tui.engine.errors import ConfigError
from clawlet_tui.load import load_preset
from clawlet_tui.tune.presetfile import dumps, write_tuned_preset

from .conftest import write_preset

CHOSEN = {"batch_size": 16, "batch_timeout_s": 0.001, "batch_policy": "eager", "max_concurrent": 3, "l1_cache_size": 4096}


def test_out_file_loads_with_the_chosen_engine_and_the_same_load(short_preset: Path, tmp_path: Path) -> None:
    original = load_preset(short_preset)
    out = write_tuned_preset(tmp_path / "tuned.toml", original, CHOSEN, slo_p99_ms=25.0, summary="1.5x")
    tuned = load_preset(out)
    assert tuned.name == "tuned"
    assert {k: getattr(tuned.config, k) for k in CHOSEN} == CHOSEN
    assert tuned.load == original.load
    assert tuned.model_spec == original.model_spec
    assert tuned.slo_p99_ms == 25.0
    assert "tuned by clawlet-tui tune: 1.5x" in tuned.description


def test_a_user_model_beside_the_original_is_found_from_elsewhere(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "mymodel.py").write_text("def predict(batch):\n    return [x for x in batch]\n", encoding="utf-8")
    path = src / "mine.toml"
    path.write_text(
        'description = "d"\n[load]\nmode = "closed"\nconcurrency = 2\nrequests = 10\n[model]\ntarget = "mymodel:predict"\n',
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = write_tuned_preset(elsewhere / "mine-tuned.toml", load_preset(path), {"batch_size": 8}, slo_p99_ms=5.0, summary="x")
    assert load_preset(out).config.batch_size == 8


def test_the_alerts_of_the_original_are_kept(short_preset: Path, tmp_path: Path) -> None:
    """[[alerts]] tables are written back as [[alerts]] tables, in order."""
    with short_preset.open("a", encoding="utf-8") as fp:
        fp.write('\n[[alerts]]\nmetric = "queue_depth"\nabove = 50\nfor_s = 2\n\n[[alerts]]\nmetric = "error_rate"\nabove = 0.01\n')
    original = load_preset(short_preset)
    out = write_tuned_preset(tmp_path / "tuned.toml", original, CHOSEN, slo_p99_ms=25.0, summary="1.5x")
    assert load_preset(out).alerts == original.alerts and len(original.alerts) == 2
    assert out.read_text(encoding="utf-8").count("[[alerts]]") == 2


def test_out_must_be_toml(short_preset: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--out must name a .toml file"):
        write_tuned_preset(tmp_path / "x.json", load_preset(short_preset), CHOSEN, slo_p99_ms=1.0, summary="")


scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**62), 2**62),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=10)
tables = st.recursive(
    st.dictionaries(keys, st.one_of(scalars, st.lists(scalars.filter(lambda v: not isinstance(v, bool)) | st.booleans(), max_size=3)), max_size=4),
    lambda children: st.dictionaries(keys, children, min_size=1, max_size=3),
    max_leaves=10,
)


@given(tables)
def test_the_toml_writer_round_trips(table: dict) -> None:
    assert tomllib.loads(dumps(table)) == table


def test_rewrites_a_closed_preset_to_an_open_one_unchanged(tmp_path: Path) -> None:
    path = write_preset(tmp_path, name="open", mode="open", load='shape = "poisson"\nrate_rps = 300')
    out = write_tuned_preset(tmp_path / "open2.toml", load_preset(path), {"batch_size": 4}, slo_p99_ms=9.0, summary="")
    assert load_preset(out).load == load_preset(path).load
