"""NHS England practice-level weighted-population file: reader, ICB sums, need and place indices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alloc.errors import AllocError
from alloc.inputs.nhse import (
    aggregate_to_icb,
    implied_cost_adjustment,
    need_indices,
    place_indices,
    read_places,
    read_practice_weighted_populations,
    to_weighted_populations_rows,
)
from alloc.resources import data_dir
from alloc.rounding import round_half_up_decimals as round_half_up

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PRACTICE_FILE = SHARED / "data" / "nhse_practice_weighted_populations_2025_26.csv"
ICB_SUMS = SHARED / "domain" / "icb_weighted_populations.csv"
ICB_REFERENCE = SHARED / "domain" / "icb_reference.csv"

needs_real_file = pytest.mark.skipif(
    not (PRACTICE_FILE.is_file() and ICB_SUMS.is_file()),
    reason=f"NHS England's practice-level file is not present at {PRACTICE_FILE} (it is read from "
    "../shared/data and never copied into the repository)",
)


@pytest.fixture(scope="module")
def practices():
    return read_practice_weighted_populations(PRACTICE_FILE)


@needs_real_file
def test_real_file_reproduces_published_icb_sums(practices):
    """Sums over 6,348 practices equal the 2025/26 ICB figures to the published 0.1."""
    got = aggregate_to_icb(practices)
    want = pd.read_csv(ICB_SUMS)
    want = want[want["year"] == "2025/26"].set_index("code").loc[got.index]
    assert len(got) == 42
    for col in want.columns.drop("year"):
        diff = np.abs(got[col] - want[col])
        assert diff.max() <= 0.05 + 1e-6, (col, diff.idxmax(), diff.max())
        np.testing.assert_array_equal(
            round_half_up(got[col].to_numpy(), 1), want[col].to_numpy(), err_msg=col
        )
    # ... and so does the embedded dataset, row for row.
    rows = to_weighted_populations_rows(got, "2025/26").set_index("code")
    embedded = pd.read_csv(data_dir() / "weighted_populations.csv")
    embedded = embedded[embedded["year"] == "2025/26"].set_index("code").loc[rows.index]
    pd.testing.assert_frame_equal(rows, embedded, check_dtype=False)


@needs_real_file
def test_real_file_national_need_indices(practices):
    icb = aggregate_to_icb(practices)
    ni = need_indices(icb)
    # NHS England normalises every component to the registered population: index mean 1.
    pop = icb["gp_pop"]
    for col in ni.columns:
        assert abs((ni[col] * pop).sum() / pop.sum() - 1) < 1e-12
    ref = pd.read_csv(ICB_REFERENCE).set_index("code")["core_need_index_2025_26"]
    np.testing.assert_allclose(ni["ni_core_overall"].loc[ref.index], ref, atol=5e-5)
    # Practice-level indices aggregate to ICB ones as population-weighted means.
    practice_ni = need_indices(practices.set_index("practice"))
    mean = (practice_ni["ni_general_acute"] * practices.set_index("practice")["gp_pop"]).groupby(
        practices.set_index("practice")["icb"]
    ).sum() / pop
    np.testing.assert_allclose(mean, ni["ni_general_acute"], rtol=1e-12)


@needs_real_file
def test_real_file_places(practices, tmp_path):
    """Two places in one ICB (split by PCN) plus an unassigned remainder."""
    qe1 = practices[practices["icb"] == "QE1"].sort_values("practice")
    half = len(qe1) // 3
    rows = [(p, "North") for p in qe1["practice"].iloc[:half]] + [
        (p, "South") for p in qe1["practice"].iloc[half : 2 * half]
    ]
    pd.DataFrame(rows, columns=["practice", "place"]).to_csv(tmp_path / "p.csv", index=False)
    table = place_indices(practices, read_places(tmp_path / "p.csv"))
    assert list(table.index) == [("QE1", "(unassigned)"), ("QE1", "North"), ("QE1", "South")]
    assert table["n_practices"].sum() == len(qe1)
    # Place index relative to the ICB: population-weighted mean 1 over the ICB's places.
    mean = (table["ni_general_acute"] * table["gp_pop"]).sum() / table["gp_pop"].sum()
    assert abs(mean - 1) < 1e-12
    north = qe1.iloc[:half]
    by_hand = (north["wp_general_acute"].sum() / north["gp_pop"].sum()) / (
        qe1["wp_general_acute"].sum() / qe1["gp_pop"].sum()
    )
    assert table.loc[("QE1", "North"), "ni_general_acute"] == pytest.approx(by_hand, rel=1e-12)
    eng = practices["wp_general_acute"].sum() / practices["gp_pop"].sum()
    assert table.loc[("QE1", "North"), "ni_general_acute_england"] == pytest.approx(
        north["wp_general_acute"].sum() / north["gp_pop"].sum() / eng, rel=1e-12
    )


@needs_real_file
def test_shipped_mff_is_the_derived_cost_adjustment(practices):
    """data/mff.csv is exactly what data/README.md says: implied_cost_adjustment, 4 dp half-up."""
    derived = implied_cost_adjustment(practices)["mff_index"]
    shipped = pd.read_csv(data_dir() / "mff.csv").set_index("code")["mff_index"]
    np.testing.assert_array_equal(
        round_half_up(derived.loc[shipped.index].to_numpy(), 4), shipped.to_numpy()
    )


# --- small hand-made files: format handling and bad input --------------------------------------

HEADER = (
    "\ufeffPractice_Code,GP_Practice_Name,ICB,ICBname,Population,G&A WP,Health Ineq WP,Final WP\n"
)
GOOD = [
    "P1,One,QE1,Lancs,1000,1100,1200,1050",
    "P2,Two,QE1,Lancs,3000,2900,2800,2950",
    "P3,Three,QF7,S Yorks,2000,2000,2000,2000",
]


def write(tmp_path, rows, header=HEADER) -> Path:
    path = tmp_path / "practices.csv"
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_small_file_with_bom_reads_and_indexes(tmp_path):
    frame = read_practice_weighted_populations(write(tmp_path, GOOD))
    assert list(frame.columns[:4]) == ["practice", "practice_name", "icb", "icb_name"]
    icb = aggregate_to_icb(frame)
    assert icb.loc["QE1", "gp_pop"] == 4000 and icb.loc["QE1", "wp_general_acute"] == 4000
    ni = need_indices(icb)
    # (4000/4000) / (6000/6000) = 1 and (2000/2000)/(1) = 1
    np.testing.assert_allclose(ni["ni_general_acute"], [1.0, 1.0])
    # HI: QE1 (4000/4000) / (6000/6000) = 1; practice P1: (1200/1000)/1 = 1.2
    np.testing.assert_allclose(need_indices(frame)["ni_health_inequalities"], [1.2, 2800 / 3000, 1])
    places = place_indices(frame, {"P1": "A"})
    assert places.loc[("QE1", "A"), "ni_general_acute"] == pytest.approx(1.1)
    assert places.loc[("QE1", "(unassigned)"), "ni_general_acute"] == pytest.approx(2900 / 3000)


@pytest.mark.parametrize(
    ("rows", "header", "field", "message"),
    [
        (
            GOOD,
            HEADER.replace("Population,", "Pop,"),
            "Population",
            "expected a column 'Population'",
        ),
        (
            GOOD,
            HEADER.replace(",G&A WP,Health Ineq WP,Final WP", ",A,B,C"),
            "* WP",
            "at least one weighted-population column",
        ),
        (
            GOOD[:2] + ["P3,Three,XYZ,Nowhere,2000,2000,2000,2000"],
            HEADER,
            "ICB",
            "unknown ICB code 'XYZ' for practice P3",
        ),
        (
            GOOD[:2] + ["P3,Three,QF7,S Yorks,0,2000,2000,2000"],
            HEADER,
            "Population",
            "expected a positive population, found 0 for practice P3",
        ),
        (GOOD[:2] + ["P3,Three,QF7,S Yorks,-5,2000,2000,2000"], HEADER, "Population", "positive"),
        (
            GOOD[:2] + ["P3,Three,QF7,S Yorks,2000,n/a,2000,2000"],
            HEADER,
            "G&A WP",
            "expected a finite number, found 'n/a' for practice P3",
        ),
        (GOOD[:2] + ["P3,Three,QF7,S Yorks,2000,-1,2000,2000"], HEADER, "G&A WP", "non-negative"),
        (GOOD + ["P1,Again,QE1,Lancs,10,10,10,10"], HEADER, "Practice_Code", "'P1' twice"),
    ],
)
def test_bad_practice_files(tmp_path, rows, header, field, message):
    with pytest.raises(AllocError) as err:
        read_practice_weighted_populations(write(tmp_path, rows, header))
    assert err.value.field == field
    assert message in str(err.value)
    assert err.value.source.endswith("practices.csv")


def test_missing_file(tmp_path):
    with pytest.raises(AllocError, match="does not exist"):
        read_practice_weighted_populations(tmp_path / "nope.csv")


def test_bad_places(tmp_path):
    frame = read_practice_weighted_populations(write(tmp_path, GOOD))
    with pytest.raises(AllocError, match="spans more than one ICB"):
        place_indices(frame, {"P1": "A", "P3": "A"})
    with pytest.raises(AllocError, match="'P9' is not in"):
        place_indices(frame, {"P9": "A"})
    (tmp_path / "places.csv").write_text("practice,place\nP1,A\nP1,B\n")
    with pytest.raises(AllocError, match="more than one place"):
        read_places(tmp_path / "places.csv")


def test_round_half_up_matches_excel():
    np.testing.assert_array_equal(
        round_half_up([0.25, 0.35, 2.5, -2.5, 1.05], 1), [0.3, 0.4, 2.5, -2.5, 1.1]
    )
    np.testing.assert_array_equal(round_half_up([0.5, 1.5, 2.5]), [1, 2, 3])
