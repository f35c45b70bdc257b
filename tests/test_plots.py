"""Charts: each renders from the default result with the right ICBs, series and labels.

Figures are inspected through their artists (lines, collections, texts), not pixels. Expected
counts come from the data files and the result, never from the plotting code.
"""

from decimal import Decimal
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import reference_areas
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import alloc
from alloc.outputs import plots
from alloc.outputs.plots import style

REPO = Path(__file__).resolve().parents[1]
# The default scenario runs on the 36 ICBs of April 2026.
ICBS = reference_areas("icb_2026")


@pytest.fixture(scope="module")
def result():
    return alloc.run("default")


def texts(fig: Figure) -> str:
    """Every piece of text in a figure (figure texts, axes texts, annotations, tick labels)."""
    out = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    return "\n".join(out)


def by_gid(fig: Figure, prefix: str) -> list:
    return [
        a for a in fig.findobj() if isinstance(a.get_gid(), str) and a.get_gid().startswith(prefix)
    ]


def one(fig: Figure, gid: str):
    """The single artist whose gid is exactly ``gid``."""
    found = [a for a in fig.findobj() if a.get_gid() == gid]
    assert len(found) == 1, (gid, len(found))
    return found[0]


def check_house_style(fig: Figure, result_attrs=None):
    assert isinstance(fig, Figure)
    assert fig.get_figwidth() == pytest.approx(11.69) or fig.get_figwidth() == pytest.approx(8.27)
    title = by_gid(fig, "title")
    assert len(title) == 1 and title[0].get_fontsize() >= 14
    foot = by_gid(fig, "footnote")
    assert len(foot) == 1
    if result_attrs is not None:
        text = foot[0].get_text().replace("\n", " ")
        assert result_attrs["scenario_name"] in text and result_attrs["scenario_hash"] in text
        assert "ILLUSTRATIVE" in text  # the embedded baseline is generated
    # Every text is large enough to read on A4.
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip()]
    assert min(sizes) >= 7


def test_no_pyplot_state_and_agg_rendering(result):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = plots.glide_paths(result)
    assert plt.get_fignums() == before  # not registered with pyplot, so never shown
    assert type(fig.canvas).__name__ == "FigureCanvasAgg"


def test_glide_paths_one_line_per_icb_and_highlights(result):
    fig = plots.glide_paths(result, highlight=["QE1", "QOC"])
    check_house_style(fig, result.attrs)
    lines = by_gid(fig, "icb:")
    assert sorted(l.get_gid()[4:] for l in lines) == sorted(ICBS["code"])
    years = result["year"].values
    for line in lines:
        code = line.get_gid()[4:]
        np.testing.assert_array_equal(line.get_xdata(), years)
        np.testing.assert_allclose(line.get_ydata(), result["dft"].sel(icb=code).values)
    widths = {l.get_gid()[4:]: l.get_linewidth() for l in lines}
    thin = max(w for c, w in widths.items() if c not in ("QE1", "QOC"))
    assert widths["QE1"] > thin and widths["QOC"] > thin
    labels = {t.get_gid()[6:]: t.get_text() for t in by_gid(fig, "label:")}
    assert set(labels) == {"QE1", "QOC"}
    assert "Lancashire and South Cumbria" in labels["QE1"].replace("\n", " ")
    ax = lines[0].axes
    assert "%" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        f"{y}/{(y + 1) % 100:02d}" for y in years
    ]
    # The title states the finding: the spread of DfT (percentage points) at start and end.
    dft = result["dft"]
    spread0 = float(dft.isel(year=0).max() - dft.isel(year=0).min())
    spread1 = float(dft.isel(year=-1).max() - dft.isel(year=-1).min())
    title = by_gid(fig, "title")[0].get_text().replace("\n", " ")
    assert f"{100 * spread0:.1f}" in title and f"{100 * spread1:.1f}" in title
    assert "narrows" in title


def test_glide_paths_default_highlights_extremes(result):
    fig = plots.glide_paths(result)
    start = result["dft"].isel(year=0)
    expected = {
        str(result["icb"].values[int(np.argmin(start.values))]),
        str(result["icb"].values[int(np.argmax(start.values))]),
    }
    assert {t.get_gid()[6:] for t in by_gid(fig, "label:")} == expected
    with pytest.raises(ValueError, match="unknown ICB"):
        plots.glide_paths(result, highlight="XXX")


def test_dot_plot_all_icbs_sorted_within_regions(result):
    fig = plots.dft_dot_plot(result, highlight="QE1")
    check_house_style(fig, result.attrs)
    assert fig.get_figwidth() > fig.get_figheight()  # landscape, as every page of the pack
    starts, ends = by_gid(fig, "start"), by_gid(fig, "end")
    assert len(starts) == len(ends) == 2  # two panels, regions not split between them
    assert sum(len(s.get_offsets()) for s in starts) == len(ICBS)
    first = result["dft"].isel(year=0).to_series()
    last = result["dft"].isel(year=-1).to_series()
    codes, ticks = [], []
    for start, end in zip(starts, ends):
        ax = start.axes
        panel_ticks = [t.get_text() for t in ax.get_yticklabels()]
        panel = [t.rsplit("(", 1)[1].rstrip(")") for t in panel_ticks]
        np.testing.assert_allclose(start.get_offsets()[:, 0], first[panel].values)
        np.testing.assert_allclose(end.get_offsets()[:, 0], last[panel].values)
        assert "%" in ax.get_xlabel()
        codes += panel
        ticks += [(t, ax) for t in ax.get_yticklabels()]
    assert sorted(codes) == sorted(ICBS["code"])
    # One header per region; ICB rows grouped under their region and sorted by start DfT.
    headers = by_gid(fig, "region:")
    assert sorted(h.get_gid()[7:] for h in headers) == sorted(ICBS["region"].unique())
    region_of = dict(zip(ICBS["code"], ICBS["region"]))
    groups = [region_of[c] for c in codes]
    assert [g for k, g in enumerate(groups) if k == 0 or g != groups[k - 1]] == list(
        dict.fromkeys(groups)
    )  # contiguous
    for region in set(groups):
        members = [c for c in codes if region_of[c] == region]
        assert list(first[members].values) == sorted(first[members].values)
    bold = [t.get_text() for t, _ in ticks if t.get_fontweight() == "bold"]
    assert len(bold) == 1 and bold[0].endswith("(QE1)")
    below0 = int((first < -0.05).sum())
    assert by_gid(fig, "title")[0].get_text().startswith(str(below0))
    data = style.chart_data(fig)
    assert sorted(data["code"]) == sorted(ICBS["code"])


def test_waterfall_steps_add_up(result):
    fig = plots.allocation_waterfall(result, "QOC")
    check_house_style(fig, result.attrs)
    bars = {b.get_gid()[4:]: b for b in by_gid(fig, "bar:") if isinstance(b, Rectangle)}
    assert list(bars) == ["baseline", "growth", "convergence", "left_shift", "final"]
    a0 = float(result["baseline"].sel(icb="QOC"))
    a_end = float(result["allocation"].sel(icb="QOC").isel(year=-1))
    env = result["envelope"].values
    assert bars["baseline"].get_height() == pytest.approx(a0)
    assert bars["growth"].get_height() == pytest.approx(a0 * (env[-1] / env[0] - 1))
    assert bars["left_shift"].get_height() == 0
    assert bars["final"].get_height() == pytest.approx(a_end)
    steps = sum(bars[k].get_height() for k in ("baseline", "growth", "convergence", "left_shift"))
    assert steps == pytest.approx(a_end, rel=1e-12)
    # Each step starts where the previous ended.
    assert bars["convergence"].get_y() == pytest.approx(a0 + bars["growth"].get_height())
    values = {t.get_gid()[6:]: t.get_text() for t in by_gid(fig, "value:")}
    assert values["final"] == f"£{a_end / 1e6:,.1f}m"
    assert "not modelled" in texts(fig)
    assert labels_add_up(values)
    assert "£" in bars["baseline"].axes.get_ylabel() or "£" in texts(fig)


def money(text: str) -> Decimal:
    """A £m label as a number: "−£2.1m" -> -2.1, "+£40.5m" -> 40.5."""
    text = text.replace("−", "-").replace("£", "").replace("m", "").replace(",", "")
    return Decimal(text)


def labels_add_up(values: dict[str, str]) -> bool:
    steps = ("baseline", "growth", "convergence", "left_shift")
    return sum(money(values[k]) for k in steps) == money(values["final"])


def test_waterfall_labels_add_up_for_every_icb_and_year(result):
    """The printed steps sum to the printed total (each £0.1m), for every ICB and year, and the
    start and end are the figures the tables print (the pack's one rounding)."""
    from alloc.outputs.plots._data import rounded_tenths
    from alloc.outputs.plots.waterfall import rounded_steps

    base = rounded_tenths(result, "baseline")
    alloc_t = rounded_tenths(result, "allocation")
    for year in result["year"].values[1:]:
        for code in result["icb"].values:
            steps = rounded_steps(result, code, year)
            assert (
                steps[["baseline", "growth", "convergence", "left_shift"]].sum() == (steps["final"])
            ), (code, year)
            assert steps["baseline"] == int(base.sel(icb=code))
            assert steps["final"] == int(alloc_t.sel(icb=code, year=year))
            exact = plots.waterfall_steps(result, code, year) / 1e5
            assert (np.abs(steps - exact) <= 1.5).all(), (code, year)  # within £0.15m
    # QK1's baseline, £228.75m exactly to the penny, is £228.7m once England adds up (largest
    # remainder), though alone it would round to £228.8m: the chart prints the table's figure.
    fig = plots.allocation_waterfall(result, "QK1", year=2026)
    values = {t.get_gid()[6:]: t.get_text() for t in by_gid(fig, "value:")}
    assert values["baseline"] == f"£{int(base.sel(icb='QK1')) / 10:,.1f}m"
    assert labels_add_up(values)
    data = style.chart_data(fig)
    assert list(data["step"]) == ["baseline", "growth", "convergence", "left_shift", "final"]
    assert data["shown_gbp_m"].iloc[:4].sum() == pytest.approx(data["shown_gbp_m"].iloc[4])


def with_left_shift(result):
    """The default result plus synthetic pathway variables (icb, payer, year) [GBP]."""
    payers = ["ICB_delegated_specialised", "ICB_core"]
    shape = (result.sizes["icb"], len(payers), result.sizes["year"])
    ramp = np.linspace(0, 1, result.sizes["year"])
    saving = np.zeros(shape)
    cost = np.zeros(shape)
    saving[:, 0, :] = 1e6 * ramp  # £1m a year per ICB by the final year, delegated budget
    cost[:, 1, :] = 4e5  # £0.4m a year per ICB, core budget
    coords = {"icb": result["icb"].values, "payer": payers, "year": result["year"].values}
    result = result.drop_vars(
        [v for v in ("left_shift_saving", "upstream_cost", "payer") if v in result.variables]
    )
    return result.assign(
        left_shift_saving=xr.DataArray(saving, dims=("icb", "payer", "year"), coords=coords),
        upstream_cost=xr.DataArray(cost, dims=("icb", "payer", "year"), coords=coords),
    )


def test_waterfall_with_left_shift(result):
    res = with_left_shift(result)
    fig = plots.allocation_waterfall(res, "QE1")
    bars = {b.get_gid()[4:]: b for b in by_gid(fig, "bar:")}
    a_end = float(res["allocation"].sel(icb="QE1").isel(year=-1))
    assert bars["left_shift"].get_height() == pytest.approx(1e6)
    assert bars["final"].get_height() == pytest.approx(a_end + 1e6)
    assert "not modelled" not in texts(fig)
    assert labels_add_up({t.get_gid()[6:]: t.get_text() for t in by_gid(fig, "value:")})


def test_map_bubbles_at_centroids(result):
    fig = plots.icb_map(result, highlight="QE1")
    check_house_style(fig, result.attrs)
    (sc,) = by_gid(fig, "icbs")
    assert isinstance(sc, PathCollection)
    pos = pd.DataFrame(sc.get_offsets(), columns=["lon", "lat"])
    ref = ICBS.set_index("code")
    # Same set of centroids as the practice-weighted reference (order is by size, largest first).
    got = sorted(map(tuple, np.round(pos.values, 4)))
    assert got == sorted(map(tuple, np.round(ref[["lon", "lat"]].values, 4)))
    alloc0 = result["allocation"].isel(year=0)
    order = np.argsort(-alloc0.values)
    ratio = sc.get_sizes() / alloc0.values[order]
    np.testing.assert_allclose(ratio, ratio[0])  # area proportional to allocation
    np.testing.assert_allclose(sc.get_array(), result["dft"].isel(year=0).values[order])
    cmap = sc.get_cmap()
    norm = sc.norm
    assert norm(0.0) == pytest.approx(0.5)  # diverging, centred on target
    assert cmap(0.0)[2] < cmap(0.0)[0] and cmap(1.0)[2] > cmap(1.0)[0]  # orange below, blue above
    london = by_gid(fig, "london")
    assert len(london) == 1
    inset = london[0]
    n_london = int((ICBS["region"] == "London").sum())
    assert sum(len(c.get_offsets()) for c in inset.collections) == n_london
    (ring,) = by_gid(fig, "highlight")
    assert to_hex(ring.get_edgecolor()[0]) == style.HIGHLIGHT[0].lower()
    # GP practices drawn faintly give the outline of England.
    (dots,) = by_gid(fig, "practices")
    assert len(dots.get_offsets()) == len(pd.read_csv(REPO / "data" / "practices.csv"))
    # The region in the title is the region's allocations against its targets taken together
    # (what the region pages say), not the simple average of its ICBs' distances.
    title = by_gid(fig, "title")[0].get_text().replace("\n", " ")
    region, value = aggregate_region_dft(result, 0)
    assert region in title and style.fmt_pct(value) in title
    assert "% of target" in texts(fig) and "£" in texts(fig)


def aggregate_region_dft(result, k):
    """(region furthest below target, its DfT) with its ICBs taken together, from pandas."""
    frame = (
        pd.DataFrame(
            {
                "alloc": result["allocation"].isel(year=k).values,
                "target": result["target"].isel(year=k).values,
                "region": ICBS.set_index("code").loc[result["icb"].values, "region"].values,
            }
        )
        .groupby("region")[["alloc", "target"]]
        .sum()
    )
    dft = (frame["alloc"] - frame["target"]) / frame["target"]
    return dft.idxmin(), float(dft.min())


def test_left_shift_chart_by_payer(result):
    res = with_left_shift(result)
    fig = plots.left_shift_chart(
        res["left_shift_saving"], res["upstream_cost"], provenance=res.attrs
    )
    check_house_style(fig, result.attrs)
    n = result.sizes["icb"]
    years = result["year"].values
    saving_bars = [
        b for b in by_gid(fig, "saving:ICB_delegated_specialised") if isinstance(b, Rectangle)
    ]
    cost_bars = [b for b in by_gid(fig, "cost:ICB_core") if isinstance(b, Rectangle)]
    assert len(saving_bars) == len(cost_bars) == len(years)
    ramp = np.linspace(0, 1, len(years))
    np.testing.assert_allclose([b.get_height() for b in saving_bars], n * 1e6 * ramp)
    np.testing.assert_allclose([b.get_height() for b in cost_bars], -n * 4e5)
    assert not by_gid(fig, "saving:ICB_core") and not by_gid(fig, "cost:ICB_delegated")
    net = one(fig, "net")
    np.testing.assert_allclose(net.get_ydata(), n * 1e6 * ramp - n * 4e5)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(legend) == 3 and any("ICB core" in t for t in legend)
    assert "£" in fig.axes[0].get_ylabel()


def test_left_shift_chart_one_icb_extra_dims_and_no_payer():
    years = [2025, 2026, 2027]
    saving = xr.DataArray(
        np.ones((2, 3, 2, 3)) * 1e5,
        dims=("draw", "icb", "pathway", "year"),
        coords={"icb": ["A", "B", "C"], "year": years},
    )
    saving[1] = 9e9  # draw 1 must be ignored: draw 0 is the central projection
    cost = xr.DataArray(
        np.full((3, 3), 5e4), dims=("icb", "year"), coords={"icb": ["A", "B", "C"], "year": years}
    )
    fig = plots.left_shift_chart(saving, cost, icb="B", provenance={})
    bars = [b for b in by_gid(fig, "saving:ICB_delegated_specialised") if isinstance(b, Rectangle)]
    np.testing.assert_allclose([b.get_height() for b in bars], 2e5)  # two pathways summed
    net = one(fig, "net")
    np.testing.assert_allclose(net.get_ydata(), 2e5 - 5e4)
    assert "treat as illustrative" in by_gid(fig, "footnote")[0].get_text().replace("\n", " ")
    with pytest.raises(ValueError, match="year"):
        plots.left_shift_chart(saving.isel(year=0), cost)


def synthetic_quantiles():
    q = [0.05, 0.25, 0.5, 0.75, 0.95]
    years = [2025, 2026, 2027, 2028]
    centre = np.array([100e6, 104e6, 108e6, 112e6])
    spread = np.array([0, 2e6, 4e6, 6e6])
    z = np.array([-1.645, -0.674, 0, 0.674, 1.645])
    data = centre[None, :] + z[:, None] * spread[None, :]
    da = xr.DataArray(
        np.stack([data, data * 2]),
        dims=("icb", "quantile", "year"),
        coords={"icb": ["A", "B"], "quantile": q, "year": years},
        attrs={"units": "GBP", "long_name": "allocation"},
    )
    return da, data


def test_fan_chart_bands_and_median():
    da, data = synthetic_quantiles()
    fig = plots.fan_chart(da, icb="A")
    bands = by_gid(fig, "band:")
    assert sorted(b.get_gid() for b in bands) == ["band:0.05-0.95", "band:0.25-0.75"]
    outer = [b for b in bands if b.get_gid() == "band:0.05-0.95"][0]
    verts = outer.get_paths()[0].vertices
    assert verts[:, 1].min() == pytest.approx(data[0].min())
    assert verts[:, 1].max() == pytest.approx(data[-1].max())
    (median,) = by_gid(fig, "median")
    np.testing.assert_allclose(median.get_ydata(), data[2])
    title = by_gid(fig, "title")[0].get_text().replace("\n", " ")
    assert "90%" in title and f"£{data[0, -1] / 1e6:,.1f}m" in title
    assert "£" in fig.axes[0].get_ylabel()
    with pytest.raises(ValueError, match="icb"):
        plots.fan_chart(da)
    with pytest.raises(ValueError, match="quantile"):
        plots.fan_chart(da.isel(quantile=2), icb="A")
    why = plots.fan_chart(da, icb="A", why="the widest 90% interval")
    assert "Shown: the widest 90% interval" in by_gid(why, "subtitle")[0].get_text().replace(
        "\n", " "
    )
    assert list(style.chart_data(fig).columns) == ["year", "q5", "q25", "q50", "q75", "q95"]


def test_fan_chart_refuses_a_flat_band():
    from alloc.outputs.plots.uncertainty import FlatBand, band_is_flat

    da, _ = synthetic_quantiles()
    flat = (da * 0 + da.sel(quantile=0.5)).transpose(*da.dims)
    assert band_is_flat(flat, "A") and not band_is_flat(da, "A")
    with pytest.raises(FlatBand, match="no fan"):
        plots.fan_chart(flat, icb="A")


def test_tornado_sorted_by_swing():
    table = pd.DataFrame(
        {
            "parameter": ["small", "large", "medium"],
            "low": [99.0, 80.0, 95.0],
            "high": [101.0, 130.0, 104.0],
            "base": [100.0] * 3,
            "low_value": [0.1, 0.01, 1],
            "high_value": [0.2, 0.05, 2],
        }
    )
    fig = plots.tornado_chart(table, output="Final allocation", units="GBP")
    ax = [a for a in fig.axes if a.get_yticklabels()][0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    ys = ax.get_yticks()
    assert [t for _, t in sorted(zip(-ys, ticks))] == ["large", "medium", "small"]
    for name, row in table.set_index("parameter").iterrows():
        (low,) = [b for b in by_gid(fig, f"low:{name}") if isinstance(b, Rectangle)]
        (high,) = [b for b in by_gid(fig, f"high:{name}") if isinstance(b, Rectangle)]
        assert low.get_x() + low.get_width() == pytest.approx(row["low"])
        assert high.get_x() + high.get_width() == pytest.approx(row["high"])
    assert by_gid(fig, "base")[0].get_xdata()[0] == 100.0
    assert by_gid(fig, "title")[0].get_text().startswith("large")
    with pytest.raises(ValueError, match="missing column"):
        plots.tornado_chart(table.drop(columns="base"))
    with pytest.raises(ValueError, match="same in every row"):
        plots.tornado_chart(table.assign(base=[100.0, 101.0, 100.0]))


def test_tornado_accepts_the_ensemble_sensitivity_table():
    # alloc.uncertainty.sensitivity.sensitivity: low/high are parameter values, outputs are output_* columns.
    table = pd.DataFrame(
        {
            "parameter": ["a", "b"],
            "low": [0.01, 0.2],
            "high": [0.03, 0.4],
            "output_low": [-0.05, -0.01],
            "output_high": [-0.01, -0.02],
            "output_central": [-0.02, -0.02],
            "swing": [0.04, 0.01],
        }
    )
    table.attrs["output"] = "final-year DfT of QOC"
    fig = plots.tornado_chart(table)
    (low,) = [b for b in by_gid(fig, "low:a") if isinstance(b, Rectangle)]
    assert low.get_x() + low.get_width() == pytest.approx(-0.05)
    assert one(fig, "base").get_xdata()[0] == pytest.approx(-0.02)
    assert "final-year DfT of QOC" in by_gid(fig, "title")[0].get_text().replace("\n", " ")
    assert "%" in fig.axes[0].get_xlabel()
    assert "(0.01)" in texts(fig)  # the parameter value tried


def test_tornado_names_units_and_ticks():
    """Readable parameter names, values with their units, percentage ticks shown exactly, and
    parameters that move nothing left out."""
    table = pd.DataFrame(
        {
            "parameter": [
                "renal: cohorts.renal.transitions.CKD_G4_diagnosed.to.CKD_G5",
                "mental_health: levers.ed_integrated_inpatient_model.unit_cost",
                "policy.min_growth",
                "liver: cohorts.liver.states.hcc.prevalence",
            ],
            "low": [0.05, 5000.0, 0.012, 1e-5],
            "high": [0.2, 20000.0, 0.02, 3e-5],
            "output_low": [-0.0100, -0.0080, -0.0060, -0.007],
            "output_high": [-0.0000, -0.0055, -0.0075, -0.007],
            "output_central": [-0.007] * 4,
        }
    )
    table.attrs.update(output="final-year DfT of QOC", units="1")
    fig = plots.tornado_chart(table)
    shown = texts(fig)
    assert "Renal: CKD G4 diagnosed → CKD G5 (a year)" in shown
    assert "Mental health: lever 'ed integrated inpatient model', unit cost" in shown.replace(
        "\n", " "
    )
    assert "Policy floor: minimum cash growth" in shown
    assert "cohorts." not in shown and "levers." not in shown  # no internal keys
    assert "(£20,000)" in shown and "(£5,000)" in shown and "(1.2%)" in shown
    assert "e+0" not in shown and "e-0" not in shown  # no scientific notation
    assert "hcc" not in shown.lower()  # moves nothing: left out, and said
    assert "1 parameter with no effect not shown" in shown.replace("\n", " ")
    ax = [a for a in fig.axes if a.get_yticklabels()][0]
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    steps = np.diff(ax.get_xticks()) * 100
    assert ticks and all(t.endswith("%") for t in ticks)
    # Each tick label is its tick exactly (0.25% steps are not printed as 0.2%, 0.5%, 0.8%).
    for tick, label in zip(ax.get_xticks(), ax.get_xticklabels()):
        if label.get_text():
            value = float(label.get_text().replace("−", "-").rstrip("%"))
            assert value == pytest.approx(100 * tick, abs=1e-9 + 1e-6 * steps.max())
    from alloc.outputs.plots.style import tick_decimals

    assert tick_decimals([0.0, 0.25, 0.5, 0.75]) == 2
    assert tick_decimals([0.0, 0.5, 1.0]) == 1 and tick_decimals([0, 5, 10]) == 0


def test_palette_is_colour_blind_distinct():
    """Series colours stay apart under simulated deuteranopia and protanopia (Machado 2009)."""
    from matplotlib.colors import to_rgb

    sims = {
        "deuteranopia": np.array(
            [[0.367, 0.861, -0.228], [0.280, 0.673, 0.047], [-0.012, 0.043, 0.969]]
        ),
        "protanopia": np.array(
            [[0.152, 1.053, -0.205], [0.115, 0.786, 0.099], [-0.004, -0.048, 1.052]]
        ),
    }

    def linear(c):
        c = np.array(to_rgb(c))
        return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)

    assert style.NHS_ORANGE not in style.SERIES + style.HIGHLIGHT  # orange: below target only
    for colours in (style.SERIES[:4], style.HIGHLIGHT[:4]):
        for name, m in sims.items():
            sim = [np.clip(m @ linear(c), 0, 1) for c in colours]
            for i in range(len(sim)):
                for j in range(i + 1, len(sim)):
                    assert np.abs(sim[i] - sim[j]).max() > 0.08, (name, colours[i], colours[j])


def colours_in(fig) -> set[str]:
    """Every face and edge colour of a figure's patches, lines and collections (hex)."""
    found = set()
    for artist in fig.findobj():
        for getter in ("get_facecolor", "get_edgecolor", "get_color"):
            if not hasattr(artist, getter) or isinstance(artist, matplotlib.text.Text):
                continue
            try:
                value = getattr(artist, getter)()
            except (TypeError, ValueError, AttributeError):
                continue
            arr = np.atleast_2d(np.asarray(matplotlib.colors.to_rgba_array(value)))
            found |= {to_hex(c) for c in arr if c[3] > 0}
    return found


def test_orange_means_below_target_only(result):
    """Orange appears only where it means below target (the DfT colour scales), never for a
    year, a highlighted ICB, a parameter's low value or a fall in money."""
    orange = style.NHS_ORANGE.lower()
    res = with_left_shift(result)
    da, _ = synthetic_quantiles()
    table = pd.DataFrame(
        {"parameter": ["a", "b"], "low": [1.0, 2.0], "high": [3.0, 2.5], "base": [2.0, 2.0]}
    )
    for fig in (
        plots.glide_paths(result, highlight=["QE1", "QOC", "QOX"]),
        plots.dft_dot_plot(result, highlight="QE1"),
        plots.allocation_waterfall(result, "Z9B2Z"),  # above target: a negative convergence
        plots.left_shift_chart(res["left_shift_saving"], res["upstream_cost"]),
        plots.fan_chart(da, icb="A", central=da.sel(quantile=0.5)),
        plots.tornado_chart(table, output="x", units="GBP"),
    ):
        assert orange not in colours_in(fig), by_gid(fig, "title")[0].get_text()
    # ... and it is the below-target end of the map's scale.
    assert to_hex(style.DFT_CMAP(0.0)) == orange


@pytest.fixture(scope="module")
def written(result, tmp_path_factory):
    """The standard charts as `alloc run` writes them (write_results with plots), of the
    default result with left shift added so that every standard chart is drawn.

    matplotlib's own default font is set to a much wider one (DejaVu Sans Mono, shipped with
    matplotlib) while they are written, as on a machine whose default font is not the house
    font: a chart saved outside the house style is then drawn wider than its text was wrapped
    for, and runs off the page."""
    from alloc.outputs.results import write_results

    with matplotlib.rc_context({"font.sans-serif": ["DejaVu Sans Mono"]}):
        out = write_results(
            with_left_shift(result), tmp_path_factory.mktemp("charts") / "r", plots=True
        )
    return out / "charts"


STEMS = ["dft_glide_paths", "dft_start_end", "icb_map", "icb_hexmap", "left_shift"]


def test_write_charts_png_svg_and_csv(written):
    names = sorted(p.name for p in written.iterdir())
    assert names == sorted(f"{s}.{e}" for s in STEMS for e in ("png", "svg", "csv"))
    from PIL import Image

    with Image.open(written / "dft_glide_paths.png") as im:
        assert abs(im.size[0] - 11.69 * 150) <= 1 and abs(im.size[1] - 8.27 * 150) <= 1


#: Blank margin every chart keeps on each side [pixels at 150 dpi]: 0.1 inch.
MARGIN_PX = 15


@pytest.mark.parametrize("stem", STEMS)
def test_chart_png_has_blank_margins(written, stem):
    """Nothing is cut off: no ink within MARGIN_PX of any edge of the PNG (a title or footnote
    drawn in a wider font than it was wrapped for runs off the right edge)."""
    from PIL import Image

    with Image.open(written / f"{stem}.png") as im:
        pixels = np.asarray(im.convert("RGB")).astype(int)
    ink = np.abs(pixels - 255).sum(axis=-1) > 30
    m = MARGIN_PX
    for side, strip in (
        ("left", ink[:, :m]),
        ("right", ink[:, -m:]),
        ("top", ink[:m, :]),
        ("bottom", ink[-m:, :]),
    ):
        assert not strip.any(), f"{stem}.png has ink within {m} px of the {side} edge"
    assert ink.any()


def test_other_charts_keep_blank_margins(result, tmp_path):
    """The pack's other charts (waterfall with left shift, fan, tornado) keep the margins too."""
    from PIL import Image

    da, _ = synthetic_quantiles()
    table = pd.DataFrame(
        {
            "parameter": ["renal: cohorts.renal.transitions.CKD_G4_diagnosed.to.CKD_G5", "b"],
            "low": [1.0, 2.0],
            "high": [3.0, 2.5],
            "base": [2.0, 2.0],
        }
    )
    figures = {
        "waterfall": plots.allocation_waterfall(with_left_shift(result), "QOX"),
        "fan": plots.fan_chart(da, icb="A", central=da.sel(quantile=0.5), why="a test"),
        "tornado": plots.tornado_chart(table, output="x", units="GBP"),
    }
    with matplotlib.rc_context({"font.sans-serif": ["DejaVu Sans Mono"]}):
        for stem, fig in figures.items():
            style.save_figure(fig, tmp_path / f"{stem}.png", dpi=60)
            with Image.open(tmp_path / f"{stem}.png") as im:
                ink = np.abs(np.asarray(im.convert("RGB")).astype(int) - 255).sum(-1) > 30
            m = 6  # 0.1 inch at 60 dpi
            assert not (ink[:, :m].any() or ink[:, -m:].any()), stem
            assert not (ink[:m].any() or ink[-m:].any()), stem


@pytest.mark.parametrize("stem", STEMS)
def test_chart_svg_keeps_text_as_text(written, stem):
    """SVG text stays <text> (searchable, editable), with the title and footnote in it."""
    import xml.etree.ElementTree as ET

    root = ET.parse(written / f"{stem}.svg").getroot()
    found = [
        "".join(el.itertext()) for el in root.iter() if el.tag.endswith("}text") or el.tag == "text"
    ]
    joined = " ".join(found)
    assert len(found) >= 5, stem
    assert "Source: alloc" in joined and "ILLUSTRATIVE" in joined, stem


def test_chart_csvs_hold_the_charted_data(written, result):
    dft = pd.read_csv(written / "dft_start_end.csv", keep_default_na=False).set_index("code")
    first = result["dft"].isel(year=0).to_series()
    np.testing.assert_allclose(dft.loc[first.index, "dft_2025_26_fraction"], first.values)
    glide = pd.read_csv(written / "dft_glide_paths.csv", keep_default_na=False)
    assert len(glide) == len(ICBS) and glide["highlighted"].sum() == 2
    hexes = pd.read_csv(written / "icb_hexmap.csv", keep_default_na=False)
    assert sorted(hexes["code"]) == sorted(ICBS["code"]) and set(hexes["layout"]) == {"shipped"}
    bubbles = pd.read_csv(written / "icb_map.csv", keep_default_na=False).set_index("code")
    alloc0 = result["allocation"].isel(year=0).to_series()
    np.testing.assert_allclose(bubbles.loc[alloc0.index, "allocation_2025_26_gbp"], alloc0)
    shift = pd.read_csv(written / "left_shift.csv", keep_default_na=False)
    net = shift[shift["measure"] == "net saving"]["gbp"].to_numpy()
    n, ramp = result.sizes["icb"], np.linspace(0, 1, result.sizes["year"])
    np.testing.assert_allclose(net, n * 1e6 * ramp - n * 4e5)


# --------------------------------------------------------------------------------------------
# Hexagon map
# --------------------------------------------------------------------------------------------

GEOGRAPHIES = ["icb_2025", "icb_2026", "icb_2027_proposed"]


@pytest.mark.parametrize("geography", GEOGRAPHIES)
def test_hex_layout_one_cell_per_icb(geography):
    """Each shipped layout has one hexagon per area of the geography, no two in one cell, in one
    connected block, and is what the documented algorithm gives from the centroids."""
    from alloc.outputs.plots._hexgrid import adjacent, layout_from_centroids

    areas = reference_areas(geography)
    layout = pd.read_csv(REPO / "data" / "geographies" / geography / "hex.csv")
    assert list(layout.columns) == ["code", "q", "r"]
    assert sorted(layout["code"]) == sorted(areas["code"])  # one hexagon per area
    cells = list(zip(layout["q"], layout["r"]))
    assert len(set(cells)) == len(cells)  # no two areas share a cell
    seen, todo = {cells[0]}, [cells[0]]
    while todo:  # every cell reachable from the first through neighbours: no islands
        cell = todo.pop()
        for other in cells:
            if other not in seen and adjacent(cell, other):
                seen.add(other)
                todo.append(other)
    assert seen == set(cells)
    qr = layout_from_centroids(areas["lat"], areas["lon"])
    again = pd.DataFrame({"code": areas["code"], "q": qr[:, 0], "r": qr[:, 1]})
    pd.testing.assert_frame_equal(
        again.sort_values("code").reset_index(drop=True), layout.reset_index(drop=True)
    )


@pytest.fixture(scope="module")
def result_2025():
    return alloc.run("default", ['geography="icb_2025"'])


@pytest.mark.parametrize("which", ["icb_2026", "icb_2025"])
def test_hexmap_labels_every_icb(which, result, result_2025):
    res = result if which == "icb_2026" else result_2025
    areas = reference_areas(which)
    fig = plots.icb_hexmap(res, highlight=str(areas["code"].iloc[0]))
    check_house_style(fig)
    hexes = by_gid(fig, "hex:")
    assert sorted(h.get_gid()[4:] for h in hexes) == sorted(areas["code"])
    labels = {t.get_gid()[9:]: t.get_text() for t in by_gid(fig, "hexlabel:")}
    assert labels == {c: c for c in areas["code"]}  # every ICB carries its code
    shown = texts(fig)
    for name in areas["name"]:  # and the key names every one
        short = style.short_name(name)
        assert short.split(" ")[0] in shown, name
    centres = [h.xy for h in hexes]
    assert len({(round(x, 6), round(y, 6)) for x, y in centres}) == len(areas)
    assert len(by_gid(fig, "key:")) == areas["region"].nunique()
    assert len(by_gid(fig, "highlight:")) == 1
    # Colour is the ICB's distance from target on the diverging scale (orange below).
    dft = res["dft"].isel(year=0).to_series()
    low = dft.idxmin()
    face = [h for h in hexes if h.get_gid() == f"hex:{low}"][0].get_facecolor()
    assert face[0] > face[2]  # orange-ish: more red than blue


def test_hexmap_falls_back_for_a_geography_without_a_layout(result, tmp_path):
    from alloc.outputs.plots.hexmap import NoLayout

    user = result.assign_attrs(geography="mine", geography_source=str(tmp_path / "mine.csv"))
    fig = plots.icb_hexmap(user)
    subtitle = by_gid(fig, "subtitle")[0].get_text().replace("\n", " ")
    assert "COMPUTED" in subtitle and "'mine' ships no hexagon layout" in subtitle
    assert set(style.chart_data(fig)["layout"]) == {"computed"}
    bare = user.drop_vars(["lat", "lon"])
    with pytest.raises(NoLayout, match="no hexagon layout"):
        plots.icb_hexmap(bare)
