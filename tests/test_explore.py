"""``alloc explore`` without a browser: the state behind the page (alloc.explore.state), the
TOML it downloads, and the page's callbacks (alloc.explore.app, when Panel is installed)."""

from __future__ import annotations

import io
import sys
import tomllib

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import message_lines
from openpyxl import load_workbook

import alloc
from alloc.cli.main import main
from alloc.explore._toml import dumps
from alloc.explore.state import Explorer
from alloc.inputs.scenario import load_scenario
from alloc.outputs.tables import summary

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")


@pytest.fixture(scope="module")
def explorer():
    return Explorer("default")


def _expected_table(result) -> pd.DataFrame:
    """The CLI summary's figures: £m to 0.1, DfT in % to 0.01."""
    table = summary(result)
    return pd.DataFrame(
        {
            "ICB": table["icb"],
            "baseline": (table["baseline_gbp"] / 1e6).round(1),
            "allocation": (table["final_allocation_gbp"] / 1e6).round(1),
            "dft_start": (100 * table["dft_start"]).round(2),
            "dft_end": (100 * table["dft_end"]).round(2),
        }
    )


def _shown(explorer) -> pd.DataFrame:
    table = explorer.icb_table()
    first, last = explorer.years()
    return pd.DataFrame(
        {
            "ICB": table["ICB"],
            "baseline": table[f"Baseline {first} (£m)"],
            "allocation": table[f"Allocation {last} (£m)"],
            "dft_start": table[f"DfT {first} (%)"],
            "dft_end": table[f"DfT {last} (%)"],
        }
    )


def test_a_floor_change_shows_what_alloc_run_gives(explorer):
    before = _shown(explorer)
    outcome = explorer.update(choices={"min_growth": 0.02})
    assert outcome.ok and explorer.error is None
    assert explorer.overrides() == ["policy.min_growth=0.02"]
    assert explorer.command() == "alloc run default --set policy.min_growth=0.02"
    expected = alloc.run("default", ["policy.min_growth=0.02"])
    pd.testing.assert_frame_equal(_shown(explorer), _expected_table(expected))
    assert not _shown(explorer).equals(before)  # the floor changed the figures
    national = explorer.national()
    assert national["below_end"] == int((expected["dft"].isel(year=-1) < 0).sum())
    assert national["envelope_end_m"] == round(float(expected["envelope"].isel(year=-1)) / 1e6, 1)


def test_an_infeasible_floor_shows_the_cli_message_and_keeps_the_last_table(explorer, tmp_path):
    explorer.update(choices={"min_growth": 0.02})
    good = explorer.icb_table()
    outcome = explorer.update(choices={"min_growth": 0.2})
    assert not outcome.ok
    # --out: a folder that does not exist (CI's own `alloc run` has written results/default)
    cli = CliRunner().invoke(
        main, ["run", "--set", "policy.min_growth=0.2", "--no-plots", "--out", str(tmp_path / "x")]
    )
    assert cli.exit_code == 2
    assert [explorer.error] == message_lines(cli.stderr)
    assert explorer.error.startswith("error: --set policy.min_growth=0.2: policy.min_growth:")
    pd.testing.assert_frame_equal(explorer.icb_table(), good)  # the last good result stays
    assert explorer.command() == "alloc run default --set policy.min_growth=0.02"
    # A floor the envelope cannot pay for fails in the solve, not in validation.
    assert not explorer.update(choices={"min_growth": 0.05}).ok
    assert "floors exceed the envelope" in explorer.error
    pd.testing.assert_frame_equal(explorer.icb_table(), good)
    assert explorer.update(choices={"min_growth": 0.02}).ok and explorer.error is None


def test_the_toml_download_reproduces_the_run(explorer, tmp_path):
    explorer.update(
        choices={"min_growth": 0.018, "envelope_growth": 0.04, "geography": "icb_2025"},
        replace=True,
    )
    assert explorer.error is None
    path = tmp_path / "saved.toml"
    path.write_text(explorer.scenario_toml(), encoding="utf-8")
    spec, spath, raw = load_scenario(path)
    again = alloc.run(spec, scenario_path=spath, raw=raw)
    assert again.sizes["icb"] == 42
    for name in ("allocation", "target", "dft"):
        assert (again[name].values == explorer.result[name].values).all(), name


def test_a_new_policy_starts_from_its_own_parameters(explorer):
    explorer.update(choices={"min_growth": 0.02, "max_growth": 0.07}, replace=True)
    explorer.update(choices={"policy": "proportional"})
    assert explorer.overrides() == ['policy.use="proportional"']
    effective = explorer.effective()
    assert effective["policy"] == "proportional"
    assert effective["convergence_rate"] == 0.2 and effective["min_growth"] == 0.0
    explorer.update(choices={"convergence_rate": 0.3})
    assert explorer.command() == (
        "alloc run default --set 'policy.use=\"proportional\"' --set policy.convergence_rate=0.3"
    )


def test_downloads_open(explorer):
    explorer.update(choices={}, replace=True)
    book = load_workbook(io.BytesIO(explorer.excel_bytes()), read_only=True)
    assert "Summary" in book.sheetnames
    frame = pd.read_csv(io.StringIO(explorer.csv_text()))
    assert len(frame) == explorer.result.sizes["icb"] * explorer.result.sizes["year"]
    assert {"icb", "financial_year", "allocation_gbp", "dft"} <= set(frame.columns)


def test_a_scenario_that_does_not_run_raises_and_bad_changes_fall_back():
    from alloc.errors import AllocError

    with pytest.raises(AllocError, match="no_such_scenario"):
        Explorer("no_such_scenario")
    shown = Explorer("default", {"min_growth": 0.2})  # e.g. from a shared URL
    assert shown.error.startswith("error: --set policy.min_growth=0.2")
    assert shown.ran_overrides == [] and shown.result is not None


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x", "envelope_growth": {"2026/27": 0.03, "2028/29": 0.035}},
        {"a": 1, "b": True, "c": 1.5e-7, "d": [1, 2], "e": 'say "hi"\n\x7f'},
        {"policy": {"use": "p", "min_growth": {"2026/27": 0.0}}, "z": {"y": {"x": {"w": 1}}}},
    ],
)
def test_toml_writer_round_trips(data):
    assert tomllib.loads(dumps(data, header="a\nb")) == data


def test_explore_without_panel_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "panel", None)  # as if not installed
    result = CliRunner().invoke(main, ["explore", "--no-browser"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: alloc explore: panel: needs the optional dependency 'panel': "
        "pip install 'alloc[explore]'"
    )


# -- the page's callbacks (Panel, no browser) --------------------------------------------------


@pytest.fixture(scope="module")
def app_page():
    pytest.importorskip(
        "panel", reason="the page needs the explore extra: pip install '.[explore]'"
    )
    from alloc.explore.app import Page

    return Page("default")


def test_page_floor_change_updates_the_table_and_the_url_state(app_page):
    app_page.rate_inputs["min_growth"].value = 2.0  # percent on the page
    assert app_page.view.min_growth == 0.02
    app_page._run()  # what the server runs on its next tick
    expected = _expected_table(alloc.run("default", ["policy.min_growth=0.02"]))
    shown = app_page.table.value
    assert list(shown["icb"]) == list(expected["ICB"])
    assert list(shown["allocation_m"]) == list(expected["allocation"])
    assert list(shown["dft_end_pct"]) == list(expected["dft_end"])
    assert "policy.min_growth=0.02" in app_page.command.object
    assert not app_page.alert.visible


def test_page_infeasible_floor_shows_the_message_and_keeps_the_table(app_page):
    app_page.rate_inputs["min_growth"].value = 2.0
    app_page._run()
    before = app_page.table.value.copy()
    app_page.rate_inputs["min_growth"].value = 20.0
    app_page._run()
    assert app_page.alert.visible
    assert "error: --set policy.min_growth=0.2: policy.min_growth:" in app_page.alert.object
    pd.testing.assert_frame_equal(app_page.table.value, before)
    assert app_page.rate_inputs["min_growth"].value == 20.0  # what the user typed stays
    app_page.reset_button.clicks += 1
    app_page._run()
    assert not app_page.alert.visible and app_page.view.min_growth is None
    assert app_page.rate_inputs["min_growth"].value == 1.7


def test_page_policy_without_a_floor_disables_it(app_page):
    app_page.policy_select.value = "historic_cost"
    app_page._run()
    assert app_page.rate_inputs["min_growth"].disabled
    assert app_page.explorer.ran_overrides == ['policy.use="historic_cost"']
    app_page.policy_select.value = "proportional"
    app_page._run()
    assert not app_page.rate_inputs["convergence_rate"].disabled
    assert app_page.rate_inputs["convergence_rate"].value == 20.0
    assert "(% a year, real)" in app_page.rate_inputs["min_growth"].label
    app_page._reset()
    app_page._run()
