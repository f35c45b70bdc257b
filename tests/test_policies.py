"""Invariants of every shipped policy on the embedded data, checked from the outside.

Expected values are computed here from first principles (envelope arithmetic, floors, targets),
never taken from the engine's own intermediate arrays.
"""

import numpy as np
import pytest

import alloc
from alloc.resources import list_named

FIRST, LAST = 2025, 2030


def run(*overrides, scenario="default"):
    return alloc.run(scenario, overrides=list(overrides))


def growth_of(result):
    a = result["allocation"].transpose("icb", "year").values
    return a[:, 1:] / a[:, :-1] - 1


@pytest.mark.parametrize("policy", list_named("policy"))
def test_every_policy_conserves_envelope_and_money(policy):
    result = run(f'policy.use="{policy}"')
    alloc_ = result["allocation"].transpose("icb", "year").values
    envelope = result["baseline"].sum().item() * np.cumprod(
        [1.0] + [1.035] * (LAST - FIRST)
    )  # data assumption: 3.5% a year cash
    np.testing.assert_allclose(alloc_.sum(axis=0), envelope, rtol=1e-9)
    np.testing.assert_allclose(result["target"].sum("icb"), envelope, rtol=1e-9)
    assert np.isfinite(alloc_).all() and (alloc_ > 0).all()
    np.testing.assert_array_equal(alloc_[:, 0], result["baseline"].values)


def test_immediate_equals_targets():
    result = run('policy.use="immediate"')
    np.testing.assert_allclose(
        result["allocation"].sel(year=slice(FIRST + 1, None)),
        result["target"].sel(year=slice(FIRST + 1, None)),
        rtol=1e-12,
    )


def test_historic_cost_is_equal_growth_on_baseline():
    result = run('policy.use="historic_cost"')
    env = result["envelope"].values
    expected = result["baseline"].values[:, None] * env[None, :] / env[0]
    np.testing.assert_allclose(result["allocation"].transpose("icb", "year"), expected, rtol=1e-12)


@pytest.mark.parametrize("floor,cap", [(0.017, 0.06), (0.0, 0.045), (0.025, None)])
def test_common_dft_respects_floor_cap_and_levels_up(floor, cap):
    sets = ['policy.use="common_dft"', f"policy.min_growth={floor}"]
    sets.append(f"policy.max_growth={cap}" if cap is not None else "policy.max_growth=1.0")
    result = run(*sets)
    g = growth_of(result)
    assert (g >= floor - 1e-12).all()
    if cap is not None:
        assert (g <= cap + 1e-12).all()
    dft = result["dft"].transpose("icb", "year").values[:, 1:]
    for y in range(g.shape[1]):
        free = (
            (g[:, y] > floor + 1e-9)
            & (cap is None or True)
            & (g[:, y] < (cap if cap is not None else 1.0) - 1e-9)
        )
        if free.sum() >= 2:
            # Every ICB strictly between its floor and cap sits at one common DfT ...
            level = dft[free, y]
            np.testing.assert_allclose(level, level[0], atol=1e-12)
            # ... ICBs held at the floor are above that level, capped ICBs below it.
            at_floor = np.isclose(g[:, y], floor, atol=1e-12)
            assert (dft[at_floor, y] >= level[0] - 1e-12).all()
            if cap is not None:
                at_cap = np.isclose(g[:, y], cap, atol=1e-12)
                assert (dft[at_cap, y] <= level[0] + 1e-12).all()


def test_no_icb_more_than_x_below_target():
    result = run('policy.use="max_5pc_below_target"', "policy.min_growth=0.0")
    dft = result["dft"].sel(year=slice(FIRST + 1, None))
    assert (dft >= -0.05 - 1e-12).all()
    assert (result["dft"].sel(year=FIRST) < -0.05).any(), "test needs ICBs starting far below"
    assert (result["policy_status"] == "ok").all()


def test_proportional_closes_the_stated_fraction_of_each_gap():
    """Without binding floors and with target shares constant over time (uniform population
    growth), proportional convergence gives dft_t = (1 - c) * dft_{t-1} exactly and never moves an
    ICB away from target or across it."""
    c = 0.25
    result = run(
        'policy.use="proportional"', f"policy.convergence_rate={c}", "policy.min_growth=-0.4"
    )
    dft = result["dft"].transpose("icb", "year").values
    np.testing.assert_allclose(dft[:, 1:], (1 - c) * dft[:, :-1], atol=1e-12)
    assert (np.abs(dft[:, 1:]) <= np.abs(dft[:, :-1]) + 1e-15).all()
    assert (np.sign(dft[:, 1:]) * np.sign(dft[:, :-1]) >= 0).all()


@pytest.mark.parametrize("basis", ["cash", "real", "per_head"])
def test_floor_bases(basis):
    result = run(
        'policy.use="common_dft"',
        "policy.min_growth=0.005",
        "policy.max_growth=1.0",
        f'policy.growth_basis="{basis}"',
        "population_growth=0.01",
        "gdp_deflator_growth=0.02",
    )
    g = growth_of(result)
    floor = {"cash": 0.005, "real": 1.005 * 1.02 - 1, "per_head": 1.005 * 1.01 - 1}[basis]
    assert (g >= floor - 1e-12).all()
    assert np.isclose(g, floor, atol=1e-12).any(), "the floor should bind for someone"


def test_year_varying_parameters():
    result = run(scenario="proportional_by_year")
    env = result["envelope"].values
    np.testing.assert_allclose(env[1:] / env[:-1] - 1, [0.03, 0.03, 0.035, 0.035, 0.035])


def test_service_level_convergence_conserves_each_service_envelope():
    result = run(scenario="floor_and_5pc_limit")
    by_service = result["allocation_by_service"]
    base = result["baseline_by_service"]
    share = base.sum("icb") / base.sum()
    np.testing.assert_allclose(by_service.sum("icb"), share * result["envelope"], rtol=1e-9)
    np.testing.assert_allclose(by_service.sum("service"), result["allocation"], rtol=1e-12)
    dft_svc = (by_service - result["target_by_service"]) / result["target_by_service"]
    ok_years = result["year"].values[result["policy_status"].values == "ok"][1:]
    assert len(ok_years) >= 3
    assert (dft_svc.sel(year=ok_years) >= -0.05 - 1e-9).all()


def test_relax_fallback_reports_the_year():
    result = run('policy.use="common_dft"', "policy.min_growth=0.05", 'policy.fallback="relax"')
    statuses = set(result["policy_status"].values[1:])
    assert any("fallback" in s for s in statuses)
    g = growth_of(result)
    np.testing.assert_allclose(g, 0.035, atol=1e-12)  # floors above envelope -> uniform growth
