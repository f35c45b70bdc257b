"""Cohort (Markov / stock-and-flow) kernel for the left-shift pathways.

Numba only: plain arrays in, plain arrays out; no pandas, xarray or I/O.

One call steps the state counts of every ICB ``n`` and parameter draw ``d`` through ``Y`` years,
each year in ``substeps`` equal steps of length ``dt = 1 / substeps`` [years].

Transitions are continuous-time **rates** ``r[s, t]`` [per person-year] (``s != t``). Within a
step a person in state ``s`` faces the competing risks ``r[s, t]``; with total exit rate
``R_s = sum_t r[s, t]`` and ``z = R_s * dt``::

    P(leave s within the step)            = 1 - exp(-z)                      (p = 1 - e^{-r t})
    P(go to t | leave)                    = r[s, t] / R_s                     (competing risks)
    person-time in s per person at start  = (1 - exp(-z)) / R_s               [years]

People *arriving* in ``s`` during the step (external inflow, or flows from an earlier state in
the same step) arrive uniformly over the step, so per arrival::

    P(still in s at the end of the step)  = g = (1 - exp(-z)) / z
    person-time in s per arrival          = (1 - g) / R_s                     [years]

States are processed in index order, so a flow to a *later* state ``t > s`` arrives within the
same step (a short stay such as level 3 -> level 2 -> ward passes through in one step: this is
the stock-and-flow part, with exit rate ``1 / LOS`` for bed-based states), while a flow to an
earlier state ``t <= s`` (graft failure back to dialysis, readmission) joins ``t`` at the start of
the next step. As ``substeps`` grows the result converges to the exact solution of the
continuous-time Markov chain with piecewise-constant inflow.

Levers. Lever ``l`` covers a fraction ``f_l`` (eligible x uptake x ramp) of the people in the
states it acts on; for covered people the rate ``r[s, t]`` is multiplied by ``rr[l, s, t]``
(a hazard ratio / rate ratio on the *rate* scale; a length-of-stay multiplier ``m`` is
``rr = 1 / m`` on every exit). Levers are taken up independently, so for a state with ``k`` active
levers the kernel sums the ``2**k`` sub-cohorts (treated by a subset ``c`` of the levers) with
weights ``prod_{l in c} f_l * prod_{l not in c} (1 - f_l)``; each sub-cohort uses the rates
``r[s, t] * prod_{l in c} rr[l, s, t]``. Treatment status is not carried from one step to the
next (a fraction ``f_l`` of the stock is treated in every step). External inflow stream ``j``
(incidence or admissions) is ``inflow_rate[j] * pop[y, n] * dt`` persons per step, multiplied by
``prod_l (1 - f_l (1 - irr[l, j]))`` (admission-rate multipliers; exact for independent levers).

People are conserved: in every step ``sum(x_end) = sum(x_start) + external inflow``, up to
floating-point rounding (each state's stayers are computed as its people minus its leavers, and
the last destination of each split takes the remainder).

Outputs are linear functionals of the person-time ``pt[s]`` [person-years] and entries
``ent[s]`` [persons] of each year: ``acc[k] = sum_s acc_pt[k, s] pt[s] + acc_entry[k, s] ent[s]``
(costs by payer, bed-days, admissions ...), plus per lever the treated person-time, the covered
external inflow (would-be admissions reached) and the treated events (flows along the
transitions the lever changes), from which the caller prices the lever.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_SERIES_Z = 1e-5  # below this z = R dt, 1 - (1 - e^-z)/z is taken from its series


@njit(cache=True)
def _one_minus_g(z):
    """``1 - (1 - exp(-z)) / z`` without cancellation [dimensionless]."""
    if z < _SERIES_Z:
        return z * (0.5 - z * (1.0 / 6.0 - z / 24.0))
    return 1.0 + math.expm1(-z) / z


@njit(cache=True)
def _pick3(arr, d, n):
    """``arr[d, :, n]`` of an array (D|1, Y, N|1, L) broadcast over draws and ICBs."""
    dd = d if arr.shape[0] > 1 else 0
    nn = n if arr.shape[2] > 1 else 0
    return arr[dd, :, nn]


@njit(cache=True)
def _run_one(
    x0,
    rates,
    inflow_state,
    inflow_rate,
    pop_n,
    rr,
    irr,
    cov,
    acc_pt,
    acc_entry,
    substeps,
    states_out,
    store_states,
    acc_out,
    lpt_out,
    lin_out,
    lev_out,
    inflow_out,
):
    """Step one (draw, ICB) trajectory through all years; see :func:`cohort_project`."""
    n_state = x0.size
    n_year = pop_n.size
    n_lev = rr.shape[0]
    n_acc = acc_pt.shape[0]
    n_in = inflow_state.size
    dt = 1.0 / substeps

    # Which states each lever acts on (any exit rate changed).
    affects = np.zeros((n_lev, n_state), dtype=np.bool_)
    for l in range(n_lev):
        for s in range(n_state):
            for t in range(n_state):
                if t != s and rr[l, s, t] != 1.0:
                    affects[l, s] = True
    x = x0.copy()
    arr = np.empty(n_state)
    nxt = np.empty(n_state)
    stay = np.empty(n_state)
    pt = np.empty(n_state)
    ent = np.empty(n_state)
    r_c = np.empty(n_state)
    active = np.empty(max(n_lev, 1), dtype=np.int64)
    if store_states:
        for s in range(n_state):
            states_out[0, s] = x[s]
    for y in range(n_year):
        for s in range(n_state):
            pt[s] = 0.0
            ent[s] = 0.0
        for l in range(n_lev):
            lpt_out[y, l] = 0.0
            lin_out[y, l] = 0.0
            lev_out[y, l] = 0.0
        inflow_year = 0.0
        cov_y = cov[y]
        for _ in range(substeps):
            for s in range(n_state):
                arr[s] = 0.0
                nxt[s] = 0.0
            # External inflow, uniform over the step, with admission-rate multipliers.
            for j in range(n_in):
                base = inflow_rate[j] * pop_n[y] * dt
                mult = 1.0
                for l in range(n_lev):
                    if irr[l, j] != 1.0 and cov_y[l] > 0.0:
                        mult *= 1.0 - cov_y[l] * (1.0 - irr[l, j])
                        lin_out[y, l] += cov_y[l] * base
                amount = base * mult
                arr[inflow_state[j]] += amount
                ent[inflow_state[j]] += amount
                inflow_year += amount
            # Sweep the states in order.
            for s in range(n_state):
                xs = x[s]
                a_s = arr[s]
                stay[s] = 0.0
                if xs == 0.0 and a_s == 0.0:
                    continue
                n_act = 0
                for l in range(n_lev):
                    if cov_y[l] > 0.0 and affects[l, s]:
                        active[n_act] = l
                        n_act += 1
                for mask in range(1 << n_act):
                    w = 1.0
                    for k in range(n_act):
                        f = cov_y[active[k]]
                        if (mask >> k) & 1:
                            w *= f
                        else:
                            w *= 1.0 - f
                    if w == 0.0:
                        continue
                    big_r = 0.0
                    last = -1
                    for t in range(n_state):
                        r = 0.0
                        if t != s:
                            r = rates[s, t]
                            for k in range(n_act):
                                if (mask >> k) & 1:
                                    r *= rr[active[k], s, t]
                        r_c[t] = r
                        if r > 0.0:
                            big_r += r
                            last = t
                    people = w * (xs + a_s)
                    if big_r > 0.0:
                        z = big_r * dt
                        e = math.exp(-z)
                        omg = _one_minus_g(z)
                        kept = w * (xs * e + a_s * (1.0 - omg))
                        time_in = w * (xs * (-math.expm1(-z)) + a_s * omg) / big_r
                    else:
                        kept = people
                        time_in = w * (xs + 0.5 * a_s) * dt
                    leave = people - kept
                    if leave < 0.0:
                        leave = 0.0
                        kept = people
                    stay[s] += kept
                    pt[s] += time_in
                    for k in range(n_act):
                        if (mask >> k) & 1:
                            lpt_out[y, active[k]] += time_in
                    if leave > 0.0:
                        rest = leave
                        for t in range(n_state):
                            if r_c[t] > 0.0:
                                if t == last:
                                    flow = rest
                                else:
                                    flow = leave * (r_c[t] / big_r)
                                    rest -= flow
                                if t > s:
                                    arr[t] += flow
                                else:
                                    nxt[t] += flow
                                ent[t] += flow
                                for k in range(n_act):
                                    if (mask >> k) & 1 and rr[active[k], s, t] != 1.0:
                                        lev_out[y, active[k]] += flow
            for s in range(n_state):
                x[s] = stay[s] + nxt[s]
        if store_states:
            for s in range(n_state):
                states_out[y + 1, s] = x[s]
        for k in range(n_acc):
            total = 0.0
            for s in range(n_state):
                total += acc_pt[k, s] * pt[s] + acc_entry[k, s] * ent[s]
            acc_out[y, k] = total
        inflow_out[y] = inflow_year


@njit(parallel=True, cache=True)
def cohort_project(
    x0,
    rates,
    inflow_state,
    inflow_rate,
    pop,
    lev_rr,
    lev_irr,
    lev_cov,
    acc_pt,
    acc_entry,
    substeps,
    store_states,
    states_out,
    acc_out,
    lever_pt_out,
    lever_inflow_out,
    lever_events_out,
    inflow_out,
):
    """Project state counts for every draw and ICB through ``Y`` years.

    Arrays with a leading axis of length ``D`` or 1 broadcast over draws (1 = the same for every
    draw). ``S`` states, ``J`` inflow streams, ``L`` levers, ``K`` accumulators.

    Parameters
    ----------
    x0 : ndarray (D|1, N, S)
        People in each state at the start of the first year [persons].
    rates : ndarray (D|1, S, S)
        Transition rates ``r[s, t]`` [per person-year]; the diagonal is ignored. States must be
        in cascade order (flows to a later state are completed within the step).
    inflow_state : ndarray (J,) int64
        State each inflow stream enters.
    inflow_rate : ndarray (D|1, J)
        Inflow per person of ``pop`` [persons per person per year].
    pop : ndarray (Y, N)
        Population driving the inflows in each year [persons].
    lev_rr : ndarray (D|1, L, S, S)
        Rate ratio on ``r[s, t]`` for people covered by lever ``l`` [dimensionless]; 1 = none.
    lev_irr : ndarray (D|1, L, J)
        Multiplier on inflow stream ``j`` for the covered population [dimensionless]; 1 = none.
    lev_cov : ndarray (D|1, Y, N|1, L)
        Coverage ``f_l`` = eligible x uptake x ramp in each year [fraction, 0..1].
    acc_pt, acc_entry : ndarray (D|1, K, S)
        Accumulator weights per person-year in a state and per entry into a state
        (e.g. GBP per person-year by payer, bed-days per person-year, 1 per admission).
    substeps : int
        Steps per year (``dt = 1 / substeps`` [years]).
    store_states : bool
        Write ``states_out`` (otherwise it may be any array and is left untouched).

    Other Parameters
    ----------------
    states_out : ndarray (D, Y + 1, N, S)
        Receives the people in each state at the start of the first year and the end of each
        year [persons].
    acc_out : ndarray (D, Y, N, K)
        Receives the accumulators of each year.
    lever_pt_out : ndarray (D, Y, N, L)
        Receives the person-time covered by each lever [person-years].
    lever_inflow_out : ndarray (D, Y, N, L)
        Receives the would-be inflow covered by each lever [persons].
    lever_events_out : ndarray (D, Y, N, L)
        Receives the flows of covered people along the transitions each lever changes [persons].
    inflow_out : ndarray (D, Y, N)
        Receives the external inflow of each year [persons].
    """
    n_draw = acc_out.shape[0]
    n_icb = pop.shape[1]
    for i in prange(n_draw * n_icb):
        d = i // n_icb
        n = i % n_icb
        dd = d if x0.shape[0] > 1 else 0
        dr = d if rates.shape[0] > 1 else 0
        di = d if inflow_rate.shape[0] > 1 else 0
        dl = d if lev_rr.shape[0] > 1 else 0
        dj = d if lev_irr.shape[0] > 1 else 0
        da = d if acc_pt.shape[0] > 1 else 0
        de = d if acc_entry.shape[0] > 1 else 0
        if store_states:
            so = states_out[d, :, n]
        else:
            so = states_out[0, :, 0]
        _run_one(
            x0[dd, n],
            rates[dr],
            inflow_state,
            inflow_rate[di],
            pop[:, n],
            lev_rr[dl],
            lev_irr[dj],
            _pick3(lev_cov, d, n),
            acc_pt[da],
            acc_entry[de],
            substeps,
            so,
            store_states,
            acc_out[d, :, n],
            lever_pt_out[d, :, n],
            lever_inflow_out[d, :, n],
            lever_events_out[d, :, n],
            inflow_out[d, :, n],
        )


def allocate_outputs(
    n_draw: int,
    n_year: int,
    n_icb: int,
    n_state: int,
    n_acc: int,
    n_lev: int,
    store_states: bool = True,
) -> dict[str, np.ndarray]:
    """Output arrays for :func:`cohort_project` (plain numpy, zero-filled)."""
    shape_s = (n_draw, n_year + 1, n_icb, n_state) if store_states else (1, 1, 1, n_state)
    return {
        "states_out": np.zeros(shape_s),
        "acc_out": np.zeros((n_draw, n_year, n_icb, n_acc)),
        "lever_pt_out": np.zeros((n_draw, n_year, n_icb, n_lev)),
        "lever_inflow_out": np.zeros((n_draw, n_year, n_icb, n_lev)),
        "lever_events_out": np.zeros((n_draw, n_year, n_icb, n_lev)),
        "inflow_out": np.zeros((n_draw, n_year, n_icb)),
    }
