"""Formula-change decomposition, variation analysis (access x intensity) and their CLI commands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from test_formula import age_sex_file, write_formula

from alloc.cli import main
from alloc.errors import AllocError
from alloc.inputs.dataset import load_inputs
from alloc.resources import models_dir
from alloc.targets.explain import (
    COMPONENTS,
    METHODS,
    changed_components,
    decompose_formula_change,
    variation,
)
from alloc.targets.formula import load_formula

DEFAULT = models_dir() / "formula" / "default.toml"

# Formula B changes all five components at once.
ALL_CHANGES = {
    'population_vintage = "projected"': "population_vintage = 2024",
    'need_index_vintage = "latest"': "need_index_vintage = 2024",
    'age_curve = "specialised_physical"': 'age_curve = "general_acute"',
    "mff_exponent = 0.0": "mff_exponent = 1.0",
    "health_inequalities_weight = 0.0": "health_inequalities_weight = 0.15",
}


@pytest.fixture(scope="module")
def age_sex_data(tmp_path_factory):
    import shutil

    from alloc.resources import data_dir

    folder = tmp_path_factory.mktemp("d") / "data"
    shutil.copytree(data_dir(), folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    age_sex_file(folder, years=("2024/25", "2025/26"))
    return folder


@pytest.fixture(scope="module")
def all_changed(age_sex_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("f")
    inputs = load_inputs(age_sex_data)
    fa, pa = load_formula(DEFAULT)
    fb, pb = load_formula(write_formula(tmp, ALL_CHANGES))
    return inputs, fa, fb, (str(pa), str(pb))


@pytest.mark.parametrize("method", METHODS)
def test_parts_add_up_exactly_to_the_total_change(all_changed, method):
    inputs, fa, fb, sources = all_changed
    change = decompose_formula_change(inputs, fa, fb, sources=sources, method=method)
    assert change.changed == list(COMPONENTS)
    for service in ["all", "renal", "neonatal_critical_care", "mental_health_secure"]:
        table = change.table(service)
        parts = table[[*COMPONENTS, "interaction"]].sum(axis=1)
        np.testing.assert_allclose(parts, table["total_change"], rtol=0, atol=1e-15)
        assert table["total_change"].abs().max() > 1e-4  # a real change to explain
        if service in ("all", "renal"):  # lines whose curve changed move with every component
            for comp in COMPONENTS:
                assert table[comp].abs().max() > 1e-6, (service, comp)
    interaction = change.table("all")["interaction"].abs().max()
    if method == "one_at_a_time":
        assert interaction > 1e-7  # components interact (e.g. MFF x population vintage)
    else:
        assert interaction < 1e-15
    # Shares still sum to one under both formulas; parts sum to zero over ICBs.
    shares = change.shares.xs("all", level="service")
    np.testing.assert_allclose(shares.sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(change.table("all")[list(COMPONENTS)].sum(), 0.0, atol=1e-15)


def test_single_component_change_is_all_that_component(tmp_path):
    inputs = load_inputs()
    fa, _ = load_formula("default")
    fb, _ = load_formula("with_cost_adjustment")
    change = decompose_formula_change(inputs, fa, fb)
    assert change.changed == ["mff"]
    for service in ("renal", "all"):
        table = change.table(service)
        # The only changed component takes the whole change (exactly per service line; the
        # envelope-weighted ICB total rounds differently, by < 1e-16).
        tol = 0 if service == "renal" else 1e-16
        np.testing.assert_allclose(table["mff"], table["total_change"], rtol=0, atol=tol)
        np.testing.assert_allclose(table["interaction"], 0.0, rtol=0, atol=tol)
    same = decompose_formula_change(inputs, fa, fa)
    assert same.changed == [] and (same.parts["contribution"] == 0).all()


def test_one_at_a_time_parts_are_the_hybrid_effects(all_changed):
    """The HI part is exactly the share change from switching only the HI weight."""
    inputs, fa, fb, sources = all_changed
    change = decompose_formula_change(inputs, fa, fb, sources=sources)
    only_hi = fa.model_copy(
        update={
            "services": {
                k: v.model_copy(update={"health_inequalities_weight": 0.15})
                for k, v in fa.services.items()
            }
        }
    )
    one = decompose_formula_change(inputs, fa, only_hi)
    np.testing.assert_allclose(
        change.table("renal")["hi_weight"], one.table("renal")["total_change"], rtol=0, atol=1e-16
    )


def test_waterfall_steps_walk_from_a_to_b(all_changed):
    inputs, fa, fb, sources = all_changed
    change = decompose_formula_change(inputs, fa, fb, sources=sources, method="shapley")
    steps = change.waterfall("all")
    for _icb, group in steps.groupby("icb"):
        start = group[group["kind"] == "start"]["value"].iloc[0]
        end = group[group["kind"] == "end"]["value"].iloc[0]
        parts = group[group["kind"] == "part"]
        assert start + parts["value"].sum() == pytest.approx(end, abs=1e-15)
        assert (parts["top"] >= parts["bottom"]).all()
    gbp = steps[steps["kind"] == "part"].groupby("icb")["value_gbp"].sum()
    total = change.table("all")["total_change"] * change.envelopes["all"]
    np.testing.assert_allclose(gbp.loc[total.index], total, atol=1e-4)


def test_changed_components_detects_each_field(tmp_path):
    fa, _ = load_formula("default")
    services = list(fa.services)
    for edit, comp in [
        ({'need_component = "maternity"': 'need_component = "general_acute"'}, "need_index"),
        ({'population_vintage = "projected"': "population_vintage = 2023"}, "population_vintage"),
        ({"female = [1.0, 0, 0": "female = [1.2, 0, 0"}, "age_curve"),
        ({'age_standardise = "maternity"': 'age_standardise = "general_acute"'}, "age_curve"),
    ]:
        fb, _ = load_formula(write_formula(tmp_path, edit))
        assert changed_components(fa, fb, services) == [comp]


# --- variation analysis ------------------------------------------------------------------------


@pytest.mark.parametrize("peers", ["england", "region", "nearest:5"])
def test_variation_access_times_intensity_is_exact(peers):
    inputs = load_inputs()
    formula, path = load_formula("default")
    table = variation(inputs, formula, path, peers=peers)
    assert len(table) == 42 * 12
    np.testing.assert_allclose(
        table["intensity_index"] * table["access_index"], 1 + table["dft"], rtol=1e-12
    )
    np.testing.assert_allclose(
        table["log_intensity"] + table["log_access"], np.log1p(table["dft"]), atol=1e-12
    )
    np.testing.assert_allclose(
        table["spend_per_head_gbp"],
        table["spend_per_patient_gbp"] * table["patients_per_1000"] / 1000,
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        table["intensity_vs_peers"] * table["access_vs_peers"],
        table["spend_per_weighted_head_vs_peers"],
        rtol=1e-12,
    )
    by_service = table.groupby(level="service")[["spend_gbp", "target_gbp"]].sum()
    np.testing.assert_allclose(by_service["target_gbp"], by_service["spend_gbp"], rtol=1e-12)
    if peers == "england":
        np.testing.assert_allclose(table["intensity_vs_peers"], table["intensity_index"])
    if peers == "nearest:5":
        assert table["peer_group"].str.count(" Q").eq(5).all()


def test_variation_by_hand_for_one_icb():
    inputs = load_inputs()
    formula, path = load_formula("default")
    row = variation(inputs, formula, path, peers="region").loc[("QE1", "renal")]
    spend = pd.read_csv(inputs.attrs["data_folder"] + "/baseline.csv")
    pts = pd.read_csv(inputs.attrs["data_folder"] + "/patients.csv")
    s = spend[spend["service"] == "renal"].set_index("code")["baseline_gbp"]
    p = pts[pts["service"] == "renal"].set_index("code")["patients"]
    assert row["spend_per_patient_gbp"] == pytest.approx(s["QE1"] / p["QE1"], rel=1e-12)
    assert row["intensity_index"] == pytest.approx(
        (s["QE1"] / p["QE1"]) / (s.sum() / p.sum()), rel=1e-12
    )
    nw = inputs["region"].to_pandas()
    peers = nw[nw == nw["QE1"]].index
    assert row["intensity_vs_peers"] == pytest.approx(
        (s["QE1"] / p["QE1"]) / (s[peers].sum() / p[peers].sum()), rel=1e-12
    )


@pytest.mark.parametrize("peers", ["nearest:0", "nearest:x", "county"])
def test_variation_bad_peers(peers):
    formula, path = load_formula("default")
    with pytest.raises(AllocError) as err:
        variation(load_inputs(), formula, path, peers=peers)
    assert err.value.field == "peers"


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_compare_formulas_writes_consistent_tables(tmp_path):
    runner = CliRunner()
    out, wf = tmp_path / "parts.csv", tmp_path / "waterfall.csv"
    result = runner.invoke(
        main,
        [
            "compare-formulas",
            "default",
            "hi_blend_10",
            "--method",
            "shapley",
            "--out",
            str(out),
            "--waterfall",
            str(wf),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Changed components: hi_weight" in result.output and "QE1" in result.output
    parts = pd.read_csv(out)
    sums = parts.groupby(["icb", "service"]).agg(
        total=("contribution", "sum"), a=("share_a", "first"), b=("share_b", "first")
    )
    np.testing.assert_allclose(sums["total"], sums["b"] - sums["a"], atol=1e-15)
    assert set(pd.read_csv(wf)["kind"]) == {"start", "part", "end"}
    again = runner.invoke(main, ["compare-formulas", "default", "hi_blend_10", "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.output


def test_cli_compare_formulas_bad_formula(tmp_path):
    bad = write_formula(
        tmp_path, {"health_inequalities_weight = 0.0": "health_inequalities_weight = 1.5"}
    )
    result = CliRunner().invoke(main, ["compare-formulas", "default", str(bad)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}: ")
    assert "health_inequalities_weight" in lines[0]


def test_cli_variation(tmp_path):
    out = tmp_path / "v.csv"
    result = CliRunner().invoke(
        main, ["variation", "--service", "renal", "--peers", "nearest:4", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "[renal]" in result.output and "[cancer]" not in result.output
    assert len(pd.read_csv(out)) == 42 * 12


def test_cli_estimate_synthetic_and_csv(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        main, ["estimate", "--synthetic", "20000", "--seed", "3", "--out", str(tmp_path / "est")]
    )
    assert result.exit_code == 0, result.output
    coef = pd.read_csv(tmp_path / "est" / "coefficients.csv", index_col="term")
    assert {"estimate", "se_hc1", "ci95_low", "true"} <= set(coef.columns)
    ni = pd.read_csv(tmp_path / "est" / "need_index_icb.csv")
    assert {"need_index", "need_index_true", "need_index_unsterilised"} <= set(ni.columns)
    summary = json.loads((tmp_path / "est" / "summary.json").read_text())
    assert summary["records"] == 20000 and summary["standard_errors"] == "HC1"
    # CSV records with labels.
    from alloc.targets.synthetic import SyntheticPopulation

    pop = SyntheticPopulation(5000, seed=1, chunk_rows=5000)
    frame = pd.DataFrame(pop.chunk(0))
    frame["icb"] = [pop.icb_codes[i] for i in frame["icb"]]
    frame.to_csv(tmp_path / "r.csv", index=False)
    args = [
        "estimate",
        "--data",
        str(tmp_path / "r.csv"),
        "--need",
        "age_sex",
        "--need",
        "ckd",
        "--supply",
        "distance_km",
        "--categorical",
        "age_sex",
        "--out",
        str(tmp_path / "e2"),
    ]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    bad = runner.invoke(main, [*args[:-2], "--supply", "nowhere", "--out", str(tmp_path / "e3")])
    assert bad.exit_code == 2
    assert bad.output.startswith(f"error: {tmp_path / 'r.csv'}: nowhere: ")
    assert not (tmp_path / "e3").exists()
