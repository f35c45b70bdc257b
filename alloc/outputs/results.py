"""Write a result folder atomically: NetCDF, long CSV tables and the Excel workbook."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import xarray as xr

from alloc.outputs.atomic import Note, atomic_folder
from alloc.outputs.excel import write_workbook
from alloc.outputs.left_shift_summary import FILE_NAME as LEFT_SHIFT_FILE
from alloc.outputs.left_shift_summary import left_shift_summary
from alloc.outputs.tables import (
    allocations_long,
    crosswalk_table,
    summary,
    targets_by_service_long,
)

RESULT_FILES = (
    "result.nc",
    "allocations.csv",
    "targets_by_service.csv",
    "summary.csv",
    "crosswalk.csv",
    "alloc_results.xlsx",
)
CHARTS_FOLDER = "charts"  # standard charts (PNG + SVG) when written with plots=True


def write_netcdf(result: xr.Dataset, path: Path) -> None:
    """Full result as NetCDF-4 (h5netcdf engine); text coordinates stored as strings."""
    encoded = result.copy()
    for name in list(encoded.coords) + list(encoded.data_vars):
        if encoded[name].dtype == object:
            encoded[name] = encoded[name].astype(str)
    encoded.to_netcdf(path, engine="h5netcdf")


def read_result(path: str | Path) -> xr.Dataset:
    """Read a result written by :func:`write_results` (loaded into memory)."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


def write_results(
    result: xr.Dataset,
    out_dir: str | Path,
    force: bool = False,
    plots: bool = False,
    note: Note | None = None,
    on_stage: Callable[..., None] | None = None,
) -> Path:
    """Write every output file into ``out_dir`` atomically (see :func:`atomic_folder`: with
    ``force`` only a results folder alloc wrote is replaced; ``note`` hears of temporary folders
    left by killed runs that were removed).

    A scenario with left-shift levers also gets ``left_shift_summary.csv``
    (:func:`alloc.outputs.left_shift_summary.left_shift_summary`).

    With ``plots`` the standard charts are written too, as PNG and SVG in ``charts/``
    (:func:`alloc.outputs.plots.write_charts`; matplotlib is imported only then).
    ``on_stage(stage, part)`` is told of each file as it starts: ``("writing results", name)``,
    then ``("charts", name)`` (for progress and timings).
    """
    on_stage = on_stage or _no_stage
    with atomic_folder(out_dir, force, note) as tmp:
        on_stage("writing results", "result.nc")
        write_netcdf(result, tmp / "result.nc")
        on_stage("writing results", "CSV tables")
        allocations_long(result).to_csv(tmp / "allocations.csv", index=False)
        targets_by_service_long(result).to_csv(tmp / "targets_by_service.csv", index=False)
        summary(result).to_csv(tmp / "summary.csv", index=False)
        crosswalk_table(result).to_csv(tmp / "crosswalk.csv", index=False)
        if (left_shift := left_shift_summary(result)) is not None:  # scenarios with levers
            left_shift.table.to_csv(tmp / LEFT_SHIFT_FILE, index=False)
        on_stage("writing results", "alloc_results.xlsx")
        write_workbook(result, tmp / "alloc_results.xlsx")
        if plots:
            on_stage("charts", "matplotlib")
            from alloc.outputs.plots import write_charts

            write_charts(result, tmp / CHARTS_FOLDER, on_stage=on_stage)
    return Path(out_dir)


def _no_stage(stage: str, part: str | None = None) -> None:
    """No progress wanted."""
