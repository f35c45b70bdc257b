"""Charts: each renders from the default result with the right ICBs, series and labels.

Figures are inspected through their artists (lines, collections, texts), not pixels. Expected
counts come from the data files and the result, never from the plotting code.
"""

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import reference_areas
from matplotlib.collections import LineCollection, PathCollection
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
    (start,) = by_gid(fig, "start")
    (end,) = by_gid(fig, "end")
    assert len(start.get_offsets()) == len(end.get_offsets()) == len(ICBS)
    ax = start.axes
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    codes = [t.rsplit("(", 1)[1].rstrip(")") for t in ticks]
    assert sorted(codes) == sorted(ICBS["code"])
    first = result["dft"].isel(year=0).to_series()
    last = result["dft"].isel(year=-1).to_series()
    np.testing.assert_allclose(start.get_offsets()[:, 0], first[codes].values)
    np.testing.assert_allclose(end.get_offsets()[:, 0], last[codes].values)
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
    bold = [t.get_text() for t in ax.get_yticklabels() if t.get_fontweight() == "bold"]
    assert bold == [t for t in ticks if t.endswith("(QE1)")]
    assert "%" in ax.get_xlabel()
    below0 = int((first < -0.05).sum())
    assert by_gid(fig, "title")[0].get_text().startswith(str(below0))


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
    assert "£" in bars["baseline"].axes.get_ylabel() or "£" in texts(fig)


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
    assert len(by_gid(fig, "highlight")) == 1
    by_region = (
        result["dft"].isel(year=0).to_series().groupby(ICBS.set_index("code")["region"]).mean()
    )
    assert by_region.idxmin() in by_gid(fig, "title")[0].get_text().replace("\n", " ")
    assert "% of target" in texts(fig) and "£" in texts(fig)


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

    for colours in (style.SERIES[:4], style.HIGHLIGHT[:4]):
        for name, m in sims.items():
            sim = [np.clip(m @ linear(c), 0, 1) for c in colours]
            for i in range(len(sim)):
                for j in range(i + 1, len(sim)):
                    assert np.abs(sim[i] - sim[j]).max() > 0.08, (name, colours[i], colours[j])


def test_write_charts_png_and_svg(result, tmp_path):
    written = plots.write_charts(result, tmp_path / "charts")
    names = sorted(p.name for p in written)
    stems = ["dft_glide_paths", "dft_start_end", "icb_map"]
    assert names == sorted(f"{s}.{e}" for s in stems for e in ("png", "svg"))
    from PIL import Image

    with Image.open(tmp_path / "charts" / "dft_glide_paths.png") as im:
        assert abs(im.size[0] - 11.69 * 150) <= 1 and abs(im.size[1] - 8.27 * 150) <= 1
    svg = (tmp_path / "charts" / "icb_map.svg").read_text()
    assert "Distance from target" in svg  # text kept as text
    assert isinstance(LineCollection, type)
