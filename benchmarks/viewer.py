"""How long the browser viewer takes to show a Step, measured in a real Chromium.

Serves the viewer (``solara run abm/viz/app.py --production``) on a free port with a
scenario (default: the data strike, 1,000 users), opens it in Debian's Chromium through
Playwright, clicks Step ``--steps`` times and times each click until every panel of
the step counter reads the new step and the network and quality panels (which change
every step) show new pictures; panels whose picture did not change (a leverage not yet
measured) are not sent again, which is the point. Prints one line per step and the
median; ``--screenshot`` saves the page as a user sees it.

    .venv/bin/python benchmarks/viewer.py --steps 10
    .venv/bin/python benchmarks/viewer.py scenarios/union_dividend.yaml --screenshot page.png

To compare two versions, run it on each (e.g. in two worktrees) in one sitting, and
report the ratio of medians: absolute times depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PANELS = "img.abm-network, img.abm-plot-quality"

# True once the counter shows the new step and both panels show new pictures.
SHOWN = """([before, step]) => {
    const counter = document.querySelector('.abm-step');
    const now = Array.from(document.querySelectorAll(SELECTOR)).map(i => i.src);
    return counter && counter.innerText.trim() === 'Step ' + step
        && now.length === before.length && now.every((src, i) => src !== before[i]);
}""".replace("SELECTOR", repr(PANELS))


def measure(url: str, steps: int, screenshot: Path | None) -> list[float]:
    """Seconds from each Step click until every panel has been redrawn."""
    from playwright.sync_api import sync_playwright

    from abm.viz.server import CHROMIUM, CHROMIUM_ARGS

    times = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url, wait_until="load")
            page.wait_for_selector("img.abm-network", timeout=90_000)
            page.wait_for_timeout(1500)  # first pictures settle
            step = page.get_by_role("button", name="Step")
            for n in range(1, steps + 1):
                before = page.eval_on_selector_all(PANELS, "els => els.map(e => e.src)")
                start = time.perf_counter()
                step.click()
                page.wait_for_function(SHOWN, arg=[before, n], timeout=60_000, polling=10)
                times.append(time.perf_counter() - start)
            if screenshot is not None:
                page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    return times


def main(argv: list[str] | None = None) -> int:
    """Serve, measure and print."""
    sys.path.insert(0, str(ROOT))
    from abm.viz.server import running_viewer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "scenario", nargs="?", type=Path, default=ROOT / "scenarios" / "data_strike.yaml"
    )
    parser.add_argument("--steps", type=int, default=10, help="Steps to time.")
    parser.add_argument("--screenshot", type=Path, default=None, help="Save the page (PNG).")
    args = parser.parse_args(argv)
    try:
        with running_viewer(args.scenario, ROOT, timeout=90) as url:
            times = measure(url, args.steps, args.screenshot)
    except RuntimeError as err:
        raise SystemExit(str(err)) from None
    for i, t in enumerate(times, 1):
        print(f"step {i}: {t:.3f} s")
    print(f"median step-to-picture: {statistics.median(times):.3f} s over {len(times)} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
