"""Long tables from a result Dataset, for CSV and Excel."""

from __future__ import annotations

import pandas as pd
import xarray as xr

from alloc.inputs.years import year_label

ICB_COLUMNS = ["icb", "icb_name", "region"]


def _icb_frame(result: xr.Dataset) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "icb": result["icb"].values,
            "icb_name": result["icb_name"].values,
            "region": result["region"].values,
        }
    )


def allocations_long(result: xr.Dataset) -> pd.DataFrame:
    """One row per ICB x year: population, target, allocation, DfT, growth, per head.

    Money in GBP (cash), shares and rates as fractions.
    """
    names = [
        "population",
        "target_share",
        "target",
        "allocation",
        "dft",
        "growth",
        "allocation_per_head",
    ]
    frame = result[names].to_dataframe().reset_index()[["icb", "year", *names]]
    frame = _icb_frame(result).merge(frame, on="icb")
    frame.insert(3, "financial_year", [year_label(int(y)) for y in frame["year"]])
    return frame.rename(
        columns={
            "population": "population_persons",
            "target": "target_gbp",
            "allocation": "allocation_gbp",
            "allocation_per_head": "allocation_per_head_gbp",
        }
    )


def targets_by_service_long(result: xr.Dataset) -> pd.DataFrame:
    """One row per ICB x service line x year: target share [fraction], target [GBP]."""
    names = ["target_share_by_service", "target_by_service"]
    if "allocation_by_service" in result:
        names.append("allocation_by_service")
    frame = result[names].to_dataframe().reset_index()[["icb", "service", "year", *names]]
    frame = _icb_frame(result).merge(frame, on="icb")
    frame.insert(4, "financial_year", [year_label(int(y)) for y in frame["year"]])
    return frame.rename(
        columns={
            "target_share_by_service": "target_share",
            "target_by_service": "target_gbp",
            "allocation_by_service": "allocation_gbp",
        }
    )


def summary(result: xr.Dataset) -> pd.DataFrame:
    """Per ICB: baseline, final-year target and allocation [GBP], DfT at start and end [fraction],
    average annual cash growth [fraction]."""
    first, last = int(result["year"][0]), int(result["year"][-1])
    n_years = last - first
    frame = _icb_frame(result)
    frame["baseline_gbp"] = result["baseline"].values
    frame["final_target_gbp"] = result["target"].sel(year=last).values
    frame["final_allocation_gbp"] = result["allocation"].sel(year=last).values
    frame["dft_start"] = result["dft"].sel(year=first).values
    frame["dft_end"] = result["dft"].sel(year=last).values
    frame["average_growth"] = (frame["final_allocation_gbp"] / frame["baseline_gbp"]) ** (
        1 / n_years
    ) - 1
    return frame


def wide(result: xr.Dataset, name: str) -> pd.DataFrame:
    """ICB x financial-year table of one variable, with ICB name and region columns."""
    table = result[name].transpose("icb", "year").to_pandas()
    table.columns = [year_label(int(y)) for y in table.columns]
    return _icb_frame(result).join(table.reset_index(drop=True))


def crosswalk_table(result: xr.Dataset) -> pd.DataFrame:
    """One row per area x predecessor area that shares registered population with it.

    ``population_persons`` [persons]: registered population (2025/26 practice table) of the
    predecessor now in the area; ``share_of_predecessor`` and ``share_of_icb`` [fractions]: that
    population over the predecessor's and over the area's. Empty without a ``crosswalk``.
    """
    columns = [
        "icb",
        "icb_name",
        "predecessor",
        "predecessor_name",
        "population_persons",
        "share_of_predecessor",
        "share_of_icb",
    ]
    if "crosswalk" not in result:
        return pd.DataFrame(columns=columns)
    persons = result["crosswalk"].transpose("icb", "predecessor")
    of_predecessor = persons / persons.sum("icb")
    of_icb = persons / persons.sum("predecessor")
    frame = pd.DataFrame(
        {
            "icb": persons["icb"].values.repeat(persons.sizes["predecessor"]),
            "icb_name": result["icb_name"].values.repeat(persons.sizes["predecessor"]),
            "predecessor": list(persons["predecessor"].values) * persons.sizes["icb"],
            "predecessor_name": list(persons["predecessor_name"].values) * persons.sizes["icb"],
            "population_persons": persons.values.ravel(),
            "share_of_predecessor": of_predecessor.values.ravel(),
            "share_of_icb": of_icb.values.ravel(),
        },
        columns=columns,
    )
    return frame[frame["population_persons"] > 0].reset_index(drop=True)
