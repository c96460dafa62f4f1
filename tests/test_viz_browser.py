"""The viewer in a real browser: serve it, open it in Chromium, step it, play it to the end.

Needs Debian's ``/usr/bin/chromium`` (``make test`` installs it when run as root) and
the Python ``playwright`` package; the server is ``solara run abm/viz/app.py
--production``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from abm.scenario import load_scenario
from abm.viz.params import label
from abm.viz.server import CHROMIUM, CHROMIUM_ARGS, running_viewer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def viewer(tmp_path):
    """A running viewer server on a free port, serving the data-strike scenario."""
    log = tmp_path / "server.log"
    scenario = ROOT / "scenarios" / "data_strike.yaml"
    with log.open("w") as out:
        try:
            with running_viewer(scenario, ROOT, out, timeout=60) as url:
                yield url, log
        except RuntimeError as err:  # the server's own output says why
            raise AssertionError(f"{err}:\n{log.read_text()}") from None


def step_text(page) -> str:
    return page.locator(".abm-step").inner_text().strip()


expect.set_options(timeout=30_000)  # a loaded 2-core machine redraws in seconds, not ms


def key_cell(page, name: str):
    """The cell holding the value next to ``name`` in the key-numbers table.

    The step counter is drawn before the table, so assertions on the cell wait (``expect``)
    until the table of that step is drawn.
    """
    row = page.locator("tr", has=page.locator("td", has_text=name)).first
    return row.locator("td").nth(1)


def reset_and_wait(page) -> None:
    page.get_by_role("button", name="Step").click()
    wait_for_step(page, 1)
    page.get_by_role("button", name="Reset").click()
    wait_for_step(page, 0)


def wait_for_step(page, n: int, timeout: float = 30_000) -> None:
    """Wait until the counter reads ``Step n``; fail at once, with it, if a traceback shows."""
    page.wait_for_function(
        f"""() => {{
            const c = document.querySelector('.abm-step');
            return (c && c.innerText.trim() == 'Step {n}')
                || document.body.innerText.includes('Traceback');
        }}""",
        timeout=timeout,
    )
    assert tracebacks(page) == [], page.locator("body").inner_text()[-2000:]


def tracebacks(page) -> list[str]:
    """Error text on the page: a Python traceback, Mesa's step error, an error alert."""
    text = page.locator("body").inner_text()
    found = [w for w in ("Traceback", "error in step", "Error:") if w in text]
    alerts = page.locator(".v-alert.error")
    return found + [alerts.nth(i).inner_text() for i in range(alerts.count())]


def play_to_the_end(page, steps: int) -> None:
    """Press play at the fastest play interval; wait for the last step and Mesa's stop."""
    interval = page.get_by_role("slider", name="Play Interval (ms)")
    interval.focus()
    interval.press("Home")  # Mesa's slider: 1 ms between steps (default 100)
    page.wait_for_function(
        "document.querySelector('[aria-label=\"Play Interval (ms)\"]')"
        ".getAttribute('aria-valuenow') == '1'",
        timeout=10_000,
    )
    page.get_by_role("button", name="▶").click()
    wait_for_step(page, steps, timeout=150_000)
    # At the last step the model stops running: Mesa disables Step and play.
    page.wait_for_function(
        "Array.from(document.querySelectorAll('button')).some("
        "b => b.innerText.trim().toLowerCase() == 'step' && b.disabled)",
        timeout=30_000,
    )


def pick_scenario(page, name: str) -> None:
    page.locator(".abm-scenario-picker").click()
    page.get_by_role("option", name=name, exact=True).click()
    page.wait_for_function(f"document.title == 'Data leverage: {name}'", timeout=60_000)
    page.wait_for_selector("img.abm-plot-bargaining", timeout=60_000)


def test_viewer_steps_plays_to_the_end_and_switches_scenario_in_chromium(viewer, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run 'sudo apt-get install -y chromium'")
    url, log = viewer
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.on(
                "console",
                lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.on(
                "response",
                lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
            )
            page.goto(url, wait_until="load")
            page.wait_for_selector(".abm-network", timeout=45_000)
            page.wait_for_selector(".abm-plot-quality", timeout=15_000)
            assert step_text(page) == "Step 0"
            # The page lists the scenarios and the schema-generated sliders.
            assert "data_strike" in page.locator(".abm-scenario-picker").inner_text()
            # A real title, and no Mesa "Page 0" tab.
            assert page.title() == "Data leverage: data_strike"
            assert page.get_by_text("Page 0").count() == 0
            # Sliders carry the schema's words, not field paths.
            assert page.get_by_text(label("population.n_users"), exact=True).count() == 1
            assert page.get_by_text(label("collectives[strikers].size"), exact=True).count() == 1
            assert page.get_by_text("population.n_users").count() == 0
            # Each slider shows its value without being dragged.
            spec = load_scenario(ROOT / "scenarios" / "data_strike.yaml")
            n_users = str(spec.population.n_users)
            users_value = page.locator(".v-slider__thumb-label", has_text=n_users)
            assert users_value.count() == 1 and users_value.is_visible()
            # The bargaining panel is above the fold of a 1440 x 900 screen.
            box = page.locator("img.abm-plot-bargaining").bounding_box()
            assert box is not None and box["y"] + box["height"] <= 900
            # Reset without touching a slider keeps the scenario's numbers.
            expect(key_cell(page, "users")).to_have_text(str(spec.population.n_users))
            reset_and_wait(page)
            expect(key_cell(page, "users")).to_have_text(str(spec.population.n_users))

            network = page.locator("img.abm-network")
            quality = page.locator("img.abm-plot-quality")
            shares = page.locator("img.abm-plot-market_share")
            before = [network.screenshot(), quality.screenshot(), shares.screenshot()]

            step_button = page.get_by_role("button", name="Step")
            for n in range(1, 4):
                step_button.click()
                wait_for_step(page, n)
                assert step_text(page) == f"Step {n}"
            # Images update after the counter: wait until the last step's network is shown.
            page.wait_for_timeout(1500)
            after = [network.screenshot(), quality.screenshot(), shares.screenshot()]
            page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)

            # Played to its last step, through every bargaining round (one every 5 steps).
            bargaining = page.locator("img.abm-plot-bargaining")
            before_rounds = bargaining.screenshot()
            play_to_the_end(page, spec.steps)
            page.wait_for_timeout(1000)
            assert tracebacks(page) == []
            assert bargaining.screenshot() != before_rounds
            page.get_by_role("button", name="Reset").click()
            wait_for_step(page, 0)

            # Another scenario, with a concession: played to its end, then reset.
            union = load_scenario(ROOT / "scenarios" / "union_dividend.yaml")
            pick_scenario(page, "union_dividend")
            assert step_text(page) == "Step 0"
            expect(key_cell(page, "union: dividend won")).to_have_text("0.00")
            play_to_the_end(page, union.steps)
            assert tracebacks(page) == []
            won = key_cell(page, "union: dividend won")
            expect(won).not_to_have_text("0.00")
            assert float(won.inner_text()) > 0  # it won a concession
            page.screenshot(path=str(tmp_path / "union_dividend.png"), full_page=True)
            page.get_by_role("button", name="Reset").click()
            wait_for_step(page, 0)
            expect(key_cell(page, "union: dividend won")).to_have_text("0.00")
            assert tracebacks(page) == []
        finally:
            browser.close()

    assert after[0] != before[0], "the network drawing did not change after three steps"
    assert after[1] != before[1], "the quality plot did not change after three steps"
    assert after[2] != before[2], "the market-share plot did not change after three steps"
    assert (tmp_path / "viewer.png").stat().st_size > 10_000
    assert problems == []
    assert "Traceback" not in log.read_text()
