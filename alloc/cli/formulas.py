"""CLI commands for the methodology reviewer: ``compare-formulas``, ``variation``, ``estimate``.

Registered through ``alloc.cli.main.COMMAND_MODULES``; errors are reported by
:func:`alloc.cli.errors.reports_errors`. Heavy imports stay inside the functions.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import click

from alloc.cli.errors import note, reports_errors
from alloc.errors import AllocError


def _check_target(path: Path | None, force: bool) -> None:
    if path is not None and path.exists() and not force:
        raise AllocError(
            path, "output", "already exists; choose another path or pass --force to replace it"
        )


def _write_csv(frame, path: Path, force: bool, **kwargs) -> None:
    """Write a CSV atomically: to a temporary file beside it, then rename."""
    _check_target(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        frame.to_csv(tmp, **kwargs)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load_data(data: Path | None):
    from alloc.inputs.dataset import load_inputs

    return load_inputs(data)


def _year(value: str | None) -> int | None:
    from alloc.inputs.years import parse_year

    return None if value is None else parse_year(value, "--year", "year")


@click.command("compare-formulas")
@click.argument("formula_a")
@click.argument("formula_b")
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    help="Dataset folder (default: the embedded data).",
)
@click.option("--year", help="Target year, e.g. 2025/26 (default: the base year).")
@click.option(
    "--method",
    type=click.Choice(["one_at_a_time", "shapley", "sequential"]),
    default="one_at_a_time",
    show_default=True,
    help="How changed components share the change (see alloc.targets.explain).",
)
@click.option(
    "--service",
    default="all",
    show_default=True,
    help="Service line to print, or 'all' for ICB totals.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the full decomposition (every ICB x service line x part) as CSV.",
)
@click.option(
    "--waterfall",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write waterfall-ready steps for every ICB and service line as CSV.",
)
@click.option("--force", is_flag=True, help="Replace existing output files.")
@reports_errors
def compare_formulas(formula_a, formula_b, data, year, method, service, out, waterfall, force):
    """Decompose each ICB's change in target share from FORMULA_A to FORMULA_B.

    Formulas are names in models/formula/ or TOML paths. Each changed component (population
    vintage, age curve, need index, MFF, health-inequalities weight) gets its contribution, plus
    an interaction term, so the parts add up to the total change.
    """
    import pandas as pd

    from alloc.inputs.years import year_label
    from alloc.targets.explain import decompose_formula_change
    from alloc.targets.formula import load_formula

    _check_target(out, force)
    _check_target(waterfall, force)
    inputs = _load_data(data)
    fa, pa = load_formula(formula_a, Path.cwd())
    fb, pb = load_formula(formula_b, Path.cwd())
    change = decompose_formula_change(
        inputs, fa, fb, sources=(str(pa), str(pb)), year=_year(year), method=method
    )
    services = list(change.shares.index.get_level_values("service").unique())
    if service not in services:
        raise AllocError(
            "--service",
            "service",
            f"expected 'all' or one of "
            f"{', '.join(s for s in services if s != 'all')}, found {service!r}",
        )
    written = []
    if out is not None:
        frame = change.parts.merge(change.shares.reset_index(), on=["icb", "service"])
        frame.insert(0, "financial_year", year_label(change.year))
        frame["formula_a"], frame["formula_b"], frame["method"] = fa.name, fb.name, method
        _write_csv(frame, out, force, index=False)
        written.append(out)
    if waterfall is not None:
        steps = pd.concat([change.waterfall(s) for s in services], ignore_index=True)
        _write_csv(steps, waterfall, force, index=False)
        written.append(waterfall)
    label = "ICB totals" if service == "all" else f"service line {service}"
    click.echo(
        f"Target shares {year_label(change.year)}, {label}: {fa.name} ({pa}) -> {fb.name} ({pb})"
    )
    if not change.changed:
        click.echo("The formulas do not differ in any component: every change is zero.")
    click.echo(
        f"Changed components: {', '.join(change.changed) or 'none'}; method "
        f"{method}. Shares in %, changes in percentage points of the national total "
        f"(x £{change.envelopes[service] / 1e6:,.0f}m base-year envelope for £).\n"
    )
    table = change.table(service)
    parts = [*change.changed, "interaction"]
    short = {
        "population_vintage": "pop vint",
        "age_curve": "age crv",
        "need_index": "need idx",
        "mff": "MFF",
        "hi_weight": "HI wt",
        "interaction": "interact",
    }
    head = (
        f"{'ICB':<4} {'share A':>8} "
        + " ".join(f"{short[p]:>9}" for p in parts)
        + f" {'share B':>8} {'change':>9}"
    )
    click.echo(head)
    for icb, row in table.iterrows():
        click.echo(
            f"{icb:<4} {100 * row['share_a']:>8.4f} "
            + " ".join(f"{100 * row[p]:>+9.4f}" for p in parts)
            + f" {100 * row['share_b']:>8.4f} {100 * row['total_change']:>+9.4f}"
        )
    worst = table["total_change"].abs().idxmax()
    click.echo(
        f"\nLargest move: {worst} {100 * table.loc[worst, 'total_change']:+.4f} pp "
        f"(£{table.loc[worst, 'total_change'] * change.envelopes[service] / 1e6:+,.1f}m). "
        "Parts + interaction = change for every ICB."
    )
    for path in written:
        click.echo(f"Wrote {path}")


@click.command("variation")
@click.option(
    "--formula",
    default="default",
    show_default=True,
    help="Formula giving the needs-based target (name or TOML path).",
)
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    help="Dataset folder (default: the embedded data).",
)
@click.option(
    "--peers",
    default="region",
    show_default=True,
    help="Benchmark group: region, england or nearest:<k> (k ICBs nearest in need).",
)
@click.option("--service", help="Print one service line (default: all, the CSV has every line).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the full table (every ICB x service line) as CSV.",
)
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@reports_errors
def variation_cmd(formula, data, peers, service, out, force):
    """Variation analysis: spend per head = spend per patient x patients per head, vs target.

    For each ICB and service line in the base year: distance from the needs-based target split
    exactly into intensity (spend per patient vs England) and need-adjusted access (patients
    per weighted head vs England), and both against a benchmark peer group.
    """
    from alloc.targets.explain import variation
    from alloc.targets.formula import load_formula

    _check_target(out, force)
    inputs = _load_data(data)
    spec, path = load_formula(formula, Path.cwd())
    table = variation(inputs, spec, path, peers=peers)
    services = list(dict.fromkeys(table.index.get_level_values("service")))
    shown = services if service is None else [service]
    if service is not None and service not in services:
        raise AllocError(
            "--service", "service", f"expected one of {', '.join(services)}, found {service!r}"
        )
    if out is not None:
        _write_csv(table, out, force)
    click.echo(
        f"Variation analysis {table.attrs['year']} (spend = illustrative baseline, "
        f"{table.attrs['money']}); target from formula {spec.name}; peers: {peers}."
    )
    click.echo(
        "1 + DfT = intensity index x access index (both vs England); 'vs peers' against "
        "the peer group's totals.\n"
    )
    for svc in shown:
        sub = table.xs(svc, level="service")
        click.echo(f"[{svc}]")
        click.echo(
            f"{'ICB':<4} {'£/head':>8} {'£/patient':>10} {'pts/1000':>9} {'DfT %':>7} "
            f"{'intens.':>8} {'access':>8} {'int/peer':>9} {'acc/peer':>9}"
        )
        for icb, r in sub.iterrows():
            click.echo(
                f"{icb:<4} {r['spend_per_head_gbp']:>8.2f} {r['spend_per_patient_gbp']:>10,.0f} "
                f"{r['patients_per_1000']:>9.3f} {100 * r['dft']:>+7.1f} "
                f"{r['intensity_index']:>8.3f} {r['access_index']:>8.3f} "
                f"{r['intensity_vs_peers']:>9.3f} {r['access_vs_peers']:>9.3f}"
            )
        click.echo("")
    if out is not None:
        click.echo(f"Wrote {out}")


@click.command("estimate")
@click.option(
    "--synthetic",
    "n_synthetic",
    type=int,
    help="Fit on N seeded synthetic person records (default 1,000,000 when no --data).",
)
@click.option(
    "--seed",
    type=int,
    default=20250401,
    show_default=True,
    help="Seed of the synthetic population.",
)
@click.option(
    "--data",
    "data_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV file(s) of records, one chunk per file (repeatable).",
)
@click.option("--cost", default="cost", show_default=True, help="Outcome column.")
@click.option("--need", "need_cols", multiple=True, help="Need variable column (repeatable).")
@click.option(
    "--supply",
    "supply_cols",
    multiple=True,
    help="Supply variable column, sterilised at prediction (repeatable).",
)
@click.option(
    "--categorical",
    "cat_cols",
    multiple=True,
    help="Column to expand into indicators (levels read from the data; repeatable).",
)
@click.option(
    "--group",
    "group_cols",
    multiple=True,
    help="Column to report need indices by (repeatable; default icb).",
)
@click.option("--weight", help="Regression weight column.")
@click.option("--population", "pop_col", help="Persons per record column (small-area records).")
@click.option(
    "--chunk-rows",
    type=int,
    default=1_000_000,
    show_default=True,
    help="Synthetic records per chunk.",
)
@click.option(
    "--se",
    type=click.Choice(["HC1", "classical"]),
    default="HC1",
    show_default=True,
    help="Standard errors for intervals and need-index errors.",
)
@click.option("--workers", type=int, default=0, help="Run on a local dask cluster of N workers.")
@click.option("--scheduler", help="Run on the dask scheduler at this address.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Results folder (default results/estimate).",
)
@click.option("--force", is_flag=True, help="Replace an existing results folder.")
@reports_errors
def estimate(
    n_synthetic,
    seed,
    data_files,
    cost,
    need_cols,
    supply_cols,
    cat_cols,
    group_cols,
    weight,
    pop_col,
    chunk_rows,
    se,
    workers,
    scheduler,
    out,
    force,
):
    """Fit a need model (WLS with sterilised supply variables) and write coefficients and need
    indices.

    Without --data: a seeded synthetic population (illustrative) with a known cost model, so the
    output also shows the true coefficients and need indices. With --data: CSV records; name the
    columns with --cost, --need, --supply, --categorical and --group.
    """
    from alloc.outputs.atomic import atomic_folder, check_output_folder
    from alloc.targets.estimate import NeedModel, fit_need_model

    out = out or Path("results") / "estimate"
    check_output_folder(out, force)  # --force replaces only a results folder alloc wrote
    if data_files and n_synthetic:
        raise AllocError(
            "--synthetic", "--data", "give either --synthetic N or --data files, not both"
        )
    truth = None
    if data_files:
        if not need_cols:
            raise AllocError("--need", "need", "expected at least one --need column with --data")
        groups = group_cols or ("icb",)
        source = [str(p) for p in data_files]
        levels = _discover_levels(source, [*cat_cols, *groups])
        model = NeedModel(
            cost=cost,
            need=tuple(need_cols),
            supply=tuple(supply_cols),
            categorical={c: levels[c] for c in cat_cols},
            weight=weight,
            population=pop_col,
            groups={g: levels[g] for g in groups},
        )
        described = f"{len(source)} CSV file(s): {', '.join(source[:3])}"
    else:
        from alloc.targets.synthetic import SyntheticPopulation

        n = n_synthetic or 1_000_000
        if n < 1_000:
            raise AllocError(
                "--synthetic", "synthetic", f"expected at least 1,000 records, found {n}"
            )
        source = SyntheticPopulation(n, seed=seed, chunk_rows=chunk_rows)
        model = source.need_model(practices=False)
        truth = source.dgp.coefficients()
        described = (
            f"synthetic population (illustrative): {n:,} persons, seed {seed}, "
            f"{source.n_practices:,} practices, {source.n_chunks} chunk"
            f"{'s' if source.n_chunks > 1 else ''}"
        )
    client = None
    try:
        if scheduler or workers:
            from alloc.targets.estimate import local_client

            if scheduler:
                from alloc.errors import require_optional

                distributed = require_optional("distributed", "dask", "--scheduler")
                client = distributed.Client(scheduler)
            else:
                client = local_client(workers)
        started = time.perf_counter()
        fit = fit_need_model(source, model, client=client, se=se)
        wall = time.perf_counter() - started
    finally:
        if client is not None:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None and not scheduler:
                cluster.close()
    coef = fit.coefficients()
    if truth is not None:
        coef["true"] = [truth[t] for t in coef.index]
        coef["error_in_se"] = (coef["estimate"] - coef["true"]) / coef["se"]
    tables = {}
    for group in model.groups:
        ni = fit.need_indices(group)
        ni["need_index_unsterilised"] = fit.need_indices(group, sterilise=False)["need_index"]
        if truth is not None:
            ni["need_index_true"] = fit.need_indices(group, beta=truth)["need_index"]
        tables[group] = ni
    summary = {
        "records": fit.n,
        "coefficients": len(fit.terms),
        "r2_weighted": fit.r2,
        "standard_errors": se,
        "wall_s": wall,
        "source": described,
        "supply_means": fit.supply_means,
        "dask": client is not None,
        "units": "cost units of the records per person-year (synthetic: GBP, illustrative)",
    }
    with atomic_folder(out, force=force, note=note) as tmp:
        coef.to_csv(tmp / "coefficients.csv")
        for group, ni in tables.items():
            ni.to_csv(tmp / f"need_index_{group}.csv")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
    click.echo(f"Need model fitted on {described}")
    click.echo(
        f"{fit.n:,} records, {len(fit.terms)} coefficients, weighted R^2 {fit.r2:.4f}, "
        f"{wall:.1f} s ({fit.n / wall:,.0f} records/s"
        f"{', dask' if client is not None else ''}); standard errors {se}; 95% intervals."
    )
    click.echo(
        "Supply variables sterilised at their national means: "
        + ", ".join(f"{k} = {v:.3f}" for k, v in fit.supply_means.items())
        + "\n"
    )
    click.echo(
        f"{'term':<32} {'kind':<9} {'estimate':>10} {'se':>9} {'95% CI':>22}"
        + (f" {'true':>10}" if truth is not None else "")
    )
    for term, r in coef.iterrows():
        click.echo(
            f"{term:<32} {r['kind']:<9} {r['estimate']:>10.3f} {r['se']:>9.3f} "
            f"[{r['ci95_low']:>9.3f}, {r['ci95_high']:>9.3f}]"
            + (f" {r['true']:>10.3f}" if truth is not None else "")
        )
    first = next(iter(tables))
    click.echo(
        f"\nNeed index by {first}: min {tables[first]['need_index'].min():.3f}, max "
        f"{tables[first]['need_index'].max():.3f}"
    )
    click.echo(
        f"Wrote coefficients.csv, {', '.join(f'need_index_{g}.csv' for g in tables)}, "
        f"summary.json to {out}/"
    )


def _discover_levels(paths: list[str], columns: list[str]) -> dict[str, list]:
    """Sorted distinct values of ``columns`` across the CSV files (a light first read)."""
    import pandas as pd

    from alloc.targets.estimate import _read_csv_chunk

    found: dict[str, set] = {c: set() for c in columns}
    for path in paths:
        frame = _read_csv_chunk(path, columns)
        for col in columns:
            found[col].update(frame[col].dropna().unique().tolist())
    out = {}
    for col, values in found.items():
        try:
            out[col] = sorted(values)
        except TypeError:
            out[col] = sorted(values, key=str)
        if col == "icb" and all(isinstance(v, str) for v in values):
            from alloc.resources import data_dir

            codes = pd.read_csv(data_dir() / "icbs.csv", dtype=str)["code"].tolist()
            unknown = sorted(set(values) - set(codes))
            if unknown:
                raise AllocError(
                    paths[0], "icb", f"unknown ICB code '{unknown[0]}' (not in icbs.csv)"
                )
            out[col] = codes
    return out


COMMANDS = [compare_formulas, variation_cmd, estimate]
