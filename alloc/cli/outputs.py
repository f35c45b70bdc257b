"""Output commands: ``alloc report`` (PDF board pack), ``alloc template`` (scenario workbook) and
``alloc template-data`` (baseline workbook).

matplotlib and openpyxl are imported inside the commands so ``alloc run`` starts fast.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from alloc.cli.errors import reports_errors


@click.command()
@click.argument("result_or_scenario", required=False, default="default")
@click.option("--icb", metavar="CODE", help="Write a single ICB's pack, e.g. --icb QE1.")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PDF to write (default: <scenario>_board_pack.pdf or <scenario>_<ICB>_pack.pdf, in "
    "the results folder when given one, else in the current folder).",
)
@click.option("--author", metavar="TEXT", help="Author shown on the front page.")
@click.option("--version", "paper_version", metavar="TEXT", help="Paper version, e.g. 0.3.")
@click.option(
    "--decision",
    metavar="TEXT",
    help="The decision asked of the board, on the front page (default: a line to complete).",
)
@click.option("--force", is_flag=True, help="Replace an existing PDF.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Scenario overrides when RESULT_OR_SCENARIO is a scenario (repeatable).",
)
@click.option(
    "--ensemble",
    "ensemble_path",
    type=click.Path(path_type=Path),
    help="Add a fan chart from `alloc ensemble` output (ensemble.nc or its folder).",
)
@click.option(
    "--sensitivity",
    "sensitivity_path",
    type=click.Path(path_type=Path),
    help="Add a tornado chart from a table written by `alloc sensitivity --csv`.",
)
@click.option(
    "--compare",
    "compare_path",
    type=click.Path(path_type=Path),
    help="Add the charts comparing the result with another on the same ICBs and years "
    "(a results folder or result.nc, as `alloc compare`).",
)
@reports_errors
def report(
    result_or_scenario,
    icb,
    out,
    author,
    paper_version,
    decision,
    force,
    overrides,
    ensemble_path,
    sensitivity_path,
    compare_path,
):
    """Write a PDF board pack from a result (result.nc or its folder) or a scenario.

    A scenario (name, TOML or .xlsx) is run first; nothing else is written.
    """
    from alloc.errors import AllocError
    from alloc.outputs.report import load_ensemble, load_sensitivity, write_report

    started = time.perf_counter()
    if out is not None and out.exists() and not force:
        raise AllocError(
            out, "--out", "already exists; choose another name or pass --force to replace it"
        )
    sensitivity = load_sensitivity(sensitivity_path) if sensitivity_path else None
    result, source = _load_result(result_or_scenario, list(overrides))
    ensemble = load_ensemble(ensemble_path, result) if ensemble_path else None
    extra = None
    if compare_path is not None:
        from alloc.outputs.compare import load_result as load_compared
        from alloc.outputs.compare import report_pages

        other = load_compared(compare_path, "--compare")
        extra = report_pages([result, other], [source, str(compare_path)])
    if out is None:
        from alloc.outputs.report import default_pack_name

        given = Path(source)  # a result read from a results folder: the pack goes beside it
        folder = given.parent if given.suffix.lower() == ".nc" and given.is_file() else Path()
        out = folder / default_pack_name(result, icb)
    written = write_report(
        result,
        out,
        icb=icb,
        force=force,
        source=source,
        ensemble=ensemble,
        sensitivity=sensitivity,
        extra_pages=extra,
        author=author,
        version=paper_version,
        decision=decision,
    )
    click.echo(
        f"Wrote {len(written.pages)} pages ({', '.join(written.pages)}) to "
        f"{written.path} in {time.perf_counter() - started:.1f} s"
    )


@click.command()
@click.argument("scenario", required=False, default="default")
@click.option(
    "--xlsx",
    "xlsx",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Workbook to write, e.g. --xlsx my_scenario.xlsx.",
)
@click.option("--force", is_flag=True, help="Replace an existing workbook.")
@reports_errors
def template(scenario, xlsx, force):
    """Write SCENARIO's parameters to an editable Excel workbook (run it with alloc run FILE)."""
    from alloc.allocation.engine import prepare
    from alloc.outputs.scenario_template import write_template

    written = write_template(prepare(scenario), xlsx, force=force)
    click.echo(
        f"Wrote scenario workbook {written}: edit the yellow cells on the Scenario, "
        f"Policy and Envelope sheets, then run: alloc run {written}"
    )


@click.command("template-data")
@click.option(
    "--xlsx",
    "xlsx",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Workbook to write, e.g. --xlsx my_baseline.xlsx.",
)
@click.option(
    "--geography",
    default="icb_2026",
    show_default=True,
    help="Areas of the rows: a shipped geography, a practice mapping CSV or as_data.",
)
@click.option("--force", is_flag=True, help="Replace an existing workbook.")
@reports_errors
def template_data(xlsx, geography, force):
    """Write the embedded baseline (ILLUSTRATIVE) to an editable workbook, one row per ICB x
    service line, to replace with your own figures; run with baseline = "FILE" in a scenario or
    alloc run --set baseline='"FILE"'."""
    from alloc.inputs.dataset import load_inputs
    from alloc.inputs.footprint import refootprint
    from alloc.outputs.data_template import write_data_template

    inputs = refootprint(load_inputs(), geography, base=Path.cwd())
    written = write_data_template(inputs, xlsx, force=force)
    click.echo(
        f"Wrote baseline workbook {written} ({inputs.sizes['icb']} ICBs x "
        f"{inputs.sizes['service']} service lines on {inputs.attrs['geography']}, "
        f"ILLUSTRATIVE figures): replace the baseline (GBP) column with yours, then run: "
        f"alloc run --set baseline='\"{written}\"'"
    )


def _load_result(arg: str, overrides: list[str] | None = None):
    """A result from a ``result.nc``, a results folder, or a scenario (run now).

    Returns the result (an ``xarray.Dataset``) and a name for its origin.
    """
    from alloc.allocation.engine import run
    from alloc.errors import AllocError
    from alloc.inputs.scenario import load_scenario
    from alloc.outputs.results import read_result

    path = Path(arg)
    if arg.endswith(("/", "\\")) and not path.exists():
        raise AllocError(
            arg,
            "folder",
            "expected a results folder written by `alloc run` (holding result.nc); "
            "nothing exists at this path",
        )
    if path.suffix.lower() == ".nc" or (path.is_dir() and (path / "result.nc").is_file()):
        nc = path if path.suffix.lower() == ".nc" else path / "result.nc"
        if not nc.is_file():
            raise AllocError(
                nc, "file", "expected a result written by `alloc run`; it does not exist"
            )
        try:
            return read_result(nc), str(nc)
        except (OSError, ValueError) as exc:
            raise AllocError(
                nc,
                "file",
                f"expected a NetCDF result written by `alloc run` ({type(exc).__name__})",
            ) from None
    if path.is_dir():
        raise AllocError(path, "folder", "expected a results folder holding result.nc")
    spec, spath, raw = load_scenario(arg, overrides)
    return run(spec, scenario_path=spath, raw=raw), str(spath)


@click.command()
@click.argument("term", required=False)
@reports_errors
def glossary(term):
    """Explain the terms of alloc's outputs (DfT, need index, net position, ...): all, or TERM."""
    from alloc.errors import AllocError
    from alloc.outputs.glossary import GLOSSARY, lookup
    from alloc.resources import suggest

    entries = lookup(term)
    if not entries:
        terms = [t for t, _ in GLOSSARY]
        raise AllocError(
            "glossary",
            term,
            f"no term contains '{term}'.{suggest(term, terms)} Terms: {', '.join(terms)}",
        )
    import textwrap

    for name, text in entries:
        body = textwrap.fill(text, width=96, initial_indent="    ", subsequent_indent="    ")
        click.echo(f"{name}\n{body}\n")


@click.command()
@click.argument("results", nargs=-1, required=True, metavar="RESULT_A RESULT_B [RESULT_C ...]")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write: comparison.csv, comparison.xlsx, charts/ (and the PDF).",
)
@click.option("--pdf", is_flag=True, help="Also write comparison_pack.pdf.")
@click.option("--force", is_flag=True, help="Replace an existing comparison folder.")
@reports_errors
def compare(results, out_dir, pdf, force):
    """Compare results of `alloc run` (folders or result.nc) on the same ICBs and years.

    Every difference is a scenario minus the first (RESULT_A).
    """
    from alloc.cli.errors import note
    from alloc.inputs.years import year_label
    from alloc.outputs.atomic import check_output_folder
    from alloc.outputs.compare import headline, load_comparable, write_comparison

    started = time.perf_counter()
    check_output_folder(out_dir, force)  # before reading: fail fast, write nothing
    loaded, names = load_comparable(results)
    written = write_comparison(
        loaded, out_dir, names=names, sources=results, pdf=pdf, force=force, note=note
    )
    first = loaded[0]
    years = first["year"].values
    click.echo(
        f"Compared {len(names)} results on {first.attrs.get('geography', '')} "
        f"({first.sizes['icb']} ICBs), {year_label(int(years[0]))} to "
        f"{year_label(int(years[-1]))}: " + ", ".join(f"'{n}'" for n in names)
    )
    for line in headline(loaded, names):
        click.echo(line)
    tops = sorted({f.split("/")[0] + ("/" if "/" in f else "") for f in written.files})
    click.echo(
        f"Wrote {', '.join(tops)} to {written.path}/ in {time.perf_counter() - started:.1f} s"
    )


COMMANDS = [compare, glossary, report, template, template_data]
