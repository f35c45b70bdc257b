"""NHS England file formats: the practice-level weighted-population file of the ICB allocation tool.

NHS England publishes, with its ICB place-based allocation tool (Open Government Licence), one row
per GP practice with its ICB, its registered population projected to the allocation year and the
weighted population of each allocation component. This module reads that format in each known
layout (:data:`LAYOUTS`), aggregates practices to ICBs and to user-defined *places*, and computes
need indices as NHS England defines them (ICB allocation tool FAQ):

* national need index of an area ``a`` (practice, place or ICB)::

      NI_a = (WP_a / Pop_a) / (WP_England / Pop_England)

* place index relative to its ICB::

      NI_place = (WP_place / Pop_place) / (WP_ICB / Pop_ICB)

Column names are mapped to the dataset vocabulary of ``data/weighted_populations.csv``
(``gp_pop``, ``wp_<component>``) and of ``data/practices.csv``.

Layouts (vintages)
------------------
A file is recognised by its columns; headers are compared ignoring case, spaces, underscores and
hyphens. Two layouts are known:

``2025/26``
    github.com/nhsengland/ICB_Allocation_Tool_update, ``data/2025_2026.csv``: ``Practice_Code``,
    ``ICB``, ``ICBname``, ``Rcode``, ``Region``, ``LAD``, ``LTLA``, ``Population``, ``* WP``.
    **Verified** against NHS England's file (``shared/data/nhse_practice_weighted_populations_2025_26
    .csv``, which reproduces the published ICB sums; ``tests/test_nhse.py``).
``2022/23-2024/25``
    github.com/nhsx/AIF_Allocation_Tool, ``data/2022_2023.csv``, ``data/2023_2024.csv`` and
    ``data/2024_2025.csv``: ``Practice_Code``, ``ICS22``, ``ICS22name``, ``R22``, ``Region22``,
    ``LAD21``, ``LTLA21``, ``pop 2022/23`` and the same ``* WP`` headers as 2025/26. **Verified**
    from the header rows of those three files (all three identical) and the tool's own column
    renaming (``utils.py``, which reads ``pop 2022/23`` as the GP population of every year): the
    population header says 2022/23 even in the 2023/24 and 2024/25 files, so it does not tell
    the year; the year comes from the file name (``2023_2024.csv``) or ``--year``. The sums of
    these files were **not** re-checked here against ``data/weighted_populations.csv`` (the files
    are not held locally). **Assumed** (accepted, never seen): ``ICB22``/``ICB22name``/``ICB22NM``
    for the ICB, ``pop YYYY/YY`` of any year (also ``pop_YYYY_YY``), ``LAD22``/``LAD23`` and
    ``LTLA22``/``LTLA23``.

Weighted-population columns (:data:`WP_COMPONENTS`, every layout): a header names component ``k``
when, ignoring case, spaces, underscores and hyphens, it is one of the component's names followed
by ``WP``, ``weighted population`` or ``weighted pop``, or is ``Weighted <name> pop[ulation]`` (the
AIF tool's display names). The first name of each component is NHS England's published header
(verified in both layouts); the longer names (``Community``, ``Mental Health``, ``Maternity``,
``Health Inequalities``, ``Prescribing``, ``Overall``, ...) are **assumptions** for hand-made or
future files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from alloc.errors import AllocError
from alloc.inputs import limits
from alloc.rounding import round_half_up_decimals

#: NHS England column (2025/26 layout) -> dataset name. ``Population`` is the registered
#: population projected to the allocation year [persons]; every ``* WP`` column is a weighted
#: population [weighted persons]. Used by ``data/make_geographies.py`` to copy the 2025/26 file.
COLUMN_MAP = {
    "Population": "gp_pop",
    "G&A WP": "wp_general_acute",
    "CS WP": "wp_community",
    "MH WP": "wp_mental_health",
    "Mat WP": "wp_maternity",
    "Health Ineq WP": "wp_health_inequalities",
    "Prescr WP": "wp_prescribing",
    "Final WP": "wp_core_overall",
    "Primary Medical Care WP": "wp_primary_medical_care_need",
    "Final PMC WP": "wp_primary_medical_care_final",
}
#: Identifying columns kept when present (NHS England 2025/26 name -> our name).
ID_MAP = {
    "Practice_Code": "practice",
    "GP_Practice_Name": "practice_name",
    "ICB": "icb",
    "ICBname": "icb_name",
    "Region": "region",
    "Latitude": "lat",
    "Longitude": "lon",
    "PCN_Code": "pcn",
}
REQUIRED = ["Practice_Code", "ICB", "Population"]

#: Weighted-population component -> its names; the first is NHS England's published header stem
#: (``<stem> WP``, verified in both layouts), the others assumptions (module docstring).
WP_COMPONENTS = {
    "wp_general_acute": ("G&A", "General & Acute", "General and Acute", "General Acute"),
    "wp_community": ("CS", "Community", "Community Services"),
    "wp_mental_health": ("MH", "Mental Health"),
    "wp_maternity": ("Mat", "Maternity"),
    "wp_health_inequalities": ("Health Ineq", "Health Inequalities", "HI"),
    "wp_prescribing": ("Prescr", "Prescribing"),
    "wp_core_overall": ("Final", "Overall", "Core", "Overall Core"),
    "wp_primary_medical_care_need": ("Primary Medical Care", "PMC", "Primary Medical Care Need"),
    "wp_primary_medical_care_final": ("Final PMC", "Final Primary Medical Care", "Primary Care"),
}
#: Our identifying columns, in output order.
ID_FIELDS = [
    "practice",
    "practice_name",
    "icb",
    "icb_name",
    "region",
    "region_code",
    "lat",
    "lon",
    "pcn",
    "lad_code",
    "lad_name",
]
#: Fields every layout must supply.
REQUIRED_FIELDS = ("practice", "icb", "gp_pop")


@dataclass(frozen=True)
class Layout:
    """A layout (vintage) of NHS England's practice file.

    ``columns`` maps our field to the headers accepted for it (the first is the published one);
    ``population`` is a regular expression for the population header when it varies (matched on
    the normalised header), else ``None`` and ``columns["gp_pop"]`` applies. ``years`` are the
    allocation years published in this layout.
    """

    name: str
    years: tuple[str, ...]
    source: str
    columns: dict[str, tuple[str, ...]]
    population: str | None = None
    population_label: str = ""

    def expected(self) -> str:
        """The required columns, as a reader would write them."""
        pop = self.population_label or self.columns["gp_pop"][0]
        icb = " or ".join(self.columns["icb"][:2])
        return f"{self.columns['practice'][0]}, {icb}, {pop} and '* WP' columns"


LAYOUTS = (
    Layout(
        name="2025/26",
        years=("2025/26",),
        source="github.com/nhsengland/ICB_Allocation_Tool_update data/2025_2026.csv",
        columns={
            "practice": ("Practice_Code",),
            "practice_name": ("GP_Practice_Name",),
            "icb": ("ICB",),
            "icb_name": ("ICBname",),
            "region": ("Region",),
            "region_code": ("Rcode",),
            "lat": ("Latitude",),
            "lon": ("Longitude",),
            "pcn": ("PCN_Code",),
            "lad_code": ("LAD",),
            "lad_name": ("LTLA",),
            "gp_pop": ("Population",),
        },
    ),
    Layout(
        name="2022/23-2024/25",
        years=("2022/23", "2023/24", "2024/25"),
        source="github.com/nhsx/AIF_Allocation_Tool data/2022_2023.csv, 2023_2024.csv, "
        "2024_2025.csv",
        columns={
            "practice": ("Practice_Code",),
            "practice_name": ("GP_Practice_Name",),
            "icb": ("ICS22", "ICB22"),
            "icb_name": ("ICS22name", "ICB22name", "ICB22NM"),
            "region": ("Region22",),
            "region_code": ("R22",),
            "lat": ("Latitude",),
            "lon": ("Longitude",),
            "pcn": ("PCN_Code",),
            "lad_code": ("LAD21", "LAD22", "LAD23"),
            "lad_name": ("LTLA21", "LTLA22", "LTLA23"),
        },
        population=r"pop20\d\d/?\d\d",
        population_label="pop YYYY/YY",
    ),
)

#: Components of NHS England's overall core weighted population used to derive the implied cost
#: adjustment (:func:`implied_cost_adjustment`).
CORE_NEED_COMPONENTS = [
    "wp_general_acute",
    "wp_community",
    "wp_mental_health",
    "wp_maternity",
    "wp_health_inequalities",
    "wp_prescribing",
    "wp_primary_medical_care_need",
]


def _norm(header: str) -> str:
    """A header compared ignoring case, spaces, underscores and hyphens."""
    return re.sub(r"[\s_\-]+", "", header).lower()


def _wp_names() -> dict[str, str]:
    """Normalised weighted-population header -> component (module docstring)."""
    out = {}
    for component, stems in WP_COMPONENTS.items():
        for stem in stems:
            for form in (
                f"{stem} WP",
                f"{stem} weighted population",
                f"{stem} weighted pop",
                f"Weighted {stem} pop",
                f"Weighted {stem} population",
            ):
                out[_norm(form)] = component
    return out


def _resolve(layout: Layout, headers: list[str]) -> dict[str, str]:
    """Our field -> the file's header, for the fields of ``layout`` the file has."""
    by_norm = {}
    for header in headers:
        by_norm.setdefault(_norm(header), header)
    found = {}
    for field, names in layout.columns.items():
        for name in names:
            if _norm(name) in by_norm:
                found[field] = by_norm[_norm(name)]
                break
    if layout.population is not None:
        matches = [h for h in headers if re.fullmatch(layout.population, _norm(h))]
        if matches:
            found["gp_pop"] = matches[0]
    return found


def detect_layout(headers: list[str], source: str | Path = "practice file") -> tuple[Layout, dict]:
    """The layout a practice file's headers fit, and our field -> its header.

    Raises
    ------
    AllocError
        No layout fits: names the first column missing from the closest layout and lists every
        layout's expected columns and the columns found.
    """
    resolved = [(layout, _resolve(layout, headers)) for layout in LAYOUTS]
    for layout, found in resolved:
        if all(f in found for f in REQUIRED_FIELDS):
            return layout, found
    layout, found = max(resolved, key=lambda lf: sum(f in lf[1] for f in REQUIRED_FIELDS))
    known = "; ".join(f"{lay.name} ({lay.source}): {lay.expected()}" for lay in LAYOUTS)
    listed = ", ".join(headers) if headers else "(none)"
    if not any(f in found for f in REQUIRED_FIELDS):
        raise AllocError(
            source,
            "columns",
            f"unrecognised layout of NHS England's practice file; expected the columns of one "
            f"of its layouts: {known}; columns found: {listed}",
        )
    missing = next(f for f in REQUIRED_FIELDS if f not in found)
    name = (
        layout.population_label
        if missing == "gp_pop" and layout.population_label
        else layout.columns[missing][0]
    )
    raise AllocError(
        source,
        name,
        f"expected a column '{name}' (NHS England's {layout.name} layout); known layouts: "
        f"{known}; columns found: {listed}",
    )


def year_from_name(path: str | Path) -> str | None:
    """The financial year a file's name gives (``2023_2024.csv``, ``..._2025_26.csv``), or None."""
    for m in re.finditer(r"(?<!\d)(20\d\d)[_\-/ ]?(20\d\d|\d\d)(?!\d)", Path(path).name):
        first, second = int(m.group(1)), int(m.group(2))
        if second % 100 == (first + 1) % 100:
            return f"{first}/{(first + 1) % 100:02d}"
    return None


def known_icb_codes() -> list[str]:
    """ICB codes of every shipped geography (2022-2026 and April 2026 ICBs, proposed areas)."""
    from alloc.inputs.geography import shipped_area_codes, shipped_geographies

    return sorted({c for name in shipped_geographies() for c in shipped_area_codes(name)})


def embedded_icb_codes() -> list[str]:
    """ICB codes of the embedded dataset (``data/icbs.csv``), in its order."""
    from alloc.resources import data_dir

    return pd.read_csv(data_dir() / "icbs.csv", dtype=str)["code"].str.strip().tolist()


def read_practice_weighted_populations(
    path: str | Path, icb_codes: list[str] | None = None
) -> pd.DataFrame:
    """Read NHS England's practice-level weighted-population file, in any known layout.

    Parameters
    ----------
    path : path
        CSV in one of the :data:`LAYOUTS` (UTF-8, with or without a byte-order mark): a practice
        code, an ICB code, a population and at least one ``* WP`` column.
    icb_codes : list of str, optional
        Valid ICB codes; default those of every shipped geography (:func:`known_icb_codes`).

    Returns
    -------
    pandas.DataFrame
        One row per practice: ``practice``, ``icb`` (and ``practice_name``, ``icb_name``,
        ``region``, ``region_code``, ``lat``, ``lon`` [degrees], ``pcn``, ``lad_code``,
        ``lad_name`` when present), ``gp_pop`` [persons] and ``wp_<component>`` [weighted
        persons] in the order of :data:`WP_COMPONENTS`. ``attrs``: ``source`` (the path),
        ``layout`` (the layout's name), ``year`` (the financial year from the file name, else the
        layout's only year, else None) and ``columns`` (our name -> the file's header).

    Raises
    ------
    AllocError
        Missing file, unrecognised layout, duplicated practice, unknown ICB code, a non-numeric
        or non-finite value, a non-positive population, a negative weighted population, a value
        outside its plausible range or coordinates outside England
        (:mod:`alloc.inputs.limits`); the message names the file, the column and the first
        practice at fault.
    """
    path = Path(path)
    if not path.is_file():
        raise AllocError(
            path,
            "file",
            "expected NHS England's practice-level weighted-population CSV; it does not exist",
        )
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        reason = " ".join(str(exc).split())
        raise AllocError(path, "file", f"expected a readable CSV file ({reason})") from None
    raw.columns = [c.strip().lstrip("\ufeff") for c in raw.columns]
    layout, header_of = detect_layout(list(raw.columns), path)
    wp_names = _wp_names()
    wp_header: dict[str, str] = {}
    for header in raw.columns:
        component = wp_names.get(_norm(header))
        if component is None:
            continue
        if component in wp_header:
            raise AllocError(
                path,
                header,
                f"two columns give {component}: '{wp_header[component]}' and '{header}'",
            )
        wp_header[component] = header
    if not wp_header:
        raise AllocError(
            path,
            "* WP",
            "expected at least one weighted-population column (one of "
            f"{', '.join(c for c in COLUMN_MAP if c != 'Population')}, or the names in "
            "alloc.inputs.nhse.WP_COMPONENTS followed by WP)",
        )
    raw = raw[(raw.apply(lambda c: c.str.strip()) != "").any(axis=1)].reset_index(drop=True)
    if raw.empty:
        raise AllocError(path, "file", "expected at least one practice row")
    out = pd.DataFrame({f: raw[header_of[f]].str.strip() for f in ID_FIELDS if f in header_of})
    dup = out["practice"].duplicated()
    if dup.any():
        raise AllocError(
            path,
            header_of["practice"],
            f"expected one row per practice, found '{out['practice'][dup].iloc[0]}' twice",
        )
    codes = set(icb_codes if icb_codes is not None else known_icb_codes())
    unknown = ~out["icb"].isin(codes)
    if unknown.any():
        row = int(np.argmax(unknown.to_numpy()))
        raise AllocError(
            path,
            header_of["icb"],
            f"unknown ICB code '{out['icb'].iloc[row]}' for practice "
            f"{out['practice'].iloc[row]} (expected one of the {len(codes)} ICB codes of "
            "the shipped geographies, `alloc list icbs --geography NAME`)",
        )

    def practice_at(row: int) -> str:
        return f"for practice {out['practice'].iloc[row]}"

    value_columns = {"gp_pop": header_of["gp_pop"]}
    value_columns.update((c, wp_header[c]) for c in WP_COMPONENTS if c in wp_header)
    for name, col in value_columns.items():
        values = pd.to_numeric(raw[col].str.strip(), errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise AllocError(
                path,
                col,
                f"expected a finite number, found '{raw[col].iloc[row]}' {practice_at(row)}",
            )
        if name == "gp_pop" and (values <= 0).any():
            row = int(np.argmax(values <= 0))
            raise AllocError(
                path,
                col,
                f"expected a positive population, found {values[row]:g} {practice_at(row)}",
            )
        if (values < 0).any():
            row = int(np.argmax(values < 0))
            raise AllocError(
                path,
                col,
                f"expected a non-negative weighted population, found "
                f"{values[row]:g} {practice_at(row)}",
            )
        limits.check_range(
            values,
            limits.PERSONS if name == "gp_pop" else limits.WEIGHTED_PERSONS,
            path,
            col,
            practice_at,
        )
        out[name] = values
    for name, rng in (("lat", limits.LATITUDE), ("lon", limits.LONGITUDE)):
        if name in out:
            text = out[name]
            values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
            bad = np.isnan(values) & (text != "").to_numpy()
            if bad.any():
                row = int(np.argmax(bad))
                raise AllocError(
                    path,
                    header_of[name],
                    f"expected a number (degrees), found '{text.iloc[row]}' {practice_at(row)}",
                )
            limits.check_range(values, rng, path, header_of[name], practice_at)
            out[name] = values
    out.attrs["source"] = str(path)
    out.attrs["layout"] = layout.name
    out.attrs["year"] = year_from_name(path) or (
        layout.years[0] if len(layout.years) == 1 else None
    )
    out.attrs["columns"] = {**header_of, **wp_header}
    return out


def _value_columns(frame: pd.DataFrame) -> list[str]:
    return ["gp_pop"] + [c for c in frame.columns if c.startswith("wp_")]


def aggregate_to_icb(practices: pd.DataFrame) -> pd.DataFrame:
    """Sum practices to ICBs: ``gp_pop`` [persons] and ``wp_*`` [weighted persons] per ICB.

    ``X_ICB = sum_{p in ICB} X_p`` for every value column; index ``icb`` (sorted).
    """
    return practices.groupby("icb", sort=True)[_value_columns(practices)].sum()


def need_indices(frame: pd.DataFrame, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Need index of every weighted-population column [index, reference = 1].

    ``NI_a = (WP_a / Pop_a) / (WP_ref / Pop_ref)`` per row ``a`` of ``frame`` (practices, places
    or ICBs), with the reference totals summed over ``reference`` (default: ``frame`` itself,
    i.e. England when ``frame`` covers all practices or all ICBs). Columns are the ``wp_*``
    names with the prefix ``ni_``.
    """
    reference = frame if reference is None else reference
    cols = [c for c in frame.columns if c.startswith("wp_")]
    pop_ref = reference["gp_pop"].sum()
    out = pd.DataFrame(index=frame.index)
    for col in cols:
        out["ni_" + col.removeprefix("wp_")] = (frame[col] / frame["gp_pop"]) / (
            reference[col].sum() / pop_ref
        )
    return out


def read_places(path: str | Path) -> pd.Series:
    """Read a place definition: CSV with columns ``practice`` (or ``Practice_Code``) and ``place``.

    Returns a Series practice code -> place name.
    """
    path = Path(path)
    if not path.is_file():
        raise AllocError(path, "file", "expected a CSV of practice,place rows; it does not exist")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame.columns = [c.strip() for c in frame.columns]
    frame = frame.rename(columns={"Practice_Code": "practice"})
    for col in ("practice", "place"):
        if col not in frame.columns:
            raise AllocError(
                path, col, f"expected a column '{col}'; columns found: {', '.join(frame.columns)}"
            )
    frame = frame.apply(lambda c: c.str.strip())
    dup = frame["practice"].duplicated()
    if dup.any():
        raise AllocError(
            path,
            "practice",
            f"practice '{frame['practice'][dup].iloc[0]}' is assigned to more than one place",
        )
    blank = frame["place"] == ""
    if blank.any():
        raise AllocError(
            path, "place", f"practice '{frame['practice'][blank].iloc[0]}' has a blank place name"
        )
    series = frame.set_index("practice")["place"]
    series.attrs["source"] = str(path)
    return series


UNASSIGNED = "(unassigned)"


def place_indices(practices: pd.DataFrame, places: pd.Series | dict) -> pd.DataFrame:
    """Aggregate practices to user-defined places and index each place against its ICB.

    Parameters
    ----------
    practices : pandas.DataFrame
        From :func:`read_practice_weighted_populations`.
    places : pandas.Series or dict
        Practice code -> place name. A place must lie within one ICB. In an ICB with at least
        one place, practices not assigned form the place ``"(unassigned)"``; ICBs without places
        are left out.

    Returns
    -------
    pandas.DataFrame
        Index (icb, place): ``n_practices``, ``gp_pop`` [persons], ``wp_*`` [weighted persons],
        ``ni_*`` the place index relative to the ICB
        ``(WP_place / Pop_place) / (WP_ICB / Pop_ICB)`` [index, ICB = 1] and ``ni_*_england``
        the index relative to England ``(WP_place / Pop_place) / (WP_Eng / Pop_Eng)``.

    Raises
    ------
    AllocError
        A place names a practice not in the file, or spans more than one ICB.
    """
    places = pd.Series(places, dtype=object) if isinstance(places, dict) else places
    source = places.attrs.get("source", "places")
    known = set(practices["practice"])
    unknown = [p for p in places.index if p not in known]
    if unknown:
        raise AllocError(
            source, "practice", f"practice '{unknown[0]}' is not in the practice-level file"
        )
    icb_of = practices.set_index("practice")["icb"]
    spans = pd.DataFrame({"place": places.to_numpy(), "icb": icb_of.loc[places.index].to_numpy()})
    n_icbs = spans.groupby("place")["icb"].nunique()
    if (n_icbs > 1).any():
        place = n_icbs[n_icbs > 1].index[0]
        which = sorted(spans.loc[spans["place"] == place, "icb"].unique())
        raise AllocError(
            source,
            "place",
            f"place '{place}' spans more than one ICB "
            f"({', '.join(which)}); a place must lie within one ICB",
        )
    icbs = sorted(spans["icb"].unique())
    sub = practices[practices["icb"].isin(icbs)].copy()
    sub["place"] = sub["practice"].map(places).fillna(UNASSIGNED)
    values = _value_columns(practices)
    grouped = sub.groupby(["icb", "place"], sort=True)
    table = grouped[values].sum()
    table.insert(0, "n_practices", grouped.size())
    icb_totals = aggregate_to_icb(sub)
    cols = [c for c in values if c.startswith("wp_")]
    pop_eng = practices["gp_pop"].sum()
    for col in cols:
        name = col.removeprefix("wp_")
        icb_rate = (
            (icb_totals[col] / icb_totals["gp_pop"])
            .reindex(table.index.get_level_values("icb"))
            .to_numpy()
        )
        rate = (table[col] / table["gp_pop"]).to_numpy()
        table["ni_" + name] = rate / icb_rate
        table["ni_" + name + "_england"] = rate / (practices[col].sum() / pop_eng)
    return table


def to_weighted_populations_rows(icb_frame: pd.DataFrame, year_label: str) -> pd.DataFrame:
    """ICB sums as rows of the dataset's ``weighted_populations.csv`` (code, year, gp_pop, wp_*).

    Values are rounded half-up to 0.1, NHS England's published precision.
    """
    out = icb_frame.copy()
    for col in out.columns:
        out[col] = round_half_up_decimals(out[col].to_numpy(), 1)
    out.insert(0, "year", year_label)
    return out.rename_axis("code").reset_index()


#: Columns of the practice table ``data/practices.csv`` (alloc.inputs.geography), in order.
PRACTICE_TABLE_COLUMNS = ["practice_code", "icb_2025", "lad_code", "lad_name", "lat", "lon"] + [
    "gp_pop",
    *WP_COMPONENTS,
]


def practice_table(practices: pd.DataFrame) -> pd.DataFrame:
    """Practices as rows of the practice table ``data/practices.csv``, sorted by practice code.

    ``icb_2025`` is the file's ICB (the 42 ICB codes were the same from July 2022 to March
    2026); ``lad_code``/``lad_name`` are empty when the file has no district columns; ``wp_*``
    columns the file lacks are left out. Every practice needs coordinates (the practice table
    places areas on maps and carries them between geographies).

    Raises
    ------
    AllocError
        The file has no coordinates, or a practice has none.
    """
    source = practices.attrs.get("source", "practice file")
    headers = practices.attrs.get("columns", {})
    for col in ("lat", "lon"):
        if col not in practices:
            raise AllocError(
                source,
                "Latitude" if col == "lat" else "Longitude",
                "expected practice coordinates (the practice table needs them); the column is "
                "missing",
            )
        blank = practices[col].isna().to_numpy()
        if blank.any():
            row = int(np.argmax(blank))
            raise AllocError(
                source,
                headers.get(col, col),
                f"expected coordinates for every practice; practice "
                f"{practices['practice'].iloc[row]} has none",
            )
    table = pd.DataFrame(
        {
            "practice_code": practices["practice"],
            "icb_2025": practices["icb"],
            "lad_code": practices.get("lad_code", ""),
            "lad_name": practices.get("lad_name", ""),
        }
    )
    for col in PRACTICE_TABLE_COLUMNS[4:]:
        if col in practices:
            table[col] = practices[col]
    return table.sort_values("practice_code", kind="mergesort").reset_index(drop=True)


def implied_cost_adjustment(practices: pd.DataFrame) -> pd.DataFrame:
    """Implied unavoidable-cost index of NHS England's core target per ICB [index, mean 1].

    NHS England's overall core weighted population (``Final WP``) includes the market forces
    factor, remoteness and PFI cost adjustments; its need components do not (ICB allocation tool
    FAQ). This **derived** index is the part of ``Final WP`` a linear combination of the need
    components does not explain:

    1. least squares over practices, no intercept:
       ``FinalWP_p ~ sum_k beta_k WP_k,p`` for k in :data:`CORE_NEED_COMPONENTS`;
    2. per ICB ``c_i = sum_{p in i} FinalWP_p / sum_{p in i} fitted_p``;
    3. rescaled so the population-weighted mean over ICBs is 1.

    It understates the real MFF range (the fit absorbs the part of the cost adjustment correlated
    with need), mixes MFF with remoteness and PFI, and is a core, not specialised, adjustment.
    """
    needed = CORE_NEED_COMPONENTS + ["wp_core_overall"]
    missing = [c for c in needed if c not in practices.columns]
    if missing:
        raise AllocError(
            practices.attrs.get("source", "practices"),
            missing[0],
            "needed to derive the implied cost adjustment",
        )
    x = practices[CORE_NEED_COMPONENTS].to_numpy()
    y = practices["wp_core_overall"].to_numpy()
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    frame = pd.DataFrame(
        {"icb": practices["icb"], "final": y, "fitted": x @ beta, "gp_pop": practices["gp_pop"]}
    )
    sums = frame.groupby("icb", sort=True)[["final", "fitted", "gp_pop"]].sum()
    index = sums["final"] / sums["fitted"]
    index = index / ((index * sums["gp_pop"]).sum() / sums["gp_pop"].sum())
    return pd.DataFrame({"mff_index": index}).rename_axis("code")
