"""An independent plain-Python implementation of the renal cohort, compared with alloc's.

``reference_renal`` reads ``models/pathways/renal.toml`` itself (tomllib, no alloc code), turns
the rows into competing rates, applies the levers on the rate scale with independent uptake,
steps each ICB year by year in pure Python (``math`` only) and calibrates to the baseline. The
benchmark (``benchmarks/bench_pathways.py``) times it against the numba kernel.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
RENAL = REPO / "models" / "pathways" / "renal.toml"
PAYERS = ["ICB_delegated_specialised", "ICB_core", "NHSE_retained", "local_authority"]


def _fy(text):
    return int(str(text)[:4])


def load_reference_model(path=RENAL, base_year=2025, inflation=0.025):
    """States, rates, inflows, costs and levers of a (single-cohort) pathway file, as dicts."""
    spec = tomllib.loads(Path(path).read_text())
    ((cohort_key, cohort),) = spec["cohorts"].items()
    states = list(cohort["states"])
    rates = {s: {} for s in states}
    for src, row in cohort.get("transitions", {}).items():
        exits = {d: q["value"] for d, q in row["to"].items() if d != src}
        if row["kind"] == "probability":
            leave = sum(exits.values())
            big_r = -math.log(1.0 - leave) if leave > 0 else 0.0
            rates[src] = {d: big_r * p / leave for d, p in exits.items()} if leave else {}
        elif row["kind"] == "rate":
            rates[src] = dict(exits)
        else:
            out_rate = 365.25 / row["los"]["value"]
            total = sum(exits.values())
            rates[src] = {d: out_rate * p / total for d, p in exits.items()}
    prevalence = {s: cohort["states"][s].get("prevalence", {}).get("value", 0.0) for s in states}
    inflows = [(v["state"], v["rate"]["value"]) for v in cohort.get("inflows", {}).values()]
    costs = {p: {s: 0.0 for s in states} for p in PAYERS}
    for s in states:
        for item in cohort["states"][s].get("costs", []):
            amt = item["amount"]
            value = amt["value"] * (1 + inflation) ** (base_year - _fy(amt["price_year"]))
            costs[item["payer"]][s] += value
    levers = {}
    for key, lever in spec.get("levers", {}).items():
        ratios = {}
        for eff in lever["effects"]:
            for src, dest in eff["transitions"]:
                ratios[(src, dest)] = ratios.get((src, dest), 1.0) * eff["value"]["value"]
        uc = lever["unit_cost"]
        levers[key] = dict(
            ratios=ratios,
            eligible=lever["eligible"]["value"],
            uptake=lever["uptake"]["value"],
            ramp=lever.get("ramp", "linear"),
            ramp_years=lever.get("ramp_years", 3),
            basis=lever["cost_basis"],
            payer=lever["payer"],
            unit_cost=uc["value"] * (1 + inflation) ** (base_year - _fy(uc["price_year"])),
        )
    return dict(
        states=states,
        rates=rates,
        prevalence=prevalence,
        inflows=inflows,
        costs=costs,
        levers=levers,
        substeps=cohort.get("substeps", 1),
    )


def _ramp(profile, n_years, k):
    if k < 0:
        return 0.0
    u = min(1.0, (k + 1) / n_years)
    return {"linear": u, "front_loaded": 1 - (1 - u) ** 2, "back_loaded": u * u, "step": 1.0}[
        profile
    ]


def reference_cohort(model, pop, chosen, years, start_year):
    """Step one ICB: returns per year costs by payer, lever costs (before calibration)."""
    states, rates = model["states"], model["rates"]
    idx = {s: i for i, s in enumerate(states)}
    x = {s: model["prevalence"][s] * pop[0] for s in states}
    dt = 1.0 / model["substeps"]
    out = []
    for y, year in enumerate(years):
        cov = {
            k: model["levers"][k]["eligible"]
            * model["levers"][k]["uptake"]
            * _ramp(model["levers"][k]["ramp"], model["levers"][k]["ramp_years"], year - start_year)
            for k in chosen
        }
        pt = {s: 0.0 for s in states}
        lever_pt = {k: 0.0 for k in chosen}
        lever_ev = {k: 0.0 for k in chosen}
        for _ in range(model["substeps"]):
            arrivals = {s: 0.0 for s in states}
            deferred = {s: 0.0 for s in states}
            for state, rate in model["inflows"]:
                arrivals[state] += rate * pop[y] * dt
            stay = {}
            for s in states:
                active = [
                    k
                    for k in chosen
                    if cov[k] > 0
                    and any(
                        src == s and r != 1.0
                        for (src, _), r in model["levers"][k]["ratios"].items()
                    )
                ]
                stay[s] = 0.0
                for mask in range(2 ** len(active)):
                    on = [k for b, k in enumerate(active) if mask >> b & 1]
                    w = 1.0
                    for k in active:
                        w *= cov[k] if k in on else 1.0 - cov[k]
                    if w == 0.0:
                        continue
                    r = {}
                    for d, v in rates[s].items():
                        for k in on:
                            v *= model["levers"][k]["ratios"].get((s, d), 1.0)
                        r[d] = v
                    total = sum(v for v in r.values() if v > 0)
                    people = w * (x[s] + arrivals[s])
                    if total > 0:
                        z = total * dt
                        g = (1 - math.exp(-z)) / z
                        kept = w * (x[s] * math.exp(-z) + arrivals[s] * g)
                        time_in = w * (x[s] * (1 - math.exp(-z)) + arrivals[s] * (1 - g)) / total
                    else:
                        kept, time_in = people, w * (x[s] + arrivals[s] / 2) * dt
                    leave = people - kept
                    stay[s] += kept
                    pt[s] += time_in
                    for k in on:
                        lever_pt[k] += time_in
                    for d, v in r.items():
                        if v <= 0:
                            continue
                        flow = leave * v / total
                        (arrivals if idx[d] > idx[s] else deferred)[d] += flow
                        for k in on:
                            if model["levers"][k]["ratios"].get((s, d), 1.0) != 1.0:
                                lever_ev[k] += flow
            x = {s: stay[s] + deferred[s] for s in states}
        cost = {p: sum(model["costs"][p][s] * pt[s] for s in states) for p in PAYERS}
        lever_cost = {}
        for k in chosen:
            lv = model["levers"][k]
            basis = {
                "per_person_year_treated": lever_pt[k],
                "per_treated_event": lever_ev[k],
                "per_head": cov[k] * pop[y],
            }[lv["basis"]]
            lever_cost[k] = lv["unit_cost"] * basis
        out.append((cost, lever_cost))
    return out


def reference_renal(pop, baseline, chosen, years, model=None):
    """Both arms for one ICB, calibrated: (specialised cf, specialised sc, lever costs) by year."""
    model = model or load_reference_model(base_year=years[0])
    cf = reference_cohort(model, pop, [], years, years[0] + 1)
    sc = reference_cohort(model, pop, chosen, years, years[0] + 1)
    k = baseline / cf[0][0]["ICB_delegated_specialised"]
    per_head = {c for c in chosen if model["levers"][c]["basis"] == "per_head"}
    return (
        [k * c[0]["ICB_delegated_specialised"] for c in cf],
        [k * c[0]["ICB_delegated_specialised"] for c in sc],
        {p: [k * c[0][p] for c in sc] for p in PAYERS},
        {lv: [(1 if lv in per_head else k) * c[1][lv] for c in sc] for lv in chosen},
    )


LEVERS = [
    "sglt2i",
    "acei_arb_optimisation",
    "case_finding",
    "home_dialysis_shift",
    "preemptive_transplant",
]


@pytest.fixture(scope="module")
def alloc_renal():
    from alloc.inputs.dataset import load_inputs
    from alloc.inputs.pathway_spec import PathwaysSection
    from alloc.pathways import project_left_shift
    from alloc.targets.formula import project_population

    inputs = load_inputs()
    years = list(range(2025, 2031))
    pop = project_population(inputs["gp_pop"], years, 0.005).isel(icb=[0, 7, 41])
    baseline = inputs["baseline"].isel(icb=[0, 7, 41])
    section = PathwaysSection(levers=[{"pathway": "renal", "lever": k} for k in LEVERS])
    ds = project_left_shift(section, baseline, pop, years, 0.025, "test").isel(draw=0)
    return ds, pop, baseline, years


def test_reference_renal_matches_alloc(alloc_renal):
    ds, pop, baseline, years = alloc_renal
    for n in range(ds.sizes["icb"]):
        p = pop.isel(icb=n).values
        b = float(baseline.isel(icb=n).sel(service="renal"))
        cf, sc, by_payer, levers = reference_renal(p, b, LEVERS, years)
        got = ds.isel(icb=n)
        np.testing.assert_allclose(
            got["specialised_counterfactual"].sel(service="renal"), cf, rtol=1e-10
        )
        np.testing.assert_allclose(got["specialised_scenario"].sel(service="renal"), sc, rtol=1e-10)
        for payer, values in by_payer.items():
            np.testing.assert_allclose(
                got["cost_scenario"].sel(payer=payer), values, rtol=1e-10, atol=1e-6
            )
        for i, lever in enumerate(LEVERS):
            np.testing.assert_allclose(
                got["lever_cost"].isel(lever=i), levers[lever], rtol=1e-10, atol=1e-6
            )
    assert float((ds["specialised_counterfactual"] - ds["specialised_scenario"]).sum()) > 0


def test_reference_sees_a_changed_parameter(alloc_renal):
    """The comparison can fail: perturb one rate in the reference and it no longer matches."""
    ds, pop, baseline, years = alloc_renal
    model = load_reference_model(base_year=years[0])
    model["rates"]["HD_incentre"]["dead"] *= 1.01
    p = pop.isel(icb=0).values
    b = float(baseline.isel(icb=0).sel(service="renal"))
    cf, *_ = reference_renal(p, b, LEVERS, years, model)
    assert not np.allclose(
        ds.isel(icb=0)["specialised_counterfactual"].sel(service="renal"), cf, rtol=1e-6
    )
