"""``alloc explore`` in a browser: how long a person waits.

Starts ``alloc explore`` on a free port (as a user does), drives the page with Playwright in
Debian's Chromium (``/usr/bin/chromium``, headless) and prints, as medians over ``--repeat``
tries:

- first page load: from opening the URL to the national summary and the ICB table on screen
  (targets: under 5 s), and to the first chart;
- floor change: from pressing Enter in the floor box to the ICB table showing the new figures
  (target: under 0.5 s), and to the chart redrawn; each try uses a floor not run before, so the
  engine really runs (about 1 s on the embedded data: reading and re-footprinting the inputs is
  most of it);
- the same with a floor already seen (served from the page's cache of recent results).

With ``--screenshots DIR`` it also saves the two screenshots of docs/guide/explore.md.

Usage: ``python benchmarks/bench_explore.py [--repeat 3] [--screenshots docs/img]``
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[1]
WAIT_MS = 60_000
#: Pause before each change [ms]: the browser finishes painting the last chart first.
IDLE_MS = 1000


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "alloc", "explore", "--port", str(port), "--no-browser"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.perf_counter()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.perf_counter() - started > 120:
                raise SystemExit("alloc explore did not start") from None
            time.sleep(0.1)
    print(f"server ready in {time.perf_counter() - started:.1f} s (start-up and warm-up)")
    return proc, f"http://127.0.0.1:{port}/"


def load(page, url: str) -> tuple[float, float]:
    """Seconds from opening the page to its summary and table, and to its chart."""
    started = time.perf_counter()
    page.goto(url)
    expect(page.locator(".alloc-summary .alloc-card").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".tabulator-row").first).to_be_visible(timeout=WAIT_MS)
    table = time.perf_counter() - started
    charts = ".alloc-dot svg, .alloc-dot img, .alloc-icb svg, .alloc-icb img"
    expect(page.locator(charts).first).to_be_visible(timeout=WAIT_MS)
    return table, time.perf_counter() - started


#: In the page: the ICB table's text and the command's text, found through the shadow roots
#: of Panel's components (checked on every animation frame while waiting, so the timings are
#: not rounded up to a polling interval).
SNAPSHOT_JS = """
window.__allocSnapshot = () => {
  const out = {table: "", command: "", chart: ""};
  const walk = (node) => {
    for (const el of node.children) {
      if (el.tagName.toLowerCase() === "svg") continue;  // a chart: thousands of elements
      if (el.classList.contains("tabulator-row")) { out.table += el.innerText + "\\n"; continue; }
      if (el.classList.contains("alloc-dot")) {
        const img = (el.shadowRoot || el).querySelector("img, svg");
        if (img) out.chart = img.outerHTML.length + ":" + img.outerHTML.slice(-400);
      }
      if (el.classList.contains("alloc-command"))
        out.command += (el.shadowRoot ? el.shadowRoot.textContent : "") + el.textContent;
      if (el.shadowRoot) walk(el.shadowRoot);
      walk(el);
    }
  };
  walk(document);
  return out;
};
if (!window.__allocKeys) {
  window.__allocKeys = true;
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter") window.__allocEnter = performance.now();
  }, true);
}
"""


def change_floor(page, percent: float) -> tuple[float, float]:
    """Seconds from Enter in the floor box to the new table, and to the redrawn chart, timed
    in the page (from the key press to the frame that shows it)."""
    fraction = round(percent / 100, 10)
    page.wait_for_timeout(IDLE_MS)  # from an idle page, as a person types
    page.evaluate(SNAPSHOT_JS)
    before = page.evaluate("window.__allocSnapshot().table")
    chart_before = _chart(page)
    box = page.locator(".alloc-min_growth input")
    box.fill(f"{percent:g}")
    box.press("Enter")
    handle = page.wait_for_function(
        """([before, want]) => {
            const now = window.__allocSnapshot();
            if (now.command.includes(want) && now.table !== before)
                return performance.now() - window.__allocEnter;
            return false;
        }""",
        arg=[before, f"policy.min_growth={fraction!r}"],
        polling="raf",
        timeout=WAIT_MS,
    )
    table = handle.json_value() / 1000
    handle = page.wait_for_function(
        """(before) => window.__allocSnapshot().chart !== before
            ? performance.now() - window.__allocEnter : false""",
        arg=chart_before,
        polling="raf",
        timeout=WAIT_MS,
    )
    return table, handle.json_value() / 1000


def _chart(page) -> str:
    """The dot plot as drawn (its image, inside the pane's shadow DOM), as a fingerprint."""
    page.evaluate(SNAPSHOT_JS)
    return page.evaluate("window.__allocSnapshot().chart")


def screenshots(page, url: str, folder: Path) -> None:
    """The guide's two pictures: the whole page after a floor change, and one ICB's waterfall."""
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1440, "height": 1180})
    load(page, url + "?min_growth=0.02")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(folder / "explore_overview.png"))
    load(page, url + "?min_growth=0.02&tab=icb&chart=waterfall&icb=QOC")
    expect(page.locator(".alloc-icb svg, .alloc-icb img").first).to_be_visible(timeout=WAIT_MS)
    box = page.locator(".alloc-min_growth input")
    box.fill("5")
    box.press("Enter")
    expect(page.locator(".alloc-error")).to_be_visible(timeout=WAIT_MS)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(folder / "explore_icb_error.png"), clip=_clip(1440, 1000))
    for name in ("explore_overview.png", "explore_icb_error.png"):
        _shrink(folder / name)
        size = (folder / name).stat().st_size
        print(f"wrote {folder / name} ({size // 1000} kB)")


def _shrink(path: Path) -> None:
    """256 colours, optimised: a third of the size, no visible loss on a page of text."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def _clip(width: int, height: int) -> dict:
    return {"x": 0, "y": 0, "width": width, "height": height}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--screenshots", type=Path, help="save the guide's screenshots here")
    args = parser.parse_args()
    proc, url = start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            loads, charts = [], []
            for _ in range(args.repeat):
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                table, chart = load(page, url)
                loads.append(table)
                charts.append(chart)
                page.close()
            print(
                f"first page load: summary and table {statistics.median(loads):.2f} s "
                f"(target < 5 s), first chart {statistics.median(charts):.2f} s  "
                f"[tries: {', '.join(f'{t:.2f}' for t in loads)}]"
            )
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            load(page, url)
            new, new_chart, seen = [], [], []
            floors = [1.8 + 0.1 * i for i in range(args.repeat)]
            for floor in floors:
                table, chart = change_floor(page, floor)
                new.append(table)
                new_chart.append(chart)
            for floor in floors:  # again: from the cache
                change_floor(page, 1.7)
                seen.append(change_floor(page, floor)[0])
            print(
                f"floor change, new value: table {statistics.median(new):.2f} s (target < 0.5 s), "
                f"chart {statistics.median(new_chart):.2f} s  "
                f"[tries: {', '.join(f'{t:.2f}' for t in new)}]"
            )
            print(f"floor change, value seen before: table {statistics.median(seen):.2f} s")
            if args.screenshots:
                screenshots(page, url, args.screenshots)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=15)


if __name__ == "__main__":
    main()
