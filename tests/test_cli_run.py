"""`alloc run` end to end through the CLI: files written, workbook consistent, no overwrite."""

import os
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from alloc.cli import main
from alloc.outputs.excel import HEADER_ROW

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("run")
    before = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, ["run"], catch_exceptions=False)
    finally:
        os.chdir(before)
    return result, cwd / "results" / "default"


def test_run_prints_summary_and_writes_every_file(default_run):
    result, out = default_run
    assert result.exit_code == 0
    for name in (
        "result.nc",
        "allocations.csv",
        "targets_by_service.csv",
        "summary.csv",
        "alloc_results.xlsx",
    ):
        assert (out / name).is_file(), name
    for stem in ("dft_glide_paths", "dft_start_end", "icb_map"):
        for ext in ("png", "svg"):
            assert (out / "charts" / f"{stem}.{ext}").stat().st_size > 0, (stem, ext)
    assert "QE1" in result.output and "DfT 2025/26 -> 2030/31" in result.output
    assert str(Path("results") / "default") in result.output
    # one line per ICB of April 2026: QE1 .. QYG and the six new five-character codes
    codes = [
        line.split()[0]
        for line in result.output.splitlines()
        if line[:5].strip().isalnum() and line[:1] in "QSDTZ" and len(line.split()[0]) in (3, 5)
    ]
    assert len(codes) == 36 and "S1Y5D" in codes and "QNQ" not in codes


def test_netcdf_csv_and_workbook_agree(default_run):
    _, out = default_run
    with xr.open_dataset(out / "result.nc", engine="h5netcdf") as ds:
        ds = ds.load()
    assert ds.attrs["scenario_name"] == "default"
    for attr in ("alloc_version", "scenario_hash", "input_hash", "seed", "created"):
        assert attr in ds.attrs
    csv = pd.read_csv(out / "allocations.csv")
    np.testing.assert_allclose(
        csv.pivot(index="icb", columns="year", values="allocation_gbp").loc[ds["icb"].values],
        ds["allocation"].transpose("icb", "year"),
        rtol=1e-12,
    )
    wb = openpyxl.load_workbook(out / "alloc_results.xlsx")
    assert {
        "Summary",
        "Allocations",
        "Targets",
        "DfT",
        "Growth",
        "Parameters",
        "Provenance",
        "Notes",
    } <= set(wb.sheetnames)
    ws = wb["Allocations"]
    # Header on row HEADER_ROW (three caption lines above it), money in £k rounded by largest
    # remainder: ICB rows sum exactly to the England row, which is the NetCDF total in £k
    # rounded half up, and every ICB is within £1k of its unrounded value.
    header = [c.value for c in ws[HEADER_ROW]]
    last = header.index("2030/31 (£k)") + 1
    rows = range(HEADER_ROW + 1, ws.max_row + 1)
    assert [ws.cell(row=r, column=1).value for r in rows][-1] == "England"
    icb_rows = {
        ws.cell(row=r, column=1).value: ws.cell(row=r, column=last).value for r in rows[:-1]
    }
    assert sorted(icb_rows) == sorted(ds["icb"].values)
    england = ws.cell(row=rows[-1], column=last).value
    assert sum(icb_rows.values()) == england
    exact = ds["allocation"].sel(year=2030)
    expected_total = int(
        Decimal(repr(float(exact.sum()))).scaleb(-3).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    )
    assert england == expected_total
    np.testing.assert_allclose(england * 1e3, float(exact.sum()), rtol=0, atol=500)
    np.testing.assert_array_less(
        np.abs(np.array([icb_rows[c] for c in exact["icb"].values]) * 1e3 - exact.values), 1000
    )
    assert ws.freeze_panes == f"D{HEADER_ROW + 1}"
    assert ws.cell(row=HEADER_ROW + 1, column=last).number_format == "#,##0;[Red]-#,##0"
    params = {r[0].value: r[1].value for r in wb["Parameters"].iter_rows(min_row=HEADER_ROW + 1)}
    assert params["policy.kind"] == "common_dft"


def test_existing_results_folder_needs_force(tmp_path, monkeypatch):
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(main, ["run", "--quiet", "--out", "r"]).exit_code == 0
    stamp = (Path("r") / "result.nc").stat().st_mtime_ns
    again = runner.invoke(main, ["run", "--quiet", "--out", "r"])
    assert again.exit_code == 2 and "--force" in again.output
    assert (Path("r") / "result.nc").stat().st_mtime_ns == stamp
    forced = runner.invoke(
        main, ["run", "--quiet", "--out", "r", "--force", "--set", "policy.min_growth=0.02"]
    )
    assert forced.exit_code == 0
    with xr.open_dataset(Path("r") / "result.nc", engine="h5netcdf") as ds:
        assert '"min_growth": 0.02' in ds.attrs["scenario_json"]
    assert sorted(p.name for p in Path(".").iterdir()) == ["r"]


@pytest.mark.parametrize(
    "what,expect",
    [
        ("icbs", "QE1"),
        ("policies", "common_dft"),
        ("scenarios", "default"),
        ("services", "renal"),
        ("formulas", "default"),
    ],
)
def test_list(what, expect):
    result = CliRunner().invoke(main, ["list", what])
    assert result.exit_code == 0 and expect in result.output
    if what == "icbs":  # the 36 ICBs of April 2026 by default
        assert len(result.output.strip().splitlines()) == 36


def test_validate_shipped_specs():
    runner = CliRunner()
    assert runner.invoke(main, ["validate"]).exit_code == 0
    for path in sorted((REPO / "models").rglob("*.toml")):
        result = runner.invoke(main, ["validate", str(path)])
        assert result.exit_code == 0, (path, result.output)


def test_console_entry_point_help():
    result = subprocess.run(
        [sys.executable, "-m", "alloc", "--help"], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0 and "run" in result.stdout


def test_validate_scenario_workbook(tmp_path):
    runner = CliRunner()
    book = tmp_path / "s.xlsx"
    assert runner.invoke(main, ["template", "default", "--xlsx", str(book)]).exit_code == 0
    result = runner.invoke(main, ["validate", str(book)])
    assert result.exit_code == 0 and "ok: scenario default" in result.output
