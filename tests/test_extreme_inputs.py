"""Extreme and sneaky inputs (issue 13, items 3 and 4): implausible values are refused by
`alloc validate` as by `alloc run` (exit 2, no traceback), Excel formulas without a saved value
are errors naming the cell, a bad `--set` value is blamed on `--set`, and trailing empty CSV rows
are ignored."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import EMBEDDED_DATA

from alloc.allocation.engine import prepare
from alloc.cli import main
from alloc.errors import AllocError
from alloc.inputs import limits
from alloc.inputs.dataset import load_inputs
from alloc.inputs.geography import load_practices
from alloc.inputs.scenario import load_scenario
from alloc.inputs.scenario_workbook import read_scenario_workbook
from alloc.outputs.scenario_template import write_template


def set_cell(folder, name: str, row: int, column: str, value: str) -> None:
    """Set one cell (data row ``row``, 1-based) of a dataset CSV, keeping every other cell."""
    path = folder / name
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row - 1, column] = value
    frame.to_csv(path, index=False)


def scenario_on(folder, tmp_path) -> str:
    path = tmp_path / "extreme.toml"
    path.write_text(
        f'name = "extreme"\ndata = "{folder.as_posix()}"\nend_year = "2027/28"\n'
        '[policy]\nuse = "common_dft"\n',
        encoding="utf-8",
    )
    return str(path)


# --- 3. extreme values ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e28", "1e308"])
def test_huge_baseline_refused_by_validate_and_run(value, data_copy, alloc_cli, tmp_path):
    """Both once crashed `alloc run` (OverflowError, decimal.InvalidOperation) after validate
    passed; now both commands stop with one line naming file, column, row and range."""
    set_cell(data_copy, "baseline.csv", 1, "baseline_gbp", value)
    scenario = scenario_on(data_copy, tmp_path)
    runner = CliRunner()
    outcomes = [
        (r.exit_code, r.stderr, r.exception)
        for r in (
            runner.invoke(main, ["validate", str(data_copy)]),
            runner.invoke(main, ["validate", scenario]),
        )
    ]
    done = alloc_cli(
        "run", scenario, "--quiet", "--no-plots"
    )  # the real command, as a user runs it
    outcomes.append((done.returncode, done.stderr, None))
    for code, stderr, exception in outcomes:
        assert code == 2, stderr
        assert exception is None or isinstance(exception, SystemExit)
        assert "Traceback" not in stderr
        line = stderr.strip()
        assert line.startswith("error: ") and "\n" not in line
        assert "baseline.csv: baseline_gbp:" in line
        assert "from 0 to 1e+11 GBP" in line and "data row 1 (code QE1, service cancer" in line
        assert f"found {float(value):g}" in line
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("file", "column", "value", "expected"),
    [
        ("icbs.csv", "lon", "200", "from -6.5 to 1.9 degrees east"),
        ("icbs.csv", "lat", "-5", "from 49.8 to 55.9 degrees north"),
        ("weighted_populations.csv", "gp_pop", "3e7", "above 0 and below 2e+07 persons"),
        ("weighted_populations.csv", "wp_community", "1e9", "below 4e+07 weighted persons"),
        ("patients.csv", "patients", "1e12", "from 0 to 2e+07 persons"),
        ("mff.csv", "mff_index", "101.5", "from 0.5 to 2"),
        ("services.csv", "national_share", "12", "from 0 to 1"),
        ("services.csv", "cost_per_patient_gbp", "1e15", "GBP per patient"),
    ],
)
def test_implausible_values_refused(file, column, value, expected, data_copy):
    set_cell(data_copy, file, 2, column, value)
    with pytest.raises(AllocError) as err:
        load_inputs(data_copy)
    assert err.value.source.endswith(file) and err.value.field == column
    assert expected in err.value.problem
    assert "data row 2" in err.value.problem
    assert f"found {float(value):.15g}" in err.value.problem


def test_message_names_the_row_keys(data_copy):
    set_cell(data_copy, "icbs.csv", 2, "lon", "200")
    with pytest.raises(AllocError, match=r"found 200 at data row 2 \(code QF7\)"):
        load_inputs(data_copy)


def test_real_coordinates_fit_england():
    """The shipped ICB centroids and all 6,348 practices lie inside the ranges."""
    for path in (EMBEDDED_DATA / "icbs.csv", EMBEDDED_DATA / "practices.csv"):
        frame = pd.read_csv(path)
        assert limits.LATITUDE.contains(frame["lat"]).all(), path
        assert limits.LONGITUDE.contains(frame["lon"]).all(), path
    load_practices()  # and the reader accepts them


@pytest.mark.parametrize(("column", "value"), [("lat", "-5"), ("lon", "200")])
def test_practice_table_coordinates_outside_england(column, value, tmp_path):
    frame = pd.read_csv(EMBEDDED_DATA / "practices.csv", dtype=str, keep_default_na=False)
    frame.loc[4, column] = value
    path = tmp_path / "practices.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(AllocError) as err:
        load_practices(path)
    assert err.value.field == column
    assert f"found {value} for practice {frame.loc[4, 'practice_code']} (data row 5)" in str(
        err.value
    )
    assert "degrees" in err.value.problem


def test_largest_plausible_baseline_runs(data_copy):
    """The upper end of the money range (1e11 in every cell) still runs: the range is not too
    tight for the run's rounding."""
    frame = pd.read_csv(data_copy / "baseline.csv", dtype=str)
    frame["baseline_gbp"] = "100000000000"
    frame.to_csv(data_copy / "baseline.csv", index=False)
    from alloc.allocation.engine import run

    result = run("default", [f"data={data_copy.as_posix()}", "end_year=2030/31"])
    assert float(result["baseline"].sum()) == pytest.approx(504 * 1e11)
    assert float(result["envelope"][-1]) > 504 * 1e11


# --- 4a. Excel formulas without a saved value -------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("tpl") / "scenario.xlsx"
    write_template(prepare("default"), path)
    return path


def _row(ws, label: str) -> int:
    return next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == label)


@pytest.mark.parametrize(
    ("sheet", "label"), [("Envelope", "2026/27"), ("Scenario", "population_growth")]
)
def test_formula_without_saved_value_is_an_error(sheet, label, template, tmp_path):
    """openpyxl (like any program that does not calculate) saves a formula without its value;
    the cell once read as blank, i.e. 'not set', and `=0.03+0.02` ran as the default 3.5%."""
    wb = openpyxl.load_workbook(template)
    ws = wb[sheet]
    cell = ws.cell(_row(ws, label), 2)
    cell.value = "=0.03+0.02"
    path = tmp_path / "formula.xlsx"
    wb.save(path)
    with pytest.raises(AllocError) as err:
        read_scenario_workbook(path)
    assert err.value.field == f"{sheet}!{cell.coordinate}"
    assert "formula '=0.03+0.02' but no saved value" in err.value.problem
    with pytest.raises(AllocError) as err:
        load_scenario(path)
    assert f"{sheet}!{cell.coordinate}" in str(err.value)


def test_plain_numbers_still_read(template):
    assert read_scenario_workbook(template)["envelope_growth"] == pytest.approx(0.035)


# --- 4b. --set errors name --set ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("end_year=abc", "end_year"),
        ("envelope_growth=5", "envelope_growth"),
        ("envelope_growth.2027/28=abc", "envelope_growth.2027/28"),
        ("convergence_level=sideways", "convergence_level"),
    ],
)
def test_bad_set_value_blames_set(override, field):
    with pytest.raises(AllocError) as err:
        load_scenario("default", ["policy.min_growth=0.01", override])
    assert err.value.source == f"--set {override}"
    assert err.value.field == field
    assert "models/scenarios" not in str(err.value)


def test_bad_policy_set_value_blames_set():
    """Policy parameters are validated with the policy (in the engine), after the scenario."""
    with pytest.raises(AllocError) as err:
        prepare("default", ["policy.min_growth=abc"])
    assert err.value.source == "--set policy.min_growth=abc"
    assert err.value.field == "policy.min_growth"


def test_bad_set_value_on_the_command_line():
    scenario = str(EMBEDDED_DATA.parent / "models" / "scenarios" / "default.toml")
    done = CliRunner().invoke(main, ["validate", scenario, "--set", "end_year=2025-26x"])
    assert done.exit_code == 2 and isinstance(done.exception, SystemExit)
    assert done.stderr.startswith("error: --set end_year=2025-26x: end_year: ")


def test_bad_file_value_still_blames_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "b"\nend_year = "abc"\n[policy]\nuse = "common_dft"\n')
    with pytest.raises(AllocError) as err:
        load_scenario(path, ["description=unrelated"])
    assert err.value.source == str(path) and err.value.field == "end_year"


# --- 4c. trailing empty rows ------------------------------------------------------------------


def test_trailing_empty_rows_of_baseline_are_ignored(data_copy):
    """Excel saves rows it once formatted as `,,,`; they are not data rows."""
    want = load_inputs(data_copy)["baseline"]
    with open(data_copy / "baseline.csv", "a", encoding="utf-8") as f:
        f.write(",,,\n,,,\n , , , \n")
    got = load_inputs(data_copy)["baseline"]
    assert got.equals(want)
