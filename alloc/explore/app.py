"""The ``alloc explore`` page (Panel), served on 127.0.0.1 only.

Each browser tab gets its own :class:`Page`: controls on the left, the result on the right. A
change re-runs the engine through :class:`alloc.explore.state.Explorer` and updates the page in
place: the summary and the table first, the charts a moment later. Bad input shows the message
``alloc run`` would print, in a red box, and the last good result stays on screen.

The page's state (scenario, changes, the ICB in view) is in the URL query, with the ``--set``
keys and units (``?min_growth=0.02&geography=icb_2025&icb=QE1``), so a view can be shared.

Every script and style sheet is served by this server from the installed packages
(:data:`RESOURCE_MODE`); the page fetches nothing from the internet.
"""

from __future__ import annotations

import asyncio
import html
import io
import socket
from urllib.parse import parse_qsl, urlencode

import panel as pn
import param
from bokeh.models.widgets.tables import NumberFormatter

from alloc.errors import AllocError
from alloc.explore.state import PARAMETERS_OF_KIND, Explorer
from alloc.inputs.geography import describe_geographies
from alloc.inputs.scenario import load_scenario
from alloc.inputs.specs import read_toml
from alloc.resources import list_named, models_dir

#: Panel's resource mode: scripts and styles come from this server, never a CDN.
RESOURCE_MODE = "server"
#: Charts are drawn at this resolution and scaled to the column [dots per inch].
CHART_DPI = 110
#: Charts are drawn this long after the table and summary are sent [ms]: drawing one takes
#: about 0.5 s, and the table must not wait for it (alloc.explore.app.Page._run_in_session).
CHART_DELAY_MS = 30
SIDEBAR_WIDTH = 330
MAIN_WIDTH = 1040

GEOGRAPHY_LABELS = {
    "icb_2026": "36 ICBs from April 2026",
    "icb_2025": "42 ICBs of 2022 to March 2026",
    "icb_2027_proposed": "26 areas: 2027 mergers (PROPOSED)",
}
KIND_LABELS = {
    "historic_cost": "historic cost, no convergence",
    "immediate": "immediate move to target",
    "common_dft": "common distance from target",
    "proportional": "proportional convergence",
    "deadline": "fair share by a deadline",
}
#: Columns of the ICB table (Explorer.icb_table, in its order): money in £m, rates in %.
TABLE_FIELDS = [
    "icb",
    "name",
    "region",
    "baseline_m",
    "allocation_m",
    "dft_start_pct",
    "dft_end_pct",
    "growth_pct",
]
TABS = {"england": "Distance from target, every ICB", "icb": "One ICB"}
CHARTS = {"Glide path": "glide", "Waterfall": "waterfall"}
#: The page's controls for rates, in percent on the page and fractions in the model.
RATE_WIDGETS = {
    "min_growth": "Floor: minimum growth (% a year)",
    "max_growth": "Cap: maximum growth (% a year)",
    "convergence_rate": "Convergence: share of each gap closed (% a year)",
    "envelope_growth": "National envelope growth (% a year, cash)",
}
#: What each rate control accepts (the model's own checks; shown under the control).
RATE_RANGES = {
    "min_growth": "-50 to 100, at most the cap",
    "max_growth": "-50 to 100, at least the floor",
    "convergence_rate": "0 to 100",
    "envelope_growth": "-50 to 100",
}

CSS = """
.alloc-title { font-size: 26px; font-weight: 600; color: #005eb8; }
.alloc-h { font-size: 17px; font-weight: 600; color: #212b32; margin: 6px 0 2px 0; }
.alloc-cards { width: 1020px; display: flex; gap: 12px; flex-wrap: nowrap; margin: 4px 0 8px 0; }
.alloc-card { flex: 1 1 0; border: 1px solid #d8dde0; border-left: 5px solid #005eb8;
  border-radius: 4px; padding: 8px 12px; background: #fff; }
.alloc-card .value { font-size: 20px; font-weight: 600; color: #212b32; }
.alloc-card .label { font-size: 13px; color: #4c6272; }
.alloc-notes { font-size: 13px; color: #8a1538; margin: 0; }
.alloc-caution { font-size: 13px; color: #4c6272; }
.alloc-help { font-size: 12px; color: #4c6272; margin: -6px 0 4px 10px; }
"""


TABLE_CSS = """
.tabulator { font-size: 14px; }
.tabulator .tabulator-row .tabulator-cell { padding: 3px 6px; }
.tabulator .tabulator-header .tabulator-col .tabulator-col-content { padding: 4px 6px; }
.tabulator .tabulator-header .tabulator-col .tabulator-col-title { font-size: 13px; }
"""


#: FileDownload's own button colours do not reach the page in Panel 1.9: style it here.
DOWNLOAD_CSS = """
.bk-btn { background: #fff !important; border: 1px solid #005eb8 !important;
  color: #005eb8; font-weight: 600; }
.bk-btn a { color: #005eb8; text-decoration: none; }
.bk-btn:hover { background: #e8f0fa !important; }
"""


RESET_CSS = """
.bk-btn { background: #fff !important; border: 1px solid #768692 !important; color: #425563; }
.bk-btn:hover { background: #f0f4f5 !important; }
.bk-btn:disabled { border-color: #d8dde0 !important; color: #aeb7bd; }
"""


def _html(text: str, **kwargs) -> pn.pane.HTML:
    """An HTML pane with the page's styles (each pane has its own shadow DOM)."""
    return pn.pane.HTML(text, stylesheets=[CSS], **kwargs)


def _tidy_url() -> None:
    """Drop the ``KEY=null`` that Panel leaves in the URL for a value set back to ``None`` (it
    would not read them back)."""
    location = pn.state.location
    if location is None or not location.search:
        return
    pairs = parse_qsl(location.search.lstrip("?"), keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if v != "null"]
    if len(kept) != len(pairs):
        location.search = "?" + urlencode(kept) if kept else ""


def _in_session() -> bool:
    """Whether this runs for a browser tab on the server (not in a test or a script)."""
    doc = pn.state.curdoc
    return doc is not None and doc.session_context is not None


def _describe(choices: dict) -> str:
    """The changes in words, e.g. ``floor 2.0% a year, geography icb_2025``."""
    words = {
        "policy": "policy {}",
        "min_growth": "floor {:.1%} a year",
        "max_growth": "cap {:.1%} a year",
        "convergence_rate": "convergence {:.1%} of each gap a year",
        "envelope_growth": "envelope growth {:.1%} a year",
        "geography": "geography {}",
    }
    return ", ".join(words[k].format(v) for k, v in choices.items() if k in words and v is not None)


def _to_percent(value) -> float | None:
    return None if value is None or isinstance(value, dict) else round(100 * float(value), 8)


def _to_fraction(value) -> float | None:
    return None if value is None else round(float(value) / 100, 10)


def _policy_kind(name: str) -> str | None:
    """The kind of a shipped policy (None for a policy file of the user's)."""
    path = models_dir() / "policy" / f"{name}.toml"
    return read_toml(path).get("kind") if path.is_file() else None


class ViewState(param.Parameterized):
    """What the URL holds: the scenario, the changes to it (``--set`` keys, fractions), the
    ICB in view and its chart. ``None`` = as the scenario says."""

    scenario = param.String(default="default")
    policy = param.String(default=None, allow_None=True)
    min_growth = param.Number(default=None, allow_None=True)
    max_growth = param.Number(default=None, allow_None=True)
    convergence_rate = param.Number(default=None, allow_None=True)
    envelope_growth = param.Number(default=None, allow_None=True)
    geography = param.String(default=None, allow_None=True)
    icb = param.String(default=None, allow_None=True)
    chart = param.Selector(default="glide", objects=list(CHARTS.values()))
    tab = param.Selector(default="england", objects=list(TABS))

    CHOICES = (
        "policy",
        "min_growth",
        "max_growth",
        "convergence_rate",
        "envelope_growth",
        "geography",
    )

    def choices(self) -> dict:
        return {name: getattr(self, name) for name in self.CHOICES}


class Page:
    """One browser tab's page: widgets, outputs and the :class:`Explorer` behind them."""

    def __init__(self, scenario: str = "default"):
        self.home_scenario = str(scenario)
        self.scenarios = list_named("scenarios")
        if self.home_scenario not in self.scenarios:
            self.scenarios.insert(0, self.home_scenario)
        self.view = ViewState(scenario=self.home_scenario)
        self._refreshing = False
        self._run_pending = False
        self._drawn: dict[str, tuple] = {}  # what each tab's chart shows
        self._url_problems: list[str] = []
        location = pn.state.location
        if location is not None:
            _tidy_url()
            location.sync(self.view, on_error=self._on_url_error)
            self.view.param.watch(lambda *_: _tidy_url(), list(self.view.param))
        home = load_scenario(self.home_scenario)[2]  # its own policy and areas are offered too
        self.policies = list_named("policy")
        if home.get("policy", {}).get("use") not in self.policies:
            self.policies.append(str(home["policy"]["use"]))
        self.geographies = {
            f"{GEOGRAPHY_LABELS.get(name, f'{n} areas')} ({name})": name
            for name, n, _, _ in describe_geographies()
        }
        if home.get("geography", "icb_2026") not in self.geographies.values():
            self.geographies[str(home["geography"])] = str(home["geography"])
        refused = self._refused()
        if refused:  # show the scenario as it is, and why
            self.explorer = Explorer(self.home_scenario)
            self.explorer.error = refused
        else:
            self.explorer = Explorer(self.view.scenario, self.view.choices())
        self._build()
        self._refresh_all()
        if _in_session():  # the first charts once the page is on screen
            pn.state.onload(self._draw_charts)
        else:
            self._draw_charts()
        self.view.param.watch(self._on_choice, ["scenario", *ViewState.CHOICES])
        self.view.param.watch(self._on_icb_view, ["icb", "chart", "tab"])

    # -- the URL -----------------------------------------------------------------------------

    def _on_url_error(self, values: dict) -> None:
        """The URL's values could not all be applied: apply those that can be, one by one."""
        for name, value in values.items():
            try:
                setattr(self.view, name, None if value == "null" else value)
            except (ValueError, TypeError):
                problem = f"{name} {value!r}"
                if problem not in self._url_problems:
                    self._url_problems.append(problem)

    def _refused(self) -> str | None:
        """Why the URL's values cannot run: a scenario, policy or geography the page does not
        offer (the page reads no other file), or a value of the wrong kind."""
        view, problems = self.view, list(self._url_problems)
        self._url_problems.clear()
        offered = {
            "scenario": self.scenarios,
            "policy": self.policies,
            "geography": list(self.geographies.values()),
        }
        wrong = [k for k, ok in offered.items() if getattr(view, k) not in [*ok, None]]
        problems += [f"{k} {getattr(view, k)!r}" for k in wrong]
        if not problems:
            return None
        self._refreshing = True  # back to what the page offers, without a run
        try:
            view.param.update(**{k: self.home_scenario if k == "scenario" else None for k in wrong})
        finally:
            self._refreshing = False
        return f"error: URL: {', '.join(problems)}: not one this page offers"

    # -- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        ex = self.explorer
        self.scenario_select = pn.widgets.Select(
            label="Scenario",
            options=self.scenarios,
            value=self.view.scenario,
            width=300,
            css_classes=["alloc-scenario"],
        )
        self.policy_select = pn.widgets.Select(
            label="Pace-of-change policy", width=300, css_classes=["alloc-policy"]
        )
        self.policy_text = _html("", width=300, styles={"font-size": "12px"})
        self.rate_inputs = {
            name: pn.widgets.FloatInput(
                label=label, step=0.1, width=300, format="0.0[00]", css_classes=[f"alloc-{name}"]
            )
            for name, label in RATE_WIDGETS.items()
        }
        self.rate_help = {
            name: _html(f"<div class='alloc-help'>allowed {text}</div>", width=300)
            for name, text in RATE_RANGES.items()
        }
        self.geography_select = pn.widgets.Select(
            label="Geography", width=300, css_classes=["alloc-geography"]
        )
        self.reset_button = pn.widgets.Button(
            label="Undo all changes",
            width=300,
            stylesheets=[RESET_CSS],
            css_classes=["alloc-reset"],
        )
        self.reset_button.on_click(lambda _: self._reset())

        self.scenario_select.param.watch(self._on_scenario_widget, "value")
        self.policy_select.param.watch(self._on_policy_widget, "value")
        self.geography_select.param.watch(lambda e: self._on_widget("geography", e.new), "value")
        for name, widget in self.rate_inputs.items():
            widget.param.watch(lambda e, name=name: self._on_rate_widget(name, e.new), "value")

        stem = ex.file_stem
        self.excel_download = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(self.explorer.excel_bytes()),
            filename=f"{stem}_results.xlsx",
            label="Workbook (.xlsx)",
            stylesheets=[DOWNLOAD_CSS],
            css_classes=["alloc-download", "alloc-xlsx"],
            width=300,
        )
        self.csv_download = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(self.explorer.csv_text()),
            filename=f"{stem}_allocations.csv",
            label="Allocations by ICB and year (.csv)",
            stylesheets=[DOWNLOAD_CSS],
            css_classes=["alloc-download", "alloc-csv"],
            width=300,
        )
        self.toml_download = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(self.explorer.scenario_toml()),
            filename=f"{stem}_scenario.toml",
            label="Scenario with these changes (.toml)",
            stylesheets=[DOWNLOAD_CSS],
            css_classes=["alloc-download", "alloc-toml"],
            width=300,
        )
        self.command = _html("", width=300, css_classes=["alloc-command"])

        sidebar = pn.Column(
            _html("<div class='alloc-h'>Scenario and policy</div>"),
            self.scenario_select,
            self.policy_select,
            self.policy_text,
            *[pn.Column(self.rate_inputs[n], self.rate_help[n]) for n in RATE_WIDGETS],
            self.geography_select,
            self.reset_button,
            _html("<div class='alloc-h'>Download what is shown</div>"),
            self.excel_download,
            self.csv_download,
            self.toml_download,
            _html("<div class='alloc-h'>The same run from the command line</div>"),
            self.command,
            width=SIDEBAR_WIDTH,
            styles={"background": "#f0f4f5", "border-radius": "6px"},
            margin=(0, 10, 0, 0),
        )

        self.alert = pn.pane.Alert(
            "", alert_type="danger", visible=False, width=MAIN_WIDTH, css_classes=["alloc-error"]
        )
        self.status = _html("", width=MAIN_WIDTH, css_classes=["alloc-status"])
        self.summary = _html("", width=MAIN_WIDTH, css_classes=["alloc-summary"])
        self.dot_plot = pn.pane.Matplotlib(
            None,
            dpi=CHART_DPI,
            tight=False,
            format="svg",
            width=MAIN_WIDTH - 40,
            css_classes=["alloc-dot"],
        )
        self.icb_select = pn.widgets.Select(
            label="ICB", width=380, css_classes=["alloc-icb-select"]
        )
        self.chart_radio = pn.widgets.RadioButtonGroup(
            label="Chart",
            options=CHARTS,
            value=self.view.chart,
            color="primary",
            variant="outline",
            margin=(27, 10, 5, 10),
        )
        self.icb_select.param.watch(self._on_icb_widget, "value")
        self.chart_radio.param.watch(lambda e: self._on_widget("chart", e.new), "value")
        self.icb_plot = pn.pane.Matplotlib(
            None,
            dpi=CHART_DPI,
            tight=False,
            format="svg",
            width=MAIN_WIDTH - 40,
            css_classes=["alloc-icb"],
        )
        self.table = pn.widgets.Tabulator(
            None,
            show_index=False,
            disabled=True,
            selectable=False,
            layout="fit_columns",
            configuration={"columnDefaults": {"headerWordWrap": True}},
            width=MAIN_WIDTH,
            css_classes=["alloc-table"],
            header_align="center",
            stylesheets=[TABLE_CSS],
            formatters={
                **{
                    f: NumberFormatter(
                        format="0,0.0" if f.endswith("_m") else "+0.00", text_align="right"
                    )
                    for f in TABLE_FIELDS[3:]
                },
                "name": {"type": "textarea"},
                "region": {"type": "textarea"},
            },
            widths={**dict.fromkeys(TABLE_FIELDS[3:], 100), "icb": 70, "name": 260, "region": 200},
        )
        self.tabs = pn.Tabs(
            (TABS["england"], pn.Column(self.dot_plot)),
            (TABS["icb"], pn.Column(pn.Row(self.icb_select, self.chart_radio), self.icb_plot)),
            active=list(TABS).index(self.view.tab),
            width=MAIN_WIDTH,
            css_classes=["alloc-tabs"],
        )
        self.tabs.param.watch(lambda e: self._on_widget("tab", list(TABS)[e.new]), "active")
        self.outputs = pn.Column(
            self.alert,
            self.status,
            self.summary,
            self.tabs,
            _html(
                "<div class='alloc-h'>Every ICB</div><div class='alloc-caution'>Click a heading "
                "to sort. Money in £m (cash) to £0.1m, rates in % to 0.01, as "
                "<code>alloc run</code> prints them. DfT = distance from target = (allocation "
                "- target) / target: negative = below target.</div>"
            ),
            self.table,
            width=MAIN_WIDTH,
        )
        header = _html(
            "<div class='alloc-title'>alloc explore</div>"
            "<div class='alloc-caution'>NHS England specialised services allocations to ICBs: "
            "try a pace-of-change policy and see the result. Nothing leaves this computer.</div>",
            width=SIDEBAR_WIDTH + MAIN_WIDTH,
        )
        self.layout = pn.Column(
            header,
            pn.Row(sidebar, self.outputs),
            stylesheets=[CSS],
            margin=10,
        )

    # -- widget -> view ----------------------------------------------------------------------

    def _on_widget(self, name: str, value) -> None:
        if not self._refreshing:
            setattr(self.view, name, value)

    def _on_rate_widget(self, name: str, percent) -> None:
        if self._refreshing:
            return
        self.view.param.update(**{name: _to_fraction(percent)})

    def _on_policy_widget(self, event) -> None:
        if self._refreshing:
            return
        # A new policy starts from its own floor, cap and rate.
        self.view.param.update(
            policy=event.new, min_growth=None, max_growth=None, convergence_rate=None
        )

    def _on_scenario_widget(self, event) -> None:
        if self._refreshing:
            return
        self.view.param.update(scenario=event.new, icb=None, **dict.fromkeys(ViewState.CHOICES))

    def _on_icb_widget(self, event) -> None:
        if not self._refreshing:
            self.view.icb = event.new

    def _reset(self) -> None:
        self.view.param.update(**dict.fromkeys(ViewState.CHOICES))

    # -- view -> run -> page -----------------------------------------------------------------

    def _on_choice(self, *events) -> None:
        if self._run_pending or self._refreshing:  # one run picks up every change meanwhile
            return
        self._run_pending = True
        self.outputs.loading = True
        if _in_session():
            pn.state.execute(self._run_in_session)
        else:
            self._run()

    async def _run_in_session(self) -> None:
        """Run, send the table and summary, then draw the chart: on the server's event loop,
        each ``await`` lets what changed so far go to the browser."""
        await asyncio.sleep(0)  # the loading spinner first
        self._run(charts=False)
        await asyncio.sleep(CHART_DELAY_MS / 1000)
        self._draw_charts()

    def _run(self, charts: bool = True) -> None:
        """Run the changes in the view and show the result (or the message)."""
        self._run_pending = False
        try:
            refused = self._refused()
            if refused:
                self.explorer.error, self.explorer.exception = refused, None
                self._refresh_all()
                return
            outcome = self.explorer.update(
                scenario=self.view.scenario, choices=self.view.choices(), replace=True
            )
            self._refresh_all(None if outcome.cached else outcome.seconds)
        finally:
            self.outputs.loading = False
        if charts:
            self._draw_charts()

    def _on_icb_view(self, *events) -> None:
        if self._refreshing:
            return
        self._refresh_widgets()
        self._draw_charts()

    def _refresh_all(self, seconds: float | None = None) -> None:
        """Everything but the charts (see :meth:`_draw_charts`)."""
        with pn.io.hold():  # one message to the browser
            self._refresh_widgets()
            self._refresh_alert(seconds)
            self._refresh_summary()
            self._refresh_table()
            self._refresh_downloads()

    def _refresh_widgets(self) -> None:
        """Widgets show the user's value where there is one, else the value that ran."""
        ex, view = self.explorer, self.view
        effective = ex.effective()
        options = ex.icb_options()
        self._refreshing = True
        try:
            policies = list(self.policies)
            if effective["policy"] not in policies:
                policies.append(effective["policy"])
            policy = view.policy or effective["policy"]
            self.scenario_select.value = view.scenario
            self.policy_select.options = policies
            self.policy_select.value = policy
            kind = ex.policy.get("kind") if policy == effective["policy"] else None
            kind = kind or _policy_kind(policy)
            used = PARAMETERS_OF_KIND.get(kind, ("min_growth", "max_growth", "convergence_rate"))
            basis = ex.policy.get("growth_basis", "cash")
            description = ex.policy.get("description", "") if policy == effective["policy"] else ""
            self.policy_text.object = (
                f"<div class='alloc-help'>{html.escape(description)}</div>" if description else ""
            )
            for name, widget in self.rate_inputs.items():
                mine = getattr(view, name)
                shown = effective[name] if mine is None else mine
                label = RATE_WIDGETS[name]
                if name in ("min_growth", "max_growth"):
                    label = label.replace("a year)", f"a year, {basis.replace('_', '-')})")
                widget.label = label
                if name in ("min_growth", "max_growth", "convergence_rate") and name not in used:
                    widget.disabled, widget.value = True, None
                    widget.placeholder = "not used by this policy"
                    self.rate_help[name].visible = False
                    continue
                widget.disabled = False
                widget.value = _to_percent(shown)
                widget.placeholder = "varies by year" if isinstance(shown, dict) else "none"
                self.rate_help[name].visible = True
            geographies = dict(self.geographies)
            if effective["geography"] not in geographies.values():
                geographies[str(effective["geography"])] = effective["geography"]
            self.geography_select.options = geographies
            self.geography_select.value = view.geography or effective["geography"]
            self.reset_button.disabled = not any(v is not None for v in view.choices().values())
            self.icb_select.options = options
            codes = list(options.values())
            if view.icb not in codes:
                below = ex.result["dft"].isel(year=0)
                view.icb = str(below.idxmin("icb").item())  # furthest below target at the start
            self.icb_select.value = view.icb
            self.chart_radio.value = view.chart
            self.tabs.active = list(TABS).index(view.tab)
        finally:
            self._refreshing = False

    def _refresh_alert(self, seconds: float | None) -> None:
        ex = self.explorer
        if ex.error:
            self.alert.object = (
                "<b>Not run: the page still shows the last good result.</b><br>"
                f"<span style='font-family:monospace;font-size:13px;color:#212b32'>"
                f"{html.escape(ex.error)}</span>"
            )
            self.alert.visible = True
        else:
            self.alert.visible = False
        changes = _describe(ex.ran_choices)
        changed = f"with your changes: {changes}" if changes else "as it is, no changes"
        timing = f" (ran in {seconds:.1f} s)" if seconds is not None and not ex.error else ""
        self.status.object = (
            f"<div class='alloc-caution'>Showing scenario <b>{html.escape(ex.ran_scenario)}</b> "
            f"{html.escape(changed)}{timing}. {html.escape(self._caution())}</div>"
        )

    def _caution(self) -> str:
        from alloc.outputs.plots._data import is_illustrative

        if is_illustrative(self.explorer.result.attrs) is False:
            return f"Data: {self.explorer.result.attrs.get('data_folder')} (yours)."
        return "ILLUSTRATIVE baseline: generated for demonstration, not NHS England figures."

    def _refresh_summary(self) -> None:
        n = self.explorer.national()
        ex = self.explorer
        policy = ex.policy
        cards = [
            (
                f"£{n['envelope_start_m']:,.1f}m → £{n['envelope_end_m']:,.1f}m",
                f"National envelope {n['first_year']} → {n['last_year']} "
                f"({n['envelope_growth_pct']:+.2f}% a year)",
                "envelope",
            ),
            (
                f"{n['below_start']} → {n['below_end']} of {n['icbs']}",
                f"ICBs below target, {n['first_year']} → {n['last_year']}",
                "below",
            ),
            (
                f"{n['dft_end_min_pct']:+.2f}% to {n['dft_end_max_pct']:+.2f}%",
                f"Distance from target in {n['last_year']}, lowest to highest",
                "range",
            ),
        ]
        body = "".join(
            f"<div class='alloc-card' data-card='{key}'><div class='value'>{html.escape(value)}"
            f"</div><div class='label'>{html.escape(label)}</div></div>"
            for value, label, key in cards
        )
        notes = "".join(f"<p class='alloc-notes'>note: {html.escape(t)}</p>" for t in n["notes"])
        areas = str(ex.result.attrs.get("geography", ""))
        kind = str(policy.get("kind", ""))
        label = GEOGRAPHY_LABELS.get(areas, f"{n['icbs']} areas")
        title = (
            f"<div class='alloc-h'>England: {html.escape(label)} "
            f"({html.escape(areas)}); policy {html.escape(str(policy.get('name', '')))}: "
            f"{html.escape(KIND_LABELS.get(kind, kind))}</div>"
        )
        self.summary.object = f"{title}<div class='alloc-cards'>{body}</div>{notes}"

    def _refresh_table(self) -> None:
        frame = self.explorer.icb_table()
        titles = dict(zip(TABLE_FIELDS, frame.columns))
        frame.columns = TABLE_FIELDS
        if titles != self.table.titles:  # new years: new headings
            self.table.titles = titles
        self.table.value = frame

    def _refresh_downloads(self) -> None:
        stem = self.explorer.file_stem
        self.excel_download.filename = f"{stem}_results.xlsx"
        self.csv_download.filename = f"{stem}_allocations.csv"
        self.toml_download.filename = f"{stem}_scenario.toml"
        command = html.escape(self.explorer.command())
        self.command.object = (
            f"<pre style='white-space:pre-wrap;font-size:12px;margin:0'>{command}</pre>"
        )

    def _draw_charts(self) -> None:
        """Draw the chart of the open tab, unless it already shows this result and ICB."""
        from alloc.outputs.plots import allocation_waterfall, dft_dot_plot, glide_paths

        result, icb, view = self.explorer.result, self.view.icb, self.view
        if icb not in result["icb"].values:
            return
        if view.tab == "england":
            key = (self.explorer.runs, icb)
            if self._drawn.get("england") != key:
                self.dot_plot.object = dft_dot_plot(result, highlight=icb)
                self._drawn["england"] = key
        else:
            key = (self.explorer.runs, icb, view.chart)
            if self._drawn.get("icb") != key:
                if view.chart == "waterfall":
                    self.icb_plot.object = allocation_waterfall(result, icb)
                else:
                    self.icb_plot.object = glide_paths(result, highlight=icb)
                self._drawn["icb"] = key


def page(scenario: str = "default") -> pn.viewable.Viewable:
    """A new page for one browser tab."""
    pn.extension("tabulator", design="bootstrap", notifications=False)
    return Page(scenario).layout


def warm_up(scenario: str) -> None:
    """Build one page off-screen, so the first browser tab does not wait for imports, the
    first run, font caches and the first charts."""
    pn.extension("tabulator", design="bootstrap", notifications=False)
    Page(scenario).layout.get_root()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_error(port: int, exc: OSError) -> AllocError:
    return AllocError(
        "--port",
        str(port),
        f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); choose another with "
        "--port N, or --port 0 for a free one",
    )


def check_port(port: int) -> None:
    """Raise :class:`AllocError` when 127.0.0.1:``port`` is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise _port_error(port, exc) from None


def make_server(scenario: str, port: int):
    """A Bokeh server for the page on 127.0.0.1:``port`` (``0``: a free port), not started.

    Raises :class:`AllocError` when the port is taken. Returns ``(server, url)``.
    """
    port = port or free_port()
    check_port(port)  # before the warm-up, so a taken port is reported at once
    warm_up(scenario)
    from bokeh.settings import settings

    settings.resources.set_value(RESOURCE_MODE)  # even if BOKEH_RESOURCES=cdn is set
    try:
        server = pn.serve(
            lambda: page(scenario),
            port=port,
            address="127.0.0.1",
            websocket_origin=[f"127.0.0.1:{port}", f"localhost:{port}"],
            show=False,
            start=False,
            title="alloc explore",
            verbose=False,
        )
    except OSError as exc:
        raise _port_error(port, exc) from None
    return server, f"http://127.0.0.1:{port}/"
