"""The cohort kernel on random models: people conserved every step, convergence to the exact
continuous-time solution, levers with no effect change nothing, same results without the JIT,
and the fast kernel bit-identical to the step-by-step one."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.linalg import expm

from alloc.kernels.cohort import allocate_outputs, cohort_project, cohort_project_stepwise

_CHILD = "ALLOC_COHORT_TEST_NOJIT_CHILD"
IN_CHILD = os.environ.get(_CHILD) == "1"


def random_model(seed, n_state=5, n_icb=3, n_year=4, n_lev=2, n_draw=2, n_in=2):
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0, 2.0, (n_draw, n_state, n_state)) * (
        rng.uniform(size=(1, n_state, n_state)) < 0.6
    )
    rates[:, -1, :] = 0.0  # one absorbing state
    lev_rr = np.where(
        rng.uniform(size=(n_draw, n_lev, n_state, n_state)) < 0.4,
        rng.uniform(0.2, 3.0, (n_draw, n_lev, n_state, n_state)),
        1.0,
    )
    return dict(
        x0=rng.uniform(0, 1000, (n_draw, n_icb, n_state)),
        rates=rates,
        inflow_state=rng.integers(0, n_state, n_in).astype(np.int64),
        inflow_rate=rng.uniform(0, 0.01, (n_draw, n_in)),
        pop=rng.uniform(1e4, 1e5, (n_year, n_icb)),
        lev_rr=lev_rr,
        lev_irr=rng.uniform(0.5, 1.5, (n_draw, n_lev, n_in)),
        lev_cov=rng.uniform(0, 1, (n_draw, n_year, n_icb, n_lev)),
        acc_pt=rng.uniform(0, 10, (1, 3, n_state)),
        acc_entry=rng.uniform(0, 5, (1, 3, n_state)),
    )


def run(m, substeps=1, kernel=cohort_project, store_states=True):
    n_draw = max(m["x0"].shape[0], m["rates"].shape[0])
    n_year, n_icb = m["pop"].shape
    out = allocate_outputs(
        n_draw,
        n_year,
        n_icb,
        m["x0"].shape[-1],
        m["acc_pt"].shape[1],
        m["lev_rr"].shape[1],
        store_states,
    )
    kernel(
        m["x0"],
        m["rates"],
        m["inflow_state"],
        m["inflow_rate"],
        m["pop"],
        m["lev_rr"],
        m["lev_irr"],
        m["lev_cov"],
        m["acc_pt"],
        m["acc_entry"],
        substeps,
        store_states,
        **out,
    )
    return out


@settings(
    max_examples=25 if not IN_CHILD else 5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), substeps=st.sampled_from([1, 3, 12]))
def test_people_conserved_every_step(seed, substeps):
    m = random_model(seed)
    out = run(m, substeps)
    totals = out["states_out"].sum(axis=-1)  # (D, Y+1, N)
    change = totals[:, 1:] - totals[:, :-1]
    np.testing.assert_allclose(change, out["inflow_out"], rtol=1e-12, atol=1e-9)
    assert (out["states_out"] >= -1e-9).all()
    # Substeps: conservation holds inside a year too (one-year runs of each sub-step count).
    one = dict(m, pop=m["pop"][:1], lev_cov=m["lev_cov"][:, :1])
    for k in (1, 2, 5):
        o = run(one, k)
        np.testing.assert_allclose(
            o["states_out"][:, 1].sum(-1) - o["states_out"][:, 0].sum(-1),
            o["inflow_out"][:, 0],
            rtol=1e-12,
            atol=1e-9,
        )


def test_converges_to_exact_continuous_time_solution():
    """With constant inflow the exact solution is expm of the augmented generator."""
    m = random_model(3, n_draw=1, n_icb=1, n_lev=0, n_year=2, n_in=1)
    m["rates"][0, :, 0] = 0.3  # a backward flow too
    q = m["rates"][0].copy()
    np.fill_diagonal(q, 0.0)
    np.fill_diagonal(q, -q.sum(axis=1))
    n = q.shape[0]
    aug = np.zeros((n + 1, n + 1))
    aug[:n, :n] = q.T
    aug[m["inflow_state"][0], n] = m["inflow_rate"][0, 0] * m["pop"][0, 0]
    m["pop"][:] = m["pop"][0, 0]
    x = np.append(m["x0"][0, 0], 1.0)
    exact = (expm(aug) @ expm(aug) @ x)[:n]
    errors = [np.abs(run(m, k)["states_out"][0, 2, 0] - exact).max() for k in (1, 10, 100)]
    assert errors[2] < errors[1] < errors[0]
    assert errors[1] / errors[2] > 5  # at least first order in dt (backward flows wait a step)
    assert errors[2] < 5e-3 * np.abs(exact).max()


@pytest.mark.parametrize("how", ["ratio_one", "uptake_zero"])
def test_lever_with_no_effect_changes_nothing(how):
    m = random_model(11)
    base = run(
        dict(
            m,
            lev_rr=np.ones((1, 0) + m["rates"].shape[1:]),
            lev_irr=np.ones((1, 0, 2)),
            lev_cov=np.zeros((1, 4, 1, 0)),
        )
    )
    if how == "ratio_one":
        m["lev_rr"][:] = 1.0
        m["lev_irr"][:] = 1.0
    else:
        m["lev_cov"][:] = 0.0
    with_lever = run(m)
    for key in ("states_out", "acc_out", "inflow_out"):
        np.testing.assert_array_equal(with_lever[key], base[key])


def test_levers_change_something():
    m = random_model(12)
    none = run(dict(m, lev_cov=np.zeros_like(m["lev_cov"])))
    assert not np.allclose(run(m)["acc_out"], none["acc_out"])


@settings(
    max_examples=60 if not IN_CHILD else 4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    substeps=st.sampled_from([1, 3, 12]),
    n_state=st.integers(1, 6),
    n_icb=st.integers(1, 5),
    n_lev=st.integers(0, 3),
    n_in=st.integers(0, 2),
    coverage=st.sampled_from(["per_icb", "shared", "zeros_and_ones", "one_draw"]),
    store_states=st.booleans(),
)
def test_fast_kernel_is_bit_identical_to_stepwise(
    seed, substeps, n_state, n_icb, n_lev, n_in, coverage, store_states
):
    """Hoisting exp/expm1 and rate products out of the ICB and sub-step loops changes no bit.

    Coverage per ICB (with some ICBs uncovered, so the shared tables hold levers an ICB lacks),
    shared by every ICB, exactly 0 or 1 (sub-cohorts of weight 0 in some ICBs only), and one
    coverage row for every draw; empty states (zero initial stock, no inflow) too.
    """
    m = random_model(seed, n_state=n_state, n_icb=n_icb, n_lev=n_lev, n_in=n_in, n_draw=3)
    rng = np.random.default_rng(seed)
    cov = m["lev_cov"]
    if coverage == "shared":
        cov = cov[:, :, :1]
    elif coverage == "one_draw":
        cov = cov[:1]
    cov = np.where(rng.uniform(size=cov.shape) < 0.3, 0.0, cov)
    if coverage == "zeros_and_ones":
        cov = np.where(rng.uniform(size=cov.shape) < 0.5, 1.0, cov)
    m["lev_cov"] = np.ascontiguousarray(cov)
    m["x0"][..., rng.uniform(size=n_state) < 0.3] = 0.0
    fast = run(m, substeps, cohort_project, store_states)
    slow = run(m, substeps, cohort_project_stepwise, store_states)
    for key in fast:
        np.testing.assert_array_equal(fast[key], slow[key], err_msg=key)


@pytest.mark.skipif(not IN_CHILD, reason="runs only in the NUMBA_DISABLE_JIT child")
def test_child_really_has_no_jit():
    assert not hasattr(cohort_project, "py_func")


@pytest.mark.skipif(not IN_CHILD, reason="runs only in the NUMBA_DISABLE_JIT child")
def test_child_writes_reference_outputs(tmp_path_factory):
    out = run(random_model(99), 4)
    np.savez(os.environ["ALLOC_COHORT_NOJIT_OUT"], **out)


@pytest.mark.skipif(IN_CHILD, reason="this is the child")
def test_same_results_with_jit_disabled(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = tmp_path / "nojit.npz"
    env = dict(
        os.environ, NUMBA_DISABLE_JIT="1", ALLOC_COHORT_NOJIT_OUT=str(target), **{_CHILD: "1"}
    )
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.abspath(__file__)],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "skipped" not in proc.stdout.split("\n")[-2] or "passed" in proc.stdout
    nojit = np.load(target)
    jit = run(random_model(99), 4)
    for key in jit:
        np.testing.assert_allclose(jit[key], nojit[key], rtol=1e-12, atol=1e-12, err_msg=key)
