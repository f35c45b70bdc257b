"""Target shares from the default formula against an independent pandas computation."""

import tomllib

import numpy as np
import pandas as pd
import pytest

from alloc.inputs.dataset import load_inputs
from alloc.resources import data_dir, models_dir
from alloc.targets.formula import (
    load_formula,
    need_indices,
    project_population,
    target_shares,
)

DATA = data_dir()


@pytest.fixture(scope="module")
def inputs():
    return load_inputs()


def _pandas_shares(year_label: str, pop_factor: float = 1.0) -> pd.DataFrame:
    """Obvious re-implementation straight from the CSV and the formula TOML."""
    wp = pd.read_csv(DATA / "weighted_populations.csv")
    wp = wp[wp["year"] == year_label].set_index("code")
    spec = tomllib.loads((models_dir() / "formula" / "default.toml").read_text())["services"]
    out = {}
    for service, entry in spec.items():
        comp = wp["wp_" + entry["need_component"]]
        h = entry["health_inequalities_weight"]
        comp = (1 - h) * comp + h * wp["wp_health_inequalities"]
        index = (comp / wp["gp_pop"]) / (comp.sum() / wp["gp_pop"].sum())
        weighted = wp["gp_pop"] * pop_factor * index
        out[service] = weighted / weighted.sum()
    return pd.DataFrame(out)


def test_need_index_is_one_on_average(inputs):
    formula, path = load_formula("default")
    ni = need_indices(inputs, formula, path, 2025)
    pop = inputs["gp_pop"].sel(year=2025)
    # Population-weighted mean need index is exactly 1 for every service line.
    np.testing.assert_allclose((ni * pop).sum("icb") / pop.sum(), 1.0, rtol=1e-12)


@pytest.mark.parametrize("year,label", [(2024, "2024/25"), (2025, "2025/26")])
def test_target_shares_match_pandas_reference(inputs, year, label):
    formula, path = load_formula("default")
    pop = project_population(inputs["gp_pop"], [year], 0.005)
    shares = target_shares(inputs, formula, path, pop).sel(year=year).to_pandas()
    expected = _pandas_shares(label).loc[shares.index, shares.columns]
    np.testing.assert_allclose(shares.to_numpy(), expected.to_numpy(), rtol=1e-12)


def test_projected_years_use_latest_need_indices(inputs):
    formula, path = load_formula("default")
    pop = project_population(inputs["gp_pop"], [2025, 2028], 0.01)
    np.testing.assert_allclose(pop.sel(year=2028), inputs["gp_pop"].sel(year=2025) * 1.01**3)
    shares = target_shares(inputs, formula, path, pop)
    # Uniform population growth leaves shares unchanged when need indices are held at 2025/26.
    np.testing.assert_allclose(shares.sel(year=2028), shares.sel(year=2025), rtol=1e-12)
    np.testing.assert_allclose(shares.sum("icb"), 1.0, rtol=1e-12)


def test_health_inequalities_blend_moves_shares_towards_hi_component(inputs, tmp_path):
    text = (models_dir() / "formula" / "default.toml").read_text()
    text = text.replace("health_inequalities_weight = 0.0", "health_inequalities_weight = 1.0")
    path = tmp_path / "hi.toml"
    path.write_text(text)
    formula, _ = load_formula(path)
    pop = project_population(inputs["gp_pop"], [2025], 0.0)
    shares = target_shares(inputs, formula, path, pop).sel(year=2025, service="renal")
    hi = inputs["weighted_pop"].sel(year=2025, component="health_inequalities")
    # With h = 1 the share is the ICB's share of the health-inequalities weighted population.
    np.testing.assert_allclose(shares, hi / hi.sum(), rtol=1e-12)
