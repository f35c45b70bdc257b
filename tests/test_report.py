"""PDF board pack: page count and text read back with pypdf; single-ICB pack through the CLI."""

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
    # cover + national summary + glide paths + dot plot + map + one table per region
    assert len(pages) == 5 + n_regions == len(report.pages)
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
    # Region totals in £m sum the ICB figures (largest remainder at £0.1m).
    for region, members in ICBS.groupby("region")["code"]:
        total = float(result["baseline"].sel(icb=list(members)).sum()) / 1e6
        page = next(p for p in tables if heading[region] in p)
        assert f"{total:,.1f}" in page
    assert all("Source: alloc" in p for p in pages)


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
    pd.DataFrame(
        {
            "parameter": ["envelope_growth", "policy.min_growth"],
            "low": [0.02, 0.01],
            "high": [0.05, 0.02],
            "output_low": [-0.01, -0.002],
            "output_high": [-0.04, -0.003],
            "output_central": [-0.002, -0.002],
        }
    ).to_csv(tmp_path / "sens.csv", index=False)
    runner = CliRunner()
    out = runner.invoke(
        main,
        [
            "report",
            "r",
            "--icb",
            "QE1",
            "--out",
            "qe1.pdf",
            "--ensemble",
            "ensemble.nc",
            "--sensitivity",
            "sens.csv",
        ],
    )
    assert out.exit_code == 0, out.output
    pages = [flat(p.extract_text()) for p in PdfReader(tmp_path / "qe1.pdf").pages]
    # cover, ICB summary, glide paths, waterfall, dot plot, map, fan, tornado, region table
    assert len(pages) == 9
    a_end = float(result["allocation"].sel(icb="QE1").isel(year=-1))
    assert f"£{a_end * 0.95 / 1e6:,.1f}m" in pages[6] and "90%" in pages[6]
    assert "envelope_growth" in pages[7] and "policy.min_growth" in pages[7]
    name = ICBS.set_index("code").loc["QE1", "name"]
    assert name in pages[0]
    assert "QE1" in pages[1]
    a0 = float(result["baseline"].sel(icb="QE1"))
    assert f"£{a0 / 1e6:,.1f}m" in pages[3]  # the waterfall's baseline bar label
    region = ICBS.set_index("code").loc["QE1", "region"]
    n_region = int((ICBS["region"] == region).sum())
    assert f"{region}: {n_region} ICBs" in pages[-1]
    again = runner.invoke(main, ["report", "r", "--icb", "QE1", "--out", "qe1.pdf"])
    assert again.exit_code == 2 and again.output.count("\n") == 1 and "--force" in again.output
    bad = runner.invoke(main, ["report", "r", "--icb", "QZZ", "--out", "z.pdf"])
    assert bad.exit_code == 2 and "QZZ" in bad.output and not Path("z.pdf").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ensemble.nc", "qe1.pdf", "r", "sens.csv"]


def test_ensemble_of_another_scenario_is_refused(result, tmp_path):
    write_netcdf(synthetic_ensemble(result, "other"), tmp_path / "ensemble.nc")
    with pytest.raises(AllocError, match="scenario_name: expected 'default'"):
        load_ensemble(tmp_path / "ensemble.nc", result)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(AllocError, match="columns: expected parameter"):
        load_sensitivity(tmp_path / "bad.csv")
