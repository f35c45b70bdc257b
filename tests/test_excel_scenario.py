"""Scenarios in Excel: template -> edit with openpyxl -> run gives the edited parameters."""

from pathlib import Path

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner
from conftest import message_lines

import alloc
from alloc.allocation.engine import prepare
from alloc.cli import main
from alloc.errors import AllocError
from alloc.inputs.scenario import load_scenario
from alloc.inputs.scenario_workbook import POLICY_TABLE_ROW
from alloc.outputs.scenario_template import write_template

REPO = Path(__file__).resolve().parents[1]


def find_row(ws, key: str) -> int:
    return next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == key)


def column_of(ws, header_row: int, key: str) -> int:
    return next(
        c
        for c in range(1, ws.max_column + 1)
        if str(ws.cell(header_row, c).value or "").split("\n")[0] == key
    )


def year_row(ws, label: str, first: int) -> int:
    return next(r for r in range(first, ws.max_row + 1) if ws.cell(r, 1).value == label)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("tpl") / "scenario.xlsx"
    write_template(prepare("default"), path)
    return path


def edited(template, tmp_path, edit) -> str:
    wb = openpyxl.load_workbook(template)
    edit(wb)
    out = tmp_path / "edited.xlsx"
    wb.save(out)
    return str(out)


@pytest.mark.parametrize(
    "name",
    [
        "default",
        "proportional_by_year",
        str(REPO / "models" / "scenarios" / "left_shift_combined.toml"),
    ],
)
def test_unedited_template_runs_like_the_toml(tmp_path, name):
    # Year-keyed policy and envelope values, and keys the sheets do not show (pathway levers,
    # savings policy) survive the round trip.
    path = tmp_path / "scenario.xlsx"
    write_template(prepare(name), path)
    from_xlsx = alloc.run(str(path))
    from_toml = alloc.run(name)
    for var in ("allocation", "envelope", "net_position", "left_shift_saving"):
        if var in from_toml:
            np.testing.assert_allclose(from_xlsx[var], from_toml[var], rtol=1e-12)
    assert from_xlsx.attrs["scenario_file"] == str(path)


def test_template_has_validation_lists_and_units(template):
    wb = openpyxl.load_workbook(template)
    assert {"Scenario", "Policy", "Envelope", "Notes"} <= set(wb.sheetnames)
    assert wb["_alloc"].sheet_state == "veryHidden"
    ws = wb["Scenario"]
    rules = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    level = rules[f"B{find_row(ws, 'convergence_level')}"]
    assert level.type == "list" and "total" in level.formula1 and "service" in level.formula1
    assert ws.cell(find_row(ws, "population_growth"), 3).value.startswith("fraction per year")
    pol = wb["Policy"]
    uses = {str(dv.sqref): dv for dv in pol.data_validations.dataValidation}
    assert "common_dft" in uses[f"B{find_row(pol, 'use')}"].formula1
    assert any(dv.type == "decimal" for dv in pol.data_validations.dataValidation)


def test_edited_policy_cell_changes_the_run(template, tmp_path):
    def edit(wb):
        ws = wb["Policy"]
        col = column_of(ws, POLICY_TABLE_ROW, "min_growth")
        for r in range(POLICY_TABLE_ROW + 1, ws.max_row + 1):
            ws.cell(r, col).value = 0.025  # floor up from 1.7% to 2.5% in every year

    path = edited(template, tmp_path, edit)
    spec, _, raw = load_scenario(path)
    assert raw["policy"]["min_growth"] == 0.025
    result = alloc.run(path)
    growth = result["growth"].isel(year=slice(1, None))
    assert float(growth.min()) >= 0.025 - 1e-12  # every ICB gets the new floor
    default = alloc.run("default")
    assert float(default["growth"].isel(year=slice(1, None)).min()) < 0.025 - 1e-6


def test_edited_envelope_year_and_end_year(template, tmp_path):
    def edit(wb):
        env = wb["Envelope"]
        col = column_of(env, 5, "envelope_growth")
        env.cell(year_row(env, "2027/28", 6), col).value = 0.05
        sc = wb["Scenario"]
        sc.cell(find_row(sc, "end_year"), 2).value = "2029/30"

    result = alloc.run(edited(template, tmp_path, edit))
    env = result["envelope"].to_series()
    assert env[2027] / env[2026] - 1 == pytest.approx(0.05)
    assert env[2028] / env[2027] - 1 == pytest.approx(0.035)  # other years unchanged
    assert int(result["year"][-1]) == 2029


@pytest.mark.parametrize(
    "sheet,where,value,message",
    [
        ("Policy", "min_growth", "abc", "expected a number, found 'abc'"),
        ("Policy", "min_growth", "0.02", "expected a number, found '0.02' (enter it as a number"),
        ("Policy", "max_growth", 3, "expected a fraction above -0.5 and at most 1, found 3"),
        ("Scenario", "end_year", "2030/32", "expected a financial year like '2025/26'"),
        ("Scenario", "convergence_level", "icb", "expected one of total, service, found 'icb'"),
        ("Envelope", "envelope_growth", "3.5%", "expected a number, found '3.5%'"),
    ],
)
def test_malformed_cell_names_sheet_and_cell(template, tmp_path, sheet, where, value, message):
    cell = {}

    def edit(wb):
        ws = wb[sheet]
        if sheet == "Policy":
            r, c = POLICY_TABLE_ROW + 2, column_of(ws, POLICY_TABLE_ROW, where)
        elif sheet == "Envelope":
            r, c = 7, column_of(ws, 5, where)
        else:
            r, c = find_row(ws, where), 2
        ws.cell(r, c).value = value
        cell["ref"] = f"{sheet}!{ws.cell(r, c).coordinate}"

    path = edited(template, tmp_path, edit)
    with pytest.raises(AllocError) as err:
        load_scenario(path)
    assert str(err.value) == f"{path}: {cell['ref']}: {message}" or (
        str(err.value).startswith(f"{path}: {cell['ref']}: {message}")
    )
    result = CliRunner().invoke(main, ["run", path, "--no-plots", "--out", str(tmp_path / "never")])
    assert result.exit_code == 2
    lines = message_lines(result.output)
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: {cell['ref']}: ")
    assert not (tmp_path / "never").exists()


def test_not_a_workbook_and_missing_sheet(tmp_path, template):
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a zip")
    with pytest.raises(AllocError, match="expected an Excel workbook"):
        load_scenario(str(bad))
    with pytest.raises(AllocError, match="does not exist"):
        load_scenario(str(tmp_path / "missing.xlsx"))
    path = edited(template, tmp_path, lambda wb: wb.remove(wb["Envelope"]))
    with pytest.raises(AllocError, match="Envelope: sheet missing"):
        load_scenario(path)


def test_template_cli_refuses_overwrite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    first = runner.invoke(main, ["template", "immediate", "--xlsx", "s.xlsx"])
    assert first.exit_code == 0 and "alloc run s.xlsx" in first.output
    stamp = (tmp_path / "s.xlsx").stat().st_mtime_ns
    again = runner.invoke(main, ["template", "default", "--xlsx", "s.xlsx"])
    assert again.exit_code == 2 and "--force" in again.output
    assert (tmp_path / "s.xlsx").stat().st_mtime_ns == stamp
    assert (
        runner.invoke(main, ["template", "default", "--xlsx", "s.xlsx", "--force"]).exit_code == 0
    )
    assert load_scenario("s.xlsx")[0].name == "default"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.xlsx"]  # no temporary files left
