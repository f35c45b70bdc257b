"""Load and validate an input dataset (the embedded default or a user folder) into one Dataset.

A dataset folder holds these files (see ``data/README.md`` for the provenance of the defaults):

=========================  =====================================================================
``icbs.csv``               one row per ICB: code, ons_code, name, region, region_code, lat, lon
``services.csv``           one row per service line: service, service_name, programme_of_care,
                           pathway, national_share, cost_per_patient_gbp
``weighted_populations.csv``  ICB x financial year: code, year, gp_pop, wp_<component>...
``baseline.csv``           ICB x service line historic-cost baseline: code, service, year,
                           baseline_gbp [GBP, cash]
``patients.csv``           ICB x service line patients: code, service, year, patients
``assumptions.toml``       labelled assumptions: envelope_growth, population_growth,
                           gdp_deflator_growth, price_base
=========================  =====================================================================

Optional files (a dataset without them loads as before):

=============================  =================================================================
``age_sex_populations.csv``    ICB x year x sex x age band: code, year, sex (F/M), age_from
                               [years, first age of the band], persons. Gives the age-sex
                               structure the formula's age-sex cost curves act on.
``mff.csv``                    one row per ICB: code, mff_index [index, mean 1]: market forces
                               factor (unavoidable cost) used by formulas with an MFF exponent.
=============================  =================================================================

Every problem raises :class:`alloc.errors.AllocError` naming the file, the field and what was
expected. Numbers must also lie in plausible ranges (:mod:`alloc.inputs.limits`: money per ICB and
service line, coordinates inside England, populations, patients, the market forces factor), so a
value that would crash the run (a baseline of 1e28) is refused here, naming the file, the column,
the row and the range.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from alloc.errors import AllocError
from alloc.inputs import limits
from alloc.inputs.limits import Range, check_range
from alloc.inputs.years import parse_year, year_label
from alloc.resources import data_dir

ICB_COLUMNS = ["code", "ons_code", "name", "region", "region_code", "lat", "lon"]
SERVICE_COLUMNS = [
    "service",
    "service_name",
    "programme_of_care",
    "pathway",
    "national_share",
    "cost_per_patient_gbp",
]
POPULATION_COLUMNS = ["code", "year", "gp_pop"]
BASELINE_COLUMNS = ["code", "service", "year", "baseline_gbp"]
PATIENT_COLUMNS = ["code", "service", "year", "patients"]
ASSUMPTION_KEYS = ["envelope_growth", "population_growth", "gdp_deflator_growth", "price_base"]
DATA_FILES = [
    "icbs.csv",
    "services.csv",
    "weighted_populations.csv",
    "baseline.csv",
    "patients.csv",
    "assumptions.toml",
]
OPTIONAL_FILES = ["age_sex_populations.csv", "mff.csv"]
AGE_SEX_COLUMNS = ["code", "year", "sex", "age_from", "persons"]
MFF_COLUMNS = ["code", "mff_index"]


def read_csv(
    path: Path,
    required: list[str],
    missing: str = "expected this file in the dataset folder; it is missing",
) -> pd.DataFrame:
    """A CSV as text columns, stripped, with its required columns and at least one data row.

    Rows that are wholly empty (``,,,`` at the end of a file saved by Excel) are dropped. Every
    problem raises :class:`AllocError` naming the file and the column.
    """
    if not path.is_file():
        raise AllocError(path, "file", missing)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        reason = " ".join(str(exc).split())  # pandas' messages may span lines
        raise AllocError(path, "file", f"expected a readable CSV file ({reason})") from None
    frame.columns = [c.strip() for c in frame.columns]
    absent = [c for c in required if c not in frame.columns]
    if absent:
        raise AllocError(
            path,
            absent[0],
            f"expected a column '{absent[0]}'; columns found: {', '.join(frame.columns)}",
        )
    for col in frame.columns:
        frame[col] = frame[col].str.strip()
    frame = frame[(frame != "").any(axis=1)].reset_index(drop=True)
    if frame.empty:
        raise AllocError(path, "file", "expected at least one data row")
    return frame


def _numeric(
    frame: pd.DataFrame,
    col: str,
    path: Path,
    *,
    positive: bool = False,
    allow_negative: bool = False,
    within: Range | None = None,
) -> np.ndarray:
    """Column as float64, rejecting blanks, text, NaN, infinities and (by default) negatives.

    With ``within``, values outside that plausible range (:mod:`alloc.inputs.limits`) are refused
    too, naming the data row and its keys (code, service, year).
    """
    values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise AllocError(
            path,
            col,
            f"expected a finite number, found '{frame[col].iloc[row]}' at data row {row + 1}",
        )
    if positive and (values <= 0).any():
        row = int(np.argmax(values <= 0))
        raise AllocError(
            path, col, f"expected a positive number, found {values[row]:g} at data row {row + 1}"
        )
    if not allow_negative and (values < 0).any():
        row = int(np.argmax(values < 0))
        raise AllocError(
            path,
            col,
            f"expected a non-negative number, found {values[row]:g} at data row {row + 1}",
        )
    if within is not None:
        check_range(values, within, path, col, _where(frame))
    return values


def _where(frame: pd.DataFrame):
    """``at data row N (code QE1, service cancer)``: a row and the keys the file has."""
    keys = [k for k in ("code", "service", "year", "sex", "age_from") if k in frame.columns]

    def where(row: int) -> str:
        named = ", ".join(
            f"{k} {year_label(int(v)) if k == 'year' and isinstance(v, int | np.integer) else v}"
            for k in keys
            for v in [frame[k].iloc[row]]
        )
        return f"at data row {row + 1}" + (f" ({named})" if named else "")

    return where


def _check_keys(frame: pd.DataFrame, keys: list[str], path: Path) -> None:
    dup = frame.duplicated(subset=keys, keep=False)
    if dup.any():
        first = frame.loc[dup, keys].iloc[0].tolist()
        raise AllocError(
            path,
            "/".join(keys),
            f"expected one row per {' x '.join(keys)}, found "
            f"a duplicate for {' / '.join(map(str, first))}",
        )


def _check_codes(frame: pd.DataFrame, path: Path, codes: list[str], field: str = "code") -> None:
    present = set(frame[field])
    unknown = sorted(present - set(codes))
    if unknown:
        raise AllocError(path, field, f"unknown ICB code '{unknown[0]}' (not in icbs.csv)")
    missing = [c for c in codes if c not in present]
    if missing:
        raise AllocError(path, field, f"ICB '{missing[0]}' from icbs.csv is missing")


def _check_services(frame: pd.DataFrame, path: Path, services: list[str]) -> None:
    unknown = sorted(set(frame["service"]) - set(services))
    if unknown:
        raise AllocError(
            path, "service", f"unknown service line '{unknown[0]}' (not in services.csv)"
        )
    for code, group in frame.groupby("code", sort=False):
        missing = [s for s in services if s not in set(group["service"])]
        if missing:
            raise AllocError(
                path, "service", f"ICB '{code}' has no row for service line '{missing[0]}'"
            )


def _load_icbs(folder: Path) -> pd.DataFrame:
    path = folder / "icbs.csv"
    icbs = read_csv(path, ICB_COLUMNS)
    bad = icbs["code"][~icbs["code"].str.fullmatch(r"[A-Z0-9]{3}([A-Z0-9]{2})?")]
    if len(bad):
        raise AllocError(
            path, "code", f"expected an ODS code of 3 or 5 characters, found '{bad.iloc[0]}'"
        )
    _check_keys(icbs, ["code"], path)
    icbs["lat"] = _numeric(icbs, "lat", path, allow_negative=True, within=limits.LATITUDE)
    icbs["lon"] = _numeric(icbs, "lon", path, allow_negative=True, within=limits.LONGITUDE)
    return icbs


def _load_services(folder: Path) -> pd.DataFrame:
    path = folder / "services.csv"
    services = read_csv(path, SERVICE_COLUMNS)
    bad = services["service"][~services["service"].str.fullmatch(r"[a-z][a-z0-9_]*")]
    if len(bad):
        raise AllocError(
            path, "service", f"expected a lower_snake_case name, found '{bad.iloc[0]}'"
        )
    _check_keys(services, ["service"], path)
    services["national_share"] = _numeric(services, "national_share", path, within=limits.SHARE)
    services["cost_per_patient_gbp"] = _numeric(
        services, "cost_per_patient_gbp", path, positive=True, within=limits.COST_PER_PATIENT_GBP
    )
    if "footprint_key" not in services.columns:  # optional: see alloc.inputs.footprint
        services["footprint_key"] = ""
    return services


def _parse_years(frame: pd.DataFrame, path: Path) -> None:
    frame["year"] = [parse_year(v, str(path), "year") for v in frame["year"]]


def _load_populations(folder: Path, codes: list[str]) -> tuple[pd.DataFrame, list[str]]:
    path = folder / "weighted_populations.csv"
    frame = read_csv(path, POPULATION_COLUMNS)
    components = [c for c in frame.columns if c.startswith("wp_")]
    if not components:
        raise AllocError(
            path, "wp_*", "expected at least one weighted-population column named wp_<component>"
        )
    _parse_years(frame, path)
    _check_codes(frame, path, codes)
    _check_keys(frame, ["code", "year"], path)
    years = sorted(set(frame["year"]))
    if years != list(range(years[0], years[-1] + 1)):
        gap = next(y for y in range(years[0], years[-1] + 1) if y not in years)
        raise AllocError(
            path, "year", f"expected contiguous financial years; {year_label(gap)} is missing"
        )
    for code, group in frame.groupby("code", sort=False):
        if len(group) != len(years):
            missing = sorted(set(years) - set(group["year"]))[0]
            raise AllocError(path, "year", f"ICB '{code}' has no row for {year_label(missing)}")
    frame["gp_pop"] = _numeric(frame, "gp_pop", path, positive=True, within=limits.POPULATION)
    for col in components:
        frame[col] = _numeric(frame, col, path, positive=True, within=limits.WEIGHTED_POPULATION)
    return frame, components


def _load_by_service(
    folder: Path,
    name: str,
    columns: list[str],
    value: str,
    codes: list[str],
    services: list[str],
    within: Range,
) -> tuple[pd.DataFrame, int]:
    path = folder / name
    frame = read_csv(path, columns)
    _parse_years(frame, path)
    years = sorted(set(frame["year"]))
    if len(years) != 1:
        raise AllocError(
            path,
            "year",
            "expected a single base year for every row, found "
            f"{', '.join(year_label(y) for y in years)}",
        )
    _check_codes(frame, path, codes)
    _check_services(frame, path, services)
    _check_keys(frame, ["code", "service"], path)
    frame[value] = _numeric(frame, value, path, within=within)
    return frame, years[0]


def load_assumptions(path: Path) -> dict:
    """Read ``assumptions.toml``: each key a table with value, unit, status and basis."""
    if not path.is_file():
        raise AllocError(path, "file", "expected this file in the dataset folder; it is missing")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise AllocError(path, "file", f"expected valid TOML ({exc})") from None
    for key in ASSUMPTION_KEYS:
        entry = table.get(key)
        if not isinstance(entry, dict) or "value" not in entry:
            raise AllocError(
                path, key, "expected a table with at least 'value', 'unit', 'status' and 'basis'"
            )
        for meta in ("unit", "status", "basis"):
            if not isinstance(entry.get(meta), str) or not entry[meta]:
                raise AllocError(path, f"{key}.{meta}", "expected a non-empty text label")
        if key != "price_base":
            val = entry["value"]
            if isinstance(val, bool) or not isinstance(val, int | float) or not -0.5 < val < 1:
                raise AllocError(
                    path,
                    f"{key}.value",
                    f"expected a fraction per year between -0.5 and 1, found {val!r}",
                )
    return table


def _hash_folder(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in DATA_FILES + [n for n in OPTIONAL_FILES if (folder / n).is_file()]:
        digest.update(name.encode())
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


def load_inputs(folder: str | Path | None = None) -> xr.Dataset:
    """Load and validate a dataset folder into one labelled Dataset.

    Parameters
    ----------
    folder : path, optional
        Folder holding the dataset files; default the embedded dataset (``data/``).

    Returns
    -------
    xarray.Dataset
        Dimensions ``icb``, ``service``, ``year`` (financial year by its start, the years of the
        weighted populations) and ``component``. Variables: ``gp_pop`` (icb, year) [persons],
        ``weighted_pop`` (icb, year, component) [weighted persons], ``baseline`` (icb, service)
        [GBP, cash, base year], ``patients`` (icb, service) [persons]. Attributes: ``base_year``,
        ``input_hash``, ``data_folder`` and ``assumptions`` (JSON text).
    """
    folder = Path(folder) if folder is not None else data_dir()
    if not folder.is_dir():
        raise AllocError(folder, "folder", "expected a dataset folder; it does not exist")
    icbs = _load_icbs(folder)
    codes = icbs["code"].tolist()
    services = _load_services(folder)
    names = services["service"].tolist()
    pops, components = _load_populations(folder, codes)
    baseline, base_year = _load_by_service(
        folder, "baseline.csv", BASELINE_COLUMNS, "baseline_gbp", codes, names, limits.MONEY_GBP
    )
    patients, patient_year = _load_by_service(
        folder, "patients.csv", PATIENT_COLUMNS, "patients", codes, names, limits.PATIENTS
    )
    if patient_year != base_year:
        raise AllocError(
            folder / "patients.csv",
            "year",
            f"expected the baseline year {year_label(base_year)}, found {year_label(patient_year)}",
        )
    assumptions = load_assumptions(folder / "assumptions.toml")
    years = sorted(set(pops["year"]))
    if base_year not in years:
        raise AllocError(
            folder / "baseline.csv",
            "year",
            f"base year {year_label(base_year)} "
            f"is outside the population years {year_label(years[0])}.."
            f"{year_label(years[-1])} of weighted_populations.csv",
        )
    if (baseline.groupby("code")["baseline_gbp"].sum() <= 0).any():
        raise AllocError(
            folder / "baseline.csv",
            "baseline_gbp",
            "expected every ICB to have a positive total baseline",
        )

    pop_grid = pops.set_index(["code", "year"]).loc[pd.MultiIndex.from_product([codes, years])]
    shape = (len(codes), len(years))
    gp_pop = pop_grid["gp_pop"].to_numpy().reshape(shape)
    wp = np.stack([pop_grid[c].to_numpy().reshape(shape) for c in components], axis=-1)
    grid = pd.MultiIndex.from_product([codes, names])
    base = baseline.set_index(["code", "service"]).loc[grid, "baseline_gbp"].to_numpy()
    pts = patients.set_index(["code", "service"]).loc[grid, "patients"].to_numpy()

    ds = xr.Dataset(
        {
            "gp_pop": (
                ("icb", "year"),
                gp_pop,
                {"units": "persons", "long_name": "GP-registered population"},
            ),
            "weighted_pop": (
                ("icb", "year", "component"),
                wp,
                {"units": "weighted persons", "long_name": "component weighted population"},
            ),
            "baseline": (
                ("icb", "service"),
                base.reshape(len(codes), len(names)),
                {
                    "units": "GBP",
                    "price_base": "cash",
                    "long_name": f"historic-cost baseline {year_label(base_year)}",
                },
            ),
            "patients": (
                ("icb", "service"),
                pts.reshape(len(codes), len(names)),
                {"units": "persons", "long_name": "patients treated in the base year"},
            ),
        },
        coords={
            "icb": codes,
            "icb_name": ("icb", icbs["name"].to_numpy()),
            "region": ("icb", icbs["region"].to_numpy()),
            "region_code": ("icb", icbs["region_code"].to_numpy()),
            "ons_code": ("icb", icbs["ons_code"].to_numpy()),
            "lat": ("icb", icbs["lat"].to_numpy()),
            "lon": ("icb", icbs["lon"].to_numpy()),
            "service": names,
            "service_name": ("service", services["service_name"].to_numpy()),
            "programme_of_care": ("service", services["programme_of_care"].to_numpy()),
            "pathway": ("service", services["pathway"].to_numpy()),
            "footprint_key": ("service", services["footprint_key"].to_numpy()),
            "year": years,
            "component": [c.removeprefix("wp_") for c in components],
        },
        attrs={
            "base_year": base_year,
            "input_hash": _hash_folder(folder),
            "data_folder": str(folder),
            "assumptions": json.dumps(assumptions),
        },
    )
    return _add_optional(ds, folder, codes, years)


def _add_optional(ds: xr.Dataset, folder: Path, codes: list[str], years: list[int]) -> xr.Dataset:
    """Attach the optional files when present: ``age_sex_pop`` (icb, year, age, sex) [persons],
    NaN in years the file does not cover, and ``mff`` (icb) [index]."""
    path = folder / "age_sex_populations.csv"
    if path.is_file():
        frame = read_csv(path, AGE_SEX_COLUMNS)
        _parse_years(frame, path)
        bad = sorted(set(frame["sex"]) - {"F", "M"})
        if bad:
            raise AllocError(path, "sex", f"expected F or M, found '{bad[0]}'")
        outside = sorted(set(frame["year"]) - set(years))
        if outside:
            raise AllocError(
                path, "year", f"{year_label(outside[0])} is not a year of weighted_populations.csv"
            )
        ages = _numeric(frame, "age_from", path)
        if (ages != np.round(ages)).any():
            raise AllocError(path, "age_from", "expected whole years")
        frame["age_from"] = ages.astype(int)
        frame["persons"] = _numeric(frame, "persons", path, within=limits.PERSONS)
        _check_keys(frame, ["code", "year", "sex", "age_from"], path)
        as_years = sorted(set(frame["year"]))
        bands = sorted(set(frame["age_from"]))
        if bands[0] != 0:
            raise AllocError(
                path, "age_from", f"expected the first age band to start at 0, found {bands[0]}"
            )
        for year in as_years:
            sub = frame[frame["year"] == year]
            _check_codes(sub, path, codes)
            if len(sub) != len(codes) * 2 * len(bands):
                raise AllocError(
                    path,
                    "age_from",
                    f"expected every ICB to have both sexes and "
                    f"all {len(bands)} age bands in {year_label(year)}",
                )
            totals = sub.groupby("code")["persons"].sum()
            if (totals <= 0).any():
                raise AllocError(
                    path,
                    "persons",
                    f"ICB '{totals.idxmin()}' has no population in {year_label(year)}",
                )
        grid = pd.MultiIndex.from_product([codes, years, bands, ["F", "M"]])
        values = frame.set_index(["code", "year", "age_from", "sex"])["persons"].reindex(grid)
        ds["age_sex_pop"] = xr.DataArray(
            values.to_numpy().reshape(len(codes), len(years), len(bands), 2),
            dims=("icb", "year", "age", "sex"),
            coords={"icb": codes, "year": years, "age": bands, "sex": ["F", "M"]},
            attrs={"units": "persons", "long_name": "population by age band (first age) and sex"},
        )
        ds.attrs["age_sex_years"] = json.dumps(as_years)
    path = folder / "mff.csv"
    if path.is_file():
        frame = read_csv(path, MFF_COLUMNS)
        _check_codes(frame, path, codes)
        _check_keys(frame, ["code"], path)
        frame["mff_index"] = _numeric(
            frame, "mff_index", path, positive=True, within=limits.MFF_INDEX
        )
        ds["mff"] = xr.DataArray(
            frame.set_index("code").loc[codes, "mff_index"].to_numpy(),
            dims="icb",
            coords={"icb": codes},
            attrs={"units": "1", "long_name": "market forces factor"},
        )
    return ds
