"""CLI start-up and `alloc run` progress (issue 14): what each command imports, the progress lines
on stderr and their order, ``--timings``, the compile notice and the cache check behind it.

Import checks run the command in a fresh interpreter (``sys.modules`` of this test process holds
everything already); they are fast because nothing heavy is imported. Speed itself is measured in
benchmarks/bench_run.py, not here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from alloc.cli import main

REPO = Path(__file__).resolve().parents[1]
#: Never imported by `alloc --help`, `alloc list ...` or an argument error.
HEAVY = (
    "numpy",
    "pandas",
    "xarray",
    "numba",
    "scipy",
    "pydantic",
    "matplotlib",
    "openpyxl",
    "dask",
    "distributed",
)
PROGRESS = ["loading inputs...", "solving...", "writing results...", "charts..."]
COMPILING = "compiling kernels (first run only)..."

# Runs the `alloc` command as `python -m alloc` does, then writes the modules it imported (a
# None entry in sys.modules is an import refused, not a module).
# An exit handler, not `finally`: a successful `alloc run` ends its process without tearing the
# interpreter down (alloc.cli.main._exit_without_teardown), after running the exit handlers.
_RUNNER = textwrap.dedent(
    """
    import atexit, json, runpy, sys
    out, sys.argv = sys.argv[1], ["alloc", *sys.argv[2:]]

    def dump():
        with open(out, "w") as f:
            json.dump(sorted(n for n, m in sys.modules.items() if m is not None), f)

    atexit.register(dump)
    runpy.run_module("alloc", run_name="__main__", alter_sys=True)
    """
)


def _alloc(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run ``alloc ARGS`` in a fresh interpreter: (the process, the modules it imported)."""
    modules = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(modules), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return proc, set(json.loads(modules.read_text()))


@pytest.mark.parametrize(
    "args, status, says",
    [
        (["--help"], 0, "Commands:"),
        (["list", "icbs"], 0, "QE1"),
        (["list", "icbs", "--geography", "icb_2025"], 0, "QE1"),
        (["list", "scenarios"], 0, "default"),
        (["list", "policies"], 0, "common_dft"),
        (["list", "formulas"], 0, "default"),
        (["list", "geographies"], 0, "icb_2026"),
        (["list", "services"], 0, "renal"),
        (["run", "nosuchscenario"], 2, "no shipped scenario is called 'nosuchscenario'"),
        (["run", "--bogus"], 2, "No such option"),
        (["list", "nothing"], 2, "Invalid value"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_quick_commands_import_nothing_heavy(tmp_path, args, status, says):
    proc, modules = _alloc(tmp_path, *args)
    assert proc.returncode == status, proc.stderr
    assert says in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    heavy = sorted(m for m in HEAVY if m in modules)
    assert not heavy, f"alloc {' '.join(args)} imported {heavy}"


def test_the_import_check_can_fail(tmp_path):
    """`alloc validate` reads the dataset: the same check must see numpy and pandas there."""
    proc, modules = _alloc(tmp_path, "validate")
    assert proc.returncode == 0, proc.stderr
    assert {"numpy", "pandas", "xarray"} <= modules


def test_quick_lists_match_the_full_readers():
    """`alloc list` reads shipped files with the csv module (alloc.inputs.catalogue): the same
    lines as the validating readers give (areas sorted by code, services in file order)."""
    from alloc.inputs.dataset import load_inputs
    from alloc.inputs.geography import describe_geographies, load_geography, shipped_geographies

    runner = CliRunner()
    for name in shipped_geographies():
        areas = load_geography(name).areas
        expected = [f"{c:<5} {r['name']:<60} {r['region']}" for c, r in areas.iterrows()]
        out = runner.invoke(main, ["list", "icbs", "--geography", name])
        assert out.exit_code == 0 and out.stdout.splitlines() == expected, name
    expected = [f"{n:<20} {k:>3} areas  {s:<9} {d}" for n, k, s, d in describe_geographies()]
    assert runner.invoke(main, ["list", "geographies"]).stdout.splitlines() == expected
    inputs = load_inputs()
    names = zip(inputs["service"].values, inputs["service_name"].values)
    expected = [f"{s:<24} {n}" for s, n in names]
    assert runner.invoke(main, ["list", "services"]).stdout.splitlines() == expected


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One `alloc run --timings` with charts, in its own process (as a user runs it)."""
    return _alloc(tmp_path_factory.mktemp("run"), "run", "--timings", "--out", "out")


def test_run_does_not_import_dask_or_distributed(cli_run):
    proc, modules = cli_run
    assert proc.returncode == 0, proc.stderr
    if importlib.util.find_spec("dask") is None:
        pytest.skip("dask is not installed: nothing to hide")
    assert not {"dask", "distributed"} & modules, sorted(m for m in modules if "dask" in m)
    assert {"xarray", "numba", "h5netcdf"} <= modules  # the check sees what the run imported


def test_run_prints_each_stage_as_it_starts_in_order(cli_run):
    proc, _ = cli_run
    lines = [line for line in proc.stderr.splitlines() if line.endswith("...")]
    assert [line for line in lines if line != COMPILING] == PROGRESS
    assert lines.index("loading inputs...") == 0  # first, before the imports
    assert "loading inputs..." not in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].startswith("Wrote result.nc")  # all flushed


def test_timings_name_every_stage_and_output(cli_run):
    proc, _ = cli_run
    table = proc.stderr[proc.stderr.index("stage ") :]
    rows = {line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1] for line in table.splitlines()}
    for name in PROGRESS:
        assert name.removesuffix("...") in rows, name
    for part in ("imports", "kernel and checks", "result.nc", "CSV tables", "alloc_results.xlsx"):
        assert part in rows, part
    for stem in ("dft_glide_paths", "dft_start_end", "icb_map", "icb_hexmap"):
        assert f"{stem}.png" in rows and f"{stem}.svg" in rows, stem
    seconds = {name: float(value) for name, value in rows.items() if name != "stage"}
    stages = [name.removesuffix("...") for name in PROGRESS]
    assert seconds["total"] == pytest.approx(sum(seconds[s] for s in stages), abs=0.005)
    assert all(value >= 0 for value in seconds.values())


def test_quiet_run_prints_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "--quiet", "--no-plots", "--out", "q"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == ""


def test_cold_kernel_cache_is_announced_once_before_solving(tmp_path, monkeypatch):
    import alloc.allocation.engine as engine

    monkeypatch.setattr(engine, "kernels_cached", lambda scenario: False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "--no-plots", "--out", "c"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.endswith("...")]
    assert lines == ["loading inputs...", COMPILING, "solving...", "writing results..."]


def test_cache_check_sees_a_kernel_compiled_and_its_source_changed(tmp_path, monkeypatch):
    """A new kernel is not cached; after its first call it is; after its source file changes
    (another size and time, as an edit or an upgrade makes it) it is not, until called again."""
    from alloc.kernels.cache import cached

    module = tmp_path / "kernel_for_cache_test.py"
    source = "from numba import njit\n\n@njit(cache=True)\ndef twice(x):\n    return 2 * x\n"
    module.write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))

    def load():
        sys.modules.pop(module.stem, None)
        return importlib.import_module(module.stem)

    import importlib

    kernel = load().twice
    assert not cached(kernel)
    assert kernel(2.0) == 4.0
    assert cached(kernel)
    module.write_text(source + "\n# edited\n")
    assert not cached(load().twice)


def test_png_drawn_then_compressed_is_byte_identical_to_savefig(tmp_path):
    """write_charts compresses PNGs in a thread (style.render_rgba + write_png): the file must be
    the one savefig writes."""
    import alloc
    from alloc.outputs.plots import PNG_DPI, glide_paths
    from alloc.outputs.plots.style import render_rgba, save_figure, write_png

    fig = glide_paths(alloc.run("default"))
    metadata = {"Software": "alloc test"}
    save_figure(fig, tmp_path / "savefig.png", dpi=PNG_DPI, metadata=metadata)
    write_png(render_rgba(fig, PNG_DPI), tmp_path / "threaded.png", PNG_DPI, metadata)
    assert (tmp_path / "threaded.png").read_bytes() == (tmp_path / "savefig.png").read_bytes()
