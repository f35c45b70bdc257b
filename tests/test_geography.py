"""Geographies and re-footprinting (issue 12): the 36 ICBs of April 2026, user mappings, crosswalk.

Independent references: NHS England's practice file in ``shared/data`` read with plain pandas and
the district lists of ``shared/domain/geography.md`` written out here, not the shipped tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import alloc
from alloc.errors import AllocError
from alloc.inputs.dataset import load_inputs
from alloc.inputs.footprint import refootprint
from alloc.inputs.geography import (
    UNMAPPED_LIMIT,
    load_geography,
    load_practices,
    shipped_geographies,
)

REPO = Path(__file__).resolve().parents[1]
PRACTICE_FILE = REPO.parent / "shared" / "data" / "nhse_practice_weighted_populations_2025_26.csv"
needs_practice_file = pytest.mark.skipif(
    not PRACTICE_FILE.is_file(), reason="NHS England practice file not in ../shared/data"
)

# geography.md: successors of the 2025/26 ICBs (whole ICBs) and the splits by district.
MERGED = {
    "QHG": "S1Y5D",
    "QUE": "S1Y5D",
    "QH8": "D7T5G",
    "QMM": "T6Y0W",
    "QU9": "S0E4D",
    "QXU": "S9B9J",
    "QNX": "S9B9J",
    "QMJ": "Z9B2Z",
    "QRV": "Z9B2Z",
}
FRIMLEY = {
    "E06000036": "S0E4D",
    "E06000039": "S0E4D",
    "E06000040": "S0E4D",
    "E07000089": "QRL",
    "E07000092": "QRL",
    "E07000214": "S9B9J",
    "E07000216": "S9B9J",
    "E07000212": "S9B9J",
}
# geography.md: Frimley's practices by district (practices; registered population).
FRIMLEY_PUBLISHED = {
    "E06000036": (8, 124_250),
    "E06000039": (15, 185_132),
    "E06000040": (19, 178_825),
    "E07000089": (4, 79_761),
    "E07000092": (10, 115_062),
    "E07000214": (7, 103_686),
    "E07000216": (4, 52_016),
    "E07000212": (1, 11_782),
}
WEST_ESSEX = {"E07000072", "E07000073", "E07000077", "E06000033", "E09000026"}  # + 2 border LADs
NORTH_EAST_ESSEX = {"E07000071", "E07000076"}


def reference_area(icb: str, lad: str) -> str:
    """The 2026 ICB of a practice from its 2025/26 ICB and district (geography.md)."""
    if icb == "QNQ":
        return FRIMLEY[lad]
    if icb == "QM7":
        return "D7T5G" if lad in WEST_ESSEX else "S1Y5D"
    if icb == "QJG":
        return "D7T5G" if lad in NORTH_EAST_ESSEX else "T6Y0W"
    return MERGED.get(icb, icb)


@pytest.fixture(scope="module")
def practices():
    return load_practices()


@pytest.fixture(scope="module")
def inputs_2025():
    return load_inputs()


@pytest.fixture(scope="module")
def runs():
    """The default scenario on both geographies (shared: each run takes a second or two)."""
    return {
        "icb_2026": alloc.run("default"),
        "icb_2025": alloc.run("default", overrides=['geography="icb_2025"']),
    }


@pytest.fixture(scope="module")
def nhse():
    raw = pd.read_csv(PRACTICE_FILE, encoding="utf-8-sig", dtype={"Practice_Code": str})
    raw["area"] = [reference_area(i, lad) for i, lad in zip(raw["ICB"], raw["LAD"])]
    return raw


def test_shipped_geographies_and_their_sizes():
    assert shipped_geographies() == ["icb_2025", "icb_2026", "icb_2027_proposed"]
    assert len(load_geography("icb_2025").codes) == 42
    g26 = load_geography("icb_2026")
    assert len(g26.codes) == 36
    assert {"S1Y5D", "D7T5G", "T6Y0W", "S0E4D", "S9B9J", "Z9B2Z", "QRL"} <= set(g26.codes)
    assert not set(MERGED) & set(g26.codes) and not {"QNQ", "QM7", "QJG"} & set(g26.codes)


def test_proposed_geography_is_labelled_and_has_no_ods_like_codes():
    geo = load_geography("icb_2027_proposed")
    assert geo.status == "proposed"
    made_up = [c for c in geo.codes if c not in load_geography("icb_2026").codes]
    assert made_up and all("-" in c for c in made_up)  # never a 3- or 5-character ODS code


@needs_practice_file
def test_2026_populations_are_sums_over_the_practice_file(runs, nhse):
    want = nhse.groupby("area")["Population"].sum()
    got = runs["icb_2026"]["population"].sel(year=2025).to_series()
    assert set(got.index) == set(want.index)
    np.testing.assert_allclose(got[want.index], want, atol=0.5, rtol=0)


@needs_practice_file
def test_frimley_split_by_district_matches_the_practice_file(runs, nhse):
    frimley = nhse[nhse["ICB"] == "QNQ"]
    by_lad = frimley.groupby("LAD")["Population"].agg(["size", "sum"])
    for lad, (n, pop) in FRIMLEY_PUBLISHED.items():
        assert by_lad.loc[lad, "size"] == n
        assert abs(by_lad.loc[lad, "sum"] - pop) <= 0.5
    crosswalk = runs["icb_2026"]["crosswalk"].sel(predecessor="QNQ").to_series()
    want = frimley.groupby("area")["Population"].sum()
    np.testing.assert_allclose(crosswalk[want.index], want, atol=0.5, rtol=0)
    assert crosswalk.drop(want.index).abs().max() == 0


def test_national_totals_identical_on_both_geographies(runs):
    a, b = runs["icb_2025"], runs["icb_2026"]
    np.testing.assert_array_equal(a["envelope"].values, b["envelope"].values)
    for name in ("allocation", "target", "baseline", "population"):
        np.testing.assert_allclose(
            a[name].sum("icb").values, b[name].sum("icb").values, rtol=0, atol=0.01, err_msg=name
        )  # a penny, a hundredth person
    assert abs(float(b["baseline"].sum()) - 14e9) < 0.01


def test_every_area_adds_up_from_its_parts(runs):
    crosswalk = runs["icb_2026"]["crosswalk"]
    np.testing.assert_allclose((crosswalk / crosswalk.sum("icb")).sum("icb"), 1.0, rtol=1e-12)
    pop = runs["icb_2026"]["population"].sel(year=2025)
    # the dataset's populations are published to 0.1 person; the crosswalk sums the practices
    np.testing.assert_allclose(crosswalk.sum("predecessor"), pop, rtol=0, atol=0.5)


def test_base_year_dft_of_a_merger_is_the_aggregate_of_its_parts(runs):
    a, b = runs["icb_2025"], runs["icb_2026"]
    parts = ["QMJ", "QRV"]
    base = float(a["baseline"].sel(icb=parts).sum())
    target = float(a["target"].sel(icb=parts, year=2025).sum())
    assert float(b["dft"].sel(icb="Z9B2Z", year=2025)) == pytest.approx(
        (base - target) / target, rel=1e-12
    )


def test_identity_refootprint_changes_nothing(inputs_2025):
    same = refootprint(inputs_2025, "icb_2025")
    for name in ("gp_pop", "weighted_pop", "baseline", "patients", "mff"):
        np.testing.assert_array_equal(same[name].values, inputs_2025[name].values)
    assert list(same["icb"].values) == list(inputs_2025["icb"].values)


def _mapping_csv(path: Path, area: pd.Series, names: dict | None = None) -> Path:
    """A mapping in NHS England's monthly gp-reg-pat-prac-map.csv layout."""
    frame = pd.DataFrame(
        {
            "PRACTICE_CODE": area.index,
            "PRACTICE_NAME": "x",
            "ICB_CODE": area.values,
            "ICB_NAME": [(names or {}).get(a, f"NHS {a} ICB") for a in area.values],
            "EXTRACT_DATE": "01-Nov-2026",
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_user_mapping_that_merges_two_icbs_gives_their_sum(tmp_path, practices, inputs_2025):
    area = practices["icb_2025"].replace({"QHG": "MERGE", "QUE": "MERGE"})
    path = _mapping_csv(tmp_path / "gp-reg-pat-prac-map.csv", area)
    merged = refootprint(inputs_2025, str(path), practices)
    assert merged.sizes["icb"] == 41 and merged.attrs["geography_status"] == "user"
    for name in ("gp_pop", "weighted_pop", "baseline", "patients"):
        want = inputs_2025[name].sel(icb="QHG") + inputs_2025[name].sel(icb="QUE")
        np.testing.assert_array_equal(merged[name].sel(icb="MERGE").values, want.values)
        np.testing.assert_array_equal(
            merged[name].sel(icb="QE1").values, inputs_2025[name].sel(icb="QE1").values
        )


def test_user_mapping_of_the_same_areas_is_the_identity(tmp_path, practices, inputs_2025):
    path = _mapping_csv(tmp_path / "map.csv", practices["icb_2025"])
    same = refootprint(inputs_2025, str(path), practices)
    for name in ("gp_pop", "baseline"):
        np.testing.assert_array_equal(
            same[name].sel(icb=inputs_2025["icb"]).values, inputs_2025[name].values
        )


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Run the CLI in process (a subprocess would compile the kernels again), cwd ``tmp_path``."""
    from click.testing import CliRunner

    from alloc.cli import main

    monkeypatch.chdir(tmp_path)
    return lambda *args: CliRunner().invoke(main, list(args))


def test_unknown_and_missing_practices_are_reported_and_carried(tmp_path, practices, cli):
    area = load_geography("icb_2026", practices).practice_area
    dropped = ["A81001", "A81002", "H81047"]  # two in QHM, one in Frimley's Runnymede part
    area = pd.concat([area.drop(dropped), pd.Series({"Z99998": "QE1", "Z99999": "QE1"})])
    path = _mapping_csv(tmp_path / "gp-reg-pat-prac-map.csv", area)
    geo = load_geography(str(path), practices)
    assert geo.report.unknown == ("Z99998", "Z99999")
    # carried to the area holding most of the practice's 2025/26 ICB (Frimley -> Thames Valley)
    assert geo.report.carried == {"A81001": "QHM", "A81002": "QHM", "H81047": "S0E4D"}
    assert geo.report.carried_population == pytest.approx(practices.loc[dropped, "gp_pop"].sum())
    proc = cli("run", "--set", f'geography="{path}"', "--no-plots", "--out", "out")
    assert proc.exit_code == 0, proc.output
    assert "3 practice(s) of the practice table are not in the mapping" in proc.stdout
    assert "2 practice(s) in the mapping are not in the practice table" in proc.stdout
    assert "Z99998" in proc.stdout and "H81047" in proc.stdout


def test_mapping_missing_a_large_population_is_refused(tmp_path, practices):
    area = load_geography("icb_2026", practices).practice_area
    drop = practices.index[practices["icb_2025"] == "QOP"]  # Greater Manchester, ~5% of England
    assert practices.loc[drop, "gp_pop"].sum() / practices["gp_pop"].sum() > UNMAPPED_LIMIT
    path = _mapping_csv(tmp_path / "map.csv", area.drop(drop))
    with pytest.raises(AllocError, match=r"at most 1% can be carried"):
        load_geography(str(path), practices)


@pytest.mark.parametrize(
    "edit, message",
    [
        ("twice", r"rows 2, \d+: practice A81001 is mapped to more than one area"),
        ("empty", r"row 3: practice A81002: expected an area code"),
        ("columns", r"ICB_CODE: expected a column 'ICB_CODE'; columns found"),
        ("long_code", r"row 2: practice A81001: expected an area code of 1 to 5"),
    ],
)
def test_malformed_mappings_are_refused_naming_file_row_and_practice(
    tmp_path, practices, edit, message
):
    area = load_geography("icb_2026", practices).practice_area.copy()
    path = tmp_path / "bad.csv"
    if edit == "twice":
        area = pd.concat([area, pd.Series({"A81001": "QF7"})])
    elif edit == "empty":
        area["A81002"] = ""
    elif edit == "long_code":
        area["A81001"] = "TOOLONG"
    _mapping_csv(path, area)
    if edit == "columns":
        pd.read_csv(path).rename(columns={"ICB_CODE": "ICB"}).to_csv(path, index=False)
    with pytest.raises(AllocError, match=message) as info:
        load_geography(str(path), practices)
    assert str(path) in str(info.value)


def test_cli_geography_choices_and_errors(cli, tmp_path):
    listed = cli("list", "geographies")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines] == shipped_geographies()
    assert "36 areas" in lines[1] and "proposed" in lines[2]
    icbs = cli("list", "icbs")
    assert len(icbs.stdout.splitlines()) == 36 and "S1Y5D" in icbs.stdout
    bad = cli("run", "--set", 'geography="icb_1999"', "--no-plots", "--out", "x")
    assert bad.exit_code == 2
    assert "icb_2025, icb_2026, icb_2027_proposed" in bad.stderr
    assert not (tmp_path / "x").exists()


def test_run_on_the_old_geography_by_set(cli, tmp_path):
    proc = cli("run", "--set", 'geography="icb_2025"', "--no-plots", "--out", "old")
    assert proc.exit_code == 0, proc.output
    table = pd.read_csv(tmp_path / "old" / "allocations.csv")
    assert table["icb"].nunique() == 42 and "England (42 ICBs)" in proc.stdout
