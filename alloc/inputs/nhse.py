"""NHS England file formats: the practice-level weighted-population file of the ICB allocation tool.

NHS England publishes, with its ICB place-based allocation tool
(github.com/nhsengland/ICB_Allocation_Tool_update, ``data/2025_2026.csv``; Open Government
Licence), one row per GP practice with its ICB, its registered population projected to the
allocation year and the weighted population of each allocation component. This module reads that
format, aggregates practices to ICBs and to user-defined *places*, and computes need indices as
NHS England defines them (ICB allocation tool FAQ):

* national need index of an area ``a`` (practice, place or ICB)::

      NI_a = (WP_a / Pop_a) / (WP_England / Pop_England)

* place index relative to its ICB::

      NI_place = (WP_place / Pop_place) / (WP_ICB / Pop_ICB)

Column names are mapped to the dataset vocabulary of ``data/weighted_populations.csv``
(``gp_pop``, ``wp_<component>``); see :data:`COLUMN_MAP`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from alloc.errors import AllocError
from alloc.rounding import round_half_up_decimals

#: NHS England column -> dataset name. ``Population`` is the registered population projected to
#: the allocation year [persons]; every ``* WP`` column is a weighted population [weighted persons].
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
#: Identifying columns kept when present (NHS England name -> our name).
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


def _embedded_icb_codes() -> list[str]:
    from alloc.resources import data_dir

    return pd.read_csv(data_dir() / "icbs.csv", dtype=str)["code"].str.strip().tolist()


def read_practice_weighted_populations(
    path: str | Path, icb_codes: list[str] | None = None
) -> pd.DataFrame:
    """Read NHS England's practice-level weighted-population file.

    Parameters
    ----------
    path : path
        CSV in the format of the ICB allocation tool's ``data/<yyyy>_<yyyy>.csv`` (UTF-8, with or
        without a byte-order mark): ``Practice_Code``, ``ICB``, ``Population`` and any of the
        ``* WP`` columns in :data:`COLUMN_MAP`.
    icb_codes : list of str, optional
        Valid ICB ODS codes; default the 42 ICBs of the embedded dataset (``data/icbs.csv``).

    Returns
    -------
    pandas.DataFrame
        One row per practice: ``practice``, ``icb`` (and ``practice_name``, ``icb_name``,
        ``region``, ``lat``, ``lon``, ``pcn`` when present), ``gp_pop`` [persons] and
        ``wp_<component>`` [weighted persons]. ``attrs["source"]`` is the path.

    Raises
    ------
    AllocError
        Missing file or column, duplicated practice, unknown ICB code, a non-numeric or
        non-finite value, a non-positive population or a negative weighted population; the
        message names the file, the column and the first practice at fault.
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
    for col in REQUIRED:
        if col not in raw.columns:
            raise AllocError(
                path, col, f"expected a column '{col}'; columns found: {', '.join(raw.columns)}"
            )
    wp_cols = [c for c in COLUMN_MAP if c != "Population" and c in raw.columns]
    if not wp_cols:
        raise AllocError(
            path,
            "* WP",
            "expected at least one weighted-population column (one of "
            f"{', '.join(c for c in COLUMN_MAP if c != 'Population')})",
        )
    if raw.empty:
        raise AllocError(path, "file", "expected at least one practice row")
    out = pd.DataFrame({ID_MAP[c]: raw[c].str.strip() for c in ID_MAP if c in raw.columns})
    dup = out["practice"].duplicated()
    if dup.any():
        raise AllocError(
            path,
            "Practice_Code",
            f"expected one row per practice, found '{out['practice'][dup].iloc[0]}' twice",
        )
    codes = set(icb_codes if icb_codes is not None else _embedded_icb_codes())
    unknown = ~out["icb"].isin(codes)
    if unknown.any():
        row = int(np.argmax(unknown.to_numpy()))
        raise AllocError(
            path,
            "ICB",
            f"unknown ICB code '{out['icb'].iloc[row]}' for practice "
            f"{out['practice'].iloc[row]} (expected one of the {len(codes)} ICB codes "
            "of icbs.csv)",
        )
    for col in ["Population"] + wp_cols:
        values = pd.to_numeric(raw[col].str.strip(), errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise AllocError(
                path,
                col,
                f"expected a finite number, found '{raw[col].iloc[row]}' "
                f"for practice {out['practice'].iloc[row]}",
            )
        if col == "Population" and (values <= 0).any():
            row = int(np.argmax(values <= 0))
            raise AllocError(
                path,
                col,
                f"expected a positive population, found {values[row]:g} "
                f"for practice {out['practice'].iloc[row]}",
            )
        if (values < 0).any():
            row = int(np.argmax(values < 0))
            raise AllocError(
                path,
                col,
                f"expected a non-negative weighted population, found "
                f"{values[row]:g} for practice {out['practice'].iloc[row]}",
            )
        out[COLUMN_MAP[col]] = values
    for col in ("lat", "lon"):
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce")
    out.attrs["source"] = str(path)
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
