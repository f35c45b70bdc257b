"""The command line as a new user meets it (issue 18): their own words back, a suggestion for a
typo, `--set` only as KEY=VALUE, a summary that describes what ran, a quiet --quiet, one glossary,
blank (not zero) outputs that were not modelled, real signatures."""

from __future__ import annotations

import inspect

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner

import alloc
from alloc.cli import main
from alloc.outputs.glossary import GLOSSARY


def invoke(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(
    "args, typed, right",
    [
        (["run", "defualt"], "defualt", "default"),
        (["run", "--set", "policy.use=proportinal"], "proportinal", "proportional"),
        (["run", "--set", "formula=defalt"], "defalt", "default"),
        (["run", "--set", 'geography="icb_2062"'], "icb_2062", "icb_2026"),
        (["list", "icbs", "--geography", "icb_2052"], "icb_2052", "icb_2025"),
        (["sensitivity", "--icb", "S1Y5E"], "S1Y5E", "S1Y5D"),
        (["glossary", "need indx"], "need indx", "Need index"),
    ],
)
def test_a_typo_gets_the_right_name(args, typed, right, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert typed in result.output and f"'{right}'" in result.output
    assert "site-packages" not in result.output and "_bundled" not in result.output
    assert "Traceback" not in result.output


def test_set_without_equals_is_refused_with_an_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("run", "--set", "policy.min_growth", "0.02")
    assert result.exit_code == 2
    assert "policy.min_growth" in result.output and "--set policy.min_growth=0.02" in result.output
    assert "0.02.toml" not in result.output and not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def proportional_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("prop") / "out"
    result = invoke("run", "--set", "policy.use=proportional", "--no-plots", "--out", str(out))
    assert result.exit_code == 0, result.output
    return result.output


def test_summary_describes_the_policy_that_ran(proportional_run):
    lines = proportional_run.splitlines()
    assert "Changed by --set: policy.use=proportional" in lines
    policy = next(line for line in lines if line.startswith("Policy:"))
    # the proportional policy file's own values: a 20% convergence rate and a 0% real floor
    assert policy.startswith("Policy: proportional (proportional)")
    assert "20.0%" in policy and "real" in policy and "common_dft" not in policy
    assert "negative = below target" in proportional_run


def test_summary_shows_full_icb_names(proportional_run):
    name = "Bath and North East Somerset, Swindon and Wiltshire"  # 52 characters
    assert name in proportional_run


def test_quiet_prints_nothing(tmp_path):
    result = CliRunner().invoke(
        main, ["run", "--quiet", "--no-plots", "--out", str(tmp_path / "q")]
    )
    assert result.exit_code == 0 and result.output == ""
    assert (tmp_path / "q" / "allocations.csv").is_file()


def test_glossary_is_the_notes_sheet(tmp_path):
    result = invoke("glossary")
    assert result.exit_code == 0
    out = " ".join(result.output.split())
    for term, text in GLOSSARY:
        assert term in result.output and " ".join(text.split()) in out
    from alloc.outputs.excel import write_workbook

    path = tmp_path / "wb.xlsx"
    write_workbook(alloc.run("default"), path)
    ws = openpyxl.load_workbook(path)["Notes"]
    notes = {r[0]: r[1] for r in ws.iter_rows(min_row=6, values_only=True) if r[0]}
    for term, text in GLOSSARY:
        assert notes[term] == text


def test_savings_not_modelled_are_blank_in_ensemble_quantiles():
    from alloc.uncertainty.ensemble import run_ensemble

    result = run_ensemble("default", spec={"draws": 20, "uncertain": {}})
    assert np.isnan(result["left_shift_saving_q"].values).all()
    assert np.isfinite(result["allocation_q"].values).all()


def test_run_has_its_real_signature_and_docstring():
    params = list(inspect.signature(alloc.run).parameters)
    assert params[:2] == ["scenario", "overrides"]
    assert "xarray.Dataset" in alloc.run.__doc__ and "geography" in alloc.run.__doc__


@pytest.mark.parametrize(
    "args, expected",
    [
        (["report", "nonexistent/"], "expected a results folder"),
        (["validate", "nonexistent_folder"], "expected a dataset folder or a scenario"),
        (["run", "a_folder"], "found a folder"),
    ],
)
def test_folder_or_file_says_which_was_expected_and_found(args, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_folder").mkdir()
    result = invoke(*args)
    assert result.exit_code == 2 and expected in result.output and args[1] in result.output
    assert "expected a TOML file" not in result.output
