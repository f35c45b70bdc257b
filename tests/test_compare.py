"""``alloc compare``: two results of the default scenario (common_dft and proportional policies)
compared once; the CSV's differences checked against each result's allocations.csv read with
pandas, the workbook against the CSV, charts and PDF read back; results of other areas or years
refused with nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from pypdf import PdfReader

from alloc.cli.main import main

NAMES = ["default (A)", "default (B)"]  # both scenarios are named 'default': folders tell apart


def _alloc(*args, cwd: Path):
    """Run ``alloc ARGS`` in process with ``cwd`` as the working folder."""
    import os

    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """Results A (default), B (proportional policy), G (42 ICBs of 2025), Y (to 2028/29) and
    the comparison C of A and B with its PDF."""
    import alloc
    from alloc.outputs.results import write_netcdf

    work = tmp_path_factory.mktemp("compare")
    for out, extra in {"A": [], "B": ["--set", "policy.use=proportional"]}.items():
        res = _alloc("run", "default", *extra, "--no-plots", "--quiet", "--out", out, cwd=work)
        assert res.exit_code == 0, res.output
    # results that must be refused need only their result.nc
    for out, override in {"G": 'geography="icb_2025"', "Y": 'end_year="2028/29"'}.items():
        (work / out).mkdir()
        write_netcdf(alloc.run("default", [override]), work / out / "result.nc")
    res = _alloc("compare", "A", "B", "--out", "C", "--pdf", cwd=work)
    assert res.exit_code == 0, res.output
    (work / "compare_output.txt").write_text(res.output, encoding="utf-8")
    return work


@pytest.fixture(scope="module")
def table(work) -> pd.DataFrame:
    return pd.read_csv(work / "C" / "comparison.csv", keep_default_na=False)


def _allocations(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "allocations.csv", keep_default_na=False)


def test_csv_differences_equal_those_of_the_results(work, table):
    assert list(table.columns) == [
        "icb",
        "icb_name",
        "region",
        "financial_year",
        "year",
        "scenario",
        "allocation_gbp",
        "dft",
        "allocation_diff_gbp",
        "dft_diff",
    ]
    a, b = _allocations(work / "A"), _allocations(work / "B")
    assert len(table) == len(a) * 2 == 36 * 6 * 2
    assert sorted(table["scenario"].unique()) == NAMES
    both = a.merge(b, on=["icb", "year"], suffixes=("_a", "_b"))
    got = table[table["scenario"] == NAMES[1]].merge(both, on=["icb", "year"])
    assert len(got) == len(a)
    np.testing.assert_array_equal(got["allocation_gbp"], got["allocation_gbp_b"])
    np.testing.assert_allclose(
        got["allocation_diff_gbp"], got["allocation_gbp_b"] - got["allocation_gbp_a"], atol=1e-6
    )
    np.testing.assert_allclose(got["dft_diff"], got["dft_b"] - got["dft_a"], atol=1e-15)
    assert (got["financial_year"] == got["financial_year_a"]).all()
    assert set(table["financial_year"]) == {f"{y}/{(y + 1) % 100:02d}" for y in range(2025, 2031)}
    # the policies differ, so the differences are real: money moves between ICBs, none is lost
    last = got[got["year"] == 2030]
    assert last["allocation_diff_gbp"].abs().max() > 1e6
    assert abs(last["allocation_diff_gbp"].sum()) < 1.0


def test_first_scenario_differences_are_exactly_zero(table):
    first = table[table["scenario"] == NAMES[0]]
    assert len(first) == 36 * 6
    assert (first["allocation_diff_gbp"] == 0).all() and (first["dft_diff"] == 0).all()


def _sheet(path: Path, name: str) -> tuple[pd.DataFrame, object]:
    ws = load_workbook(path)[name]
    rows = list(ws.iter_rows(min_row=5, values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0]), ws


def test_workbook_compare_sheet_is_the_csv_rounded_to_thousands(work, table):
    from alloc.rounding import largest_remainder

    sheet, ws = _sheet(work / "C" / "comparison.xlsx", "Compare")
    assert ws.freeze_panes == "D6"
    icbs, england = sheet.iloc[:-1], sheet.iloc[-1]
    assert england["ICB code"] == "England" and len(icbs) == 36
    last = table[table["year"] == 2030]
    rounded = {}
    for name in NAMES:
        csv = last[last["scenario"] == name].set_index("icb").loc[icbs["ICB code"]]
        col = f"Allocation 2030/31, {name} (£k)"
        values = icbs[col].to_numpy(dtype=np.int64)
        np.testing.assert_array_equal(values, largest_remainder(csv["allocation_gbp"].to_numpy()))
        assert np.abs(values - csv["allocation_gbp"].to_numpy() / 1000).max() < 1
        assert values.sum() == england[col] == round(csv["allocation_gbp"].sum() / 1000)
        np.testing.assert_allclose(icbs[f"DfT 2030/31, {name} (%)"], csv["dft"], atol=1e-15)
        rounded[name] = values
    diff = icbs[f"Difference {NAMES[1]} − {NAMES[0]}, 2030/31 (£k)"].to_numpy(dtype=np.int64)
    np.testing.assert_array_equal(diff, rounded[NAMES[1]] - rounded[NAMES[0]])
    csv_diff = last[last["scenario"] == NAMES[1]].set_index("icb").loc[icbs["ICB code"]]
    assert np.abs(diff - csv_diff["allocation_diff_gbp"].to_numpy() / 1000).max() < 2
    header = [c.value for c in ws[5]]
    money = ws.cell(row=6, column=header.index(f"Allocation 2030/31, {NAMES[0]} (£k)") + 1)
    assert money.number_format == "#,##0;[Red]-#,##0"  # the unit is in the header


def test_workbook_by_year_and_provenance(work):
    path = work / "C" / "comparison.xlsx"
    assert load_workbook(path).sheetnames == ["Compare", "By year", "Provenance", "Notes"]
    compare, _ = _sheet(path, "Compare")
    by_year, ws = _sheet(path, "By year")
    assert ws.freeze_panes == "F6"
    final = by_year["2030/31 (£k)"].to_numpy()
    np.testing.assert_array_equal(
        final, compare[f"Difference {NAMES[1]} − {NAMES[0]}, 2030/31 (£k)"].to_numpy()
    )
    assert (by_year["2025/26 (£k)"] == 0).all()  # same baseline in both
    assert final[:-1].sum() == final[-1]
    prov, _ = _sheet(path, "Provenance")
    fields = prov.set_index("Field")
    assert list(fields.columns) == NAMES
    assert fields.loc["Result"].tolist() == ["A", "B"]
    assert "proportional" in fields.loc["Policy", NAMES[1]]
    assert fields.loc["Scenario hash", NAMES[0]] != fields.loc["Scenario hash", NAMES[1]]


@pytest.mark.parametrize(
    "other, field", [("G", "geography"), ("Y", "years")], ids=["geography", "years"]
)
def test_results_of_other_areas_or_years_are_refused(work, other, field):
    res = _alloc("compare", "A", other, "--out", f"X{other}", "--pdf", cwd=work)
    assert res.exit_code == 2
    line = res.output.strip()
    assert line.startswith(f"error: {other}: {field}: expected ")
    assert re.search(r"\bA\b", line.split(field, 1)[1])  # names the result it differs from
    assert not (work / f"X{other}").exists()
    assert not list(work.glob(f".X{other}*"))  # no temporary folder either


def test_one_result_or_an_existing_folder_is_refused(work):
    res = _alloc("compare", "A", "--out", "Z", cwd=work)
    assert res.exit_code == 2 and "at least two results" in res.output
    res = _alloc("compare", "A", "B", "--out", "C", cwd=work)
    assert res.exit_code == 2 and "already exists" in res.output
    res = _alloc("compare", "A", "nowhere", "--out", "Z", cwd=work)
    assert res.exit_code == 2 and res.output.startswith("error: nowhere: RESULT: expected")
    assert not (work / "Z").exists()


def test_charts_and_their_data(work, table):
    from alloc.outputs.plots.style import RC

    assert RC["svg.fonttype"] == "none"  # the house style keeps SVG text as text
    charts = work / "C" / "charts"
    stems = ["allocation_difference", "dft_by_scenario", "dft_range"]
    assert sorted(p.name for p in charts.iterdir()) == sorted(
        f"{s}.{e}" for s in stems for e in ("csv", "png", "svg")
    )
    codes = table["icb"].unique()
    for stem in ("dft_by_scenario", "allocation_difference"):  # every ICB named, as text
        svg = (charts / f"{stem}.svg").read_text(encoding="utf-8")
        assert "<text" in svg or "<tspan" in svg
        missing = [c for c in codes if f"({c})" not in svg]
        assert not missing, f"{stem}: no label for {missing}"
    assert "Shropshire, Telford and Wrekin (QOC)" in (charts / "dft_range.svg").read_text()
    for stem in stems:
        assert (charts / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    last = table[table["year"] == 2030]
    dots = pd.read_csv(charts / "dft_by_scenario.csv")
    merged = dots.merge(last, on=["icb", "scenario"], suffixes=("", "_csv"))
    assert len(merged) == 72 and np.allclose(merged["dft"], merged["dft_csv"], atol=1e-15)
    bars = pd.read_csv(charts / "allocation_difference.csv")
    assert set(bars["scenario"]) == {NAMES[1]} and len(bars) == 36
    merged = bars.merge(last, on=["icb", "scenario"], suffixes=("", "_csv"))
    np.testing.assert_allclose(merged["allocation_diff_gbp"], merged["allocation_diff_gbp_csv"])
    band = pd.read_csv(charts / "dft_range.csv")
    assert len(band) == 2 * 6
    for (name, year), rows in table.groupby(["scenario", "year"]):
        got = band[(band["scenario"] == name) & (band["year"] == year)].iloc[0]
        assert got["dft_min"] == pytest.approx(rows["dft"].min(), abs=1e-15)
        assert got["dft_max"] == pytest.approx(rows["dft"].max(), abs=1e-15)
        assert got["dft_median"] == pytest.approx(rows["dft"].median(), abs=1e-15)


def test_pdf_pack_pages(work, table):
    reader = PdfReader(work / "C" / "comparison_pack.pdf")
    regions = table["region"].nunique()
    expected = 1 + 3 + regions  # cover, three charts, one table per region
    assert len(reader.pages) == expected
    cover = reader.pages[0].extract_text()
    for text in (*NAMES, "common_dft", "proportional", "Page 1 of"):
        assert text in cover
    for k, page in enumerate(reader.pages, start=1):
        assert f"Page {k} of {expected}" in page.extract_text()
    assert "South West" in reader.pages[-1].extract_text()


def test_output_says_what_differs(work):
    out = (work / "compare_output.txt").read_text(encoding="utf-8")
    assert "Compared 2 results on icb_2026 (36 ICBs), 2025/26 to 2030/31" in out
    assert f"{NAMES[1]} vs {NAMES[0]}, 2030/31: " in out and "get more" in out
    assert "Wrote charts/, comparison.csv, comparison.xlsx, comparison_pack.pdf to C/" in out


def test_icbs_in_another_order_are_matched(work):
    from alloc.outputs.compare import check_comparable, comparison_table, load_result

    a, b = load_result(work / "A"), load_result(work / "B")
    shuffled = b.isel(icb=np.arange(b.sizes["icb"])[::-1])
    again = comparison_table(check_comparable([a, shuffled], ["A", "B"]), NAMES)
    pd.testing.assert_frame_equal(again, comparison_table([a, b], NAMES))


def test_report_with_a_comparison(work, monkeypatch):
    """The comparison charts go before the region tables (the rest of the pack is stood in for by
    two pages: it has tests of its own)."""
    from alloc.outputs import report
    from alloc.outputs.plots.style import new_figure

    monkeypatch.setattr(
        report,
        "report_figures",
        lambda *a, **k: [("Cover", new_figure()), ("Region: London", new_figure())],
    )
    res = _alloc("report", "A", "--compare", "B", "--out", "pack.pdf", cwd=work)
    assert res.exit_code == 0, res.output
    titles = res.output.split("(", 1)[1].split(") to ")[0].split(", ")
    assert len(PdfReader(work / "pack.pdf").pages) == len(titles)
    assert titles == [
        "Cover",
        "Compared: DfT by scenario",
        "Compared: allocation difference",
        "Region: London",
    ]
    text = PdfReader(work / "pack.pdf").pages[2].extract_text()
    assert NAMES[0] in text and "Shropshire, Telford and Wrekin (QOC)" in text
    res = _alloc("report", "A", "--compare", "G", "--out", "pack_g.pdf", cwd=work)
    assert res.exit_code == 2 and "geography" in res.output
    assert not (work / "pack_g.pdf").exists()
