"""Shared fixtures: a scratch copy of the embedded dataset and the CLI run in a subprocess."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays the same examples every run (derandomized), so a green main stays green; local runs
# keep exploring new random examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
EMBEDDED_DATA = REPO / "data"

# A progress line of alloc.cli.progress (``loading inputs...``), printed on stderr as a stage
# starts; messages are the other lines.
PROGRESS_LINE = re.compile(r"^[a-z][a-z ()]*\.\.\.$")


def message_lines(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are not progress lines (errors, warnings, notes)."""
    return [line for line in stderr.splitlines() if not PROGRESS_LINE.match(line)]


def reference_areas(geography: str = "icb_2026"):
    """Areas of a shipped geography with population-weighted centroids, computed with plain
    pandas from the shipped CSVs (an independent reference for the charts and the report)."""
    import pandas as pd

    folder = EMBEDDED_DATA / "geographies" / geography
    areas = pd.read_csv(folder / "areas.csv", keep_default_na=False)
    practices = pd.read_csv(EMBEDDED_DATA / "practices.csv").merge(
        pd.read_csv(folder / "practices.csv"), on="practice_code"
    )
    weighted = (
        practices.assign(
            wlat=practices["lat"] * practices["gp_pop"], wlon=practices["lon"] * practices["gp_pop"]
        )
        .groupby("area")[["wlat", "wlon", "gp_pop"]]
        .sum()
    )
    areas["lat"] = (weighted["wlat"] / weighted["gp_pop"]).round(4).loc[areas["code"]].to_numpy()
    areas["lon"] = (weighted["wlon"] / weighted["gp_pop"]).round(4).loc[areas["code"]].to_numpy()
    return areas


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A writable copy of the embedded dataset folder, ``tmp_path / "data"``."""
    return Path(
        shutil.copytree(
            EMBEDDED_DATA, tmp_path / "data", ignore=shutil.ignore_patterns("__pycache__", "*.py")
        )
    )


def run_alloc_subprocess(cwd: Path, *args) -> subprocess.CompletedProcess:
    """Run ``python -m alloc ARGS`` in a subprocess (cwd ``cwd``) and return the result."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "alloc", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_alloc_in_process(cwd: Path, monkeypatch, *args) -> subprocess.CompletedProcess:
    """``alloc ARGS`` in this process (click's CliRunner, cwd ``cwd``): about 0.1 s where a
    subprocess takes about 1 s (Python, numpy and numba start again in each).

    An exception that escapes the command is appended to stderr as its traceback, as the real
    process would print it, so checks for "no traceback" still fail on one.
    """
    import traceback

    from click.testing import CliRunner

    from alloc.cli import main

    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(main, [str(a) for a in args])
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, stderr)


@pytest.fixture
def alloc_cli(tmp_path):
    """Run ``python -m alloc ARGS`` in a subprocess (cwd ``tmp_path``) and return the result."""
    return lambda *args: run_alloc_subprocess(tmp_path, *args)
