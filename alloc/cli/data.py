"""CLI commands for data files: ``import-practices``.

Registered through ``alloc.cli.main.COMMAND_MODULES``; errors are reported by
:func:`alloc.cli.errors.reports_errors`. Heavy imports stay inside the functions.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from alloc.cli.errors import reports_errors
from alloc.errors import AllocError

#: Files ``import-practices`` writes into its ``--out`` folder.
IMPORT_FILES = ("weighted_populations.csv", "practices.csv")


def _write_files(frames: dict[str, object], out_dir: Path, force: bool) -> list[Path]:
    """Write each frame to ``out_dir/<name>`` as CSV, atomically (a temporary file beside it,
    then a rename), after checking that none exists unless ``force``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise AllocError(out_dir, "--out", "expected a folder; this is a file")
    targets = [out_dir / name for name in frames]
    for path in targets:
        if path.exists() and not force:
            raise AllocError(
                path, "--out", "already exists; choose another folder or pass --force to replace it"
            )
        if path.is_dir():
            raise AllocError(path, "--out", "is a folder; expected a file name free for the CSV")
    out_dir.mkdir(parents=True, exist_ok=True)
    temps = []
    try:
        for path, frame in zip(targets, frames.values()):
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=out_dir)
            os.close(fd)
            temps.append(tmp)
            frame.to_csv(tmp, index=False, lineterminator="\n")
        for path, tmp in zip(targets, temps):
            os.replace(tmp, path)
    finally:
        for tmp in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return targets


@click.command("import-practices")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write weighted_populations.csv and practices.csv into.",
)
@click.option(
    "--year",
    help="Financial year of the file, e.g. 2026/27 (default: from the file's name or layout).",
)
@click.option("--force", is_flag=True, help="Replace existing files in the folder.")
@reports_errors
def import_practices(file, out_dir, year, force):
    """Turn NHS England's practice-level weighted-population FILE into dataset files.

    Reads FILE in any known layout (2025/26, and the 2022/23-2024/25 layout of the AIF tool; see
    alloc.inputs.nhse) and writes OUT/weighted_populations.csv (code, year, gp_pop, wp_*: ICB
    sums rounded half-up to 0.1, as data/weighted_populations.csv) and OUT/practices.csv (the
    practice table, as data/practices.csv).
    """
    import numpy as np

    from alloc.inputs.nhse import (
        LAYOUTS,
        aggregate_to_icb,
        embedded_icb_codes,
        practice_table,
        read_practice_weighted_populations,
        to_weighted_populations_rows,
        year_from_name,
    )
    from alloc.inputs.years import parse_year, year_label

    practices = read_practice_weighted_populations(file)
    layout = practices.attrs["layout"]
    if year is not None:
        label = year_label(parse_year(year, "--year", "year"))
    elif practices.attrs.get("year"):
        label = practices.attrs["year"]
        if year_from_name(file) is None:
            click.echo(
                f"note: year {label} taken from the file's {layout} layout; pass --year if the "
                "file is for another year",
                err=True,
            )
    else:
        years = next(lay.years for lay in LAYOUTS if lay.name == layout)
        raise AllocError(
            file,
            "--year",
            f"the {layout} layout was used for {', '.join(years)} and its columns do not say "
            "which; name the year with --year (e.g. --year 2023/24), or keep NHS England's file "
            "name (e.g. 2023_2024.csv)",
        )
    rows = to_weighted_populations_rows(aggregate_to_icb(practices), label)
    order = {code: i for i, code in enumerate(embedded_icb_codes())}  # as data/icbs.csv
    rows = rows.sort_values(  # as data/icbs.csv; codes of newer geographies after, sorted
        "code", key=lambda c: c.map(order).fillna(len(order)), kind="mergesort"
    )
    table = practice_table(practices)
    for col in table.columns[4:]:  # shortest plain decimals, as NHS England writes them
        table[col] = [np.format_float_positional(v, trim="-") for v in table[col]]
    written = _write_files(
        {"weighted_populations.csv": rows, "practices.csv": table}, out_dir, force
    )
    missing = [c for c in ("lad_code", "lad_name") if c not in practices]
    click.echo(
        f"Read {file} ({layout} layout, {len(practices):,} practices, {label}); wrote "
        f"{written[0]} ({len(rows)} ICBs) and {written[1]}."
    )
    if missing:
        click.echo(
            "note: the file has no local authority district columns; lad_code and "
            "lad_name are empty in practices.csv",
            err=True,
        )


COMMANDS = [import_practices]
