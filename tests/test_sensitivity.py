"""Variance-based (Sobol) sensitivity: against a nested Monte Carlo reference, invariants, errors."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import alloc
from alloc.cli import main
from alloc.errors import AllocError
from alloc.uncertainty.ensemble import EnsembleSpec, transform
from alloc.uncertainty.sensitivity import _load, _outputs, sensitivity, sobol_indices

RELAX = ['policy.fallback="relax"']
# Two parameters that interact strongly for QOC's final-year DfT (total > first-order index).
TWO = {
    "envelope_growth": {"low": 0.025, "high": 0.045, "distribution": "normal80"},
    "policy.max_growth": {"low": 0.05, "high": 0.08, "distribution": "triangular", "central": 0.06},
}
# The default policy's bounds are not in real terms, so the GDP deflator moves nothing.
INERT = {"gdp_deflator_growth": {"low": 0.01, "high": 0.03}}


def nested_reference(spec: EnsembleSpec, icb: str, n_outer=256, n_inner=256, seed=1):
    """First-order and total indices by brute force, straight from their definitions.

    S1_i = Var(E[Y | X_i]) / Var(Y), ST_i = E[Var(Y | X_~i)] / Var(Y), for two parameters:
    an outer loop over one parameter's values (stratified) and an inner sample of the other.
    """
    setup = _load("default", RELAX, spec, None, None)
    names = list(spec.uncertain)
    rng = np.random.default_rng(seed)

    def outputs(fixed):  # (n_outer, n_inner): row = one value of `fixed`, columns = the other
        other = next(n for n in names if n != fixed)
        u_fixed = (np.arange(n_outer) + 0.5) / n_outer
        values = {
            fixed: np.repeat(transform(u_fixed, spec.uncertain[fixed]), n_inner),
            other: transform(rng.random(n_outer * n_inner), spec.uncertain[other]),
        }
        return _outputs(setup, n_outer * n_inner, values, {}, "dft", icb, 20_000).reshape(
            n_outer, n_inner
        )

    by = {n: outputs(n) for n in names}
    var = np.concatenate([y.ravel() for y in by.values()]).var()
    first, total = {}, {}
    for n in names:
        y, y_other = by[n], by[next(m for m in names if m != n)]
        # subtract the inner-sample noise in the conditional means (unbiased estimator)
        first[n] = (y.mean(axis=1).var() - y.var(axis=1, ddof=1).mean() / n_inner) / var
        total[n] = y_other.var(axis=1, ddof=1).mean() / var
    return first, total


def test_sobol_indices_match_nested_monte_carlo_reference():
    spec = EnsembleSpec(uncertain=TWO, seed=3)
    table = sobol_indices("default", RELAX, spec, icb="QOC", samples=8192).set_index("parameter")
    first, total = nested_reference(spec, "QOC")
    for name in TWO:
        assert table.loc[name, "S1"] == pytest.approx(first[name], abs=0.05)
        assert table.loc[name, "ST"] == pytest.approx(total[name], abs=0.05)
    # the case is a real test of interactions: each total index clearly exceeds its first-order
    assert (table["ST"] - table["S1"]).min() > 0.1
    assert table.attrs["runs"] == 8192 * (len(TWO) + 2)


def test_a_parameter_that_moves_nothing_gets_zero_indices():
    spec = {"uncertain": {**TWO, **INERT}, "seed": 3}
    table = sobol_indices("default", RELAX, spec, samples=512).set_index("parameter")
    assert table.loc["gdp_deflator_growth", "S1"] == 0.0
    assert table.loc["gdp_deflator_growth", "ST"] == 0.0
    assert table.loc["envelope_growth", "ST"] > 0.5
    assert list(table["ST"]) == sorted(table["ST"], reverse=True)


def test_seeded_and_reproducible():
    spec = {"uncertain": TWO, "seed": 3}
    a = sobol_indices("default", RELAX, spec, samples=256)
    b = sobol_indices("default", RELAX, spec, samples=256)
    c = sobol_indices("default", RELAX, {**spec, "seed": 4}, samples=256)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.set_index("parameter")["S1"], c.set_index("parameter")["S1"])


@pytest.mark.parametrize("samples", [1000, 0, 1, True, 2.0])
def test_samples_must_be_a_power_of_two(samples):
    with pytest.raises(AllocError, match="power of 2"):
        sobol_indices("default", RELAX, {"uncertain": TWO}, samples=samples)


def test_no_parameters_or_no_variance_is_a_clear_error():
    with pytest.raises(AllocError, match="at least one uncertain parameter"):
        sobol_indices("default", RELAX, {"uncertain": {}}, samples=64)
    with pytest.raises(AllocError, match="does not vary"):
        sobol_indices("default", RELAX, {"uncertain": INERT}, samples=64)
    with pytest.raises(AllocError, match="unknown ICB code 'XXX'"):
        sobol_indices("default", RELAX, {"uncertain": TWO}, samples=64, icb="XXX")


def test_cli_sobol_prints_and_writes_the_table(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'name = "s"\nend_year = "2030/31"\n[policy]\nuse = "common_dft"\nfallback = "relax"\n'
        "[ensemble.uncertain]\n"
        'envelope_growth = { low = 0.025, high = 0.045, distribution = "normal80" }\n'
        "gdp_deflator_growth = { low = 0.01, high = 0.03 }\n",
        encoding="utf-8",
    )
    out = tmp_path / "sobol.csv"
    result = CliRunner().invoke(
        main,
        ["sensitivity", str(scenario), "--method", "sobol", "--samples", "128", "--csv", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "Sobol indices from 512 runs" in result.output
    table = pd.read_csv(out).set_index("parameter")
    assert list(table.columns) == ["quantities", "S1", "S1_conf", "ST", "ST_conf"]
    assert table.loc["envelope_growth", "ST"] == pytest.approx(1.0, abs=0.05)  # the only mover
    assert table.loc["gdp_deflator_growth", "ST"] == 0.0
    bad = CliRunner().invoke(
        main, ["sensitivity", str(scenario), "--method", "sobol", "--samples", "100"]
    )
    assert bad.exit_code != 0 and "power of 2" in bad.output and "Traceback" not in bad.output


def _renal_file(tmp_path, old: str, new: str):
    """A copy of the shipped renal pathway file with one line changed, and a scenario using it."""
    text = (alloc.resources.models_dir() / "pathways" / "renal.toml").read_text(encoding="utf-8")
    assert text.count(old) == 1
    (tmp_path / "renal.toml").write_text(text.replace(old, new), encoding="utf-8")
    scenario = (alloc.resources.models_dir() / "scenarios" / "left_shift_renal.toml").read_text(
        encoding="utf-8"
    )
    (tmp_path / "s.toml").write_text(
        scenario + '\n[pathways.files]\nrenal = "renal.toml"\n', encoding="utf-8"
    )
    return tmp_path / "s.toml"


def test_tornado_over_pathway_quantities_equals_single_runs(tmp_path):
    """Pathway quantities are factors: the central and the high run of one of them reproduce
    `alloc run` with that quantity's value changed in a copy of the pathway file."""
    table = sensitivity("left_shift_renal", output="saving").set_index("parameter")
    name = "renal: levers.sglt2i.eligible"
    assert (table.loc[name, "low"], table.loc[name, "high"]) == (0.3, 0.7)

    def national_saving(result):
        return float(result["left_shift_saving"].isel(year=-1).sum())

    central = national_saving(alloc.run("left_shift_renal"))
    assert table["output_central"].iloc[0] == pytest.approx(central, rel=1e-9)
    line = 'eligible = {{ value = {}, unit = "fraction", range = [0.3, 0.7]'
    high = _renal_file(tmp_path, line.format(0.5), line.format(0.7))
    assert table.loc[name, "output_high"] == pytest.approx(
        national_saving(alloc.run(high)), rel=1e-9
    )
    assert table.loc[name, "output_high"] > central * 1.05  # the check has something to find
    # a lever the scenario does not switch on moves nothing
    assert table.loc["renal: levers.preemptive_transplant.uptake", "swing"] == 0.0


def test_sobol_groups_pathway_quantities():
    table = sobol_indices("left_shift_renal", output="saving", samples=64).set_index("parameter")
    groups = table.attrs["groups"]
    assert sum(table["quantities"]) == sum(len(v) for v in groups.values())
    assert table.loc["renal: levers.sglt2i", "quantities"] == 5
    assert "renal: levers.sglt2i.uptake" in groups["renal: levers.sglt2i"]
    assert table.attrs["runs"] == 64 * (len(table) + 2)
    assert table.loc["renal: levers.preemptive_transplant", "ST"] == 0.0  # not switched on
    assert table["ST"].max() > 0.2


def test_money_outputs_need_a_left_shift_scenario():
    with pytest.raises(AllocError, match="needs a left-shift scenario"):
        sensitivity("default", RELAX, {"uncertain": TWO}, output="saving")


def test_money_tornado_csv_says_what_it_measured_through_to_the_chart(tmp_path):
    from alloc.outputs.plots.uncertainty import tornado_chart
    from alloc.outputs.report import load_sensitivity

    out = tmp_path / "tornado.csv"
    result = CliRunner().invoke(
        main,
        [
            "sensitivity",
            "left_shift_renal",
            "--output",
            "saving",
            "--icb",
            "QF7",
            "--csv",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Output: final-year left-shift saving of QF7 (GBP, cash)" in result.output
    table = load_sensitivity(out)
    assert table.attrs == {"output": "final-year left-shift saving of QF7", "units": "GBP"}
    figure = tornado_chart(table)
    title = figure.texts[0].get_text() if figure.texts else figure._suptitle.get_text()
    assert "£" in title and "%" not in title
