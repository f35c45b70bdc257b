"""The left-shift summary (issue 16, part 5): what `alloc run` prints after the table, the CSV in
the results folder and the board pack's page, checked against the result's own variables with
independent pandas/xarray arithmetic.

One small left-shift run (central values, all four pathways, three projection years) is shared
by every test; the CLI tests reuse it through a patched engine, so only the non-left-shift test
runs a second scenario.
"""

from __future__ import annotations

import re
import tomllib
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from pypdf import PdfReader

import alloc
import alloc.allocation.engine as engine
from alloc.cli import main
from alloc.inputs.pathway_spec import PAYERS
from alloc.outputs import left_shift_summary as ls
from alloc.resources import models_dir

# all four pathways, levers paid by ICB core, the specialised budget and local authorities
SCENARIO = "left_shift_combined"
OVERRIDES = ["end_year=2028/29"]
MODELS = models_dir() / "pathways"


@pytest.fixture(scope="module")
def result():
    return alloc.run(SCENARIO, overrides=OVERRIDES)


@pytest.fixture(scope="module")
def summary(result):
    return ls.left_shift_summary(result)


@pytest.fixture(scope="module")
def reference(result) -> pd.DataFrame:
    """Per ICB, straight from the result: saving (every service line) and upstream cost (every
    payer) summed over the projection years [GBP cash], and their difference."""
    years = result["year"].values[1:]
    saving = result["left_shift_saving"].sel(year=years).sum("year").to_series()
    cost = result["upstream_cost"].sel(year=years).sum(["year", "payer"]).to_series()
    names = result["icb_name"].to_series()
    return pd.DataFrame({"saving": saving, "cost": cost, "net": saving - cost, "name": names})


def half_up(value: float) -> str:
    """£m to one decimal, halves up, thousands separated: the reading a finance team expects."""
    tenths = Decimal(repr(float(value))) / Decimal(1_000_000)
    return f"{tenths.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):,}"


def numbers(line: str) -> list[str]:
    return re.findall(r"-?[\d,]+\.\d+|n/a", line)


def test_the_run_has_every_pathway_and_several_payers(summary):
    """The fixture exercises what the other tests rely on."""
    assert summary.pathways == ["renal", "critical_care", "mental_health", "liver"]
    assert len(ls.paying(summary)) >= 3
    assert summary.first_year == 2026 and summary.last_year == 2028


def test_national_figures_are_the_sums_over_icbs(summary, reference):
    table = summary.table
    money = [c for c in table.columns if c.endswith("_gbp") and c != "return_per_gbp"]
    england = table[table["icb"] == ls.ENGLAND].set_index("pathway")[money]
    icbs = table[table["icb"] != ls.ENGLAND].groupby("pathway")[money].sum(min_count=1)
    pd.testing.assert_frame_equal(
        england.sort_index(), icbs.sort_index(), check_exact=False, rtol=1e-12
    )
    # and the all-pathways figures are the result's own totals, year by year summed here
    total = england.loc[ls.ALL_PATHWAYS]
    assert total["saving_gbp"] == pytest.approx(reference["saving"].sum(), rel=1e-12)
    assert total["upstream_cost_gbp"] == pytest.approx(reference["cost"].sum(), rel=1e-12)
    by_pathway = england.drop(index=ls.ALL_PATHWAYS)
    assert by_pathway["saving_gbp"].sum() == pytest.approx(total["saving_gbp"], rel=1e-12)


def test_per_icb_matches_the_result(summary, reference, result):
    per_icb = summary.by_icb().set_index("icb")
    assert list(per_icb.index) == list(result["icb"].values)
    np.testing.assert_allclose(per_icb["saving_gbp"], reference["saving"], rtol=1e-12)
    np.testing.assert_allclose(per_icb["upstream_cost_gbp"], reference["cost"], rtol=1e-12)
    years = result["year"].values[1:]
    for payer in PAYERS:
        expected = result["upstream_cost"].sel(year=years, payer=payer).sum("year")
        np.testing.assert_allclose(
            per_icb[ls.cost_column(payer)], expected.values, rtol=1e-12, atol=1e-6
        )
    other = result["downstream_saving"].sel(year=years, payer="ICB_core").sum("year")
    np.testing.assert_allclose(
        per_icb[ls.other_column("ICB_core")], other.values, rtol=1e-12, atol=1e-6
    )


def test_saving_by_pathway_is_its_service_lines(summary, result):
    """Each pathway's saving is that of the service lines its pathway file's cohorts name."""
    years = result["year"].values[1:]
    by_service = result["left_shift_saving_by_service"].sel(year=years).sum(["year", "icb"])
    england = summary.area().set_index("pathway")
    for pathway in summary.pathways:
        spec = tomllib.loads((MODELS / f"{pathway}.toml").read_text(encoding="utf-8"))
        lines = {c["service_line"] for c in spec["cohorts"].values()}
        expected = float(by_service.sel(service=sorted(lines)).sum())
        assert england.loc[pathway, "saving_gbp"] == pytest.approx(expected, rel=1e-12), pathway


def test_net_is_saving_minus_cost_and_return_is_saving_over_cost(summary):
    table = summary.table
    payers = table[[ls.cost_column(p) for p in PAYERS]].sum(axis=1)
    np.testing.assert_allclose(table["upstream_cost_gbp"], payers, rtol=1e-12)
    np.testing.assert_allclose(
        table["net_gbp"], table["saving_gbp"] - table["upstream_cost_gbp"], rtol=1e-12
    )
    invested = table["upstream_cost_gbp"] != 0
    assert invested.any()
    np.testing.assert_allclose(
        table.loc[invested, "return_per_gbp"],
        table.loc[invested, "saving_gbp"] / table.loc[invested, "upstream_cost_gbp"],
        rtol=1e-12,
    )
    assert table.loc[~invested, "return_per_gbp"].isna().all()


def test_no_investment_reads_n_a(result):
    """A pathway whose levers cost nothing has no return: 'n/a', never inf or a division error."""
    free = result.copy(deep=True)
    liver = free["lever_pathway"].values == "liver"
    free["upstream_cost_by_lever"].values[..., liver] = 0.0
    summary = ls.left_shift_summary(free)
    row = summary.area().set_index("pathway").loc["liver"]
    assert row["upstream_cost_gbp"] == 0 and np.isnan(row["return_per_gbp"])
    line = next(x for x in ls.summary_text(summary).splitlines() if x.startswith("liver "))
    assert numbers(line)[-1] == "n/a"


def test_largest_and_smallest_net_position(summary, reference):
    ranked = reference.sort_values("net", kind="mergesort")  # independent sort, pandas
    assert list(summary.largest()["icb"]) == list(ranked.index[::-1][:3])
    assert list(summary.smallest()["icb"]) == list(ranked.index[:3])
    text = ls.summary_text(summary)
    big, small = text.split("ICBs with the largest net position:")[1].split(
        "ICBs with the smallest net position:"
    )
    for block, codes in ((big, ranked.index[::-1][:3]), (small, ranked.index[:3])):
        rows = [x for x in block.splitlines() if x.split()[:1] and x.split()[0] in codes]
        assert [x.split()[0] for x in rows] == list(codes)
        for code, row in zip(codes, rows):
            assert reference.loc[code, "name"] in row  # the full name, "NHS ... ICB"
            assert numbers(row)[-1] == half_up(reference.loc[code, "net"])


def test_printed_table_holds_the_csv_numbers(result, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "run", lambda *a, **k: result)  # the fixture's run, not a new one
    out = tmp_path / "r"
    printed = CliRunner().invoke(main, ["run", SCENARIO, "--no-plots", "--out", str(out)])
    assert printed.exit_code == 0, printed.output
    table = pd.read_csv(out / ls.FILE_NAME, keep_default_na=False, na_values=[""])
    england = table[table["icb"] == ls.ENGLAND]
    lines = printed.output.split("Left shift, ")[1].splitlines()
    assert lines[0].startswith("2026/27 to 2028/29 summed, £m cash, not discounted")
    shown = [p for p in PAYERS if (table[ls.cost_column(p)] != 0).any()]
    for row in england.itertuples():
        label = "England (all pathways)" if row.pathway == "all" else row.pathway.replace("_", " ")
        line = next(x for x in lines if x.startswith(label + " "))
        expected = [half_up(row.saving_gbp)]
        expected += [half_up(getattr(row, ls.cost_column(p))) for p in shown]
        expected += [half_up(row.upstream_cost_gbp), half_up(row.net_gbp)]
        expected += ["n/a" if np.isnan(row.return_per_gbp) else f"{row.return_per_gbp:.2f}"]
        assert numbers(line) == expected, line
    # after the allocation table, before the closing line
    assert printed.output.index("England (36 ICBs)") < printed.output.index("Left shift, ")
    assert printed.output.index("Left shift, ") < printed.output.index("\nWrote ")


def test_quiet_prints_nothing(result, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "run", lambda *a, **k: result)
    out = tmp_path / "q"
    quiet = CliRunner().invoke(main, ["run", SCENARIO, "--quiet", "--no-plots", "--out", str(out)])
    assert quiet.exit_code == 0 and quiet.output == ""
    assert (out / ls.FILE_NAME).is_file()


def test_a_run_without_levers_has_no_summary(tmp_path):
    out = tmp_path / "d"
    printed = CliRunner().invoke(main, ["run", "default", "--no-plots", "--out", str(out)])
    assert printed.exit_code == 0, printed.output
    assert "Left shift" not in printed.output and "net position" not in printed.output
    assert not (out / ls.FILE_NAME).exists()


def pdf_text(path) -> list[str]:
    pages = PdfReader(path).pages
    return [" ".join(p.extract_text().split()).replace("\u2212", "-") for p in pages]


def net_text(value: float) -> str:
    return f"net position {'-' if value < 0 else ''}£{half_up(abs(value))}m"


def test_national_summary_page(result, summary, tmp_path):
    from matplotlib.backends.backend_pdf import PdfPages

    from alloc.outputs.report import left_shift_page

    with PdfPages(tmp_path / "page.pdf") as pdf:
        pdf.savefig(left_shift_page(result))
    (page,) = pdf_text(tmp_path / "page.pdf")
    assert "Left-shift summary, England" in page
    assert net_text(summary.area().set_index("pathway").loc["all", "net_gbp"]) in page
    for code in list(summary.largest()["icb"]) + list(summary.smallest()["icb"]):
        assert code in page


def test_icb_board_pack_has_its_summary(result, summary, tmp_path):
    """In the pack, right after the ICB's summary page: the ICB's own figures and its rank."""
    from alloc.outputs.report import write_report

    icb = str(summary.largest()["icb"].iloc[-1])  # third largest: not first, not last
    report = write_report(result, tmp_path / "pack.pdf", icb=icb)
    assert report.pages[1:3] == [f"{icb} summary", "Left-shift summary"]
    page = pdf_text(tmp_path / "pack.pdf")[2]
    name = str(result["icb_name"].sel(icb=icb).item())
    assert f"Left-shift summary, {name.removeprefix('NHS ').removesuffix(' ICB')}" in page
    assert net_text(summary.area(icb).set_index("pathway").loc["all", "net_gbp"]) in page
    assert f"{icb} {name} 3 of {result.sizes['icb']}" in page
