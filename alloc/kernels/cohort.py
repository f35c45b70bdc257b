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

Speed. Within a draw and year the rates of every sub-cohort, ``exp(-z)``, ``expm1(-z)``, ``g``
and the destination shares do not depend on the ICB or the sub-step, so :func:`cohort_project`
computes them once per draw and year (:func:`_year_tables`) and the sub-cohort weights once per
ICB and year (:func:`_weights`), then steps all ICBs of the draw together with the ICB as the
innermost, branch-free loop (vectorised by the compiler); it runs in parallel over draws. Each
ICB still sees the same floating-point operations in the same order as in
:func:`cohort_project_stepwise` (the original one-(draw, ICB)-at-a-time form, kept as the
specification), so the results are bit-identical (``tests/test_cohort_kernel.py``).
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
def cohort_project_stepwise(
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
    """The step-by-step form of :func:`cohort_project`: same arguments, same results.

    Steps every (draw, ICB) pair separately and recomputes every rate product, ``exp`` and
    ``expm1`` in every step. Kept as the readable specification of the kernel:
    ``tests/test_cohort_kernel.py`` checks that :func:`cohort_project` gives bit-identical
    outputs, and ``benchmarks/bench_pathways.py`` times both.
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


@njit(cache=True)
def _levers_by_state(rr, n_state):
    """Levers changing an exit rate of each state, in lever order: (S, L) indices, (S,) counts."""
    n_lev = rr.shape[0]
    act = np.zeros((n_state, max(n_lev, 1)), dtype=np.int64)
    n_act = np.zeros(n_state, dtype=np.int64)
    for s in range(n_state):
        for l in range(n_lev):
            hit = False
            for t in range(n_state):
                if t != s and rr[l, s, t] != 1.0:
                    hit = True
            if hit:
                act[s, n_act[s]] = l
                n_act[s] += 1
    return act, n_act


@njit(cache=True)
def _year_tables(rates, rr, lev_all, n_all, on, dt, act, n_act, tab, frac, dest, n_dest, lbits):
    """Per-(state, sub-cohort) quantities of one draw and year, shared by ICBs and sub-steps.

    Only levers with ``on[l]`` (coverage > 0 in some ICB this year) split a state into
    sub-cohorts; sub-cohort ``mask`` is a subset of ``act[s, :n_act[s]]``. Every value is the
    very expression the step-by-step kernel evaluates in every step, so results keep their
    bits. ``tab[s, mask]`` holds ``R``, ``exp(-z)``, ``1 - omg``, ``-expm1(-z)`` and
    ``omg = 1 - g``; ``dest[s, mask, :n_dest[s, mask]]`` are the destinations with a positive
    rate, in order (the last takes the remainder); ``frac[s, mask, t] = r[s, t] / R``;
    ``lbits[s, mask, t]`` has bit ``k`` set when lever ``act[s, k]`` treats the sub-cohort and
    changes ``r[s, t]``.
    """
    n_state = rates.shape[0]
    for s in range(n_state):
        k_s = 0
        for i in range(n_all[s]):
            if on[lev_all[s, i]]:
                act[s, k_s] = lev_all[s, i]
                k_s += 1
        n_act[s] = k_s
        for mask in range(1 << k_s):
            big_r = 0.0
            nd = 0
            for t in range(n_state):
                r = 0.0
                if t != s:
                    r = rates[s, t]
                    for k in range(k_s):
                        if (mask >> k) & 1:
                            r *= rr[act[s, k], s, t]
                frac[s, mask, t] = r
                if r > 0.0:
                    big_r += r
                    dest[s, mask, nd] = t
                    nd += 1
            n_dest[s, mask] = nd
            tab[s, mask, 0] = big_r
            if big_r > 0.0:
                z = big_r * dt
                omg = _one_minus_g(z)
                tab[s, mask, 1] = math.exp(-z)
                tab[s, mask, 2] = 1.0 - omg
                tab[s, mask, 3] = -math.expm1(-z)
                tab[s, mask, 4] = omg
            for i in range(nd):
                t = dest[s, mask, i]
                frac[s, mask, t] = frac[s, mask, t] / big_r
                bits = 0
                for k in range(k_s):
                    if (mask >> k) & 1 and rr[act[s, k], s, t] != 1.0:
                        bits |= 1 << k
                lbits[s, mask, t] = bits


@njit(cache=True)
def _weights(cov_y, act, n_act, w_tab, w_any):
    """Weight ``w_tab[s, mask, n]`` of each sub-cohort in each ICB for one year.

    The step-by-step kernel's product, factor by factor in the same order. A lever in ``act``
    without coverage in an ICB (``not f > 0``) is one the step-by-step kernel leaves out there:
    sub-cohorts it treats get weight 0, the others skip its factor. ``w_any[s, mask]`` is False
    when the weight is 0 in every ICB (the sub-cohort is skipped).
    """
    n_icb = w_tab.shape[2]
    for s in range(act.shape[0]):
        for mask in range(1 << n_act[s]):
            w_any[s, mask] = False
            for n in range(n_icb):
                cov_row = cov_y[n if cov_y.shape[0] > 1 else 0]
                w = 1.0
                for k in range(n_act[s]):
                    f = cov_row[act[s, k]]
                    if not f > 0.0:
                        if (mask >> k) & 1:
                            w = 0.0
                            break
                    elif (mask >> k) & 1:
                        w *= f
                    else:
                        w *= 1.0 - f
                w_tab[s, mask, n] = w
                if w != 0.0:
                    w_any[s, mask] = True


@njit(cache=True)
def _run_draw(
    x0_d,
    rates,
    inflow_state,
    inflow_rate,
    pop,
    rr,
    irr,
    cov_d,
    acc_pt,
    acc_entry,
    substeps,
    store_states,
    states_d,
    acc_d,
    lpt_d,
    lin_d,
    lev_d,
    inflow_d,
):
    """Every ICB of one draw, year by year: the step-by-step kernel's arithmetic, ICB innermost.

    Each ICB sees exactly the operations of :func:`_run_one` in the same order (so the same
    bits), but the tables are shared and the innermost loops run over ICBs without branches,
    which the compiler vectorises. Two differences add exact zeros only: a state with no people
    and a sub-cohort with weight 0 in one ICB are computed (contributing +-0) instead of
    skipped, and flows of ``leave = 0`` are added; an accumulator starts at +0 and so never
    holds -0, and adding +-0 to it changes no bit (finite inputs).
    """
    n_year, n_icb = pop.shape
    n_state = rates.shape[0]
    n_lev = rr.shape[0]
    n_acc = acc_pt.shape[0]
    n_in = inflow_state.size
    dt = 1.0 / substeps
    lev_all, n_all = _levers_by_state(rr, n_state)
    n_mask = 1 << (n_all.max() if n_state > 0 else 0)
    act = np.zeros_like(lev_all)
    n_act = np.zeros(n_state, dtype=np.int64)
    tab = np.zeros((n_state, n_mask, 5))
    frac = np.zeros((n_state, n_mask, n_state))
    dest = np.zeros((n_state, n_mask, n_state), dtype=np.int64)
    n_dest = np.zeros((n_state, n_mask), dtype=np.int64)
    lbits = np.zeros((n_state, n_mask, n_state), dtype=np.int64)
    w_tab = np.zeros((n_state, n_mask, n_icb))
    w_any = np.zeros((n_state, n_mask), dtype=np.bool_)
    on = np.zeros(max(n_lev, 1), dtype=np.bool_)
    x = np.empty((n_state, n_icb))
    arr = np.empty((n_state, n_icb))
    nxt = np.empty((n_state, n_icb))
    stay = np.empty((n_state, n_icb))
    pt = np.empty((n_state, n_icb))
    ent = np.empty((n_state, n_icb))
    lpt = np.empty((max(n_lev, 1), n_icb))
    lin = np.empty((max(n_lev, 1), n_icb))
    lev = np.empty((max(n_lev, 1), n_icb))
    inflow = np.empty(n_icb)
    base = np.empty(n_icb)
    mult = np.empty(n_icb)
    leave = np.empty(n_icb)
    rest = np.empty(n_icb)
    tin = np.empty(n_icb)
    flow = np.empty(n_icb)
    tot = np.empty(n_icb)
    for n in range(n_icb):
        for s in range(n_state):
            x[s, n] = x0_d[n, s]
            if store_states:
                states_d[0, n, s] = x[s, n]
    for y in range(n_year):
        cov_y = cov_d[y]  # (N|1, L)
        shared = cov_y.shape[0] == 1
        for l in range(n_lev):
            on[l] = False
            for n in range(cov_y.shape[0]):
                if cov_y[n, l] > 0.0:
                    on[l] = True
        _year_tables(rates, rr, lev_all, n_all, on, dt, act, n_act, tab, frac, dest, n_dest, lbits)
        _weights(cov_y, act, n_act, w_tab, w_any)
        pt[:] = 0.0
        ent[:] = 0.0
        lpt[:] = 0.0
        lin[:] = 0.0
        lev[:] = 0.0
        inflow[:] = 0.0
        for _ in range(substeps):
            arr[:] = 0.0
            nxt[:] = 0.0
            # External inflow, uniform over the step, with admission-rate multipliers.
            for j in range(n_in):
                for n in range(n_icb):
                    base[n] = inflow_rate[j] * pop[y, n] * dt
                    mult[n] = 1.0
                for l in range(n_lev):
                    if irr[l, j] != 1.0:
                        one_minus = 1.0 - irr[l, j]
                        for n in range(n_icb):
                            f = cov_y[0 if shared else n, l]
                            if f > 0.0:
                                mult[n] *= 1.0 - f * one_minus
                                lin[l, n] += f * base[n]
                js = inflow_state[j]
                for n in range(n_icb):
                    amount = base[n] * mult[n]
                    arr[js, n] += amount
                    ent[js, n] += amount
                    inflow[n] += amount
            # Sweep the states in order.
            for s in range(n_state):
                stay[s, :] = 0.0
                k_s = n_act[s]
                for mask in range(1 << k_s):
                    if not w_any[s, mask]:
                        continue
                    big_r = tab[s, mask, 0]
                    if big_r > 0.0:
                        e = tab[s, mask, 1]
                        c1 = tab[s, mask, 2]
                        em1 = tab[s, mask, 3]
                        omg = tab[s, mask, 4]
                        for n in range(n_icb):
                            w = w_tab[s, mask, n]
                            xs = x[s, n]
                            a_s = arr[s, n]
                            people = w * (xs + a_s)
                            kept = w * (xs * e + a_s * c1)
                            time_in = w * (xs * em1 + a_s * omg) / big_r
                            gone = people - kept
                            if gone < 0.0:
                                gone = 0.0
                                kept = people
                            stay[s, n] += kept
                            pt[s, n] += time_in
                            tin[n] = time_in
                            leave[n] = gone
                            rest[n] = gone
                    else:
                        for n in range(n_icb):
                            w = w_tab[s, mask, n]
                            xs = x[s, n]
                            a_s = arr[s, n]
                            time_in = w * (xs + 0.5 * a_s) * dt
                            stay[s, n] += w * (xs + a_s)
                            pt[s, n] += time_in
                            tin[n] = time_in
                    for k in range(k_s):
                        if (mask >> k) & 1:
                            l = act[s, k]
                            for n in range(n_icb):
                                lpt[l, n] += tin[n]
                    nd = n_dest[s, mask] if big_r > 0.0 else 0
                    for i in range(nd):
                        t = dest[s, mask, i]
                        target = arr if t > s else nxt
                        if i < nd - 1:
                            fr = frac[s, mask, t]
                            for n in range(n_icb):
                                fl = leave[n] * fr
                                rest[n] -= fl
                                flow[n] = fl
                                target[t, n] += fl
                                ent[t, n] += fl
                        else:
                            for n in range(n_icb):
                                fl = rest[n]
                                flow[n] = fl
                                target[t, n] += fl
                                ent[t, n] += fl
                        bits = lbits[s, mask, t]
                        if bits:
                            for k in range(k_s):
                                if (bits >> k) & 1:
                                    l = act[s, k]
                                    for n in range(n_icb):
                                        lev[l, n] += flow[n]
            for s in range(n_state):
                for n in range(n_icb):
                    x[s, n] = stay[s, n] + nxt[s, n]
        for n in range(n_icb):
            inflow_d[y, n] = inflow[n]
            for l in range(n_lev):
                lpt_d[y, n, l] = lpt[l, n]
                lin_d[y, n, l] = lin[l, n]
                lev_d[y, n, l] = lev[l, n]
            if store_states:
                for s in range(n_state):
                    states_d[y + 1, n, s] = x[s, n]
        for k in range(n_acc):
            tot[:] = 0.0
            for s in range(n_state):
                cp = acc_pt[k, s]
                ce = acc_entry[k, s]
                for n in range(n_icb):
                    tot[n] += cp * pt[s, n] + ce * ent[s, n]
            for n in range(n_icb):
                acc_d[y, n, k] = tot[n]


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

    Parallel over draws. Within a draw the year's rate products, ``exp`` and ``expm1`` of every
    (state, sub-cohort) are computed once and shared by every ICB and sub-step (they depend on
    the ICB only through which levers have coverage, handled by zero weights), and the
    sub-cohort weights once per ICB and year. The outputs are bit-identical to
    :func:`cohort_project_stepwise`, which recomputes them in every step.

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
    for i in prange(n_draw):
        d = np.int64(i)  # the prange index may be unsigned; min() with a signed int needs int64
        # Leading axes are D or 1: min() picks draw d or the shared row.
        dd = min(d, x0.shape[0] - 1)
        dr = min(d, rates.shape[0] - 1)
        di = min(d, inflow_rate.shape[0] - 1)
        dl = min(d, lev_rr.shape[0] - 1)
        dj = min(d, lev_irr.shape[0] - 1)
        dc = min(d, lev_cov.shape[0] - 1)
        da = min(d, acc_pt.shape[0] - 1)
        de = min(d, acc_entry.shape[0] - 1)
        _run_draw(
            x0[dd],
            rates[dr],
            inflow_state,
            inflow_rate[di],
            pop,
            lev_rr[dl],
            lev_irr[dj],
            lev_cov[dc],
            acc_pt[da],
            acc_entry[de],
            substeps,
            store_states,
            states_out[d] if store_states else states_out[0],
            acc_out[d],
            lever_pt_out[d],
            lever_inflow_out[d],
            lever_events_out[d],
            inflow_out[d],
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
