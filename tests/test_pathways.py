"""Pathway files and projections: clear errors for bad files, calibration to the baseline,
savings monotone in effect size and uptake, every shipped number labelled."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alloc.errors import AllocError
from alloc.inputs.dataset import load_inputs
from alloc.inputs.pathway_spec import PathwaysSection
from alloc.pathways import PATHWAY_NAMES, load_common, load_pathway, project_left_shift
from alloc.pathways.base import quantities, ramp_fraction, sample_parameters
from alloc.targets.formula import project_population

REPO = Path(__file__).resolve().parents[1]
YEARS = list(range(2025, 2031))


@lru_cache(maxsize=1)
def _data():
    inputs = load_inputs()
    return inputs, project_population(inputs["gp_pop"], YEARS, 0.005)


def project(levers, icbs=None):
    inputs, pop = _data()
    baseline = inputs["baseline"]
    if icbs is not None:
        pop, baseline = pop.isel(icb=icbs), baseline.isel(icb=icbs)
    section = PathwaysSection(levers=levers)
    return project_left_shift(section, baseline, pop, YEARS, 0.025, "test").isel(draw=0)


def saving(ds):
    return float((ds["specialised_counterfactual"] - ds["specialised_scenario"]).sum())


# ------------------------------------------------------------------------------ bad files


def _mutated(tmp_path, name, old, new):
    text = (REPO / "models" / "pathways" / f"{name}.toml").read_text()
    assert old in text, old
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    "name,old,new,field,expect",
    [
        (
            "renal",
            "to.dead = { value = 0.03,",
            "to.dead = { value = 1.3,",
            "transitions.CKD_G3a_undiagnosed.to.dead.value",
            "between 0 and 1",
        ),
        (
            "renal",
            "to.CKD_G3a_undiagnosed = { value = 0.9,",
            "to.CKD_G3a_undiagnosed = { value = 0.95,",
            "transitions.CKD_G3a_undiagnosed.to",
            "sum to 1",
        ),
        (
            "renal",
            'price_year = "2009/10", ',
            "",
            "states.CKD_G3a_diagnosed.costs.0.amount.price_year",
            "price year",
        ),
        (
            "renal",
            'payer = "ICB_core"',
            'payer = "ICB_kore"',
            "states.CKD_G3a_diagnosed.costs.0.payer",
            "ICB_delegated_specialised",
        ),
        (
            "critical_care",
            "to.level2 = { value = 0.45,",
            "to.level2 = { value = 0.55,",
            "transitions.level3.to",
            "sum to 1",
        ),
        (
            "liver",
            'payer = "local_authority"',
            'payer = "council"',
            "levers.abstinence_support.payer",
            "local_authority",
        ),
        (
            "mental_health",
            'unit = "GBP per person-year", price_year = "2011/12"',
            'unit = "GBP per person-year"',
            "amount.price_year",
            "price year",
        ),
    ],
)
def test_bad_parameter_file_gives_one_clear_message(tmp_path, name, old, new, field, expect):
    path = _mutated(tmp_path, name, old, new)
    with pytest.raises(AllocError) as info:
        load_pathway(name, path)
    message = str(info.value)
    assert str(path) in message and field in message and expect in message, message
    assert "\n" not in message


def test_unknown_lever_and_icb_are_named():
    with pytest.raises(AllocError, match=r"pathways\.levers\.0\.lever.*unknown lever 'sglt3i'"):
        project([{"pathway": "renal", "lever": "sglt3i"}], icbs=[0])
    with pytest.raises(AllocError, match=r"pathways\.levers\.0\.icbs.*'XXX'"):
        project([{"pathway": "renal", "lever": "sglt2i", "icbs": ["XXX"]}], icbs=[0])


# ------------------------------------------------------------------------------ shipped files


@pytest.mark.parametrize("name", PATHWAY_NAMES)
def test_every_shipped_number_is_labelled(name):
    pathway = load_pathway(name)
    qs = quantities(pathway.spec)
    assert len(qs) > 20
    for path, q in qs.items():
        low, high = q.range
        assert low <= q.value <= high, path
        assert (q.tag == "illustrative") == bool(q.illustrative), path
        assert q.tag == "illustrative" or q.source, path
        assert q.unit.startswith("GBP") == (q.price_year is not None), path
    common, _ = load_common()
    assert common.discount_rate.value == 0.035 and "NICE" in common.discount_rate.source


def test_sampling_keeps_draw_zero_central_and_stays_in_range():
    spec = load_pathway("renal").spec
    draws = sample_parameters(spec, 200, np.random.default_rng(1))
    for path, q in quantities(spec).items():
        assert draws[path][0] == q.value
        assert (draws[path] >= q.range[0] - 1e-12).all() and (
            draws[path] <= q.range[1] + 1e-12
        ).all()
    again = sample_parameters(spec, 200, np.random.default_rng(1))
    assert all((again[p] == draws[p]).all() for p in draws)


def test_ramp_profiles():
    k = np.arange(-1, 5)
    lin = ramp_fraction("linear", 4, k)
    np.testing.assert_allclose(lin, [0, 0.25, 0.5, 0.75, 1, 1])
    assert (ramp_fraction("front_loaded", 4, k) >= lin).all()
    assert (ramp_fraction("back_loaded", 4, k) <= lin).all()
    np.testing.assert_allclose(ramp_fraction("step", 4, k), [0, 1, 1, 1, 1, 1])


# ------------------------------------------------------------------------------ calibration

ALL_LEVERS = {name: list(load_pathway(name).spec.levers) for name in PATHWAY_NAMES}


@pytest.mark.parametrize("name", PATHWAY_NAMES)
def test_calibration_reproduces_base_year_spend_per_icb(name):
    ds = project([{"pathway": name, "lever": k} for k in ALL_LEVERS[name]])
    inputs, _ = _data()
    for service in ds["service"].values:
        want = inputs["baseline"].sel(service=service).values
        for arm in ("specialised_counterfactual", "specialised_scenario"):
            got = ds[arm].sel(service=service, year=YEARS[0]).values
            np.testing.assert_allclose(got, want, rtol=1e-12)
        assert (ds["calibration_factor"].sel(service=service) > 0).all()
    assert saving(ds) != 0


# ------------------------------------------------------------------------------ monotonicity


@settings(max_examples=12, deadline=None)
@given(
    u1=st.floats(0.0, 1.0), u2=st.floats(0.0, 1.0), r1=st.floats(0.3, 1.0), r2=st.floats(0.3, 1.0)
)
def test_savings_increase_with_effect_size_and_uptake(u1, u2, r1, r2):
    (u_lo, u_hi), (r_weak, r_strong) = sorted([u1, u2]), sorted([r1, r2], reverse=True)
    for pathway, lever in (
        ("renal", "acei_arb_optimisation"),
        ("critical_care", "reduce_delayed_discharge"),
        ("critical_care", "outreach"),
    ):

        def s(u, r):
            return saving(
                project(
                    [{"pathway": pathway, "lever": lever, "uptake": u, "effect": r}], icbs=[0, 5]
                )
            )

        base = s(u_lo, r_weak)
        assert s(u_hi, r_weak) >= base - 1e-6
        assert s(u_lo, r_strong) >= base - 1e-6
        assert base >= -1e-6


def test_no_effect_lever_saves_nothing():
    for choice in ({"uptake": 0.0}, {"effect": 1.0}):
        ds = project(
            [
                {"pathway": "renal", "lever": "acei_arb_optimisation", **choice},
                {"pathway": "critical_care", "lever": "outreach", **choice},
            ],
            icbs=[0, 3],
        )
        np.testing.assert_array_equal(
            ds["specialised_counterfactual"].values, ds["specialised_scenario"].values
        )
        np.testing.assert_array_equal(ds["cost_counterfactual"].values, ds["cost_scenario"].values)
