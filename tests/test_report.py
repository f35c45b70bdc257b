"""PDF board pack: page count and text read back with pypdf; single-ICB pack through the CLI."""

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner
from conftest import reference_areas
from pypdf import PdfReader

import alloc
from alloc.cli import main
from alloc.errors import AllocError
from alloc.outputs.report import load_ensemble, load_sensitivity, write_report
from alloc.outputs.results import write_netcdf, write_results

REPO = Path(__file__).resolve().parents[1]
# The default scenario runs on the 36 ICBs of April 2026.
ICBS = reference_areas("icb_2026")


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def result():
    return alloc.run("default")


@pytest.fixture(scope="module")
def national(result, tmp_path_factory):
    path = tmp_path_factory.mktemp("pack") / "pack.pdf"
    report = write_report(result, path)
    return report, [flat(p.extract_text()) for p in PdfReader(path).pages]


def test_national_pack_pages(national, result):
    report, pages = national
    n_regions = ICBS["region"].nunique()
    # cover + summary + glide paths + dot plot + hexagon map + map + one table per region
    assert len(pages) == 6 + n_regions == len(report.pages)
    assert report.pages[4] == "Hexagon map"
    assert "ILLUSTRATIVE DATA" in pages[0]
    assert result.attrs["scenario_hash"] in pages[0] and "default" in pages[0]
    assert result.attrs["input_hash"] in pages[0]
    env = result["envelope"].values
    assert f"£{env[0] / 1e6:,.1f}m" in pages[1] and f"£{env[-1] / 1e6:,.1f}m" in pages[1]
    assert "Distance from target" in pages[2] and "Distance from target" in pages[3]
    # Every region has its page, and every ICB code appears in exactly one region table.
    tables = pages[-n_regions:]
    heading = {r: f"{r}: {n} ICBs" for r, n in ICBS["region"].value_counts().items()}
    for region in ICBS["region"].unique():
        assert sum(heading[region] in page for page in tables) == 1, region
    for code, region in zip(ICBS["code"], ICBS["region"]):
        holders = [p for p in tables if f"{code} " in p]
        assert len(holders) == 1 and heading[region] in holders[0], code
    # Region totals in £m are the sums of their ICBs' figures, each rounded once for England
    # (largest remainder at £0.1m, computed here with the package's rounding), and so within
    # £0.1m of the exact total.
    from alloc.rounding import largest_remainder

    rounded = dict(zip(result["icb"].values, largest_remainder(result["baseline"].values, 1e5)))
    for region, members in ICBS.groupby("region")["code"]:
        total = sum(int(rounded[c]) for c in members)
        exact = float(result["baseline"].sel(icb=list(members)).sum()) / 1e5
        assert abs(total - exact) <= 1
        page = next(p for p in tables if heading[region] in p)
        assert f"{region} ({len(members)} ICBs) {total / 10:,.1f}" in page
    assert all("Source: alloc" in p for p in pages)


def test_every_page_landscape_numbered_and_marked(national):
    report, pages = national
    reader = PdfReader(report.path)
    for k, (page, text) in enumerate(zip(reader.pages, pages), start=1):
        box = page.mediabox
        assert float(box.width) > float(box.height), k  # A4 landscape, every page
        assert abs(float(box.width) - 841.9) < 1 and abs(float(box.height) - 595.3) < 1
        assert f"Page {k} of {len(pages)}" in text, k
        assert text.count("OFFICIAL") >= 2, k  # top and bottom of every page


def test_front_page_is_a_board_paper(national, result):
    """The finding in one line, the decision asked, author and version, no machine paths,
    rates as percentages, DfT in £ and %, real terms next to cash, and the contents."""
    from alloc.outputs.report import DECISION_PLACEHOLDER, executive_summary

    report, pages = national
    cover = pages[0]
    assert flat(executive_summary(result)) in cover
    assert "every ICB is within 1% of its needs-based target" in cover
    assert flat(DECISION_PLACEHOLDER) in cover
    assert "Author [to be completed]" in cover and "Version draft" in cover
    assert "OFFICIAL" in cover
    for path in (result.attrs["data_folder"], result.attrs["scenario_file"], "site-packages"):
        assert str(path) not in cover  # no machine paths
    assert "default.toml" in cover
    assert "3.5% a year (cash)" in cover and "0.035" not in cover and "0.005" not in cover
    assert "1.47% real" in cover  # (1.035 / 1.02) - 1 a year, next to the 3.50% cash
    short = sum(
        max(0.0, float(t - a))
        for a, t in zip(
            result["allocation"].isel(year=0).values, result["target"].isel(year=0).values
        )
    )
    assert f"£{short / 1e6:,.1f}m" in cover  # the shortfall in £, beside the DfT in %
    for k, title in enumerate(report.pages, start=1):  # contents with page numbers
        assert f"{k} {title}" in cover, title
    # What is illustrative is named, not only the baseline.
    for part in ("service line", "proxy target formula", "pathway parameters", "growth"):
        assert part in cover, part
    assert "not NHS England figures" in pages[2]  # and in every chart's footnote


def test_summary_says_how_many_icbs_are_more_than_1pc_below(national, result):
    _, pages = national
    dft = result["dft"]
    n0, n1 = int((dft.isel(year=0) < -0.01).sum()), int((dft.isel(year=-1) < -0.01).sum())
    assert n1 < n0
    assert "ICBs > 1% below target" in pages[1]
    assert "ICBs below target" not in pages[1].replace("ICBs below target, taken together", "")
    assert f"ICBs more than 1% below target {n0} of {len(ICBS)}" in pages[0]


def test_icb_names_are_not_truncated(national):
    """Long ICB names are wrapped in the tables, never cut short."""
    _, pages = national
    from alloc.outputs.plots.style import short_name

    tables = " ".join(pages[-ICBS["region"].nunique() :])
    for code, name in zip(ICBS["code"], ICBS["name"]):
        assert f"{code} {short_name(name)}" in tables, name
    assert "Isle of Wight" in tables and "Isles of Scilly" in tables
    assert "Isle Of" not in tables and "Isles Of" not in tables


def test_one_figure_everywhere(result):
    """An ICB-year figure reads the same in the ICB table, the region table and the waterfall:
    QK1's baseline is £228.75m to the nearest £10k and £228.7m in every place (rounded once,
    by largest remainder across England), though alone it would round to £228.8m."""
    from alloc.outputs import plots
    from alloc.outputs.report import icb_table, region_table
    from alloc.rounding import round_half_up

    first, last = "2025/26", "2030/31"
    waterfall_labels = {}
    for code in ("QK1", "QJK", "QOX"):
        region = ICBS.set_index("code").loc[code, "region"]
        by_year = icb_table(result, code).set_index("Year")
        row = region_table(result, region).set_index("ICB").filter(like=code, axis=0).iloc[0]
        fig = plots.allocation_waterfall(result, code)
        waterfall_labels = {
            t.get_gid()[6:]: t.get_text()
            for t in fig.findobj()
            if isinstance(t.get_gid(), str) and t.get_gid().startswith("value:")
        }
        assert by_year.loc[first, "Allocation (£m)"] == f"£{row[f'Baseline {first} (£m)']}m"
        assert waterfall_labels["baseline"] == by_year.loc[first, "Allocation (£m)"]
        assert by_year.loc[last, "Allocation (£m)"] == f"£{row[f'Allocation {last} (£m)']}m"
        assert waterfall_labels["final"] == by_year.loc[last, "Allocation (£m)"]
        assert by_year.loc[last, "Target (£m)"] == f"£{row[f'Target {last} (£m)']}m"
        assert by_year.loc[last, "DfT (£m)"] == row[f"DfT {last} (£m)"]
    baseline = float(result["baseline"].sel(icb="QK1"))
    assert round_half_up(baseline, 1e5) == 2288  # alone: £228.8m
    qk1 = icb_table(result, "QK1").set_index("Year")
    assert qk1.loc[first, "Allocation (£m)"] == "£228.7m"
    # QJK's final-year target is another figure that largest remainder rounds the other way.
    target = float(result["target"].sel(icb="QJK").isel(year=-1))
    qjk = icb_table(result, "QJK").set_index("Year")
    assert qjk.loc[last, "Target (£m)"] != f"£{round_half_up(target, 1e5) / 10:,.1f}m"


def test_region_tables_add_up(result):
    from alloc.outputs.report import region_table

    for region in ICBS["region"].unique():
        table = region_table(result, region)
        for col in [c for c in table.columns if c.endswith("(£m)") and "DfT" not in c]:
            values = [Decimal(v.replace(",", "")) for v in table[col]]
            assert sum(values[:-1]) == values[-1], (region, col)
        gaps = [
            Decimal(v.replace("−", "-").replace("£", "").replace("m", "").replace("+", ""))
            for v in table[[c for c in table.columns if c.startswith("DfT") and "£m" in c][0]]
        ]
        assert sum(gaps[:-1]) == gaps[-1], region


def test_pdf_metadata_and_no_overwrite(national, result, tmp_path):
    report, _ = national
    meta = PdfReader(report.path).metadata
    assert result.attrs["scenario_hash"] in meta["/Keywords"]
    with pytest.raises(AllocError, match="--force"):
        write_report(result, report.path)
    with pytest.raises(AllocError, match="--icb"):
        write_report(result, tmp_path / "x.pdf", icb="QZZ")
    with pytest.raises(AllocError, match=".pdf"):
        write_report(result, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def synthetic_ensemble(result, scenario_name=None):
    """Quantiles (icb, year, quantile) around the result's allocation, as `alloc ensemble`
    writes them (allocation_q, allocation_central)."""
    q = [0.05, 0.5, 0.95]
    z = xr.DataArray([-0.05, 0.0, 0.05], dims="quantile", coords={"quantile": q})
    ens = xr.Dataset(
        {
            "allocation_q": (result["allocation"] * (1 + z)).assign_attrs(units="GBP"),
            "allocation_central": result["allocation"],
        }
    )
    ens.attrs = {
        "scenario_name": scenario_name or result.attrs["scenario_name"],
        "input_hash": result.attrs["input_hash"],
    }
    return ens


def test_icb_pack_from_results_folder_via_cli(result, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_results(result, tmp_path / "r")
    write_netcdf(synthetic_ensemble(result), tmp_path / "ensemble.nc")
    table = pd.DataFrame(
        {
            "parameter": ["envelope_growth", "policy.min_growth"],
            "low": [0.02, 0.01],
            "high": [0.05, 0.02],
            "output_low": [-0.01, -0.002],
            "output_high": [-0.04, -0.003],
            "output_central": [-0.002, -0.002],
        }
    )
    table.assign(output="final-year DfT of QE1", units="1").to_csv("sens.csv", index=False)
    table.assign(output="national mean absolute final-year DfT", units="1").to_csv(
        "national.csv", index=False
    )
    runner = CliRunner()
    out = runner.invoke(
        main,
        [
            "report",
            "r",
            "--icb",
            "QE1",
            "--ensemble",
            "ensemble.nc",
            "--sensitivity",
            "sens.csv",
            "--author",
            "A. Analyst, Finance",
            "--version",
            "0.3",
            "--decision",
            "Approve the policy for consultation.",
        ],
    )
    assert out.exit_code == 0, out.output
    pack = tmp_path / "r" / "default_QE1_pack.pdf"  # default: inside the results folder
    pages = [flat(p.extract_text()) for p in PdfReader(pack).pages]
    # cover, ICB summary, glide paths, waterfall, dot plot, hexagon map, map, fan, tornado,
    # region table
    assert len(pages) == 10
    a_end = float(result["allocation"].sel(icb="QE1").isel(year=-1))
    assert f"£{a_end * 0.95 / 1e6:,.1f}m" in pages[7] and "90%" in pages[7]
    assert "Shown: the ICB of this pack" in pages[7]
    assert "Envelope growth (cash, a year)" in pages[8]  # readable names, not keys
    assert "Policy floor: minimum cash growth" in pages[8]
    name = ICBS.set_index("code").loc["QE1", "name"]
    assert name in pages[0]
    assert "Author A. Analyst, Finance" in pages[0] and "Version 0.3" in pages[0]
    assert "Approve the policy for consultation." in pages[0]
    assert "QE1" in pages[1]
    a0 = float(result["baseline"].sel(icb="QE1"))
    assert f"£{a0 / 1e6:,.1f}m" in pages[3]  # the waterfall's baseline bar label
    region = ICBS.set_index("code").loc["QE1", "region"]
    n_region = int((ICBS["region"] == region).sum())
    assert f"{region}: {n_region} ICBs" in pages[-1]
    # The pack is recorded as alloc's: the results folder may still be replaced with --force.
    from alloc.outputs.atomic import check_output_folder

    check_output_folder(tmp_path / "r", force=True)
    again = runner.invoke(main, ["report", "r", "--icb", "QE1"])
    assert again.exit_code == 2 and again.output.count("\n") == 1 and "--force" in again.output
    bad = runner.invoke(main, ["report", "r", "--icb", "QZZ", "--out", "z.pdf"])
    assert bad.exit_code == 2 and "QZZ" in bad.output and not Path("z.pdf").exists()
    # A national tornado is not put in an ICB's pack: the front page says it was left out.
    other = runner.invoke(
        main, ["report", "r", "--icb", "QE1", "--sensitivity", "national.csv", "--out", "n.pdf"]
    )
    assert other.exit_code == 0, other.output
    assert "Tornado" not in other.output.split(" to ")[0]
    cover = flat(PdfReader(tmp_path / "n.pdf").pages[0].extract_text())
    assert "Left out: Tornado: the sensitivity table measures national" in cover
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ensemble.nc",
        "n.pdf",
        "national.csv",
        "r",
        "sens.csv",
    ]


def test_flat_fan_chart_is_left_out(result, tmp_path):
    ens = synthetic_ensemble(result)
    ens["allocation_q"] = ens["allocation_q"] * 0 + result["allocation"]  # every draw the same
    report = write_report(result, tmp_path / "p.pdf", icb="QOC", ensemble=ens)
    assert "Fan chart" not in report.pages
    cover = flat(PdfReader(report.path).pages[0].extract_text())
    assert "Left out: Fan chart: the ensemble hardly moves QOC" in cover


def test_ensemble_of_another_scenario_is_refused(result, tmp_path):
    write_netcdf(synthetic_ensemble(result, "other"), tmp_path / "ensemble.nc")
    with pytest.raises(AllocError, match="scenario_name: expected 'default'"):
        load_ensemble(tmp_path / "ensemble.nc", result)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(AllocError, match="columns: expected parameter"):
        load_sensitivity(tmp_path / "bad.csv")
