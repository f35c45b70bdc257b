"""The left-shift calibration as one table: published national activity against the model, the
national volume factor of each service line and the per-ICB cost factor (Excel sheet
"Calibration"; :mod:`alloc.pathways.calibration` says how they are made)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

#: Plausible range of the per-ICB cost factor; the same as
#: :data:`alloc.pathways.calibration.PLAUSIBLE_FACTOR` (outputs may not import pathways).
PLAUSIBLE_FACTOR = (0.5, 2.0)

COLUMNS = [
    "Pathway",
    "Service line",
    "What",
    "Area or ICB",
    "Year",
    "Published",
    "Modelled",
    "Unit",
    "Modelled / published",
    "Tolerance (%)",
    "Plausible",
    "Source",
]


def calibration_table(result: xr.Dataset) -> pd.DataFrame | None:
    """Rows: each published figure, then per service line its volume factor and per-ICB factors.

    Returns None when the result has no left-shift calibration (no pathway levers).
    """
    if "calibration_volume_factor" not in result or "calibration_factor" not in result:
        return None
    rows = []
    if "calibration" in result.dims:
        for c in result["calibration"].values:
            r = result.sel(calibration=c)
            rows.append(
                [
                    str(r["calibration_pathway"].values),
                    str(r["calibration_service"].values),
                    f"published activity: {r['calibration_label'].values}",
                    str(r["calibration_area"].values),
                    str(r["calibration_year"].values),
                    float(r["calibration_published"]),
                    float(r["calibration_modelled"]),
                    str(r["calibration_unit"].values),
                    float(r["calibration_ratio"]),
                    float(r["calibration_tolerance"]),
                    "yes" if bool(r["calibration_within"]) else "no: outside the tolerance",
                    str(r["calibration_source"].values),
                ]
            )
    low, high = PLAUSIBLE_FACTOR
    names = result["icb_name"].values if "icb_name" in result.coords else result["icb"].values
    volume = result["calibration_volume_factor"]
    for service in volume["service"].values:
        v = float(volume.sel(service=service))
        if np.isnan(v):
            continue  # a service line no pathway models
        rows.append(
            ["", str(service), "national volume factor v", "England", "", None, v, "1", None]
            + [None, "", "calibration table above, or national spend without a figure"]
        )
        factor = result["calibration_factor"].sel(service=service)
        for icb, name in zip(result["icb"].values, names):
            k = float(factor.sel(icb=icb))
            rows.append(
                ["", str(service), "per-ICB cost factor k", f"{icb} {name}", "", None, k, "1"]
                + [None, None, "yes" if low <= k <= high else f"no: outside [{low:g}, {high:g}]"]
                + ["baseline / (v x modelled base-year specialised cost)"]
            )
    return pd.DataFrame(rows, columns=COLUMNS)
