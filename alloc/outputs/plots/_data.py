"""Helpers shared by the charts and the workbook (no matplotlib import here)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import xarray as xr


def central(da: xr.DataArray) -> xr.DataArray:
    """The central projection of ``da``: draw 0 if it has a ``draw`` dim, the median if it has
    a ``quantile`` dim (nearest available quantile to 0.5)."""
    if "draw" in da.dims:
        da = da.isel(draw=0) if "draw" not in da.coords else da.sel(draw=da["draw"].values[0])
    if "quantile" in da.dims:
        da = da.sel(quantile=0.5, method="nearest")
    return da


def reduce_to(da: xr.DataArray, keep: tuple[str, ...]) -> xr.DataArray:
    """Central projection of ``da`` summed over every dim not in ``keep`` (e.g. pathway, state).

    Dims in ``keep`` that ``da`` lacks are simply absent from the result.
    """
    da = central(da)
    extra = [d for d in da.dims if d not in keep]
    return da.sum(extra) if extra else da


def has_left_shift(result: xr.Dataset) -> bool:
    """Whether ``result`` models left shift: it has ``left_shift_saving`` and ``upstream_cost``
    and at least one of them is not zero (a scenario without pathway levers gives zeros)."""
    if "left_shift_saving" not in result or "upstream_cost" not in result:
        return False
    return bool((result["left_shift_saving"] != 0).any() or (result["upstream_cost"] != 0).any())


def is_illustrative(attrs: Mapping) -> bool | None:
    """Whether a result's data are illustrative (True), user-supplied (False) or unknown (None).

    The embedded dataset's baseline is generated (``data/README.md``), so any result computed
    from the embedded data folder is illustrative; a result may also say so itself with an
    ``illustrative`` attribute.
    """
    if "illustrative" in attrs:
        return bool(attrs["illustrative"])
    if attrs.get("baseline_source"):  # the user's own baseline replaced the generated one
        return False
    folder = attrs.get("data_folder")
    if folder is None:
        scenario = attrs.get("scenario_json")
        if scenario:
            return json.loads(scenario).get("data", "embedded") == "embedded"
        return None
    from alloc.resources import data_dir

    try:
        return Path(folder).resolve() == data_dir().resolve()
    except FileNotFoundError:
        return None
