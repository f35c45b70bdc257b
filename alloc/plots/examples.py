"""Synthetic inputs for the charts whose real inputs come from other modules, and a gallery.

The left-shift, fan and tornado charts take pathway, ensemble and sensitivity outputs. Until a
result carries them, these functions make clearly labelled **synthetic** stand-ins of the
documented shapes, seeded, for the documentation gallery and the tests' smoke checks. They are
not model outputs.

Regenerate the documentation images with ``python -m alloc.plots.examples docs/img``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

SYNTHETIC = {"illustrative": 1, "note": "synthetic example inputs (alloc.plots.examples)"}


def synthetic_left_shift(result: xr.Dataset, seed: int = 6) -> tuple[xr.DataArray, xr.DataArray]:
    """Made-up ``left_shift_saving`` and ``upstream_cost`` (icb, payer, year) [GBP, cash].

    Savings ramp up linearly from zero in the base year to about 0.6% of each ICB's baseline;
    upstream costs start at about 0.3% and fall back as schemes mature. Seeded noise.
    """
    rng = np.random.default_rng(seed)
    years = result["year"].values
    ramp = np.linspace(0, 1, years.size)
    base = result["baseline"].values[:, None]
    noise = rng.uniform(0.7, 1.3, size=(base.shape[0], 1))
    payers = ["ICB_delegated_specialised", "NHSE_retained", "ICB_core", "local_authority"]
    saving = np.zeros((base.shape[0], len(payers), years.size))
    cost = np.zeros_like(saving)
    saving[:, 0] = 0.005 * base * ramp * noise
    saving[:, 1] = 0.001 * base * ramp * noise
    cost[:, 2] = 0.003 * base * (0.4 + 0.6 * ramp[::-1]) * (ramp > 0) * noise
    cost[:, 3] = 0.0006 * base * (ramp > 0) * noise
    coords = {"icb": result["icb"].values, "payer": payers, "year": years}
    attrs = dict(result.attrs) | SYNTHETIC | {"units": "GBP"}
    return (xr.DataArray(saving, dims=("icb", "payer", "year"), coords=coords,
                         name="left_shift_saving", attrs=attrs),
            xr.DataArray(cost, dims=("icb", "payer", "year"), coords=coords,
                         name="upstream_cost", attrs=attrs))


def synthetic_ensemble(result: xr.Dataset, variable: str = "allocation",
                       quantiles=(0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)) -> xr.DataArray:
    """Made-up quantiles (quantile, icb, year) around a result variable [its units].

    The spread grows with the square root of years ahead (2% a year at one standard
    deviation), normal quantiles.
    """
    from scipy.stats import norm

    da = result[variable]
    ahead = (result["year"] - result["year"][0]).values
    z = xr.DataArray(norm.ppf(quantiles), dims="quantile", coords={"quantile": list(quantiles)})
    sd = xr.DataArray(0.02 * np.sqrt(ahead), dims="year", coords={"year": result["year"]})
    out = (da * (1 + z * sd)).transpose("quantile", "icb", "year")
    out.attrs = dict(result.attrs) | SYNTHETIC | {"units": da.attrs.get("units", ""),
                                                  "long_name": variable}
    return out.rename(variable)


def synthetic_sensitivity(result: xr.Dataset, icb: str = "QE1") -> pd.DataFrame:
    """Made-up one-at-a-time sensitivity table for one ICB's final-year allocation [GBP]."""
    base = float(result["allocation"].sel(icb=icb).isel(year=-1))
    rows = [("envelope_growth", 0.025, 0.045, -0.048, 0.049),
            ("policy.min_growth", 0.01, 0.025, -0.006, 0.011),
            ("policy.max_growth", 0.04, 0.08, -0.004, 0.002),
            ("population_growth", 0.0, 0.01, -0.009, 0.009),
            ("formula weight: deprivation", 0.8, 1.2, -0.012, 0.010),
            ("renal lever uptake", 0.2, 0.6, -0.001, 0.003)]
    table = pd.DataFrame([(p, base * (1 + lo), base * (1 + hi), base, lv, hv)
                          for p, lv, hv, lo, hi in rows],
                         columns=["parameter", "low", "high", "base", "low_value", "high_value"])
    table.attrs = dict(result.attrs) | SYNTHETIC
    return table


def gallery(result: xr.Dataset, icb: str = "QOC") -> dict:
    """Every chart, by file stem: the standard result charts plus synthetic-input examples."""
    from alloc.plots import standard_charts
    from alloc.plots.left_shift import left_shift_chart
    from alloc.plots.uncertainty import fan_chart, tornado_chart
    from alloc.plots.waterfall import allocation_waterfall

    figures = standard_charts(result)
    figures["waterfall"] = allocation_waterfall(result, icb)
    saving, cost = synthetic_left_shift(result)
    figures["left_shift_synthetic"] = left_shift_chart(saving, cost, name="England (synthetic)")
    ens = synthetic_ensemble(result)
    figures["fan_synthetic"] = fan_chart(ens, icb=icb, central=result["allocation"],
                                         name=f"{icb} allocation (synthetic ensemble)")
    figures["tornado_synthetic"] = tornado_chart(
        synthetic_sensitivity(result, icb), output=f"{icb} allocation 2030/31 (synthetic)")
    return figures


def main(argv: list[str] | None = None) -> None:
    """Write the gallery as PNG (120 dpi) into the folder given (default ``docs/img``)."""
    import alloc

    folder = Path((argv or sys.argv[1:] or ["docs/img"])[0])
    folder.mkdir(parents=True, exist_ok=True)
    for stem, fig in gallery(alloc.run("default")).items():
        fig.savefig(folder / f"{stem}.png", dpi=120)


if __name__ == "__main__":
    main()
