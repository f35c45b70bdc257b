"""`alloc run` wall time: first run with an empty numba cache, then warm runs.

Prints the times measured in this one run and their ratio. Runs in a temporary folder.
Usage: ``python benchmarks/bench_run.py [--warm 3]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import alloc


def clear_numba_cache() -> int:
    removed = 0
    for folder in Path(alloc.__file__).parent.rglob("__pycache__"):
        for f in list(folder.glob("*.nbi")) + list(folder.glob("*.nbc")):
            f.unlink()
            removed += 1
    return removed


def timed_run(cwd: Path, out: str) -> float:
    # The child must import the same alloc (and so the same kernel cache) as this process,
    # whatever the working folder and however alloc was found here.
    path = [str(Path(alloc.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "alloc.cli.main", "run", "--quiet", "--out", out],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        removed = clear_numba_cache()
        first = timed_run(cwd, "first")
        warm = [timed_run(cwd, f"warm{i}") for i in range(args.warm)]
        shutil.rmtree(cwd / "first")
    best = min(warm)
    print(f"alloc run (default scenario), cleared {removed} cached kernels first")
    print(f"first run (numba compiles): {first:.2f} s")
    print(f"warm runs (cached kernels): {', '.join(f'{w:.2f}' for w in warm)} s")
    print(f"first / best warm: {first / best:.1f}x")


if __name__ == "__main__":
    main()
