"""How long the browser viewer takes to show a Step: in a real Chromium, or on the server.

Browser mode (the default) serves the viewer (``solara run abm/viz/app.py
--production``) on a free port with a scenario (default: the data strike, 500 users as
written), opens it in Debian's Chromium through
Playwright, clicks Step ``--steps`` times and times each click until every panel of
the step counter reads the new step and the network and quality panels (which change
every step) show new pictures; panels whose picture did not change (a leverage not yet
measured) are not sent again, which is the point. Prints one line per step and the
median; ``--screenshot`` saves the page as a user sees it.

Server mode (``--server``) renders the same page in this process with ``solara.render``
(as ``tests/test_viz_components.py`` does) and times each Step click: the model's step,
one render pass and every panel's PNG, without the browser and the websocket.

``--users N`` moves the page's users slider to N and presses Reset before timing (in
the browser, with the keyboard), so the rebuild takes the path a user's does.

    .venv/bin/python benchmarks/viewer.py --steps 10
    .venv/bin/python benchmarks/viewer.py --server --users 1000 --steps 20
    .venv/bin/python benchmarks/viewer.py scenarios/union_dividend.yaml --screenshot page.png

To compare two versions, run it on each (e.g. in two worktrees) in one sitting, and
report the ratio of medians: absolute times depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
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


USERS_LABEL = "Number of users (agents)"


def set_users_in_browser(page, users: int) -> None:
    """Move the users slider to ``users`` with the keyboard, press Reset, wait for it."""
    from abm.viz.params import label

    thumb = page.get_by_role("slider", name=label("population.n_users"))
    thumb.focus()
    for _ in range(10_000):
        now = int(float(thumb.get_attribute("aria-valuenow")))
        if now == users:
            break
        thumb.press("ArrowRight" if now < users else "ArrowLeft")
    else:
        raise SystemExit(f"the users slider does not reach {users}")
    page.get_by_role("button", name="Reset").click()
    page.wait_for_function(
        """(n) => Array.from(document.querySelectorAll('td')).some(
            (td, i, all) => td.innerText.trim() == 'users'
                && all[i + 1] && all[i + 1].innerText.trim() == String(n))""",
        arg=users,
        timeout=90_000,
    )
    page.wait_for_timeout(1500)


def measure(url: str, steps: int, screenshot: Path | None, users: int | None = None) -> list[float]:
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
            if users is not None:
                set_users_in_browser(page, users)
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


def measure_server(scenario: Path, steps: int, users: int | None) -> list[float]:
    """Seconds per Step click on the page rendered in this process (no browser)."""
    os.environ["ABM_VIZ_SCENARIO"] = str(scenario.resolve())
    import ipyvuetify as v
    import solara

    from abm.viz import app
    from abm.viz.params import label

    @solara.component
    def Page():
        with solara.AppLayout():
            app.Viewer()

    quiet = contextlib.redirect_stdout(io.StringIO())  # solara prints its app bar's title
    with quiet:
        _, rc = solara.render(Page(), handle_error=False)
    try:
        if users is not None:
            rc.find(v.Slider, label=label("population.n_users")).widget.v_model = users
            start = time.perf_counter()
            with quiet:
                rc.find(v.Btn, children=["Reset"]).widget.click()
            print(f"reset to {users:,} users: {time.perf_counter() - start:.3f} s")
            if notices := [str(a.children) for a in rc.find(v.Alert).widgets]:
                raise SystemExit(f"users slider not applied: {notices}")
        step = rc.find(v.Btn, children=["Step"]).widget
        times, cpu = [], []
        for _ in range(steps):
            if step.disabled:
                break
            start, start_cpu = time.perf_counter(), time.process_time()
            with quiet:
                step.click()
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        print(f"median CPU time per step: {statistics.median(cpu):.3f} s (this process)")
        return times
    finally:
        rc.close()


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
    parser.add_argument("--server", action="store_true", help="Time Step on the server only.")
    parser.add_argument("--users", type=int, default=None, help="Users slider value to reset to.")
    args = parser.parse_args(argv)
    if args.server:
        times = measure_server(args.scenario, args.steps, args.users)
        what = "server-side step (model step, render pass, PNGs)"
    else:
        try:
            with running_viewer(args.scenario, ROOT, timeout=90) as url:
                times = measure(url, args.steps, args.screenshot, args.users)
        except RuntimeError as err:
            raise SystemExit(str(err)) from None
        what = "step-to-picture"
    for i, t in enumerate(times, 1):
        print(f"step {i}: {t:.3f} s")
    users = f", {args.users:,} users" if args.users else ""
    print(f"median {what}: {statistics.median(times):.3f} s over {len(times)} steps{users}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
