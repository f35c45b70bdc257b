"""Pace-of-change glide path: numba kernel vs the naive implementation an analyst would write.

Prints ratios measured in this one run (nothing is compared with numbers from elsewhere):

- kernel wall time for ``--scenarios`` glide paths of 42 ICBs x 10 years (common distance from
  target with random floors and caps, random targets), allocations per second per core;
- naive reference (what an analyst writes: per-scenario, per-year pandas frames and
  scipy.optimize.brentq on the envelope equation) timed on a subsample, and the per-scenario
  speed-up;
- a memory-bandwidth floor: numpy writing an output array of the same size, and the kernel's
  time as a multiple of it. The kernel writes into output memory it has already touched (as
  the floor's second fill does): first-touch page faults cost as much as the kernel on a VM and
  are the operating system's, not the kernel's (the fresh-memory fill is printed too).

Floors and caps are one multiplier per scenario, passed as (B, 1, 1) arrays that the kernel
broadcasts over years and ICBs (as the ensemble passes them), not materialised to (B, Y, N).

Usage: ``python benchmarks/bench_pace.py [--scenarios 1000000] [--chunk 100000] [--naive 50]``
"""

from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np
import pandas as pd
from scipy.optimize import brentq

from alloc.kernels.pace import glide_path

N_ICB, N_YEAR = 42, 10


def make_inputs(n_scen: int, seed: int = 1):
    """Kernel inputs for ``n_scen`` scenarios: per-scenario targets, floors and caps."""
    rng = np.random.default_rng(seed)
    a0 = np.random.default_rng(0).uniform(100e6, 800e6, (1, N_ICB))
    env = a0.sum() * np.cumprod(np.full(N_YEAR, 1.035))[None, :]
    shares = rng.dirichlet(np.full(N_ICB, 50.0), n_scen)  # per-scenario target shares
    targets = shares[:, None, :] * env[:, :, None]
    floor = rng.uniform(0.0, 0.025, (n_scen, 1, 1)) + 1.0
    cap = rng.uniform(0.05, 0.10, (n_scen, 1, 1)) + 1.0
    return dict(
        A0=a0,
        T=targets,
        E=env,
        conv=np.ones((1, N_YEAR)),
        w_prev=np.zeros((1, N_YEAR)),
        w_target=np.ones((1, N_YEAR)),
        floor_mult=floor,  # (B, 1, 1): broadcast by the kernel over years and ICBs
        cap_mult=cap,
        below_target=np.full((1, N_YEAR), np.nan),
    )


def run_kernel(arrays, out):
    """Glide paths for every scenario in ``arrays`` into ``out`` (B, Y, N); returns statuses."""
    n_scen = out.shape[0]
    lam = np.empty((n_scen, N_YEAR))
    status = np.empty((n_scen, N_YEAR), dtype=np.int64)
    gap = np.empty((n_scen, N_YEAR))
    glide_path(
        arrays["A0"],
        arrays["T"],
        arrays["E"],
        arrays["conv"],
        arrays["w_prev"],
        arrays["w_target"],
        arrays["floor_mult"],
        arrays["cap_mult"],
        arrays["below_target"],
        False,
        out,
        lam,
        status,
        gap,
    )
    return status


def run_naive(arrays, scenarios):
    """What an analyst writes without this package: pandas per year, a root finder per year."""
    icbs = [f"ICB{i:02d}" for i in range(N_ICB)]
    paths = []
    for b in scenarios:
        a_prev = pd.Series(arrays["A0"][0], index=icbs)
        rows = []
        for y in range(N_YEAR):
            frame = pd.DataFrame(
                {
                    "target": arrays["T"][b, y],
                    "floor": a_prev * arrays["floor_mult"][b, 0, 0],
                    "cap": a_prev * arrays["cap_mult"][b, 0, 0],
                },
                index=icbs,
            )
            envelope = arrays["E"][0, y]

            def excess(level, frame=frame, envelope=envelope):
                alloc = (frame["target"] * (1 + level)).clip(frame["floor"], frame["cap"])
                return alloc.sum() - envelope

            level = brentq(excess, -1.0, 1.0, xtol=1e-14, rtol=1e-14)
            a_prev = (frame["target"] * (1 + level)).clip(frame["floor"], frame["cap"])
            rows.append(a_prev.to_numpy())
        paths.append(rows)
    return np.array(paths)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=1_000_000)
    parser.add_argument(
        "--chunk",
        type=int,
        default=100_000,
        help="scenarios whose inputs are generated at once (outputs all kept)",
    )
    parser.add_argument("--naive", type=int, default=50)
    args = parser.parse_args()
    n = args.scenarios
    threads = numba.get_num_threads()
    print(
        f"glide path: {N_ICB} ICBs x {N_YEAR} years x {n:,} scenarios; {threads} numba "
        f"threads; {os.cpu_count()} cores"
    )

    probe = make_inputs(2)
    t0 = time.perf_counter()
    run_kernel(probe, np.empty((2, N_YEAR, N_ICB)))
    print(f"first call (compile or load from cache): {time.perf_counter() - t0:.2f} s")

    out = np.empty((n, N_YEAR, N_ICB))  # every allocation stays in memory
    out.fill(0.0)  # touched before the kernel runs (see the module docstring)
    kernel_s = 0.0
    sample = None
    for start in range(0, n, args.chunk):
        stop = min(start + args.chunk, n)
        arrays = make_inputs(stop - start, seed=start)
        if sample is None:
            sample = arrays
        t0 = time.perf_counter()
        status = run_kernel(arrays, out[start:stop])
        kernel_s += time.perf_counter() - t0
        assert (status == 0).all(), "benchmark inputs should be feasible"
    allocs = n * N_YEAR * N_ICB
    print(
        f"kernel: {kernel_s:.2f} s for {n:,} glide paths ({allocs / kernel_s / threads:,.0f} "
        f"ICB-year allocations per second per core)"
    )

    sub = np.arange(min(args.naive, len(sample["T"])))
    t0 = time.perf_counter()
    naive = run_naive(sample, sub)
    naive_s = time.perf_counter() - t0
    err = np.max(np.abs(naive - out[sub]) / out[sub])
    per_naive, per_kernel = naive_s / len(sub), kernel_s / n
    print(
        f"naive pandas + brentq loop: {per_naive * 1e3:.1f} ms per glide path over "
        f"{len(sub)} paths (max relative difference from kernel {err:.1e})"
    )
    print(f"ratio naive / kernel per glide path: {per_naive / per_kernel:,.0f}x")

    t0 = time.perf_counter()
    floor_arr = np.empty_like(out)
    floor_arr.fill(1.0)
    fresh_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    floor_arr.fill(2.0)
    warm_s = time.perf_counter() - t0
    print(
        f"memory-bandwidth floor, numpy filling an array of the output's size "
        f"({floor_arr.nbytes / 1e9:.2f} GB): fresh memory (first touch) {fresh_s:.2f} s; "
        f"already-touched memory (as the kernel's output) {warm_s:.2f} s"
    )
    print(
        f"kernel / touched-memory floor = {kernel_s / warm_s:.1f}x (target: within 12x); "
        f"kernel time scaled to 1,000,000 glide paths {kernel_s * 1e6 / n:.2f} s (target 2.5 s "
        "on an idle machine; other processes' load inflates both, the ratio less)"
    )


if __name__ == "__main__":
    main()
