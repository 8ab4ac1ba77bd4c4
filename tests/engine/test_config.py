"""OptimizationConfig: seed defaults, validation messages, aliases, parse_assignment."""

from __future__ import annotations

import dataclasses
import math
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawlet_tui.engine.config import OptimizationConfig, parse_assignment
from clawlet_tui.engine.errors import ConfigError


def test_defaults_are_the_seed_values():
    c = OptimizationConfig()
    assert c.batch_size == 4
    assert c.batch_timeout_s == 0.05
    assert c.l1_cache_size == 100
    assert c.cache_ttl_s == 3600.0
    assert c.max_memory_usage == 0.7
    assert c.max_concurrent == len(os.sched_getaffinity(0))
    assert c.effective_pool_size == c.max_concurrent
    assert c.effective_batch_size == 4


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_size", 0, "batch_size must be >= 1, got 0"),
        ("batch_size", 4097, "batch_size must be <= 4096, got 4097"),
        ("batch_timeout_s", -0.5, "batch_timeout_s must be >= 0, got -0.5"),
        ("batch_timeout_s", 61, "batch_timeout_s must be <= 60, got 61"),
        ("l1_cache_size", -1, "l1_cache_size must be >= 0, got -1"),
        ("cache_ttl_s", 0.0, "cache_ttl_s must be >= 0.001, got 0.0"),
        ("max_memory_usage", 1.5, "max_memory_usage must be <= 1, got 1.5"),
        ("max_memory_usage", 0.0, "max_memory_usage must be >= 0.01, got 0.0"),
        ("max_concurrent", 0, "max_concurrent must be >= 1, got 0"),
        ("max_queue_size", 0, "max_queue_size must be >= 1, got 0"),
        ("request_timeout_s", 0.0, "request_timeout_s must be >= 0.001, got 0.0"),
        ("pool_size", 0, "pool_size must be >= 1, got 0"),
        ("blas_threads", 0, "blas_threads must be >= 1, got 0"),
        ("memory_check_interval_s", 0.0, "memory_check_interval_s must be >= 0.01, got 0.0"),
        ("batch_size", True, "batch_size must be an integer, got bool True"),
        ("batch_size", 2.0, "batch_size must be an integer, got float 2.0"),
        ("batch_timeout_s", "0.1", "batch_timeout_s must be a number, got str '0.1'"),
        ("batch_timeout_s", False, "batch_timeout_s must be a number, got bool False"),
        ("enable_cache", 1, "enable_cache must be true or false, got int 1"),
        ("l2_cache_dir", 5, "l2_cache_dir must be a string, got int 5"),
        ("l2_cache_dir", "  ", "l2_cache_dir must not be empty"),
        ("batch_size", None, "batch_size must be set, got None"),
        ("batch_timeout_s", math.nan, "batch_timeout_s must be a finite number, got nan"),
        ("cache_ttl_s", math.inf, "cache_ttl_s must be a finite number, got inf"),
    ],
)
def test_bad_values_raise_config_error_naming_field_value_and_rule(field, value, message):
    with pytest.raises(ConfigError) as info:
        OptimizationConfig(**{field: value})
    assert str(info.value) == message
    assert info.value.field == field


def test_integer_bounds_are_printed_exactly():
    with pytest.raises(ConfigError) as info:
        OptimizationConfig(memory_budget_bytes=5)
    assert str(info.value) == "memory_budget_bytes must be >= 1048576, got 5"


def test_huge_int_for_float_field_is_a_config_error():
    with pytest.raises(ConfigError):
        OptimizationConfig(batch_timeout_s=10**400)


def test_int_for_float_field_is_stored_as_float():
    c = OptimizationConfig(batch_timeout_s=1, cache_ttl_s=10)
    assert type(c.batch_timeout_s) is float and c.batch_timeout_s == 1.0
    assert type(c.cache_ttl_s) is float


def test_nullable_fields_accept_none():
    c = OptimizationConfig(request_timeout_s=None, pool_size=None, memory_budget_bytes=None, l2_cache_dir=None)
    assert c.request_timeout_s is None and c.effective_pool_size == c.max_concurrent


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        OptimizationConfig().batch_size = 8  # type: ignore[misc]


def test_replace_validates_and_rejects_unknown_fields():
    base = OptimizationConfig(batch_size=8)
    new = base.replace(batch_size=16)
    assert new.batch_size == 16 and base.batch_size == 8
    with pytest.raises(ConfigError, match=r"^batch_size must be >= 1, got 0$"):
        base.replace(batch_size=0)
    with pytest.raises(ConfigError, match="unknown config field 'bogus'"):
        base.replace(bogus=1)


def test_from_mapping_accepts_seed_aliases():
    c = OptimizationConfig.from_mapping({"batch_timeout": 0.2, "cache_ttl": 60, "batch_size": 8})
    assert c.batch_timeout_s == 0.2 and c.cache_ttl_s == 60.0 and c.batch_size == 8


def test_from_mapping_rejects_unknown_keys_and_non_tables():
    with pytest.raises(ConfigError, match="unknown config field 'batchsize'") as info:
        OptimizationConfig.from_mapping({"batchsize": 8})
    assert info.value.field == "batchsize"
    with pytest.raises(ConfigError, match="config must be a table, got list"):
        OptimizationConfig.from_mapping([("batch_size", 8)])  # type: ignore[arg-type]


def test_from_mapping_prefixes_source_and_uses_base():
    with pytest.raises(ConfigError) as info:
        OptimizationConfig.from_mapping({"batch_size": 0}, source="presets/x.toml")
    assert str(info.value) == "presets/x.toml: batch_size must be >= 1, got 0"
    assert info.value.field == "batch_size" and info.value.source == "presets/x.toml"
    base = OptimizationConfig(batch_size=32, l1_cache_size=5)
    c = OptimizationConfig.from_mapping({"l1_cache_size": 7}, base=base)
    assert (c.batch_size, c.l1_cache_size) == (32, 7)


def test_baseline_and_changed_fields():
    b = OptimizationConfig.baseline()
    assert (b.batch_size, b.enable_batching, b.enable_cache, b.max_concurrent, b.effective_pool_size) == (
        1, False, False, 1, 1,
    )
    assert b.effective_batch_size == 1
    a = OptimizationConfig(batch_size=4, max_concurrent=2)
    assert a.changed_fields(a.replace(batch_size=8)) == {"batch_size": (4, 8)}
    assert OptimizationConfig(batch_size=8, enable_batching=False).effective_batch_size == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("batch_size=8", ("batch_size", 8)),
        ("batch_size = 1_000", ("batch_size", 1000)),
        ("batch_timeout=0.1", ("batch_timeout_s", 0.1)),
        ("cache_ttl=60", ("cache_ttl_s", 60.0)),
        ("enable_cache=false", ("enable_cache", False)),
        ("enable_cache=ON", ("enable_cache", True)),
        ("isolate_failures=0", ("isolate_failures", False)),
        ("request_timeout_s=none", ("request_timeout_s", None)),
        ("pool_size=", ("pool_size", None)),
        ("l2_cache_dir=/tmp/a=b", ("l2_cache_dir", "/tmp/a=b")),
    ],
)
def test_parse_assignment_types_values_by_field(text, expected):
    key, value = parse_assignment(text)
    assert (key, value) == expected
    assert type(value) is type(expected[1])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("batch_size", "--set: --set 'batch_size': expected field=value"),
        ("bogus=1", "--set: unknown config field 'bogus'"),
        ("batch_size=eight", "--set: batch_size must be an integer, got 'eight'"),
        ("batch_size=none", "--set: batch_size must be an integer, got 'none'"),
        ("batch_size=1.5", "--set: batch_size must be an integer, got '1.5'"),
        ("batch_timeout_s=fast", "--set: batch_timeout_s must be a number, got 'fast'"),
        ("enable_cache=maybe", "--set: enable_cache must be true or false, got 'maybe'"),
    ],
)
def test_parse_assignment_errors(text, message):
    with pytest.raises(ConfigError) as info:
        parse_assignment(text)
    assert str(info.value) == message


# -- property: from_mapping == an independent reference validation ---------------------

# field -> (kind, low, high, nullable); written from the documented rules, not imported
REFERENCE = {
    "batch_size": ("int", 1, 4096, False),
    "batch_timeout_s": ("float", 0.0, 60.0, False),
    "l1_cache_size": ("int", 0, 10_000_000, False),
    "cache_ttl_s": ("float", 0.001, 315_360_000.0, False),
    "max_memory_usage": ("float", 0.01, 1.0, False),
    "memory_budget_bytes": ("int", 1_048_576, None, True),
    "memory_check_interval_s": ("float", 0.01, 3600.0, False),
    "max_concurrent": ("int", 1, 1024, False),
    "max_queue_size": ("int", 1, 10_000_000, False),
    "request_timeout_s": ("float", 0.001, 86400.0, True),
    "pool_size": ("int", 1, 1024, True),
    "l2_cache_dir": ("str", None, None, True),
    "l2_size_limit_bytes": ("int", 1_048_576, None, False),
    "enable_batching": ("bool", None, None, False),
    "enable_cache": ("bool", None, None, False),
    "enable_l2": ("bool", None, None, False),
    "isolate_failures": ("bool", None, None, False),
    "shed_late": ("bool", None, None, False),
    "calibrate": ("bool", None, None, False),
    "batch_policy": ("choice", ("adaptive", "eager", "timeout"), None, False),
    "l2_admission": ("choice", ("second_hit", "always"), None, False),
    "blas_threads": ("int", 1, 256, False),
}


def reference_ok(name: str, value) -> bool:
    kind, low, high, nullable = REFERENCE[name]
    if value is None:
        return nullable
    if kind == "bool":
        return type(value) is bool
    if kind == "str":
        return isinstance(value, str) and value.strip() != ""
    if kind == "choice":
        return isinstance(value, str) and value in low
    if isinstance(value, bool):
        return False
    if kind == "int" and not isinstance(value, int):
        return False
    if kind == "float":
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
    return (low is None or value >= low) and (high is None or value <= high)


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.integers(min_value=-5, max_value=5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0.0, max_value=2.0),
    st.text(max_size=4),
    st.sampled_from(["adaptive", "eager", "timeout", "Adaptive", "second_hit", "always", "Always"]),
    st.lists(st.integers(), max_size=2),
)


def test_reference_table_matches_the_dataclass_fields():
    assert set(REFERENCE) == {f.name for f in dataclasses.fields(OptimizationConfig)}


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(REFERENCE)), values, max_size=5))
def test_from_mapping_agrees_with_reference_validation(data):
    expect_ok = all(reference_ok(k, v) for k, v in data.items())
    try:
        config = OptimizationConfig.from_mapping(data)
    except ConfigError as exc:
        assert not expect_ok, f"rejected valid {data}: {exc}"
        assert exc.field in data
        assert str(exc).startswith(exc.field)
        return
    assert expect_ok, f"accepted invalid {data}"
    for key, value in data.items():
        got = getattr(config, key)
        assert got == value
        if REFERENCE[key][0] == "float" and value is not None:
            assert type(got) is float
