"""House style for alloc charts: NHS identity colours, A4-readable type, labelled footnotes.

Every chart is a :class:`matplotlib.figure.Figure` created directly (not through ``pyplot``), so
nothing is shown, no global figure list grows and no backend is switched: PNG, SVG and PDF are
rendered by matplotlib's Agg / vector canvases when the figure is saved.

Colours follow the NHS identity guidelines (england.nhs.uk/nhsidentity) and keep **one meaning
each** across every chart and the board pack:

- orange (:data:`BELOW`): below target, and only that (the distance-from-target scales);
- dark blue (:data:`ABOVE`) at the other end of those scales: above target; elsewhere blues are
  money (allocations, bars, bands);
- dark pink and the rest of :data:`HIGHLIGHT`: the ICB(s) the reader asked about;
- greys: the other ICBs, the base year, targets and context.

Blue against orange stays distinct under the common colour-vision deficiencies (deuteranopia,
protanopia, tritanopia); categorical series never rely on red against green.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator

from alloc.outputs.plots._data import is_illustrative

# NHS identity palette (hex).
NHS_BLUE = "#005EB8"
NHS_DARK_BLUE = "#003087"
NHS_BRIGHT_BLUE = "#0072CE"
NHS_LIGHT_BLUE = "#41B6E6"
NHS_AQUA_BLUE = "#00A9CE"
NHS_BLACK = "#231F20"
NHS_DARK_GREY = "#425563"
NHS_MID_GREY = "#768692"
NHS_PALE_GREY = "#E8EDEE"
NHS_ORANGE = "#ED8B00"
NHS_WARM_YELLOW = "#FFB81C"
NHS_DARK_PINK = "#7C2855"
NHS_PURPLE = "#330072"
NHS_AQUA_GREEN = "#00A499"
NHS_LIGHT_PURPLE = "#704C9C"

#: Below target: the one meaning of orange in every chart.
BELOW = NHS_ORANGE
#: Above target (the far end of the distance-from-target scale).
ABOVE = NHS_DARK_BLUE

#: Categorical series in order (scenarios, ...): distinct in colour and lightness, colour-blind
#: safe, and without orange (below target) or dark pink (a highlighted ICB).
SERIES = [
    NHS_DARK_BLUE,
    NHS_AQUA_GREEN,
    NHS_WARM_YELLOW,
    NHS_LIGHT_PURPLE,
    NHS_LIGHT_BLUE,
    NHS_MID_GREY,
]

#: Highlight colours for the ICBs a reader asked about (the rest are grey); never orange or blue,
#: which mean below and above target.
HIGHLIGHT = [NHS_DARK_PINK, NHS_AQUA_GREEN, NHS_LIGHT_PURPLE, NHS_WARM_YELLOW]

#: Diverging map for distance from target: orange = below target, blue = above.
DFT_CMAP = LinearSegmentedColormap.from_list(
    "alloc_dft", [BELOW, "#F6D3A3", "#F4F6F7", "#A7C8EA", ABOVE]
)

#: Fill of warning boxes (illustrative data): pale yellow, not a data colour.
WARNING_FILL = "#FFF1CC"

#: Page sizes [inches].
A4_LANDSCAPE = (11.69, 8.27)
A4_PORTRAIT = (8.27, 11.69)

#: Type sizes [points], chosen to stay legible when a figure is printed on A4.
TITLE_SIZE = 15
SUBTITLE_SIZE = 11
BASE_SIZE = 10.5
SMALL_SIZE = 9
FOOTNOTE_SIZE = 7.5

RC = {
    "font.family": "sans-serif",
    "font.sans-serif": ["Arial", "Liberation Sans", "DejaVu Sans"],
    "font.size": BASE_SIZE,
    "axes.titlesize": SUBTITLE_SIZE,
    "axes.labelsize": BASE_SIZE,
    "axes.labelcolor": NHS_BLACK,
    "axes.edgecolor": NHS_MID_GREY,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.color": NHS_PALE_GREY,
    "grid.linewidth": 0.8,
    "xtick.color": NHS_DARK_GREY,
    "ytick.color": NHS_DARK_GREY,
    "xtick.labelsize": SMALL_SIZE,
    "ytick.labelsize": SMALL_SIZE,
    "legend.fontsize": SMALL_SIZE,
    "legend.frameon": False,
    "text.color": NHS_BLACK,
    "svg.fonttype": "none",  # SVG text stays text (searchable, editable)
    "pdf.fonttype": 42,  # TrueType in PDF: text can be selected and extracted
}

# Layout of the title block and footnote, as fractions of the figure height per inch of page.
_TITLE_TOP = 0.30  # inches from the top edge to the title baseline area
_FOOT_BOTTOM = 0.18  # inches from the bottom edge to the footnote
_TITLE_LINE = TITLE_SIZE * 1.15 * 1.2 / 72  # inches per title line
_SUBTITLE_LINE = SUBTITLE_SIZE * 1.15 * 1.2 / 72  # inches per subtitle line


@contextmanager
def house_style():
    """Context in which matplotlib uses the house rcParams (fonts, sizes, colours)."""
    with mpl.rc_context(RC):
        yield


def save_figure(fig: Figure, path, dpi: float | None = None, metadata: dict | None = None) -> None:
    """Save ``fig`` to ``path`` inside :func:`house_style`, as every chart must be saved.

    Fonts are resolved when a figure is drawn, not when it is built: saved outside the house
    style a chart would be drawn in matplotlib's default font (wider than the house font its
    text was wrapped for, so titles and footnotes ran off the right edge), and an SVG would
    have its text turned into paths (``svg.fonttype``). Saving here keeps the text the width it
    was measured at and SVG text as ``<text>`` elements.
    """
    with house_style():
        fig.savefig(path, dpi=dpi, metadata=metadata)


def render_rgba(fig: Figure, dpi: float) -> np.ndarray:
    """Draw ``fig`` at ``dpi`` in the house style, as :func:`save_figure` draws a PNG: the
    pixels (height, width, 4) [RGBA, uint8], for :func:`write_png`.

    Drawing holds the interpreter; PNG compression (zlib, in Pillow) does not, so
    :func:`alloc.outputs.plots.write_charts` compresses one chart in a thread while it draws
    the next. The two steps are the ones ``savefig`` takes, so the file is byte-identical.
    """
    import io

    buffer = io.BytesIO()
    with house_style():
        fig.savefig(buffer, format="rgba", dpi=dpi)
    renderer = fig.canvas.renderer  # the Agg renderer savefig drew with, at ``dpi``
    height, width = int(renderer.height), int(renderer.width)
    return np.frombuffer(buffer.getbuffer(), dtype=np.uint8).reshape(height, width, 4)


def write_png(pixels: np.ndarray, path, dpi: float, metadata: dict | None = None) -> None:
    """Write pixels from :func:`render_rgba` as a PNG, as matplotlib's Agg canvas does."""
    from matplotlib.image import imsave

    imsave(path, pixels, format="png", origin="upper", dpi=dpi, metadata=metadata)


def set_data(fig: Figure, frame) -> Figure:
    """Attach the data a chart shows (a :class:`pandas.DataFrame`) to ``fig``, for its CSV."""
    fig.alloc_data = frame
    return fig


def chart_data(fig: Figure):
    """The data attached to ``fig`` by :func:`set_data` (None if none)."""
    return getattr(fig, "alloc_data", None)


def new_figure(size: tuple[float, float] = A4_LANDSCAPE) -> Figure:
    """A blank figure of ``size`` [inches] (A4 landscape by default), white background.

    The figure is attached to an Agg canvas (no display); saving as SVG or PDF switches to the
    vector canvas for that call only.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=size, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def fmt_gbp_m(value: float, decimals: int = 0, sign: bool = False) -> str:
    """Format pounds as £ millions: ``465_040_000 -> "£465m"`` (``sign`` adds + to gains)."""
    millions = value / 1e6
    text = f"£{abs(millions):,.{decimals}f}m"
    if millions < 0 and round(abs(millions), decimals) > 0:
        return "−" + text
    return ("+" + text) if sign and round(millions, decimals) > 0 else text


def fmt_pct(fraction: float, decimals: int = 1, sign: bool = True) -> str:
    """Format a fraction as a percentage: ``-0.0512 -> "−5.1%"`` (typographic minus).

    A value that rounds to zero is shown as ``0.0%``, never ``−0.0%`` or ``+0.0%``.
    """
    if round(100 * float(fraction), decimals) == 0:
        fraction = 0.0
        sign = False
    text = f"{100 * fraction:+.{decimals}f}%" if sign else f"{100 * fraction:.{decimals}f}%"
    return text.replace("-", "−")


class _StepFormatter(Formatter):
    """Tick labels with just enough decimals to show every tick exactly (0.25% steps are shown
    as 0.25%, 0.50%, 0.75%, never rounded to 0.2%, 0.5%, 0.8%)."""

    MAX_DECIMALS = 4

    def __init__(self, scale: float, render, minimum: int = 0):
        self.scale, self.render, self.minimum = scale, render, minimum
        self.decimals = minimum

    def set_locs(self, locs):
        super().set_locs(locs)
        self.decimals = tick_decimals(np.asarray(locs, dtype=float) / self.scale, self.minimum)

    def __call__(self, value, pos=None):
        return self.render(value, self.decimals)


def tick_decimals(values, minimum: int = 0, maximum: int = 4) -> int:
    """Fewest decimals (at least ``minimum``) that show each of ``values`` exactly."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    span = float(np.ptp(values)) if values.size > 1 else float(np.abs(values).max(initial=1.0))
    tol = 1e-6 * max(span, 1e-12)
    for d in range(minimum, maximum + 1):
        if np.all(np.abs(values - np.round(values, d)) <= tol):
            return d
    return maximum


def gbp_m_axis(axis, decimals: int = 0) -> None:
    """Label an axis' ticks in £ millions (values plotted in pounds), at round £m steps."""
    axis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(_StepFormatter(1e6, lambda v, d: fmt_gbp_m(v, d), decimals))


def pct_axis(axis, decimals: int = 0) -> None:
    """Label an axis' ticks as percentages (values plotted as fractions)."""
    axis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(_StepFormatter(0.01, lambda v, d: fmt_pct(v, d, sign=False), decimals))


def short_name(icb_name: str) -> str:
    """ICB name without the ``NHS`` prefix and ``ICB`` suffix (for labels)."""
    return str(icb_name).removeprefix("NHS ").removesuffix(" ICB").strip()


#: Text drawn into a PNG is hinted to the pixel grid and comes out up to 3% wider than its
#: outline (1.7% at 150 dpi, 3% at 100 dpi): widths are measured that much wider.
_HINTING = 1.03


@functools.lru_cache(maxsize=4096)
def _word_width(word: str, size: float, weight: str) -> float:
    """Width of ``word`` in the house font [inches] (cached: measuring text is slow)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    with house_style():
        prop = FontProperties(size=size, weight=weight)
        w, _, _ = TextToPath().get_text_width_height_descent(word, prop, ismath=False)
    return w / 72 * _HINTING


def wrap_to_width(text: str, width_in: float, size: float, weight: str = "normal") -> str:
    """Wrap ``text`` into lines no wider than ``width_in`` [inches] at ``size`` [points].

    Widths are measured with the house font (word by word, plus spaces), so wrapping holds
    whichever font is installed.
    """
    space = _word_width("a a", size, weight) - 2 * _word_width("a", size, weight)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, used = "", 0.0
        for word in paragraph.split(" "):
            w = _word_width(word, size, weight)
            if line and used + space + w > width_in:
                lines.append(line)
                line, used = word, w
            else:
                line, used = (f"{line} {word}", used + space + w) if line else (word, w)
        lines.append(line)
    return "\n".join(lines)


def set_titles(fig: Figure, title: str, subtitle: str = "") -> None:
    """Title (the finding, bold) and subtitle (what is plotted, with units) at the figure top.

    Both are wrapped to the figure width; :func:`title_block_height` then gives the space used.
    """
    height = fig.get_figheight()
    usable = fig.get_figwidth() * 0.92
    title = wrap_to_width(title, usable, TITLE_SIZE, "bold")
    subtitle = wrap_to_width(subtitle, usable, SUBTITLE_SIZE) if subtitle else ""
    y = 1 - _TITLE_TOP / height
    fig.text(
        0.04,
        y,
        title,
        fontsize=TITLE_SIZE,
        fontweight="bold",
        color=NHS_DARK_BLUE,
        va="top",
        ha="left",
        gid="title",
        linespacing=1.15,
    )
    if subtitle:
        lines = title.count("\n") + 1
        fig.text(
            0.04,
            y - (lines * _TITLE_LINE + 0.08) / height,
            subtitle,
            fontsize=SUBTITLE_SIZE,
            color=NHS_DARK_GREY,
            va="top",
            ha="left",
            gid="subtitle",
            linespacing=1.15,
        )


def title_block_height(fig: Figure) -> float:
    """Height of the title block as a fraction of the figure (for laying out axes below it)."""
    height = _TITLE_TOP + 0.30
    for text in fig.texts:
        lines = text.get_text().count("\n") + 1
        if text.get_gid() == "title":
            height += lines * _TITLE_LINE + 0.08
        elif text.get_gid() == "subtitle":
            height += lines * _SUBTITLE_LINE
    return height / fig.get_figheight()


def footnote_text(attrs: Mapping, extra: str = "") -> str:
    """Source and scenario footnote from a result's provenance attributes.

    States the package version, scenario, policy, hashes and creation date, and whether the data
    are illustrative.
    """
    parts = [f"Source: alloc {attrs.get('alloc_version', '(version not recorded)')}"]
    if "scenario_name" in attrs:
        scen = f"scenario '{attrs['scenario_name']}'"
        if "scenario_hash" in attrs:
            scen += f" ({attrs['scenario_hash']})"
        parts.append(scen)
    else:
        parts.append("scenario not recorded")
    if "policy_name" in attrs:
        parts.append(f"policy {attrs['policy_name']}")
    if attrs.get("geography"):
        status_word = {"proposed": " (PROPOSED areas, not decided)", "user": " (user mapping)"}
        parts.append(
            f"areas {attrs['geography']}{status_word.get(attrs.get('geography_status'), '')}"
        )
    if "input_hash" in attrs:
        parts.append(f"input data {attrs['input_hash']}")
    if "created" in attrs:
        parts.append(f"created {str(attrs['created'])[:10]}")
    price = attrs.get("price_base", "cash")
    line = ", ".join(parts) + (
        ". Money in cash pounds." if price == "cash" else f". Money in pounds, {price} prices."
    )
    warn = illustrative_text(attrs)
    if attrs.get("note"):
        warn = f"{warn} Note: {attrs['note']}."
    if extra:
        warn = f"{warn} {extra}"
    return f"{line}\n{warn}"


def illustrative_text(attrs: Mapping) -> str:
    """One sentence saying what in a result is illustrative or assumed (for footnotes).

    With the embedded data the baseline is generated, the split of the envelope by service line
    and the proxy target formula are illustrative, and the growth and pathway parameters are
    assumptions; a user baseline replaces only the first.
    """
    status = is_illustrative(attrs)
    assumed = "growth and pathway parameters are assumptions"
    if status is True:
        return (
            "ILLUSTRATIVE DATA, not NHS England figures: the baseline is generated (seeded), the "
            f"service split and the proxy target formula are illustrative, and {assumed}."
        )
    if status is False:
        if attrs.get("baseline_source"):
            return (
                f"Baseline: {Path(str(attrs['baseline_source'])).name} (user-supplied); the "
                f"service split and the proxy target formula are illustrative and {assumed}."
            )
        folder = Path(str(attrs.get("data_folder", ""))).name or "(not recorded)"
        return f"Data: folder '{folder}' (user-supplied); {assumed}."
    return f"Data status not recorded: treat as illustrative; {assumed}."


#: Room kept free at the right of the footnote for a page number [inches].
PAGE_NUMBER_ROOM = 1.1


def add_footnote(fig: Figure, attrs: Mapping, extra: str = "") -> None:
    """Draw the source and scenario footnote along the bottom edge of ``fig``.

    Call it before :func:`plot_area`, which keeps the footnote's lines free.
    """
    width = fig.get_figwidth() * 0.92 - PAGE_NUMBER_ROOM
    text = wrap_to_width(footnote_text(attrs, extra), width, FOOTNOTE_SIZE)
    fig.text(
        0.04,
        _FOOT_BOTTOM / fig.get_figheight(),
        text,
        fontsize=FOOTNOTE_SIZE,
        color=NHS_DARK_GREY,
        ha="left",
        va="bottom",
        gid="footnote",
        linespacing=1.2,
    )


def footnote_height(fig: Figure) -> float:
    """Height taken by the footnote (if drawn) plus the bottom margin, as a fraction of ``fig``."""
    lines = sum(t.get_text().count("\n") + 1 for t in fig.texts if t.get_gid() == "footnote")
    return (_FOOT_BOTTOM + 0.1 + lines * FOOTNOTE_SIZE * 1.2 * 1.2 / 72) / fig.get_figheight()


def text_width(text: str, size: float, weight: str = "normal") -> float:
    """Width of one line of ``text`` in the house font at ``size`` [points], in inches."""
    return _word_width(text, size, weight)


def year_labels(years) -> list[str]:
    """Financial-year labels: ``[2025, 2026] -> ["2025/26", "2026/27"]``."""
    from alloc.inputs.years import year_label

    return [year_label(int(y)) for y in years]


def plot_area(
    fig: Figure, left: float = 0.09, right: float = 0.97, axis_room: float = 0.6
) -> list[float]:
    """``[left, bottom, width, height]`` of the axes between the title block and footnote.

    ``axis_room`` [inches] is kept above the footnote for tick labels and the axis label.
    """
    bottom = footnote_height(fig) + axis_room / fig.get_figheight()
    top = 1 - title_block_height(fig)
    return [left, bottom, right - left, top - bottom]
