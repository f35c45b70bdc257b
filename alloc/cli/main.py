"""The ``alloc`` command group and its core commands: ``run``, ``list``, ``validate``.

The only layer that prints. Bad input is reported as one line ``error: <file>: <field>: <problem>``
with exit status 2 and no traceback.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import click

from alloc.cli.errors import AllocGroup, note, reports_errors
from alloc.cli.progress import Stages
from alloc.errors import AllocError


def year_label(year: int) -> str:
    """:func:`alloc.inputs.years.year_label`, imported when first needed (numpy and pydantic
    load with it; `alloc --help` and argument errors must not wait for them)."""
    from alloc.inputs.years import year_label as label

    return label(year)


@click.group(cls=AllocGroup)
@click.version_option(package_name="alloc")
def main():
    """alloc: NHS England specialised services allocation modelling."""


def _summary_text(result) -> str:
    from alloc.outputs.tables import summary

    table = summary(result)
    first, last = year_label(int(result["year"][0])), year_label(int(result["year"][-1]))
    names = [n.removeprefix("NHS ").removesuffix(" ICB") for n in table["icb_name"]]
    width = max([len(n) for n in names] + [len("England (00 ICBs)")])
    lines = [
        f"{'ICB':<5} {'name':<{width}} {'baseline ' + first:>18} {'allocation ' + last:>20} "
        f"{'DfT ' + first + ' -> ' + last:>24}",
        f"{'':<5} {'':<{width}} {'(£m)':>18} {'(£m)':>20} {'(%)':>24}",
    ]
    for row, name in zip(table.itertuples(), names):
        lines.append(
            f"{row.icb:<5} {name:<{width}} {row.baseline_gbp / 1e6:>18,.1f} "
            f"{row.final_allocation_gbp / 1e6:>20,.1f} "
            f"{100 * row.dft_start:>+12.2f} -> {100 * row.dft_end:>+8.2f}"
        )
    total_base = table["baseline_gbp"].sum() / 1e6
    total_end = table["final_allocation_gbp"].sum() / 1e6
    england = f"England ({len(table)} ICBs)"
    lines.append(f"{'':<5} {england:<{width}} {total_base:>18,.1f} {total_end:>20,.1f}")
    return "\n".join(lines)


def _pathway_warnings(result) -> list[str]:
    """Plausibility warnings of the left-shift pathways (calibration factors, published figures,
    capacity in parameter draws), collected by :func:`alloc.pathways.project_left_shift`."""
    import json

    return json.loads(result.attrs.get("pathway_warnings", "[]"))


def _rate(value, what: str) -> str:
    if isinstance(value, dict):
        return f"{what} varying by year"
    return f"{what} {100 * value:.1f}%"


def _policy_text(result) -> str:
    """The policy that ran, with its parameters after overrides (from the result)."""
    import json

    policy = json.loads(result.attrs.get("policy_json", "{}"))
    terms = []
    basis = policy.get("growth_basis", "cash")
    if policy.get("min_growth") is not None:
        terms.append(_rate(policy["min_growth"], f"floor ({basis} growth a year)"))
    if policy.get("max_growth") is not None:
        terms.append(_rate(policy["max_growth"], f"cap ({basis} growth a year)"))
    if policy.get("max_below_target") is not None:
        terms.append(_rate(policy["max_below_target"], "no ICB further below target than"))
    if policy.get("convergence_rate") is not None:
        terms.append(_rate(policy["convergence_rate"], "share of each gap closed a year"))
    if policy.get("deadline") is not None:
        terms.append(
            f"every ICB within {100 * policy['band']:.1f}% of target by "
            f"{year_label(int(policy['deadline']))}"
        )
    params = "; ".join(terms) if terms else "no floors or caps"
    return (
        f"Policy: {result.attrs['policy_name']} ({result.attrs['policy_kind']}): {params}. "
        f"Formula: {result.attrs['formula_name']}; convergence on "
        f"{result.attrs['convergence_level']} allocations."
    )


def _header_text(spec, result, overrides: list[str]) -> str:
    """What ran: scenario, overrides, policy, areas, years, units and DfT's sign."""
    first, last = year_label(int(result["year"][0])), year_label(int(result["year"][-1]))
    lines = [f"Scenario '{spec.name}': {spec.description}"]
    if overrides:
        lines.append("Changed by --set: " + ", ".join(overrides))
    lines.append(_policy_text(result))
    lines.append(_geography_text(result).replace(" ICBs.", f" ICBs; {first} to {last}.", 1))
    lines.append(
        "Money in cash GBP (£m). DfT = distance from target = (allocation - target) / target: "
        "negative = below target.\n"
    )
    return "\n".join(lines)


def _geography_text(result) -> str:
    """One line naming the areas, plus the mapping's notes (unknown or carried practices)."""
    import json

    name = result.attrs.get("geography", "")
    status = result.attrs.get("geography_status", "")
    label = {"proposed": " (PROPOSED, not decided)", "user": " (your mapping)"}.get(status, "")
    lines = [f"Areas: {name}{label}, {result.sizes['icb']} ICBs."]
    lines += [f"note: {n}" for n in json.loads(result.attrs.get("geography_notes", "[]"))]
    if source := result.attrs.get("baseline_source"):  # the user's own baseline file
        footprint = result.attrs.get("baseline_footprint", name)
        carried = f", carried from {footprint}" if footprint != name else ""
        lines.append(f"Baseline: {source} (your figures{carried}).")
        if result.attrs.get("baseline_split", "").startswith("by ICB only"):
            lines.append(f"note: baseline {result.attrs['baseline_split']}")
    return "\n".join(lines)


@main.command()
@click.argument("scenario", required=False, default="default")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a scenario value, e.g. --set policy.min_growth=0.02 (repeatable).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Results folder (default: results/<scenario name>).",
)
@click.option("--force", is_flag=True, help="Replace an existing results folder.")
@click.option("--quiet", is_flag=True, help="Print nothing on success (errors still go to stderr).")
@click.option("--no-plots", is_flag=True, help="Do not write the charts (PNG + SVG in charts/).")
@click.option(
    "--timings", is_flag=True, help="Print the time each stage took (on stderr, after the run)."
)
@reports_errors
def run(scenario, overrides, out_dir, force, quiet, no_plots, timings):
    """Run SCENARIO (a TOML file, an .xlsx from `alloc template`, or a shipped scenario name)."""
    started = time.perf_counter()
    if not overrides and not str(scenario).lower().endswith(".xlsx"):
        from alloc.resources import resolve_named

        resolve_named("scenarios", scenario)  # a mistyped name is reported before the imports
    _hide_dask_from_xarray()
    stages = Stages(show=not quiet)
    stages("loading inputs", "imports")  # first line within a fraction of a second
    from alloc.allocation.engine import kernels_cached
    from alloc.allocation.engine import run as run_scenario
    from alloc.inputs.scenario import load_scenario
    from alloc.outputs.atomic import check_output_folder
    from alloc.outputs.results import RESULT_FILES, write_results

    stages("loading inputs", "scenario")
    spec, path, raw = load_scenario(scenario, list(overrides))
    out_dir = out_dir or Path("results") / spec.name
    check_output_folder(out_dir, force)  # before the run: --force replaces only alloc's results
    if not kernels_cached(spec):
        stages.say("compiling kernels (first run only)...")
    result = run_scenario(spec, scenario_path=path, raw=raw, on_stage=stages)
    written = write_results(
        result, out_dir, force=force, plots=not no_plots, note=note, on_stage=stages
    )
    stages.stop()
    if timings:
        click.echo(stages.table(), err=True)
    if not quiet:
        click.echo(_header_text(spec, result, list(overrides)))
        click.echo(_summary_text(result))
        relaxed = [
            f"{year_label(int(y))}: {s}"
            for y, s in zip(result["year"].values, result["policy_status"].values)
            if s != "ok"
        ]
        for line in relaxed:
            click.echo(f"note: {line}")
        for line in _pathway_warnings(result):  # plausibility of the left-shift calibration
            click.echo(f"warning: {line}")
        if (rate := result.attrs.get("policy_convergence_rate")) is not None:  # kind "deadline"
            click.echo(f"Convergence rate: {rate:.6f} of each gap closed a year (smallest pace)")
        from alloc.outputs.left_shift_summary import left_shift_summary, summary_text

        if (left_shift := left_shift_summary(result)) is not None:  # only scenarios with levers
            click.echo(summary_text(left_shift))
    if not quiet:
        charts = "" if no_plots else ", charts/ (PNG + SVG)"
        click.echo(
            f"\nWrote {', '.join(RESULT_FILES)}{charts} to {written}/ "
            f"in {time.perf_counter() - started:.1f} s"
        )
    _exit_without_teardown()


def _exit_without_teardown() -> None:
    """End a successful `alloc run` process now, skipping the interpreter's teardown.

    Every file is written, closed and moved into place by now; tearing down the modules of
    xarray, numba and matplotlib would only spend 0.3-1 s (measured with the interpreter's exit
    timed after the command returned) before the shell prompt comes back. Exit handlers still
    run and the output streams are flushed; only in the ``alloc`` command's own process, and
    only when no other Python thread is alive (in-process callers, such as tests, go on).
    """
    import atexit
    import os
    import threading

    from alloc.cli import _started_as_cli

    if not _started_as_cli() or threading.active_count() > 1:
        return
    atexit._run_exitfuncs()  # as at a normal exit (logging, concurrent.futures, ...)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _hide_dask_from_xarray() -> None:
    """In an `alloc run` process, let xarray see no dask: the command never uses dask, and an
    installed dask costs about 1 s (0.8x the time to import xarray and numba) otherwise.

    xarray probes any installed dask: building a Variable checks ``isinstance(data,
    dask.array.Array)`` (``xarray.namedarray.pycompat.DuckArrayModule`` imports ``dask.array``),
    and ``to_netcdf`` asks dask for its scheduler (``xarray.backends.locks.get_dask_scheduler``
    -> ``dask.base.get_scheduler``, which imports ``distributed`` to look for a client). A
    ``None`` entry in :data:`sys.modules` makes ``import dask`` fail and
    ``importlib.util.find_spec("dask")`` return None, which xarray reads as "dask is not
    installed", as in a core install (dask is the ``alloc[dask]`` extra). Only when dask is not
    imported yet (so no dask array can exist) and only in the ``alloc`` command's own process,
    which ends with the command (in-process callers, such as tests, keep their dask).
    """
    from alloc.cli import _started_as_cli

    if _started_as_cli() and "dask" not in sys.modules:
        for name in ("dask", "distributed"):
            sys.modules[name] = None


@main.command("list")
@click.argument(
    "what",
    type=click.Choice(["icbs", "geographies", "policies", "scenarios", "formulas", "services"]),
)
@click.option(
    "--geography",
    default="icb_2026",
    show_default=True,
    help="With `list icbs`: a shipped geography or a practice mapping CSV.",
)
@reports_errors
def list_(what, geography):
    """List ICBs, geographies, policies, scenarios, formulas or service lines."""
    # Shipped files are read with the standard library (alloc.inputs.catalogue): listing them
    # must not wait for numpy, pandas or pydantic. A user's own mapping is read in full.
    from alloc.inputs import catalogue
    from alloc.resources import list_named

    if what in ("policies", "scenarios", "formulas"):
        kind = {"policies": "policy", "scenarios": "scenarios", "formulas": "formula"}[what]
        from alloc.inputs.specs import read_toml
        from alloc.resources import models_dir

        for name in list_named(kind):
            data = read_toml(models_dir() / kind / f"{name}.toml")
            click.echo(f"{name:<24} {data.get('description', '')}")
        return
    if what == "geographies":
        for name, n_areas, status, description in catalogue.geography_summaries():
            click.echo(f"{name:<20} {n_areas:>3} areas  {status:<9} {description}")
        return
    if what == "icbs":
        if geography in catalogue.shipped_geographies():
            rows = catalogue.area_rows(geography)
        else:
            from alloc.inputs.geography import load_geography

            geo = load_geography(geography)
            for note in geo.report.notes():
                click.echo(f"note: {note}", err=True)
            rows = [(code, row["name"], row["region"]) for code, row in geo.areas.iterrows()]
        for code, name, region in rows:
            click.echo(f"{code:<5} {name:<60} {region}")
        return
    for svc, name in catalogue.service_rows():
        click.echo(f"{svc:<24} {name}")


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Scenario overrides to validate with the scenario.",
)
@reports_errors
def validate(path, overrides):
    """Validate a dataset folder or a scenario / policy / formula TOML (default: embedded data)."""
    from alloc.inputs.dataset import load_inputs

    if path is not None and not path.exists():
        raise AllocError(
            path,
            "path",
            "expected a dataset folder or a scenario, policy, formula or pathway file "
            "(.toml, or a scenario .xlsx); nothing exists at this path",
        )
    if path is None or path.is_dir():
        inputs = load_inputs(path)
        click.echo(
            f"ok: dataset {inputs.attrs['data_folder']} ({inputs.sizes['icb']} ICBs, "
            f"{inputs.sizes['service']} service lines, base year "
            f"{year_label(inputs.attrs['base_year'])})"
        )
        return
    from alloc.inputs.specs import read_toml

    data = {} if path.suffix.lower() == ".xlsx" else read_toml(path)  # a workbook is a scenario
    if "pathway" in data or path.name == "common.toml" and path.parent.name == "pathways":
        from alloc.pathways import load_common, load_pathway

        if "pathway" in data:
            load_pathway(data["pathway"], path)
            click.echo(f"ok: pathway {data['pathway']}")
        else:
            load_common(path)
            click.echo("ok: common pathway assumptions")
    elif "kind" in data:
        from alloc.allocation.policy import load_policy

        policy, _ = load_policy(path)
        click.echo(f"ok: policy {policy.name} ({policy.kind})")
    elif "services" in data:
        from alloc.targets.formula import load_formula

        formula, _ = load_formula(path)
        click.echo(f"ok: formula {formula.name} ({len(formula.services)} service lines)")
    else:
        from alloc.allocation.engine import run as run_scenario
        from alloc.inputs.scenario import load_scenario

        spec, spath, raw = load_scenario(path, list(overrides))
        run_scenario(spec, scenario_path=spath, raw=raw)
        click.echo(f"ok: scenario {spec.name} runs and meets every invariant")


@main.command()
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: print to standard output).",
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
@reports_errors
def schema(out, force):
    """Write the JSON Schema of scenario files (for editors that validate TOML)."""
    import json

    from alloc.inputs.scenario import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    from alloc.outputs.atomic import check_output_file

    check_output_file(out, "--out", force)  # a file only: never a folder
    out.write_text(text, encoding="utf-8")
    click.echo(f"Wrote the scenario JSON Schema to {out}")


# Commands contributed by topic modules (alloc/cli/<topic>.py); one line per module.
COMMAND_MODULES: list[str] = [
    "alloc.cli.ensemble",
    "alloc.cli.outputs",
    "alloc.cli.formulas",
    "alloc.cli.data",
    "alloc.cli.explore",
]
for _module in COMMAND_MODULES:
    for _command in importlib.import_module(_module).COMMANDS:
        main.add_command(_command)
