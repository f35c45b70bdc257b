"""The finance workbook: sheets, units, layout, and totals that match the NetCDF result."""

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import openpyxl
import pytest
import xarray as xr

import alloc
from alloc.outputs.excel import HEADER_ROW, write_workbook
from alloc.outputs.results import read_result, write_results

SHEETS = [
    "Summary",
    "Allocations",
    "Targets",
    "DfT",
    "Growth",
    "Crosswalk",
    "Spend and net position",
    "Left shift",
    "Calibration",
    "Parameters",
    "Provenance",
    "Notes",
]


def half_up_k(pounds: float) -> int:
    """£ thousands rounded half up, from the shortest decimal form (independent reference)."""
    return int((Decimal(repr(float(pounds))) / 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def table(ws):
    """(header, rows as dicts) of a sheet's table."""
    header = [c.value for c in ws[HEADER_ROW]]
    rows = [dict(zip(header, r)) for r in ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True)]
    return header, rows


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The default run written as a results folder, read back: (NetCDF result, workbook)."""
    out = write_results(alloc.run("default"), tmp_path_factory.mktemp("wb") / "r")
    return read_result(out / "result.nc"), openpyxl.load_workbook(out / "alloc_results.xlsx")


def test_sheets_and_layout(written):
    _, wb = written
    assert wb.sheetnames == SHEETS
    for name in ("Summary", "Allocations", "Targets", "DfT", "Growth"):
        ws = wb[name]
        assert ws.freeze_panes == f"D{HEADER_ROW + 1}", name
        assert ws.auto_filter.ref.startswith(f"A{HEADER_ROW}:"), name
        assert ws["A3"].value.startswith("ILLUSTRATIVE DATA"), name  # caution line
        assert "proxy target formula" in ws["A3"].value, name  # not only the baseline
        assert all(ws.column_dimensions[c].width >= 10 for c in "ABCD"), name
    header, rows = table(wb["Allocations"])
    assert header[:3] == ["ICB code", "ICB name", "Region"]
    assert all(h.endswith("(£k)") for h in header[3:])
    # £k as NHS England shows them: thousands separators, the unit in the header, no £ sign in
    # the cells (a "£#,##0" format showed £546,623 for £546.6m).
    money_cells = [
        (name, cell)
        for name in ("Summary", "Allocations", "Targets")
        for row in wb[name].iter_rows(min_row=HEADER_ROW + 1)
        for cell in row
        if str(wb[name].cell(HEADER_ROW, cell.column).value).endswith("(£k)")
    ]
    assert money_cells
    for name, cell in money_cells:
        assert "£" not in cell.number_format, (name, cell.coordinate, cell.number_format)
        assert cell.number_format == "#,##0;[Red]-#,##0", (name, cell.coordinate)
    headers = [c.value for c in wb["Summary"][HEADER_ROW]]
    assert any(h.endswith("(£k)") for h in headers)
    assert all(
        "£" not in str(h) or h.endswith(("(£k)", "(£000)")) for h in headers
    )  # every money header names the unit
    dft_header, _ = table(wb["DfT"])
    assert all(h.endswith("(%)") for h in dft_header[3:])
    assert wb["DfT"].cell(HEADER_ROW + 1, 4).number_format.startswith("0.00%")
    notes = " ".join(f"{r['Topic']} {r['Explanation']}" for r in table(wb["Notes"])[1])
    for phrase in (
        "Distance from target",
        "Negative = under target",
        "England = 1.000",
        "largest remainder",
        "half up",
    ):
        assert phrase.lower() in notes.lower(), phrase


@pytest.mark.parametrize("sheet,variable", [("Allocations", "allocation"), ("Targets", "target")])
def test_year_columns_sum_to_netcdf_totals(written, sheet, variable):
    ds, wb = written
    header, rows = table(wb[sheet])
    assert rows[-1]["ICB code"] == "England"
    icb_rows = {r["ICB code"]: r for r in rows[:-1]}
    assert sorted(icb_rows) == sorted(ds["icb"].values)
    for year in ds["year"].values:
        col = f"{year}/{(year + 1) % 100:02d} (£k)"
        exact = ds[variable].sel(year=year)
        assert rows[-1][col] == half_up_k(float(exact.sum()))  # England = NetCDF total, £k
        assert sum(r[col] for r in icb_rows.values()) == rows[-1][col]  # column adds up
        for code, value in zip(exact["icb"].values, exact.values):
            assert abs(icb_rows[code][col] - value / 1000) < 1


def test_summary_sheet(written):
    ds, wb = written
    header, rows = table(wb["Summary"])
    england = rows[-1]
    last = ds["year"].values[-1]
    label = f"{last}/{(last + 1) % 100:02d}"
    assert england[f"Allocation {label} (£k)"] == half_up_k(
        float(ds["allocation"].sel(year=last).sum())
    )
    assert england["Baseline 2025/26 (£k)"] == half_up_k(float(ds["baseline"].sum()))
    assert england[f"Need index {label} (England = 1.000)"] == 1
    assert abs(england[f"DfT {label} (%)"]) < 1e-12
    # Need index = target per head / England target per head.
    t = ds["target"].sel(year=last)
    p = ds["population"].sel(year=last)
    expected = ((t / p) / (t.sum() / p.sum())).to_series()
    for r in rows[:-1]:
        assert r[f"Need index {label} (England = 1.000)"] == pytest.approx(expected[r["ICB code"]])
        assert r[f"DfT {label} (%)"] == pytest.approx(
            float(ds["dft"].sel(icb=r["ICB code"], year=last))
        )


def test_growth_england_row_is_envelope_growth(written):
    ds, wb = written
    _, rows = table(wb["Growth"])
    env = ds["envelope"].values
    assert rows[-1]["ICB code"] == "England"
    assert rows[-1]["2026/27 (%)"] == pytest.approx(env[1] / env[0] - 1)
    assert rows[-1]["2025/26 (%)"] is None


def test_parameters_and_provenance(written):
    ds, wb = written
    params = {r["Parameter"]: r["Value"] for r in table(wb["Parameters"])[1]}
    assert params["policy.kind"] == ds.attrs["policy_kind"]
    prov = {r["Field"]: r["Value"] for r in table(wb["Provenance"])[1]}
    assert prov["scenario_hash"] == ds.attrs["scenario_hash"]
    assert prov["input_hash"] == ds.attrs["input_hash"]
    assert prov["workbook_rounding"] == "largest_remainder"


def test_left_shift_not_modelled_without_levers(written):
    _, wb = written
    ws = wb["Left shift"]
    assert "not modelled in this scenario" in ws.cell(HEADER_ROW, 1).value


def without_pathway_vars(result):
    drop = [
        v
        for v in result.data_vars
        if v
        in (
            "spend",
            "net_position",
            "spend_without_left_shift",
            "left_shift_saving",
            "upstream_cost",
        )
    ] + [c for c in ("payer",) if c in result.coords]
    return result.drop_vars(drop)


def test_spend_and_left_shift_sheets(tmp_path):
    base = without_pathway_vars(alloc.run("default"))
    path = tmp_path / "none.xlsx"
    write_workbook(base, path)
    wb = openpyxl.load_workbook(path)
    for name in ("Spend and net position", "Left shift"):
        assert "not modelled in this scenario" in wb[name].cell(HEADER_ROW, 1).value

    # Synthetic pathway variables: saving (icb, year), cost (icb, year, payer), spend, net.
    rng = np.random.default_rng(1)
    n, years = base.sizes["icb"], base["year"].values
    coords = {"icb": base["icb"].values, "year": years}
    saving = xr.DataArray(rng.uniform(0, 2e6, (n, len(years))), dims=("icb", "year"), coords=coords)
    cost = xr.DataArray(
        rng.uniform(0, 1e6, (n, len(years), 2)),
        dims=("icb", "year", "payer"),
        coords=coords | {"payer": ["ICB_core", "local_authority"]},
    )
    spend = base["allocation"] * 1.01
    res = base.assign(
        left_shift_saving=saving,
        upstream_cost=cost,
        spend=spend,
        net_position=base["allocation"] - spend,
    )
    write_workbook(res, path)
    wb = openpyxl.load_workbook(path)
    header, rows = table(wb["Left shift"])
    assert header[:5] == ["ICB code", "ICB name", "Region", "Measure", "Payer"]
    col = "2030/31 (£k)"
    blocks = {}
    for r in rows:
        blocks.setdefault((r["Measure"], r["Payer"]), []).append(r)
    assert set(blocks) == {
        ("Specialised spend avoided", "ICB delegated specialised"),
        ("Upstream cost", "ICB core"),
        ("Upstream cost", "local authority"),
    }
    expected = {
        ("Specialised spend avoided", "ICB delegated specialised"): saving,
        ("Upstream cost", "ICB core"): cost.sel(payer="ICB_core"),
        ("Upstream cost", "local authority"): cost.sel(payer="local_authority"),
    }
    for key, block in blocks.items():
        assert block[-1]["ICB code"] == "England" and len(block) == n + 1
        assert block[-1][col] == half_up_k(float(expected[key].sel(year=2030).sum()))
        assert sum(r[col] for r in block[:-1]) == block[-1][col]
    header, rows = table(wb["Spend and net position"])
    net = [r for r in rows if r["Measure"].startswith("Net position")]
    assert net[-1][col] == half_up_k(float((res["net_position"]).sel(year=2030).sum()))


def test_half_up_option(tmp_path):
    res = alloc.run("default")
    path = tmp_path / "hu.xlsx"
    write_workbook(res, path, rounding="half_up")
    wb = openpyxl.load_workbook(path)
    _, rows = table(wb["Allocations"])
    exact = res["allocation"].sel(year=2030)
    for r in rows[:-1]:
        assert r["2030/31 (£k)"] == half_up_k(float(exact.sel(icb=r["ICB code"])))
    assert rows[-1]["2030/31 (£k)"] == half_up_k(float(exact.sum()))
    with pytest.raises(ValueError, match="rounding"):
        write_workbook(res, path, rounding="nearest")
