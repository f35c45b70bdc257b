"""The ``deadline`` policy: the smallest common pace that brings every ICB within a band of target.

Checked from the outside: the band is met on the result, a slightly slower pace misses it (the
solver called directly), infeasible requests are refused naming the year, the envelope is
conserved, and the bisection agrees with a closed form on a tiny case solved in plain numpy.
"""

import numpy as np
import pytest

import alloc
from alloc.allocation.deadline import at_rate, smallest_common_pace
from alloc.allocation.engine import prepare, solve_glide_paths
from alloc.allocation.policy import PolicySpec, kernel_arrays
from alloc.errors import AllocError
from alloc.inputs.specs import validate

SCENARIO = "settlement_2026_29"
DEADLINE = 2028  # 2028/29
BAND = 0.01  # models/policy/fair_share_2028.toml


@pytest.fixture(scope="module")
def result():
    return alloc.run(SCENARIO)


@pytest.fixture(scope="module")
def prep():
    return prepare(SCENARIO)


def test_shipped_scenario_meets_the_band_by_the_deadline(result):
    assert result.attrs["policy_kind"] == "deadline"
    c = result.attrs["policy_convergence_rate"]
    assert 0.0 < c < 1.0
    dft = result["dft"].sel(year=slice(DEADLINE, None))
    assert float(abs(dft).max()) <= BAND + 1e-9
    # ... and it was needed: some ICB started well outside the band
    assert float(abs(result["dft"].isel(year=0)).max()) > 5 * BAND


def test_band_holds_after_the_deadline():
    later = alloc.run(SCENARIO, overrides=["end_year=2030/31"])
    dft = later["dft"].sel(year=slice(DEADLINE, None))
    assert dft.sizes["year"] == 3
    assert float(abs(dft).max()) <= BAND + 1e-9


def _deadline_dft(prep, c):
    """ICB-total DfT in the deadline year with rate c, from the glide-path solver directly."""
    alloc_, _, status, _ = solve_glide_paths(
        prep.kernel_base,
        prep.kernel_targets,
        prep.kernel_envelopes,
        at_rate(prep.policy_arrays, c),
        False,
        prep.base_adjust,
    )
    assert (status == 0).all()
    y = DEADLINE - prep.years[0] - 1
    a, t = alloc_.sum(axis=0)[y], prep.kernel_targets.sum(axis=0)[y]
    return (a - t) / t


def test_found_rate_is_the_smallest(prep):
    c = prep.convergence_rate
    assert np.abs(_deadline_dft(prep, c)).max() <= BAND + 1e-9
    slower = _deadline_dft(prep, c - 1e-3)
    assert np.abs(slower).max() > BAND + 1e-9  # at least one ICB outside the band
    # the arrays the engine solves with carry the found rate in every projection year
    np.testing.assert_array_equal(prep.policy_arrays["conv"], c)
    np.testing.assert_array_equal(prep.policy_arrays["w_prev"], 1.0 - c)


@pytest.mark.parametrize(
    "overrides",
    [
        ["policy.min_growth=0.03"],  # affordable, but over-target ICBs cannot fall far enough
        ["policy.band=0.0", "policy.min_growth=0.02"],
    ],
)
def test_unreachable_band_is_refused_naming_the_deadline_year(overrides):
    with pytest.raises(AllocError) as err:
        alloc.run(SCENARIO, overrides=overrides)
    message = str(err.value)
    assert err.value.field == "policy.band"
    assert "settlement_2026_29.toml" in message
    assert "policy infeasible in 2028/29" in message
    assert "min_growth" in message and "binding bound" in message
    assert "points above the band" in message  # names ICBs and by how much


def test_floors_above_the_envelope_are_refused():
    # 8% cash floors against 3.5% envelope growth: no rate can pay for them in the first year
    with pytest.raises(AllocError, match="floors exceed the envelope"):
        alloc.run(SCENARIO, overrides=["policy.min_growth=0.08"])


def test_deadline_outside_the_run_is_refused():
    with pytest.raises(AllocError, match="deadline: expected a year after the base year"):
        alloc.run(SCENARIO, overrides=["policy.deadline=2030/31"])


def test_fields_belong_to_the_deadline_kind():
    with pytest.raises(AllocError, match="band: required for kind 'deadline'"):
        validate(PolicySpec, {"kind": "deadline", "deadline": "2028/29"}, "p.toml")
    with pytest.raises(AllocError, match="applies only to kind 'deadline'"):
        validate(PolicySpec, {"kind": "proportional", "convergence_rate": 0.2, "band": 0.01}, "p")
    with pytest.raises(AllocError, match="band"):
        validate(PolicySpec, {"kind": "deadline", "deadline": "2028/29", "band": -0.1}, "p")
    spec = validate(PolicySpec, {"kind": "deadline", "deadline": "2028/29", "band": 0.01}, "p")
    assert spec.deadline == 2028


def test_allocations_sum_to_the_envelope(result):
    np.testing.assert_allclose(
        result["allocation"].sum("icb"), result["envelope"], rtol=1e-9, atol=0
    )
    growth = result["growth"].sel(year=slice(2026, None))
    assert float(growth.min()) >= 0.0 - 1e-12  # the 0% cash floor


# ---------------------------------------------------------------------------------------------
# Independent check: 3 ICBs, no floors, constant target shares. Every gap shrinks by (1 - c) a
# year, so after k years max|DfT| = (1 - c)^k max|DfT_0| and the smallest c meeting the band is
# 1 - (band / max|DfT_0|)^(1/k).


def _reference_glide(a0, shares, envelopes, c):
    """Plain numpy: A_t = clip-free (1 - c) r A_prev + c T, scaled to the envelope."""
    out, prev = [], np.asarray(a0, dtype=float)
    for e in envelopes:
        target = shares * e
        p = (1 - c) * prev * e / prev.sum() + c * target
        lam = (e - p.sum()) / p.sum()  # W = P
        prev = p + lam * p
        out.append(prev)
    return np.array(out)


def _reference_rate(a0, shares, envelopes, first, band):
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        a = _reference_glide(a0, shares, envelopes, mid)
        dft = a / (shares * envelopes[:, None]) - 1
        if np.abs(dft[first:]).max() <= band:
            hi = mid
        else:
            lo = mid
    return hi


def test_bisection_matches_closed_form_on_a_tiny_case():
    a0 = np.array([100.0, 130.0, 70.0])
    shares = np.array([0.30, 0.38, 0.32])
    years = [2026, 2027, 2028, 2029]
    envelopes = a0.sum() * np.cumprod([1.03, 1.035, 1.04, 1.03])
    first, band = 2, 0.01  # deadline the third projection year
    dft0 = a0 / (shares * a0.sum()) - 1
    closed = 1 - (band / np.abs(dft0).max()) ** (1 / (first + 1))

    policy = PolicySpec(kind="deadline", deadline=2028, band=band)
    arrays = kernel_arrays(policy, years, np.ones((len(years) + 1, 3)), 0.0, "tiny")
    targets = (shares[None, :] * envelopes[:, None])[None]

    def solve(arr):
        alloc_, _, status, _ = solve_glide_paths(a0[None], targets, envelopes[None], arr, False)
        return alloc_, status

    found, met = smallest_common_pace(solve, arrays, targets, first, band)
    reference = _reference_rate(a0, shares, envelopes, first, band)
    assert met
    assert abs(found - closed) < 1e-5
    assert abs(reference - closed) < 1e-9
    # the engine's glide path at the found rate is the plain-numpy one
    np.testing.assert_allclose(
        solve(at_rate(arrays, found))[0][0], _reference_glide(a0, shares, envelopes, found)
    )
