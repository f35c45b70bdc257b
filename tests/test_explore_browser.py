"""``alloc explore`` in a real browser: Debian's Chromium driven by Playwright.

The server runs as a user starts it (``python -m alloc explore --port N --no-browser``) in a
subprocess for the whole module. Chromium is the system's (``/usr/bin/chromium``, installed by
``.ci/run``); Playwright never downloads a browser here. Without Chromium, Playwright or Panel the
tests are skipped with the reason. A failing test saves a screenshot of the page (its path is
printed with the failure).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import alloc
from alloc.errors import AllocError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[1]
#: Longest wait for the page to show a new result [ms]: a run takes about 1 s.
WAIT_MS = 30_000

if not os.path.exists(CHROMIUM):
    pytest.skip(
        f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)",
        allow_module_level=True,
    )
pytest.importorskip("panel", reason="alloc explore needs Panel: pip install '.[explore]'")
pytest.importorskip("pytest_playwright", reason="browser tests need pytest-playwright")
from playwright.sync_api import expect  # noqa: E402


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launches Debian's Chromium, headless, with no network of its own."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """``alloc explore`` on a free port: its URL, until the module's tests end."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "alloc", "explore", "--port", str(port), "--no-browser"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"alloc explore exited with {proc.returncode}:\n{proc.stdout.read()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("alloc explore did not answer on its port within 90 s")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def app(page, server, request, tmp_path):
    """The page, loaded (summary and table on screen); a screenshot if the test fails."""
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(server)
    expect(page.locator(".alloc-summary .alloc-card").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=WAIT_MS)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shot = tmp_path / f"{request.node.name}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failing page: {shot}")


def _table(page) -> dict[str, dict[str, str]]:
    """The ICB table as shown: {ICB code: {field: text}}."""
    rows = page.locator(".tabulator-row")
    out = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator(".tabulator-cell")
        fields = cells.evaluate_all(
            "cs => cs.map(c => [c.getAttribute('tabulator-field'), c.innerText.trim()])"
        )
        row = dict(fields)
        out[row["icb"]] = row
    return out


def _expected(overrides: list[str]) -> dict[str, dict[str, str]]:
    """What the table must show for ``alloc.run("default", overrides)``, formatted."""
    result = alloc.run("default", overrides)
    first, last = result["year"].values[0], result["year"].values[-1]
    out = {}
    for code in result["icb"].values:
        r = result.sel(icb=code)
        out[str(code)] = {
            "allocation_m": f"{float(r['allocation'].sel(year=last)) / 1e6:,.1f}",
            "dft_start_pct": f"{100 * float(r['dft'].sel(year=first)):+.2f}",
            "dft_end_pct": f"{100 * float(r['dft'].sel(year=last)):+.2f}",
        }
    return out, result


def _set_floor(page, percent: str) -> None:
    box = page.locator(".alloc-min_growth input")
    box.fill(percent)
    box.press("Enter")


def test_floor_change_updates_table_summary_and_url(app):
    before = _table(app)
    expected, result = _expected(["policy.min_growth=0.02"])
    _set_floor(app, "2")
    expect(app.locator(".alloc-command")).to_contain_text(
        "alloc run default --set policy.min_growth=0.02", timeout=WAIT_MS
    )
    expect(app.locator(".alloc-status")).to_contain_text("with your changes: floor 2.0% a year")
    shown = _table(app)
    assert set(shown) == set(expected)
    for code, want in expected.items():
        got = {k: shown[code][k].replace("−", "-") for k in want}
        assert got == want, code
    assert shown != before
    below_start = int((result["dft"].isel(year=0) < 0).sum())
    below_end = int((result["dft"].isel(year=-1) < 0).sum())
    card = app.locator(".alloc-card[data-card=below] .value")
    expect(card).to_have_text(f"{below_start} → {below_end} of {result.sizes['icb']}")
    envelope = float(result["envelope"].isel(year=-1)) / 1e6
    expect(app.locator(".alloc-card[data-card=envelope] .value")).to_contain_text(
        f"£{envelope:,.1f}m"
    )
    assert re.search(r"[?&]min_growth=0\.02(&|$)", app.url), app.url


def test_a_shared_url_opens_the_same_view(page, server):
    page.goto(server + "?min_growth=0.02&geography=icb_2025")
    expect(page.locator(".alloc-command")).to_contain_text(
        "--set policy.min_growth=0.02 --set 'geography=\"icb_2025\"'", timeout=WAIT_MS
    )
    expect(page.locator(".tabulator-row")).to_have_count(42)
    expect(page.locator(".alloc-min_growth input")).to_have_value("2.0")


def test_infeasible_floor_shows_the_cli_message_and_keeps_the_table(app):
    before = _table(app)
    try:
        alloc.run("default", ["policy.min_growth=0.2"])
        pytest.fail("a 20% floor should be refused")
    except AllocError as exc:
        message = f"error: {exc}"
    _set_floor(app, "20")
    alert = app.locator(".alloc-error")
    expect(alert).to_be_visible(timeout=WAIT_MS)
    expect(alert).to_contain_text(message)
    expect(alert).to_contain_text("still shows the last good result")
    assert _table(app) == before
    expect(app.locator(".alloc-command")).to_have_text("alloc run default")


def test_the_workbook_download_opens_in_openpyxl(app, tmp_path):
    from openpyxl import load_workbook

    with app.expect_download(timeout=WAIT_MS) as info:
        app.locator(".alloc-xlsx button").click()
    download = info.value
    assert download.suggested_filename == "default_results.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    book = load_workbook(saved, read_only=True)
    assert {"Summary", "Allocations", "DfT"} <= set(book.sheetnames)
