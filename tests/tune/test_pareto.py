"""The Pareto front against a brute-force computation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clawlet_tui.tune.pareto import pareto_front

points = st.lists(st.tuples(st.integers(0, 20).map(float), st.integers(0, 20).map(float)), max_size=40)


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


@given(points)
def test_front_is_exactly_the_undominated_points(items: list[tuple[float, float]]) -> None:
    expected = [p for p in items if not any(dominates(q, p) for q in items)]
    assert sorted(pareto_front(items)) == sorted(expected)


@given(points)
def test_front_is_ordered_by_throughput_down_and_p99_down(items: list[tuple[float, float]]) -> None:
    front = pareto_front(items)
    assert [p[0] for p in front] == sorted((p[0] for p in front), reverse=True)
    assert all(a[1] >= b[1] for a, b in zip(front, front[1:]))


def test_accessors() -> None:
    items = [{"t": 10, "p": 5}, {"t": 20, "p": 9}, {"t": 15, "p": 9}]
    assert pareto_front(items, lambda x: x["t"], lambda x: x["p"]) == [items[1], items[0]]
