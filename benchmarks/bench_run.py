"""`alloc` start-up and `alloc run` wall times, each as a ratio to one floor taken in this run.

The floor (issue 14) is the time to start Python and ``import xarray, numba`` in a fresh process.
Every figure is the best of ``--repeat`` fresh processes (the machine is shared: the best time is
the one least disturbed), measured in rounds that take each command once, so a change of load
touches every figure alike. Targets (issue 14): start-up commands within 0.3x the floor; a warm
default run within 1.5x with ``--no-plots`` and 2.5x with charts; a cold run (empty numba cache)
within 4x.

A cold run uses an empty numba cache folder of its own (``NUMBA_CACHE_DIR``), so the kernel cache
of the working tree is left alone; the warm runs then use the cache that run wrote.

Usage: ``python benchmarks/bench_run.py [--repeat 3] [--cold 1]``
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Name, command line after ``python``, target as a multiple of the floor.
START_UP = [
    ("alloc --help", ["-m", "alloc", "--help"], 0.3),
    ("alloc list icbs", ["-m", "alloc", "list", "icbs"], 0.3),
    ("alloc list scenarios", ["-m", "alloc", "list", "scenarios"], 0.3),
    ("alloc run nosuchscenario", ["-m", "alloc", "run", "nosuchscenario"], 0.3),
    ("alloc run --bogus", ["-m", "alloc", "run", "--bogus"], 0.3),
]
RUN = ["-m", "alloc", "run", "--quiet", "--force"]
FLOOR = ["-c", "import xarray, numba"]


def timed(args: list[str], cwd: Path, env: dict, ok=(0,)) -> tuple[float, str]:
    """Wall time of ``python ARGS`` in a fresh process [s], and its stderr."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode not in ok:
        raise SystemExit(f"python {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return seconds, proc.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (best of) [default 3]")
    parser.add_argument("--cold", type=int, default=1, help="cold runs (best of) [default 1]")
    args = parser.parse_args()
    args.cold = max(args.cold, 1)  # the warm runs use the cache the last cold run wrote
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("NUMBA_CACHE_DIR", None)
        cold = []
        for i in range(args.cold):  # each in an empty cache; the last one's cache is kept
            cache = cwd / f"numba_cache_{i}"
            cache.mkdir()
            run_env = {**env, "NUMBA_CACHE_DIR": str(cache)}
            cold.append(timed([*RUN, "--out", "cold"], cwd, run_env)[0])
        times: dict[str, list[float]] = {}
        timings = ""
        for _ in range(args.repeat):
            times.setdefault("floor", []).append(timed(FLOOR, cwd, env)[0])
            for name, cmd, _target in START_UP:
                times.setdefault(name, []).append(timed(cmd, cwd, env, ok=(0, 2))[0])
            seconds, _ = timed([*RUN, "--no-plots", "--out", "a"], cwd, run_env)
            times.setdefault("alloc run --no-plots (warm)", []).append(seconds)
            seconds, timings = timed([*RUN, "--timings", "--out", "b"], cwd, run_env)
            times.setdefault("alloc run (warm, charts)", []).append(seconds)
    floor = min(times.pop("floor"))
    targets = {name: target for name, _, target in START_UP}
    targets |= {"alloc run --no-plots (warm)": 1.5, "alloc run (warm, charts)": 2.5}
    times["alloc run (cold numba cache)"] = cold
    targets["alloc run (cold numba cache)"] = 4.0
    print(
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, load average "
        f"{os.getloadavg()[0]:.1f}; best of {args.repeat} (cold: best of {args.cold})"
    )
    print(f"floor (python -c 'import xarray, numba'): {floor:.2f} s\n")
    print(f"{'command':<32} {'best (s)':>9} {'x floor':>8} {'target':>7}  met")
    for name, values in times.items():
        ratio = min(values) / floor
        met = "yes" if ratio <= targets[name] else "no"
        print(f"{name:<32} {min(values):>9.2f} {ratio:>8.2f} {targets[name]:>7.1f}  {met}")
    print("\nStage breakdown of the last warm run with charts (alloc run --timings):")
    print(timings.rstrip())


if __name__ == "__main__":
    main()
