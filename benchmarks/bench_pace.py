"""Pace-of-change glide path: numba kernel vs the naive implementation an analyst would write.

Prints ratios measured in this one run (nothing is compared with numbers from elsewhere):

- kernel wall time for ``--scenarios`` glide paths of 42 ICBs x 10 years (common distance from
  target with random floors and caps, random targets), allocations per second per core;
- naive reference (per-scenario, per-year Python loop with scipy.optimize.brentq on the envelope
  equation) timed on a subsample, and the per-scenario speed-up;
- a memory-bandwidth floor: numpy writing an output array of the same size, and the kernel's
  time as a multiple of it.

Usage: ``python benchmarks/bench_pace.py [--scenarios 1000000] [--naive 200]``
"""

from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np
from scipy.optimize import brentq

from alloc.kernels.pace import glide_path

N_ICB, N_YEAR = 42, 10


def make_inputs(n_scen: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    a0 = rng.uniform(100e6, 800e6, (1, N_ICB))
    env = a0.sum() * np.cumprod(np.full(N_YEAR, 1.035))[None, :]
    shares = rng.dirichlet(np.full(N_ICB, 50.0), n_scen)  # per-scenario targets
    targets = shares[:, None, :] * env[:, :, None]
    floor = rng.uniform(0.0, 0.025, (n_scen, 1, 1)) + 1.0
    cap = rng.uniform(0.05, 0.10, (n_scen, 1, 1)) + 1.0
    arrays = dict(
        A0=a0, T=targets, E=env,
        conv=np.ones((1, N_YEAR)), w_prev=np.zeros((1, N_YEAR)), w_target=np.ones((1, N_YEAR)),
        floor_mult=np.broadcast_to(floor, (n_scen, N_YEAR, N_ICB)).copy(),
        cap_mult=np.broadcast_to(cap, (n_scen, N_YEAR, N_ICB)).copy(),
        below_target=np.full((1, N_YEAR), np.nan),
    )
    return arrays


def run_kernel(arrays, n_scen):
    out = np.empty((n_scen, N_YEAR, N_ICB))
    lam = np.empty((n_scen, N_YEAR))
    status = np.empty((n_scen, N_YEAR), dtype=np.int64)
    gap = np.empty((n_scen, N_YEAR))
    glide_path(arrays["A0"], arrays["T"], arrays["E"], arrays["conv"], arrays["w_prev"],
               arrays["w_target"], arrays["floor_mult"], arrays["cap_mult"],
               arrays["below_target"], False, out, lam, status, gap)
    return out, status


def run_naive(arrays, scenarios):
    """Per-scenario, per-year loop with a root finder: what one writes without this package."""
    out = []
    for b in scenarios:
        a_prev = arrays["A0"][0].copy()
        path = []
        for y in range(N_YEAR):
            t = arrays["T"][b, y]
            lo = a_prev * arrays["floor_mult"][b, y]
            hi = a_prev * arrays["cap_mult"][b, y]
            e = arrays["E"][0, y]

            def excess(lam):
                return np.clip(t * (1 + lam), lo, hi).sum() - e

            lam = brentq(excess, -1.0, 1.0, xtol=1e-14, rtol=1e-14)
            a_prev = np.clip(t * (1 + lam), lo, hi)
            path.append(a_prev)
        out.append(path)
    return np.array(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=200_000)
    parser.add_argument("--naive", type=int, default=200)
    args = parser.parse_args()
    n = args.scenarios
    cores = numba.config.NUMBA_NUM_THREADS
    print(f"glide path: {N_ICB} ICBs x {N_YEAR} years x {n:,} scenarios; {cores} numba threads; "
          f"{os.cpu_count()} cores")

    arrays = make_inputs(n)
    small = {k: (v[:2] if v.shape[0] == n else v) for k, v in arrays.items()}
    t0 = time.perf_counter()
    run_kernel(small, 2)
    print(f"first call (compile or load from cache): {time.perf_counter() - t0:.2f} s")

    t0 = time.perf_counter()
    out, status = run_kernel(arrays, n)
    kernel_s = time.perf_counter() - t0
    assert (status == 0).all(), "benchmark inputs should be feasible"
    allocs = n * N_YEAR * N_ICB
    print(f"kernel: {kernel_s:.3f} s  ({allocs / kernel_s / cores:,.0f} ICB-year allocations "
          f"per second per core)")

    sub = np.arange(min(args.naive, n))
    t0 = time.perf_counter()
    naive = run_naive(arrays, sub)
    naive_s = time.perf_counter() - t0
    err = np.max(np.abs(naive - out[sub]) / out[sub])
    per_naive, per_kernel = naive_s / len(sub), kernel_s / n
    print(f"naive brentq loop: {naive_s:.3f} s for {len(sub)} scenarios "
          f"(max relative difference from kernel {err:.1e})")
    print(f"ratio naive / kernel per scenario: {per_naive / per_kernel:,.0f}x")

    t0 = time.perf_counter()
    floor_arr = np.empty((n, N_YEAR, N_ICB))
    floor_arr[...] = 1.0
    floor_s = time.perf_counter() - t0
    print(f"memory-bandwidth floor (numpy fills an output of the same size, "
          f"{floor_arr.nbytes / 1e9:.2f} GB): {floor_s:.3f} s; kernel / floor = "
          f"{kernel_s / floor_s:.1f}x")


if __name__ == "__main__":
    main()
