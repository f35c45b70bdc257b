"""Geographies: which area each GP practice belongs to, and per-area inputs carried between them.

A geography is data, not code: a mapping from GP practice to area, with the areas' codes, names,
regions and ONS codes. Shipped geographies live in ``data/geographies/<name>/`` (``meta.toml``,
``areas.csv``, ``practices.csv``; see ``data/geographies/README.md``): ``icb_2025`` (the 42 ICBs
of 2022-2026), ``icb_2026`` (the 36 ICBs from 1 April 2026) and ``icb_2027_proposed``. A user
brings a folder of the same files, or NHS England's monthly practice mapping
``gp-reg-pat-prac-map.csv`` (columns ``PRACTICE_CODE``, ``ICB_CODE``, ``ICB_NAME``, ...).

Re-footprinting uses the practice table ``data/practices.csv`` (registered and weighted
populations per practice, NHS England 2025/26). With ``S(p)`` and ``T(p)`` the area of practice
``p`` in the source and target geographies, and ``w_p`` a per-practice key, the **crosswalk**

    M_w[a, s] = sum_{p: S(p)=s, T(p)=a} w_p / sum_{p: S(p)=s} w_p

is the share of source area ``s`` that goes to target area ``a``; every column sums to 1, so
national totals never change. An additive figure ``x`` [persons, GBP] is carried as
``x_new = M_w @ x``: populations with the key of the same name (exact sums over practices),
money with the weighted population named by the service line's ``footprint_key`` (a split ICB's
money follows its parts' share of that weighted population; a merger is the sum). An index (the
market forces factor) becomes the registered-population-weighted mean of its parts.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from alloc.errors import AllocError
from alloc.inputs import limits
from alloc.inputs.dataset import read_csv
from alloc.resources import data_dir, suggest

#: ODS codes are 3 or 5 characters; placeholder codes of proposed areas (``P27-1``) up to 5.
AREA_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,4}$")
#: A user mapping may leave out practices (closed since, or omitted) holding at most this share of
#: the national registered population; they are carried to the area holding most of their old ICB.
UNMAPPED_LIMIT = 0.01
#: Keep the dataset's own footprint (no re-footprinting).
AS_DATA = "as_data"

PRACTICE_COLUMNS = ["practice_code", "icb_2025", "lat", "lon", "gp_pop"]
AREA_COLUMNS = ["code", "name", "region", "region_code", "ons_code"]
#: NHS England / NHS Digital monthly practice mapping (``gp-reg-pat-prac-map.csv``): our name ->
#: theirs. Only ``practice_code`` and ``area`` are required.
MONTHLY_COLUMNS = {
    "practice_code": "PRACTICE_CODE",
    "area": "ICB_CODE",
    "name": "ICB_NAME",
    "region": "COMM_REGION_NAME",
    "region_code": "COMM_REGION_CODE",
    "ons_code": "ONS_ICB_CODE",
}


@dataclass(frozen=True)
class MappingReport:
    """How a user mapping met the practice table (empty for shipped geographies).

    ``unknown``: practices in the mapping but not in the practice table (opened since it was
    made; they hold no population here). ``carried``: practices of the table the mapping leaves
    out, with the area each was carried to. ``carried_population`` [persons] and
    ``carried_share`` [fraction of England] measure them.
    """

    unknown: tuple[str, ...] = ()
    carried: dict[str, str] = field(default_factory=dict)
    carried_population: float = 0.0
    carried_share: float = 0.0

    def notes(self) -> list[str]:
        """One line per kind of mismatch, for the CLI and the result's provenance."""
        out = []
        if self.unknown:
            out.append(
                f"{len(self.unknown)} practice(s) in the mapping are not in the practice table "
                f"(opened since 2025/26?) and carry no population: "
                f"{_first(self.unknown)}"
            )
        if self.carried:
            areas = sorted(set(self.carried.values()))
            out.append(
                f"{len(self.carried)} practice(s) of the practice table are not in the mapping "
                f"({self.carried_population:,.0f} registered persons, "
                f"{100 * self.carried_share:.3f}% of England) and were carried to the area "
                f"holding most of their 2025/26 ICB ({', '.join(areas)}): "
                f"{_first(sorted(self.carried))}"
            )
        return out


def _first(codes, k: int = 10) -> str:
    codes = list(codes)
    return ", ".join(codes[:k]) + (f" and {len(codes) - k} more" if len(codes) > k else "")


@dataclass(frozen=True)
class Geography:
    """A practice -> area mapping with its areas.

    ``areas`` is indexed by area code with columns ``name``, ``region``, ``region_code``,
    ``ons_code``, ``lat``, ``lon`` [degrees; registered-population-weighted centroid of the
    area's practices]. ``practice_area`` maps every practice of the practice table to an area.
    """

    name: str
    description: str
    status: str  # "real", "proposed" or "user"
    source: str
    areas: pd.DataFrame
    practice_area: pd.Series
    report: MappingReport = field(default_factory=MappingReport)

    @property
    def codes(self) -> list[str]:
        return self.areas.index.tolist()


def geographies_dir() -> Path:
    """Folder of the shipped geographies."""
    return data_dir() / "geographies"


def shipped_geographies() -> list[str]:
    """Names of the shipped geographies."""
    return sorted(p.name for p in geographies_dir().iterdir() if (p / "meta.toml").is_file())


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _read_csv(path: Path, required: list[str], what: str) -> pd.DataFrame:
    return read_csv(path, required, f"expected {what}; it does not exist")


def load_practices(path: str | Path | None = None) -> pd.DataFrame:
    """Read the practice table (default ``data/practices.csv``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``practice_code``: ``icb_2025``, ``lat``, ``lon`` [degrees], ``gp_pop``
        [persons] and any ``wp_<component>`` [weighted persons] columns, as float where numeric.
        Coordinates must lie inside England (:data:`alloc.inputs.limits.LATITUDE`,
        :data:`~alloc.inputs.limits.LONGITUDE`).
    """
    path = Path(path) if path is not None else data_dir() / "practices.csv"
    key = ("practices", _signature(path))
    if key[1] is not None and key in _CACHE:
        return _CACHE[key].copy()
    frame = _read_practices(path)
    frame.attrs["signature"] = key[1]
    if key[1] is not None:
        _CACHE[key] = frame
    return frame.copy()


#: Practice tables and shipped geographies already read in this process, keyed by the files'
#: paths, modification times and sizes (a changed file is read again). Each costs ~0.1-0.2 s to
#: read, and a run reads the practice table and two geographies.
_CACHE: dict = {}


def _signature(path: Path) -> tuple | None:
    """``(path, mtime, size)`` of a file, or None when it cannot be read (errors come later)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def _read_practices(path: Path) -> pd.DataFrame:
    frame = _read_csv(path, PRACTICE_COLUMNS, "the practice table (data/practices.csv layout)")
    dup = frame["practice_code"].duplicated()
    if dup.any():
        raise AllocError(
            path,
            "practice_code",
            f"expected one row per practice, found '{frame['practice_code'][dup].iloc[0]}' twice",
        )
    numeric = ["lat", "lon", "gp_pop"] + [c for c in frame.columns if c.startswith("wp_")]
    for col in numeric:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if col not in ("lat", "lon"):  # coordinates: checked against England's extent below
            bad |= values < 0
        if bad.any():
            row = int(np.argmax(bad))
            raise AllocError(
                path,
                col,
                f"expected a finite{'' if col in ('lat', 'lon') else ' non-negative'} number, "
                f"found '{frame[col].iloc[row]}' for "
                f"practice {frame['practice_code'].iloc[row]} (data row {row + 1})",
            )
        if col in ("lat", "lon"):
            limits.check_range(
                values,
                limits.LATITUDE if col == "lat" else limits.LONGITUDE,
                path,
                col,
                lambda row: f"for practice {frame['practice_code'].iloc[row]} (data row {row + 1})",
            )
        frame[col] = values
    frame.attrs["source"] = str(path)
    return frame.set_index("practice_code")


def _read_areas(path: Path) -> pd.DataFrame:
    areas = _read_csv(path, AREA_COLUMNS, "the areas of a geography (code, name, region, ...)")
    bad = areas["code"][~areas["code"].str.fullmatch(AREA_CODE)]
    if len(bad):
        raise AllocError(
            path,
            "code",
            f"expected an area code of 1 to 5 capital letters, digits or '-' (ODS codes are 3 or "
            f"5 characters), found '{bad.iloc[0]}'",
        )
    dup = areas["code"].duplicated()
    if dup.any():
        raise AllocError(path, "code", f"area '{areas['code'][dup].iloc[0]}' appears twice")
    return areas.set_index("code")


def _read_folder(folder: Path, name: str, practices: pd.DataFrame) -> Geography:
    meta_path = folder / "meta.toml"
    meta = {}
    if meta_path.is_file():
        try:
            meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise AllocError(meta_path, "file", f"expected valid TOML ({exc})") from None
    areas = _read_areas(folder / "areas.csv")
    mapping = _read_mapping(
        folder / "practices.csv", {"practice_code": "practice_code", "area": "area"}
    )
    return _reconcile(
        meta.get("name", name),
        meta.get("description", ""),
        meta.get("status", "user"),
        str(folder),
        areas,
        mapping,
        practices,
        strict=meta.get("status") in ("real", "proposed"),
    )


def _read_mapping(path: Path, columns: dict[str, str]) -> pd.DataFrame:
    """Practice -> area rows (our names), refusing malformed files with file, row and practice."""
    frame = _read_csv(path, [columns["practice_code"], columns["area"]], "a practice mapping")
    frame = frame.rename(columns={v: k for k, v in columns.items() if v in frame.columns})
    for row, (practice, area) in enumerate(zip(frame["practice_code"], frame["area"]), start=2):
        if not practice:
            raise AllocError(path, f"row {row}", "expected a practice code, found an empty cell")
        if not area:
            raise AllocError(
                path,
                f"row {row}",
                f"practice {practice}: expected an area code, found an empty cell",
            )
        if not AREA_CODE.fullmatch(area):
            raise AllocError(
                path,
                f"row {row}",
                f"practice {practice}: expected an area code of 1 to 5 capital letters, digits or "
                f"'-', found '{area}'",
            )
    first = frame.drop_duplicates(["practice_code", "area"])
    twice = first["practice_code"].duplicated(keep=False)
    if twice.any():
        practice = first.loc[twice, "practice_code"].iloc[0]
        rows = [i + 2 for i in frame.index[frame["practice_code"] == practice]]
        areas = sorted(first.loc[first["practice_code"] == practice, "area"])
        raise AllocError(
            path,
            f"rows {', '.join(map(str, rows))}",
            f"practice {practice} is mapped to more than one area ({', '.join(areas)}); "
            "expected one area per practice",
        )
    return first.reset_index(drop=True)


def _read_monthly(path: Path, practices: pd.DataFrame, old: Geography) -> Geography:
    """NHS England's ``gp-reg-pat-prac-map.csv`` layout (or ``practice_code, area``)."""
    head = _read_csv(path, [], "a practice mapping").columns
    if MONTHLY_COLUMNS["practice_code"] in head:
        columns = {
            k: v for k, v in MONTHLY_COLUMNS.items() if v in head or k in ("practice_code", "area")
        }
    elif "practice_code" in head and "area" in head:
        columns = {
            k: k
            for k in ("practice_code", "area", "name", "region", "region_code", "ons_code")
            if k in head or k in ("practice_code", "area")
        }
    else:
        raise AllocError(
            path,
            "columns",
            "expected NHS England's practice mapping layout (PRACTICE_CODE, ICB_CODE, and "
            "optionally ICB_NAME, COMM_REGION_NAME, COMM_REGION_CODE, ONS_ICB_CODE) or the "
            f"columns practice_code, area; found: {', '.join(head)}",
        )
    mapping = _read_mapping(path, columns)
    areas = _areas_from_mapping(mapping, practices, old)
    return _reconcile(
        path.stem,
        f"practice mapping {path.name}",
        "user",
        str(path),
        areas,
        mapping[["practice_code", "area"]],
        practices,
        strict=False,
    )


def _areas_from_mapping(mapping: pd.DataFrame, practices: pd.DataFrame, old: Geography):
    """Area table of a mapping file: its own names and regions where given, else the code and
    the region of the 2025/26 ICB holding most of the area's registered population."""
    joined = mapping.join(practices[["icb_2025", "gp_pop"]], on="practice_code")
    rows = []
    for code, group in joined.groupby("area", sort=True):
        first = group.iloc[0]
        known = group.dropna(subset=["gp_pop"])
        main = known.groupby("icb_2025")["gp_pop"].sum().idxmax() if len(known) else None
        fallback = old.areas.loc[main] if main in old.areas.index else None
        row = {"code": code}
        for col in ("name", "region", "region_code", "ons_code"):
            given = first.get(col, "") if col in group else ""
            if not given:
                given = "" if fallback is None or col in ("name", "ons_code") else fallback[col]
            row[col] = given or (code if col == "name" else "")
        rows.append(row)
    return pd.DataFrame(rows).set_index("code")


def _reconcile(
    name: str,
    description: str,
    status: str,
    source: str,
    areas: pd.DataFrame,
    mapping: pd.DataFrame,
    practices: pd.DataFrame,
    *,
    strict: bool,
) -> Geography:
    """Meet a mapping with the practice table: report unknown practices, carry missing ones."""
    where = f"{source}/practices.csv" if Path(source).is_dir() else source
    mapping = mapping.set_index("practice_code")["area"]
    undefined = sorted(set(mapping) - set(areas.index))
    if undefined:
        raise AllocError(
            where, "area", f"area '{undefined[0]}' has practices but is not in the area table"
        )
    unknown = tuple(sorted(set(mapping.index) - set(practices.index)))
    missing = practices.index.difference(mapping.index)
    if strict and (unknown or len(missing)):
        raise AllocError(
            where,
            "practice_code",
            f"expected exactly the practices of {practices.attrs.get('source', 'the practice table')}: "
            f"{len(unknown)} unknown ({_first(unknown)}), {len(missing)} missing "
            f"({_first(missing)}); rebuild with data/make_geographies.py",
        )
    population = float(practices.loc[missing, "gp_pop"].sum())
    share = population / float(practices["gp_pop"].sum())
    if share > UNMAPPED_LIMIT:
        raise AllocError(
            where,
            "practice_code",
            f"{len(missing)} practices of the practice table are not in the mapping, holding "
            f"{population:,.0f} registered persons ({100 * share:.2f}% of England; at most "
            f"{100 * UNMAPPED_LIMIT:g}% can be carried to a neighbouring area): "
            f"{_first(sorted(missing))}",
        )
    area = mapping.reindex(practices.index)
    carried = {}
    if len(missing):
        known = practices.loc[area.notna(), ["icb_2025", "gp_pop"]].assign(area=area.dropna())
        holder = known.groupby(["icb_2025", "area"])["gp_pop"].sum().reset_index()
        holder = holder.sort_values(["icb_2025", "gp_pop"], ascending=[True, False])
        holder = holder.drop_duplicates("icb_2025").set_index("icb_2025")["area"]
        for practice in missing:
            old_icb = practices.at[practice, "icb_2025"]
            if old_icb not in holder.index:
                raise AllocError(
                    where,
                    "practice_code",
                    f"no practice of 2025/26 ICB {old_icb} is mapped, so its practices "
                    f"({_first(practices.index[practices['icb_2025'] == old_icb])}) cannot be "
                    "placed; add them to the mapping",
                )
            carried[practice] = holder[old_icb]
        area = area.fillna(pd.Series(carried))
    used = set(area)  # once, not once per area (6,000 practices x 42 areas: 0.3 s per run)
    empty = [c for c in areas.index if c not in used]
    if empty:
        raise AllocError(where, "area", f"area '{empty[0]}' has no practice of the practice table")
    weights = practices["gp_pop"]
    lat = (practices["lat"] * weights).groupby(area).sum() / weights.groupby(area).sum()
    lon = (practices["lon"] * weights).groupby(area).sum() / weights.groupby(area).sum()
    areas = areas.copy()
    areas["lat"], areas["lon"] = lat.round(4), lon.round(4)
    report = MappingReport(unknown, carried, population, share)
    return Geography(name, description, status, source, areas.sort_index(), area, report)


def load_geography(
    name_or_path: str | Path = "icb_2026",
    practices: pd.DataFrame | None = None,
    base: Path | None = None,
) -> Geography:
    """A shipped geography by name, or a user's mapping by path.

    Parameters
    ----------
    name_or_path : str or Path
        A shipped name (:func:`shipped_geographies`), a folder holding ``areas.csv`` and
        ``practices.csv`` (and optionally ``meta.toml``), or a practice mapping CSV in NHS
        England's ``gp-reg-pat-prac-map.csv`` layout (or with columns ``practice_code, area``).
    practices : pandas.DataFrame, optional
        The practice table (:func:`load_practices`); default ``data/practices.csv``.
    base : Path, optional
        Folder against which a relative path is tried first (the scenario's folder).

    Raises
    ------
    AllocError
        An unknown name (listing the shipped ones), a malformed mapping (naming the file, row and
        practice), or a mapping that leaves out more than :data:`UNMAPPED_LIMIT` of England's
        registered population.
    """
    practices = practices if practices is not None else load_practices()
    text = str(name_or_path)
    if text in shipped_geographies():
        return _shipped(text, practices)
    path = Path(text)
    if not path.is_absolute() and base is not None and (base / path).exists():
        path = base / path
    if path.is_dir():
        return _read_folder(path, path.name, practices)
    if path.suffix.lower() == ".csv":
        if not path.is_file():
            raise AllocError(
                path, "geography", "expected a practice mapping CSV; it does not exist"
            )
        old = _read_folder(geographies_dir() / "icb_2025", "icb_2025", practices)
        return _read_monthly(path, practices, old)
    raise AllocError(
        "geography",
        text,
        f"expected a shipped geography ({', '.join(shipped_geographies())}), a folder with "
        f"areas.csv and practices.csv, or a practice mapping CSV.{suggest(text, shipped_geographies())}"
        " `alloc list geographies` shows them",
    )


def shipped_area_codes(name: str) -> list[str]:
    """Area codes of a shipped geography (its ``areas.csv``; the practices are not read)."""
    return _read_areas(geographies_dir() / name / "areas.csv").index.tolist()


def describe_geographies() -> list[tuple[str, int, str, str]]:
    """``(name, number of areas, status, description)`` of each shipped geography."""
    out = []
    for name in shipped_geographies():
        folder = geographies_dir() / name
        meta = tomllib.loads((folder / "meta.toml").read_text(encoding="utf-8"))
        n_areas = len(_read_areas(folder / "areas.csv"))
        out.append((name, n_areas, meta.get("status", ""), meta.get("description", "")))
    return out


# --------------------------------------------------------------------------------------------
# Crosswalks
# --------------------------------------------------------------------------------------------


def _shipped(name: str, practices: pd.DataFrame) -> Geography:
    """A shipped geography met with ``practices``; cached when the table came from a file."""
    signature = practices.attrs.get("signature")
    key = ("geography", name, signature)
    if signature is not None and key in _CACHE:
        return _CACHE[key]
    geography = _read_folder(geographies_dir() / name, name, practices)
    if signature is not None:
        _CACHE[key] = geography
    return geography


def source_geography(codes: list[str], practices: pd.DataFrame) -> Geography:
    """The shipped geography whose areas are exactly ``codes`` (a dataset's own footprint)."""
    for name in shipped_geographies():
        folder = geographies_dir() / name
        if set(_read_areas(folder / "areas.csv").index) == set(codes):
            return _shipped(name, practices)
    raise AllocError(
        "dataset",
        "code",
        f"the dataset's {len(codes)} area codes match no shipped geography "
        f'({", ".join(shipped_geographies())}); set geography = "{AS_DATA}" to keep them as '
        "they are",
    )


def crosswalk(
    practices: pd.DataFrame,
    source: Geography,
    target: Geography,
    key: str = "gp_pop",
) -> pd.DataFrame:
    """Share of each source area going to each target area, by the practice key ``key``.

    Returns
    -------
    pandas.DataFrame
        ``M[a, s]`` (index: target codes; columns: source codes) [fraction]; each column sums
        to 1 (module docstring). A source area whose key sums to zero falls back to ``gp_pop``.
    """
    frame = pd.DataFrame(
        {"s": source.practice_area, "t": target.practice_area, "w": practices[key]}
    )
    sums = frame.pivot_table(index="t", columns="s", values="w", aggfunc="sum", fill_value=0.0)
    sums = sums.reindex(index=target.codes, columns=source.codes, fill_value=0.0)
    totals = sums.sum(axis=0)
    if (totals <= 0).any() and key != "gp_pop":
        fallback = crosswalk(practices, source, target, "gp_pop")
        zero = totals.index[totals <= 0]
        shares = sums / totals.where(totals > 0, 1.0)
        shares[zero] = fallback[zero]
        return shares
    return sums / totals


def carry(values: np.ndarray, matrix: pd.DataFrame) -> np.ndarray:
    """Carry an additive figure from source to target areas: ``M @ values`` along axis 0.

    ``values`` has the source areas (in ``matrix.columns`` order) on its first axis.
    """
    return np.tensordot(matrix.to_numpy(), values, axes=(1, 0))
