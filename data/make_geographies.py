"""Build the practice table and the practice-to-area maps of every geography in `geographies/`.

Usage (from the repository root)::

    python data/make_geographies.py [PATH_TO_NHSE_PRACTICE_FILE]

The default input is ``../shared/data/nhse_practice_weighted_populations_2025_26.csv`` relative to
the repository root: NHS England's practice-level weighted populations for 2025/26
(github.com/nhsengland/ICB_Allocation_Tool_update, ``data/2025_2026.csv``; Open Government
Licence v3.0).

It writes, deterministically (standalone: pandas only):

1. ``data/practices.csv``: one row per practice, sorted by practice code, with the 2025/26 ICB,
   the local authority district, the coordinates, the registered population and the weighted
   populations. Every value is copied from the source as TEXT, verbatim (no float reformatting),
   so sums over it reproduce sums over the source exactly.
2. ``data/geographies/NAME/practices.csv`` (columns ``practice_code,area``) for every folder NAME
   under ``data/geographies/`` holding the hand-curated ``areas.csv`` and ``rules.csv``.

Rules (``rules.csv``: ``icb_2025,lad_code,area``) send the practices of a 2025/26 ICB to an area:
a row with an empty ``lad_code`` sends every practice of that ICB; rows with a district code send
that ICB's practices registered in that district (a split ICB lists every one of its districts).
An ICB may not have both kinds of row. A practice whose (ICB, district) no rule covers is an
error: nothing is assigned by default.

Checks (any failure stops the script with a message, before anything is written): each practice
appears exactly once in each geography; every rule's area is in ``areas.csv``, and every area
receives at least one practice; non-empty ``predecessors`` equal the 2025 ICBs the rules send to
the area; every area's region equals the region (in ``icb_2025/areas.csv``) of each 2025 ICB that
contributes practices to it; the registered population summed by area equals the national total.
A summary (areas, practices, registered population by area and by split district) is printed.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd

from alloc.inputs.nhse import COLUMN_MAP  # needs alloc installed (pip install -e .)

DATA = Path(__file__).resolve().parent
ROOT = DATA.parent
GEOGRAPHIES = DATA / "geographies"
DEFAULT_SOURCE = ROOT / ".." / "shared" / "data" / "nhse_practice_weighted_populations_2025_26.csv"
BASE = "icb_2025"  # the geography whose areas are the 2025/26 ICBs of the source's ICB column

# source column -> practices.csv column, in output order
# NHS England column -> practice table column: identifiers here, values as alloc reads them.
COLUMNS = {
    "Practice_Code": "practice_code",
    "ICB": "icb_2025",
    "LAD": "lad_code",
    "LTLA": "lad_name",
    "Latitude": "lat",
    "Longitude": "lon",
    **COLUMN_MAP,
}
AREA_COLUMNS = ["code", "name", "region", "region_code", "ons_code", "predecessors", "status"]
RULE_COLUMNS = ["icb_2025", "lad_code", "area"]


class GeographyError(Exception):
    pass


def read_text_csv(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV with every cell as text (empty cells as ''), BOM tolerated."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if columns is not None and list(frame.columns) != columns:
        raise GeographyError(f"{path}: columns {list(frame.columns)}, expected {columns}")
    return frame.apply(lambda s: s.str.strip())


def dsum(values: pd.Series) -> Decimal:
    """Exact sum of decimal strings."""
    return sum((Decimal(v) for v in values), Decimal(0))


def load_practices(source: Path) -> pd.DataFrame:
    raw = read_text_csv(source)
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise GeographyError(f"{source}: missing columns {missing}")
    table = raw[list(COLUMNS)].rename(columns=COLUMNS)
    for col in table.columns:
        if (table[col] == "").any():
            raise GeographyError(f"{source}: empty values in {col}")
    for col in list(COLUMNS.values())[4:]:
        pd.to_numeric(table[col], errors="raise")  # numeric text only; the text itself is kept
    if not table["practice_code"].is_unique:
        raise GeographyError(f"{source}: duplicate practice codes")
    return table.sort_values("practice_code", kind="mergesort").reset_index(drop=True)


def assign(practices: pd.DataFrame, rules: pd.DataFrame, name: str) -> pd.Series:
    """Area of each practice under the rules; raises on gaps, overlaps or mixed rule kinds."""
    if rules.duplicated(["icb_2025", "lad_code"]).any():
        raise GeographyError(
            f"{name}: duplicate rules {rules[rules.duplicated(['icb_2025', 'lad_code'], keep=False)].values.tolist()}"
        )
    whole = rules[rules["lad_code"] == ""].set_index("icb_2025")["area"]
    split = rules[rules["lad_code"] != ""].set_index(["icb_2025", "lad_code"])["area"]
    mixed = set(whole.index) & set(split.index.get_level_values(0))
    if mixed:
        raise GeographyError(
            f"{name}: ICBs with both a whole-ICB rule and district rules: {sorted(mixed)}"
        )
    by_icb = practices["icb_2025"].map(whole)
    keys = pd.MultiIndex.from_frame(practices[["icb_2025", "lad_code"]])
    by_district = pd.Series(split.reindex(keys).to_numpy(), index=practices.index)
    area = by_icb.fillna(by_district)
    if area.isna().any():
        gaps = practices.loc[area.isna(), ["practice_code", "icb_2025", "lad_code", "lad_name"]]
        raise GeographyError(f"{name}: practices no rule covers:\n{gaps.to_string(index=False)}")
    used = set(zip(practices["icb_2025"], practices["lad_code"])) | {
        (i, "") for i in practices["icb_2025"]
    }
    unused = [
        r
        for r in rules[["icb_2025", "lad_code"]].itertuples(index=False, name=None)
        if r not in used
    ]
    if unused:
        raise GeographyError(f"{name}: rules that match no practice: {unused}")
    return area


def check_areas(
    name: str,
    areas: pd.DataFrame,
    rules: pd.DataFrame,
    area: pd.Series,
    practices: pd.DataFrame,
    base_regions: dict[str, str] | None,
) -> None:
    if not areas["code"].is_unique:
        raise GeographyError(f"{name}: duplicate area codes")
    codes = set(areas["code"])
    unknown = set(rules["area"]) - codes
    if unknown:
        raise GeographyError(f"{name}: rules name areas not in areas.csv: {sorted(unknown)}")
    empty = codes - set(area)
    if empty:
        raise GeographyError(f"{name}: areas without practices: {sorted(empty)}")
    contributors = practices.groupby(area)["icb_2025"].agg(lambda s: sorted(set(s)))
    for row in areas.itertuples(index=False):
        if row.predecessors and sorted(row.predecessors.split()) != contributors[row.code]:
            raise GeographyError(
                f"{name}: {row.code} predecessors {row.predecessors!r}, rules give {contributors[row.code]}"
            )
        if base_regions is not None:
            wrong = [i for i in contributors[row.code] if base_regions[i] != row.region_code]
            if wrong:
                raise GeographyError(
                    f"{name}: {row.code} is in {row.region_code} but takes practices of {wrong}"
                )


def build(source: Path) -> dict[str, pd.DataFrame]:
    practices = load_practices(source)
    national = dsum(practices["gp_pop"])
    names = sorted(
        p.name
        for p in GEOGRAPHIES.iterdir()
        if (p / "areas.csv").is_file() and (p / "rules.csv").is_file()
    )
    if BASE not in names:
        raise GeographyError(f"{GEOGRAPHIES / BASE} with areas.csv and rules.csv is required")
    base_areas = read_text_csv(GEOGRAPHIES / BASE / "areas.csv", AREA_COLUMNS)
    base_regions = dict(zip(base_areas["code"], base_areas["region_code"]))
    missing = set(practices["icb_2025"]) - set(base_regions)
    if missing:
        raise GeographyError(
            f"2025/26 ICBs of the source not in {BASE}/areas.csv: {sorted(missing)}"
        )

    maps: dict[str, pd.DataFrame] = {}
    for name in names:
        areas = read_text_csv(GEOGRAPHIES / name / "areas.csv", AREA_COLUMNS)
        rules = read_text_csv(GEOGRAPHIES / name / "rules.csv", RULE_COLUMNS)
        area = assign(practices, rules, name)
        check_areas(name, areas, rules, area, practices, base_regions)
        mapping = pd.DataFrame({"practice_code": practices["practice_code"], "area": area})
        if len(mapping) != len(practices) or not mapping["practice_code"].is_unique:
            raise GeographyError(f"{name}: a practice is not mapped exactly once")
        total = sum((dsum(g) for _, g in practices["gp_pop"].groupby(area)), Decimal(0))
        if total != national:
            raise GeographyError(f"{name}: population by area sums to {total}, national {national}")
        maps[name] = mapping
        summarise(name, areas, practices, area)
    if (maps[BASE]["area"] != practices["icb_2025"]).any():
        raise GeographyError(f"{BASE} does not reproduce the source's ICB column")

    practices.to_csv(DATA / "practices.csv", index=False, lineterminator="\n")
    for name, mapping in maps.items():
        mapping.to_csv(GEOGRAPHIES / name / "practices.csv", index=False, lineterminator="\n")
    print(
        f"wrote {DATA / 'practices.csv'} ({len(practices)} practices, registered population {national})"
    )
    for name in maps:
        print(f"wrote {GEOGRAPHIES / name / 'practices.csv'}")
    return maps


def summarise(name: str, areas: pd.DataFrame, practices: pd.DataFrame, area: pd.Series) -> None:
    """Print areas, practices and population; per area that differs from a 2025 ICB, and per
    district of every split 2025 ICB."""
    print(
        f"\n== {name}: {len(areas)} areas, {len(practices)} practices, "
        f"registered population {dsum(practices['gp_pop']):,.0f}"
    )
    grouped = practices.groupby(area)
    changed = [c for c in areas["code"] if sorted(set(grouped.get_group(c)["icb_2025"])) != [c]]
    for code in changed:
        part = grouped.get_group(code)
        print(
            f"  {code:6} {len(part):5d} practices  {dsum(part['gp_pop']):>12,.0f}  "
            f"from {' '.join(sorted(set(part['icb_2025'])))}"
        )
    split_icbs = sorted(i for i, s in area.groupby(practices["icb_2025"]) if s.nunique() > 1)
    for icb in split_icbs:
        part = practices[practices["icb_2025"] == icb]
        print(f"  split of {icb}:")
        for (lad, lad_name), g in part.groupby(["lad_code", "lad_name"]):
            print(
                f"    {lad} {lad_name:24} -> {area[g.index[0]]:6} {len(g):3d} practices  "
                f"{dsum(g['gp_pop']):>10,.0f}"
            )


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    try:
        build(source.resolve())
    except GeographyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
