"""Rounding for presentation: largest remainder against a brute-force reference, half up."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alloc.rounding import largest_remainder, round_half_up, round_money

# Amounts in pounds with pence, up to £2bn either side (ICB allocations and net positions).
money = st.integers(min_value=-200_000_000_000, max_value=200_000_000_000).map(lambda p: p / 100)


def exact(value: float, unit: int = 1000) -> Fraction:
    """value / unit exactly, from the value's shortest decimal form (what a user typed)."""
    return Fraction(repr(value)) / unit


def half_up_reference(q: Fraction) -> int:
    """Round half away from zero: sign(q) * floor(|q| + 1/2)."""
    magnitude = int(abs(q) + Fraction(1, 2))  # int() truncates; |q| + 1/2 >= 0
    return magnitude if q >= 0 else -magnitude


def best_error(values: list[float], total: int) -> Fraction:
    """Brute force: the smallest total absolute error over every floor/ceiling choice that sums
    to ``total`` (the property largest remainder is known to achieve)."""
    qs = [exact(v) for v in values]
    floors = [q.numerator // q.denominator for q in qs]
    best = None
    for ups in itertools.product((0, 1), repeat=len(qs)):
        r = [f + u for f, u in zip(floors, ups)]
        if any(u and f == q for u, f, q in zip(ups, floors, qs)):
            continue  # an integer cannot be rounded up
        if sum(r) != total:
            continue
        err = sum(abs(q - x) for q, x in zip(qs, r))
        best = err if best is None else min(best, err)
    return best


@settings(max_examples=200, deadline=None)
@given(st.lists(money, min_size=1, max_size=8))
def test_largest_remainder_sums_to_rounded_total_with_least_error(values):
    rounded = largest_remainder(values)
    total = half_up_reference(sum(exact(v) for v in values))
    assert int(rounded.sum()) == total
    qs = [exact(v) for v in values]
    errors = [abs(q - int(r)) for q, r in zip(qs, rounded)]
    assert all(e < 1 for e in errors)  # each within one unit (its floor or ceiling)
    assert sum(errors) == best_error(values, total)


@settings(max_examples=100, deadline=None)
@given(st.lists(money, min_size=1, max_size=60))
def test_largest_remainder_long_columns(values):
    rounded = largest_remainder(values)
    assert int(rounded.sum()) == half_up_reference(sum(exact(v) for v in values))
    assert all(abs(exact(v) - int(r)) < 1 for v, r in zip(values, rounded))


@settings(max_examples=300, deadline=None)
@given(money)
def test_round_half_up_matches_reference(value):
    assert round_half_up(value) == half_up_reference(exact(value))


@pytest.mark.parametrize(
    "value,expected",
    [
        (1_234_500.0, 1235),
        (-1_234_500.0, -1235),
        (2_500.0, 3),
        (3_500.0, 4),
        (2_499.99, 2),
        (0.0, 0),
        (499.999, 0),
        (500.0, 1),
    ],
)
def test_round_half_up_examples(value, expected):
    # Python's round() gives 2 for 2.5 (half to even); published NHS England tables give 3.
    assert round_half_up(value) == expected


def test_round_money_methods():
    values = [1_400.0, 1_400.0, 1_200.0]  # £1.4k, £1.4k, £1.2k: total £4.0k
    lr, total = round_money(values, "largest_remainder")
    assert total == 4 and lr.tolist() == [2, 1, 1]
    hu, total = round_money(values, "half_up")
    assert total == 4 and hu.tolist() == [1, 1, 1]  # half up on its own misses the total
    with pytest.raises(ValueError, match="rounding method"):
        round_money(values, "bankers")


def test_rounding_rejects_non_finite():
    with pytest.raises(ValueError, match="non-finite"):
        largest_remainder([1.0, np.nan])


def test_explicit_total_out_of_reach():
    with pytest.raises(ValueError, match="cannot be reached"):
        largest_remainder([1_500.0, 1_500.0], total=10)
