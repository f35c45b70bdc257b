"""`alloc ensemble`: grids and Monte Carlo draws, in process or on dask."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import click

from alloc.cli.errors import note, reports_errors


@contextmanager
def progress_bar(desc: str, unit: str):
    """A tqdm bar on stderr, yielded as the ``progress(done, total)`` callback the API takes."""
    from tqdm import tqdm

    with tqdm(total=1, desc=desc, unit=unit, unit_scale=True, leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        yield progress


@click.command()
@click.argument("scenario", required=False, default="default")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a scenario value (repeatable), e.g. --set ensemble.seed=7.",
)
@click.option("--draws", type=int, help="Monte Carlo draws per grid point (draw 0 = central).")
@click.option("--seed", type=int, help="Master seed.")
@click.option("--chunk", type=int, help="Rows (grid point x draw) per kernel call / dask task.")
@click.option(
    "--workers",
    type=int,
    help="Run on a dask LocalCluster with this many workers (only when the job is long enough "
    "to pay for starting one; otherwise in process, with a note).",
)
@click.option("--scheduler", help="Run on an existing dask scheduler, e.g. tcp://host:8786.")
@click.option("--full", is_flag=True, help="Also write the full draw cube (ensemble_full.nc).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Results folder (default: results/<scenario name>_ensemble).",
)
@click.option("--force", is_flag=True, help="Replace an existing results folder.")
@reports_errors
def ensemble(scenario, overrides, draws, seed, chunk, workers, scheduler, full, out_dir, force):
    """Run SCENARIO's grid and Monte Carlo ensemble and write quantiles."""
    from alloc.inputs.scenario import load_scenario
    from alloc.outputs.atomic import atomic_folder, check_output_folder
    from alloc.outputs.results import write_netcdf
    from alloc.uncertainty.ensemble import run_ensemble

    sets = list(overrides)
    for key, value in (("draws", draws), ("seed", seed), ("chunk", chunk)):
        if value is not None:
            sets.append(f"ensemble.{key}={value}")
    spec, path, raw = load_scenario(scenario, sets)
    out_dir = out_dir or Path("results") / f"{spec.name}_ensemble"
    check_output_folder(out_dir, force)  # before the run: --force replaces only alloc's results
    started = time.perf_counter()
    in_process = []  # told by run_ensemble when --workers did not pay for a cluster

    def ensemble_note(text: str) -> None:
        in_process.append(text)
        note(text)

    with atomic_folder(out_dir, force, note) as tmp, progress_bar("ensemble", "row") as progress:
        result = run_ensemble(
            spec,
            scenario_path=path,
            raw=raw,
            scheduler=scheduler,
            workers=workers,
            full_path=tmp / "ensemble_full.nc" if full else None,
            spill_dir=tmp,
            progress=progress,
            note=ensemble_note,
        )
        write_netcdf(result, tmp / "ensemble.nc")
        _quantile_table(result).to_csv(tmp / "ensemble_quantiles.csv", index=False)
    elapsed = time.perf_counter() - started
    rows = result.attrs["draws"] * max(1, int(_grid_size(result)))
    click.echo(
        f"Ensemble '{spec.name}': {rows:,} rows ({result.attrs['draws']:,} draws"
        f"{' x grid ' + result.attrs['grid'] if result.attrs['grid'] else ''}), seed "
        f"{result.attrs['seed']}, {elapsed:.1f} s"
        f"{' on dask' if (workers or scheduler) and not in_process else ' in process'}."
    )
    relaxed = result["share_relaxed"]
    if float(relaxed.max()) > 0:
        worst = relaxed.where(relaxed == relaxed.max(), drop=True)
        click.echo(
            f'Floors or caps were relaxed (fallback = "relax") in up to '
            f"{float(relaxed.max()):.1%} of draws (year {int(worst['year'][0])}); see "
            "share_relaxed in ensemble.nc."
        )
    click.echo(
        f"Wrote ensemble.nc, ensemble_quantiles.csv{', ensemble_full.nc' if full else ''} "
        f"to {out_dir}/"
    )


def _grid_size(result) -> int:
    names = [n for n in result.attrs["grid"].split(", ") if n]
    size = 1
    for n in names:
        size *= result.sizes[n]
    return size


def _quantile_table(result):
    """Long table: grid values, icb, year, quantile, then one column per summarised output.

    ``allocation_gbp`` and ``dft`` [fraction]; with pathways also ``net_position_gbp`` and
    ``left_shift_saving_gbp`` (all cash).
    """
    names = [
        v for v in ("allocation_q", "dft_q", "net_position_q", "left_shift_saving_q") if v in result
    ]
    frame = result[names].to_dataframe().reset_index()
    columns = {v: v[:-2] + ("" if v == "dft_q" else "_gbp") for v in names}
    return frame.rename(columns=columns)


UNITS = {"1": "fraction", "GBP": "GBP, cash"}


@click.command()
@click.argument("scenario", required=False, default="default")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a scenario value (repeatable).",
)
@click.option(
    "--icb", help="ICB whose final-year DfT is the output (default: national mean absolute DfT)."
)
@click.option(
    "--output",
    "output",
    type=click.Choice(["dft", "saving", "net_position"]),
    default="dft",
    show_default=True,
    help="Final-year output: distance from target, "
    "or (left-shift scenarios) left-shift saving or net position.",
)
@click.option(
    "--method",
    type=click.Choice(["tornado", "sobol"]),
    default="tornado",
    show_default=True,
    help="tornado: each parameter at its low and high, the others "
    "central; sobol: variance-based first-order and total indices (SALib).",
)
@click.option(
    "--samples",
    type=int,
    help="Sobol base sample size N, a power of 2; the model "
    "runs N x (groups + 2) times. Default 8192, or 512 with pathway quantities.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the table to this CSV file (not overwritten without --force).",
)
@click.option("--force", is_flag=True, help="Replace an existing CSV file.")
@reports_errors
def sensitivity(scenario, overrides, icb, output, method, samples, csv_path, force):
    """Sensitivity of a final-year output of SCENARIO to its uncertain inputs."""
    from alloc.errors import AllocError
    from alloc.inputs.scenario import load_scenario
    from alloc.uncertainty.sensitivity import sensitivity as tornado
    from alloc.uncertainty.sensitivity import sobol_indices

    spec, path, raw = load_scenario(scenario, list(overrides))
    if csv_path is not None and csv_path.exists() and not force:
        raise AllocError(csv_path, "file", "already exists; pass --force to replace it")
    if method == "sobol":
        with progress_bar("sensitivity", "run") as progress:
            table = sobol_indices(
                spec,
                scenario_path=path,
                raw=raw,
                icb=icb,
                output=output,
                samples=samples,
                progress=progress,
            )
        click.echo(
            f"Output: {table.attrs['output']} ({UNITS[table.attrs['units']]}); Sobol "
            f"indices from {table.attrs['runs']:,} "
            f"runs (shares of its variance; conf = half-width of the 95% interval)"
        )
        click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    else:
        table = tornado(spec, scenario_path=path, raw=raw, icb=icb, output=output)
        money = table.attrs["units"] == "GBP"
        fmt = (lambda v: f"{v:+,.0f}") if money else (lambda v: f"{v:+.4f}")
        click.echo(
            f"Output: {table.attrs['output']} ({UNITS[table.attrs['units']]}); central "
            f"{fmt(table['output_central'].iloc[0])}"
        )
        formats = {c: fmt for c in ("output_low", "output_high", "output_central", "swing")}
        formats.update(low="{:.4g}".format, high="{:.4g}".format)
        click.echo(
            table.drop(columns=["output", "units"]).to_string(index=False, formatters=formats)
        )
    if table.attrs["note"]:
        click.echo(f"Note: {table.attrs['note']}.")
    if csv_path is not None:
        tmp = csv_path.with_name(f".{csv_path.name}.tmp")
        table.to_csv(tmp, index=False)
        tmp.replace(csv_path)
        click.echo(f"Wrote {csv_path}")


COMMANDS = [ensemble, sensitivity]
