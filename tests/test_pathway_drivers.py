"""Need that differs by ICB, calibration to published national activity, plausibility invariants.

Independent checks: need indices re-derived from ``data/practices.csv`` with pandas; published
figures read from the TOML files with tomllib; national modelled activity re-summed from the
per-ICB result; each invariant fed a deliberately broken input.
"""

from __future__ import annotations

import json
import tomllib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from alloc.errors import AllocError
from alloc.inputs.dataset import load_inputs
from alloc.inputs.pathway_spec import PathwaysSection
from alloc.pathways import PATHWAY_NAMES, load_pathway, project_left_shift
from alloc.pathways.base import CohortRun, central_values
from alloc.pathways.calibration import (
    PLAUSIBLE_FACTOR,
    check_nonnegative,
    check_saving_below_cost,
)
from alloc.pathways.drivers import need_indices
from alloc.targets.formula import project_population

REPO = Path(__file__).resolve().parents[1]
YEARS = list(range(2025, 2031))
#: Index each pathway's drivers use (the files' [drivers]).
INDEX = {
    "renal": "health_inequalities",
    "critical_care": "general_acute",
    "mental_health": "mental_health",
    "liver": "health_inequalities",
}
#: Service lines whose saving / baseline the drivers make rise with the index, by mechanism:
#: renal (room for CKD treatment, undiagnosed backlog), critical care (deterioration and delayed
#: discharge), CAMHS (crisis admissions home treatment can avert), liver (alcohol-related share
#: and alcohol care teams). Secure care is tested lever by lever below; eating disorders have no
#: differential driver.
RISING = {
    "renal": "renal",
    "adult_critical_care": "critical_care",
    "camhs_tier4": "mental_health",
    "liver": "liver",
}


@lru_cache(maxsize=1)
def _data():
    inputs = load_inputs()
    return inputs, project_population(inputs["gp_pop"], YEARS, 0.005), need_indices(inputs)


def _levers(name):
    return [{"pathway": name, "lever": k} for k in load_pathway(name).spec.levers]


def project(levers, need=True, baseline=None, path=None):
    inputs, pop, idx = _data()
    section = PathwaysSection(
        levers=levers, files={levers[0]["pathway"]: str(path)} if path else {}
    )
    base = inputs["baseline"] if baseline is None else baseline
    return project_left_shift(
        section, base, pop, YEARS, 0.025, "test", need_index=idx if need else None
    ).isel(draw=0)


@pytest.fixture(scope="module")
def runs():
    """Every pathway with all its levers, need drivers on (central values, all 42 ICBs)."""
    return {name: project(_levers(name)) for name in PATHWAY_NAMES}


def relative_saving(ds, service):
    """Specialised saving over the projection / base-year baseline, per ICB [fraction]."""
    inputs, _, _ = _data()
    saving = (ds["specialised_counterfactual"] - ds["specialised_scenario"]).sel(service=service)
    return (saving.sum("year") / inputs["baseline"].sel(service=service)).values


# ------------------------------------------------------------------------------ need indices


def test_need_indices_match_the_practice_file():
    """Independent: sums over GP practices of data/practices.csv, ratio to England's."""
    inputs, _, idx = _data()
    practices = pd.read_csv(REPO / "data" / "practices.csv")
    by_icb = practices.groupby("icb_2025").sum(numeric_only=True)
    for name in idx["need"].values:
        col = by_icb[f"wp_{name}"]
        want = (col / by_icb["gp_pop"]) / (col.sum() / by_icb["gp_pop"].sum())
        got = idx.sel(need=name).to_series()
        np.testing.assert_allclose(got.values, want.loc[got.index].values, rtol=1e-6)
    gp = inputs["gp_pop"].sel(year=inputs.attrs["base_year"])
    np.testing.assert_allclose((idx * gp).sum("icb") / gp.sum(), 1.0, rtol=1e-12)
    assert float(idx.max() - idx.min()) > 0.3  # real variation, not a constant


# ------------------------------------------------------------------------------ need by ICB

#: An activity made of driven states, per pathway and service line.
DRIVEN = {
    ("renal", "renal"): "renal.renal.dialysis_patients",
    ("critical_care", "adult_critical_care"): "critical_care.critical_care.bed_days",
    ("mental_health", "mental_health_secure"): "mental_health.adult_secure.secure_bed_days",
    ("mental_health", "camhs_tier4"): "mental_health.camhs_tier4.inpatient_bed_days",
    ("mental_health", "adult_eating_disorders"): (
        "mental_health.adult_eating_disorders.inpatient_bed_days"
    ),
    ("liver", "liver"): "liver.liver.decompensated_patients",
}


@pytest.mark.parametrize("pathway,service", list(DRIVEN))
def test_highest_need_index_has_highest_prevalence(runs, pathway, service):
    _, pop, idx = _data()
    act = runs[pathway]["activity_counterfactual"].sel(activity=DRIVEN[pathway, service])
    per_head = (act.isel(year=0) / pop.isel(year=0)).values
    index = idx.sel(need=INDEX[pathway]).values
    assert np.argmax(per_head) == np.argmax(index)
    assert np.argmin(per_head) == np.argmin(index)
    assert spearmanr(index, per_head)[0] > 0.95


@pytest.mark.parametrize("service", RISING)
def test_relative_saving_differs_and_rises_with_the_driver(runs, service):
    pathway = RISING[service]
    _, _, idx = _data()
    rel = relative_saving(runs[pathway], service)
    index = idx.sel(need=INDEX[pathway]).values
    assert rel.std() > 0.01 * abs(rel.mean())  # differs between ICBs
    assert spearmanr(index, rel)[0] > 0.9
    assert np.argmax(rel) == np.argmax(index)


def test_without_drivers_every_icb_saves_the_same_share():
    """The issue's symptom, which the tests above would catch: uniform need, uniform ratio."""
    rel = relative_saving(project(_levers("renal"), need=False), "renal")
    np.testing.assert_allclose(rel, rel[0], rtol=1e-9)


def test_secure_repatriation_gradient_follows_its_own_sign():
    """More out-of-area placements where need is higher: repatriation's saving / baseline moves
    with the mental health index in the direction of its national saving (positive once the
    in-area bed is the cheaper one)."""
    ds = project([{"pathway": "mental_health", "lever": "secure_repatriation"}])
    rel = relative_saving(ds, "mental_health_secure")
    national = float(
        (ds["specialised_counterfactual"] - ds["specialised_scenario"])
        .sel(service="mental_health_secure")
        .sum()
    )
    _, _, idx = _data()
    rho = spearmanr(idx.sel(need="mental_health").values, rel)[0]
    assert national != 0 and np.sign(rho) == np.sign(national) and abs(rho) > 0.9


def test_eating_disorders_have_no_differential_driver(runs):
    rel = relative_saving(runs["mental_health"], "adult_eating_disorders")
    np.testing.assert_allclose(rel, rel[0], rtol=1e-9)


# ------------------------------------------------------------------------------ calibration


def _published():
    """Published figures read from the TOML files themselves: {(pathway, name): table}."""
    out = {}
    for name in PATHWAY_NAMES:
        data = tomllib.loads((REPO / "models" / "pathways" / f"{name}.toml").read_text())
        for key, fig in data.get("calibration", {}).items():
            out[name, key] = fig
    return out


def test_calibration_table_within_stated_tolerance(runs):
    _, pop, _ = _data()
    figures = _published()
    assert {n for n, _ in figures} >= {"renal", "critical_care", "mental_health", "liver"}
    for (name, key), fig in figures.items():
        ds = runs[name]
        row = ds.sel(calibration=f"{name}.{key}")
        published = fig["published"]["value"]
        assert float(row["calibration_published"]) == published
        modelled = float(row["calibration_modelled"])
        assert abs(modelled / published - 1) <= fig["tolerance"]["value"] + 1e-12, (name, key)
        assert bool(row["calibration_within"])
        if fig["activity"] != "inflow":  # re-sum the per-ICB activity to a national figure
            cohort = fig["cohort"]
            act = ds["activity_counterfactual"].sel(
                activity=f"{name}.{cohort}.{fig['activity']}", year=YEARS[0]
            )
            national = float(act.sum()) / float(pop.isel(year=0).sum())
            national *= fig["population"]["value"]
            assert national == pytest.approx(modelled, rel=1e-9)
        assert json.loads(ds.attrs["warnings"]) == []


def test_critical_care_admissions_are_external_inflow_only(runs):
    """Independent: admissions = sum of the file's admission rates x population x G&A index
    (elasticity 1) x the volume factor; step-downs between levels are not admissions."""
    _, pop, idx = _data()
    data = tomllib.loads((REPO / "models" / "pathways" / "critical_care.toml").read_text())
    rate = sum(s["rate"]["value"] for s in data["cohorts"]["critical_care"]["inflows"].values())
    elasticity = data["drivers"]["acute_need"]["elasticity"]["value"]
    ds = runs["critical_care"]
    v = float(ds["volume_factor"].sel(service="adult_critical_care"))
    want = rate * pop.isel(year=0).values * idx.sel(need="general_acute").values ** elasticity * v
    got = ds["activity_counterfactual"].sel(
        activity="critical_care.critical_care.admissions", year=YEARS[0]
    )
    np.testing.assert_allclose(got.values, want, rtol=1e-9)
    assert float(got.sum()) == pytest.approx(286224.0, rel=1e-6)  # HES ACC 2019-20


@pytest.mark.parametrize("name", PATHWAY_NAMES)
def test_base_year_specialised_spend_still_equals_baseline(runs, name):
    inputs, _, _ = _data()
    ds = runs[name]
    for service in ds["service"].values:
        want = inputs["baseline"].sel(service=service).values
        got = ds["specialised_counterfactual"].sel(service=service, year=YEARS[0]).values
        np.testing.assert_allclose(got, want, rtol=1e-12)
        k = ds["calibration_factor"].sel(service=service).values
        assert ((k >= PLAUSIBLE_FACTOR[0]) & (k <= PLAUSIBLE_FACTOR[1])).all()


def test_calibration_factor_prices_activity_it_does_not_inflate_it():
    """Doubling the baselines doubles money and k, and leaves activity where the published
    figures put it (the issue: calibration factors inflated critical-care admissions)."""
    inputs, _, _ = _data()
    levers = [{"pathway": "critical_care", "lever": "reduce_delayed_discharge"}]
    one, two = project(levers), project(levers, baseline=inputs["baseline"] * 2)
    np.testing.assert_allclose(two["activity_scenario"], one["activity_scenario"], rtol=1e-12)
    np.testing.assert_allclose(two["cost_scenario"], 2 * one["cost_scenario"], rtol=1e-12)
    np.testing.assert_allclose(two["calibration_factor"], 2 * one["calibration_factor"], rtol=1e-12)


def test_factor_outside_plausible_range_is_warned_about():
    inputs, _, _ = _data()
    baseline = inputs["baseline"].copy()
    icb = str(baseline["icb"].values[3])
    baseline.loc[{"icb": icb, "service": "liver"}] *= 10
    ds = project([{"pathway": "liver", "lever": "alcohol_care_teams"}], baseline=baseline)
    warnings = json.loads(ds.attrs["warnings"])
    assert len(warnings) == 1 and icb in warnings[0] and "plausible range" in warnings[0]


# ------------------------------------------------------------------------------ invariants


def _mutated(tmp_path, name, old, new):
    text = (REPO / "models" / "pathways" / f"{name}.toml").read_text()
    assert old in text, old
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_capacity_invariant_names_file_and_field(tmp_path):
    path = _mutated(
        tmp_path,
        "critical_care",
        'beds = { value = 4000.0, unit = "beds", range = [4000.0, 4000.0]',
        'beds = { value = 2000.0, unit = "beds", range = [2000.0, 2000.0]',
    )
    with pytest.raises(AllocError) as info:
        project([{"pathway": "critical_care", "lever": "outreach"}], path=path)
    message = str(info.value)
    assert str(path) in message and "capacity.critical_care_beds" in message
    assert "occupied beds" in message


def _run(acc):
    d, y, n, _ = acc.shape
    z = np.zeros((d, y, n, 1))
    return CohortRun(acc, z, z, z, z, np.zeros((d, y, n)), None)


def test_negative_stock_and_saving_above_cost_raise():
    model = load_pathway("renal")  # a real cohort model, for its accumulator names
    cohort = model.models(central_values(model.spec), [], YEARS, ["A"], 0.025, "t")[0]
    k = len(cohort.acc_names)
    good = _run(np.ones((1, 2, 1, k)))
    check_nonnegative(good, cohort, model.path, "counterfactual")
    check_saving_below_cost(good, good, cohort, model.path)
    broken = np.ones((1, 2, 1, k))
    broken[0, 1, 0, -1] = -5.0  # a negative activity (people)
    with pytest.raises(AllocError, match=r"renal\.toml: cohorts\.renal: .*negative"):
        check_nonnegative(_run(broken), cohort, model.path, "scenario")
    sc = np.ones((1, 2, 1, k))
    sc[0, 1, 0, 0] = -1.0  # the scenario arm costs less than nothing: saving above cost
    with pytest.raises(AllocError, match=r"cohorts\.renal: .*saving per patient above cost"):
        check_saving_below_cost(good, _run(sc), cohort, model.path)


@pytest.mark.parametrize(
    "old,new,field,expect",
    [
        (
            'states = ["CKD_G3a_undiagnosed", "CKD_G3b_undiagnosed", "CKD_G4_undiagnosed"]',
            'states = ["CKD_G3a_undiagnosed", "CKD_G9"]',
            "drivers.undiagnosed_backlog.states",
            "unknown state 'CKD_G9'",
        ),
        (
            'activity = "dialysis_patients"',
            'activity = "dialysis_starts"',
            "calibration.dialysis_patients.published.unit",
            "persons per year",
        ),
        (
            'index = "health_inequalities"',
            'index = "deprivation"',
            "drivers.ckd_need.index",
            "health_inequalities",
        ),
    ],
)
def test_bad_driver_or_calibration_entry_is_named(tmp_path, old, new, field, expect):
    path = _mutated(tmp_path, "renal", old, new)
    with pytest.raises(AllocError) as info:
        load_pathway("renal", path)
    message = str(info.value)
    assert str(path) in message and field in message and expect in message, message


# ------------------------------------------------------------------------------ docs


def test_methodology_tables_are_up_to_date():
    from alloc.pathways.calibration import calibration_markdown

    page = (REPO / "docs" / "methodology" / "pathways.md").read_text()
    start, end = "<!-- calibration-tables:start -->\n", "<!-- calibration-tables:end -->"
    shipped = page[page.index(start) + len(start) : page.index(end)]
    fresh = calibration_markdown()
    assert shipped == fresh, (
        "docs/methodology/pathways.md: the calibration tables are out of date; replace the block "
        "between the calibration-tables markers with alloc.pathways.calibration."
        "calibration_markdown()"
    )


def test_workbook_flags_the_same_plausible_range():
    from alloc.outputs.calibration_table import PLAUSIBLE_FACTOR as SHOWN

    assert SHOWN == PLAUSIBLE_FACTOR


def test_engine_result_carries_the_calibration():
    """A left-shift run through the engine: need indices of its geography (36 ICBs of 2026/27),
    the calibration table and per-ICB factors in the result and in the workbook's table."""
    import alloc
    from alloc.outputs.calibration_table import calibration_table

    result = alloc.run("left_shift_critical_care")
    assert json.loads(result.attrs["pathway_warnings"]) == []
    idx = result["need_index"]
    gp = result["population"].isel(year=0)
    np.testing.assert_allclose((idx * gp).sum("icb") / gp.sum(), 1.0, rtol=1e-6)
    assert float(result["calibration_modelled"].sel(calibration="critical_care.admissions")) == (
        pytest.approx(286224.0, rel=1e-9)
    )
    table = calibration_table(result)
    k = table[table["What"] == "per-ICB cost factor k"]
    assert len(k) == result.sizes["icb"] and (k["Plausible"] == "yes").all()
    np.testing.assert_allclose(
        k["Modelled"].values,
        result["calibration_factor"].sel(service="adult_critical_care").values,
    )


def test_cli_prints_calibration_warnings(tmp_path):
    """A figure outside its tolerance reaches `alloc run`'s console as a warning line."""
    from click.testing import CliRunner

    from alloc.cli.main import main

    path = _mutated(
        tmp_path,
        "renal",
        'tolerance = { value = 0.25, unit = "fraction", range = [0.25, 0.25]',
        'tolerance = { value = 0.01, unit = "fraction", range = [0.01, 0.01]',
    )
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'name = "s"\ndata = "embedded"\nbase_year = "2025/26"\nend_year = "2027/28"\n'
        '[policy]\nuse = "common_dft"\n'
        f'[pathways]\nfiles = {{ renal = "{path.as_posix()}" }}\n'
        '[[pathways.levers]]\npathway = "renal"\nlever = "sglt2i"\n'
    )
    result = CliRunner().invoke(
        main, ["run", str(scenario), "--out", str(tmp_path / "out"), "--no-plots"]
    )
    assert result.exit_code == 0, result.output
    lines = [x for x in result.output.splitlines() if x.startswith("warning: ")]
    assert len(lines) == 1 and "calibration.kidney_transplants" in lines[0], result.output
    assert "outside the stated tolerance of 1%" in lines[0]
