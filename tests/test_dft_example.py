"""Reproduce NHS England's published 2013/14 distance-from-target table (shared/domain).

Every row: target = weighted population x one national GBP per weighted head (GBP 1,135.41), and
DfT = (allocation - target) / target, published to 2 decimal places.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alloc.targets.formula import distance_from_target, targets_from_weighted_population

EXAMPLE = Path(__file__).resolve().parents[2] / "shared" / "domain" / "dft_example_2013_14.csv"
GBP_PER_WEIGHTED_HEAD = 1135.41  # read off the published table (S21 in methodology.md)


@pytest.fixture(scope="module")
def table():
    if not EXAMPLE.is_file():
        pytest.skip(f"published example not available at {EXAMPLE}")
    return pd.read_csv(EXAMPLE)


def test_target_is_weighted_population_times_national_rate(table):
    target_gbp = targets_from_weighted_population(
        table["weighted_population"].to_numpy(), GBP_PER_WEIGHTED_HEAD
    )
    # Published in GBP thousands, rounded; the rate is published to the penny and the weighted
    # population to the person, so each target can differ by at most this many GBP thousands:
    wp = table["weighted_population"].to_numpy()
    tolerance = (wp * 0.005 + 0.5 * GBP_PER_WEIGHTED_HEAD) / 1000 + 0.5
    error = np.abs(target_gbp / 1000 - table["target_allocation_gbp000"].to_numpy())
    assert (error <= tolerance).all()
    assert (error < 1.5).all()


def test_distance_from_target_matches_published_percentages(table):
    dft = distance_from_target(
        table["allocation_2013_14_gbp000"].to_numpy(dtype=float),
        table["target_allocation_gbp000"].to_numpy(dtype=float),
    )
    np.testing.assert_array_equal(np.round(100 * dft, 2), table["dft_pct_published"].to_numpy())
    np.testing.assert_array_equal(
        table["allocation_2013_14_gbp000"] - table["target_allocation_gbp000"], table["dft_gbp000"]
    )


def test_targets_from_shares_of_a_national_envelope(table):
    """T_i = tau_i * E with tau_i = WP_i / sum WP reproduces the same targets (CCG rows only)."""
    ccgs = table[~table["name"].str.contains("area team")]
    wp = ccgs["weighted_population"].to_numpy(dtype=float)
    envelope = GBP_PER_WEIGHTED_HEAD * wp.sum()
    target = wp / wp.sum() * envelope
    np.testing.assert_allclose(target / 1000, ccgs["target_allocation_gbp000"], atol=1.5)
