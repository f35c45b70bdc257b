"""The run-time invariant checker flags each kind of broken row and passes good ones."""

import numpy as np
import pytest

from alloc.kernels.checks import count_violations
from alloc.kernels.pace import glide_path


def _solved():
    rng = np.random.default_rng(3)
    n, years, rows = 6, 3, 4
    A0 = rng.uniform(50, 150, (1, n))
    E = A0.sum() * np.cumprod(np.full(years, 1.04))[None, :]
    T = rng.dirichlet(np.ones(n) * 20, (rows, 1)).repeat(years, axis=1) * E[:, :, None]
    arrays = dict(
        A0=A0,
        T=T,
        E=E,
        conv=np.ones((1, years)),
        w_prev=np.zeros((1, years)),
        w_target=np.ones((1, years)),
        floor_mult=np.full((1, years, n), 1.01),
        cap_mult=np.full((1, years, n), 1.08),
        below_target=np.full((1, years), np.nan),
    )
    alloc = np.empty((rows, years, n))
    status = np.empty((rows, years), dtype=np.int64)
    glide_path(
        *arrays.values(), False, alloc, np.empty((rows, years)), status, np.empty((rows, years))
    )
    assert (status == 0).all()
    return arrays, alloc, status


def _count(arrays, alloc, status, base_adjust=None):
    if base_adjust is None:
        base_adjust = np.zeros((1,) + alloc.shape[1:])
    return count_violations(
        alloc,
        arrays["A0"],
        arrays["T"],
        arrays["E"],
        arrays["floor_mult"],
        arrays["cap_mult"],
        arrays["below_target"],
        base_adjust,
        status,
        1e-9,
    )


def test_kernel_output_passes():
    assert _count(*_solved()) == 0


@pytest.mark.parametrize("corrupt", ["shift", "nan", "negative", "envelope"])
def test_each_kind_of_break_is_counted(corrupt):
    arrays, alloc, status = _solved()
    row = alloc[2, 1]
    if corrupt == "shift":  # same total, but one ICB below its 1% floor
        prev = alloc[2, 0]
        moved = row[0] - prev[0] * 1.0
        row[0] -= moved
        row[1] += moved
    elif corrupt == "nan":
        row[3] = np.nan
    elif corrupt == "negative":
        row[0], row[1] = -1.0, row[1] + row[0] + 1.0
    else:
        row *= 1.001
    assert _count(arrays, alloc, status) >= 1


def test_bounds_start_from_the_rebased_base():
    """Savings rebased into the base: a path solved from the cut base passes only when the
    checker is told about the cut (its floors are then below the uncut ones)."""
    from alloc.allocation.engine import solve_glide_paths

    arrays, _, _ = _solved()
    rows, years, n = arrays["T"].shape
    cut = np.zeros((rows, years, n))
    cut[:, 1, :] = 0.03 * arrays["A0"][0]  # 3% of the base taken out in the second year
    policy = {
        k: arrays[k]
        for k in ("conv", "w_prev", "w_target", "floor_mult", "cap_mult", "below_target")
    }
    alloc, _, status, _ = solve_glide_paths(
        arrays["A0"], arrays["T"], arrays["E"], policy, False, cut
    )
    assert (status == 0).all()
    assert _count(arrays, alloc, status, cut) == 0
    assert _count(arrays, alloc, status) >= 1
