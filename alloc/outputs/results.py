"""Write a result folder atomically: NetCDF, long CSV tables and the Excel workbook."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import xarray as xr

from alloc.errors import AllocError
from alloc.outputs.excel import write_workbook
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


@contextmanager
def atomic_folder(out_dir: str | Path, force: bool = False):
    """Yield a temporary folder that replaces ``out_dir`` only if the block succeeds.

    An existing ``out_dir`` is replaced only with ``force``; on any error the temporary folder is
    removed and ``out_dir`` is left as it was.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not force:
        raise AllocError(
            out_dir,
            "output folder",
            "already exists; choose another with --out or pass --force to replace it",
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes the folder private; results are ordinary files
    try:
        yield tmp
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_results(
    result: xr.Dataset, out_dir: str | Path, force: bool = False, plots: bool = False
) -> Path:
    """Write every output file into ``out_dir`` atomically (see :func:`atomic_folder`).

    With ``plots`` the standard charts are written too, as PNG and SVG in ``charts/``
    (:func:`alloc.outputs.plots.write_charts`; matplotlib is imported only then).
    """
    with atomic_folder(out_dir, force) as tmp:
        write_netcdf(result, tmp / "result.nc")
        allocations_long(result).to_csv(tmp / "allocations.csv", index=False)
        targets_by_service_long(result).to_csv(tmp / "targets_by_service.csv", index=False)
        summary(result).to_csv(tmp / "summary.csv", index=False)
        crosswalk_table(result).to_csv(tmp / "crosswalk.csv", index=False)
        write_workbook(result, tmp / "alloc_results.xlsx")
        if plots:
            from alloc.outputs.plots import write_charts

            write_charts(result, tmp / CHARTS_FOLDER)
    return Path(out_dir)
