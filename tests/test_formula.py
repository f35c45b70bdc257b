"""Formula specs: age-sex curves, age-sex populations, MFF, population vintage, bad specs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alloc.errors import AllocError
from alloc.inputs.dataset import load_inputs
from alloc.resources import models_dir
from alloc.targets.formula import (
    component_index,
    load_formula,
    project_population,
    target_shares,
    weighted_populations,
)

FORMULA_DIR = models_dir() / "formula"
MID = np.array([2, 10, 20, 30, 40, 50, 60, 70, 80, 90.0])
BANDS = [0, 5, 15, 25, 35, 45, 55, 65, 75, 85]


def g(m):
    return 0.25 + 0.9 * np.exp(-m / 2) + 0.15 * np.exp(0.05 * (m - 20))


def test_illustrative_curves_follow_their_stated_method():
    """The numbers in curves/illustrative.toml are what its header says they are."""
    formula, _ = load_formula("default")
    female = np.where((MID >= 15) & (MID < 45), 1.15, np.where(MID >= 55, 0.9, 1.0))
    spec = np.where(MID <= 50, g(MID), g(50) * (g(MID) / g(50)) ** 0.5)
    ga, sp = formula.curves["general_acute"], formula.curves["specialised_physical"]
    np.testing.assert_allclose(ga.male, g(MID), atol=5e-5)
    np.testing.assert_allclose(ga.female, g(MID) * female, atol=5e-5)
    np.testing.assert_allclose(sp.male, spec, atol=5e-5)
    np.testing.assert_allclose(sp.female, spec * female, atol=5e-5)
    for curve in formula.curves.values():
        assert curve.status == "illustrative" and curve.method


def test_specialised_curve_is_flatter_at_older_ages():
    """Board paper (7 Dec 2023, Annex 2, para 3): specialised rises less quickly for older people."""
    formula, _ = load_formula("default")
    ga, sp = formula.curves["general_acute"], formula.curves["specialised_physical"]
    for sex in ("male", "female"):
        g_, s_ = np.array(getattr(ga, sex)), np.array(getattr(sp, sex))
        assert s_[-1] / s_[5] < 0.5 * g_[-1] / g_[5]
        assert np.all(np.diff(s_[5:]) > 0)  # still rising with age


def test_shipped_formulas_validate():
    for path in sorted(FORMULA_DIR.glob("*.toml")):
        formula, _ = load_formula(path)
        assert formula.services


# --- datasets with the optional files ----------------------------------------------------------


def age_sex_file(folder: Path, seed: int = 7, years=("2025/26",)) -> pd.DataFrame:
    """Illustrative age-sex populations: each ICB's gp_pop split by a seeded ageing tilt."""
    rng = np.random.default_rng(seed)
    wp = pd.read_csv(folder / "weighted_populations.csv")
    base = np.array([5.5, 11.5, 12, 13.5, 13, 13, 12, 10, 6.5, 3.0])
    rows = []
    for year in years:
        sub = wp[wp["year"] == year]
        for code, pop in zip(sub["code"], sub["gp_pop"]):
            tilt = rng.normal(0, 0.25)
            w = base * np.exp(tilt * (MID - 45) / 45)
            w = w / w.sum() * pop
            for age, persons in zip(BANDS, w):
                rows += [
                    (code, year, "F", age, round(persons * 0.505, 1)),
                    (code, year, "M", age, round(persons * 0.495, 1)),
                ]
    frame = pd.DataFrame(rows, columns=["code", "year", "sex", "age_from", "persons"])
    frame.to_csv(folder / "age_sex_populations.csv", index=False)
    return frame


def write_formula(
    tmp_path: Path,
    edits: dict[str, str] | None = None,
    text: str | None = None,
    name: str = "f.toml",
) -> Path:
    text = text if text is not None else (FORMULA_DIR / "default.toml").read_text()
    for old, new in (edits or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return path


def shares_2025(inputs, path) -> pd.DataFrame:
    formula, source = load_formula(path)
    pop = project_population(inputs["gp_pop"], [2025], 0.0)
    return target_shares(inputs, formula, source, pop).sel(year=2025).to_pandas()


def test_dataset_without_optional_files_still_loads(data_copy):
    (data_copy / "mff.csv").unlink()
    inputs = load_inputs(data_copy)
    assert "mff" not in inputs and "age_sex_pop" not in inputs


def test_age_sex_path_with_its_own_reference_curve_equals_icb_path(data_copy, tmp_path):
    """Curve = standardising curve: the age gradient divides out, leaving pop x NI_k exactly."""
    icb_level = shares_2025(load_inputs(data_copy), write_formula(tmp_path))
    age_sex_file(data_copy)
    inputs = load_inputs(data_copy)
    path = write_formula(
        tmp_path,
        {'age_curve = "specialised_physical"': 'age_curve = "general_acute"'},
        name="same.toml",
    )
    got = shares_2025(inputs, path)
    np.testing.assert_allclose(got["renal"], icb_level["renal"], rtol=1e-12)
    formula, source = load_formula(path)
    wp = weighted_populations(
        inputs, formula, source, project_population(inputs["gp_pop"], [2025], 0.0)
    )
    assert '"renal": "age_sex"' in wp.attrs["basis"]
    np.testing.assert_allclose(wp.sum("icb"), inputs["gp_pop"].sel(year=2025).sum(), rtol=1e-12)


def test_flatter_curve_moves_share_from_older_icbs(data_copy, tmp_path):
    frame = age_sex_file(data_copy)
    inputs = load_inputs(data_copy)
    flat = shares_2025(inputs, write_formula(tmp_path))  # specialised_physical curve
    steep = shares_2025(
        inputs,
        write_formula(
            tmp_path,
            {'age_curve = "specialised_physical"': 'age_curve = "general_acute"'},
            name="steep.toml",
        ),
    )
    old = (
        frame[frame["age_from"] >= 65].groupby("code")["persons"].sum()
        / frame.groupby("code")["persons"].sum()
    )
    change = (flat["renal"] - steep["renal"]) / steep["renal"]
    assert np.corrcoef(change.loc[old.index], old)[0, 1] < -0.9
    # Only service lines with an age curve move; shares still sum to one.
    np.testing.assert_allclose(flat.sum(), 1.0, rtol=1e-12)


def test_mff_exponent_scales_weighted_population(data_copy, tmp_path):
    inputs = load_inputs(data_copy)
    base = shares_2025(inputs, write_formula(tmp_path))
    with_mff = shares_2025(
        inputs, write_formula(tmp_path, {"mff_exponent = 0.0": "mff_exponent = 1.0"}, name="m.toml")
    )
    mff = inputs["mff"].to_pandas()
    ratio = with_mff["renal"] / base["renal"]
    np.testing.assert_allclose(ratio / ratio.iloc[0], mff / mff.iloc[0], rtol=1e-12)


def test_mff_without_data_is_a_clear_error(data_copy, tmp_path):
    (data_copy / "mff.csv").unlink()
    inputs = load_inputs(data_copy)
    path = write_formula(tmp_path, {"mff_exponent = 0.0": "mff_exponent = 0.5"})
    with pytest.raises(AllocError, match=r"services\.cancer\.mff_exponent: .*no mff\.csv"):
        shares_2025(inputs, path)


def test_population_vintage_uses_that_years_list(tmp_path):
    inputs = load_inputs()
    path = write_formula(
        tmp_path, {'population_vintage = "projected"': 'population_vintage = "2023/24"'}
    )
    got = shares_2025(inputs, path)
    ni = component_index(inputs, "general_acute", 2025, "x")
    expected = inputs["gp_pop"].sel(year=2023).values * ni
    np.testing.assert_allclose(got["renal"], expected / expected.sum(), rtol=1e-12)


def test_hi_blend_is_a_blend_of_weighted_populations(tmp_path):
    inputs = load_inputs()
    path = write_formula(
        tmp_path, {"health_inequalities_weight = 0.0": "health_inequalities_weight = 0.25"}
    )
    got = shares_2025(inputs, path)
    pop = inputs["gp_pop"].sel(year=2025).values
    need = pop * component_index(inputs, "general_acute", 2025, "x")
    hi = pop * component_index(inputs, "health_inequalities", 2025, "x")
    blend = 0.75 * need / need.sum() + 0.25 * hi / hi.sum()
    np.testing.assert_allclose(got["renal"], blend, rtol=1e-12)


@pytest.mark.parametrize(
    ("edits", "field"),
    [
        (
            {'age_curve = "neonatal"': 'age_curve = "nonesuch"'},
            "services.neonatal_critical_care.age_curve",
        ),
        ({'need_index_vintage = "latest"': 'need_index_vintage = "soon"'}, "need_index_vintage"),
        ({"mff_exponent = 0.0": "mff_exponent = -1.0"}, "services.cancer.mff_exponent"),
        (
            {'population_vintage = "projected"': 'population_vintage = "2019/20"'},
            "population_vintage",
        ),
        (
            {'need_component = "maternity"': 'need_component = "births"'},
            "services.neonatal_critical_care.need_component",
        ),
    ],
)
def test_bad_formula_names_the_field(tmp_path, edits, field):
    path = write_formula(tmp_path, edits)
    with pytest.raises(AllocError) as err:
        shares_2025(load_inputs(), path)
    assert err.value.field == field, str(err.value)


def test_bad_inline_curve_names_curve_and_field(tmp_path):
    path = write_formula(
        tmp_path,
        {"male = [0, 0.02, 1.0, 1.2, 0.9, 0.5, 0.2, 0.05, 0.02, 0.01]": "male = [0, 0.02, 1.0]"},
    )
    with pytest.raises(AllocError) as err:
        load_formula(path)
    assert err.value.field == "curves.mental_health_secure.male", str(err.value)
    assert "expected 10 values" in str(err.value)


def test_curves_file_is_merged_and_checked(tmp_path):
    """``age_curves = "file"`` reads curves from another TOML; inline tables override it."""
    text = (FORMULA_DIR / "default.toml").read_text()
    cut = text.index("[curves.")
    curves = text[cut:].replace("[curves.", "[")
    (tmp_path / "c.toml").write_text(curves)
    head = text[:cut].replace(
        'need_index_vintage = "latest"\n', 'need_index_vintage = "latest"\nage_curves = "c.toml"\n'
    )
    formula_path = tmp_path / "f.toml"
    formula_path.write_text(head)
    formula, _ = load_formula(formula_path)
    assert formula.curves == load_formula("default")[0].curves
    (tmp_path / "c.toml").write_text(curves.replace("age_from = [0, 5,", "age_from = [1, 5,", 1))
    with pytest.raises(AllocError) as err:
        load_formula(formula_path)
    assert err.value.source == str(tmp_path / "c.toml")
    assert err.value.field == "general_acute.age_from"


def test_curve_bands_must_nest_in_population_bands(data_copy, tmp_path):
    frame = age_sex_file(data_copy)
    frame = frame[frame["age_from"] != 5]  # population bands 0-14 merged: curve band 5 is inside
    frame.to_csv(data_copy / "age_sex_populations.csv", index=False)
    with pytest.raises(AllocError, match="band start 5 falls inside"):
        shares_2025(load_inputs(data_copy), write_formula(tmp_path))


@pytest.mark.parametrize(
    ("file", "column", "edit", "message"),
    [
        (
            "age_sex_populations.csv",
            "sex",
            lambda f: f.assign(sex=f["sex"].replace("F", "W")),
            "expected F or M",
        ),
        (
            "age_sex_populations.csv",
            "code",
            lambda f: f.assign(code=f["code"].replace("QE1", "ZZZ")),
            "unknown ICB code 'ZZZ'",
        ),
        ("age_sex_populations.csv", "age_from", lambda f: f.iloc[2:], "all 10 age bands"),
        ("mff.csv", "mff_index", lambda f: f.assign(mff_index=0.0), "positive"),
        ("mff.csv", "code", lambda f: f.iloc[1:], "is missing"),
    ],
)
def test_bad_optional_files(data_copy, file, column, edit, message):
    if file == "age_sex_populations.csv":
        age_sex_file(data_copy)
    frame = pd.read_csv(data_copy / file)
    edit(frame).to_csv(data_copy / file, index=False)
    with pytest.raises(AllocError, match=message) as err:
        load_inputs(data_copy)
    assert err.value.field == column and err.value.source.endswith(file)


def test_default_run_unchanged_by_optional_mff_file(tmp_path):
    """The shipped mff.csv is inert under the default formula (exponent 0)."""
    inputs = load_inputs()
    with_mff = shares_2025(inputs, FORMULA_DIR / "default.toml")
    shutil.copytree(
        Path(inputs.attrs["data_folder"]),
        tmp_path / "d",
        ignore=shutil.ignore_patterns("mff.csv", "*.py"),
    )
    without = shares_2025(load_inputs(tmp_path / "d"), FORMULA_DIR / "default.toml")
    np.testing.assert_array_equal(with_mff.to_numpy(), without.to_numpy())
