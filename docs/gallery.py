"""The chart gallery of ``docs/charts.md``: every chart drawn from real alloc outputs.

The standard charts (glide paths, dot plot, bubble and hexagon maps) and the waterfall come from
the default scenario; the left-shift chart from ``models/scenarios/left_shift_combined.toml``
(pathway levers); the fan and tornado charts from a small Monte Carlo ensemble and a one-at-a-time
sensitivity of the default scenario (:data:`GALLERY_ENSEMBLE`). All run on the embedded data,
whose baseline is illustrative.

Regenerate the documentation images with ``python docs/gallery.py docs/img``.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: Ensemble behind the gallery's fan and tornado charts (illustrative ranges, not sourced).
GALLERY_ENSEMBLE = {
    "draws": 1000,
    "seed": 20250401,
    "uncertain": {
        "envelope_growth": {"low": 0.025, "high": 0.045, "distribution": "normal80"},
        "policy.min_growth": {"low": 0.012, "high": 0.02, "distribution": "uniform"},
        "policy.max_growth": {"low": 0.05, "high": 0.07, "distribution": "uniform"},
    },
}
#: The ICB the single-ICB charts show (the furthest below target in the default baseline).
GALLERY_ICB = "QOC"


def gallery(icb: str = GALLERY_ICB) -> dict:
    """Every chart, by file stem (see the module docstring for where each one's data come from)."""
    import alloc
    from alloc.outputs.plots import standard_charts
    from alloc.outputs.plots.left_shift import left_shift_chart
    from alloc.outputs.plots.uncertainty import fan_chart, tornado_chart
    from alloc.outputs.plots.waterfall import allocation_waterfall
    from alloc.uncertainty.ensemble import run_ensemble
    from alloc.uncertainty.sensitivity import sensitivity

    result = alloc.run("default")
    figures = standard_charts(result)
    figures["waterfall"] = allocation_waterfall(result, icb)
    shifted = alloc.run("models/scenarios/left_shift_combined.toml")
    figures["left_shift"] = left_shift_chart(
        shifted["left_shift_saving"], shifted["upstream_cost"], provenance=shifted.attrs
    )
    figures["waterfall_left_shift"] = allocation_waterfall(shifted, "QE1")
    relax = ['policy.fallback="relax"']
    ens = run_ensemble("default", relax, spec=GALLERY_ENSEMBLE)
    figures["fan"] = fan_chart(
        ens["allocation_q"],
        icb=icb,
        central=ens["allocation_central"],
        name=f"{icb} allocation",
        provenance=result.attrs,
        why="the ICB furthest below target in the base year",
    )
    table = sensitivity("default", relax, spec=GALLERY_ENSEMBLE, icb=icb)
    figures["tornado"] = tornado_chart(
        table, output=f"{icb} distance from target 2030/31", provenance=result.attrs
    )
    return figures


def main(argv: list[str] | None = None) -> None:
    """Write the gallery as PNG (110 dpi) into the folder given (default ``docs/img``), each
    chart saved in the house style as ``alloc run`` saves it."""
    from alloc.outputs.plots.style import save_figure

    folder = Path((argv or sys.argv[1:] or ["docs/img"])[0])
    folder.mkdir(parents=True, exist_ok=True)
    for stem, fig in gallery().items():
        save_figure(fig, folder / f"{stem}.png", dpi=110)


if __name__ == "__main__":
    main()
