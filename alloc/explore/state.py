"""What ``alloc explore`` shows, without the web page: the state behind every control.

:class:`Explorer` holds a scenario, the user's changes to it (the same changes ``alloc run
--set`` makes) and the last result that ran. :meth:`Explorer.update` runs the engine; bad input
(an :class:`alloc.errors.AllocError`) leaves the last good result in place and keeps the message,
word for word as the command line prints it. Everything the page shows (tables, summary, the
equivalent command, downloads) is read from the last good result, so what is on screen and
what is downloaded always agree.
"""

from __future__ import annotations

import io
import json
import shlex
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from alloc.allocation.engine import run as run_scenario
from alloc.errors import AllocError
from alloc.inputs.scenario import load_scenario
from alloc.inputs.years import year_label

#: The changes the page offers, as ``--set`` keys. Rates are fractions (0.02 = 2% a year).
CHOICE_KEYS = {
    "policy": "policy.use",
    "min_growth": "policy.min_growth",
    "max_growth": "policy.max_growth",
    "convergence_rate": "policy.convergence_rate",
    "envelope_growth": "envelope_growth",
    "geography": "geography",
}
#: Choices that belong to a policy: a new policy starts from its own values of these.
POLICY_PARAMETERS = ("min_growth", "max_growth", "convergence_rate")
#: Policy parameters each kind of policy uses (the others are not offered).
PARAMETERS_OF_KIND = {
    "historic_cost": (),
    "immediate": (),
    "common_dft": ("min_growth", "max_growth"),
    "proportional": ("min_growth", "max_growth", "convergence_rate"),
    "deadline": ("min_growth", "max_growth"),
}


#: Results of recent runs, by scenario file, its modification time and the changes: going back
#: to a view already seen (or opening a second tab) shows it without running again. Results are
#: never modified, so tabs can share them. Data files are not part of the key: after editing a
#: dataset, restart ``alloc explore``.
_CACHE: OrderedDict[tuple, xr.Dataset] = OrderedDict()
CACHE_SIZE = 16


def _mtime(path: Path) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return 0


def _remember(key: tuple, result: xr.Dataset) -> None:
    _CACHE[key] = result
    _CACHE.move_to_end(key)
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)


def set_text(key: str, value) -> str:
    """One ``KEY=VALUE`` override as ``--set`` takes it (text quoted as TOML, numbers bare)."""
    if isinstance(value, str):
        return f"{key}={json.dumps(value)}"
    if isinstance(value, bool):
        return f"{key}={'true' if value else 'false'}"
    return f"{key}={value!r}"


@dataclass
class Outcome:
    """What one :meth:`Explorer.update` did: ``ok``, the message if not, seconds taken, and
    whether the result came from the cache of recent results."""

    ok: bool
    error: str | None
    seconds: float
    cached: bool = False


class Explorer:
    """A scenario, the user's changes and the last good result.

    Parameters
    ----------
    scenario : str
        A shipped scenario name or a scenario file (``.toml`` or ``.xlsx``).
    choices : dict, optional
        Changes to start from, keyed as :data:`CHOICE_KEYS` (``None`` = as the scenario says).

    The first run must succeed (it raises :class:`AllocError` otherwise): a page needs a result
    to show. Later failures are kept in :attr:`error` instead.
    """

    def __init__(self, scenario: str = "default", choices: dict | None = None):
        self.scenario = str(scenario)
        self.choices: dict = {}
        self.result: xr.Dataset | None = None
        self.ran_overrides: list[str] = []
        #: The changes behind :attr:`result` (keyed as :data:`CHOICE_KEYS`).
        self.ran_choices: dict = {}
        self.ran_scenario = self.scenario
        self.error: str | None = None
        #: How many new results there have been: a new number means a new result on screen.
        self.runs = 0
        #: The AllocError behind :attr:`error`.
        self.exception: AllocError | None = None
        wanted = {k: v for k, v in (choices or {}).items() if v is not None}
        if wanted and self.update(choices=wanted).ok:
            return
        message, exception = self.error, self.exception  # the changes failed: show why, and
        if not self.update(choices={}, replace=True).ok:  # the scenario as it is
            raise self.exception
        self.error, self.exception = message, exception

    # -- changes -----------------------------------------------------------------------------

    def overrides(self, choices: dict | None = None) -> list[str]:
        """The ``--set`` texts of ``choices`` (default: the current ones), in a fixed order."""
        choices = self.choices if choices is None else choices
        return [
            set_text(CHOICE_KEYS[name], choices[name])
            for name in CHOICE_KEYS
            if choices.get(name) is not None
        ]

    def update(
        self, scenario: str | None = None, choices: dict | None = None, replace: bool = False
    ) -> Outcome:
        """Apply changes and run; on bad input keep the last good result and the message.

        ``scenario``: another scenario (the changes start afresh). ``choices``: changes keyed as
        :data:`CHOICE_KEYS`, ``None`` to undo one; ``replace``: these are all the changes.
        A new ``policy`` drops the floor, cap and rate chosen for the old one.
        """
        unknown = set(choices or {}) - set(CHOICE_KEYS)
        if unknown:
            raise KeyError(f"unknown choices {sorted(unknown)}; expected {list(CHOICE_KEYS)}")
        new_scenario = self.scenario if scenario is None else str(scenario)
        base = {} if replace or new_scenario != self.scenario else dict(self.choices)
        changes = dict(choices or {})
        if "policy" in changes and changes["policy"] != base.get("policy"):
            for name in POLICY_PARAMETERS:
                if name not in changes:
                    base.pop(name, None)
        base.update(changes)
        wanted = {k: v for k, v in base.items() if v is not None}
        self.scenario, self.choices = new_scenario, wanted
        overrides = self.overrides(wanted)
        started = time.perf_counter()
        try:
            spec, path, raw = load_scenario(new_scenario, overrides)
            key = (str(path), _mtime(path), tuple(overrides))
            result = _CACHE.get(key)
            cached = result is not None
            if not cached:
                result = run_scenario(spec, scenario_path=path, raw=raw)
            _remember(key, result)
        except AllocError as exc:
            # As the CLI prints it (alloc.cli.errors.report), on one line.
            self.error = "error: " + " ".join(str(exc).splitlines())
            self.exception = exc
            return Outcome(False, self.error, time.perf_counter() - started)
        if result is not self.result:  # the same result again is not a new one
            self.runs += 1
        self.result, self.ran_overrides, self.ran_scenario = result, overrides, new_scenario
        self.ran_choices = wanted
        self.error, self.exception = None, None
        return Outcome(True, None, time.perf_counter() - started, cached)

    # -- what ran ----------------------------------------------------------------------------

    @property
    def policy(self) -> dict:
        """The policy that ran, with its parameters after the changes (``policy_json``)."""
        return json.loads(self.result.attrs.get("policy_json", "{}"))

    def effective(self) -> dict:
        """The value of each choice in the last good run (a dict where it varies by year)."""
        attrs, policy = self.result.attrs, self.policy
        envelope = attrs.get("envelope_growth")
        return {
            "policy": self.ran_policy(),
            "min_growth": policy.get("min_growth"),
            "max_growth": policy.get("max_growth"),
            "convergence_rate": policy.get("convergence_rate"),
            "envelope_growth": json.loads(envelope) if isinstance(envelope, str) else envelope,
            "geography": attrs.get("geography"),
        }

    def ran_policy(self) -> str:
        """The policy that ran as the scenario names it (``[policy] use``, after changes)."""
        raw = json.loads(self.result.attrs.get("scenario_json", "{}"))
        return str(raw.get("policy", {}).get("use", self.result.attrs.get("policy_name", "")))

    def command(self) -> str:
        """The ``alloc run`` command that gives the result on screen."""
        parts = ["alloc", "run", self.ran_scenario]
        for text in self.ran_overrides:
            parts += ["--set", text]
        return " ".join(shlex.quote(p) for p in parts)

    def years(self) -> tuple[str, str]:
        """First and last financial year, e.g. ``("2025/26", "2030/31")``."""
        years = self.result["year"].values
        return year_label(int(years[0])), year_label(int(years[-1]))

    # -- what the page shows -----------------------------------------------------------------

    def icb_table(self) -> pd.DataFrame:
        """One row per ICB: money in £m to 0.1, rates in % to 0.01, as ``alloc run`` prints."""
        from alloc.outputs.tables import summary

        first, last = self.years()
        table = summary(self.result)
        return pd.DataFrame(
            {
                "ICB": table["icb"],
                "Name": [n.removeprefix("NHS ").removesuffix(" ICB") for n in table["icb_name"]],
                "Region": table["region"],
                f"Baseline {first} (£m)": (table["baseline_gbp"] / 1e6).round(1),
                f"Allocation {last} (£m)": (table["final_allocation_gbp"] / 1e6).round(1),
                f"DfT {first} (%)": (100 * table["dft_start"]).round(2),
                f"DfT {last} (%)": (100 * table["dft_end"]).round(2),
                "Growth a year (%)": (100 * table["average_growth"]).round(2),
            }
        )

    def national(self) -> dict:
        """England's figures: envelope, ICBs below target at start and end, notes."""
        result = self.result
        first, last = self.years()
        dft = result["dft"]
        below_start = int((dft.isel(year=0) < 0).sum())
        below_end = int((dft.isel(year=-1) < 0).sum())
        envelope = result["envelope"]
        n_years = result.sizes["year"] - 1
        notes = [
            f"{year_label(int(y))}: {s}"
            for y, s in zip(result["year"].values, result["policy_status"].values)
            if s != "ok"
        ]
        if (rate := result.attrs.get("policy_convergence_rate")) is not None:
            notes.append(f"convergence rate found: {100 * rate:.2f}% of each gap closed a year")
        return {
            "first_year": first,
            "last_year": last,
            "envelope_start_m": round(float(envelope.isel(year=0)) / 1e6, 1),
            "envelope_end_m": round(float(envelope.isel(year=-1)) / 1e6, 1),
            "envelope_growth_pct": round(
                100
                * (
                    (float(envelope.isel(year=-1)) / float(envelope.isel(year=0))) ** (1 / n_years)
                    - 1
                ),
                2,
            ),
            "icbs": result.sizes["icb"],
            "below_start": below_start,
            "below_end": below_end,
            "dft_end_min_pct": round(100 * float(dft.isel(year=-1).min()), 2),
            "dft_end_max_pct": round(100 * float(dft.isel(year=-1).max()), 2),
            "notes": notes,
        }

    def icb_options(self) -> dict[str, str]:
        """``"Name (code)" -> code`` for every ICB of the result, by name."""
        names = self.result["icb_name"].values
        codes = self.result["icb"].values
        pairs = sorted(zip(names, codes), key=lambda p: str(p[0]))
        return {
            f"{str(n).removeprefix('NHS ').removesuffix(' ICB')} ({c})": str(c) for n, c in pairs
        }

    # -- downloads ---------------------------------------------------------------------------

    @property
    def file_stem(self) -> str:
        return str(self.result.attrs.get("scenario_name", "result"))

    def excel_bytes(self) -> bytes:
        """The finance workbook of the result (:func:`alloc.outputs.excel.write_workbook`)."""
        from alloc.outputs.excel import write_workbook

        with tempfile.TemporaryDirectory(prefix="alloc-explore-") as folder:
            path = Path(folder) / "alloc_results.xlsx"
            write_workbook(self.result, path)
            return path.read_bytes()

    def csv_text(self) -> str:
        """One row per ICB x year (:func:`alloc.outputs.tables.allocations_long`), as
        ``allocations.csv`` of ``alloc run``: money in GBP, rates as fractions."""
        from alloc.outputs.tables import allocations_long

        buffer = io.StringIO()
        allocations_long(self.result).to_csv(buffer, index=False, lineterminator="\n")
        return buffer.getvalue()

    def scenario_toml(self) -> str:
        """The scenario that ran, changes applied (``scenario_json``), as a TOML file."""
        from alloc.explore._toml import dumps

        raw = json.loads(self.result.attrs["scenario_json"])
        source = self.result.attrs.get("scenario_file", self.ran_scenario)
        header = (
            f"Scenario saved by alloc explore from {source}"
            + (
                f"\nwith: {' '.join('--set ' + shlex.quote(o) for o in self.ran_overrides)}"
                if self.ran_overrides
                else ""
            )
            + "\nRelative paths in it (data, geography, baseline) are read from this file's folder."
            + "\nRun it with: alloc run FILE.toml"
        )
        return dumps(raw, header=header)
