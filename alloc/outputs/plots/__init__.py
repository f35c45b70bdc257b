"""Board-paper charts (matplotlib).

Every chart is one function that takes labelled data and returns a
:class:`matplotlib.figure.Figure`; none calls ``show`` or touches pyplot's global state. House
style (NHS identity colours, A4-readable type, a source and scenario footnote that says when
data are illustrative) lives in :mod:`alloc.outputs.plots.style`. Importing this package imports
matplotlib, so the CLI imports it only when charts are wanted.

=======================================  ==========================================================
function                                 chart
=======================================  ==========================================================
:func:`glide_paths`                      distance from target by ICB over the years, ICBs highlighted
:func:`dft_dot_plot`                     first- vs final-year DfT for all ICBs, grouped by region
:func:`allocation_waterfall`             one ICB: baseline, growth, convergence, left shift, final
:func:`icb_map`                          bubbles at ICB centroids: size = allocation, colour = DfT
:func:`icb_hexmap`                       one labelled hexagon per ICB, colour = DfT, names by region
:func:`left_shift_chart`                 spend avoided vs upstream cost by year and payer
:func:`fan_chart`                        ensemble quantile bands over the years
:func:`tornado_chart`                    one-at-a-time sensitivities
=======================================  ==========================================================
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    import xarray as xr
    from matplotlib.figure import Figure

# Chart functions are imported on first use, so that importing alloc.outputs.plots (or the
# matplotlib-free alloc.outputs.plots._data) does not import matplotlib.
_LAZY = {
    "glide_paths": "alloc.outputs.plots.dft",
    "dft_dot_plot": "alloc.outputs.plots.dft",
    "icb_map": "alloc.outputs.plots.maps",
    "icb_hexmap": "alloc.outputs.plots.hexmap",
    "left_shift_chart": "alloc.outputs.plots.left_shift",
    "fan_chart": "alloc.outputs.plots.uncertainty",
    "tornado_chart": "alloc.outputs.plots.uncertainty",
    "allocation_waterfall": "alloc.outputs.plots.waterfall",
    "waterfall_steps": "alloc.outputs.plots.waterfall",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'alloc.outputs.plots' has no attribute {name!r}")


#: Image formats ``alloc run`` writes for each standard chart.
FORMATS = ("png", "svg")
#: Resolution of PNG charts [dots per inch]: 150 dpi prints sharply at A4.
PNG_DPI = 150


def standard_charts(result: xr.Dataset) -> dict[str, Figure]:
    """The charts ``alloc run`` writes, by file stem.

    ``dft_glide_paths``, ``dft_start_end``, ``icb_map`` and ``icb_hexmap`` always (the hexagon
    map is left out only for areas with neither a layout nor centroids); ``left_shift`` when
    the result models left shift (``left_shift_saving`` / ``upstream_cost`` present, not all
    zero). Each figure carries the data it shows (:func:`alloc.outputs.plots.style.chart_data`).
    """
    charts = {}
    for stem, build in _chart_builders(result).items():
        if (fig := build()) is not None:
            charts[stem] = fig
    return charts


def _chart_builders(result: xr.Dataset) -> dict[str, Callable[[], Figure | None]]:
    """Each standard chart's stem and a function drawing it (None: the chart does not apply)."""
    from alloc.outputs.plots._data import has_left_shift
    from alloc.outputs.plots.dft import dft_dot_plot, glide_paths
    from alloc.outputs.plots.hexmap import NoLayout, icb_hexmap
    from alloc.outputs.plots.left_shift import left_shift_chart
    from alloc.outputs.plots.maps import icb_map

    def hexmap():
        try:
            return icb_hexmap(result)
        except NoLayout:
            return None

    builders = {
        "dft_glide_paths": lambda: glide_paths(result),
        "dft_start_end": lambda: dft_dot_plot(result),
        "icb_map": lambda: icb_map(result),
        "icb_hexmap": hexmap,
    }
    if has_left_shift(result):
        builders["left_shift"] = lambda: left_shift_chart(
            result["left_shift_saving"], result["upstream_cost"], provenance=result.attrs
        )
    return builders


def write_charts(
    result: xr.Dataset,
    folder: str | Path,
    formats: tuple[str, ...] = FORMATS,
    on_stage: Callable[..., None] | None = None,
) -> list[Path]:
    """Write the standard charts of ``result`` into ``folder`` (created) in each format, and
    beside each chart the data it shows as ``<stem>.csv``.

    Returns the files written. Every chart is saved in the house style
    (:func:`alloc.outputs.plots.style.save_figure`), so it is drawn in the font its text was
    laid out for; PNGs are rendered at :data:`PNG_DPI`; SVG text stays text.
    ``on_stage("charts", part)`` is told as each chart is drawn and each file written.
    """
    from concurrent.futures import ThreadPoolExecutor

    from alloc.outputs.plots.style import chart_data, render_rgba, save_figure, write_png

    on_stage = on_stage or (lambda stage, part=None: None)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    # PNG compression releases the interpreter (style.render_rgba): one thread compresses each
    # PNG while this one draws the next file (about a fifth of the time of a PNG).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="png") as compressor:
        pending = []
        for stem, build in _chart_builders(result).items():
            on_stage("charts", stem)
            if (fig := build()) is None:
                continue
            for fmt in formats:
                path = folder / f"{stem}.{fmt}"
                on_stage("charts", path.name)
                if fmt == "png":
                    pixels = render_rgba(fig, PNG_DPI)
                    pending.append(
                        compressor.submit(write_png, pixels, path, PNG_DPI, _metadata(fmt, result))
                    )
                else:
                    save_figure(fig, path, metadata=_metadata(fmt, result))
                written.append(path)
            data = chart_data(fig)
            if data is not None:
                path = folder / f"{stem}.csv"
                data.to_csv(path, index=False, lineterminator="\n")
                written.append(path)
        on_stage("charts", "PNG compression")
        for job in pending:
            job.result()  # re-raises a failed write
    return written


def _metadata(fmt: str, result: xr.Dataset) -> dict:
    """Reproducible file metadata (no creation dates, which would differ run to run)."""
    version = result.attrs.get("alloc_version", "")
    if fmt == "png":
        return {"Software": f"alloc {version}"}
    if fmt == "svg":
        return {"Creator": f"alloc {version}", "Date": None}
    return {}


__all__ = [
    "glide_paths",
    "dft_dot_plot",
    "allocation_waterfall",
    "waterfall_steps",
    "icb_map",
    "icb_hexmap",
    "left_shift_chart",
    "fan_chart",
    "tornado_chart",
    "standard_charts",
    "write_charts",
    "FORMATS",
    "PNG_DPI",
]
