"""NHS England practice files of older vintages (issue 13, item 5): layouts recognised by their
columns, and `alloc import-practices` writing dataset files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from alloc.cli import main
from alloc.errors import AllocError
from alloc.inputs.nhse import (
    LAYOUTS,
    aggregate_to_icb,
    read_practice_weighted_populations,
    year_from_name,
)
from alloc.resources import data_dir

REPO = Path(__file__).resolve().parents[1]
PRACTICE_FILE = REPO.parent / "shared" / "data" / "nhse_practice_weighted_populations_2025_26.csv"

needs_real_file = pytest.mark.skipif(
    not PRACTICE_FILE.is_file(),
    reason=f"NHS England's 2025/26 practice file is not present at {PRACTICE_FILE} (it is read "
    "from ../shared/data and never copied into the repository)",
)

#: 2025/26 header -> the header of NHS England's 2022/23, 2023/24 and 2024/25 files
#: (github.com/nhsx/AIF_Allocation_Tool data/20xx_20yy.csv; the WP headers are unchanged).
AIF_HEADERS = {
    "CCG": "CCG21",
    "LOC": "LOC22",
    "LOCname": "LOC22name",
    "ICB": "ICS22",
    "ICBname": "ICS22name",
    "Rcode": "R22",
    "Region": "Region22",
    "LAD": "LAD21",
    "LTLA": "LTLA21",
    "LA": "LA21",
    "UTLA": "UTLA21",
    "Population": "pop 2022/23",
}
#: Assumed variants (documented in alloc.inputs.nhse, not seen in a published file).
ASSUMED_HEADERS = {
    **AIF_HEADERS,
    "ICB": "ICB22",
    "ICBname": "ICB22NM",
    "Population": "pop_2024_25",
    "CS WP": "Community WP",
    "MH WP": "mental health weighted population",
    "Health Ineq WP": "Health_Inequalities_WP",
    "Prescr WP": "Prescribing WP",
    "Final WP": "Overall WP",
}


@pytest.fixture(scope="module")
def source_text():
    return pd.read_csv(PRACTICE_FILE, dtype=str, keep_default_na=False, encoding="utf-8-sig")


@pytest.fixture(scope="module")
def current(source_text):
    return read_practice_weighted_populations(PRACTICE_FILE)


def rewrite(frame: pd.DataFrame, headers: dict[str, str], path: Path) -> Path:
    frame.rename(columns=headers).to_csv(path, index=False)
    return path


@needs_real_file
@pytest.mark.parametrize("headers", [AIF_HEADERS, ASSUMED_HEADERS], ids=["published", "assumed"])
def test_older_headers_give_identical_icb_sums(headers, source_text, current, tmp_path):
    old = read_practice_weighted_populations(rewrite(source_text, headers, tmp_path / "x.csv"))
    assert old.attrs["layout"] == "2022/23-2024/25" and current.attrs["layout"] == "2025/26"
    pd.testing.assert_frame_equal(aggregate_to_icb(old), aggregate_to_icb(current))
    assert list(old.columns) == list(current.columns)
    for col in ("practice", "icb", "region_code", "lad_code", "lad_name", "lat", "lon"):
        assert old[col].equals(current[col]), col


def test_unrecognised_layout_lists_expected_and_found_columns(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("Code,Area,People,Need\nP1,QE1,100,110\n", encoding="utf-8")
    with pytest.raises(AllocError) as err:
        read_practice_weighted_populations(path)
    message = str(err.value)
    assert err.value.field == "columns" and "unrecognised layout" in message
    for layout in LAYOUTS:
        assert layout.name in message
    for expected in ("Practice_Code", "ICB", "Population", "ICS22", "pop YYYY/YY", "* WP"):
        assert expected in message, expected
    assert message.endswith("columns found: Code, Area, People, Need")


def test_older_layout_missing_its_population_names_it(tmp_path):
    path = tmp_path / "2023_2024.csv"
    path.write_text("Practice_Code,ICS22,Pop,G&A WP\nP1,QE1,100,110\n", encoding="utf-8")
    with pytest.raises(AllocError) as err:
        read_practice_weighted_populations(path)
    assert err.value.field == "pop YYYY/YY"
    assert "2022/23-2024/25 layout" in err.value.problem
    assert err.value.problem.endswith("columns found: Practice_Code, ICS22, Pop, G&A WP")


def test_small_older_file_reads(tmp_path):
    path = tmp_path / "2024_2025.csv"
    path.write_text(
        "Practice_Code,ICS22,pop 2022/23,G&A WP,Latitude,Longitude\n"
        "P1,QE1,100,110,53.8,-2.7\nP2,QF7,50,40,53.4,-1.4\n,,,,,\n",
        encoding="utf-8",
    )
    frame = read_practice_weighted_populations(path)
    assert frame.attrs["year"] == "2024/25"
    assert frame["gp_pop"].tolist() == [100, 50] and frame["wp_general_acute"].tolist() == [110, 40]


def test_practice_coordinates_outside_england(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(
        "Practice_Code,ICB,Population,G&A WP,Latitude,Longitude\nP1,QE1,100,110,-5,-2.7\n",
        encoding="utf-8",
    )
    with pytest.raises(AllocError, match="from 49.8 to 55.9 degrees north.*for practice P1"):
        read_practice_weighted_populations(path)


@pytest.mark.parametrize(
    ("name", "year"),
    [
        ("2023_2024.csv", "2023/24"),
        ("nhse_practice_weighted_populations_2025_26.csv", "2025/26"),
        ("GP Practice WP_2022_23_run9.csv", "2022/23"),
        ("practices_20250101.csv", None),
        ("practices.csv", None),
    ],
)
def test_year_from_name(name, year):
    assert year_from_name(name) == year


# --- alloc import-practices ---------------------------------------------------------------------


def invoke(*args):
    return CliRunner().invoke(main, ["import-practices", *map(str, args)])


@needs_real_file
def test_import_practices_round_trip(tmp_path):
    """The 2025/26 file gives the embedded dataset's 2025/26 rows and practice table."""
    out = tmp_path / "imported"
    done = invoke(PRACTICE_FILE, "--out", out)
    assert done.exit_code == 0, done.output
    got = pd.read_csv(out / "weighted_populations.csv")
    want = pd.read_csv(data_dir() / "weighted_populations.csv")
    assert list(got.columns) == list(want.columns)
    want = want[want["year"] == "2025/26"].reset_index(drop=True)
    assert (got["year"] == "2025/26").all()
    np.testing.assert_array_equal(got["code"], want["code"])
    for col in want.columns[2:]:  # both rounded half-up to NHS England's published 0.1
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)

    got = pd.read_csv(out / "practices.csv", dtype=str, keep_default_na=False)
    want = pd.read_csv(data_dir() / "practices.csv", dtype=str, keep_default_na=False)
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got, want)  # identical, text for text

    again = invoke(PRACTICE_FILE, "--out", out)
    assert again.exit_code == 2 and "--force" in again.stderr
    assert invoke(PRACTICE_FILE, "--out", out, "--force").exit_code == 0


@needs_real_file
def test_import_older_layout_needs_its_year(source_text, tmp_path):
    path = rewrite(source_text, AIF_HEADERS, tmp_path / "aif.csv")
    done = invoke(path, "--out", tmp_path / "out")
    assert done.exit_code == 2
    assert "--year" in done.stderr and "2022/23, 2023/24, 2024/25" in done.stderr
    assert not (tmp_path / "out").exists()
    done = invoke(path, "--out", tmp_path / "out", "--year", "2024/25")
    assert done.exit_code == 0, done.output
    rows = pd.read_csv(tmp_path / "out" / "weighted_populations.csv")
    assert set(rows["year"]) == {"2024/25"} and len(rows) == 42
    named = rewrite(source_text, AIF_HEADERS, tmp_path / "2023_2024.csv")
    assert invoke(named, "--out", tmp_path / "named").exit_code == 0
    assert set(pd.read_csv(tmp_path / "named" / "weighted_populations.csv")["year"]) == {"2023/24"}


def test_import_without_districts_leaves_them_empty(tmp_path):
    path = tmp_path / "2025_2026.csv"
    path.write_text(
        "Practice_Code,ICB,Population,G&A WP,Latitude,Longitude\n"
        "P2,QF7,50,40.5,53.4,-1.4\nP1,QE1,100,110,53.8,-2.7\n",
        encoding="utf-8",
    )
    done = invoke(path, "--out", tmp_path / "out")
    assert done.exit_code == 0, done.output
    table = pd.read_csv(tmp_path / "out" / "practices.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == [
        "practice_code",
        "icb_2025",
        "lad_code",
        "lad_name",
        "lat",
        "lon",
        "gp_pop",
        "wp_general_acute",
    ]
    assert table["practice_code"].tolist() == ["P1", "P2"]
    assert (table[["lad_code", "lad_name"]] == "").all().all()
    assert table["gp_pop"].tolist() == ["100", "50"]
