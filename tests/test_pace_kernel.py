"""Tests of the numba pace-of-change kernels against the slow reference in ``reference_pace``.

The reference (plain numpy bisection, plain Python loops) is the only source of expected values.
A subset of these tests is re-run in a subprocess with ``NUMBA_DISABLE_JIT=1`` so the kernels'
pure-Python path is held to the same oracle.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import reference_pace as ref  # noqa: E402

from alloc.kernels.pace import (  # noqa: E402
    ENVELOPE_RTOL,
    STATUS_BAD_INPUT,
    STATUS_CAPS_BELOW_ENVELOPE,
    STATUS_CAPS_RELAXED,
    STATUS_FLOORS_EXCEED_ENVELOPE,
    STATUS_FLOORS_RELAXED,
    STATUS_NOT_RUN,
    STATUS_OK,
    glide_path,
    solve_clipped_affine,
    solve_into,
)

# Set in the child process that re-runs a subset of this file with the JIT disabled.
_CHILD_ENV = "ALLOC_PACE_TEST_NOJIT_CHILD"
IN_NOJIT_CHILD = os.environ.get(_CHILD_ENV) == "1"


def _examples(jit: int, nojit: int) -> int:
    return nojit if IN_NOJIT_CHILD else jit


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
RTOL = 1e-9  # allocations vs the reference, relative to the scale (largest |P|, |L|, |U|, |E|)
INF = np.inf
NAN = np.nan


# --------------------------------------------------------------------------------------------
# Helpers


def kernel_solve(P, W, L, U, E):
    P, W, L, U = (np.ascontiguousarray(a, dtype=np.float64) for a in (P, W, L, U))
    out = np.full(P.size, 12345.0)
    status, lam, gap = solve_clipped_affine(P, W, L, U, float(E), out)
    return int(status), float(lam), float(gap), out


def sum_tolerance(P, W, A, E):
    """Bound on |sum(A) - E| for a solved year: ENVELOPE_RTOL relative to E, or to the sizes of
    the terms when signs cancel (sum|A|, or sum|P| of the free ICBs, P + lam W). At subnormal
    scale (|E| < 1e-300, hypothesis finds such envelopes) a relative bound underflows to zero
    while lam itself is subnormal, with an absolute rounding of up to one unit of the smallest
    subnormal ``u``: so ``(sum W + N) u`` is allowed as well (negligible at any other scale)."""
    relative = ENVELOPE_RTOL * max(abs(E), np.abs(A).sum(), np.abs(P[W > 0]).sum())
    return relative + (np.abs(W).sum() + A.size) * np.finfo(float).smallest_subnormal


def held_sums(P, W, L, U):
    """(sum of A as lam -> -inf, sum as lam -> +inf), by plain numpy."""
    held = np.clip(P, L, U)
    return float(np.sum(np.where(W > 0, L, held))), float(np.sum(np.where(W > 0, U, held)))


def run_glide(prob, gap_fill=0.0):
    B, Y, N = prob["shape"]
    A_out = np.full((B, Y, N), 12345.0)
    lam_out = np.full((B, Y), 12345.0)
    status_out = np.full((B, Y), 99, dtype=np.int64)
    gap_out = np.full((B, Y), gap_fill)
    glide_path(*(prob[k] for k in _GLIDE_ARGS), prob["relax"], A_out, lam_out, status_out, gap_out)
    return A_out, lam_out, status_out, gap_out


_GLIDE_ARGS = (
    "A0",
    "T",
    "E",
    "conv",
    "w_prev",
    "w_target",
    "floor_mult",
    "cap_mult",
    "below_target",
)


def reference_glide(prob):
    return ref.reference_glide_path(
        *(prob[k] for k in _GLIDE_ARGS), prob["relax"], n_batch=prob["shape"][0]
    )


# --------------------------------------------------------------------------------------------
# Strategies for single solves


def _envelope(rng, mode, frac, P, W, L, U, scale):
    """An envelope E chosen to hit a particular regime of the problem."""
    n = P.size
    lowest, highest = held_sums(P, W, L, U)
    spread = scale * max(n, 1)
    if mode == "floor" and np.isfinite(lowest):
        return lowest
    if mode == "cap" and np.isfinite(highest):
        return highest
    if mode == "below" and np.isfinite(lowest):
        return lowest - (0.01 + frac) * scale
    if mode == "above" and np.isfinite(highest):
        return highest + (0.01 + frac) * scale
    # just outside / just inside the feasible range, by far more than rounding (1e-8 relative)
    # but far less than any plausible slack in the feasibility test
    tiny = 1e-8 * max(
        scale,
        abs(lowest) if np.isfinite(lowest) else 0.0,
        abs(highest) if np.isfinite(highest) else 0.0,
    )
    if mode == "near_floor" and np.isfinite(lowest):
        return lowest + (tiny if frac < 0.5 else -tiny)
    if mode == "near_cap" and np.isfinite(highest):
        return highest + (tiny if frac < 0.5 else -tiny)
    if mode == "breakpoint":  # E exactly at a kink of S(lam): flat segments, ties
        pos = W > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            bps = np.concatenate([(L[pos] - P[pos]) / W[pos], (U[pos] - P[pos]) / W[pos]])
        bps = bps[np.isfinite(bps)]
        if bps.size:
            lam = bps[rng.integers(bps.size)]
            held = np.clip(P, L, U)
            return float(np.sum(np.where(pos, np.clip(P + lam * W, L, U), held)))
    # interior of the feasible range
    if np.isfinite(lowest) and np.isfinite(highest):
        return lowest + frac * (highest - lowest)
    if np.isfinite(lowest):
        return lowest + frac * spread
    if np.isfinite(highest):
        return highest - frac * spread
    return float(np.sum(np.clip(P, L, U))) + (2 * frac - 1) * spread


@st.composite
def random_problems(draw, max_n=60):
    """Numpy-generated problems whose structure (ties, zero weights, infinite bounds, which
    regime the envelope hits) is chosen by hypothesis."""
    n = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    pool_size = draw(st.sampled_from([1, 2, 3, 6, 0]))  # 0: continuous values, no forced ties
    p_zero_w = draw(st.sampled_from([0.0, 0.0, 0.2, 0.5, 1.0]))
    p_ninf = draw(st.sampled_from([0.0, 0.0, 0.3, 1.0]))
    p_pinf = draw(st.sampled_from([0.0, 0.0, 0.3, 1.0]))
    p_fixed = draw(st.sampled_from([0.0, 0.0, 0.2]))  # L == U
    tie_w = draw(st.booleans())
    scale = 10.0 ** draw(st.integers(-3, 6))
    wscale = 10.0 ** draw(st.integers(-2, 2))
    mode = draw(
        st.sampled_from(
            [
                "interior",
                "interior",
                "floor",
                "cap",
                "breakpoint",
                "breakpoint",
                "below",
                "above",
                "near_floor",
                "near_cap",
            ]
        )
    )
    frac = draw(st.floats(0.0, 1.0))
    rng = np.random.default_rng(seed)

    if pool_size:
        pool = rng.integers(-5, 20, pool_size) * (scale / 8.0)

        def vals():
            return pool[rng.integers(pool_size, size=n)]
    else:

        def vals():
            return rng.uniform(-0.5, 2.0, n) * scale

    P = vals()
    if tie_w:
        W = rng.choice([0.5, 1.0, 2.0, 4.0], n) * wscale
    else:
        W = rng.uniform(0.01, 5.0, n) * wscale
    W[rng.random(n) < p_zero_w] = 0.0
    a, b = vals(), vals()
    L, U = np.minimum(a, b), np.maximum(a, b)
    fixed = rng.random(n) < p_fixed
    U[fixed] = L[fixed]
    L[rng.random(n) < p_ninf] = -INF
    U[rng.random(n) < p_pinf] = INF
    E = _envelope(rng, mode, frac, P, W, L, U, scale)
    return P, W, L, U, float(E)


_nice = st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 10.0])
_finite = _nice | st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
_weight = st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0]) | st.floats(1e-3, 1e3)


@st.composite
def small_problems(draw):
    """Element-by-element problems with N <= 8 (hypothesis shrinks these well)."""
    n = draw(st.integers(1, 8))
    P = np.array([draw(_finite) for _ in range(n)])
    W = np.array([draw(_weight) for _ in range(n)])
    a = np.array([draw(_finite | st.just(-INF)) for _ in range(n)])
    b = np.array([draw(_finite | st.just(INF)) for _ in range(n)])
    L, U = np.minimum(a, b), np.maximum(a, b)
    lowest, highest = held_sums(P, W, L, U)
    choice = draw(st.sampled_from(["lowest", "highest", "between", "free"]))
    if choice == "lowest" and np.isfinite(lowest):
        E = lowest
    elif choice == "highest" and np.isfinite(highest):
        E = highest
    elif choice == "between" and np.isfinite(lowest) and np.isfinite(highest):
        E = lowest + draw(st.floats(0, 1)) * (highest - lowest)
    else:
        E = draw(_finite)
    return P, W, L, U, float(E)


# --------------------------------------------------------------------------------------------
# Single-solve checks


def check_solve_against_reference(P, W, L, U, E):
    status, lam, gap, A = kernel_solve(P, W, L, U, E)
    r = ref.reference_solve(P, W, L, U, E)
    scale = ref.problem_scale(P, W, L, U, E)
    tol = RTOL * scale
    lowest, highest = held_sums(P, W, L, U)
    # Statuses are compared exactly unless sum(L) or sum(U) equals E up to rounding, where
    # either verdict is acceptable (and the allocation is at the bounds either way).
    band = 1e-11 * (P.size * scale)
    acceptable = set()
    if abs(lowest - E) <= band:
        acceptable |= {STATUS_OK, STATUS_FLOORS_EXCEED_ENVELOPE}
    if abs(highest - E) <= band:
        acceptable |= {STATUS_OK, STATUS_CAPS_BELOW_ENVELOPE}
    if acceptable:
        assert status in acceptable, (status, acceptable)
    else:
        assert status == r.status, (status, r.status)

    np.testing.assert_allclose(A, r.A, rtol=0, atol=tol)
    if status == STATUS_OK:
        assert gap == 0.0
        assert np.isfinite(lam)
        # the returned multiplier reproduces the allocation
        pos = W > 0
        np.testing.assert_allclose(
            np.clip(P[pos] + lam * W[pos], L[pos], U[pos]), A[pos], rtol=0, atol=tol
        )
    else:
        assert np.isnan(lam)
        if status == STATUS_FLOORS_EXCEED_ENVELOPE:
            assert gap == pytest.approx(lowest - E, rel=0, abs=tol)
        else:
            assert gap == pytest.approx(E - highest, rel=0, abs=tol)
        assert gap > 0


def check_solve_invariants(P, W, L, U, E):
    status, lam, gap, A = kernel_solve(P, W, L, U, E)
    scale = ref.problem_scale(P, W, L, U, E)
    lowest, highest = held_sums(P, W, L, U)
    slack = 1e-12 * abs(E)
    # feasibility from numpy sums, away from the rounding band
    band = 1e-11 * P.size * scale
    if lowest > E + band:
        assert status == STATUS_FLOORS_EXCEED_ENVELOPE
    elif highest < E - band:
        assert status == STATUS_CAPS_BELOW_ENVELOPE
    elif lowest < E - slack - band and highest > E + slack + band:
        assert status == STATUS_OK
    assert np.all(L <= A) and np.all(A <= U)  # exact: every output is clipped
    held = np.clip(P, L, U)
    assert np.array_equal(A[W == 0], held[W == 0])  # zero-weight ICBs are held
    if status == STATUS_OK:
        assert abs(A.sum() - E) <= sum_tolerance(P, W, A, E)
        assert gap == 0.0
    elif status == STATUS_FLOORS_EXCEED_ENVELOPE:
        assert np.array_equal(A, np.where(W > 0, L, held))
        assert gap == pytest.approx(lowest - E, rel=1e-12, abs=RTOL * scale)
    elif status == STATUS_CAPS_BELOW_ENVELOPE:
        assert np.array_equal(A, np.where(W > 0, U, held))
        assert gap == pytest.approx(E - highest, rel=1e-12, abs=RTOL * scale)
    else:
        pytest.fail(f"unexpected status {status}")


def test_status_codes_match_documented_contract():
    assert (
        STATUS_OK,
        STATUS_FLOORS_EXCEED_ENVELOPE,
        STATUS_CAPS_BELOW_ENVELOPE,
        STATUS_FLOORS_RELAXED,
        STATUS_CAPS_RELAXED,
        STATUS_BAD_INPUT,
        STATUS_NOT_RUN,
    ) == (
        ref.OK,
        ref.FLOORS_EXCEED_ENVELOPE,
        ref.CAPS_BELOW_ENVELOPE,
        ref.FLOORS_RELAXED,
        ref.CAPS_RELAXED,
        ref.BAD_INPUT,
        ref.NOT_RUN,
    )


@settings(max_examples=_examples(2000, 150), **SETTINGS)
@given(random_problems())
def test_solve_matches_reference(prob):
    check_solve_against_reference(*prob)


@settings(max_examples=_examples(600, 100), **SETTINGS)
@given(small_problems())
def test_solve_matches_reference_small(prob):
    check_solve_against_reference(*prob)


@settings(max_examples=_examples(1000, 100), **SETTINGS)
@given(random_problems() | small_problems())
def test_solve_invariants(prob):
    check_solve_invariants(*prob)


@pytest.mark.parametrize(
    "P, W, L, U, E, expected",
    [
        # all free, no bounds: lam solves sum(P) + lam*sum(W) = E
        ([1, 2, 3], [1, 1, 1], [-INF] * 3, [INF] * 3, 9.0, [2, 3, 4]),
        # one ICB capped, the others share the rest in proportion to W
        ([1, 1, 1], [1, 1, 2], [-INF] * 3, [1.5, INF, INF], 6.0, [1.5, 1 + 5 / 6, 1 + 10 / 6]),
        # flat segment: caps of the first ICB and floor of the second leave no free ICB between
        # lam = 1 and lam = 3; E hits that plateau so lam is not unique but A is
        ([0, 0], [1, 1], [-INF, 3], [1, INF], 4.0, [1, 3]),
        # W = 0 ICBs held at clip(P, L, U); the rest carry the envelope
        ([5, 1, 1], [0, 1, 1], [-INF, 0, 0], [4, INF, INF], 6.0, [4, 1, 1]),
        # only W = 0 ICBs, and they happen to sum to E
        ([1, 2], [0, 0], [0, 0], [5, 5], 3.0, [1, 2]),
        # ties everywhere: identical ICBs with binding floors
        ([1, 1, 1, 1], [1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3], 8.0, [2, 2, 2, 2]),
        # envelope exactly at the caps
        ([0, 0], [1, 3], [0, 0], [1, 2], 3.0, [1, 2]),
        # single ICB with L == U == E
        ([7], [1], [2], [2], 2.0, [2]),
        # negative allocations are allowed when there is no floor
        ([1, 1], [1, 1], [-INF, -INF], [INF, INF], -4.0, [-2, -2]),
    ],
)
def test_solve_hand_cases(P, W, L, U, E, expected):
    P, W, L, U = (np.array(a, dtype=float) for a in (P, W, L, U))
    status, lam, gap, A = kernel_solve(P, W, L, U, E)
    assert status == STATUS_OK
    np.testing.assert_allclose(A, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ref.reference_solve(P, W, L, U, E).A, expected, rtol=0, atol=1e-11)


def test_solve_infeasible_hand_cases():
    P, W = np.array([1.0, 1.0, 9.0]), np.array([1.0, 1.0, 0.0])
    L, U = np.array([2.0, 3.0, 0.0]), np.array([4.0, 5.0, 6.0])
    # floors 2 + 3 plus the held ICB at 6 = 11 > 10
    status, lam, gap, A = kernel_solve(P, W, L, U, 10.0)
    assert (status, gap) == (STATUS_FLOORS_EXCEED_ENVELOPE, 1.0) and np.isnan(lam)
    np.testing.assert_array_equal(A, [2.0, 3.0, 6.0])
    # caps 4 + 5 + 6 = 15 < 16
    status, lam, gap, A = kernel_solve(P, W, L, U, 16.0)
    assert (status, gap) == (STATUS_CAPS_BELOW_ENVELOPE, 1.0) and np.isnan(lam)
    np.testing.assert_array_equal(A, [4.0, 5.0, 6.0])


@st.composite
def bad_inputs(draw):
    P, W, L, U, E = draw(random_problems(max_n=20))
    P, W, L, U = P.copy(), W.copy(), L.copy(), U.copy()
    i = draw(st.integers(0, P.size - 1))
    kind = draw(st.sampled_from(["L>U", "W<0", "P nan", "W nan", "L nan", "U nan"]))
    if kind == "L>U":
        lo = L[i] if np.isfinite(L[i]) else (U[i] if np.isfinite(U[i]) else 0.0)
        step = draw(st.sampled_from(["ulp", 1.0, 1e6, INF]))
        L[i], U[i] = (np.nextafter(lo, INF) if step == "ulp" else lo + step), lo
        if not np.isfinite(L[i]) and draw(st.booleans()):
            U[i] = -INF  # L = +inf > U = -inf
    elif kind == "W<0":
        W[i] = -draw(st.sampled_from([1e-12, 1.0, 1e3, INF]))
    else:
        {"P nan": P, "W nan": W, "L nan": L, "U nan": U}[kind][i] = NAN
    return P, W, L, U, E


@settings(max_examples=_examples(300, 60), **SETTINGS)
@given(bad_inputs())
def test_solve_bad_input(prob):
    status, lam, gap, A = kernel_solve(*prob)
    assert status == STATUS_BAD_INPUT
    assert ref.reference_solve(*prob).status == ref.BAD_INPUT
    assert np.isnan(lam) and gap == 0.0
    assert np.all(np.isnan(A))


@pytest.mark.parametrize("W", [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
def test_solve_nan_envelope_is_bad_input(W):
    P = np.array([1.0, 2.0, 3.0])
    status, lam, gap, A = kernel_solve(P, np.array(W), np.zeros(3), np.full(3, 10.0), NAN)
    assert status == STATUS_BAD_INPUT


# --------------------------------------------------------------------------------------------
# Weights spanning many orders of magnitude: the sum is right to rounding


def _fsum_at(lam, P, W, L, U):
    """sum_i clip(P_i + lam W_i, L_i, U_i), correctly rounded (W = 0 ICBs held)."""
    return math.fsum(np.where(W > 0, np.clip(P + lam * W, L, U), np.clip(P, L, U)))


@st.composite
def wide_range_problems(draw, max_n=60):
    """Positive problems with 0.01 P <= L < P < U, P and W spanning 1e-3 .. 1e12, and envelopes.

    (L >= 0.01 P keeps P + lam W from cancelling by more than 100x, as no policy does.)

    The envelopes that broke the exact solve sit within a few ulps of the kink where the last
    large ICB reaches its cap (or leaves its floor), so that only tiny ICBs are free and the
    linear solve on that segment cancels to a few ulps of E. ``tiny_last`` builds that shape
    (the smaller ICBs are the last to bind) and ``kink`` envelopes scan the ulps around it.
    """
    return wide_range_problem(
        np.random.default_rng(draw(st.integers(0, 2**32 - 1))),
        n=draw(st.integers(1, 8) | st.integers(max_n // 3, max_n)),
        sizes=draw(st.sampled_from(["log-uniform", "tiny and large", "tiny and large"])),
        w_mode=draw(st.sampled_from(["W = P"] * 3 + ["independent", "some W = 0"])),
        gaps=draw(st.sampled_from(["tenth", "wide", "narrow"])),
        tiny_last=draw(st.sampled_from(["both", "both", "top", "bottom", None])),
        mode=draw(st.sampled_from(["kink"] * 5 + ["lam", "frac", "floor", "cap"])),
        frac=draw(st.floats(0.0, 1.0)),
    )


def wide_range_problem(rng, n, sizes, w_mode, gaps, tiny_last, mode, frac):
    """One problem of :func:`wide_range_problems` and its envelopes (plain numpy)."""

    def magnitudes():
        if sizes == "log-uniform":
            return 10.0 ** rng.uniform(-3.0, 12.0, n)
        tiny = rng.random(n) < 0.5
        return np.where(tiny, 10.0 ** rng.uniform(-3.0, 0.0, n), 10.0 ** rng.uniform(6.0, 12.0, n))

    P = magnitudes()
    W = magnitudes() if w_mode == "independent" else P.copy()
    if w_mode == "some W = 0":
        W[rng.random(n) < 0.3] = 0.0
    if gaps == "tenth":
        lo, hi = np.full(n, 0.1), rng.uniform(0.01, 0.3, n)
    elif gaps == "wide":
        lo, hi = rng.uniform(0.01, 0.99, n), 10.0 ** rng.uniform(-3.0, 1.0, n)
    else:
        lo, hi = 10.0 ** rng.uniform(-9.0, -3.0, (2, n))
    L = np.minimum(P * (1.0 - lo), np.nextafter(P, -INF))
    U = np.maximum(P * (1.0 + hi), np.nextafter(P, INF))
    pos = W > 0
    small = pos & (P < np.median(P))  # the ICBs made to bind last
    sides = {"both": ("top", "bottom"), "top": ("top",), "bottom": ("bottom",), None: ()}
    sides = sides[tiny_last] if small.any() and (pos & ~small).any() else ()
    if "top" in sides:
        end = np.max((U[pos] - P[pos]) / W[pos])
        U = np.where(small, P + end * rng.uniform(1.01, 2.0, n) * W, U)
    if "bottom" in sides:
        end = np.min((L[pos] - P[pos]) / W[pos])
        L = np.where(small, np.maximum(P + end * rng.uniform(1.01, 2.0, n) * W, 0.01 * P), L)
    L, U = np.minimum(L, np.nextafter(P, -INF)), np.maximum(U, np.nextafter(P, INF))
    held = np.clip(P, L, U)
    lowest = math.fsum(np.where(pos, L, held))
    highest = math.fsum(np.where(pos, U, held))
    lo_bp, hi_bp = (L[pos] - P[pos]) / W[pos], (U[pos] - P[pos]) / W[pos]
    if not pos.any() or mode == "floor":
        return P, W, L, U, [lowest]
    if mode == "cap":
        return P, W, L, U, [highest]
    if mode == "frac":
        return P, W, L, U, [min(lowest + frac * (highest - lowest), highest)]
    if mode == "lam":
        lam = lo_bp.min() + frac * (hi_bp.max() - lo_bp.min())
        return P, W, L, U, [_fsum_at(lam, P, W, L, U)]
    big = ~small[pos]
    kinks = [hi_bp[big].max() if side == "top" else lo_bp[big].min() for side in sides]
    if not kinks:  # a kink near either end (few ICBs free) or anywhere
        bps = np.unique(np.concatenate([lo_bp, hi_bp]))
        k = int(rng.integers(bps.size))
        kinks = [bps[[0, 1, -2, -1, k][int(rng.integers(5))] % bps.size]]
    envelopes = []
    for lam in kinks:  # the sum at the kink of the last large ICB to bind, and 1 .. 3 ulps off
        at_kink = _fsum_at(lam, P, W, L, U)
        envelopes.append(at_kink)
        for direction in (-INF, INF):
            e = at_kink
            for _ in range(3):
                e = float(np.nextafter(e, direction))
                envelopes.append(e)
    return P, W, L, U, [e for e in envelopes if lowest <= e <= highest]


def check_wide_range(P, W, L, U, E):
    """Sum equals E to ENVELOPE_RTOL, and the allocation matches the reference."""
    status, lam, gap, A = kernel_solve(P, W, L, U, E)
    assert status == STATUS_OK, status  # lowest <= E <= highest, correctly rounded
    assert np.all(L <= A) and np.all(A <= U)
    tol = ENVELOPE_RTOL * abs(E)
    assert abs(math.fsum(A) - E) <= tol, (math.fsum(A) - E) / E
    assert abs(float(np.sum(A)) - E) <= tol, (float(np.sum(A)) - E) / E
    r = ref.reference_solve(P, W, L, U, E, rtol=0.0)
    assert r.status == ref.OK
    np.testing.assert_allclose(A, r.A, rtol=0, atol=tol)
    pos = W > 0
    np.testing.assert_allclose(
        np.clip(P[pos] + lam * W[pos], L[pos], U[pos]), A[pos], rtol=0, atol=tol
    )
    # warm-started from the answer (or near it): the same sum
    for lam0 in (r.lam, r.lam * (1.0 + 1e-6) + 1e-9):
        out = np.empty(P.size)
        status, _, _ = solve_into(P, W, L, U, float(E), out, np.empty(2 * P.size), lam0)
        assert status == STATUS_OK
        assert abs(math.fsum(out) - E) <= tol, (math.fsum(out) - E) / E
        np.testing.assert_allclose(out, r.A, rtol=0, atol=tol)


# The case of issue 13 item 6 (W = P, L = 0.9 P): the exact answer puts every ICB at its cap
# but the smallest, whose free range spans two ulps of E; the old solve put lam just outside that
# segment, unclipping the last ICB, and missed E by 4.4e-4 of E with status OK.
_P = np.array([0.004171730149243051, 0.005281677640571992, 120291459526.27908, 18337897322.33272])
_U = np.array([0.005112974401713673, 0.005823422676646664, 142272121961.32083, 22206097235.595016])
ISSUE_13_6 = (_P, _P.copy(), 0.9 * _P, _U, 164478219196.92673)


def test_wide_range_issue_case():
    P, W, L, U, E = ISSUE_13_6
    check_wide_range(P, W, L, U, E)
    status, lam, gap, A = kernel_solve(P, W, L, U, E)
    np.testing.assert_array_equal(A[1:], U[1:])  # every ICB at its cap but the smallest
    assert L[0] < A[0] < U[0]


@settings(max_examples=_examples(200, 40), **SETTINGS)
@given(wide_range_problems())
@example(ISSUE_13_6[:4] + ([ISSUE_13_6[4]],))  # pinned: the search finds such cases, not always
def test_wide_range_matches_reference(prob):
    P, W, L, U, envelopes = prob
    for E in envelopes:
        check_wide_range(P, W, L, U, E)


def test_feasibility_slack_is_within_the_envelope_tolerance():
    # a year declared feasible at its floors must still pass the envelope check
    assert ref.FEASIBILITY_SLACK <= 0.5 * ENVELOPE_RTOL
    P = np.array([1.0, 2.0])
    L = P.copy()
    E = float(L.sum()) * (1.0 - 0.4 * ENVELOPE_RTOL)  # floors exceed E by rounding only
    status, lam, gap, A = kernel_solve(P, P, L, np.full(2, INF), E)
    assert status == STATUS_OK and abs(A.sum() - E) <= ENVELOPE_RTOL * E
    E = float(L.sum()) * (1.0 - 3.0 * ENVELOPE_RTOL)  # by more than rounding: infeasible
    assert kernel_solve(P, P, L, np.full(2, INF), E)[0] == STATUS_FLOORS_EXCEED_ENVELOPE


def _checked_glide():
    """A solved glide path (42 ICBs, floors and caps binding) and its kernel arrays."""
    rng = np.random.default_rng(13)
    n, years, rows = 42, 4, 3
    A0 = rng.uniform(100e6, 800e6, (1, n))
    E = A0.sum() * np.cumprod(np.full(years, 1.035))[None, :]
    T = rng.dirichlet(np.full(n, 20.0), (rows, 1)).repeat(years, axis=1) * E[:, :, None]
    arrays = dict(
        A0=A0,
        T=T,
        E=E,
        conv=np.ones((1, years)),
        w_prev=np.zeros((1, years)),
        w_target=np.ones((1, years)),
        floor_mult=np.full((1, years, n), 1.01),
        cap_mult=np.full((1, years, n), 1.06),
        below_target=np.full((1, years), NAN),
    )
    alloc = np.empty((rows, years, n))
    status = np.empty((rows, years), dtype=np.int64)
    glide_path(
        *arrays.values(), False, alloc, np.empty((rows, years)), status, np.empty((rows, years))
    )
    assert (status == STATUS_OK).all()
    return arrays, alloc, status


@pytest.mark.parametrize("error", [0.0, 1e-11, 4.4e-4])
def test_envelope_checks_are_rounding_tight(error):
    """Both run-time checks (``alloc run`` and ensembles) pass the kernel's own output and
    catch a year that misses its envelope by far less than the old 1e-6 / 1e-9 tolerances."""
    from alloc.allocation import engine
    from alloc.errors import AllocError
    from alloc.kernels.checks import count_violations

    assert engine.ENVELOPE_RTOL == ENVELOPE_RTOL
    arrays, alloc, status = _checked_glide()
    miss = np.abs(alloc.sum(axis=2) - arrays["E"]) / arrays["E"]
    assert miss.max() <= ENVELOPE_RTOL
    alloc[1, 2, 5] += error * arrays["E"][0, 2]  # moves one ICB, within its cap's 1e-9 slack
    zeros = np.zeros((1,) + alloc.shape[1:])
    args = [arrays[k] for k in ("A0", "T", "E", "floor_mult", "cap_mult", "below_target")]
    bad = count_violations(alloc, *args, zeros, status, engine.BOUND_RTOL)
    assert bad == (1 if error else 0)
    base, targets, envelopes = np.repeat(arrays["A0"], 3, axis=0), arrays["T"], arrays["E"]
    envelopes = np.repeat(envelopes, 3, axis=0)
    if error:
        with pytest.raises(AllocError, match="do not sum to the envelope"):
            engine.check_invariants(alloc, base, targets, envelopes, arrays, status, "test")
    else:
        engine.check_invariants(alloc, base, targets, envelopes, arrays, status, "test")


# --------------------------------------------------------------------------------------------
# Glide path


@st.composite
def glide_problems(draw, max_b=4, max_y=6, max_n=12):
    B = draw(st.integers(1, max_b))
    Y = draw(st.integers(1, max_y))
    N = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    relax = draw(st.booleans())
    # which inputs broadcast over the batch (leading axis 1)
    bcast = draw(st.lists(st.booleans(), min_size=9, max_size=9))
    floors = draw(st.sampled_from(["none", "loose", "tight"]))
    caps = draw(st.sampled_from(["none", "loose", "tight"]))
    bt_mode = draw(st.sampled_from(["nan", "finite", "mixed"]))
    allow_zero_w = draw(st.booleans())
    growth_lo, growth_hi = draw(st.sampled_from([(0.9, 1.15), (0.99, 1.03), (0.7, 1.4)]))
    rng = np.random.default_rng(seed)
    lead = {k: 1 if f else B for k, f in zip(_GLIDE_ARGS, bcast)}

    A0 = np.round(rng.uniform(0.5, 2.0, (lead["A0"], N)), 2) * 100.0
    E = A0[:1].sum() * np.cumprod(rng.uniform(growth_lo, growth_hi, (lead["E"], Y)), axis=1)
    shares = rng.uniform(0.5, 2.0, (lead["T"], Y, N))
    shares /= shares.sum(axis=2, keepdims=True)
    T = shares * (E if lead["T"] == lead["E"] else E[:1])[:, :, None]  # rows sum to E
    conv = rng.choice([0.0, 0.25, 1.0, rng.uniform()], (lead["conv"], Y))

    def coef(k):
        c = rng.choice([0.0, 0.5, 1.0, rng.uniform(0, 3)], (lead[k], Y))
        return c

    w_prev, w_target = coef("w_prev"), coef("w_target")
    if not allow_zero_w:  # keep every W_i > 0
        w_prev[(w_prev == 0)] = 1.0

    def mults(k, kind, lo, hi, none):
        shape = (lead[k], Y, N)
        if kind == "none":
            return np.full(shape, none)
        m = np.round(rng.uniform(lo, hi, shape), 2)  # rounding gives ties between ICBs
        m[rng.random(shape) < 0.2] = none
        return m

    floor_mult = mults(
        "floor_mult", floors, *((0.5, 0.95) if floors == "loose" else (0.97, 1.1)), -INF
    )
    cap_mult = mults("cap_mult", caps, *((1.2, 2.0) if caps == "loose" else (0.95, 1.06)), INF)
    below_target = np.round(rng.uniform(0.0, 0.1, (lead["below_target"], Y)), 3)
    if bt_mode == "nan":
        below_target[:] = NAN
    elif bt_mode == "mixed":
        below_target[rng.random(below_target.shape) < 0.5] = NAN
    prob = dict(
        A0=A0,
        T=T,
        E=E,
        conv=conv,
        w_prev=w_prev,
        w_target=w_target,
        floor_mult=floor_mult,
        cap_mult=cap_mult,
        below_target=below_target,
        relax=relax,
        shape=(B, Y, N),
    )
    for k in _GLIDE_ARGS:
        prob[k] = np.ascontiguousarray(prob[k], dtype=np.float64)
    return prob


def check_glide_against_reference(prob):
    A, lam, status, gap = run_glide(prob)
    r = reference_glide(prob)
    B, Y, N = prob["shape"]
    E = np.broadcast_to(prob["E"], (B, Y))
    for b in range(B):
        tol = RTOL * max(np.abs(E[b]).max(), np.nanmax(np.abs(r.A[b]), initial=0.0))
        # Compare only up to (and including) the first year the reference's relaxed solve was
        # itself infeasible: that corner is covered by test_relaxed_status_means_feasible.
        failed = np.flatnonzero(r.relax_failed[b])
        ny = failed[0] if failed.size else Y
        for y in range(ny):
            ctx = f"scenario {b} year {y}"
            assert status[b, y] == r.status[b, y], ctx
            st_ = status[b, y]
            if st_ == STATUS_NOT_RUN:
                assert np.all(np.isnan(A[b, y])) and np.isnan(lam[b, y]), ctx
                continue
            if st_ == STATUS_BAD_INPUT:
                assert np.all(np.isnan(A[b, y])) and np.isnan(lam[b, y]), ctx
                assert gap[b, y] == 0.0
                continue
            np.testing.assert_allclose(A[b, y], r.A[b, y], rtol=0, atol=tol, err_msg=ctx)
            assert gap[b, y] == pytest.approx(r.gap[b, y], rel=0, abs=tol), ctx
            P, W, L, U = r.P[b, y], r.W[b, y], r.L[b, y], r.U[b, y]
            assert np.all(A[b, y] >= L - tol) and np.all(A[b, y] <= U + tol), ctx
            if st_ in (STATUS_OK, STATUS_FLOORS_RELAXED, STATUS_CAPS_RELAXED):
                assert abs(A[b, y].sum() - E[b, y]) <= sum_tolerance(P, W, A[b, y], E[b, y]), ctx
                pos = W > 0
                assert np.isfinite(lam[b, y]), ctx
                np.testing.assert_allclose(
                    np.clip(P[pos] + lam[b, y] * W[pos], L[pos], U[pos]),
                    A[b, y][pos],
                    rtol=0,
                    atol=tol,
                    err_msg=ctx,
                )
            else:  # infeasible without relaxation
                assert np.isnan(lam[b, y]) and gap[b, y] > 0, ctx
            if st_ == STATUS_OK:
                assert gap[b, y] == 0.0, ctx
            if st_ in (STATUS_FLOORS_RELAXED, STATUS_CAPS_RELAXED):
                assert prob["relax"]
                assert gap[b, y] > 0, ctx
        if not prob["relax"]:
            assert not np.any(np.isin(status[b], [STATUS_FLOORS_RELAXED, STATUS_CAPS_RELAXED]))


@settings(max_examples=_examples(200, 30), **SETTINGS)
@given(glide_problems())
def test_glide_matches_reference(prob):
    check_glide_against_reference(prob)


@settings(max_examples=_examples(100, 20), **SETTINGS)
@given(glide_problems(max_b=3, max_y=8, max_n=6))
def test_glide_matches_reference_small(prob):
    # short batches, long horizons: more chances of infeasible years followed by NOT_RUN
    check_glide_against_reference(prob)


def _glide_case(A0, T, E, conv, w_prev, w_target, floor_mult, cap_mult, below_target, relax):
    """A single-scenario glide problem from nested lists (every input broadcast, B = 1)."""
    arrs = [A0, T, E, conv, w_prev, w_target, floor_mult, cap_mult, below_target]
    prob = {
        k: np.ascontiguousarray(np.array(v, dtype=np.float64)[None])
        for k, v in zip(_GLIDE_ARGS, arrs)
    }
    Y, N = prob["T"].shape[1:]
    prob.update(relax=relax, shape=(1, Y, N))
    return prob


def test_glide_hand_case_infeasible_then_not_run():
    # year 0: uniform growth, no bounds bind; year 1: the envelope halves but floors are 100%
    # of last year, so floors exceed the envelope; year 2 is not run.
    prob = _glide_case(
        A0=[1.0, 1.0],
        T=[[1.0, 1.0]] * 3,
        E=[2.0, 1.0, 1.0],
        conv=[0.0] * 3,
        w_prev=[1.0] * 3,
        w_target=[0.0] * 3,
        floor_mult=[[1.0, 1.0]] * 3,
        cap_mult=[[INF, INF]] * 3,
        below_target=[NAN] * 3,
        relax=False,
    )
    A, lam, status, gap = run_glide(prob)
    np.testing.assert_array_equal(
        status[0], [STATUS_OK, STATUS_FLOORS_EXCEED_ENVELOPE, STATUS_NOT_RUN]
    )
    np.testing.assert_allclose(A[0, :2], [[1.0, 1.0], [1.0, 1.0]])
    assert np.all(np.isnan(A[0, 2])) and np.isnan(lam[0, 1]) and np.isnan(lam[0, 2])
    assert gap[0, 1] == pytest.approx(1.0)
    # with the fallback, floors drop to uniform growth (0.5 each) and the path continues
    prob["relax"] = True
    A, lam, status, gap = run_glide(prob)
    np.testing.assert_array_equal(status[0], [STATUS_OK, STATUS_FLOORS_RELAXED, STATUS_OK])
    np.testing.assert_allclose(A[0], [[1.0, 1.0], [0.5, 0.5], [0.5, 0.5]])
    assert gap[0, 1] == pytest.approx(1.0)


def test_glide_hand_case_below_target_floor():
    # w_target only: the ICB far below target is lifted to T*(1-x); x overrides its growth cap
    prob = _glide_case(
        A0=[1.0, 3.0],
        T=[[2.0, 2.0]],
        E=[4.0],
        conv=[0.0],
        w_prev=[1.0],
        w_target=[0.0],
        floor_mult=[[-INF, -INF]],
        cap_mult=[[1.5, 1.5]],
        below_target=[0.1],
        relax=False,
    )
    A, lam, status, gap = run_glide(prob)
    assert status[0, 0] == STATUS_OK
    np.testing.assert_allclose(A[0, 0], [1.8, 2.2])
    np.testing.assert_allclose(reference_glide(prob).A[0, 0], [1.8, 2.2])


# Two single-year cases where the relaxed problem is itself infeasible because some ICBs have
# W = 0 (so relaxing floors/caps of the others cannot absorb the envelope).
_RELAX_STILL_INFEASIBLE = {
    # w_prev = w_target = 0: every ICB held at clip(P, L, U). Floors 2 + cap 0.5 = 2.5 > E = 2;
    # after lowering the floor to uniform growth (1) the total is 1.5 < 2.
    "floors": _glide_case(
        A0=[1.0, 1.0],
        T=[[1.0, 1.0]],
        E=[2.0],
        conv=[0.0],
        w_prev=[0.0],
        w_target=[0.0],
        floor_mult=[[2.0, -INF]],
        cap_mult=[[INF, 0.5]],
        below_target=[NAN],
        relax=True,
    ),
    # w_target only and one ICB with a zero target (W = 0, held at 0.55); caps 1.05 on the
    # others; relaxing caps to uniform growth (1.1) gives 1.1 + 1.1 + 0.55 = 2.75 < E = 3.3.
    "caps": _glide_case(
        A0=[1.0, 1.0, 1.0],
        T=[[1.65, 1.65, 0.0]],
        E=[3.3],
        conv=[0.5],
        w_prev=[0.0],
        w_target=[1.0],
        floor_mult=[[-INF] * 3],
        cap_mult=[[1.05] * 3],
        below_target=[NAN],
        relax=True,
    ),
}


@pytest.mark.parametrize("which", sorted(_RELAX_STILL_INFEASIBLE))
def test_reference_flags_relax_still_infeasible(which):
    r = reference_glide(_RELAX_STILL_INFEASIBLE[which])
    assert r.relax_failed[0, 0]
    assert r.status[0, 0] == ref.CAPS_BELOW_ENVELOPE


@pytest.mark.parametrize("which", sorted(_RELAX_STILL_INFEASIBLE))
def test_relaxed_status_means_feasible(which):
    prob = _RELAX_STILL_INFEASIBLE[which]
    A, lam, status, gap = run_glide(prob)
    if status[0, 0] in (STATUS_FLOORS_RELAXED, STATUS_CAPS_RELAXED, STATUS_OK):
        assert A[0, 0].sum() == pytest.approx(prob["E"][0, 0], rel=ENVELOPE_RTOL, abs=0)


def test_glide_not_run_years_write_gap():
    prob = _glide_case(
        A0=[1.0, 1.0],
        T=[[1.0, 1.0]] * 3,
        E=[2.0, 1.0, 1.0],
        conv=[0.0] * 3,
        w_prev=[1.0] * 3,
        w_target=[0.0] * 3,
        floor_mult=[[1.0, 1.0]] * 3,
        cap_mult=[[INF, INF]] * 3,
        below_target=[NAN] * 3,
        relax=False,
    )
    A, lam, status, gap = run_glide(prob, gap_fill=12345.0)
    assert status[0, 2] == STATUS_NOT_RUN
    assert gap[0, 2] != 12345.0


# --------------------------------------------------------------------------------------------
# Same results with the JIT disabled


@pytest.mark.skipif(not IN_NOJIT_CHILD, reason="runs only in the NUMBA_DISABLE_JIT child")
def test_nojit_child_really_uses_python():
    assert not hasattr(solve_clipped_affine, "py_func")
    assert not hasattr(glide_path, "py_func")


@pytest.mark.skipif(IN_NOJIT_CHILD, reason="this is the child")
def test_same_results_with_jit_disabled():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", **{_CHILD_ENV: "1"})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    selected = (
        "test_nojit_child_really_uses_python or test_solve_matches_reference or "
        "test_solve_invariants or test_solve_bad_input or test_glide_matches_reference "
        "or test_glide_hand_case or test_warm_started_solve or test_wide_range"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            selected,
            os.path.abspath(__file__),
        ],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    passed = re.search(r"(\d+) passed", proc.stdout)
    assert passed and int(passed.group(1)) >= 9, proc.stdout[-2000:]
    assert "skipped" not in proc.stdout, proc.stdout[-2000:]


# --------------------------------------------------------------------------------------------
# Warm-started solve: the active-set iteration must land on the same exact answer


@settings(max_examples=_examples(1500, 100), **SETTINGS)
@given(random_problems() | small_problems(), st.floats(-5.0, 5.0, allow_nan=False))
@example(  # subnormal envelopes (found by hypothesis in CI): the sums are 2 and 5 units off
    (np.array([0.0]), np.array([4.0]), np.array([-2.0]), np.array([np.inf]), 2.2250738585e-313),
    0.0,
)
@example(
    (np.array([0.0]), np.array([11.0]), np.array([-2.0]), np.array([np.inf]), 2.2250738585e-313),
    0.0,
)
def test_warm_started_solve_matches_cold_solve(prob, lam0):
    P, W, L, U, E = prob
    cold = kernel_solve(P, W, L, U, E)
    P, W, L, U = (np.ascontiguousarray(a, dtype=np.float64) for a in (P, W, L, U))
    out = np.empty(P.size)
    status, lam, gap = solve_into(P, W, L, U, float(E), out, np.empty(2 * P.size), lam0)
    assert status == cold[0]
    scale = ref.problem_scale(P, W, L, U, E)
    np.testing.assert_allclose(out, cold[3], rtol=0, atol=RTOL * scale)
    if status == STATUS_OK:
        assert abs(out.sum() - E) <= sum_tolerance(P, W, out, E)


# --------------------------------------------------------------------------------------------
# Floors and caps that broadcast over years and ICBs


@settings(max_examples=_examples(80, 15), **SETTINGS)
@given(
    glide_problems(),
    st.sampled_from([(False, False), (True, False), (False, True)]),
    st.sampled_from([(False, False), (True, False), (False, True)]),
)
def test_broadcast_floors_and_caps_equal_materialised_ones(prob, floor_axes, cap_axes):
    """Floors and caps passed with a length-1 year or ICB axis give bit for bit the results of
    the same bounds materialised to (B|1, Y, N), and the run-time check agrees on them."""
    from alloc.kernels.checks import count_violations

    B, Y, N = prob["shape"]
    small = dict(prob)
    for key, (by_year, by_icb) in (("floor_mult", floor_axes), ("cap_mult", cap_axes)):
        # one bound per scenario (B|1, 1, 1), or also per year (B|1, Y, 1), or per ICB (B|1, 1, N)
        m = prob[key][:, : Y if by_year else 1, : N if by_icb else 1]
        small[key] = np.ascontiguousarray(m)
    full = dict(prob)
    for key in ("floor_mult", "cap_mult"):
        shape = (small[key].shape[0], Y, N)
        full[key] = np.ascontiguousarray(np.broadcast_to(small[key], shape))
    got, want = run_glide(small), run_glide(full)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    # The run-time check reads either layout alike (it may flag a synthetic problem whose
    # allocations go negative, so counts are compared, not assumed zero).
    zeros = np.zeros((1, Y, N))
    broken = want[0].copy()
    broken[0, 0, 0] = -1.0  # negative money: caught through either layout
    counts = []
    for alloc in (want[0], broken):
        for arrays in (small, full):
            args = [arrays[k] for k in ("A0", "T", "E", "floor_mult", "cap_mult", "below_target")]
            counts.append(count_violations(alloc, *args, zeros, want[2], 1e-9))
    assert counts[0] == counts[1] and counts[2] == counts[3] >= 1
