"""Carry a loaded dataset to another geography (re-footprinting), with its crosswalk.

A dataset is held on its own footprint (the embedded data on the 42 ICBs of 2025/26). A scenario
names the geography it runs on (``geography = "icb_2026"``); :func:`refootprint` carries every
per-area figure there by the crosswalks of :mod:`alloc.inputs.geography`:

==========================  ================================================================
figure                      carried by
==========================  ================================================================
``gp_pop``, ``age_sex_pop``  registered population of the practices (exact sums)
``weighted_pop``            the same component's weighted population (exact sums)
``baseline``, ``patients``  per service line, the weighted population named in
                            ``services.csv``'s ``footprint_key`` (default ``core_overall``)
``mff``                     registered-population-weighted mean of the parts
==========================  ================================================================

Populations of years other than the practice table's (2025/26) are split by the 2025/26 shares.
The result carries ``crosswalk`` (icb, predecessor) [persons]: the registered population of each
source area now in each target area, from which both "share of the predecessor" and "share of
the area" follow.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr

from alloc.errors import AllocError
from alloc.inputs.geography import (
    AS_DATA,
    Geography,
    carry,
    crosswalk,
    load_geography,
    load_practices,
    source_geography,
)

#: Weighted-population component that carries a service line's money when services.csv names none.
DEFAULT_MONEY_KEY = "core_overall"


def _key_column(component: str, practices: pd.DataFrame, where: str) -> str:
    column = f"wp_{component}"
    if column not in practices.columns:
        raise AllocError(
            where,
            "footprint_key",
            f"'{component}' is not a weighted-population column of the practice table "
            f"(expected one of {', '.join(c[3:] for c in practices.columns if c.startswith('wp_'))})",
        )
    return column


def _identity(inputs: xr.Dataset, geography_name: str) -> xr.Dataset:
    """The dataset as it is, with a diagonal crosswalk (each area its own predecessor)."""
    out = inputs.copy()
    codes = inputs["icb"].values
    base = int(inputs.attrs["base_year"])
    pop = inputs["gp_pop"].sel(year=base).values
    out["crosswalk"] = xr.DataArray(
        np.diag(pop),
        dims=("icb", "predecessor"),
        coords={
            "predecessor": codes,
            "predecessor_name": ("predecessor", inputs["icb_name"].values),
        },
        attrs={
            "units": "persons",
            "long_name": "registered population of each predecessor area now in each area",
            "geography": geography_name,
        },
    )
    out.attrs.update(geography=geography_name, geography_status="dataset", geography_notes="[]")
    return out


def refootprint(
    inputs: xr.Dataset,
    geography: str | Geography = "icb_2026",
    practices: pd.DataFrame | None = None,
    base=None,
) -> xr.Dataset:
    """Carry a dataset (:func:`alloc.inputs.dataset.load_inputs`) to ``geography``.

    Parameters
    ----------
    inputs : xarray.Dataset
        A loaded dataset on its own footprint.
    geography : str or Geography
        A shipped geography name, a user mapping (see :func:`alloc.inputs.geography.load_geography`),
        or ``"as_data"`` to keep the dataset's footprint.
    practices : pandas.DataFrame, optional
        The practice table; default ``data/practices.csv``.
    base : Path, optional
        Folder against which a relative mapping path is tried first.

    Returns
    -------
    xarray.Dataset
        The same variables on the target areas, with ``crosswalk`` (icb, predecessor) [persons]
        and attributes ``geography``, ``geography_status``, ``geography_source`` and
        ``geography_notes`` (JSON list of mapping notes). Re-footprinting to the dataset's own
        geography returns the dataset unchanged.
    """
    if isinstance(geography, str) and geography == AS_DATA:
        return _identity(inputs, AS_DATA)
    practices = practices if practices is not None else load_practices()
    target = (
        geography
        if isinstance(geography, Geography)
        else load_geography(geography, practices, base)
    )
    codes = list(inputs["icb"].values)
    if set(codes) == set(target.codes) and target.status in ("real", "proposed"):
        out = _identity(inputs, target.name)  # a shipped geography: the dataset's own footprint
        out.attrs.update(geography_status=target.status, geography_source=target.source)
        return out
    source = source_geography(codes, practices)
    return _carry_dataset(inputs, source, target, practices)


def money_keys(inputs: xr.Dataset, practices: pd.DataFrame) -> list[str]:
    """Practice-table column carrying each service line's money (``wp_<footprint_key>``)."""
    services = inputs["service"].values
    keys = (
        inputs["footprint_key"].values
        if "footprint_key" in inputs.coords
        else [DEFAULT_MONEY_KEY] * len(services)
    )
    where = f"{inputs.attrs.get('data_folder', 'dataset')}/services.csv"
    return [_key_column(k or DEFAULT_MONEY_KEY, practices, where) for k in keys]


def crosswalks(practices: pd.DataFrame, source: Geography, target: Geography):
    """``key -> crosswalk(practices, source, target, key)``, each matrix computed once."""
    cache: dict[str, pd.DataFrame] = {}

    def matrix(key: str) -> pd.DataFrame:
        if key not in cache:
            cache[key] = crosswalk(practices, source, target, key)
        return cache[key]

    return matrix


def carry_by_service(values: np.ndarray, keys: list[str], matrix) -> np.ndarray:
    """Carry money (source area, service) [GBP] to (target area, service).

    Service line ``j`` is carried by the crosswalk ``matrix(keys[j])`` (:func:`money_keys`;
    ``matrix`` maps a practice-table column to its crosswalk: :func:`crosswalks`).
    """
    return np.stack([carry(values[:, j], matrix(keys[j])) for j in range(values.shape[1])], axis=1)


def _carry_dataset(
    inputs: xr.Dataset, source: Geography, target: Geography, practices: pd.DataFrame
) -> xr.Dataset:
    matrix = crosswalks(practices, source, target)
    order = source.codes
    ds = inputs.sel(icb=order)
    keys = money_keys(inputs, practices)

    def by_service(name: str) -> np.ndarray:
        return carry_by_service(ds[name].transpose("icb", "service").values, keys, matrix)

    gp = matrix("gp_pop")
    components = list(ds["component"].values)
    wp = ds["weighted_pop"].transpose("icb", "year", "component").values
    carried_wp = np.stack(
        [
            carry(wp[:, :, k], matrix(f"wp_{c}" if f"wp_{c}" in practices else "gp_pop"))
            for k, c in enumerate(components)
        ],
        axis=-1,
    )
    areas = target.areas
    out = xr.Dataset(
        {
            "gp_pop": (
                ("icb", "year"),
                carry(ds["gp_pop"].transpose("icb", "year").values, gp),
                ds["gp_pop"].attrs,
            ),
            "weighted_pop": (("icb", "year", "component"), carried_wp, ds["weighted_pop"].attrs),
            "baseline": (("icb", "service"), by_service("baseline"), ds["baseline"].attrs),
            "patients": (("icb", "service"), by_service("patients"), ds["patients"].attrs),
        },
        coords={
            "icb": target.codes,
            "icb_name": ("icb", areas["name"].to_numpy()),
            "region": ("icb", areas["region"].to_numpy()),
            "region_code": ("icb", areas["region_code"].to_numpy()),
            "ons_code": ("icb", areas["ons_code"].to_numpy()),
            "lat": ("icb", areas["lat"].to_numpy()),
            "lon": ("icb", areas["lon"].to_numpy()),
            **{c: ds.coords[c] for c in ds.coords if c not in ds["icb"].coords and c != "icb"},
        },
        attrs=dict(inputs.attrs),
    )
    if "age_sex_pop" in ds:
        values = ds["age_sex_pop"].transpose("icb", ...).values
        out["age_sex_pop"] = xr.DataArray(
            carry(values, gp),
            dims=ds["age_sex_pop"].transpose("icb", ...).dims,
            coords={d: ds["age_sex_pop"][d] for d in ds["age_sex_pop"].dims if d != "icb"},
            attrs=ds["age_sex_pop"].attrs,
        )
    if "mff" in ds:
        base = int(ds.attrs["base_year"])
        weight = ds["gp_pop"].sel(year=base).values
        mff = carry(ds["mff"].values * weight, gp) / carry(weight, gp)
        out["mff"] = xr.DataArray(mff, dims="icb", attrs=ds["mff"].attrs)
    persons = gp.to_numpy() * practices_by_source(practices, source).to_numpy()[None, :]
    out["crosswalk"] = xr.DataArray(
        persons,
        dims=("icb", "predecessor"),
        coords={
            "predecessor": order,
            "predecessor_name": ("predecessor", ds["icb_name"].values),
        },
        attrs={
            "units": "persons",
            "long_name": "registered population (2025/26 practice table) of each predecessor "
            "area now in each area",
            "geography": source.name,
        },
    )
    out.attrs.update(
        geography=target.name,
        geography_status=target.status,
        geography_source=target.source,
        geography_from=source.name,
        geography_notes=json.dumps(target.report.notes()),
    )
    return out


def practices_by_source(practices: pd.DataFrame, source: Geography) -> pd.Series:
    """Registered population of the practice table per source area [persons]."""
    return practices["gp_pop"].groupby(source.practice_area).sum().reindex(source.codes)
