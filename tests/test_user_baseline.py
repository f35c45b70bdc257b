"""Bring your own baseline (issue 12, item 7): ``baseline = "FILE"`` and ``alloc template-data``.

Independent references: the embedded ``data/baseline.csv`` read with plain pandas (national
service shares, old-footprint values) and the default run without a baseline file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import message_lines

import alloc
from alloc.cli import main
from alloc.errors import AllocError
from alloc.inputs.dataset import load_inputs
from alloc.inputs.footprint import refootprint
from alloc.inputs.user_baseline import SPLIT_BY_SHARES, apply_user_baseline, read_user_baseline
from alloc.outputs.results import read_result

REPO = Path(__file__).resolve().parents[1]
RTOL = 1e-6  # the brief: same allocations to 1e-6 GBP relative
SERVICES = pd.read_csv(REPO / "data" / "services.csv")["service"].tolist()


def rel_diff(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def with_baseline(path: Path):
    return alloc.run("default", overrides=[f'baseline="{path.as_posix()}"'])


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("user_baseline")


@pytest.fixture(scope="module")
def default_run():
    return alloc.run("default")


@pytest.fixture(scope="module")
def inputs_2026():
    return refootprint(load_inputs(), "icb_2026")


@pytest.fixture(scope="module")
def embedded() -> pd.DataFrame:
    """data/baseline.csv as shipped (the 42 ICBs of 2025/26), read with pandas alone."""
    return pd.read_csv(REPO / "data" / "baseline.csv")


@pytest.fixture(scope="module")
def template(folder) -> tuple[Path, subprocess.CompletedProcess]:
    """`alloc template-data --xlsx baseline.xlsx`, run as a user would (a subprocess)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "alloc", "template-data", "--xlsx", "baseline.xlsx"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return folder / "baseline.xlsx", proc


def by_service_2026(result) -> pd.DataFrame:
    """A result's baseline as a by ICB x service table (code, service, baseline_gbp)."""
    frame = result["baseline_by_service"].to_dataframe().reset_index()
    return frame.rename(columns={"icb": "code", "baseline_by_service": "baseline_gbp"})[
        ["code", "service", "baseline_gbp"]
    ]


# ---------------------------------------------------------------------------------------------
# The template and the round trip


def test_template_workbook_layout(template, inputs_2026):
    path, proc = template
    assert "ILLUSTRATIVE" in proc.stdout and "baseline=" in proc.stdout
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "Baseline"
    ws = wb["Baseline"]
    header = [ws.cell(1, j).value for j in range(1, 7)]
    assert header == ["code", "ICB name", "region", "service", "service name", "baseline (GBP)"]
    assert ws.max_row == 1 + 36 * 12
    notes = " ".join(str(c.value) for row in ws.iter_rows(max_row=10, min_col=8) for c in row)
    assert "ILLUSTRATIVE" in notes and 'baseline = "baseline.xlsx"' in notes
    user = read_user_baseline(path, SERVICES, 2025)
    expected = inputs_2026["baseline"].transpose("icb", "service").to_pandas()
    assert user.by_service
    assert rel_diff(user.values.loc[expected.index, expected.columns], expected) < 1e-14


def test_unedited_template_gives_the_same_allocations(template, default_run):
    result = with_baseline(template[0])
    for name in ("baseline_by_service", "envelope", "target", "allocation"):
        assert rel_diff(result[name], default_run[name]) < RTOL, name
    assert result.attrs["baseline_source"].endswith("baseline.xlsx")
    assert result.attrs["baseline_footprint"] == "icb_2026"
    assert result.attrs["input_hash"] != default_run.attrs["input_hash"]


def test_old_footprint_csv_is_carried_like_the_dataset(folder, embedded, default_run):
    """icb_2025 codes with the embedded values give the default run on icb_2026."""
    path = folder / "old_footprint.csv"
    embedded.to_csv(path, index=False)  # code, service, year, baseline_gbp
    result = with_baseline(path)
    assert result.sizes["icb"] == 36
    assert result.attrs["baseline_footprint"] == "icb_2025"
    assert result.attrs["geography"] == "icb_2026"
    assert rel_diff(result["baseline_by_service"], default_run["baseline_by_service"]) < 1e-12
    for name in ("envelope", "target", "allocation"):
        assert rel_diff(result[name], default_run[name]) < RTOL, name
    # Frimley (QNQ) is split: its money really was carried, not matched by code.
    assert "QNQ" not in result["icb"].values


# ---------------------------------------------------------------------------------------------
# By ICB only: split by the national service shares


@pytest.fixture(scope="module")
def by_icb_run(folder, default_run):
    """A by-ICB-only file on icb_2026 (totals scaled ICB by ICB), run through the CLI."""
    totals = default_run["baseline"].to_pandas()
    factors = np.linspace(0.8, 1.3, len(totals))
    frame = pd.DataFrame({"code": totals.index, "baseline_gbp": totals.to_numpy() * factors})
    frame.to_csv(folder / "totals.csv", index=False)
    runner = CliRunner()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        proc = runner.invoke(
            main,
            ["run", "--no-plots", "--out", "by_icb", "--set", "baseline='totals.csv'"],
        )
    finally:
        os.chdir(cwd)
    assert proc.exit_code == 0, proc.output
    return (
        frame.set_index("code")["baseline_gbp"],
        read_result(folder / "by_icb" / "result.nc"),
        proc,
    )


def test_by_icb_only_is_split_by_national_service_shares(by_icb_run, embedded):
    totals, result, proc = by_icb_run
    shares = embedded.groupby("service")["baseline_gbp"].sum() / embedded["baseline_gbp"].sum()
    icb = "D7T5G"  # NHS Essex
    lines = result["baseline_by_service"].sel(icb=icb).to_pandas()
    assert lines.sum() == pytest.approx(totals[icb], rel=1e-12)
    assert rel_diff(lines / totals[icb], shares.reindex(lines.index)) < 1e-12
    assert result["baseline"].sum() == pytest.approx(totals.sum(), rel=1e-12)
    assert float(result["envelope"][0]) == pytest.approx(totals.sum(), rel=1e-12)
    assert result.attrs["baseline_split"] == SPLIT_BY_SHARES
    assert f"note: baseline {SPLIT_BY_SHARES}" in proc.output
    assert "Baseline: totals.csv (your figures)." in proc.output


def test_by_icb_only_on_the_old_footprint_keeps_national_service_totals(
    folder, inputs_2026, embedded
):
    path = folder / "totals_2025.csv"
    embedded.groupby("code", as_index=False)["baseline_gbp"].sum().to_csv(path, index=False)
    out = apply_user_baseline(inputs_2026, path, "icb_2026")
    national = embedded.groupby("service")["baseline_gbp"].sum()
    carried = out["baseline"].sum("icb").to_pandas()
    assert rel_diff(carried, national.reindex(carried.index)) < 1e-12
    assert out.attrs["baseline_footprint"] == "icb_2025"


def test_doubling_one_icb_moves_the_envelope_by_exactly_its_baseline(
    folder, default_run, inputs_2026
):
    frame = by_service_2026(default_run)
    icb = "QE1"
    added = frame.loc[frame["code"] == icb, "baseline_gbp"].sum()
    frame.loc[frame["code"] == icb, "baseline_gbp"] *= 2
    path = folder / "doubled.csv"
    frame.to_csv(path, index=False)
    result = with_baseline(path)
    change = float(result["envelope"][0] - default_run["envelope"][0])
    assert change == pytest.approx(added, rel=1e-9)
    growth = (result["envelope"] / result["envelope"][0]).values
    assert rel_diff(growth, (default_run["envelope"] / default_run["envelope"][0]).values) < 1e-12
    assert float(result["allocation"].sel(icb=icb)[0]) == pytest.approx(2 * added, rel=1e-12)
    assert result.attrs["input_hash"] != default_run.attrs["input_hash"]
    assert out_hash(inputs_2026, path) != out_hash(inputs_2026, folder / "old_footprint.csv")


def out_hash(inputs, path) -> str:
    return apply_user_baseline(inputs, path, "icb_2026").attrs["input_hash"]


# ---------------------------------------------------------------------------------------------
# Malformed files are refused, through the CLI: exit status 2, file and field named, no results


def _csv(frame: pd.DataFrame):
    def write(path: Path) -> None:
        frame.to_csv(path, index=False)

    return write


def _edit_template(edit):
    def write(path: Path, template: Path) -> None:
        wb = openpyxl.load_workbook(template)
        edit(wb["Baseline"])
        wb.save(path)

    return write


def malformed_cases(frame: pd.DataFrame) -> dict:
    """name -> (file name, writer, field named in the message, words of the problem)."""
    missing = frame.drop(columns="baseline_gbp").rename(columns={"year": "value"})
    unknown = frame.copy()
    unknown.loc[5, "code"] = "XYZ"
    service = frame.copy()
    service.loc[7, "service"] = "dentistry"
    duplicate = pd.concat([frame, frame.iloc[[3]]], ignore_index=True)
    negative = frame.copy()
    negative["baseline_gbp"] = negative["baseline_gbp"].astype(object)
    negative.loc[2, "baseline_gbp"] = -5
    return {
        "missing column": (
            "missing.csv",
            _csv(missing),
            "baseline_gbp",
            "expected a column 'baseline_gbp'",
        ),
        "unknown code": ("unknown.csv", _csv(unknown), "code", "unknown area code 'XYZ'"),
        "unknown service": (
            "service.csv",
            _csv(service),
            "service",
            "unknown service line 'dentistry'",
        ),
        "duplicate": ("duplicate.csv", _csv(duplicate), "code", "a second row"),
        "negative": ("negative.csv", _csv(negative), "baseline_gbp", "non-negative"),
        "text": (
            "text.xlsx",
            _edit_template(lambda ws: ws.cell(9, 6, "about 5m")),
            "Baseline!F9",
            "expected a number",
        ),
        "formula without value": (
            "formula.xlsx",
            _edit_template(lambda ws: ws.cell(12, 6, "=F2*2")),
            "Baseline!F12",
            "formula",
        ),
    }


def test_malformed_files_are_refused_by_the_cli(folder, embedded, template):
    work = folder / "malformed"
    work.mkdir()
    runner = CliRunner()
    for name, (file, write, field, problem) in malformed_cases(embedded).items():
        path = work / file
        if file.endswith(".xlsx"):
            write(path, template[0])
        else:
            write(path)
        out = work / f"results_{path.stem}"
        proc = runner.invoke(
            main,
            ["run", "--no-plots", "--out", str(out), "--set", f'baseline="{path.as_posix()}"'],
        )
        assert proc.exit_code == 2, (name, proc.output)
        message = "\n".join(message_lines(proc.stderr))
        assert message.startswith(f"error: {path}: {field}: "), (name, message)
        assert problem in message, (name, message)
        assert not out.exists(), name


# ---------------------------------------------------------------------------------------------
# The rest of the validation, in process (no run)


def set_value(row: int, value):
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame["baseline_gbp"] = frame["baseline_gbp"].astype(object)
        frame.loc[row, "baseline_gbp"] = value
        return frame

    return edit


@pytest.mark.parametrize(
    "edit, field, problem",
    [
        (set_value(4, "nan"), "baseline_gbp", "finite"),
        (set_value(4, "-inf"), "baseline_gbp", "finite"),
        (set_value(0, "£1,000"), "baseline_gbp", "without '£'"),
        (set_value(0, ""), "baseline_gbp", "empty cell"),
        (lambda f: f.drop(index=10), "service", "has no row for service line"),
        (lambda f: f[f["code"] != "QE1"], "code", "area 'QE1' has no row"),
        (lambda f: f.assign(year="2024/25"), "year", "base year 2025/26"),
    ],
    ids=["nan", "inf", "pounds sign", "empty", "missing service line", "missing ICB", "wrong year"],
)
def test_other_problems_are_refused(folder, inputs_2026, embedded, edit, field, problem):
    path = folder / "problem.csv"
    edit(embedded.copy()).to_csv(path, index=False)
    with pytest.raises(AllocError, match=problem) as info:
        apply_user_baseline(inputs_2026, path, "icb_2026")
    assert info.value.source == str(path) and info.value.field == field


def test_blank_rows_header_below_blank_rows_and_a_baseline_sheet_not_first(
    folder, inputs_2026, default_run, template
):
    wb = openpyxl.load_workbook(template[0])
    ws = wb["Baseline"]
    ws.insert_rows(1, amount=2)  # the header is now on row 3
    wb.create_sheet("Cover", 0).cell(1, 1, "not the data")
    wb.save(path := folder / "moved.xlsx")
    out = apply_user_baseline(inputs_2026, path, "icb_2026")
    assert rel_diff(out["baseline"], default_run["baseline_by_service"]) < 1e-14
    frame = by_service_2026(default_run)
    text = frame.to_csv(index=False) + ",,\n,,\n\n"  # blank rows at the end
    (path := folder / "trailing.csv").write_text(text, encoding="utf-8")
    out = apply_user_baseline(inputs_2026, path, "icb_2026")
    assert rel_diff(out["baseline"], default_run["baseline_by_service"]) < 1e-14


def test_missing_file_and_other_suffixes_are_refused(folder, inputs_2026):
    with pytest.raises(AllocError, match="not found"):
        apply_user_baseline(inputs_2026, folder / "nowhere.csv", "icb_2026")
    (folder / "b.txt").write_text("code,baseline_gbp\n")
    with pytest.raises(AllocError, match=r"\.csv or \.xlsx"):
        apply_user_baseline(inputs_2026, folder / "b.txt", "icb_2026")
