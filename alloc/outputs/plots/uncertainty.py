"""Uncertainty charts: a fan chart from ensemble quantiles and a tornado from a sensitivity table.

Interfaces
----------
Fan chart: an :class:`xarray.DataArray` with dims ``quantile`` (coordinate values in (0, 1), e.g.
0.05, 0.1, 0.5, 0.9, 0.95) and ``year``; an ``icb`` dim must be narrowed with ``icb=`` (quantiles
cannot be added up). ``attrs["units"]`` says how to label it: ``"GBP"`` (plotted in £m), ``"1"``
(a fraction, plotted in %), anything else is shown as given.

Tornado: a :class:`pandas.DataFrame` with one row per parameter and columns ``parameter``,
``low`` and ``high`` (the output with the parameter at its low / high value, everything else
central) and ``base`` (the output with every parameter central; the same in every row).
Optional ``low_value`` and ``high_value`` columns give the parameter values tried, for labels.
The table of :func:`alloc.uncertainty.sensitivity.sensitivity` is also accepted as it is: its ``low`` /
``high`` are the parameter values and ``output_low``, ``output_high``, ``output_central`` the
outputs (a fraction: final-year DfT), with the output's name in ``attrs["output"]``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from alloc.outputs.plots import style as s

_BAND_COLOURS = ["#C6DDF2", "#8DBBE6", "#4C94D6", "#1F6FBF"]  # light to dark NHS blues


def _formatter(units: str, decimals: int = 1):
    """(value formatter, axis setter, axis label) for ``units``; values shown to ``decimals``
    (of £m or of %)."""
    if units == "GBP":
        return (
            lambda v: s.fmt_gbp_m(v, decimals),
            lambda axis: s.gbp_m_axis(axis),
            "£ million (cash)",
        )
    if units == "1":
        return (
            lambda v: s.fmt_pct(v, decimals, sign=False),
            lambda axis: s.pct_axis(axis),
            "%",
        )
    return (lambda v: f"{v:,.3g}", lambda axis: None, units or "(units not recorded)")


def _decimals(t: pd.DataFrame, units: str) -> int:
    """Decimals (of £m or %) that tell the widest swing's low, central and high apart: 1, or
    more for small swings, at most 3."""
    scale = 1e6 if units == "GBP" else 0.01
    swing = float(t["swing"].max()) / scale if "swing" in t and len(t) else 0.0
    if swing <= 0:
        return 1
    return int(min(3, max(1, np.ceil(-np.log10(swing)) + 1)))


class FlatBand(ValueError):
    """The ensemble's quantiles do not spread: a fan chart would show a line, not a fan."""


#: A band no wider than this fraction of the median in every year is flat: on a chart it is a
#: line (0.2% is £0.5m on a £250m allocation).
FLAT = 2e-3


def band_is_flat(ensemble: xr.DataArray, icb: str | None = None, rel: float = FLAT) -> bool:
    """Whether the outermost quantiles of ``ensemble`` (of ``icb``) are no wider than ``rel``
    of the median in every year: the draws hardly differ and a fan chart would show a line."""
    da = ensemble.sel(icb=icb) if icb is not None and "icb" in ensemble.dims else ensemble
    qs = da["quantile"].values
    width = np.abs(da.sel(quantile=qs.max()) - da.sel(quantile=qs.min())).values
    scale = np.abs(da.sel(quantile=qs[np.argmin(np.abs(qs - 0.5))])).values
    return bool(np.all(width <= rel * np.maximum(scale, 1e-12)))


def fan_chart(
    ensemble: xr.DataArray,
    icb: str | None = None,
    central: xr.DataArray | None = None,
    name: str | None = None,
    provenance: Mapping | None = None,
    why: str | None = None,
) -> Figure:
    """Fan chart of an ensemble's quantiles over the years.

    Parameters
    ----------
    ensemble : xarray.DataArray
        Quantiles of one output, dims ``quantile`` and ``year`` (plus ``icb`` when ``icb`` is
        given); units in ``attrs["units"]`` (``"GBP"`` or ``"1"``).
    icb : str, optional
        ICB code to show when ``ensemble`` has an ``icb`` dim.
    central : xarray.DataArray, optional
        The central (draw 0) projection over ``year``, drawn dashed.
    name : str, optional
        What the output is, for the title, e.g. "QE1 allocation" (default
        ``attrs["long_name"]`` or the array's name).
    provenance : mapping, optional
        Attributes for the footnote; default ``ensemble.attrs``.
    why : str, optional
        Why this ICB is shown (e.g. "the widest 90% interval relative to its median"), said in
        the subtitle.

    Returns
    -------
    matplotlib.figure.Figure
        A4 landscape. One shaded band per symmetric pair of quantiles (``gid="band:<lo>-<hi>"``),
        the median line (``gid="median"``) and, when given, the central line (``gid="central"``).
        Data (``s.chart_data``): the quantiles by year.

    Raises
    ------
    FlatBand
        When the quantiles do not spread (:func:`band_is_flat`): there is no fan to draw.
    """
    da = ensemble
    if "icb" in da.dims:
        if icb is None:
            raise ValueError("ensemble has an 'icb' dimension: choose one ICB with icb=")
        da = da.sel(icb=icb)
    for dim in ("quantile", "year"):
        if dim not in da.dims:
            raise ValueError(f"ensemble: expected a '{dim}' dimension, found dims {da.dims}")
    extra = [d for d in da.dims if d not in ("quantile", "year")]
    if extra:
        raise ValueError(f"ensemble: unexpected dimension(s) {extra}; select one value of each")
    da = da.transpose("quantile", "year")
    qs = np.round(da["quantile"].values.astype(float), 6)
    if ((qs <= 0) | (qs >= 1)).any():
        raise ValueError(f"ensemble: quantiles must lie strictly between 0 and 1, found {qs}")
    pairs = [(q, 1 - q) for q in sorted(qs) if q < 0.5 and np.isclose(qs, 1 - q).any()]
    if not pairs:
        raise ValueError(
            "ensemble: expected at least one symmetric pair of quantiles (e.g. 0.05 and 0.95)"
        )
    if band_is_flat(da):
        raise FlatBand(
            f"ensemble: the quantiles hardly spread (the outermost band is within {100 * FLAT:g}% "
            "of the median in every year), so there is no fan to draw"
        )
    units = str(da.attrs.get("units", ensemble.attrs.get("units", "")))
    fmt, set_axis, ylabel = _formatter(units)
    years = da["year"].values
    labels = s.year_labels(years)
    what = (
        name
        or ensemble.attrs.get("long_name")
        or str(ensemble.name or "output").removesuffix("_q").replace("_", " ")
    )
    if icb and not name:
        what = f"{icb} {what}"

    def q(value):
        return da.isel(quantile=int(np.argmin(np.abs(qs - value)))).values

    lo, hi = pairs[0]
    width = int(round(100 * (hi - lo)))
    title = (
        f"{what}: {width}% of draws lie between {fmt(q(lo)[-1])} and {fmt(q(hi)[-1])} in "
        f"{labels[-1]} (median {fmt(q(0.5)[-1])})"
        if np.isclose(qs, 0.5).any()
        else f"{what}: {width}% of draws lie between {fmt(q(lo)[-1])} and {fmt(q(hi)[-1])} in "
        f"{labels[-1]}"
    )
    subtitle = (
        "Shaded bands: "
        + ", ".join(
            f"{int(round(100 * (b - a)))}% interval (p{100 * a:g}–p{100 * b:g})" for a, b in pairs
        )
        + f"; {ylabel}."
        + (f" Shown: {why}." if why else "")
    )
    attrs = provenance if provenance is not None else ensemble.attrs

    with s.house_style():
        fig = s.new_figure(s.A4_LANDSCAPE)
        s.set_titles(fig, title, subtitle)
        s.add_footnote(fig, attrs, "Quantiles across Monte Carlo draws.")
        ax = fig.add_axes(s.plot_area(fig, left=0.10, right=0.88))
        ax.grid(axis="y")
        ax.set_axisbelow(True)
        colours = _BAND_COLOURS[: len(pairs)]  # outermost band lightest
        for k, (a, b) in enumerate(pairs):
            ax.fill_between(
                years,
                q(a),
                q(b),
                color=colours[min(k, len(colours) - 1)],
                linewidth=0,
                gid=f"band:{a:g}-{b:g}",
                label=f"{int(round(100 * (b - a)))}% interval",
            )
        ends = [(fmt(q(b)[-1]), q(b)[-1]) for _, b in pairs[:1]] + [
            (fmt(q(a)[-1]), q(a)[-1]) for a, _ in pairs[:1]
        ]
        if np.isclose(qs, 0.5).any():
            ax.plot(
                years, q(0.5), color=s.NHS_DARK_BLUE, linewidth=2.4, gid="median", label="Median"
            )
            ends.append((fmt(q(0.5)[-1]), q(0.5)[-1]))
        if central is not None:
            c = central.sel(icb=icb) if icb is not None and "icb" in central.dims else central
            ax.plot(
                c["year"].values,
                c.values,
                color=s.NHS_BLACK,
                linewidth=1.8,
                linestyle="--",
                gid="central",
                label="Central projection (draw 0)",
            )
        for text, y in ends:
            ax.annotate(
                text,
                (years[-1], y),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=s.SMALL_SIZE,
                color=s.NHS_DARK_BLUE,
            )
        ax.set_xticks(years, labels)
        ax.set_xlim(years[0] - 0.1, years[-1] + 0.45)
        ax.set_xlabel("Financial year")
        ax.set_ylabel(ylabel)
        set_axis(ax.yaxis)
        ax.legend(loc="upper left")
    frame = da.to_pandas().T
    frame.columns = [f"q{100 * float(c):g}" for c in frame.columns]
    frame.insert(0, "year", labels)
    s.set_data(fig, frame.reset_index(drop=True))
    return fig


def tornado_chart(
    table: pd.DataFrame,
    output: str | None = None,
    units: str | None = None,
    provenance: Mapping | None = None,
    top: int = 12,
) -> Figure:
    """Tornado chart of one-at-a-time sensitivities, widest swing at the top.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``parameter``, ``low``, ``high``, ``base`` (outputs in ``units``), optionally
        ``low_value``, ``high_value`` (the parameter values tried).
    output : str, optional
        What the output is, for the title and axis, e.g. "QE1 allocation 2030/31" (default
        ``table.attrs["output"]`` or "output").
    units : {"GBP", "1"} or str, optional
        Units of the outputs: pounds (plotted in £m) or a fraction (plotted in %). Default
        ``table.attrs["units"]``, else "1" for a :func:`alloc.uncertainty.sensitivity.sensitivity` table and
        "GBP" otherwise.
    provenance : mapping, optional
        Attributes for the footnote (a result's ``attrs``).
    top : int, default 12
        Show at most this many parameters.

    Returns
    -------
    matplotlib.figure.Figure
        A4 landscape. Per parameter one bar from ``base`` to ``low`` (``gid="low:<parameter>"``)
        and one to ``high`` (``gid="high:<parameter>"``), the base line (``gid="base"``); one
        y tick label per parameter.
    """
    ensemble_form = {"output_low", "output_high", "output_central"} <= set(table.columns)
    attrs_in = dict(getattr(table, "attrs", {}) or {})
    if ensemble_form:
        table = table.drop(
            columns=[c for c in ("low_value", "high_value", "base") if c in table.columns]
        )
        table = table.rename(
            columns={
                "low": "low_value",
                "high": "high_value",
                "output_low": "low",
                "output_high": "high",
                "output_central": "base",
            }
        )
    output = output or attrs_in.get("output", "output")
    units = units or attrs_in.get("units") or ("1" if ensemble_form else "GBP")
    missing = {"parameter", "low", "high", "base"} - set(table.columns)
    if missing:
        raise ValueError(
            f"sensitivity table: missing column(s) {sorted(missing)}; expected "
            "parameter, low, high, base"
        )
    if table.empty:
        raise ValueError("sensitivity table: no rows")
    base = float(table["base"].iloc[0])
    if not np.allclose(table["base"], base, rtol=1e-9, atol=0):
        raise ValueError(
            "sensitivity table: 'base' must be the same in every row (the output "
            "with every parameter central)"
        )
    t = table.assign(swing=(table["high"] - table["low"]).abs())
    t = t.sort_values("swing", ascending=False, kind="stable")
    moving = t[t["swing"] > 1e-9 * max(abs(base), 1.0)]
    n_still = len(t) - len(moving)
    t = (moving if len(moving) else t).head(top)
    fmt, set_axis, unit_label = _formatter(units, _decimals(t, units))
    lead = t.iloc[0]
    if len(moving):
        title = (
            f"{parameter_label(lead['parameter'])} moves {output} most: from "
            f"{fmt(min(lead['low'], lead['high']))} to {fmt(max(lead['low'], lead['high']))} "
            f"(central {fmt(base)})"
        )
    else:
        title = f"No parameter moves {output} (central {fmt(base)})"
    subtitle = (
        f"{output[:1].upper()}{output[1:]} with one parameter at a time at its low or "
        f"high value, all others central; {unit_label}. Widest swing at the top; the "
        "value tried in brackets."
        + (
            f" {n_still} parameter{'s' if n_still != 1 else ''} with no effect not shown."
            if n_still and len(moving)
            else ""
        )
    )
    attrs = provenance if provenance is not None else attrs_in

    with s.house_style():
        fig = s.new_figure(s.A4_LANDSCAPE)
        s.set_titles(fig, title, subtitle)
        s.add_footnote(fig, attrs, "Parameter ranges are assumptions (mostly illustrative).")
        names = [s.wrap_to_width(parameter_label(p), 3.6, s.SMALL_SIZE) for p in t["parameter"]]
        widest = max(s.text_width(line, s.SMALL_SIZE) for n in names for line in n.split("\n"))
        ax = fig.add_axes(
            s.plot_area(fig, left=(1.08 * widest + 0.5) / fig.get_figwidth(), right=0.95)
        )
        ys = np.arange(len(t))[::-1]
        for y, row in zip(ys, t.itertuples()):
            # Low in the upper half of the row, high in the lower half: both stay visible
            # when they fall on the same side of the central value.
            for end, colour, dy in (
                ("low", s.NHS_LIGHT_BLUE, 0.17),
                ("high", s.NHS_DARK_BLUE, -0.17),
            ):
                value = getattr(row, end)
                ax.barh(
                    y + dy,
                    value - base,
                    left=base,
                    height=0.34,
                    color=colour,
                    gid=f"{end}:{row.parameter}",
                    label=f"Parameter at its {end} value" if y == ys[0] else None,
                )
                tried = getattr(row, f"{end}_value", None)
                text = fmt(value) + (
                    f" ({parameter_value(row.parameter, tried)})"
                    if isinstance(tried, (int, float)) and not pd.isna(tried)
                    else ""
                )
                right = value >= base
                ax.annotate(
                    text,
                    (value, y + dy),
                    xytext=(4 if right else -4, 0),
                    textcoords="offset points",
                    ha="left" if right else "right",
                    va="center",
                    fontsize=8,
                    color=s.NHS_BLACK,
                )
        ax.axvline(base, color=s.NHS_BLACK, linewidth=1.2, gid="base")
        ax.set_yticks(ys, names)
        ax.tick_params(axis="y", length=0)
        lo = min(t["low"].min(), t["high"].min(), base)
        hi = max(t["low"].max(), t["high"].max(), base)
        pad = 0.3 * max(hi - lo, abs(base) * 1e-6, 1e-12)  # room for the value labels
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_xlabel(f"{output}, {unit_label}")
        set_axis(ax.xaxis)
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, borderaxespad=0.3)
    data = t.drop(columns=[c for c in ("swing",) if c in t.columns]).copy()
    data.insert(1, "label", [parameter_label(p) for p in t["parameter"]])
    data["output"] = output
    data["units"] = units
    s.set_data(fig, data.reset_index(drop=True))
    return fig


# --------------------------------------------------------------------------------------------
# Readable parameter names and values for the tornado
# --------------------------------------------------------------------------------------------

_SCENARIO_LABELS = {
    "envelope_growth": ("Envelope growth (cash, a year)", "pct"),
    "population_growth": ("Population growth (a year)", "pct"),
    "gdp_deflator_growth": ("GDP deflator (a year)", "pct"),
    "policy.min_growth": ("Policy floor: minimum cash growth", "pct"),
    "policy.max_growth": ("Policy cap: maximum cash growth", "pct"),
    "policy.max_below_target": ("Policy: largest shortfall below target", "pct"),
    "policy.convergence_rate": ("Policy: convergence rate", "pct"),
}
_LEVER_FIELDS = {
    "uptake": ("uptake", "pct"),
    "eligible": ("share eligible", "pct"),
    "unit_cost": ("unit cost", "gbp"),
}


def _words(key: str) -> str:
    return str(key).replace("_", " ").strip()


def _describe(name: str) -> tuple[str, str]:
    """(label, kind of value) of a sensitivity parameter; kinds: pct, gbp, gbp_year, days,
    per100k, per100k_year, ratio, number."""
    name = str(name)
    if name in _SCENARIO_LABELS:
        return _SCENARIO_LABELS[name]
    if ": " not in name:
        if name.startswith("policy."):
            return f"Policy: {_words(name.removeprefix('policy.'))}", "number"
        return _words(name).replace(".", ": "), "number"
    pathway, path = name.split(": ", 1)
    who = _words(pathway).capitalize()
    parts = path.split(".")
    if parts[0] == "levers" and len(parts) >= 3:
        lever = _words(parts[1])
        field = parts[2]
        if field == "effects":
            n = int(parts[3]) + 1 if len(parts) > 3 and parts[3].isdigit() else 1
            return f"{who}: lever '{lever}', effect {n} (ratio)", "ratio"
        label, kind = _LEVER_FIELDS.get(field, (_words(field), "number"))
        return f"{who}: lever '{lever}', {label}", kind
    if parts[0] == "cohorts" and len(parts) >= 4:
        section, rest = parts[2], parts[3:]
        if section == "transitions" and len(rest) >= 3 and rest[1] == "to":
            return f"{who}: {_words(rest[0])} → {_words(rest[2])} (a year)", "pct"
        if section == "transitions" and len(rest) >= 2 and rest[1] == "los":
            return f"{who}: length of stay, {_words(rest[0])}", "days"
        if section == "states" and len(rest) >= 2:
            state = _words(rest[0])
            if rest[1] == "prevalence":
                return f"{who}: prevalence, {state}", "per100k"
            if rest[1] == "costs":
                n = int(rest[2]) + 1 if len(rest) > 2 and rest[2].isdigit() else 1
                return f"{who}: cost {n} of {state} (a person-year)", "gbp"
        if section == "inflows" and len(rest) >= 2:
            return f"{who}: {_words(rest[0])} {_words(rest[-1])}", "per100k_year"
        if section == "strata":
            return f"{who}: share in stratum '{_words(rest[-1])}'", "pct"
        if section == "parameters":
            field = rest[-1]
            return f"{who}: {_words(field)}", "pct" if "share" in field else "number"
    return f"{who}: {_words(path).replace('.', ', ')}", "number"


def parameter_label(name: str) -> str:
    """A sensitivity parameter as a reader would name it: ``"renal:
    cohorts.renal.transitions.CKD_G4_diagnosed.to.CKD_G5"`` -> ``"Renal: CKD G4 diagnosed →
    CKD G5 (a year)"``; ``"policy.min_growth"`` -> ``"Policy floor: minimum cash growth"``."""
    return _describe(name)[0]


def _plain(value: float) -> str:
    """A number without scientific notation, at most 4 significant figures."""
    text = np.format_float_positional(float(value), precision=4, unique=False, fractional=False)
    text = text.rstrip("0").rstrip(".") if "." in text else text
    if abs(float(value)) >= 1000:
        return f"{float(text):,.0f}"
    return text


def parameter_value(name: str, value: float) -> str:
    """A parameter value tried, with its unit: ``0.35`` uptake -> ``"35%"``, ``20000`` unit
    cost -> ``"£20,000"``, a prevalence ``1.3e-05`` -> ``"1.3 per 100,000"``."""
    kind = _describe(name)[1]
    v = float(value)
    if kind == "pct":
        return f"{_plain(100 * v)}%"
    if kind == "gbp":
        return f"£{_plain(v)}"
    if kind == "days":
        return f"{_plain(v)} days"
    if kind == "per100k":
        return f"{_plain(1e5 * v)} per 100,000"
    if kind == "per100k_year":
        return f"{_plain(1e5 * v)} per 100,000 a year"
    if kind == "ratio":
        return f"×{_plain(v)}"
    return _plain(v)
