"""Shared fixtures: a scratch copy of the embedded dataset and the CLI run in a subprocess."""

from __future__ import annotations

import os
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


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A writable copy of the embedded dataset folder, ``tmp_path / "data"``."""
    return Path(
        shutil.copytree(
            EMBEDDED_DATA, tmp_path / "data", ignore=shutil.ignore_patterns("__pycache__", "*.py")
        )
    )


@pytest.fixture
def alloc_cli(tmp_path):
    """Run ``python -m alloc ARGS`` in a subprocess (cwd ``tmp_path``) and return the result."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "alloc", *map(str, args)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run
