"""Variance-based (Sobol) sensitivity: against a nested Monte Carlo reference, invariants, errors."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from alloc.cli import main
from alloc.engine import prepare
from alloc.ensemble import EnsembleSpec, transform
from alloc.errors import AllocError
from alloc.sensitivity import _final_dft, sobol_indices

RELAX = ['policy.fallback="relax"']
# Two parameters that interact strongly for QOC's final-year DfT (total > first-order index).
TWO = {"envelope_growth": {"low": 0.025, "high": 0.045, "distribution": "normal80"},
       "policy.max_growth": {"low": 0.05, "high": 0.08, "distribution": "triangular",
                             "central": 0.06}}
# The default policy's bounds are not in real terms, so the GDP deflator moves nothing.
INERT = {"gdp_deflator_growth": {"low": 0.01, "high": 0.03}}


def nested_reference(spec: EnsembleSpec, icb: str, n_outer=256, n_inner=256, seed=1):
    """First-order and total indices by brute force, straight from their definitions.

    S1_i = Var(E[Y | X_i]) / Var(Y), ST_i = E[Var(Y | X_~i)] / Var(Y), for two parameters:
    an outer loop over one parameter's values (stratified) and an inner sample of the other.
    """
    prep = prepare("default", RELAX)
    names = list(spec.uncertain)
    rng = np.random.default_rng(seed)

    def outputs(fixed):  # (n_outer, n_inner): row = one value of `fixed`, columns = the other
        other = next(n for n in names if n != fixed)
        u_fixed = (np.arange(n_outer) + 0.5) / n_outer
        values = {fixed: np.repeat(transform(u_fixed, spec.uncertain[fixed]), n_inner),
                  other: transform(rng.random(n_outer * n_inner), spec.uncertain[other])}
        return _final_dft(prep, values, icb, 20_000).reshape(n_outer, n_inner)

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
        '[ensemble.uncertain]\n'
        'envelope_growth = { low = 0.025, high = 0.045, distribution = "normal80" }\n'
        'gdp_deflator_growth = { low = 0.01, high = 0.03 }\n', encoding="utf-8")
    out = tmp_path / "sobol.csv"
    result = CliRunner().invoke(main, ["sensitivity", str(scenario), "--method", "sobol",
                                       "--samples", "128", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert "Sobol indices from 512 runs" in result.output
    table = pd.read_csv(out).set_index("parameter")
    assert list(table.columns) == ["S1", "S1_conf", "ST", "ST_conf"]
    assert table.loc["envelope_growth", "ST"] == pytest.approx(1.0, abs=0.05)  # the only mover
    assert table.loc["gdp_deflator_growth", "ST"] == 0.0
    bad = CliRunner().invoke(main, ["sensitivity", str(scenario), "--method", "sobol",
                                    "--samples", "100"])
    assert bad.exit_code != 0 and "power of 2" in bad.output and "Traceback" not in bad.output
