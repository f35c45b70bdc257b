"""Golden run of the default scenario (values reviewed by hand: tests/golden/README.md)."""

from pathlib import Path

import numpy as np
import pandas as pd

import alloc
from alloc.outputs.tables import allocations_long

GOLDEN = Path(__file__).parent / "golden" / "default_allocations.csv"


def test_default_run_matches_golden_file():
    # The golden file predates the 2026 geography: the default scenario on the 42 ICBs of 2025/26.
    got = allocations_long(alloc.run("default", overrides=['geography="icb_2025"']))
    want = pd.read_csv(GOLDEN)
    assert list(got["icb"]) == list(want["icb"])
    assert list(got["financial_year"]) == list(want["financial_year"])
    for col in ("target_gbp", "allocation_gbp", "dft"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-9, atol=1e-12, err_msg=col)
